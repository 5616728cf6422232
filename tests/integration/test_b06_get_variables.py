"""B06 GetVariables, end to end over mosquitto (OCPP 2.0.1 and 2.1; the use case is the same in both).

The wiring: one or two cases of each requirement through a station process and a real broker. The
rules themselves — addressing, instances, EVSE and Connector tiers, the status precedence, the
message limits — are tested in process, in tests/unit/test_b06_get_variables_rules.py, under the
same names.

Requirement ids are those of OCPP 2.x Part 2 (B06.FR.xx); TC_B_xx_CS are the OCTT 2.0.1 test cases
(ocpp-notes §2.3). The module shares one station with a fresh data directory, so catalogue defaults
can be relied on here as long as no test of this module sets them (only the write-only password is set).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from .. import b06_scenarios as scenarios
from ..b06_scenarios import escaped as _escaped
from ..support import OemClient, StationProcess, check_response
from ..variables import VERSIONS, assert_refused, assert_value, element, get_many, get_one

version_param = pytest.mark.parametrize("version", VERSIONS)


# -- OCTT happy paths ---------------------------------------------------------------------------------


@version_param
def test_TC_B_06_CS_single_value(oem: OemClient, version: str) -> None:
    result = get_one(oem, element("OCPPCommCtrlr", "OfflineThreshold"), version)
    assert_value(result, "60")
    assert result["attributeType"] == "Actual"


@version_param
def test_TC_B_07_CS_multiple_values(oem: OemClient, version: str) -> None:
    results = get_many(oem, [element("OCPPCommCtrlr", "OfflineThreshold", attribute="Actual"),
                             element("AuthCtrlr", "LocalAuthorizeOffline", attribute="Actual")], version)
    assert [(r["attributeStatus"], r["attributeValue"]) for r in results] == [("Accepted", "60"),
                                                                              ("Accepted", "true")]


# -- FR.01/02/03/11: one result per element, in order, echoed exactly ----------------------------------


@version_param
def test_B06_FR_01_FR_02_one_result_per_element_in_order_echoed_as_sent(oem: OemClient, version: str) -> None:
    elements = [
        element("oCppCommCtrlR", "offlineTHRESHOLD"),
        element("UnknownComponent", "Whatever", attribute="Target"),
        element("DeviceDataCtrlr", "ItemsPerMessage", variable_instance="GetVariables"),
        element("EVSE", "Power", evse={"id": 1}),
        element("Connector", "ConnectorType", evse={"id": 1, "connectorId": 1}),
        element("OCPPCommCtrlr", "NoSuchVariable", attribute="MaxSet"),
        element("TxCtrlr", "TxStartPoint", component_instance=""),
        element("OCPPCommCtrlr", "OfflineThreshold", attribute="Target"),
        element("OCPPCommCtrlr", "OfflineThreshold"),  # a repeat still gets its own result
    ]
    results = get_many(oem, elements, version)
    for sent, got in zip(elements, results, strict=True):
        assert got["component"] == sent["component"]  # names in the request's own case, instance/evse kept
        assert got["variable"] == sent["variable"]
        assert got["attributeType"] == sent.get("attributeType", "Actual")
    assert [r["attributeStatus"] for r in results] == [
        "Accepted", "UnknownComponent", "Accepted", "Accepted", "Accepted", "UnknownVariable", "Accepted",
        "NotSupportedAttributeType", "Accepted"]


@pytest.mark.parametrize(("version", "attribute"), [("ocpp2.0.1", "Actual"), ("ocpp2.1", "MaxSet")])
def test_B06_FR_03_attribute_type_is_echoed(oem: OemClient, version: str, attribute: str) -> None:
    scenarios.attribute_type_is_echoed(oem, version, attribute)


@version_param
def test_B06_FR_11_omitted_attribute_type_is_answered_as_actual(oem: OemClient, version: str) -> None:
    result = get_one(oem, element("TxCtrlr", "EVConnectionTimeOut"), version)
    assert result["attributeType"] == "Actual"
    assert_value(result, "120")


# -- FR.04/FR.10: Accepted with the value -------------------------------------------------------------


@pytest.mark.parametrize(("version", "component", "variable", "value"), [
    ("ocpp2.0.1", "OCPPCommCtrlr", "FileTransferProtocols", "HTTPS,HTTP"),
    ("ocpp2.1", "ChargingStation", "VendorName", "ocpp-station"),  # from station.toml's [station]
])
def test_B06_FR_04_FR_10_accepted_with_the_value(oem: OemClient, version: str, component: str, variable: str,
                                                 value: str) -> None:
    scenarios.accepted_with_the_value(oem, version, component, variable, value)


@version_param
def test_B06_FR_10_clock_date_time_is_rfc3339_now(oem: OemClient, version: str) -> None:
    result = get_one(oem, element("ClockCtrlr", "DateTime"), version)
    assert result["attributeStatus"] == "Accepted"
    text = result["attributeValue"]
    assert "T" in text and (text.endswith("Z") or text[-6] in "+-"), text  # a time zone is required
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert when.tzinfo is not None
    assert abs((datetime.now(UTC) - when).total_seconds()) < 5


# -- FR.06/07/08: unknown component / variable / attribute type, no value ----------------------------


@version_param
def test_TC_B_32_CS_B06_FR_06_unknown_component_has_no_value(oem: OemClient, version: str) -> None:
    assert_refused(get_one(oem, element("UnknownComponent", "OfflineThreshold"), version), "UnknownComponent")


@version_param
def test_TC_B_33_CS_B06_FR_07_unknown_variable_has_no_value(oem: OemClient, version: str) -> None:
    assert_refused(get_one(oem, element("OCPPCommCtrlr", "UnknownVariable"), version), "UnknownVariable")


@version_param
def test_TC_B_34_CS_B06_FR_08_not_supported_attribute_type(oem: OemClient, version: str) -> None:
    result = get_one(oem, element("OCPPCommCtrlr", "OfflineThreshold", attribute="Target"), version)
    assert result["attributeType"] == "Target"
    assert_refused(result, "NotSupportedAttributeType")


# -- FR.09: write-only --------------------------------------------------------------------------------


def test_B06_FR_09_write_only_variable_is_rejected_without_value(oem: OemClient, station: StationProcess) -> None:
    """Not in the process's log either (the door's lines included); both versions in process."""
    version = "ocpp2.0.1"
    scenarios.write_only_variable_is_rejected_without_value(oem, station.log_text, version)


# -- FR.13: supported attribute without a value → "" --------------------------------------------------


@pytest.mark.parametrize(("version", "component", "variable", "instance"), [
    ("ocpp2.0.1", "ClockCtrlr", "TimeZone", None),
    ("ocpp2.1", "ClockCtrlr", "NtpServerUri", "1"),
])
def test_B06_FR_13_supported_unset_attribute_is_empty_string(oem: OemClient, version: str, component: str,
                                                             variable: str, instance: str | None) -> None:
    scenarios.supported_unset_attribute_is_empty_string(oem, version, component, variable, instance)


# -- FR.14/FR.15: instances ---------------------------------------------------------------------------


@pytest.mark.parametrize(("version", "component", "variable", "instance", "value"), [
    ("ocpp2.0.1", "DeviceDataCtrlr", "BytesPerMessage", "GetVariables", "65536"),
    ("ocpp2.1", "OCPPCommCtrlr", "MessageAttempts", "TransactionEvent", "5"),
])
def test_B06_FR_14_instance_addressing(oem: OemClient, version: str, component: str, variable: str,
                                       instance: str, value: str) -> None:
    scenarios.instance_addressing(oem, version, component, variable, instance, value)


@version_param
def test_B06_FR_15_empty_instance_is_the_same_as_none(oem: OemClient, version: str) -> None:
    result = get_one(oem, element("OCPPCommCtrlr", "OfflineThreshold", component_instance="",
                                  variable_instance=""), version)
    assert_value(result, "60")
    assert result["component"] == {"name": "OCPPCommCtrlr", "instance": ""}  # still echoed as sent
    assert result["variable"] == {"name": "OfflineThreshold", "instance": ""}


# -- FR.16: ItemsPerMessage[GetVariables] ------------------------------------------------------------


def test_B06_FR_16_more_items_than_items_per_message_is_occurrence_violation(oem: OemClient) -> None:
    """101 elements through the broker and the door; both versions in process."""
    version = "ocpp2.1"
    scenarios.more_items_than_items_per_message_is_occurrence_violation(oem, version)


# -- FR.17: BytesPerMessage[GetVariables] ------------------------------------------------------------


def _big_get_request(items: int, version: str) -> tuple[str, str]:
    """A schema-valid GetVariables within the item limit whose JSON text is large.

    Every name and instance is 50 characters (the schema's maximum), written with \\u escapes: the
    decoded request is ordinary identifierString text, the message on the wire is ~1.2 kB per element.
    """
    parts = []
    for i in range(items):
        comp, cinst = f"Big{i:03d}".ljust(50, "C"), "I" * 50
        var, vinst = f"Var{i:03d}".ljust(50, "V"), "J" * 50
        parts.append(f'{{"component":{{"name":{_escaped(comp)},"instance":{_escaped(cinst)}}},'
                     f'"variable":{{"name":{_escaped(var)},"instance":{_escaped(vinst)}}}}}')
    request_id = str(uuid.uuid4())
    body = (f'{{"id":"{request_id}","name":"ocpp_message","type":"request","data":{{"ocpp_version":"{version}",'
            f'"message_name":"GetVariables","payload":{{"getVariableData":[{",".join(parts)}]}}}}}}')
    return request_id, body


@version_param
def test_B06_FR_17_large_request_within_bytes_per_message_is_answered(oem: OemClient, version: str) -> None:
    request_id, body = _big_get_request(40, version)  # ~48 kB: under 65536
    assert len(body.encode()) < 65536
    oem.publish(body)
    answer = oem.wait_for(request_id)
    check_response(answer, "GetVariables", version)
    results = answer["data"]["payload"]["getVariableResult"]
    assert len(results) == 40 and {r["attributeStatus"] for r in results} == {"UnknownComponent"}



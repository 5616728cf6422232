"""B06 GetVariables, the rules, in process: a Station without any door, no broker (OCPP 2.0.1 and 2.1).

Addressing (instances, EVSE and Connector tiers, case), the status precedence, the attribute types
and the message limits of B06, driven through :meth:`ocpp_station.app.Station.handle` with the
envelope bytes the MQTT door would hand over; every answer is checked with
:func:`tests.support.check_response`. Requirement ids are those of OCPP 2.x Part 2 (B06.FR.xx);
TC_B_xx_CS are the OCTT 2.0.1 test cases (ocpp-notes §2.3). The same requests over mosquitto, one
or two cases per requirement, are in tests/integration/test_b06_get_variables.py.

The module shares one station with a fresh data directory, so catalogue defaults can be relied on
here as long as no test of this module sets them (only the write-only password is set); the
BytesPerMessage tests make stations of their own, with a small limit.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from ocpp_station.app import Station
from ocpp_station.config import Config, Limits

from .. import b06_scenarios as scenarios
from ..b06_scenarios import escaped as _escaped
from ..support import InProcessOem, check_response, envelope
from ..variables import VERSIONS, assert_refused, assert_value, element, get_many, get_one

version_param = pytest.mark.parametrize("version", VERSIONS)


@pytest.fixture
def oem(module_oem: InProcessOem) -> InProcessOem:
    return module_oem


# -- FR.03: the attribute type is echoed -------------------------------------------------------------------


@version_param
@pytest.mark.parametrize("attribute", ["Actual", "Target", "MinSet", "MaxSet"])
def test_B06_FR_03_attribute_type_is_echoed(oem: InProcessOem, version: str, attribute: str) -> None:
    scenarios.attribute_type_is_echoed(oem, version, attribute)


# -- FR.04/FR.10: Accepted with the value -------------------------------------------------------------


@version_param
@pytest.mark.parametrize(("component", "variable", "value"), [
    ("OCPPCommCtrlr", "HeartbeatInterval", "60"),
    ("OCPPCommCtrlr", "FileTransferProtocols", "HTTPS,HTTP"),
    ("SmartChargingCtrlr", "LimitChangeSignificance", "10.0"),
    ("AuthCtrlr", "AuthorizeRemoteStart", "true"),
    ("ChargingStation", "SupplyPhases", "3"),
    ("ChargingStation", "VendorName", "ocpp-station"),
    ("ChargingStation", "Model", "AC22-1"),
    ("SecurityCtrlr", "Identity", "CS0000000001"),
    ("SecurityCtrlr", "SecurityProfile", "1"),
    ("DeviceDataCtrlr", "ConfigurationValueSize", "1000"),
    ("ClockCtrlr", "TimeSource", "Heartbeat"),
])
def test_B06_FR_04_FR_10_accepted_with_the_value(oem: InProcessOem, version: str, component: str, variable: str,
                                                 value: str) -> None:
    scenarios.accepted_with_the_value(oem, version, component, variable, value)


# -- FR.06/07/08: unknown component / variable / attribute type, no value ----------------------------


@version_param
def test_B06_FR_06_known_component_with_unknown_instance(oem: InProcessOem, version: str) -> None:
    result = get_one(oem, element("OCPPCommCtrlr", "OfflineThreshold", component_instance="Nope"), version)
    assert_refused(result, "UnknownComponent")


@version_param
def test_B06_FR_06_station_level_component_addressed_on_an_evse(oem: InProcessOem, version: str) -> None:
    result = get_one(oem, element("OCPPCommCtrlr", "OfflineThreshold", evse={"id": 1}), version)
    assert_refused(result, "UnknownComponent")


def test_B06_FR_07_variable_of_another_version_is_unknown(oem: InProcessOem) -> None:
    data = element("SampledDataCtrlr", "SignStartedReadings")  # new in 2.1
    assert_refused(get_one(oem, data, "ocpp2.0.1"), "UnknownVariable")
    assert_value(get_one(oem, data, "ocpp2.1"), "false")


@version_param
def test_B06_FR_07_unknown_component_wins_over_unknown_variable(oem: InProcessOem, version: str) -> None:
    assert_refused(get_one(oem, element("NoSuchCtrlr", "NoSuchVariable"), version), "UnknownComponent")


@version_param
def test_B06_FR_08_unknown_variable_wins_over_attribute_type(oem: InProcessOem, version: str) -> None:
    result = get_one(oem, element("OCPPCommCtrlr", "NoSuchVariable", attribute="Target"), version)
    assert_refused(result, "UnknownVariable")


# -- FR.09: write-only --------------------------------------------------------------------------------


@version_param
def test_B06_FR_09_write_only_variable_is_rejected_without_value(oem: InProcessOem, station_log: Callable[[], str],
                                                                 version: str) -> None:
    scenarios.write_only_variable_is_rejected_without_value(oem, station_log, version)


# -- FR.13: supported attribute without a value → "" --------------------------------------------------


@version_param
@pytest.mark.parametrize(("component", "variable", "instance"), [
    ("ClockCtrlr", "TimeZone", None),
    ("ClockCtrlr", "TimeOffset", "NextTransition"),
    ("ClockCtrlr", "NtpServerUri", "1"),
    ("AuthCtrlr", "MasterPassGroupId", None),
])
def test_B06_FR_13_supported_unset_attribute_is_empty_string(oem: InProcessOem, version: str, component: str,
                                                             variable: str, instance: str | None) -> None:
    scenarios.supported_unset_attribute_is_empty_string(oem, version, component, variable, instance)


# -- FR.14/FR.15: instances ---------------------------------------------------------------------------


@version_param
@pytest.mark.parametrize(("component", "variable", "instance", "value"), [
    ("DeviceDataCtrlr", "ItemsPerMessage", "GetVariables", "100"),
    ("DeviceDataCtrlr", "ItemsPerMessage", "SetVariables", "100"),
    ("DeviceDataCtrlr", "ItemsPerMessage", "GetReport", "100"),
    ("DeviceDataCtrlr", "BytesPerMessage", "GetVariables", "65536"),
    ("OCPPCommCtrlr", "MessageTimeout", "Default", "30"),
    ("OCPPCommCtrlr", "MessageAttempts", "TransactionEvent", "5"),
    ("OCPPCommCtrlr", "MessageAttemptInterval", "TransactionEvent", "10"),
    ("SmartChargingCtrlr", "Entries", "ChargingProfiles", "0"),
])
def test_B06_FR_14_instance_addressing(oem: InProcessOem, version: str, component: str, variable: str,
                                       instance: str, value: str) -> None:
    scenarios.instance_addressing(oem, version, component, variable, instance, value)


@version_param
def test_B06_FR_14_same_name_different_instances_are_different_variables(oem: InProcessOem, version: str) -> None:
    results = get_many(oem, [element("ClockCtrlr", "TimeOffset"),
                             element("ClockCtrlr", "TimeOffset", variable_instance="NextTransition")], version)
    assert [(r["attributeStatus"], r["attributeValue"]) for r in results] == [("Accepted", "+00:00"),
                                                                              ("Accepted", "")]


@version_param
def test_B06_FR_14_unknown_instance_is_unknown_variable(oem: InProcessOem, version: str) -> None:
    result = get_one(oem, element("DeviceDataCtrlr", "ItemsPerMessage", variable_instance="NoSuchMessage"), version)
    assert_refused(result, "UnknownVariable")


@version_param
def test_B06_FR_14_instance_on_a_variable_without_instances_is_unknown(oem: InProcessOem, version: str) -> None:
    result = get_one(oem, element("OCPPCommCtrlr", "OfflineThreshold", variable_instance="Default"), version)
    assert_refused(result, "UnknownVariable")


@version_param
@pytest.mark.parametrize("instance", [None, ""], ids=["absent", "empty"])
@pytest.mark.parametrize(("component", "variable"), [("DeviceDataCtrlr", "ItemsPerMessage"),
                                                     ("DeviceDataCtrlr", "BytesPerMessage"),
                                                     ("OCPPCommCtrlr", "MessageTimeout")])
def test_B06_FR_15_missing_instance_is_unknown_variable(oem: InProcessOem, version: str, component: str,
                                                        variable: str, instance: str | None) -> None:
    result = get_one(oem, element(component, variable, variable_instance=instance), version)
    assert_refused(result, "UnknownVariable")


# -- case-insensitive names ---------------------------------------------------------------------------


@version_param
@pytest.mark.parametrize(("component", "variable"), [("ocppcommctrlr", "offlinethreshold"),
                                                     ("OCPPCOMMCTRLR", "OFFLINETHRESHOLD"),
                                                     ("OcppCommCtrlr", "OfflineTHRESHOLD")])
def test_B06_names_are_case_insensitive(oem: InProcessOem, version: str, component: str, variable: str) -> None:
    result = get_one(oem, element(component, variable), version)  # get_one checks the echo keeps the case
    assert_value(result, "60")


@version_param
def test_B06_evse_component_name_is_case_insensitive(oem: InProcessOem, version: str) -> None:
    assert_value(get_one(oem, element("evse", "power", evse={"id": 1}), version), "22000")


@version_param
def test_B06_instances_are_case_insensitive(oem: InProcessOem, version: str) -> None:
    results = get_many(oem, [
        element("DeviceDataCtrlr", "ItemsPerMessage", variable_instance="getvariables"),
        element("OCPPCommCtrlr", "MessageTimeout", variable_instance="DEFAULT"),
    ], version)
    assert [(r["attributeStatus"], r.get("attributeValue")) for r in results] == [("Accepted", "100"),
                                                                                  ("Accepted", "30")]


# -- EVSE-tier components -----------------------------------------------------------------------------


@version_param
@pytest.mark.parametrize(("variable", "value"), [("Power", "22000"), ("SupplyPhases", "3"),
                                                 ("Available", "true"), ("AvailabilityState", "Available")])
def test_B06_evse_component_with_evse_id(oem: InProcessOem, version: str, variable: str, value: str) -> None:
    assert_value(get_one(oem, element("EVSE", variable, evse={"id": 1}), version), value)


@version_param
@pytest.mark.parametrize("evse", [None, {"id": 2}, {"id": 0}, {"id": 1, "connectorId": 1}],
                         ids=["no-evse", "evse-2", "evse-0", "with-connector"])
def test_B06_evse_component_wrongly_addressed_is_unknown_component(oem: InProcessOem, version: str,
                                                                   evse: dict[str, int] | None) -> None:
    assert_refused(get_one(oem, element("EVSE", "Power", evse=evse), version), "UnknownComponent")


@version_param
@pytest.mark.parametrize(("variable", "value"), [("ConnectorType", "cType2"), ("SupplyPhases", "3"),
                                                 ("Available", "true")])
def test_B06_connector_component_with_evse_and_connector_id(oem: InProcessOem, version: str, variable: str,
                                                            value: str) -> None:
    data = element("Connector", variable, evse={"id": 1, "connectorId": 1})
    assert_value(get_one(oem, data, version), value)


@version_param
@pytest.mark.parametrize("evse", [None, {"id": 1}, {"id": 1, "connectorId": 2}, {"id": 2, "connectorId": 1}],
                         ids=["no-evse", "no-connector-id", "connector-2", "evse-2"])
def test_B06_connector_component_wrongly_addressed_is_unknown_component(oem: InProcessOem, version: str,
                                                                        evse: dict[str, int] | None) -> None:
    result = get_one(oem, element("Connector", "ConnectorType", evse=evse), version)
    assert_refused(result, "UnknownComponent")


@version_param
def test_B06_evse_component_unknown_variable(oem: InProcessOem, version: str) -> None:
    assert_refused(get_one(oem, element("EVSE", "NoSuchVariable", evse={"id": 1}), version), "UnknownVariable")


# -- FR.16: ItemsPerMessage[GetVariables] ------------------------------------------------------------


@version_param
def test_B06_FR_16_more_items_than_items_per_message_is_occurrence_violation(oem: InProcessOem,
                                                                             version: str) -> None:
    scenarios.more_items_than_items_per_message_is_occurrence_violation(oem, version)


@version_param
def test_B06_FR_16_exactly_items_per_message_is_accepted(oem: InProcessOem, version: str) -> None:
    limit = scenarios.items_limit(oem, version)
    elements = [element("OCPPCommCtrlr", "OfflineThreshold" if i % 2 else "HeartbeatInterval")
                for i in range(limit)]
    results = get_many(oem, elements, version)
    assert all(r["attributeStatus"] == "Accepted" for r in results)
    assert [r["variable"]["name"] for r in results] == [e["variable"]["name"] for e in elements]


# -- FR.17: BytesPerMessage[GetVariables] ------------------------------------------------------------


@version_param
def test_B06_FR_17_the_limit_measures_the_ocpp_message_not_the_envelope(tmp_path: Path, version: str) -> None:
    """Issue 13: with BytesPerMessage[GetVariables] = 600, a GetVariables whose OCPP-J CALL frame is 600
    bytes is answered although its MQTT envelope (names written with \\u escapes) is far larger; with a
    frame of 601 bytes it is FormatViolation. The CSMS door measures the same (test_connection_facts.py)."""
    station = Station(Config(limits=Limits(bytes_per_message_get_variables=600), data_dir=tmp_path / "data"))
    try:
        def ask(frame_bytes: int) -> tuple[int, dict[str, Any]]:
            request_id = str(uuid.uuid4())
            names = ["C" * 50] * 4
            def frame(last: int) -> str:
                elements = [{"component": {"name": n}, "variable": {"name": v}}
                            for n, v in [*((n, "V") for n in names), ("D" * 50, "W" * last)]]
                return json.dumps([2, request_id, "GetVariables", {"getVariableData": elements}],
                                  separators=(",", ":"))
            [last] = [m for m in range(1, 51) if len(frame(m)) == frame_bytes]
            payload = ",".join(f'{{"component":{{"name":{_escaped(n)}}},"variable":{{"name":{_escaped(v)}}}}}'
                               for n, v in [*((n, "V") for n in names), ("D" * 50, "W" * last)])
            raw = (f'{{"id":"{request_id}","name":"ocpp_message","type":"request","data":{{"ocpp_version":'
                   f'"{version}","message_name":"GetVariables","payload":{{"getVariableData":[{payload}]}}}}}}')
            answer = orjson.loads(station.handle(raw.encode()).body)
            check_response(answer, "GetVariables", version)
            return len(raw), answer["data"]

        raw, data = ask(600)
        assert raw > 1500 and data["message_type"] == "CallResult", (raw, data)
        _, data = ask(601)
        assert data["message_type"] == "CallError" and data["error_code"] == "FormatViolation", data
        assert data["error_details"] == {"limit": 600, "received": 601}
    finally:
        station.close()


@version_param
def test_B06_FR_17_bytes_limit_in_process(tmp_path: Path, version: str) -> None:
    """The same rule with a small configured limit, on a Station object without any door."""
    station = Station(Config(limits=Limits(bytes_per_message_get_variables=500), data_dir=tmp_path / "data"))
    try:
        def ask(elements: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
            request = envelope("GetVariables", {"getVariableData": elements}, version)
            frame = orjson.dumps([2, request["id"], "GetVariables", request["data"]["payload"]])
            answer = orjson.loads(station.handle(orjson.dumps(request)).body)
            check_response(answer, "GetVariables", version)
            return len(frame), answer["data"]  # B06.FR.17 measures the OCPP-J CALL frame

        limit_element = element("DeviceDataCtrlr", "BytesPerMessage", variable_instance="GetVariables")
        size, data = ask([limit_element])
        assert size <= 500
        assert data["payload"]["getVariableResult"][0]["attributeValue"] == "500"

        size, data = ask([element("OCPPCommCtrlr", "OfflineThreshold")] * 7)
        assert size > 500
        assert data["message_type"] == "CallError" and data["error_code"] == "FormatViolation"
        assert data["error_details"]["limit"] == 500 and data["error_details"]["received"] > 500
    finally:
        station.close()

"""B05 SetVariables, end to end over mosquitto (OCPP 2.0.1 and 2.1; the use case is the same in both).

The wiring: one or two cases of each requirement through a station process and a real broker. The
rules themselves — every data type and value format, the status precedence, the limits, the value
sizes — are tested in process, in tests/unit/test_b05_set_variables_rules.py, under the same names.

Requirement ids are those of OCPP 2.x Part 2 (B05.FR.xx); TC_B_xx_CS are the OCTT 2.0.1 test cases
(ocpp-notes §2.2). The module shares one station: every test that changes a value reads it back in
the same test, compares with what it read before rather than with catalogue defaults, and the
tests touch different variables where their order could matter.
"""

from __future__ import annotations

import pytest

from .. import b05_scenarios as scenarios
from ..support import OemClient, StationProcess
from ..variables import VERSIONS, assert_rejected, read, set_many, set_one, setting

version_param = pytest.mark.parametrize("version", VERSIONS)


# -- OCTT happy paths ---------------------------------------------------------------------------------


@version_param
def test_TC_B_09_CS_single_value_attribute_type_omitted(oem: OemClient, version: str) -> None:
    result = set_one(oem, setting("OCPPCommCtrlr", "OfflineThreshold", "300"), version)
    assert result["attributeStatus"] == "Accepted"
    assert result["attributeType"] == "Actual"  # B05.FR.12
    assert read(oem, "OCPPCommCtrlr", "OfflineThreshold", version) == "300"


@version_param
def test_TC_B_10_CS_two_values(oem: OemClient, version: str) -> None:
    threshold = "301" if version == "ocpp2.0.1" else "302"
    results = set_many(oem, [
        setting("OCPPCommCtrlr", "OfflineThreshold", threshold, attribute="Actual"),
        setting("AuthCtrlr", "LocalAuthorizeOffline", "false", attribute="Actual"),
    ], version)
    assert [r["attributeStatus"] for r in results] == ["Accepted", "Accepted"]
    assert read(oem, "OCPPCommCtrlr", "OfflineThreshold", version) == threshold
    assert read(oem, "AuthCtrlr", "LocalAuthorizeOffline", version) == "false"


# -- FR.01/02/03/12 -----------------------------------------------------------------------------------


@version_param
def test_B05_FR_01_FR_02_FR_03_FR_12_one_result_per_element_echoed(oem: OemClient, version: str) -> None:
    elements = [
        setting("ocppCOMMctrlr", "resetRETRIES", "4"),  # echoed in the request's own case
        setting("UnknownComponent", "X", "1", attribute="MinSet"),
        setting("OCPPCommCtrlr", "MessageAttempts", "6", variable_instance="TransactionEvent", attribute="Actual"),
        setting("EVSE", "Power", "1000", evse={"id": 1}),
        setting("OCPPCommCtrlr", "OfflineThreshold", "10", attribute="MaxSet"),
        setting("OCPPCommCtrlr", "NoSuchVariable", "1"),
        setting("TxCtrlr", "StopTxOnInvalidId", "true", component_instance=""),
    ]
    results = set_many(oem, elements, version)  # checks count, order, echo and attributeType
    assert [r["attributeStatus"] for r in results] == [
        "Accepted", "UnknownComponent", "Accepted", "Rejected", "NotSupportedAttributeType", "UnknownVariable",
        "Accepted"]
    assert read(oem, "OCPPCommCtrlr", "ResetRetries", version) == "4"
    assert read(oem, "OCPPCommCtrlr", "MessageAttempts", version, variable_instance="TransactionEvent") == "6"


# -- FR.04/05/06: unknown component / variable / attribute type --------------------------------------


@version_param
def test_TC_B_35_CS_B05_FR_04_unknown_component(oem: OemClient, version: str) -> None:
    result = set_one(oem, setting("UnknownComponent", "OfflineThreshold", "300"), version)
    assert result["attributeStatus"] == "UnknownComponent"


@version_param
def test_TC_B_36_CS_B05_FR_05_unknown_variable(oem: OemClient, version: str) -> None:
    result = set_one(oem, setting("OCPPCommCtrlr", "UnknownVariable", "300"), version)
    assert result["attributeStatus"] == "UnknownVariable"


@version_param
def test_TC_B_37_CS_B05_FR_06_target_attribute_not_supported(oem: OemClient, version: str) -> None:
    before = read(oem, "OCPPCommCtrlr", "OfflineThreshold", version)
    result = set_one(oem, setting("OCPPCommCtrlr", "OfflineThreshold", "300", attribute="Target"), version)
    assert result["attributeStatus"] == "NotSupportedAttributeType"
    assert result["attributeType"] == "Target"
    assert read(oem, "OCPPCommCtrlr", "OfflineThreshold", version) == before


# -- FR.07: incorrectly formatted values --------------------------------------------------------------


@pytest.mark.parametrize(("version", "component", "variable", "value"), [
    ("ocpp2.0.1", "TxCtrlr", "EVConnectionTimeOut", "abc"),  # integer
    ("ocpp2.1", "TxCtrlr", "TxStopPoint", "EVConnected,Bogus"),  # MemberList
])
def test_TC_B_11_CS_B05_FR_07_invalid_format_is_rejected(oem: OemClient, version: str, component: str,
                                                         variable: str, value: str) -> None:
    scenarios.invalid_format_is_rejected(oem, version, component, variable, value)


@pytest.mark.parametrize(("version", "component", "variable", "value"), [
    ("ocpp2.0.1", "ClockCtrlr", "NextTimeOffsetTransitionDateTime", "2030-10-27T03:00:00.123+02:00"),  # dateTime
    ("ocpp2.1", "ClockCtrlr", "TimeSource", "NTP,Heartbeat"),  # a SequenceList keeps its order
])
def test_TC_B_11_CS_B05_FR_10_correct_format_is_accepted_and_read_back(oem: OemClient, version: str,
                                                                       component: str, variable: str,
                                                                       value: str) -> None:
    scenarios.correct_format_is_accepted_and_read_back(oem, version, component, variable, value)


# -- FR.08: out of range ------------------------------------------------------------------------------


@pytest.mark.parametrize(("version", "component", "variable", "value"), [
    ("ocpp2.0.1", "OCPPCommCtrlr", "HeartbeatInterval", "0"),  # minLimit 1
    ("ocpp2.1", "SmartChargingCtrlr", "LimitChangeSignificance", "100.5"),  # maxLimit 100
])
def test_B05_FR_08_out_of_range_is_rejected(oem: OemClient, version: str, component: str, variable: str,
                                            value: str) -> None:
    scenarios.out_of_range_is_rejected(oem, version, component, variable, value)


# -- FR.09: read-only ---------------------------------------------------------------------------------


@version_param
def test_TC_B_39_CS_B05_FR_09_read_only_variable_is_rejected(oem: OemClient, version: str) -> None:
    data = setting("OCPPCommCtrlr", "MessageTimeout", "45", variable_instance="Default")
    before = read(oem, "OCPPCommCtrlr", "MessageTimeout", version, variable_instance="Default")
    assert_rejected(set_one(oem, data, version), "ReadOnly")
    assert read(oem, "OCPPCommCtrlr", "MessageTimeout", version, variable_instance="Default") == before == "30"


# -- FR.10: Accepted, read back; RebootRequired -------------------------------------------------------


@version_param
def test_B05_FR_10_accepted_then_read_back(oem: OemClient, version: str) -> None:
    new = "15" if read(oem, "OCPPCommCtrlr", "WebSocketPingInterval", version) != "15" else "16"
    assert set_one(oem, setting("OCPPCommCtrlr", "WebSocketPingInterval", new), version)["attributeStatus"] == \
        "Accepted"
    assert read(oem, "OCPPCommCtrlr", "WebSocketPingInterval", version) == new
    assert read(oem, "OCPPCommCtrlr", "WebSocketPingInterval", "ocpp2.1" if version == "ocpp2.0.1"
                else "ocpp2.0.1") == new  # one device model behind both versions


# -- BasicAuthPassword (A01) --------------------------------------------------------------------------


@pytest.mark.parametrize(("version", "length"), [("ocpp2.0.1", 16), ("ocpp2.1", 64)])
def test_B05_basic_auth_password_is_accepted_and_never_disclosed(oem: OemClient, station: StationProcess,
                                                                 version: str, length: int) -> None:
    scenarios.basic_auth_password_is_accepted_and_never_disclosed(oem, station.log_text, version, length)


def test_B05_basic_auth_password_in_a_schema_error_is_not_disclosed(oem: OemClient, station: StationProcess) -> None:
    """Not in the process's log either (the door's lines included); both versions in process."""
    version = "ocpp2.1"
    scenarios.basic_auth_password_in_a_schema_error_is_not_disclosed(oem, station.log_text, version)


# -- several elements in one request ------------------------------------------------------------------


@version_param
def test_B05_mix_of_good_and_bad_elements(oem: OemClient, version: str) -> None:
    before_bad = read(oem, "SampledDataCtrlr", "TxUpdatedInterval", version)
    good_a = "31" if read(oem, "SampledDataCtrlr", "TxEndedInterval", version) != "31" else "32"
    good_b = "true" if read(oem, "AuthCtrlr", "OfflineTxForUnknownIdEnabled", version) != "true" else "false"
    results = set_many(oem, [
        setting("SampledDataCtrlr", "TxEndedInterval", good_a),
        setting("NoSuchCtrlr", "TxEndedInterval", "1"),
        setting("SampledDataCtrlr", "TxUpdatedInterval", "-5"),
        setting("OCPPCommCtrlr", "MessageTimeout", "5", variable_instance="Default"),
        setting("AuthCtrlr", "OfflineTxForUnknownIdEnabled", good_b),
    ], version)
    assert [r["attributeStatus"] for r in results] == ["Accepted", "UnknownComponent", "Rejected", "Rejected",
                                                       "Accepted"]
    assert read(oem, "SampledDataCtrlr", "TxEndedInterval", version) == good_a
    assert read(oem, "SampledDataCtrlr", "TxUpdatedInterval", version) == before_bad
    assert read(oem, "OCPPCommCtrlr", "MessageTimeout", version, variable_instance="Default") == "30"
    assert read(oem, "AuthCtrlr", "OfflineTxForUnknownIdEnabled", version) == good_b


# -- ItemsPerMessage[SetVariables] / BytesPerMessage[SetVariables] -----------------------------------


def test_B05_more_items_than_items_per_message_is_occurrence_violation(oem: OemClient) -> None:
    """101 elements through the broker and the door; both versions in process."""
    version = "ocpp2.0.1"
    scenarios.more_items_than_items_per_message_is_occurrence_violation(oem, version)


def test_B05_more_bytes_than_bytes_per_message_is_refused_whole(oem: OemClient) -> None:
    """No B05 requirement; the station mirrors B06.FR.17 (CallError FormatViolation), applying nothing.

    A message of more than 64 kB through the broker and the door; both versions in process."""
    version = "ocpp2.1"
    scenarios.more_bytes_than_bytes_per_message_is_refused_whole(oem, version)

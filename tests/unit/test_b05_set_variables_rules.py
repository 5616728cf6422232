"""B05 SetVariables, the rules, in process: a Station without any door, no broker (OCPP 2.0.1 and 2.1).

The data-type checks, the status precedence, the limits and the value sizes of B05, driven through
:meth:`ocpp_station.app.Station.handle` with the envelope bytes the MQTT door would hand over; every
answer is checked with :func:`tests.support.check_response`. Requirement ids are those of OCPP 2.x
Part 2 (B05.FR.xx); TC_B_xx_CS are the OCTT 2.0.1 test cases (ocpp-notes §2.2). The same request
over mosquitto, one or two cases per requirement, is in tests/integration/test_b05_set_variables.py.

The module shares one station: every test that changes a value reads it back in the same test and
compares with what it read before rather than with catalogue defaults.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from ocpp_station.app import Station

from .. import b05_scenarios as scenarios
from ..support import InProcessOem
from ..variables import VERSIONS, assert_rejected, read, set_many, set_one, setting

version_param = pytest.mark.parametrize("version", VERSIONS)


@pytest.fixture
def oem(module_oem: InProcessOem) -> InProcessOem:
    """One station for the module, as in the integration module: each test compares with what it read before."""
    return module_oem


# -- FR.04/05/06: unknown component / variable / attribute type --------------------------------------


@version_param
@pytest.mark.parametrize("evse", [None, {"id": 2}, {"id": 1, "connectorId": 1}], ids=["none", "evse-2", "conn"])
def test_B05_FR_04_evse_component_wrongly_addressed(oem: InProcessOem, version: str,
                                                    evse: dict[str, int] | None) -> None:
    assert set_one(oem, setting("EVSE", "Power", "1000", evse=evse), version)["attributeStatus"] == "UnknownComponent"


@version_param
def test_B05_FR_05_missing_instance_is_unknown_variable(oem: InProcessOem, version: str) -> None:
    results = set_many(oem, [setting("OCPPCommCtrlr", "MessageAttempts", "5"),
                             setting("OCPPCommCtrlr", "MessageAttempts", "5", variable_instance="")], version)
    assert [r["attributeStatus"] for r in results] == ["UnknownVariable", "UnknownVariable"]


def test_B05_FR_05_variable_of_another_version_is_unknown(oem: InProcessOem) -> None:
    data = setting("SampledDataCtrlr", "SignUpdatedReadings", "true")  # new in 2.1
    assert set_one(oem, data, "ocpp2.0.1")["attributeStatus"] == "UnknownVariable"
    assert set_one(oem, data, "ocpp2.1")["attributeStatus"] == "Accepted"
    assert read(oem, "SampledDataCtrlr", "SignUpdatedReadings", "ocpp2.1") == "true"


@version_param
def test_B05_precedence_status_before_value_check(oem: InProcessOem, version: str) -> None:
    """UnknownComponent → UnknownVariable → NotSupportedAttributeType come before a bad value."""
    results = set_many(oem, [
        setting("NoSuchCtrlr", "NoSuchVariable", "abc"),
        setting("OCPPCommCtrlr", "NoSuchVariable", "abc", attribute="Target"),
        setting("OCPPCommCtrlr", "OfflineThreshold", "abc", attribute="Target"),
    ], version)
    assert [r["attributeStatus"] for r in results] == ["UnknownComponent", "UnknownVariable",
                                                       "NotSupportedAttributeType"]


# -- FR.07: incorrectly formatted values --------------------------------------------------------------

INVALID_FORMATS = [
    # integer
    ("TxCtrlr", "EVConnectionTimeOut", "abc"),
    ("TxCtrlr", "EVConnectionTimeOut", "1.5"),
    ("TxCtrlr", "EVConnectionTimeOut", "+5"),
    ("TxCtrlr", "EVConnectionTimeOut", "007"),
    ("TxCtrlr", "EVConnectionTimeOut", "true"),
    ("TxCtrlr", "EVConnectionTimeOut", ""),
    ("TxCtrlr", "EVConnectionTimeOut", " 5"),
    ("TxCtrlr", "EVConnectionTimeOut", "1e3"),
    # boolean
    ("AuthCtrlr", "AuthorizeRemoteStart", "yes"),
    ("AuthCtrlr", "AuthorizeRemoteStart", "True"),
    ("AuthCtrlr", "AuthorizeRemoteStart", "1"),
    ("AuthCtrlr", "AuthorizeRemoteStart", ""),
    # decimal
    ("SmartChargingCtrlr", "LimitChangeSignificance", "abc"),
    ("SmartChargingCtrlr", "LimitChangeSignificance", "1.1234567"),
    ("SmartChargingCtrlr", "LimitChangeSignificance", "1,5"),
    ("SmartChargingCtrlr", "LimitChangeSignificance", "true"),
    # dateTime
    ("ClockCtrlr", "NextTimeOffsetTransitionDateTime", "tomorrow"),
    ("ClockCtrlr", "NextTimeOffsetTransitionDateTime", "2024-13-01T00:00:00Z"),
    ("ClockCtrlr", "NextTimeOffsetTransitionDateTime", "2024-02-30T00:00:00Z"),
    ("ClockCtrlr", "NextTimeOffsetTransitionDateTime", "2030-01-01T00:00:00"),
    ("ClockCtrlr", "NextTimeOffsetTransitionDateTime", "2030-01-01"),
    ("ClockCtrlr", "NextTimeOffsetTransitionDateTime", "1893456000"),
    # OptionList
    ("ClockCtrlr", "NtpSource", "GPS"),
    ("ClockCtrlr", "NtpSource", "DHCP,manual"),
    ("ClockCtrlr", "NtpSource", ""),
    # MemberList
    ("TxCtrlr", "TxStopPoint", "EVConnected,Bogus"),
    ("TxCtrlr", "TxStopPoint", "EVConnected,EVConnected"),
    ("TxCtrlr", "TxStopPoint", "DataSigned"),  # in TxStartPoint's list, not in TxStopPoint's
    # SequenceList
    ("ClockCtrlr", "TimeSource", "Sundial"),
    ("ClockCtrlr", "TimeSource", "NTP,NTP"),
    ("ClockCtrlr", "TimeSource", "NTP,,GPS"),
    ("ClockCtrlr", "TimeSource", ""),
]


@version_param
@pytest.mark.parametrize(("component", "variable", "value"), INVALID_FORMATS)
def test_TC_B_11_CS_B05_FR_07_invalid_format_is_rejected(oem: InProcessOem, version: str, component: str,
                                                         variable: str, value: str) -> None:
    scenarios.invalid_format_is_rejected(oem, version, component, variable, value)


VALID_FORMATS = [
    ("TxCtrlr", "MaxEnergyOnInvalidId", "0"),
    ("TxCtrlr", "MaxEnergyOnInvalidId", "2147483647"),
    ("AuthCtrlr", "DisableRemoteAuthorization", "true"),
    ("AuthCtrlr", "DisableRemoteAuthorization", "false"),
    ("SmartChargingCtrlr", "LimitChangeSignificance", "12.5"),
    ("SmartChargingCtrlr", "LimitChangeSignificance", "0.123456"),
    ("SmartChargingCtrlr", "LimitChangeSignificance", "7"),
    ("ClockCtrlr", "NextTimeOffsetTransitionDateTime", "2030-03-31T01:00:00Z"),
    ("ClockCtrlr", "NextTimeOffsetTransitionDateTime", "2030-10-27T03:00:00.123+02:00"),
    ("ClockCtrlr", "NtpSource", "manual"),
    ("TxCtrlr", "TxStopPoint", "Authorized,EVConnected"),  # a MemberList is unordered
    ("ClockCtrlr", "TimeSource", "NTP,Heartbeat"),  # a SequenceList keeps its order
    ("ClockCtrlr", "TimeZone", "Europe/Oslo"),
    ("AuthCtrlr", "MasterPassGroupId", "G" * 36),  # string at its maxLimit
]


@version_param
@pytest.mark.parametrize(("component", "variable", "value"), VALID_FORMATS)
def test_TC_B_11_CS_B05_FR_10_correct_format_is_accepted_and_read_back(oem: InProcessOem, version: str,
                                                                       component: str, variable: str,
                                                                       value: str) -> None:
    scenarios.correct_format_is_accepted_and_read_back(oem, version, component, variable, value)


@version_param
def test_B05_FR_07_date_time_with_more_than_3_fraction_digits(oem: InProcessOem, version: str) -> None:
    before = read(oem, "ClockCtrlr", "NextTimeOffsetTransitionDateTime", version)
    data = setting("ClockCtrlr", "NextTimeOffsetTransitionDateTime", "2031-01-01T00:00:00.1234Z")
    assert_rejected(set_one(oem, data, version))
    assert read(oem, "ClockCtrlr", "NextTimeOffsetTransitionDateTime", version) == before


@version_param
@pytest.mark.parametrize(("component", "variable", "value"), [
    ("ClockCtrlr", "TimeZone", "Z" * 65),  # maxLimit 64
    ("AuthCtrlr", "MasterPassGroupId", "G" * 37),  # maxLimit 36
    ("ClockCtrlr", "TimeOffset", "+01:000"),  # maxLimit 6
])
def test_B05_FR_07_string_longer_than_max_limit_is_rejected(oem: InProcessOem, version: str, component: str,
                                                            variable: str, value: str) -> None:
    before = read(oem, component, variable, version)
    assert_rejected(set_one(oem, setting(component, variable, value), version), "ValueOutOfRange")
    assert read(oem, component, variable, version) == before


# -- FR.08: out of range ------------------------------------------------------------------------------


@version_param
@pytest.mark.parametrize(("component", "variable", "value"), [
    ("OCPPCommCtrlr", "HeartbeatInterval", "0"),  # minLimit 1
    ("OCPPCommCtrlr", "HeartbeatInterval", "-60"),
    ("OCPPCommCtrlr", "RetryBackOffWaitMinimum", "-1"),  # minLimit 0
    ("SmartChargingCtrlr", "LimitChangeSignificance", "100.5"),  # maxLimit 100
    ("SmartChargingCtrlr", "LimitChangeSignificance", "-0.1"),
])
def test_B05_FR_08_out_of_range_is_rejected(oem: InProcessOem, version: str, component: str, variable: str,
                                            value: str) -> None:
    scenarios.out_of_range_is_rejected(oem, version, component, variable, value)


@version_param
def test_B05_FR_08_limits_themselves_are_in_range(oem: InProcessOem, version: str) -> None:
    results = set_many(oem, [setting("OCPPCommCtrlr", "HeartbeatInterval", "1"),
                             setting("SmartChargingCtrlr", "Phases3to1", "false"),  # read-only, see FR.09
                             setting("OCPPCommCtrlr", "RetryBackOffRandomRange", "0")], version)
    assert [r["attributeStatus"] for r in results] == ["Accepted", "Rejected", "Accepted"]
    assert read(oem, "OCPPCommCtrlr", "HeartbeatInterval", version) == "1"
    assert read(oem, "OCPPCommCtrlr", "RetryBackOffRandomRange", version) == "0"


@version_param
def test_B05_FR_07_FR_08_integer_beyond_32_bit_is_rejected(oem: InProcessOem, version: str) -> None:
    before = read(oem, "OCPPCommCtrlr", "NetworkProfileConnectionAttempts", version)
    assert_rejected(set_one(oem, setting("OCPPCommCtrlr", "NetworkProfileConnectionAttempts", "2147483648"),
                            version))
    assert read(oem, "OCPPCommCtrlr", "NetworkProfileConnectionAttempts", version) == before


# -- FR.09: read-only ---------------------------------------------------------------------------------


@version_param
@pytest.mark.parametrize(("component", "variable", "value", "kwargs"), [
    ("ChargingStation", "SupplyPhases", "1", {}),
    ("SecurityCtrlr", "SecurityProfile", "2", {}),
    ("DeviceDataCtrlr", "ItemsPerMessage", "1000", {"variable_instance": "GetVariables"}),
    ("EVSE", "Power", "11000", {"evse": {"id": 1}}),
    ("Connector", "ConnectorType", "cCCS2", {"evse": {"id": 1, "connectorId": 1}}),
])
def test_B05_FR_09_other_read_only_variables_are_rejected(oem: InProcessOem, version: str, component: str,
                                                          variable: str, value: str,
                                                          kwargs: dict[str, Any]) -> None:
    before = read(oem, component, variable, version, **kwargs)
    assert_rejected(set_one(oem, setting(component, variable, value, **kwargs), version), "ReadOnly")
    assert read(oem, component, variable, version, **kwargs) == before


def test_B05_FR_09_read_only_clock_date_time_is_rejected(oem: InProcessOem) -> None:
    data = setting("ClockCtrlr", "DateTime", "2001-01-01T00:00:00Z")
    assert_rejected(set_one(oem, data), "ReadOnly")
    assert not read(oem, "ClockCtrlr", "DateTime").startswith("2001-")


# -- FR.10: Accepted, read back; RebootRequired -------------------------------------------------------


@version_param
def test_B05_FR_10_names_are_case_insensitive(oem: InProcessOem, version: str) -> None:
    result = set_one(oem, setting("TXCTRLR", "evconnectiontimeout", "121"), version)
    assert result["attributeStatus"] == "Accepted"
    assert read(oem, "TxCtrlr", "EVConnectionTimeOut", version) == "121"
    assert set_one(oem, setting("TxCtrlr", "EVConnectionTimeOut", "120"), version)["attributeStatus"] == "Accepted"


@version_param
def test_B05_FR_10_reboot_required(oem: InProcessOem, version: str) -> None:
    result = set_one(oem, setting("OCPPCommCtrlr", "NetworkConfigurationPriority", "1"), version)
    assert result["attributeStatus"] == "RebootRequired"
    assert read(oem, "OCPPCommCtrlr", "NetworkConfigurationPriority", version) == "1"


@version_param
def test_B05_FR_10_empty_string_for_a_string_variable(oem: InProcessOem, version: str) -> None:
    marker = f"Org-{uuid.uuid4().hex[:8]}"
    assert set_one(oem, setting("SecurityCtrlr", "OrganizationName", marker), version)["attributeStatus"] == \
        "Accepted"
    assert read(oem, "SecurityCtrlr", "OrganizationName", version) == marker
    assert set_one(oem, setting("SecurityCtrlr", "OrganizationName", ""), version)["attributeStatus"] == "Accepted"
    assert read(oem, "SecurityCtrlr", "OrganizationName", version) == ""


@version_param
def test_B05_FR_10_empty_member_list_means_none(oem: InProcessOem, version: str) -> None:
    assert set_one(oem, setting("AlignedDataCtrlr", "TxEndedMeasurands", ""), version)["attributeStatus"] == \
        "Accepted"
    assert read(oem, "AlignedDataCtrlr", "TxEndedMeasurands", version) == ""


# -- BasicAuthPassword (A01) --------------------------------------------------------------------------


@version_param
@pytest.mark.parametrize("length", [16, 40, 64])
def test_B05_basic_auth_password_is_accepted_and_never_disclosed(oem: InProcessOem, station_log: Callable[[], str],
                                                                 version: str, length: int) -> None:
    scenarios.basic_auth_password_is_accepted_and_never_disclosed(oem, station_log, version, length)


@version_param
@pytest.mark.parametrize("length", [0, 15, 65])  # A00.FR.205: 16 to maxLimit (64 here)
def test_B05_FR_08_basic_auth_password_length_out_of_range(oem: InProcessOem, station_log: Callable[[], str],
                                                           version: str, length: int) -> None:
    password = scenarios.make_password(length)
    answer = oem.call("SetVariables", {"setVariableData": [
        setting("SecurityCtrlr", "BasicAuthPassword", password)]}, version)
    [result] = answer["data"]["payload"]["setVariableResult"]
    assert_rejected(result, "ValueOutOfRange")
    if password:
        assert password not in json.dumps(answer)
        assert password not in station_log()


@version_param
def test_B05_basic_auth_password_in_a_schema_error_is_not_disclosed(oem: InProcessOem, station_log: Callable[[], str],
                                                                    version: str) -> None:
    scenarios.basic_auth_password_in_a_schema_error_is_not_disclosed(oem, station_log, version)


# -- several elements in one request ------------------------------------------------------------------


@version_param
def test_B05_duplicates_each_get_a_result_and_the_later_value_wins(oem: InProcessOem, version: str) -> None:
    results = set_many(oem, [setting("OCPPCommCtrlr", "ResetRetries", "7"),
                             setting("OCPPCommCtrlr", "ResetRetries", "8", attribute="Actual")], version)
    assert [r["attributeStatus"] for r in results] == ["Accepted", "Accepted"]
    assert read(oem, "OCPPCommCtrlr", "ResetRetries", version) == "8"


@version_param
def test_B05_duplicates_a_rejected_later_value_does_not_undo_the_earlier(oem: InProcessOem, version: str) -> None:
    results = set_many(oem, [setting("OCPPCommCtrlr", "ResetRetries", "9"),
                             setting("OCPPCommCtrlr", "ResetRetries", "nine")], version)
    assert [r["attributeStatus"] for r in results] == ["Accepted", "Rejected"]
    assert read(oem, "OCPPCommCtrlr", "ResetRetries", version) == "9"


# -- value sizes --------------------------------------------------------------------------------------


def test_B05_configuration_value_size_too_large_element(oem: InProcessOem) -> None:
    """2.1's schema lets a value be 2500 long; ConfigurationValueSize (1000 here) still applies."""
    size = int(read(oem, "DeviceDataCtrlr", "ConfigurationValueSize", "ocpp2.1"))
    before = read(oem, "SecurityCtrlr", "OrganizationName", "ocpp2.1")
    too_long = "O" * (size + 1)
    result = set_one(oem, setting("SecurityCtrlr", "OrganizationName", too_long), "ocpp2.1")
    assert_rejected(result, "TooLargeElement")
    assert read(oem, "SecurityCtrlr", "OrganizationName", "ocpp2.1") == before

    exactly = "P" * size
    assert set_one(oem, setting("SecurityCtrlr", "OrganizationName", exactly), "ocpp2.1")["attributeStatus"] == \
        "Accepted"
    assert read(oem, "SecurityCtrlr", "OrganizationName", "ocpp2.1") == exactly


@pytest.mark.parametrize(("version", "length"), [("ocpp2.0.1", 1001), ("ocpp2.1", 2501)])
def test_B05_attribute_value_longer_than_the_schema_allows(oem: InProcessOem, version: str, length: int) -> None:
    before = read(oem, "SecurityCtrlr", "OrganizationName", version)
    error = oem.error("SetVariables", {"setVariableData": [setting("SecurityCtrlr", "OrganizationName",
                                                                   "Q" * length)]}, version)
    assert error["error_code"] == "PropertyConstraintViolation"
    assert read(oem, "SecurityCtrlr", "OrganizationName", version) == before


def test_B05_attribute_value_of_2500_is_schema_valid_in_2_1(oem: InProcessOem) -> None:
    result = set_one(oem, setting("SecurityCtrlr", "OrganizationName", "R" * 2500), "ocpp2.1")
    assert_rejected(result, "TooLargeElement")  # a CallResult, refused only by ConfigurationValueSize


# -- ItemsPerMessage[SetVariables] / BytesPerMessage[SetVariables] -----------------------------------


@version_param
def test_B05_more_items_than_items_per_message_is_occurrence_violation(oem: InProcessOem, version: str) -> None:
    scenarios.more_items_than_items_per_message_is_occurrence_violation(oem, version)


@version_param
def test_B05_exactly_items_per_message_is_answered(oem: InProcessOem, version: str) -> None:
    limit = int(read(oem, "DeviceDataCtrlr", "ItemsPerMessage", version, variable_instance="SetVariables"))
    elements = [setting("OCPPCommCtrlr", f"Variable{i}", "1") for i in range(limit)]
    results = set_many(oem, elements, version)
    assert {r["attributeStatus"] for r in results} == {"UnknownVariable"}


@version_param
def test_B05_more_bytes_than_bytes_per_message_is_refused_whole(oem: InProcessOem, version: str) -> None:
    """No B05 requirement; the station mirrors B06.FR.17 (CallError FormatViolation), applying nothing."""
    scenarios.more_bytes_than_bytes_per_message_is_refused_whole(oem, version)


def test_B05_FR_08_a_stored_value_out_of_its_limits_is_ignored_at_start(
        make_station: Callable[..., Station], caplog: pytest.LogCaptureFixture) -> None:
    """What an earlier release stored unchecked (the CSMS's BootNotification interval, 10^400: issue 15)
    is not reported nor used as the variable's value: the default is, and a WARNING says why."""
    station = make_station()
    key = ("OCPPCommCtrlr", "", "", "", "HeartbeatInterval", "", "Actual")
    station.storage.save_variable_values([(key, "1" + "0" * 400)])
    station.close()
    caplog.set_level(logging.WARNING, logger="ocpp_station.station.device_model")
    reopened = make_station()
    [result] = InProcessOem(reopened).result("GetVariables", {"getVariableData": [
        {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}]})["getVariableResult"]
    assert result["attributeValue"] == "60"
    assert reopened.setting("OCPPCommCtrlr", "HeartbeatInterval", default=0) == 60
    [warning] = [r.getMessage() for r in caplog.records if "HeartbeatInterval" in r.getMessage()]
    assert "breaks its rules" in warning and "0" * 20 not in warning  # said, without the value

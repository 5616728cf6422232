"""Consistency checks for the standardized device-model data in ``station/components.json``."""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from importlib.resources import files

import pytest

from ocpp_station.station.network import BASIC_AUTH_PASSWORD_MAX, BASIC_AUTH_PASSWORD_MIN

DATA_TYPES = {"string", "decimal", "integer", "dateTime", "boolean", "OptionList", "SequenceList", "MemberList"}
LIST_TYPES = {"OptionList", "SequenceList", "MemberList"}
ATTRIBUTE_TYPES = {"Actual", "Target", "MinSet", "MaxSet"}
MUTABILITIES = {"ReadOnly", "WriteOnly", "ReadWrite"}
VERSIONS = {"2.0.1", "2.1"}
TIERS = {"ChargingStation", "EVSE", "Connector", "NetworkConfiguration"}
COMPONENT_KEYS = {"name", "tier", "variables"}
VARIABLE_KEYS_REQUIRED = {"name", "dataType", "required", "attributes"}
VARIABLE_KEYS_OPTIONAL = {
    "instance", "unit", "minLimit", "maxLimit", "valuesList", "versions", "rebootRequired", "source",
}

EXPECTED_COMPONENTS = (
    "AlignedDataCtrlr",
    "AuthCacheCtrlr",
    "AuthCtrlr",
    "ChargingStation",
    "ClockCtrlr",
    "Connector",
    "DeviceDataCtrlr",
    "EVSE",
    "OCPPCommCtrlr",
    "SampledDataCtrlr",
    "SecurityCtrlr",
    "TxCtrlr",
)

# (component, variable, instance) rows with "Required?" = yes in the OCPP 2.0.1 appendix
# dm_components_vars.csv (v1.4), restricted to the components we ship.
REQUIRED_2_0_1 = (
    ("AlignedDataCtrlr", "Interval", None),
    ("AlignedDataCtrlr", "Measurands", None),
    ("AlignedDataCtrlr", "TxEndedInterval", None),
    ("AlignedDataCtrlr", "TxEndedMeasurands", None),
    ("AuthCtrlr", "AuthorizeRemoteStart", None),
    ("AuthCtrlr", "LocalAuthorizeOffline", None),
    ("AuthCtrlr", "LocalPreAuthorize", None),
    ("ChargingStation", "AvailabilityState", None),
    ("ChargingStation", "Available", None),
    ("ChargingStation", "SupplyPhases", None),
    ("ClockCtrlr", "DateTime", None),
    ("ClockCtrlr", "TimeSource", None),
    ("Connector", "Available", None),
    ("Connector", "ConnectorType", None),
    ("Connector", "SupplyPhases", None),
    ("DeviceDataCtrlr", "BytesPerMessage", "GetReport"),
    ("DeviceDataCtrlr", "BytesPerMessage", "GetVariables"),
    ("DeviceDataCtrlr", "BytesPerMessage", "SetVariables"),
    ("DeviceDataCtrlr", "ItemsPerMessage", "GetReport"),
    ("DeviceDataCtrlr", "ItemsPerMessage", "GetVariables"),
    ("DeviceDataCtrlr", "ItemsPerMessage", "SetVariables"),
    ("EVSE", "AvailabilityState", None),
    ("EVSE", "Available", None),
    ("EVSE", "Power", None),
    ("EVSE", "SupplyPhases", None),
    ("LocalAuthListCtrlr", "BytesPerMessage", None),
    ("LocalAuthListCtrlr", "Entries", None),
    ("LocalAuthListCtrlr", "ItemsPerMessage", None),
    ("OCPPCommCtrlr", "FileTransferProtocols", None),
    ("OCPPCommCtrlr", "MessageTimeout", "Default"),
    ("OCPPCommCtrlr", "MessageAttemptInterval", "TransactionEvent"),
    ("OCPPCommCtrlr", "MessageAttempts", "TransactionEvent"),
    ("OCPPCommCtrlr", "NetworkConfigurationPriority", None),
    ("OCPPCommCtrlr", "NetworkProfileConnectionAttempts", None),
    ("OCPPCommCtrlr", "OfflineThreshold", None),
    ("OCPPCommCtrlr", "ResetRetries", None),
    ("OCPPCommCtrlr", "UnlockOnEVSideDisconnect", None),
    ("SampledDataCtrlr", "TxEndedInterval", None),
    ("SampledDataCtrlr", "TxEndedMeasurands", None),
    ("SampledDataCtrlr", "TxStartedMeasurands", None),
    ("SampledDataCtrlr", "TxUpdatedInterval", None),
    ("SampledDataCtrlr", "TxUpdatedMeasurands", None),
    ("SecurityCtrlr", "CertificateEntries", None),
    ("SecurityCtrlr", "OrganizationName", None),
    ("SecurityCtrlr", "SecurityProfile", None),
    ("SmartChargingCtrlr", "Entries", "ChargingProfiles"),
    ("SmartChargingCtrlr", "LimitChangeSignificance", None),
    ("SmartChargingCtrlr", "PeriodsPerSchedule", None),
    ("SmartChargingCtrlr", "ProfileStackLevel", None),
    ("SmartChargingCtrlr", "RateUnit", None),
    ("TxCtrlr", "EVConnectionTimeOut", None),
    ("TxCtrlr", "StopTxOnEVSideDisconnect", None),
    ("TxCtrlr", "StopTxOnInvalidId", None),
    ("TxCtrlr", "TxStartPoint", None),
    ("TxCtrlr", "TxStopPoint", None),
)

# Required by OCPP 2.0.1 Part 4 (JSON over WebSockets) §8, although the appendix CSV says "no".
REQUIRED_PART_4 = (
    ("OCPPCommCtrlr", "RetryBackOffRandomRange", None),
    ("OCPPCommCtrlr", "RetryBackOffRepeatTimes", None),
    ("OCPPCommCtrlr", "RetryBackOffWaitMinimum", None),
    ("OCPPCommCtrlr", "WebSocketPingInterval", None),
)

_INTEGER = re.compile(r"-?(0|[1-9][0-9]*)")
_DECIMAL = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]{1,6})?")
_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})")


def _load() -> dict:
    text = (files("ocpp_station.station") / "components.json").read_text(encoding="utf-8")
    return json.loads(text)


DATA = _load()
COMPONENTS = DATA["components"]
VARIABLES = [(c, v) for c in COMPONENTS for v in c["variables"]]


def _key(component: dict, variable: dict) -> tuple[str, str, str | None]:
    return component["name"], variable["name"], variable.get("instance")


def _ids() -> list[str]:
    return ["{}.{}[{}]".format(*_key(c, v)) for c, v in VARIABLES]


def _defaults(variable: dict) -> list[str]:
    return [a["value"] for a in variable["attributes"] if "value" in a]


def test_top_level_shape() -> None:
    assert set(DATA) == {"format", "components"}
    assert DATA["format"] == 1
    assert isinstance(COMPONENTS, list) and COMPONENTS


def test_components_have_valid_shape_and_tier() -> None:
    for component in COMPONENTS:
        assert set(component) == COMPONENT_KEYS, component["name"]
        assert component["tier"] in TIERS
        per_instance = ("EVSE", "Connector", "NetworkConfiguration")  # instantiated per EVSE / connector / slot
        expected_tier = component["name"] if component["name"] in per_instance else "ChargingStation"
        assert component["tier"] == expected_tier, component["name"]
        assert component["variables"], component["name"]


def test_components_and_variables_are_sorted() -> None:
    names = [c["name"] for c in COMPONENTS]
    assert names == sorted(names)
    for component in COMPONENTS:
        keys = [(v["name"], v.get("instance", "")) for v in component["variables"]]
        assert keys == sorted(keys), component["name"]


def test_expected_components_present() -> None:
    names = {c["name"] for c in COMPONENTS}
    missing = [name for name in EXPECTED_COMPONENTS if name not in names]
    assert not missing
    assert "NetworkConfiguration" in names  # 2.1, one instance per configuration slot


def test_no_duplicate_component_variable_instance() -> None:
    keys = [_key(c, v) for c, v in VARIABLES]
    duplicates = {k for k in keys if keys.count(k) > 1}
    assert not duplicates


@pytest.mark.parametrize("key", REQUIRED_2_0_1 + REQUIRED_PART_4, ids=lambda k: "{}.{}[{}]".format(*k))
def test_required_variable_present(key: tuple[str, str, str | None]) -> None:
    present = {_key(c, v): v for c, v in VARIABLES}
    assert key in present
    variable = present[key]
    assert variable["required"] is True
    assert "versions" not in variable or "2.0.1" in variable["versions"]


@pytest.mark.parametrize(("component", "variable"), VARIABLES, ids=_ids())
def test_variable_shape(component: dict, variable: dict) -> None:
    keys = set(variable)
    assert keys >= VARIABLE_KEYS_REQUIRED
    assert not keys - VARIABLE_KEYS_REQUIRED - VARIABLE_KEYS_OPTIONAL
    assert variable["dataType"] in DATA_TYPES
    assert isinstance(variable["required"], bool)
    if "instance" in variable:
        assert isinstance(variable["instance"], str) and variable["instance"]
    if "unit" in variable:
        assert isinstance(variable["unit"], str) and variable["unit"]
    for limit in ("minLimit", "maxLimit"):
        if limit in variable:
            assert isinstance(variable[limit], (int, float)) and not isinstance(variable[limit], bool)
    if "minLimit" in variable and "maxLimit" in variable:
        assert variable["minLimit"] <= variable["maxLimit"]
    if "versions" in variable:
        versions = variable["versions"]
        only_1_6 = versions == ["1.6"]  # a 1.6 configuration key's own variable (OCPP16Ctrlr), not 2.x
        assert versions and (set(versions) <= VERSIONS or only_1_6) and len(set(versions)) == len(versions)
    if "rebootRequired" in variable:
        assert variable["rebootRequired"] is True
    if "source" in variable:
        assert variable["source"] == "station"
    if variable["dataType"] in LIST_TYPES:
        values_list = variable.get("valuesList")
        assert isinstance(values_list, list) and values_list
        assert all(isinstance(entry, str) and entry and "," not in entry for entry in values_list)
        assert len(set(values_list)) == len(values_list)
    else:
        assert "valuesList" not in variable


@pytest.mark.parametrize(("component", "variable"), VARIABLES, ids=_ids())
def test_attributes(component: dict, variable: dict) -> None:
    attributes = variable["attributes"]
    assert isinstance(attributes, list) and attributes
    types = [a["type"] for a in attributes]
    assert len(set(types)) == len(types)
    for attribute in attributes:
        assert set(attribute) <= {"type", "mutability", "value"}
        assert attribute["type"] in ATTRIBUTE_TYPES
        assert attribute["mutability"] in MUTABILITIES
        if "value" in attribute:
            assert isinstance(attribute["value"], str)
        if attribute["mutability"] == "WriteOnly":
            assert "value" not in attribute


@pytest.mark.parametrize(("component", "variable"), VARIABLES, ids=_ids())
def test_default_values_valid(component: dict, variable: dict) -> None:
    data_type = variable["dataType"]
    low, high = variable.get("minLimit"), variable.get("maxLimit")
    for value in _defaults(variable):
        if data_type in ("integer", "decimal"):
            pattern = _INTEGER if data_type == "integer" else _DECIMAL
            assert pattern.fullmatch(value), value
            try:
                number = Decimal(value)
            except InvalidOperation:  # pragma: no cover - guarded by the regex above
                pytest.fail(value)
            if low is not None:
                assert number >= Decimal(str(low))
            if high is not None:
                assert number <= Decimal(str(high))
        elif data_type == "boolean":
            assert value in ("true", "false")
        elif data_type == "dateTime":
            assert _DATETIME.fullmatch(value), value
        elif data_type == "string":
            if high is not None:
                assert len(value) <= high
            if low is not None and value:
                assert len(value) >= low
        else:
            allowed = variable["valuesList"]
            if data_type == "OptionList":
                assert value in allowed
            else:
                items = value.split(",") if value else []
                assert all(item in allowed for item in items), value
                assert len(set(items)) == len(items)
                assert " " not in value
                if data_type == "SequenceList":
                    assert items
            if high is not None:
                assert len(value) <= high


def test_selected_facts() -> None:
    by_key = {_key(c, v): v for c, v in VARIABLES}
    timeout = by_key[("OCPPCommCtrlr", "MessageTimeout", "Default")]
    assert timeout["attributes"][0]["mutability"] == "ReadOnly"
    password = by_key[("SecurityCtrlr", "BasicAuthPassword", None)]
    assert password["attributes"][0]["mutability"] == "WriteOnly"
    # A00.FR.205: 16 characters at least; maxLimit between 40 and 64 — 64, the one rule of station.network
    limits = (BASIC_AUTH_PASSWORD_MIN, BASIC_AUTH_PASSWORD_MAX)
    assert (password["minLimit"], password["maxLimit"]) == limits == (16, 64)
    slot_password = next(v for c, v in VARIABLES
                         if (c["name"], v["name"]) == ("NetworkConfiguration", "BasicAuthPassword"))
    assert (slot_password["minLimit"], slot_password["maxLimit"]) == limits
    priority = by_key[("OCPPCommCtrlr", "NetworkConfigurationPriority", None)]
    assert priority["dataType"] == "SequenceList"
    assert priority.get("rebootRequired") is True
    assert by_key[("EVSE", "Power", None)]["maxLimit"] > 0
    assert by_key[("OCPPCommCtrlr", "ExternalConfigChangeDate", None)]["versions"] == ["2.1"]

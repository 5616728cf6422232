"""Consistency checks for the 1.6 configuration-key data in ``station/configuration_keys.json``.

Each 1.6 key is a view of one device-model variable (``components.json``). These tests hold the
data to what 1.6 says of each key — required or not, its accessibility, its type and unit — as our
own table below (the specification is not in the repository), and to the variable it names.
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any, NamedTuple

import pytest

from ocpp_station.config import Security

KEY_MAX = 50  # GetConfiguration.req key, KeyValue.key: CiString50Type (1.6 §7.12, §7.32)
VALUE_MAX = 500  # KeyValue.value, ChangeConfiguration.req value: CiString500Type
PROFILES = {"Core", "LocalAuthListManagement", "Reservation", "SmartCharging", "Security"}
ENTRY_KEYS = {"key", "profile", "required", "component", "variable", "instance", "readonly"}
OWN_COMPONENT = "OCPP16Ctrlr"  # the variables of keys that 2.x has no variable for; 1.6 only

# The 2.x data types that can carry a value of each 1.6 type (1.6 §9: integer, boolean, CSL, string).
CARRIERS = {
    "integer": {"integer"},
    "boolean": {"boolean"},
    "CSL": {"MemberList", "SequenceList"},
    "string": {"string", "passwordString", "identifierString"},
}
# 1.6 unit → the 2.x unit of the variable; "times" and no unit are unitless.
UNITS = {"seconds": "s", "Wh": "Wh", "times": None, None: None}


class Spec(NamedTuple):
    """What 1.6 says of a key (our summary), and the variable we judged to hold the same fact."""

    profile: str
    required: bool
    access: str  # "R", "RW", "W"; "R|RW" where 1.6 leaves the choice to the Charge Point
    type: str
    unit: str | None
    target: tuple[str, str, str | None]  # component, variable, variable instance


# 1.6 edition 2 §9.1 (Core profile) in its order, then the security whitepaper edition 3 §7.
# Core keys left out: BlinkRepeat, LightIntensity, MinimumStatusDuration (optional, no 2.x
# counterpart in components.json, nothing the station does), SupportedFeatureProfilesMaxLength
# (optional; its list is read-only, so nobody needs to know how long it may be).
SPEC: dict[str, Spec] = {
    "AllowOfflineTxForUnknownId": Spec("Core", False, "RW", "boolean", None,
                                       ("AuthCtrlr", "OfflineTxForUnknownIdEnabled", None)),
    "AuthorizationCacheEnabled": Spec("Core", False, "RW", "boolean", None, ("AuthCacheCtrlr", "Enabled", None)),
    "AuthorizeRemoteTxRequests": Spec("Core", True, "R|RW", "boolean", None,
                                      ("AuthCtrlr", "AuthorizeRemoteStart", None)),
    "ClockAlignedDataInterval": Spec("Core", True, "RW", "integer", "seconds", ("AlignedDataCtrlr", "Interval", None)),
    "ConnectionTimeOut": Spec("Core", True, "RW", "integer", "seconds", ("TxCtrlr", "EVConnectionTimeOut", None)),
    "ConnectorPhaseRotation": Spec("Core", True, "RW", "CSL", None, (OWN_COMPONENT, "ConnectorPhaseRotation", None)),
    "ConnectorPhaseRotationMaxLength": Spec("Core", False, "R", "integer", None,
                                            (OWN_COMPONENT, "ConnectorPhaseRotationMaxLength", None)),
    "GetConfigurationMaxKeys": Spec("Core", True, "R", "integer", None,
                                    ("DeviceDataCtrlr", "ItemsPerMessage", "GetVariables")),
    "HeartbeatInterval": Spec("Core", True, "RW", "integer", "seconds", ("OCPPCommCtrlr", "HeartbeatInterval", None)),
    "LocalAuthorizeOffline": Spec("Core", True, "RW", "boolean", None, ("AuthCtrlr", "LocalAuthorizeOffline", None)),
    "LocalPreAuthorize": Spec("Core", True, "RW", "boolean", None, ("AuthCtrlr", "LocalPreAuthorize", None)),
    "MaxEnergyOnInvalidId": Spec("Core", False, "RW", "integer", "Wh", ("TxCtrlr", "MaxEnergyOnInvalidId", None)),
    "MeterValuesAlignedData": Spec("Core", True, "RW", "CSL", None, ("AlignedDataCtrlr", "Measurands", None)),
    "MeterValuesAlignedDataMaxLength": Spec("Core", False, "R", "integer", None,
                                            (OWN_COMPONENT, "MeterValuesAlignedDataMaxLength", None)),
    "MeterValuesSampledData": Spec("Core", True, "RW", "CSL", None, ("SampledDataCtrlr", "TxUpdatedMeasurands", None)),
    "MeterValuesSampledDataMaxLength": Spec("Core", False, "R", "integer", None,
                                            (OWN_COMPONENT, "MeterValuesSampledDataMaxLength", None)),
    "MeterValueSampleInterval": Spec("Core", True, "RW", "integer", "seconds",
                                     ("SampledDataCtrlr", "TxUpdatedInterval", None)),
    "NumberOfConnectors": Spec("Core", True, "R", "integer", None, (OWN_COMPONENT, "NumberOfConnectors", None)),
    "ResetRetries": Spec("Core", True, "RW", "integer", "times", ("OCPPCommCtrlr", "ResetRetries", None)),
    "StopTransactionOnEVSideDisconnect": Spec("Core", True, "RW", "boolean", None,
                                              ("TxCtrlr", "StopTxOnEVSideDisconnect", None)),
    "StopTransactionOnInvalidId": Spec("Core", True, "RW", "boolean", None, ("TxCtrlr", "StopTxOnInvalidId", None)),
    "StopTxnAlignedData": Spec("Core", True, "RW", "CSL", None, ("AlignedDataCtrlr", "TxEndedMeasurands", None)),
    "StopTxnAlignedDataMaxLength": Spec("Core", False, "R", "integer", None,
                                        (OWN_COMPONENT, "StopTxnAlignedDataMaxLength", None)),
    "StopTxnSampledData": Spec("Core", True, "RW", "CSL", None, ("SampledDataCtrlr", "TxEndedMeasurands", None)),
    "StopTxnSampledDataMaxLength": Spec("Core", False, "R", "integer", None,
                                        (OWN_COMPONENT, "StopTxnSampledDataMaxLength", None)),
    "SupportedFeatureProfiles": Spec("Core", True, "R", "CSL", None, (OWN_COMPONENT, "SupportedFeatureProfiles", None)),
    "TransactionMessageAttempts": Spec("Core", True, "RW", "integer", "times",
                                       ("OCPPCommCtrlr", "MessageAttempts", "TransactionEvent")),
    "TransactionMessageRetryInterval": Spec("Core", True, "RW", "integer", "seconds",
                                            ("OCPPCommCtrlr", "MessageAttemptInterval", "TransactionEvent")),
    "UnlockConnectorOnEVSideDisconnect": Spec("Core", True, "RW", "boolean", None,
                                              ("OCPPCommCtrlr", "UnlockOnEVSideDisconnect", None)),
    "WebSocketPingInterval": Spec("Core", False, "RW", "integer", "seconds",
                                  ("OCPPCommCtrlr", "WebSocketPingInterval", None)),
    # Whitepaper §7.1 and §7.2: "optional", yet required unless only profile 1 (resp. only profile 3)
    # is implemented; the station implements profiles 1 to 3, so both are required of it.
    "AdditionalRootCertificateCheck": Spec("Security", True, "R", "boolean", None,
                                           ("SecurityCtrlr", "AdditionalRootCertificateCheck", None)),
    "AuthorizationKey": Spec("Security", True, "W", "string", None, ("SecurityCtrlr", "BasicAuthPassword", None)),
    "CertificateSignedMaxChainSize": Spec("Security", False, "R", "integer", None,
                                          ("SecurityCtrlr", "MaxCertificateChainSize", None)),
    "CertificateStoreMaxLength": Spec("Security", False, "R", "integer", None,
                                      (OWN_COMPONENT, "CertificateStoreMaxLength", None)),
    "CpoName": Spec("Security", False, "RW", "string", None, ("SecurityCtrlr", "OrganizationName", None)),
    "SecurityProfile": Spec("Security", False, "RW", "integer", None, ("SecurityCtrlr", "SecurityProfile", None)),
}

# Every key §9.1 marks "required" (1.6 edition 2): a 1.6 Charge Point must know each of them.
REQUIRED_CORE = (
    "AuthorizeRemoteTxRequests", "ClockAlignedDataInterval", "ConnectionTimeOut", "ConnectorPhaseRotation",
    "GetConfigurationMaxKeys", "HeartbeatInterval", "LocalAuthorizeOffline", "LocalPreAuthorize",
    "MeterValuesAlignedData", "MeterValuesSampledData", "MeterValueSampleInterval", "NumberOfConnectors",
    "ResetRetries", "StopTransactionOnEVSideDisconnect", "StopTransactionOnInvalidId", "StopTxnAlignedData",
    "StopTxnSampledData", "SupportedFeatureProfiles", "TransactionMessageAttempts",
    "TransactionMessageRetryInterval", "UnlockConnectorOnEVSideDisconnect",
)
# The security whitepaper edition 3 §7.1–§7.6, in its order.
SECURITY_KEYS = (
    "AdditionalRootCertificateCheck", "AuthorizationKey", "CertificateSignedMaxChainSize",
    "CertificateStoreMaxLength", "CpoName", "SecurityProfile",
)
# A CSL key and the key giving how many items it may hold (1.6 §5.3 / §9.1: [KeyName]MaxLength).
MAX_LENGTHS = {
    "MeterValuesAlignedData": "MeterValuesAlignedDataMaxLength",
    "MeterValuesSampledData": "MeterValuesSampledDataMaxLength",
    "StopTxnAlignedData": "StopTxnAlignedDataMaxLength",
    "StopTxnSampledData": "StopTxnSampledDataMaxLength",
}
# Computed by the station when read (live), so the data gives them no value.
LIVE = {"NumberOfConnectors", "ConnectorPhaseRotationMaxLength"}


def _load(name: str) -> dict[str, Any]:
    return json.loads((files("ocpp_station.station") / name).read_text(encoding="utf-8"))


DATA = _load("configuration_keys.json")
KEYS: list[dict[str, Any]] = DATA["keys"]
BY_KEY = {entry["key"]: entry for entry in KEYS}
COMPONENTS = _load("components.json")["components"]
VARIABLES = {(c["name"], v["name"], v.get("instance")): v for c in COMPONENTS for v in c["variables"]}


def _target(entry: dict[str, Any]) -> tuple[str, str, str | None]:
    return entry["component"], entry["variable"], entry.get("instance")


def _variable(entry: dict[str, Any]) -> dict[str, Any]:
    return VARIABLES[_target(entry)]


def _actual(variable: dict[str, Any]) -> dict[str, Any]:
    [actual] = [a for a in variable["attributes"] if a["type"] == "Actual"]
    return actual


def _derived_readonly(entry: dict[str, Any]) -> bool:
    """What the code makes of the variable's mutability when the data has no override."""
    return _actual(_variable(entry))["mutability"] == "ReadOnly"


def _readonly(entry: dict[str, Any]) -> bool:
    return entry.get("readonly", _derived_readonly(entry))


def test_file_shape() -> None:
    assert set(DATA) == {"format", "keys"}
    assert DATA["format"] == 1
    assert isinstance(KEYS, list) and KEYS
    for entry in KEYS:
        assert set(entry) <= ENTRY_KEYS and {"key", "profile", "required", "component", "variable"} <= set(entry)
        assert entry["profile"] in PROFILES, entry["key"]
        assert isinstance(entry["required"], bool), entry["key"]
        assert "readonly" not in entry or isinstance(entry["readonly"], bool), entry["key"]
        assert "instance" not in entry or (isinstance(entry["instance"], str) and entry["instance"]), entry["key"]


def test_keys_unique_case_insensitively_and_fit_cistring50() -> None:
    folded = [entry["key"].casefold() for entry in KEYS]
    assert len(set(folded)) == len(folded)
    assert all(0 < len(entry["key"]) <= KEY_MAX and entry["key"].isascii() for entry in KEYS)


@pytest.mark.parametrize("entry", KEYS, ids=lambda e: e["key"])
def test_the_variable_exists(entry: dict[str, Any]) -> None:
    assert _target(entry) in VARIABLES
    assert any(a["type"] == "Actual" for a in _variable(entry)["attributes"])


def test_the_keys_are_those_we_chose() -> None:
    """A key added or dropped must be judged against 1.6 (and entered in SPEC) first."""
    assert list(BY_KEY) == list(SPEC)


def test_every_required_core_key_and_every_security_key_is_there() -> None:
    assert not [key for key in REQUIRED_CORE + SECURITY_KEYS if key not in BY_KEY]
    assert [key for key, spec in SPEC.items() if spec.profile == "Core" and spec.required] == list(REQUIRED_CORE)


def test_order_core_then_security() -> None:
    """GetConfiguration lists the keys in this order: §9.1's, then the whitepaper's §7."""
    profiles = [entry["profile"] for entry in KEYS]
    assert profiles == sorted(profiles, key=["Core", "Security"].index)
    assert [entry["key"] for entry in KEYS if entry["profile"] == "Security"] == list(SECURITY_KEYS)


@pytest.mark.parametrize("key", list(SPEC))
def test_as_1_6_defines_the_key(key: str) -> None:
    entry, spec = BY_KEY[key], SPEC[key]
    assert (entry["profile"], entry["required"]) == (spec.profile, spec.required)
    assert _target(entry) == spec.target


@pytest.mark.parametrize("key", list(SPEC))
def test_readonly_as_1_6_defines_it(key: str) -> None:
    entry, access = BY_KEY[key], SPEC[key].access
    mutability = _actual(_variable(entry))["mutability"]
    if access == "W":  # write-only: never read back (whitepaper §7.2), so the variable must hide it too
        assert mutability == "WriteOnly" and _readonly(entry) is False
    else:
        assert mutability != "WriteOnly"  # a readable key: GetConfiguration shows its value
        if access != "R|RW":  # either will do where 1.6 leaves it to the Charge Point
            assert _readonly(entry) is (access == "R")
        if access == "RW" and "readonly" not in entry:
            assert mutability == "ReadWrite"
    if "readonly" in entry:  # an override only where 1.6 and 2.x differ
        assert entry["readonly"] is not _derived_readonly(entry)


def test_the_overrides() -> None:
    """SecurityProfile: read-write in 1.6 (A05 via ChangeConfiguration), read-only in 2.x (SetNetworkProfile)."""
    assert {entry["key"]: entry["readonly"] for entry in KEYS if "readonly" in entry} == {"SecurityProfile": False}


@pytest.mark.parametrize("key", list(SPEC))
def test_the_variable_can_carry_the_1_6_value(key: str) -> None:
    spec, variable = SPEC[key], _variable(BY_KEY[key])
    assert variable["dataType"] in CARRIERS[spec.type]
    if spec.type in ("integer", "boolean"):
        assert variable.get("unit") == UNITS[spec.unit]
    value = _actual(variable).get("value")
    assert value is None or len(value) <= VALUE_MAX


@pytest.mark.parametrize("key", list(SPEC))
def test_the_variable_exists_in_the_versions_it_should(key: str) -> None:
    """A key of its own exists in 1.6 only; one mapped onto 2.x shares the variable with 2.0.1."""
    entry, variable = BY_KEY[key], _variable(BY_KEY[key])
    if entry["component"] == OWN_COMPONENT:
        assert entry["variable"] == key  # named exactly as the 1.6 key
        assert variable["versions"] == ["1.6"]
    else:
        assert "2.0.1" in variable.get("versions", ["2.0.1", "2.1"])


def test_own_component_is_1_6_only_and_every_variable_of_it_is_a_key() -> None:
    own = {(c, v, i): var for (c, v, i), var in VARIABLES.items() if c == OWN_COMPONENT}
    assert own
    assert all(variable.get("versions") == ["1.6"] for variable in own.values())
    assert set(own) == {_target(entry) for entry in KEYS if entry["component"] == OWN_COMPONENT}
    others = [key for key, variable in VARIABLES.items() if key[0] != OWN_COMPONENT]
    assert not [key for key in others if "1.6" in VARIABLES[key].get("versions", [])]


@pytest.mark.parametrize(("listed", "max_length"), MAX_LENGTHS.items())
def test_max_length_is_the_number_of_items_the_list_can_hold(listed: str, max_length: str) -> None:
    """A MemberList holds each entry of its valuesList at most once: that many items, no more."""
    values_list = _variable(BY_KEY[listed])["valuesList"]
    assert _actual(_variable(BY_KEY[max_length]))["value"] == str(len(values_list))


def test_own_defaults() -> None:
    own = {key: _actual(_variable(BY_KEY[key])) for key in SPEC if SPEC[key].target[0] == OWN_COMPONENT}
    assert own["SupportedFeatureProfiles"]["value"] == "Core,RemoteTrigger"
    assert own["CertificateStoreMaxLength"]["value"] == str(Security().certificate_entries_max)
    assert all("value" not in own[key] for key in LIVE)
    assert all("value" in attribute for key, attribute in own.items() if key not in LIVE)


def test_no_key_of_a_profile_the_station_does_not_implement() -> None:
    supported = set(_actual(VARIABLES[(OWN_COMPONENT, "SupportedFeatureProfiles", None)])["value"].split(","))
    assert {entry["profile"] for entry in KEYS} <= supported | {"Security"}


def test_connector_phase_rotation_values() -> None:
    """1.6 §9.1.7: '<connector>.<rotation>' per connector, 0 the grid connection."""
    rotations = {"NotApplicable", "Unknown", "RST", "RTS", "SRT", "STR", "TRS", "TSR"}
    variable = _variable(BY_KEY["ConnectorPhaseRotation"])
    for entry in variable["valuesList"]:
        connector, _, rotation = entry.partition(".")
        assert connector.isdigit() and rotation in rotations, entry
    assert {f"1.{rotation}" for rotation in rotations} <= set(variable["valuesList"])

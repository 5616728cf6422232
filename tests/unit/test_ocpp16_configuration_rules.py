"""OCPP 1.6 rules in process: configuration keys, the A05 upgrade, TriggerMessage, DataTransfer, Reset, event names.

Every request goes through :meth:`Station.handle` with the envelope bytes the MQTT door hands over
(:class:`tests.support.InProcessOem`), and every answer is checked against the official 1.6 response
schema (:func:`tests.support.check_response`). What a trigger promises is read back from the outbox,
each row checked against the official 1.6 *request* schema with the pure-Python ``jsonschema``
(``official_validator(V16, action, "")``: 1.6 names a request's schema ``Action.json``).

The expectations come from the specifications, not from the station's tables: the read-only keys are
those §9 of 1.6 and §7 of the security whitepaper mark "R"; the security event names those of the
whitepaper's §8; the boot fields those of 1.6 §6.3 for the station's ``[station]`` identity.
Sections are those of OCPP 1.6 edition 2; A05.FR.xx and A02.FR.xx are the whitepaper's (edition 3).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from ocpp_station.app import Station
from ocpp_station.config import Config, ConnectorConfig, EvseConfig, Limits, Network
from ocpp_station.errors import OcppError
from ocpp_station.rpc.envelope import Request
from ocpp_station.station import configuration_keys
from ocpp_station.station.configuration_keys import ConfigurationKey, ConfigurationKeys, ConfigurationStatus
from ocpp_station.station.datatypes import DataType
from ocpp_station.station.device_model import AttributeType, Mutability, VariableDefinition
from ocpp_station.station.outbox import Door, Outgoing

from ..certificate_cases import ec_key, key_pem, make_cert, pem, root
from ..support import InProcessOem, official_validator, response_validator

V16, V201, V21 = "ocpp1.6", "ocpp2.0.1", "ocpp2.1"
CATALOGUE = {key.key: key for key in configuration_keys.catalogue()}
# 1.6 §9 and whitepaper §7: the keys marked "R" (AuthorizeRemoteTxRequests is "R or RW": ours is RW).
READ_ONLY_16 = frozenset({
    "ConnectorPhaseRotationMaxLength", "GetConfigurationMaxKeys", "MeterValuesAlignedDataMaxLength",
    "MeterValuesSampledDataMaxLength", "NumberOfConnectors", "StopTxnAlignedDataMaxLength",
    "StopTxnSampledDataMaxLength", "SupportedFeatureProfiles", "AdditionalRootCertificateCheck",
    "CertificateSignedMaxChainSize", "CertificateStoreMaxLength"})
READ_WRITE_16 = [key for key in CATALOGUE if key not in READ_ONLY_16]
# SecurityProfile is read-write in 1.6 only through the A05 upgrade (test_a05_*); in 2.x it is read-only.
SHARED_READ_WRITE = [key for key in READ_WRITE_16 if key != "SecurityProfile"]
# The 2.x variable holding each key's fact, as ocpp-notes §6.4 reads the definitions (the catalogue
# must agree: these are written from the notes, not from configuration_keys.json). The keys not listed exist in
# 1.6 only (the station's OCPP16Ctrlr).
_WHERE: dict[str, tuple[str, str] | tuple[str, str, str]] = {
    "AllowOfflineTxForUnknownId": ("AuthCtrlr", "OfflineTxForUnknownIdEnabled"),
    "AuthorizationCacheEnabled": ("AuthCacheCtrlr", "Enabled"),
    "AuthorizeRemoteTxRequests": ("AuthCtrlr", "AuthorizeRemoteStart"),
    "ClockAlignedDataInterval": ("AlignedDataCtrlr", "Interval"),
    "ConnectionTimeOut": ("TxCtrlr", "EVConnectionTimeOut"),
    "GetConfigurationMaxKeys": ("DeviceDataCtrlr", "ItemsPerMessage", "GetVariables"),
    "HeartbeatInterval": ("OCPPCommCtrlr", "HeartbeatInterval"),
    "LocalAuthorizeOffline": ("AuthCtrlr", "LocalAuthorizeOffline"),
    "LocalPreAuthorize": ("AuthCtrlr", "LocalPreAuthorize"),
    "MaxEnergyOnInvalidId": ("TxCtrlr", "MaxEnergyOnInvalidId"),
    "MeterValuesAlignedData": ("AlignedDataCtrlr", "Measurands"),
    "MeterValuesSampledData": ("SampledDataCtrlr", "TxUpdatedMeasurands"),
    "MeterValueSampleInterval": ("SampledDataCtrlr", "TxUpdatedInterval"),
    "ResetRetries": ("OCPPCommCtrlr", "ResetRetries"),
    "StopTransactionOnEVSideDisconnect": ("TxCtrlr", "StopTxOnEVSideDisconnect"),
    "StopTransactionOnInvalidId": ("TxCtrlr", "StopTxOnInvalidId"),
    "StopTxnAlignedData": ("AlignedDataCtrlr", "TxEndedMeasurands"),
    "StopTxnSampledData": ("SampledDataCtrlr", "TxEndedMeasurands"),
    "TransactionMessageAttempts": ("OCPPCommCtrlr", "MessageAttempts", "TransactionEvent"),
    "TransactionMessageRetryInterval": ("OCPPCommCtrlr", "MessageAttemptInterval", "TransactionEvent"),
    "UnlockConnectorOnEVSideDisconnect": ("OCPPCommCtrlr", "UnlockOnEVSideDisconnect"),
    "WebSocketPingInterval": ("OCPPCommCtrlr", "WebSocketPingInterval"),
    "AdditionalRootCertificateCheck": ("SecurityCtrlr", "AdditionalRootCertificateCheck"),
    "AuthorizationKey": ("SecurityCtrlr", "BasicAuthPassword"),
    "CertificateSignedMaxChainSize": ("SecurityCtrlr", "MaxCertificateChainSize"),
    "CpoName": ("SecurityCtrlr", "OrganizationName"),
    "SecurityProfile": ("SecurityCtrlr", "SecurityProfile"),
}
MAPPED_2X = {key: ConfigurationKey(key, where[0], where[1], where[2] if len(where) == 3 else None)
             for key, where in _WHERE.items()}
PASSWORD = "a-valid-Pa55word-0001"  # whitepaper §7.2: at least 16 characters
CPO = "Example CPO"
THREE_CONNECTORS = (EvseConfig(id=1, connectors=(ConnectorConfig(1),)),  # 1.6 connectors 1, 2, 3
                    EvseConfig(id=2, connectors=(ConnectorConfig(1), ConnectorConfig(2))))
# 1.6 §6.3 BootNotification.req for the default [station] identity (config.StationIdentity).
BOOT_16 = {"chargePointVendor": "ocpp-station", "chargePointModel": "AC22-1",
           "chargePointSerialNumber": "0000000001", "firmwareVersion": "0.1.0"}
CSMS_URL = "ws://csms.example.com:9000/ocpp/v16"


# -- helpers ---------------------------------------------------------------------------------------------------


class Rig(InProcessOem):
    """A station of the test's own, spoken to in 1.6 (and 2.x where a test crosses versions)."""

    station: Station

    def __init__(self, station: Station):
        super().__init__(station)
        self.reconnects: list[str | None] = []  # every request_reconnect (A05.FR.06, A01, Reset)
        station.on_reconnect(self.reconnects.append)

    def configuration(self, keys: list[str] | None = None) -> dict[str, Any]:
        return self.result("GetConfiguration", {} if keys is None else {"key": keys}, V16)

    def entry(self, key: str) -> dict[str, Any]:
        """The one KeyValue GetConfiguration gives for ``key``."""
        answer = self.configuration([key])
        assert "unknownKey" not in answer, answer
        [found] = answer["configurationKey"]
        return found

    def change(self, key: str, value: str) -> str:
        return self.result("ChangeConfiguration", {"key": key, "value": value}, V16)["status"]

    def get_2x(self, key: ConfigurationKey, version: str) -> dict[str, Any]:
        """GetVariables of the variable ``key`` maps onto: the one GetVariableResult."""
        [found] = self.result("GetVariables", {"getVariableData": [_data(key)]}, version)["getVariableResult"]
        return found

    def set_2x(self, key: ConfigurationKey, value: str, version: str = V201) -> dict[str, Any]:
        [found] = self.result("SetVariables", {"setVariableData": [{**_data(key), "attributeValue": value}]},
                              version)["setVariableResult"]
        return found

    def variable(self, component: str, variable: str, version: str = V201) -> str:
        """The Actual value a 2.x GetVariables reads (Accepted)."""
        found = self.get_2x(ConfigurationKey("", component, variable), version)
        assert found["attributeStatus"] == "Accepted", found
        return found["attributeValue"]

    def network_configuration(self, slot: int, variable: str) -> str:
        """NetworkConfiguration[slot].<variable> as 2.1 GetVariables reads it."""
        [found] = self.result("GetVariables", {"getVariableData": [
            {"component": {"name": "NetworkConfiguration", "instance": str(slot)}, "variable": {"name": variable}}]},
            V21)["getVariableResult"]
        assert found["attributeStatus"] == "Accepted", found
        return found["attributeValue"]

    def install_root(self, cert: x509.Certificate) -> None:
        answer = self.result("InstallCertificate", {"certificateType": "CentralSystemRootCertificate",
                                                    "certificate": pem(cert)}, V16)
        assert answer == {"status": "Accepted"}, answer

    def trigger(self, what: str, *, extended: bool = False, connector: int | None = None) -> str:
        payload: dict[str, Any] = {"requestedMessage": what}
        if connector is not None:
            payload["connectorId"] = connector
        return self.result("ExtendedTriggerMessage" if extended else "TriggerMessage", payload, V16)["status"]

    def rows(self, door: Door = "mqtt") -> list[Outgoing]:
        """What waits in ``door``'s outbox, each row a valid 1.6 request."""
        rows = self.station.outbox.first(door, 50)
        for row in rows:
            assert row.ocpp_version == V16, row
            official_validator(V16, row.action, "").validate(row.payload)
        return rows

    def upgrade_state(self) -> tuple[Any, ...]:
        """What a refused SecurityProfile change must leave as it was (A05.FR.01–04)."""
        return (self.entry("SecurityProfile"), self.station.priority(), self.station.network.public_profiles(),
                len(self.reconnects))


def _data(key: ConfigurationKey) -> dict[str, Any]:
    variable: dict[str, Any] = {"name": key.variable}
    if key.instance is not None:
        variable["instance"] = key.instance
    return {"component": {"name": key.component}, "variable": variable}


@pytest.fixture
def make_rig(make_station: Callable[..., Station]) -> Callable[..., Rig]:
    def make(config: Config | None = None, name: str | None = None) -> Rig:
        return Rig(make_station(config or Config(), name=name or f"data-{uuid.uuid4().hex[:8]}"))

    return make


@pytest.fixture
def rig(make_rig: Callable[..., Rig]) -> Rig:
    return make_rig()


def _definition(station: Station, key: ConfigurationKey) -> VariableDefinition:
    found = station.model.find_internal(key.component, key.variable, key.instance)
    assert found is not None, key
    return found


def _two_values(definition: VariableDefinition, current: str | None) -> tuple[str, str]:
    """Two valid values of ``definition``'s type and limits: the first differs from ``current``, the second
    from the first (so that a write that did not happen is seen)."""
    spec = definition.characteristics
    low = int(spec.min_limit) if spec.min_limit is not None else 0
    match spec.data_type:
        case DataType.BOOLEAN:
            first = "false" if current == "true" else "true"
            return first, "true" if first == "false" else "false"
        case DataType.INTEGER | DataType.DECIMAL:
            number = low + 7 if str(low + 7) != current else low + 8
            assert spec.max_limit is None or number + 1 <= spec.max_limit, definition
            return str(number), str(number + 1)
        case DataType.STRING:
            size = max(int(spec.min_limit or 0), 20)
            assert spec.max_limit is None or size <= spec.max_limit, definition
            return ("first-" + "1" * size)[:size], ("second-" + "2" * size)[:size]
        case DataType.DATETIME:
            return "2030-01-02T03:04:05Z", "2031-01-02T03:04:05Z"
        case DataType.OPTION_LIST | DataType.MEMBER_LIST | DataType.SEQUENCE_LIST:
            options = [option for option in spec.values_list if option != current]
            if spec.data_type is DataType.OPTION_LIST:
                return options[0], options[1]
            return options[0], f"{options[1]},{options[0]}"
    raise AssertionError(f"no values for {spec.data_type}")


# -- 5.8 GetConfiguration -----------------------------------------------------------------------------------


@pytest.mark.parametrize("payload", [{}, {"key": []}], ids=["no-key", "empty-list"])
def test_5_8_no_key_or_an_empty_list_lists_every_key_in_catalogue_order(rig: Rig, payload: dict[str, Any]) -> None:
    answer = rig.result("GetConfiguration", payload, V16)
    assert "unknownKey" not in answer
    assert [entry["key"] for entry in answer["configurationKey"]] == list(CATALOGUE)


def test_9_and_whitepaper_7_readonly_is_what_the_specifications_mark_R(rig: Rig) -> None:
    """§9/§7 say which keys are read-only; the station computes it from the variable (its Actual
    mutability, or the key's own override: SecurityProfile is RW in 1.6, read-only in 2.x)."""
    listed = {entry["key"]: entry["readonly"] for entry in rig.configuration()["configurationKey"]}
    assert {key for key, readonly in listed.items() if readonly} == READ_ONLY_16
    for key, readonly in listed.items():
        entry, definition = CATALOGUE[key], _definition(rig.station, CATALOGUE[key])
        computed = entry.readonly if entry.readonly is not None else \
            definition.attributes[AttributeType.ACTUAL].mutability is Mutability.READ_ONLY
        assert readonly is computed, key


def test_5_8_unknown_keys_are_given_back_as_sent_and_known_ones_in_the_station_s_spelling(rig: Rig) -> None:
    answer = rig.configuration(["heartBEATinterval", "NoSuchKey", "cpoNAME", "AnotherUnknown"])
    assert [entry["key"] for entry in answer["configurationKey"]] == ["HeartbeatInterval", "CpoName"]
    assert answer["unknownKey"] == ["NoSuchKey", "AnotherUnknown"]
    [heartbeat, _] = answer["configurationKey"]
    assert heartbeat == {"key": "HeartbeatInterval", "readonly": False,
                         "value": rig.variable("OCPPCommCtrlr", "HeartbeatInterval")}


def test_5_8_a_key_asked_twice_is_listed_once(rig: Rig) -> None:
    answer = rig.configuration(["HeartbeatInterval", "HEARTBEATINTERVAL", "NoSuchKey", "NoSuchKey"])
    assert [entry["key"] for entry in answer["configurationKey"]] == ["HeartbeatInterval"]
    assert answer["unknownKey"] == ["NoSuchKey"]


def test_whitepaper_7_2_authorization_key_is_never_revealed(rig: Rig) -> None:
    assert rig.change("AuthorizationKey", PASSWORD) == "Accepted"
    assert rig.entry("AuthorizationKey") == {"key": "AuthorizationKey", "readonly": False}
    everything = rig.call("GetConfiguration", {}, V16)
    [listed] = [e for e in everything["data"]["payload"]["configurationKey"] if e["key"] == "AuthorizationKey"]
    assert "value" not in listed
    assert PASSWORD not in str(everything)


def test_7_29_a_value_longer_than_500_characters_is_cut_to_500(rig: Rig) -> None:
    """KeyValue.value is CiString500. CpoName is SecurityCtrlr.OrganizationName, a string without a
    maxLimit: 2.0.1 SetVariables may give it 600 characters (ConfigurationValueSize is 1000)."""
    long = "".join(chr(ord("a") + i % 26) for i in range(600))
    assert rig.set_2x(MAPPED_2X["CpoName"], long)["attributeStatus"] == "Accepted"
    assert rig.variable("SecurityCtrlr", "OrganizationName") == long  # 2.x still reads it whole
    assert rig.entry("CpoName")["value"] == long[:500]


def test_9_1_9_more_keys_than_get_configuration_max_keys_is_occurence_constraint_violation(
        make_rig: Callable[..., Rig]) -> None:
    small = make_rig(Config(limits=Limits(items_per_message_get_variables=3)))
    assert small.entry("GetConfigurationMaxKeys")["value"] == "3"
    assert len(small.configuration(["HeartbeatInterval", "CpoName", "NoSuchKey"])["configurationKey"]) == 2
    error = small.error("GetConfiguration", {"key": ["HeartbeatInterval", "CpoName", "NoSuchKey", "Other"]}, V16)
    assert error["error_code"] == "OccurenceConstraintViolation", error  # OCPP-J 1.6's spelling
    assert len(small.configuration()["configurationKey"]) == len(CATALOGUE)  # "all keys" is no list of keys


def test_9_1_21_number_of_connectors_counts_every_connector_of_every_evse(make_rig: Callable[..., Rig]) -> None:
    assert make_rig(Config(evses=THREE_CONNECTORS)).entry("NumberOfConnectors") == {
        "key": "NumberOfConnectors", "readonly": True, "value": "3"}


# -- 5.3 ChangeConfiguration --------------------------------------------------------------------------------


def test_5_3_accepted_is_durable_a_new_station_on_the_same_data_reads_it(make_rig: Callable[..., Rig]) -> None:
    first = make_rig(name="durable")
    before = first.entry("HeartbeatInterval")["value"]
    assert first.change("heartbeatINTERVAL", "77") == "Accepted" and before != "77"  # keys are CiString50
    first.station.close()
    again = make_rig(name="durable")
    assert again.entry("HeartbeatInterval")["value"] == "77"
    assert again.variable("OCPPCommCtrlr", "HeartbeatInterval") == "77"


def test_5_3_an_unknown_key_is_not_supported(rig: Rig) -> None:
    assert rig.change("NoSuchKey", "1") == "NotSupported"
    assert rig.configuration(["NoSuchKey"]) == {"configurationKey": [], "unknownKey": ["NoSuchKey"]}


@pytest.mark.parametrize("key", ["NumberOfConnectors", "SupportedFeatureProfiles", "GetConfigurationMaxKeys"])
def test_5_3_a_read_only_key_is_rejected_and_keeps_its_value(rig: Rig, key: str) -> None:
    before = rig.entry(key)
    value = "Core" if key == "SupportedFeatureProfiles" else "5"
    assert value != before["value"]
    assert rig.change(key, value) == "Rejected"
    assert rig.entry(key) == before


@pytest.mark.parametrize(("key", "value"), [
    ("HeartbeatInterval", "abc"),  # not an integer
    ("HeartbeatInterval", "1.5"),
    ("HeartbeatInterval", "0"),  # below its minLimit (1)
    ("ConnectionTimeOut", "-1"),  # below its minLimit (0)
    ("LocalPreAuthorize", "yes"),  # not a boolean
    ("MeterValuesSampledData", "Energy.Active.Import.Register,Bogus"),  # not a measurand
    ("AuthorizationKey", "x" * 15),  # whitepaper §7.2: at least 16 characters
    ("AuthorizationKey", "x" * 65),  # SecurityCtrlr.BasicAuthPassword: at most 64
], ids=["int-abc", "int-1.5", "below-min-limit-1", "below-min-limit-0", "bool-yes", "member-bogus",
        "authorization-key-15", "authorization-key-65"])
def test_5_3_a_bad_value_is_rejected_and_the_stored_value_is_unchanged(rig: Rig, key: str, value: str) -> None:
    entry = CATALOGUE[key]
    definition = _definition(rig.station, entry)
    before = rig.station.model.current_value(definition)  # AuthorizationKey is write-only: read it inside
    assert rig.change(key, value) == "Rejected"
    assert rig.station.model.current_value(definition) == before
    assert rig.entry(key) == {"key": key, "readonly": False, **({} if before is None else {"value": before})}


def test_whitepaper_7_2_an_authorization_key_of_16_characters_is_accepted(rig: Rig) -> None:
    definition = _definition(rig.station, CATALOGUE["AuthorizationKey"])
    assert rig.change("AuthorizationKey", "k" * 16) == "Accepted"
    assert rig.station.model.current_value(definition) == "k" * 16
    assert rig.reconnects == [None]  # A01: the link connects again with the new password (profile 1)


def test_5_3_no_key_of_the_catalogue_maps_onto_a_variable_that_needs_a_reboot(rig: Rig) -> None:
    """What RebootRequired would be for: components.json marks only NetworkConfigurationPriority
    rebootRequired, and no 1.6 key maps onto it. If one ever does, its change must say RebootRequired:
    the next test shows the mapping does."""
    rebooting = [key for key, entry in CATALOGUE.items() if _definition(rig.station, entry).reboot_required]
    assert rebooting == []


def test_5_3_a_key_on_a_variable_that_needs_a_reboot_answers_reboot_required(rig: Rig) -> None:
    keys = ConfigurationKeys(rig.station.model, keys=[
        ConfigurationKey("Priority", "OCPPCommCtrlr", "NetworkConfigurationPriority")])
    with rig.station.storage.unit_of_work():
        change = keys.change("priority", "1")
    assert change.status is ConfigurationStatus.REBOOT_REQUIRED, change
    with rig.station.storage.unit_of_work():
        assert keys.change("Priority", "9").status is ConfigurationStatus.REJECTED  # no slot 9


# -- cross-version: one value, whichever version reads or writes it --------------------------------------------


def test_6_4_each_key_maps_onto_the_2x_variable_of_its_fact() -> None:
    for key, entry in CATALOGUE.items():
        where = (entry.component, entry.variable, entry.instance)
        if key in MAPPED_2X:
            assert where == (MAPPED_2X[key].component, MAPPED_2X[key].variable, MAPPED_2X[key].instance), key
        else:
            assert entry.component == "OCPP16Ctrlr", key  # 2.x has no variable for it


@pytest.mark.parametrize("key", SHARED_READ_WRITE)
def test_6_4_a_read_write_key_is_the_2x_variable_both_ways(rig: Rig, key: str) -> None:
    """Set in 1.6 → read by 2.0.1 and 2.1 GetVariables; set by 2.0.1 SetVariables → read by 1.6
    GetConfiguration. A key 2.x has no variable for is one of the 1.6-only OCPP16Ctrlr (UnknownComponent
    in 2.x); the write-only AuthorizationKey is read back inside the station (B06.FR.09: never through 2.x)."""
    definition = _definition(rig.station, CATALOGUE[key])
    first, second = _two_values(definition, rig.station.model.current_value(definition))
    assert rig.change(key, first) == "Accepted", (key, first)
    if key not in MAPPED_2X:
        assert (CATALOGUE[key].component, definition.versions) == ("OCPP16Ctrlr", frozenset({"1.6"}))
        for version in (V201, V21):
            assert rig.get_2x(CATALOGUE[key], version)["attributeStatus"] == "UnknownComponent"
        assert rig.set_2x(CATALOGUE[key], second)["attributeStatus"] == "UnknownComponent"
        assert rig.entry(key)["value"] == first
        return
    variable = MAPPED_2X[key]
    write_only = definition.attributes[AttributeType.ACTUAL].mutability is Mutability.WRITE_ONLY
    for version in (V201, V21):
        found = rig.get_2x(variable, version)
        if write_only:
            assert found["attributeStatus"] == "Rejected" and "attributeValue" not in found, found
        else:
            assert (found["attributeStatus"], found.get("attributeValue")) == ("Accepted", first), found
    assert rig.set_2x(variable, second)["attributeStatus"] == "Accepted"
    if write_only:
        assert "value" not in rig.entry(key)
        assert rig.station.model.current_value(definition) == second
    else:
        assert rig.entry(key)["value"] == second


@pytest.mark.parametrize("key", sorted(READ_ONLY_16 & MAPPED_2X.keys()))
def test_6_4_a_read_only_key_shows_its_2x_variable(rig: Rig, key: str) -> None:
    found = rig.get_2x(MAPPED_2X[key], V201)
    assert found["attributeStatus"] == "Accepted", found
    assert rig.entry(key) == {"key": key, "readonly": True, "value": found["attributeValue"]}


def test_6_4_security_profile_is_read_write_in_1_6_and_read_only_in_2x(rig: Rig) -> None:
    """The same fact, SecurityCtrlr.SecurityProfile: 2.x changes it with SetNetworkProfile, never SetVariables."""
    entry = MAPPED_2X["SecurityProfile"]
    assert rig.entry("SecurityProfile") == {"key": "SecurityProfile", "readonly": False, "value": "1"}
    for version in (V201, V21):
        assert rig.get_2x(entry, version)["attributeValue"] == "1"
        assert rig.set_2x(entry, "2", version)["attributeStatus"] == "Rejected"
    assert rig.entry("SecurityProfile")["value"] == "1"


# -- A05 (whitepaper): ChangeConfiguration SecurityProfile ----------------------------------------------------


def _short_lived_root(days: int) -> x509.Certificate:
    now = datetime.now(UTC)
    return root("A05 CSMS root", not_before=now - timedelta(days=1), not_after=now + timedelta(days=days))


def _later(rig: Rig, monkeypatch: pytest.MonkeyPatch, days: int) -> None:
    """The certificate store's clock ``days`` ahead: what was valid may have expired."""
    moment = datetime.now(UTC) + timedelta(days=days)
    monkeypatch.setattr(rig.station.certificates, "_clock", lambda: moment)


@pytest.fixture
def upgradable(make_rig: Callable[..., Rig]) -> Rig:
    """Security profile 1 on slot 1 (ws://, a host name, a port, a path) and every slot free."""
    return make_rig(Config(network=Network(csms_url=CSMS_URL)))


@pytest.mark.parametrize("value", ["0", "1", "2"])
def test_a05_fr_01_a_value_not_above_the_current_one_is_rejected_and_nothing_changes(
        make_rig: Callable[..., Rig], value: str) -> None:
    at_2 = make_rig(Config(network=Network(csms_url="wss://csms.example.com/ocpp", security_profile=2)))
    at_2.install_root(root("A05 CSMS root"))
    assert at_2.change("AuthorizationKey", PASSWORD) == "Accepted"  # every other prerequisite is met
    assert at_2.entry("SecurityProfile")["value"] == "2"
    before = at_2.upgrade_state()
    assert at_2.change("SecurityProfile", value) == "Rejected"
    assert at_2.upgrade_state() == before  # the value, the priority, the profiles; no reconnection


def test_a05_fr_02_profile_2_without_an_authorization_key_is_rejected(upgradable: Rig) -> None:
    upgradable.install_root(root("A05 CSMS root"))
    assert upgradable.change("AuthorizationKey", "too-short") == "Rejected"  # none that meets §7.2
    before = upgradable.upgrade_state()
    assert upgradable.change("SecurityProfile", "2") == "Rejected"
    assert upgradable.upgrade_state() == before
    assert upgradable.change("AuthorizationKey", PASSWORD) == "Accepted"
    assert upgradable.change("SecurityProfile", "2") == "Accepted"  # that was the missing prerequisite


@pytest.mark.parametrize("value", ["2", "3"])
def test_a05_fr_03_without_a_central_system_root_is_rejected(upgradable: Rig, value: str) -> None:
    assert upgradable.change("AuthorizationKey", PASSWORD) == "Accepted"
    before = upgradable.upgrade_state()
    assert upgradable.change("SecurityProfile", value) == "Rejected"
    assert upgradable.upgrade_state() == before


def test_a05_fr_03_an_expired_central_system_root_is_no_valid_root(
        upgradable: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    assert upgradable.change("AuthorizationKey", PASSWORD) == "Accepted"
    upgradable.install_root(_short_lived_root(days=10))  # valid when installed
    _later(upgradable, monkeypatch, days=20)
    assert upgradable.result("GetInstalledCertificateIds", {"certificateType": "CentralSystemRootCertificate"},
                             V16)["status"] == "Accepted"  # still installed
    before = upgradable.upgrade_state()
    assert upgradable.change("SecurityProfile", "2") == "Rejected"
    assert upgradable.upgrade_state() == before
    monkeypatch.undo()  # the same root, valid again: the expiry was the reason
    assert upgradable.change("SecurityProfile", "2") == "Accepted"


def _import_own_certificate(rig: Rig, issuer: x509.Certificate, issuer_key: Any, days: int = 365) -> None:
    """A ChargePointCertificate with its key, issued by the CSMS root (the admin import, not OCPP)."""
    key = ec_key()
    now = datetime.now(UTC)
    leaf = make_cert(key, "CS0000000001", issuer=issuer, issuer_key=issuer_key, ca=False,
                     not_before=now - timedelta(days=1), not_after=now + timedelta(days=days))
    with rig.station.storage.unit_of_work():
        rig.station.certificates.import_own("ChargingStationCertificate", pem(leaf).encode(), key_pem(key).encode())


def test_a05_fr_04_profile_3_without_a_valid_charge_point_certificate_is_rejected(
        upgradable: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    root_key = ec_key()
    csms_root = root("A05 CSMS root", root_key)
    upgradable.install_root(csms_root)
    before = upgradable.upgrade_state()
    assert upgradable.change("SecurityProfile", "3") == "Rejected"  # no own certificate at all
    assert upgradable.upgrade_state() == before
    _import_own_certificate(upgradable, csms_root, root_key, days=5)
    _later(upgradable, monkeypatch, days=6)  # the root still valid, the own certificate expired
    assert upgradable.change("SecurityProfile", "3") == "Rejected"
    assert upgradable.upgrade_state() == before
    monkeypatch.undo()
    assert upgradable.change("SecurityProfile", "3") == "Accepted"  # valid again: the only missing prerequisite
    [new, _] = upgradable.station.priority()
    profile = upgradable.station.network.profile(new)
    assert profile is not None and profile.security_profile == 3 and str(profile.url).startswith("wss://")


def test_a05_fr_05_prerequisites_met_is_accepted_a_new_slot_first_the_old_one_second(upgradable: Rig) -> None:
    station = upgradable.station
    assert upgradable.change("AuthorizationKey", PASSWORD) == "Accepted"
    upgradable.install_root(root("A05 CSMS root"))
    old_slot, old_profile = station.network.active_slot(), station.network.profile(station.network.active_slot())
    assert old_profile is not None and old_profile.url == CSMS_URL
    logged, reconnects = len(station.events.entries()), len(upgradable.reconnects)

    assert upgradable.change("SecurityProfile", "2") == "Accepted"

    new_slot, *rest = [int(slot) for slot in upgradable.variable("OCPPCommCtrlr", "NetworkConfigurationPriority",
                                                                 V201).split(",")]
    assert rest == [old_slot] and new_slot != old_slot  # A05.FR.08: the old profile is the fallback
    assert upgradable.variable("OCPPCommCtrlr", "NetworkConfigurationPriority", V21) == f"{new_slot},{old_slot}"
    profile = station.network.profile(new_slot)
    assert profile is not None and profile.security_profile == 2
    new_url, old_url = urlsplit(str(profile.url)), urlsplit(CSMS_URL)
    assert new_url.scheme == "wss"
    assert (new_url.hostname, new_url.port, new_url.path) == (old_url.hostname, old_url.port, old_url.path)
    assert station.network.profile(old_slot) == old_profile  # the fallback is untouched
    assert upgradable.network_configuration(new_slot, "SecurityProfile") == "2"  # 2.1: the slot's view
    assert upgradable.network_configuration(new_slot, "OcppCsmsUrl") == str(profile.url)
    entries = station.events.entries()
    assert len(entries) == logged + 1 and entries[-1].type == "ReconfigurationOfSecurityParameters"
    assert len(upgradable.reconnects) == reconnects + 1  # A05.FR.06: the link connects again


def test_a05_fr_07_connected_at_the_new_profile_every_version_reads_it(upgradable: Rig) -> None:
    """After the reconnection (the link's record_connected) 1.6 and 2.x read the new profile, and the
    profile below it is gone (2.x A05.FR.06)."""
    station = upgradable.station
    assert upgradable.change("AuthorizationKey", PASSWORD) == "Accepted"
    upgradable.install_root(root("A05 CSMS root"))
    assert upgradable.change("SecurityProfile", "2") == "Accepted"
    [new_slot, _] = station.priority()
    station.record_connected(station.connection_target(new_slot), V16)
    assert upgradable.entry("SecurityProfile") == {"key": "SecurityProfile", "readonly": False, "value": "2"}
    assert upgradable.variable("SecurityCtrlr", "SecurityProfile", V201) == "2"
    assert upgradable.variable("SecurityCtrlr", "SecurityProfile", V21) == "2"
    assert station.priority() == [new_slot]
    assert upgradable.change("SecurityProfile", "2") == "Rejected"  # A05.FR.01 from the new level


def test_a05_no_free_configuration_slot_is_rejected(make_rig: Callable[..., Rig]) -> None:
    full = make_rig(Config(network=Network(csms_url=CSMS_URL, slots=(1, 2))))
    assert full.change("AuthorizationKey", PASSWORD) == "Accepted"
    full.install_root(root("A05 CSMS root"))
    answer = full.result("SetNetworkProfile", {"configurationSlot": 2, "connectionData": {
        "ocppVersion": "OCPP20", "ocppTransport": "JSON", "ocppCsmsUrl": "ws://other.example.com/ocpp",
        "messageTimeout": 30, "securityProfile": 1, "ocppInterface": "Wired0"}}, V201)
    assert answer["status"] == "Accepted", answer
    [priority] = full.result("SetVariables", {"setVariableData": [
        {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "NetworkConfigurationPriority"},
         "attributeValue": "1,2"}]}, V201)["setVariableResult"]
    assert priority["attributeStatus"] == "RebootRequired", priority
    before = full.upgrade_state()
    assert full.change("SecurityProfile", "2") == "Rejected"
    assert full.upgrade_state() == before


# -- 5.17 TriggerMessage and the whitepaper's ExtendedTriggerMessage -----------------------------------------


def _enum(action: str) -> list[str]:
    schema = official_validator(V16, action, "").schema
    found = schema["properties"]["requestedMessage"]
    if "$ref" in found:
        found = schema["definitions"][found["$ref"].rsplit("/", 1)[1]]
    return list(found["enum"])


_STATUS = "StatusNotification"  # its rows are checked apart: connectors and a timestamp
TRIGGERED = {  # requestedMessage → (status, [(action, payload)]) on a default station (CpoName empty)
    "TriggerMessage": {
        "BootNotification": ("Accepted", [("BootNotification", BOOT_16)]),
        "DiagnosticsStatusNotification": ("Accepted", [("DiagnosticsStatusNotification", {"status": "Idle"})]),
        "FirmwareStatusNotification": ("Accepted", [("FirmwareStatusNotification", {"status": "Idle"})]),
        "Heartbeat": ("Accepted", [("Heartbeat", {})]),
        "MeterValues": ("NotImplemented", []),  # no meter
        _STATUS: ("Accepted", [_STATUS]),
    },
    "ExtendedTriggerMessage": {
        "BootNotification": ("Accepted", [("BootNotification", BOOT_16)]),
        "LogStatusNotification": ("Accepted", [("LogStatusNotification", {"status": "Idle"})]),  # N01.FR.12
        "FirmwareStatusNotification": ("Accepted", [("SignedFirmwareStatusNotification", {"status": "Idle"})]),
        "Heartbeat": ("Accepted", [("Heartbeat", {})]),
        "MeterValues": ("NotImplemented", []),
        "SignChargePointCertificate": ("Rejected", []),  # CpoName is empty (A02's prerequisite)
        _STATUS: ("Accepted", [_STATUS]),
    },
}


@pytest.mark.parametrize("action", list(TRIGGERED))
def test_5_17_every_requested_message_of_the_schema_has_an_expectation(action: str) -> None:
    assert sorted(TRIGGERED[action]) == sorted(_enum(action))


@pytest.mark.parametrize(("action", "what"), [(action, what) for action, table in TRIGGERED.items()
                                              for what in table])
def test_5_17_every_requested_message_is_answered_and_queued_as_1_6_writes_it(
        rig: Rig, action: str, what: str) -> None:
    status, expected = TRIGGERED[action][what]
    before = datetime.now(UTC).replace(microsecond=0)
    assert rig.trigger(what, extended=action == "ExtendedTriggerMessage") == status
    rows = rig.rows()
    assert all(row.triggered for row in rows)
    if expected == [_STATUS]:
        assert [(row.action, row.payload["connectorId"]) for row in rows] == [(_STATUS, 0), (_STATUS, 1)]
        for row in rows:
            assert (row.payload["errorCode"], row.payload["status"]) == ("NoError", "Available")
            stamp = datetime.fromisoformat(row.payload["timestamp"].replace("Z", "+00:00"))
            assert before <= stamp <= datetime.now(UTC) + timedelta(seconds=1)  # current information
    else:
        assert [(row.action, row.payload) for row in rows] == expected
    assert rig.station.outbox.first("csms", 50) == []  # the door that asked, only


def test_5_17_a_boot_notification_is_triggered_also_once_accepted(rig: Rig) -> None:
    """1.6 has no F06.FR.17: the station sends it whatever the CSMS answered last."""
    rig.station.record_registration("Accepted")
    for extended in (False, True):
        assert rig.trigger("BootNotification", extended=extended) == "Accepted"
    assert [(row.action, row.payload) for row in rig.rows()] == [("BootNotification", BOOT_16)] * 2


@pytest.fixture
def three(make_rig: Callable[..., Rig]) -> Rig:
    return make_rig(Config(evses=THREE_CONNECTORS))


@pytest.mark.parametrize("extended", [False, True], ids=["TriggerMessage", "ExtendedTriggerMessage"])
@pytest.mark.parametrize(("connector", "expected"), [(None, [0, 1, 2, 3]), (0, [0]), (1, [1]), (3, [3])],
                         ids=["absent-is-all", "0-is-the-charge-point", "1", "N"])
def test_5_17_status_notification_connector_id(three: Rig, extended: bool, connector: int | None,
                                               expected: list[int]) -> None:
    assert three.trigger(_STATUS, extended=extended, connector=connector) == "Accepted"
    assert [row.payload["connectorId"] for row in three.rows()] == expected


@pytest.mark.parametrize("extended", [False, True], ids=["TriggerMessage", "ExtendedTriggerMessage"])
@pytest.mark.parametrize("connector", [4, -1], ids=["N+1", "negative"])
def test_5_17_status_notification_for_a_connector_the_station_lacks_is_rejected(
        three: Rig, extended: bool, connector: int) -> None:
    assert three.trigger(_STATUS, extended=extended, connector=connector) == "Rejected"
    assert three.rows() == []


def test_5_17_a_connector_id_not_relevant_to_the_message_is_ignored(three: Rig) -> None:
    assert three.trigger("Heartbeat", connector=9) == "Accepted"
    assert [(row.action, row.payload) for row in three.rows()] == [("Heartbeat", {})]


def test_5_17_a_trigger_from_the_csms_queues_for_the_csms(three: Rig) -> None:
    outcome = three.station.run(Request(str(uuid.uuid4()), V16, "TriggerMessage",
                                        {"requestedMessage": _STATUS}, origin="csms"))
    assert not isinstance(outcome, OcppError), outcome
    response_validator(V16, "TriggerMessage").validate(outcome)
    assert outcome == {"status": "Accepted"}
    assert [row.payload["connectorId"] for row in three.rows("csms")] == [0, 1, 2, 3]
    assert three.rows("mqtt") == []


def test_a02_sign_charge_point_certificate_needs_a_cpo_name_then_sends_a_csr_only(rig: Rig) -> None:
    assert rig.trigger("SignChargePointCertificate", extended=True) == "Rejected"
    assert rig.rows() == []
    assert rig.change("CpoName", CPO) == "Accepted"
    assert rig.trigger("SignChargePointCertificate", extended=True) == "Accepted"
    [row] = rig.rows()
    assert row.action == "SignCertificate" and set(row.payload) == {"csr"}  # 1.6: no certificateType
    request = x509.load_pem_x509_csr(row.payload["csr"].encode())  # A02.FR.03: PEM
    assert request.is_signature_valid
    [organization] = request.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    assert organization.value == CPO  # A02.FR.13


# -- 5.6 DataTransfer, 5.14 Reset ---------------------------------------------------------------------------


@pytest.mark.parametrize("version", [V16, V201, V21])
@pytest.mark.parametrize("payload", [{"vendorId": "com.example"},
                                     {"vendorId": "com.example", "messageId": "Hello", "data": "anything"}],
                         ids=["vendor-only", "with-message-and-data"])
def test_5_6_data_transfer_is_unknown_vendor_id_in_every_version(rig: Rig, version: str,
                                                                 payload: dict[str, Any]) -> None:
    assert rig.result("DataTransfer", payload, version) == {"status": "UnknownVendorId"}


@pytest.mark.parametrize("kind", ["Soft", "Hard"])
def test_5_14_reset_soft_and_hard_are_accepted_and_reconnect(rig: Rig, kind: str) -> None:
    assert rig.result("Reset", {"type": kind}, V16) == {"status": "Accepted"}
    assert rig.reconnects == ["RemoteReset"]
    assert rig.station.events.entries()[-1].type == "ResetOrReboot"


# -- whitepaper §8: security event names in 1.6 -------------------------------------------------------------

# The catalogue's (2.x) name → the whitepaper's, where they differ; the others keep their name.
EVENT_NAMES_16 = {"InvalidCsmsCertificate": "InvalidCentralSystemCertificate",
                  "InvalidChargingStationCertificate": "InvalidChargePointCertificate",
                  "FailedToAuthenticationAtCsms": "FailedToAuthenticationAtCentralSystem",
                  "CsmsFailedToAuthentication": "CentralSystemFailedToAuthentication",
                  "StartupOfTheDevice": "StartupOfTheDevice"}


def _on_1_6(station: Station) -> None:
    station.connections.record_connected(station.network.active_slot(), V16)  # the link agreed on ocpp1.6
    assert station.ocpp_version() == V16


@pytest.mark.parametrize(("kind", "name"), list(EVENT_NAMES_16.items()))
def test_whitepaper_8_a_1_6_notification_uses_the_1_6_name_the_log_the_catalogue_s(
        rig: Rig, kind: str, name: str) -> None:
    _on_1_6(rig.station)
    rig.station.record_security_event(kind, "a test event")
    for door in ("mqtt", "csms"):
        [row] = rig.rows(door)
        assert (row.action, row.payload["type"], row.payload["techInfo"]) == (
            "SecurityEventNotification", name, "a test event")
        rig.station.delivered(row.seq)
    assert rig.station.events.entries()[-1].type == kind


def test_whitepaper_8_a_2x_link_keeps_the_catalogue_name(rig: Rig) -> None:
    rig.station.connections.record_connected(rig.station.network.active_slot(), V201)
    rig.station.record_security_event("InvalidCsmsCertificate", "a test event")
    [row] = rig.station.outbox.first("csms", 50)
    assert (row.ocpp_version, row.payload["type"]) == (V201, "InvalidCsmsCertificate")


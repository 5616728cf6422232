"""A04 security events and A01 a new BasicAuthPassword, in process (station/security_events.py).

Each event is a row of the rolling security log (A04.FR.04) and a SecurityEventNotification row in the
outbox of each door (A04.FR.01/02: the CSMS's only while the link is enabled, the OEM's always), not
asked for (``triggered`` False: a CSMS gets them once it accepted the station). Requests go through the
real dispatcher (:class:`tests.support.InProcessOem`, every answer checked); every notification is
checked against the official SecurityEventNotificationRequest schema of its version with the pure-Python
``jsonschema`` (:func:`tests.support.request_validator`), independently of the station's validators.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from ocpp_station.app import Station
from ocpp_station.config import Config, Csms, Security
from ocpp_station.station.outbox import DOORS, Door, Outgoing
from ocpp_station.station.security_events import CRITICAL, REPEATABLE, TECH_INFO_MAX, spelled_for

from .. import certificate_cases as certs
from ..network_cases import profile
from ..support import InProcessOem, envelope, request_validator, variable_data

V201, V21 = "ocpp2.0.1", "ocpp2.1"
ACTION = "SecurityEventNotification"
PASSWORD = "A01-new-Password-never-logged-9c2e"
RECONFIGURATION = "ReconfigurationOfSecurityParameters"


class Rig(InProcessOem):
    station: Station

    def notifications(self, door: Door) -> list[Outgoing]:
        """The SecurityEventNotification rows waiting for ``door``, each checked against the official schema."""
        rows = [row for row in self.station.outgoing(door, 100_000) if row.action == ACTION]
        for row in rows:
            request_validator(row.ocpp_version, ACTION).validate(row.payload)
            assert not row.triggered  # the station's own accord (B02.FR.02: only once Accepted)
        return rows

    def types(self, door: Door) -> list[str]:
        return [row.payload["type"] for row in self.notifications(door)]

    def logged(self) -> list[tuple[str, str]]:
        return [(entry.type, entry.tech_info) for entry in self.station.events.entries()]

    def record(self, kind: str, tech_info: str = "") -> None:
        self.station.record_security_event(kind, tech_info)

    def deliver(self, row: Outgoing) -> None:
        self.station.delivered(row.seq)


@pytest.fixture
def make_rig(make_station: Callable[..., Station]) -> Callable[..., Rig]:
    def make(config: Config | None = None) -> Rig:
        return Rig(make_station(config or Config(), name=f"data-{uuid.uuid4().hex[:8]}"))

    return make


@pytest.fixture
def rig(make_rig: Callable[..., Rig]) -> Rig:
    return make_rig()


# -- A04.FR.04: the rolling log ---------------------------------------------------------------------------------


def test_A04_FR_04_the_security_log_keeps_the_last_security_log_max_entries(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(Config(security=Security(security_log_max=3)))
    for number in range(5):
        rig.record("StartupOfTheDevice", f"start {number}")
    entries = rig.station.events.entries()
    assert [e.tech_info for e in entries] == ["start 2", "start 3", "start 4"]  # the oldest went
    assert [e.id for e in entries] == sorted(e.id for e in entries)  # oldest first
    assert all(e.type == "StartupOfTheDevice" and e.critical for e in entries)
    assert [e.tech_info for e in rig.station.events.entries(2)] == ["start 3", "start 4"]
    rows = rig.station.storage.connection.execute("SELECT count(*) FROM security_log").fetchone()[0]
    assert rows == 3
    for door in DOORS:  # the notifications are another matter: all five wait (A04.FR.02)
        assert rig.types(door) == ["StartupOfTheDevice"] * 5


def test_A04_FR_04_every_entry_has_a_utc_timestamp_and_says_whether_it_is_critical(rig: Rig) -> None:
    rig.record("InvalidMessages", "not OCPP-J")
    rig.record("ResetOrReboot", "Reset")
    [invalid, reset] = rig.station.events.entries()
    assert (invalid.critical, reset.critical) == (False, True)
    assert invalid.at.endswith("Z") and "T" in invalid.at
    [row, _] = rig.notifications("mqtt")
    assert row.payload == {"type": "InvalidMessages", "timestamp": invalid.at, "techInfo": "not OCPP-J"}


# -- A04.FR.01/02: every event goes to both doors -----------------------------------------------------------------


@pytest.mark.parametrize("version", [V201, V21])
def test_A04_FR_01_02_every_event_of_the_catalogue_is_queued_to_both_doors_and_valid(
        rig: Rig, version: str) -> None:
    rig.station.connections.record_connected(rig.station.network.active_slot(), version)  # the version agreed on
    assert rig.station.ocpp_version() == version
    for kind in CRITICAL:
        rig.record(kind, f"{kind} detected")
    for door in DOORS:
        rows = rig.notifications(door)
        assert [row.payload["type"] for row in rows] == list(CRITICAL)
        assert {row.ocpp_version for row in rows} == {version}
        assert [row.payload["techInfo"] for row in rows] == [f"{kind} detected" for kind in CRITICAL]
    assert [kind for kind, _ in rig.logged()] == list(CRITICAL)


def test_A04_FR_02_no_notification_for_the_csms_while_the_link_is_disabled(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(Config(csms=Csms(enabled=False)))
    rig.record("StartupOfTheDevice", "started")
    assert rig.types("mqtt") == ["StartupOfTheDevice"]
    assert rig.station.outgoing("csms", 10) == []
    assert rig.logged() == [("StartupOfTheDevice", "started")]


def test_A04_an_event_without_tech_info_has_none_in_its_notification(rig: Rig) -> None:
    rig.record("StartupOfTheDevice")
    [row] = rig.notifications("csms")
    assert set(row.payload) == {"type", "timestamp"}


# -- the bounds: repeatable types, event_queue_max ------------------------------------------------------------------


def test_A04_a_repeatable_event_is_queued_once_while_one_of_its_type_waits_and_again_once_delivered(
        rig: Rig) -> None:
    assert "InvalidMessages" in REPEATABLE
    rig.record("InvalidMessages", "first")
    rig.record("InvalidMessages", "second")
    assert [info for _, info in rig.logged()] == ["first", "second"]  # every occurrence is logged
    for door in DOORS:
        [row] = rig.notifications(door)
        assert row.payload["techInfo"] == "first"
    rig.record("InvalidCsmsCertificate", "another repeatable type")  # per type
    assert rig.types("mqtt") == ["InvalidMessages", "InvalidCsmsCertificate"]

    rig.deliver(rig.notifications("mqtt")[0])  # the OEM has the first one now
    rig.record("InvalidMessages", "third")
    assert [row.payload.get("techInfo") for row in rig.notifications("mqtt")] == [
        "another repeatable type", "third"]
    assert [row.payload.get("techInfo") for row in rig.notifications("csms")] == [
        "first", "another repeatable type"]  # still waiting for the CSMS: not queued again there


def test_A04_an_event_that_is_not_repeatable_is_queued_every_time(rig: Rig) -> None:
    rig.record("ResetOrReboot", "1")
    rig.record("ResetOrReboot", "2")
    for door in DOORS:
        assert [row.payload["techInfo"] for row in rig.notifications(door)] == ["1", "2"]


def test_A04_FR_02_at_most_event_queue_max_notifications_wait_per_door(
        make_rig: Callable[..., Rig], caplog: pytest.LogCaptureFixture) -> None:
    rig = make_rig(Config(security=Security(event_queue_max=2)))
    rig.record("StartupOfTheDevice", "1")
    rig.record("ResetOrReboot", "2")
    with caplog.at_level(logging.WARNING, logger="ocpp_station.station.security_events"):
        rig.record("ResetOrReboot", "3")
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2  # one per door
    assert all("only in the security log" in r.getMessage() for r in warnings)
    assert {"CSMS" in r.getMessage() for r in warnings} == {True, False}
    for door in DOORS:
        assert [row.payload["techInfo"] for row in rig.notifications(door)] == ["1", "2"]
    assert [info for _, info in rig.logged()] == ["1", "2", "3"]  # logged all the same

    rig.deliver(rig.notifications("mqtt")[0])  # room again for the OEM
    rig.record("ResetOrReboot", "4")
    assert [row.payload["techInfo"] for row in rig.notifications("mqtt")] == ["2", "4"]
    assert [row.payload["techInfo"] for row in rig.notifications("csms")] == ["1", "2"]


def test_A04_notify_non_critical_events_false_logs_them_only(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(Config(security=Security(notify_non_critical_events=False)))
    assert rig.result("Reset", {"type": "Immediate"}) == {"status": "Accepted"}  # ResetOrReboot: critical
    assert rig.result("SetNetworkProfile", {"configurationSlot": 2, "connectionData": _sp1_profile()},
                      V201) == {"status": "Accepted"}  # ReconfigurationOfSecurityParameters: not critical
    rig.record("InvalidMessages", "not critical either")
    assert [kind for kind, _ in rig.logged()] == ["ResetOrReboot", RECONFIGURATION, "InvalidMessages"]
    for door in DOORS:
        assert rig.types(door) == ["ResetOrReboot"]  # the critical one still waits; the others did not join it
    rig.record("InvalidCsmsCertificate", "critical")
    assert rig.types("csms") == ["ResetOrReboot", "InvalidCsmsCertificate"]


def test_A04_tech_info_is_cut_to_255_characters(rig: Rig) -> None:
    info = "é" + "x" * 999
    rig.record("InvalidMessages", info)
    [(_, logged)] = rig.logged()
    assert logged == info[:TECH_INFO_MAX] and TECH_INFO_MAX == 255
    for door in DOORS:
        [row] = rig.notifications(door)  # the schema's string[255] holds
        assert row.payload["techInfo"] == info[:255]


def test_an_unknown_event_kind_is_a_bug_raising_value_error_and_nothing_is_kept(rig: Rig) -> None:
    with pytest.raises(ValueError, match="NoSuchEvent"):
        rig.record("NoSuchEvent", "x")
    with pytest.raises(ValueError):
        rig.station.events.record("invalidmessages")  # the catalogue's spelling only
    assert rig.logged() == []
    assert rig.station.outgoing("mqtt", 10) == [] and rig.station.outgoing("csms", 10) == []


# -- A01.FR.11/12: a new BasicAuthPassword ------------------------------------------------------------------------


def _set_password(rig: Rig, password: str, version: str) -> dict[str, Any]:
    [result] = rig.result("SetVariables", {"setVariableData": [
        variable_data("SecurityCtrlr", "BasicAuthPassword") | {"attributeValue": password}]},
        version)["setVariableResult"]
    return result


@pytest.mark.parametrize("version", [V201, V21])
def test_A01_FR_11_12_a_new_password_is_a_security_event_that_never_holds_the_password(
        rig: Rig, version: str, station_log: Callable[[], str]) -> None:
    reconnects: list[str | None] = []
    rig.station.on_reconnect(reconnects.append)
    assert _set_password(rig, PASSWORD, version)["attributeStatus"] == "Accepted"
    [(kind, info)] = rig.logged()
    assert kind == RECONFIGURATION and "BasicAuthPassword" in info  # A01.FR.11
    assert PASSWORD not in info  # A01.FR.12
    for door in DOORS:
        [row] = rig.notifications(door)
        assert row.payload["type"] == RECONFIGURATION
        assert PASSWORD not in json.dumps(row.payload)
    dump = "\n".join(map(str, rig.station.storage.connection.execute("SELECT * FROM security_log")))
    assert PASSWORD not in dump
    assert PASSWORD not in station_log()
    assert reconnects == [None]  # A01: at security profile 1 the link connects again with it, after the commit


def test_A01_a_refused_password_is_no_security_event(rig: Rig) -> None:
    assert _set_password(rig, "too-short", V201)["attributeStatus"] == "Rejected"
    assert rig.logged() == [] and rig.notifications("mqtt") == []


# -- which requests are events: Accepted yes, refused no ------------------------------------------------------------


def _sp1_profile() -> dict[str, Any]:
    return profile(ocppCsmsUrl="ws://other.example.com/ocpp", securityProfile=1)


def _install_accepted(rig: Rig) -> dict[str, Any]:
    return certs.install(rig, certs.root("Events Root"))


def _install_rejected(rig: Rig) -> dict[str, Any]:
    return certs.install(rig, certs.not_self_signed())


def _delete_accepted(rig: Rig) -> dict[str, Any]:
    cert = certs.root("Deleted Root")
    assert certs.install(rig, cert)["status"] == "Accepted"
    rig.station.storage.connection.execute("DELETE FROM security_log")
    for row in rig.station.outgoing("mqtt", 10) + rig.station.outgoing("csms", 10):
        rig.station.delivered(row.seq)
    return certs.delete(rig, certs.hash_data(cert))


def _delete_not_found(rig: Rig) -> dict[str, Any]:
    return certs.delete(rig, certs.hash_data(certs.root("Never Installed")))


def _profile_accepted(rig: Rig) -> dict[str, Any]:
    return rig.result("SetNetworkProfile", {"configurationSlot": 2, "connectionData": _sp1_profile()})


def _profile_rejected(rig: Rig) -> dict[str, Any]:
    return rig.result("SetNetworkProfile", {"configurationSlot": 999, "connectionData": _sp1_profile()})


def _priority_accepted(rig: Rig) -> dict[str, Any]:
    [result] = rig.result("SetVariables", {"setVariableData": [
        variable_data("OCPPCommCtrlr", "NetworkConfigurationPriority") | {"attributeValue": "1"}]})[
        "setVariableResult"]
    assert result["attributeStatus"] == "RebootRequired", result  # B10: set, in use after a reconnection
    return {"status": "Accepted"}


def _priority_rejected(rig: Rig) -> dict[str, Any]:
    [result] = rig.result("SetVariables", {"setVariableData": [
        variable_data("OCPPCommCtrlr", "NetworkConfigurationPriority") | {"attributeValue": "3"}]})[
        "setVariableResult"]  # slot 3 holds no profile
    return {"status": result["attributeStatus"]}


@pytest.mark.parametrize(("request_", "accepted", "info"), [
    pytest.param(_install_accepted, True, "CSMSRootCertificate installed", id="InstallCertificate-Accepted"),
    pytest.param(_install_rejected, False, "", id="InstallCertificate-Rejected"),
    pytest.param(_delete_accepted, True, "certificate deleted", id="DeleteCertificate-Accepted"),
    pytest.param(_delete_not_found, False, "", id="DeleteCertificate-NotFound"),
    pytest.param(_profile_accepted, True, "slot 2", id="SetNetworkProfile-Accepted"),
    pytest.param(_profile_rejected, False, "", id="SetNetworkProfile-Rejected"),
    pytest.param(_priority_accepted, True, "NetworkConfigurationPriority", id="NetworkConfigurationPriority-Accepted"),
    pytest.param(_priority_rejected, False, "", id="NetworkConfigurationPriority-Rejected"),
])
def test_A04_an_accepted_security_change_is_a_reconfiguration_event_a_refused_one_none(
        rig: Rig, request_: Callable[[Rig], dict[str, Any]], accepted: bool, info: str) -> None:
    answer = request_(rig)
    assert (answer["status"] == "Accepted") is accepted, answer
    if not accepted:
        assert rig.logged() == []
        assert rig.notifications("mqtt") == [] and rig.notifications("csms") == []
        return
    [(kind, logged)] = rig.logged()
    assert kind == RECONFIGURATION and info in logged
    for door in DOORS:
        assert rig.types(door) == [RECONFIGURATION]


# -- DESIGN rule 3: an event commits with its request's answer, or neither does --------------------------------------


def _break_commits(station: Station, table: str) -> None:
    """A deferred foreign key that a trigger on ``table`` breaks: SQLite refuses the COMMIT."""
    station.storage.connection.executescript(f"""
        CREATE TABLE trap_parent (id INTEGER PRIMARY KEY);
        CREATE TABLE trap_child (parent INTEGER REFERENCES trap_parent (id) DEFERRABLE INITIALLY DEFERRED);
        CREATE TRIGGER trap AFTER INSERT ON {table} BEGIN INSERT INTO trap_child VALUES (1); END;
    """)


@pytest.mark.parametrize("table", ["security_log", "certificate"])
def test_an_event_and_its_request_s_answer_roll_back_together_when_the_commit_fails(
        rig: Rig, caplog: pytest.LogCaptureFixture, table: str) -> None:
    """Whichever write breaks the commit — the event's or the certificate's — neither is kept."""
    root = certs.root("Rolled Back Root")
    request = envelope("InstallCertificate", {"certificateType": "CSMSRootCertificate", "certificate": certs.pem(root)})
    _break_commits(rig.station, table)
    with caplog.at_level(logging.ERROR):
        failed = rig.send(json.dumps(request))
    assert failed is not None and failed["data"]["message_type"] == "CallError", failed
    assert failed["data"]["error_code"] == "InternalError"
    assert rig.logged() == []  # no event …
    assert rig.station.outgoing("mqtt", 10) == [] and rig.station.outgoing("csms", 10) == []  # … no notification …
    assert certs.installed(rig)["status"] == "NotFound"  # … and no certificate

    rig.station.storage.connection.execute("DROP TRIGGER trap")
    retried = rig.send(json.dumps(request))  # the same request again: run, not answered from the cache
    assert retried is not None and retried["data"]["payload"] == {"status": "Accepted"}, retried
    [(kind, _)] = rig.logged()
    assert kind == RECONFIGURATION
    for door in DOORS:
        assert rig.types(door) == [RECONFIGURATION]


# -- the event's name in the version it goes out in ------------------------------------------------------------

@pytest.mark.parametrize(("queued", "version", "sent"), [
    ("InvalidCsmsCertificate", "ocpp1.6", "InvalidCentralSystemCertificate"),
    ("InvalidCentralSystemCertificate", "ocpp2.0.1", "InvalidCsmsCertificate"),
    ("InvalidChargingStationCertificate", "ocpp1.6", "InvalidChargePointCertificate"),
    ("FailedToAuthenticationAtCentralSystem", "ocpp2.1", "FailedToAuthenticationAtCsms"),
    ("ResetOrReboot", "ocpp1.6", "ResetOrReboot"),
    ("InvalidCsmsCertificate", "ocpp2.1", "InvalidCsmsCertificate"),
])
def test_a04_a_queued_event_is_named_as_the_version_it_goes_out_in(queued: str, version: str, sent: str) -> None:
    payload = {"type": queued, "timestamp": "2026-12-02T10:00:00Z", "techInfo": "x"}
    out = spelled_for(payload, version)
    assert out == {**payload, "type": sent}
    assert payload["type"] == queued  # the row's own payload is not changed

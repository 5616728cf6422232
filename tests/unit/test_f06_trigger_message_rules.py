"""F06 TriggerMessage (2.0.1 and 2.1), the rules, in process (handlers/remote_control.py).

The OEM's TriggerMessage goes through :meth:`Station.handle` (:class:`tests.support.InProcessOem`, every
answer checked against the official response schema); the CSMS's through :meth:`Station.run` with a
request whose origin is ``"csms"``, as the link runs it. What the trigger promises is read back from
the outbox of the door that asked: every row checked against the official request schema of its
version (:func:`tests.support.request_validator`, the pure-Python ``jsonschema``) and marked as asked for
(``triggered``: B02.FR.02 lets it go to a Pending CSMS). Requirement ids are those of Part 2, F06.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ocpp_station.app import Station
from ocpp_station.config import Config, ConnectorConfig, EvseConfig
from ocpp_station.errors import ErrorCode, OcppError
from ocpp_station.rpc.envelope import Request
from ocpp_station.station.outbox import DOORS, Door, Outgoing

from ..support import InProcessOem, envelope, request_validator, response_validator

V201, V21 = "ocpp2.0.1", "ocpp2.1"
VERSIONS = pytest.mark.parametrize("version", [V201, V21])
DOOR = pytest.mark.parametrize("door", DOORS)
TWO_BY_TWO = (EvseConfig(id=1, connectors=(ConnectorConfig(1), ConnectorConfig(2))),
              EvseConfig(id=2, connectors=(ConnectorConfig(1), ConnectorConfig(2))))
ORG = "Example CSO"


class Rig(InProcessOem):
    station: Station

    def trigger(self, what: str, version: str, door: Door = "mqtt", **fields: Any) -> dict[str, Any]:
        """TriggerMessage ``what`` through ``door``; the answer, checked against the official schema."""
        payload = {"requestedMessage": what, **fields}
        if door == "mqtt":
            return self.result("TriggerMessage", payload, version)
        outcome = self.station.run(Request(str(uuid.uuid4()), version, "TriggerMessage", payload, origin="csms"))
        assert not isinstance(outcome, OcppError), outcome
        response_validator(version, "TriggerMessage").validate(outcome)
        return outcome

    def rows(self, door: Door) -> list[Outgoing]:
        """What waits to go through ``door``: each row valid for its schema and asked for."""
        rows = self.station.outgoing(door, 1000)
        for row in rows:
            request_validator(row.ocpp_version, row.action).validate(row.payload)
            assert row.triggered, row
        return rows

    def sent(self, door: Door) -> list[tuple[str, dict[str, Any]]]:
        return [(row.action, row.payload) for row in self.rows(door)]

    def nothing_queued(self) -> bool:
        return all(self.station.outgoing(door, 10) == [] for door in DOORS)


@pytest.fixture
def make_rig(make_station: Callable[..., Station]) -> Callable[..., Rig]:
    def make(config: Config | None = None) -> Rig:
        return Rig(make_station(config or Config(), name=f"data-{uuid.uuid4().hex[:8]}"))

    return make


@pytest.fixture
def rig(make_rig: Callable[..., Rig]) -> Rig:
    return make_rig()


@pytest.fixture
def two_by_two(make_rig: Callable[..., Rig]) -> Rig:
    return make_rig(Config(evses=TWO_BY_TWO))


def _statuses(rig: Rig, door: Door) -> list[tuple[int, int]]:
    found = []
    for action, payload in rig.sent(door):
        assert action == "StatusNotification"
        assert payload["connectorStatus"] == "Available"
        found.append((payload["evseId"], payload["connectorId"]))
    return found


# -- what is sent ---------------------------------------------------------------------------------------------


@VERSIONS
@DOOR
def test_F06_heartbeat_is_sent_to_the_door_that_asked(rig: Rig, version: str, door: Door) -> None:
    assert rig.trigger("Heartbeat", version, door) == {"status": "Accepted"}
    [row] = rig.rows(door)
    assert (row.action, row.payload, row.ocpp_version) == ("Heartbeat", {}, version)
    assert rig.station.outgoing("csms" if door == "mqtt" else "mqtt", 10) == []


@VERSIONS
def test_F06_FR_03_an_evse_not_relevant_to_the_message_is_ignored(rig: Rig, version: str) -> None:
    for what in ("Heartbeat", "FirmwareStatusNotification", "LogStatusNotification", "BootNotification"):
        assert rig.trigger(what, version, evse={"id": 7, "connectorId": 3}) == {"status": "Accepted"}  # no EVSE 7
        [row] = rig.rows("mqtt")
        assert row.action == what  # still sent
        rig.station.delivered(row.seq)


@VERSIONS
def test_F06_FR_08_a_message_the_station_has_not_implemented_is_not_implemented(rig: Rig, version: str) -> None:
    for what in ("MeterValues", "TransactionEvent", "SignV2GCertificate", "PublishFirmwareStatusNotification",
                 "SignCombinedCertificate"):
        assert rig.trigger(what, version) == {"status": "NotImplemented"}, what
        assert rig.trigger(what, version, "csms", evse={"id": 1}) == {"status": "NotImplemented"}, what
    assert rig.nothing_queued()


def test_F06_FR_19_a_2_1_custom_trigger_is_not_implemented(rig: Rig) -> None:
    assert rig.trigger("CustomTrigger", V21, customTrigger="com.example.Anything") == {"status": "NotImplemented"}
    assert rig.nothing_queued()


@VERSIONS
def test_F06_FR_09_11_status_notification_without_evse_is_every_connector_with_the_time_now(
        two_by_two: Rig, version: str) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    assert two_by_two.trigger("StatusNotification", version) == {"status": "Accepted"}
    assert _statuses(two_by_two, "mqtt") == [(1, 1), (1, 2), (2, 1), (2, 2)]
    for _, payload in two_by_two.sent("mqtt"):  # F06.FR.09: current information
        stamp = datetime.fromisoformat(payload["timestamp"].replace("Z", "+00:00"))
        assert before <= stamp <= datetime.now(UTC) + timedelta(seconds=1)


@VERSIONS
def test_F06_FR_12_status_notification_for_an_evse_without_connector_id_is_its_connectors(
        two_by_two: Rig, version: str) -> None:
    assert two_by_two.trigger("StatusNotification", version, evse={"id": 2}) == {"status": "Accepted"}
    assert _statuses(two_by_two, "mqtt") == [(2, 1), (2, 2)]


@VERSIONS
def test_F06_FR_13_status_notification_for_one_connector(two_by_two: Rig, version: str) -> None:
    assert two_by_two.trigger("StatusNotification", version, "csms", evse={"id": 1, "connectorId": 2}) == {
        "status": "Accepted"}
    assert _statuses(two_by_two, "csms") == [(1, 2)]


@VERSIONS
@pytest.mark.parametrize("evse", [{"id": 3}, {"id": 3, "connectorId": 1}, {"id": 1, "connectorId": 3},
                                  {"id": 0}], ids=["evse-3", "evse-3-connector-1", "evse-1-connector-3", "evse-0"])
def test_F06_status_notification_for_an_evse_or_connector_the_station_lacks_is_rejected(
        two_by_two: Rig, version: str, evse: dict[str, int]) -> None:
    answer = two_by_two.trigger("StatusNotification", version, evse=evse)
    assert answer["status"] == "Rejected", answer
    assert answer["statusInfo"]["reasonCode"] == "UnknownEvse"
    assert two_by_two.nothing_queued()


@VERSIONS
@DOOR
def test_F06_FR_15_log_status_notification_is_idle(rig: Rig, version: str, door: Door) -> None:
    assert rig.trigger("LogStatusNotification", version, door) == {"status": "Accepted"}
    assert rig.sent(door) == [("LogStatusNotification", {"status": "Idle"})]


@VERSIONS
@DOOR
def test_F06_FR_16_firmware_status_notification_is_idle(rig: Rig, version: str, door: Door) -> None:
    assert rig.trigger("FirmwareStatusNotification", version, door) == {"status": "Accepted"}
    assert rig.sent(door) == [("FirmwareStatusNotification", {"status": "Idle"})]


# -- BootNotification (F06.FR.17) ---------------------------------------------------------------------------


@VERSIONS
@DOOR
def test_F06_FR_17_boot_notification_is_rejected_once_the_csms_accepted_the_last_one(
        rig: Rig, version: str, door: Door) -> None:
    rig.station.record_registration("Accepted")
    answer = rig.trigger("BootNotification", version, door)
    assert answer["status"] == "Rejected" and "statusInfo" in answer, answer
    assert rig.nothing_queued()


@VERSIONS
@DOOR
@pytest.mark.parametrize("registration", [None, "Pending", "Rejected"])
def test_F06_FR_17_boot_notification_while_not_accepted_is_sent_with_reason_triggered(
        rig: Rig, version: str, door: Door, registration: str | None) -> None:
    if registration is not None:
        rig.station.record_registration(registration)
    assert rig.trigger("BootNotification", version, door) == {"status": "Accepted"}
    [(action, payload)] = rig.sent(door)
    assert action == "BootNotification"
    assert payload == {"reason": "Triggered", "chargingStation": rig.station.charging_station()}


def test_F06_FR_17_after_accepted_then_pending_the_trigger_is_accepted_again(rig: Rig) -> None:
    rig.station.record_registration("Accepted")
    assert rig.trigger("BootNotification", V201)["status"] == "Rejected"
    rig.station.record_registration("Pending")  # the last answer is what counts
    assert rig.trigger("BootNotification", V201) == {"status": "Accepted"}


# -- SignChargingStationCertificate (A02.FR.02) ---------------------------------------------------------------


@VERSIONS
@DOOR
def test_F06_sign_charging_station_certificate_queues_a_sign_certificate(rig: Rig, version: str, door: Door) -> None:
    rig.result("SetVariables", {"setVariableData": [{"component": {"name": "SecurityCtrlr"},
                                                     "variable": {"name": "OrganizationName"},
                                                     "attributeValue": ORG}]})
    assert rig.trigger("SignChargingStationCertificate", version, door) == {"status": "Accepted"}
    [(action, payload)] = rig.sent(door)
    assert action == "SignCertificate" and payload["certificateType"] == "ChargingStationCertificate"
    assert payload["csr"].startswith("-----BEGIN CERTIFICATE REQUEST-----")


# -- F06.FR.10 and DESIGN rule 3: the promise commits with the answer ------------------------------------------


def _break_commits(station: Station, table: str) -> None:
    station.storage.connection.executescript(f"""
        CREATE TABLE trap_parent (id INTEGER PRIMARY KEY);
        CREATE TABLE trap_child (parent INTEGER REFERENCES trap_parent (id) DEFERRABLE INITIALLY DEFERRED);
        CREATE TRIGGER trap AFTER INSERT ON {table} BEGIN INSERT INTO trap_child VALUES (1); END;
    """)


@pytest.mark.parametrize("table", ["outbox", "answer"])
def test_F06_FR_10_an_accepted_trigger_s_messages_commit_with_its_answer(two_by_two: Rig, table: str) -> None:
    """Whichever write breaks the commit — a queued message's or the remembered answer's — neither is kept:
    an InternalError promises nothing; the same request again runs, and its messages are queued once."""
    request = json.dumps(envelope("TriggerMessage", {"requestedMessage": "StatusNotification"}))
    _break_commits(two_by_two.station, table)
    failed = two_by_two.send(request)
    assert failed is not None and failed["data"]["message_type"] == "CallError", failed
    assert failed["data"]["error_code"] == "InternalError"
    assert two_by_two.nothing_queued()

    two_by_two.station.storage.connection.execute("DROP TRIGGER trap")
    answer = two_by_two.send(request)
    assert answer is not None and answer["data"]["payload"] == {"status": "Accepted"}, answer
    assert len(_statuses(two_by_two, "mqtt")) == 4
    assert two_by_two.send(request) == answer  # the same request once more: answered, nothing queued again
    assert len(two_by_two.rows("mqtt")) == 4


# -- SignCertificate is the station's message ------------------------------------------------------------------


@pytest.mark.parametrize("version", ["ocpp1.6", V201, V21])
def test_sign_certificate_sent_to_the_station_is_not_supported(rig: Rig, version: str) -> None:
    csr = "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n"
    payload: dict[str, Any] = {"csr": csr} if version == "ocpp1.6" else {
        "csr": csr, "certificateType": "ChargingStationCertificate"}
    error = rig.error("SignCertificate", payload, version)
    assert error["error_code"] == "NotSupported", error
    outcome = rig.station.run(Request(str(uuid.uuid4()), version, "SignCertificate", payload, origin="csms"))
    assert isinstance(outcome, OcppError) and outcome.code is ErrorCode.NOT_SUPPORTED
    assert rig.nothing_queued()

"""The sans-I/O CSMS session (csms/session.py) speaking OCPP 1.6J, frame by frame in memory.

As tests/unit/test_csms_session.py does for 2.0.1 and 2.1: no socket, no event loop, the clock
driven by hand. Every frame the session emits goes through :func:`wire`: a well-formed OCPP-J 1.6
frame (OCPP-J 1.6 §4), every CALL valid for the official 1.6 request schema (checked with the
pure-Python ``jsonschema``, not the validators the session uses), every CALLERROR code one of the
ten OCPP-J 1.6 defines (its Table 7, with its two misspellings: :data:`tests.support.ERROR_CODES`).
Sections are those of OCPP 1.6 edition 2 and OCPP-J 1.6; B0x.FR.xx the 2.x rules the session applies
to 1.6 as well (1.6 §4.2 says what a Pending or Rejected Charge Point may do in fewer words).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from ocpp_station.csms import frames
from ocpp_station.csms.session import (
    BootAccepted,
    BootNotAccepted,
    CallAnswered,
    CallFailed,
    CallReceived,
    Failure,
    Session,
    State,
)
from ocpp_station.errors import ErrorCode, OcppError

from ..support import ERROR_CODES, official_validator, response_validator

V16, V201 = "ocpp1.6", "ocpp2.0.1"
T0 = 1000.0
TIMEOUT = 30.0
RETRY = 9.0
CONNECTORS = [(1, 1), (2, 1), (2, 2)]  # EVSE 1 with one connector, EVSE 2 with two: 1.6 connectors 1, 2, 3
STATION = {"model": "AC22-1", "vendorName": "ocpp-station", "serialNumber": "0000000001", "firmwareVersion": "0.1.0"}
BOOT_16 = {"chargePointVendor": "ocpp-station", "chargePointModel": "AC22-1",  # 1.6 §6.3
           "chargePointSerialNumber": "0000000001", "firmwareVersion": "0.1.0"}
WALL = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
STAMP = "2025-01-02T03:04:05Z"
CODES_16 = ERROR_CODES["ocpp1.6"]
REMOTE_START = {"idTag": "ABC"}
REMOTE_STOP = {"transactionId": 1}


def wire(session: Session) -> list[list[Any]]:
    """Drain the frames to send, each checked as a 1.6 frame (see the module docstring)."""
    out = []
    for text in session.frames_to_send():
        frame = json.loads(text)
        assert isinstance(frame, list) and frame and frame[0] in (2, 3, 4), frame
        assert isinstance(frame[1], str) and 0 < len(frame[1]) <= 36, frame
        if frame[0] == 2:
            assert len(frame) == 4 and isinstance(frame[3], dict), frame
            if session.version == V16:
                official_validator(V16, frame[2], "").validate(frame[3])  # 1.6: "<Action>.json"
        elif frame[0] == 3:
            assert len(frame) == 3 and isinstance(frame[2], dict), frame
        else:
            assert len(frame) == 5 and isinstance(frame[4], dict), frame
            assert isinstance(frame[3], str) and len(frame[3]) <= 255, frame
            if session.version == V16:
                assert frame[2] in CODES_16, frame  # OCPP-J 1.6 Table 7
        out.append(frame)
    return out


def make(version: str = V16, *, connectors: list[tuple[int, int]] | None = None,
         station: dict[str, Any] | None = None, reason: str = "PowerUp") -> Session:
    return Session(version, boot_reason=reason, charging_station=station or STATION,
                   connectors=CONNECTORS if connectors is None else connectors, message_timeout=TIMEOUT,
                   heartbeat_interval=60, boot_retry_s=RETRY, now=T0, utc_now=lambda: WALL)


def one_call(session: Session, action: str) -> list[Any]:
    [frame] = wire(session)
    assert frame[0] == 2 and frame[2] == action, frame
    return frame


def result(call: list[Any], payload: dict[str, Any]) -> str:
    return json.dumps([3, call[1], payload])


def boot_answer(status: str, interval: int) -> dict[str, Any]:
    """BootNotification.conf (1.6 §6.4): the same three fields as 2.x, no statusInfo."""
    return {"currentTime": STAMP, "interval": interval, "status": status}


def csms_call(message_id: str, action: str, payload: dict[str, Any]) -> str:
    return json.dumps([2, message_id, action, payload])


def answered(status: str, version: str = V16, *, interval: int = 5) -> Session:
    """A session without connectors whose first boot was answered ``status`` at T0 + 1, and (Accepted) its
    StatusNotifications too — in 1.6 there is always connector 0's; events drained."""
    session = make(version, connectors=[])
    session.receive(result(one_call(session, "BootNotification"), boot_answer(status, interval)), T0 + 1)
    for frame in iter(lambda: wire(session), []):
        [status_call] = frame
        assert status_call[2] == "StatusNotification", status_call
        session.receive(result(status_call, {}), T0 + 1)
    session.events()
    return session


# -- 1.6 §4.2 BootNotification, §4.9 StatusNotification ------------------------------------------------


def test_4_2_the_first_frame_is_a_1_6_boot_notification_without_a_reason() -> None:
    session = make(reason="RemoteReset")
    boot = one_call(session, "BootNotification")
    assert boot[3] == BOOT_16  # the Charge Point's own fields; 1.6 has no reason, no chargingStation
    assert session.state is State.BOOTING and session.next_deadline() == T0 + TIMEOUT


def test_6_3_an_empty_identity_field_is_left_out_not_sent_blank() -> None:
    session = make(station={**STATION, "serialNumber": ""})
    boot = one_call(session, "BootNotification")
    assert boot[3] == {key: value for key, value in BOOT_16.items() if key != "chargePointSerialNumber"}


def test_4_9_accepted_then_connector_0_and_1_to_n_no_error_before_anything_queued() -> None:
    session = make(connectors=CONNECTORS)
    boot = one_call(session, "BootNotification")
    queued = session.enqueue("DiagnosticsStatusNotification", {"status": "Idle"}, T0)
    assert wire(session) == []  # nothing but the boot before Accepted
    session.receive(result(boot, boot_answer("Accepted", 10)), T0 + 1)
    assert session.state is State.ACCEPTED and session.events() == [BootAccepted(10)]
    reported = []
    for _ in range(len(CONNECTORS) + 1):  # one at a time (OCPP-J 1.6 §4.1.1)
        status = one_call(session, "StatusNotification")
        assert status[3] == {"connectorId": status[3]["connectorId"], "errorCode": "NoError",
                             "status": "Available", "timestamp": STAMP}
        reported.append(status[3]["connectorId"])
        session.receive(result(status, {}), T0 + 2)
    assert reported == [0, 1, 2, 3]  # 0 is the Charge Point; EVSEs in order, their connectors in order
    after = one_call(session, "DiagnosticsStatusNotification")
    assert after[1] == queued
    session.receive(result(after, {}), T0 + 3)
    assert session.events() == [CallAnswered(queued, "DiagnosticsStatusNotification", {})]


def test_4_6_the_heartbeat_is_a_1_6_heartbeat() -> None:
    session = answered("Accepted", interval=10)
    session.set_heartbeat_interval(10)
    session.tick(T0 + 11)
    heartbeat = one_call(session, "Heartbeat")
    assert heartbeat[3] == {}
    session.receive(result(heartbeat, {"currentTime": STAMP}), T0 + 12)
    assert session.events() == [] and session.next_deadline() == T0 + 22


def test_a_call_that_is_no_1_6_request_is_never_sent() -> None:
    """What the session sends meets the 1.6 schema: a 2.x-shaped StatusNotification does not, and fails."""
    session = answered("Accepted")
    bad = session.enqueue("StatusNotification", {"timestamp": STAMP, "connectorStatus": "Available",
                                                  "evseId": 1, "connectorId": 1}, T0 + 2)
    good = session.enqueue("Heartbeat", {}, T0 + 2)
    [failed] = [event for event in session.events() if isinstance(event, CallFailed)]
    assert (failed.call_id, failed.failure) == (bad, Failure.NOT_SENT)
    assert one_call(session, "Heartbeat")[1] == good


# -- Pending (1.6 §4.2; B02) ------------------------------------------------------------------------------


@pytest.mark.parametrize(("action", "payload"), [("RemoteStartTransaction", REMOTE_START),
                                                 ("RemoteStopTransaction", REMOTE_STOP)])
def test_b02_fr_05_pending_remote_start_and_stop_are_rejected_by_the_session(action: str,
                                                                             payload: dict[str, Any]) -> None:
    session = answered("Pending")
    session.receive(csms_call("t-1", action, payload), T0 + 2)
    [answer] = wire(session)
    assert answer == [3, "t-1", {"status": "Rejected"}]
    response_validator(V16, action).validate(answer[2])
    assert session.events() == []  # the station never sees it


@pytest.mark.parametrize(("action", "payload"), [
    ("GetConfiguration", {}),
    ("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "60"}),
    ("TriggerMessage", {"requestedMessage": "StatusNotification"}),
    ("RequestStartTransaction", {"idToken": {"idToken": "ABC", "type": "Central"}, "remoteStartId": 1}),
], ids=["GetConfiguration", "ChangeConfiguration", "TriggerMessage", "2x-name-is-no-1.6-transaction-request"])
def test_b02_fr_01_pending_other_calls_are_handed_to_the_station(action: str, payload: dict[str, Any]) -> None:
    session = answered("Pending")
    session.receive(csms_call("c-1", action, payload), T0 + 2)
    [received] = session.events()
    assert isinstance(received, CallReceived) and received.call.action == action
    assert wire(session) == []
    session.answer("c-1", {"status": "Accepted"})
    assert wire(session) == [[3, "c-1", {"status": "Accepted"}]]
    assert session.state is State.PENDING


def test_b02_fr_05_once_accepted_remote_start_is_the_station_s_again() -> None:
    session = answered("Pending", interval=5)
    session.tick(T0 + 6)
    session.receive(result(one_call(session, "BootNotification"), boot_answer("Accepted", 5)), T0 + 7)
    session.events()
    session.receive(csms_call("t-9", "RemoteStartTransaction", REMOTE_START), T0 + 8)
    assert [type(event) for event in session.events()] == [CallReceived]


# -- Rejected (1.6 §4.2; B03) -----------------------------------------------------------------------------


@pytest.mark.parametrize(("action", "payload"), [("GetConfiguration", {}),
                                                 ("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "5"}),
                                                 ("RemoteStartTransaction", REMOTE_START),
                                                 ("Reset", {"type": "Soft"}),
                                                 ("NoSuchAction", {})])
def test_b03_fr_08_rejected_every_csms_call_gets_security_error(action: str, payload: dict[str, Any]) -> None:
    session = answered("Rejected", interval=3)
    session.receive(csms_call("r-1", action, payload), T0 + 2)
    [answer] = wire(session)
    assert answer[:3] == [4, "r-1", "SecurityError"], answer
    assert session.events() == []


def test_b03_fr_02_rejected_nothing_but_boot_notification_goes_out() -> None:
    session = answered("Rejected", interval=3)
    session.enqueue("Heartbeat", {}, T0 + 1)
    session.enqueue("DiagnosticsStatusNotification", {"status": "Idle"}, T0 + 1, triggered=True)
    assert wire(session) == []
    session.tick(T0 + 4)
    assert one_call(session, "BootNotification")[3] == BOOT_16


# -- 1.6 §5.17 TriggerMessage BootNotification ----------------------------------------------------------


def test_5_17_trigger_boot_while_accepted_sends_a_boot_notification_next_in_1_6() -> None:
    """1.6 has no F06.FR.17: a triggered boot goes out even once accepted, before what is queued."""
    session = answered("Accepted", interval=300)
    first = session.enqueue("Heartbeat", {}, T0 + 2)
    waiting = session.enqueue("Heartbeat", {}, T0 + 2)
    outstanding = one_call(session, "Heartbeat")
    assert outstanding[1] == first
    session.trigger_boot(T0 + 3)
    assert wire(session) == []  # one CALL at a time
    session.receive(result(outstanding, {"currentTime": STAMP}), T0 + 4)
    boot = one_call(session, "BootNotification")
    assert boot[3] == BOOT_16
    session.receive(result(boot, boot_answer("Accepted", 300)), T0 + 5)
    assert BootAccepted(300) in session.events()
    status = one_call(session, "StatusNotification")  # as after every Accepted boot: connector 0's first
    assert status[3]["connectorId"] == 0
    session.receive(result(status, {}), T0 + 6)
    assert one_call(session, "Heartbeat")[1] == waiting


def test_5_17_a_triggered_boot_answered_pending_puts_the_session_back_into_pending() -> None:
    session = answered("Accepted", interval=300)
    session.trigger_boot(T0 + 2)
    session.receive(result(one_call(session, "BootNotification"), boot_answer("Pending", 60)), T0 + 3)
    assert session.state is State.PENDING
    assert session.events() == [BootNotAccepted("Pending", 60, 60.0)]
    session.enqueue("Heartbeat", {}, T0 + 4)
    assert wire(session) == []  # Pending again: nothing untriggered goes out


@pytest.mark.parametrize(("version", "sent"), [(V16, ["BootNotification"]), (V201, [])])
def test_5_17_trigger_boot_while_accepted_only_1_6_sends_one(version: str, sent: list[str]) -> None:
    session = answered("Accepted", version, interval=300)
    session.trigger_boot(T0 + 2)
    assert [frame[2] for frame in wire(session)] == sent


# -- OCPP-J 1.6 §4.2.3: the CALLERRORs the session sends are spelled the 1.6 way -------------------------


def test_ocpp_j_1_6_an_unknown_message_type_is_answered_with_a_1_6_code() -> None:
    """1.6 has no MessageTypeNotSupported (versions.py maps it to NotSupported): whatever the session
    sends is what frames.call_error spells for 1.6, and it is one of the 1.6 codes."""
    session = make(connectors=[])
    one_call(session, "BootNotification")
    session.receive('[7,"x7",{}]', T0 + 1)
    [answer] = wire(session)
    spelled = json.loads(frames.call_error("x7", OcppError(ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED, "-"), V16))[2]
    assert answer[:3] == [4, "x7", spelled]
    assert spelled in CODES_16 and spelled != "MessageTypeNotSupported"


@pytest.mark.parametrize(("text", "frame_id"), [("not json", "-1"), ('[2,"abc","GetConfiguration"]', "abc")],
                         ids=["not-json", "wrong-shape"])
def test_ocpp_j_1_6_an_unusable_frame_is_answered_formation_violation(text: str, frame_id: str) -> None:
    """2.x's RpcFrameworkError and FormatViolation are both 1.6's (misspelled) FormationViolation."""
    session = make(connectors=[])
    one_call(session, "BootNotification")
    session.receive(text, T0 + 1)
    [answer] = wire(session)
    assert answer[:3] == [4, frame_id, "FormationViolation"], answer


@pytest.mark.parametrize("code", list(ErrorCode), ids=[code.value for code in ErrorCode])
def test_ocpp_j_1_6_every_error_the_station_answers_is_a_1_6_code(code: ErrorCode) -> None:
    session = answered("Accepted")
    session.receive(csms_call("e-1", "GetConfiguration", {}), T0 + 2)
    session.events()
    session.answer("e-1", OcppError(code, "refused"))
    [answer] = wire(session)  # wire() fails on a code OCPP-J 1.6 does not have
    expected = {"OccurrenceConstraintViolation": "OccurenceConstraintViolation",
                "FormatViolation": "FormationViolation"}.get(code.value, answer[2])
    assert answer[:3] == [4, "e-1", expected]

"""The sans-I/O CSMS session (csms/session.py), frame by frame in memory, the clock driven by hand.

Modelled on websockets' tests/test_protocol.py: no socket, no event loop; each test feeds the
session text and times and reads back the frames it wants sent, its events and its deadline.
Every frame the session emits goes through :func:`wire`, which checks that it is a well-formed
OCPP-J frame (Part 4 §4.2) and that every CALL conforms to the official request schema of the
session's version — checked with the pure-Python ``jsonschema`` package, independently of the
jsonschema-rs validators the session itself uses. Names cite the requirement each test is about.
"""

from __future__ import annotations

import ast
import json
import logging
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocpp_station.csms import session as session_module
from ocpp_station.csms.session import (
    BootAccepted,
    BootNotAccepted,
    CallAnswered,
    CallFailed,
    CallReceived,
    Close,
    ProtocolProblem,
    Session,
    State,
)
from ocpp_station.errors import ErrorCode, OcppError

V201, V21 = "ocpp2.0.1", "ocpp2.1"
T0 = 1000.0  # the shell's monotonic clock at the start
TIMEOUT = 30.0
RETRY = 9.0  # our own wait when the CSMS gives interval 0
CONNECTORS = [(1, 1), (2, 1), (2, 2)]
STATION = {"model": "AC22-1", "vendorName": "ocpp-station", "serialNumber": "0000000001", "firmwareVersion": "0.1.0"}
WALL = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
ERROR_CODES = {code.value for code in ErrorCode}  # Part 4 Table 8
GET_VARIABLES = {"getVariableData": [{"component": {"name": "OCPPCommCtrlr"},
                                      "variable": {"name": "OfflineThreshold"}}]}


# -- the independent checker ----------------------------------------------------------------------------

_FORMATS = jsonschema.FormatChecker()


@_FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    """RFC 3339 date-time (jsonschema checks it only with an optional package installed)."""
    if not isinstance(value, str) or "T" not in value or not (value.endswith("Z") or "+" in value[10:]):
        return False
    datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


@cache
def _request_schema(version: str, action: str) -> jsonschema.Draft6Validator:
    folder = {V201: "v201", V21: "v21"}[version]
    schema = json.loads((resources.files("ocpp") / folder / "schemas" / f"{action}Request.json").read_text("utf-8"))
    return jsonschema.Draft6Validator(schema, format_checker=_FORMATS)


def wire(session: Session) -> list[list[Any]]:
    """Drain the frames to send, each checked: valid JSON, a valid OCPP-J frame, a CALL valid for its schema."""
    out = []
    for text in session.frames_to_send():
        assert isinstance(text, str)
        frame = json.loads(text)
        assert isinstance(frame, list) and frame and frame[0] in (2, 3, 4), frame
        assert isinstance(frame[1], str) and 0 < len(frame[1]) <= 36, frame  # Part 4 §4.1.4
        if frame[0] == 2:  # §4.2.1
            assert len(frame) == 4 and isinstance(frame[2], str) and isinstance(frame[3], dict), frame
            _request_schema(session.version, frame[2]).validate(frame[3])
        elif frame[0] == 3:  # §4.2.2
            assert len(frame) == 3 and isinstance(frame[2], dict), frame
        else:  # §4.2.3
            assert len(frame) == 5 and frame[2] in ERROR_CODES, frame
            assert isinstance(frame[3], str) and len(frame[3]) <= 255 and isinstance(frame[4], dict), frame
        out.append(frame)
    return out


# -- helpers -------------------------------------------------------------------------------------------

def make(version: str = V201, *, connectors: list[tuple[int, int]] | None = None, heartbeat: float = 60,
         station: dict[str, Any] | None = None, reason: str = "PowerUp") -> Session:
    return Session(version, boot_reason=reason, charging_station=station or STATION,
                   connectors=CONNECTORS if connectors is None else connectors, message_timeout=TIMEOUT,
                   heartbeat_interval=heartbeat, boot_retry_s=RETRY, now=T0, utc_now=lambda: WALL)


def one_call(session: Session, action: str) -> list[Any]:
    """The one frame on the wire: a CALL of ``action``."""
    [frame] = wire(session)
    assert frame[0] == 2 and frame[2] == action, frame
    return frame


def result(call: list[Any], payload: dict[str, Any]) -> str:
    return json.dumps([3, call[1], payload])


def boot_answer(status: str, interval: int) -> dict[str, Any]:
    return {"currentTime": "2025-01-02T03:04:05Z", "interval": interval, "status": status}


def accepted(version: str = V201, *, interval: int = 10, connectors: list[tuple[int, int]] | None = None,
             now: float = T0 + 1) -> Session:
    """A session whose boot was Accepted and whose StatusNotifications were answered at ``now``."""
    session = make(version, connectors=[] if connectors is None else connectors)
    session.receive(result(one_call(session, "BootNotification"), boot_answer("Accepted", interval)), now)
    for frame in iter(lambda: wire(session), []):
        [status] = frame
        session.receive(result(status, {}), now)
    session.events()
    return session


def csms_call(message_id: str, action: str, payload: dict[str, Any]) -> str:
    return json.dumps([2, message_id, action, payload])


# -- B01: boot, status, heartbeat ----------------------------------------------------------------------

@pytest.mark.parametrize("version", [V201, V21])
def test_b01_fr_01_the_boot_notification_goes_out_at_once(version: str) -> None:
    session = make(version, reason="RemoteReset")
    assert session.state is State.BOOTING
    boot = one_call(session, "BootNotification")
    assert boot[3] == {"reason": "RemoteReset", "chargingStation": STATION}  # B01.FR.09: the reason
    assert session.next_deadline() == T0 + TIMEOUT  # its message timeout
    assert session.events() == []


@pytest.mark.parametrize("version", [V201, V21])
def test_b01_fr_04_05_accepted_then_a_status_per_connector_then_heartbeats_at_the_interval(version: str) -> None:
    session = make(version)
    boot = one_call(session, "BootNotification")
    session.receive(result(boot, boot_answer("Accepted", 7)), T0 + 1)
    assert session.state is State.ACCEPTED and session.accepted
    assert session.events() == [BootAccepted(7)]
    reported = []
    for _ in CONNECTORS:  # B01.FR.05, one at a time (Part 4 §4.1.1)
        status = one_call(session, "StatusNotification")
        assert status[3]["timestamp"] == "2025-01-02T03:04:05Z" and status[3]["connectorStatus"] == "Available"
        reported.append((status[3]["evseId"], status[3]["connectorId"]))
        session.receive(result(status, {}), T0 + 2)
    assert reported == CONNECTORS
    assert wire(session) == []
    # B01.FR.04: the interval the CSMS gave, from the last answer on.
    assert session.next_deadline() == T0 + 2 + 7
    session.tick(T0 + 8.9)
    assert wire(session) == []
    for beat in range(3):
        at = T0 + 2 + 7 * (beat + 1)
        session.tick(at)
        heartbeat = one_call(session, "Heartbeat")
        assert heartbeat[3] == {}
        session.receive(result(heartbeat, {"currentTime": "2025-01-02T03:04:05Z"}), at)
        assert session.next_deadline() == at + 7
    assert session.events() == []


def test_b01_fr_04_interval_0_keeps_the_station_s_heartbeat_interval() -> None:
    session = accepted(interval=0, now=T0 + 1)
    assert session.next_deadline() == T0 + 1 + 60


def test_heartbeat_interval_follows_the_variable() -> None:
    """OCPPCommCtrlr.HeartbeatInterval set meanwhile (by either door) moves the next heartbeat."""
    session = accepted(interval=100, now=T0 + 1)
    session.set_heartbeat_interval(5)
    assert session.next_deadline() == T0 + 6
    session.set_heartbeat_interval(0)  # at least 1 s: never a heartbeat storm
    assert session.next_deadline() == T0 + 2


@pytest.mark.parametrize("status", ["Pending", None])
def test_b01_fr_08_b02_fr_02_nothing_but_boot_notification_before_accepted(status: str | None) -> None:
    session = make(connectors=[(1, 1)])
    boot = one_call(session, "BootNotification")
    call_id = session.enqueue("Heartbeat", {}, T0)
    assert wire(session) == []  # queued, not sent
    if status is not None:
        session.receive(result(boot, boot_answer(status, 5)), T0 + 1)
        session.tick(T0 + 6)
        boot = one_call(session, "BootNotification")
        assert wire(session) == []
    session.receive(result(boot, boot_answer("Accepted", 5)), T0 + 7)
    status_call = one_call(session, "StatusNotification")  # B01.FR.05 first
    session.receive(result(status_call, {}), T0 + 7)
    queued = one_call(session, "Heartbeat")
    assert queued[1] == call_id
    session.receive(result(queued, {"currentTime": "2025-01-02T03:04:05Z"}), T0 + 8)
    assert CallAnswered(call_id, "Heartbeat", {"currentTime": "2025-01-02T03:04:05Z"}) in session.events()


# -- B02 Pending, B03 Rejected -------------------------------------------------------------------------

def test_b02_fr_01_04_08_pending_retries_at_the_interval_and_answers_the_csms_meanwhile() -> None:
    session = make()
    first = one_call(session, "BootNotification")
    session.receive(result(first, boot_answer("Pending", 5)), T0 + 1)
    assert session.state is State.PENDING
    assert session.events() == [BootNotAccepted("Pending", 5, 5.0)]
    assert session.next_deadline() == T0 + 6
    # B02.FR.01: the CSMS may configure us while Pending; the station answers.
    session.receive(csms_call("gv-1", "GetVariables", GET_VARIABLES), T0 + 2)
    [received] = session.events()
    assert isinstance(received, CallReceived) and received.call.action == "GetVariables"
    session.answer("gv-1", {"getVariableResult": []})
    assert wire(session) == [[3, "gv-1", {"getVariableResult": []}]]
    session.tick(T0 + 5.9)  # B02.FR.04: not before the interval
    assert wire(session) == []
    session.tick(T0 + 6)  # B02.FR.08: after it
    second = one_call(session, "BootNotification")
    assert second[1] != first[1]  # Part 4 §4.1.4: a retry has an id of its own
    assert session.state is State.PENDING  # B02.FR.06: the connection stays
    session.receive(result(second, boot_answer("Accepted", 5)), T0 + 7)
    assert session.state is State.ACCEPTED


def test_b02_fr_07_interval_0_waits_a_time_of_our_own() -> None:
    session = make()
    session.receive(result(one_call(session, "BootNotification"), boot_answer("Pending", 0)), T0 + 1)
    assert session.events() == [BootNotAccepted("Pending", 0, RETRY)]
    assert session.next_deadline() == T0 + 1 + RETRY


def test_b03_fr_08_while_rejected_every_csms_call_gets_security_error_and_the_boot_is_retried() -> None:
    session = make()
    session.receive(result(one_call(session, "BootNotification"), boot_answer("Rejected", 3)), T0 + 1)
    assert session.state is State.REJECTED
    session.receive(csms_call("gv-1", "GetVariables", GET_VARIABLES), T0 + 2)
    [answer] = wire(session)
    assert answer[:3] == [4, "gv-1", "SecurityError"], answer
    assert not [e for e in session.events() if isinstance(e, CallReceived)]  # never reaches the station
    session.tick(T0 + 4)  # B03.FR.06: retried after the interval
    retry = one_call(session, "BootNotification")
    session.receive(csms_call("gv-2", "GetVariables", GET_VARIABLES), T0 + 4.5)  # still rejected
    assert wire(session)[0][:3] == [4, "gv-2", "SecurityError"]
    session.receive(result(retry, boot_answer("Accepted", 3)), T0 + 5)
    session.events()
    session.receive(csms_call("gv-3", "GetVariables", GET_VARIABLES), T0 + 6)  # accepted: handed out
    assert [e.call.id for e in session.events() if isinstance(e, CallReceived)] == ["gv-3"]


@pytest.mark.parametrize("answer", [{"status": "Maybe", "interval": 1}, {"interval": 1}])
def test_a_boot_answer_without_a_known_status_ends_the_session(answer: dict[str, Any]) -> None:
    session = make()
    session.receive(result(one_call(session, "BootNotification"), answer), T0 + 1)
    assert session.state is State.CLOSED
    [close] = session.events()
    assert isinstance(close, Close) and "status" in close.reason


# -- Part 4 §4.1.1: one CALL of ours at a time, each within its timeout ---------------------------------

def test_part4_4_1_1_a_second_queued_call_waits_for_the_answer_to_the_first() -> None:
    session = accepted()
    first = session.enqueue("Heartbeat", {}, T0 + 2)
    second = session.enqueue("Heartbeat", {}, T0 + 2)
    sent = one_call(session, "Heartbeat")
    assert sent[1] == first
    session.tick(T0 + 3)
    assert wire(session) == []  # the second waits
    session.receive(result(sent, {"currentTime": "2025-01-02T03:04:05Z"}), T0 + 4)
    assert one_call(session, "Heartbeat")[1] == second
    assert [type(e) for e in session.events()] == [CallAnswered]


def test_part4_4_1_1_a_call_csms_crossing_ours_is_answered_while_ours_is_outstanding() -> None:
    session = make()
    boot = one_call(session, "BootNotification")
    session.receive(csms_call("x", "GetVariables", GET_VARIABLES), T0 + 1)
    [received] = session.events()
    assert isinstance(received, CallReceived)
    session.answer("x", OcppError(ErrorCode.NOT_SUPPORTED, "no"))
    assert wire(session) == [[4, "x", "NotSupported", "no", {}]]
    session.receive(result(boot, boot_answer("Accepted", 5)), T0 + 2)
    assert session.state is State.ACCEPTED


@pytest.mark.parametrize("version", [V201, V21])
def test_part4_4_1_1_no_answer_within_the_message_timeout_ends_the_session(version: str) -> None:
    session = make(version)
    one_call(session, "BootNotification")
    session.tick(T0 + TIMEOUT - 0.1)
    assert session.state is State.BOOTING
    session.tick(T0 + TIMEOUT)
    assert session.state is State.CLOSED
    assert session.events() == [Close("no answer to BootNotification within 30 s")]
    assert session.next_deadline() is None
    session.receive(csms_call("late", "GetVariables", GET_VARIABLES), T0 + TIMEOUT + 1)  # CLOSED: nothing more
    session.tick(T0 + 1000)
    assert wire(session) == [] and session.events() == []


def test_part4_4_1_1_a_late_answer_does_not_revive_a_timed_out_call() -> None:
    """The clock is applied before the message: at T0 + 31 the boot had timed out a second ago."""
    session = make()
    boot = one_call(session, "BootNotification")
    session.receive(result(boot, boot_answer("Accepted", 5)), T0 + TIMEOUT + 1)
    assert session.state is State.CLOSED
    assert [type(e) for e in session.events()] == [Close]


def test_a_queued_call_that_times_out_fails_and_ends_the_session() -> None:
    session = accepted()
    call_id = session.enqueue("Heartbeat", {}, T0 + 2)
    waiting = session.enqueue("Heartbeat", {}, T0 + 2)
    one_call(session, "Heartbeat")
    session.tick(T0 + 2 + TIMEOUT)
    events = session.events()
    assert [type(e) for e in events] == [CallFailed, CallFailed, Close]
    assert [e.call_id for e in events if isinstance(e, CallFailed)] == [call_id, waiting]
    assert wire(session) == []


def test_a_callerror_to_a_queued_call_fails_it_and_the_session_goes_on() -> None:
    session = accepted()
    call_id = session.enqueue("Heartbeat", {}, T0 + 2)
    sent = one_call(session, "Heartbeat")
    session.receive(json.dumps([4, sent[1], "InternalError", "oops", {}]), T0 + 3)
    [failed] = session.events()
    assert isinstance(failed, CallFailed) and failed.call_id == call_id
    assert failed.error is not None and failed.error.code is ErrorCode.INTERNAL_ERROR
    assert session.state is State.ACCEPTED


def test_a_callerror_to_our_boot_ends_the_session_as_the_link_always_did() -> None:
    session = make()
    boot = one_call(session, "BootNotification")
    session.receive(json.dumps([4, boot[1], "SecurityError", "who are you\n", {}]), T0 + 1)
    [close] = session.events()
    assert isinstance(close, Close) and "SecurityError" in close.reason
    assert "\n" not in close.reason  # the CSMS's text is made safe for a log line


# -- Part 4 §4.2: frames we cannot use ------------------------------------------------------------------

@pytest.mark.parametrize("frame", ['[3,"not-ours",{}]', '[4,"not-ours","GenericError","",{}]'])
def test_part4_4_1_3_an_answer_to_no_outstanding_call_is_ignored(frame: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="ocpp_station.csms.session")
    session = make()
    one_call(session, "BootNotification")
    session.receive(frame, T0 + 1)
    assert wire(session) == [] and session.events() == []
    assert session.state is State.BOOTING and session.next_deadline() == T0 + TIMEOUT  # still waiting
    assert any(r.levelno == logging.DEBUG and "ignored an answer" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("version", [V201, V21])
@pytest.mark.parametrize("text", ["not json", "{", "[2,", '{"a":1}', "[]", "[2,5,\"X\",{}]", "[1e999999]", "NaN"])
def test_part4_4_2_3_a_message_that_is_not_a_frame_gets_rpc_framework_error_with_id_minus_1(
        version: str, text: str) -> None:
    session = make(version)
    one_call(session, "BootNotification")
    session.receive(text, T0 + 1)
    [answer] = wire(session)
    assert answer[:3] == [4, "-1", "RpcFrameworkError"], answer
    assert [type(e) for e in session.events()] == [ProtocolProblem]
    assert session.state is State.BOOTING  # the session goes on


def test_part4_4_2_3_a_frame_of_the_wrong_shape_is_answered_under_its_id() -> None:
    session = make()
    one_call(session, "BootNotification")
    session.receive('[2,"abc","GetVariables"]', T0 + 1)
    assert wire(session)[0][:3] == [4, "abc", "FormatViolation"]


@pytest.mark.parametrize("kind", [5, 6, 7])
def test_part4_4_4_an_unknown_message_type_is_answered_in_2_0_1(kind: int) -> None:
    session = make(V201)
    one_call(session, "BootNotification")
    session.receive(f'[{kind},"x5",{{}}]', T0 + 1)
    assert wire(session)[0][:3] == [4, "x5", "MessageTypeNotSupported"]


def test_part4_4_1_3_4_4_an_unknown_message_type_is_ignored_in_2_1() -> None:
    session = make(V21)
    one_call(session, "BootNotification")
    session.receive('[7,"x7",{}]', T0 + 1)
    assert wire(session) == []
    [problem] = session.events()
    assert isinstance(problem, ProtocolProblem) and "ignored" in problem.description


# -- Reset -----------------------------------------------------------------------------------------------

def test_b11_reset_while_its_call_is_answered_queues_the_callresult_before_the_close() -> None:
    session = accepted()
    session.receive(csms_call("reset-1", "Reset", {"type": "Immediate"}), T0 + 2)
    [received] = session.events()
    assert isinstance(received, CallReceived)
    session.reset_requested()  # the handler accepted it; its answer is not out yet
    assert session.events() == [] and session.state is State.ACCEPTED
    session.answer("reset-1", {"status": "Accepted"})
    assert wire(session) == [[3, "reset-1", {"status": "Accepted"}]]
    assert session.events() == [Close("Reset", reset=True)]
    assert session.state is State.CLOSED


def test_a_reset_with_nothing_being_answered_closes_at_once() -> None:
    session = make()
    one_call(session, "BootNotification")
    session.reset_requested()
    assert session.events() == [Close("Reset", reset=True)]
    session.reset_requested()  # once only
    assert session.events() == []


def test_a_closed_session_hands_out_no_call_and_fails_what_was_queued() -> None:
    session = make()
    one_call(session, "BootNotification")
    queued = session.enqueue("Heartbeat", {}, T0)
    session.reset_requested()
    assert session.events() == [CallFailed(queued, "Heartbeat", "the session ended (Reset)"), Close("Reset", True)]
    later = session.enqueue("Heartbeat", {}, T0 + 1)
    assert session.events() == [CallFailed(later, "Heartbeat", "the session is closed")]
    session.answer("never-handed-out", {})  # ignored once closed
    assert wire(session) == []


def test_answer_for_a_call_never_handed_out_is_a_bug_of_the_shell() -> None:
    session = make()
    with pytest.raises(ValueError):
        session.answer("nope", {})


# -- everything we send conforms to the official schema ---------------------------------------------------

def test_an_invalid_queued_call_is_never_put_on_the_wire(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="ocpp_station.csms.session")
    session = accepted()
    broken = session.enqueue("StatusNotification", {"timestamp": "2025-01-02T03:04:05Z",
                                                    "connectorStatus": "Available", "evseId": 1}, T0 + 2)
    good = session.enqueue("Heartbeat", {}, T0 + 2)
    assert one_call(session, "Heartbeat")[1] == good  # the broken one was skipped, not sent
    [failed] = session.events()
    assert isinstance(failed, CallFailed) and failed.call_id == broken and "/connectorId" in failed.reason
    [error] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "StatusNotification" in error.getMessage() and "/connectorId" in error.getMessage()


def test_an_action_the_version_does_not_have_is_never_sent() -> None:
    session = accepted()
    call_id = session.enqueue("NotifyDERAlarm", {}, T0 + 2)  # a 2.1 message, this is 2.0.1
    assert wire(session) == []
    assert [e.call_id for e in session.events() if isinstance(e, CallFailed)] == [call_id]


def test_a_boot_notification_that_breaks_its_schema_is_not_sent_and_ends_the_session() -> None:
    session = make(station={**STATION, "model": "M" * 21})  # model is string[20]
    assert wire(session) == []
    events = session.events()
    assert [type(e) for e in events] == [CallFailed, Close]
    assert "/chargingStation/model" in events[-1].reason  # type: ignore[union-attr]
    assert session.state is State.CLOSED


def test_a_status_notification_that_breaks_its_schema_is_skipped() -> None:
    session = make(connectors=[(1, 1.5), (1, 1)])  # type: ignore[list-item]  # connectorId is an integer
    session.receive(result(one_call(session, "BootNotification"), boot_answer("Accepted", 5)), T0 + 1)
    status = one_call(session, "StatusNotification")
    assert (status[3]["evseId"], status[3]["connectorId"]) == (1, 1)
    assert [type(e) for e in session.events()] == [BootAccepted, CallFailed]


# -- the invariants, under any sequence of inputs ----------------------------------------------------------

def _inputs() -> st.SearchStrategy[list[tuple[str, Any]]]:
    csms_text = st.sampled_from([
        csms_call("c1", "GetVariables", GET_VARIABLES), csms_call("c2", "Reset", {"type": "Immediate"}),
        "garbage", "[7,\"u\",{}]", '[3,"stray",{}]', '[4,"stray","GenericError","",{}]'])
    status = st.sampled_from(["Accepted", "Pending", "Rejected"])
    return st.lists(st.one_of(
        st.tuples(st.just("text"), csms_text),
        st.tuples(st.just("answer-ours"), status),  # a CALLRESULT to whatever of ours is outstanding
        st.tuples(st.just("error-ours"), st.none()),
        st.tuples(st.just("tick"), st.floats(0, 40)),
        st.tuples(st.just("enqueue"), st.booleans()),  # True: a valid CALL, False: one that breaks its schema
        st.tuples(st.just("reset"), st.none())), max_size=40)


@settings(max_examples=300, deadline=None)
@given(version=st.sampled_from([V201, V21]), inputs=_inputs())
def test_invariants_hold_for_any_sequence_of_inputs(version: str, inputs: list[tuple[str, Any]]) -> None:
    """Whatever happens: every frame is valid (CALLs for their schema), at most one CALL of ours is
    outstanding, nothing but BootNotification before Accepted, nothing at all once CLOSED, every CSMS
    CALL handed out is answered once its answer is given, and the deadline is None only when CLOSED."""
    session = make(version, connectors=[(1, 1)])
    now = T0
    outstanding: list[Any] | None = None
    handed_out: list[str] = []  # CSMS CALLs the session handed to the "station", not yet answered by it
    awaiting: list[str] = []  # ids the station answered: each must go out exactly once

    def check() -> None:
        nonlocal outstanding
        for frame in wire(session):
            if frame[0] == 2:
                assert outstanding is None, (outstanding, frame)  # Part 4 §4.1.1
                if not session.accepted:
                    assert frame[2] == "BootNotification", frame  # B01.FR.08
                outstanding = frame
            elif frame[1] in awaiting:
                awaiting.remove(frame[1])
        for event in session.events():
            if isinstance(event, CallReceived):
                assert session.state is not State.REJECTED  # B03.FR.08
                handed_out.append(event.call.id)
        assert not awaiting, awaiting  # each answer is on the wire right after answer()
        assert (session.next_deadline() is None) == (session.state is State.CLOSED)
        if session.state is State.CLOSED:
            outstanding = None
            handed_out.clear()

    check()
    for kind, value in inputs:
        closed = session.state is State.CLOSED
        if kind == "text":
            session.receive(value, now)
        elif kind == "answer-ours" and outstanding is not None:
            payload = boot_answer(value, 3) if outstanding[2] == "BootNotification" else {}
            message, outstanding = result(outstanding, payload), None
            session.receive(message, now)
        elif kind == "error-ours" and outstanding is not None:
            message, outstanding = json.dumps([4, outstanding[1], "GenericError", "", {}]), None
            session.receive(message, now)
        elif kind == "tick":
            now += value
            session.tick(now)
        elif kind == "enqueue":
            session.enqueue("Heartbeat" if value else "StatusNotification", {}, now)
        elif kind == "reset":
            session.reset_requested()
        check()
        while handed_out:  # the shell answers what it was handed, one at a time, in order
            call_id = handed_out.pop(0)
            awaiting.append(call_id)
            session.answer(call_id, {"status": "Accepted"})
            check()
        if closed:
            assert session.frames_to_send() == [] and session.events() == []  # nothing once CLOSED


# -- sans I/O --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("module", ["session.py", "outgoing.py", "frames.py"])
def test_the_session_imports_no_io(module: str) -> None:
    """The sans-I/O half imports no event loop, socket, TLS, thread or websocket library."""
    path = Path(session_module.__file__).with_name(module)
    imported: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & {"asyncio", "websockets", "socket", "ssl", "threading", "selectors", "trio"}, imported

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
INT32_MAX = 2**31 - 1  # Part 2 primitive datatypes: integer is 32-bit signed
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


@cache
def _response_schema(version: str, action: str) -> jsonschema.Draft6Validator:
    folder = {V201: "v201", V21: "v21"}[version]
    schema = json.loads((resources.files("ocpp") / folder / "schemas" / f"{action}Response.json").read_text("utf-8"))
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
    session.set_heartbeat_interval(7)  # what the shell does once the station took it (B01.FR.04)
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


def test_b01_fr_04_the_session_adopts_no_interval_the_station_did_not_take() -> None:
    """The interval of an Accepted answer is the station's to take (its device model's limits); the
    session keeps the one it has until the shell sets the variable's value (issue 15 item 2)."""
    session = make(connectors=[])
    session.receive(result(one_call(session, "BootNotification"), boot_answer("Accepted", 7)), T0 + 1)
    assert session.events() == [BootAccepted(7)]
    assert session.next_deadline() == T0 + 1 + 60  # not 7: nobody has accepted it yet
    session.set_heartbeat_interval(7)
    assert session.next_deadline() == T0 + 1 + 7


@pytest.mark.parametrize("seconds", [10**400, 2**31, 1e300, float("inf"), float("nan"), -5])
def test_the_heartbeat_interval_is_kept_within_1_s_and_the_32_bit_range(seconds: float) -> None:
    """A value the device model held before its limits were checked (a 401-digit HeartbeatInterval
    written by a hostile CSMS) must not overflow a float: the session is clamped, never raises."""
    session = make(connectors=[], heartbeat=seconds)
    session.set_heartbeat_interval(seconds)
    session.receive(result(one_call(session, "BootNotification"), boot_answer("Accepted", 0)), T0 + 1)
    deadline = session.next_deadline()
    assert deadline is not None and T0 + 1 + 1 <= deadline <= T0 + 1 + INT32_MAX


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


# -- B02 Pending, B03 Rejected: every FR of both, in 2.0.1 and 2.1 (their tables are the same) -------------

BOTH = pytest.mark.parametrize("version", [V201, V21])
NOT_ACCEPTED = pytest.mark.parametrize("status", ["Pending", "Rejected"])
START = {"idToken": {"idToken": "ABC", "type": "Central"}, "remoteStartId": 1}
STOP = {"transactionId": "tx-1"}


def answered(status: str, version: str = V201, *, interval: int = 5, now: float = T0 + 1,
             connectors: list[tuple[int, int]] | None = None) -> tuple[Session, list[Any]]:
    """A session whose first BootNotification was answered ``status`` at ``now``; and that boot frame."""
    session = make(version, connectors=[] if connectors is None else connectors)
    boot = one_call(session, "BootNotification")
    session.receive(result(boot, boot_answer(status, interval)), now)
    return session, boot


def calls_on(frames_: list[list[Any]]) -> list[str]:
    return [frame[2] for frame in frames_ if frame[0] == 2]


@BOTH
def test_b02_fr_01_while_pending_the_csms_s_calls_reach_the_station_and_are_answered(version: str) -> None:
    session, _ = answered("Pending", version)
    session.events()
    for number, (action, payload) in enumerate([
            ("GetVariables", GET_VARIABLES),  # B06
            ("SetVariables", {"setVariableData": [{"component": {"name": "OCPPCommCtrlr"},
                                                   "variable": {"name": "OfflineThreshold"},
                                                   "attributeValue": "300"}]}),  # B05
            ("GetBaseReport", {"requestId": 1, "reportBase": "FullInventory"})]):  # B07
        session.receive(csms_call(f"c{number}", action, payload), T0 + 2)
        [received] = session.events()
        assert isinstance(received, CallReceived) and received.call.action == action
        session.answer(f"c{number}", {"status": "Accepted"})
        assert wire(session) == [[3, f"c{number}", {"status": "Accepted"}]]
    assert session.state is State.PENDING


@BOTH
@NOT_ACCEPTED
def test_b02_fr_02_b03_fr_02_nothing_but_boot_notification_until_accepted(version: str, status: str) -> None:
    """Neither the station's queued CALLs nor a heartbeat: over many retries, only BootNotifications
    (what the CSMS asked for, B02.FR.02's exception, is test_b02_fr_02_what_the_csms_asked_for_…)."""
    session, _ = answered(status, version, interval=5, connectors=[(1, 1)])
    queued = session.enqueue("Heartbeat", {}, T0 + 1)
    sent: list[list[Any]] = []
    now = T0 + 1
    for _ in range(20):
        now += 5
        session.tick(now)
        out = wire(session)
        sent.extend(out)
        [retry] = out
        session.receive(result(retry, boot_answer(status, 5)), now)
    assert calls_on(sent) == ["BootNotification"] * 20
    session.tick(now + 5)
    session.receive(result(one_call(session, "BootNotification"), boot_answer("Accepted", 5)), now + 5)
    session.receive(result(one_call(session, "StatusNotification"), {}), now + 5)  # B01.FR.05 first
    assert one_call(session, "Heartbeat")[1] == queued  # then what waited


def test_b02_fr_03_the_station_s_calls_wait_in_a_bounded_queue_until_accepted() -> None:
    """What the station queues while not accepted is kept (in order) for the Accepted session, up to
    MAX_QUEUED_CALLS (DESIGN rule 4); transactions, the example of B02.FR.03, do not exist yet."""
    session, _ = answered("Pending", interval=5)
    session.events()
    ids = [session.enqueue("Heartbeat", {}, T0 + 1) for _ in range(session_module.MAX_QUEUED_CALLS + 1)]
    [refused] = session.events()
    assert isinstance(refused, CallFailed) and refused.call_id == ids[-1] and "queued already" in refused.reason
    session.tick(T0 + 6)
    session.receive(result(one_call(session, "BootNotification"), boot_answer("Accepted", 5)), T0 + 7)
    first = one_call(session, "Heartbeat")
    session.receive(result(first, {"currentTime": "2025-01-02T03:04:05Z"}), T0 + 7)
    assert (first[1], one_call(session, "Heartbeat")[1]) == (ids[0], ids[1])


@BOTH
@NOT_ACCEPTED
def test_b02_fr_04_08_b03_fr_06_the_next_boot_goes_out_when_the_interval_has_passed_not_before(
        version: str, status: str) -> None:
    session, first = answered(status, version, interval=5)
    assert session.events() == [BootNotAccepted(status, 5, 5.0)]
    assert session.next_deadline() == T0 + 6
    session.tick(T0 + 5.999)  # B02.FR.04: not earlier than the interval
    assert wire(session) == []
    session.tick(T0 + 6)  # B02.FR.08 / B03.FR.06: once it has passed
    second = one_call(session, "BootNotification")
    assert second[1] != first[1]  # Part 4 §4.1.4: a retry has an id of its own
    session.tick(T0 + 6 + TIMEOUT - 1)  # one at a time: the next only after this one's answer
    assert wire(session) == []
    session.receive(result(second, boot_answer(status, 30)), T0 + 7)
    assert session.next_deadline() == T0 + 37  # each answer's own interval
    session.tick(T0 + 37)
    one_call(session, "BootNotification")


@BOTH
def test_b02_fr_05_request_start_and_stop_transaction_are_rejected_while_pending(version: str) -> None:
    session, _ = answered("Pending", version)
    session.events()
    for number, (action, payload) in enumerate([("RequestStartTransaction", START),
                                                ("RequestStopTransaction", STOP)]):
        session.receive(csms_call(f"t{number}", action, payload), T0 + 2)
        [answer] = wire(session)
        assert answer == [3, f"t{number}", {"status": "Rejected"}]
        _response_schema(version, action).validate(answer[2])
        assert session.events() == []  # answered by the session: the station never sees it
    # Accepted: the station's business again (today it answers NotSupported: no transactions yet).
    session.tick(T0 + 6)
    session.receive(result(one_call(session, "BootNotification"), boot_answer("Accepted", 5)), T0 + 7)
    session.events()
    session.receive(csms_call("t9", "RequestStartTransaction", START), T0 + 8)
    assert [type(e) for e in session.events()] == [CallReceived]


@BOTH
def test_b02_fr_05_a_rejection_given_at_once_waits_for_the_answer_to_an_earlier_pipelined_call(version: str) -> None:
    """Part 4 §4.1.1 lets a CSMS send one CALL at a time; one that pipelines still gets its answers in the
    order of its CALLs: the session's own answers (B02.FR.05's Rejected, a CALLERROR to a frame it cannot
    read) wait behind the station's answer to the CALL before them."""
    session, _ = answered("Pending", version)
    session.events()
    session.receive(csms_call("c1", "GetVariables", GET_VARIABLES), T0 + 2)
    session.receive(csms_call("c2", "RequestStartTransaction", START), T0 + 2)
    session.receive('[2, "c3", "GetVariables"]', T0 + 2)  # a CALL without its payload: FormationViolation
    [received] = [event for event in session.events() if isinstance(event, CallReceived)]
    assert received.call.id == "c1"
    assert wire(session) == []  # nothing overtakes c1
    session.answer("c1", {"getVariableResult": []})
    answers = wire(session)
    assert [frame[1] for frame in answers] == ["c1", "c2", "c3"]
    assert answers[1] == [3, "c2", {"status": "Rejected"}] and answers[2][0] == 4


def test_answers_held_before_the_boot_answer_keep_their_order_when_released() -> None:
    """CALLs that came while BOOTING are taken by the rules of Pending in their order, answered in it."""
    session = make(connectors=[])
    boot = one_call(session, "BootNotification")
    session.receive(csms_call("h1", "GetVariables", GET_VARIABLES), T0 + 1)
    session.receive(csms_call("h2", "RequestStopTransaction", STOP), T0 + 1)
    session.receive(result(boot, boot_answer("Pending", 5)), T0 + 2)
    assert wire(session) == []
    session.events()
    session.answer("h1", {"getVariableResult": []})
    assert [frame[1] for frame in wire(session)] == ["h1", "h2"]


@NOT_ACCEPTED
def test_b02_fr_06_b03_fr_04_the_connection_stays_open_while_not_accepted(status: str) -> None:
    """Pending: the station SHALL NOT close (B02.FR.06). Rejected: it MAY (B03.FR.04); we do not — a
    closed connection would cost the CSMS a reconnect, with TLS, at every retry."""
    session, _ = answered(status, interval=3600)
    session.events()
    now = T0 + 1
    for _ in range(24):  # a day of hourly retries
        now += 3600
        session.tick(now)
        session.receive(result(one_call(session, "BootNotification"), boot_answer(status, 3600)), now)
        assert [type(e) for e in session.events()] == [BootNotAccepted]
        assert session.state is State(status.lower()) and session.next_deadline() == now + 3600


@BOTH
@NOT_ACCEPTED
def test_b02_fr_07_b03_fr_05_interval_0_waits_a_time_of_our_own_that_grows_to_a_cap(version: str, status: str) -> None:
    """Our own wait (the RetryBackOff wait the shell gives, B02.FR.07: "avoids flooding the CSMS")
    doubles with every answer in a row that leaves it to us, up to OWN_BOOT_RETRY_MAX_S; an answer
    with an interval of its own starts it again."""
    session, _ = answered(status, version, interval=0)
    waits = []
    now = T0 + 1
    for _ in range(10):
        [event] = session.events()
        assert isinstance(event, BootNotAccepted) and event.interval == 0
        waits.append(event.retry_in)
        deadline = session.next_deadline()
        assert deadline == now + event.retry_in
        now = deadline
        session.tick(now)
        session.receive(result(one_call(session, "BootNotification"), boot_answer(status, 0)), now)
    cap = session_module.OWN_BOOT_RETRY_MAX_S
    assert waits == [min(RETRY * 2**n, cap) for n in range(10)], waits
    assert waits[-1] == cap
    session.events()
    session.tick(now + cap)
    session.receive(result(one_call(session, "BootNotification"), boot_answer(status, 4)), now + cap)
    session.events()
    session.tick(now + cap + 4)
    session.receive(result(one_call(session, "BootNotification"), boot_answer(status, 0)), now + cap + 4)
    assert session.events() == [BootNotAccepted(status, 0, RETRY)]


def test_b02_fr_07_our_own_wait_is_never_below_1_s() -> None:
    session = Session(V201, boot_reason="PowerUp", charging_station=STATION, connectors=[], message_timeout=TIMEOUT,
                      heartbeat_interval=60, boot_retry_s=0, now=T0)
    session.receive(result(one_call(session, "BootNotification"), boot_answer("Pending", 0)), T0 + 1)
    assert session.events() == [BootNotAccepted("Pending", 0, 1.0)]


GET_REPORT = {"requestId": 1, "reportBase": "FullInventory"}
CSMS_CALLS = [
    pytest.param("GetVariables", GET_VARIABLES, id="GetVariables"),
    pytest.param("SetVariables", {"setVariableData": [{"component": {"name": "SecurityCtrlr"},
                                                       "variable": {"name": "BasicAuthPassword"},
                                                       "attributeValue": "a-new-Pa55word-of-theirs"}]},
                 id="SetVariables"),
    pytest.param("Reset", {"type": "Immediate"}, id="Reset"),
    pytest.param("RequestStartTransaction", START, id="RequestStartTransaction"),
    pytest.param("GetBaseReport", GET_REPORT, id="GetBaseReport"),
    pytest.param("NoSuchAction", {}, id="unknown-action"),
    pytest.param("GetVariables", {"getVariableData": "not a list"}, id="invalid-payload"),
]


@BOTH
@pytest.mark.parametrize(("action", "payload"), CSMS_CALLS)
def test_b03_fr_08_every_csms_call_while_rejected_gets_security_error(version: str, action: str,
                                                                      payload: dict[str, Any]) -> None:
    session, _ = answered("Rejected", version, interval=3)
    session.events()
    session.receive(csms_call("r-1", action, payload), T0 + 2)
    [answer] = wire(session)
    assert answer[:3] == [4, "r-1", "SecurityError"], answer
    assert session.events() == []  # never reaches the station
    session.tick(T0 + 4)
    retry = one_call(session, "BootNotification")
    session.receive(csms_call("r-2", action, payload), T0 + 4.5)  # our retry outstanding: still Rejected
    assert wire(session)[0][:3] == [4, "r-2", "SecurityError"]
    assert session.events() == []
    session.receive(result(retry, boot_answer("Accepted", 3)), T0 + 5)
    session.events()
    session.receive(csms_call("r-3", action, payload), T0 + 6)  # accepted: the station's again
    assert [e.call.id for e in session.events() if isinstance(e, CallReceived)] == ["r-3"]


@BOTH
@pytest.mark.parametrize("order", ["call-then-rejected", "rejected-then-call"])
def test_b03_fr_08_a_call_arriving_with_the_rejected_answer_gets_security_error(version: str, order: str) -> None:
    """The CSMS's CALL and its Rejected answer read together, in either order: the CALL is not run.

    A CALL that comes before any answer to our BootNotification is held until the answer (see
    :class:`State`), so the order in which the two arrive makes no difference."""
    session = make(version)
    boot = one_call(session, "BootNotification")
    texts = [csms_call("x-1", "SetVariables", CSMS_CALLS[1].values[1]), result(boot, boot_answer("Rejected", 3))]
    for text in texts if order == "call-then-rejected" else reversed(texts):
        session.receive(text, T0 + 1)
    assert [frame[:3] for frame in wire(session)] == [[4, "x-1", "SecurityError"]]
    assert [type(e) for e in session.events()] == [BootNotAccepted]


@pytest.mark.parametrize("status", ["Accepted", "Pending"])
def test_csms_calls_before_any_boot_answer_are_held_then_handed_out_in_order(status: str) -> None:
    """Before our BootNotification is answered the station does not know whether this CSMS rejects
    it: the CSMS's CALLs wait for the answer, then follow the rule of the state it puts us in."""
    session = make(connectors=[])
    boot = one_call(session, "BootNotification")
    session.receive(csms_call("h-1", "GetVariables", GET_VARIABLES), T0 + 1)
    session.receive(csms_call("h-2", "GetBaseReport", GET_REPORT), T0 + 1.5)
    assert session.events() == [] and wire(session) == []  # held: not run, not answered yet
    assert session.next_deadline() == T0 + TIMEOUT  # the boot's timeout still governs
    session.receive(result(boot, boot_answer(status, 5)), T0 + 2)
    events = session.events()
    assert [type(e) for e in events] == [BootAccepted if status == "Accepted" else BootNotAccepted,
                                         CallReceived, CallReceived]
    assert [e.call.id for e in events if isinstance(e, CallReceived)] == ["h-1", "h-2"]
    session.answer("h-1", {"getVariableResult": []})
    session.answer("h-2", {"status": "Accepted"})
    assert [frame[:2] for frame in wire(session)] == [[3, "h-1"], [3, "h-2"]]


def test_part4_4_2_3_a_csms_call_under_the_id_of_one_being_handled_is_dropped() -> None:
    session = make(connectors=[])
    boot = one_call(session, "BootNotification")
    session.receive(csms_call("same", "GetVariables", GET_VARIABLES), T0 + 1)
    session.receive(csms_call("same", "GetVariables", GET_VARIABLES), T0 + 1)  # held twice? no
    [problem] = session.events()
    assert isinstance(problem, ProtocolProblem) and "'same'" in problem.description
    session.receive(result(boot, boot_answer("Accepted", 5)), T0 + 2)
    assert [e.call.id for e in session.events() if isinstance(e, CallReceived)] == ["same"]
    session.receive(csms_call("same", "GetVariables", GET_VARIABLES), T0 + 3)  # still being answered
    assert [type(e) for e in session.events()] == [ProtocolProblem]
    session.answer("same", {"getVariableResult": []})
    assert wire(session) == [[3, "same", {"getVariableResult": []}]]  # one answer under that id


def test_csms_calls_held_before_an_unusable_boot_answer_are_never_run() -> None:
    session = make()
    boot = one_call(session, "BootNotification")
    session.receive(csms_call("h-1", "Reset", {"type": "Immediate"}), T0 + 1)
    session.receive(result(boot, {"status": "Accepted"}), T0 + 2)  # no currentTime, no interval
    assert [type(e) for e in session.events()] == [Close]
    assert wire(session) == []


def test_at_most_max_held_calls_wait_for_the_boot_answer() -> None:
    """The CSMS may have one CALL outstanding (Part 4 §4.1.1); what it sends beyond MAX_HELD_CALLS
    before answering us is refused at once (DESIGN rule 4: no backlog grows without bound)."""
    session = make()
    one_call(session, "BootNotification")
    for number in range(session_module.MAX_HELD_CALLS + 2):
        session.receive(csms_call(f"h-{number}", "GetVariables", GET_VARIABLES), T0 + 1)
    refused = wire(session)
    assert [frame[:3] for frame in refused] == [[4, f"h-{n}", "SecurityError"]
                                               for n in range(session_module.MAX_HELD_CALLS,
                                                              session_module.MAX_HELD_CALLS + 2)]


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
    session = accepted()
    heartbeat = one_call(session, "Heartbeat") if session.enqueue("Heartbeat", {}, T0 + 2) else None
    assert heartbeat is not None
    session.receive(csms_call("x", "GetVariables", GET_VARIABLES), T0 + 3)
    [received] = session.events()
    assert isinstance(received, CallReceived)
    session.answer("x", OcppError(ErrorCode.NOT_SUPPORTED, "no"))
    assert wire(session) == [[4, "x", "NotSupported", "no", {}]]
    session.receive(result(heartbeat, {"currentTime": "2025-01-02T03:04:05Z"}), T0 + 4)
    assert [type(e) for e in session.events()] == [CallAnswered]


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


# -- the CSMS's answers: its official response schema, then OCPP's 32-bit integers, before anything changes --

def raw_boot_answer(call: list[Any], interval: str, status: str = "Accepted") -> str:
    """A BootNotification CALLRESULT with ``interval`` written as raw JSON text (``1e300``, 401 digits)."""
    return f'[3,"{call[1]}",{{"currentTime":"2025-01-02T03:04:05Z","interval":{interval},"status":"{status}"}}]'


BAD_INTERVALS = [
    pytest.param('"abc"', id="interval-abc"),
    pytest.param("null", id="interval-null"),
    pytest.param("1" + "0" * 300, id="interval-10^300"),  # exact (the standard library's integers), 997 bits
    pytest.param("1e300", id="interval-1e300"),  # an integer to JSON Schema, far beyond 32 bits
    pytest.param("2147483648", id="interval-2^31"),
    pytest.param("-1", id="interval-negative"),
    pytest.param("5.5", id="interval-5.5"),
    pytest.param("true", id="interval-true"),
    pytest.param('{"s":5}', id="interval-object"),
]
BAD_BOOT_ANSWERS = [
    pytest.param({"currentTime": "2025-01-02T03:04:05Z", "interval": 5, "status": "Accepted", "x": 1},
                 "property not allowed", id="extra-property"),
    pytest.param({"interval": 5, "status": "Accepted"}, "/currentTime", id="missing-currentTime"),
    pytest.param({"currentTime": "2025-01-02T03:04:05Z", "status": "Accepted"}, "/interval", id="missing-interval"),
    pytest.param({"currentTime": "2025-01-02T03:04:05Z", "interval": 5}, "/status", id="missing-status"),
    pytest.param({"currentTime": "2025-01-02T03:04:05Z", "interval": 5, "status": "accepted"}, "/status",
                 id="status-lower-case"),
    pytest.param({"currentTime": "2025-01-02T03:04:05Z", "interval": 5, "status": "Maybe"}, "/status",
                 id="status-not-in-enum"),
    pytest.param({"currentTime": "yesterday", "interval": 5, "status": "Accepted"}, "/currentTime",
                 id="currentTime-not-a-date-time"),
    pytest.param({"currentTime": "2025-01-02T03:04:05Z", "interval": 5, "status": "Accepted", "statusInfo": {}},
                 "/statusInfo/reasonCode", id="statusInfo-without-reasonCode"),
    pytest.param({"currentTime": "2025-01-02T03:04:05Z", "interval": 5, "status": "Accepted",
                  "customData": {"vendorId": "v", "n": 10**300}}, "/customData/n", id="customData-10^300"),
]


def _closed_by_an_unusable_boot_answer(session: Session, pointer: str) -> None:
    """CLOSED, nothing changed: no Accepted, no StatusNotification, nothing on the wire, one Close saying where."""
    assert session.state is State.CLOSED and not session.accepted
    [close] = session.events()
    assert isinstance(close, Close) and not close.reset
    assert "BootNotification" in close.reason and pointer in close.reason, close.reason
    assert wire(session) == []


@BOTH
@pytest.mark.parametrize("status", ["Accepted", "Pending", "Rejected"])
@pytest.mark.parametrize("interval", BAD_INTERVALS)
def test_part4_4_1_7_a_boot_answer_with_a_bad_interval_closes_the_session_and_changes_nothing(
        version: str, status: str, interval: str) -> None:
    """Issue 15 item 2: "abc" and null were taken as 0 (and Accepted), 10^400 crashed the session
    with an OverflowError after it had set ACCEPTED. Now no such answer changes anything: the
    session closes and the link backs off (the decision in :class:`State`)."""
    session = make(version)
    session.receive(raw_boot_answer(one_call(session, "BootNotification"), interval, status), T0 + 1)
    _closed_by_an_unusable_boot_answer(session, "/interval")


@BOTH
@pytest.mark.parametrize(("payload", "pointer"), BAD_BOOT_ANSWERS)
def test_part4_4_1_7_a_boot_answer_that_breaks_its_schema_closes_the_session_and_changes_nothing(
        version: str, payload: dict[str, Any], pointer: str) -> None:
    session = make(version)
    session.receive(result(one_call(session, "BootNotification"), payload), T0 + 1)
    _closed_by_an_unusable_boot_answer(session, pointer)


@BOTH
@pytest.mark.parametrize("status", ["Accepted", "Pending", "Rejected"])
def test_a_boot_answer_with_a_401_digit_interval_changes_nothing(version: str, status: str) -> None:
    """10^400: whether the frame parser reads it (an exact integer, beyond 32 bits: unusable) or
    refuses it (no double holds it: not JSON, answered RpcFrameworkError "-1"), nothing changes:
    no Accepted, no StatusNotification, no wait computed from it."""
    session = make(version)
    session.receive(raw_boot_answer(one_call(session, "BootNotification"), "1" + "0" * 400, status), T0 + 1)
    assert not session.accepted and not [e for e in session.events() if isinstance(e, BootAccepted | BootNotAccepted)]
    assert [frame[:3] for frame in wire(session)] in ([], [[4, "-1", "RpcFrameworkError"]])
    session.tick(T0 + TIMEOUT)
    assert session.state is State.CLOSED


@BOTH
def test_part4_4_2_3_a_boot_answer_that_is_no_json_1e999_is_answered_and_the_boot_times_out(version: str) -> None:
    """1e999 is no JSON number we can read (infinity): the frame is unreadable, answered with
    RpcFrameworkError under id "-1", and the boot is still unanswered until its timeout."""
    session = make(version)
    session.receive(raw_boot_answer(one_call(session, "BootNotification"), "1e999"), T0 + 1)
    assert [frame[:3] for frame in wire(session)] == [[4, "-1", "RpcFrameworkError"]]
    assert [type(e) for e in session.events()] == [ProtocolProblem]
    assert session.state is State.BOOTING and not session.accepted
    session.tick(T0 + TIMEOUT)
    assert session.events() == [Close("no answer to BootNotification within 30 s")]


def test_an_unusable_answer_names_the_place_safely_for_a_log_line() -> None:
    """customData's keys are the CSMS's: one that would forge a log line is shown escaped and cut."""
    session = make()
    forged = "n\n2025-01-01 00:00:00,000 ERROR forged line" + "x" * 100
    session.receive(result(one_call(session, "BootNotification"),
                           {**boot_answer("Accepted", 5), "customData": {"vendorId": "v", forged: 10**300}}), T0 + 1)
    [close] = session.events()
    assert isinstance(close, Close) and "\n" not in close.reason and "\\n2025" in close.reason
    assert "x" * 40 not in close.reason


def test_a_valid_boot_answer_with_5_0_and_custom_data_is_used() -> None:
    """What the schema allows is used: 5.0 is an integer to JSON Schema, customData is free."""
    session = make(connectors=[])
    boot = one_call(session, "BootNotification")
    session.receive(result(boot, {**boot_answer("Pending", 5), "interval": 5.0,
                                  "customData": {"vendorId": "v", "deep": [[[1]]]}}), T0 + 1)
    assert session.events() == [BootNotAccepted("Pending", 5, 5.0)]


BAD_HEARTBEAT_ANSWERS = [
    pytest.param({}, id="missing-currentTime"),
    pytest.param({"currentTime": 5}, id="currentTime-a-number"),
    pytest.param({"currentTime": "soon"}, id="currentTime-not-a-date-time"),
    pytest.param({"currentTime": None}, id="currentTime-null"),
    pytest.param({"currentTime": "2025-01-02T03:04:05Z", "x": 1}, id="extra-property"),
    pytest.param({"currentTime": "2025-01-02T03:04:05Z", "customData": {"vendorId": "v", "n": 10**300}},
                 id="customData-10^300"),
]


@BOTH
@pytest.mark.parametrize("payload", BAD_HEARTBEAT_ANSWERS)
def test_an_invalid_heartbeat_answer_is_a_protocol_problem_and_the_session_goes_on(
        version: str, payload: dict[str, Any]) -> None:
    """The CSMS did answer (Part 4 §4.1.1: the CALL is responded to), so the session goes on and the
    next heartbeat is due an interval later; what it answered is not used, and said (once, by the link)."""
    session = accepted(version, interval=10)
    session.set_heartbeat_interval(10)
    session.tick(T0 + 11)
    heartbeat = one_call(session, "Heartbeat")
    session.receive(result(heartbeat, payload), T0 + 11.5)
    [problem] = session.events()
    assert isinstance(problem, ProtocolProblem) and "Heartbeat" in problem.description
    assert session.state is State.ACCEPTED and session.next_deadline() == T0 + 21.5


BAD_STATUS_ANSWERS = [
    pytest.param({"x": 1}, id="extra-property"),
    pytest.param({"customData": 5}, id="customData-a-number"),
    pytest.param({"customData": {}}, id="customData-without-vendorId"),
    pytest.param({"customData": {"vendorId": "v", "n": 1e300}}, id="customData-1e300"),
]


@BOTH
@pytest.mark.parametrize("payload", BAD_STATUS_ANSWERS)
def test_an_invalid_status_notification_answer_is_a_protocol_problem_and_the_next_goes_out(
        version: str, payload: dict[str, Any]) -> None:
    session = make(version, connectors=[(1, 1), (2, 1)])
    session.receive(result(one_call(session, "BootNotification"), boot_answer("Accepted", 5)), T0 + 1)
    session.events()
    session.receive(result(one_call(session, "StatusNotification"), payload), T0 + 2)
    [problem] = session.events()
    assert isinstance(problem, ProtocolProblem) and "StatusNotification" in problem.description
    one_call(session, "StatusNotification")  # the next connector's
    assert session.state is State.ACCEPTED


QUEUED_BAD_ANSWERS = [
    pytest.param("Heartbeat", {}, "/currentTime", id="Heartbeat-missing-currentTime"),
    pytest.param("Heartbeat", {"currentTime": "2025-01-02T03:04:05Z", "x": 1}, "property not allowed",
                 id="Heartbeat-extra"),
    pytest.param("BootNotification", {**boot_answer("Accepted", 5), "interval": "abc"}, "/interval",
                 id="BootNotification-interval-abc"),
    pytest.param("BootNotification", {**boot_answer("Accepted", 5), "interval": None}, "/interval",
                 id="BootNotification-interval-null"),
    pytest.param("BootNotification", {**boot_answer("Accepted", 5), "interval": 10**300}, "/interval",
                 id="BootNotification-interval-10^300"),
    pytest.param("BootNotification", boot_answer("Later", 5), "/status", id="BootNotification-status-enum"),
]


@BOTH
@pytest.mark.parametrize(("action", "payload", "pointer"), QUEUED_BAD_ANSWERS)
def test_an_invalid_answer_to_a_queued_call_fails_it_and_the_session_goes_on(
        version: str, action: str, payload: dict[str, Any], pointer: str) -> None:
    """The station never sees an answer that breaks its schema: the CALL fails (CallFailed, not
    CallAnswered) and the next queued CALL goes out."""
    session = accepted(version)
    request = {"reason": "Triggered", "chargingStation": STATION} if action == "BootNotification" else {}
    bad = session.enqueue(action, request, T0 + 2)
    good = session.enqueue("Heartbeat", {}, T0 + 2)
    session.receive(result(one_call(session, action), payload), T0 + 3)
    events = session.events()
    assert [type(e) for e in events] == [ProtocolProblem, CallFailed]
    failed = events[1]
    assert isinstance(failed, CallFailed) and failed.call_id == bad and pointer in failed.reason, failed
    assert failed.error is None
    assert one_call(session, "Heartbeat")[1] == good
    assert session.state is State.ACCEPTED


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


# -- outbox CALLs: a given message id, B02.FR.02's exception, the four ways a queued CALL fails --------------

REPORT_PART = {"requestId": 7, "generatedAt": "2025-01-02T03:04:05Z", "seqNo": 0, "tbc": False,
               "reportData": [{"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"},
                               "variableAttribute": [{"type": "Actual", "value": "60", "mutability": "ReadWrite"}],
                               "variableCharacteristics": {"dataType": "integer", "supportsMonitoring": False}}]}
ROW_ID = "5f0c1e9a-6d0b-4d53-9a51-2f9e0c7d1b11"  # as the outbox stores it: a UUID made when the row was


def part(seq_no: int, tbc: bool = True) -> dict[str, Any]:
    return {**REPORT_PART, "seqNo": seq_no, "tbc": tbc}


@BOTH
def test_part4_4_1_4_a_call_enqueued_with_an_id_is_sent_under_it_on_every_connection(version: str) -> None:
    """The outbox's row goes under its stored id, and again under it on the next connection (a retry
    MAY reuse its id: 2.1 Part 4 §4.1.4; 2.0.1 §4.1.4 as errata 2025-09 §4.6 amends it)."""
    first = accepted(version)
    assert first.enqueue("NotifyReport", part(0), T0 + 2, call_id=ROW_ID, triggered=True) == ROW_ID
    assert one_call(first, "NotifyReport")[1] == ROW_ID
    first.tick(T0 + 2 + TIMEOUT)  # no answer: the session ends, the row would stay in the outbox
    assert [type(e) for e in first.events()] == [CallFailed, Close]

    again = accepted(version)
    again.enqueue("NotifyReport", part(0), T0 + 2, call_id=ROW_ID, triggered=True)
    sent = one_call(again, "NotifyReport")
    assert sent[1] == ROW_ID and sent[3] == part(0)
    again.receive(result(sent, {}), T0 + 3)
    assert again.events() == [CallAnswered(ROW_ID, "NotifyReport", {})]


def test_an_id_already_queued_or_outstanding_is_a_bug_of_the_shell() -> None:
    session = accepted()
    session.enqueue("NotifyReport", part(0), T0 + 2, call_id=ROW_ID)
    with pytest.raises(ValueError, match="queued or outstanding"):
        session.enqueue("NotifyReport", part(1), T0 + 2, call_id=ROW_ID)
    assert one_call(session, "NotifyReport")[1] == ROW_ID  # the first is untouched


@pytest.mark.parametrize("bad_id", ["", "x" * 37])
def test_part4_4_1_4_an_id_that_is_no_message_id_is_never_sent(bad_id: str) -> None:
    session = accepted()
    session.enqueue("NotifyReport", part(0), T0 + 2, call_id=bad_id, triggered=True)
    good = session.enqueue("Heartbeat", {}, T0 + 2)
    assert one_call(session, "Heartbeat")[1] == good
    [failed] = session.events()
    assert failed.failure is session_module.Failure.NOT_SENT and "message id" in failed.reason  # type: ignore[union-attr]


@BOTH
def test_b02_fr_02_what_the_csms_asked_for_goes_while_pending_and_nothing_else(version: str) -> None:
    """B02.FR.02: no CALL but BootNotification before Accepted, "unless it has been instructed by the
    CSMS to do so, using ... TriggerMessageRequest, GetBaseReportRequest, GetReportRequest" (the same
    words in 2.0.1 and 2.1). The parts go one at a time, in order; the due boot retry first
    (B02.FR.04/08); the station's other CALLs wait for Accepted (B02.FR.03); no heartbeat."""
    session, _ = answered("Pending", version, interval=5, connectors=[(1, 1)])
    session.events()
    waiting = session.enqueue("Heartbeat", {}, T0 + 1)  # not triggered: waits for Accepted
    ids = [session.enqueue("NotifyReport", part(n, tbc=n < 2), T0 + 1, call_id=f"part-{n}", triggered=True)
           for n in range(3)]
    first = one_call(session, "NotifyReport")
    assert first[1] == ids[0] and first[3]["seqNo"] == 0
    session.receive(result(first, {}), T0 + 2)
    assert session.events() == [CallAnswered(ids[0], "NotifyReport", {})]
    second = one_call(session, "NotifyReport")
    assert second[1] == ids[1]
    session.receive(result(second, {}), T0 + 6)  # the boot retry is due (T0 + 1 + 5): it goes before part 2
    boot = one_call(session, "BootNotification")
    session.receive(result(boot, boot_answer("Pending", 5)), T0 + 6)
    third = one_call(session, "NotifyReport")
    assert third[1] == ids[2] and third[3]["tbc"] is False
    session.receive(result(third, {}), T0 + 7)
    assert wire(session) == []  # nothing but what was asked for: no Heartbeat, no StatusNotification
    assert session.state is State.PENDING and session.next_deadline() == T0 + 11  # the boot retry, no heartbeat
    session.tick(T0 + 11)
    session.receive(result(one_call(session, "BootNotification"), boot_answer("Accepted", 5)), T0 + 11)
    session.receive(result(one_call(session, "StatusNotification"), {}), T0 + 11)  # B01.FR.05 first
    assert one_call(session, "Heartbeat")[1] == waiting  # then what waited


@BOTH
def test_b03_fr_02_b01_fr_08_what_the_csms_asked_for_waits_while_rejected_or_booting(version: str) -> None:
    """B01.FR.08: nothing before the first answer (cached messages from prior sessions included).
    B03.FR.02: "any OCPP message" only after the retry interval, and B03.FR.07 would answer it
    SecurityError: a triggered CALL waits through Rejected too, and goes once Accepted."""
    session = make(version, connectors=[])
    boot = one_call(session, "BootNotification")
    row = session.enqueue("NotifyReport", part(0), T0, call_id=ROW_ID, triggered=True)
    assert wire(session) == []  # BOOTING
    session.receive(result(boot, boot_answer("Rejected", 5)), T0 + 1)
    now = T0 + 1
    for _ in range(3):
        assert wire(session) == []  # REJECTED: not before the retry, nor with it
        now += 5
        session.tick(now)
        retry = one_call(session, "BootNotification")
        session.receive(result(retry, boot_answer("Rejected", 5)), now)
    now += 5
    session.tick(now)
    session.receive(result(one_call(session, "BootNotification"), boot_answer("Accepted", 5)), now)
    assert one_call(session, "NotifyReport")[1] == row


@BOTH
@pytest.mark.parametrize("status", ["Accepted", "Pending"])
def test_a_schema_invalid_enqueued_call_is_reported_not_sent_and_the_next_goes(version: str, status: str) -> None:
    """The session checks an outbox row as it checks every CALL: one that breaks the official schema
    (seqNo missing) is never sent, in Accepted or Pending alike; CallFailed NOT_SENT, then the next."""
    session, _ = answered(status, version)
    session.events()
    broken = {key: value for key, value in part(0).items() if key != "seqNo"}
    session.enqueue("NotifyReport", broken, T0 + 2, call_id="broken-row", triggered=True)
    session.enqueue("NotifyReport", part(1), T0 + 2, call_id="good-row", triggered=True)
    assert one_call(session, "NotifyReport")[1] == "good-row"
    [failed] = [e for e in session.events() if isinstance(e, CallFailed)]
    assert (failed.call_id, failed.failure) == ("broken-row", session_module.Failure.NOT_SENT)
    assert "seqNo" in failed.reason


def test_each_way_a_queued_call_fails_says_which_it_was() -> None:
    """What the shell needs to know of a failed outbox row: answered CALLERROR (REFUSED, with the
    error), answered unusably (UNUSABLE: the CSMS has it), or not answered at all (UNANSWERED)."""
    Failure = session_module.Failure
    session = accepted()
    refused = session.enqueue("NotifyReport", part(0), T0 + 2, call_id="refused")
    session.receive(json.dumps([4, one_call(session, "NotifyReport")[1], "GenericError", "no", {}]), T0 + 2)
    unusable = session.enqueue("NotifyReport", part(1), T0 + 2, call_id="unusable")
    session.receive(result(one_call(session, "NotifyReport"), {"status": "Accepted"}), T0 + 2)  # no such field
    session.enqueue("NotifyReport", part(2), T0 + 2, call_id="timed-out")
    session.enqueue("NotifyReport", part(3), T0 + 2, call_id="queued")
    one_call(session, "NotifyReport")
    session.tick(T0 + 2 + TIMEOUT)
    failed = {e.call_id: e for e in session.events() if isinstance(e, CallFailed)}
    assert {call_id: e.failure for call_id, e in failed.items()} == {
        refused: Failure.REFUSED, unusable: Failure.UNUSABLE, "timed-out": Failure.UNANSWERED,
        "queued": Failure.UNANSWERED}
    assert failed[refused].error is not None and failed[refused].error.code is ErrorCode.GENERIC_ERROR
    closed = session.enqueue("NotifyReport", part(4), T0 + 40, call_id="after-close")
    [late] = session.events()
    assert late == CallFailed(closed, "NotifyReport", "the session is closed", None, Failure.UNANSWERED)


def test_b01_fr_04_an_answered_notify_report_counts_as_something_of_ours_answered() -> None:
    """The heartbeat is due when nothing of ours was answered for the interval: a NotifyReport
    answered, as any CALL, moves it."""
    session = accepted(interval=10, now=T0 + 1)
    session.set_heartbeat_interval(10)
    assert session.next_deadline() == T0 + 11
    session.enqueue("NotifyReport", part(0), T0 + 8, call_id=ROW_ID, triggered=True)
    session.receive(result(one_call(session, "NotifyReport"), {}), T0 + 9)
    assert session.next_deadline() == T0 + 19
    session.tick(T0 + 11)
    assert wire(session) == []  # no heartbeat at the old deadline


# -- the invariants, under any sequence of inputs ----------------------------------------------------------

def _inputs() -> st.SearchStrategy[list[tuple[str, Any]]]:
    csms_text = st.sampled_from([
        csms_call("c1", "GetVariables", GET_VARIABLES), csms_call("c2", "Reset", {"type": "Immediate"}),
        "garbage", "[7,\"u\",{}]", '[3,"stray",{}]', '[4,"stray","GenericError","",{}]'])
    status = st.sampled_from(["Accepted", "Pending", "Rejected"])
    return st.lists(st.one_of(
        st.tuples(st.just("text"), csms_text),
        st.tuples(st.just("answer-ours"), status),  # a CALLRESULT to whatever of ours is outstanding
        st.tuples(st.just("bad-answer-ours"), st.sampled_from(['{"x":1}', '{"interval":"abc"}', "null"])),
        st.tuples(st.just("error-ours"), st.none()),
        st.tuples(st.just("tick"), st.floats(0, 40)),
        st.tuples(st.just("enqueue"), st.booleans()),  # True: a valid CALL, False: one that breaks its schema
        st.tuples(st.just("enqueue-triggered"), st.booleans()),  # a report part the CSMS asked for (B02.FR.02)
        st.tuples(st.just("reset"), st.none())), max_size=40)


ANSWERS = {"Heartbeat": {"currentTime": "2025-01-02T03:04:05Z"}, "StatusNotification": {}, "NotifyReport": {}}


@settings(max_examples=300, deadline=None)
@given(version=st.sampled_from([V201, V21]), inputs=_inputs())
def test_invariants_hold_for_any_sequence_of_inputs(version: str, inputs: list[tuple[str, Any]]) -> None:
    """Whatever happens: every frame is valid (CALLs for their schema), at most one CALL of ours is
    outstanding, nothing but BootNotification before Accepted (and, while PENDING only, what the CSMS
    asked for: B02.FR.02), nothing at all once CLOSED, every CSMS CALL handed out is answered once its
    answer is given, and the deadline is None only when CLOSED."""
    session = make(version, connectors=[(1, 1)])
    now = T0
    outstanding: list[Any] | None = None
    handed_out: list[str] = []  # CSMS CALLs the session handed to the "station", not yet answered by it
    awaiting: list[str] = []  # ids the station answered: each must go out exactly once
    triggered: set[str] = set()  # ids of the CALLs enqueued as asked for by the CSMS

    def check() -> None:
        nonlocal outstanding
        for frame in wire(session):
            if frame[0] == 2:
                assert outstanding is None, (outstanding, frame)  # Part 4 §4.1.1
                if not session.accepted:  # B01.FR.08, B02.FR.02, B03.FR.02
                    assert frame[2] == "BootNotification" or (
                        frame[1] in triggered and session.state is State.PENDING), (session.state, frame)
                outstanding = frame
            elif frame[1] in awaiting:
                awaiting.remove(frame[1])
        for event in session.events():
            if isinstance(event, CallReceived):
                assert session.state not in (State.REJECTED, State.BOOTING)  # B03.FR.08; held until answered
                handed_out.append(event.call.id)
                continue
            if isinstance(event, BootAccepted):
                assert session.state in (State.ACCEPTED, State.CLOSED)  # (a Reset may follow in the same input)
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
            payload = ANSWERS.get(outstanding[2], {}) if outstanding[2] != "BootNotification" else boot_answer(value, 3)
            message, outstanding = result(outstanding, payload), None
            session.receive(message, now)
        elif kind == "bad-answer-ours" and outstanding is not None:
            message, outstanding = f'[3,"{outstanding[1]}",{{"bad":{value}}}]', None
            session.receive(message, now)
        elif kind == "error-ours" and outstanding is not None:
            message, outstanding = json.dumps([4, outstanding[1], "GenericError", "", {}]), None
            session.receive(message, now)
        elif kind == "tick":
            now += value
            session.tick(now)
        elif kind == "enqueue":
            session.enqueue("Heartbeat" if value else "StatusNotification", {}, now)
        elif kind == "enqueue-triggered":
            triggered.add(session.enqueue("NotifyReport", part(0) if value else {"seqNo": 0}, now, triggered=True))
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

@pytest.mark.parametrize("module", ["session.py", "outgoing.py", "incoming.py", "frames.py"])
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


# -- issue 17: TriggerMessage BootNotification, reconnections with a reason, InvalidMessages ---------------------

@BOTH
def test_F06_trigger_boot_while_pending_sends_the_boot_notification_at_once_with_reason_triggered(
        version: str) -> None:
    session, _ = answered("Pending", version, interval=300)
    session.events()
    assert wire(session) == [] and session.next_deadline() == T0 + 1 + 300
    session.trigger_boot(T0 + 2)
    boot = one_call(session, "BootNotification")  # now, not at the interval's end
    assert boot[3] == {"reason": "Triggered", "chargingStation": STATION}
    assert session.next_deadline() == T0 + 2 + TIMEOUT  # its message timeout
    session.trigger_boot(T0 + 3)  # while it is outstanding: one CALL at a time (Part 4 §4.1.1)
    assert wire(session) == []
    session.receive(result(boot, boot_answer("Accepted", 10)), T0 + 4)
    assert session.state is State.ACCEPTED and session.events() == [BootAccepted(10)]


@BOTH
def test_F06_trigger_boot_while_pending_goes_before_what_the_csms_asked_for(version: str) -> None:
    session, _ = answered("Pending", version, interval=300)
    session.events()
    first = session.enqueue("NotifyReport", part(0), T0 + 2, triggered=True)
    second = session.enqueue("NotifyReport", part(1, tbc=False), T0 + 2, triggered=True)
    [frame] = wire(session)
    assert frame[1] == first  # a part goes while Pending (B02.FR.02)
    session.trigger_boot(T0 + 3)  # the part is outstanding: the boot waits for its answer …
    assert wire(session) == []
    session.receive(result(frame, {}), T0 + 4)
    boot = one_call(session, "BootNotification")  # … then goes before the next part
    assert boot[3]["reason"] == "Triggered"
    session.receive(result(boot, boot_answer("Pending", 300)), T0 + 5)
    assert one_call(session, "NotifyReport")[1] == second


@pytest.mark.parametrize("status", ["Accepted", "Rejected"])
def test_F06_FR_17_trigger_boot_is_ignored_once_accepted_or_while_rejected(status: str) -> None:
    session = accepted() if status == "Accepted" else answered("Rejected", interval=300)[0]
    session.events()
    deadline = session.next_deadline()
    session.trigger_boot(T0 + 2)
    assert wire(session) == [] and session.events() == []
    assert session.next_deadline() == deadline
    assert session.state is State[status.upper()]


def test_F06_trigger_boot_while_booting_is_ignored_and_the_next_boot_keeps_its_reason() -> None:
    session = make(connectors=[], reason="PowerUp")
    boot = one_call(session, "BootNotification")
    session.trigger_boot(T0 + 0.5)  # the first boot is outstanding: nothing more to send
    assert wire(session) == [] and session.events() == []
    assert session.next_deadline() == T0 + TIMEOUT
    session.receive(result(boot, boot_answer("Pending", 5)), T0 + 1)
    session.tick(T0 + 6)
    assert one_call(session, "BootNotification")[3]["reason"] == "PowerUp"


@pytest.mark.parametrize("reason", ["a new BasicAuthPassword (A01)", "a new ChargingStationCertificate (A02.FR.08)"])
def test_reset_requested_with_a_reason_closes_only_after_the_answer_being_given(reason: str) -> None:
    session = accepted()
    session.receive(csms_call("set-1", "SetVariables", {"setVariableData": [
        {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"},
         "attributeValue": "x" * 16}]}), T0 + 2)
    session.receive(csms_call("get-1", "GetVariables", GET_VARIABLES), T0 + 2)
    assert [type(e) for e in session.events()] == [CallReceived, CallReceived]
    session.reset_requested(reason)  # the handler's effect committed; its answer is not out yet
    assert session.events() == [] and session.state is State.ACCEPTED
    session.answer("set-1", {"setVariableResult": []})
    assert wire(session) == [[3, "set-1", {"setVariableResult": []}]]
    assert session.events() == [] and session.state is State.ACCEPTED  # another CALL is still being answered
    session.answer("get-1", {"getVariableResult": []})
    assert wire(session) == [[3, "get-1", {"getVariableResult": []}]]
    assert session.events() == [Close(reason, reset=True)]
    assert session.state is State.CLOSED


def test_reset_requested_with_a_reason_and_nothing_being_answered_closes_at_once_with_it() -> None:
    session = accepted()
    session.reset_requested("a new BasicAuthPassword (A01)")
    assert session.events() == [Close("a new BasicAuthPassword (A01)", reset=True)]


@BOTH
@pytest.mark.parametrize("text", ["not json", "{", '{"a":1}', "[]", "[2,5,\"X\",{}]", "[1e999999]",
                                  '[2,"abc","GetVariables"]'])
def test_A04_an_unreadable_frame_is_a_protocol_problem_marked_invalid_message(version: str, text: str) -> None:
    session = make(version)
    one_call(session, "BootNotification")
    session.receive(text, T0 + 1)
    [problem] = session.events()
    assert isinstance(problem, ProtocolProblem) and problem.invalid_message is True  # InvalidMessages (A04)


def _problems(session: Session) -> list[ProtocolProblem]:
    return [event for event in session.events() if isinstance(event, ProtocolProblem)]


def test_A04_a_usable_frame_the_session_cannot_use_is_a_protocol_problem_but_no_invalid_message() -> None:
    """OCPP-J messages that are wrong in what they say, not in being one: no InvalidMessages event."""
    session = accepted(interval=10)
    session.set_heartbeat_interval(10)
    session.tick(T0 + 11)
    heartbeat = one_call(session, "Heartbeat")
    session.receive(result(heartbeat, {"currentTime": "soon"}), T0 + 12)  # an unusable answer
    session.receive(json.dumps([4, "-1", "RpcFrameworkError", "cannot read it", {}]), T0 + 12)  # the CSMS's complaint
    session.receive(csms_call("same", "GetVariables", GET_VARIABLES), T0 + 12)
    session.receive(csms_call("same", "GetVariables", GET_VARIABLES), T0 + 12)  # under an id being handled
    queued = session.enqueue("NotifyReport", part(0, tbc=False), T0 + 12)
    [frame] = [f for f in wire(session) if f[0] == 2]
    assert frame[1] == queued
    session.receive(result(frame, {"unexpected": 1}), T0 + 13)  # an unusable answer to a queued CALL
    problems = _problems(session)
    assert len(problems) == 4, problems
    assert [problem.invalid_message for problem in problems] == [False] * 4

"""One OCPP-J session with the CSMS (1.6, 2.0.1, 2.1), sans I/O: frames and clock in; frames, events, a deadline out.

The shape is ``websockets``' ``protocol.py`` under its ``asyncio/`` shell (and h11's ``_state.py``):
this module never touches a socket, a task or a thread, so every rule below is tested frame by
frame in memory (``tests/unit/test_csms_session.py``), and the shell
(:mod:`ocpp_station.csms.link`) only opens the websocket, moves text, runs the CSMS's CALLs
through the station and sleeps until :meth:`Session.next_deadline`.

Driving it::

    session = Session(version, boot_reason=..., charging_station=..., connectors=...,
                      message_timeout=..., heartbeat_interval=..., boot_retry_s=..., now=clock())
    # after every input — receive(text, now), tick(now), answer(call_id, outcome),
    # enqueue(action, payload, now[, call_id=..., triggered=...]), reset_requested() — the shell:
    for event in session.events(): ...        # CallReceived → run it, then answer(); Close → close
    for text in session.frames_to_send(): ... # send each, in order
    sleep until session.next_deadline() (None: no deadline) or the next message

What it owns: CALL correlation (each CALL of ours has a fresh UUID, Part 4 §4.1.4, unless the
shell gives the id: see :meth:`Session.enqueue`); the OCPP-J rule of one outstanding CALL of ours
at a time (Part 4 §4.1.1), each answered within the ``message_timeout`` or the session ends (as the
link always did: the walk reconnects); boot, StatusNotification and heartbeat (B01–B03); a FIFO
queue of the station's other CALLs, sent one at a time once accepted — or while Pending, for those
the CSMS asked for (B02.FR.02) — each reported back as :class:`CallAnswered` or :class:`CallFailed`;
and the check that every CALL it sends conforms to the official request schema of the session's
version (:mod:`ocpp_station.csms.outgoing`): one that does not is never sent (it is a bug of ours),
it is logged as an error and reported as :class:`CallFailed` (:attr:`Failure.NOT_SENT`).

The session knows nothing of where a queued CALL comes from (the station's outbox, say): the
shell decides what to queue, under which id, and what a :class:`CallFailed` means for it; the
:class:`Failure` in it says which of the four ways it failed.

The other direction too: every CALLRESULT the CSMS sends is checked against the official
*response* schema of the CALL it answers, in the session's version, and against OCPP's 32-bit
integer range (:mod:`ocpp_station.csms.incoming`) before anything of it is used. What the station
does with a usable answer is the station's: the heartbeat interval of an Accepted boot is
reported (:class:`BootAccepted`) and adopted only once the shell says the device model took it
(:meth:`Session.set_heartbeat_interval`), so the link and a SetVariables ask the one question.
OCPP 2.1's CALLRESULTERROR (message type 5), made for telling the CSMS that its CALLRESULT was
unusable, is not sent: the problem is logged, and for a BootNotification the connection closes
(see :class:`State`).

OCPP 1.6J runs the same states: 1.6 §4.2.1 gives Pending and Rejected the rules 2.x's B02/B03
later wrote down (while Pending, only what a TriggerMessage asked for; while Rejected, nothing
until the interval is over), and its errata recommend SecurityError for what the CSMS sends a
rejected station. What differs is data, kept out of this class: the payloads of the boot and the
StatusNotifications (:mod:`ocpp_station.station.own_messages`: 1.6 reports connector 0 and numbers
connectors 1..N), the names of the transaction requests refused while Pending and the spelling of
error codes (:mod:`ocpp_station.versions`); and one rule: a 1.6 TriggerMessage BootNotification is
honoured while Accepted too (:meth:`Session.trigger_boot`).

The CSMS's CALLs are the station's business: the session emits :class:`CallReceived`, the shell
runs it (the dispatcher validates the request and the answer) and hands the outcome back with
:meth:`Session.answer`; the session turns it into the CALLRESULT or CALLERROR frame.
"""

from __future__ import annotations

import enum
import logging
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .. import versions
from ..errors import MAX_ID_LENGTH, ErrorCode, OcppError
from ..logsafe import shown
from ..repeats import RepeatedLog
from ..station import own_messages
from ..station.datatypes import INT32_MAX
from . import frames
from .incoming import answer_problem
from .outgoing import request_problem

log = logging.getLogger(__name__)
# A CALL of ours that breaks its schema breaks it on every connection attempt (a station.toml value
# too long for BootNotification, say): said at ERROR once, then every 10 minutes.
_invalid_calls = RepeatedLog(log)

MAX_QUEUED_CALLS = 1000  # DESIGN rule 4: no backlog of ours grows without bound
MAX_HELD_CALLS = 8  # the CSMS's CALLs kept until our boot is answered (Part 4 §4.1.1 allows it one)
OWN_BOOT_RETRY_MAX_S = 300.0  # B02.FR.07/B03.FR.05: our own wait doubles up to this (5 min)


class State(enum.Enum):
    """Where a session is; what the CSMS last said about our registration decides it.

    The invariants, checked by the tests:

    BOOTING
        No answer to a BootNotification yet on this connection; the first one is outstanding.
        Nothing else of ours is sent (B01.FR.08, B02.FR.02). The CSMS's CALLs are *held*, not run
        (at most MAX_HELD_CALLS, the rest answered SecurityError): until it answers, we do not know
        whether this CSMS rejects us, so its CALLs wait for the answer and then follow the rule of
        the state it puts us in — handed to the station in arrival order when Accepted or Pending,
        SecurityError when Rejected (B03.FR.08, whichever of the CALL and the answer came first),
        never run when the session closes instead.
    PENDING
        The CSMS answered Pending: the next BootNotification is due at a deadline (the interval it
        gave, B02.FR.04/08; ours when it gave 0, B02.FR.07) or is outstanding. Nothing else of ours
        is sent (B02.FR.02; the station's CALLs wait in the queue, B02.FR.03) but what the CSMS
        instructed us to send with TriggerMessage, GetBaseReport or GetReport — B02.FR.02's own
        exception, in 2.0.1 and 2.1 alike (a NotifyReport part, say: enqueued with
        ``triggered=True``), sent one at a time in queue order, the due BootNotification first; the
        CSMS's CALLs are handed to the station and answered, so it may configure us (B02.FR.01),
        except RequestStartTransaction and RequestStopTransaction, which the session answers
        Rejected itself (B02.FR.05); the connection stays open (B02.FR.06). No heartbeat.
    REJECTED
        The CSMS answered Rejected: as PENDING (the retry at the interval, B03.FR.05/06), but
        nothing at all of ours before it, triggered or not (B03.FR.02: "any OCPP message"; B03.FR.07:
        the CSMS answers SecurityError to anything but a BootNotification), and every CALL of the
        CSMS is answered CALLERROR SecurityError without reaching the station (B03.FR.08). The
        connection stays open (B03.FR.04 would allow closing it; a reconnect at every retry would
        cost the CSMS more).
    ACCEPTED
        The CSMS accepted us: first a StatusNotification per connector (B01.FR.05), then the
        queued CALLs in order, then a Heartbeat whenever nothing of ours was answered for the
        heartbeat interval (the station's: B01.FR.04 through the device model, see
        :class:`BootAccepted`). The CSMS's CALLs are answered.
    CLOSED
        Final. Nothing more is sent; inputs are ignored; every queued or outstanding CALL of the
        station's was reported as :class:`CallFailed`, then :class:`Close`.

    So before Accepted, what goes out is: in BOOTING the BootNotification only (B01.FR.08, which
    names "cached OCPP messages … from prior sessions" too); in PENDING the BootNotification and the
    triggered CALLs; in REJECTED the BootNotification only.

    In every state but CLOSED at most one CALL of ours is outstanding (Part 4 §4.1.1), and
    :meth:`Session.next_deadline` is not None: the outstanding CALL's timeout, the boot retry,
    or the next heartbeat.

    What the CSMS answers is used only when it conforms to the official response schema of the
    CALL it answers and every integer in it is one of OCPP's 32-bit integers (:mod:`.incoming`):

    * an unusable answer to our BootNotification (an interval of ``"abc"``, ``null``, 10^400 or
      below 0, a status outside the enum, a field missing or one too many) is no answer we can act
      on, and it changes nothing: the session closes (:class:`Close`), and the link counts a failed
      attempt and backs off before it connects again (RetryBackOff*, growing, jittered), the same
      as for a CALLERROR to the boot. Retrying on the same connection would need a backoff of its
      own in here; closing keeps one backoff, the link's, for every way a CSMS can fail us;
    * an unusable answer to a StatusNotification or a Heartbeat is reported as
      :class:`ProtocolProblem` (the link logs it once, then summarised) and not used; the CALL
      counts as answered (the CSMS is there), so the session goes on;
    * an unusable answer to a queued CALL fails it (:class:`CallFailed`, :attr:`Failure.UNUSABLE`,
      never :class:`CallAnswered`) with a :class:`ProtocolProblem`; the next queued CALL goes out.

    An answer that is no JSON at all (``1e999``, an infinity) cannot be matched to our CALL: it is
    answered RpcFrameworkError under id "-1" (Part 4 §4.2.3) and our CALL times out, closing the
    session.

    Transitions (the answer is to our BootNotification)::

        BOOTING, PENDING, REJECTED ── Accepted ──► ACCEPTED
        BOOTING, PENDING, REJECTED ── Pending ───► PENDING
        BOOTING, PENDING, REJECTED ── Rejected ──► REJECTED
        any ── timeout of a CALL of ours, a CALLERROR to boot/status/heartbeat,
               an unusable boot answer, reset_requested() (after the answer being given) ──► CLOSED
    """

    BOOTING = "booting"
    PENDING = "pending"
    REJECTED = "rejected"
    ACCEPTED = "accepted"
    CLOSED = "closed"


# -- events --------------------------------------------------------------------------------------------


@dataclass
class _Reply:
    """One answer to a CALL of the CSMS, in the order the CALLs came (see ``Session._flush_replies``)."""

    call_id: str | None  # a CALL handed out to the station; None for one the session answered itself
    frame: str | None = None  # the CALLRESULT or CALLERROR, once there


@dataclass(frozen=True)
class CallReceived:
    """The CSMS sent ``call``: run it through the station, then :meth:`Session.answer` its id."""

    call: frames.Call


@dataclass(frozen=True)
class BootAccepted:
    """BootNotification Accepted; ``interval`` is the heartbeat interval the CSMS gave (0: none).

    The session does not adopt it: the shell offers it to the station (whose device model checks
    it against OCPPCommCtrlr.HeartbeatInterval's limits, the check a SetVariables makes) and then
    sets the variable's value with :meth:`Session.set_heartbeat_interval` (B01.FR.04).
    """

    interval: int


@dataclass(frozen=True)
class BootNotAccepted:
    """BootNotification answered Pending or Rejected; the next one goes out in ``retry_in`` seconds."""

    status: str
    interval: int
    retry_in: float


@dataclass(frozen=True)
class CallAnswered:
    """The CSMS answered the queued CALL ``call_id`` (from :meth:`Session.enqueue`) with ``payload``."""

    call_id: str
    action: str
    payload: dict[str, Any]


class Failure(enum.Enum):
    """How a queued CALL failed — what tells the shell whether sending it again could help."""

    NOT_SENT = "not sent"  # it breaks its schema, or its id is no message id: never sent, and never will be
    REFUSED = "refused"  # the CSMS answered CALLERROR (CallFailed.error): it has it, and said no
    UNUSABLE = "unusable"  # the CSMS answered, with a CALLRESULT its response schema does not allow
    UNANSWERED = "unanswered"  # no answer: it timed out, the session ended or was closed, the queue was full


@dataclass(frozen=True)
class CallFailed:
    """A CALL of ours got no usable answer: refused before sending (its schema), a CALLERROR, a timeout, the end.

    ``error`` is the CSMS's CALLERROR when there was one; ``failure`` says which way it failed.
    """

    call_id: str
    action: str
    reason: str
    error: frames.CallError | None = None
    failure: Failure = Failure.UNANSWERED


@dataclass(frozen=True)
class ProtocolProblem:
    """Something the CSMS sent that we could not use (already answered or ignored as OCPP-J says): for the log.

    ``invalid_message``: it was no OCPP-J message at all (unreadable, or of no message type) — the
    InvalidMessages security event (A04).
    """

    description: str
    invalid_message: bool = False


@dataclass(frozen=True)
class Close:
    """The session is over: close the websocket (after sending what :meth:`Session.frames_to_send` holds).

    ``reset``: an accepted Reset asked for it (the walk starts again from the top, B10.FR.08).
    """

    reason: str
    reset: bool = False


Event = CallReceived | BootAccepted | BootNotAccepted | CallAnswered | CallFailed | ProtocolProblem | Close


@dataclass
class _Outgoing:
    """A CALL of ours, queued or outstanding."""

    id: str
    action: str
    payload: dict[str, Any]
    own: bool  # the session's own (boot, status, heartbeat): a CALLERROR to it ends the session
    triggered: bool = False  # the CSMS asked for it (B02.FR.02's exception): it may go while PENDING
    deadline: float = 0.0  # when it times out, once sent


def _heartbeat_seconds(seconds: float) -> float:
    """A heartbeat interval the clock can use: at least 1 s (0 would be a heartbeat storm), at most
    OCPP's largest integer (a value stored before limits were checked must not overflow a float)."""
    if not seconds >= 1:  # NaN too
        return 1.0
    return float(min(seconds, INT32_MAX))


def _id_problem(call_id: object) -> str | None:
    """What is wrong with ``call_id`` as the message id of a CALL (Part 4 §4.1.4, Table 4: string[36]), or None."""
    if isinstance(call_id, str) and 0 < len(call_id) <= MAX_ID_LENGTH:
        return None
    return "the message id: not a string of 1 to 36 characters (messageId)"


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _timestamp(moment: datetime) -> str:
    """An OCPP dateTime: UTC, seconds, ``Z``."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class Session:
    """One websocket connection's OCPP-J session (1.6, 2.0.1 or 2.1); see the module docstring."""

    def __init__(self, version: str, *, boot_reason: str, charging_station: Mapping[str, Any],
                 connectors: Sequence[tuple[int, int]], message_timeout: float, heartbeat_interval: float,
                 boot_retry_s: float, now: float, utc_now: Callable[[], datetime] = _utc_now):
        """Start the session: its BootNotification is ready to send at once (B01.FR.01).

        ``charging_station`` is the BootNotification's ChargingStationType; ``connectors`` the
        (evseId, connectorId) pairs to report; ``heartbeat_interval`` the HeartbeatInterval now
        (the CSMS's interval replaces it at Accepted, B01.FR.04); ``boot_retry_s`` the wait we choose
        when a Pending or Rejected answer gives interval 0 (B02.FR.07, B03.FR.05), doubled for each
        such answer in a row up to OWN_BOOT_RETRY_MAX_S and never below 1 s; ``now`` is the
        shell's monotonic clock, the one every later ``now`` comes from; ``utc_now`` the wall clock,
        for timestamps only.
        """
        self.version = versions.profile(version).version.value  # ValueError for a version we do not know
        if self.version not in versions.LINK_VERSIONS:
            raise ValueError(f"the session speaks {', '.join(versions.LINK_VERSIONS)}, not {version}")
        self._ignores_unknown_types = versions.profile(version).ignores_unknown_message_types
        self._connectors = tuple(connectors)
        self._timeout = float(message_timeout)
        self._heartbeat_interval = _heartbeat_seconds(heartbeat_interval)
        self._boot_retry_s = max(float(boot_retry_s), 1.0)  # B02.FR.07: never flooding the CSMS
        self._own_waits = 0  # Pending/Rejected answers in a row that left the wait to us
        self._utc_now = utc_now
        self._charging_station = dict(charging_station)
        self._boot_payload = own_messages.boot_notification(self.version, boot_reason, charging_station)
        self._transaction_requests = versions.profile(version).transaction_requests  # B02.FR.05

        self._state = State.BOOTING
        self._accepted_once = False
        self._frames: list[str] = []
        self._events: list[Event] = []
        self._queue: deque[_Outgoing] = deque()  # ours, not yet sent (sent only in ACCEPTED)
        self._outstanding: _Outgoing | None = None  # ours, sent and not answered
        # Answers to the CSMS, in the order its CALLs came. Invariant (every change ends in _flush_replies):
        # empty, or its first is a CALL handed out and not answered yet, so "any being answered" is "any".
        self._replies: deque[_Reply] = deque()
        self._held: list[frames.Call] = []  # the CSMS's CALLs that came before any answer to our boot
        self._reset_pending = False  # a Reset came while a CALL was being answered
        self._reset_reason = "Reset"
        self._boot_triggered = False  # TriggerMessage BootNotification: the next boot says Triggered
        self._boot_due = now  # PENDING/REJECTED: when the next BootNotification goes out
        self._quiet_since = now  # ACCEPTED: when the last CALL of ours was answered
        if not self._send(self._new("BootNotification", self._boot_payload, own=True), now):
            return  # closed: our BootNotification breaks its schema
        self._boot_due = float("inf")

    # -- what the shell reads ------------------------------------------------------------------------------

    @property
    def state(self) -> State:
        return self._state

    @property
    def accepted(self) -> bool:
        """Whether the CSMS accepted us on this connection (stays True once CLOSED)."""
        return self._accepted_once

    def frames_to_send(self) -> list[str]:
        """The text messages to send, in order (drains them)."""
        out, self._frames = self._frames, []
        return out

    def events(self) -> list[Event]:
        """What happened, in order (drains it)."""
        out, self._events = self._events, []
        return out

    def next_deadline(self) -> float | None:
        """When :meth:`tick` must be called at the latest; None once CLOSED."""
        if self._state is State.CLOSED:
            return None
        if self._outstanding is not None:
            return self._outstanding.deadline
        if self._state is State.ACCEPTED:
            return self._quiet_since + self._heartbeat_interval
        return self._boot_due  # PENDING, REJECTED (BOOTING always has its boot outstanding)

    # -- inputs -----------------------------------------------------------------------------------------

    def receive(self, text: str | bytes, now: float) -> None:
        """One websocket message from the CSMS, arrived at ``now``.

        The clock is applied first: a CALL of ours whose timeout passed before ``now`` has ended the
        session already, so the message is not used (and no CALL of the CSMS is handed out to run
        on a session that will never answer it).
        """
        self._advance(now)
        if self._state is State.CLOSED:
            return
        try:
            frame = frames.parse(text)
        except frames.FrameError as error:
            if error.code is ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED and self._ignores_unknown_types:
                # 2.1 Part 4 §4.1.3/§4.4: a message type not in its list is ignored. (2.1's own
                # CALLRESULTERROR and SEND, types 5 and 6, are not read yet: ignored as well.)
                self._events.append(ProtocolProblem(f"ignored a message of an unknown type ({error.description})"))
            else:
                # Part 4 §4.2.3 (id "-1" when it cannot be read); 2.0.1 §4.4: MessageTypeNotSupported.
                self._reply_now(frames.call_error(error.request_id, error, self.version))
                self._events.append(ProtocolProblem(f"answered {error.code.value} to a message we could not use "
                                                    f"({error.description})", invalid_message=True))
            self._advance(now)
            return
        if isinstance(frame, frames.Call):
            self._on_call(frame)
        else:
            self._on_answer(frame, now)
        self._advance(now)

    def tick(self, now: float) -> None:
        """The clock advanced: time out the outstanding CALL, send the boot retry or the heartbeat."""
        self._advance(now)

    def answer(self, call_id: str, outcome: dict[str, Any] | OcppError) -> None:
        """The station's outcome for the CSMS's CALL ``call_id``, handed out as :class:`CallReceived`.

        A payload becomes a CALLRESULT, an :class:`OcppError` a CALLERROR in this version's spelling.
        Ignored once CLOSED; ValueError for an id that was not handed out (a bug of the shell).
        """
        reply = self._being_answered(call_id)
        if reply is None:
            if self._state is State.CLOSED:
                return
            raise ValueError(f"no CALL {call_id!r} of the CSMS is waiting for an answer")
        if isinstance(outcome, OcppError):
            reply.frame = frames.call_error(call_id, outcome, self.version)
        else:
            reply.frame = frames.call_result(call_id, outcome)
        self._flush_replies()
        if self._reset_pending and not self._replies:
            self._close(self._reset_reason, reset=True)  # the answer is queued before the close: the CSMS gets it

    def reset_requested(self, reason: str = "Reset") -> None:
        """An accepted Reset, or another reason to connect again (a new password, A01; a new certificate,
        A02.FR.08): close, but only once the answer to the CALL being answered (if any) is queued.

        A Reset the CSMS sent is answered before the connection goes (else the CSMS would count it
        as lost and the station would look like it failed the reset); so is the SetVariables that
        set a new password, or the CertificateSigned that installed the certificate.
        """
        if self._state is State.CLOSED:
            return
        if self._replies:
            self._reset_pending, self._reset_reason = True, reason
        else:
            self._close(reason, reset=True)

    def trigger_boot(self, now: float) -> None:
        """TriggerMessage BootNotification (F06; 1.6 §5.17): while PENDING, the next BootNotification goes
        now, reason Triggered, instead of at the interval's end. BOOTING has its boot outstanding and
        REJECTED never runs a trigger. ACCEPTED: 2.x refused the trigger (F06.FR.17); 1.6 has no such
        rule, so a 1.6 session sends a BootNotification next, before the queued CALLs, and acts on its
        answer as on any boot's (Pending puts the session back into PENDING)."""
        if self._state is State.PENDING and self._boot_due != float("inf"):
            self._boot_triggered = True
            self._boot_due = now
            self._advance(now)
        elif self._state is State.ACCEPTED and self.version == versions.V16:
            self._queue.appendleft(self._new("BootNotification", self._boot_payload, own=True))
            self._advance(now)

    def enqueue(self, action: str, payload: dict[str, Any], now: float, *, call_id: str | None = None,
                triggered: bool = False) -> str:
        """Queue the CALL ``action`` (sent in ACCEPTED, or PENDING if ``triggered``, after those before it); its id.

        The outcome comes back as :class:`CallAnswered` or :class:`CallFailed` with that id.

        ``call_id``: send it under this message id instead of a fresh UUID — for a CALL the station
        sends again after a reconnection or a restart (a NotifyReport part kept in its outbox), so
        that a CSMS which did receive it, its answer lost, can tell. OCPP-J allows it: "the message
        ID for a retried message (e.g. when no response was received within timeout) MAY be
        identical to the message ID of the original message" (2.1 Part 4 §4.1.4; 2.0.1 Part 4
        §4.1.4 as its errata 2025-09 §4.6 amends it, replacing "this also applies to retries").
        The id is checked with the payload, when the CALL would go out: one that is no OCPP-J
        message id (a string of 1 to 36 characters) fails it, :attr:`Failure.NOT_SENT`. An id
        already queued or outstanding here is a bug of the shell: ValueError.

        ``triggered``: the CSMS instructed the station to send it (TriggerMessage, GetBaseReport,
        GetReport): B02.FR.02 lets it go while PENDING too (see :class:`State`).
        """
        if call_id is not None and any(queued.id == call_id for queued in self._waiting()):
            raise ValueError(f"a CALL under the id {call_id!r} is queued or outstanding already")
        call = self._new(action, payload, own=False, call_id=call_id, triggered=triggered)
        if self._state is State.CLOSED:
            self._events.append(CallFailed(call.id, action, "the session is closed"))
        elif len(self._queue) >= MAX_QUEUED_CALLS:
            self._events.append(CallFailed(call.id, action, f"{MAX_QUEUED_CALLS} CALLs are queued already"))
        else:
            self._queue.append(call)
            self._advance(now)
        return call.id

    def set_heartbeat_interval(self, seconds: float) -> None:
        """OCPPCommCtrlr.HeartbeatInterval as it is now (a SetVariables, or the boot, may have changed it).

        The next heartbeat is due that long after our last CALL was answered; at least 1 s, at most
        2^31 - 1 s (never an OverflowError, whatever the variable holds).
        """
        self._heartbeat_interval = _heartbeat_seconds(seconds)

    # -- the CSMS's frames ----------------------------------------------------------------------------

    def _on_call(self, call: frames.Call) -> None:
        if self._being_answered(call.id) is not None or any(held.id == call.id for held in self._held):
            # Part 4 §4.2.3: a CALL under the id of one being handled is no proper message; it is
            # dropped (two answers under one id would leave the CSMS unable to tell them apart).
            self._events.append(ProtocolProblem(f"ignored a CALL under the id of one being handled: {shown(call.id)}"))
            return
        if self._state is State.BOOTING:  # not answered yet: is this CSMS going to reject us?
            if len(self._held) < MAX_HELD_CALLS:
                self._held.append(call)
            else:
                self._security_error(call, "too many CALLs before our BootNotification was answered")
            return
        self._take(call)

    def _take(self, call: frames.Call) -> None:
        """A CALL of the CSMS, as the registration state says (the rules of :class:`State`)."""
        if self._state is State.REJECTED:  # B03.FR.08: nothing but SecurityError while Rejected
            self._security_error(call, "BootNotification was rejected")
        elif self._state is State.PENDING and call.action in self._transaction_requests:
            self._reply_now(frames.call_result(call.id, {"status": "Rejected"}))  # B02.FR.05
        else:
            self._replies.append(_Reply(call.id))  # B02.FR.01: answered while Pending (and accepted)
            self._events.append(CallReceived(call))

    def _security_error(self, call: frames.Call, why: str) -> None:
        self._reply_now(frames.call_error(call.id, OcppError(ErrorCode.SECURITY_ERROR, why), self.version))

    def _being_answered(self, call_id: str) -> _Reply | None:
        """The reply owed to the CSMS's CALL ``call_id``, handed out to the station and not answered yet."""
        return next((reply for reply in self._replies if reply.call_id == call_id and reply.frame is None), None)

    def _reply_now(self, frame: str) -> None:
        """An answer the session gives itself: it goes after the answers still owed to earlier CALLs."""
        self._replies.append(_Reply(None, frame))
        self._flush_replies()

    def _flush_replies(self) -> None:
        """Send the answers that are ready, up to the first CALL still being handled: a CSMS that pipelines
        its CALLs gets their answers in the order it sent them (one that expects one CALL at a time sees no
        difference), never an immediate Rejected or SecurityError ahead of a slower answer."""
        while self._replies and self._replies[0].frame is not None:
            frame = self._replies.popleft().frame
            assert frame is not None
            self._frames.append(frame)

    def _release_held(self) -> None:
        """Our boot was answered: the CALLs that came before the answer, by the rule of the new state."""
        held, self._held = self._held, []
        for call in held:
            self._take(call)

    def _on_answer(self, frame: frames.CallResult | frames.CallError, now: float) -> None:
        """A CALLRESULT or CALLERROR: it answers our outstanding CALL, or nothing (then it is ignored)."""
        call = self._outstanding
        if call is None or frame.id != call.id:
            if frame.id == frames.UNKNOWN_ID and isinstance(frame, frames.CallError):
                self._events.append(ProtocolProblem(f"the CSMS could not read a message of ours: "
                                                    f"{shown(frame.description)}"))
            else:
                log.debug("ignored an answer to no CALL outstanding (id %s)", shown(frame.id))
            return
        self._outstanding = None
        self._quiet_since = now
        if isinstance(frame, frames.CallError):
            code = frame.code.value if frame.code is not None else "(an unknown code)"
            reason = f"CALLERROR {code} to {call.action}: {shown(frame.description)}"
            if call.own:  # the CSMS refuses what every session needs: start again (as the link always did)
                self._close(reason)
            else:
                self._events.append(CallFailed(call.id, call.action, reason, frame, Failure.REFUSED))
            return
        problem = answer_problem(self.version, call.action, frame.payload)  # Part 4 §4.1.7: before any use
        if call.action == "BootNotification" and call.own:
            if problem is None and frame.payload["interval"] < 0:
                problem = "/interval: a number of seconds cannot be negative"
            if problem is not None:  # no answer we can act on: nothing changes (see State)
                self._close(f"the CSMS's answer to BootNotification is unusable: {problem}")
            else:
                self._boot_answered(frame.payload, now)
        elif problem is not None:
            self._events.append(ProtocolProblem(f"the CSMS's answer to {call.action} is unusable, not used: {problem}"))
            if not call.own:
                self._events.append(CallFailed(call.id, call.action, f"the answer is unusable: {problem}",
                                               failure=Failure.UNUSABLE))
        elif not call.own:
            self._events.append(CallAnswered(call.id, call.action, frame.payload))

    def _boot_answered(self, payload: dict[str, Any], now: float) -> None:
        """A usable answer to our BootNotification (its schema and limits are checked already)."""
        status, interval = payload["status"], int(payload["interval"])  # 5.0 is an integer to JSON Schema too
        if status == "Accepted":
            self._state = State.ACCEPTED
            self._accepted_once = True
            self._own_waits = 0
            self._events.append(BootAccepted(interval))  # B01.FR.04: the station takes the interval, or not
            stamp = _timestamp(self._utc_now())
            statuses = [self._new("StatusNotification", payload, own=True)  # 1.6: connector 0 first
                        for payload in own_messages.statuses_after_boot(self.version, self._connectors, stamp)]
            self._queue.extendleft(reversed(statuses))  # B01.FR.05: before anything else of ours
            self._release_held()
            return
        self._state = State.PENDING if status == "Pending" else State.REJECTED
        if interval > 0:  # B02.FR.08, B03.FR.06: the CSMS's interval, to the second
            wait = float(interval)
            self._own_waits = 0
        else:  # B02.FR.07, B03.FR.05: ours, growing while the CSMS keeps leaving it to us
            wait = min(self._boot_retry_s * 2 ** min(self._own_waits, 16), OWN_BOOT_RETRY_MAX_S)
            self._own_waits += 1
        self._boot_due = now + wait
        self._events.append(BootNotAccepted(status, interval, wait))
        self._release_held()

    # -- our CALLs ----------------------------------------------------------------------------------

    def _new(self, action: str, payload: dict[str, Any], *, own: bool, call_id: str | None = None,
             triggered: bool = False) -> _Outgoing:
        """A CALL of ours: a fresh UUID (Part 4 §4.1.4: never used before) unless the shell gives a retry's id."""
        return _Outgoing(str(uuid.uuid4()) if call_id is None else call_id, action, payload, own, triggered)

    def _waiting(self) -> list[_Outgoing]:
        """Our CALLs queued or outstanding on this connection."""
        return [*([self._outstanding] if self._outstanding is not None else []), *self._queue]

    def _send_triggered(self, now: float) -> None:
        """PENDING: send the first queued CALL the CSMS asked for (B02.FR.02's exception), if any.

        The others stay queued, in order, for ACCEPTED (B02.FR.03). One that breaks its schema is
        reported and the next triggered one is tried.
        """
        while self._outstanding is None and self._state is State.PENDING:
            index = next((i for i, call in enumerate(self._queue) if call.triggered), None)
            if index is None:
                return
            call = self._queue[index]
            del self._queue[index]
            self._send(call, now)

    def _advance(self, now: float) -> None:
        """Time out the outstanding CALL, else send the next CALL of ours that is due."""
        if self._state is State.CLOSED:
            return
        call = self._outstanding
        if call is not None:
            if now < call.deadline:
                return  # Part 4 §4.1.1: one CALL of ours at a time
            self._outstanding = None
            if not call.own:
                self._events.append(CallFailed(call.id, call.action, "no answer within the message timeout"))
            self._close(f"no answer to {call.action} within {self._timeout:g} s")
            return
        while self._outstanding is None and self._state is not State.CLOSED:
            if self._state in (State.PENDING, State.REJECTED):
                payload = (own_messages.boot_notification(self.version, "Triggered", self._charging_station)
                           if self._boot_triggered else self._boot_payload)  # F06: this one, not the retries
                if now >= self._boot_due and self._send(self._new("BootNotification", payload, own=True), now):
                    self._boot_due = float("inf")  # B02.FR.04: the next one only after this one's answer
                    self._boot_triggered = False
                else:
                    self._send_triggered(now)  # B02.FR.02: only what the CSMS asked for, only while PENDING
                return
            if self._state is not State.ACCEPTED:
                return
            if self._queue:
                self._send(self._queue.popleft(), now)  # a CALL that breaks its schema is skipped: the next
            elif now >= self._quiet_since + self._heartbeat_interval:
                if not self._send(self._new("Heartbeat", {}, own=True), now):
                    self._quiet_since = now  # never happens ({} is a Heartbeat); if it did: not in a loop
                return
            else:
                return

    def _send(self, call: _Outgoing, now: float) -> bool:
        """Send ``call`` if it conforms to its official request schema; else report it and keep it off the wire."""
        problem = _id_problem(call.id) or request_problem(self.version, call.action, call.payload)
        if problem is not None:
            _invalid_calls.log(logging.ERROR, f"{self.version} {call.action} {problem}",
                               "CSMS link: not sending %s: it does not conform to the %s schema (%s); a bug of "
                               "ours or of the station's configuration", call.action, self.version, problem)
            self._events.append(CallFailed(call.id, call.action, f"does not conform to its schema: {problem}",
                                           failure=Failure.NOT_SENT))
            if call.action == "BootNotification" and call.own:
                self._close(f"our BootNotification does not conform to its schema: {problem}")
            return False
        call.deadline = now + self._timeout
        self._outstanding = call
        self._frames.append(frames.call(call.id, call.action, call.payload))
        return True

    def _close(self, reason: str, *, reset: bool = False) -> None:
        """CLOSED: the station's CALLs still queued or outstanding fail, then :class:`Close`."""
        waiting = [self._outstanding] if self._outstanding is not None else []
        for call in [*waiting, *self._queue]:
            if not call.own:
                self._events.append(CallFailed(call.id, call.action, f"the session ended ({reason})"))
        self._state = State.CLOSED
        # A CALL of the CSMS handed out in this same input would never be answered: it is not run either.
        self._events = [event for event in self._events if not isinstance(event, CallReceived)]
        self._outstanding = None
        self._queue.clear()
        self._replies.clear()  # what waited behind an unanswered CALL: the connection goes, as for that CALL
        self._held.clear()  # never run: the CSMS sees the connection close, as for any CALL in flight
        self._events.append(Close(reason, reset))

"""The station's OCPP-J connection to its CSMS: the asyncio shell around :class:`~.session.Session`.

Everything OCPP-J decides (boot, StatusNotification, heartbeat, CALL correlation, one CALL of ours
at a time, message timeouts, the schema check of every CALL we send, SecurityError while Rejected)
is the sans-I/O session's; this shell does what needs a socket, a clock or the station:

* the connection walk (B10): the slots of ``NetworkConfigurationPriority`` in order, each tried up
  to ``NetworkProfileConnectionAttempts`` times (B10.FR.03), then the next slot; after the last,
  the list again — never giving up (B10.FR.09). After a session that was accepted (then lost) or
  an accepted Reset it starts again from the top (B10.FR.08);
* the backoff (Part 4 §5.3, with the RetryBackOff* variables): every attempt that fails — the
  connection could not be made, or it ended before it was *stable* — is followed by a wait of
  RetryBackOffWaitMinimum · 2^n + random(0, RetryBackOffRandomRange) seconds, n the failures in
  a row so far, capped at RetryBackOffRepeatTimes doublings (see :func:`retry_backoff` for our
  floor and ceiling). A connection is stable once it has been open for STABLE_SESSION_S (a
  minute): whatever the CSMS did on it, a minute apart is no storm, so the count starts again —
  and even then the first reconnection waits RetryBackOffWaitMinimum + random (§5.3). An accepted
  session lost before that minute (a CSMS that accepts, then sends a frame over 1 MiB) counts as a
  failure like any other: the walk starts from the top (B10.FR.08), after the wait. Only a Reset of
  a stable session, or one between attempts, reconnects at once (it is a reboot, B01.FR.03);
* supervision: nothing ends :meth:`CsmsLink.run` but a cancel. A bug, a bad value, a station
  method that raises — anywhere in the walk: the priority list, the slot's target, a setting — is
  logged at ERROR once (then summarised, the traceback at DEBUG), counted as a failure, backed off
  from, and the walk goes on (B10.FR.09);
* the logs: every failure is said once at WARNING and then summarised every 10 minutes
  (:class:`~ocpp_station.repeats.RepeatedLog`, keyed by the kind of failure, not by the text a
  CSMS chose), each repeat at DEBUG; a link that was stable and accepted makes the next failure
  news again;
* opening the websocket (:func:`~.connection.endpoint`: URL, subprotocols, Basic auth, TLS), with
  websocket pings at WebSocketPingInterval, and telling the station which CSMS certificate the
  live connection presented (M04.FR.06) and when it is gone;
* moving text: what arrives goes to :meth:`Session.receive`, what the session wants sent is sent,
  and in between the shell sleeps until :meth:`Session.next_deadline` or the next message;
* running the CSMS's CALLs through the station (:meth:`Station.run_now`, else :meth:`Station.run`
  in a worker thread: the handlers, validation and CALLERRORs of the MQTT API), one at a time in
  arrival order, and handing the outcome back with :meth:`Session.answer`;
* the station's side of the boot: the heartbeat interval the CSMS gave (B01.FR.04, durable) and
  the active slot (A05.FR.06), recorded before the StatusNotifications go out.

A Reset accepted through either door (:meth:`Station.on_reconnect`) closes a live session once its
answer is out (:meth:`Session.reset_requested`), or restarts the walk from the top at once when
it comes between attempts; the next BootNotification says RemoteReset. A new BasicAuthPassword
(A01: the CSMS no longer takes the old one) and a new own certificate in use at security profile 3
(A02.FR.08) reconnect the same way, the boot reason unchanged.

Security (A04): a TLS handshake that fails on the CSMS's certificate is an InvalidCsmsCertificate
event (A00.FR.413), one that finds no TLS 1.2 an InvalidTLSVersion (A00.FR.419), no common cipher
suite an InvalidTLSCipherSuite (A00.FR.426), an HTTP 401/403 a FailedToAuthenticationAtCsms, a
frame that is no OCPP-J message InvalidMessages — logged and queued by the station, one of a kind
waiting at a time. The renewal's clock (:meth:`CsmsLink._security_clock`, beside the walk) calls
:meth:`Station.security_tick` when something is due: a CSR to send again (A02.FR.17), a renewed
certificate whose notBefore has come (A02.FR.08), a certificate about to expire (A03). A walk in
which no slot connected at security profile 3 swaps to the other own certificate while one is kept
(2.1 A02.FR.28).

What the station promised the CSMS — the NotifyReport parts of an accepted GetBaseReport or
GetReport (B07.FR.03, B08.FR.03), triggered messages (F06), security events (A04.FR.02),
SignCertificate requests (A02/A03): rows of its outbox under door ``"csms"`` — the shell delivers
(:meth:`CsmsLink._feed`, :meth:`CsmsLink._settle`): one row at a time in the session's queue, in
``seq`` order, under the row's own message id, while the session is ACCEPTED, or PENDING for the
rows the CSMS asked for (B02.FR.02; the others wait for Accepted; BOOTING and REJECTED send none);
deleted once the CSMS answered it. A triggered BootNotification is no queued CALL: it makes the
session send its next boot at once (:meth:`Session.trigger_boot`). A row whose CALL went unanswered (the connection
dropped, a timeout, ``kill -9``) stays, and is the first to go on the next session, under the same
id (Part 4 §4.1.4 allows a retry to reuse it): a CSMS that had it, its answer lost, sees the same
message id and ``seqNo`` twice — B07 and B08 say nothing about resuming a report, and a part twice
is better than a hole. A row the CSMS refuses with a CALLERROR is dropped with a WARNING once per
report, which then reaches the CSMS incomplete: a CSMS that refuses a part would refuse it again,
and one refused part must not hold back everything queued behind it for ever. The exception is a
SecurityError while Pending (B02.FR.09: this CSMS does not count it as asked for): the row is kept
and waits for Accepted. A row that breaks its schema in the session's version never goes (the
session will not send it) and is dropped with an ERROR, for the same reason. The outbox is read
and written in a worker thread (``asyncio.to_thread``): the read takes the station's lock, which
the MQTT door may hold through an fsync, and the delete is one. New rows wake the shell through
:meth:`Station.on_outgoing`, from whichever thread committed them.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import random
import re
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import websockets
from websockets.asyncio.client import ClientConnection, connect

from ..app import Station
from ..errors import ErrorCode, OcppError
from ..logsafe import shown
from ..repeats import RepeatedLog
from ..rpc.envelope import Request
from ..station.connections import CannotConnect, ConnectionTarget
from ..station.outbox import Door, Outgoing
from ..station.security_events import ACTION as EVENT_ACTION
from ..station.security_events import spelled_for
from . import frames, session
from .connection import endpoint

INBOX_SIZE = 64  # messages of the CSMS read ahead of the session, at most (_serve)
log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 2**20  # the largest message we take from a CSMS (1 MiB); a bigger one closes the connection
STABLE_SESSION_S = 60.0  # a connection open this long was no storm: the failure count starts again
MIN_BACKOFF_S = 1.0  # RetryBackOffWaitMinimum 0 counts as 1 s: no wait at all would be a storm
MAX_BACKOFF_S = 3600.0  # whatever the settings say, the station tries again within the hour (B10.FR.09)
MAX_DOUBLINGS = 16  # RetryBackOffRepeatTimes may be 2^31 - 1: 2 ** that is no number to compute
RETRY_DEFAULTS = (1, 2, 2)  # RetryBackOffWaitMinimum, RepeatTimes, RandomRange: components.json's defaults
DOOR: Door = "csms"  # the outbox rows this link delivers


def retry_backoff(failures: int, wait_minimum: int, repeat_times: int, random_range: int,
                  uniform: Callable[[float, float], float] = random.uniform) -> float:
    """The wait after ``failures`` failed attempts in a row (0: the first), Part 4 §5.3.

    RetryBackOffWaitMinimum, doubled once per failure up to RetryBackOffRepeatTimes times, then
    kept; plus a new random part of at most RetryBackOffRandomRange each time (so that stations
    that lost their CSMS together do not all come back in the same second). Ours: the minimum is
    at least MIN_BACKOFF_S (0 would let a CSMS that fails every connection at once make us
    reconnect in a tight loop) and the whole at most MAX_BACKOFF_S (a wait of years is giving up).
    """
    doublings = min(max(failures, 0), max(repeat_times, 0), MAX_DOUBLINGS)
    jitter = uniform(0.0, float(random_range)) if random_range > 0 else 0.0
    return min(max(float(wait_minimum), MIN_BACKOFF_S) * 2**doublings + jitter, MAX_BACKOFF_S)


class _Outcome(enum.Enum):
    """How one attempt, or all attempts of a slot, ended — what the walk does next."""

    UNUSABLE = "unusable"  # the slot cannot be tried now (no profile, no password): the next slot, no wait
    FAILED = "failed"  # tried and failed (counted, the wait is due): this slot again, or the next
    RESTART = "restart"  # accepted then lost, or a Reset: the walk starts from the top (B10.FR.08)


@dataclass(frozen=True)
class _InFlight:
    """The outbox row in the session's queue (queued or outstanding), and the CALL id it went under."""

    row: Outgoing
    call_id: str


def _part(row: Outgoing) -> str:
    """An outbox row as a reader knows it: "NotifyReport part 3 of report 7" (integers only: no text of anyone's)."""
    request_id, seq_no = row.payload.get("requestId"), row.payload.get("seqNo")
    if row.action == "NotifyReport" and isinstance(request_id, int) and isinstance(seq_no, int):
        return f"{row.action} part {seq_no} of report {request_id}"
    return f"{row.action} (outbox row {row.seq})"


# OpenSSL's reasons for a handshake the CSMS's side made impossible, by the event they are (A00.FR.419/426).
_TLS_VERSION_REASONS = ("UNSUPPORTED_PROTOCOL", "TLSV1_ALERT_PROTOCOL_VERSION", "WRONG_SSL_VERSION",
                        "NO_PROTOCOLS_AVAILABLE")
_CIPHER_REASONS = ("NO_SHARED_CIPHER", "NO_CIPHERS_AVAILABLE", "NO_SUITABLE_SIGNATURE_ALGORITHM")


def security_event_of(error: BaseException) -> tuple[str, str] | None:
    """The security event (type, techInfo) a failed connection attempt is, if it is one (A04)."""
    if isinstance(error, ssl.SSLCertVerificationError):  # A00.FR.413
        return "InvalidCsmsCertificate", shown(error.verify_message or str(error), 200, quote=False)
    if isinstance(error, ssl.SSLError):
        reason = error.reason or ""
        if reason in _TLS_VERSION_REASONS:
            return "InvalidTLSVersion", f"the CSMS offers no TLS 1.2 or newer ({reason})"  # A00.FR.419
        if reason in _CIPHER_REASONS:
            return "InvalidTLSCipherSuite", f"no cipher suite in common with the CSMS ({reason})"  # A00.FR.426
        return None
    if isinstance(error, websockets.InvalidStatus) and error.response.status_code in (401, 403):
        return "FailedToAuthenticationAtCsms", f"the CSMS answered HTTP {error.response.status_code}"
    return None


def _kind(reason: str) -> str:
    """What makes two failures "the same" to a reader: the reason up to its first ':' or '(' (what
    follows is detail, often the CSMS's own text, which must not make every repeat a new line)."""
    return re.split(r"[:(]", reason, maxsplit=1)[0]


class CsmsLink:
    """Keeps the station connected to its CSMS (create on the running event loop, then :meth:`run`)."""

    def __init__(self, station: Station):
        self._station = station
        self._loop = asyncio.get_running_loop()
        self._reset = asyncio.Event()  # a Reset to act on between attempts: the walk starts again from the top
        self._session: session.Session | None = None  # the live session, if any
        # What the CSMS sent, and wake-ups (None), while a connection is served (_serve)
        self._inbox: asyncio.Queue[str | bytes | BaseException | None] | None = None
        self._boot_reason = "PowerUp"
        self._repeats = RepeatedLog(log)  # the walk's failures recur every few seconds: said once, then every 10 min
        self._failures = 0  # failed attempts in a row since the last stable connection: the backoff's n
        self._due = self._loop.time()  # no attempt starts before this (the backoff's wait)
        # The outbox (see the module docstring): what a session may deliver, and what it is delivering.
        self._refusals = RepeatedLog(log)  # refused parts: said once per report (then summarised)
        self._rows_waiting = True  # rows may wait for the CSMS (from before a restart): look at the next chance
        self._in_flight: _InFlight | None = None  # the row in this session's queue: one at a time
        self._outbox_paused = False  # this session: a SecurityError while Pending, so rows wait for Accepted
        self._outbox_stopped = False  # this session: a row went unanswered, so the next session sends it first
        self._unanswered_seq: int | None = None  # the row a session ended on: the next sending is a resend
        self._schedule = asyncio.Event()  # the renewal's schedule may have moved earlier
        station.on_reconnect(self._reconnect_from_any_thread)
        station.on_outgoing(self._outgoing_from_any_thread)
        station.on_security_schedule(lambda: self._call_soon(self._schedule.set))

    def _call_soon(self, callback: Callable[[], None]) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: the link is gone
            self._loop.call_soon_threadsafe(callback)

    def _reconnect_from_any_thread(self, boot_reason: str | None) -> None:
        """Station.on_reconnect listener: it may run on paho's thread or a worker thread, never touch state there."""
        self._call_soon(lambda: self._reset_requested(boot_reason))

    def _reset_requested(self, boot_reason: str | None = "RemoteReset") -> None:
        """An accepted Reset (from either door): reconnect from the top — but only after the CSMS has its answer.

        The request stays pending until the link acts on it, whatever it is doing: connected, the
        session closes once the answer to the CALL being answered is queued; between attempts or
        while waiting to retry, the walk starts again from the top at once. An Accepted Reset always
        happens.
        """
        if boot_reason is not None:
            self._boot_reason = boot_reason  # B01.FR.03/B01.FR.09: the next boot says why
        live = self._session
        if live is not None and live.state is not session.State.CLOSED:
            live.reset_requested("a Reset" if boot_reason == "RemoteReset" else
                                 "new credentials or security settings (A01, A02.FR.08, A05)")
            self._wake()
        elif boot_reason is not None:
            self._reset.set()
        # New credentials between attempts: the next attempt reads them anyway, at its due time (an
        # attempt under way may already carry them; cutting the wait short would only hammer the CSMS).

    def _outgoing_from_any_thread(self, door: str) -> None:
        """Station.on_outgoing listener: runs on the committing thread (paho's, a worker's), so it only
        schedules :meth:`_outgoing_added` on the loop. Once the loop is closed there is nobody to tell."""
        if door == DOOR:
            self._call_soon(self._outgoing_added)

    def _outgoing_added(self) -> None:
        """New rows for the CSMS are committed: look for them at the next chance, and wake a waiting session."""
        self._rows_waiting = True
        self._wake()

    def _wake(self) -> None:
        if self._inbox is not None and not self._inbox.full():  # a full inbox wakes the loop anyway
            self._inbox.put_nowait(None)

    async def _pause(self, seconds: float) -> bool:
        """Wait ``seconds``, or less if a Reset comes; True when it did (the walk then starts over)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._reset.wait(), seconds)
        return self._reset.is_set()

    # -- the walk through the priority list ----------------------------------------------------

    async def run(self) -> None:
        """Keep a connection to the CSMS, forever: only a cancel ends it (B10.FR.09).

        Every round is supervised: whatever raises in it (a bug; a station method; a value nobody
        validated) is logged at ERROR once, counts as a failed attempt, and the next round comes
        after the backoff's wait. CancelledError is no Exception: a cancel still goes through.
        """
        clock = asyncio.ensure_future(self._security_clock())
        try:
            await self._walk()
        finally:
            clock.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await clock

    async def _walk(self) -> None:
        while True:
            try:
                await self._round()
            except Exception as error:
                task = asyncio.current_task()
                if task is not None and task.cancelling():  # a cancel whose clean-up raised: still a cancel
                    raise asyncio.CancelledError from error
                self._bug("the connection walk", error)
                self._failed()

    async def _round(self) -> None:
        """One walk through NetworkConfigurationPriority, from the top (B10.FR.03, B10.FR.08)."""
        await self._wait_turn()  # a Reset cuts the wait short: then the walk starts at once
        self._reset.clear()  # from the top: whatever Reset came before is acted on now
        tried = False
        for slot in self._station.priority():
            outcome = await self._try_slot(slot)
            if outcome is _Outcome.RESTART:
                return
            tried = tried or outcome is _Outcome.FAILED
        if not tried:  # no slot could even be tried (all unusable, or none listed): not in a tight loop
            self._repeats.log(logging.WARNING, "no usable slot", "CSMS link: no slot of "
                              "NetworkConfigurationPriority can be used now; trying again after a backoff")
            self._failed()
        await asyncio.to_thread(self._station.walk_failed)  # 2.1 A02.FR.28: the other certificate, if kept

    async def _security_clock(self) -> None:
        """Call :meth:`Station.security_tick` whenever the renewal has something due (see the module
        docstring); supervised like the walk: an error is logged and the clock goes on a minute later."""
        while True:
            wait = 60.0
            try:
                due = await asyncio.to_thread(self._station.security_due)
                if due is not None and due <= time.time():
                    await asyncio.to_thread(self._station.security_tick)
                    continue
                if due is not None:
                    wait = min(max(due - time.time(), 0.0), 3600.0)
            except Exception as error:
                self._bug("the renewal's clock", error)
            self._schedule.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._schedule.wait(), wait)

    async def _wait_turn(self) -> bool:
        """Wait until the next attempt is due; True (at once, the wait cut short) when a Reset came."""
        if not self._reset.is_set():
            wait = self._due - self._loop.time()
            if wait > 0:
                await self._pause(wait)
        if self._reset.is_set():
            self._due = self._loop.time()  # B10.FR.08: a Reset walks the list from the top now
            return True
        return False

    def _failed(self) -> None:
        """An attempt failed: the next waits the backoff (Part 4 §5.3), which grows with each failure in a row."""
        wait = self._backoff(self._failures)
        self._failures += 1
        self._due = self._loop.time() + wait
        log.debug("CSMS link: %d failure(s) in a row; the next attempt in %.1f s", self._failures, wait)

    def _ended(self, opened_at: float | None, live: session.Session | None, reset: bool) -> None:
        """Account for an attempt that connected (``opened_at``), or not: the failure count and the next wait."""
        now = self._loop.time()
        stable = opened_at is not None and now - opened_at >= STABLE_SESSION_S
        if stable:
            self._failures = 0  # no storm: the backoff starts again from RetryBackOffWaitMinimum
            if live is not None and live.accepted:
                self._repeats.forget()  # the link worked: the next failure is news
        if reset and (stable or live is None):
            self._due = now  # a Reset of a working link, or one while connecting: a reboot, at once (B01.FR.03)
        else:
            self._failed()  # a young session that failed, Reset or not, is one more failure in a row

    def _backoff(self, failures: int) -> float:
        """:func:`retry_backoff` with the RetryBackOff* settings as they are now; never raises."""
        try:
            minimum = self._station.setting("OCPPCommCtrlr", "RetryBackOffWaitMinimum", default=RETRY_DEFAULTS[0])
            repeat = self._station.setting("OCPPCommCtrlr", "RetryBackOffRepeatTimes", default=RETRY_DEFAULTS[1])
            spread = self._station.setting("OCPPCommCtrlr", "RetryBackOffRandomRange", default=RETRY_DEFAULTS[2])
        except Exception as error:  # the wait that keeps a failure from becoming a storm must be had
            self._bug("reading the RetryBackOff* settings", error)
            minimum, repeat, spread = RETRY_DEFAULTS
        return retry_backoff(failures, minimum, repeat, spread)

    def _bug(self, where: str, error: Exception) -> None:
        """Something raised that nothing expected: ERROR once (then summarised), the traceback at DEBUG."""
        self._repeats.log(logging.ERROR, f"bug {where} {type(error).__name__}",
                          "CSMS link: %s failed with %s %s (a bug); backing off, then going on", where,
                          type(error).__name__, shown(str(error), 200))
        log.debug("CSMS link: the traceback of that error", exc_info=error)

    async def _try_slot(self, slot: int) -> _Outcome:
        """Up to NetworkProfileConnectionAttempts tries (B10.FR.03), each after the backoff's wait."""
        attempts = max(self._station.setting("OCPPCommCtrlr", "NetworkProfileConnectionAttempts", default=3), 1)
        for attempt in range(attempts):
            if await self._wait_turn():
                return _Outcome.RESTART
            outcome = await self._attempt(slot, attempt, attempts)
            if outcome is not _Outcome.FAILED:
                return outcome
        self._repeats.log(logging.WARNING, f"slot failed {slot}",
                          "CSMS link: slot %d failed %d time(s); moving on to the next slot", slot, attempts)
        return _Outcome.FAILED

    async def _attempt(self, slot: int, attempt: int, attempts: int) -> _Outcome:
        """One connection with ``slot``: open it, run the session until it ends, account for how it ended."""
        try:
            target = self._station.connection_target(slot)
            ends = endpoint(target, roots=self._station.csms_trust_store(),
                            own=self._station.own_certificate_files())
        except (CannotConnect, OSError, ValueError) as why:  # OSError: e.g. an unreadable key file (ssl)
            self._repeats.log(logging.WARNING, f"unusable {slot} {why}",
                              "CSMS link: slot %d cannot be used: %s; moving on", slot, why)
            return _Outcome.UNUSABLE
        described = target.describe()
        self._repeats.log(logging.INFO, f"connecting {described}",
                          "CSMS link: connecting to %s, attempt %d/%d", described, attempt + 1, attempts)
        live: session.Session | None = None
        opened_at: float | None = None
        reset = False
        try:
            timeout = float(target.message_timeout or 30)
            # compression=None: no permessage-deflate. Part 4 §3.3 makes it optional for a station;
            # our frames are a few hundred bytes, and a CSMS that accepts deflate would pay a
            # compressor per connection and a deflate per frame for nothing.
            async with connect(ends.url, subprotocols=list(ends.subprotocols),  # type: ignore[arg-type]
                               additional_headers=ends.headers, ssl=ends.ssl_context,
                               open_timeout=timeout, ping_interval=self._ping_interval(),
                               max_size=MAX_MESSAGE_BYTES, compression=None) as ws:
                opened_at = self._loop.time()
                if ws.subprotocol not in ends.subprotocols:
                    self._repeats.log(logging.WARNING, f"no version {ends.url}",
                                      "CSMS link: %s agreed on no OCPP version we offered", ends.url)
                elif self._reset.is_set():
                    log.info("CSMS link: reconnecting, as asked while connecting")  # a Reset, new credentials
                    reset = True
                else:
                    live = self._start_session(ws, target, timeout)
                    close = await self._serve(ws, live, target)
                    if close.reset:
                        log.info("CSMS link: reconnecting after %s", close.reason)
                        reset = True
                    else:
                        self._repeats.log(logging.WARNING, f"failed {described} {_kind(close.reason)}",
                                          "CSMS link: %s failed: %s", described, close.reason)
        except (OSError, TimeoutError, websockets.InvalidHandshake, websockets.InvalidURI) as error:
            self._repeats.log(logging.WARNING, f"failed {described} {type(error).__name__}",
                              "CSMS link: %s failed: %s", described, shown(str(error) or type(error).__name__, 200))
            event = security_event_of(error)
            if event is not None:
                await asyncio.to_thread(self._station.record_security_event, *event)
        except websockets.ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd is not None else closed.sent.code if closed.sent else None
            self._repeats.log(logging.WARNING, f"closed {ends.url} {code}",
                              "CSMS link: the connection to %s closed (%s)", ends.url, shown(str(closed), 200))
        except Exception as error:  # a bug of ours must not end the link: it never gives up (B10.FR.09)
            self._bug(f"the connection to {described}", error)
        finally:
            self._session = None
            if self._in_flight is not None:  # the connection went with a row unanswered: it goes again, first
                self._unanswered_seq, self._in_flight = self._in_flight.row.seq, None
            self._station.record_disconnected()
        self._ended(opened_at, live, reset)
        if reset or (live is not None and live.accepted):
            return _Outcome.RESTART  # B10.FR.08: from the top of the list (once the wait is over)
        return _Outcome.FAILED

    def _ping_interval(self) -> float | None:
        seconds = self._station.setting("OCPPCommCtrlr", "WebSocketPingInterval", default=30)
        return float(seconds) if seconds > 0 else None  # 0 switches pings off

    def _heartbeat_interval(self) -> int:
        return self._station.setting("OCPPCommCtrlr", "HeartbeatInterval", default=60)

    # -- one connection ---------------------------------------------------------------------------

    def _start_session(self, ws: ClientConnection, target: ConnectionTarget, timeout: float) -> session.Session:
        ssl_object = ws.transport.get_extra_info("ssl_object")
        peer = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        self._station.record_tls_peer(peer, urlsplit(target.url).hostname)  # M04.FR.06: the root in use
        live = session.Session(
            str(ws.subprotocol), boot_reason=self._boot_reason,
            charging_station=self._station.charging_station(), connectors=self._station.connectors(),
            message_timeout=timeout, heartbeat_interval=self._heartbeat_interval(),
            boot_retry_s=self._backoff(1),  # B02.FR.07: our own wait when the CSMS gives interval 0
            now=self._loop.time())
        self._session = live
        self._in_flight, self._outbox_paused, self._outbox_stopped = None, False, False
        self._rows_waiting = True  # a new session: whatever waits in the outbox may go (once the state allows)
        return live

    async def _serve(self, ws: ClientConnection, live: session.Session, target: ConnectionTarget) -> session.Close:
        """Move frames between the websocket and ``live`` until the session closes; its Close.

        One reader task moves what the CSMS sends into an inbox, for the life of the connection; a
        Reset accepted through the MQTT door, or new rows for the CSMS, put a wake-up (None) there too
        (``self._wake``). So the loop takes what is already there without waiting — pipelined CALLs
        cost no task, future or timer each — and waits only on an empty inbox, bounded by the
        session's next deadline. ConnectionClosed (the CSMS or the network ended it) reaches the loop
        through the inbox and passes through to the walk. Deadlines wake the loop through the inbox
        too (:class:`_Alarm`).
        """
        inbox: asyncio.Queue[str | bytes | BaseException | None] = asyncio.Queue(INBOX_SIZE)
        reader = asyncio.ensure_future(_read_into(ws, inbox))
        alarm = _Alarm(self._loop, inbox)
        self._inbox = inbox
        try:
            while True:
                close = await self._pump(ws, live, target)
                if close is not None:
                    await ws.close()
                    return close
                try:
                    item = inbox.get_nowait()
                except asyncio.QueueEmpty:
                    alarm.ring_by(live.next_deadline())  # None: no deadline, wait for the CSMS
                    item = await inbox.get()
                now = self._loop.time()
                if isinstance(item, BaseException):
                    raise item
                if item is not None:
                    live.receive(item, now)
                else:  # a deadline, or a Reset woke us
                    live.set_heartbeat_interval(self._heartbeat_interval())  # the OEM may have changed it
                    live.tick(now)
        finally:
            self._inbox = None
            alarm.cancel()
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    async def _pump(self, ws: ClientConnection, live: session.Session,
                    target: ConnectionTarget) -> session.Close | None:
        """Act on the session's events and send its frames until it has nothing more; its Close, if it closed."""
        close: session.Close | None = None
        while True:
            events, texts = live.events(), live.frames_to_send()
            if not events and not texts:
                if close is None and await self._feed(live):
                    continue  # a row went into the queue: the session has its frame, or an event, for us
                return close
            calls: list[frames.Call] = []
            settled: list[session.CallAnswered | session.CallFailed] = []
            for event in events:
                if isinstance(event, session.CallReceived):
                    calls.append(event.call)
                elif isinstance(event, session.Close):
                    close = event
                else:
                    if (isinstance(event, session.CallAnswered | session.CallFailed) and self._in_flight is not None
                            and event.call_id == self._in_flight.call_id):
                        settled.append(event)
                    if isinstance(event, session.BootAccepted):  # recorded before the StatusNotifications leave
                        await asyncio.to_thread(self._record_accepted, event.interval, live, target)  # commits
                        self._rows_waiting = True  # what was not for a Pending CSMS (its own events) may go now
                    if isinstance(event, session.ProtocolProblem) and event.invalid_message:  # A04
                        await asyncio.to_thread(self._station.record_security_event, "InvalidMessages",
                                                event.description)
                    self._note(event, live, target)
            for text in texts:
                await ws.send(text)
            for outcome in settled:  # after the frames: a delete's fsync delays nothing already due
                await self._settle(outcome, live)
            for call in calls:  # one at a time, in arrival order (DESIGN rule 3)
                request = Request(call.id, live.version, call.action, call.payload, origin="csms")
                live.answer(call.id, await self._run(request))
                if self._station.mutates(request):  # a SetVariables may have changed it
                    live.set_heartbeat_interval(self._heartbeat_interval())

    def _record_accepted(self, interval: int, live: session.Session, target: ConnectionTarget) -> None:
        """The station's durable side of an Accepted boot, in a worker thread: both are commits (an
        fsync), and the station's lock may be held by the MQTT door through one of its own."""
        # B01.FR.04: the CSMS's interval, kept durably — if the device model takes it (its limits,
        # the ones a SetVariables meets); if not, the session keeps the interval the variable has.
        if interval > 0 and not self._station.record_heartbeat_interval(interval):
            self._repeats.log(logging.WARNING, "interval refused",
                              "CSMS link: the CSMS's heartbeat interval of %d s is no value of "
                              "OCPPCommCtrlr.HeartbeatInterval; keeping %d s", interval, self._heartbeat_interval())
        self._station.record_connected(target, live.version)  # the active slot; A05.FR.06; M05.FR.13

    def _note(self, event: session.Event, live: session.Session, target: ConnectionTarget) -> None:
        """The station's side of what the session reports, and the log lines (once, then summarised:
        a CSMS that accepts and then fails us does so at every connection)."""
        if isinstance(event, session.BootAccepted | session.BootNotAccepted):
            self._station.record_registration("Accepted" if isinstance(event, session.BootAccepted)
                                              else event.status, live.version, target.slot)  # F06.FR.17
        if isinstance(event, session.BootAccepted):
            self._repeats.log(logging.INFO, f"accepted {target.slot}",
                              "CSMS link: BootNotification Accepted (interval %d s)", event.interval)
            live.set_heartbeat_interval(self._heartbeat_interval())  # as _record_accepted left it
            self._boot_reason = "PowerUp"
            self._repeats.log(logging.INFO, f"connected {target.slot} {live.version}",
                              "CSMS link: connected and accepted on slot %d (%s)", target.slot, live.version)
        elif isinstance(event, session.BootNotAccepted):
            self._repeats.log(logging.INFO, f"not accepted {event.status}",
                              "CSMS link: BootNotification %s (interval %d s); the next one in %.0f s",
                              event.status, event.interval, event.retry_in)
        elif isinstance(event, session.ProtocolProblem):
            self._repeats.log(logging.WARNING, f"problem {_kind(event.description)}", "CSMS link: %s",
                              event.description)
        elif isinstance(event, session.CallFailed):
            log.debug("CSMS link: %s %s failed: %s", event.action, event.call_id, event.reason)
        elif isinstance(event, session.CallAnswered):
            log.debug("CSMS link: %s %s answered", event.action, event.call_id)

    # -- the outbox: what the station promised the CSMS -------------------------------------------

    async def _feed(self, live: session.Session) -> bool:
        """Queue the oldest outbox row for the CSMS in ``live``, if one may go now; whether one was queued.

        One row at a time (the next only once this one is settled), in ``seq`` order, under its
        stored message id. Only while ACCEPTED, or PENDING (B02.FR.02: every row here is a promise
        made to the CSMS's own GetBaseReport or GetReport, so it is "instructed by the CSMS" — also
        when the request came on an earlier connection; the session keeps BOOTING and REJECTED
        silent), unless this CSMS said SecurityError to one while Pending. The read is a worker
        thread's: it takes the station's lock, which the MQTT door may hold through an fsync.

        A row goes out in the version this session speaks, which may not be the one it was made
        for (``row.ocpp_version``: the connection that asked may have been 2.0.1, this one 2.1);
        the session checks it against this version's schema, and one that breaks it is dropped as
        any row that breaks its schema is (NotifyReport has the same shape in both versions). A
        security event is renamed for this version on the way (:func:`spelled_for`: 1.6 says
        InvalidCentralSystemCertificate where 2.x says InvalidCsmsCertificate).
        """
        if self._in_flight is not None or not self._rows_waiting or self._outbox_stopped:
            return False
        pending = live.state is session.State.PENDING
        if not (live.state is session.State.ACCEPTED or (pending and not self._outbox_paused)):
            return False
        self._rows_waiting = False  # cleared before the read: a row committed meanwhile sets it again
        rows = await asyncio.to_thread(self._station.outgoing, DOOR, 1, triggered_only=pending)  # B02.FR.02
        if not rows:
            return False
        [row] = rows
        if row.action == "BootNotification":  # F06: triggered; the session's own boot, sent now
            live.trigger_boot(self._loop.time())
            await asyncio.to_thread(self._station.delivered, row.seq)
            self._rows_waiting = True
            return True
        if row.seq == self._unanswered_seq:
            log.info("CSMS link: sending %s again under its message id %s: it was unanswered when the "
                     "last connection ended, so the CSMS may see it twice", _part(row), row.message_id)
        self._unanswered_seq = None
        # (The session closed meanwhile, by a Reset? Then enqueue reports CallFailed, and the row stays.)
        payload = spelled_for(row.payload, live.version) if row.action == EVENT_ACTION else row.payload
        call_id = live.enqueue(row.action, payload, self._loop.time(), call_id=row.message_id, triggered=True)
        self._in_flight = _InFlight(row, call_id)
        return True

    async def _settle(self, outcome: session.CallAnswered | session.CallFailed, live: session.Session) -> None:
        """The session's word on the row in flight: delete it (delivered, or never deliverable), or keep it.

        Answered: delivered. Unanswered (the session ended, a timeout): kept, and this session
        sends no more rows — the next one sends this first, under the same id. SecurityError while
        Pending (B02.FR.09): kept until this session is Accepted. Refused by any other CALLERROR:
        dropped, WARNING once per report (a CSMS that refuses a part would refuse it again). Not
        sendable (it breaks its schema) or answered with something unusable (the CSMS has it):
        dropped. The delete is an fsync: a worker thread's.
        """
        flight, self._in_flight = self._in_flight, None
        assert flight is not None and flight.call_id == outcome.call_id
        row = flight.row
        self._rows_waiting = True  # the next row, if any, once this one is settled
        if row.action == "SignCertificate":  # A02.FR.17: an Accepted answer starts the back-off
            verdict = (outcome.payload.get("status") == "Accepted" if isinstance(outcome, session.CallAnswered)
                       else False if outcome.failure is session.Failure.REFUSED else None)
            if verdict is not None:
                await asyncio.to_thread(self._station.sign_certificate_answered, str(row.payload.get("csr", "")),
                                        verdict)
        if isinstance(outcome, session.CallAnswered):
            log.debug("CSMS link: %s delivered (message id %s)", _part(row), row.message_id)
        elif outcome.failure is session.Failure.UNANSWERED:
            self._outbox_stopped, self._unanswered_seq = True, row.seq
            log.debug("CSMS link: %s unanswered (%s); kept for the next connection", _part(row), outcome.reason)
            return
        elif (outcome.failure is session.Failure.REFUSED and outcome.error is not None
              and outcome.error.code is ErrorCode.SECURITY_ERROR and live.state is session.State.PENDING):
            self._outbox_paused = True
            self._refusals.log(logging.INFO, "pending security error",
                               "CSMS link: the CSMS answered SecurityError to %s while Pending (B02.FR.09); "
                               "it and what follows wait until it accepts the station", _part(row))
            return
        elif outcome.failure is session.Failure.REFUSED:
            request_id = row.payload.get("requestId")
            self._refusals.log(logging.WARNING, f"refused {row.action} {request_id!r}",
                               "CSMS link: the CSMS refused %s (%s); not sent again, so that report reaches "
                               "it incomplete", _part(row), outcome.reason)
        elif outcome.failure is session.Failure.NOT_SENT:
            log.error("CSMS link: %s can never be sent (%s); dropped, so that report reaches the CSMS "
                      "incomplete", _part(row), outcome.reason)
        else:  # UNUSABLE: the CSMS has it (the problem with its answer was logged with the session's words)
            log.debug("CSMS link: %s answered unusably (%s); the CSMS has it: delivered", _part(row), outcome.reason)
        await asyncio.to_thread(self._station.delivered, row.seq)

    async def _run(self, request: Request) -> dict[str, Any] | OcppError:
        """A CALL of the CSMS through the station: at once when it cannot block the loop, else in a thread."""
        outcome = self._station.run_now(request)
        if outcome is None:  # it may commit with an fsync, or the MQTT door holds the lock
            outcome = await asyncio.to_thread(self._station.run, request)
        return outcome


class _Alarm:
    """Puts a wake-up (None) in the inbox by the session's next deadline; one timer per connection.

    A timer set for every wait (``asyncio.timeout_at``) cost ~6% of the loop's CPU under a stream
    of CALLs (issue 20's profile), and nearly always for nothing: each frame moves the heartbeat's
    deadline later, and the next CALL comes long before it. So the alarm is set again only for a
    deadline *earlier* than the one it has. Ringing early is harmless — the session's ``tick``
    does what is due and nothing else, and the next wait sets the alarm for the deadline then — and
    costs one extra turn per heartbeat interval. A ring that finds the inbox full is not needed:
    the loop turns anyway, and :meth:`Session.receive` applies the clock first.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, inbox: asyncio.Queue[Any]) -> None:
        self._loop, self._inbox = loop, inbox
        self._timer: asyncio.TimerHandle | None = None

    def ring_by(self, deadline: float | None) -> None:
        """Ring at ``deadline`` at the latest (None: no deadline, keep what is set)."""
        if deadline is None or (self._timer is not None and self._timer.when() <= deadline):
            return
        self.cancel()
        self._timer = self._loop.call_at(deadline, self._ring)

    def _ring(self) -> None:
        self._timer = None
        with contextlib.suppress(asyncio.QueueFull):
            self._inbox.put_nowait(None)

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


async def _read_into(ws: ClientConnection, inbox: asyncio.Queue[str | bytes | BaseException | None]) -> None:
    """Every message of ``ws`` into ``inbox``, then the exception that ended it (ConnectionClosed).

    The inbox is bounded: while it is full the reader waits, websockets' own queue fills, and a
    CSMS that floods us is held back by TCP, not by our memory."""
    try:
        while True:
            message = await ws.recv()
            await inbox.put(message)
    except websockets.ConnectionClosed as closed:
        await inbox.put(closed)

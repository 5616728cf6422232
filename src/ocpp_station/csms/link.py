"""The station's OCPP-J connection to its CSMS: the asyncio shell around :class:`~.session.Session`.

Everything OCPP-J decides (boot, StatusNotification, heartbeat, CALL correlation, one CALL of ours
at a time, message timeouts, the schema check of every CALL we send, SecurityError while Rejected)
is the sans-I/O session's; this shell does what needs a socket, a clock or the station:

* the connection walk (B10): the slots of ``NetworkConfigurationPriority`` in order, each tried up
  to ``NetworkProfileConnectionAttempts`` times with the RetryBackOff* waits, then the next slot;
  after the last, the list again — never giving up (B10.FR.09). After a session that was accepted
  (then lost) or an accepted Reset it starts again from the top (B10.FR.08);
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

A Reset accepted through either door (:meth:`Station.on_reset`) closes a live session once its
answer is out (:meth:`Session.reset_requested`), or restarts the walk from the top at once when
it comes between attempts; the next BootNotification says RemoteReset.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from typing import Any
from urllib.parse import urlsplit

import websockets
from websockets.asyncio.client import ClientConnection, connect

from ..app import Station
from ..errors import OcppError
from ..repeats import RepeatedLog
from ..rpc.envelope import Request
from ..station.connections import CannotConnect, ConnectionTarget
from . import frames, session
from .connection import endpoint

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 2**20  # the largest message we take from a CSMS (1 MiB); a bigger one closes the connection


class CsmsLink:
    """Keeps the station connected to its CSMS (create on the running event loop, then :meth:`run`)."""

    def __init__(self, station: Station):
        self._station = station
        self._loop = asyncio.get_running_loop()
        self._reset = asyncio.Event()  # a Reset to act on between attempts: the walk starts again from the top
        self._session: session.Session | None = None  # the live session, if any
        self._waker: asyncio.Future[Any] | None = None  # set to wake the shell when it waits for a message
        self._boot_reason = "PowerUp"
        self._repeats = RepeatedLog(log)  # the walk's failures recur every few seconds: said once, then every 10 min
        station.on_reset(self._reset_from_any_thread)

    def _reset_from_any_thread(self) -> None:
        """Station.on_reset listener: it may run on paho's thread or a worker thread, never touch state there."""
        self._loop.call_soon_threadsafe(self._reset_requested)

    def _reset_requested(self) -> None:
        """An accepted Reset (from either door): reconnect from the top — but only after the CSMS has its answer.

        The request stays pending until the link acts on it, whatever it is doing: connected, the
        session closes once the answer to the CALL being answered is queued; between attempts or
        while waiting to retry, the walk starts again from the top at once. An Accepted Reset always
        happens.
        """
        self._boot_reason = "RemoteReset"  # B01.FR.03/B01.FR.09: the next boot says why
        live = self._session
        if live is not None and live.state is not session.State.CLOSED:
            live.reset_requested()
            self._wake()
        else:
            self._reset.set()

    def _wake(self) -> None:
        if self._waker is not None and not self._waker.done():
            self._waker.set_result(None)

    async def _pause(self, seconds: float) -> bool:
        """Wait ``seconds``, or less if a Reset comes; True when it did (the walk then starts over)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._reset.wait(), seconds)
        return self._reset.is_set()

    # -- the walk through the priority list ----------------------------------------------------

    async def run(self) -> None:
        """Keep a connection to the CSMS, forever (cancel to stop)."""
        while True:
            self._reset.clear()  # the walk starts from the top: whatever Reset came before is done
            for slot in self._station.priority():
                if await self._try_slot(slot) or self._reset.is_set():
                    break  # connected, then lost (or reset): start again from the top
            else:
                await self._pause(self._backoff(0))  # a whole round failed: breathe before the next

    def _backoff(self, attempt: int) -> float:
        """RetryBackOffWaitMinimum doubled per attempt up to RetryBackOffRepeatTimes, plus random range."""
        minimum = self._station.setting("OCPPCommCtrlr", "RetryBackOffWaitMinimum", default=1)
        repeat = self._station.setting("OCPPCommCtrlr", "RetryBackOffRepeatTimes", default=2)
        spread = self._station.setting("OCPPCommCtrlr", "RetryBackOffRandomRange", default=2)
        return minimum * 2 ** min(attempt, repeat) + random.uniform(0, spread)

    async def _try_slot(self, slot: int) -> bool:
        """Up to NetworkProfileConnectionAttempts tries; True once a session was accepted or reset."""
        attempts = max(self._station.setting("OCPPCommCtrlr", "NetworkProfileConnectionAttempts", default=3), 1)
        for attempt in range(attempts):
            try:
                target = self._station.connection_target(slot)
                ends = endpoint(target, roots=self._station.csms_trust_store(),
                                own=self._station.own_certificate_files())
            except (CannotConnect, OSError, ValueError) as why:  # OSError: e.g. an unreadable key file (ssl)
                self._repeats.log(logging.WARNING, f"unusable {slot} {why}",
                                  "CSMS link: slot %d cannot be used: %s; moving on", slot, why)
                return False
            described = target.describe()
            self._repeats.log(logging.INFO, f"connecting {described}",
                              "CSMS link: connecting to %s, attempt %d/%d", described, attempt + 1, attempts)
            live: session.Session | None = None
            try:
                timeout = float(target.message_timeout or 30)
                # compression=None: no permessage-deflate. Part 4 §3.3 makes it optional for a station;
                # our frames are a few hundred bytes, and a CSMS that accepts deflate would pay a
                # compressor per connection and a deflate per frame for nothing.
                async with connect(ends.url, subprotocols=list(ends.subprotocols),  # type: ignore[arg-type]
                                   additional_headers=ends.headers, ssl=ends.ssl_context,
                                   open_timeout=timeout, ping_interval=self._ping_interval(),
                                   max_size=MAX_MESSAGE_BYTES, compression=None) as ws:
                    if ws.subprotocol not in ends.subprotocols:
                        self._repeats.log(logging.WARNING, f"no version {ends.url}",
                                          "CSMS link: %s agreed on no OCPP version we offered", ends.url)
                    elif self._reset.is_set():
                        log.info("CSMS link: reconnecting after Reset")  # accepted while we were connecting
                        return True
                    else:
                        live = self._start_session(ws, target, timeout)
                        close = await self._serve(ws, live, target)
                        if close.reset:
                            log.info("CSMS link: reconnecting after Reset")
                            return True
                        self._repeats.log(logging.WARNING, f"failed {described} {close.reason}",
                                          "CSMS link: %s failed: %s", described, close.reason)
                        if live.accepted:
                            return True
            except (OSError, TimeoutError, websockets.InvalidHandshake, websockets.InvalidURI) as error:
                self._repeats.log(logging.WARNING, f"failed {described} {error}",
                                  "CSMS link: %s failed: %s", described, error)
                if live is not None and live.accepted:
                    return True
            except websockets.ConnectionClosed as closed:
                self._repeats.log(logging.WARNING, f"closed {ends.url} {closed}",
                                  "CSMS link: the connection to %s closed (%s)", ends.url, closed)
                if live is not None and live.accepted:
                    return True
            except Exception as error:  # a bug of ours must not end the link: it never gives up (B10.FR.09)
                self._repeats.log(logging.ERROR, f"bug {described} {error!r}",
                                  "CSMS link: %s: unexpected %r (a bug); trying again", described, error)
                log.debug("CSMS link: the unexpected error's traceback", exc_info=True)
                if live is not None and live.accepted:
                    return True
            finally:
                self._session = None
                self._station.record_disconnected()
            if attempt + 1 < attempts and await self._pause(self._backoff(attempt)):
                return False  # a Reset: the walk starts again from the top
            if self._reset.is_set():
                return False
        self._repeats.log(logging.WARNING, f"slot failed {slot}",
                          "CSMS link: slot %d failed %d time(s); moving on to the next slot", slot, attempts)
        return False

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
        return live

    async def _serve(self, ws: ClientConnection, live: session.Session, target: ConnectionTarget) -> session.Close:
        """Move frames between the websocket and ``live`` until the session closes; its Close.

        The wait for the next message is bounded by the session's deadline, and a Reset accepted
        through the MQTT door wakes it too (``self._waker``), so the wait is :func:`asyncio.wait` on
        one pending ``ws.recv()`` task, kept across wake-ups, rather than ``wait_for(ws.recv(), …)``
        (which would need a cancel and a new recv at every deadline). ConnectionClosed (the CSMS
        or the network ended it) passes through to the walk.
        """
        reader: asyncio.Task[str | bytes] | None = None
        try:
            while True:
                close = await self._pump(ws, live, target)
                if close is not None:
                    await ws.close()
                    return close
                deadline = live.next_deadline()
                wait = None if deadline is None else max(deadline - self._loop.time(), 0.0)
                if reader is None:
                    reader = asyncio.ensure_future(ws.recv())
                waker: asyncio.Future[Any] = self._loop.create_future()
                self._waker = waker
                await asyncio.wait((reader, waker), timeout=wait, return_when=asyncio.FIRST_COMPLETED)
                waker.cancel()  # (a no-op once set)
                self._waker = None
                now = self._loop.time()
                if reader.done():
                    text, reader = reader.result(), None  # raises ConnectionClosed
                    live.receive(text, now)
                else:  # a deadline, or a Reset woke us
                    live.set_heartbeat_interval(self._heartbeat_interval())  # the OEM may have changed it
                    live.tick(now)
        finally:
            self._waker = None
            if reader is not None:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError, websockets.ConnectionClosed):
                    await reader

    async def _pump(self, ws: ClientConnection, live: session.Session,
                    target: ConnectionTarget) -> session.Close | None:
        """Act on the session's events and send its frames until it has nothing more; its Close, if it closed."""
        close: session.Close | None = None
        while True:
            events, texts = live.events(), live.frames_to_send()
            if not events and not texts:
                return close
            calls: list[frames.Call] = []
            for event in events:
                if isinstance(event, session.CallReceived):
                    calls.append(event.call)
                elif isinstance(event, session.Close):
                    close = event
                else:
                    self._note(event, live, target)  # BootAccepted records before the StatusNotifications leave
            for text in texts:
                await ws.send(text)
            for call in calls:  # one at a time, in arrival order (DESIGN rule 3)
                live.answer(call.id, await self._run(call, live.version))
                live.set_heartbeat_interval(self._heartbeat_interval())  # a SetVariables may have changed it

    def _note(self, event: session.Event, live: session.Session, target: ConnectionTarget) -> None:
        """The station's side of what the session reports, and the log lines."""
        if isinstance(event, session.BootAccepted):
            log.info("CSMS link: BootNotification Accepted (interval %d s)", event.interval)
            if event.interval > 0:  # B01.FR.04: the heartbeat interval is the CSMS's, kept durably
                self._station.record_heartbeat_interval(event.interval)
            self._station.record_connected(target, live.version)  # the active slot; A05.FR.06; M05.FR.13
            live.set_heartbeat_interval(self._heartbeat_interval())
            self._boot_reason = "PowerUp"
            log.info("CSMS link: connected and accepted on slot %d (%s)", target.slot, live.version)
            self._repeats.forget()  # a failure after this one is news
        elif isinstance(event, session.BootNotAccepted):
            log.info("CSMS link: BootNotification %s (interval %d s); the next one in %.0f s",
                     event.status, event.interval, event.retry_in)
        elif isinstance(event, session.ProtocolProblem):
            self._repeats.log(logging.WARNING, f"problem {event.description}", "CSMS link: %s", event.description)
        elif isinstance(event, session.CallFailed):
            log.debug("CSMS link: %s %s failed: %s", event.action, event.call_id, event.reason)
        elif isinstance(event, session.CallAnswered):
            log.debug("CSMS link: %s %s answered", event.action, event.call_id)

    async def _run(self, call: frames.Call, version: str) -> dict[str, Any] | OcppError:
        """A CALL of the CSMS through the station: at once when it cannot block the loop, else in a thread."""
        request = Request(call.id, version, call.action, call.payload)
        outcome = self._station.run_now(request)
        if outcome is None:  # it may commit with an fsync, or the MQTT door holds the lock
            outcome = await asyncio.to_thread(self._station.run, request)
        return outcome

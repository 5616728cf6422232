"""The station's OCPP-J connection to its CSMS: connect by priority, boot, heartbeat, answer CALLs.

Connection walk (B10): the slots of ``NetworkConfigurationPriority`` in order, each tried up to
``NetworkProfileConnectionAttempts`` times with the RetryBackOff* waits, then the next slot; after
the last, the list again — never giving up (B10.FR.09). After a lost connection or an accepted
Reset it starts again from the top (B10.FR.08).

A session: BootNotification until Accepted (B01–B03; while Pending the CSMS may already configure
us, while Rejected we answer nothing but SecurityError), then a StatusNotification per connector,
Heartbeat at the interval the CSMS gave, websocket pings at WebSocketPingInterval. CALLs from the
CSMS run through :meth:`Station.run` — the handlers, validation and CALLERRORs of the MQTT API —
one at a time; our own CALLs wait for their answer before the next is sent, each at most the
profile's messageTimeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from typing import Any
from urllib.parse import urlsplit

import websockets
from websockets.asyncio.client import ClientConnection, connect

from ..app import Station
from ..errors import ErrorCode, OcppError
from ..repeats import RepeatedLog
from ..rpc.envelope import Request
from ..station.connections import CannotConnect, ConnectionTarget
from ..station.datatypes import now_iso
from . import frames
from .connection import endpoint

log = logging.getLogger(__name__)


class CsmsRefused(Exception):
    """The CSMS answered our CALL with a CALLERROR, or not at all."""


class CsmsLink:
    def __init__(self, station: Station):
        self._station = station
        self._reset = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        def wake() -> None:  # from either door's thread: the Reset is handled on the event loop
            self._loop.call_soon_threadsafe(self._reset_requested)

        station.on_reset(wake)
        self._answering = False  # a CSMS CALL is being answered: a Reset it caused waits for its answer
        self._reset_after_answer = False
        self._boot_reason = "PowerUp"
        self._answers: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._call_lock = asyncio.Lock()
        self._accepted = False
        self._rejected = False  # B03: while the CSMS rejects us we answer its CALLs with SecurityError
        self._repeats = RepeatedLog(log)  # the walk's failures recur every few seconds: said once, then every 10 min

    def _reset_requested(self) -> None:
        """An accepted Reset (from either door): reconnect — but only after the CSMS has its answer.

        The request stays pending until the link acts on it, whatever it is doing: connected, the
        session closes and the walk starts again from the top; between attempts or while waiting to
        retry, the walk starts again from the top at once. An Accepted Reset always happens.
        """
        self._boot_reason = "RemoteReset"
        if self._answering:
            self._reset_after_answer = True
        else:
            self._reset.set()

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
        """Up to NetworkProfileConnectionAttempts tries; True once a session was established."""
        attempts = max(self._station.setting("OCPPCommCtrlr", "NetworkProfileConnectionAttempts", default=3), 1)
        for attempt in range(attempts):
            try:
                target = self._station.connection_target(slot)
                ends = endpoint(target, data_dir=self._station.config.data_dir, roots=self._station.csms_trust_store())
            except CannotConnect as why:
                self._repeats.log(logging.WARNING, f"unusable {slot} {why}",
                                  "CSMS link: slot %d cannot be used: %s; moving on", slot, why)
                return False
            described = target.describe()
            self._repeats.log(logging.INFO, f"connecting {described}",
                              "CSMS link: connecting to %s, attempt %d/%d", described, attempt + 1, attempts)
            try:
                timeout = float(target.message_timeout or 30)
                async with connect(ends.url, subprotocols=list(ends.subprotocols),  # type: ignore[arg-type]
                                   additional_headers=ends.headers, ssl=ends.ssl_context,
                                   open_timeout=timeout, ping_interval=self._ping_interval(),
                                   max_size=2**20) as ws:
                    if ws.subprotocol not in ends.subprotocols:
                        self._repeats.log(logging.WARNING, f"no version {ends.url}",
                                          "CSMS link: %s agreed on no OCPP version we offered", ends.url)
                    else:
                        await self._session(ws, target, timeout)
                        return True
            except (OSError, TimeoutError, websockets.InvalidHandshake, websockets.InvalidURI, CsmsRefused) as error:
                self._repeats.log(logging.WARNING, f"failed {described} {error}",
                                  "CSMS link: %s failed: %s", described, error)
                if self._accepted:
                    return True
            except websockets.ConnectionClosed as closed:
                self._repeats.log(logging.WARNING, f"closed {ends.url} {closed}",
                                  "CSMS link: the connection to %s closed (%s)", ends.url, closed)
                if self._accepted:
                    return True
            finally:
                self._accepted = False
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

    # -- one connection ---------------------------------------------------------------------------

    async def _session(self, ws: ClientConnection, target: ConnectionTarget, timeout: float) -> None:
        version = ws.subprotocol or target.offered_versions[-1]
        ssl_object = ws.transport.get_extra_info("ssl_object")
        peer = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        self._station.record_tls_peer(peer, urlsplit(target.url).hostname)  # M04.FR.06: the root in use
        reader = asyncio.create_task(self._read(ws, version))
        try:
            await self._boot(ws, version, timeout)
            await self._after_boot(ws, target, version, timeout)
            resets = asyncio.create_task(self._reset.wait())
            heartbeat = asyncio.create_task(self._heartbeat(ws, timeout))
            done, _ = await asyncio.wait({reader, resets, heartbeat}, return_when=asyncio.FIRST_COMPLETED)
            for task in (resets, heartbeat):
                task.cancel()
            if resets in done:
                log.info("CSMS link: reconnecting after Reset")
                await ws.close()
            elif heartbeat in done:
                log.warning("CSMS link: heartbeat failed (%s); reconnecting", heartbeat.exception())
                await ws.close()
            else:
                reader.result()  # re-raises ConnectionClosed
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, websockets.ConnectionClosed):
                await reader

    async def _boot(self, ws: ClientConnection, version: str, timeout: float) -> None:
        """B01–B03: BootNotification until Accepted; Pending/Rejected wait the interval the CSMS gives."""
        identity = self._station.config.station
        payload = {"reason": self._boot_reason, "chargingStation": {
            "model": identity.model, "vendorName": identity.vendor, "serialNumber": identity.serial_number,
            "firmwareVersion": identity.firmware_version}}
        while True:
            answer = await self._call(ws, "BootNotification", payload, timeout)
            status, interval = answer.get("status"), int(answer.get("interval", 0))
            log.info("CSMS link: BootNotification %s (interval %d s)", status, interval)
            if status == "Accepted":
                self._accepted, self._rejected = True, False
                self._boot_reason = "PowerUp"
                if interval > 0:  # B01.FR.04: the heartbeat interval is the CSMS's
                    self._station.record_heartbeat_interval(interval)
                return
            self._rejected = status == "Rejected"
            await asyncio.sleep(interval if interval > 0 else self._backoff(1))

    async def _after_boot(self, ws: ClientConnection, target: ConnectionTarget, version: str, timeout: float) -> None:
        self._station.record_connected(target, version)  # the active slot; A05.FR.06; M05.FR.13
        now = now_iso()
        for evse in self._station.config.evses:
            for connector in evse.connectors:
                await self._call(ws, "StatusNotification", {"timestamp": now, "connectorStatus": "Available",
                                                            "evseId": evse.id, "connectorId": connector.id}, timeout)
        log.info("CSMS link: connected and accepted on slot %d (%s)", target.slot, version)
        self._repeats.forget()  # a failure after this one is news

    async def _heartbeat(self, ws: ClientConnection, timeout: float) -> None:
        while True:
            await asyncio.sleep(max(self._station.setting("OCPPCommCtrlr", "HeartbeatInterval", default=60), 1))
            await self._call(ws, "Heartbeat", {}, timeout)

    # -- frames both ways -------------------------------------------------------------------------

    async def _call(self, ws: ClientConnection, action: str, payload: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Send one CALL and wait for its answer; one outstanding CALL at a time (Part 4 §4.1.1)."""
        async with self._call_lock:
            message_id = str(uuid.uuid4())
            future: asyncio.Future[dict[str, Any]] = self._loop.create_future()
            self._answers[message_id] = future
            try:
                await ws.send(frames.call(message_id, action, payload))
                return await asyncio.wait_for(future, timeout)
            except TimeoutError:
                raise CsmsRefused(f"no answer to {action} within {timeout:g} s") from None
            finally:
                self._answers.pop(message_id, None)

    async def _read(self, ws: ClientConnection, version: str) -> None:
        async for text in ws:
            try:
                frame = frames.parse(text)
            except frames.FrameError as error:
                if error.code is not ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED or version == "ocpp2.0.1":
                    await ws.send(frames.call_error(error.request_id, error, version))
                continue  # 2.1 ignores unknown message types (Part 4 §4.4)
            if isinstance(frame, frames.Call):
                self._answering = True
                try:
                    await ws.send(await self._answer(frame, version))
                finally:
                    self._answering = False
                if self._reset_after_answer:  # the answer is out: now the Reset may close the connection
                    self._reset_after_answer = False
                    self._reset.set()
            elif isinstance(frame, frames.CallResult):
                future = self._answers.get(frame.id)
                if future is not None and not future.done():
                    future.set_result(frame.payload)
            else:
                future = self._answers.get(frame.id)
                if future is not None and not future.done():
                    future.set_exception(CsmsRefused(f"CALLERROR {frame.code}: {frame.description}"))

    async def _answer(self, call: frames.Call, version: str) -> str:
        if self._rejected:  # B03: nothing but BootNotification while Rejected
            return frames.call_error(call.id, OcppError(ErrorCode.SECURITY_ERROR, "BootNotification was rejected"),
                                     version)
        request = Request(call.id, version, call.action, call.payload)
        outcome = await asyncio.to_thread(self._station.run, request)
        if isinstance(outcome, OcppError):
            return frames.call_error(call.id, outcome, version)
        return frames.call_result(call.id, outcome)

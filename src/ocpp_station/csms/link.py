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
from datetime import UTC, datetime
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection, connect

from ..app import Station
from ..repeats import RepeatedLog
from ..rpc.envelope import Request
from ..rpc.errors import ErrorCode, OcppError
from ..station.network import NetworkProfile
from . import frames
from .connection import CannotConnect, endpoint

log = logging.getLogger(__name__)


class CsmsRefused(Exception):
    """The CSMS answered our CALL with a CALLERROR, or not at all."""


class CsmsLink:
    def __init__(self, station: Station):
        self._station = station
        self._model = station.model
        self._reset = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        station.on_reset(lambda: self._loop.call_soon_threadsafe(self._reset_requested))
        self._answering = False  # a CSMS CALL is being answered: a Reset it caused waits for its answer
        self._reset_after_answer = False
        self._boot_reason = "PowerUp"
        self._answers: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._call_lock = asyncio.Lock()
        self._accepted = False
        self._rejected = False  # B03: while the CSMS rejects us we answer its CALLs with SecurityError
        self._repeats = RepeatedLog(log)  # the walk's failures recur every few seconds: said once, then every 10 min

    def _reset_requested(self) -> None:
        """An accepted Reset (from either door): reconnect — but only after the CSMS has its answer."""
        self._boot_reason = "RemoteReset"
        if self._answering:
            self._reset_after_answer = True
        else:
            self._reset.set()

    # -- the walk through the priority list ----------------------------------------------------

    async def run(self) -> None:
        """Keep a connection to the CSMS, forever (cancel to stop)."""
        while True:
            for slot in self._priority():
                with self._station.lock:
                    profile = self._station.network.profiles().get(slot)
                if profile is None:
                    self._repeats.log(logging.WARNING, f"empty {slot}",
                                "CSMS link: slot %d in NetworkConfigurationPriority holds no profile; skipped", slot)
                    continue
                if await self._try_slot(profile):
                    break  # connected, then lost (or reset): start again from the top
            else:
                await asyncio.sleep(self._backoff(0))  # a whole round failed: breathe before the next

    def _priority(self) -> list[int]:
        with self._station.lock:
            value = self._model.read("OCPPCommCtrlr", "NetworkConfigurationPriority") or "1"
        return [int(slot) for slot in value.split(",") if slot.strip().isdigit()]

    def _backoff(self, attempt: int) -> float:
        """RetryBackOffWaitMinimum doubled per attempt up to RetryBackOffRepeatTimes, plus random range."""
        minimum = self._model.read_int("OCPPCommCtrlr", "RetryBackOffWaitMinimum", default=1)
        repeat = self._model.read_int("OCPPCommCtrlr", "RetryBackOffRepeatTimes", default=2)
        spread = self._model.read_int("OCPPCommCtrlr", "RetryBackOffRandomRange", default=2)
        return minimum * 2 ** min(attempt, repeat) + random.uniform(0, spread)

    async def _try_slot(self, profile: NetworkProfile) -> bool:
        """Up to NetworkProfileConnectionAttempts tries; True once a session was established."""
        attempts = max(self._model.read_int("OCPPCommCtrlr", "NetworkProfileConnectionAttempts", default=3), 1)
        for attempt in range(attempts):
            try:
                target = endpoint(profile, identity=self._model.read("SecurityCtrlr", "Identity") or "",
                                  password=self._password(), data_dir=self._station.config.data_dir)
            except CannotConnect as why:
                self._repeats.log(logging.WARNING, f"unusable {profile.slot} {why}",
                            "CSMS link: slot %d cannot be used: %s; moving on", profile.slot, why)
                return False
            described = target.describe(profile)
            self._repeats.log(logging.INFO, f"connecting {described}",
                        "CSMS link: connecting to %s, attempt %d/%d", described, attempt + 1, attempts)
            try:
                timeout = float(profile.data.get("messageTimeout", 30))
                async with connect(target.url, subprotocols=list(target.subprotocols),  # type: ignore[arg-type]
                                   additional_headers=target.headers, ssl=target.ssl_context,
                                   open_timeout=timeout, ping_interval=self._ping_interval(),
                                   max_size=2**20) as ws:
                    if ws.subprotocol not in target.subprotocols:
                        self._repeats.log(logging.WARNING, f"no version {target.url}",
                                    "CSMS link: %s agreed on no OCPP version we offered", target.url)
                    else:
                        await self._session(ws, profile, timeout)
                        return True
            except (OSError, TimeoutError, websockets.InvalidHandshake, websockets.InvalidURI, CsmsRefused) as error:
                self._repeats.log(logging.WARNING, f"failed {described} {error}",
                            "CSMS link: %s failed: %s", described, error)
                if self._accepted:
                    return True
            except websockets.ConnectionClosed as closed:
                self._repeats.log(logging.WARNING, f"closed {target.url} {closed}",
                            "CSMS link: the connection to %s closed (%s)", target.url, closed)
                if self._accepted:
                    return True
            finally:
                self._accepted = False
            if attempt + 1 < attempts:
                await asyncio.sleep(self._backoff(attempt))
        self._repeats.log(logging.WARNING, f"slot failed {profile.slot}",
                    "CSMS link: slot %d failed %d time(s); moving on to the next slot", profile.slot, attempts)
        return False

    def _password(self) -> str | None:
        with self._station.lock:
            found = self._model.find_internal("SecurityCtrlr", "BasicAuthPassword")
            return None if found is None else self._model.current_value(found)

    def _ping_interval(self) -> float | None:
        seconds = self._model.read_int("OCPPCommCtrlr", "WebSocketPingInterval", default=30)
        return float(seconds) if seconds > 0 else None  # 0 switches pings off

    # -- one connection ---------------------------------------------------------------------------

    async def _session(self, ws: ClientConnection, profile: NetworkProfile, timeout: float) -> None:
        version = ws.subprotocol or "ocpp2.0.1"
        self._reset.clear()
        reader = asyncio.create_task(self._read(ws, version))
        try:
            await self._boot(ws, profile, version, timeout)
            await self._after_boot(ws, profile, timeout)
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

    async def _boot(self, ws: ClientConnection, profile: NetworkProfile, version: str, timeout: float) -> None:
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
                if interval > 0:  # B01.FR.?: the heartbeat interval is the CSMS's
                    self._station_write("OCPPCommCtrlr", "HeartbeatInterval", str(interval))
                return
            self._rejected = status == "Rejected"
            await asyncio.sleep(interval if interval > 0 else self._backoff(1))

    async def _after_boot(self, ws: ClientConnection, profile: NetworkProfile, timeout: float) -> None:
        network = self._station.network
        with self._station.lock:
            network.set_active_slot(profile.slot)  # OCPPCommCtrlr.ActiveNetworkProfile
            removed = network.remove_profiles_below(profile.security_profile)  # A05.FR.06
        if removed:
            kept = [s for s in self._priority() if s not in removed] or [profile.slot]
            self._station_write("OCPPCommCtrlr", "NetworkConfigurationPriority", ",".join(map(str, kept)))
        now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        for evse in self._station.config.evses:
            for connector in evse.connectors:
                await self._call(ws, "StatusNotification", {"timestamp": now, "connectorStatus": "Available",
                                                            "evseId": evse.id, "connectorId": connector.id}, timeout)
        log.info("CSMS link: connected and accepted on slot %d", profile.slot)
        self._repeats.forget()  # a failure after this one is news

    async def _heartbeat(self, ws: ClientConnection, timeout: float) -> None:
        while True:
            await asyncio.sleep(max(self._model.read_int("OCPPCommCtrlr", "HeartbeatInterval", default=60), 1))
            await self._call(ws, "Heartbeat", {}, timeout)

    def _station_write(self, component: str, variable: str, value: str) -> None:
        with self._station.lock:
            self._model.write_internal(component, variable, value)

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
                    await ws.send(await self._answer(frame, version, len(text)))
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

    async def _answer(self, call: frames.Call, version: str, size: int) -> str:
        if self._rejected:  # B03: nothing but BootNotification while Rejected
            return frames.call_error(call.id, OcppError(ErrorCode.SECURITY_ERROR, "BootNotification was rejected"),
                                     version)
        request = Request(call.id, version, call.action, call.payload)
        outcome = await asyncio.to_thread(self._station.run, request, size)
        if isinstance(outcome, OcppError):
            return frames.call_error(call.id, outcome, version)
        return frames.call_result(call.id, outcome)

"""Security events (A04) end to end: real station processes, a real mosquitto, a CSMS of the ``ocpp`` package.

What the station logs (its ``security_log`` table, read here read-only with ``sqlite3``: the station's
SQLite file is the truth it keeps) is compared with what reaches the CSMS (SecurityEventNotification
CALLs, validated by the ``ocpp`` package against the official schema and again here with the
pure-Python ``jsonschema``) and the OEM (``ocpp_message`` requests on josev/cs, checked by
:meth:`OemClient.station_request`). Covered: A04.FR.01 (the startup event after the boot is
Accepted), A04.FR.02 (queued while offline, across a clean restart and a ``kill -9``, delivered in
order and once), A04.FR.04 (the rolling log), A00.FR.413 (a CSMS certificate of another CA:
one notification for many failed handshakes) and InvalidMessages (frames that are no OCPP-J).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import websockets
from ocpp.messages import Call, validate_payload  # type: ignore[import-untyped]
from websockets.asyncio.server import ServerConnection

from ..support import ThreadedServer, free_port, request_validator, wait_until
from . import test_csms_link
from .test_csms_link import (
    IDENTITY,
    PASSWORD,
    V201,
    Csms,
    Received,
    Rig,
    boot_of,
    issue,
    network_config,
    now_iso,
    server_context,
)

rigs, csmss = test_csms_link.rigs, test_csms_link.csmss  # the fixtures: a station and CSMSs of the test's own

ACTION = "SecurityEventNotification"
DATABASE = "station.sqlite3"

# The event names of the part 2 appendix "Security Events" (2.0.1 and 2.1), written here from the
# appendix, not taken from the station.
APPENDIX_EVENTS = frozenset({
    "FirmwareUpdated", "FailedToAuthenticationAtCsms", "CsmsFailedToAuthentication", "SettingSystemTime",
    "StartupOfTheDevice", "ResetOrReboot", "SecurityLogWasCleared", "ReconfigurationOfSecurityParameters",
    "MemoryExhaustion", "InvalidMessages", "AttemptedReplayAttacks", "TamperDetectionActivated",
    "InvalidFirmwareSignature", "InvalidFirmwareSigningCertificate", "InvalidCsmsCertificate",
    "InvalidChargingStationCertificate", "InvalidTLSVersion", "InvalidTLSCipherSuite",
    "MaintenanceLoginAccepted", "MaintenanceLoginFailed", "DiscardedRenewedClientCertificate",
})
RECONFIGURED = "ReconfigurationOfSecurityParameters"


def mqtt_only(extra: str = "") -> str:
    """A station without a CSMS link: its events go to the OEM only."""
    return f'[station]\nidentity = "{IDENTITY}"\n\n[csms]\nenabled = false\n{extra}'


# --------------------------------------------------------------------------------------------------------------
# What the station keeps (its SQLite file, read-only)
# --------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Logged:
    id: int
    at: str
    type: str
    tech_info: str

    def as_payload(self) -> dict[str, str]:
        """The SecurityEventNotification this entry promises."""
        return {"type": self.type, "timestamp": self.at, **({"techInfo": self.tech_info} if self.tech_info else {})}


def _query(rig: Rig, sql: str, arguments: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    db = sqlite3.connect((rig.data_dir / DATABASE).as_uri() + "?mode=ro", uri=True, timeout=5)
    try:
        return db.execute(sql, arguments).fetchall()
    finally:
        db.close()


def security_log(rig: Rig) -> list[Logged]:
    """The station's security log, oldest first."""
    return [Logged(*row) for row in _query(rig, "SELECT id, at, type, tech_info FROM security_log ORDER BY id")]


def logged(rig: Rig, kind: str) -> list[Logged]:
    return [entry for entry in security_log(rig) if entry.type == kind]


def waiting(rig: Rig, door: str = "csms") -> list[tuple[str, dict[str, Any]]]:
    """The notifications not yet delivered through ``door``, in order: (message id, payload)."""
    rows = _query(rig, "SELECT message_id, CAST(payload AS TEXT) FROM outbox WHERE door = ? AND action = ?"
                       " ORDER BY seq", (door, ACTION))
    return [(message_id, json.loads(payload)) for message_id, payload in rows]


# --------------------------------------------------------------------------------------------------------------
# What the CSMS received
# --------------------------------------------------------------------------------------------------------------

def checked_notifications(csms: Csms) -> list[Received]:
    """The SecurityEventNotifications the CSMS received, each payload checked against the official schema
    of the session's version (the ``ocpp`` package checked it too, before answering)."""
    found = csms.received(ACTION)
    version = csms.sessions[-1] if csms.sessions else V201
    for received in found:
        request_validator(version, ACTION).validate(received.frame[3])
        assert received.frame[3]["type"] in APPENDIX_EVENTS, received.frame
    return found


def all_delivered(rig: Rig, csms: Csms, timeout: float = 15.0) -> list[Received]:
    """Once nothing waits for the CSMS any more: every notification it received (nothing can follow
    without a new event, and the outbox row of one is deleted only after the CSMS answered it)."""
    wait_until(lambda: not waiting(rig), f"notifications still wait for the CSMS: {waiting(rig)}\n"
               f"{rig.log()[-3000:]}", timeout)
    assert "the CSMS refused" not in rig.log()  # the ocpp package answered each one (its schema held)
    return checked_notifications(csms)


def index_of(csms: Csms, received: Received) -> int:
    return next(i for i, r in enumerate(csms.frames) if r is received)


@pytest.fixture
def idle_csmss() -> Iterator[Callable[..., Csms]]:
    """CSMSs made but not started: the test starts each when it wants (a station offline until then); those
    running are stopped after."""
    made: list[Csms] = []

    def make(**kwargs: Any) -> Csms:
        csms = Csms(**kwargs)
        made.append(csms)
        return csms

    yield make
    for csms in made:
        if csms._thread is not None and csms._thread.is_alive():  # (Csms.stop is not idempotent)
            csms.stop()


# --------------------------------------------------------------------------------------------------------------
# A04.FR.01: StartupOfTheDevice, once the CSMS accepted the station
# --------------------------------------------------------------------------------------------------------------

def first_notification_after_boot(rig: Rig, csms: Csms, accepted_boot: int) -> Received:
    """The first SecurityEventNotification: StartupOfTheDevice as logged, after ``boots[accepted_boot]``
    (the first Accepted BootNotification) and after every StatusNotification (frame order)."""
    boot_of(rig, csms)
    [first, *_] = csms.wait_for(ACTION, timeout=8, why=lambda: rig.log()[-3000:])
    [startup] = logged(rig, "StartupOfTheDevice")
    assert first.frame[3] == startup.as_payload(), (first.frame, startup)
    assert first.frame[3]["type"] == "StartupOfTheDevice"
    checked_notifications(csms)
    boots = csms.received("BootNotification")
    statuses = csms.wait_for("StatusNotification")
    order = [r.action for r in csms.frames]
    at = index_of(csms, first)
    assert len(boots) > accepted_boot and at > index_of(csms, boots[accepted_boot]), order
    assert at > max(index_of(csms, s) for s in statuses), order
    all_delivered(rig, csms)
    return first


def test_A04_FR_01_startup_event_reaches_the_csms_after_boot(rigs: Callable[..., Rig],
                                                             csmss: Callable[..., Csms]) -> None:
    csms = csmss()
    rig = rigs(network_config(csms.url))
    rig.prepare()
    first_notification_after_boot(rig, csms, accepted_boot=0)


def test_A04_FR_01_B02_FR_02_startup_event_waits_through_pending(rigs: Callable[..., Rig],
                                                                 csmss: Callable[..., Csms]) -> None:
    # While Pending the event may not go (it is no message the CSMS asked for); once Accepted it must.
    csms = csmss(boot_statuses=["Pending", "Accepted"])
    rig = rigs(network_config(csms.url))
    rig.prepare()
    first_notification_after_boot(rig, csms, accepted_boot=1)


# --------------------------------------------------------------------------------------------------------------
# A04.FR.02: queued while offline, across a restart and a kill -9; then in order, once each
# --------------------------------------------------------------------------------------------------------------

def test_A04_FR_02_events_queued_while_offline_delivered_in_order_once(rigs: Callable[..., Rig],
                                                                        idle_csmss: Callable[..., Csms]) -> None:
    csms = idle_csmss()  # not started: the station is offline
    rig = rigs(network_config(csms.url))
    rig.prepare()  # BasicAuthPassword set: an event
    root = issue("A04 offline root", ca=True)
    rig.install_root(root)  # an event
    listed = rig.oem.result("GetInstalledCertificateIds", {"certificateType": ["CSMSRootCertificate"]})
    [chain] = listed["certificateHashDataChain"]
    deleted = rig.oem.result("DeleteCertificate", {"certificateHashData": chain["certificateHashData"]})
    assert deleted["status"] == "Accepted", deleted  # an event
    rig.set_variables("OCPPCommCtrlr", {"NetworkConfigurationPriority": "1"})  # an event
    assert rig.oem.result("Reset", {"type": "Immediate"})["status"] == "Accepted"  # an event

    assert rig.station.terminate() == 0  # a clean restart ...
    rig.station.start()
    wait_until(lambda: len(logged(rig, "StartupOfTheDevice")) == 2, "no second StartupOfTheDevice logged")
    rig.station.kill()  # ... and a crash, both while offline
    rig.station.start()
    wait_until(lambda: len(logged(rig, "StartupOfTheDevice")) == 3, "no third StartupOfTheDevice logged")

    entries = security_log(rig)
    assert [e.type for e in entries] == ["StartupOfTheDevice", RECONFIGURED, RECONFIGURED, RECONFIGURED, RECONFIGURED,
                                         "ResetOrReboot", "StartupOfTheDevice", "StartupOfTheDevice"], entries
    assert "BasicAuthPassword" in entries[1].tech_info and PASSWORD not in entries[1].tech_info, entries[1]
    promised = waiting(rig)
    assert [payload for _, payload in promised] == [e.as_payload() for e in entries], (promised, entries)
    assert not csms.frames

    csms.start()
    boot_of(rig, csms)
    received = all_delivered(rig, csms)
    # Each one once, under the message id it was queued with, in the order the events happened.
    assert [(r.frame[1], r.frame[3]) for r in received] == promised, ([r.frame for r in received], promised)
    assert len({r.frame[1] for r in received}) == len(received)
    [accepted, *_] = csms.received("BootNotification")  # this CSMS accepts every boot
    assert index_of(csms, received[0]) > index_of(csms, accepted), [r.action for r in csms.frames]
    assert security_log(rig) == entries  # nothing new happened meanwhile: the comparison is with all of them


# --------------------------------------------------------------------------------------------------------------
# The OEM is told too (door "mqtt")
# --------------------------------------------------------------------------------------------------------------

def test_A04_events_also_reach_the_oem_over_mqtt(rigs: Callable[..., Rig]) -> None:
    rig = rigs(mqtt_only())
    wait_until(lambda: not waiting(rig, "mqtt"), "the StartupOfTheDevice was not published")
    rig.install_root(issue("A04 OEM root", ca=True))
    request = rig.oem.station_request(ACTION)  # envelope and payload schema-checked by the helper
    if request["data"]["payload"]["type"] == "StartupOfTheDevice":  # it may have come after we subscribed
        request = rig.oem.station_request(ACTION)
    data = request["data"]
    [entry] = [e for e in security_log(rig) if e.type == RECONFIGURED]
    assert data["payload"] == entry.as_payload(), (data, entry)
    assert "CSMSRootCertificate" in data["payload"]["techInfo"], data
    wait_until(lambda: not waiting(rig, "mqtt"), "the notification is still in the outbox after its PUBACK")


# --------------------------------------------------------------------------------------------------------------
# A00.FR.413: a CSMS certificate of another CA; one notification however many handshakes failed
# --------------------------------------------------------------------------------------------------------------

def test_A00_FR_413_invalid_csms_certificate_event(rigs: Callable[..., Rig], idle_csmss: Callable[..., Csms],
                                                   tmp_path: Path) -> None:
    trusted, other = issue("A04 Trusted CSMS Root", ca=True), issue("A04 Unknown CA", ca=True)
    impostor = idle_csmss(ssl_context=server_context(tmp_path, other)).start()
    rig = rigs(network_config(impostor.url, security_profile=2))
    rig.prepare()
    rig.install_root(trusted)
    wait_until(lambda: len(logged(rig, "InvalidCsmsCertificate")) >= 3,
               f"fewer than 3 failed handshakes logged:\n{rig.log()[-3000:]}", timeout=15)
    assert not impostor.handshakes and not impostor.frames  # never past TLS
    assert [p for _, p in waiting(rig) if p["type"] == "InvalidCsmsCertificate"] == [
        logged(rig, "InvalidCsmsCertificate")[0].as_payload()]  # one queued, the first

    impostor.stop()
    genuine = idle_csmss(ssl_context=server_context(tmp_path, trusted), port=impostor.port).start()  # fixed, same URL
    boot_of(rig, genuine)
    received = all_delivered(rig, genuine)
    failed = logged(rig, "InvalidCsmsCertificate")
    invalid = [r for r in received if r.frame[3]["type"] == "InvalidCsmsCertificate"]
    assert len(failed) > 1 and len(invalid) == 1, (len(failed), [r.frame for r in received])
    assert invalid[0].frame[3] == failed[0].as_payload(), (invalid[0].frame, failed[0])
    assert invalid[0].frame[3].get("techInfo"), invalid[0].frame  # what failed, for people
    assert [r.frame[3]["type"] for r in received] == ["StartupOfTheDevice", RECONFIGURED, RECONFIGURED,
                                                      "InvalidCsmsCertificate"], [r.frame for r in received]


# --------------------------------------------------------------------------------------------------------------
# A04.FR.04: the log rolls
# --------------------------------------------------------------------------------------------------------------

def test_A04_FR_04_security_log_is_rolling(rigs: Callable[..., Rig]) -> None:
    rig = rigs(mqtt_only("\n[security]\nsecurity_log_max = 5\n"))
    roots = [issue(f"A04 rolling root {i}", ca=True) for i in range(4)]
    for root in roots:
        rig.install_root(root)
    entries = security_log(rig)
    assert [e.type for e in entries] == ["StartupOfTheDevice"] + [RECONFIGURED] * 4, entries  # full, not over

    listed = rig.oem.result("GetInstalledCertificateIds", {"certificateType": ["CSMSRootCertificate"]})
    hashes = [chain["certificateHashData"] for chain in listed["certificateHashDataChain"]][:3]
    assert len(hashes) == 3, listed
    for hash_data in hashes:
        assert rig.oem.result("DeleteCertificate", {"certificateHashData": hash_data})["status"] == "Accepted"

    entries = security_log(rig)
    assert len(entries) == 5, entries  # 8 events, the 5 newest kept
    assert [e.id for e in entries] == list(range(4, 9)), entries  # the oldest 3 went: the startup, 2 installs
    assert all(e.type == RECONFIGURED for e in entries), entries
    assert [e.tech_info for e in entries[:2]] == ["CSMSRootCertificate installed"] * 2, entries
    for entry, hash_data in zip(entries[2:], hashes, strict=True):
        assert hash_data["serialNumber"] in entry.tech_info, (entry, hash_data)


# --------------------------------------------------------------------------------------------------------------
# InvalidMessages: frames from the CSMS that are no OCPP-J messages
# --------------------------------------------------------------------------------------------------------------

GARBAGE = ("this is no JSON at all", '[2,"garbage-2","Heartbeat",{', '{"not": "an OCPP-J array"}')


@dataclass
class RawCsms(ThreadedServer):
    """A CSMS of bare ``websockets`` (ocpp2.0.1, no authentication checked) that answers every CALL of the
    station — each payload checked by the ``ocpp`` package first — and, right after its answer to the first
    BootNotification (Accepted) it gets, sends ``garbage`` on that connection: frames that are no OCPP-J messages.

    Only once: the station may open a connection and drop it before its boot (the BasicAuthPassword the test
    sets makes it reconnect, A01, which may find an attempt under way), so connections are counted apart."""

    garbage: tuple[str, ...] = GARBAGE
    port: int = field(default_factory=free_port)
    frames: list[tuple[int, Any]] = field(default_factory=list)  # (connection number, frame received)
    invalid: list[str] = field(default_factory=list)  # what the ocpp package found wrong in a CALL
    connections: int = 0
    garbage_sent_on: int | None = None  # the connection the garbage went on
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _loop: asyncio.AbstractEventLoop | None = None
    _stop: asyncio.Event | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"ws://localhost:{self.port}/ocpp"

    def serve_options(self) -> dict[str, Any]:
        return {"subprotocols": [V201]}

    async def _handle(self, ws: ServerConnection) -> None:
        with self._lock:
            number, self.connections = self.connections, self.connections + 1
        try:
            async for text in ws:
                frame = json.loads(text)
                with self._lock:
                    self.frames.append((number, frame))
                if frame[0] != 2:
                    continue
                _, unique_id, action, payload = frame
                try:
                    await validate_payload(Call(unique_id, action, payload), "2.0.1")
                except Exception as error:
                    with self._lock:
                        self.invalid.append(f"{action}: {error}")
                answer: dict[str, Any] = {}
                if action == "BootNotification":
                    answer = {"currentTime": now_iso(), "interval": 1, "status": "Accepted"}
                elif action == "Heartbeat":
                    answer = {"currentTime": now_iso()}
                await ws.send(json.dumps([3, unique_id, answer]))
                with self._lock:
                    first = action == "BootNotification" and self.garbage_sent_on is None
                    if first:
                        self.garbage_sent_on = number
                if first:
                    for text_frame in self.garbage:
                        await ws.send(text_frame)
        except websockets.ConnectionClosed:
            pass

    def received(self, kind: int, action: str | None = None) -> list[tuple[int, Any]]:
        with self._lock:
            return [(n, f) for n, f in self.frames if f[0] == kind and (action is None or f[2] == action)]


@pytest.fixture
def raw_csms() -> Iterator[RawCsms]:
    csms = RawCsms().start()
    yield csms
    csms.stop()


def test_A04_invalid_messages_event(rigs: Callable[..., Rig], raw_csms: RawCsms) -> None:
    rig = rigs(network_config(raw_csms.url))
    rig.prepare()
    wait_until(lambda: len(raw_csms.received(4)) >= len(GARBAGE), f"the station did not answer the garbage:\n"
               f"{rig.log()[-3000:]}", timeout=15)
    errors = [frame for _, frame in raw_csms.received(4)]
    assert [(e[1], e[2]) for e in errors] == [("-1", "RpcFrameworkError"), ("garbage-2", "RpcFrameworkError"),
                                              ("-1", "RpcFrameworkError")], errors
    assert all(len(e) == 5 and isinstance(e[3], str) and isinstance(e[4], dict) for e in errors), errors

    wait_until(lambda: len(logged(rig, "InvalidMessages")) == len(GARBAGE), "not every garbage frame was logged")
    wait_until(lambda: not waiting(rig), f"notifications still wait: {waiting(rig)}", timeout=15)
    notifications = [frame for _, frame in raw_csms.received(2, ACTION)]
    for frame in notifications:
        request_validator(V201, ACTION).validate(frame[3])
    invalid = [frame for frame in notifications if frame[3]["type"] == "InvalidMessages"]
    assert len(invalid) == 1, notifications  # one notification for three frames (one of its type waited)
    assert invalid[0][3] == logged(rig, "InvalidMessages")[0].as_payload(), invalid
    assert not raw_csms.invalid, raw_csms.invalid

    # One connection carried the boot, the garbage, the answers and the notification; it goes on: a heartbeat
    # after the garbage on it, no second boot.
    on = raw_csms.garbage_sent_on
    assert {n for n, _ in raw_csms.received(4)} == {on}, raw_csms.frames
    assert {n for n, _ in raw_csms.received(2, ACTION)} == {on}, raw_csms.frames
    beats = len(raw_csms.received(2, "Heartbeat"))
    wait_until(lambda: len(raw_csms.received(2, "Heartbeat")) > beats, "no heartbeat after the garbage", timeout=5)
    assert raw_csms.received(2, "Heartbeat")[-1][0] == on, raw_csms.frames
    assert [n for n, _ in raw_csms.received(2, "BootNotification")] == [on], raw_csms.frames

"""Issue 15 item 2: a hostile CSMS must not stop the link, nor make it reconnect in a storm.

The CSMS here is a raw ``websockets`` server (subprotocol ocpp2.0.1), not the ``ocpp`` package's:
it must send what that package would refuse to send — a BootNotification answer whose interval
is ``"abc"``, ``null``, ``1e999`` or a 401-digit number, a frame over 1 MiB after Accepted, text
that is no OCPP-J frame at all. Each behaviour runs against a station process of its own (its own
mosquitto, its own data directory) whose password and retry settings are written into its data
directory before it starts (:func:`seed`), so that the first connection is the first backoff step.

What is measured is what the CSMS sees: when each connection was accepted (``HostileCsms.connections``),
counted over a fixed window, and the WARNING lines the station wrote meanwhile. Every wait for an
event is a wait for that event (a connection, a frame, a log line); counting over a window is a
measurement, with generous bounds.

``python -m tests.integration.test_hostile_csms [SECONDS]`` measures connections per minute under
each behaviour with the default RetryBackOff* settings (the figures of the issue's closing note);
the slow test :func:`test_connections_per_minute_under_each_hostile_behaviour` does the same for
a shorter window and asserts the bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import websockets
from websockets.asyncio.server import ServerConnection

from ocpp_station.app import Station
from ocpp_station.config import Config, Network, StationIdentity
from ocpp_station.csms import link as link_module
from ocpp_station.csms.link import CsmsLink, retry_backoff

from ..support import InProcessOem, ThreadedServer, free_port
from .test_csms_link import IDENTITY, PASSWORD, Rig, network_config

V201 = "ocpp2.0.1"
GOOD_INTERVAL = 7  # the heartbeat interval a CSMS that behaves gives
MiB = 2**20


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def boot_answer(message_id: str, interval: str) -> str:
    """A BootNotification CALLRESULT, Accepted, with ``interval`` written as raw JSON text."""
    return f'[3,"{message_id}",{{"currentTime":"{now_iso()}","interval":{interval},"status":"Accepted"}}]'


def big_frame() -> str:
    """A CALL of more than 1 MiB: the station takes no message that large."""
    return json.dumps([2, "big-1", "DataTransfer", {"vendorId": "x", "data": "x" * (MiB + 16)}])


GARBAGE = ["not json", '[3,"', "[3,\"cut\",{\"currentTime\":", '{"a":1}', "[9,\"x\",{}]", "\u0000\u00ff"]

# What each hostile CSMS answers to a BootNotification (raw text, the id filled in), or does.
BEHAVIOURS: dict[str, str] = {
    "interval-abc": '"abc"',
    "interval-null": "null",
    "interval-1e999": "1e999",
    "interval-10^400": "1" + "0" * 400,
    "frame-over-1MiB-after-accepted": "big",
    "garbage": "garbage",
}
SET_OFFLINE_THRESHOLD = {"setVariableData": [{"component": {"name": "OCPPCommCtrlr"},
                                              "variable": {"name": "OfflineThreshold"}, "attributeValue": "999"}]}
REJECTED = '[3,"{id}",{{"currentTime":"{now}","interval":60,"status":"Rejected"}}]'


@dataclass
class HostileCsms(ThreadedServer):
    """A CSMS on 127.0.0.1:``port`` that misbehaves as ``behaviour`` says until :attr:`good` is set."""

    behaviour: str
    port: int = field(default_factory=free_port)
    connections: list[float] = field(default_factory=list)  # time.monotonic() of each accepted connection
    received: list[tuple[float, Any]] = field(default_factory=list)  # every frame the station sent
    good: threading.Event = field(default_factory=threading.Event)  # from now on: answer as a CSMS should
    hostile_connections: int | None = None  # misbehave on this many connections only (None: until good)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _loop: asyncio.AbstractEventLoop | None = None
    _stop: asyncio.Event | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ocpp"

    def serve_options(self) -> dict[str, Any]:
        return {"subprotocols": [V201], "max_size": None}

    async def _handle(self, ws: ServerConnection) -> None:
        with self._lock:
            self.connections.append(time.monotonic())
            if self.hostile_connections is not None and len(self.connections) > self.hostile_connections:
                self.good.set()
        good = self.good.is_set()
        garbage = iter(GARBAGE * 100)
        with contextlib.suppress(websockets.ConnectionClosed):
            async for text in ws:
                try:
                    frame = json.loads(text)
                except ValueError:
                    frame = text
                with self._lock:
                    self.received.append((time.monotonic(), frame))
                if not (isinstance(frame, list) and frame and frame[0] == 2):
                    continue  # the station's answers to what we sent: nothing to do
                message_id, action = frame[1], frame[2]
                if action == "BootNotification" and self.behaviour in ("call-then-rejected", "rejected-then-call"):
                    texts = [json.dumps([2, "sv-1", "SetVariables", SET_OFFLINE_THRESHOLD]),
                             REJECTED.format(id=message_id, now=now_iso())]
                    for out in texts if self.behaviour == "call-then-rejected" else reversed(texts):
                        await ws.send(out)  # back to back: one read, most likely, and either order
                elif action == "BootNotification":
                    if good or self.behaviour == "frame-over-1MiB-after-accepted":
                        await ws.send(boot_answer(message_id, str(GOOD_INTERVAL)))
                        if not good:
                            await ws.send(big_frame())
                    elif self.behaviour == "garbage":
                        await ws.send(next(garbage))
                    else:
                        await ws.send(boot_answer(message_id, BEHAVIOURS[self.behaviour]))
                elif action == "Heartbeat":
                    await ws.send(json.dumps([3, message_id, {"currentTime": now_iso()}]))
                elif self.behaviour == "garbage" and not good:
                    await ws.send(next(garbage))
                else:
                    await ws.send(json.dumps([3, message_id, {}]))

    def count(self) -> int:
        with self._lock:
            return len(self.connections)

    def wait_for_connections(self, count: int, timeout: float = 30.0, why: Callable[[], str] = lambda: "") -> None:
        deadline = time.monotonic() + timeout
        while self.count() < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.count()} connection(s), wanted {count}:\n{why()}")
            time.sleep(0.02)  # the poll interval of a wait for the connection, not a pause instead of one

    def actions(self, action: str) -> list[float]:
        with self._lock:
            return [at for at, frame in self.received if isinstance(frame, list) and frame[:1] == [2]
                    and frame[2] == action]

    def answers_to(self, message_id: str) -> list[list[Any]]:
        with self._lock:
            return [frame for _, frame in self.received if isinstance(frame, list) and frame[:1] in ([3], [4])
                    and frame[1] == message_id]

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = 30.0,
                 why: Callable[[], str] = lambda: "") -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what}:\n{why()}")
            time.sleep(0.02)  # the poll interval of a wait for what the station sends, not a pause instead of one


def seed(rig: Rig, **settings: str) -> None:
    """Write the password and ``settings`` (OCPPCommCtrlr) into the station's data directory before it starts."""
    from ocpp_station.app import Station
    from ocpp_station.config import load

    station = Station(load(rig.workdir / "station.toml", overrides={"data_dir": rig.data_dir}))
    try:
        oem = InProcessOem(station)
        for component, values in (("SecurityCtrlr", {"BasicAuthPassword": PASSWORD}), ("OCPPCommCtrlr", settings)):
            if not values:
                continue
            results = oem.result("SetVariables", {"setVariableData": [
                {"component": {"name": component}, "variable": {"name": name}, "attributeValue": value}
                for name, value in values.items()]})["setVariableResult"]
            assert all(r["attributeStatus"] == "Accepted" for r in results), results
    finally:
        station.close()


def warnings_in(log: str) -> list[str]:
    """The CSMS link's WARNING and ERROR lines (the MQTT door has its own, not measured here)."""
    return [line for line in log.splitlines()
            if (" WARNING " in line or " ERROR " in line) and "ocpp_station.csms" in line]


@dataclass
class Measured:
    behaviour: str
    seconds: float
    connections: int
    warnings: int
    gaps: list[float]

    @property
    def per_minute(self) -> float:
        return self.connections * 60 / self.seconds


def measure(behaviour: str, seconds: float, workdir: Path, **settings: str) -> Measured:
    """Connections accepted (and WARNING/ERROR lines written) in ``seconds`` from the first connection."""
    csms = HostileCsms(behaviour).start()
    rig = Rig(workdir, network_config(csms.url))
    try:
        seed(rig, **settings)
        rig.start()
        csms.wait_for_connections(1, why=lambda: rig.log()[-3000:])
        first = csms.connections[0]
        time.sleep(max(first + seconds - time.monotonic(), 0))  # the window measured
        with csms._lock:
            inside = [at for at in csms.connections if at < first + seconds]
        gaps = [b - a for a, b in itertools.pairwise(inside)]
        return Measured(behaviour, seconds, len(inside), len(warnings_in(rig.log())), gaps)
    finally:
        rig.close()
        csms.stop()


# -- the station process against each hostile CSMS ---------------------------------------------------------

WINDOW_S = 5.0  # the window connections are counted in
MAX_CONNECTIONS_IN_WINDOW = 5  # with the default RetryBackOff* (1 s, doubled twice, + up to 2 s): 3 at most
MAX_LINK_WARNINGS = 8  # each kind of failure said once; a storm wrote one per connection (4,418 in 20 s)


@pytest.fixture
def hostile(tmp_path: Path) -> Iterator[Callable[..., tuple[HostileCsms, Rig]]]:
    """A hostile CSMS and a station of its own pointed at it (slot 1), seeded, started."""
    made: list[tuple[HostileCsms, Rig]] = []

    def make(behaviour: str, **settings: str) -> tuple[HostileCsms, Rig]:
        csms = HostileCsms(behaviour).start()
        rig = Rig(tmp_path / f"rig{len(made)}", network_config(csms.url))
        made.append((csms, rig))
        seed(rig, **settings)
        rig.start()
        return csms, rig

    yield make
    for csms, rig in made:
        rig.close()
        csms.stop()


def test_a_hostile_csms_gets_few_connections_and_the_link_goes_on(
        hostile: Callable[..., tuple[HostileCsms, Rig]]) -> None:
    """Issue 15 item 2, measured on the wire: few connections in the window (before: 4,460 in 20 s for
    10^400, 2,693 for a frame over 1 MiB after Accepted), few WARNING lines (before: one per
    connection), HeartbeatInterval untouched by an unusable answer (before: 10^400 was written), and
    the link alive: once the CSMS answers as it should, the station is Accepted.

    Every behaviour at once, a CSMS and a station each: the window is time, not work, and six
    windows side by side cost one.
    """
    rigs = {behaviour: hostile(behaviour) for behaviour in BEHAVIOURS}
    for behaviour, (csms, rig) in rigs.items():
        csms.wait_for_connections(1, why=lambda rig=rig, name=behaviour: f"{name}:\n{rig.log()[-3000:]}")
    window_ends = max(csms.connections[0] for csms, _ in rigs.values()) + WINDOW_S
    time.sleep(max(window_ends - time.monotonic(), 0))  # the window measured, not a synchronisation
    for behaviour, (csms, rig) in rigs.items():
        first = csms.connections[0]
        with csms._lock:
            inside = [at for at in csms.connections if at < first + WINDOW_S]
        assert 1 <= len(inside) <= MAX_CONNECTIONS_IN_WINDOW, (behaviour, inside, rig.log()[-3000:])
        assert rig.get("OCPPCommCtrlr", "HeartbeatInterval") == (
            str(GOOD_INTERVAL) if behaviour == "frame-over-1MiB-after-accepted" else "60"), behaviour
        csms.good.set()  # from the next connection on, the CSMS answers as it should
    behaved_from = time.monotonic()
    for behaviour, (csms, rig) in rigs.items():
        csms.wait_for(lambda csms=csms: any(at > behaved_from for at in csms.actions("StatusNotification")),
                      f"{behaviour}: no StatusNotification reached the CSMS once it behaved",
                      why=lambda rig=rig: rig.log()[-3000:])
        assert rig.get("OCPPCommCtrlr", "HeartbeatInterval") == str(GOOD_INTERVAL), behaviour  # B01.FR.04
        warnings = warnings_in(rig.log())
        assert len(warnings) <= MAX_LINK_WARNINGS, (behaviour, "\n".join(warnings))
        assert "Traceback" not in rig.log(), (behaviour, rig.log()[-3000:])


def test_part4_5_3_the_backoff_grows_then_stays_after_a_session_accepted_then_lost(
        hostile: Callable[..., tuple[HostileCsms, Rig]]) -> None:
    """A session accepted and then lost before it was stable counts as a failure (before: the walk
    restarted at once, 562 connections in 8 s). With RetryBackOffRandomRange 0 the waits are exact:
    1 s, doubled once (RetryBackOffRepeatTimes 1), then kept."""
    csms, rig = hostile("frame-over-1MiB-after-accepted", RetryBackOffRandomRange="0",
                        RetryBackOffRepeatTimes="1", RetryBackOffWaitMinimum="1")
    csms.wait_for_connections(4, why=lambda: rig.log()[-3000:])
    gaps = [b - a for a, b in itertools.pairwise(csms.connections[:4])]
    assert 0.9 <= gaps[0] < 1.9 and 1.9 <= gaps[1] < 2.9 and 1.9 <= gaps[2] < 2.9, gaps
    assert len(csms.actions("BootNotification")) >= 3  # each of them was a session, Accepted


@pytest.mark.parametrize("behaviour", ["call-then-rejected", "rejected-then-call"])
def test_b03_fr_08_a_call_read_with_the_rejected_answer_gets_security_error(
        hostile: Callable[..., tuple[HostileCsms, Rig]], behaviour: str) -> None:
    """The CSMS's SetVariables and its Rejected answer, sent back to back in either order: the CALL
    is answered SecurityError and changes nothing; the connection stays open (B03.FR.04: ours)."""
    csms, rig = hostile(behaviour)
    csms.wait_for(lambda: bool(csms.answers_to("sv-1")), "the station did not answer the CALL",
                  why=lambda: rig.log()[-3000:])
    [answer] = csms.answers_to("sv-1")
    assert answer[:3] == [4, "sv-1", "SecurityError"], answer
    assert rig.get("OCPPCommCtrlr", "OfflineThreshold") == "60"  # not 999
    assert csms.count() == 1


# -- the link in this process: an exception anywhere, and it goes on -----------------------------------------

def raising_once(method: Callable[..., Any], calls: list[str]) -> Callable[..., Any]:
    """``method``, except that its first call raises (and is noted in ``calls``)."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not calls:
            calls.append(method.__name__)
            raise RuntimeError(f"injected into {method.__name__}")
        return method(*args, **kwargs)

    return wrapper


INJECTED = ["priority", "connection_target", "setting", "csms_trust_store", "charging_station", "connectors",
            "record_tls_peer", "record_heartbeat_interval", "record_connected", "record_disconnected"]


@pytest.mark.parametrize("method", INJECTED)
def test_b10_fr_09_an_exception_anywhere_in_the_walk_is_logged_and_the_link_goes_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, method: str) -> None:
    """Before: an exception outside the attempt's try (the priority list, the slot's target, a
    setting) ended CsmsLink.run for good, silently, while MQTT went on. Now it is logged at ERROR
    once, with the traceback at DEBUG, and the link connects (the backoff shortened here: its growth
    is measured above)."""
    caplog.set_level(logging.DEBUG, logger="ocpp_station.csms")
    monkeypatch.setattr(link_module, "retry_backoff", lambda *_args, **_kwargs: 0.05, raising=False)
    # The first connection ends at once (a frame over 1 MiB after Accepted): every method of the
    # walk is called at least once before the second, which the CSMS serves as it should.
    csms = HostileCsms("frame-over-1MiB-after-accepted", hostile_connections=1).start()
    station = Station(Config(data_dir=tmp_path / "data", station=StationIdentity(identity=IDENTITY),
                             network=Network(csms_url=csms.url, message_timeout=5)))
    calls: list[str] = []
    try:
        InProcessOem(station).result("SetVariables", {"setVariableData": [
            {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"},
             "attributeValue": PASSWORD}]})
        monkeypatch.setattr(station, method, raising_once(getattr(station, method), calls))

        async def scenario() -> None:
            link = asyncio.create_task(CsmsLink(station).run())
            deadline = time.monotonic() + 15
            try:
                while not (csms.count() >= 2 and any(at > csms.connections[1]
                                                     for at in csms.actions("StatusNotification"))):
                    assert not link.done(), link  # the link task never ends by itself
                    assert time.monotonic() < deadline, caplog.text[-3000:]
                    await asyncio.sleep(0.02)  # the poll interval of a wait for the CSMS's frame
            finally:
                link.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await link

        asyncio.run(scenario())
    finally:
        station.close()
        csms.stop()
    assert calls == [method]  # the fault was injected, and the link got past it
    errors = [r for r in caplog.records if r.levelno == logging.ERROR and "injected" in r.getMessage()]
    assert len(errors) == 1, caplog.text[-3000:]
    assert "a bug" in errors[0].getMessage()
    assert any(r.levelno == logging.DEBUG and r.exc_info for r in caplog.records), "no traceback at DEBUG"


def test_a_cancel_ends_the_link_even_when_its_clean_up_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The supervisor takes every Exception: not the one a clean-up raises while the link is being
    cancelled (at shutdown), which would otherwise turn the cancel into one more failure, for ever."""
    csms = HostileCsms("interval-abc").start()
    csms.good.set()
    station = Station(Config(data_dir=tmp_path / "data", station=StationIdentity(identity=IDENTITY),
                             network=Network(csms_url=csms.url, message_timeout=5)))
    try:
        InProcessOem(station).result("SetVariables", {"setVariableData": [
            {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"},
             "attributeValue": PASSWORD}]})

        def broken() -> None:
            raise RuntimeError("injected into record_disconnected")

        monkeypatch.setattr(station, "record_disconnected", broken)

        async def scenario() -> None:
            link = asyncio.create_task(CsmsLink(station).run())
            while not csms.actions("StatusNotification"):
                await asyncio.sleep(0.02)  # the poll interval of a wait for the CSMS's frame
            link.cancel()
            done, _ = await asyncio.wait({link}, timeout=5)
            assert done == {link} and link.cancelled(), "the cancel was swallowed"

        asyncio.run(scenario())
    finally:
        station.close()
        csms.stop()


@pytest.mark.parametrize("seconds", [0, -1, 2**31, 10**400, 10**5000], ids=["0", "-1", "2^31", "10^400", "10^5000"])
def test_b01_fr_04_the_station_takes_only_a_heartbeat_interval_a_set_variables_could_set(
        tmp_path: Path, seconds: int) -> None:
    """One question, two doors: what SetVariables answers Rejected for OCPPCommCtrlr.HeartbeatInterval
    (minLimit 1, OCPP's 32-bit integer), the boot's interval does not write either (before: 10^400
    was written, and GetVariables returned 401 digits)."""
    station = Station(Config(data_dir=tmp_path / "data"))
    try:
        oem = InProcessOem(station)
        address = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
        if seconds < 10**4000:  # SetVariables' attributeValue is at most 1000 characters: not sendable
            [refused] = oem.result("SetVariables", {"setVariableData": [
                {**address, "attributeValue": str(seconds)[:1000]}]})["setVariableResult"]
            assert refused["attributeStatus"] == "Rejected", refused
        assert station.record_heartbeat_interval(seconds) is False
        [got] = oem.result("GetVariables", {"getVariableData": [address]})["getVariableResult"]
        assert got["attributeValue"] == "60"
        assert station.record_heartbeat_interval(7) is True
        [got] = oem.result("GetVariables", {"getVariableData": [address]})["getVariableResult"]
        assert got["attributeValue"] == "7"
    finally:
        station.close()


def test_retry_backoff_follows_part4_5_3_with_a_floor_and_a_ceiling() -> None:
    no_jitter = lambda _low, _high: 0.0  # noqa: E731
    assert [retry_backoff(n, 1, 2, 0) for n in range(5)] == [1, 2, 4, 4, 4]  # doubled RepeatTimes times, then kept
    assert [retry_backoff(n, 3, 0, 0) for n in range(3)] == [3, 3, 3]  # RepeatTimes 0: never doubled
    assert retry_backoff(0, 0, 2, 0) == link_module.MIN_BACKOFF_S  # 0 would reconnect in a tight loop
    assert [retry_backoff(n, 0, 2, 5, no_jitter) for n in range(3)] == [1, 2, 4]  # …and still grows
    assert retry_backoff(10, 2**31 - 1, 2**31 - 1, 2**31 - 1) == link_module.MAX_BACKOFF_S  # never years
    assert retry_backoff(-3, 1, 2, 0) == 1
    spread = [retry_backoff(1, 1, 2, 2) for _ in range(200)]
    assert all(2 <= wait <= 4 for wait in spread) and len(set(spread)) > 100  # jittered: a new random part each time


@pytest.mark.soak  # 20 s each: not in the suite's run (pytest -m soak), the window test above bounds the same
@pytest.mark.parametrize("behaviour", list(BEHAVIOURS))
def test_connections_per_minute_under_each_hostile_behaviour(tmp_path: Path, behaviour: str) -> None:
    """The figure of the closing note, over 20 s (``python -m tests.integration.test_hostile_csms 60``
    measures a full minute): with the default RetryBackOff* settings, well under 30 a minute."""
    found = measure(behaviour, 20.0, tmp_path / "rig")
    assert found.per_minute <= 30, found
    assert found.warnings <= MAX_LINK_WARNINGS, found


def main(argv: list[str]) -> int:
    seconds = float(argv[0]) if argv else 60.0
    names = argv[1:] or list(BEHAVIOURS)
    with tempfile.TemporaryDirectory() as directory:
        for index, name in enumerate(names):
            found = measure(name, seconds, Path(directory) / f"rig{index}")
            print(f"{name:34} {found.connections:6d} connections in {seconds:.0f} s = {found.per_minute:8.1f}/min, "
                  f"{found.warnings:6d} WARNING/ERROR lines; first gaps {[round(g, 2) for g in found.gaps[:6]]}",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


def test_b10_fr_09_a_link_task_that_ends_anyway_stops_serve_with_a_failure(
        broker: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """Defence in depth behind the supervised walk: were CsmsLink.run ever to end, serve would not go on
    serving MQTT alone (healthy to look at, lost to its operator) but stop with exit status 1, which
    the systemd unit (Restart=on-failure) answers with a restart."""
    from ocpp_station import cli
    from ocpp_station.csms.link import CsmsLink

    async def ends_at_once(_self: CsmsLink) -> None:
        raise RuntimeError("a bug the supervisor did not catch")

    monkeypatch.setattr(CsmsLink, "run", ends_at_once)
    caplog.set_level(logging.INFO, logger="ocpp_station")
    # Without the callback, serve would serve on: a SIGTERM (its own stop) after 20 s ends it, status 0.
    guard = threading.Timer(20.0, lambda: os.kill(os.getpid(), signal.SIGTERM))
    guard.start()
    try:
        status = cli._serve(cli._parser().parse_args(
            ["serve", "--mqtt-url", broker.url, "--data-dir", str(tmp_path / "data"), "--client-id", "link-ends"]))
    finally:
        guard.cancel()
    assert status == 1
    [critical] = [r for r in caplog.records if r.levelno == logging.CRITICAL]
    assert "the CSMS link ended (RuntimeError: a bug the supervisor did not catch)" in critical.getMessage()
    assert any(r.getMessage() == "stopped" for r in caplog.records)  # a clean stop: the MQTT door closed

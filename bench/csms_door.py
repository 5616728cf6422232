"""``python -m bench.csms_door``: the station's OCPP-J door against a floor, through one raw-websocket CSMS.

The harness is a bare ``websockets`` server on 127.0.0.1 (a free port): it accepts any Basic auth,
offers the OCPP versions it serves, answers every CALL a peer sends with a minimal valid CALLRESULT
(BootNotification Accepted, interval 300, so that no Heartbeat falls inside a run), and once the
peer is Accepted sends it 1-item GetVariables CALLs and times each CALL → CALLRESULT. The peer is
either the floor (``bench/csms_floor.py``: a do-nothing ``websockets`` client) or ``ocpp-station
serve`` with its CSMS link pointed at the harness and its MQTT door on a private mosquitto, as on a
charger. Both are launched ``--rounds`` times, alternating as ``python -m bench`` does, and each
phase's latencies are pooled.

Exit status: 0 when figures were produced (targets are reported, not enforced); 1 when the bench
is broken — a CALL lost, answered twice, answered out of order or with a CALLERROR, a frame of a
peer that breaks its official schema, a process that died. Figures from such a run would be lies.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Coroutine
from concurrent.futures import Future as ConcurrentFuture
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import jsonschema
import orjson
import psutil
import websockets
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from .__main__ import launch_order
from .broker import Mosquitto, free_port
from .load import BenchError, LoadGenerator, Payload, percentile
from .report import Target, write_json, write_plot
from .run import GET1, REPO, stop_process

T = TypeVar("T")

VERSION_FOLDERS = {"ocpp2.0.1": "v201", "ocpp2.1": "v21"}  # the ``ocpp`` package's schema folders
HEARTBEAT_INTERVAL_S = 300  # the BootNotification's interval: no Heartbeat inside a run
ANSWER_TIMEOUT_S = 10.0  # no answer for this long in a phase: the outstanding CALLs are lost
STATION_IDENTITY, FLOOR_IDENTITY = "BENCHCSMS01", "BENCHFLOOR01"
PASSWORD = "bench-csms-door-Pa55word"  # SecurityCtrlr.BasicAuthPassword (16 characters at least, A00.FR.205)
FAST_RETRIES = {"RetryBackOffWaitMinimum": "1", "RetryBackOffRandomRange": "0", "RetryBackOffRepeatTimes": "0"}
GET1_TEXT = orjson.dumps(GET1).decode("utf-8")  # the CALL's payload, serialised once


# ----------------------------------------------------------------------------------------------------------
# The official schemas (``ocpp`` package), checked with the pure-Python jsonschema: no code shared with
# the station under test
# ----------------------------------------------------------------------------------------------------------

@cache
def _schema(version: str, action: str, kind: str) -> dict[str, Any] | None:
    """``<action><kind>.json`` of ``version``; None when the version has no such message."""
    path = resources.files("ocpp") / VERSION_FOLDERS[version] / "schemas" / f"{action}{kind}.json"
    return orjson.loads(path.read_bytes()) if path.is_file() else None


@cache
def validator(version: str, action: str, kind: str) -> jsonschema.protocols.Validator | None:
    """A validator of ``<action><kind>`` (kind "Request" or "Response"), formats checked; None if unknown."""
    schema = _schema(version, action, kind)
    if schema is None:
        return None
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def schema_problem(version: str, action: str, kind: str, payload: Any) -> str | None:
    """Why ``payload`` is no valid ``<action><kind>`` of ``version``, or None."""
    check = validator(version, action, kind)
    if check is None:
        return f"{action} is no {kind.lower()} of {version}"
    error = jsonschema.exceptions.best_match(check.iter_errors(payload))
    return None if error is None else f"{action}{kind} breaks its schema: {error.message[:300]}"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _minimal(node: dict[str, Any], root: dict[str, Any]) -> Any:
    """The smallest value ``node`` allows: required properties only, "Accepted" where an enum has it."""
    while "$ref" in node:  # "#/definitions/StatusInfoType"
        node = root[node["$ref"].split("/")[1]][node["$ref"].split("/")[2]]
    if "enum" in node:
        return "Accepted" if "Accepted" in node["enum"] else node["enum"][0]
    kind = node.get("type")
    if kind == "object":
        return {name: _minimal(node["properties"][name], root) for name in node.get("required", [])}
    if kind == "array":
        return [_minimal(node["items"], root) for _ in range(node.get("minItems", 0))]
    if kind == "string":
        return now_iso() if node.get("format") == "date-time" else "x" * node.get("minLength", 0)
    if kind in ("integer", "number"):
        return node.get("minimum", 0)
    return False if kind == "boolean" else None


def minimal_result(version: str, action: str) -> Payload | None:
    """The CALLRESULT payload the harness gives a peer's CALL ``action``; None when the version has none.

    BootNotification is Accepted with interval 300 (no Heartbeat during a run); every other
    action gets the least its response schema requires, built from the schema itself, so that
    whatever a station may send (StatusNotification, NotifyEvent, SecurityEventNotification,
    SignCertificate, …) is answered validly without a list to keep up to date.
    """
    if action == "BootNotification":
        return {"currentTime": now_iso(), "interval": HEARTBEAT_INTERVAL_S, "status": "Accepted"}
    schema = _schema(version, action, "Response")
    return None if schema is None else _minimal(schema, schema)


# ----------------------------------------------------------------------------------------------------------
# The harness: a CSMS that times GetVariables CALLs
# ----------------------------------------------------------------------------------------------------------

@dataclass
class CallPhase:
    """One phase on one peer: the window kept full, and every CALL's fate."""

    name: str
    window: int
    max_calls: int
    deadline_s: float  # time.perf_counter()
    done: asyncio.Future[None]
    started_ns: int = field(default_factory=time.perf_counter_ns)
    outstanding: deque[tuple[str, int]] = field(default_factory=deque)  # (id, sent ns), in send order
    latencies_ms: list[float] = field(default_factory=list)
    sent: int = 0
    last_answer_ns: int = 0

    def over(self) -> bool:
        return self.sent >= self.max_calls or time.perf_counter() >= self.deadline_s


@dataclass(frozen=True)
class PhaseResult:
    """Latencies (ms) of one phase and its time; :meth:`summary` gives the figures the report shows."""

    name: str
    window: int
    latencies_ms: list[float]
    elapsed_s: float

    def summary(self) -> dict[str, float | int]:
        lat = self.latencies_ms
        return {"calls": len(lat), "window": self.window, "seconds": round(self.elapsed_s, 3),
                "calls_per_s": round(len(lat) / self.elapsed_s, 1) if self.elapsed_s else 0.0,
                "p50_ms": round(percentile(lat, 50), 4), "p90_ms": round(percentile(lat, 90), 4),
                "p99_ms": round(percentile(lat, 99), 4), "max_ms": round(max(lat), 4),
                "mean_ms": round(statistics.fmean(lat), 4)}


@dataclass(eq=False)
class Peer:
    """One connection to the harness: a station or the floor. Lives on the harness's loop."""

    identity: str
    version: str
    ws: ServerConnection
    authorization: str | None
    accepted: bool = False
    closed: bool = False
    calls: list[tuple[str, Any]] = field(default_factory=list)  # (action, payload) of every CALL it sent
    results: list[Any] = field(default_factory=list)  # payloads of its CALLRESULTs to our CALLs
    problems: list[str] = field(default_factory=list)  # lost, doubled, reordered, CALLERROR, unreadable
    answered: set[str] = field(default_factory=set)  # ids of our CALLs it answered
    phase: CallPhase | None = None

    async def on_text(self, text: str | bytes) -> None:
        """One frame of the peer: a CALL is answered at once, an answer to our CALL is timed and checked."""
        now = time.perf_counter_ns()
        try:
            frame = orjson.loads(text)
            kind, message_id = frame[0], frame[1]
        except (orjson.JSONDecodeError, TypeError, KeyError, IndexError):
            self.problems.append(f"an unreadable frame: {text[:200]!r}")
            return
        if kind == 3 and len(frame) == 3:
            self.results.append(frame[2])
            await self._answered(message_id, now)
        elif kind == 2 and len(frame) == 4 and isinstance(frame[2], str):
            await self._answer_call(message_id, frame[2], frame[3])
        elif kind == 4:
            await self._refused(message_id, frame, now)
        else:
            self.problems.append(f"a frame of no OCPP-J shape: {text[:200]!r}")

    async def _answer_call(self, message_id: str, action: str, payload: Any) -> None:
        self.calls.append((action, payload))
        result = minimal_result(self.version, action)
        if result is None:
            self.problems.append(f"a CALL {action} that {self.version} does not have")
            await self.ws.send(orjson.dumps([4, message_id, "NotImplemented", "", {}]).decode())
            return
        await self.ws.send(orjson.dumps([3, message_id, result]).decode())
        if action == "BootNotification":
            self.accepted = True

    async def _refused(self, message_id: str, frame: list[Any], now: int) -> None:
        """A CALLERROR to our CALL ``message_id``: a problem, and the CALL counts as answered (a hook for
        ``bench.peers``, whose peers may refuse CALLs and are counted rather than stopped)."""
        self.problems.append(f"a CALLERROR to {message_id!r}: {orjson.dumps(frame[2:])[:300]!r}")
        await self._answered(message_id, now)

    async def _answered(self, message_id: str, now: int) -> None:
        """Our CALL ``message_id`` was answered: it must be the oldest outstanding one (in order, once)."""
        phase = self.phase
        if phase is None:
            self.problems.append(f"an answer outside any phase: {message_id!r}")
            return
        if phase.outstanding and phase.outstanding[0][0] == message_id:
            _, sent_ns = phase.outstanding.popleft()
            phase.latencies_ms.append((now - sent_ns) / 1e6)
        elif any(i == message_id for i, _ in phase.outstanding):
            self.problems.append(f"{phase.name}: {message_id!r} answered before {phase.outstanding[0][0]!r}, "
                                 "sent earlier (out of order)")
            phase.outstanding = deque(o for o in phase.outstanding if o[0] != message_id)
        elif message_id in self.answered:
            self.problems.append(f"{phase.name}: a second answer to {message_id!r}")
        else:
            self.problems.append(f"{phase.name}: an answer to an unknown id {message_id!r}")
        self.answered.add(message_id)
        phase.last_answer_ns = now
        await self.send_next(phase)

    async def send_next(self, phase: CallPhase) -> None:
        """Keep the window full, or end the phase once it is over and nothing is outstanding."""
        if not self.problems and not phase.over():
            message_id = str(uuid.uuid4())
            phase.sent += 1
            phase.outstanding.append((message_id, time.perf_counter_ns()))
            await self.ws.send(f'[2,"{message_id}","GetVariables",{GET1_TEXT}]')
        elif not phase.outstanding and not phase.done.done():
            phase.done.set_result(None)

    def frame_problems(self) -> list[str]:
        """Every frame of the peer against the official schema of its version (its CALLs as requests, its
        answers as GetVariablesResponse, each distinct payload once), and every answer Accepted."""
        found: list[str] = []
        for action, payload in self.calls:
            problem = schema_problem(self.version, action, "Request", payload)
            if problem is not None:
                found.append(f"{self.identity}: {problem}")
        for text in {orjson.dumps(p, option=orjson.OPT_SORT_KEYS) for p in self.results}:
            payload = orjson.loads(text)
            problem = schema_problem(self.version, "GetVariables", "Response", payload)
            results = payload.get("getVariableResult") if isinstance(payload, dict) else None
            if problem is None and (not results or results[0].get("attributeStatus") != "Accepted"):
                problem = f"a GetVariables answer that is no Accepted 1-item result: {text[:300]!r}"
            if problem is not None:
                found.append(f"{self.identity}: {problem}")
        return found


@dataclass
class Harness:
    """The CSMS: a ``websockets`` server in a thread with its own event loop, as a CSMS would run apart
    from the bench's bookkeeping. :meth:`call` runs a coroutine on that loop from the bench's thread."""

    versions: list[str]
    port: int = field(default_factory=free_port)
    peers: list[Peer] = field(default_factory=list)
    peer_type: type[Peer] = Peer  # what each connection becomes; ``bench.peers`` gives one that counts losses
    _loop: asyncio.AbstractEventLoop | None = None
    _stop: asyncio.Event | None = None
    _thread: threading.Thread | None = None

    def url(self, identity: str = "") -> str:
        return f"ws://127.0.0.1:{self.port}/ocpp" + (f"/{identity}" if identity else "")

    def start(self) -> Harness:
        ready: ConcurrentFuture[None] = ConcurrentFuture()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve(ready)), daemon=True,
                                        name="csms-harness")
        self._thread.start()
        ready.result(10)
        return self

    async def _serve(self, ready: ConcurrentFuture[None]) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        try:
            server: Server = await serve(self._handle, "127.0.0.1", self.port, subprotocols=self.versions,  # type: ignore[arg-type]
                                         process_request=self._any_basic_auth)
        except BaseException as error:
            ready.set_exception(error)
            raise
        ready.set_result(None)
        async with server:
            await self._stop.wait()

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(10)
            self._thread = None

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> ConcurrentFuture[T]:
        """Run ``coroutine`` on the harness's loop (where its peers live); its future, for any thread."""
        assert self._loop is not None, "the harness is not started"
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float = 120.0) -> T:
        """:meth:`submit` and wait for the result (the bench's thread has nothing else to do meanwhile)."""
        return self.submit(coroutine).result(timeout)

    @staticmethod
    def _any_basic_auth(_connection: ServerConnection, request: Request) -> Response | None:
        """Any password passes (the bench measures the door, not authentication); the header is kept."""
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        peer = self.peer_type(ws.request.path.rstrip("/").rsplit("/", 1)[-1], str(ws.subprotocol or ""), ws,
                              ws.request.headers.get("Authorization"))
        self.peers.append(peer)
        if peer.version not in self.versions:
            peer.problems.append(f"no OCPP version agreed (offered {self.versions})")
            await ws.close()
            return
        try:
            async for text in ws:
                await peer.on_text(text)
        except websockets.ConnectionClosed:
            pass
        finally:
            peer.closed = True
            if peer.phase is not None and not peer.phase.done.done():
                peer.phase.done.set_result(None)  # run_phase reports what is outstanding as lost

    def wait_accepted(self, identity: str, since: int, alive: Callable[[], bool], timeout: float = 30.0) -> Peer:
        """The first peer ``identity`` connected after ``since`` peers, once its BootNotification was answered.

        Polled from the bench's thread (the harness's loop must not wait on it).
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for peer in self.peers[since:]:
                if peer.identity == identity and peer.accepted:
                    return peer
            if not alive():
                raise BenchError(f"{identity} exited before it was Accepted")
            time.sleep(0.01)
        raise BenchError(f"{identity} was not Accepted {timeout} s after launch")

    async def run_phase(self, peer: Peer, name: str, *, window: int, max_calls: int,
                        max_seconds: float) -> PhaseResult:
        """Keep ``window`` GetVariables in flight until ``max_calls`` were sent or ``max_seconds`` passed,
        then until every one was answered; BenchError for one lost, doubled, reordered or refused."""
        loop = asyncio.get_running_loop()
        phase = CallPhase(name, window, max_calls, time.perf_counter() + max_seconds, loop.create_future())
        phase.last_answer_ns = phase.started_ns
        peer.phase = phase
        try:
            for _ in range(window):
                await peer.send_next(phase)
            seen, progress_at = 0, time.monotonic()
            while not phase.done.done():  # a watchdog: an answer that never comes must not hang the bench
                await asyncio.wait((phase.done,), timeout=1.0)
                if len(phase.latencies_ms) != seen:
                    seen, progress_at = len(phase.latencies_ms), time.monotonic()
                elif time.monotonic() - progress_at > ANSWER_TIMEOUT_S:
                    break
        finally:
            peer.phase = None
        if phase.outstanding:
            peer.problems.append(f"{name}: {len(phase.outstanding)} CALL(s) never answered"
                                 f"{' (the connection closed)' if peer.closed else ''}, e.g. {phase.outstanding[0][0]}")
        if peer.problems:
            raise BenchError(f"{peer.identity}: {len(peer.problems)} problem(s); first: {peer.problems[0]}")
        if len(phase.latencies_ms) != phase.sent:
            raise BenchError(f"{name}: {phase.sent} CALLs sent, {len(phase.latencies_ms)} answered")
        return PhaseResult(name, window, phase.latencies_ms, (phase.last_answer_ns - phase.started_ns) / 1e9)


# ----------------------------------------------------------------------------------------------------------
# One launch of a responder
# ----------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Settings:
    """How much load: ``requests`` caps the closed phase (32 in flight: twice as many), ``duration`` every
    phase, both shared among the ``rounds`` launches of a responder."""

    requests: int = 20_000
    duration: float = 4.0
    rounds: int = 3

    def per_launch(self, calls: int) -> int:
        return max(calls // self.rounds, 5)

    @property
    def launch_duration(self) -> float:
        return self.duration / self.rounds

    @property
    def warmup(self) -> int:
        return min(300, max(self.requests // 10, 10))


QUICK = Settings(requests=40, duration=1.0, rounds=2)
PHASES = ("closed", "inflight32")


@dataclass
class Launch:
    """What one launch measured: the phases, the responder's CPU over them, its RSS after them."""

    phases: list[PhaseResult]
    cpu_s: float
    rss_mb: float
    launch_to_accepted_s: float
    exit_code: int | None
    version: str
    calls_checked: dict[str, int]  # the peer's own CALLs by action, each checked against its request schema
    answers_checked: int  # its CALLRESULTs, each checked against GetVariablesResponse


    @property
    def calls(self) -> int:
        return sum(len(p.latencies_ms) for p in self.phases)


def station_config(harness: Harness, versions: list[str]) -> str:
    """station.toml: the link on, pointed at the harness, security profile 1 (Basic auth)."""
    offered = ", ".join(f'"{v}"' for v in versions)
    return (f'[station]\nidentity = "{STATION_IDENTITY}"\n\n[network]\ncsms_url = "{harness.url()}"\n'
            f"security_profile = 1\nmessage_timeout = 10\n\n[csms]\nenabled = true\nocpp_versions = [{offered}]\n")


def floor_command(harness: Harness, version: str) -> list[str]:
    """The floor's command line (it needs no broker)."""
    return [sys.executable, "-m", "bench.csms_floor", "--url", harness.url(FLOOR_IDENTITY), "--subprotocol", version]


def command(kind: str, harness: Harness, broker: Mosquitto, workdir: Path, launch: int, version: str) -> list[str]:
    """The responder's command line; a service launch takes a client id of its own (see ``bench.run``)."""
    if kind == "floor":
        return floor_command(harness, version)
    return [sys.executable, "-m", "ocpp_station", "--log-level", "WARNING", "serve", "--mqtt-url", broker.url,
            "--data-dir", str(workdir / "data"), "--config", str(workdir / "station.toml"),
            "--client-id", f"bench-csms-station-{launch}"]


def _all_accepted(payload: Payload) -> None:
    if any(r["attributeStatus"] != "Accepted" for r in payload["setVariableResult"]):
        raise BenchError(f"the station refused its link settings: {payload}")


def prepare_over_mqtt(broker: Mosquitto, alive: Callable[[], bool]) -> None:
    """The link's password and quick retries, set by the OEM over MQTT on a fresh data dir — as
    ``Rig.prepare()`` does in the tests: a BasicAuthPassword comes only that way (or from a CSMS)."""
    gen = LoadGenerator(broker.port)
    gen.connect()
    try:
        gen.first_answer("GetVariables", GET1, alive=alive)
        for component, values in (("OCPPCommCtrlr", FAST_RETRIES), ("SecurityCtrlr", {"BasicAuthPassword": PASSWORD})):
            data = {"setVariableData": [{"component": {"name": component}, "variable": {"name": name},
                                         "attributeValue": value} for name, value in values.items()]}
            gen.run("prepare", "SetVariables", lambda _i, d=data: d, window=1, max_requests=1, max_seconds=10,
                    check=_all_accepted)
    finally:
        gen.close()


def measure(kind: str, harness: Harness, broker: Mosquitto, workdir: Path, settings: Settings, launch: int,
            version: str) -> Launch:
    """Launch ``kind`` for the ``launch``-th time, wait until the harness Accepted it, run the phases, stop it."""
    log_path = workdir / f"{kind}-{launch}.log"
    log = open(log_path, "ab")  # noqa: SIM115 — the child owns it
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    since = len(harness.peers)
    fresh = kind == "service" and not (workdir / "data").exists()  # before the launch creates it
    launched = time.perf_counter()
    proc = subprocess.Popen(command(kind, harness, broker, workdir, launch, version), cwd=REPO, env=env,
                            stdout=log, stderr=log)
    log.close()
    alive: Callable[[], bool] = lambda: proc.poll() is None  # noqa: E731
    try:
        if fresh:
            prepare_over_mqtt(broker, alive)  # a fresh data dir has no password: the link waits for it
        peer = harness.wait_accepted(STATION_IDENTITY if kind == "service" else FLOOR_IDENTITY, since, alive)
        accepted = time.perf_counter()
        n, secs = settings.per_launch(settings.requests), settings.launch_duration
        # Warm-up: first-use costs (imports, schema compilation, the StatusNotifications after the boot).
        harness.call(harness.run_phase(peer, "warmup", window=1, max_calls=settings.warmup, max_seconds=secs))
        process = psutil.Process(proc.pid)
        before = process.cpu_times()
        phases = [harness.call(harness.run_phase(peer, "closed", window=1, max_calls=n, max_seconds=secs)),
                  harness.call(harness.run_phase(peer, "inflight32", window=32, max_calls=2 * n, max_seconds=secs))]
        after = process.cpu_times()
        rss = process.memory_info().rss
        problems = peer.problems + peer.frame_problems()
        if problems:
            raise BenchError(f"{len(problems)} problem(s); first: {problems[0]}")
    except BaseException:
        stop_process(proc)
        sys.stderr.write(f"--- {kind} log ({log_path}) ---\n{log_path.read_text(errors='replace')[-3000:]}\n")
        raise
    exit_code = stop_process(proc)
    cpu = (after.user + after.system) - (before.user + before.system)
    actions = [action for action, _ in peer.calls]
    return Launch(phases, cpu, rss / 2**20, accepted - launched, exit_code, peer.version,
                  {action: actions.count(action) for action in sorted(set(actions))}, len(peer.results))


def combine(launches: list[Launch]) -> dict[str, Any]:
    """One responder's figures: each phase's latencies pooled over its launches (the rate over the summed
    time), CPU per CALL over every measured CALL, the largest RSS, the median launch → Accepted."""
    figures: dict[str, Any] = {}
    for name in PHASES:
        same = [p for launch in launches for p in launch.phases if p.name == name]
        figures[name] = PhaseResult(name, same[0].window, [ms for p in same for ms in p.latencies_ms],
                                    sum(p.elapsed_s for p in same)).summary()
    calls = sum(x.calls for x in launches)
    figures |= {"cpu_us_per_call": round(sum(x.cpu_s for x in launches) / calls * 1e6, 2),
                "rss_mb": round(max(x.rss_mb for x in launches), 2),
                "launch_to_accepted_s": round(statistics.median(x.launch_to_accepted_s for x in launches), 4),
                "exit_codes": [x.exit_code for x in launches], "ocpp_version": launches[0].version,
                "launches": len(launches),
                "checked": {"calls_by_action": [x.calls_checked for x in launches],
                            "answers": sum(x.answers_checked for x in launches)}}
    return figures


# ----------------------------------------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------------------------------------

def targets(floor: dict[str, Any], service: dict[str, Any]) -> list[Target]:
    """Issue 20's targets for the CSMS door."""
    p50 = service["closed"]["p50_ms"] / floor["closed"]["p50_ms"]
    rate = service["inflight32"]["calls_per_s"] / floor["inflight32"]["calls_per_s"]
    return [Target("GetVariables p50 / floor", round(p50, 3), 1.15, None, unit="×"),
            Target("32 CALLs in flight, calls/s / floor", round(rate, 3), 0.6, None, higher_is_better=True, unit="×"),
            Target("CPU per CALL", service["cpu_us_per_call"], 50, None, unit=" µs"),
            Target("RSS after the load", service["rss_mb"], 45, None, unit=" MB")]


Row = tuple[str, str, str, str]


def figure_rows(floor: dict[str, Any], other: dict[str, Any], name: str = "service") -> list[Row]:
    """The comparison's rows: a header, then each figure for the floor, ``name`` and their ratio
    (``bench.peers`` shows its peers the same way)."""
    def row(label: str, path: tuple[str, ...], fmt: str = "{:.3f}") -> Row:
        f, o = floor, other
        for key in path:
            f, o = f[key], o[key]
        return label, fmt.format(f), fmt.format(o), f"{o / f:.2f}×" if f else "—"

    return [("figure", "floor", name, f"{name}/floor"),
            row("closed loop: p50 (ms)", ("closed", "p50_ms")),
            row("  p99 (ms)", ("closed", "p99_ms")),
            row("  calls/s", ("closed", "calls_per_s"), "{:,.0f}"),
            row("32 in flight: calls/s", ("inflight32", "calls_per_s"), "{:,.0f}"),
            row("  p50 (ms)", ("inflight32", "p50_ms")),
            row("  p99 (ms)", ("inflight32", "p99_ms")),
            row("CPU per CALL (µs)", ("cpu_us_per_call",), "{:.1f}"),
            row("RSS after the load (MB)", ("rss_mb",), "{:.1f}"),
            row("launch → Accepted (s)", ("launch_to_accepted_s",))]


def aligned(rows: list[Row]) -> list[str]:
    """``rows`` as text columns, the first left-aligned, a rule under the header."""
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join((r[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True))))
             for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    return lines


def table(floor: dict[str, Any], service: dict[str, Any], goals: list[Target]) -> str:
    """figure | floor | service | service/floor, then the targets."""
    lines = aligned(figure_rows(floor, service))
    lines += ["", "targets (issue 20):"]
    width = max(len(g.name) for g in goals)
    lines += [f"  {g.name.ljust(width)}  {f'{g.value:.3f}{g.unit}':>11}  {g.describe():<10}  {g.status}"
              for g in goals]
    return "\n".join(lines)


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """--requests, --duration, --rounds and --quick: how much a run does (``bench.peers`` takes them too)."""
    parser.add_argument("--requests", type=int, metavar="N",
                        help=f"CALLs of the closed phase (default {Settings.requests}; 32 in flight: twice as many)")
    parser.add_argument("--duration", type=float, metavar="S",
                        help=f"time cap per phase in seconds, shared by the rounds (default {Settings.duration})")
    parser.add_argument("--rounds", type=int, metavar="N",
                        help=f"launches of each responder, alternating (default {Settings.rounds})")
    parser.add_argument("--quick", action="store_true",
                        help=f"a tiny run ({QUICK.requests} CALLs, {QUICK.duration} s per phase, "
                             f"{QUICK.rounds} rounds) that checks the bench works")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.csms_door", description=__doc__.splitlines()[0])
    add_run_options(parser)
    parser.add_argument("--ocpp-version", choices=sorted(VERSION_FOLDERS), default="ocpp2.0.1",
                        help="the version the harness prefers, and the floor and the station speak "
                             "(default ocpp2.0.1; the harness offers the other too)")
    parser.add_argument("--json", type=Path, metavar="PATH", default=REPO / "bench" / "results" / "csms_door.json",
                        help="where to write the figures (default bench/results/csms_door.json)")
    parser.add_argument("--workdir", type=Path, metavar="DIR", help="parent of the run's temp dir")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    base = QUICK if args.quick else Settings()
    settings = Settings(requests=args.requests or base.requests, duration=args.duration or base.duration,
                        rounds=max(args.rounds or base.rounds, 1))
    versions = [args.ocpp_version, *(v for v in VERSION_FOLDERS if v != args.ocpp_version)]
    started = time.perf_counter()
    launches: dict[str, list[Launch]] = {"floor": [], "service": []}
    harness = Harness(versions).start()
    try:
        with tempfile.TemporaryDirectory(prefix="ocpp-bench-csms-", dir=args.workdir) as tmp:
            root = Path(tmp)
            (root / "service").mkdir()
            (root / "floor").mkdir()
            (root / "service" / "station.toml").write_text(station_config(harness, [args.ocpp_version]))
            with Mosquitto(root) as broker:
                print(f"harness on {harness.url()}, mosquitto on {broker.url}; {settings}", flush=True)
                try:
                    for kind in launch_order(settings.rounds):
                        launch = len(launches[kind]) + 1
                        print(f"measuring {kind} ({launch}/{settings.rounds})…", flush=True)
                        launches[kind].append(measure(kind, harness, broker, root / kind, settings, launch,
                                                      args.ocpp_version))
                except BenchError as exc:
                    print(f"\nBENCH BROKEN: {exc}", file=sys.stderr)
                    return 1
                mosquitto_version = broker.version()
    finally:
        harness.stop()
    figures = {kind: combine(runs) for kind, runs in launches.items()}
    goals = targets(figures["floor"], figures["service"])
    runtime = time.perf_counter() - started
    print()
    print(table(figures["floor"], figures["service"], goals))
    results = {
        "meta": {"date": datetime.now(UTC).isoformat(timespec="seconds"), "runtime_s": round(runtime, 1),
                 "settings": {"requests": settings.requests, "duration": settings.duration,
                              "rounds": settings.rounds, "quick": args.quick, "ocpp_version": args.ocpp_version,
                              "json": str(args.json), "workdir": str(args.workdir)},
                 "python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
                 "websockets": websockets.__version__, "mosquitto": mosquitto_version},
        "floor": figures["floor"],
        "service": figures["service"],
        "targets": [asdict(g) | {"passed": g.passed, "status": g.status} for g in goals],
        "all_targets_passed": all(g.passed for g in goals),
    }
    write_json(args.json, results)
    plotted = write_plot(args.json.with_suffix(".png"), latency_samples(launches))
    print(f"\nwrote {args.json}{' and ' + str(args.json.with_suffix('.png')) if plotted else ''}; "
          f"runtime {runtime:.1f} s")
    return 0


def latency_samples(launches: dict[str, list[Launch]]) -> dict[str, list[float]]:
    """Every CALL's latency (ms) by ``"<responder>.<phase>"``, pooled over launches: what the plot draws."""
    samples: dict[str, list[float]] = {}
    for kind, runs in launches.items():
        for launch in runs:
            for phase in launch.phases:
                samples.setdefault(f"{kind}.{phase.name}", []).extend(phase.latencies_ms)
    return samples


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())

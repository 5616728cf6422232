"""``python -m bench.fleet``: one fleet command to N stations through one central mosquitto, N = 10, 100, 1000.

The stations are *simulated*: one responder process (``bench/fleet_responder.py``) answers for N
identities ``CS-00001`` … on the central broker. For each N, in the same run and through the same
broker: the **floor** (a bare paho client doing the N round trips, as many in flight as the fleet
run), the **fleet in process** (``FleetClient.presence()`` + ``run()``; wall time, then a second pass
under tracemalloc for its peak memory) and the **fleet CLI** (``ocpp-station fleet get --json`` as a
child: launch → exit and its peak RSS). Issue 19's figure: 1000 stations answered in under 5 s.

Exit status: 0 when figures were produced (the 5 s figure is reported, not enforced); 1 when the
bench is broken (a station unanswered or answered wrongly, a count that is not N, a dead process).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from . import report
from .broker import Mosquitto
from .fleet_responder import FIXED_VALUE, PROTOCOLS, identities
from .floor import nodelay
from .load import BenchError
from .run import REPO

PREFIX = "stations/"
GLOB = "CS-*"  # the responder runs with exactly N identities per size, so this selects all N of them
VARIABLE = "OCPPCommCtrlr.OfflineThreshold"
GET_PAYLOAD = {"getVariableData": [{"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "OfflineThreshold"}}]}
TARGET_N, TARGET_S = 1000, 5.0
SIMULATED = ("stations simulated: one responder process (bench/fleet_responder.py) answers for all N "
             "identities CS-00001… on the central mosquitto")


@dataclass(frozen=True)
class Settings:
    sizes: tuple[int, ...] = (10, 100, 1000)
    rounds: int = 3  # floor, in process and CLI each run this many times per size; medians reported
    concurrency: int = 100
    timeout: float = 10.0  # per station
    protocol: str = "5"


# -- the floor ---------------------------------------------------------------------------------------

def floor_round_trips(port: int, ids: list[str], settings: Settings) -> float:
    """Seconds for N GetVariables, one per identity, ``concurrency`` in flight: the least it can cost.

    One paho client; the next request leaves from the callback that received an answer (on paho's
    thread, as bench/load.py does), and every answer must be a CallResult to a request of ours.
    """
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-fleet-floor-{uuid.uuid4().hex[:8]}",
                         protocol=PROTOCOLS[settings.protocol])
    client.max_inflight_messages_set(0)
    client.max_queued_messages_set(0)
    client.on_socket_open = nodelay
    todo = list(reversed(ids))
    pending: dict[str, str] = {}
    problems: list[str] = []
    done, subscribed = threading.Event(), threading.Event()

    lock = threading.Lock()  # the first window leaves from this thread, the rest from paho's

    def send_next() -> None:
        with lock:
            if not todo:
                if not pending:
                    done.set()
                return
            identity = todo.pop()
            request_id = str(uuid.uuid4())
            pending[request_id] = identity
        body = orjson.dumps({"id": request_id, "name": "ocpp_message", "type": "request",
                             "data": {"ocpp_version": "ocpp2.0.1", "message_name": "GetVariables",
                                      "payload": GET_PAYLOAD}})
        client.publish(f"{PREFIX}{identity}/cs/josev", body, qos=1)

    def on_message(_c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        body = orjson.loads(message.payload)
        with lock:
            identity = pending.pop(body.get("id"), None)
        if identity is None or body["data"]["message_type"] != "CallResult" \
                or message.topic != f"{PREFIX}{identity}/josev/cs":
            problems.append(f"unexpected answer on {message.topic}: {message.payload[:200]!r}")
        send_next()

    client.on_message = on_message
    client.on_subscribe = lambda *_a: subscribed.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        client.subscribe(f"{PREFIX}+/josev/cs", qos=1)
        if not subscribed.wait(10):
            raise BenchError("the floor could not subscribe")
        started = time.perf_counter()
        for _ in range(min(settings.concurrency, len(ids))):
            send_next()
        if not done.wait(settings.timeout + len(ids) / 100):
            raise BenchError(f"floor: {len(pending) + len(todo)} of {len(ids)} requests unanswered")
        elapsed = time.perf_counter() - started
    finally:
        client.disconnect()
        client.loop_stop()
    if problems:
        raise BenchError(f"floor: {problems[0]} ({len(problems)} problems)")
    return elapsed


# -- the fleet, in process ---------------------------------------------------------------------------

async def _fleet_pass(url: str, n: int, settings: Settings) -> dict[str, float]:
    """One FleetClient pass: connect, presence(), select, run(), close; seconds of each part, and CPU seconds."""
    from ocpp_station.fleet import FleetClient  # the code under test; imported late so the floor runs without it

    cpu_started = time.process_time()
    marks = [time.perf_counter()]
    async with FleetClient(url, prefix=PREFIX, protocol=settings.protocol) \
            as fleet:
        marks.append(time.perf_counter())
        seen = await fleet.presence()
        marks.append(time.perf_counter())
        ids = fleet.select([GLOB], seen)
        if len(ids) != n:
            raise BenchError(f"in process: {GLOB!r} selected {len(ids)} stations, not {n} (presence: {len(seen)})")
        outcomes = [o async for o in fleet.run(ids, _work, concurrency=settings.concurrency,
                                               timeout=settings.timeout, presence=seen)]
        marks.append(time.perf_counter())
    marks.append(time.perf_counter())
    cpu = time.process_time() - cpu_started  # this process's CPU, every thread: the client's own work
    _check_outcomes(outcomes, ids)
    connect, presence, run, close = (b - a for a, b in itertools.pairwise(marks))
    return {"connect_s": connect, "presence_s": presence, "run_s": run, "close_s": close,
            "presence_and_run_s": presence + run, "cpu_s": cpu}


def _work(station: Any) -> Any:
    return station.get_variables([VARIABLE])


def _check_outcomes(outcomes: list[Any], ids: list[str]) -> None:
    """Every selected station answered once, with the responder's fixed value."""
    if sorted(o.identity for o in outcomes) != sorted(ids):
        raise BenchError(f"in process: {len(outcomes)} outcomes for {len(ids)} stations")
    bad = [o for o in outcomes if o.state != "answered" or [r.value for r in o.value] != [FIXED_VALUE]]
    if bad:
        raise BenchError(f"in process: {len(bad)} stations not answered right, e.g. {bad[0]!r}")


class _Counted(logging.Handler):
    """Counts what aiomqtt logs (its "There are N pending publish calls" per publish past 10 in flight)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


def fleet_in_process(url: str, n: int, settings: Settings, traced: bool) -> dict[str, float]:
    """One pass timed; with ``traced``, under tracemalloc, adding its peak (its times are then not reported).

    aiomqtt's warnings are counted, not printed: a thousand lines would bury the report, and the
    count says the same (``mqtt_warnings``).
    """
    mqtt_log, counted = logging.getLogger("mqtt"), _Counted()
    mqtt_log.addHandler(counted)
    mqtt_log.propagate = False
    if traced:
        tracemalloc.start()
    try:
        figures = asyncio.run(_fleet_pass(url, n, settings))
        figures["mqtt_warnings"] = counted.count
        if traced:
            figures["tracemalloc_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        if traced:
            tracemalloc.stop()
        mqtt_log.removeHandler(counted)
        mqtt_log.propagate = True
    return figures


# -- the fleet CLI -----------------------------------------------------------------------------------

def cli_command(url: str, settings: Settings, *extra: str) -> list[str]:
    script = Path(sys.executable).with_name("ocpp-station")
    base = [str(script)] if script.exists() else [sys.executable, "-m", "ocpp_station"]
    protocol = ["--mqtt-protocol", settings.protocol]
    return [*base, "fleet", "get", VARIABLE, "--mqtt-url", url, "--prefix", PREFIX, "--stations", GLOB,
            "--concurrency", str(settings.concurrency), "--timeout", str(settings.timeout), "--json",
            *protocol, *extra]


def run_child(command: list[str], out: Path) -> tuple[float, int, float, float]:
    """Run ``command`` with stdout to ``out``: (wall s, exit status, peak RSS MB, CPU s), from its own rusage."""
    started = time.perf_counter()
    with open(out, "wb") as sink, open(out.with_suffix(".stderr"), "wb") as errors:
        proc = subprocess.Popen(command, cwd=REPO, stdout=sink, stderr=errors)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's rusage, not every child's (RUSAGE_CHILDREN)
    elapsed = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return elapsed, proc.returncode, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def fleet_cli(url: str, n: int, settings: Settings, workdir: Path) -> dict[str, float]:
    """``ocpp-station fleet get … --json``: launch → exit, peak RSS, and every line an answered station."""
    out = workdir / f"fleet-{n}.jsonl"
    wall, status, rss_mb, cpu_s = run_child(cli_command(url, settings), out)
    lines = [orjson.loads(line) for line in out.read_bytes().splitlines() if line.strip()]
    if status != 0:
        errors = out.with_suffix(".stderr").read_text("utf-8", "replace")
        shown = out.read_text("utf-8", "replace")[:500]
        raise BenchError(f"fleet CLI exited {status} for N={n}: {shown}{errors[-1500:]}")
    answered = {line.get("station") for line in lines if line.get("outcome") == "answered" and line.get("accepted")
                and [item.get("value") for item in line.get("result", [])] == [FIXED_VALUE]}
    if answered != set(identities(n)):
        raise BenchError(f"fleet CLI: {len(answered)} of {n} stations answered ({len(lines)} lines)")
    errors = out.with_suffix(".stderr").read_text("utf-8", "replace")
    return {"wall_s": wall, "peak_rss_mb": rss_mb, "cpu_s": cpu_s,
            "stderr_lines": errors.count("\n"), "mqtt_warnings": errors.count("pending publish calls")}


def cli_startup_s(url: str, settings: Settings, workdir: Path) -> float:
    """What the CLI costs before any station: ``fleet get --help`` (interpreter, imports, argparse)."""
    wall, status, _, _ = run_child(cli_command(url, settings, "--help"), workdir / "help.txt")
    if status != 0:
        raise BenchError(f"`ocpp-station fleet get --help` exited {status}")
    return wall


# -- the responder -----------------------------------------------------------------------------------

class Responder:
    """``bench.fleet_responder`` for N identities: started, waited for (``ready``), stopped with SIGTERM."""

    def __init__(self, port: int, n: int, protocol: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.fleet_responder", "--port", str(port),
                                      "--count", str(n), "--protocol", protocol],
                                     cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def __enter__(self) -> Responder:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # blocks until ready or dead: the responder prints one line first
        if not line.startswith("ready"):
            self.proc.kill()
            raise BenchError(f"the responder did not start: {line}{self.proc.stdout.read()[:2000]}")
        return self

    def __exit__(self, *_exc: object) -> None:
        """Stop it; it clears its retained statuses first, so the next size's presence sees only its own."""
        if self.proc.poll() is None:
            self.proc.terminate()
        out, _ = self.proc.communicate(timeout=60)
        if self.proc.returncode != 0 or "cleared" not in out:
            raise BenchError(f"the responder exited {self.proc.returncode} without clearing: {out[:2000]}")


# -- one size, the run, the report --------------------------------------------------------------------

def measure_size(broker: Mosquitto, n: int, settings: Settings, workdir: Path) -> dict[str, Any]:
    """Floor, in process and CLI in turn, ``rounds`` times, then one traced pass; medians and the rounds themselves."""
    ids = identities(n)
    rounds: list[dict[str, Any]] = []
    with Responder(broker.port, n, settings.protocol):
        fleet_in_process(broker.url, n, settings, traced=False)  # warm-up: imports, first connections
        for _ in range(settings.rounds):
            rounds.append({"floor_s": floor_round_trips(broker.port, ids, settings),
                           "in_process": fleet_in_process(broker.url, n, settings, traced=False),
                           "cli": fleet_cli(broker.url, n, settings, workdir)})
        memory = fleet_in_process(broker.url, n, settings, traced=True)["tracemalloc_peak_mb"]

    def median(get: Any) -> float:
        return round(statistics.median(get(r) for r in rounds), 4)

    in_process = {key: median(lambda r, k=key: r["in_process"][k]) for key in rounds[0]["in_process"]}
    cli = {key: median(lambda r, k=key: r["cli"][k]) for key in rounds[0]["cli"]}
    cli["peak_rss_mb"] = round(max(r["cli"]["peak_rss_mb"] for r in rounds), 1)
    floor = median(lambda r: r["floor_s"])
    return {"stations": n, "floor_s": floor, "in_process": in_process, "cli": cli,
            "in_process_tracemalloc_peak_mb": round(memory, 2),
            "ratio_in_process_to_floor": round(in_process["presence_and_run_s"] / floor, 2),
            "ratio_run_to_floor": round(in_process["run_s"] / floor, 2),
            "ratio_cli_to_floor": round(cli["wall_s"] / floor, 2),
            "rounds": rounds}


def table(sizes: list[dict[str, Any]]) -> str:
    header = ("N", "floor s", "presence s", "run s", "in-proc s", "CLI s", "in-proc/floor", "CLI/floor",
              "CLI peak RSS MB", "in-proc peak MB")
    rows = [header] + [(
        f"{s['stations']:,}", f"{s['floor_s']:.3f}", f"{s['in_process']['presence_s']:.3f}",
        f"{s['in_process']['run_s']:.3f}", f"{s['in_process']['presence_and_run_s']:.3f}",
        f"{s['cli']['wall_s']:.3f}", f"{s['ratio_in_process_to_floor']:.1f}×", f"{s['ratio_cli_to_floor']:.1f}×",
        f"{s['cli']['peak_rss_mb']:.1f}", f"{s['in_process_tracemalloc_peak_mb']:.2f}") for s in sizes]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def verdict(sizes: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Issue 19's figure, judged on what an operator waits for: the CLI from launch to exit."""
    big = next((s for s in sizes if s["stations"] == TARGET_N), None)
    if big is None:
        return None
    wall = big["cli"]["wall_s"]
    return {"name": f"{TARGET_N} stations answered (fleet CLI, launch → exit)", "value_s": wall,
            "limit_s": TARGET_S, "passed": wall < TARGET_S,
            "in_process_s": big["in_process"]["presence_and_run_s"]}


def broker_config(max_queued: int | None) -> str:
    """Lines for mosquitto.conf beyond bench/broker.py's: only the queue bound, when asked."""
    return "" if max_queued is None else f"max_queued_messages {max_queued}\n"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.fleet", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000", help="fleet sizes, comma separated (default 10,100,1000)")
    parser.add_argument("--rounds", type=int, default=Settings.rounds,
                        help=f"runs of each of floor, in process and CLI per size; medians (default {Settings.rounds})")
    parser.add_argument("--concurrency", type=int, default=Settings.concurrency,
                        help=f"requests in flight, the floor's and the fleet's (default {Settings.concurrency})")
    parser.add_argument("--timeout", type=float, default=Settings.timeout, help="seconds per station (default 10)")
    parser.add_argument("--protocol", choices=tuple(PROTOCOLS), default="5",
                        help="MQTT version of the responder, the floor and the fleet client (default 5)")
    parser.add_argument("--max-queued", type=int, metavar="N",
                        help="the central mosquitto's max_queued_messages (default: mosquitto's, 1000; a fleet "
                             "client subscribed at QoS 1 then sees at most 1,020 retained statuses)")
    parser.add_argument("--quick", action="store_true", help="N = 10 only, one round: checks the bench works")
    parser.add_argument("--json", type=Path, default=REPO / "bench" / "results" / "fleet.json",
                        help="where to write the figures (default bench/results/fleet.json)")
    parser.add_argument("--workdir", type=Path, help="parent of the run's temp dir (default: the system's)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    sizes = (10,) if args.quick else tuple(int(s) for s in args.sizes.split(",") if s.strip())
    settings = Settings(sizes=sizes, rounds=1 if args.quick else max(args.rounds, 1),
                        concurrency=args.concurrency, timeout=args.timeout, protocol=args.protocol)
    started = time.perf_counter()
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="ocpp-bench-fleet-", dir=args.workdir) as tmp, \
            Mosquitto(Path(tmp), extra_config=broker_config(args.max_queued)) as broker:
        print(f"central mosquitto on {broker.url}; {SIMULATED}; {settings}", flush=True)
        try:
            startup = cli_startup_s(broker.url, settings, Path(tmp))
            for n in settings.sizes:
                print(f"N = {n:,}…", flush=True)
                results.append(measure_size(broker, n, settings, Path(tmp)))
        except BenchError as exc:
            print(f"\nBENCH BROKEN: {exc}", file=sys.stderr)
            return 1
        mosquitto_version = broker.version()
    runtime = time.perf_counter() - started
    goal = verdict(results)
    print(f"\n{SIMULATED}; concurrency {settings.concurrency}, MQTT {settings.protocol}, "
          f"median of {settings.rounds} round(s)\n")
    print(table(results))
    print(f"\nCLI start-up (`fleet get --help`): {startup:.3f} s")
    if goal is not None:
        print(f"{goal['name']}: {goal['value_s']:.2f} s — {'under' if goal['passed'] else 'NOT under'} "
              f"{TARGET_S:g} s ({'PASS' if goal['passed'] else 'FAIL'}); in process {goal['in_process_s']:.2f} s")
    report.write_json(args.json, {
        "meta": {"date": datetime.now(UTC).isoformat(timespec="seconds"), "runtime_s": round(runtime, 1),
                 "settings": {"sizes": list(settings.sizes), "rounds": settings.rounds,
                              "concurrency": settings.concurrency, "timeout": settings.timeout,
                              "protocol": settings.protocol, "glob": GLOB, "prefix": PREFIX,
                              "quick": args.quick, "workdir": str(args.workdir),
                              "max_queued_messages": args.max_queued},
                 "simulated": SIMULATED, "python": platform.python_version(), "platform": platform.platform(),
                 "cpus": os.cpu_count(), "mosquitto": mosquitto_version,
                 "cli": " ".join(cli_command(broker.url, settings))},
        "cli_startup_s": round(startup, 4),
        "sizes": results,
        "target": goal,
    })
    print(f"\nwrote {args.json}; runtime {runtime:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

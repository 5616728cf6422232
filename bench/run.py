"""One bench launch: start a responder (floor or service), measure it phase by phase, stop it.

The phases are the same for both responders, in the same order, through the same broker and load
generator; only the process that answers changes. That is what makes the service/floor ratio mean
"what the service adds".

A run launches each responder ``rounds`` times, alternating floor and service (F S S F F S …) and
pools each phase's latencies over the launches (:func:`combine`). On the bench VM the floor's own
closed-loop p50 varied 0.33–0.57 ms from launch to launch, and one launch each gave ratios from
0.89 to 1.53 for the same code: alternating cancels drift, pooling narrows the rest
(bench/README.md, "Why several launches").
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import psutil

from .load import BenchError, LoadGenerator, Payload, PhaseResult

REPO = Path(__file__).resolve().parent.parent
GET1: Payload = {"getVariableData": [{"component": {"name": "OCPPCommCtrlr"},
                                      "variable": {"name": "OfflineThreshold"}}]}
MAX_ITEMS = 100  # the station's ItemsPerMessage[GetVariables]


@dataclass(frozen=True)
class Settings:
    """How much load: ``requests`` caps the 1-item phases, ``duration`` caps every phase (seconds)."""

    requests: int = 20_000
    duration: float = 4.0
    fsync_rounds: int = 200
    rounds: int = 3  # launches of each responder; the requests and the time cap are shared among them

    @property
    def heavy_requests(self) -> int:
        """100-item and SetVariables phases are slower per request: a tenth as many suffice for a p50."""
        return max(self.requests // 10, 10)

    @property
    def warmup(self) -> int:
        return min(300, max(self.requests // 10, 10))

    def per_launch(self, requests: int) -> int:
        return max(requests // self.rounds, 5)

    @property
    def launch_duration(self) -> float:
        return self.duration / self.rounds


def catalogue_addresses(limit: int = MAX_ITEMS) -> list[Payload]:
    """``limit`` distinct readable station-level variables of 2.0.1, from the station's own catalogue.

    Read from the installed package rather than listed here, so the bench follows the catalogue. If
    the catalogue has fewer, addresses repeat (the station answers each item anyway).
    """
    catalogue = json.loads((resources.files("ocpp_station.station") / "components.json").read_text("utf-8"))
    found: list[Payload] = []
    for component in catalogue["components"]:
        if component.get("tier") != "ChargingStation" or "instance" in component:
            continue
        for var in component["variables"]:
            if "versions" in var and "2.0.1" not in var["versions"]:
                continue
            if not any(a["type"] == "Actual" and a.get("mutability") != "WriteOnly" for a in var["attributes"]):
                continue
            variable = {"name": var["name"]} | ({"instance": var["instance"]} if "instance" in var else {})
            found.append({"component": {"name": component["name"]}, "variable": variable})
    if not found:
        raise BenchError("no readable variable in the station's catalogue")
    return [found[i % len(found)] for i in range(limit)]


def set_payload(i: int) -> Payload:
    """A 1-item SetVariables whose value changes every request (an unchanged value might skip the write)."""
    return {"setVariableData": [{"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "OfflineThreshold"},
                                 "attributeValue": str(100 + i)}]}


def check_set(payload: Payload) -> None:
    [result] = payload["setVariableResult"]
    if result["attributeStatus"] != "Accepted":
        raise BenchError(f"SetVariables not accepted (nothing durable was measured): {result}")


@dataclass
class Get100Check:
    """Every 100-item answer must have 100 results; how many were Accepted is reported."""

    accepted: int = 0

    def __call__(self, payload: Payload) -> None:
        results = payload["getVariableResult"]
        if len(results) != MAX_ITEMS:
            raise BenchError(f"GetVariables with {MAX_ITEMS} items answered {len(results)} results")
        self.accepted = sum(r["attributeStatus"] == "Accepted" for r in results)


def command(kind: str, url: str, port: int, data_dir: Path, launch: int) -> list[str]:
    """The responder's command line. Each service launch takes a client id of its own: under one id,
    its persistent session would collect the requests meant for the floor launched in between, and
    the next launch would answer them all (as it must: no request is lost)."""
    if kind == "floor":
        return [sys.executable, "-m", "bench.floor", "--port", str(port)]
    return [sys.executable, "-m", "ocpp_station", "--log-level", "WARNING", "serve", "--mqtt-url", url,
            "--data-dir", str(data_dir), "--client-id", f"bench-station-{launch}"]


@dataclass
class Launch:
    """What one launch of a responder measured."""

    phases: list[PhaseResult]
    launch_to_first_answer_s: float
    rss_mb: float
    cpu_s: float
    exit_code: int | None
    accepted_items: int | None  # of the 100-item GetVariables (service only)


def measure(kind: str, url: str, port: int, workdir: Path, settings: Settings, launch: int = 1) -> Launch:
    """Launch ``kind`` ("floor" or "service") for the ``launch``-th time, run every phase, stop it."""
    service = kind == "service"
    log_path = workdir / f"{kind}.log"
    gen = LoadGenerator(port)
    gen.connect()
    log = open(log_path, "ab")  # noqa: SIM115 — the child owns it
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    launched = time.perf_counter()
    proc = subprocess.Popen(command(kind, url, port, workdir / "data", launch), cwd=REPO, env=env,
                            stdout=log, stderr=log)
    log.close()
    try:
        first = gen.first_answer("GetVariables", GET1, alive=lambda: proc.poll() is None)
        get100, check100 = {"getVariableData": catalogue_addresses()}, Get100Check()
        n, heavy = settings.per_launch(settings.requests), settings.per_launch(settings.heavy_requests)
        secs = settings.launch_duration
        # Warm-up: first-use costs (imports, schema compilation, SQLite caches) are not steady state.
        gen.run("warmup", "GetVariables", lambda _i: GET1, window=1, max_requests=settings.warmup, max_seconds=secs)
        gen.run("warmup", "GetVariables", lambda _i: get100, window=1, max_requests=5, max_seconds=secs)
        gen.run("warmup", "SetVariables", lambda i: set_payload(10_000 + i), window=1, max_requests=5,
                max_seconds=secs, check=check_set if service else None)
        phases: list[PhaseResult] = [
            gen.run("get1_closed", "GetVariables", lambda _i: GET1, window=1, max_requests=n, max_seconds=secs),
            gen.run("get1_inflight32", "GetVariables", lambda _i: GET1, window=32, max_requests=n * 2,
                    max_seconds=secs),
            gen.run("get100", "GetVariables", lambda _i: get100, window=1, max_requests=heavy, max_seconds=secs,
                    check=check100 if service else None),
            gen.run("set1_durable", "SetVariables", set_payload, window=1, max_requests=heavy, max_seconds=secs,
                    check=check_set if service else None),
        ]
        gen.quiet()
        process = psutil.Process(proc.pid)
        rss = process.memory_info().rss
        cpu = process.cpu_times()
    except BaseException:
        stop_process(proc)
        sys.stderr.write(f"--- {kind} log ({log_path}) ---\n{log_path.read_text(errors='replace')[-3000:]}\n")
        raise
    finally:
        gen.close()
    exit_code = stop_process(proc)
    return Launch(phases, first - launched, rss / 2**20, cpu.user + cpu.system, exit_code,
                  check100.accepted if service else None)


def combine(launches: list[Launch], samples: dict[str, list[float]], kind: str) -> dict[str, Any]:
    """One responder's figures from its launches: each phase's latencies pooled (its rate over the
    summed time), the median launch time, the largest RSS, the CPU of all launches together."""
    figures: dict[str, Any] = {}
    for name in [phase.name for phase in launches[0].phases]:
        same = [phase for launch in launches for phase in launch.phases if phase.name == name]
        pooled = PhaseResult(name, same[0].window, [ms for phase in same for ms in phase.latencies_ms],
                             sum(phase.elapsed_s for phase in same))
        samples[f"{kind}.{name}"] = pooled.latencies_ms
        figures[name] = pooled.summary()
    figures |= {"launch_to_first_answer_s": round(statistics.median(x.launch_to_first_answer_s for x in launches), 4),
                "rss_mb": round(max(x.rss_mb for x in launches), 2),
                "cpu_s": round(sum(x.cpu_s for x in launches), 3),
                "exit_code": next((x.exit_code for x in launches if x.exit_code), launches[-1].exit_code),
                "launches": len(launches)}
    if launches[0].accepted_items is not None:
        figures["get100"]["accepted_items"] = min(x.accepted_items or 0 for x in launches)
    return figures


def stop_process(proc: subprocess.Popen[bytes]) -> int | None:
    """SIGTERM (the service's and the floors' clean shutdown), then SIGKILL if it hangs; its exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return proc.returncode

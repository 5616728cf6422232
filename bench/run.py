"""One bench run: launch a responder (floor or service), measure it phase by phase, stop it.

The phases are the same for both responders, in the same order, through the same broker and load
generator; only the process that answers changes. That is what makes the service/floor ratio mean
"what the service adds".
"""

from __future__ import annotations

import json
import os
import signal
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

    @property
    def heavy_requests(self) -> int:
        """100-item and SetVariables phases are slower per request: a tenth as many suffice for a p50."""
        return max(self.requests // 10, 10)

    @property
    def warmup(self) -> int:
        return min(300, max(self.requests // 10, 10))


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


def command(kind: str, url: str, port: int, data_dir: Path) -> list[str]:
    if kind == "floor":
        return [sys.executable, "-m", "bench.floor", "--port", str(port)]
    return [sys.executable, "-m", "ocpp_station", "--log-level", "WARNING", "serve", "--mqtt-url", url,
            "--data-dir", str(data_dir), "--client-id", "bench-station"]


def measure(kind: str, url: str, port: int, workdir: Path, settings: Settings,
            samples: dict[str, list[float]]) -> dict[str, Any]:
    """Launch ``kind`` ("floor" or "service"), run every phase against it, stop it; its figures."""
    service = kind == "service"
    log_path = workdir / f"{kind}.log"
    gen = LoadGenerator(port)
    gen.connect()
    log = open(log_path, "ab")  # noqa: SIM115 — the child owns it
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    launched = time.perf_counter()
    proc = subprocess.Popen(command(kind, url, port, workdir / "data"), cwd=REPO, env=env,
                            stdout=log, stderr=log)
    log.close()
    try:
        first = gen.first_answer("GetVariables", GET1, alive=lambda: proc.poll() is None)
        get100, check100 = {"getVariableData": catalogue_addresses()}, Get100Check()
        n, heavy, secs = settings.requests, settings.heavy_requests, settings.duration
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
        _stop(proc)
        sys.stderr.write(f"--- {kind} log ({log_path}) ---\n{log_path.read_text(errors='replace')[-3000:]}\n")
        raise
    finally:
        gen.close()
    exit_code = _stop(proc)
    for phase in phases:
        samples[f"{kind}.{phase.name}"] = phase.latencies_ms
    figures: dict[str, Any] = {phase.name: phase.summary() for phase in phases}
    figures |= {"launch_to_first_answer_s": round(first - launched, 4), "rss_mb": round(rss / 2**20, 2),
                "cpu_s": round(cpu.user + cpu.system, 3), "exit_code": exit_code}
    if service:
        figures["get100"]["accepted_items"] = check100.accepted
    return figures


def _stop(proc: subprocess.Popen[bytes]) -> int | None:
    """SIGTERM (the service's clean shutdown), then SIGKILL if it hangs; its exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return proc.returncode

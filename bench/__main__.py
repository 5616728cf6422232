"""``python -m bench``: floor and service, alternately, through one private mosquitto; a table, JSON and a plot.

Then, unless ``--parts`` says otherwise, the CSMS door against its floor (:mod:`bench.csms_door`) and the
growth table by station size (:mod:`bench.growth`), each with its own table and a JSON file beside
``--json`` (``<name>-csms_door.json``, ``<name>-growth.json``): issue 20's one run of every figure.

Exit status: 0 when the bench produced figures (targets may still FAIL: they are reported, not
enforced), 1 when it could not (a lost, duplicate or CallError answer, a process that died).
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from . import report
from .broker import Mosquitto
from .disk import fsync_p50_ms
from .inprocess import in_process_p50_ms
from .load import BenchError
from .run import REPO, Launch, Settings, combine, measure


def launch_order(rounds: int) -> list[str]:
    """F S S F F S …: each responder as often first as second, so a machine that drifts favours neither."""
    return [kind for r in range(rounds) for kind in (("floor", "service") if r % 2 == 0 else ("service", "floor"))]


QUICK = Settings(requests=40, duration=2.0, fsync_rounds=20, rounds=2)
PARTS = ("mqtt", "csms", "growth")  # the MQTT door, the CSMS door, growth by station size


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, metavar="N",
                        help=f"requests per 1-item phase (default {Settings.requests}; the 100-item and "
                             "SetVariables phases send a tenth, the 32-in-flight phase twice as many)")
    parser.add_argument("--duration", type=float, metavar="S",
                        help=f"time cap per phase in seconds, shared by the rounds (default {Settings.duration})")
    parser.add_argument("--rounds", type=int, metavar="N",
                        help=f"launches of each responder, alternating (default {Settings.rounds}); the "
                             "requests are shared among them and each phase's latencies pooled")
    parser.add_argument("--quick", action="store_true",
                        help=f"a tiny run ({QUICK.requests} requests, {QUICK.duration} s per phase) to check the bench")
    parser.add_argument("--json", type=Path, metavar="PATH", default=REPO / "bench" / "results" / "latest.json",
                        help="where to write the figures (default bench/results/latest.json)")
    parser.add_argument("--parts", default=",".join(PARTS), metavar="PART[,PART…]",
                        help=f"what to run, of {', '.join(PARTS)} (default: all, in that order)")
    parser.add_argument("--workdir", type=Path, metavar="DIR",
                        help="parent of the run's temp dir (broker, data dir, logs); its disk is the one whose "
                             "fsync is measured (default: the system temp dir)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    parts = [part.strip() for part in args.parts.split(",") if part.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        print(f"python -m bench: unknown part(s) {', '.join(unknown)} (of {', '.join(PARTS)})", file=sys.stderr)
        return 2
    status = _mqtt_door(args) if "mqtt" in parts else 0
    shared = [*(["--quick"] if args.quick else []), *(["--workdir", str(args.workdir)] if args.workdir else [])]
    for part, module in (("csms", "csms_door"), ("growth", "growth")):
        if part in parts and status == 0:
            print(f"\n== {module} ==", flush=True)
            status = importlib.import_module(f"bench.{module}").main(
                [*shared, "--json", str(args.json.with_name(f"{args.json.stem}-{module}.json"))])
    return status


def _mqtt_door(args: argparse.Namespace) -> int:
    """The MQTT door against its floor, with the in-process breakdown: the run this module began as."""
    base = QUICK if args.quick else Settings()
    settings = Settings(requests=args.requests or base.requests, duration=args.duration or base.duration,
                        fsync_rounds=base.fsync_rounds, rounds=max(args.rounds or base.rounds, 1))
    started = time.perf_counter()
    samples: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="ocpp-bench-", dir=args.workdir) as tmp:
        root = Path(tmp)
        launches: dict[str, list[Launch]] = {"floor": [], "service": []}
        with Mosquitto(root) as broker:
            print(f"mosquitto on {broker.url}; {settings}", flush=True)
            try:
                for kind in launch_order(settings.rounds):
                    (root / kind).mkdir(exist_ok=True)
                    launch = len(launches[kind]) + 1
                    print(f"measuring {kind} ({launch}/{settings.rounds})…", flush=True)
                    launches[kind].append(measure(kind, broker.url, broker.port, root / kind, settings, launch))
            except BenchError as exc:
                print(f"\nBENCH BROKEN: {exc}", file=sys.stderr)
                return 1
            mosquitto_version = broker.version()
        figures = {kind: combine(runs, samples, kind) for kind, runs in launches.items()}
        fsync_ms = fsync_p50_ms(root, settings.fsync_rounds)
        print("measuring the station in process…", flush=True)
        in_process = in_process_p50_ms(root / "in-process", settings.heavy_requests)
    goals = report.targets(figures["floor"], figures["service"], fsync_ms)
    runtime = time.perf_counter() - started
    print()
    print(report.table(figures["floor"], figures["service"], fsync_ms, in_process, goals))
    results = {
        "meta": {"date": datetime.now(UTC).isoformat(timespec="seconds"), "runtime_s": round(runtime, 1),
                 "settings": vars(args) | {"requests": settings.requests, "duration": settings.duration,
                                           "rounds": settings.rounds, "json": str(args.json),
                                           "workdir": str(args.workdir)},
                 "python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
                 "mosquitto": mosquitto_version},
        "fsync_p50_ms": round(fsync_ms, 4),
        "in_process": in_process,
        "floor": figures["floor"],
        "service": figures["service"],
        "targets": report.target_dicts(goals),
        "all_targets_passed": all(g.passed for g in goals),
    }
    report.write_json(args.json, results)
    plotted = report.write_plot(args.json.with_suffix(".png"), samples)
    print(f"\nwrote {args.json}{' and ' + str(args.json.with_suffix('.png')) if plotted else ''}; "
          f"runtime {runtime:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

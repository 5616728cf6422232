"""How every cost of the station grows with its size: 1, 10 and 100 EVSEs (issue 20, row "growth").

``python -m bench.growth [--sizes 1,10,100] [--rounds 3] [--quick] [--json PATH]`` starts a private
mosquitto and, for each size (each EVSE with 2 connectors, the TOML of :mod:`bench.reports`),
launches ``ocpp-station serve --no-csms`` twice on one data dir: a **first start** (fresh data
dir: the database is created) and a **restart** (same data dir, same client id: the state is
read back and the broker's session resumed). Each launch measures

* launch → first answer: a 1-item GetVariables probe every 10 ms from ``Popen``
  (:meth:`bench.load.LoadGenerator.first_answer`, as ``python -m bench`` does),
* RSS right after that first answer and after the load (psutil),
* a 100-item GetVariables, closed loop: 88 distinct station-level variables and 12 EVSE and
  Connector variables spread from EVSE 1 to the last EVSE, so that the lookup meets the bigger
  model while the request stays the same mix at every size (a mix that changed with the size
  would make the ratios measure the mix),
* a GetBaseReport(FullInventory) through :meth:`ocpp_station.client.StationClient.report_parts`
  (what ``StationClient.report`` iterates): the time from the request to the last part, the
  parts, the items and the bytes of the NotifyReport payloads as JSON.

Sizes are interleaved within a round (1, 10, 100, 1, 10, 100 …) so that a machine that drifts
favours no size. The table gives, per figure, the value at each size, its ratio per step (10/1,
100/10) and a verdict: **linear or better** when the figure grew by no more than the number of
EVSEs did. A fixed cost (the interpreter, the imports, the broker round trip) flatters that
verdict, so the table also prints the *marginal* cost per added EVSE of each step: if it rises
from one step to the next, the per-EVSE part grows worse than linearly even when the total does
not yet show it.

Exit status 0 when figures were produced (verdicts are reported, not enforced), 1 when the bench is
broken (a lost or failed answer, a rejected item, a refused report, a process that died).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
import psutil

from ocpp_station.client import StationClient

from .broker import Mosquitto
from .load import BenchError, LoadGenerator, Payload, percentile
from .report import write_json
from .reports import station_toml
from .run import GET1, MAX_ITEMS, REPO, Get100Check, catalogue_addresses, stop_process

EVSE_ITEMS = 12  # an EVSE's 4 readable variables and its 2 connectors' 4 each: all of EVSE 1 at size 1
CONNECTORS = 2


@dataclass(frozen=True)
class Settings:
    """What one run does: the sizes (EVSEs), the rounds, and the load of each launch."""

    sizes: tuple[int, ...] = (1, 10, 100)
    rounds: int = 3
    get100_requests: int = 200  # per launch, closed loop
    get100_seconds: float = 2.0  # cap per launch
    reports: int = 3  # FullInventory reports per launch, after one that warms up


QUICK = Settings(sizes=(1, 10), rounds=1, get100_requests=20, get100_seconds=1.0, reports=1)


def _readable(component: dict[str, Any]) -> list[str]:
    """Names of the component's variables with a readable Actual attribute."""
    return [var["name"] for var in component["variables"]
            if any(a["type"] == "Actual" and a.get("mutability") != "WriteOnly" for a in var["attributes"])]


def evse_variables() -> list[tuple[str, int | None, str]]:
    """One EVSE's readable (component, connector id or None, variable) triples, from the catalogue.

    Read from the installed package, as :func:`bench.run.catalogue_addresses` does, so the bench
    follows the device model instead of a list of its own.
    """
    catalogue = json.loads((resources.files("ocpp_station.station") / "components.json").read_text("utf-8"))
    tiers = {c["tier"]: c for c in catalogue["components"] if c.get("tier") in ("EVSE", "Connector")}
    found: list[tuple[str, int | None, str]] = [("EVSE", None, name) for name in _readable(tiers["EVSE"])]
    found += [("Connector", connector, name) for connector in range(1, CONNECTORS + 1)
              for name in _readable(tiers["Connector"])]
    if len(found) < EVSE_ITEMS:
        raise BenchError(f"the catalogue has {len(found)} readable EVSE/Connector variables, {EVSE_ITEMS} needed")
    return found[:EVSE_ITEMS]


def get100_addresses(evses: int) -> list[Payload]:
    """100 distinct readable variables: station-level ones, then 12 EVSE/Connector ones spread over the EVSEs.

    The k-th EVSE item goes to EVSE ``1 + round(k (N-1) / 11)``: the first and the last EVSE are
    always asked, and each item names another variable, so the 100 stay distinct at every size.
    """
    items = catalogue_addresses(MAX_ITEMS - EVSE_ITEMS)
    if len({orjson.dumps(i, option=orjson.OPT_SORT_KEYS) for i in items}) != len(items):
        raise BenchError("the catalogue has too few distinct station-level variables for 100 distinct items")
    for k, (component, connector, name) in enumerate(evse_variables()):
        evse_id = 1 + round(k * (evses - 1) / (EVSE_ITEMS - 1))
        evse: dict[str, int] = {"id": evse_id} | ({"connectorId": connector} if connector is not None else {})
        items.append({"component": {"name": component, "evse": evse}, "variable": {"name": name}})
    return items


@dataclass
class Launch:
    """What one launch measured; times in seconds, memory in MB."""

    size: int
    round: int
    kind: str  # "first" (fresh data dir) or "restart"
    first_answer_s: float
    rss_start_mb: float
    rss_load_mb: float
    get100_ms: list[float]
    report_s: list[float]
    report_parts: int
    report_items: int
    report_bytes: int
    exit_code: int | None


async def _reports(url: str, runs: int) -> tuple[list[float], int, int, int]:
    """``runs`` FullInventory reports after one that warms up: the times to the last part, and the
    parts, items and payload bytes of the last (every report must be the same size)."""
    times: list[float] = []
    shapes: set[tuple[int, int, int]] = set()
    async with StationClient(url, protocol="5") as client:
        for _ in range(runs + 1):
            parts = items = size = 0
            started = time.perf_counter()
            async with client.report_parts("FullInventory", timeout=30, part_timeout=30) as stream:
                async for part in stream:
                    parts, items, size = parts + 1, items + len(part.items), size + len(orjson.dumps(part.payload))
            times.append(time.perf_counter() - started)
            if stream.status is None or stream.status.status != "Accepted":
                raise BenchError(f"FullInventory not accepted: {stream.status}")
            shapes.add((parts, items, size))
    if len({shape[:2] for shape in shapes}) != 1:
        raise BenchError(f"FullInventory reports of one station differ in parts or items: {sorted(shapes)}")
    parts, items, size = max(shapes)  # bytes may differ by a digit (generatedAt, a live value)
    return times[1:], parts, items, size


def measure(broker: Mosquitto, config: Path, data_dir: Path, client_id: str, settings: Settings, *,
            size: int, round_: int, kind: str, log_path: Path) -> Launch:
    """One launch of ``ocpp-station serve`` on ``data_dir``: start-up, RSS, a 100-item GetVariables, reports."""
    gen = LoadGenerator(broker.port)
    gen.connect()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    log = open(log_path, "ab")  # noqa: SIM115 — the child owns it
    launched = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "ocpp_station", "--log-level", "WARNING", "serve", "--no-csms",
                             "--mqtt-url", broker.url, "--config", str(config), "--data-dir", str(data_dir),
                             "--client-id", client_id], cwd=REPO, env=env, stdout=log, stderr=log)
    log.close()
    generator_open = True
    try:
        first = gen.first_answer("GetVariables", GET1, alive=lambda: proc.poll() is None)
        process = psutil.Process(proc.pid)
        rss_start = process.memory_info().rss
        get100, check = {"getVariableData": get100_addresses(size)}, Get100Check()
        gen.run("warmup", "GetVariables", lambda _i: get100, window=1, max_requests=5,
                max_seconds=settings.get100_seconds, check=check)
        phase = gen.run("get100", "GetVariables", lambda _i: get100, window=1, max_requests=settings.get100_requests,
                        max_seconds=settings.get100_seconds, check=check)
        if check.accepted != MAX_ITEMS:
            raise BenchError(f"{size} EVSEs: {check.accepted}/{MAX_ITEMS} items Accepted (the figure would "
                             "time rejections)")
        gen.quiet()
        # Closed before the reports: the station copies every answer to josev/cs, where the
        # generator would take the GetBaseReport's answer for one to an unknown id.
        gen.close()
        generator_open = False
        report_s, parts, items, size_bytes = asyncio.run(_reports(broker.url, settings.reports))
        rss_load = process.memory_info().rss
    except BaseException:
        stop_process(proc)
        sys.stderr.write(f"--- station log ({log_path}) ---\n{log_path.read_text(errors='replace')[-3000:]}\n")
        raise
    finally:
        if generator_open:
            gen.close()
    exit_code = stop_process(proc)
    return Launch(size, round_, kind, first - launched, rss_start / 2**20, rss_load / 2**20, phase.latencies_ms,
                  report_s, parts, items, size_bytes, exit_code)


# -- figures, growth, table ---------------------------------------------------------------------

@dataclass(frozen=True)
class Figure:
    """One figure of the table: its name, unit and how it is read from a size's launches."""

    key: str
    label: str
    unit: str
    digits: int


FIGURES = (
    Figure("start_first_s", "launch → first answer, first start", "s", 3),
    Figure("start_restart_s", "launch → first answer, restart", "s", 3),
    Figure("rss_start_mb", "RSS after start", "MB", 1),
    Figure("rss_load_mb", "RSS after the load", "MB", 1),
    Figure("get100_p50_ms", "GetVariables 100 items p50", "ms", 3),
    Figure("get100_p99_ms", "GetVariables 100 items p99", "ms", 3),
    Figure("report_s", "FullInventory, to the last part (p50)", "s", 4),
    Figure("report_parts", "FullInventory parts", "", 0),
    Figure("report_items", "FullInventory items", "", 0),
    Figure("report_bytes", "FullInventory bytes", "B", 0),
)


def size_figures(launches: list[Launch]) -> dict[str, float]:
    """One size's figures: start-up times are medians over rounds, RSS the median of the launches,
    latencies pooled over every launch (a p99 of all of them, not a median of p99s)."""
    first = [x for x in launches if x.kind == "first"]
    restart = [x for x in launches if x.kind == "restart"]
    get100 = [ms for x in launches for ms in x.get100_ms]
    return {
        "start_first_s": statistics.median(x.first_answer_s for x in first),
        "start_restart_s": statistics.median(x.first_answer_s for x in restart),
        "rss_start_mb": statistics.median(x.rss_start_mb for x in launches),
        "rss_load_mb": statistics.median(x.rss_load_mb for x in launches),
        "get100_p50_ms": percentile(get100, 50),
        "get100_p99_ms": percentile(get100, 99),
        "report_s": statistics.median(s for x in launches for s in x.report_s),
        "report_parts": float(max(x.report_parts for x in launches)),
        "report_items": float(max(x.report_items for x in launches)),
        "report_bytes": float(max(x.report_bytes for x in launches)),
        "get100_requests": float(len(get100)),
    }


@dataclass
class Step:
    """How one figure grew from one size to the next."""

    low: int
    high: int
    ratio: float  # figure(high) / figure(low)
    per_evse: float  # (figure(high) - figure(low)) / (high - low): the marginal cost of one more EVSE
    linear: bool  # ratio <= high / low


@dataclass
class Growth:
    """One figure across the sizes, its steps, and the verdict over all of them."""

    figure: str
    values: dict[int, float]
    steps: list[Step] = field(default_factory=list)

    @property
    def linear(self) -> bool:
        return all(step.linear for step in self.steps)

    @property
    def verdict(self) -> str:
        return "linear or better" if self.linear else "WORSE than linear"


def growth(by_size: dict[int, dict[str, float]]) -> list[Growth]:
    """Each figure's ratio per step of sizes (10/1, 100/10) against the step in EVSEs."""
    sizes = sorted(by_size)
    out = []
    for fig in FIGURES:
        values = {size: by_size[size][fig.key] for size in sizes}
        g = Growth(fig.key, values)
        for low, high in itertools.pairwise(sizes):
            ratio = values[high] / values[low] if values[low] else float("inf")
            g.steps.append(Step(low, high, ratio, (values[high] - values[low]) / (high - low),
                                ratio <= high / low))
        out.append(g)
    return out


def _number(value: float, digits: int) -> str:
    return f"{value:,.{digits}f}"


def table(growths: list[Growth]) -> str:
    """Figures as rows; a column per size, then the ratio and the marginal cost per EVSE of each step."""
    sizes = sorted(growths[0].values)
    steps = [f"{s.high}/{s.low}" for s in growths[0].steps]
    head = (f"{'figure':40}" + "".join(f"{f'{n} EVSE' + ('s' if n > 1 else ''):>12}" for n in sizes)
            + "".join(f"{step:>10}" for step in steps)
            + "".join(f"{f'Δ/EVSE {s.low}→{s.high}':>16}" for s in growths[0].steps) + "  verdict")
    lines = [head, "-" * len(head)]
    for fig, g in zip(FIGURES, growths, strict=True):
        label = f"{fig.label}{f' ({fig.unit})' if fig.unit else ''}"
        lines.append(f"{label:40}" + "".join(f"{_number(g.values[n], fig.digits):>12}" for n in sizes)
                     + "".join(f"{s.ratio:>9.2f}×" for s in g.steps)
                     + "".join(f"{_number(s.per_evse, max(fig.digits, 1) + 2):>16}" for s in g.steps)
                     + f"  {g.verdict}")
    return "\n".join(lines)


# -- the run ------------------------------------------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.growth", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=lambda s: tuple(int(n) for n in s.split(",")), metavar="N,N,…",
                        help=f"EVSEs per station, ascending (default {','.join(map(str, Settings.sizes))})")
    parser.add_argument("--rounds", type=int, metavar="N",
                        help=f"first start + restart of every size, N times (default {Settings.rounds})")
    parser.add_argument("--quick", action="store_true",
                        help="sizes 1,10, one round, a light load: only checks the bench works (a few seconds)")
    parser.add_argument("--json", type=Path, metavar="PATH", default=REPO / "bench" / "results" / "growth.json",
                        help="where to write the figures (default bench/results/growth.json)")
    parser.add_argument("--workdir", type=Path, metavar="DIR",
                        help="parent of the run's temp dir (broker, data dirs, logs); default the system temp dir")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    base = QUICK if args.quick else Settings()
    sizes = tuple(args.sizes or base.sizes)
    if len(sizes) < 2 or list(sizes) != sorted(set(sizes)) or sizes[0] < 1:
        print("--sizes: at least two distinct sizes ≥ 1, ascending", file=sys.stderr)
        return 2
    settings = Settings(sizes=sizes, rounds=max(args.rounds or base.rounds, 1), get100_requests=base.get100_requests,
                        get100_seconds=base.get100_seconds, reports=base.reports)
    started = time.perf_counter()
    launches: list[Launch] = []
    with tempfile.TemporaryDirectory(prefix="ocpp-growth-", dir=args.workdir) as tmp:
        root = Path(tmp)
        with Mosquitto(root) as broker:
            print(f"mosquitto on {broker.url}; {settings}", flush=True)
            try:
                for round_ in range(1, settings.rounds + 1):
                    for size in settings.sizes:
                        config = root / f"station-{size}.toml"
                        config.write_text(station_toml(size), "utf-8")
                        data_dir = root / f"data-{size}-r{round_}"  # fresh: the first start creates it
                        for kind in ("first", "restart"):
                            print(f"round {round_}/{settings.rounds}: {size} EVSEs, {kind}…", flush=True)
                            launch = measure(broker, config, data_dir, f"bench-growth-{size}-r{round_}", settings,
                                             size=size, round_=round_, kind=kind,
                                             log_path=root / f"station-{size}-r{round_}.log")
                            if launch.exit_code != 0:
                                raise BenchError(f"{size} EVSEs, {kind}: the station exited {launch.exit_code} "
                                                 "on SIGTERM")
                            launches.append(launch)
            except BenchError as exc:
                print(f"\nBENCH BROKEN: {exc}", file=sys.stderr)
                return 1
            mosquitto_version = broker.version()
    by_size = {size: size_figures([x for x in launches if x.size == size]) for size in settings.sizes}
    growths = growth(by_size)
    runtime = time.perf_counter() - started
    print()
    print(table(growths))
    worse = [g.figure for g in growths if not g.linear]
    print(f"\ngrowth: {'linear or better on every figure' if not worse else 'WORSE than linear: ' + ', '.join(worse)}"
          " (verdict: a figure grew by no more than the EVSEs did, step by step)")
    results = {
        "meta": {"date": datetime.now(UTC).isoformat(timespec="seconds"), "runtime_s": round(runtime, 1),
                 "settings": asdict(settings), "connectors_per_evse": CONNECTORS,
                 "python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
                 "mosquitto": mosquitto_version},
        "sizes": {str(size): {k: round(v, 6) for k, v in figures.items()} for size, figures in by_size.items()},
        "growth": {g.figure: {"values": {str(n): round(v, 6) for n, v in g.values.items()},
                              "steps": [asdict(s) | {"ratio": round(s.ratio, 4), "per_evse": round(s.per_evse, 8)}
                                        for s in g.steps],
                              "verdict": g.verdict} for g in growths},
        "all_linear_or_better": not worse,
        "launches": [asdict(x) | {"get100_ms": [round(ms, 4) for ms in x.get100_ms],
                                  "report_s": [round(s, 5) for s in x.report_s]} for x in launches],
    }
    write_json(args.json, results)
    print(f"\nwrote {args.json}; runtime {runtime:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""How long a FullInventory takes through the MQTT API, and how that grows with the station's size.

``python -m bench.reports [--runs 5]`` starts a private mosquitto and, for stations of 1, 10 and
100 EVSEs with 2 connectors each, ``ocpp-station serve`` on it; then asks for a
GetBaseReport(FullInventory) with :class:`~ocpp_station.client.StationClient` (MQTT 5) several
times and reports the items, the parts and the time from the request to the last part (median
and worst), and the time per item — which should stay flat: a report linear in the device model.
Issue 16's target: a 100-EVSE FullInventory delivered through the MQTT API in under a second.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from ocpp_station.client import StationClient

from .broker import Mosquitto
from .nodelay import start_station

SIZES = (1, 10, 100)


def station_toml(evses: int) -> str:
    tables = "".join(f"[[evse]]\nid = {n}\nconnectors = [{{ id = 1, type = \"cType2\" }}, "
                     f"{{ id = 2, type = \"cCCS2\" }}]\n" for n in range(1, evses + 1))
    return tables


async def timed_reports(url: str, runs: int) -> tuple[int, int, list[float]]:
    times: list[float] = []
    items = parts = 0
    async with StationClient(url, protocol="5") as client:
        for _ in range(runs + 1):  # the first warms up
            started = time.perf_counter()
            report = await client.report("FullInventory", timeout=30, part_timeout=30)
            times.append(time.perf_counter() - started)
            items, parts = len(report.items), report.parts
    return items, parts, times[1:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="reports per size (default 5)")
    args = parser.parse_args()
    print(f"{'EVSEs':>6} {'items':>6} {'parts':>6} {'p50 ms':>8} {'max ms':>8} {'µs/item':>8}")
    with tempfile.TemporaryDirectory() as tmp, Mosquitto(Path(tmp)) as broker:
        for evses in SIZES:
            config = Path(tmp) / f"station-{evses}.toml"
            config.write_text(station_toml(evses))
            station = start_station(broker, Path(tmp) / f"data-{evses}", f"bench-report-{evses}",
                                    "--config", str(config))
            try:
                items, parts, times = asyncio.run(timed_reports(broker.url, args.runs))
            finally:
                station.terminate()
                station.wait(10)
            p50 = statistics.median(times)
            print(f"{evses:6d} {items:6d} {parts:6d} {p50 * 1000:8.1f} {max(times) * 1000:8.1f} "
                  f"{p50 / items * 1e6:8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

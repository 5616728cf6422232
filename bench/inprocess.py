"""Where a request's time goes without MQTT: the station's own work, timed in the bench's process.

The service's closed-loop latency is roughly the floor's, plus what the MQTT door does beyond the
floor, plus :meth:`Station.handle`. Timing ``handle`` here, on a data dir on the same disk, splits
"the service is N ms above the floor" into the station's work and the rest; and timing one bare
SQLite commit splits a durable write into the commit (fsync included) and everything around it.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace
from pathlib import Path

from ocpp_station.app import Station
from ocpp_station.config import Config

from .load import envelope, timed_p50_ms
from .run import GET1, set_payload


def in_process_p50_ms(data_dir: Path, rounds: int) -> dict[str, float]:
    """p50 (ms) of Station.handle for a 1-item GetVariables and SetVariables, and of one bare commit."""
    logging.getLogger("ocpp_station").setLevel(logging.WARNING)
    station = Station(replace(Config(), data_dir=data_dir))
    try:
        get = [envelope("GetVariables", GET1, str(uuid.uuid4())) for _ in range(rounds)]
        set_ = [envelope("SetVariables", set_payload(i), str(uuid.uuid4())) for i in range(rounds)]
        for i in range(min(rounds, 20)):  # first-use costs are not steady state
            station.handle(envelope("GetVariables", GET1, str(uuid.uuid4())))
            station.handle(envelope("SetVariables", set_payload(10_000 + i), str(uuid.uuid4())))

        def commit(i: int) -> None:
            with station.storage.unit_of_work() as db:
                db.execute("INSERT INTO station_state (key, value) VALUES ('bench', ?)"
                           " ON CONFLICT DO UPDATE SET value = excluded.value", (str(i),))

        figures = {"get1_handle_p50_ms": timed_p50_ms(rounds, lambda i: station.handle(get[i])),
                   "set1_handle_p50_ms": timed_p50_ms(rounds, lambda i: station.handle(set_[i])),
                   "commit_p50_ms": timed_p50_ms(rounds, commit)}
        return {name: round(value, 4) for name, value in figures.items()}
    finally:
        station.close()

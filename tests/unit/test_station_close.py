"""Station.close waits for a door still inside the station (the SIGSEGV at SIGTERM of issue 17's review)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from ocpp_station.app import Station
from ocpp_station.config import Config


def test_close_waits_for_a_method_holding_the_lock_and_later_calls_fail_cleanly(tmp_path: Path) -> None:
    station = Station(Config(data_dir=tmp_path / "data"))
    inside, leave, closed = threading.Event(), threading.Event(), threading.Event()

    def worker() -> None:  # a station method in a worker thread, e.g. the link's outbox read
        with station.lock:
            inside.set()
            leave.wait(10)
            station.outgoing("csms", 1)  # the database is still open: it must not be closed under us

    thread = threading.Thread(target=worker)
    thread.start()
    assert inside.wait(10)
    closer = threading.Thread(target=lambda: (station.close(), closed.set()))
    closer.start()
    assert not closed.wait(0.2), "close() did not wait for the method holding the station's lock"
    leave.set()
    thread.join(10)
    assert closed.wait(10)
    closer.join(10)
    with pytest.raises(sqlite3.ProgrammingError):  # a call after close: an exception, not a crash
        station.outgoing("csms", 1)

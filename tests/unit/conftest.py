"""Fixtures of the in-process tests: a :class:`Station` of the test's own, without any door."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from ocpp_station.app import Station
from ocpp_station.config import Config

from ..support import InProcessOem


@pytest.fixture
def make_station(tmp_path: Path) -> Iterator[Callable[..., Station]]:
    """``make_station(config=None, name="data")``: a Station on ``tmp_path / name``, closed after the test.

    ``config`` (its ``data_dir`` is replaced) defaults to ``Config()``, the defaults ``serve`` runs with.
    """
    made: list[Station] = []

    def make(config: Config | None = None, name: str = "data") -> Station:
        station = Station(replace(config or Config(), data_dir=tmp_path / name))
        made.append(station)
        return station

    yield make
    for station in made:
        station.close()


@pytest.fixture
def local_oem(make_station: Callable[..., Station]) -> InProcessOem:
    """The OEM's requests answered by a fresh default station of this test's own."""
    return InProcessOem(make_station())


@pytest.fixture(scope="module")
def module_oem(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessOem]:
    """The OEM's requests answered by one default station per test module (a Station costs ~50 ms).

    For modules whose tests compare with what they read before in the same test, never with what
    another test left, as the integration modules sharing one station process do.
    """
    station = Station(replace(Config(), data_dir=tmp_path_factory.mktemp("station") / "data"))
    yield InProcessOem(station)
    station.close()


@pytest.fixture
def station_log(caplog: pytest.LogCaptureFixture) -> Callable[[], str]:
    """Everything the station logs during the test, at DEBUG and above (what ``serve --log-level DEBUG`` writes)."""
    caplog.set_level(logging.DEBUG, logger="ocpp_station")

    def text() -> str:
        return "\n".join(record.getMessage() for record in caplog.records)

    return text

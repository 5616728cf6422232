"""Fixtures: a real mosquitto per test session, a station process per test module."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from .support import Mosquitto, OemClient, StationProcess, free_port


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    if shutil.which("mosquitto") is None:
        pytest.fail("mosquitto is not installed: run `make test`, which installs it")
    broker = Mosquitto(free_port(), tmp_path_factory.mktemp("mosquitto")).start()
    yield broker
    broker.stop()


@pytest.fixture(scope="module")
def station(mosquitto: Mosquitto, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StationProcess]:
    """One station per test module, on its own data directory."""
    process = StationProcess(mosquitto.url, tmp_path_factory.mktemp("station") / "data").start()
    yield process
    process.terminate()


@pytest.fixture(scope="module")
def oem(station: StationProcess, mosquitto: Mosquitto) -> Iterator[OemClient]:
    client = OemClient(mosquitto.port)
    yield client
    client.close()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A broker of the test's own, for a station whose traffic must not meet any other station's."""
    own = Mosquitto(free_port(), tmp_path / "broker")
    own.workdir.mkdir()
    own.start()
    yield own
    own.stop()

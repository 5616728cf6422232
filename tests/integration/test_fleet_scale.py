"""A fleet larger than the broker's per-client queue: every station is seen and answered, and the operator's
terminal is not flooded.

The central broker here queues at most 50 QoS 1 messages per client (mosquitto's ``max_queued_messages``,
1000 by default), and 300 simulated stations (``bench/fleet_responder.py``) have their presence retained on
it: a client that took the presence at QoS 1 saw 70 of them (50 queued + 20 in flight) and called the others
unknown, without a word. The answers are QoS 1 and are queued so too: the concurrency stays below what the
broker queues (with 100 in flight here, some answers were dropped: docs/integration.md, "Fleets", sizing).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..support import Mosquitto, free_port

REPO = Path(__file__).resolve().parents[2]
COUNT = 300


@pytest.fixture(scope="module")
def crowded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    broker = Mosquitto(free_port(), tmp_path_factory.mktemp("crowded"), extra_config="max_queued_messages 50\n")
    broker.start()
    responder = subprocess.Popen([sys.executable, "-m", "bench.fleet_responder", "--port", str(broker.port),
                                  "--count", str(COUNT)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert responder.stdout is not None
        ready = responder.stdout.readline()  # once the broker has every retained status
        assert ready.startswith(f"ready {COUNT}"), ready
        yield broker
    finally:
        responder.terminate()
        responder.wait(10)
        broker.stop()


def test_every_station_of_a_fleet_larger_than_the_brokers_queue_is_seen_and_answered(crowded: Mosquitto) -> None:
    result = subprocess.run([sys.executable, "-m", "ocpp_station", "fleet", "get", "--mqtt-url", crowded.url,
                             "--stations", "CS-*", "--concurrency", "40", "--json", "OCPPCommCtrlr.OfflineThreshold"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    answered = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(answered) == COUNT and all(line["accepted"] for line in answered)
    assert sorted(line["station"] for line in answered) == [f"CS-{n:05d}" for n in range(1, COUNT + 1)]
    assert result.stderr.splitlines() == [f"ocpp-station fleet get: {COUNT} stations: {COUNT} accepted"]


def test_a_terminal_sees_a_progress_bar_and_a_script_does_not(crowded: Mosquitto) -> None:
    """stderr on a terminal (a pty here) gets the bar, rewritten in place and cleared at the end; stdout,
    a pipe, gets the table only."""
    import os

    controller, terminal = os.openpty()
    try:
        result = subprocess.run([sys.executable, "-m", "ocpp_station", "fleet", "get", "--mqtt-url", crowded.url,
                                 "--stations", "CS-000*", "--concurrency", "40", "OCPPCommCtrlr.OfflineThreshold"],
                                stdout=subprocess.PIPE, stderr=terminal, text=True, timeout=60)
        os.close(terminal)
        shown = b""
        while chunk := _read(controller):
            shown += chunk
    finally:
        os.close(controller)
    assert result.returncode == 0
    text = shown.decode()
    assert "\r[" in text and "/99 stations" in text and "99/99 stations" in text, text[-500:]
    assert "\r[" not in result.stdout and result.stdout.startswith("STATION")
    assert "99 stations: 99 accepted" in result.stdout


def _read(fd: int) -> bytes:
    import os

    try:
        return os.read(fd, 65536)
    except OSError:  # EIO: the child's side of the pty is closed and everything was read
        return b""

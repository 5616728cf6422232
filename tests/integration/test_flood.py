"""A flood from the OEM: every request answered exactly once, and the station's memory bounded.

The probe's finding (issue 15): 100,000 GetVariables published at QoS 1 without waiting, and
mosquitto 2.0.11 pushed the station far more than the Receive Maximum it announced (it does once
the client publishes too); paho queued the answers without limit, RSS went from 45 to 444 MB, and
past 65,535 queued answers paho's packet identifiers wrapped onto answers still queued: a third
were lost. The station now bounds its own backlog (``mqtt.answer_backlog``, answers the broker has
not acknowledged yet) and reads no request while it is full: the rest of the flood waits at the
broker. Here at a size the suite can afford, with a tiny bound (8) so the flood is 250 times it;
the full size is ``python -m bench.flood``.
"""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psutil
import pytest

from ..support import (
    RESPONSE_TOPIC,
    Mosquitto,
    OemClient,
    StationProcess,
    check_envelope,
    envelope,
    free_port,
    subscribed_client,
)

FLOOD = 2000
BACKLOG = 8
# The 100-item answer (~15 kB) makes every queued answer count: 2,000 of them queued in paho, as
# before the bound, are ~40 MB; eight are nothing. The answer cache keeps at most 4 MB of reads.
MAX_GROWTH_BYTES = 20 * 1024 * 1024


def hundred_items() -> dict[str, Any]:
    names = ["OfflineThreshold", "HeartbeatInterval", "MessageTimeout", "NetworkProfileConnectionAttempts",
             "RetryBackOffWaitMinimum"]
    return {"getVariableData": [{"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": names[i % 5]}}
                                for i in range(100)]}


class Counter:
    """Every answer on josev/cs, counted by id; wakes the test when all of ``expected`` are in."""

    def __init__(self, expected: set[str]):
        self.expected = expected
        self.counts: dict[str, int] = {}
        self.all_in = threading.Event()
        self._lock = threading.Lock()

    def on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        answer = json.loads(message.payload)
        check_envelope(answer)
        with self._lock:
            self.counts[answer["id"]] = self.counts.get(answer["id"], 0) + 1
            if self.expected <= self.counts.keys():
                self.all_in.set()


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_a_flood_past_the_backlog_is_answered_exactly_once_with_bounded_memory(protocol: str, tmp_path: Path) -> None:
    # max_inflight_messages 0: the broker pushes a 3.1.1 client everything at once (mosquitto
    # 2.0.11 pushes an MQTT 5 client past its Receive Maximum too); max_queued_messages 0: the
    # flood is never cut at the broker.
    broker = Mosquitto(free_port(), tmp_path / "broker",
                       extra_config="max_inflight_messages 0\nmax_queued_messages 0\n")
    broker.workdir.mkdir()
    broker.start()
    config = tmp_path / "station.toml"
    config.write_text(f"[mqtt]\nanswer_backlog = {BACKLOG}\n")
    station = StationProcess(broker.url, tmp_path / "data",
                             ["--config", str(config), "--mqtt-protocol", protocol]).start()
    requests = [envelope("GetVariables", hundred_items(), request_id=str(uuid.uuid4())) for _ in range(FLOOD)]
    counter = Counter({r["id"] for r in requests})
    # unlimited: published without waiting, as the probe did
    oem = subscribed_client(broker.port, RESPONSE_TOPIC, counter.on_message, name="flood", unlimited=True)
    checker = OemClient(broker.port, timeout=60)
    try:
        assert station.process is not None
        process = psutil.Process(station.process.pid)
        baseline = process.memory_info().rss
        for request in requests:
            oem.publish("cs/josev", json.dumps(request), qos=1)
        peak = baseline
        while not counter.all_in.wait(0.02):  # the sampling interval of a measurement, not a pause
            peak = max(peak, process.memory_info().rss)
            assert station.process.poll() is None, station.log_text()[-2000:]
        peak = max(peak, process.memory_info().rss)
        checker.barrier()  # answers to all of the flood came before this one's: no duplicate is still due
        flood_counts = [counter.counts.get(request_id, 0) for request_id in counter.expected]
        assert flood_counts == [1] * FLOOD, "a request was answered twice, or not at all"
        checker.call("GetVariables", hundred_items())  # still answering at once (checked against its schema)
        assert peak - baseline < MAX_GROWTH_BYTES, f"RSS grew {(peak - baseline) / 2**20:.1f} MB"
    finally:
        oem.disconnect()
        oem.loop_stop()
        checker.close()
        station.terminate()
        broker.stop()

"""The probe's flood, at full size: N GetVariables published at QoS 1 without waiting.

``python -m bench.flood [--requests 100000] [--protocol 5|3.1.1]`` starts a private mosquitto with
its limits lifted (``max_inflight_messages 0``, ``max_queued_messages 0``: the broker pushes and
queues without bound, as in the probe) and ``ocpp-station serve`` on it, publishes the requests
from one paho client without waiting for anything, and reports how many distinct requests were
answered, how many answers came twice, the time it took, and the station's RSS before, at its
peak and after. Issue 15's probe measured 67,851 of 100,000 answered and 45 → 444 MB before the
station bounded its answer backlog (``mqtt.answer_backlog``; api/mqtt.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psutil

from .broker import Mosquitto
from .nodelay import start_station

GET = {"getVariableData": [{"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "OfflineThreshold"}}]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000, help="requests in the flood (default 100000)")
    parser.add_argument("--protocol", choices=("5", "3.1.1"), default="5", help="the station's MQTT version")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for the answers")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, \
            Mosquitto(Path(tmp), extra_config="max_inflight_messages 0\nmax_queued_messages 0\n") as broker:
        station = start_station(broker, Path(tmp) / "data", "bench-flood", "--mqtt-protocol", args.protocol)
        try:
            print(flood(broker.port, psutil.Process(station.pid), args.requests, args.timeout, args.protocol))
        finally:
            station.terminate()
            station.wait(10)
    return 0


def flood(port: int, process: psutil.Process, requests: int, timeout: float, protocol: str) -> str:
    counts: dict[str, int] = {}
    lock, done = threading.Lock(), threading.Event()

    def on_message(_c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        request_id = json.loads(message.payload)["id"]
        with lock:
            counts[request_id] = counts.get(request_id, 0) + 1
            if len(counts) >= requests:
                done.set()

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"oem-{uuid.uuid4().hex[:8]}",
                         protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(0)
    client.max_queued_messages_set(0)
    client.on_message = on_message
    subscribed = threading.Event()
    client.on_subscribe = lambda *_: subscribed.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    client.subscribe("josev/cs", qos=1)
    subscribed.wait(5)
    base = peak = process.memory_info().rss
    started = time.monotonic()
    shown = 0.0
    for _ in range(requests):
        body = {"id": str(uuid.uuid4()), "name": "ocpp_message", "type": "request",
                "data": {"ocpp_version": "ocpp2.0.1", "message_name": "GetVariables", "payload": GET}}
        client.publish("cs/josev", json.dumps(body), qos=1)
    while not done.wait(0.1) and time.monotonic() - started < timeout:
        peak = max(peak, process.memory_info().rss)
        if time.monotonic() - shown > 2:  # a progress line on long work
            shown = time.monotonic()
            print(f"\r{len(counts):,}/{requests:,} answered", end="", file=sys.stderr, flush=True)
    peak = max(peak, process.memory_info().rss)
    elapsed = time.monotonic() - started
    time.sleep(1.0)  # late duplicates, if any, are counted too
    client.loop_stop()
    client.disconnect()
    print(file=sys.stderr)
    twice = sum(count - 1 for count in counts.values())
    mb = 2**20
    return (f"MQTT {protocol}: {len(counts):,}/{requests:,} requests answered, {twice} answered twice, "
            f"in {elapsed:.1f} s; station RSS {base / mb:.1f} MB before, {peak / mb:.1f} MB peak, "
            f"{process.memory_info().rss / mb:.1f} MB after")


if __name__ == "__main__":
    sys.exit(main())

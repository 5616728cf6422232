"""What an OEM client without TCP_NODELAY pays: the 40 ms trap, measured against the real station.

``python -m bench.nodelay [--requests N]`` starts a private mosquitto (``set_tcp_nodelay true``, as
every broker of ours is configured) and ``ocpp-station serve`` on it, then sends N one-item
GetVariables, one at a time, from a paho client as an OEM application would write it — with
MQTT 3.1.1 (the protocol of Josev's own client library) and MQTT 5, each with and without
TCP_NODELAY on its own socket — and prints the round-trip p50 and p99 of each.

Why it matters: paho leaves Nagle's algorithm on. The client's PUBLISH of a request and the PUBACK
it owes for the answer are small writes that Nagle holds back until the peer acknowledges the
previous one, which the peer's delayed-ACK timer does only after ~40 ms. The station's work is
well under a millisecond; without TCP_NODELAY a round trip costs the timer.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt

from .broker import Mosquitto

REPO = Path(__file__).resolve().parent.parent
GET = {"getVariableData": [{"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "OfflineThreshold"}}]}


def round_trips(port: int, protocol: int, nodelay: bool, requests: int, wait_s: float = 10.0) -> list[float]:
    """Closed-loop GetVariables round trips in ms, from a client like an OEM's."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"oem-{uuid.uuid4().hex[:8]}",
                         protocol=protocol)
    if nodelay:
        client.on_socket_open = lambda _c, _u, sock: sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    answered = threading.Event()
    waiting: dict[str, str] = {"id": ""}
    client.on_message = lambda _c, _u, m: answered.set() if json.loads(m.payload).get("id") == waiting["id"] else None
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        client.subscribe("josev/cs", qos=1)[1]
        times = []
        warmup = 5 if requests else 1
        for i in range(requests + warmup):  # the first ones warm up
            waiting["id"] = request_id = str(uuid.uuid4())
            answered.clear()
            body = json.dumps({"id": request_id, "name": "ocpp_message", "type": "request",
                               "data": {"ocpp_version": "ocpp2.0.1", "message_name": "GetVariables", "payload": GET}})
            started = time.perf_counter()
            client.publish("cs/josev", body, qos=1)
            if not answered.wait(wait_s):
                raise RuntimeError(f"no answer to request {i}")
            if i >= warmup:
                times.append((time.perf_counter() - started) * 1000)
        return times
    finally:
        client.loop_stop()
        client.disconnect()


def start_station(broker: Mosquitto, data_dir: Path, client_id: str, *extra: str) -> subprocess.Popen[bytes]:
    """``ocpp-station serve`` on ``broker`` (at WARNING, no CSMS), returned once it answers a request.

    Up only then: before its subscription, a request would be lost.
    """
    station = subprocess.Popen(
        [sys.executable, "-m", "ocpp_station", "--log-level", "WARNING", "serve", "--mqtt-url", broker.url,
         "--data-dir", str(data_dir), "--no-csms", "--client-id", client_id, *extra], cwd=REPO)
    deadline = time.monotonic() + 20
    while True:
        try:
            round_trips(broker.port, mqtt.MQTTv311, True, 0, wait_s=0.2)
            return station
        except RuntimeError:
            if time.monotonic() > deadline or station.poll() is not None:
                station.terminate()
                raise


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="round trips per client (default 200)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, Mosquitto(Path(tmp)) as broker:
        station = start_station(broker, Path(tmp) / "data", "bench-nodelay")
        try:
            print(f"{'client':34} {'p50 ms':>8} {'p99 ms':>8}")
            for protocol, name in ((mqtt.MQTTv311, "MQTT 3.1.1"), (mqtt.MQTTv5, "MQTT 5")):
                for nodelay in (False, True):
                    times = sorted(round_trips(broker.port, protocol, nodelay, args.requests))
                    label = f"paho, {name}, TCP_NODELAY {'on' if nodelay else 'off'}"
                    print(f"{label:34} {statistics.median(times):8.2f} {times[int(len(times) * 0.99) - 1]:8.2f}")
        finally:
            station.terminate()
            station.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())

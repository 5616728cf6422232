"""The floor responder: answers every request on cs/josev with a fixed response, doing nothing else.

It is what the service costs at the very least on this machine, broker and client library: one
paho client (TCP_NODELAY, QoS 1, MQTT 5 like the service), a JSON parse to find the id and one
publish. The service is judged as a ratio to it, measured in the same run, so that a slow or busy
machine moves both figures together.

Run: ``python -m bench.floor --port PORT`` (it prints ``ready`` once subscribed).
"""

from __future__ import annotations

import argparse
import signal
import socket
import sys
from typing import Any

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

REQUEST_TOPIC, RESPONSE_TOPIC = "cs/josev", "josev/cs"

# A plausible 1-item GetVariables answer, so the floor's answer weighs about what the service's does.
_DATA = orjson.dumps({
    "ocpp_version": "ocpp2.0.1", "message_type": "CallResult",
    "payload": {"getVariableResult": [{"attributeStatus": "Accepted", "component": {"name": "OCPPCommCtrlr"},
                                       "variable": {"name": "OfflineThreshold"}, "attributeValue": "60"}]}})


def fixed_answer(request: bytes) -> bytes:
    """The fixed response envelope carrying the request's id (the only thing read from the request)."""
    request_id = orjson.loads(request)["id"]
    return b'{"id":' + orjson.dumps(request_id) + b',"name":"ocpp_message","type":"response","data":' + _DATA + b"}"


def nodelay(_client: mqtt.Client, _userdata: Any, sock: Any) -> None:
    """Disable Nagle: paho leaves it on, which costs ~40 ms per QoS 1 round trip (ecosystem notes)."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-floor", protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(0)  # unlimited: the generator keeps 32 requests in flight
    client.on_socket_open = nodelay
    client.on_message = lambda c, _u, msg: c.publish(RESPONSE_TOPIC, fixed_answer(msg.payload), qos=1)
    client.on_subscribe = lambda *_a: print("ready", flush=True)
    client.on_connect = lambda c, *_a: c.subscribe(REQUEST_TOPIC, qos=1)
    signal.signal(signal.SIGTERM, lambda *_a: client.disconnect())
    client.connect("127.0.0.1", args.port)
    client.loop_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())

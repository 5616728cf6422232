"""A simulated fleet: one process, one MQTT client, answering for N station identities at once.

``python -m bench.fleet_responder --port PORT --count N [--protocol 5|3.1.1] [--prefix stations/]``

The stations of the fleet benchmark are *simulated*: a thousand real ``ocpp-station`` processes do
not fit on a 2-core machine, and what the benchmark measures is the fleet client and the central
broker, not the stations. So this process plays ``CS-00001`` … ``CS-<N>`` on the central broker, as
stations configured with the topic prefix ``stations/{identity}/`` would (docs: brief of issue 19):

* one paho client (MQTT 5 by default, 3.1.1 on request), subscribed to ``stations/+/cs/josev`` at QoS 1;
* a retained presence message per identity on ``stations/<id>/josev/status``, in the station's online
  format (``software.name`` says ``bench.fleet_responder``: nobody should mistake it for a station);
* an answer to each ``ocpp_message`` request on ``stations/<id>/josev/cs``: GetVariables → every item
  Accepted with a fixed value, SetVariables → every item Accepted, anything else → CallError
  NotImplemented. Like the station's MQTT door, an MQTT 5 request with a Response Topic gets its
  answer there (with its Correlation Data) as well as on the answer topic.

It prints ``ready N`` once subscribed and once the broker has acknowledged every presence message
(so a fleet client that reads presence afterwards sees all of them). On SIGTERM or SIGINT it
clears the retained statuses (an empty retained message on each), waits for the broker to take
them, prints ``cleared N`` and exits 0. One client cannot carry a Last Will per identity, so a
killed responder leaves its "online" statuses behind: stop it with SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ocpp_station import __version__

from .floor import nodelay

FIXED_VALUE = "60"  # every GetVariables item reads this (OfflineThreshold's default, as it happens)
ANSWERED_VERSIONS = ("ocpp2.0.1", "ocpp2.1")  # where GetVariables/SetVariables exist
ALL_VERSIONS = ("ocpp1.6", *ANSWERED_VERSIONS)
PROTOCOLS = {"5": mqtt.MQTTv5, "3.1.1": mqtt.MQTTv311}
ACK_TIMEOUT_S = 30.0


def identities(count: int, first: int = 1) -> list[str]:
    """``CS-00001`` … : five digits, so a glob on a prefix of them selects a decimal range."""
    return [f"CS-{n:05d}" for n in range(first, first + count)]


def presence(identity: str, prefix: str, since: str) -> bytes:
    """The retained online status of one simulated station (the station's format, honest names)."""
    base = f"{prefix}{identity}/"
    return orjson.dumps({
        "state": "online", "identity": identity, "since": since,
        "software": {"name": "bench.fleet_responder", "version": __version__},
        "station": {"vendor": "bench", "model": "simulated", "serialNumber": identity,
                    "firmwareVersion": __version__},
        "ocppVersions": list(ANSWERED_VERSIONS),
        "topics": {"requests": base + "cs/josev", "answers": base + "josev/cs"},
        "csms": {"enabled": False, "state": "disabled", "ocppVersion": None, "slot": None, "registration": None},
    })


def _component_and_variable(item: dict[str, Any]) -> dict[str, Any]:
    """The item's component, variable and attributeType as sent: a result names what was asked."""
    out = {"component": item.get("component", {}), "variable": item.get("variable", {})}
    if "attributeType" in item:
        out["attributeType"] = item["attributeType"]
    return out


def result_payload(action: str, payload: dict[str, Any]) -> dict[str, Any] | None:
    """The CallResult payload for ``action``, or None when this responder does not implement it."""
    if action == "GetVariables":
        return {"getVariableResult": [{"attributeStatus": "Accepted", "attributeValue": FIXED_VALUE,
                                       **_component_and_variable(item)}
                                      for item in payload.get("getVariableData", [])]}
    if action == "SetVariables":
        return {"setVariableResult": [{"attributeStatus": "Accepted", **_component_and_variable(item)}
                                      for item in payload.get("setVariableData", [])]}
    return None


def answer(request: bytes) -> bytes:
    """The response envelope (seed document, OcppMessageResponse) for one request body."""
    try:
        body = orjson.loads(request)
        request_id, data = str(body["id"]), body["data"]
        version, action, payload = data["ocpp_version"], str(data["message_name"]), data["payload"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return _call_error("-1", "ocpp2.0.1", None, "FormatViolation", "not an ocpp_message request")
    if version not in ALL_VERSIONS:
        return _call_error(request_id, "ocpp2.0.1", action, "FormatViolation", f"unknown ocpp_version {version!r}")
    result = result_payload(action, payload) if version in ANSWERED_VERSIONS and isinstance(payload, dict) else None
    if result is None:
        return _call_error(request_id, version, action, "NotImplemented",
                           f"the simulated station does not implement {action} in {version}")
    return orjson.dumps({"id": request_id, "name": "ocpp_message", "type": "response",
                         "data": {"ocpp_version": version, "message_type": "CallResult", "message_name": action,
                                  "payload": result}})


def _call_error(request_id: str, version: str, action: str | None, code: str, description: str) -> bytes:
    data: dict[str, Any] = {"ocpp_version": version, "message_type": "CallError", "error_code": code,
                            "error_description": description[:255], "error_details": {}}
    if action is not None:
        data["message_name"] = action
    return orjson.dumps({"id": request_id, "name": "ocpp_message", "type": "response", "data": data})


class Responder:
    """The paho client and what it answers for; ``run`` blocks until a signal asks it to stop."""

    def __init__(self, port: int, count: int, prefix: str, protocol: str, host: str = "127.0.0.1") -> None:
        self.host, self.port, self.prefix, self.protocol = host, port, prefix, protocol
        self.ids = identities(count)
        self.known = frozenset(self.ids)
        self.answered = 0
        self.connected, self.subscribed, self.stop = threading.Event(), threading.Event(), threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-fleet-{uuid.uuid4().hex[:8]}",
                                  protocol=PROTOCOLS[protocol])
        self.client.max_inflight_messages_set(0)  # a fleet client keeps many requests in flight
        self.client.max_queued_messages_set(0)
        self.client.on_socket_open = nodelay
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *_a: self.subscribed.set()
        self.client.on_message = self._on_message

    def _on_connect(self, client: mqtt.Client, _u: Any, _flags: Any, reason: Any, _p: Any) -> None:
        """Subscribe on every connection (a reconnect after a broker restart starts a clean session)."""
        if not reason.is_failure:
            client.subscribe(f"{self.prefix}+/cs/josev", qos=1)
            self.connected.set()

    def _identity(self, topic: str) -> str | None:
        """``stations/CS-00001/cs/josev`` → ``CS-00001`` when it is one of ours."""
        identity = topic[len(self.prefix):-len("/cs/josev")] if topic.startswith(self.prefix) else ""
        return identity if identity in self.known else None

    def _on_message(self, client: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        """Answer on paho's thread, like the station's door: one parse, one or two publishes."""
        identity = self._identity(message.topic)
        if identity is None or message.retain:  # a retained request is not a live one (the station's rule)
            return
        body = answer(message.payload)
        answers = f"{self.prefix}{identity}/josev/cs"
        reply = getattr(message.properties, "ResponseTopic", None) if message.properties else None
        properties = None
        if reply and "+" not in reply and "#" not in reply:
            properties = Properties(PacketTypes.PUBLISH)
            correlation = getattr(message.properties, "CorrelationData", None)
            if correlation is not None:
                properties.CorrelationData = correlation
            if reply != answers:
                client.publish(reply, body, qos=1, properties=properties)
                properties = None
        client.publish(answers, body, qos=1, properties=properties)
        self.answered += 1

    def _publish_all(self, bodies: list[tuple[str, bytes]]) -> None:
        """Publish retained QoS 1 messages and return once the broker acknowledged every one."""
        infos = [self.client.publish(topic, body, qos=1, retain=True) for topic, body in bodies]
        for info in infos:
            info.wait_for_publish(ACK_TIMEOUT_S)
            if not info.is_published():
                raise TimeoutError(f"the broker did not acknowledge {len(infos)} retained statuses")

    def status_topic(self, identity: str) -> str:
        return f"{self.prefix}{identity}/josev/status"

    def run(self) -> int:
        self.client.connect(self.host, self.port)
        self.client.loop_start()
        try:
            if not (self.connected.wait(ACK_TIMEOUT_S) and self.subscribed.wait(ACK_TIMEOUT_S)):
                print("could not connect and subscribe", file=sys.stderr)
                return 1
            since = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
            self._publish_all([(self.status_topic(i), presence(i, self.prefix, since)) for i in self.ids])
            print(f"ready {len(self.ids)} simulated stations (MQTT {self.protocol})", flush=True)
            self.stop.wait()
            self._publish_all([(self.status_topic(i), b"") for i in self.ids])  # clears the retained statuses
            print(f"cleared {len(self.ids)}; answered {self.answered} requests", flush=True)
            return 0
        finally:
            self.client.disconnect()
            self.client.loop_stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fleet_responder", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="the central broker's port on 127.0.0.1")
    parser.add_argument("--count", type=int, required=True, help="how many identities: CS-00001 … CS-<count>")
    parser.add_argument("--prefix", default="stations/", help="topic prefix before the identity (default stations/)")
    parser.add_argument("--protocol", choices=tuple(PROTOCOLS), default="5", help="MQTT version (default 5)")
    args = parser.parse_args(argv)
    responder = Responder(args.port, args.count, args.prefix, args.protocol)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_a: responder.stop.set())
    return responder.run()


if __name__ == "__main__":
    sys.exit(main())

"""The station's presence on a real mosquitto: retained online, the Last Will after kill -9, offline on a
clean stop, the CSMS link's changes, and a topic prefix of the station's own (asked with mosquitto_rr).

Every presence message received is checked against the AsyncAPI document's schemas.
"""

from __future__ import annotations

import json
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from ..support import Mosquitto, StationProcess, check_envelope, envelope, free_port
from ..unit.test_asyncapi import envelope_schema, validator
from .test_csms_link import Csms, Rig, network_config
from .test_csms_link import csmss as csmss
from .test_csms_link import rigs as rigs

PRESENCE_SCHEMAS = {"online": validator(envelope_schema("StationOnline")),
                    "offline": validator(envelope_schema("StationOffline"))}


class StatusWatcher:
    """A subscriber to a status topic (a new one gets the retained message first), every message kept."""

    def __init__(self, port: int, topic: str, *, protocol: int = mqtt.MQTTv5):
        self.messages: list[tuple[dict[str, Any], bool]] = []  # (presence, retained flag)
        self._changed = threading.Condition()
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"watch-{uuid.uuid4().hex[:8]}",
                                   protocol=protocol)
        self._client.on_message = self._take
        subscribed = threading.Event()
        self._client.on_subscribe = lambda *_: subscribed.set()
        self._client.connect("127.0.0.1", port)
        self._client.loop_start()
        self._client.subscribe(topic, qos=1)
        assert subscribed.wait(5), f"no SUBACK for {topic}"

    def _take(self, _client: Any, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        body = json.loads(message.payload) if message.payload else {}
        if body:
            PRESENCE_SCHEMAS[body["state"]].validate(body)
        with self._changed:
            self.messages.append((body, bool(message.retain)))
            self._changed.notify_all()

    def wait_for(self, wanted: Callable[[dict[str, Any]], bool], what: str, timeout: float = 10.0) -> dict[str, Any]:
        """The first message (since the last one returned) that ``wanted`` accepts."""
        with self._changed:
            found = self._changed.wait_for(lambda: any(wanted(m) for m, _ in self.messages), timeout)
            assert found, f"no presence message {what}: {self.messages}"
            index = next(i for i, (m, _) in enumerate(self.messages) if wanted(m))
            body = self.messages[index][0]
            del self.messages[:index + 1]
            return body

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


def online(body: dict[str, Any]) -> bool:
    return body.get("state") == "online"


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[Mosquitto]:
    broker = Mosquitto(free_port(), tmp_path / "broker")
    broker.workdir.mkdir()
    yield broker.start()
    broker.stop()


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_presence_is_retained_online_then_the_will_then_stopped(own_broker: Mosquitto, tmp_path: Path,
                                                               protocol: str) -> None:
    station = StationProcess(own_broker.url, tmp_path / "data", ["--no-csms", "--mqtt-protocol", protocol]).start()
    watcher = StatusWatcher(own_broker.port, "josev/status")
    try:
        first = watcher.wait_for(online, "online")
        assert first["identity"] == "CS0000000001" and first["topics"] == {"requests": "cs/josev",
                                                                          "answers": "josev/cs"}
        assert first["csms"]["state"] == "disabled" and first["station"]["vendorName"] == "ocpp-station"
        assert watcher_retained(own_broker, first), "a new subscriber learns it at once"
        station.kill()  # -9: no word from the station; the broker publishes the will
        will = watcher.wait_for(lambda m: m.get("state") == "offline", "from the Last Will")
        assert will == {"state": "offline", "identity": "CS0000000001", "reason": "connection lost"}
        assert watcher_retained(own_broker, will)
        station.start()
        again = watcher.wait_for(online, "online after the restart")
        assert again["since"] >= first["since"]
        assert station.terminate() == 0
        stopped = watcher.wait_for(lambda m: m.get("state") == "offline", "on a clean stop")
        assert stopped["reason"] == "stopped" and stopped["since"] >= again["since"]
        assert watcher_retained(own_broker, stopped)
    finally:
        watcher.close()
        station.kill()


def watcher_retained(broker: Mosquitto, expected: dict[str, Any]) -> bool:
    """Whether a brand-new subscriber is given ``expected`` as the retained message (mosquitto_sub -C 1)."""
    out = subprocess.run(["mosquitto_sub", "-p", str(broker.port), "-t", "josev/status", "-C", "1", "-W", "5",
                          "--retained-only"], capture_output=True, text=True, timeout=10)
    return out.returncode == 0 and json.loads(out.stdout) == expected


def test_presence_tells_how_the_csms_link_is_as_it_changes(rigs: Callable[..., Rig],
                                                          csmss: Callable[..., Csms]) -> None:
    csms = csmss()
    rig = rigs(network_config(csms.url))
    watcher = StatusWatcher(rig.broker.port, "josev/status")
    try:
        watcher.wait_for(lambda m: online(m) and m["csms"]["state"] == "disconnected", "before the CSMS answers")
        rig.prepare()
        linked = watcher.wait_for(lambda m: online(m) and m["csms"]["state"] == "connected", "once connected")
        assert linked["csms"]["registration"] == "Accepted" and linked["csms"]["slot"] == 1
        assert linked["csms"]["ocppVersion"] in ("ocpp2.0.1", "ocpp2.1")
        assert linked["csms"]["offered"] == ["ocpp2.1", "ocpp2.0.1", "ocpp1.6"]
        csms.stop()
        lost = watcher.wait_for(lambda m: online(m) and m["csms"]["state"] == "disconnected", "after the CSMS left")
        assert lost["csms"]["registration"] is None and lost["since"] == linked["since"]  # the MQTT link stayed up
    finally:
        watcher.close()


def test_a_topic_prefix_of_its_own_moves_every_topic(own_broker: Mosquitto, tmp_path: Path) -> None:
    """For a station on a central broker without a bridge: asked with mosquitto_rr, as a user would."""
    (tmp_path / "station.toml").write_text('[station]\nidentity = "CS-PFX-1"\n')
    station = StationProcess(own_broker.url, tmp_path / "data", [
        "--no-csms", "--config", str(tmp_path / "station.toml"), "--topic-prefix", "site7/{identity}/"]).start()
    try:
        watcher = StatusWatcher(own_broker.port, "site7/CS-PFX-1/josev/status")
        assert watcher.wait_for(online, "on the prefixed topic")["topics"] == {
            "requests": "site7/CS-PFX-1/cs/josev", "answers": "site7/CS-PFX-1/josev/cs"}
        watcher.close()
        request = envelope("GetVariables", {"getVariableData": [
            {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "Identity"}}]})
        answer = subprocess.run(
            ["mosquitto_rr", "-p", str(own_broker.port), "-t", "site7/CS-PFX-1/cs/josev",
             "-e", "site7/CS-PFX-1/josev/cs", "-m", json.dumps(request), "-W", "10"],
            capture_output=True, text=True, timeout=15)
        assert answer.returncode == 0, answer.stderr
        body = json.loads(answer.stdout)
        check_envelope(body)
        assert body["id"] == request["id"]
        assert body["data"]["payload"]["getVariableResult"][0]["attributeValue"] == "CS-PFX-1"
        unprefixed = subprocess.run(
            ["mosquitto_rr", "-p", str(own_broker.port), "-t", "cs/josev", "-e", "josev/cs",
             "-m", json.dumps(envelope("GetVariables", request["data"]["payload"])), "-W", "1"],
            capture_output=True, text=True, timeout=10)
        assert unprefixed.returncode != 0 and not unprefixed.stdout  # nobody listens on cs/josev
    finally:
        station.kill()

"""The back office's broker as a cluster: two RabbitMQ 3.10 nodes (Debian's package, MQTT plugin) on loopback.

What the fleet relies on when the central broker is a RabbitMQ cluster rather than one mosquitto, found out
with outside tools only (paho, mosquitto, rabbitmqctl): a message crosses the cluster; MQTT 5 is refused,
so bridges and the fleet client must speak 3.1.1 there; retained messages do *not* cross the cluster (nor
answer a wildcard filter); a mosquitto bridge (the station side) to one node reaches clients of the other;
topic permissions confine a station to ``stations/<its id>/…`` and a refusal closes the connection.
"""

from __future__ import annotations

import asyncio
import json
import queue
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from shutil import rmtree
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from ocpp_station.fleet import FleetClient

from ..support import Mosquitto, StationProcess, free_port, wait_until
from .rabbit_rig import BACKOFFICE, RabbitCluster, not_root, rabbitmq_missing

pytestmark = pytest.mark.slow
STATION = "CS-R1"
STATIONS = (STATION, "CS-R3")  # real stations behind their bridges in the fleet test
TIMEOUT = 10.0


@pytest.fixture(scope="module")
def cluster() -> Iterator[RabbitCluster]:
    """One cluster for the module (~15-25 s to start on 2 cores). Not under pytest's tmp_path: its parents
    are root's alone (0700), and the nodes run as the rabbitmq user."""
    if (why := not_root()) is not None:
        pytest.skip(why)
    if (why := rabbitmq_missing()) is not None:
        pytest.fail(f"{why}: run `make test`, which installs it")
    workdir = Path(tempfile.mkdtemp(prefix="rabbit-cluster-"))
    rig = RabbitCluster(workdir, stations=STATIONS)
    rig.start()
    yield rig
    rig.stop()
    rmtree(workdir, ignore_errors=True)


@dataclass
class Peer:
    """A paho client (MQTT 3.1.1 unless told) on one node, its messages and its connection's fate in queues."""

    client: mqtt.Client
    inbox: queue.Queue[mqtt.MQTTMessage] = field(default_factory=queue.Queue)
    events: queue.Queue[tuple[str, Any]] = field(default_factory=queue.Queue)

    def subscribe(self, topic: str) -> None:
        """Subscribe at QoS 1 and wait for the SUBACK (a message published before it could miss us)."""
        self.client.subscribe(topic, qos=1)
        kind, reasons = self.event()
        assert kind == "suback" and not any(r.is_failure for r in reasons), (kind, reasons)

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        """Publish at QoS 1 and wait for the PUBACK."""
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(TIMEOUT)

    def event(self) -> tuple[str, Any]:
        """The next thing that happened to the connection: ("connack"|"suback"|"closed", reason)."""
        try:
            return self.events.get(timeout=TIMEOUT)
        except queue.Empty:
            raise AssertionError(f"nothing happened to {self.client._client_id!r} in {TIMEOUT} s") from None

    def next(self, topic: str | None = None) -> mqtt.MQTTMessage:
        """The next message (on ``topic`` when given: others are passed over)."""
        deadline = time.monotonic() + TIMEOUT
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                message = self.inbox.get(timeout=remaining)
            except queue.Empty:
                break
            if topic is None or message.topic == topic:
                return message
        raise AssertionError(f"no message{f' on {topic}' if topic else ''} within {TIMEOUT} s")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def peer(port: int, user: str | None, password: str | None, *,
         protocol: mqtt.MQTTProtocolVersion = mqtt.MQTTv311,
         wait: bool = True) -> Peer:
    """A client connected to 127.0.0.1:``port``; ``wait``: once the CONNACK accepted it. It does not
    reconnect by itself, so a connection the broker closed stays closed."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:10]}", protocol=protocol)
    if user is not None:
        client.username_pw_set(user, password)
    result = Peer(client)
    client.on_message = lambda _c, _u, message: result.inbox.put(message)
    client.on_connect = lambda _c, _u, _f, reason, _p: result.events.put(("connack", reason))
    client.on_subscribe = lambda _c, _u, _mid, reasons, _p: result.events.put(("suback", reasons))

    def closed(own: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _properties: Any) -> None:
        result.events.put(("closed", reason))
        own.loop_stop()  # no reconnecting: a connection the broker closed stays closed

    client.on_disconnect = closed
    client.connect("127.0.0.1", port)
    client.loop_start()
    if wait:
        kind, reason = result.event()
        assert kind == "connack" and not reason.is_failure, (kind, reason)
    return result


def as_user(cluster: RabbitCluster, node: int, user: str) -> Peer:
    return peer(cluster.mqtt_port(node), user, cluster.passwords[user])


def test_qos1_message_crosses_the_cluster(cluster: RabbitCluster) -> None:
    """Published on node 1 at QoS 1, received at QoS 1 by a subscriber of node 2 (the station's own
    request topic, read with the station's user: the permissions are in the path as well)."""
    station = as_user(cluster, 2, STATION)
    office = as_user(cluster, 1, BACKOFFICE)
    try:
        topic, body = f"stations/{STATION}/cs/josev", secrets.token_bytes(16)
        station.subscribe(topic)
        office.publish(topic, body)
        message = station.next()
        assert (message.topic, message.payload, message.qos) == (topic, body, 1)
    finally:
        station.close()
        office.close()


def test_mqtt5_connect_is_refused(cluster: RabbitCluster) -> None:
    """RabbitMQ 3.10 speaks MQTT 3.1 and 3.1.1 only: an MQTT 5 CONNECT gets no CONNACK, the node cannot
    parse it and closes the connection. Clients (bridges, the fleet client) must fall back to 3.1.1; the
    same user connecting with 3.1.1 is accepted."""
    refused = peer(cluster.mqtt_port(1), BACKOFFICE, cluster.passwords[BACKOFFICE], protocol=mqtt.MQTTv5, wait=False)
    kind, _reason = refused.event()
    assert kind == "closed", kind
    as_user(cluster, 1, BACKOFFICE).close()


def test_retained_message_stays_on_its_node_and_needs_an_exact_topic(cluster: RabbitCluster) -> None:
    """RabbitMQ 3.10's retained messages are kept per node (a DETS file in each node's own database
    directory, not replicated) and looked up by exact topic only. So a retained presence published
    through node 1 is given to a new exact-topic subscriber of node 1, but neither to one of node 2
    nor to a wildcard subscriber (``stations/+/josev/status``) of node 1: a fleet client cannot gather
    the retained presence of every station with a wildcard there.

    "Not given" is proved without a pause: a retained message is sent right after the SUBACK, within the
    subscription's handling; a plain message published after the SUBACK comes later, so a subscriber whose
    first message is that marker was given no retained one."""
    topic = f"stations/{STATION}/josev/status"
    station = as_user(cluster, 1, STATION)
    readers: list[Peer] = []
    try:
        station.publish(topic, b'{"state": "online"}', retain=True)
        same_node = as_user(cluster, 1, BACKOFFICE)
        other_node = as_user(cluster, 2, BACKOFFICE)
        wildcard = as_user(cluster, 1, BACKOFFICE)
        readers = [same_node, other_node, wildcard]
        same_node.subscribe(topic)
        retained = same_node.next()
        assert (retained.payload, retained.retain) == (b'{"state": "online"}', True)
        other_node.subscribe(topic)
        wildcard.subscribe("stations/+/josev/status")
        station.publish(topic, b"marker")
        for reader in (other_node, wildcard):
            first = reader.next()
            assert (first.payload, first.retain) == (b"marker", False), first.payload
    finally:
        station.publish(topic, b"", retain=True)  # clears it: the module's other tests start without it
        for reader in (station, *readers):
            reader.close()


def bridge_config(cluster: RabbitCluster, identity: str = STATION) -> str:
    """A station's local mosquitto bridged to node 1 with the station's user (the topic layout's mapping)."""
    return (f"connection central-{identity}\naddress 127.0.0.1:{cluster.mqtt_port(1)}\n"
            "bridge_protocol_version mqttv311\n"
            "try_private false\n"  # the bridge flag in the protocol level: RabbitMQ cannot parse that CONNECT
            f"remote_clientid bridge-{identity}\nremote_username {identity}\n"
            f"remote_password {cluster.passwords[identity]}\n"
            "cleansession false\nrestart_timeout 1\n"
            f"notification_topic stations/{identity}/bridge\n"
            f'topic cs/josev in 1 "" stations/{identity}/\n'
            # Exactly the station's topics: RabbitMQ closes a connection that publishes where it may not
            # (an MQTT 5 reply topic josev/cs/client/… under josev/#), and the bridge would loop.
            f'topic josev/cs out 1 "" stations/{identity}/\n'
            f'topic josev/status out 1 "" stations/{identity}/\n')


def test_mosquitto_bridge_to_node_1_serves_node_2(cluster: RabbitCluster, tmp_path: Path) -> None:
    """A station's mosquitto bridged to node 1: a request published on node 2 at
    ``stations/CS-R1/cs/josev`` reaches the local ``cs/josev``, an answer on the local ``josev/cs``
    reaches node 2 at ``stations/CS-R1/josev/cs``; the bridge's notification ("1", then "0" when it goes)
    crosses too."""
    office = as_user(cluster, 2, BACKOFFICE)
    local: Mosquitto | None = None
    station: Peer | None = None
    try:
        office.subscribe(f"stations/{STATION}/#")
        local = Mosquitto(free_port(), tmp_path, extra_config=bridge_config(cluster)).start()
        assert office.next(f"stations/{STATION}/bridge").payload == b"1"
        # The notification goes out before the bridge's SUBSCRIBE: a request is only routed to the bridge
        # once its subscription is bound (by the routing key, '/' turned into '.').
        wait_until(lambda: f"stations.{STATION}.cs.josev" in cluster.ctl(1, "list_bindings", "routing_key"),
                   "the bridge's subscription is not bound on node 1", timeout=TIMEOUT)
        station = peer(local.port, None, None)
        station.subscribe("cs/josev")
        request, answer = secrets.token_bytes(16), secrets.token_bytes(16)
        office.publish(f"stations/{STATION}/cs/josev", request)
        assert station.next().payload == request
        station.publish("josev/cs", answer)
        assert office.next(f"stations/{STATION}/josev/cs").payload == answer
        local.stop()
        assert office.next(f"stations/{STATION}/bridge").payload == b"0"
    finally:
        for client in (station, office):
            if client is not None:
                client.close()
        if local is not None:
            local.stop()


def test_topic_permissions_confine_a_station(cluster: RabbitCluster) -> None:
    """A station's user may use ``stations/<its id>/…`` only (write: josev/cs, josev/status, bridge; read:
    cs/josev), matched on the routing key (``^stations\\.CS\\-R1\\.cs\\.josev$``). RabbitMQ 3.10 answers a
    refused SUBSCRIBE or PUBLISH by closing the connection (no SUBACK failure code, no silent drop): a
    bridge mapping a topic its user may not use reconnects over and over. A station user added at run
    time with ``rabbitmqctl add_user / set_permissions / set_topic_permissions`` works the same."""
    cluster.add_station("CS-R2")
    office = as_user(cluster, 1, BACKOFFICE)
    other = as_user(cluster, 2, "CS-R2")
    nosy, forger = as_user(cluster, 2, STATION), as_user(cluster, 2, STATION)
    try:
        office.subscribe("stations/CS-R2/josev/cs")
        nosy.client.subscribe("stations/CS-R2/cs/josev", qos=1)
        assert nosy.event()[0] == "closed"
        forger.client.publish("stations/CS-R2/josev/cs", b"forged", qos=1)
        assert forger.event()[0] == "closed"
        other.publish("stations/CS-R2/josev/cs", b"genuine")
        assert office.next().payload == b"genuine"  # the forged one was never routed
    finally:
        for client in (office, other, nosy, forger):
            client.close()


def test_cluster_start_is_measured(cluster: RabbitCluster) -> None:
    """The start's phases, for the report (``pytest -s``); and both nodes still in the cluster."""
    print(f"\nrabbitmq cluster start: {', '.join(f'{k} {v:.1f} s' for k, v in cluster.timings.items())}")
    assert set(cluster.running_nodes(2)) == {node.name for node in cluster.nodes}



def test_a_fleet_through_the_cluster_stations_on_node_1_the_fleet_client_on_node_2(
        cluster: RabbitCluster, tmp_path: Path) -> None:
    """Real stations behind mosquitto bridges to node 1; ``FleetClient`` and ``ocpp-station fleet`` on node 2,
    falling back to MQTT 3.1.1 by themselves. The stations' presence crosses the cluster as it happens (a
    subscriber that is there sees it: RabbitMQ keeps no retained message for it), their Last Will too; the
    CLI, told the stations by name (``--no-presence``), reaches both and reads their answers."""
    stations: list[StationProcess] = []
    brokers: list[Mosquitto] = []

    async def story() -> tuple[dict[str, str], str | None]:
        async with FleetClient(cluster.mqtt_url(2), connect_timeout=TIMEOUT) as fleet:
            assert fleet.protocol == "3.1.1"  # MQTT 5 was refused
            assert await fleet.presence(settle=0.1) == {}  # nothing retained reaches a wildcard subscriber here
            for identity in STATIONS:
                workdir = tmp_path / identity
                workdir.mkdir()
                broker = Mosquitto(free_port(), workdir, extra_config=bridge_config(cluster, identity)).start()
                brokers.append(broker)
                key = f"stations.{identity}.cs.josev"  # the bridge's subscription, as RabbitMQ binds it
                wait_until(lambda k=key: k in cluster.ctl(1, "list_bindings", "routing_key"),  # type: ignore[misc]
                           f"the bridge of {identity} is not bound on node 1", timeout=TIMEOUT)
                (workdir / "station.toml").write_text(f'[station]\nidentity = "{identity}"\n')
                stations.append(StationProcess(broker.url, workdir / "data", [
                    "--no-csms", "--config", str(workdir / "station.toml")]).start())
            await _until(lambda: all((p := fleet.presence_of(i)) is not None and p.online for i in STATIONS),
                         "both stations online, live, through the cluster")
            states = {}
            async for outcome in fleet.run(STATIONS, lambda s: s.get_variables(["SecurityCtrlr.Identity"]),
                                           send_unknown=True):
                assert outcome.value is not None, outcome
                states[outcome.identity] = outcome.value[0].value or ""
            stations[1].kill()  # its local broker publishes its will; the bridge and the cluster carry it
            await _until(lambda: not fleet.presence_of("CS-R3").online,  # type: ignore[union-attr]
                         "CS-R3 offline, by its Last Will, through the cluster")
            return states, fleet.presence_of("CS-R3").reason  # type: ignore[union-attr]

    try:
        answered, reason = asyncio.run(story())
        assert answered == {identity: identity for identity in STATIONS}
        assert reason == "connection lost"
        result = subprocess.run(
            [sys.executable, "-m", "ocpp_station", "fleet", "get", "--mqtt-url", cluster.mqtt_url(2),
             "--no-presence", "--stations", ",".join(STATIONS), "--timeout", "5", "--json",
             "OCPPCommCtrlr.OfflineThreshold"], capture_output=True, text=True, timeout=60)
        lines = {line["station"]: line for line in map(json.loads, result.stdout.splitlines())}
        assert lines["CS-R1"]["accepted"] and lines["CS-R3"]["outcome"] == "timeout", result
        assert result.returncode == 3  # CS-R3 did not answer
    finally:
        for station in stations:
            station.kill()
        for broker in brokers:
            broker.stop()


async def _until(condition: Any, what: str, timeout: float = 20.0) -> None:
    """Until ``condition()`` holds, checked as messages arrive (each turn of the loop hands them over)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        await asyncio.sleep(0.02)  # the fleet client's reader runs meanwhile; this is the poll interval

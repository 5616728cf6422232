"""The bridge example of ``examples/bridge`` on real brokers: a central mosquitto (its ``central.conf`` and
``central.acl``) and six stations' local mosquittos bridged to it with ``station-bridge.conf``.

No station process here: the station's side is played by MQTT clients on each local broker (``cs/josev``,
``josev/cs``, ``josev/status``), the back office's by clients of the central broker as user ``fleet``. What is
proved is the bridge configuration: the topic mapping, the ACL, the bridge's notification, and what is queued
where while one side is down. Each station identity serves the tests that disturb it, so that no test depends
on another's outage: CS-1/CS-2 the mapping and the ACL, CS-3 the notification, CS-4 and CS-6 the requests
queued on the central broker, CS-5 the answers queued on the station's broker; one more station is enrolled
while the central broker runs. The two central restarts cost ~1.5–2 s each (the bridges' 1 s reconnection wait):
the module takes ~6–7 s on 2 cores.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from .fleet_rig import ConnectionRefused, Fleet, Peer

pytestmark = pytest.mark.slow

IDENTITIES = ["CS-1", "CS-2", "CS-3", "CS-4", "CS-5", "CS-6"]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    if shutil.which("mosquitto") is None or shutil.which("mosquitto_passwd") is None:
        pytest.fail("mosquitto is not installed: run `make test`, which installs it")
    rig = Fleet.start(tmp_path_factory.mktemp("fleet"), IDENTITIES)
    yield rig
    rig.stop()


@pytest.fixture(scope="module")
def back_office(fleet: Fleet) -> Iterator[Peer]:
    """User ``fleet`` on the central broker, subscribed to every station's answers."""
    peer = fleet.peer().subscribe("stations/+/josev/cs")
    yield peer
    peer.close()


def unique(what: str) -> bytes:
    return f"{what}-{uuid.uuid4().hex[:8]}".encode()


def local_peer(fleet: Fleet, identity: str, **options: Any) -> Peer:
    """A client of the station's own broker (no TLS, anonymous), as the station or the OEM application are."""
    return Peer.connect(fleet.stations[identity].port, **options)


# ------------------------------------------------------------------------------------------------------------
# The topic mapping
# ------------------------------------------------------------------------------------------------------------

def test_request_on_central_reaches_only_its_own_station_on_cs_josev(fleet: Fleet, back_office: Peer) -> None:
    cs1, cs2 = local_peer(fleet, "CS-1").subscribe("cs/josev"), local_peer(fleet, "CS-2").subscribe("cs/josev")
    try:
        request, barrier = unique("request"), unique("barrier")
        back_office.publish("stations/CS-1/cs/josev", request)
        back_office.publish("stations/CS-2/cs/josev", barrier)
        assert cs1.wait_for("cs/josev", request).qos == 1
        before: list[mqtt.MQTTMessage] = []
        cs2.wait_for("cs/josev", barrier, passed_over=before)
        assert before == [], "CS-2 received a request for CS-1"
    finally:
        cs1.close()
        cs2.close()


def test_answer_on_local_josev_cs_reaches_central_under_the_station_prefix(fleet: Fleet, back_office: Peer) -> None:
    station = local_peer(fleet, "CS-1")
    try:
        answer = unique("answer")
        station.publish("josev/cs", answer)
        assert back_office.wait_for("stations/CS-1/josev/cs", answer).qos == 1
    finally:
        station.close()


def test_retained_local_status_is_retained_on_central_for_a_new_subscriber(fleet: Fleet) -> None:
    station = local_peer(fleet, "CS-1")
    status = unique('{"state": "online"}')
    station.publish("josev/status", status, retain=True)
    watcher = fleet.peer().subscribe("stations/+/josev/status")
    try:
        # The first delivery is the live one or the retained one depending on timing: wait for a new subscriber.
        watcher.wait_for("stations/CS-1/josev/status", status)
        late = fleet.peer().subscribe("stations/CS-1/josev/status")
        try:
            message = late.wait_for("stations/CS-1/josev/status", status)
            assert message.retain, "a subscriber that came later got the status, but not as a retained message"
        finally:
            late.close()
    finally:
        watcher.close()
        station.close()


# ------------------------------------------------------------------------------------------------------------
# The ACL and the password file
# ------------------------------------------------------------------------------------------------------------

def test_station_user_cannot_read_another_stations_requests(fleet: Fleet, back_office: Peer) -> None:
    # User CS-1 under another client id (station-CS-1 is its bridge's session, which this would take over).
    intruder = fleet.peer("CS-1", client_id=f"intruder-{uuid.uuid4().hex[:6]}")
    cs2 = local_peer(fleet, "CS-2").subscribe("cs/josev")
    try:
        intruder.subscribe("stations/CS-2/cs/josev", "stations/+/cs/josev", "stations/CS-1/cs/josev")
        secret, barrier = unique("for-CS-2"), unique("barrier")
        back_office.publish("stations/CS-2/cs/josev", secret)
        back_office.publish("stations/CS-1/cs/josev", barrier)
        cs2.wait_for("cs/josev", secret)  # the request existed, and reached its station
        before: list[mqtt.MQTTMessage] = []
        message = intruder.wait_for("stations/CS-1/cs/josev", barrier, passed_over=before)
        assert [m.payload for m in before] == [], "CS-1 read CS-2's request"
        assert message.payload == barrier
    finally:
        intruder.close()
        cs2.close()


@pytest.mark.parametrize("protocol", [mqtt.MQTTv311, mqtt.MQTTv5], ids=["mqtt3.1.1-dropped", "mqtt5-refused"])
def test_station_user_cannot_publish_as_another_station(fleet: Fleet, protocol: mqtt.MQTTProtocolVersion) -> None:
    intruder = fleet.peer("CS-1", client_id=f"intruder-{uuid.uuid4().hex[:6]}", protocol=protocol)
    watcher = fleet.peer().subscribe("stations/+/josev/cs", "stations/+/josev/status", "stations/+/bridge")
    try:
        forged, barrier = unique("forged"), unique("barrier")
        reasons = [intruder.publish(topic, forged)
                   for topic in ("stations/CS-2/josev/cs", "stations/CS-2/josev/status", "stations/CS-2/bridge")]
        assert intruder.publish("stations/CS-1/josev/cs", barrier) == "Success"
        before: list[mqtt.MQTTMessage] = []
        watcher.wait_for("stations/CS-1/josev/cs", barrier, passed_over=before)
        assert [m.topic for m in before if m.payload == forged] == [], "a forged message reached the back office"
        # MQTT 3.1.1 has no way to say no: the PUBACK says nothing. MQTT 5's PUBACK carries the refusal.
        expected = "Success" if protocol == mqtt.MQTTv311 else "Not authorized"
        assert [str(reason) for reason in reasons] == [expected] * 3
    finally:
        intruder.close()
        watcher.close()


def test_back_office_cannot_forge_a_station_answer(fleet: Fleet) -> None:
    office = fleet.peer(protocol=mqtt.MQTTv5)
    try:
        assert str(office.publish("stations/CS-1/josev/cs", unique("forged"))) == "Not authorized"
        assert str(office.publish("stations/CS-1/josev/status", unique("forged"), retain=True)) == "Not authorized"
    finally:
        office.close()


def test_station_added_to_a_running_central_broker_bridges_after_a_reload(
        fleet: Fleet, back_office: Peer, tmp_path_factory: pytest.TempPathFactory) -> None:
    """mosquitto_passwd -b and SIGHUP: no restart of the central broker to enrol a station."""
    identity = f"CS-new-{uuid.uuid4().hex[:4]}"
    fleet.add_station(identity, tmp_path_factory.mktemp("new-station") / identity)
    station = local_peer(fleet, identity)
    try:
        answer = unique("first-answer")
        station.publish("josev/cs", answer)
        back_office.wait_for(f"stations/{identity}/josev/cs", answer)
    finally:
        station.close()


@pytest.mark.parametrize(("user", "password"), [("CS-1", "not-its-password"), ("CS-404", "whatever"), (None, None)],
                         ids=["wrong-password", "unknown-user", "anonymous"])
def test_central_refuses_wrong_password_unknown_user_and_anonymous(fleet: Fleet, user: str | None,
                                                                    password: str | None) -> None:
    with pytest.raises(ConnectionRefused) as refused:
        Peer.connect(fleet.central.port, username=user, password=password, ca_file=fleet.central.ca_file)
    assert str(refused.value.reason) == "Not authorized"


# ------------------------------------------------------------------------------------------------------------
# Outages
# ------------------------------------------------------------------------------------------------------------

def test_bridge_notification_is_retained_1_while_up_and_0_once_the_station_broker_is_killed(fleet: Fleet) -> None:
    station = fleet.stations["CS-3"]
    watcher = fleet.peer().subscribe("stations/CS-3/bridge")
    try:
        assert watcher.wait_for("stations/CS-3/bridge", b"1").retain
        station.kill()
        watcher.wait_for("stations/CS-3/bridge", b"0")  # the bridge's Last Will, published by the central broker
        late = fleet.peer().subscribe("stations/CS-3/bridge")
        try:
            assert late.wait_for("stations/CS-3/bridge", b"0").retain
        finally:
            late.close()
        station.start_bridged()
        watcher.wait_for("stations/CS-3/bridge", b"1")
    finally:
        watcher.close()
        if station.process is None or station.process.poll() is not None:
            station.start_bridged()


def test_request_sent_while_station_broker_is_down_reaches_its_persistent_session_when_back(
        fleet: Fleet, back_office: Peer) -> None:
    """Queued in the bridge's persistent session on the central broker (cleansession false), delivered when the
    bridge reconnects, right after the CONNACK: the station's broker passes it on at once, so only a session it
    already holds — the station's persistent session, restored from its persistence file — gets it. A client
    that subscribes after the bridge came back does not."""
    station = fleet.stations["CS-4"]
    # Like ocpp-station: a fixed client id, MQTT 5, a session that outlives the connection.
    persistent = local_peer(fleet, "CS-4", client_id="ocpp-station", clean=False, protocol=mqtt.MQTTv5)
    persistent.subscribe("cs/josev")
    try:
        station.stop()
        request = unique("request-while-down")
        back_office.publish("stations/CS-4/cs/josev", request)  # the PUBACK: the central broker has it
        station.start_bridged()
        latecomer = local_peer(fleet, "CS-4").subscribe("cs/josev")
        try:
            assert persistent.wait_for("cs/josev", request).qos == 1
            assert persistent.connects == 2, "delivered only after the subscriber's own reconnection"
            barrier = unique("barrier")
            back_office.publish("stations/CS-4/cs/josev", barrier)
            before: list[mqtt.MQTTMessage] = []
            latecomer.wait_for("cs/josev", barrier, passed_over=before)
            assert before == [], "the queued request reached a subscriber that came after the bridge"
        finally:
            latecomer.close()
    finally:
        persistent.close()


def test_answer_published_while_central_is_down_reaches_persistent_back_office_after_central_restarts(
        fleet: Fleet) -> None:
    """Queued on the station's broker for the bridge (local_cleansession false) while the central broker is
    away — across a restart of the station's broker too (the queue is in its persistence file) — sent when the
    bridge reconnects, kept by the central broker for the back office's persistent session."""
    office = fleet.peer(client_id=f"back-office-{uuid.uuid4().hex[:6]}", clean=False)
    office.subscribe("stations/+/josev/cs")
    local = fleet.stations["CS-5"]
    bridged = fleet.bridged_counts()
    try:
        fleet.central.stop()
        answers = [unique("answer-while-central-down"), unique("answer-after-station-broker-restart")]
        station = local_peer(fleet, "CS-5")
        station.publish("josev/cs", answers[0])  # the PUBACK comes from the station's broker
        station.close()
        local.stop()
        local.start()
        station = local_peer(fleet, "CS-5")
        station.publish("josev/cs", answers[1])
        station.close()
        fleet.central.start()
        assert office.wait_for("stations/CS-5/josev/cs", answers[0]).qos == 1
        assert office.wait_for("stations/CS-5/josev/cs", answers[1]).qos == 1
        assert office.connects == 2
    finally:
        office.close()
        fleet.wait_all_bridged(bridged)


def test_request_queued_on_central_survives_a_central_restart(fleet: Fleet, back_office: Peer) -> None:
    """The bridge's session and its queue are in the central broker's persistence file (written on SIGTERM)."""
    station = fleet.stations["CS-6"]
    persistent = local_peer(fleet, "CS-6", client_id="ocpp-station", clean=False, protocol=mqtt.MQTTv5)
    persistent.subscribe("cs/josev")
    bridged = fleet.bridged_counts()
    try:
        station.stop()
        request = unique("request-across-central-restart")
        back_office.publish("stations/CS-6/cs/josev", request)
        fleet.central.restart()
        station.start()
        assert persistent.wait_for("cs/josev", request).qos == 1
    finally:
        persistent.close()
        fleet.wait_all_bridged(bridged)

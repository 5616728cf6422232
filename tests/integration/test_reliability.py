"""The MQTT door under restarts, redelivery, outages and floods: no lost request, no double execution."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import psutil
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ..support import Mosquitto, OemClient, StationProcess, check_response, envelope, free_port, wait_until


def set_offline_threshold(value: int, request_id: str | None = None) -> dict:
    return envelope("SetVariables", {"setVariableData": [{
        "attributeValue": str(value), "component": {"name": "OCPPCommCtrlr"},
        "variable": {"name": "OfflineThreshold"}}]}, request_id=request_id)


def offline_threshold(oem: OemClient) -> str:
    return oem.result("GetVariables", {"getVariableData": [
        {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "OfflineThreshold"}}]})[
        "getVariableResult"][0]["attributeValue"]


def test_a_request_sent_while_the_station_is_down_is_answered_when_it_is_back(
        broker: Mosquitto, tmp_path: Path) -> None:
    station = StationProcess(broker.url, tmp_path / "data", ["--client-id", "station-under-test"]).start()
    station.terminate()  # the broker keeps the session: the subscription and what arrives for it
    oem = OemClient(broker.port)
    try:
        request = set_offline_threshold(4242)
        oem.publish(json.dumps(request))  # acknowledged by the broker: it holds it for the station's session
        station.start()
        answer = oem.wait_for(request["id"], timeout=10)
        check_response(answer, "SetVariables", "ocpp2.0.1")
        assert answer["data"]["payload"]["setVariableResult"][0]["attributeStatus"] == "Accepted"
        assert [a for a in oem.barrier() if a["id"] == request["id"]] == []  # answered once
        assert offline_threshold(oem) == "4242"
    finally:
        oem.close()
        station.terminate()


def test_a_repeated_request_id_is_answered_again_but_not_executed_again(broker: Mosquitto, tmp_path: Path) -> None:
    """id1 sets 111, id2 sets 222, id1 again: the same answer as the first time, and the value stays 222."""
    station = StationProcess(broker.url, tmp_path / "data").start()
    oem = OemClient(broker.port)
    try:
        first, second = set_offline_threshold(111), set_offline_threshold(222)
        oem.publish(json.dumps(first))
        answer_1 = oem.wait_for(first["id"])
        oem.publish(json.dumps(second))
        oem.wait_for(second["id"])
        oem.publish(json.dumps(first))
        answer_1_again = oem.wait_for(first["id"])
        assert answer_1_again == answer_1
        assert offline_threshold(oem) == "222"
        assert f"{first['id']} was answered before" in station.log_text()
        # The answer cache survives a restart.
        station.terminate()
        station.start()
        oem.publish(json.dumps(first))
        assert oem.wait_for(first["id"], timeout=10) == answer_1
        assert offline_threshold(oem) == "222"
    finally:
        oem.close()
        station.terminate()


def test_sighup_is_survived_and_logged(broker: Mosquitto, tmp_path: Path) -> None:
    """Its default action would end the station, and systemd would not restart a SIGHUP death."""
    station = StationProcess(broker.url, tmp_path / "data").start()
    oem = OemClient(broker.port)
    try:
        assert station.process is not None
        station.process.send_signal(signal.SIGHUP)
        station.wait_until_logged("SIGHUP: ignored")
        assert offline_threshold(oem)  # still answering
        assert station.process.poll() is None
    finally:
        oem.close()
        assert station.terminate() == 0


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_a_retained_request_runs_once_and_never_again_when_the_station_resubscribes(
        broker: Mosquitto, tmp_path: Path, protocol: str) -> None:
    """A request published with the retain flag (a tool's checkbox left on) is not a standing order.

    The broker sends a retained message again on every subscription, and the station subscribes on
    every connection. Run live, it must not run again once its answer has left the cache (here
    after 0.5 s): it would undo every later write. Nor is it answered again.
    """
    config = tmp_path / "station.toml"
    config.write_text("[requests]\nanswer_cache_max_age_s = 0.5\n")
    station = StationProcess(broker.url, tmp_path / "data",
                             ["--config", str(config), "--mqtt-protocol", protocol]).start()
    oem = OemClient(broker.port)
    retained = set_offline_threshold(111)
    try:
        oem.publish_retained(json.dumps(retained))
        assert oem.wait_for(retained["id"])["data"]["message_type"] == "CallResult"  # live: it runs
        later = set_offline_threshold(222)
        oem.publish(json.dumps(later))
        oem.wait_for(later["id"])
        # Not synchronisation: a real clock condition. The retained request's answer must be older than
        # answer_cache_max_age_s, so that nothing but the retained check keeps it from running again.
        time.sleep(0.6)
        station.terminate()
        station.start()  # subscribes again: the broker offers the retained message (3.1.1) or, asked not to, keeps it
        # "connected to" is logged on the SUBACK, after which the broker sends the retained message, before
        # the barrier request the OEM publishes only now: an answer to it would come before the barrier's.
        assert [a for a in oem.barrier() if a["id"] == retained["id"]] == []
        assert offline_threshold(oem) == "222"
        if protocol == "3.1.1":
            assert f"ignored a retained message on 'cs/josev' (id {retained['id']})" in station.log_text()
    finally:
        oem.publish_retained(b"")  # clear it
        oem.close()
        station.terminate()


def test_a_reused_id_for_a_different_request_runs_and_the_first_request_still_runs_once(
        broker: Mosquitto, tmp_path: Path) -> None:
    """id1 sets 111; id1 again, setting 222: a different request, so it runs (issue 12); the first one
    redelivered afterwards — also after a restart — gets its own answer and does not run again.
    """
    station = StationProcess(broker.url, tmp_path / "data").start()
    oem = OemClient(broker.port)
    try:
        first = set_offline_threshold(111)
        oem.publish(json.dumps(first))
        answer_1 = oem.wait_for(first["id"])
        reused = set_offline_threshold(222, request_id=first["id"])
        oem.publish(json.dumps(reused))
        answer_2 = oem.wait_for(first["id"])
        check_response(answer_2, "SetVariables", "ocpp2.0.1")
        assert answer_2["data"]["payload"]["setVariableResult"][0]["attributeStatus"] == "Accepted", answer_2
        assert offline_threshold(oem) == "222"
        for attempt in range(2):
            # the first request again, keys in another order and spaced out: a retry, answered as before
            oem.publish(json.dumps(first, sort_keys=True, indent=2))
            assert oem.wait_for(first["id"]) == answer_1
            assert offline_threshold(oem) == "222"  # not run again
            if attempt == 0:  # the stored (id, fingerprint) survives a restart
                station.terminate()
                station.start()
    finally:
        oem.close()
        station.terminate()


@pytest.mark.slow
def test_a_request_delivered_to_a_dead_station_is_delivered_again_and_run_once(tmp_path: Path) -> None:
    """The broker hands the request to a frozen station, which is then killed: the request is not lost."""
    broker = Mosquitto(free_port(), tmp_path / "broker", extra_config="log_type all\n")  # logs each PUBLISH sent
    broker.workdir.mkdir()
    broker.start()
    station = StationProcess(broker.url, tmp_path / "data", ["--client-id", "station-under-test"]).start()
    oem = OemClient(broker.port)
    try:
        assert station.process is not None
        station.process.send_signal(signal.SIGSTOP)  # received by the kernel, never acknowledged
        request = set_offline_threshold(777)
        oem.publish(json.dumps(request))
        # The event itself: the broker has sent the request to the frozen station (into its socket).
        wait_until(lambda: any("Sending PUBLISH to station-under-test" in line and "'cs/josev'" in line
                               for line in broker.log_text().splitlines()),
                   "the broker did not send the request to the station")
        station.kill()
        station.start()
        answer = oem.wait_for(request["id"], timeout=10)
        assert answer["data"]["payload"]["setVariableResult"][0]["attributeStatus"] == "Accepted"
        assert offline_threshold(oem) == "777"
    finally:
        oem.close()
        station.kill()
        broker.stop()


@pytest.mark.slow
def test_the_station_rides_out_a_broker_restart_under_load(broker: Mosquitto, tmp_path: Path) -> None:
    """Requests keep coming while mosquitto restarts; every one of them is answered.

    50 requests, then the broker stops with answers still owed; 50 more while it is down (the OEM's
    client queues them), sent once the station has seen the link go; the broker starts again, and
    50 more. No pause decides anything: the outage is the station's own "lost" line.
    """
    station = StationProcess(broker.url, tmp_path / "data", ["--client-id", "station-under-test"]).start()
    answered: dict[str, dict] = {}
    every_answer = threading.Event()
    subscribed = threading.Event()
    requests = [set_offline_threshold(10_000 + i) for i in range(150)]
    sent = [request["id"] for request in requests]
    oem = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="oem-durable", clean_session=False)
    oem.on_connect = lambda c, *_: c.subscribe("josev/cs", qos=1)
    oem.on_subscribe = lambda *_: subscribed.set()

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        answer = json.loads(msg.payload)
        answered[answer["id"]] = answer
        if set(sent) <= answered.keys():
            every_answer.set()

    oem.on_message = on_message
    oem.reconnect_delay_set(0.1, 0.5)
    oem.connect("127.0.0.1", broker.port)
    oem.loop_start()
    try:
        assert subscribed.wait(5), "no SUBACK"
        for request in requests[:50]:
            oem.publish("cs/josev", json.dumps(request), qos=1)
        offset = len(station.log_text())
        broker.stop()
        for request in requests[50:100]:
            oem.publish("cs/josev", json.dumps(request), qos=1)  # queued by paho while the broker is away
        station.wait_until_logged("lost", start_offset=offset)
        broker.start()
        for request in requests[100:]:
            oem.publish("cs/josev", json.dumps(request), qos=1)
        every_answer.wait(30)
        missing = [sent.index(i) for i in set(sent) - set(answered)]
        assert not missing, f"requests #{sorted(missing)} never answered:\n{station.log_text()[-4000:]}"
        for answer in answered.values():
            check_response(answer, "SetVariables", "ocpp2.0.1")
        log = station.log_text()
        assert "lost" in log and log.count("connected to") >= 2
    finally:
        oem.disconnect()
        oem.loop_stop()
        station.terminate()


def test_a_request_that_expired_while_waiting_is_not_executed(broker: Mosquitto, tmp_path: Path) -> None:
    """MQTT 5 Message Expiry Interval: a request queued past its expiry never runs."""
    station = StationProcess(broker.url, tmp_path / "data", ["--client-id", "station-under-test"]).start()
    station.terminate()
    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    publisher.connect("127.0.0.1", broker.port)
    publisher.loop_start()
    properties = Properties(PacketTypes.PUBLISH)
    properties.MessageExpiryInterval = 1
    stale = set_offline_threshold(31337)
    publisher.publish("cs/josev", json.dumps(stale), qos=1, properties=properties).wait_for_publish(5)
    publisher.disconnect()
    publisher.loop_stop()
    # Not synchronisation: a real clock condition. The broker must hold the request past its 1 s expiry,
    # which mosquitto counts in whole seconds (expired once more than a second later: up to 2 s).
    time.sleep(2.2)
    station.start()
    oem = OemClient(broker.port)
    try:
        assert offline_threshold(oem) != "31337"
        assert stale["id"] not in station.log_text()
    finally:
        oem.close()
        station.terminate()


def test_secrets_never_reach_the_log(broker: Mosquitto, tmp_path: Path) -> None:
    """MQTT password, BasicAuthPassword and a 2.1 profile password: set, misused, and never logged."""
    mqtt_password, auth_password = "Mqtt-Pw-9f8e7d6c5b", "Basic-Auth-Pw-0123456789"
    profile_password = "Prof-Pw-abcdef0123456"
    url = f"mqtt://station:{mqtt_password}@127.0.0.1:{broker.port}"
    station = StationProcess(url, tmp_path / "data", ["--log-level", "DEBUG"]).start()
    oem = OemClient(broker.port)
    try:
        set_password = {"setVariableData": [{"attributeValue": auth_password, "component": {"name": "SecurityCtrlr"},
                                             "variable": {"name": "BasicAuthPassword"}}]}
        assert oem.result("SetVariables", set_password)["setVariableResult"][0]["attributeStatus"] == "Accepted"
        bad_type = {"setVariableData": [{"attributeValue": auth_password, "attributeType": "Nope",
                                         "component": {"name": "SecurityCtrlr"},
                                         "variable": {"name": "BasicAuthPassword"}}]}
        assert auth_password not in json.dumps(oem.error("SetVariables", bad_type))
        profile = {"configurationSlot": 2, "connectionData": {
            "ocppCsmsUrl": "ws://csms.example:9000/ocpp", "securityProfile": 1, "ocppInterface": "Wired0",
            "messageTimeout": 30, "ocppTransport": "JSON", "identity": "CS1", "basicAuthPassword": profile_password}}
        assert oem.result("SetNetworkProfile", profile, "ocpp2.1")["status"] == "Accepted"
        read = oem.result("GetVariables", {"getVariableData": [
            {"component": {"name": "NetworkConfiguration", "instance": "2"}, "variable": {"name": "BasicAuthPassword"}},
            {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"}}]}, "ocpp2.1")
        assert profile_password not in json.dumps(read) and auth_password not in json.dumps(read)
    finally:
        oem.close()
        station.terminate()
    log = station.log_text()
    for secret in (mqtt_password, auth_password, profile_password):
        assert secret not in log
    assert "station:***@" in log


@pytest.mark.slow
def test_a_flood_is_answered_in_order_with_bounded_memory(tmp_path: Path) -> None:
    """3,000 requests at once wait at the broker, not in the station's memory, and all get answered in order.

    mosquitto drops what exceeds a client's max_queued_messages (default 1000), so a charger's
    broker must be sized for the OEM's bursts (examples/mosquitto/mosquitto.conf).
    """
    broker = Mosquitto(free_port(), tmp_path / "broker", extra_config="max_queued_messages 10000\n")
    broker.workdir.mkdir()
    broker.start()
    # At WARNING the station does not log "connected to": it subscribes once at DEBUG, so that its session
    # (a fixed client id) holds the subscription, and requests published while it starts again wait for it.
    station = StationProcess(broker.url, tmp_path / "data", ["--client-id", "station-under-test"]).start()
    station.terminate()
    station.extra_args += ["--log-level", "WARNING"]
    station.start(wait=False)
    oem = OemClient(broker.port, timeout=60)
    try:
        assert offline_threshold(oem)  # the station is up
        assert station.process is not None
        baseline = psutil.Process(station.process.pid).memory_info().rss
        requests = [set_offline_threshold(20_000 + i) for i in range(3000)]
        for request in requests:
            oem.publish(json.dumps(request))
        answers = [oem.wait_for(r["id"], timeout=60) for r in requests]
        assert len(answers) == len(requests)
        peak = psutil.Process(station.process.pid).memory_info().rss
        assert offline_threshold(oem) == str(20_000 + 2999)  # the last write won
        assert peak - baseline < 60 * 1024 * 1024
    finally:
        oem.close()
        station.terminate()
        broker.stop()


def test_mqtt5_response_topic_and_correlation_data_are_honoured(broker: Mosquitto, tmp_path: Path) -> None:
    """A generic MQTT 5 requester gets its answer on its own topic, with its Correlation Data."""
    station = StationProcess(broker.url, tmp_path / "data").start()
    oem = OemClient(broker.port)  # the answer is still published on josev/cs as well
    got: list[mqtt.MQTTMessage] = []
    arrived = threading.Event()
    subscribed = threading.Event()
    requester = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    requester.on_message = lambda _c, _u, msg: (got.append(msg), arrived.set())
    requester.on_subscribe = lambda *_: subscribed.set()  # the requester's only subscription
    requester.connect("127.0.0.1", broker.port)
    requester.loop_start()
    try:
        requester.subscribe("tools/replies/42", qos=1)
        assert subscribed.wait(5), "no SUBACK"  # the SUBACK itself: the answer must not come before it
        properties = Properties(PacketTypes.PUBLISH)
        properties.ResponseTopic = "tools/replies/42"
        properties.CorrelationData = b"corr-\x00\x01"
        request = envelope("GetVariables", {"getVariableData": [
            {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "OfflineThreshold"}}]})
        requester.publish("cs/josev", json.dumps(request), qos=1, properties=properties).wait_for_publish(5)
        assert arrived.wait(5)
        answer = json.loads(got[0].payload)
        check_response(answer, "GetVariables", "ocpp2.0.1")
        assert answer["id"] == request["id"]
        assert got[0].properties.CorrelationData == b"corr-\x00\x01"
        assert oem.wait_for(request["id"]) == answer
    finally:
        requester.disconnect()
        requester.loop_stop()
        oem.close()
        station.terminate()

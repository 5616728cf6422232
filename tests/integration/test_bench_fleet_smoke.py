"""The fleet benchmark still runs, and its simulated stations speak the station's protocol.

``python -m bench.fleet --quick`` must exit 0 and write its figures as JSON (not a performance test:
a tiny run's figures mean nothing). And since the benchmark's stations are simulated by
``bench/fleet_responder.py``, its answers are held to what a real station's are: the seed's envelope
(tests/support.py ``check_envelope``) and the official OCA response schemas, with MQTT 5 and 3.1.1;
its presence is the station's online format; and it leaves no retained status behind.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from tests.support import Mosquitto, check_envelope, envelope, response_validator

REPO = Path(__file__).resolve().parents[2]
IDS = ["CS-00001", "CS-00002", "CS-00003"]
PROTOCOLS = {"5": mqtt.MQTTv5, "3.1.1": mqtt.MQTTv311}
TIMEOUT = 10.0


@dataclass
class Fleet:
    """A running responder for ``IDS`` under a prefix of its own (the session broker is shared)."""

    prefix: str
    protocol: str
    process: subprocess.Popen[str]


def _client(port: int, protocol: str, topics: list[str], on_message: Any) -> mqtt.Client:
    """A paho client of ``protocol``, its loop running, subscribed to ``topics`` (one SUBSCRIBE, QoS 1)."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"fleet-test-{uuid.uuid4().hex[:8]}",
                         protocol=PROTOCOLS[protocol])
    client.on_message = on_message
    subscribed = threading.Event()
    client.on_subscribe = lambda *_a: subscribed.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    client.subscribe([(topic, 1) for topic in topics])
    assert subscribed.wait(5), f"no SUBACK for {topics}"
    return client


@pytest.fixture(scope="module", params=["5", "3.1.1"])
def fleet(request: pytest.FixtureRequest, mosquitto: Mosquitto) -> Iterator[Fleet]:
    prefix = f"fleet-test-{uuid.uuid4().hex[:6]}/"
    process = subprocess.Popen([sys.executable, "-m", "bench.fleet_responder", "--port", str(mosquitto.port),
                                "--count", str(len(IDS)), "--prefix", prefix, "--protocol", request.param],
                               cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    ready = process.stdout.readline()  # the responder's first line, once every status is at the broker
    assert ready.startswith(f"ready {len(IDS)} simulated stations"), ready + process.stdout.read()
    yield Fleet(prefix, request.param, process)
    if process.poll() is None:
        process.kill()
        process.wait(10)


def test_presence_is_the_station_online_format(fleet: Fleet, mosquitto: Mosquitto) -> None:
    statuses: queue.Queue[tuple[str, bool, dict[str, Any]]] = queue.Queue()
    client = _client(mosquitto.port, fleet.protocol, [f"{fleet.prefix}+/josev/status"],
                     lambda _c, _u, m: statuses.put((m.topic, m.retain, json.loads(m.payload))))
    try:
        seen = dict(statuses.get(timeout=TIMEOUT)[::2] for _ in IDS)
    finally:
        client.disconnect()
        client.loop_stop()
    assert sorted(seen) == [f"{fleet.prefix}{i}/josev/status" for i in IDS]
    for topic, status in seen.items():
        identity = topic.split("/")[1]
        assert status["state"] == "online" and status["identity"] == identity, status
        assert status["since"].endswith("Z") and status["software"]["name"] == "bench.fleet_responder", status
        assert set(status) >= {"station", "ocppVersions", "topics", "csms"}, status
        assert status["topics"] == {"requests": f"{fleet.prefix}{identity}/cs/josev",
                                    "answers": f"{fleet.prefix}{identity}/josev/cs"}
        assert status["csms"]["state"] == "disabled"


GET = {"getVariableData": [
    {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "OfflineThreshold"}, "attributeType": "Actual"},
    {"component": {"name": "EVSE", "evse": {"id": 1}}, "variable": {"name": "Power"}}]}
SET = {"setVariableData": [{"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "OfflineThreshold"},
                            "attributeValue": "300"}]}
CASES = [("ocpp2.0.1", "GetVariables", GET, "CS-00001"), ("ocpp2.1", "GetVariables", GET, "CS-00002"),
         ("ocpp2.0.1", "SetVariables", SET, "CS-00003"), ("ocpp2.0.1", "Reset", {"type": "Immediate"}, "CS-00001"),
         ("ocpp1.6", "GetConfiguration", {}, "CS-00002")]


def test_answers_are_schema_valid_and_on_the_identity_topic(fleet: Fleet, mosquitto: Mosquitto) -> None:
    answers: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
    client = _client(mosquitto.port, fleet.protocol, [f"{fleet.prefix}+/josev/cs"],
                     lambda _c, _u, m: answers.put((m.topic, json.loads(m.payload))))
    sent = {}
    try:
        for version, action, payload, identity in CASES:
            request = envelope(action, payload, version)
            sent[request["id"]] = (version, action, identity, payload)
            client.publish(f"{fleet.prefix}{identity}/cs/josev", json.dumps(request), qos=1)
        got = {answer["id"]: (topic, answer) for topic, answer in (answers.get(timeout=TIMEOUT) for _ in CASES)}
    finally:
        client.disconnect()
        client.loop_stop()
    assert sorted(got) == sorted(sent)
    for request_id, (topic, answer) in got.items():
        version, action, identity, payload = sent[request_id]
        check_envelope(answer)
        assert topic == f"{fleet.prefix}{identity}/josev/cs"
        data = answer["data"]
        assert (data["ocpp_version"], data["message_name"]) == (version, action), answer
        if action in ("GetVariables", "SetVariables") and version != "ocpp1.6":
            assert data["message_type"] == "CallResult", answer
            response_validator(version, action).validate(data["payload"])
            items = next(iter(data["payload"].values()))
            assert [item["attributeStatus"] for item in items] == ["Accepted"] * len(next(iter(payload.values())))
        else:
            assert (data["message_type"], data["error_code"]) == ("CallError", "NotImplemented"), answer


def test_an_mqtt5_response_topic_gets_the_answer_with_its_correlation(fleet: Fleet, mosquitto: Mosquitto) -> None:
    if fleet.protocol != "5":
        pytest.skip("Response Topic and Correlation Data are MQTT 5")
    reply = f"{fleet.prefix}reply/{uuid.uuid4().hex[:8]}"
    got: queue.Queue[tuple[dict[str, Any], bytes | None]] = queue.Queue()
    client = _client(mosquitto.port, "5", [reply],
                     lambda _c, _u, m: got.put((json.loads(m.payload), getattr(m.properties, "CorrelationData", None))))
    try:
        request = envelope("GetVariables", GET)
        properties = Properties(PacketTypes.PUBLISH)
        properties.ResponseTopic, properties.CorrelationData = reply, b"corr-1"
        client.publish(f"{fleet.prefix}CS-00002/cs/josev", json.dumps(request), qos=1, properties=properties)
        answer, correlation = got.get(timeout=TIMEOUT)
    finally:
        client.disconnect()
        client.loop_stop()
    check_envelope(answer)
    assert (answer["id"], correlation) == (request["id"], b"corr-1")


def test_a_stopped_responder_leaves_no_retained_status(fleet: Fleet, mosquitto: Mosquitto) -> None:
    """Last in the module: SIGTERM, then one SUBSCRIBE of the statuses and of a retained marker published
    before it; mosquitto sends a SUBSCRIBE's retained messages filter by filter, so by the time the marker
    arrives any status left behind would have arrived first."""
    fleet.process.terminate()
    out, _ = fleet.process.communicate(timeout=30)
    assert fleet.process.returncode == 0 and f"cleared {len(IDS)}" in out, out
    marker = f"{fleet.prefix}marker"
    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"fleet-test-{uuid.uuid4().hex[:8]}")
    publisher.connect("127.0.0.1", mosquitto.port)
    publisher.loop_start()
    publisher.publish(marker, b"m", qos=1, retain=True).wait_for_publish(5)
    topics: queue.Queue[str] = queue.Queue()
    client = _client(mosquitto.port, fleet.protocol, [f"{fleet.prefix}+/josev/status", marker],
                     lambda _c, _u, m: topics.put(m.topic))
    try:
        first = topics.get(timeout=TIMEOUT)
    finally:
        client.disconnect()
        client.loop_stop()
        publisher.publish(marker, b"", qos=1, retain=True).wait_for_publish(5)
        publisher.disconnect()
        publisher.loop_stop()
    assert first == marker


@pytest.mark.slow
def test_bench_fleet_quick_run_writes_its_figures(tmp_path: Path) -> None:
    out = tmp_path / "fleet.json"
    run = subprocess.run([sys.executable, "-m", "bench.fleet", "--quick", "--json", str(out),
                          "--workdir", str(tmp_path)],
                         cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, f"stdout:\n{run.stdout}\nstderr:\n{run.stderr}"
    assert "simulated" in run.stdout
    results = json.loads(out.read_text("utf-8"))
    assert results["meta"]["settings"]["quick"] is True and "simulated" in results["meta"]["simulated"]
    assert results["cli_startup_s"] > 0
    [size] = results["sizes"]
    assert size["stations"] == 10
    assert size["floor_s"] > 0 and size["in_process_tracemalloc_peak_mb"] > 0
    assert all(size["in_process"][key] > 0 for key in ("presence_s", "run_s", "presence_and_run_s"))
    assert size["cli"]["wall_s"] > 0 and size["cli"]["peak_rss_mb"] > 0
    assert size["ratio_cli_to_floor"] > 0
    assert results["target"] is None  # --quick does not reach 1000 stations

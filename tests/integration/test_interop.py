"""The station driven only by outside MQTT clients, the way an OEM's tools drive it (issue 12).

Debian's mosquitto-clients (``mosquitto_rr``, ``mosquitto_pub``, ``mosquitto_sub``) and paho in both
protocol versions publish the Josev envelope on ``cs/josev`` and read ``josev/cs``, on a mosquitto of
this module's own (free port) with a station of its own; the seed's examples run on a fresh broker
and station of their own. Every answer received goes through :func:`tests.support.check_response`.

"No answer" and "exactly one answer" are proved without sleeping: after the message under test a
*barrier* request is sent. The station handles requests one at a time in arrival order and publishes
its answers on ``josev/cs`` in that order, and the broker keeps that order for a subscriber, so any
answer to the message under test — a duplicate included — arrives before the barrier's.
"""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ..seed_vectors import SEED_HASH_DATA, SEED_ID, SEED_REQUEST_EXAMPLES
from ..support import (
    REQUEST_TOPIC,
    RESPONSE_TOPIC,
    Mosquitto,
    StationProcess,
    check_envelope,
    check_request_envelope,
    check_response,
    envelope,
    free_port,
)

GET_ONE = {"getVariableData": [{"component": {"name": "TxCtrlr"}, "variable": {"name": "TxStartPoint"}}]}
DEFAULT_VERSION = "ocpp2.0.1"  # what a CallError carries when the request's version cannot be read
TIMEOUT = 10.0


def tool(name: str) -> str:
    """The path of a mosquitto-clients program; a failure (not a skip) when it is missing."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: `make test` installs mosquitto-clients (Debian's package), "
                    "which these interoperability tests drive the station with")
    return path


# ---------------------------------------------------------------------------------------------------
# A paho client in either protocol version; subscriptions are awaited on their SUBACK, never slept on
# ---------------------------------------------------------------------------------------------------

class Peer:
    def __init__(self, port: int, protocol: int = mqtt.MQTTv5, topics: tuple[str, ...] = (RESPONSE_TOPIC,)):
        self.protocol = protocol
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self._subacks: queue.Queue[int] = queue.Queue()
        connected = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"interop-{uuid.uuid4().hex[:8]}",
                                  protocol=protocol)
        self.client.on_connect = lambda _c, _u, _f, reason, _p: connected.set() if not reason.is_failure else None
        self.client.on_subscribe = lambda _c, _u, mid, _r, _p: self._subacks.put(mid)
        self.client.on_message = lambda _c, _u, message: self.messages.put(message)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert connected.wait(TIMEOUT), "the paho client did not connect"
        for topic in topics:
            self.subscribe(topic)

    def subscribe(self, topic: str) -> None:
        result, mid = self.client.subscribe(topic, qos=1)
        assert result == mqtt.MQTT_ERR_SUCCESS
        deadline = time.monotonic() + TIMEOUT
        while self._subacks.get(timeout=max(0.0, deadline - time.monotonic())) != mid:
            pass

    def close(self) -> None:
        self.client.disconnect()  # first: the network thread then ends at once, not after its 1 s select
        self.client.loop_stop()

    def publish(self, body: bytes | str, properties: Properties | None = None) -> None:
        self.client.publish(REQUEST_TOPIC, body, qos=1, properties=properties).wait_for_publish(TIMEOUT)

    def until(self, request_id: str) -> tuple[mqtt.MQTTMessage, list[mqtt.MQTTMessage]]:
        """The first message on josev/cs answering ``request_id``, and every message that came before it.

        The one returned is checked against the OcppResponse schema here; those before it are the
        caller's to judge (none, or exactly one, each then checked by :func:`decode`).
        """
        before: list[mqtt.MQTTMessage] = []
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                message = self.messages.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise TimeoutError(f"no answer to {request_id} on {RESPONSE_TOPIC}; before it: "
                                   f"{[m.payload for m in before]}") from None
            content = json.loads(message.payload)
            if content.get("type") == "request":  # the station's own (a security event): checked, passed over
                check_request_envelope(content)
                continue
            if content.get("id") == request_id:
                decode(message)
                return message, before
            before.append(message)

    def exchange(self, body: bytes | str, request_id: str) -> dict[str, Any]:
        """Publish ``body``; return its answer, which must be the only message on josev/cs meanwhile."""
        self.publish(body)
        message, before = self.until(request_id)
        assert before == [], f"answers on josev/cs before the one to {request_id}: {[m.payload for m in before]}"
        return decode(message)

    def call(self, action: str, payload: Any, ocpp_version: str = "ocpp2.0.1") -> dict[str, Any]:
        """A request under a new id that must succeed: its CallResult payload (checked)."""
        request = envelope(action, payload, ocpp_version)
        answer = self.exchange(json.dumps(request), request["id"])
        check_response(answer, action, ocpp_version)
        assert answer["data"]["message_type"] == "CallResult", answer
        return answer["data"]["payload"]

    def barrier(self) -> list[mqtt.MQTTMessage]:
        """Send a GetVariables and wait for its answer: every message on josev/cs that came before it.

        Its answer is a CallResult: the station is still answering.
        """
        request = envelope("GetVariables", GET_ONE)
        self.publish(json.dumps(request))
        message, before = self.until(request["id"])
        answer = decode(message)
        check_response(answer, "GetVariables", "ocpp2.0.1")
        assert answer["data"]["message_type"] == "CallResult", answer
        return before


def decode(message: mqtt.MQTTMessage) -> dict[str, Any]:
    answer = json.loads(message.payload)
    check_envelope(answer)
    return answer


def correlation(message: mqtt.MQTTMessage) -> bytes | None:
    return getattr(message.properties, "CorrelationData", None) if message.properties else None


# ---------------------------------------------------------------------------------------------------
# Fixtures: a mosquitto and a station of this module's own
# ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def interop_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    if shutil.which("mosquitto") is None:
        pytest.fail("mosquitto is not installed: run `make test`, which installs it")
    own = Mosquitto(free_port(), tmp_path_factory.mktemp("interop-broker")).start()
    yield own
    own.stop()


@pytest.fixture(scope="module")
def interop_station(interop_broker: Mosquitto, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StationProcess]:
    process = StationProcess(interop_broker.url, tmp_path_factory.mktemp("interop-station") / "data").start()
    yield process
    process.terminate()


@pytest.fixture
def peer(interop_station: StationProcess, interop_broker: Mosquitto) -> Iterator[Peer]:
    """An MQTT 5 paho client subscribed to josev/cs, with nothing else in flight."""
    client = Peer(interop_broker.port)
    yield client
    client.close()


# ---------------------------------------------------------------------------------------------------
# mosquitto_rr (MQTT 5 request/response)
# ---------------------------------------------------------------------------------------------------

def mosquitto_rr(port: int, body: str, response_topic: str, *extra: str) -> str:
    """``mosquitto_rr -V 5 … -t cs/josev -e RESPONSE_TOPIC -m BODY -W 10``: what it printed."""
    done = subprocess.run([tool("mosquitto_rr"), "-V", "5", "-h", "127.0.0.1", "-p", str(port), "-q", "1",
                           "-t", REQUEST_TOPIC, "-e", response_topic, "-m", body, "-W", "10", *extra],
                          capture_output=True, text=True, timeout=TIMEOUT + 5)
    assert done.returncode == 0, f"mosquitto_rr exited with {done.returncode}: {done.stderr}"
    return done.stdout.rstrip("\n")


def test_mosquitto_rr_gets_a_valid_call_result_on_its_response_topic_and_josev_cs_gets_one_copy(
        peer: Peer, interop_broker: Mosquitto) -> None:
    request = envelope("GetVariables", GET_ONE)
    printed = mosquitto_rr(interop_broker.port, json.dumps(request), f"interop/replies/{uuid.uuid4().hex}")
    answer = json.loads(printed)
    check_response(answer, "GetVariables", "ocpp2.0.1")
    assert answer["id"] == request["id"] and answer["data"]["message_type"] == "CallResult", answer
    [result] = answer["data"]["payload"]["getVariableResult"]
    assert result["attributeStatus"] == "Accepted"
    copies = [decode(m) for m in peer.barrier()]
    assert copies == [answer], copies  # the promise "every answer on josev/cs" holds for generic tools


def test_mosquitto_rr_with_josev_cs_as_response_topic_gets_exactly_one_answer_with_its_correlation_data(
        peer: Peer, interop_broker: Mosquitto) -> None:
    """Response Topic = the answer topic: one answer there (correlation echoed), not a copy and an original."""
    request = envelope("GetVariables", GET_ONE)
    token = f"rr-{uuid.uuid4().hex[:12]}"
    printed = mosquitto_rr(interop_broker.port, json.dumps(request), RESPONSE_TOPIC,
                           "-D", "publish", "correlation-data", token, "-F", "%D|%p")
    echoed, _, body = printed.partition("|")
    answer = json.loads(body)
    check_response(answer, "GetVariables", "ocpp2.0.1")
    assert answer["id"] == request["id"] and answer["data"]["message_type"] == "CallResult", answer
    assert echoed == token
    seen = [m for m in peer.barrier() if decode(m)["id"] == request["id"]]
    assert len(seen) == 1, f"{len(seen)} answers to one request on josev/cs: {[decode(m) for m in seen]}"
    assert decode(seen[0]) == answer
    assert correlation(seen[0]) == token.encode()


def test_paho_v5_with_josev_cs_as_response_topic_gets_exactly_one_answer_with_its_correlation_data(
        peer: Peer) -> None:
    properties = Properties(PacketTypes.PUBLISH)
    properties.ResponseTopic = RESPONSE_TOPIC
    properties.CorrelationData = b"\x00corr\xff"
    request = envelope("GetVariables", GET_ONE, "ocpp2.1")
    peer.publish(json.dumps(request), properties)
    seen = [m for m in peer.barrier() if decode(m)["id"] == request["id"]]
    assert len(seen) == 1, f"{len(seen)} answers to one request on josev/cs: {[decode(m) for m in seen]}"
    check_response(decode(seen[0]), "GetVariables", "ocpp2.1")
    assert correlation(seen[0]) == b"\x00corr\xff"


# ---------------------------------------------------------------------------------------------------
# mosquitto_pub / mosquitto_sub, MQTT 3.1.1 and 5
# ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("version", ["311", "5"])
def test_mosquitto_pub_request_is_answered_to_mosquitto_sub(interop_station: StationProcess,
                                                            interop_broker: Mosquitto, version: str) -> None:
    """The two commands an OEM's engineer tries first. mosquitto_sub is known to be subscribed when a
    retained marker on a private topic, subscribed to after josev/cs in the same SUBSCRIBE, reaches it."""
    pub, sub = tool("mosquitto_pub"), tool("mosquitto_sub")
    common = ["-V", version, "-h", "127.0.0.1", "-p", str(interop_broker.port), "-q", "1"]
    marker = f"interop/ready/{uuid.uuid4().hex}"
    subprocess.run([pub, *common, "-t", marker, "-r", "-m", "ready"], check=True, timeout=TIMEOUT)
    listener = subprocess.Popen([sub, *common, "-t", RESPONSE_TOPIC, "-t", marker, "-v", "-C", "2", "-W", "10"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert listener.stdout is not None
        assert listener.stdout.readline() == f"{marker} ready\n", listener.communicate(timeout=TIMEOUT)
        request = envelope("SetVariables", {"setVariableData": [{
            "attributeValue": "true", "component": {"name": "AuthCtrlr"},
            "variable": {"name": "LocalAuthorizeOffline"}}]})
        subprocess.run([pub, *common, "-t", REQUEST_TOPIC, "-m", json.dumps(request)], check=True, timeout=TIMEOUT)
        out, err = listener.communicate(timeout=TIMEOUT + 5)
        assert listener.returncode == 0, f"mosquitto_sub exited with {listener.returncode}: {err}"
        topic, _, body = out.rstrip("\n").partition(" ")
        assert topic == RESPONSE_TOPIC, out
        answer = json.loads(body)
        check_response(answer, "SetVariables", "ocpp2.0.1")
        assert answer["id"] == request["id"], answer
        assert answer["data"]["payload"]["setVariableResult"][0]["attributeStatus"] == "Accepted", answer
    finally:
        if listener.poll() is None:
            listener.kill()
            listener.wait()
        subprocess.run([pub, *common, "-t", marker, "-r", "-n"], check=True, timeout=TIMEOUT)  # clear it


# ---------------------------------------------------------------------------------------------------
# paho, MQTT 3.1.1 and 5
# ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("protocol", [mqtt.MQTTv311, mqtt.MQTTv5], ids=["3.1.1", "5"])
@pytest.mark.parametrize("ocpp_version", ["ocpp2.0.1", "ocpp2.1"])
def test_paho_publishes_the_envelope_and_receives_the_answer(interop_station: StationProcess,
                                                             interop_broker: Mosquitto, protocol: int,
                                                             ocpp_version: str) -> None:
    client = Peer(interop_broker.port, protocol)
    try:
        payload = client.call("GetVariables", GET_ONE, ocpp_version)
        assert payload["getVariableResult"][0]["attributeStatus"] == "Accepted"
    finally:
        client.close()


# ---------------------------------------------------------------------------------------------------
# The seed's examples pasted verbatim, in order: one id, seven different requests, seven executions
# ---------------------------------------------------------------------------------------------------

def _seed(peer: Peer, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Publish the seed example ``name`` as the document prints it: (its checked answer, its CallResult payload)."""
    [text] = [text for example, text in SEED_REQUEST_EXAMPLES if example == name]
    answer = peer.exchange(text, SEED_ID)
    action = json.loads(text)["data"]["message_name"]
    check_response(answer, action, "ocpp2.0.1")
    assert answer["data"]["message_type"] == "CallResult", (name, answer)
    return answer, answer["data"]["payload"]


def _read(peer: Peer, *names: tuple[str, str]) -> list[str | None]:
    results = peer.call("GetVariables", {"getVariableData": [
        {"component": {"name": component}, "variable": {"name": variable}} for component, variable in names]})
    assert all(r["attributeStatus"] == "Accepted" for r in results["getVariableResult"]), results
    return [r.get("attributeValue") for r in results["getVariableResult"]]


def _csms_roots(peer: Peer) -> dict[str, Any]:
    return peer.call("GetInstalledCertificateIds", {"certificateType": ["CSMSRootCertificate"]})


def test_the_seed_examples_pasted_verbatim_in_order_each_run_under_the_seed_id(broker: Mosquitto,
                                                                                tmp_path: Path) -> None:
    """Each example is a different request under the one id the seed gives them all: each one runs.

    The very same SetVariables example sent again (a retry: same id, same text) gets the same answer
    and does not run again: a value written in between (under a new id) survives it — right after
    the first time, and once more after all seven.
    """
    assert [name for name, _ in SEED_REQUEST_EXAMPLES] == [
        "GetVariables(TxStartPoint)", "GetVariables(multiple)", "GetInstalledCertificateIds", "SetVariables",
        "InstallCertificate", "DeleteCertificate", "SetNetworkProfile"]
    station = StationProcess(broker.url, tmp_path / "data").start()
    peer = Peer(broker.port)
    offline = (("OCPPCommCtrlr", "OfflineThreshold"), ("AuthCtrlr", "LocalAuthorizeOffline"))
    try:
        _, payload = _seed(peer, "GetVariables(TxStartPoint)")
        [result] = payload["getVariableResult"]
        assert (result["attributeStatus"], result["component"], result["variable"]) == (
            "Accepted", {"name": "TxCtrlr"}, {"name": "TxStartPoint"}), result

        _, payload = _seed(peer, "GetVariables(multiple)")  # not the first one's answer: it ran
        assert [(r["attributeStatus"], r["component"]["name"], r["variable"]["name"])
                for r in payload["getVariableResult"]] == [("Accepted", "OCPPCommCtrlr", "OfflineThreshold"),
                                                           ("Accepted", "AuthCtrlr", "LocalAuthorizeOffline")]

        _, payload = _seed(peer, "GetInstalledCertificateIds")
        assert payload["status"] in ("Accepted", "NotFound"), payload
        assert SEED_HASH_DATA not in [c["certificateHashData"] for c in payload.get("certificateHashDataChain", [])]

        set_answer, payload = _seed(peer, "SetVariables")
        assert [r["attributeStatus"] for r in payload["setVariableResult"]] == ["Accepted", "Accepted"], payload
        assert _read(peer, *offline) == ["300", "true"]
        # a retry of the very same request: answered from the cache, not run again
        assert peer.call("SetVariables", {"setVariableData": [{
            "attributeValue": "111", "component": {"name": "OCPPCommCtrlr"},
            "variable": {"name": "OfflineThreshold"}}]})["setVariableResult"][0]["attributeStatus"] == "Accepted"
        again, _ = _seed(peer, "SetVariables")
        assert again == set_answer
        assert _read(peer, *offline) == ["111", "true"]

        _, payload = _seed(peer, "InstallCertificate")
        assert payload["status"] == "Accepted", payload
        listed = _csms_roots(peer)
        assert listed["status"] == "Accepted", listed
        assert {"certificateType": "CSMSRootCertificate", "certificateHashData": SEED_HASH_DATA} in [
            {"certificateType": c["certificateType"], "certificateHashData": c["certificateHashData"]}
            for c in listed["certificateHashDataChain"]], listed

        _, payload = _seed(peer, "DeleteCertificate")
        assert payload["status"] == "Accepted", payload
        assert _csms_roots(peer)["status"] == "NotFound"
        gone = peer.call("DeleteCertificate", {"certificateHashData": SEED_HASH_DATA})
        assert gone["status"] == "NotFound", gone

        _, payload = _seed(peer, "SetNetworkProfile")
        assert payload["status"] == "Accepted", payload
        [url] = peer.call("GetVariables", {"getVariableData": [  # NetworkConfiguration is 2.1's
            {"component": {"name": "NetworkConfiguration", "instance": "2"}, "variable": {"name": "OcppCsmsUrl"}}]},
            "ocpp2.1")["getVariableResult"]
        assert (url["attributeStatus"], url.get("attributeValue")) == (
            "Accepted", "wss://324595e6999a17ae.octt.openchargealliance.org:18603"), url

        # the SetVariables example redelivered late, after six other requests under its id: still its answer
        late, _ = _seed(peer, "SetVariables")
        assert late == set_answer
        assert _read(peer, *offline) == ["111", "true"]
    finally:
        peer.close()
        station.terminate()


# ---------------------------------------------------------------------------------------------------
# What gets no answer, and what still gets a CallError
# ---------------------------------------------------------------------------------------------------

NOT_OCPP_REQUESTS = {
    "service_status-request": {"id": "<uuid>", "name": "service_status", "type": "request", "data": {}},
    "cp_status-update": {"id": "<uuid>", "name": "cp_status", "type": "update",
                         "data": {"evse_id": 1, "connector_id": 1, "status": "Available"}},
    "ocpp_message-response": {"id": "<uuid>", "name": "ocpp_message", "type": "response",
                              "data": {"ocpp_version": "ocpp2.0.1", "message_type": "CallResult",
                                       "payload": {"getVariableResult": []}}},
}


@pytest.mark.parametrize("case", list(NOT_OCPP_REQUESTS))
def test_other_josev_messages_on_the_request_topic_get_no_answer_and_the_station_keeps_answering(
        peer: Peer, interop_station: StationProcess, case: str) -> None:
    """Josev's other messages share cs/josev on a real broker: they are not ours to answer."""
    message = {**NOT_OCPP_REQUESTS[case], "id": str(uuid.uuid4())}
    peer.publish(json.dumps(message))
    answered = [json.loads(m.payload) for m in peer.barrier()]  # the barrier's CallResult: still answering
    assert answered == [], f"a {message['name']} {message['type']} was answered: {answered}"
    assert interop_station.process is not None and interop_station.process.poll() is None


def _broken(change: Any) -> dict[str, Any]:
    message = envelope("GetVariables", GET_ONE, "ocpp2.1")
    change(message)
    return message


BROKEN_OCPP_REQUESTS = {  # (message, the answer's ocpp_version, its error_code)
    "payload-not-an-object": (_broken(lambda m: m["data"].update(payload=[GET_ONE])), "ocpp2.1",
                              "RpcFrameworkError"),
    "message_name-missing": (_broken(lambda m: m["data"].pop("message_name")), "ocpp2.1", "RpcFrameworkError"),
    "payload-against-the-schema": (_broken(lambda m: m["data"].update(payload={"getVariableData": []})),
                                   "ocpp2.1", "OccurrenceConstraintViolation"),
    "ocpp_version-ocpp9": (_broken(lambda m: m["data"].update(ocpp_version="ocpp9")), DEFAULT_VERSION,
                           "RpcFrameworkError"),
    "ocpp_version-missing": (_broken(lambda m: m["data"].pop("ocpp_version")), DEFAULT_VERSION,
                             "RpcFrameworkError"),
}


@pytest.mark.parametrize("case", list(BROKEN_OCPP_REQUESTS))
def test_a_broken_ocpp_message_request_gets_one_call_error_carrying_an_ocpp_version(peer: Peer, case: str) -> None:
    """The request's version when it is one of the three, otherwise the station's default, ocpp2.0.1."""
    message, version, code = BROKEN_OCPP_REQUESTS[case]
    message = {**message, "id": str(uuid.uuid4())}
    peer.publish(json.dumps(message))
    answers = [decode(m) for m in peer.barrier()]
    assert len(answers) == 1, answers
    [answer] = answers
    check_response(answer, "GetVariables", version)
    assert answer["id"] == message["id"], answer
    assert (answer["data"]["message_type"], answer["data"]["error_code"]) == ("CallError", code), answer


@pytest.mark.parametrize("raw", [b"not json", b"[]", b'"ocpp_message"'], ids=["text", "array", "string"])
def test_bytes_that_are_not_a_json_object_get_a_call_error_with_id_minus_one_and_the_default_version(
        peer: Peer, raw: bytes) -> None:
    peer.publish(raw)
    answers = [decode(m) for m in peer.barrier()]
    assert len(answers) == 1, answers
    [answer] = answers
    check_response(answer, None, DEFAULT_VERSION)
    assert answer["id"] == "-1", answer
    assert (answer["data"]["message_type"], answer["data"]["error_code"]) == ("CallError", "RpcFrameworkError")

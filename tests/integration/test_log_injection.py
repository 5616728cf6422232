"""Issue 15 item 4 over the broker: a station process, at the default INFO and at DEBUG, whose log neither
takes a forged line nor grows by more than a few kB, whatever the requests on ``cs/josev`` hold.

The hostile requests: text with a newline and a forged log line (timestamp, level) in the action name,
in component and variable names, in a certificate subject; a 1 MiB action name (just under and just
over requests.max_bytes); MQTT 5 properties of 60 kB (paho writes them at DEBUG); a broken payload and
nesting beyond the parser (answered under the request's id: Part 4 §4.2.3). Every answer is checked
against the seed's OcppResponse. In process, tests/unit/test_hostile_input_15.py has every case of
every rule; here is what only a station process shows: its real log, formatted and written as on a
charger, with paho's and the station's loggers as ``serve`` sets them up.
"""

from __future__ import annotations

import json
import queue
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ..support import Mosquitto, OemClient, StationProcess, check_envelope, check_response, envelope
from ..unit.test_hostile_input_15 import FORGED, _root_with_subject, forged_lines, nested, raw_request

MIB = 1024 * 1024
MAX_GROWTH = 8000  # bytes of log for the whole batch below (several MiB of requests)


@pytest.fixture(params=["INFO", "DEBUG"])
def station(request: pytest.FixtureRequest, broker: Mosquitto, tmp_path: Path) -> Iterator[StationProcess]:
    """A station process at ``--log-level`` INFO (what ``serve`` runs with) or DEBUG, on a broker of its own."""
    process = StationProcess(broker.url, tmp_path / "data", ["--log-level", request.param]).start()
    yield process
    process.terminate()


@pytest.fixture
def oem(station: StationProcess, broker: Mosquitto) -> Iterator[OemClient]:
    client = OemClient(broker.port, timeout=20)
    yield client
    client.close()


def answer(oem: OemClient, raw: bytes | str, request_id: str, version: str = "ocpp2.0.1",
           action: str | None = None) -> dict[str, Any]:
    oem.publish(raw)
    got = oem.wait_for(request_id)
    check_response(got, action, version)
    return got


def new_log(station: StationProcess, offset: int) -> str:
    return station.log_text()[offset:]


def test_forged_lines_and_megabyte_names_stay_out_of_the_log(station: StationProcess, oem: OemClient,
                                                             broker: Mosquitto) -> None:
    oem.barrier()
    offset = len(station.log_text())

    request_id, raw = raw_request("ocpp2.0.1", "Get" + FORGED + "x" * (MIB - 1000), b"{}")
    assert answer(oem, raw, request_id)["data"]["error_code"] == "NotImplemented"
    request_id, raw = raw_request("ocpp2.1", "Get" + FORGED + "x" * MIB, b"{}")  # beyond requests.max_bytes
    assert answer(oem, raw, request_id, "ocpp2.1")["data"]["error_code"] == "FormatViolation"

    item = {"component": {"name": FORGED}, "variable": {"name": FORGED, "instance": FORGED}, "attributeValue": "1"}
    result = oem.result("SetVariables", {"setVariableData": [item]})
    assert result["setVariableResult"][0]["attributeStatus"] == "UnknownComponent"
    pem = _root_with_subject(FORGED + "s" * 1500)
    assert oem.result("InstallCertificate", {"certificateType": "CSMSRootCertificate",
                                             "certificate": pem})["status"] == "Accepted"

    request_id, raw = raw_request("ocpp2.0.1", "GetVariables", b'{"x": "' + FORGED.encode() + b'\xff"}')
    assert answer(oem, raw, request_id)["data"]["error_code"] == "RpcFrameworkError"  # its id: Part 4 §4.2.3
    request_id, raw = raw_request("ocpp1.6", "GetInstalledCertificateIds", b'{"x": ' + nested(1000, True) + b"}")
    assert answer(oem, raw, request_id, "ocpp1.6")["data"]["error_code"] == "FormationViolation"
    request_id, raw = raw_request("ocpp2.1", "GetVariables", b'{"x": ' + nested(5000, False) + b"}")
    assert answer(oem, raw, request_id, "ocpp2.1")["data"]["error_code"] == "RpcFrameworkError"

    reply = mqtt5_request_with_big_properties(broker)
    check_response(reply, "GetVariables", "ocpp2.0.1")
    # One answer each (the MQTT 5 request's on josev/cs as well), and the station still serves.
    assert [got["id"] for got in oem.barrier()] == [reply["id"]]
    log = new_log(station, offset)
    assert not forged_lines(log), log[:3000]
    # Nothing at ERROR, no traceback: each of these is the client's mistake (the level is the third field).
    assert not [line for line in log.splitlines() if line.split(" ")[2:3] in (["ERROR"], ["CRITICAL"])], log[:3000]
    assert "Traceback" not in log, log[:3000]
    assert len(log.encode()) < MAX_GROWTH, (len(log.encode()), log[:3000])


def mqtt5_request_with_big_properties(broker: Mosquitto) -> dict[str, Any]:
    """A GetVariables with a 60 kB Response Topic and User Property (MQTT 5); its answer on that topic.

    paho's DEBUG line of every PUBLISH received carries its properties as sent, and of every PUBLISH
    sent its topic. (mosquitto refuses control characters in them, so here it is the size that shows.)
    """
    topic = "reply/" + "r" * 60_000
    answers: queue.Queue[dict[str, Any]] = queue.Queue()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"mqtt5-{uuid.uuid4().hex[:8]}",
                         protocol=mqtt.MQTTv5)
    client.on_message = lambda _c, _u, message: answers.put(json.loads(message.payload))
    subscribed: queue.Queue[bool] = queue.Queue()
    client.on_subscribe = lambda *_args: subscribed.put(True)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        client.subscribe(topic, qos=1)
        subscribed.get(timeout=10)
        properties = Properties(PacketTypes.PUBLISH)
        properties.ResponseTopic = topic
        properties.CorrelationData = b"c" * 60_000
        properties.UserProperty = ("note", "u" * 60_000)
        request = envelope("GetVariables", {"getVariableData": [
            {"component": {"name": "TxCtrlr"}, "variable": {"name": "TxStartPoint"}}]})
        client.publish("cs/josev", json.dumps(request), qos=1, properties=properties).wait_for_publish(10)
        got = answers.get(timeout=10)
        check_envelope(got)
        assert got["id"] == request["id"], got
        return got
    finally:
        client.disconnect()
        client.loop_stop()


def test_a_readable_id_with_a_forged_line_is_logged_escaped(station: StationProcess, oem: OemClient) -> None:
    """Part 4 §4.2.3 has a readable id echoed, even one that is not a UUID: 33 characters with a newline.
    The dispatcher's lines escape it; the MQTT door's own "answered" line must too."""
    oem.barrier()
    offset = len(station.log_text())
    _, raw = raw_request("ocpp2.0.1", "GetVariables", b"{}", request_id=FORGED)
    assert answer(oem, raw, FORGED)["data"]["error_code"] == "RpcFrameworkError"
    oem.barrier()
    log = new_log(station, offset)
    assert not forged_lines(log), log[:3000]

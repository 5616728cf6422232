"""The MQTT door delivers what the station promised the OEM (report parts), in order, once acknowledged.

The parts are put in the outbox here directly, as an accepted GetBaseReport over MQTT does
(handlers/reports.py), before the station starts: what a station killed in the middle of a report
finds when it comes back. Each is published on josev/cs as an ``ocpp_message`` *request* of the
station's, under the message id the outbox gave it, and deleted once the broker has it.
"""

from __future__ import annotations

import json
import queue
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from ocpp_station.app import Station
from ocpp_station.config import Config

from ..support import RESPONSE_TOPIC, Mosquitto, StationProcess, check_response, request_validator, subscribed_client

PARTS = 5


def notify_report(seq_no: int, last: int) -> dict[str, Any]:
    return {"requestId": 42, "generatedAt": "2026-12-02T05:00:00Z", "seqNo": seq_no, "tbc": seq_no < last,
            "reportData": [{"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"},
                            "variableAttribute": [{"type": "Actual", "value": "60", "mutability": "ReadWrite"}],
                            "variableCharacteristics": {"dataType": "integer", "supportsMonitoring": False}}]}



class Listener:
    """A subscriber on a topic (MQTT 5), keeping every message with its Correlation Data."""

    def __init__(self, port: int, topic: str):
        self.messages: queue.Queue[tuple[dict[str, Any], bytes | None]] = queue.Queue()
        self._client = subscribed_client(port, topic, lambda _c, _u, m: self.messages.put(
            (json.loads(m.payload), getattr(m.properties, "CorrelationData", None))), name="oem")

    def take(self, count: int) -> list[tuple[dict[str, Any], bytes | None]]:
        """The next ``count`` messages but the station's security events (A04: its start is one), each
        of those checked against its schema and passed over."""
        taken: list[tuple[dict[str, Any], bytes | None]] = []
        while len(taken) < count:
            message, correlation = self.messages.get(timeout=15)
            data = message.get("data", {})
            if message.get("type") == "request" and data.get("message_name") == "SecurityEventNotification":
                request_validator(data["ocpp_version"], "SecurityEventNotification").validate(data["payload"])
                continue
            taken.append((message, correlation))
        return taken

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def test_b07_fr_03_parts_promised_before_a_restart_reach_the_oem_in_order_then_leave_the_outbox(
        broker: Mosquitto, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    station = Station(replace(Config(), data_dir=data_dir))
    with station.storage.unit_of_work():
        ids = station.outbox.add("mqtt", "ocpp2.0.1", "NotifyReport",
                                 [notify_report(n, PARTS - 1) for n in range(PARTS)],
                                 reply_to="oem/replies/7", correlation=b"corr-7")
    station.close()
    answers, replies = Listener(broker.port, RESPONSE_TOPIC), Listener(broker.port, "oem/replies/7")
    process = StationProcess(broker.url, data_dir).start()
    try:
        received = answers.take(PARTS)
        copies = replies.take(PARTS)
    finally:
        answers.close()
        replies.close()
        process.terminate()
    validator = request_validator("ocpp2.0.1", "NotifyReport")
    for (message, _), message_id, seq_no in zip(received, ids, range(PARTS), strict=True):
        assert message["id"] == message_id and message["name"] == "ocpp_message" and message["type"] == "request"
        assert message["data"]["ocpp_version"] == "ocpp2.0.1" and message["data"]["message_name"] == "NotifyReport"
        assert message["data"]["payload"]["seqNo"] == seq_no  # in order (B07.FR.10)
        validator.validate(message["data"]["payload"])
    assert [message for message, _ in copies] == [message for message, _ in received]  # the Response Topic too
    assert {correlation for _, correlation in copies} == {b"corr-7"}  # with the request's Correlation Data
    reopened = Station(replace(Config(), data_dir=data_dir))
    try:
        # Delivered: the broker acknowledged every part. (The station's own StartupOfTheDevice event,
        # queued at its start behind the parts, may still be on its way when it is stopped: it stays
        # queued, as it must, and is no part of this report.)
        left = [row.action for row in reopened.outgoing("mqtt", 10)]
        assert "NotifyReport" not in left and set(left) <= {"SecurityEventNotification"}, left
    finally:
        reopened.close()



def test_b07_fr_01_03_a_full_inventory_asked_over_mqtt_arrives_there_in_parts(
        broker: Mosquitto, tmp_path: Path) -> None:
    """The OEM's GetBaseReport: its CallResult, then every NotifyReport part on josev/cs, in order, with its
    requestId (B07.FR.04), seqNo from 0 (B07.FR.10), tbc on all but the last — published as soon as the
    answer is committed (the door wakes for them), and none left in the outbox afterwards."""
    config = tmp_path / "station.toml"
    config.write_text("[limits]\nreport_items_per_part = 20\n")  # several parts
    data_dir = tmp_path / "data"
    listener = Listener(broker.port, RESPONSE_TOPIC)
    process = StationProcess(broker.url, data_dir, ["--config", str(config)]).start()
    try:
        request = {"id": str(uuid.uuid4()), "name": "ocpp_message", "type": "request",
                   "data": {"ocpp_version": "ocpp2.1", "message_name": "GetBaseReport",
                            "payload": {"requestId": 4711, "reportBase": "FullInventory"}}}
        publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"oem-{uuid.uuid4().hex[:8]}")
        publisher.connect("127.0.0.1", broker.port)
        publisher.loop_start()
        publisher.publish("cs/josev", json.dumps(request), qos=1).wait_for_publish(5)
        publisher.disconnect()
        publisher.loop_stop()
        answer, _ = listener.take(1)[0]
        check_response(answer, "GetBaseReport", "ocpp2.1")
        assert answer["id"] == request["id"] and answer["data"]["payload"]["status"] == "Accepted"
        parts: list[dict[str, Any]] = []
        while not parts or parts[-1]["data"]["payload"]["tbc"]:
            [(part, _)] = listener.take(1)
            parts.append(part)
    finally:
        listener.close()
        process.terminate()
    validator = request_validator("ocpp2.1", "NotifyReport")
    assert len(parts) > 1
    for seq_no, part in enumerate(parts):
        assert part["type"] == "request" and part["data"]["message_name"] == "NotifyReport"
        payload = part["data"]["payload"]
        validator.validate(payload)
        assert (payload["requestId"], payload["seqNo"]) == (4711, seq_no)
    assert len({part["id"] for part in parts}) == len(parts)  # each its own id
    items = [item for part in parts for item in part["data"]["payload"]["reportData"]]
    heartbeat = [item for item in items if item["variable"]["name"] == "HeartbeatInterval"]
    assert heartbeat and heartbeat[0]["variableAttribute"][0]["value"] == "60"
    reopened = Station(replace(Config(), data_dir=data_dir))
    try:
        assert reopened.outgoing("mqtt", 1) == []
    finally:
        reopened.close()

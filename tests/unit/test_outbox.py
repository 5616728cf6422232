"""The outbox: what the station promised to send, kept until delivered, in order, per door."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import pytest

from ocpp_station.app import Station


def test_rows_come_back_in_order_per_door_and_survive_a_restart(make_station: Callable[..., Station]) -> None:
    station = make_station()
    heard: list[str] = []
    station.on_outgoing(heard.append)
    with station.storage.unit_of_work():
        mqtt_ids = station.outbox.add("mqtt", "ocpp2.0.1", "NotifyReport", [{"seqNo": 0}, {"seqNo": 1}],
                                      reply_to="oem/replies", correlation=b"\x01")
        csms_ids = station.outbox.add("csms", "ocpp2.1", "NotifyReport", [{"seqNo": 0}])
        assert heard == []  # listeners hear of rows once they are committed, not before
    assert heard == ["mqtt", "csms"]
    station.close()
    reopened = make_station()
    parts = reopened.outgoing("mqtt", 5)
    assert [p.payload for p in parts] == [{"seqNo": 0}, {"seqNo": 1}]
    assert [p.message_id for p in parts] == mqtt_ids  # resent under the same id
    assert parts[0].reply_to == "oem/replies" and parts[0].correlation == b"\x01"
    [towards_csms] = reopened.outgoing("csms", 5)
    assert (towards_csms.ocpp_version, towards_csms.message_id) == ("ocpp2.1", csms_ids[0])
    reopened.delivered(parts[0].seq)
    assert [p.payload for p in reopened.outgoing("mqtt", 5)] == [{"seqNo": 1}]
    assert reopened.outbox.pending("mqtt", "NotifyReport") == 1 and reopened.outbox.pending("csms") == 1


def test_rows_roll_back_with_the_answer_that_promised_them(make_station: Callable[..., Station]) -> None:
    """Both or neither: an answer promising parts that were not stored would be a broken promise."""
    station = make_station()
    with pytest.raises(RuntimeError), station.storage.unit_of_work():
        station.outbox.add("csms", "ocpp2.0.1", "NotifyReport", [{"seqNo": 0}])
        raise RuntimeError("the commit fails")
    assert station.outgoing("csms") == []


def test_the_parts_of_a_report_asked_over_mqtt_5_follow_its_response_topic(
        make_station: Callable[..., Station]) -> None:
    """The MQTT door hands the request's Response Topic and Correlation Data to the station: the parts
    the report promises are published there too (api/mqtt.py), as its answer is."""
    station = make_station()
    request = {"id": str(uuid.uuid4()), "name": "ocpp_message", "type": "request",
               "data": {"ocpp_version": "ocpp2.0.1", "message_name": "GetBaseReport",
                        "payload": {"requestId": 7, "reportBase": "ConfigurationInventory"}}}
    answer = station.handle(json.dumps(request).encode(), "oem/replies", b"corr")
    assert answer.outcome.startswith("CallResult"), answer
    parts = station.outgoing("mqtt", 100)
    assert parts and {(p.reply_to, p.correlation) for p in parts} == {("oem/replies", b"corr")}
    assert station.outgoing("csms", 1) == []  # asked over MQTT: the parts go back that way only

"""Reports from the OEM's side over a real mosquitto: ``StationClient.report``, ``ocpp-station report``.

Two kinds of station:

* :class:`FakeStation`, a test double of the station's report side (a paho client on the test's own
  broker): it answers GetBaseReport/GetReport as the API promises and then publishes NotifyReport parts
  as ``ocpp_message`` *requests* on ``josev/cs`` (and on the request's MQTT 5 Response Topic, with its
  Correlation Data), out of order and one of them twice, as a station that restarted would. It lets
  the client be tested for what no healthy station does on cue (a missing part, a refusal, a
  repeat) and needs nothing of the station's own implementation.
* the real station (``ocpp-station serve``, :class:`StationProcess`), end to end: the report
  ``ocpp-station report full --json`` prints is compared with what ``ocpp-station get`` reads.

Every envelope a test receives — the client's (:class:`CheckedClient`), the fake station's — is
checked against the seed's envelope schemas (tests/support.py), and every NotifyReport payload
against the official schema of its version.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ocpp_station.client import ReportRefused, ReportTimeout, StationClient
from ocpp_station.rpc.schemas import compiled

from ..support import (
    REQUEST_TOPIC,
    RESPONSE_TOPIC,
    Mosquitto,
    StationProcess,
    check_envelope,
    check_request_envelope,
    check_response,
    subscribed_client,
)

ROOT = Path(__file__).resolve().parents[2]

HEARTBEAT = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"},
             "variableAttribute": [{"type": "Actual", "value": "60", "mutability": "ReadWrite", "persistent": True,
                                    "constant": False}],
             "variableCharacteristics": {"unit": "s", "dataType": "integer", "minLimit": 1,
                                         "supportsMonitoring": False}}
PASSWORD = {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"},
            "variableAttribute": [{"type": "Actual", "mutability": "WriteOnly", "persistent": True,
                                   "constant": False}],
            "variableCharacteristics": {"dataType": "string", "maxLimit": 64, "supportsMonitoring": False}}
POWER = {"component": {"name": "EVSE", "evse": {"id": 1}}, "variable": {"name": "Power"},
         "variableAttribute": [{"type": "Actual", "value": "0", "mutability": "ReadOnly"},
                               {"type": "MaxSet", "value": "22000", "mutability": "ReadOnly"}],
         "variableCharacteristics": {"unit": "W", "dataType": "decimal", "minLimit": 0, "maxLimit": 22000,
                                     "supportsMonitoring": True}}
CONNECTOR = {"component": {"name": "Connector", "evse": {"id": 1, "connectorId": 1}},
             "variable": {"name": "ConnectorType"},
             "variableAttribute": [{"type": "Actual", "value": "cType2", "mutability": "ReadOnly"}],
             "variableCharacteristics": {"dataType": "OptionList", "valuesList": "cType2,sType2",
                                         "supportsMonitoring": False}}
PARTS = [[HEARTBEAT, PASSWORD], [POWER], [CONNECTOR]]  # seqNo 0, 1, 2


def check_notify_report(envelope: dict[str, Any]) -> None:
    """A NotifyReport the station sent: a valid OcppRequest, its payload valid against the official schema."""
    check_request_envelope(envelope)
    assert envelope["data"]["message_name"] == "NotifyReport", envelope
    compiled(envelope["data"]["ocpp_version"], "NotifyReport", "request").validate(envelope["data"]["payload"])


class CheckedClient(StationClient):
    """A StationClient that checks, and keeps in ``received``, every ``ocpp_message`` it reads."""

    received: list[dict[str, Any]]

    def _dispatch(self, message: Any) -> None:
        envelope = json.loads(message.payload)
        if not hasattr(self, "received"):
            self.received = []
        if isinstance(envelope, dict) and envelope.get("name") == "ocpp_message":
            if envelope.get("type") == "request":
                check_notify_report(envelope)
            else:
                check_envelope(envelope)
            self.received.append(envelope)
        super()._dispatch(message)


def run(url: str, work: Callable[[CheckedClient], Awaitable[Any]], **options: Any) -> tuple[Any, CheckedClient]:
    async def session() -> tuple[Any, CheckedClient]:
        async with CheckedClient(url, **options) as client:
            return await work(client), client

    return asyncio.run(session())


def cli(*args: str, url: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ocpp_station", *args, "--mqtt-url", url], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ})


class FakeStation:
    """The report side of a station, played on a real broker (see the module docstring).

    For each GetBaseReport/GetReport it answers ``status`` (with ``status_info``), then, if Accepted,
    publishes the parts of ``parts`` (a list of reportData lists, seqNo 0, 1, …) in the order
    ``order`` gives, part ``repeat`` twice in a row (same envelope), and first a part of another
    report (another requestId), which the client must pass over. Parts that ``order`` leaves out are
    never sent. What it receives is kept: ``requests`` (envelope, Response Topic) and ``answers`` (the
    OEM's answers to the parts), every one checked against the seed's envelope schemas.
    """

    def __init__(self, port: int, *, status: str = "Accepted", status_info: dict[str, str] | None = None,
                 parts: list[list[dict[str, Any]]] = PARTS, order: list[int] | None = None,
                 repeat: int | None = 1):
        self.status, self.status_info, self.parts, self.repeat = status, status_info, parts, repeat
        self.order = order if order is not None else [1, 0, 2]
        self.requests: queue.Queue[tuple[dict[str, Any], str | None]] = queue.Queue()
        self.answers: queue.Queue[dict[str, Any]] = queue.Queue()
        self.sent: list[dict[str, Any]] = []  # every part published, in publication order (repeats included)
        self._client = subscribed_client(port, REQUEST_TOPIC, self._on_message, name="fake-station")

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        envelope = json.loads(message.payload)
        if envelope.get("type") == "response":
            check_envelope(envelope)
            self.answers.put(envelope)
            return
        check_request_envelope(envelope)
        reply_to = getattr(message.properties, "ResponseTopic", None)
        correlation = getattr(message.properties, "CorrelationData", None)
        self.requests.put((envelope, reply_to))
        version, action = envelope["data"]["ocpp_version"], envelope["data"]["message_name"]
        payload: dict[str, Any] = {"status": self.status}
        if self.status_info is not None:
            payload["statusInfo"] = self.status_info
        compiled(version, action, "response").validate(payload)
        self._publish({"id": envelope["id"], "name": "ocpp_message", "type": "response",
                       "data": {"ocpp_version": version, "message_type": "CallResult", "payload": payload}},
                      reply_to, correlation)
        if self.status != "Accepted":
            return
        request_id = envelope["data"]["payload"]["requestId"]
        self._publish(self._part(request_id + 1, 0, False, [PASSWORD], version), None, None)  # not this client's
        last = len(self.parts) - 1
        made = {seq: self._part(request_id, seq, seq < last, data, version) for seq, data in enumerate(self.parts)}
        sequence = [repeated for seq in self.order for repeated in ([seq, seq] if seq == self.repeat else [seq])]
        for seq in sequence:  # the repeat right after the first: before the end, so it is sure to be read
            self.sent.append(made[seq])
            self._publish(made[seq], reply_to, correlation)

    @staticmethod
    def _part(request_id: int, seq_no: int, tbc: bool, data: list[dict[str, Any]], version: str) -> dict[str, Any]:
        payload = {"requestId": request_id, "generatedAt": "2026-12-02T05:00:00.000Z", "seqNo": seq_no, "tbc": tbc,
                   "reportData": data}
        compiled(version, "NotifyReport", "request").validate(payload)
        return {"id": str(uuid.uuid4()), "name": "ocpp_message", "type": "request",
                "data": {"ocpp_version": version, "message_name": "NotifyReport", "payload": payload}}

    def _publish(self, envelope: dict[str, Any], reply_to: str | None, correlation: bytes | None) -> None:
        """As the station does: on the Response Topic first (with the Correlation Data), then on josev/cs."""
        body = json.dumps(envelope)
        if reply_to:
            properties = Properties(PacketTypes.PUBLISH)
            if correlation is not None:
                properties.CorrelationData = correlation
            self._client.publish(reply_to, body, qos=1, properties=properties)
        self._client.publish(RESPONSE_TOPIC, body, qos=1)

    def take_answers(self, count: int, timeout: float = 10) -> list[dict[str, Any]]:
        return [self.answers.get(timeout=timeout) for _ in range(count)]


@pytest.fixture
def fake(broker: Mosquitto) -> Any:
    made: list[FakeStation] = []

    def make(**options: Any) -> FakeStation:
        made.append(FakeStation(broker.port, **options))
        return made[-1]

    yield make
    for station in made:
        station.close()


# -- StationClient against the fake station ----------------------------------------------------------

@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_report_puts_the_parts_in_order_drops_the_repeat_and_answers_each(broker: Mosquitto, fake: Any,
                                                                         protocol: str) -> None:
    station = fake()
    report, client = run(broker.url, lambda c: c.report("FullInventory", ocpp_version="ocpp2.1"), protocol=protocol)
    assert report.status == "Accepted" and report.parts == 3
    assert report.report_data == [HEARTBEAT, PASSWORD, POWER, CONNECTOR]  # seqNo order, not arrival order
    assert [(item.label, item.value) for item in report] == [
        ("OCPPCommCtrlr.HeartbeatInterval", "60"), ("SecurityCtrlr.BasicAuthPassword", None),
        ("EVSE[1].Power", "0"), ("Connector[1.1].ConnectorType", "cType2")]
    request, reply_to = station.requests.get(timeout=5)
    assert request["data"] == {"ocpp_version": "ocpp2.1", "message_name": "GetBaseReport",
                               "payload": {"requestId": report.request_id, "reportBase": "FullInventory"}}
    assert (reply_to is not None) == (protocol == "5")  # MQTT 5: the client's private reply topic
    # Four envelopes of this report reached the client (the repeat too), and each was answered with an
    # empty CallResult under its id; the other report's part was passed over, not answered.
    answers = station.take_answers(4)
    assert sorted(a["id"] for a in answers) == sorted(part["id"] for part in station.sent)
    for answer in answers:
        assert answer["data"]["message_type"] == "CallResult" and answer["data"]["payload"] == {}
        check_response(answer, "NotifyReport", "ocpp2.1")
    taken = [e for e in client.received if e["type"] == "request"]
    assert len([e for e in taken if e["data"]["payload"]["requestId"] == report.request_id]) == 4


def test_report_parts_yields_parts_as_they_can_be_taken(broker: Mosquitto, fake: Any) -> None:
    fake(order=[0, 2, 1], repeat=0)

    async def work(client: StationClient) -> tuple[list[int], str | None]:
        stream = client.report_parts("ConfigurationInventory", acknowledge=False)
        seen = [part.seq_no async for part in stream]
        return seen, stream.status.status if stream.status else None

    (seen, status), _ = run(broker.url, work)
    assert seen == [0, 1, 2] and status == "Accepted"


def test_components_and_criteria_send_get_report(broker: Mosquitto, fake: Any) -> None:
    station = fake(parts=[[POWER]], order=[0], repeat=None)
    report, _ = run(broker.url, lambda c: c.report(components=["EVSE[1]", "OCPPCommCtrlr.HeartbeatInterval"],
                                                   criteria=["Active"]))
    request, _ = station.requests.get(timeout=5)
    assert request["data"]["message_name"] == "GetReport"
    assert request["data"]["payload"] == {
        "requestId": report.request_id, "componentCriteria": ["Active"],
        "componentVariable": [{"component": {"name": "EVSE", "evse": {"id": 1}}},
                              {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}]}
    assert [item.label for item in report] == ["EVSE[1].Power"]


def test_empty_result_set_and_refusals(broker: Mosquitto, fake: Any) -> None:
    station = fake(status="EmptyResultSet")
    report, _ = run(broker.url, lambda c: c.report(components=["NoSuchCtrlr"]))
    assert report.status == "EmptyResultSet" and list(report) == [] and report.parts == 0
    station.close()
    fake(status="Rejected", status_info={"reasonCode": "InvalidMessageSeq", "additionalInfo": "a report is running"})
    with pytest.raises(ReportRefused, match=r"Rejected \(InvalidMessageSeq: a report is running\)") as refused:
        run(broker.url, lambda c: c.report())
    assert refused.value.reason == "InvalidMessageSeq"


def test_a_missing_part_times_out_naming_it(broker: Mosquitto, fake: Any) -> None:
    fake(order=[0, 2], repeat=None)  # part 1 never comes
    with pytest.raises(ReportTimeout, match=r"no new part within 0.5 s; received 2 part\(s\) \(0, 2\), "
                                            r"part\(s\) 1 missing"):
        run(broker.url, lambda c: c.report(part_timeout=0.5))


# -- ocpp-station report against the fake station ----------------------------------------------------

def test_cli_json_is_the_items_as_received_in_order(broker: Mosquitto, fake: Any) -> None:
    station = fake()
    done = cli("report", "full", "--json", "--ocpp-version", "ocpp2.1", url=broker.url)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert set(document) == {"requestId", "status", "parts", "reportData"}
    assert document["status"] == "Accepted" and document["parts"] == 3
    assert document["reportData"] == [HEARTBEAT, PASSWORD, POWER, CONNECTOR]
    request, _ = station.requests.get(timeout=5)
    assert request["data"]["payload"]["requestId"] == document["requestId"]
    assert done.stderr == ""  # no progress line: stderr is not a terminal


def test_cli_table(broker: Mosquitto, fake: Any) -> None:
    station = fake()
    done = cli("report", "full", "EVSE[1]", "Connector[1.1]", "--criteria", "active,Problem", url=broker.url)
    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.splitlines()]
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["COMPONENT", "VARIABLE", "TYPE", "VALUE", "MUTABILITY", "DATATYPE", "UNIT", "LIMITS"]
    assert rows[1] == ["OCPPCommCtrlr", "HeartbeatInterval", "Actual", "60", "ReadWrite", "integer", "s", "1.."]
    assert rows[2] == ["SecurityCtrlr", "BasicAuthPassword", "Actual", "WriteOnly", "string", "max", "length", "64"]
    assert lines[2][lines[0].index("VALUE"):lines[0].index("MUTABILITY")].strip() == ""  # no value: empty
    assert rows[3] == ["EVSE[1]", "Power", "Actual", "0", "ReadOnly", "decimal", "W", "0..22000"]
    assert rows[4] == ["EVSE[1]", "Power", "MaxSet", "22000", "ReadOnly", "decimal", "W", "0..22000"]
    assert lines[5].split(None, 6)[:6] == ["Connector[1.1]", "ConnectorType", "Actual", "cType2", "ReadOnly",
                                           "OptionList"]
    assert lines[5].endswith("values cType2,sType2")
    column = lines[0].index("MUTABILITY")  # aligned: every row's mutability starts under its header
    assert [line[column:].split()[0] for line in lines[1:]] == ["ReadWrite", "WriteOnly", *["ReadOnly"] * 3]
    request, _ = station.requests.get(timeout=5)
    assert request["data"]["message_name"] == "GetReport"
    assert request["data"]["payload"]["componentCriteria"] == ["Active", "Problem"]


def test_cli_exit_statuses(broker: Mosquitto, fake: Any) -> None:
    station = fake(status="NotSupported", status_info={"reasonCode": "UnsupportedReq"})
    done = cli("report", "summary", "--json", url=broker.url)
    assert done.returncode == 1
    document = json.loads(done.stdout)
    assert document == {"requestId": document["requestId"], "status": "NotSupported",
                        "statusInfo": {"reasonCode": "UnsupportedReq"}, "parts": 0, "reportData": []}
    request, _ = station.requests.get(timeout=5)
    assert request["data"]["payload"] == {"requestId": document["requestId"], "reportBase": "SummaryInventory"}
    assert "answered NotSupported (UnsupportedReq)" in done.stderr
    station.close()

    station = fake(status="EmptyResultSet")
    done = cli("report", "full", "NoSuchCtrlr", url=broker.url)
    assert done.returncode == 0 and done.stdout.startswith("EmptyResultSet"), done
    station.close()

    fake(order=[0], repeat=None)
    done = cli("report", "full", "--part-timeout", "0.5", url=broker.url)
    assert done.returncode == 3
    assert "no new part within 0.5 s" in done.stderr and "part 1 did not arrive" in done.stderr
    assert done.stdout == ""

    done = cli("report", "config", "EVSE[1]", url=broker.url)
    assert done.returncode == 2 and "report full" in done.stderr


def test_cli_exit_3_when_no_station_answers(broker: Mosquitto) -> None:
    done = cli("report", "full", "--timeout", "0.5", url=broker.url)
    assert done.returncode == 3 and "no answer within 0.5 s" in done.stderr


# -- end to end, against the real station ------------------------------------------------------------

def _station_reports() -> bool:
    """Whether this tree's station answers GetBaseReport and publishes the parts over MQTT."""
    handlers = ROOT / "src" / "ocpp_station" / "handlers"
    return ((handlers / "reports.py").exists() and "reports.ROUTES" in (handlers / "routes.py").read_text()
            and "outbox" in (ROOT / "src" / "ocpp_station" / "api" / "mqtt.py").read_text())


needs_station_reports = pytest.mark.skipif(not _station_reports(), reason="the station does not offer reports yet")
CHECKED = ["OCPPCommCtrlr.OfflineThreshold", "AuthCtrlr.LocalAuthorizeOffline", "EVSE[1].Power",
           "TxCtrlr.TxStartPoint", "Connector[1.1].ConnectorType", "DeviceDataCtrlr.ItemsPerMessage[GetVariables]"]


@needs_station_reports
@pytest.mark.parametrize("version", ["ocpp2.0.1", "ocpp2.1"])
def test_end_to_end_report_full_json_matches_get(station: StationProcess, mosquitto: Mosquitto,
                                                 version: str) -> None:
    done = cli("set", "OCPPCommCtrlr.OfflineThreshold=321", url=mosquitto.url)
    assert done.returncode == 0, done.stderr
    done = cli("report", "full", "--json", "--ocpp-version", version, url=mosquitto.url)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["status"] == "Accepted" and document["parts"] >= 1
    for item in document["reportData"]:  # each one a ReportDataType of the official schema
        compiled(version, "NotifyReport", "request").validate(
            {"requestId": 1, "generatedAt": "2026-01-01T00:00:00Z", "seqNo": 0, "reportData": [item]})
    reported = {_label(item): item for item in document["reportData"]}
    assert len(reported) == len(document["reportData"])  # every variable once
    done = cli("get", *CHECKED, "--json", "--ocpp-version", version, url=mosquitto.url)
    assert done.returncode == 0, done.stderr
    for result in json.loads(done.stdout):
        attributes = reported[result["variable"]]["variableAttribute"]
        actual = next(a for a in attributes if a.get("type", "Actual") == "Actual")
        assert actual.get("value") == result["value"], result["variable"]
    assert next(a for a in reported["OCPPCommCtrlr.OfflineThreshold"]["variableAttribute"]
                if a.get("type", "Actual") == "Actual")["value"] == "321"
    password = reported["SecurityCtrlr.BasicAuthPassword"]["variableAttribute"]
    assert all(a["mutability"] == "WriteOnly" and "value" not in a for a in password)


@needs_station_reports
@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_end_to_end_client_reports_over_both_mqtt_versions(station: StationProcess, mosquitto: Mosquitto,
                                                           protocol: str) -> None:
    async def work(client: StationClient) -> Any:
        full = await client.report("FullInventory")
        config = await client.report("ConfigurationInventory")
        evse = await client.report(components=["EVSE[1]", "OCPPCommCtrlr.HeartbeatInterval"])
        nothing = await client.report(components=["NoSuchCtrlr"])
        return full, config, evse, nothing

    (full, config, evse, nothing), client = run(mosquitto.url, work, protocol=protocol)
    assert client.protocol == protocol
    parts = [e for e in client.received if e["type"] == "request"]
    assert parts and all(e["data"]["message_name"] == "NotifyReport" for e in parts)  # each checked on arrival
    assert full.status == "Accepted" and len(full) > 50
    assert len({item.label for item in full}) == len(full)
    assert 0 < len(config) < len(full)
    assert all(any(a.mutability in ("ReadWrite", "WriteOnly") for a in item.attributes) for item in config)
    assert evse.status == "Accepted" and evse.items
    assert {item.ref.component for item in evse} == {"EVSE", "OCPPCommCtrlr"}
    assert all(item.ref.evse_id == 1 for item in evse if item.ref.component == "EVSE")
    assert [item.label for item in evse if item.ref.component == "OCPPCommCtrlr"] == ["OCPPCommCtrlr.HeartbeatInterval"]
    assert nothing.status == "EmptyResultSet" and list(nothing) == []


def _label(item: dict[str, Any]) -> str:
    """The `get` name of a ReportDataType item, e.g. ``Connector[1.1].ConnectorType``."""
    component, variable = item["component"], item["variable"]
    text = component["name"]
    if "evse" in component:
        evse = component["evse"]
        text += f"[{evse['id']}" + (f".{evse['connectorId']}" if "connectorId" in evse else "") + "]"
    if "instance" in component:
        text += f"({component['instance']})"
    text += f".{variable['name']}"
    if "instance" in variable:
        text += f"[{variable['instance']}]"
    return text

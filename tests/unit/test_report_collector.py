"""The OEM's side of reports, without a broker: the collector's rules, and StationClient's report calls.

:class:`ReportCollector` is fed envelopes as the client's reader hands them over. :class:`StationClient`
itself is run on a stub connection (:class:`StubBroker`) that plays the station: it answers the
GetBaseReport/GetReport the client publishes and hands the client's reader the NotifyReport envelopes a
test scripts, through the same ``_dispatch`` a real MQTT message goes through. Every part a test
builds is checked against the official NotifyReport schema first, and every envelope the client
publishes against the seed's envelope schemas (tests/support.py), so the tests feed and expect only
what the wire carries. The same against a real mosquitto, and end to end against a real station:
tests/integration/test_report_client.py.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any

import pytest

from ocpp_station.client import (
    CallError,
    ComponentVariable,
    Report,
    ReportAttribute,
    ReportCollector,
    ReportItem,
    ReportPart,
    ReportRefused,
    ReportTimeout,
    StationClient,
    StationUnreachable,
    VariableCharacteristics,
    VariableRef,
)
from ocpp_station.oem_types import MalformedPart, read_notify_report
from ocpp_station.rpc.schemas import compiled

from ..support import check_envelope, check_request_envelope

REQUEST_ID = 1234

HEARTBEAT = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"},
             "variableAttribute": [{"type": "Actual", "value": "60", "mutability": "ReadWrite", "persistent": True}],
             "variableCharacteristics": {"unit": "s", "dataType": "integer", "minLimit": 1,
                                         "supportsMonitoring": False}}
PASSWORD = {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"},
            "variableAttribute": [{"mutability": "WriteOnly"}],
            "variableCharacteristics": {"dataType": "string", "maxLimit": 64, "supportsMonitoring": False}}
POWER = {"component": {"name": "EVSE", "evse": {"id": 1}}, "variable": {"name": "Power"},
         "variableAttribute": [{"type": "Actual", "value": "0", "mutability": "ReadOnly"},
                               {"type": "MaxSet", "value": "22000", "mutability": "ReadOnly", "constant": True}],
         "variableCharacteristics": {"unit": "W", "dataType": "decimal", "maxLimit": 22000.0,
                                     "supportsMonitoring": True}}
CONNECTOR = {"component": {"name": "Connector", "evse": {"id": 1, "connectorId": 1}},
             "variable": {"name": "ConnectorType"},
             "variableAttribute": [{"value": "cType2", "mutability": "ReadOnly"}]}
ITEMS = {"component": {"name": "DeviceDataCtrlr"}, "variable": {"name": "ItemsPerMessage", "instance": "GetVariables"},
         "variableAttribute": [{"value": "100", "mutability": "ReadOnly"}],
         "variableCharacteristics": {"dataType": "integer", "supportsMonitoring": False}}


def part_envelope(seq_no: int, tbc: bool, report_data: list[dict[str, Any]] | None = None, *,
                  request_id: int = REQUEST_ID, message_id: str | None = None,
                  ocpp_version: str = "ocpp2.0.1") -> dict[str, Any]:
    """A NotifyReport part as the station publishes it (checked against the official schema)."""
    payload = {"requestId": request_id, "generatedAt": "2026-12-02T05:00:00.000Z", "seqNo": seq_no, "tbc": tbc,
               "reportData": report_data if report_data is not None else [HEARTBEAT]}
    compiled(ocpp_version, "NotifyReport", "request").validate(payload)
    envelope = {"id": message_id or str(uuid.uuid4()), "name": "ocpp_message", "type": "request",
                "data": {"ocpp_version": ocpp_version, "message_name": "NotifyReport", "payload": payload}}
    check_request_envelope(envelope)
    return envelope


def seq_nos(parts: list[ReportPart]) -> list[int]:
    return [part.seq_no for part in parts]


# -- the collector -----------------------------------------------------------------------------------

def test_parts_are_handed_out_in_seq_no_order_whatever_order_they_come_in() -> None:
    collector = ReportCollector(REQUEST_ID)
    assert collector.offer(part_envelope(2, False)) is True
    assert collector.take() == [] and not collector.complete  # 0 and 1 are missing: wait
    assert collector.missing() == [0, 1]
    assert collector.offer(part_envelope(0, True)) is True
    assert seq_nos(collector.take()) == [0]
    assert collector.missing() == [1] and not collector.complete
    assert collector.offer(part_envelope(1, True)) is True
    assert seq_nos(collector.take()) == [1, 2]
    assert collector.complete and collector.received == 3 and collector.missing() == []
    assert collector.take() == []  # each part once


def test_a_part_sent_twice_is_kept_once() -> None:
    """After a station restart or a reconnection the part it was not sure of comes again: same id, same seqNo."""
    collector = ReportCollector(REQUEST_ID)
    first = part_envelope(0, True, message_id="7b0e3d4e-0d8f-4a55-9a0e-5b9a52b8d0a1")
    assert collector.offer(first) is True
    assert collector.offer(first) is False  # waiting, not taken yet: still a repeat
    assert seq_nos(collector.take()) == [0]
    assert collector.offer(first) is False  # taken already: a repeat too
    assert collector.offer(part_envelope(0, True, [POWER])) is False  # the seqNo decides, not the id
    assert collector.offer(part_envelope(1, False)) is True
    assert seq_nos(collector.take()) == [1]
    assert collector.complete and collector.dropped == 3 and collector.received == 2


def test_the_report_ends_at_the_part_with_tbc_false() -> None:
    collector = ReportCollector(REQUEST_ID)
    assert collector.offer(part_envelope(0, False)) is True
    assert seq_nos(collector.take()) == [0] and collector.complete  # a one-part report
    assert collector.offer(part_envelope(1, True)) is False  # after the end: dropped
    assert collector.take() == []

    contradicted = ReportCollector(REQUEST_ID)
    contradicted.offer(part_envelope(3, True))
    contradicted.offer(part_envelope(1, False))  # the end is at 1: part 3 cannot belong
    assert contradicted.missing() == [0] and contradicted.dropped == 1
    contradicted.offer(part_envelope(0, True))
    assert seq_nos(contradicted.take()) == [0, 1] and contradicted.complete


def test_tbc_left_out_means_the_last_part() -> None:
    envelope = part_envelope(0, False)
    del envelope["data"]["payload"]["tbc"]  # the schema's default is false
    collector = ReportCollector(REQUEST_ID)
    assert collector.offer(envelope) is True
    assert seq_nos(collector.take()) == [0] and collector.complete


@pytest.mark.parametrize("message", [
    pytest.param(part_envelope(0, False, request_id=REQUEST_ID + 1), id="another report's part"),
    pytest.param({"id": str(uuid.uuid4()), "name": "ocpp_message", "type": "response",
                  "data": {"ocpp_version": "ocpp2.0.1", "message_type": "CallResult",
                           "payload": {"status": "Accepted"}}},
                 id="an answer"),
    pytest.param({**part_envelope(0, False), "name": "device_model"}, id="another Josev message"),
    pytest.param({**part_envelope(0, False), "type": "response"}, id="typed a response"),
    pytest.param({"id": str(uuid.uuid4()), "name": "ocpp_message", "type": "request",
                  "data": {"ocpp_version": "ocpp2.0.1", "message_name": "NotifyEvent",
                           "payload": {"requestId": REQUEST_ID, "seqNo": 0}}}, id="another request of the station's"),
    pytest.param([1, 2], id="not an object"),
    pytest.param("NotifyReport", id="a string"),
])
def test_what_is_not_a_part_of_this_report_is_passed_over(message: Any) -> None:
    collector = ReportCollector(REQUEST_ID)
    assert collector.offer(message) is None
    assert collector.received == 0 and collector.dropped == 0


def test_a_part_that_cannot_be_read_is_an_error_for_its_own_report_only() -> None:
    broken = part_envelope(1, False)
    broken["data"]["payload"]["reportData"][0] = {"component": {"name": "OCPPCommCtrlr"}}  # no variable
    with pytest.raises(MalformedPart, match="reportData/0: variable: not an object") as raised:
        ReportCollector(REQUEST_ID).offer(broken)
    assert raised.value.request_id == REQUEST_ID
    assert ReportCollector(REQUEST_ID + 1).offer(broken) is None  # someone else's problem
    no_seq = part_envelope(0, False)
    del no_seq["data"]["payload"]["seqNo"]
    with pytest.raises(MalformedPart, match="seqNo: missing"):
        ReportCollector(REQUEST_ID).offer(no_seq)
    negative = part_envelope(0, False)
    negative["data"]["payload"]["seqNo"] = -1
    with pytest.raises(MalformedPart, match="negative"):
        ReportCollector(REQUEST_ID).offer(negative)
    boolean = part_envelope(0, False)
    boolean["data"]["payload"]["requestId"] = True
    with pytest.raises(MalformedPart, match="integer requestId"):
        read_notify_report(boolean)


def test_state_says_what_the_report_waits_for() -> None:
    collector = ReportCollector(REQUEST_ID)
    assert collector.state() == "no part arrived"
    for seq in (0, 1, 2, 5):
        collector.offer(part_envelope(seq, True))
    collector.take()
    assert collector.state() == "received 4 part(s) (0-2, 5), part(s) 3-4 missing"
    collector.offer(part_envelope(3, True))
    collector.offer(part_envelope(4, True))
    collector.take()
    assert collector.state() == "received parts 0-5; part 5 said more was to come (tbc), part 6 did not arrive"
    collector.offer(part_envelope(6, False))
    collector.take()
    assert collector.state() == "complete"


# -- what a part holds -------------------------------------------------------------------------------

def test_a_part_reads_into_typed_items_with_the_schema_defaults() -> None:
    envelope = part_envelope(0, False, [HEARTBEAT, PASSWORD, POWER, CONNECTOR, ITEMS], ocpp_version="ocpp2.1",
                             message_id="b7f2c7f0-6a43-4d8e-9e1c-2f5e0f6f1a11")
    part = read_notify_report(envelope)
    assert part is not None
    assert (part.request_id, part.seq_no, part.tbc, part.message_id, part.ocpp_version) == (
        REQUEST_ID, 0, False, "b7f2c7f0-6a43-4d8e-9e1c-2f5e0f6f1a11", "ocpp2.1")
    assert part.generated_at == "2026-12-02T05:00:00.000Z"
    heartbeat, password, power, connector, items = part.items
    assert heartbeat.ref == VariableRef("OCPPCommCtrlr", "HeartbeatInterval") and heartbeat.value == "60"
    assert heartbeat.attributes == (ReportAttribute("Actual", "60", "ReadWrite", persistent=True),)
    assert heartbeat.characteristics == VariableCharacteristics("integer", False, unit="s", min_limit=1)
    assert password.attributes == (ReportAttribute("Actual", None, "WriteOnly"),)  # no value: it is secret
    assert password.value is None
    assert power.label == "EVSE[1].Power" and power.ref.component_label == "EVSE[1]"
    assert power.attribute("MaxSet") == ReportAttribute("MaxSet", "22000", "ReadOnly", constant=True)
    assert power.attribute("Target") is None
    assert power.characteristics is not None and power.characteristics.max_limit == 22000.0
    assert connector.ref == VariableRef("Connector", "ConnectorType", evse_id=1, connector_id=1)
    assert connector.characteristics is None
    assert connector.attributes[0].mutability == "ReadOnly" and connector.attributes[0].type == "Actual"
    assert items.label == "DeviceDataCtrlr.ItemsPerMessage[GetVariables]"
    assert items.ref.variable_label == "ItemsPerMessage[GetVariables]"
    assert part.report_data == [HEARTBEAT, PASSWORD, POWER, CONNECTOR, ITEMS]  # as received
    assert ReportItem.from_ocpp(HEARTBEAT) == heartbeat


def test_an_empty_part_has_no_items() -> None:
    envelope = part_envelope(0, False)
    del envelope["data"]["payload"]["reportData"]  # optional in the schema
    part = read_notify_report(envelope)
    assert part is not None and part.items == ()


# -- what GetReport asks about -----------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected", "ocpp"), [
    ("EVSE[1]", ComponentVariable("EVSE", evse_id=1), {"component": {"name": "EVSE", "evse": {"id": 1}}}),
    ("Connector[1.1]", ComponentVariable("Connector", evse_id=1, connector_id=1),
     {"component": {"name": "Connector", "evse": {"id": 1, "connectorId": 1}}}),
    ("NetworkConfiguration(2)", ComponentVariable("NetworkConfiguration", component_instance="2"),
     {"component": {"name": "NetworkConfiguration", "instance": "2"}}),
    ("OCPPCommCtrlr.HeartbeatInterval", ComponentVariable("OCPPCommCtrlr", "HeartbeatInterval"),
     {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}),
    ("DeviceDataCtrlr.ItemsPerMessage[GetVariables]",
     ComponentVariable("DeviceDataCtrlr", "ItemsPerMessage", variable_instance="GetVariables"),
     {"component": {"name": "DeviceDataCtrlr"}, "variable": {"name": "ItemsPerMessage", "instance": "GetVariables"}}),
    (" TxCtrlr ", ComponentVariable("TxCtrlr"), {"component": {"name": "TxCtrlr"}}),
])
def test_component_variable_parse(text: str, expected: ComponentVariable, ocpp: dict[str, Any]) -> None:
    parsed = ComponentVariable.parse(text)
    assert parsed == expected
    assert parsed.to_ocpp() == ocpp
    assert ComponentVariable.parse(str(parsed)) == parsed
    compiled("ocpp2.0.1", "GetReport", "request").validate({"requestId": 1, "componentVariable": [ocpp]})


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty component reference"),
    ("EVSE[x]", "must be an EVSE id"),
    ("EVSE[1", "expected Component or Component.Variable"),
    ("NetworkConfiguration()", "empty or invalid component instance"),
    ("OCPPCommCtrlr.HeartbeatInterval:Actual", "leave out ':Actual'"),
    ("A.B.C", "not a variable reference"),
])
def test_component_variable_parse_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("[", r"\[")):
        ComponentVariable.parse(text)


def test_component_variable_from_a_variable_ref() -> None:
    ref = VariableRef.parse("Connector[1.2](x).ConnectorType[y]:Target")
    assert ComponentVariable.coerce(ref) == ComponentVariable("Connector", "ConnectorType", component_instance="x",
                                                              variable_instance="y", evse_id=1, connector_id=2)
    with pytest.raises(ValueError, match="variable instance needs a variable"):
        ComponentVariable("EVSE", variable_instance="x")


# -- StationClient's report calls, on a stub connection ------------------------------------------------

class StubBroker:
    """What StationClient publishes on, playing the station: it answers the report request with
    ``status`` and then hands the client's reader the envelopes ``script`` makes of the request.

    Every envelope the client publishes is checked against the seed's envelope schemas and kept:
    ``requests`` (its GetBaseReport/GetReport) and ``answers`` (its answers to the parts).
    """

    def __init__(self, client: StationClient, status: dict[str, Any],
                 script: Callable[[dict[str, Any]], list[dict[str, Any]]] = lambda request: [],
                 delay: float = 0.0):
        self.client, self.status, self.script, self.delay = client, status, script, delay
        self.requests: list[dict[str, Any]] = []
        self.answers: list[dict[str, Any]] = []

    async def publish(self, topic: str, payload: bytes, qos: int = 0, properties: Any = None) -> None:
        assert topic == "cs/josev" and qos == 1
        envelope = json.loads(payload)
        if envelope["type"] == "response":
            check_envelope(envelope)
            self.answers.append(envelope)
            return
        check_request_envelope(envelope)
        self.requests.append(envelope)
        loop = asyncio.get_running_loop()
        answer = {"id": envelope["id"], "name": "ocpp_message", "type": "response",
                  "data": {"ocpp_version": envelope["data"]["ocpp_version"], "message_type": "CallResult",
                           "payload": self.status}}
        compiled(envelope["data"]["ocpp_version"], envelope["data"]["message_name"], "response").validate(self.status)
        messages = [answer, *self.script(envelope)]
        for index, message in enumerate(messages):  # after this publish returns, as from a broker
            loop.call_later(self.delay * index, self.client._dispatch,
                            SimpleNamespace(payload=json.dumps(message).encode(), properties=None))


def on_stub(status: dict[str, Any], work: Callable[[StationClient], Awaitable[Any]],
            script: Callable[[dict[str, Any]], list[dict[str, Any]]] = lambda request: [],
            delay: float = 0.0) -> tuple[Any, StubBroker]:
    """Run ``work`` with a StationClient connected to a :class:`StubBroker`; its result and the stub."""
    async def session() -> tuple[Any, StubBroker]:
        client = StationClient("mqtt://127.0.0.1:1")
        stub = StubBroker(client, status, script, delay)
        client._client, client.protocol, client.reply_topic = stub, "3.1.1", "josev/cs"  # type: ignore[assignment]
        return await work(client), stub

    return asyncio.run(session())


def parts_of(*layout: tuple[int, bool, list[dict[str, Any]]], repeat: int | None = None,
             foreign: bool = False) -> Callable[[dict[str, Any]], list[dict[str, Any]]]:
    """A script: the parts ``(seqNo, tbc, reportData)`` in this order for the request's requestId, the
    part at index ``repeat`` sent again (same envelope), and with ``foreign`` another report's part first."""
    def script(request: dict[str, Any]) -> list[dict[str, Any]]:
        request_id = request["data"]["payload"]["requestId"]
        version = request["data"]["ocpp_version"]
        made = [part_envelope(seq, tbc, data, request_id=request_id, ocpp_version=version) for seq, tbc, data in layout]
        if repeat is not None:
            made.append(made[repeat])
        if foreign:
            made.insert(0, part_envelope(0, False, [PASSWORD], request_id=request_id + 1, ocpp_version=version))
        return made
    return script


def test_report_collects_every_item_in_order_and_answers_every_part() -> None:
    script = parts_of((1, True, [POWER]), (0, True, [HEARTBEAT, PASSWORD]), (2, False, [CONNECTOR]),
                      repeat=0, foreign=True)
    report, stub = on_stub({"status": "Accepted"}, lambda c: c.report("FullInventory", ocpp_version="ocpp2.1"),
                           script)
    assert isinstance(report, Report) and report.status == "Accepted" and report.parts == 3
    assert [item.label for item in report] == ["OCPPCommCtrlr.HeartbeatInterval", "SecurityCtrlr.BasicAuthPassword",
                                               "EVSE[1].Power", "Connector[1.1].ConnectorType"]
    assert len(report) == 4 and report.report_data == [HEARTBEAT, PASSWORD, POWER, CONNECTOR]
    [request] = stub.requests
    assert request["data"]["message_name"] == "GetBaseReport" and request["data"]["ocpp_version"] == "ocpp2.1"
    assert request["data"]["payload"] == {"requestId": report.request_id, "reportBase": "FullInventory"}
    assert 1 <= report.request_id < 2**31
    # Four envelopes of this report (the repeat included), each answered once; the foreign one not at all.
    assert len(stub.answers) == 4
    assert {a["data"]["ocpp_version"] for a in stub.answers} == {"ocpp2.1"}
    assert all(a["data"]["message_type"] == "CallResult" and a["data"]["payload"] == {} for a in stub.answers)
    compiled("ocpp2.1", "NotifyReport", "response").validate({})


def test_report_parts_yields_each_part_as_it_can_and_the_stream_says_the_status() -> None:
    async def work(client: StationClient) -> tuple[list[int], Any]:
        stream = client.report_parts("ConfigurationInventory", acknowledge=False)
        seen = [part.seq_no async for part in stream]
        return seen, (stream.status, stream.parts, stream.items, stream.action)

    (seen, (status, parts, items, action)), stub = on_stub(
        {"status": "Accepted"}, work, parts_of((0, True, [HEARTBEAT]), (1, False, [PASSWORD, ITEMS])), delay=0.01)
    assert seen == [0, 1] and status.status == "Accepted" and (parts, items, action) == (2, 3, "GetBaseReport")
    assert stub.answers == []  # acknowledge=False: no answers
    assert stub.requests[0]["data"]["payload"]["reportBase"] == "ConfigurationInventory"


def test_components_or_criteria_send_get_report() -> None:
    report, stub = on_stub({"status": "Accepted"}, lambda c: c.report(
        components=["EVSE[1]", VariableRef("OCPPCommCtrlr", "HeartbeatInterval"),
                    ComponentVariable("NetworkConfiguration", component_instance="2")],
        criteria=["Problem", "Active", "Problem"], request_id=77), parts_of((0, False, [POWER])))
    [request] = stub.requests
    assert request["data"]["message_name"] == "GetReport"
    assert request["data"]["payload"] == {
        "requestId": 77, "componentCriteria": ["Problem", "Active"],
        "componentVariable": [{"component": {"name": "EVSE", "evse": {"id": 1}}},
                              {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}},
                              {"component": {"name": "NetworkConfiguration", "instance": "2"}}]}
    compiled("ocpp2.0.1", "GetReport", "request").validate(request["data"]["payload"])
    assert report.request_id == 77 and [item.label for item in report] == ["EVSE[1].Power"]

    _, only_criteria = on_stub({"status": "Accepted"}, lambda c: c.report(criteria=["Enabled"]),
                               parts_of((0, False, [POWER])))
    assert set(only_criteria.requests[0]["data"]["payload"]) == {"requestId", "componentCriteria"}


def test_empty_result_set_is_an_empty_report_not_an_error() -> None:
    report, stub = on_stub({"status": "EmptyResultSet"}, lambda c: c.report(components=["NoSuchCtrlr"]))
    assert report.status == "EmptyResultSet" and report.items == () and report.parts == 0 and list(report) == []
    assert stub.answers == []


@pytest.mark.parametrize("status", ["Rejected", "NotSupported"])
def test_rejected_or_not_supported_is_an_error_carrying_the_status_info(status: str) -> None:
    answer = {"status": status, "statusInfo": {"reasonCode": "Busy", "additionalInfo": "a report is running"}}
    with pytest.raises(ReportRefused, match=f"answered {status} \\(Busy: a report is running\\)") as raised:
        on_stub(answer, lambda c: c.report(request_id=5))
    assert (raised.value.request_id, raised.value.status, raised.value.reason, raised.value.additional_info) == (
        5, status, "Busy", "a report is running")


def test_a_report_that_stops_coming_times_out_saying_what_is_missing() -> None:
    with pytest.raises(ReportTimeout, match=r"no new part within 0.2 s; .*part\(s\) 1 missing") as raised:
        on_stub({"status": "Accepted"}, lambda c: c.report(part_timeout=0.2),
                parts_of((0, True, [HEARTBEAT]), (2, False, [POWER])))
    assert isinstance(raised.value, TimeoutError) and raised.value.received == 2
    with pytest.raises(ReportTimeout, match="part 0 said more was to come"):
        on_stub({"status": "Accepted"}, lambda c: c.report(part_timeout=0.2), parts_of((0, True, [HEARTBEAT])))
    with pytest.raises(ReportTimeout, match="no part arrived"):
        on_stub({"status": "Accepted"}, lambda c: c.report(part_timeout=0.2))


def test_the_timeout_is_between_parts_not_for_the_whole_report() -> None:
    """Five parts 0.1 s apart take 0.4 s in all, longer than the 0.25 s allowed between two of them."""
    layout = [(seq, seq < 4, [HEARTBEAT]) for seq in range(5)]
    report, _ = on_stub({"status": "Accepted"}, lambda c: c.report(part_timeout=0.25), parts_of(*layout), delay=0.1)
    assert report.parts == 5


def test_a_lost_link_ends_the_report_with_the_error() -> None:
    async def work(client: StationClient) -> None:
        async for part in client.report_parts(part_timeout=5):
            client._fail_pending(StationUnreachable("lost the link"))  # what the reader does when the link drops
            assert part.seq_no == 0

    with pytest.raises(StationUnreachable, match="lost the link"):
        on_stub({"status": "Accepted"}, work, parts_of((0, True, [HEARTBEAT])))


def test_leaving_early_stops_collecting() -> None:
    async def work(client: StationClient) -> int:
        stream = client.report_parts()
        async with stream:
            async for _part in stream:
                break
        return len(client._reports)

    still_waiting, _ = on_stub({"status": "Accepted"}, work, parts_of((0, True, [HEARTBEAT]), (1, False, [POWER])))
    assert still_waiting == 0


def test_a_call_error_is_raised_as_for_any_call() -> None:
    async def work(client: StationClient) -> Report:
        stub: Any = client._client
        stub.status = {}  # not a GetBaseReportResponse: make the stub answer a CallError instead

        async def publish(topic: str, payload: bytes, qos: int = 0, properties: Any = None) -> None:
            request = json.loads(payload)
            error = {"id": request["id"], "name": "ocpp_message", "type": "response",
                     "data": {"ocpp_version": "ocpp2.0.1", "message_type": "CallError", "error_code": "NotImplemented",
                              "error_description": "not offered", "error_details": {}}}
            check_envelope(error)
            asyncio.get_running_loop().call_soon(client._dispatch, SimpleNamespace(
                payload=json.dumps(error).encode(), properties=None))

        stub.publish = publish
        return await client.report()

    with pytest.raises(CallError, match="NotImplemented"):
        on_stub({"status": "Accepted"}, work)


@pytest.mark.parametrize(("call", "message"), [
    (lambda c: c.report_parts("Everything"), "unknown report base"),
    (lambda c: c.report_parts(criteria=["Broken"]), "unknown component criterion"),
    (lambda c: c.report_parts(components=["EVSE[x]"]), "must be an EVSE id"),
    (lambda c: c.report_parts(ocpp_version="ocpp1.6"), "2.0.1 and 2.1 only"),
    (lambda c: c.report_parts(ocpp_version="ocpp3"), "ocpp_version must be one of"),
    (lambda c: c.report_parts(request_id="1"), "request_id must be an integer"),
])
def test_bad_arguments_are_refused_before_anything_is_sent(call: Callable[[StationClient], Any],
                                                           message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call(StationClient("mqtt://127.0.0.1:1"))

"""``ocpp_station.client.StationClient`` against a real mosquitto and a real station process.

Every answer the client receives in these tests is also checked with :func:`check_response`
(envelope + official response schema) by :class:`CheckedClient`.
"""

from __future__ import annotations

import asyncio
import json
import queue
import threading
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ocpp_station.client import CallError, StationClient, StationUnreachable, VariableRef
from ocpp_station.station.certificates import compute_hash_data

from ..support import Mosquitto, StationProcess, ca_certificate, check_response, free_port

V16, V201, V21 = "ocpp1.6", "ocpp2.0.1", "ocpp2.1"


class CheckedClient(StationClient):
    """A StationClient whose every raw answer must be a well-formed, schema-valid OcppResponse."""

    async def call_raw(self, action: str, payload: Any, *, ocpp_version: str = V201,
                       timeout: float = 10.0) -> dict[str, Any]:
        answer = await super().call_raw(action, payload, ocpp_version=ocpp_version, timeout=timeout)
        check_response(answer, action, ocpp_version)
        return answer


def run(mosquitto: Mosquitto, work: Callable[[StationClient], Awaitable[Any]], **options: Any) -> Any:
    async def session() -> Any:
        async with CheckedClient(mosquitto.url, **options) as client:
            return await work(client)

    return asyncio.run(session())


def root_pem(cn: str) -> tuple[str, x509.Certificate]:
    cert, _key = ca_certificate(cn)
    return cert.public_bytes(serialization.Encoding.PEM).decode(), cert


# -- VariableRef (no broker) -------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("OCPPCommCtrlr.OfflineThreshold", VariableRef("OCPPCommCtrlr", "OfflineThreshold")),
    ("EVSE[1].AvailabilityState", VariableRef("EVSE", "AvailabilityState", evse_id=1)),
    ("DeviceDataCtrlr.ItemsPerMessage[GetVariables]",
     VariableRef("DeviceDataCtrlr", "ItemsPerMessage", variable_instance="GetVariables")),
    ("Connector[1.2].ConnectorType", VariableRef("Connector", "ConnectorType", evse_id=1, connector_id=2)),
    ("NetworkConfiguration(2).OcppCsmsUrl",
     VariableRef("NetworkConfiguration", "OcppCsmsUrl", component_instance="2")),
    ("OCPPCommCtrlr.OfflineThreshold:Target",
     VariableRef("OCPPCommCtrlr", "OfflineThreshold", attribute_type="Target")),
    ("EVSE[2](main).Power[L1]:MaxSet", VariableRef("EVSE", "Power", component_instance="main",
                                                   variable_instance="L1", evse_id=2, attribute_type="MaxSet")),
    ("  TxCtrlr.TxStartPoint ", VariableRef("TxCtrlr", "TxStartPoint")),
])
def test_variable_ref_parse(text: str, expected: VariableRef) -> None:
    ref = VariableRef.parse(text)
    assert ref == expected
    assert VariableRef.parse(str(ref)) == ref  # str() writes the same syntax back


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty variable reference"),
    ("OfflineThreshold", "expected Component.Variable"),
    ("OCPPCommCtrlr.OfflineThreshold:Bogus", "unknown attribute type 'Bogus'"),
    ("EVSE[x].Power", "must be an EVSE id"),
    ("Connector[1.].ConnectorType", "non-negative integers"),
    ("EVSE[-1].Power", "non-negative"),
    ("NetworkConfiguration().OcppCsmsUrl", "empty or invalid component instance"),
    ("A.B.C", "not a variable reference"),
    ("OCPPCommCtrlr.", "not a variable reference"),
    ("EVSE[1.Power", "not a variable reference"),
])
def test_variable_ref_parse_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("[", r"\[")):
        VariableRef.parse(text)


def test_variable_ref_to_ocpp() -> None:
    assert VariableRef.parse("Connector[1.2](x).ConnectorType[y]:Actual").to_ocpp() == {
        "component": {"name": "Connector", "instance": "x", "evse": {"id": 1, "connectorId": 2}},
        "variable": {"name": "ConnectorType", "instance": "y"}, "attributeType": "Actual"}
    assert VariableRef.parse("TxCtrlr.TxStartPoint").to_ocpp() == {
        "component": {"name": "TxCtrlr"}, "variable": {"name": "TxStartPoint"}}
    assert VariableRef.coerce(("AuthCtrlr", "Enabled")) == VariableRef("AuthCtrlr", "Enabled")
    with pytest.raises(ValueError, match="connector id needs an EVSE id"):
        VariableRef("Connector", "ConnectorType", connector_id=1)
    with pytest.raises(ValueError, match="not a variable reference"):
        VariableRef.coerce(42)  # type: ignore[arg-type]


def test_client_rejects_a_bad_url_and_protocol() -> None:
    with pytest.raises(ValueError, match="mqtt://"):
        StationClient("http://example")
    with pytest.raises(ValueError, match="protocol"):
        StationClient("mqtt://127.0.0.1", protocol="4")


# -- device model ------------------------------------------------------------------------------------

@pytest.mark.parametrize("version", [V201, V21])
def test_get_variables(station: StationProcess, mosquitto: Mosquitto, version: str) -> None:
    refs = [("OCPPCommCtrlr", "OfflineThreshold"), VariableRef("EVSE", "Power", evse_id=1),
            "DeviceDataCtrlr.ItemsPerMessage[GetVariables]", "Connector[1.1].ConnectorType",
            "NoSuchCtrlr.Foo", "OCPPCommCtrlr.NoSuchVariable"]
    results = run(mosquitto, lambda c: c.get_variables(refs, ocpp_version=version))
    assert [r.status for r in results] == ["Accepted"] * 4 + ["UnknownComponent", "UnknownVariable"]
    assert [str(r.ref) for r in results[:4]] == ["OCPPCommCtrlr.OfflineThreshold", "EVSE[1].Power",
                                                 "DeviceDataCtrlr.ItemsPerMessage[GetVariables]",
                                                 "Connector[1.1].ConnectorType"]
    assert results[0].value.isdigit() and results[2].value == "100"
    assert results[0].attribute_type == "Actual" and results[0].accepted
    assert results[4].value is None and not results[4].accepted


@pytest.mark.parametrize("version", [V201, V21])
def test_set_variables_then_read_back(station: StationProcess, mosquitto: Mosquitto, version: str) -> None:
    async def work(c: StationClient) -> tuple[list, list, list]:
        by_dict = await c.set_variables({"OCPPCommCtrlr.OfflineThreshold": 321,
                                         "AuthCtrlr.LocalAuthorizeOffline": False}, ocpp_version=version)
        by_list = await c.set_variables([(("OCPPCommCtrlr", "OfflineThreshold"), "654"),
                                         ("OCPPCommCtrlr.NoSuchVariable", "1"),
                                         ("OCPPCommCtrlr.OfflineThreshold:Target", "1")], ocpp_version=version)
        read = await c.get_variables(["OCPPCommCtrlr.OfflineThreshold", "AuthCtrlr.LocalAuthorizeOffline"],
                                     ocpp_version=version)
        return by_dict, by_list, read

    by_dict, by_list, read = run(mosquitto, work)
    assert [r.status for r in by_dict] == ["Accepted", "Accepted"] and all(r.accepted for r in by_dict)
    assert [r.status for r in by_list] == ["Accepted", "UnknownVariable", "NotSupportedAttributeType"]
    assert by_list[2].attribute_type == "Target" and by_list[2].ref.attribute_type is None
    assert by_list[2].label == "OCPPCommCtrlr.OfflineThreshold:Target" and not by_list[2].accepted
    assert [r.value for r in read] == ["654", "false"]


def test_set_variables_rejected_value_has_a_reason(station: StationProcess, mosquitto: Mosquitto) -> None:
    [result] = run(mosquitto, lambda c: c.set_variables({"OCPPCommCtrlr.OfflineThreshold": "not a number"}))
    assert result.status == "Rejected" and not result.accepted
    assert result.reason  # statusInfo.reasonCode, e.g. InvalidValue


# -- certificates ------------------------------------------------------------------------------------

@pytest.mark.parametrize("version", [V16, V201, V21])
def test_install_list_delete_certificate(station: StationProcess, mosquitto: Mosquitto, version: str) -> None:
    pem, cert = root_pem(f"client test root {version}")
    expected = compute_hash_data(cert, cert).to_ocpp()

    async def work(c: StationClient) -> tuple[Any, ...]:
        installed = await c.install_certificate(pem, ocpp_version=version)  # CSMSRootCertificate (1.6: CentralSystem…)
        listed = await c.get_installed_certificate_ids(["CSMSRootCertificate"], ocpp_version=version)
        everything = await c.get_installed_certificate_ids(ocpp_version=version)
        deleted = await c.delete_certificate(expected, ocpp_version=version)
        again = await c.delete_certificate(expected, ocpp_version=version)
        after = await c.get_installed_certificate_ids(["CSMSRootCertificate"], ocpp_version=version)
        return installed, listed, everything, deleted, again, after

    installed, listed, everything, deleted, again, after = run(mosquitto, work)
    assert installed.status == "Accepted" and installed.accepted
    assert [(c.certificate_type, c.hash_data) for c in listed if c.hash_data == expected] == [
        ("CSMSRootCertificate", expected)]
    assert any(c.hash_data == expected for c in everything)
    assert deleted.accepted
    assert again.status == "NotFound" and not again.accepted
    assert all(c.hash_data != expected for c in after)


def test_install_rejects_garbage_with_a_reason(station: StationProcess, mosquitto: Mosquitto) -> None:
    status = run(mosquitto, lambda c: c.install_certificate("-----BEGIN CERTIFICATE-----\nAAAA\n"
                                                            "-----END CERTIFICATE-----\n", "V2GRootCertificate"))
    assert status.status == "Rejected" and status.reason


# -- network profiles --------------------------------------------------------------------------------

def test_set_network_profile_201_and_21(station: StationProcess, mosquitto: Mosquitto) -> None:
    async def work(c: StationClient) -> tuple[Any, ...]:
        a = await c.set_network_profile(2, url="wss://csms-a.example.com/ocpp", security_profile=2,
                                        message_timeout=45)
        b = await c.set_network_profile(3, url="ws://csms-b.example.com/ocpp", security_profile=1,
                                        ocpp_version="OCPP21", identity="CS-B",
                                        basic_auth_password="s3cret-pw-xyz-0123",
                                        envelope_version=V21)
        bad = await c.set_network_profile(99, url="wss://x.example.com/ocpp", security_profile=2)
        read = await c.get_variables([VariableRef("NetworkConfiguration", v, component_instance=slot)
                                      for slot in ("2", "3") for v in ("OcppCsmsUrl", "MessageTimeout", "Identity")],
                                     ocpp_version=V21)
        return a, b, bad, read

    a, b, bad, read = run(mosquitto, work)
    assert a.accepted and b.accepted
    assert bad.status == "Rejected" and bad.reason == "InvalidConfSlot"
    # slot 2 has no identity of its own: it reports the one the station uses there (issue 13)
    assert [r.value for r in read] == ["wss://csms-a.example.com/ocpp", "45", "CS0000000001",
                                       "ws://csms-b.example.com/ocpp", "30", "CS-B"]
    assert "s3cret-pw-xyz" not in station.log_text()


def test_set_network_profile_refuses_an_envelope_version_as_profile_version() -> None:
    async def work() -> None:
        client = StationClient("mqtt://127.0.0.1:1")  # never connected: the check comes first
        await client.set_network_profile(2, url="wss://x", security_profile=2, ocpp_version="ocpp2.1")

    with pytest.raises(ValueError, match="envelope_version"):
        asyncio.run(work())


# -- errors ------------------------------------------------------------------------------------------

def test_call_error_carries_code_and_description(station: StationProcess, mosquitto: Mosquitto) -> None:
    async def work(c: StationClient) -> list[CallError]:
        errors = []
        for action, payload, version in (("GetVariables", {"getVariableData": []}, V201),
                                         ("GetVariables", {"getVariableData": [
                                             VariableRef("TxCtrlr", "TxStartPoint").to_ocpp()]}, V16)):
            with pytest.raises(CallError) as caught:
                await c.call(action, payload, ocpp_version=version)
            errors.append(caught.value)
        with pytest.raises(CallError) as caught:
            await c.get_variables([], ocpp_version=V21)
        errors.append(caught.value)
        return errors

    empty, v16, helper = run(mosquitto, work)
    assert empty.code == "OccurrenceConstraintViolation" and empty.description
    assert isinstance(empty.details, dict) and uuid.UUID(empty.request_id)
    assert v16.code == "NotSupported" and v16.description
    assert helper.code == "OccurrenceConstraintViolation"
    assert str(empty).startswith("OccurrenceConstraintViolation: ")


def test_call_raw_returns_the_envelope(station: StationProcess, mosquitto: Mosquitto) -> None:
    answer = run(mosquitto, lambda c: c.call_raw("GetVariables", {"getVariableData": []}))
    assert answer["data"]["message_type"] == "CallError"


def test_timeout_without_a_station(tmp_path: Path) -> None:
    lonely = Mosquitto(free_port(), tmp_path).start()
    try:
        async def work(c: StationClient) -> dict:
            loop = asyncio.get_running_loop()
            started = loop.time()
            with pytest.raises(TimeoutError):
                await c.call("GetVariables", {"getVariableData": []}, timeout=0.3)
            assert loop.time() - started < 2
            return dict(c._pending)

        assert run(lonely, work) == {}  # the future was cleaned up
    finally:
        lonely.stop()


def test_unreachable_broker_raises_connection_error() -> None:
    async def work() -> None:
        async with StationClient(f"mqtt://127.0.0.1:{free_port()}", connect_timeout=2):
            pass

    with pytest.raises(ConnectionError) as caught:
        asyncio.run(work())
    assert isinstance(caught.value, StationUnreachable)
    assert "127.0.0.1" in str(caught.value)


def test_calls_after_close_fail_cleanly(station: StationProcess, mosquitto: Mosquitto) -> None:
    async def work() -> None:
        client = StationClient(mosquitto.url)
        async with client:
            pass
        await client.call("GetVariables", {"getVariableData": []})

    with pytest.raises(StationUnreachable, match="not connected"):
        asyncio.run(work())


# -- concurrency and MQTT versions -------------------------------------------------------------------

@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_100_concurrent_calls_each_get_their_own_answer(station: StationProcess, mosquitto: Mosquitto,
                                                       protocol: str) -> None:
    async def work(c: StationClient) -> list[tuple[int, list]]:
        async def one(i: int) -> tuple[int, list]:
            # The unknown variable's name identifies the request its answer belongs to.
            return i, await c.get_variables(["OCPPCommCtrlr.OfflineThreshold", f"OCPPCommCtrlr.Probe{i}"],
                                            ocpp_version=V21 if i % 2 else V201)

        return await asyncio.gather(*(one(i) for i in range(100)))

    answers = run(mosquitto, work, protocol=protocol)
    assert len(answers) == 100
    for i, (ok, probe) in answers:
        assert ok.status == "Accepted"
        assert probe.status == "UnknownVariable" and probe.ref.variable == f"Probe{i}"


def test_100_concurrent_sets_then_read_back(station: StationProcess, mosquitto: Mosquitto) -> None:
    """100 SetVariables in flight at once, each with its own value and its own (unknown) probe variable
    naming it; then a last write, read back."""
    async def work(c: StationClient) -> tuple[list, Any]:
        results = await asyncio.gather(*(
            c.set_variables([("OCPPCommCtrlr.OfflineThreshold", 1000 + i), (f"OCPPCommCtrlr.SetProbe{i}", i)])
            for i in range(100)))
        await c.set_variables({"OCPPCommCtrlr.OfflineThreshold": 777})
        [read] = await c.get_variables(["OCPPCommCtrlr.OfflineThreshold"])
        return results, read

    results, read = run(mosquitto, work)
    for i, (value, probe) in enumerate(results):
        assert value.status == "Accepted" and str(value.ref) == "OCPPCommCtrlr.OfflineThreshold"
        assert probe.status == "UnknownVariable" and probe.ref.variable == f"SetProbe{i}"
    assert read.value == "777"


def test_mqtt5_answers_come_on_a_private_reply_topic(station: StationProcess, mosquitto: Mosquitto) -> None:
    spy_messages: queue.Queue[tuple[str, bytes | None, dict]] = queue.Queue()
    subscribed = threading.Event()
    spy = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    spy.on_message = lambda _c, _u, m: spy_messages.put(
        (m.topic, getattr(m.properties, "CorrelationData", None), json.loads(m.payload)))
    spy.on_subscribe = lambda *_: subscribed.set()  # the spy's only subscription
    spy.connect("127.0.0.1", mosquitto.port)
    spy.loop_start()
    spy.subscribe("josev/cs/client/#", qos=1)
    try:
        assert subscribed.wait(5), "no SUBACK"  # the SUBACK itself: the answer must not come before it

        async def work(c: StationClient) -> tuple[str | None, str | None, dict]:
            answer = await c.call_raw("GetVariables", {"getVariableData": [
                VariableRef("TxCtrlr", "TxStartPoint").to_ocpp()]})
            return c.protocol, c.reply_topic, answer

        protocol, reply_topic, answer = run(mosquitto, work)
        assert protocol == "5"
        assert reply_topic is not None and reply_topic.startswith("josev/cs/client/")
        topic, correlation, seen = spy_messages.get(timeout=5)
        assert topic == reply_topic
        assert correlation == answer["id"].encode()
        assert seen == answer
    finally:
        spy.disconnect()
        spy.loop_stop()


def test_mqtt311_correlates_by_envelope_id(station: StationProcess, mosquitto: Mosquitto) -> None:
    async def work(c: StationClient) -> tuple[str | None, str | None, list]:
        return c.protocol, c.reply_topic, await c.get_variables(["TxCtrlr.TxStartPoint"])

    protocol, reply_topic, [result] = run(mosquitto, work, protocol="3.1.1")
    assert (protocol, reply_topic) == ("3.1.1", "josev/cs")
    assert result.accepted


def test_falls_back_to_311_when_the_broker_refuses_mqtt5() -> None:
    """The embedded amqtt broker speaks MQTT 3.1.1 only: the default client falls back to it."""
    from ocpp_station.api.amqtt_broker import embedded_broker

    async def work() -> tuple[str | None, str | None]:
        async with embedded_broker("127.0.0.1", free_port()) as url, StationClient(url) as client:
            with pytest.raises(TimeoutError):  # no station there, but the request went out
                await client.call("GetVariables", {"getVariableData": []}, timeout=0.2)
            return client.protocol, client.reply_topic

    assert asyncio.run(work()) == ("3.1.1", "josev/cs")

"""Every CALLERROR path of the OcppMessage API, end to end over mosquitto.

Each test checks the exact error code *and* its spelling for the request's version (1.6:
FormationViolation / OccurenceConstraintViolation; 2.x: FormatViolation / OccurrenceConstraintViolation),
that the description fits in 255 characters, that the details are an object and that the id is echoed.

Raw messages are followed by a "sentinel" GetVariables: the station answers in arrival order, so every
answer that arrives before the sentinel's belongs to the raw message. That proves "exactly one answer"
without sleeping, and that the station still works afterwards.
"""

from __future__ import annotations

import contextlib
import json
import queue
import time
import uuid
from typing import Any

import pytest

from ..support import ERROR_CODES, OemClient, StationProcess, check_response, envelope

VERSIONS_2X = ("ocpp2.0.1", "ocpp2.1")
GET_ONE = {"getVariableData": [{"component": {"name": "TxCtrlr"}, "variable": {"name": "TxStartPoint"}}]}


def _get(item: dict[str, Any]) -> dict[str, Any]:
    return {"getVariableData": [item]}


def _set(item: dict[str, Any]) -> dict[str, Any]:
    return {"setVariableData": [item]}


def exchange(oem: OemClient, raw: bytes | str, timeout: float = 10.0) -> list[dict[str, Any]]:
    """Publish ``raw`` then a sentinel GetVariables; return every answer that came before the sentinel's.

    Also asserts that the sentinel itself is answered with a CallResult (the station still works).
    """
    sentinel = envelope("GetVariables", GET_ONE)
    oem.publish(raw)
    oem.publish(json.dumps(sentinel))
    before: list[dict[str, Any]] = []
    answer = oem.wait_for(sentinel["id"], timeout, passed_over=before)
    check_response(answer, "GetVariables", "ocpp2.0.1")
    assert answer["data"]["message_type"] == "CallResult", answer
    return before


def only_error(oem: OemClient, raw: bytes | str) -> dict[str, Any]:
    """The one CallError answering ``raw`` (checked), as a whole envelope."""
    answers = exchange(oem, raw)
    assert len(answers) == 1, answers
    [answer] = answers
    check_response(answer, None, None)
    assert answer["data"]["message_type"] == "CallError", answer
    return answer


def assert_error_shape(data: dict[str, Any]) -> None:
    assert isinstance(data["error_description"], str) and len(data["error_description"]) <= 255
    assert isinstance(data["error_details"], dict)
    assert "payload" not in data


# --------------------------------------------------------------------------------------------------
# Schema failures on a known, supported action (2.x spelling)
# --------------------------------------------------------------------------------------------------

COMPONENT_LONG = {"name": "C" * 51}
SCHEMA_CASES = [
    pytest.param("GetVariables", _get({"component": {"name": "TxCtrlr"}}),
                 "OccurrenceConstraintViolation", "/getVariableData/0/variable", "required", id="get-missing-variable"),
    pytest.param("GetVariables", {}, "OccurrenceConstraintViolation", "/getVariableData", "required",
                 id="get-missing-getVariableData"),
    pytest.param("SetVariables", _set({"component": {"name": "TxCtrlr"}, "variable": {"name": "TxStartPoint"}}),
                 "OccurrenceConstraintViolation", "/setVariableData/0/attributeValue", "required",
                 id="set-missing-attributeValue"),
    pytest.param("GetVariables", {"getVariableData": []}, "OccurrenceConstraintViolation", "/getVariableData",
                 "minItems", id="get-empty-array"),
    pytest.param("SetVariables", {"setVariableData": []}, "OccurrenceConstraintViolation", "/setVariableData",
                 "minItems", id="set-empty-array"),
    pytest.param("SetVariables", _set({"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "OfflineThreshold"},
                                       "attributeValue": 300}),
                 "TypeConstraintViolation", "/setVariableData/0/attributeValue", "type", id="set-value-number"),
    pytest.param("GetVariables", {"getVariableData": {"component": {"name": "TxCtrlr"}}},
                 "TypeConstraintViolation", "/getVariableData", "type", id="get-array-is-object"),
    pytest.param("GetVariables", _get({"component": {"name": "EVSE", "evse": {"id": "1"}}, "variable": {"name": "X"}}),
                 "TypeConstraintViolation", "/getVariableData/0/component/evse/id", "type", id="get-evse-id-string"),
    pytest.param("GetVariables", _get({"component": {"name": "TxCtrlr"}, "variable": {"name": "TxStartPoint"},
                                       "attributeType": "Foo"}),
                 "PropertyConstraintViolation", "/getVariableData/0/attributeType", "enum", id="get-enum-unknown"),
    pytest.param("SetVariables", _set({"component": {"name": "TxCtrlr"}, "variable": {"name": "TxStartPoint"},
                                       "attributeValue": "x", "attributeType": "actual"}),
                 "PropertyConstraintViolation", "/setVariableData/0/attributeType", "enum",
                 id="set-enum-wrong-case"),
    pytest.param("GetVariables", _get({"component": COMPONENT_LONG, "variable": {"name": "X"}}),
                 "PropertyConstraintViolation", "/getVariableData/0/component/name", "maxLength", id="get-name-51"),
    pytest.param("SetVariables", _set({"component": COMPONENT_LONG, "variable": {"name": "X"}, "attributeValue": "1"}),
                 "PropertyConstraintViolation", "/setVariableData/0/component/name", "maxLength", id="set-name-51"),
    pytest.param("GetVariables", _get({"component": {"name": "TxCtrlr"}, "variable": {"name": "TxStartPoint"},
                                       "colour": "red"}),
                 "FormatViolation", "/getVariableData/0", "additionalProperties", id="get-extra-property-item"),
    pytest.param("GetVariables", {**GET_ONE, "colour": "red"}, "FormatViolation", "", "additionalProperties",
                 id="get-extra-property-top"),
    pytest.param("SetVariables", _set({"component": {"name": "TxCtrlr", "colour": "red"},
                                       "variable": {"name": "TxStartPoint"}, "attributeValue": "x"}),
                 "FormatViolation", "/setVariableData/0/component", "additionalProperties",
                 id="set-extra-property-component"),
]


@pytest.mark.parametrize("version", VERSIONS_2X)
@pytest.mark.parametrize(("action", "payload", "code", "path", "keyword"), SCHEMA_CASES)
def test_schema_violation_maps_to_the_right_code(oem: OemClient, version: str, action: str, payload: dict,
                                                 code: str, path: str, keyword: str) -> None:
    message = envelope(action, payload, version)
    oem.publish(json.dumps(message))
    answer = oem.wait_for(message["id"])
    check_response(answer, action, version)
    data = answer["data"]
    assert answer["id"] == message["id"]
    assert data["message_type"] == "CallError"
    assert data["error_code"] == code
    assert_error_shape(data)
    assert data["error_details"]["path"] == path
    assert data["error_details"]["keyword"] == keyword
    assert path.startswith("/") or path == ""  # a JSON pointer
    assert action in data["error_description"]


def test_schema_error_codes_use_the_2x_spelling(oem: OemClient) -> None:
    codes = {oem.error("GetVariables", {"getVariableData": []}, v)["error_code"] for v in VERSIONS_2X}
    assert codes == {"OccurrenceConstraintViolation"}
    codes = {oem.error("GetVariables", {**GET_ONE, "x": 1}, v)["error_code"] for v in VERSIONS_2X}
    assert codes == {"FormatViolation"}


def test_set_variables_attribute_value_length_differs_per_version(oem: OemClient) -> None:
    """attributeValue is string[1000] in 2.0.1 and string[2500] in 2.1."""
    item = {"component": {"name": "TxCtrlr"}, "variable": {"name": "NoSuchVariable"}, "attributeValue": "x" * 1001}
    data = oem.error("SetVariables", _set(item), "ocpp2.0.1")
    assert (data["error_code"], data["error_details"]["keyword"]) == ("PropertyConstraintViolation", "maxLength")
    [result] = oem.result("SetVariables", _set(item), "ocpp2.1")["setVariableResult"]
    assert result["attributeStatus"] == "UnknownVariable"


# --------------------------------------------------------------------------------------------------
# The description never echoes what was sent
# --------------------------------------------------------------------------------------------------

SECRET = "hunter2-S3CR3T-passw0rd-0123456789abcdef-do-not-leak-me"
LEAK_CASES = [
    pytest.param("SetVariables", _set({"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "OfflineThreshold"},
                                       "attributeValue": 123456789}), "123456789", id="number-marker"),
    pytest.param("SetVariables", _set({"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "OfflineThreshold"},
                                       "attributeValue": [SECRET]}), SECRET, id="secret-in-array"),
    pytest.param("GetVariables", _get({"component": {"name": "EVSE", "evse": {"id": SECRET}},
                                       "variable": {"name": "X"}}), SECRET, id="secret-as-evse-id"),
    pytest.param("GetVariables", _get({"component": {"name": "TxCtrlr"}, "variable": {"name": SECRET}}),
                 SECRET, id="secret-too-long"),
    pytest.param("GetVariables", _get({"component": {"name": "TxCtrlr"}, "variable": {"name": "X"},
                                       "attributeType": SECRET}), SECRET, id="secret-as-enum"),
    pytest.param("GetVariables", {**GET_ONE, "extra": SECRET}, SECRET, id="secret-in-extra-property"),
]


@pytest.mark.parametrize(("action", "payload", "marker"), LEAK_CASES)
def test_description_never_echoes_the_value(oem: OemClient, action: str, payload: dict, marker: str) -> None:
    data = oem.error(action, payload)
    assert marker not in data["error_description"]
    assert marker not in json.dumps(data["error_details"])
    assert SECRET[:12] not in data["error_description"]


# --------------------------------------------------------------------------------------------------
# Routing: unknown / unsupported actions, 1.6
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("version", ["ocpp1.6", *VERSIONS_2X])
def test_unknown_action_is_not_implemented(oem: OemClient, version: str) -> None:
    data = oem.error("Foo", {}, version)
    assert data["error_code"] == "NotImplemented"
    assert data["ocpp_version"] == version
    assert_error_shape(data)


@pytest.mark.parametrize("version", VERSIONS_2X)
@pytest.mark.parametrize("action", ["UnlockConnector", "GetReport", "TriggerMessage"])
def test_known_but_unsupported_action_is_not_supported(oem: OemClient, version: str, action: str) -> None:
    data = oem.error(action, {}, version)
    assert data["error_code"] == "NotSupported"
    assert action in data["error_description"]
    assert_error_shape(data)


@pytest.mark.parametrize(("action", "payload"), [
    ("GetVariables", GET_ONE),
    ("SetVariables", _set({"component": {"name": "TxCtrlr"}, "variable": {"name": "TxStartPoint"},
                           "attributeValue": "Authorized"})),
    ("SetNetworkProfile", {"configurationSlot": 1, "connectionData": {}}),
])
def test_seed_2x_actions_in_16_are_not_supported(oem: OemClient, action: str, payload: dict) -> None:
    data = oem.error(action, payload, "ocpp1.6")
    assert data["error_code"] == "NotSupported"
    assert data["ocpp_version"] == "ocpp1.6"
    assert "1.6" in data["error_description"]
    assert action in data["error_description"]
    assert_error_shape(data)


@pytest.mark.parametrize(("action", "payload"), [
    ("GetInstalledCertificateIds", {"certificateType": "CentralSystemRootCertificate"}),
    ("InstallCertificate", {"certificateType": "CentralSystemRootCertificate",
                            "certificate": "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n"}),
    ("DeleteCertificate", {"certificateHashData": {"hashAlgorithm": "SHA256", "issuerNameHash": "00" * 32,
                                                   "issuerKeyHash": "11" * 32, "serialNumber": "4"}}),
])
def test_16_certificate_actions_get_a_valid_answer(oem: OemClient, action: str, payload: dict) -> None:
    """1.6-security defines these actions; whatever the station answers must be a valid envelope."""
    answer = oem.call(action, payload, "ocpp1.6")  # checks envelope, error-code set, response schema
    if answer["data"]["message_type"] == "CallError":
        assert answer["data"]["error_code"] in ERROR_CODES["ocpp1.6"]


def test_16_payload_not_an_object_is_formation_violation(oem: OemClient) -> None:
    message = envelope("GetInstalledCertificateIds", ["CentralSystemRootCertificate"], "ocpp1.6")
    answer = only_error(oem, json.dumps(message))
    assert answer["id"] == message["id"]
    assert answer["data"]["ocpp_version"] == "ocpp1.6"
    assert answer["data"]["error_code"] == "FormationViolation"  # 1.6 spelling, and 1.6 has no RpcFrameworkError


@pytest.mark.parametrize("bad_id", [None, 42, "x" * 37, ""], ids=["missing", "number", "37-chars", "empty"])
def test_16_unreadable_id_is_formation_violation(oem: OemClient, bad_id: Any) -> None:
    message = envelope("GetInstalledCertificateIds", {"certificateType": "CentralSystemRootCertificate"}, "ocpp1.6")
    if bad_id is None:
        del message["id"]
    else:
        message["id"] = bad_id
    answer = only_error(oem, json.dumps(message))
    assert answer["id"] == "-1"
    assert answer["data"]["ocpp_version"] == "ocpp1.6"
    assert answer["data"]["error_code"] == "FormationViolation"


def test_16_never_uses_2x_only_codes(oem: OemClient) -> None:
    message = envelope("GetVariables", GET_ONE, "ocpp1.6")
    message["type"] = "Request"  # a broken ocpp_message (another name would be another Josev message)
    data = only_error(oem, json.dumps(message))["data"]
    assert data["error_code"] == "FormationViolation"
    assert data["error_code"] in ERROR_CODES["ocpp1.6"]


# --------------------------------------------------------------------------------------------------
# Envelope problems (RpcFrameworkError in 2.x)
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw", [b"not json", b"\xff\xfe", b"", b"[]", b"null", b"123", b'"text"', b"{"],
                         ids=["text", "bad-utf8", "empty", "array", "null", "number", "string", "truncated"])
def test_not_a_json_object_is_answered_with_id_minus_one(oem: OemClient, raw: bytes) -> None:
    answer = only_error(oem, raw)
    assert answer["id"] == "-1"
    data = answer["data"]
    assert data["error_code"] == "RpcFrameworkError"
    assert data["ocpp_version"] == "ocpp2.0.1"  # issue 12: the station's own when the request's is unreadable
    assert_error_shape(data)


@pytest.mark.parametrize("bad_id", ["<missing>", 42, None, ["a"], {"a": 1}, "x" * 37, str(uuid.uuid4()) + "0", ""],
                         ids=["missing", "number", "null", "array", "object", "37-chars", "uuid+1", "empty"])
@pytest.mark.parametrize("version", VERSIONS_2X)
def test_unreadable_id_is_answered_with_id_minus_one(oem: OemClient, bad_id: Any, version: str) -> None:
    message = envelope("GetVariables", GET_ONE, version)
    if bad_id == "<missing>":
        del message["id"]
    else:
        message["id"] = bad_id
    answer = only_error(oem, json.dumps(message))
    assert answer["id"] == "-1"
    assert answer["data"]["error_code"] == "RpcFrameworkError"
    assert answer["data"]["ocpp_version"] == version
    assert_error_shape(answer["data"])


@pytest.mark.parametrize("bad_id", ["abc", "not-a-uuid-but-short", "2b0aa109-21a1-4f2f-bdbd-6cdf139e7bbZ",
                                    "{2b0aa109-21a1-4f2f-bdbd-6cdf139e7b}"])
def test_readable_id_that_is_not_a_uuid_is_echoed(oem: OemClient, bad_id: str) -> None:
    message = envelope("GetVariables", GET_ONE, request_id=bad_id)
    answer = only_error(oem, json.dumps(message))
    assert answer["id"] == bad_id
    assert answer["data"]["error_code"] == "RpcFrameworkError"
    assert answer["data"]["ocpp_version"] == "ocpp2.0.1"


def test_uppercase_uuid_is_accepted(oem: OemClient) -> None:
    message = envelope("GetVariables", GET_ONE, request_id=str(uuid.uuid4()).upper())
    answers = exchange(oem, json.dumps(message))
    assert [a["id"] for a in answers] == [message["id"]]
    assert answers[0]["data"]["message_type"] == "CallResult"


def _mutated(mutate: Any, version: str = "ocpp2.0.1") -> dict[str, Any]:
    message = envelope("GetVariables", GET_ONE, version)
    mutate(message)
    return message


ENVELOPE_CASES = {
    "name-wrong": lambda m: m.update(name=5),  # a string name is another Josev message: not answered
    "name-missing": lambda m: m.pop("name"),
    "type-wrong": lambda m: m.update(type="Request"),
    "type-missing": lambda m: m.pop("type"),
    "data-missing": lambda m: m.pop("data"),
    "data-array": lambda m: m.update(data=[m["data"]]),
    "data-string": lambda m: m.update(data="x"),
    "version-1.5": lambda m: m["data"].update(ocpp_version="ocpp1.5"),
    "version-2.0": lambda m: m["data"].update(ocpp_version="ocpp2.0"),
    "version-missing": lambda m: m["data"].pop("ocpp_version"),
    "version-number": lambda m: m["data"].update(ocpp_version=2.1),
    "message-name-missing": lambda m: m["data"].pop("message_name"),
    "message-name-empty": lambda m: m["data"].update(message_name=""),
    "message-name-number": lambda m: m["data"].update(message_name=7),
    "message-name-array": lambda m: m["data"].update(message_name=["GetVariables"]),
    "payload-missing": lambda m: m["data"].pop("payload"),
    "payload-array": lambda m: m["data"].update(payload=[GET_ONE]),
    "payload-string": lambda m: m["data"].update(payload=json.dumps(GET_ONE)),
    "payload-null": lambda m: m["data"].update(payload=None),
}

@pytest.mark.parametrize("case", sorted(ENVELOPE_CASES))
def test_envelope_problem_is_rpc_framework_error(oem: OemClient, case: str) -> None:
    message = _mutated(ENVELOPE_CASES[case])
    answer = only_error(oem, json.dumps(message))
    assert answer["id"] == message["id"]
    data = answer["data"]
    assert data["error_code"] == "RpcFrameworkError"
    assert_error_shape(data)
    # issue 12: the request's version, or when it is unreadable the station's own (also 2.0.1 here)
    assert data["ocpp_version"] == "ocpp2.0.1"


@pytest.mark.parametrize("case", ["name-wrong", "type-wrong", "message-name-empty", "payload-array"])
def test_envelope_problem_in_16_is_formation_violation(oem: OemClient, case: str) -> None:
    message = _mutated(ENVELOPE_CASES[case], "ocpp1.6")
    data = only_error(oem, json.dumps(message))["data"]
    assert data["ocpp_version"] == "ocpp1.6"
    assert data["error_code"] == "FormationViolation"


def test_extra_envelope_keys_are_tolerated(oem: OemClient) -> None:
    message = envelope("GetVariables", GET_ONE)
    message["timestamp"] = "2024-01-01T00:00:00Z"
    message["data"]["trace"] = {"a": 1}
    answers = exchange(oem, json.dumps(message))
    assert len(answers) == 1 and answers[0]["data"]["message_type"] == "CallResult"


@pytest.mark.parametrize("case", ["1.6", "unknown-version"])
def test_a_versionless_envelope_problem_names_the_station_version_not_another(oem: OemClient, case: str) -> None:
    """Issue 12: a 1.6 request keeps its version and spelling; an unreadable version gets the station's."""
    version = "ocpp1.6" if case == "1.6" else "ocpp9"
    message = _mutated(lambda m: m["data"].pop("payload"), "ocpp1.6")
    message["data"]["ocpp_version"] = version
    data = only_error(oem, json.dumps(message))["data"]
    expected = ("ocpp1.6", "FormationViolation") if case == "1.6" else ("ocpp2.0.1", "RpcFrameworkError")
    assert (data["ocpp_version"], data["error_code"]) == expected


@pytest.mark.parametrize("name", ["ocpp_messages", "service_status", "OCPP_MESSAGE"])
def test_another_josev_message_name_gets_no_answer(oem: OemClient, station: StationProcess, name: str) -> None:
    message = _mutated(lambda m: m.update(name=name))
    assert exchange(oem, json.dumps(message)) == []
    assert station.process is not None and station.process.poll() is None


@pytest.mark.parametrize("with_id", [True, False])
def test_response_on_the_request_topic_gets_no_answer(oem: OemClient, station: StationProcess, with_id: bool) -> None:
    message = {"id": str(uuid.uuid4()), "name": "ocpp_message", "type": "response",
               "data": {"ocpp_version": "ocpp2.0.1", "message_type": "CallResult", "payload": {}}}
    if not with_id:
        del message["id"]
    assert exchange(oem, json.dumps(message)) == []
    assert oem.drain(0.2) == []
    assert station.process.poll() is None


# --------------------------------------------------------------------------------------------------
# Robustness: hostile bytes get one answer and leave the station working
# --------------------------------------------------------------------------------------------------

def _raw_get(component_json: bytes, request_id: str) -> bytes:
    return (b'{"id":"' + request_id.encode() + b'","name":"ocpp_message","type":"request","data":'
            b'{"ocpp_version":"ocpp2.0.1","message_name":"GetVariables","payload":{"getVariableData":'
            b'[{"component":' + component_json + b',"variable":{"name":"X"}}]}}}')


HOSTILE = {
    "nested-arrays-100000": lambda _id: b"[" * 100_000,
    "nested-objects-100000": lambda _id: b'{"a":' * 100_000,
    "garbage-5MB": lambda _id: bytes(range(256)) * (5 * 1024 * 1024 // 256),
    "json-5MB-string": lambda _id: _raw_get(b'{"name":"' + b"A" * (5 * 1024 * 1024) + b'"}', _id),
    "nan": lambda _id: _raw_get(b'{"name":"A","evse":{"id":NaN}}', _id),
    "infinity": lambda _id: _raw_get(b'{"name":"A","evse":{"id":Infinity}}', _id),
    "minus-infinity": lambda _id: _raw_get(b'{"name":"A","evse":{"id":-Infinity}}', _id),
    "huge-int": lambda _id: _raw_get(b'{"name":"A","evse":{"id":1' + b"0" * 400 + b"}}", _id),
    "huge-float": lambda _id: _raw_get(b'{"name":"A","evse":{"id":1e400}}', _id),
    "duplicate-keys": lambda _id: _raw_get(b'{"name":"A","name":"B"}', _id),
    "invalid-utf8-in-string": lambda _id: _raw_get(b'{"name":"A\xc3\x28"}', _id),
    "lone-surrogate": lambda _id: _raw_get(b'{"name":"A\\ud800"}', _id),
    "nul-escaped": lambda _id: _raw_get(b'{"name":"A\\u0000B"}', _id),
    "nul-raw": lambda _id: _raw_get(b'{"name":"A\x00B"}', _id),
    "bom": lambda _id: b"\xef\xbb\xbf" + _raw_get(b'{"name":"A"}', _id),
    "trailing-garbage": lambda _id: _raw_get(b'{"name":"A"}', _id) + b"}",
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_message_gets_one_answer_and_station_survives(oem: OemClient, station: StationProcess,
                                                              case: str) -> None:
    request_id = str(uuid.uuid4())
    answers = exchange(oem, HOSTILE[case](request_id), timeout=30.0)
    assert len(answers) == 1, answers
    [answer] = answers
    echoed = answer["id"] == request_id
    check_response(answer, "GetVariables" if echoed else None, "ocpp2.0.1" if echoed else None)
    assert answer["id"] in (request_id, "-1")
    if "5MB" in case:  # beyond requests.max_bytes (1 MiB): refused unparsed (issue 5)
        assert answer["data"]["error_code"] == "FormatViolation"
    elif answer["id"] == "-1":
        assert answer["data"]["message_type"] == "CallError"
        assert answer["data"]["error_code"] == "RpcFrameworkError"
    assert len(json.dumps(answer)) < 10_000  # nothing of the input is echoed back
    assert station.process.poll() is None
    assert oem.result("GetVariables", GET_ONE)["getVariableResult"][0]["attributeStatus"] == "Accepted"


def test_deep_but_parseable_nesting_in_custom_data(oem: OemClient, station: StationProcess) -> None:
    """customData allows any extra property: 500 levels of nesting must not hurt the validator."""
    nested: Any = {}
    for _ in range(500):
        nested = {"n": nested}
    payload = {"getVariableData": [{"component": {"name": "TxCtrlr"}, "variable": {"name": "TxStartPoint"},
                                    "customData": {"vendorId": "acme", "deep": nested}}]}
    answer = oem.call("GetVariables", payload)
    assert answer["data"]["message_type"] == "CallResult"
    assert station.process.poll() is None


def test_200_requests_back_to_back_answered_once_in_order(oem: OemClient) -> None:
    assert oem.drain(0.1) == []
    sent = [envelope("GetVariables", GET_ONE, ("ocpp2.0.1", "ocpp2.1")[i % 2]) for i in range(200)]
    for message in sent:
        oem.publish(json.dumps(message))
    received = []
    deadline = time.monotonic() + 30
    while len(received) < len(sent) and time.monotonic() < deadline:
        with contextlib.suppress(queue.Empty):
            received.append(oem.answers.get(timeout=0.5))
    received += oem.drain(0.3)
    assert [a["id"] for a in received] == [m["id"] for m in sent]
    for message, answer in zip(sent, received, strict=True):
        check_response(answer, "GetVariables", message["data"]["ocpp_version"])
        assert answer["data"]["message_type"] == "CallResult"


def test_long_unknown_action_name_gives_a_clipped_description(oem: OemClient) -> None:
    data = oem.error("Foo" * 400, {})
    assert data["error_code"] == "NotImplemented"
    assert len(data["error_description"]) <= 255

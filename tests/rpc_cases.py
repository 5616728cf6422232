"""The requests of the CALLERROR tests: schema failures, leaks, envelope problems, hostile bytes.

Shared by tests/unit/test_rpc_error_codes.py, which runs every case in process, and
tests/integration/test_rpc_errors.py, which runs a few of each over mosquitto (:func:`tests.support.pick`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from .support import ERROR_CODES, check_response, envelope

VERSIONS_2X = ("ocpp2.0.1", "ocpp2.1")

GET_ONE = {"getVariableData": [{"component": {"name": "TxCtrlr"}, "variable": {"name": "TxStartPoint"}}]}


def get_payload(item: dict[str, Any]) -> dict[str, Any]:
    return {"getVariableData": [item]}


def set_payload(item: dict[str, Any]) -> dict[str, Any]:
    return {"setVariableData": [item]}


COMPONENT_LONG = {"name": "C" * 51}
SCHEMA_CASES = [
    pytest.param("GetVariables", get_payload({"component": {"name": "TxCtrlr"}}),
                 "OccurrenceConstraintViolation", "/getVariableData/0/variable", "required", id="get-missing-variable"),
    pytest.param("GetVariables", {}, "OccurrenceConstraintViolation", "/getVariableData", "required",
                 id="get-missing-getVariableData"),
    pytest.param("SetVariables", set_payload({"component": {"name": "TxCtrlr"}, "variable": {"name": "TxStartPoint"}}),
                 "OccurrenceConstraintViolation", "/setVariableData/0/attributeValue", "required",
                 id="set-missing-attributeValue"),
    pytest.param("GetVariables", {"getVariableData": []}, "OccurrenceConstraintViolation", "/getVariableData",
                 "minItems", id="get-empty-array"),
    pytest.param("SetVariables", {"setVariableData": []}, "OccurrenceConstraintViolation", "/setVariableData",
                 "minItems", id="set-empty-array"),
    pytest.param("SetVariables", set_payload({"component": {"name": "OCPPCommCtrlr"},
                                              "variable": {"name": "OfflineThreshold"}, "attributeValue": 300}),
                 "TypeConstraintViolation", "/setVariableData/0/attributeValue", "type", id="set-value-number"),
    pytest.param("GetVariables", {"getVariableData": {"component": {"name": "TxCtrlr"}}},
                 "TypeConstraintViolation", "/getVariableData", "type", id="get-array-is-object"),
    pytest.param("GetVariables", get_payload({"component": {"name": "EVSE", "evse": {"id": "1"}},
                                              "variable": {"name": "X"}}),
                 "TypeConstraintViolation", "/getVariableData/0/component/evse/id", "type", id="get-evse-id-string"),
    pytest.param("GetVariables", get_payload({"component": {"name": "TxCtrlr"}, "variable": {"name": "TxStartPoint"},
                                              "attributeType": "Foo"}),
                 "PropertyConstraintViolation", "/getVariableData/0/attributeType", "enum", id="get-enum-unknown"),
    pytest.param("SetVariables", set_payload({"component": {"name": "TxCtrlr"}, "variable": {"name": "TxStartPoint"},
                                              "attributeValue": "x", "attributeType": "actual"}),
                 "PropertyConstraintViolation", "/setVariableData/0/attributeType", "enum",
                 id="set-enum-wrong-case"),
    pytest.param("GetVariables", get_payload({"component": COMPONENT_LONG, "variable": {"name": "X"}}),
                 "PropertyConstraintViolation", "/getVariableData/0/component/name", "maxLength", id="get-name-51"),
    pytest.param("SetVariables", set_payload({"component": COMPONENT_LONG, "variable": {"name": "X"},
                                              "attributeValue": "1"}),
                 "PropertyConstraintViolation", "/setVariableData/0/component/name", "maxLength", id="set-name-51"),
    pytest.param("GetVariables", get_payload({"component": {"name": "TxCtrlr"}, "variable": {"name": "TxStartPoint"},
                                              "colour": "red"}),
                 "FormatViolation", "/getVariableData/0", "additionalProperties", id="get-extra-property-item"),
    pytest.param("GetVariables", {**GET_ONE, "colour": "red"}, "FormatViolation", "", "additionalProperties",
                 id="get-extra-property-top"),
    pytest.param("SetVariables", set_payload({"component": {"name": "TxCtrlr", "colour": "red"},
                                              "variable": {"name": "TxStartPoint"}, "attributeValue": "x"}),
                 "FormatViolation", "/setVariableData/0/component", "additionalProperties",
                 id="set-extra-property-component"),
]


SECRET = "hunter2-S3CR3T-passw0rd-0123456789abcdef-do-not-leak-me"
LEAK_CASES = [
    pytest.param("SetVariables", set_payload({"component": {"name": "OCPPCommCtrlr"},
                                              "variable": {"name": "OfflineThreshold"}, "attributeValue": 123456789}),
                 "123456789", id="number-marker"),
    pytest.param("SetVariables", set_payload({"component": {"name": "OCPPCommCtrlr"},
                                              "variable": {"name": "OfflineThreshold"}, "attributeValue": [SECRET]}),
                 SECRET, id="secret-in-array"),
    pytest.param("GetVariables", get_payload({"component": {"name": "EVSE", "evse": {"id": SECRET}},
                                              "variable": {"name": "X"}}), SECRET, id="secret-as-evse-id"),
    pytest.param("GetVariables", get_payload({"component": {"name": "TxCtrlr"}, "variable": {"name": SECRET}}),
                 SECRET, id="secret-too-long"),
    pytest.param("GetVariables", get_payload({"component": {"name": "TxCtrlr"}, "variable": {"name": "X"},
                                              "attributeType": SECRET}), SECRET, id="secret-as-enum"),
    pytest.param("GetVariables", {**GET_ONE, "extra": SECRET}, SECRET, id="secret-in-extra-property"),
]


def mutated(mutate: Any, version: str = "ocpp2.0.1") -> dict[str, Any]:
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


def raw_get(component_json: bytes, request_id: str) -> bytes:
    return (b'{"id":"' + request_id.encode() + b'","name":"ocpp_message","type":"request","data":'
            b'{"ocpp_version":"ocpp2.0.1","message_name":"GetVariables","payload":{"getVariableData":'
            b'[{"component":' + component_json + b',"variable":{"name":"X"}}]}}}')


HOSTILE = {
    "nested-arrays-100000": lambda _id: b"[" * 100_000,
    "nested-objects-100000": lambda _id: b'{"a":' * 100_000,
    "garbage-5MB": lambda _id: bytes(range(256)) * (5 * 1024 * 1024 // 256),
    "json-5MB-string": lambda _id: raw_get(b'{"name":"' + b"A" * (5 * 1024 * 1024) + b'"}', _id),
    "nan": lambda _id: raw_get(b'{"name":"A","evse":{"id":NaN}}', _id),
    "infinity": lambda _id: raw_get(b'{"name":"A","evse":{"id":Infinity}}', _id),
    "minus-infinity": lambda _id: raw_get(b'{"name":"A","evse":{"id":-Infinity}}', _id),
    "huge-int": lambda _id: raw_get(b'{"name":"A","evse":{"id":1' + b"0" * 400 + b"}}", _id),
    "huge-float": lambda _id: raw_get(b'{"name":"A","evse":{"id":1e400}}', _id),
    "duplicate-keys": lambda _id: raw_get(b'{"name":"A","name":"B"}', _id),
    "invalid-utf8-in-string": lambda _id: raw_get(b'{"name":"A\xc3\x28"}', _id),
    "lone-surrogate": lambda _id: raw_get(b'{"name":"A\\ud800"}', _id),
    "nul-escaped": lambda _id: raw_get(b'{"name":"A\\u0000B"}', _id),
    "nul-raw": lambda _id: raw_get(b'{"name":"A\x00B"}', _id),
    "bom": lambda _id: b"\xef\xbb\xbf" + raw_get(b'{"name":"A"}', _id),
    "trailing-garbage": lambda _id: raw_get(b'{"name":"A"}', _id) + b"}",
}



# -- the scenarios, run by both modules: every case in process, a few over the broker (the wiring) --------------
# ``oem`` is an InProcessOem or an OemClient; ``only_error(raw)`` sends raw bytes and returns the one CallError
# that answers them (checked), each module its own way.

OnlyError = Callable[[bytes | str], dict[str, Any]]


def assert_error_shape(data: dict[str, Any]) -> None:
    assert isinstance(data["error_description"], str) and len(data["error_description"]) <= 255
    assert isinstance(data["error_details"], dict)
    assert "payload" not in data


def schema_violation_maps_to_the_right_code(answer: dict[str, Any], action: str, code: str, path: str,
                                            keyword: str) -> None:
    """``answer``: the whole envelope answering ``action``, its id and shape already checked."""
    data = answer["data"]
    assert data["message_type"] == "CallError"
    assert data["error_code"] == code
    assert_error_shape(data)
    assert data["error_details"]["path"] == path
    assert data["error_details"]["keyword"] == keyword
    assert path.startswith("/") or path == ""  # a JSON pointer
    assert action in data["error_description"]


def description_never_echoes_the_value(oem: Any, action: str, payload: dict, marker: str) -> None:
    data = oem.error(action, payload)
    assert marker not in data["error_description"]
    assert marker not in json.dumps(data["error_details"])
    assert SECRET[:12] not in data["error_description"]


def unknown_action_is_not_implemented(oem: Any, version: str) -> None:
    data = oem.error("Foo", {}, version)
    assert data["error_code"] == "NotImplemented"
    assert data["ocpp_version"] == version
    assert_error_shape(data)


def known_but_unsupported_action_is_not_supported(oem: Any, version: str, action: str) -> None:
    data = oem.error(action, {}, version)
    assert data["error_code"] == "NotSupported"
    assert action in data["error_description"]
    assert_error_shape(data)


def seed_2x_actions_in_16_are_not_supported(oem: Any, action: str, payload: dict) -> None:
    data = oem.error(action, payload, "ocpp1.6")
    assert data["error_code"] == "NotSupported"
    assert data["ocpp_version"] == "ocpp1.6"
    assert "1.6" in data["error_description"]
    assert action in data["error_description"]
    assert_error_shape(data)


def certificate_action_in_16_gets_a_valid_answer(oem: Any, action: str, payload: dict) -> None:
    answer = oem.call(action, payload, "ocpp1.6")  # checks envelope, error-code set, response schema
    if answer["data"]["message_type"] == "CallError":
        assert answer["data"]["error_code"] in ERROR_CODES["ocpp1.6"]


def payload_not_an_object_in_16_is_formation_violation(only_error: OnlyError) -> None:
    message = envelope("GetInstalledCertificateIds", ["CentralSystemRootCertificate"], "ocpp1.6")
    answer = only_error(json.dumps(message))
    assert answer["id"] == message["id"]
    assert answer["data"]["ocpp_version"] == "ocpp1.6"
    assert answer["data"]["error_code"] == "FormationViolation"  # 1.6 spelling, and 1.6 has no RpcFrameworkError


def unreadable_id_in_16_is_formation_violation(only_error: OnlyError, bad_id: Any) -> None:
    message = envelope("GetInstalledCertificateIds", {"certificateType": "CentralSystemRootCertificate"}, "ocpp1.6")
    if bad_id is None:
        del message["id"]
    else:
        message["id"] = bad_id
    answer = only_error(json.dumps(message))
    assert answer["id"] == "-1"
    assert answer["data"]["ocpp_version"] == "ocpp1.6"
    assert answer["data"]["error_code"] == "FormationViolation"


def not_a_json_object_is_answered_with_id_minus_one(only_error: OnlyError, raw: bytes) -> None:
    answer = only_error(raw)
    assert answer["id"] == "-1"
    data = answer["data"]
    assert data["error_code"] == "RpcFrameworkError"
    assert data["ocpp_version"] == "ocpp2.0.1"  # issue 12: the station's own when the request's is unreadable
    assert_error_shape(data)


def unreadable_id_is_answered_with_id_minus_one(only_error: OnlyError, bad_id: Any, version: str) -> None:
    message = envelope("GetVariables", GET_ONE, version)
    if bad_id == "<missing>":
        del message["id"]
    else:
        message["id"] = bad_id
    answer = only_error(json.dumps(message))
    assert answer["id"] == "-1"
    assert answer["data"]["error_code"] == "RpcFrameworkError"
    assert answer["data"]["ocpp_version"] == version
    assert_error_shape(answer["data"])


def readable_id_that_is_not_a_uuid_is_echoed(only_error: OnlyError, bad_id: str) -> None:
    message = envelope("GetVariables", GET_ONE, request_id=bad_id)
    answer = only_error(json.dumps(message))
    assert answer["id"] == bad_id
    assert answer["data"]["error_code"] == "RpcFrameworkError"
    assert answer["data"]["ocpp_version"] == "ocpp2.0.1"


def envelope_problem_is_rpc_framework_error(only_error: OnlyError, case: str) -> None:
    message = mutated(ENVELOPE_CASES[case])
    answer = only_error(json.dumps(message))
    assert answer["id"] == message["id"]
    data = answer["data"]
    assert data["error_code"] == "RpcFrameworkError"
    assert_error_shape(data)
    # issue 12: the request's version, or when it is unreadable the station's own (also 2.0.1 here)
    assert data["ocpp_version"] == "ocpp2.0.1"


def envelope_problem_in_16_is_formation_violation(only_error: OnlyError, case: str) -> None:
    message = mutated(ENVELOPE_CASES[case], "ocpp1.6")
    data = only_error(json.dumps(message))["data"]
    assert data["ocpp_version"] == "ocpp1.6"
    assert data["error_code"] == "FormationViolation"


def hostile_message_answer(answer: dict[str, Any], request_id: str, case: str) -> None:
    """The one answer to ``HOSTILE[case](request_id)``."""
    echoed = answer["id"] == request_id
    check_response(answer, "GetVariables" if echoed else None, "ocpp2.0.1" if echoed else None)
    assert answer["id"] in (request_id, "-1")
    if "5MB" in case:  # beyond requests.max_bytes (1 MiB): refused unparsed (issue 5)
        assert answer["data"]["error_code"] == "FormatViolation"
    elif answer["id"] == "-1":
        assert answer["data"]["message_type"] == "CallError"
        assert answer["data"]["error_code"] == "RpcFrameworkError"
    assert len(json.dumps(answer)) < 10_000  # nothing of the input is echoed back

"""Unit tests of the Josev envelope (rpc/envelope.py) and the error-code spelling (rpc/errors.py)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from ocpp_station.errors import (
    MAX_DESCRIPTION_LENGTH,
    ErrorCode,
    OcppError,
    clip_description,
    parse_wire_code,
    wire_code,
)
from ocpp_station.rpc.envelope import (
    MAX_ID_LENGTH,
    STATION_OCPP_VERSION,
    UNKNOWN_ID,
    EnvelopeError,
    NotARequest,
    Request,
    call_error,
    call_result,
    decode,
    fingerprint,
    parse_request,
    readable_id,
)

UUID = "2b0aa109-21a1-4f2f-bdbd-6cdf139e7bb1"
PAYLOAD = {"getVariableData": [{"component": {"name": "TxCtrlr"}, "variable": {"name": "TxStartPoint"}}]}
SEED = {"id": UUID, "name": "ocpp_message", "type": "request",
        "data": {"ocpp_version": "ocpp2.0.1", "message_name": "GetVariables", "payload": PAYLOAD}}
SPEC_16 = {"NotImplemented", "NotSupported", "InternalError", "ProtocolError", "SecurityError", "FormationViolation",
           "PropertyConstraintViolation", "OccurenceConstraintViolation", "TypeConstraintViolation", "GenericError"}
SPEC_2X = {"FormatViolation", "GenericError", "InternalError", "MessageTypeNotSupported", "NotImplemented",
           "NotSupported", "OccurrenceConstraintViolation", "PropertyConstraintViolation", "ProtocolError",
           "RpcFrameworkError", "SecurityError", "TypeConstraintViolation"}


def seed(**changes: Any) -> dict[str, Any]:
    message = copy.deepcopy(SEED)
    for key, value in changes.items():
        if key.startswith("data_"):
            target, key = message["data"], key.removeprefix("data_")
        else:
            target = message
        if value is ...:
            target.pop(key)
        else:
            target[key] = value
    return message


def envelope_error(message: Any) -> EnvelopeError:
    with pytest.raises(EnvelopeError) as caught:
        parse_request(message)
    return caught.value


# --- parse_request: the good cases ----------------------------------------------------------------

@pytest.mark.parametrize("version", ["ocpp1.6", "ocpp2.0.1", "ocpp2.1"])
def test_parse_seed_example(version: str) -> None:
    assert parse_request(seed(data_ocpp_version=version)) == Request(UUID, version, "GetVariables", PAYLOAD)


def test_parse_tolerates_extra_keys_and_uppercase_uuid() -> None:
    message = seed(id=UUID.upper(), extra=1, data_trace={"x": 1})
    assert parse_request(message) == Request(UUID.upper(), "ocpp2.0.1", "GetVariables", PAYLOAD)


def test_parse_accepts_any_action_name_and_empty_payload() -> None:
    """Routing, not parsing, decides whether an action is known."""
    assert parse_request(seed(data_message_name="Foo", data_payload={})).action == "Foo"


# --- parse_request: what cannot be read -----------------------------------------------------------

@pytest.mark.parametrize("message", [None, [], [SEED], "text", 123, 1.5, True])
def test_not_an_object(message: Any) -> None:
    error = envelope_error(message)
    assert (error.code, error.request_id, error.ocpp_version) == (ErrorCode.RPC_FRAMEWORK_ERROR, UNKNOWN_ID, None)


@pytest.mark.parametrize("bad_id", [..., None, 42, 1.0, True, ["x"], {"a": 1}, "", "x" * 37, UUID + "0"])
def test_unreadable_id_becomes_minus_one(bad_id: Any) -> None:
    error = envelope_error(seed(id=bad_id))
    assert error.request_id == UNKNOWN_ID
    assert error.ocpp_version == "ocpp2.0.1"  # still read, so the answer can carry it
    assert error.code is ErrorCode.RPC_FRAMEWORK_ERROR


@pytest.mark.parametrize("bad_id", ["abc", "x" * 36, UUID.replace("-", ""), "{" + UUID[:34] + "}", UUID[:-1] + "g",
                                    " " + UUID[:-1]])
def test_readable_non_uuid_id_is_kept(bad_id: str) -> None:
    error = envelope_error(seed(id=bad_id))
    assert error.request_id == bad_id
    assert error.code is ErrorCode.RPC_FRAMEWORK_ERROR
    assert bad_id not in error.description


@pytest.mark.parametrize(("value", "expected"), [
    (UUID, UUID), ("a", "a"), ("x" * MAX_ID_LENGTH, "x" * MAX_ID_LENGTH), ("x" * (MAX_ID_LENGTH + 1), UNKNOWN_ID),
    ("", UNKNOWN_ID), (None, UNKNOWN_ID), (5, UNKNOWN_ID),
])
def test_readable_id(value: Any, expected: str) -> None:
    assert readable_id({"id": value}) == expected
    assert MAX_ID_LENGTH == 36


@pytest.mark.parametrize(("changes", "keeps_version"), [
    ({"name": 5}, True),
    ({"name": ...}, True),
    ({"type": "Request"}, True),
    ({"type": ...}, True),
    ({"type": None}, True),
    ({"data": ...}, False),
    ({"data": []}, False),
    ({"data": "x"}, False),
    ({"data_ocpp_version": "ocpp1.5"}, False),
    ({"data_ocpp_version": "OCPP2.0.1"}, False),
    ({"data_ocpp_version": ...}, False),
    ({"data_ocpp_version": ["ocpp2.0.1"]}, False),
    ({"data_message_name": ...}, True),
    ({"data_message_name": ""}, True),
    ({"data_message_name": 5}, True),
    ({"data_message_name": ["GetVariables"]}, True),
    ({"data_payload": ...}, True),
    ({"data_payload": None}, True),
    ({"data_payload": []}, True),
    ({"data_payload": "{}"}, True),
])
def test_envelope_field_problems_keep_the_id(changes: dict[str, Any], keeps_version: bool) -> None:
    error = envelope_error(seed(**changes))
    assert error.request_id == UUID
    assert error.code is ErrorCode.RPC_FRAMEWORK_ERROR
    assert error.ocpp_version == ("ocpp2.0.1" if keeps_version else None)
    assert error.description and len(error.description) <= MAX_DESCRIPTION_LENGTH


@pytest.mark.parametrize("changes", [{}, {"id": ...}, {"data": ...}, {"name": "x"}])
def test_a_response_is_not_a_request(changes: dict[str, Any]) -> None:
    with pytest.raises(NotARequest):
        parse_request(seed(type="response", **changes))


@pytest.mark.parametrize(("name", "kind"), [("service_status", "request"), ("cp_status", "update"),
                                            ("meter_values", "response"), ("device_model", "request")])
def test_another_josev_message_is_not_ours_whatever_its_other_fields(name: str, kind: str) -> None:
    """Issue 12: cs/josev carries Josev's whole API; a message with another name is not answered."""
    for changes in ({}, {"id": ...}, {"data": ...}, {"data_ocpp_version": "ocpp9"}):
        with pytest.raises(NotARequest) as caught:
            parse_request(seed(name=name, type=kind, **changes))
        assert (caught.value.name, caught.value.kind) == (name, kind)


# --- call_result / call_error ---------------------------------------------------------------------

def test_call_result_shape() -> None:
    request = Request(UUID, "ocpp2.1", "GetVariables", PAYLOAD)
    assert call_result(request, {"a": 1}) == {
        "id": UUID, "name": "ocpp_message", "type": "response",
        "data": {"ocpp_version": "ocpp2.1", "message_type": "CallResult", "payload": {"a": 1}}}


@pytest.mark.parametrize(("version", "code", "wire"), [
    ("ocpp1.6", ErrorCode.FORMAT_VIOLATION, "FormationViolation"),
    ("ocpp1.6", ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION, "OccurenceConstraintViolation"),
    ("ocpp1.6", ErrorCode.RPC_FRAMEWORK_ERROR, "FormationViolation"),
    ("ocpp2.0.1", ErrorCode.FORMAT_VIOLATION, "FormatViolation"),
    ("ocpp2.1", ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION, "OccurrenceConstraintViolation"),
    (None, ErrorCode.RPC_FRAMEWORK_ERROR, "RpcFrameworkError"),
])
def test_call_error_shape_and_spelling(version: str | None, code: ErrorCode, wire: str) -> None:
    body = call_error(UUID, version, OcppError(code, "d" * 300, {"path": "/x"}))
    assert body["id"] == UUID and body["name"] == "ocpp_message" and body["type"] == "response"
    data = body["data"]
    assert data["message_type"] == "CallError"
    assert data["error_code"] == wire
    assert len(data["error_description"]) <= 255
    assert data["error_details"] == {"path": "/x"}
    assert "payload" not in data
    # Issue 12: always a version (the seed's OcppResponse requires one); the station's own when unknown
    assert data["ocpp_version"] == (version or STATION_OCPP_VERSION)


def test_call_error_details_default_to_an_empty_object() -> None:
    data = call_error(UNKNOWN_ID, None, OcppError(ErrorCode.GENERIC_ERROR, "x"))["data"]
    assert data["error_details"] == {}
    assert data["error_description"] == "x"


def test_envelope_error_round_trip() -> None:
    error = envelope_error(seed(data_ocpp_version="ocpp1.6", name=None))
    data = call_error(error.request_id, error.ocpp_version, error)["data"]
    assert (data["ocpp_version"], data["error_code"]) == ("ocpp1.6", "FormationViolation")


# --- wire_code / parse_wire_code ------------------------------------------------------------------

SPELLING_16 = {
    ErrorCode.FORMAT_VIOLATION: "FormationViolation",
    ErrorCode.GENERIC_ERROR: "GenericError",
    ErrorCode.INTERNAL_ERROR: "InternalError",
    ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED: "NotSupported",
    ErrorCode.NOT_IMPLEMENTED: "NotImplemented",
    ErrorCode.NOT_SUPPORTED: "NotSupported",
    ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION: "OccurenceConstraintViolation",
    ErrorCode.PROPERTY_CONSTRAINT_VIOLATION: "PropertyConstraintViolation",
    ErrorCode.PROTOCOL_ERROR: "ProtocolError",
    ErrorCode.RPC_FRAMEWORK_ERROR: "FormationViolation",
    ErrorCode.SECURITY_ERROR: "SecurityError",
    ErrorCode.TYPE_CONSTRAINT_VIOLATION: "TypeConstraintViolation",
}


@pytest.mark.parametrize("code", list(ErrorCode))
def test_wire_code_16(code: ErrorCode) -> None:
    assert wire_code(code, "ocpp1.6") == SPELLING_16[code]
    assert wire_code(code, "ocpp1.6") in SPEC_16


@pytest.mark.parametrize("version", ["ocpp2.0.1", "ocpp2.1", None])
@pytest.mark.parametrize("code", list(ErrorCode))
def test_wire_code_2x(code: ErrorCode, version: str | None) -> None:
    assert wire_code(code, version) == code.value
    assert wire_code(code, version) in SPEC_2X


def test_every_spec_code_is_reachable() -> None:
    assert {wire_code(c, "ocpp1.6") for c in ErrorCode} == SPEC_16
    assert {wire_code(c, "ocpp2.0.1") for c in ErrorCode} == SPEC_2X


@pytest.mark.parametrize(("text", "expected"), [
    ("FormatViolation", ErrorCode.FORMAT_VIOLATION),
    ("FormationViolation", ErrorCode.FORMAT_VIOLATION),
    ("OccurrenceConstraintViolation", ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION),
    ("OccurenceConstraintViolation", ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION),
    ("RpcFrameworkError", ErrorCode.RPC_FRAMEWORK_ERROR),
    ("MessageTypeNotSupported", ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED),
    ("NotSupported", ErrorCode.NOT_SUPPORTED),
    ("formatviolation", None),
    ("Foo", None),
    ("", None),
])
def test_parse_wire_code_accepts_both_spellings(text: str, expected: ErrorCode | None) -> None:
    assert parse_wire_code(text) is expected


@pytest.mark.parametrize("code", list(ErrorCode))
@pytest.mark.parametrize("version", ["ocpp1.6", "ocpp2.0.1", "ocpp2.1"])
def test_wire_code_round_trips(code: ErrorCode, version: str) -> None:
    back = parse_wire_code(wire_code(code, version))
    if version == "ocpp1.6" and code in (ErrorCode.RPC_FRAMEWORK_ERROR, ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED):
        assert back in (ErrorCode.FORMAT_VIOLATION, ErrorCode.NOT_SUPPORTED)  # 1.6 has no such code
    else:
        assert back is code


# --- clip_description -----------------------------------------------------------------------------

@pytest.mark.parametrize("length", [0, 1, 254, 255])
def test_short_descriptions_are_untouched(length: int) -> None:
    assert clip_description("d" * length) == "d" * length


@pytest.mark.parametrize("length", [256, 300, 10_000])
def test_long_descriptions_are_clipped_to_255(length: int) -> None:
    clipped = clip_description("d" * length)
    assert len(clipped) == MAX_DESCRIPTION_LENGTH == 255
    assert clipped.startswith("d" * 254)
    assert clipped.endswith("…")


def test_clip_counts_characters_not_bytes() -> None:
    text = "é" * 300
    clipped = clip_description(text)
    assert len(clipped) == 255 and clipped[:254] == text[:254]


# -- fingerprint: is a repeated id the same request? ----------------------------------------------

SET = {"setVariableData": [{"attributeValue": "300", "component": {"name": "OCPPCommCtrlr"},
                            "variable": {"name": "OfflineThreshold"}}]}


def _identity(raw: bytes) -> bytes:
    return fingerprint(parse_request(decode(raw)), raw)


def _raw(payload: Any, action: str = "SetVariables", version: str = "ocpp2.0.1", **dumps: Any) -> bytes:
    message = {"id": UUID, "name": "ocpp_message", "type": "request",
               "data": {"ocpp_version": version, "message_name": action, "payload": payload}}
    return json.dumps(message, **dumps).encode()


def test_fingerprint_ignores_key_order_and_whitespace() -> None:
    assert _identity(_raw(SET)) == _identity(_raw(SET, sort_keys=True, indent=4))
    assert len(_identity(_raw(SET))) == 16


def test_fingerprint_tells_payload_action_and_version_apart() -> None:
    other_value = copy.deepcopy(SET)
    other_value["setVariableData"][0]["attributeValue"] = "301"
    identities = {_identity(_raw(SET)), _identity(_raw(other_value)), _identity(_raw(SET, action="Other")),
                  _identity(_raw(SET, version="ocpp2.1")), _identity(_raw({}))}
    assert len(identities) == 5


def test_fingerprint_of_payloads_orjson_cannot_write() -> None:
    """Integers beyond 64 bits (valid JSON) and nesting deeper than orjson writes still get one."""
    huge = _raw({"n": 2**70})
    assert _identity(huge) == _identity(_raw({"n": 2**70}, indent=1)) != _identity(_raw({"n": 2**70 + 1}))
    deep: Any = 0
    for _ in range(300):
        deep = [deep]
    assert _identity(_raw({"d": deep})) == _identity(_raw({"d": deep}, indent=1))
    assert _identity(_raw({"d": deep})) != _identity(_raw({"d": [deep]}))


@pytest.mark.parametrize("number", [2**64, 2**64 + 1, -(2**63) - 1, 10**40, 2**1000])
def test_decode_keeps_integers_beyond_64_bits_exact(number: int) -> None:
    """orjson alone would read them as floats, and an answer echoing them would change them."""
    decoded = decode(json.dumps({"payload": {"evse": {"id": number}}}).encode())
    assert decoded == {"payload": {"evse": {"id": number}}}
    assert type(decoded["payload"]["evse"]["id"]) is int

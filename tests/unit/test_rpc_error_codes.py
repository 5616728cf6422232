"""Every CALLERROR path of the OcppMessage API, in process: the error-code mapping and its spelling.

Each test checks the exact error code *and* its spelling for the request's version (1.6:
FormationViolation / OccurenceConstraintViolation; 2.x: FormatViolation / OccurrenceConstraintViolation),
that the description fits in 255 characters, that the details are an object and that the id is echoed.

The bytes go to :meth:`ocpp_station.app.Station.handle` as the MQTT door hands them over: one call,
one answer (or none); every answer is decoded with :mod:`json` and checked with
:func:`tests.support.check_response`. The same cases, a few of each, run over mosquitto in
tests/integration/test_rpc_errors.py, with the tests that need the broker (no answer on the
topic, answers in order, the station process surviving hostile bytes).
"""

from __future__ import annotations

import functools
import json
import uuid
from typing import Any

import pytest

from .. import rpc_cases as cases
from ..rpc_cases import (
    ENVELOPE_CASES,
    GET_ONE,
    HOSTILE,
    LEAK_CASES,
    SCHEMA_CASES,
    VERSIONS_2X,
    get_payload,
    mutated,
    set_payload,
)
from ..support import ERROR_CODES, InProcessOem, check_response, envelope


@pytest.fixture
def oem(module_oem: InProcessOem) -> InProcessOem:
    """One station for the module: no request here changes what another test reads."""
    return module_oem


def only_error(oem: InProcessOem, raw: bytes | str) -> dict[str, Any]:
    """The one CallError answering ``raw`` (checked), as a whole envelope; the station still answers."""
    answer = oem.send(raw)
    assert answer is not None, "no answer"
    check_response(answer, None, None)
    assert answer["data"]["message_type"] == "CallError", answer
    still_works(oem)
    return answer


def still_works(oem: InProcessOem) -> None:
    assert oem.result("GetVariables", GET_ONE)["getVariableResult"][0]["attributeStatus"] == "Accepted"


# --------------------------------------------------------------------------------------------------
# Schema failures on a known, supported action (2.x spelling)
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("version", VERSIONS_2X)
@pytest.mark.parametrize(("action", "payload", "code", "path", "keyword"), SCHEMA_CASES)
def test_schema_violation_maps_to_the_right_code(oem: InProcessOem, version: str, action: str, payload: dict,
                                                 code: str, path: str, keyword: str) -> None:
    answer = oem.call(action, payload, version)  # checks the id is echoed and the answer's shape
    cases.schema_violation_maps_to_the_right_code(answer, action, code, path, keyword)


def test_schema_error_codes_use_the_2x_spelling(oem: InProcessOem) -> None:
    codes = {oem.error("GetVariables", {"getVariableData": []}, v)["error_code"] for v in VERSIONS_2X}
    assert codes == {"OccurrenceConstraintViolation"}
    codes = {oem.error("GetVariables", {**GET_ONE, "x": 1}, v)["error_code"] for v in VERSIONS_2X}
    assert codes == {"FormatViolation"}


def test_set_variables_attribute_value_length_differs_per_version(oem: InProcessOem) -> None:
    """attributeValue is string[1000] in 2.0.1 and string[2500] in 2.1."""
    item = {"component": {"name": "TxCtrlr"}, "variable": {"name": "NoSuchVariable"}, "attributeValue": "x" * 1001}
    data = oem.error("SetVariables", set_payload(item), "ocpp2.0.1")
    assert (data["error_code"], data["error_details"]["keyword"]) == ("PropertyConstraintViolation", "maxLength")
    [result] = oem.result("SetVariables", set_payload(item), "ocpp2.1")["setVariableResult"]
    assert result["attributeStatus"] == "UnknownVariable"


# --------------------------------------------------------------------------------------------------
# The description never echoes what was sent
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("action", "payload", "marker"), LEAK_CASES)
def test_description_never_echoes_the_value(oem: InProcessOem, action: str, payload: dict, marker: str) -> None:
    cases.description_never_echoes_the_value(oem, action, payload, marker)


# --------------------------------------------------------------------------------------------------
# Routing: unknown / unsupported actions, 1.6
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("version", ["ocpp1.6", *VERSIONS_2X])
def test_unknown_action_is_not_implemented(oem: InProcessOem, version: str) -> None:
    cases.unknown_action_is_not_implemented(oem, version)


@pytest.mark.parametrize("version", VERSIONS_2X)
@pytest.mark.parametrize("action", ["UnlockConnector", "GetMonitoringReport", "ChangeAvailability"])
def test_known_but_unsupported_action_is_not_supported(oem: InProcessOem, version: str, action: str) -> None:
    cases.known_but_unsupported_action_is_not_supported(oem, version, action)


@pytest.mark.parametrize(("action", "payload"), [
    ("GetVariables", GET_ONE),
    ("SetVariables", set_payload({"component": {"name": "TxCtrlr"}, "variable": {"name": "TxStartPoint"},
                                  "attributeValue": "Authorized"})),
    ("SetNetworkProfile", {"configurationSlot": 1, "connectionData": {}}),
])
def test_seed_2x_actions_in_16_are_not_supported(oem: InProcessOem, action: str, payload: dict) -> None:
    cases.seed_2x_actions_in_16_are_not_supported(oem, action, payload)


@pytest.mark.parametrize(("action", "payload"), [
    ("GetInstalledCertificateIds", {"certificateType": "CentralSystemRootCertificate"}),
    ("InstallCertificate", {"certificateType": "CentralSystemRootCertificate",
                            "certificate": "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n"}),
    ("DeleteCertificate", {"certificateHashData": {"hashAlgorithm": "SHA256", "issuerNameHash": "00" * 32,
                                                   "issuerKeyHash": "11" * 32, "serialNumber": "4"}}),
])
def test_16_certificate_actions_get_a_valid_answer(oem: InProcessOem, action: str, payload: dict) -> None:
    """1.6-security defines these actions; whatever the station answers must be a valid envelope."""
    cases.certificate_action_in_16_gets_a_valid_answer(oem, action, payload)


def test_16_payload_not_an_object_is_formation_violation(oem: InProcessOem) -> None:
    cases.payload_not_an_object_in_16_is_formation_violation(functools.partial(only_error, oem))


@pytest.mark.parametrize("bad_id", [None, 42, "x" * 37, ""], ids=["missing", "number", "37-chars", "empty"])
def test_16_unreadable_id_is_formation_violation(oem: InProcessOem, bad_id: Any) -> None:
    cases.unreadable_id_in_16_is_formation_violation(functools.partial(only_error, oem), bad_id)


def test_16_never_uses_2x_only_codes(oem: InProcessOem) -> None:
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
def test_not_a_json_object_is_answered_with_id_minus_one(oem: InProcessOem, raw: bytes) -> None:
    cases.not_a_json_object_is_answered_with_id_minus_one(functools.partial(only_error, oem), raw)


@pytest.mark.parametrize("bad_id", ["<missing>", 42, None, ["a"], {"a": 1}, "x" * 37, str(uuid.uuid4()) + "0", ""],
                         ids=["missing", "number", "null", "array", "object", "37-chars", "uuid+1", "empty"])
@pytest.mark.parametrize("version", VERSIONS_2X)
def test_unreadable_id_is_answered_with_id_minus_one(oem: InProcessOem, bad_id: Any, version: str) -> None:
    cases.unreadable_id_is_answered_with_id_minus_one(functools.partial(only_error, oem), bad_id, version)


@pytest.mark.parametrize("bad_id", ["abc", "not-a-uuid-but-short", "2b0aa109-21a1-4f2f-bdbd-6cdf139e7bbZ",
                                    "{2b0aa109-21a1-4f2f-bdbd-6cdf139e7b}"])
def test_readable_id_that_is_not_a_uuid_is_echoed(oem: InProcessOem, bad_id: str) -> None:
    cases.readable_id_that_is_not_a_uuid_is_echoed(functools.partial(only_error, oem), bad_id)


def test_uppercase_uuid_is_accepted(oem: InProcessOem) -> None:
    message = envelope("GetVariables", GET_ONE, request_id=str(uuid.uuid4()).upper())
    answer = oem.send(json.dumps(message))
    assert answer is not None and answer["id"] == message["id"]
    check_response(answer, "GetVariables", "ocpp2.0.1")
    assert answer["data"]["message_type"] == "CallResult"


@pytest.mark.parametrize("case", sorted(ENVELOPE_CASES))
def test_envelope_problem_is_rpc_framework_error(oem: InProcessOem, case: str) -> None:
    cases.envelope_problem_is_rpc_framework_error(functools.partial(only_error, oem), case)


@pytest.mark.parametrize("case", ["name-wrong", "type-wrong", "message-name-empty", "payload-array"])
def test_envelope_problem_in_16_is_formation_violation(oem: InProcessOem, case: str) -> None:
    cases.envelope_problem_in_16_is_formation_violation(functools.partial(only_error, oem), case)


def test_extra_envelope_keys_are_tolerated(oem: InProcessOem) -> None:
    message = envelope("GetVariables", GET_ONE)
    message["timestamp"] = "2024-01-01T00:00:00Z"
    message["data"]["trace"] = {"a": 1}
    answer = oem.send(json.dumps(message))
    assert answer is not None and answer["id"] == message["id"]
    check_response(answer, "GetVariables", "ocpp2.0.1")
    assert answer["data"]["message_type"] == "CallResult"


@pytest.mark.parametrize("case", ["1.6", "unknown-version"])
def test_a_versionless_envelope_problem_names_the_station_version_not_another(oem: InProcessOem, case: str) -> None:
    """Issue 12: a 1.6 request keeps its version and spelling; an unreadable version gets the station's."""
    version = "ocpp1.6" if case == "1.6" else "ocpp9"
    message = mutated(lambda m: m["data"].pop("payload"), "ocpp1.6")
    message["data"]["ocpp_version"] = version
    data = only_error(oem, json.dumps(message))["data"]
    expected = ("ocpp1.6", "FormationViolation") if case == "1.6" else ("ocpp2.0.1", "RpcFrameworkError")
    assert (data["ocpp_version"], data["error_code"]) == expected


@pytest.mark.parametrize("name", ["ocpp_messages", "service_status", "OCPP_MESSAGE"])
def test_another_josev_message_name_gets_no_answer(oem: InProcessOem, name: str) -> None:
    message = mutated(lambda m: m.update(name=name))
    assert oem.send(json.dumps(message)) is None
    still_works(oem)


@pytest.mark.parametrize("with_id", [True, False])
def test_response_on_the_request_topic_gets_no_answer(oem: InProcessOem, with_id: bool) -> None:
    message = {"id": str(uuid.uuid4()), "name": "ocpp_message", "type": "response",
               "data": {"ocpp_version": "ocpp2.0.1", "message_type": "CallResult", "payload": {}}}
    if not with_id:
        del message["id"]
    assert oem.send(json.dumps(message)) is None
    still_works(oem)


# --------------------------------------------------------------------------------------------------
# Robustness: hostile bytes get one answer and leave the station working
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_message_gets_one_answer_and_station_survives(oem: InProcessOem, case: str) -> None:
    request_id = str(uuid.uuid4())
    answer = oem.send(HOSTILE[case](request_id))  # an exception here fails the test: nothing may escape
    assert answer is not None
    cases.hostile_message_answer(answer, request_id, case)
    still_works(oem)


def test_deep_but_parseable_nesting_in_custom_data(oem: InProcessOem) -> None:
    """customData allows any extra property: 500 levels of nesting must not hurt the validator."""
    nested: Any = {}
    for _ in range(500):
        nested = {"n": nested}
    payload = get_payload({"component": {"name": "TxCtrlr"}, "variable": {"name": "TxStartPoint"},
                           "customData": {"vendorId": "acme", "deep": nested}})
    answer = oem.call("GetVariables", payload)
    assert answer["data"]["message_type"] == "CallResult"
    still_works(oem)


def test_long_unknown_action_name_gives_a_clipped_description(oem: InProcessOem) -> None:
    data = oem.error("Foo" * 400, {})
    assert data["error_code"] == "NotImplemented"
    assert len(data["error_description"]) <= 255


def test_an_unknown_action_is_neither_quoted_back_nor_logged_raw(oem: InProcessOem,
                                                                 station_log: Any) -> None:
    """Issue 15 item 4: a client's action name (here with a forged log line and 100 kB of text) is not
    echoed in the error description, and reaches the log escaped and cut to a few dozen characters."""
    forged = "Nope\n2026-12-01 10:00:00,000 ERROR   ocpp_station: forged line" + "x" * 100_000
    data = oem.error(forged, {}, "ocpp2.0.1")
    assert data["error_code"] == "NotImplemented"
    assert "Nope" not in data["error_description"] and "forged" not in json.dumps(data)
    log = station_log()
    assert "\n2026-12-01 10:00:00,000 ERROR" not in log  # escaped: never a line of its own
    assert len(log) < 10_000

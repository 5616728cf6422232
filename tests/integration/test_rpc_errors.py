"""The CALLERROR paths of the OcppMessage API, end to end over mosquitto: a few cases of each.

Every case of every path runs in process, in tests/unit/test_rpc_error_codes.py (the error-code
mapping and its spelling); here a few of each go through the broker and the station process (the
bytes as the door receives them, the answer on josev/cs), with what only the broker can show: no
answer at all, answers in order, a station process that survives hostile bytes.

Each test checks the exact error code *and* its spelling for the request's version (1.6:
FormationViolation / OccurenceConstraintViolation; 2.x: FormatViolation / OccurrenceConstraintViolation),
that the description fits in 255 characters, that the details are an object and that the id is echoed.

Raw messages are followed by a "sentinel" GetVariables: the station answers in arrival order, so every
answer that arrives before the sentinel's belongs to the raw message. That proves "exactly one answer"
without sleeping, and that the station still works afterwards.
"""

from __future__ import annotations

import functools
import json
import uuid
from typing import Any

import pytest

from .. import rpc_cases as cases
from ..rpc_cases import GET_ONE, HOSTILE, LEAK_CASES, SCHEMA_CASES, VERSIONS_2X, mutated
from ..support import OemClient, StationProcess, check_response, envelope, pick


def exchange(oem: OemClient, raw: bytes | str, timeout: float = 10.0) -> list[dict[str, Any]]:
    """Publish ``raw`` then a sentinel GetVariables; return every answer that came before the sentinel's.

    Also asserts that the sentinel itself is answered with a CallResult (the station still works).
    """
    oem.publish(raw)
    return oem.barrier(timeout)


def only_error(oem: OemClient, raw: bytes | str) -> dict[str, Any]:
    """The one CallError answering ``raw`` (checked), as a whole envelope."""
    answers = exchange(oem, raw)
    assert len(answers) == 1, answers
    [answer] = answers
    check_response(answer, None, None)
    assert answer["data"]["message_type"] == "CallError", answer
    return answer


# --------------------------------------------------------------------------------------------------
# Schema failures on a known, supported action (2.x spelling)
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("version", VERSIONS_2X)
@pytest.mark.parametrize(("action", "payload", "code", "path", "keyword"), pick(SCHEMA_CASES, "get-missing-variable"))
def test_schema_violation_maps_to_the_right_code(oem: OemClient, version: str, action: str, payload: dict,
                                                 code: str, path: str, keyword: str) -> None:
    message = envelope(action, payload, version)
    oem.publish(json.dumps(message))
    answer = oem.wait_for(message["id"])
    check_response(answer, action, version)
    assert answer["id"] == message["id"]
    cases.schema_violation_maps_to_the_right_code(answer, action, code, path, keyword)


# --------------------------------------------------------------------------------------------------
# The description never echoes what was sent
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("action", "payload", "marker"), pick(LEAK_CASES, "secret-in-array"))
def test_description_never_echoes_the_value(oem: OemClient, action: str, payload: dict, marker: str) -> None:
    cases.description_never_echoes_the_value(oem, action, payload, marker)


# --------------------------------------------------------------------------------------------------
# Routing: unknown / unsupported actions, 1.6
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("version", ["ocpp1.6"])
def test_unknown_action_is_not_implemented(oem: OemClient, version: str) -> None:
    cases.unknown_action_is_not_implemented(oem, version)


@pytest.mark.parametrize("version", ["ocpp2.1"])
@pytest.mark.parametrize("action", ["GetMonitoringReport"])
def test_known_but_unsupported_action_is_not_supported(oem: OemClient, version: str, action: str) -> None:
    cases.known_but_unsupported_action_is_not_supported(oem, version, action)


@pytest.mark.parametrize(("action", "payload"), [
    ("SetNetworkProfile", {"configurationSlot": 1, "connectionData": {}}),
])
def test_seed_2x_actions_in_16_are_not_supported(oem: OemClient, action: str, payload: dict) -> None:
    cases.seed_2x_actions_in_16_are_not_supported(oem, action, payload)


@pytest.mark.parametrize(("action", "payload"), [
    ("DeleteCertificate", {"certificateHashData": {"hashAlgorithm": "SHA256", "issuerNameHash": "00" * 32,
                                                   "issuerKeyHash": "11" * 32, "serialNumber": "4"}}),
])
def test_16_certificate_actions_get_a_valid_answer(oem: OemClient, action: str, payload: dict) -> None:
    """1.6-security defines these actions; whatever the station answers must be a valid envelope."""
    cases.certificate_action_in_16_gets_a_valid_answer(oem, action, payload)


def test_16_payload_not_an_object_is_formation_violation(oem: OemClient) -> None:
    cases.payload_not_an_object_in_16_is_formation_violation(functools.partial(only_error, oem))


@pytest.mark.parametrize("bad_id", [None], ids=["missing"])
def test_16_unreadable_id_is_formation_violation(oem: OemClient, bad_id: Any) -> None:
    cases.unreadable_id_in_16_is_formation_violation(functools.partial(only_error, oem), bad_id)


# --------------------------------------------------------------------------------------------------
# Envelope problems (RpcFrameworkError in 2.x)
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw", [b"\xff\xfe", b""], ids=["bad-utf8", "empty"])
def test_not_a_json_object_is_answered_with_id_minus_one(oem: OemClient, raw: bytes) -> None:
    cases.not_a_json_object_is_answered_with_id_minus_one(functools.partial(only_error, oem), raw)


@pytest.mark.parametrize(("bad_id", "version"), [(42, "ocpp2.0.1"), ("x" * 37, "ocpp2.1")],
                         ids=["number-2.0.1", "37-chars-2.1"])
def test_unreadable_id_is_answered_with_id_minus_one(oem: OemClient, bad_id: Any, version: str) -> None:
    cases.unreadable_id_is_answered_with_id_minus_one(functools.partial(only_error, oem), bad_id, version)


@pytest.mark.parametrize("bad_id", ["2b0aa109-21a1-4f2f-bdbd-6cdf139e7bbZ"])
def test_readable_id_that_is_not_a_uuid_is_echoed(oem: OemClient, bad_id: str) -> None:
    cases.readable_id_that_is_not_a_uuid_is_echoed(functools.partial(only_error, oem), bad_id)


def test_uppercase_uuid_is_accepted(oem: OemClient) -> None:
    message = envelope("GetVariables", GET_ONE, request_id=str(uuid.uuid4()).upper())
    answers = exchange(oem, json.dumps(message))
    assert [a["id"] for a in answers] == [message["id"]]
    assert answers[0]["data"]["message_type"] == "CallResult"


@pytest.mark.parametrize("case", ["data-missing", "payload-null"])
def test_envelope_problem_is_rpc_framework_error(oem: OemClient, case: str) -> None:
    cases.envelope_problem_is_rpc_framework_error(functools.partial(only_error, oem), case)


@pytest.mark.parametrize("case", ["type-wrong"])
def test_envelope_problem_in_16_is_formation_violation(oem: OemClient, case: str) -> None:
    cases.envelope_problem_in_16_is_formation_violation(functools.partial(only_error, oem), case)


@pytest.mark.parametrize("name", ["service_status"])
def test_another_josev_message_name_gets_no_answer(oem: OemClient, station: StationProcess, name: str) -> None:
    message = mutated(lambda m: m.update(name=name))
    assert exchange(oem, json.dumps(message)) == []
    assert station.process is not None and station.process.poll() is None


def test_response_on_the_request_topic_gets_no_answer(oem: OemClient, station: StationProcess) -> None:
    """Nothing before the sentinel's answer; nothing can come after it (the station answers in order)."""
    message = {"id": str(uuid.uuid4()), "name": "ocpp_message", "type": "response",
               "data": {"ocpp_version": "ocpp2.0.1", "message_type": "CallResult", "payload": {}}}
    assert exchange(oem, json.dumps(message)) == []
    assert station.process is not None and station.process.poll() is None


# --------------------------------------------------------------------------------------------------
# Robustness: hostile bytes get one answer and leave the station working
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", ["garbage-5MB", "json-5MB-string", "nested-arrays-100000", "nul-raw"])
def test_hostile_message_gets_one_answer_and_station_survives(oem: OemClient, station: StationProcess,
                                                              case: str) -> None:
    request_id = str(uuid.uuid4())
    answers = exchange(oem, HOSTILE[case](request_id), timeout=30.0)
    assert len(answers) == 1, answers
    [answer] = answers
    cases.hostile_message_answer(answer, request_id, case)
    assert station.process.poll() is None
    assert oem.result("GetVariables", GET_ONE)["getVariableResult"][0]["attributeStatus"] == "Accepted"


def test_200_requests_back_to_back_answered_once_in_order(oem: OemClient) -> None:
    """200 requests, then a barrier: exactly their 200 answers came before the barrier's, in order."""
    oem.barrier()  # whatever an earlier test left unread is taken off the queue first
    sent = [envelope("GetVariables", GET_ONE, ("ocpp2.0.1", "ocpp2.1")[i % 2]) for i in range(200)]
    for message in sent:
        oem.publish(json.dumps(message))
    received = oem.barrier(timeout=30)
    assert [a["id"] for a in received] == [m["id"] for m in sent]
    for message, answer in zip(sent, received, strict=True):
        check_response(answer, "GetVariables", message["data"]["ocpp_version"])
        assert answer["data"]["message_type"] == "CallResult"

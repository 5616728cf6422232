"""A request id seen before: the same request is answered again, another request is refused.

In process (no MQTT), so that each case is cheap; the MQTT end-to-end cases, restarts included,
are in tests/integration/test_reliability.py.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ocpp_station.app import Station
from ocpp_station.config import Config

from ..support import check_response, variable_data

OFFLINE_THRESHOLD = variable_data("OCPPCommCtrlr", "OfflineThreshold")


@pytest.fixture
def station(tmp_path: Path) -> Iterator[Station]:
    engine = Station(replace(Config(), data_dir=tmp_path / "data"))
    yield engine
    engine.close()


def _send(station: Station, request_id: str, version: str, action: str, payload: dict[str, Any],
          **dumps: Any) -> dict[str, Any]:
    raw = json.dumps({"id": request_id, "name": "ocpp_message", "type": "request",
                      "data": {"ocpp_version": version, "message_name": action, "payload": payload}}, **dumps)
    answer = station.handle(raw.encode())
    assert answer.body is not None
    decoded = json.loads(answer.body)
    check_response(decoded, action, version)
    assert decoded["id"] == request_id
    return decoded["data"]


def test_a_read_repeated_is_answered_from_memory_and_another_read_is_refused(station: Station) -> None:
    request_id = str(uuid.uuid4())
    first = _send(station, request_id, "ocpp2.0.1", "GetVariables", {"getVariableData": [OFFLINE_THRESHOLD]})
    again = _send(station, request_id, "ocpp2.0.1", "GetVariables", {"getVariableData": [OFFLINE_THRESHOLD]},
                  indent=3, sort_keys=True)
    assert again == first
    other = _send(station, request_id, "ocpp2.0.1", "GetVariables",
                  {"getVariableData": [variable_data("AuthCtrlr", "LocalAuthorizeOffline")]})
    assert other["message_type"] == "CallError" and other["error_code"] == "RpcFrameworkError", other
    assert request_id in other["error_description"]


def test_a_set_under_a_used_id_changes_nothing(station: Station) -> None:
    request_id = str(uuid.uuid4())
    accepted = _send(station, request_id, "ocpp2.0.1", "SetVariables",
                     {"setVariableData": [OFFLINE_THRESHOLD | {"attributeValue": "111"}]})
    assert accepted["payload"]["setVariableResult"][0]["attributeStatus"] == "Accepted"
    refused = _send(station, request_id, "ocpp2.0.1", "SetVariables",
                    {"setVariableData": [OFFLINE_THRESHOLD | {"attributeValue": "222"}]})
    assert refused["error_code"] == "RpcFrameworkError", refused
    read = _send(station, str(uuid.uuid4()), "ocpp2.0.1", "GetVariables", {"getVariableData": [OFFLINE_THRESHOLD]})
    assert read["payload"]["getVariableResult"][0]["attributeValue"] == "111"


def test_another_version_under_a_used_id_is_another_request_and_1_6_spells_it_formation_violation(
        station: Station) -> None:
    request_id = str(uuid.uuid4())
    payload = {"certificateType": ["CSMSRootCertificate"]}
    first = _send(station, request_id, "ocpp2.0.1", "GetInstalledCertificateIds", payload)
    assert first["message_type"] == "CallResult", first
    refused = _send(station, request_id, "ocpp1.6", "GetInstalledCertificateIds",
                    {"certificateType": "CentralSystemRootCertificate"})
    assert refused["error_code"] == "FormationViolation", refused


def test_a_call_error_repeated_is_the_same_call_error(station: Station) -> None:
    """A request refused by its schema is remembered too: sent again, the same CallError, not a new run."""
    request_id = str(uuid.uuid4())
    bad = {"getVariableData": []}  # minItems 1
    first = _send(station, request_id, "ocpp2.0.1", "GetVariables", bad)
    assert first["error_code"] == "OccurrenceConstraintViolation", first
    assert _send(station, request_id, "ocpp2.0.1", "GetVariables", bad) == first
    corrected = _send(station, request_id, "ocpp2.0.1", "GetVariables", {"getVariableData": [OFFLINE_THRESHOLD]})
    assert corrected["error_code"] == "RpcFrameworkError", corrected  # a corrected request needs a new id

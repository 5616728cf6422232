"""A request id seen before: the same request is answered again, another request runs as what it is.

A request is its id *and* its content (issue 12): a QoS 1 redelivery or the OEM's retry of the same
request gets the answer it was given and runs nothing; a different request under a used id — the
seed's examples all carry one id, and people paste them in order — runs and is answered under that
id; and the earlier request, redelivered after that, still gets its own answer, not a second run.

In process (no MQTT), so that each case is cheap; the MQTT end-to-end cases, restarts included,
are in tests/integration/test_reliability.py and test_interop.py.
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
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def station(data_dir: Path) -> Iterator[Station]:
    engine = Station(replace(Config(), data_dir=data_dir))
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


def _set(station: Station, request_id: str, value: str) -> dict[str, Any]:
    return _send(station, request_id, "ocpp2.0.1", "SetVariables",
                 {"setVariableData": [OFFLINE_THRESHOLD | {"attributeValue": value}]})


def _offline_threshold(station: Station) -> str:
    read = _send(station, str(uuid.uuid4()), "ocpp2.0.1", "GetVariables", {"getVariableData": [OFFLINE_THRESHOLD]})
    return read["payload"]["getVariableResult"][0]["attributeValue"]


def test_a_read_repeated_is_answered_from_memory_and_another_read_under_its_id_runs(station: Station) -> None:
    request_id = str(uuid.uuid4())
    first = _send(station, request_id, "ocpp2.0.1", "GetVariables", {"getVariableData": [OFFLINE_THRESHOLD]})
    again = _send(station, request_id, "ocpp2.0.1", "GetVariables", {"getVariableData": [OFFLINE_THRESHOLD]},
                  indent=3, sort_keys=True)  # the same request, serialized differently
    assert again == first
    other = _send(station, request_id, "ocpp2.0.1", "GetVariables",
                  {"getVariableData": [variable_data("AuthCtrlr", "LocalAuthorizeOffline")]})
    assert other["message_type"] == "CallResult", other
    assert other["payload"]["getVariableResult"][0]["variable"] == {"name": "LocalAuthorizeOffline"}


def test_a_set_under_a_used_id_runs_and_the_earlier_set_repeated_does_not_run_again(station: Station) -> None:
    request_id = str(uuid.uuid4())
    first = _set(station, request_id, "111")
    assert first["payload"]["setVariableResult"][0]["attributeStatus"] == "Accepted"
    second = _set(station, request_id, "222")  # another request under the same id: it runs
    assert second["payload"]["setVariableResult"][0]["attributeStatus"] == "Accepted"
    assert _offline_threshold(station) == "222"
    assert _set(station, request_id, "111") == first  # the first one redelivered: its answer, no second run
    assert _offline_threshold(station) == "222"


def test_every_request_under_one_id_keeps_its_own_answer_across_a_restart(data_dir: Path) -> None:
    station = Station(replace(Config(), data_dir=data_dir))
    request_id = str(uuid.uuid4())
    answers = {value: _set(station, request_id, value) for value in ("111", "222", "333")}
    station.close()
    restarted = Station(replace(Config(), data_dir=data_dir))
    try:
        for value, answer in answers.items():  # stored durably, each under (id, content)
            assert _set(restarted, request_id, value) == answer
        assert _offline_threshold(restarted) == "333"  # none of them ran again
    finally:
        restarted.close()


def test_another_version_under_a_used_id_is_another_request_and_runs(station: Station) -> None:
    request_id = str(uuid.uuid4())
    first = _send(station, request_id, "ocpp2.0.1", "GetInstalledCertificateIds",
                  {"certificateType": ["CSMSRootCertificate"]})
    assert first["message_type"] == "CallResult", first
    other = _send(station, request_id, "ocpp1.6", "GetInstalledCertificateIds",
                  {"certificateType": "CentralSystemRootCertificate"})
    assert other["message_type"] == "CallResult" and other["ocpp_version"] == "ocpp1.6", other


def test_a_call_error_repeated_is_the_same_call_error_and_a_corrected_request_runs(station: Station) -> None:
    """A request refused by its schema is remembered too: sent again, the same CallError, not a new run;
    the corrected request under the same id is another request, and runs."""
    request_id = str(uuid.uuid4())
    bad = {"getVariableData": []}  # minItems 1
    first = _send(station, request_id, "ocpp2.0.1", "GetVariables", bad)
    assert first["error_code"] == "OccurrenceConstraintViolation", first
    assert _send(station, request_id, "ocpp2.0.1", "GetVariables", bad) == first
    corrected = _send(station, request_id, "ocpp2.0.1", "GetVariables", {"getVariableData": [OFFLINE_THRESHOLD]})
    assert corrected["message_type"] == "CallResult", corrected

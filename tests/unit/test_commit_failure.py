"""When the commit of a request fails, nothing of it happened: not its effect, not its answer.

The failure is a real one from SQLite: a deferred foreign key that a trigger breaks whenever a
value is stored, which SQLite refuses at COMMIT (as it would refuse a commit on a full disk). The
station must answer InternalError, keep the old value, and run the request again when it is
retried — not answer the retry from its cache with the Accepted that never happened.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ocpp_station.app import Station
from ocpp_station.config import Config

from ..support import check_response, variable_data

VERSION = "ocpp2.0.1"
OFFLINE_THRESHOLD = variable_data("OCPPCommCtrlr", "OfflineThreshold")


def _request(request_id: str, action: str, payload: dict[str, Any]) -> bytes:
    return json.dumps({"id": request_id, "name": "ocpp_message", "type": "request",
                       "data": {"ocpp_version": VERSION, "message_name": action, "message_type": "Call",
                                "payload": payload}}).encode()


def _ask(station: Station, request_id: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
    answer = station.handle(_request(request_id, action, payload))
    assert answer.body is not None
    decoded = json.loads(answer.body)
    check_response(decoded, action, VERSION)
    assert decoded["id"] == request_id
    return decoded["data"]


def _set(station: Station, request_id: str, value: str) -> dict[str, Any]:
    payload = {"setVariableData": [OFFLINE_THRESHOLD | {"attributeValue": value}]}
    return _ask(station, request_id, "SetVariables", payload)


def _offline_threshold(station: Station) -> str:
    data = _ask(station, str(uuid.uuid4()), "GetVariables", {"getVariableData": [OFFLINE_THRESHOLD]})
    return data["payload"]["getVariableResult"][0]["attributeValue"]


def _break_commits(station: Station) -> None:
    station.storage.connection.executescript("""
        CREATE TABLE trap_parent (id INTEGER PRIMARY KEY);
        CREATE TABLE trap_child (parent INTEGER REFERENCES trap_parent (id) DEFERRABLE INITIALLY DEFERRED);
        CREATE TRIGGER trap AFTER INSERT ON variable_value BEGIN INSERT INTO trap_child VALUES (1); END;
        CREATE TRIGGER trap_update AFTER UPDATE ON variable_value BEGIN INSERT INTO trap_child VALUES (1); END;
    """)


def _repair_commits(station: Station) -> None:
    station.storage.connection.executescript("DROP TRIGGER trap; DROP TRIGGER trap_update;")


def test_a_failed_commit_answers_internal_error_and_a_retry_runs_again(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    station = Station(replace(Config(), data_dir=tmp_path / "data"))
    assert _set(station, str(uuid.uuid4()), "120")["payload"]["setVariableResult"][0]["attributeStatus"] == "Accepted"
    _break_commits(station)
    request_id = str(uuid.uuid4())

    with caplog.at_level(logging.ERROR):
        failed = _set(station, request_id, "300")
    assert failed["message_type"] == "CallError" and failed["error_code"] == "InternalError"
    assert "could not commit" in caplog.text
    assert _offline_threshold(station) == "120"  # the effect did not happen

    _repair_commits(station)
    retried = _set(station, request_id, "300")  # the same id again: run, not answered from the cache
    assert retried["message_type"] == "CallResult"
    assert retried["payload"]["setVariableResult"][0]["attributeStatus"] == "Accepted"
    assert _offline_threshold(station) == "300"
    station.close()

    restarted = Station(replace(Config(), data_dir=tmp_path / "data"))
    assert _offline_threshold(restarted) == "300"
    assert _set(restarted, request_id, "300") == retried  # now it is remembered: same answer, not run
    assert _offline_threshold(restarted) == "300"
    restarted.close()

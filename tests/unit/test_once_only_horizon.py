"""Once only for as long as a broker may deliver a request again, not as long as its answer is kept.

Issue 15, item 3: a mosquitto killed and restarted from its last snapshot delivers again a write
the station answered minutes before. Under a stream of writes that answer had already left the
10,000-answer cache, so the write ran again and set its old value over every later one. Now the
station remembers, for ``mqtt.session_expiry_s`` (7 days), *that* a write was answered (its id and
content, a few bytes on disk) after it has forgotten *what* it answered: such a request is refused
with a CallError saying so, and does not run.

In process, with a small answer cache; the broker's own redelivery is in
tests/integration/test_stale_redelivery.py.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ocpp_station.answers import PRUNE_EVERY
from ocpp_station.app import Station
from ocpp_station.config import Config, ConfigError, MqttConfig, Requests, load

from ..support import InProcessOem, check_response, envelope, variable_data

OFFLINE_THRESHOLD = variable_data("OCPPCommCtrlr", "OfflineThreshold")
SMALL_CACHE = Config(requests=Requests(answer_cache_size=5))


def _set_offline_threshold(value: int) -> bytes:
    """The bytes of a SetVariables of OfflineThreshold, as the OEM publishes them."""
    return json.dumps(envelope("SetVariables", {"setVariableData": [
        OFFLINE_THRESHOLD | {"attributeValue": str(value)}]})).encode()


def _answer(oem: InProcessOem, raw: bytes, action: str = "SetVariables", version: str = "ocpp2.0.1") -> dict[str, Any]:
    answer = oem.send(raw)
    assert answer is not None and answer["id"] == json.loads(raw)["id"], answer
    check_response(answer, action, version)
    return answer["data"]


def _accepted(oem: InProcessOem, raw: bytes) -> None:
    data = _answer(oem, raw)
    assert data["message_type"] == "CallResult", data
    assert data["payload"]["setVariableResult"][0]["attributeStatus"] == "Accepted", data


def _offline_threshold(oem: InProcessOem) -> str:
    return oem.result("GetVariables", {"getVariableData": [OFFLINE_THRESHOLD]})["getVariableResult"][0][
        "attributeValue"]


def _assert_refused_as_answered_at(data: dict[str, Any], earliest: float, latest: float) -> None:
    """The CallError of a request answered between ``earliest`` and ``latest`` whose answer is gone."""
    assert data["message_type"] == "CallError" and data["error_code"] == "GenericError", data
    assert "already answered at" in data["error_description"], data
    assert "not executed again" in data["error_description"], data
    answered_at = dt.datetime.fromisoformat(data["error_details"]["answeredAt"]).timestamp()
    assert earliest - 0.001 <= answered_at <= latest + 0.001, data
    assert data["error_details"]["answeredAt"] in data["error_description"]


def test_a_stale_redelivery_after_the_answer_was_pruned_does_not_run_again(
        make_station: Callable[..., Station], caplog: pytest.LogCaptureFixture) -> None:
    """The probe, in process: X (111), then more writes (222) than the answer cache keeps, then X again."""
    caplog.set_level(logging.WARNING, logger="ocpp_station")
    oem = InProcessOem(make_station(SMALL_CACHE))
    x = _set_offline_threshold(111)
    before = time.time()
    _accepted(oem, x)
    after = time.time()
    for _ in range(PRUNE_EVERY + 20):  # past a pruning: the answer log keeps the last 5 answers, not X's
        _accepted(oem, _set_offline_threshold(222))
    assert _offline_threshold(oem) == "222"
    again = _answer(oem, x)  # byte for byte the request that ran, as a restored broker sends it again
    _assert_refused_as_answered_at(again, before, after)
    assert _offline_threshold(oem) == "222"  # X did not run again
    x_id = json.loads(x)["id"]
    assert any(record.levelno == logging.WARNING and record.getMessage().startswith(f"{x_id} was answered at")
               and "executed nothing" in record.getMessage() for record in caplog.records), caplog.text
    assert _answer(oem, x) == again  # and again: still refused, still nothing run


def test_a_stale_redelivery_in_ocpp_1_6_gets_generic_error_spelled_for_1_6(
        make_station: Callable[..., Station]) -> None:
    oem = InProcessOem(make_station(SMALL_CACHE))
    delete = json.dumps(envelope("DeleteCertificate", {"certificateHashData": {
        "hashAlgorithm": "SHA256", "issuerNameHash": "d1" * 32, "issuerKeyHash": "6f" * 32, "serialNumber": "4"}},
        "ocpp1.6")).encode()
    first = _answer(oem, delete, "DeleteCertificate", "ocpp1.6")
    assert first["message_type"] == "CallResult", first  # NotFound: answered, and remembered durably
    for _ in range(PRUNE_EVERY):
        _accepted(oem, _set_offline_threshold(222))
    again = _answer(oem, delete, "DeleteCertificate", "ocpp1.6")
    assert again["ocpp_version"] == "ocpp1.6" and again["error_code"] == "GenericError", again


def test_a_retry_while_the_answer_is_kept_still_gets_that_answer(make_station: Callable[..., Station]) -> None:
    """Nothing changes for the ordinary retry: while the answer is kept, it is the answer sent again."""
    oem = InProcessOem(make_station(SMALL_CACHE))
    x = _set_offline_threshold(111)
    first = _answer(oem, x)
    for _ in range(3):
        _accepted(oem, _set_offline_threshold(222))
    assert _answer(oem, x) == first
    assert _offline_threshold(oem) == "222"


def test_identities_of_answered_writes_survive_a_restart(make_station: Callable[..., Station]) -> None:
    """Closed and opened again on the same data dir (the start prunes the answers to the last 5)."""
    station = make_station(SMALL_CACHE)
    oem = InProcessOem(station)
    x = _set_offline_threshold(111)
    before = time.time()
    _accepted(oem, x)
    after = time.time()
    for _ in range(20):
        _accepted(oem, _set_offline_threshold(222))
    station.close()
    restarted = InProcessOem(make_station(SMALL_CACHE))
    _assert_refused_as_answered_at(_answer(restarted, x), before, after)
    assert _offline_threshold(restarted) == "222"


def test_over_budget_identities_are_forgotten_early_and_a_warning_says_since_when(
        make_station: Callable[..., Station], caplog: pytest.LogCaptureFixture) -> None:
    """A budget below a session expiry's worth of writes shortens once-only: said at WARNING, once.

    Two prunings over budget, one WARNING (the second is a repeat, at DEBUG). X, forgotten early,
    runs again when it comes back: what the warning says would happen.
    """
    caplog.set_level(logging.DEBUG, logger="ocpp_station.answers")
    budget = 50
    station = make_station(Config(requests=Requests(answer_cache_size=5, answered_requests_max=budget)))
    oem = InProcessOem(station)
    x = _set_offline_threshold(111)
    _accepted(oem, x)
    for _ in range(2 * PRUNE_EVERY - 1):  # X and these: two prunings, the second by the last of them
        _accepted(oem, _set_offline_threshold(222))
    said = [r for r in caplog.records if r.getMessage().startswith("once-only now holds only back to")]
    assert [r.levelno for r in said] == [logging.WARNING, logging.DEBUG], caplog.text
    since = said[0].getMessage().removeprefix("once-only now holds only back to ").split(",")[0]
    assert time.time() - 60 < dt.datetime.fromisoformat(since).timestamp() <= time.time()
    assert f"requests.answered_requests_max = {budget}" in said[0].getMessage()
    kept = station.storage.connection.execute("SELECT count(*) FROM answered_request").fetchone()[0]
    assert kept == budget  # the disk holds no more than the budget
    _accepted(oem, x)  # forgotten: it runs as a new request
    assert _offline_threshold(oem) == "111"


def test_within_the_budget_nothing_is_said(make_station: Callable[..., Station],
                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="ocpp_station.answers")
    oem = InProcessOem(make_station(SMALL_CACHE))
    for _ in range(PRUNE_EVERY + 1):
        _accepted(oem, _set_offline_threshold(222))
    assert "once-only" not in caplog.text


def test_the_horizon_is_the_mqtt_session_expiry(make_station: Callable[..., Station]) -> None:
    """``mqtt.session_expiry_s`` is the horizon: with 0 s, a write whose answer is gone runs again."""
    config = Config(requests=Requests(answer_cache_size=5), mqtt=MqttConfig(session_expiry_s=0))
    oem = InProcessOem(make_station(config))
    x = _set_offline_threshold(111)
    _accepted(oem, x)
    for _ in range(PRUNE_EVERY):
        _accepted(oem, _set_offline_threshold(222))
    _accepted(oem, x)
    assert _offline_threshold(oem) == "111"


def test_a_read_whose_answer_is_gone_runs_again_as_before(make_station: Callable[..., Station]) -> None:
    """Reads keep the short memory: a read run again changes nothing, and costs no disk lookup."""
    oem = InProcessOem(make_station(SMALL_CACHE))
    read = json.dumps(envelope("GetVariables", {"getVariableData": [OFFLINE_THRESHOLD]})).encode()
    first = _answer(oem, read, "GetVariables")
    for _ in range(10):  # the in-memory answers keep 5
        _answer(oem, json.dumps(envelope("GetVariables", {"getVariableData": [OFFLINE_THRESHOLD]})).encode(),
                "GetVariables")
    assert _answer(oem, read, "GetVariables")["message_type"] == "CallResult" == first["message_type"]


def test_a_budget_below_one_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "station.toml"
    path.write_text("[requests]\nanswered_requests_max = 0\n")
    with pytest.raises(ConfigError, match="answered_requests_max must be at least 1"):
        load(path, environ={})

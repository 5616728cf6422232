"""``ocpp-station`` as a user runs it: ``call`` against a running station, ``serve`` on the embedded broker."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ..seed_vectors import SEED_HASH_DATA, SEED_PEM
from ..support import Mosquitto, StationProcess, check_response, free_port, wait_for_port

SEED_PAYLOADS = {
    "GetVariables": {"getVariableData": [
        {"attributeType": "Actual", "component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "OfflineThreshold"}},
        {"attributeType": "Actual", "component": {"name": "AuthCtrlr"},
         "variable": {"name": "LocalAuthorizeOffline"}}]},
    "SetVariables": {"setVariableData": [
        {"attributeType": "Actual", "attributeValue": "300", "component": {"name": "OCPPCommCtrlr"},
         "variable": {"name": "OfflineThreshold"}}]},
    "GetInstalledCertificateIds": {"certificateType": ["CSMSRootCertificate"]},
}


def ocpp_station(*args: str, stdin: str | None = None, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ocpp_station", *args], input=stdin, capture_output=True,
                          text=True, timeout=timeout)


def test_help_names_the_commands() -> None:
    done = ocpp_station("--help")
    assert done.returncode == 0
    assert "serve" in done.stdout and "call" in done.stdout
    assert "--mqtt-url" in ocpp_station("serve", "--help").stdout
    assert "Exit status" in ocpp_station("call", "--help").stdout


@pytest.mark.parametrize("action", ["GetVariables", "SetVariables"])
def test_call_prints_the_call_result_and_exits_0(station: StationProcess, mosquitto: Mosquitto, action: str) -> None:
    done = ocpp_station("call", action, json.dumps(SEED_PAYLOADS[action]), "--mqtt-url", mosquitto.url)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    check_response(answer, action, "ocpp2.0.1")
    assert answer["data"]["message_type"] == "CallResult"


def test_call_reads_the_payload_from_stdin(station: StationProcess, mosquitto: Mosquitto) -> None:
    done = ocpp_station("call", "GetVariables", "-", "--mqtt-url", mosquitto.url, "--ocpp-version", "ocpp2.1",
                        stdin=json.dumps(SEED_PAYLOADS["GetVariables"]))
    assert done.returncode == 0, done.stderr
    check_response(json.loads(done.stdout), "GetVariables", "ocpp2.1")


def test_call_exits_1_on_call_error(station: StationProcess, mosquitto: Mosquitto) -> None:
    done = ocpp_station("call", "GetVariables", '{"getVariableData": []}', "--mqtt-url", mosquitto.url)
    assert done.returncode == 1
    answer = json.loads(done.stdout)
    check_response(answer, "GetVariables", "ocpp2.0.1")
    assert answer["data"]["error_code"] == "OccurrenceConstraintViolation"


def test_call_exits_2_when_the_payload_is_not_json(mosquitto: Mosquitto) -> None:
    done = ocpp_station("call", "GetVariables", "{not json", "--mqtt-url", mosquitto.url)
    assert done.returncode == 2
    assert "not valid JSON" in done.stderr


def test_call_exits_3_without_a_broker() -> None:
    done = ocpp_station("call", "GetVariables", "{}", "--mqtt-url", f"mqtt://127.0.0.1:{free_port()}",
                        "--timeout", "2")
    assert done.returncode == 3
    assert done.stderr.count("cannot reach") == 1, done.stderr  # said once, with the broker and the reason


def test_call_exits_3_when_no_station_answers(tmp_path: Path) -> None:
    lonely = Mosquitto(free_port(), tmp_path).start()
    try:
        done = ocpp_station("call", "GetVariables", json.dumps(SEED_PAYLOADS["GetVariables"]),
                            "--mqtt-url", lonely.url, "--timeout", "0.5")
    finally:
        lonely.stop()
    assert done.returncode == 3
    assert "no answer within 0.5 s on 'josev/cs/client/" in done.stderr  # the MQTT 5 reply topic it waited on
    assert "ACL" in done.stderr


def test_serve_refuses_a_bad_mqtt_url_with_status_2(tmp_path: Path) -> None:
    done = ocpp_station("serve", "--mqtt-url", "http://example", "--data-dir", str(tmp_path / "d"))
    assert done.returncode == 2
    assert "mqtt://" in done.stderr


def _damaged_database(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    (data / "station.sqlite3").write_bytes(b"not SQLite at all, a file damaged beyond its header " * 200)
    return data


@pytest.mark.parametrize("command", [["serve", "--mqtt-url", "mqtt://127.0.0.1:1", "--no-csms"],
                                     ["certs", "list"], ["network", "list"]], ids=["serve", "certs", "network"])
def test_a_damaged_database_is_refused_in_one_line_with_status_2(tmp_path: Path, command: list[str]) -> None:
    """No traceback, no start: the station could keep nothing it accepted. The line says what to do."""
    data = _damaged_database(tmp_path)
    done = ocpp_station(*command, "--data-dir", str(data))
    assert done.returncode == 2, done
    assert "Traceback" not in done.stderr, done.stderr
    assert f"cannot use the database {data / 'station.sqlite3'} (file is not a database)" in done.stderr
    assert "restore it from a backup" in done.stderr


def test_serve_refuses_a_data_dir_that_cannot_be_made_with_status_2(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    done = ocpp_station("serve", "--mqtt-url", "mqtt://127.0.0.1:1", "--no-csms", "--data-dir", str(blocker / "data"))
    assert done.returncode == 2, done
    assert "Traceback" not in done.stderr, done.stderr
    assert f"cannot start: cannot use the data directory {blocker / 'data'} (Not a directory" in done.stderr


def test_serve_refuses_a_bad_config_file_with_status_2(tmp_path: Path) -> None:
    config = tmp_path / "station.toml"
    config.write_text('[station]\nidentity = "has:colon"\n')
    done = ocpp_station("serve", "--config", str(config), "--data-dir", str(tmp_path / "d"))
    assert done.returncode == 2
    assert "identity" in done.stderr


def test_embedded_broker_smoke(tmp_path: Path) -> None:
    """`ocpp-station serve` with no broker URL runs amqtt in-process; `call` gets answers through it."""
    port = free_port()
    station = subprocess.Popen([sys.executable, "-m", "ocpp_station", "serve", "--embedded-port", str(port),
                                "--data-dir", str(tmp_path / "data"), "--no-csms"],
                               stderr=subprocess.PIPE, text=True)
    try:
        wait_for_port(port)
        done = ocpp_station("call", "GetVariables", json.dumps(SEED_PAYLOADS["GetVariables"]),
                            "--mqtt-url", f"mqtt://127.0.0.1:{port}", "--timeout", "10")
        assert done.returncode == 0, done.stderr
        check_response(json.loads(done.stdout), "GetVariables", "ocpp2.0.1")
    finally:
        station.terminate()
        _, log = station.communicate(timeout=15)
    assert station.returncode == 0
    assert "embedded MQTT broker listening on mqtt://127.0.0.1:" in log
    assert "for trying things out only" in log
    assert "the CSMS link is off" in log and "CSMS link: connecting" not in log  # what make run does


def test_config_file_shapes_the_station(tmp_path: Path, mosquitto: Mosquitto) -> None:
    """Two EVSEs from station.toml: EVSE 2 exists with its own rating and connector type."""
    config = tmp_path / "station.toml"
    config.write_text("""
[station]
identity = "DEMO-2"
[[evse]]
id = 1
[[evse]]
id = 2
max_power_w = 11000
phases = 1
connectors = [{ id = 1, type = "sType2" }]
""")
    lonely = Mosquitto(free_port(), tmp_path / "b")
    lonely.workdir.mkdir()
    lonely.start()
    station = StationProcess(lonely.url, tmp_path / "data", ["--config", str(config)]).start()
    try:
        request = {"getVariableData": [
            {"component": {"name": "EVSE", "evse": {"id": 2}}, "variable": {"name": "Power"}},
            {"component": {"name": "Connector", "evse": {"id": 2, "connectorId": 1}},
             "variable": {"name": "ConnectorType"}},
            {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "Identity"}}]}
        done = ocpp_station("call", "GetVariables", json.dumps(request), "--mqtt-url", lonely.url)
        assert done.returncode == 0, done.stderr
        answer = json.loads(done.stdout)
        check_response(answer, "GetVariables", "ocpp2.0.1")
        values = [r.get("attributeValue") for r in answer["data"]["payload"]["getVariableResult"]]
        assert values == ["11000", "sType2", "DEMO-2"]
    finally:
        station.terminate()
        lonely.stop()


def test_every_seed_example_works_through_call(station: StationProcess, mosquitto: Mosquitto) -> None:
    """The seed's seven example requests, in the order a user tries them, each a CallResult (exit 0)."""
    examples = [
        ("GetVariables", {"getVariableData": [{"component": {"name": "TxCtrlr"},
                                               "variable": {"name": "TxStartPoint"}}]}),
        ("GetVariables", SEED_PAYLOADS["GetVariables"]),
        ("GetInstalledCertificateIds", {"certificateType": ["CSMSRootCertificate"]}),
        ("SetVariables", {"setVariableData": [
            {"attributeType": "Actual", "attributeValue": "300", "component": {"name": "OCPPCommCtrlr"},
             "variable": {"name": "OfflineThreshold"}},
            {"attributeType": "Actual", "attributeValue": "true", "component": {"name": "AuthCtrlr"},
             "variable": {"name": "LocalAuthorizeOffline"}}]}),
        ("InstallCertificate", {"certificate": SEED_PEM, "certificateType": "CSMSRootCertificate"}),
        ("DeleteCertificate", {"certificateHashData": SEED_HASH_DATA}),
        ("SetNetworkProfile", {"configurationSlot": 2, "connectionData": {
            "messageTimeout": 75, "ocppCsmsUrl": "wss://324595e6999a17ae.octt.openchargealliance.org:18603",
            "ocppInterface": "Wired0", "ocppTransport": "JSON", "ocppVersion": "OCPP20", "securityProfile": 2}}),
    ]
    for action, payload in examples:
        done = ocpp_station("call", action, json.dumps(payload), "--mqtt-url", mosquitto.url)
        assert done.returncode == 0, (action, done.stdout, done.stderr)
        answer = json.loads(done.stdout)
        check_response(answer, action, "ocpp2.0.1")
        status = answer["data"]["payload"].get("status")
        assert status in (None, "Accepted", "NotFound"), (action, answer)


def test_call_keeps_an_integer_beyond_64_bits_exact_both_ways(station: StationProcess, mosquitto: Mosquitto) -> None:
    """The request carries it, the station echoes it, the CLI prints it: the same digits all the way."""
    huge = 2**64 + 1
    payload = {"getVariableData": [{"component": {"name": "EVSE", "evse": {"id": huge}},
                                    "variable": {"name": "AvailabilityState"}}]}
    done = ocpp_station("call", "GetVariables", json.dumps(payload), "--mqtt-url", mosquitto.url)
    assert done.returncode == 0, (done.stdout, done.stderr)
    answer = json.loads(done.stdout)
    check_response(answer, "GetVariables", "ocpp2.0.1")
    [result] = answer["data"]["payload"]["getVariableResult"]
    assert result["component"]["evse"]["id"] == huge and str(huge) in done.stdout
    assert result["attributeStatus"] == "UnknownComponent"

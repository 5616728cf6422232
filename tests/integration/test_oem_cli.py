"""``ocpp-station get|set|certs|network`` end to end: subprocesses against a real mosquitto and station.

Help texts and usage errors, which reach no broker, are tested in process in tests/unit/test_oem_cli_usage.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ocpp_station.station.certificates import compute_hash_data

from ..support import Mosquitto, OemClient, StationProcess, ca_certificate, free_port

PASSWORD = "cli-Pa55-never-on-argv-9d2e"


def cli(*args: str, mosquitto: Mosquitto | None = None, env: dict[str, str] | None = None,
        timeout: float = 30) -> subprocess.CompletedProcess[str]:
    url = ["--mqtt-url", mosquitto.url] if mosquitto is not None else []
    return subprocess.run([sys.executable, "-m", "ocpp_station", *args, *url], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def write_pem(path: Path, cert: x509.Certificate) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def table(stdout: str) -> list[list[str]]:
    """The rows of an aligned table, split on runs of 2+ spaces (header included)."""
    import re
    return [re.split(r"\s{2,}", line.strip()) for line in stdout.splitlines() if line.strip()]


# -- help and usage ----------------------------------------------------------------------------------

def test_help_documents_exit_statuses() -> None:
    """Through the real entry point; every command's help (and every usage error) in process, in
    tests/unit/test_oem_cli_usage.py."""
    done = cli("network", "set", "--help")
    assert done.returncode == 0
    assert "exit status: 0 success, 1" in done.stdout and "3 the broker" in done.stdout
    top = cli("--help").stdout
    assert all(name in top for name in ("get", "set", "certs", "network", "serve", "call"))


@pytest.mark.parametrize("args", [
    ["get", "OCPPCommCtrlr.OfflineThreshold:Bogus"],
    ["get", "TxCtrlr.TxStartPoint", "--mqtt-url", "http://example"],
])
def test_bad_usage_exits_2(args: list[str]) -> None:
    done = cli(*args)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stderr.strip()


def test_exit_3_without_a_broker() -> None:
    done = cli("get", "TxCtrlr.TxStartPoint", "--mqtt-url", f"mqtt://user:hunter2@127.0.0.1:{free_port()}",
               "--timeout", "2")
    assert done.returncode == 3
    assert "cannot reach mqtt://user:***@127.0.0.1" in done.stderr
    assert "hunter2" not in done.stderr + done.stdout


def test_exit_3_when_no_station_answers(tmp_path: Path) -> None:
    lonely = Mosquitto(free_port(), tmp_path).start()
    try:
        done = cli("certs", "list", "--timeout", "0.5", mosquitto=lonely)
    finally:
        lonely.stop()
    assert done.returncode == 3
    assert "no answer within 0.5 s" in done.stderr


# -- get / set ---------------------------------------------------------------------------------------

def test_set_then_get_table(station: StationProcess, mosquitto: Mosquitto) -> None:
    done = cli("set", "OCPPCommCtrlr.OfflineThreshold=300", "AuthCtrlr.LocalAuthorizeOffline=true",
               mosquitto=mosquitto)
    assert done.returncode == 0, done.stderr
    rows = table(done.stdout)
    assert rows[0] == ["VARIABLE", "VALUE", "STATUS", "NOTE"]
    assert rows[1] == ["OCPPCommCtrlr.OfflineThreshold", "300", "Accepted"]
    assert rows[2] == ["AuthCtrlr.LocalAuthorizeOffline", "true", "Accepted"]

    done = cli("get", "OCPPCommCtrlr.OfflineThreshold", "AuthCtrlr.LocalAuthorizeOffline", "EVSE[1].Power",
               "TxCtrlr.TxStartPoint", mosquitto=mosquitto)
    assert done.returncode == 0, done.stderr
    rows = table(done.stdout)
    assert rows[0] == ["VARIABLE", "STATUS", "VALUE / REASON"]
    assert rows[1] == ["OCPPCommCtrlr.OfflineThreshold", "Accepted", "300"]
    assert rows[2] == ["AuthCtrlr.LocalAuthorizeOffline", "Accepted", "true"]
    assert rows[3][:2] == ["EVSE[1].Power", "Accepted"] and rows[3][2].isdigit()
    # Aligned: every row's STATUS column starts at the same offset.
    lines = done.stdout.splitlines()
    assert len({line.index("Accepted") for line in lines[1:]}) == 1
    assert lines[0].index("STATUS") == lines[1].index("Accepted")


def test_get_json_and_exit_1_when_not_all_accepted(station: StationProcess, mosquitto: Mosquitto) -> None:
    done = cli("get", "OCPPCommCtrlr.OfflineThreshold", "NoSuchCtrlr.Foo", "--json", "--ocpp-version", "ocpp2.1",
               mosquitto=mosquitto)
    assert done.returncode == 1, done.stderr
    results = json.loads(done.stdout)
    assert [(r["variable"], r["status"]) for r in results] == [
        ("OCPPCommCtrlr.OfflineThreshold", "Accepted"), ("NoSuchCtrlr.Foo", "UnknownComponent")]
    assert results[0]["value"].isdigit() and results[1]["value"] is None

    done = cli("get", "NoSuchCtrlr.Foo", mosquitto=mosquitto)
    assert done.returncode == 1
    assert table(done.stdout)[1][:2] == ["NoSuchCtrlr.Foo", "UnknownComponent"]


def test_set_json_and_exit_1_when_rejected(station: StationProcess, mosquitto: Mosquitto) -> None:
    done = cli("set", "OCPPCommCtrlr.OfflineThreshold=abc", "OCPPCommCtrlr.OfflineThreshold:Target=5", "--json",
               mosquitto=mosquitto)
    assert done.returncode == 1, done.stderr
    results = json.loads(done.stdout)
    assert [(r["variable"], r["value"], r["status"]) for r in results] == [
        ("OCPPCommCtrlr.OfflineThreshold", "abc", "Rejected"),
        ("OCPPCommCtrlr.OfflineThreshold:Target", "5", "NotSupportedAttributeType")]
    assert results[0]["reason"] and results[0]["rebootRequired"] is False


def test_call_error_exits_1(station: StationProcess, mosquitto: Mosquitto) -> None:
    """Too many items for ItemsPerMessage (100) is a CallError: message on stderr, JSON error with --json."""
    many = [f"OCPPCommCtrlr.V{i}" for i in range(101)]
    done = cli("get", *many, "--json", mosquitto=mosquitto)
    assert done.returncode == 1
    assert "CallError" in done.stderr
    assert json.loads(done.stdout)["error"]["code"] in ("OccurrenceConstraintViolation", "FormatViolation")


# -- certificates ------------------------------------------------------------------------------------

def test_certs_install_list_delete(station: StationProcess, mosquitto: Mosquitto, tmp_path: Path) -> None:
    root, root_key = ca_certificate("CLI test root")
    other, _ = ca_certificate("CLI test root 2")
    path, other_path = write_pem(tmp_path / "root.pem", root), write_pem(tmp_path / "other.pem", other)
    hash_data = compute_hash_data(root, root).to_ocpp()
    other_hash = compute_hash_data(other, other).to_ocpp()

    done = cli("certs", "install", str(path), "--type", "CSMSRootCertificate", mosquitto=mosquitto)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Accepted")
    done = cli("certs", "install", str(other_path), "--type", "ManufacturerRootCertificate", "--json",
               "--ocpp-version", "ocpp1.6", mosquitto=mosquitto)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "Accepted"

    done = cli("certs", "list", mosquitto=mosquitto)
    assert done.returncode == 0, done.stderr
    rows = table(done.stdout)
    assert rows[0] == ["TYPE", "SERIAL", "ALGORITHM", "ISSUER NAME HASH", "ISSUER KEY HASH"]
    assert ["CSMSRootCertificate", hash_data["serialNumber"], "SHA256", hash_data["issuerNameHash"],
            hash_data["issuerKeyHash"]] in rows
    done = cli("certs", "list", "--type", "ManufacturerRootCertificate", "--json", mosquitto=mosquitto)
    assert json.loads(done.stdout) == [{"certificateType": "ManufacturerRootCertificate",
                                        "certificateHashData": other_hash}]
    done = cli("certs", "list", "--ocpp-version", "ocpp1.6", "--json", mosquitto=mosquitto)
    assert {c["certificateType"] for c in json.loads(done.stdout)} == {"CSMSRootCertificate",
                                                                        "ManufacturerRootCertificate"}

    # Delete by hash data, then the second time NotFound (exit 1); by file for the other one.
    by_hash = ["--issuer-name-hash", hash_data["issuerNameHash"], "--issuer-key-hash", hash_data["issuerKeyHash"],
               "--serial", hash_data["serialNumber"]]
    done = cli("certs", "delete", *by_hash, mosquitto=mosquitto)
    assert done.returncode == 0, done.stderr
    done = cli("certs", "delete", *by_hash, "--json", mosquitto=mosquitto)
    assert done.returncode == 1
    assert json.loads(done.stdout)["status"] == "NotFound"
    done = cli("certs", "delete", str(other_path), "--ocpp-version", "ocpp2.1", mosquitto=mosquitto)
    assert done.returncode == 0, done.stderr
    done = cli("certs", "list", "--json", mosquitto=mosquitto)
    left = [c["certificateHashData"] for c in json.loads(done.stdout)]
    assert hash_data not in left and other_hash not in left

    # A file that is not self-signed cannot name itself: usage error, with the way out.
    leaf, _ = ca_certificate("issued by the root", issuer=(root, root_key))
    done = cli("certs", "delete", str(write_pem(tmp_path / "leaf.pem", leaf)), mosquitto=mosquitto)
    assert done.returncode == 2
    assert "not self-signed" in done.stderr and "--issuer-name-hash" in done.stderr


def test_certs_install_rejected_exits_1(station: StationProcess, mosquitto: Mosquitto, tmp_path: Path) -> None:
    (tmp_path / "bad.pem").write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    done = cli("certs", "install", str(tmp_path / "bad.pem"), mosquitto=mosquitto)
    assert done.returncode == 1
    assert done.stdout.startswith("Rejected")
    assert cli("certs", "install", str(tmp_path / "missing.pem"), mosquitto=mosquitto).returncode == 2


def test_certs_list_local_data_dir_still_works(tmp_path: Path) -> None:
    done = cli("certs", "list", "--data-dir", str(tmp_path / "data"))
    assert done.returncode == 0, done.stderr
    assert "no certificates installed" in done.stdout



def test_network_list_of_a_data_dir_honours_json(tmp_path: Path) -> None:
    """For scripts, the offline view too: before, --data-dir printed its text form whatever --json said."""
    done = cli("network", "list", "--data-dir", str(tmp_path / "data"), "--json")
    assert done.returncode == 0, done.stderr
    listing = json.loads(done.stdout)
    assert listing["networkConfigurationPriority"] == [1]
    [first, *_] = listing["slots"]
    assert first["slot"] == 1 and first["priority"] == 1 and first["profile"]["ocppCsmsUrl"]

# -- network -----------------------------------------------------------------------------------------

def test_network_set_and_list(station: StationProcess, mosquitto: Mosquitto) -> None:
    done = cli("network", "set", "2", "--url", "wss://cli-a.example.com/ocpp", "--security-profile", "2",
               "--message-timeout", "40", mosquitto=mosquitto)
    assert done.returncode == 0, done.stderr
    done = cli("network", "set", "3", "--url", "ws://cli-b.example.com/ocpp", "--security-profile", "1",
               "--ocpp-version", "ocpp2.1", "--profile-ocpp-version", "OCPP21", "--identity", "CLI-B",
               "--password-env", "OCPP_CLI_TEST_PASSWORD", "--json", mosquitto=mosquitto,
               env={"OCPP_CLI_TEST_PASSWORD": PASSWORD})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"status": "Accepted", "reason": None, "additionalInfo": None, "slot": 3}
    done = cli("network", "set", "99", "--url", "wss://x.example.com/ocpp", "--security-profile", "2",
               mosquitto=mosquitto)
    assert done.returncode == 1
    assert "InvalidConfSlot" in done.stdout

    done = cli("network", "list", mosquitto=mosquitto)
    assert done.returncode == 0, done.stderr
    rows = table(done.stdout)
    assert rows[0] == ["SLOT", "ACTIVE", "PRIORITY", "URL", "SECURITY", "INTERFACE", "TIMEOUT", "VERSION",
                       "IDENTITY"]
    assert [row[0] for row in rows[1:-1]] == ["1", "2", "3", "4"]  # the default station's slots
    assert rows[1][:3] == ["1", "*", "1"]
    # slot 2 has no identity of its own: the one the station uses there (issue 13)
    assert rows[2] == ["2", "-", "wss://cli-a.example.com/ocpp", "2", "Wired0", "40", "OCPP20", "CS0000000001"]
    assert rows[3] == ["3", "-", "ws://cli-b.example.com/ocpp", "1", "Wired0", "30", "OCPP21", "CLI-B"]
    assert rows[4][:3] == ["4", "-", "(empty)"]
    assert rows[-1][0].startswith("priority order: 1; active slot: 1")

    done = cli("network", "list", "--json", mosquitto=mosquitto)
    listing = json.loads(done.stdout)
    assert listing["activeNetworkProfile"] == 1 and listing["networkConfigurationPriority"] == [1]
    slots = {s["slot"]: s for s in listing["slots"]}
    assert sorted(slots) == [1, 2, 3, 4]
    assert slots[3]["Identity"] == "CLI-B" and slots[3]["configured"] and not slots[4]["configured"]
    assert PASSWORD not in done.stdout + station.log_text()


def test_network_list_reads_what_oem_client_sees(station: StationProcess, mosquitto: Mosquitto) -> None:
    """The CLI view matches a schema-checked raw GetVariables of the same slot."""
    oem = OemClient(mosquitto.port)
    try:
        payload = oem.result("GetVariables", {"getVariableData": [
            {"component": {"name": "NetworkConfiguration", "instance": "1"}, "variable": {"name": "OcppCsmsUrl"}}]},
            "ocpp2.1")
    finally:
        oem.close()
    done = cli("network", "list", "--json", mosquitto=mosquitto)
    assert json.loads(done.stdout)["slots"][0]["OcppCsmsUrl"] == payload["getVariableResult"][0]["attributeValue"]

"""``ocpp-station certs renew`` end to end: the real CLI (a subprocess) against a real station and mosquitto.

The OEM renews the station's own certificate (A02) as a CSMS would: TriggerMessage
(SignChargingStationCertificate), the station's SignCertificate with its CSR, signed by the OEM's CA
(:class:`ocpp_station.oem_ca.CertificateAuthority`, from files made with :func:`ca_certificate`), and
CertificateSigned. What is checked comes from outside the CLI: the station's SignCertificate as an
OEM listener reads it on josev/cs (envelope and payload checked against the official schema), the
station's answers there (checked), every message the CLI publishes on cs/josev (checked), the chain
the station installed under ``certs/`` (its key is the CSR's, ``openssl verify`` accepts it with the
CA), and the security log as ``ocpp-station security-log`` reads it from the running station.

:class:`SilentStation` plays a station whose CSR never comes, for the timeout (no real station fails so).
"""

from __future__ import annotations

import json
import queue
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ocpp_station.station.certificates import serial_number_hex

from ..support import (
    REQUEST_TOPIC,
    RESPONSE_TOPIC,
    Mosquitto,
    OemClient,
    StationProcess,
    ca_certificate,
    check_request_envelope,
    check_response,
    request_validator,
    response_validator,
    subscribed_client,
    wait_until,
)
from .test_oem_cli import cli, table, write_pem

ORGANIZATION = "Renewal Test OEM"
IDENTITY = "CS0000000001"  # the default station's SecurityCtrlr.Identity: the CSR's CN
OWN_CHAIN = Path("certs") / "ChargingStationCertificate.pem"
OWN_KEY = Path("private") / "ChargingStationCertificate.key.pem"


def spki(public: Any) -> bytes:
    return bytes(public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))


def write_ca(directory: Path, cn: str) -> tuple[Path, Path, x509.Certificate]:
    """A self-signed CA (ca_certificate) as the two files `certs renew` takes."""
    cert, key = ca_certificate(cn)
    directory.mkdir(parents=True, exist_ok=True)
    key_path = directory / f"{cn}.key"
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return write_pem(directory / f"{cn}.pem", cert), key_path, cert


def set_organization(oem: OemClient, version: str = "ocpp2.0.1") -> None:
    result = oem.result("SetVariables", {"setVariableData": [
        {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "OrganizationName"},
         "attributeValue": ORGANIZATION}]}, version)
    assert result["setVariableResult"][0]["attributeStatus"] == "Accepted", result


class Recorder:
    """Every message published on cs/josev (the CLI's requests and its answers to the station), each
    checked against the request or response envelope and the official schema of its payload."""

    def __init__(self, port: int):
        self.messages: queue.Queue[dict[str, Any]] = queue.Queue()
        self._client = subscribed_client(port, REQUEST_TOPIC, lambda _c, _u, message: self.messages.put(
            json.loads(message.payload)), name="cs-josev-recorder")

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def take(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        return [self.messages.get(timeout=timeout) for _ in range(count)]


def check_cli_message(message: dict[str, Any], action: str) -> dict[str, Any]:
    """The payload of a request the CLI sent, or of its CallResult to a request of the station's; checked."""
    data = message["data"]
    if message["type"] == "request":
        check_request_envelope(message)
        assert data["message_name"] == action, message
        request_validator(data["ocpp_version"], action).validate(data["payload"])
    else:
        assert data["message_type"] == "CallResult" and data["message_name"] == action, message
        check_response(message, action, data["ocpp_version"])
        response_validator(data["ocpp_version"], action).validate(data["payload"])
    payload: dict[str, Any] = data["payload"]
    return payload


def openssl_verify(ca: Path, leaf_pem: bytes, where: Path) -> subprocess.CompletedProcess[str]:
    leaf_path = where / f"leaf-{uuid.uuid4().hex[:6]}.pem"
    leaf_path.write_bytes(leaf_pem)
    return subprocess.run(["openssl", "verify", "-CAfile", str(ca), str(leaf_path)], capture_output=True,
                          text=True, timeout=10)


def wait_for_installed(station: StationProcess, leaf: x509.Certificate) -> list[x509.Certificate]:
    """The chain in ``certs/ChargingStationCertificate.pem`` once ``leaf`` heads it (it is written after
    the commit that the answer follows)."""
    path = station.data_dir / OWN_CHAIN

    def chain() -> list[x509.Certificate]:
        return x509.load_pem_x509_certificates(path.read_bytes()) if path.exists() else []

    wait_until(lambda: [c.serial_number for c in chain()[:1]] == [leaf.serial_number], "the new chain in certs/")
    return chain()


@pytest.fixture
def fresh(broker: Mosquitto, tmp_path: Path) -> Iterator[tuple[StationProcess, OemClient]]:
    """A station of the test's own, on its own broker, as it comes out of the box (no OrganizationName)."""
    station = StationProcess(broker.url, tmp_path / "data").start()
    oem = OemClient(broker.port)
    yield station, oem
    oem.close()
    station.terminate()


# -- A02 through the CLI: a certificate for the station's own key ------------------------------------

@pytest.mark.parametrize(("protocol", "version", "as_json"), [("5", "ocpp2.0.1", False), ("3.1.1", "ocpp2.1", True)])
def test_A02_FR_02_certs_renew_installs_a_certificate_for_the_csr_key_signed_by_the_ca(
        station: StationProcess, mosquitto: Mosquitto, oem: OemClient, tmp_path: Path,
        protocol: str, version: str, as_json: bool) -> None:
    """A02.FR.02/03 (a new key pair and its CSR), A02.FR.06/08 (checked, installed), 2.1 A02.FR.24 (the
    requestId of the CSR named by CertificateSigned), over MQTT 5 (the CSR on the Response Topic of the
    TriggerMessage) and 3.1.1 (on josev/cs)."""
    if shutil.which("openssl") is None:
        pytest.fail("the openssl command is needed to verify the chain independently")
    ca_pem, ca_key, ca_cert = write_ca(tmp_path, "OEM renewal CA")
    set_organization(oem)
    oem.barrier()  # every earlier answer taken: what comes before the next barrier is this renewal's
    recorder = Recorder(mosquitto.port)
    try:
        done = cli("certs", "renew", "--ca-cert", str(ca_pem), "--ca-key", str(ca_key), "--days", "30",
                   "--mqtt-protocol", protocol, "--ocpp-version", version, "--timeout", "5",
                   *(["--json"] if as_json else []), mosquitto=mosquitto)
        assert done.returncode == 0, (done.stdout, done.stderr)
        sent = recorder.take(3)  # TriggerMessage, the answer to SignCertificate, CertificateSigned
    finally:
        recorder.close()

    # The station's SignCertificate, as any OEM listener on josev/cs reads it (schema-checked).
    request = oem.station_request("SignCertificate")
    assert request["data"]["ocpp_version"] == version
    sign = request["data"]["payload"]
    assert sign.get("certificateType", "ChargingStationCertificate") == "ChargingStationCertificate"
    csr = x509.load_pem_x509_csr(sign["csr"].encode())
    assert csr.is_signature_valid
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == IDENTITY
    assert csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == ORGANIZATION
    # The station's two answers on josev/cs, in order (checked against the official schemas).
    answers = oem.barrier()
    assert len(answers) == 2, answers
    check_response(answers[0], "TriggerMessage", version)
    check_response(answers[1], "CertificateSigned", version)
    assert [a["data"]["payload"]["status"] for a in answers] == ["Accepted", "Accepted"]

    # What the CLI sent: valid messages, the CSR's requestId echoed in 2.1, the CA after the leaf.
    trigger, answered, signed = sent
    assert check_cli_message(trigger, "TriggerMessage") == {"requestedMessage": "SignChargingStationCertificate"}
    assert answered["id"] == request["id"]
    assert check_cli_message(answered, "SignCertificate") == {"status": "Accepted"}
    certificate_signed = check_cli_message(signed, "CertificateSigned")
    if version == "ocpp2.1":
        assert isinstance(sign["requestId"], int)
        assert certificate_signed["requestId"] == sign["requestId"]
    else:
        assert "requestId" not in sign and "requestId" not in certificate_signed
    chain = x509.load_pem_x509_certificates(certificate_signed["certificateChain"].encode())
    assert [c.subject for c in chain] == [csr.subject, ca_cert.subject]  # the self-signed CA appended
    assert chain[1] == ca_cert

    # What the station installed: the leaf for the CSR's key, signed by the CA, its key kept with it.
    leaf = wait_for_installed(station, chain[0])[0]
    assert spki(leaf.public_key()) == spki(csr.public_key())
    own_key = serialization.load_pem_private_key((station.data_dir / OWN_KEY).read_bytes(), password=None)
    assert spki(own_key.public_key()) == spki(csr.public_key())  # A02.FR.05: the key stayed on the station
    verified = openssl_verify(ca_pem, leaf.public_bytes(serialization.Encoding.PEM), tmp_path)
    assert verified.returncode == 0 and verified.stdout.strip().endswith(": OK"), verified
    assert openssl_verify(write_ca(tmp_path, "another CA")[0], leaf.public_bytes(serialization.Encoding.PEM),
                          tmp_path).returncode != 0  # the check can fail
    serial = serial_number_hex(leaf.serial_number)

    # What the CLI printed.
    if as_json:
        printed = json.loads(done.stdout)
        assert printed["status"] == "Accepted"
        assert [(s["step"], s["status"]) for s in printed["steps"]] == [
            ("TriggerMessage", "Accepted"), ("SignCertificate", "Received"), ("CertificateSigned", "Accepted")]
        assert printed["steps"][1]["requestId"] == sign["requestId"]
        assert printed["steps"][1]["csr"] == sign["csr"]
        assert printed["certificate"]["serialNumber"] == serial
        assert printed["certificate"]["subject"] == leaf.subject.rfc4514_string()
        assert printed["certificate"]["issuer"] == ca_cert.subject.rfc4514_string()
        assert printed["certificate"]["notAfter"] == f"{leaf.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}"
        assert printed["certificateChain"] == certificate_signed["certificateChain"]
    else:
        rows = table(done.stdout)
        assert rows[0] == ["STEP", "STATUS", "DETAIL"]
        assert rows[1] == ["TriggerMessage", "Accepted", "SignChargingStationCertificate"]
        assert rows[2][:2] == ["SignCertificate", "Received"]
        assert f"CN={IDENTITY}" in rows[2][2] and f"O={ORGANIZATION}" in rows[2][2] and "EC" in rows[2][2]
        assert rows[3] == ["CertificateSigned", "Accepted"]
        fields = {row[0]: row[1] for row in rows[4:] if len(row) == 2}
        assert fields["serial"] == serial
        assert fields["issuer"] == "CN=OEM renewal CA"
        assert fields["valid until"] == f"{leaf.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}"
        days = (leaf.not_valid_after_utc - leaf.not_valid_before_utc).days
        assert days == 30
    assert done.stderr == ""  # no progress line: stderr is no terminal

    # A04: the station logged the new certificate; security-log reads it while the station runs.
    logged = cli("security-log", "--data-dir", str(station.data_dir), "--json")
    assert logged.returncode == 0, logged.stderr
    entries = [json.loads(line) for line in logged.stdout.splitlines()]
    assert any(e["type"] == "ReconfigurationOfSecurityParameters" and serial in e["techInfo"] for e in entries)


def test_A02_missing_organization_name_exits_1_with_the_status_info(
        fresh: tuple[StationProcess, OemClient], broker: Mosquitto, tmp_path: Path) -> None:
    """A02's prerequisite (A00.FR.509: O = SecurityCtrlr.OrganizationName): the TriggerMessage is Rejected
    with a statusInfo, which the CLI prints; no CSR comes, nothing is installed."""
    station, oem = fresh
    ca_pem, ca_key, _ = write_ca(tmp_path, "OEM CA")
    done = cli("certs", "renew", "--ca-cert", str(ca_pem), "--ca-key", str(ca_key), "--timeout", "5",
               mosquitto=broker)
    assert done.returncode == 1, (done.stdout, done.stderr)
    rows = table(done.stdout)
    assert rows[0] == ["STEP", "STATUS", "DETAIL"]
    assert rows[1][:2] == ["TriggerMessage", "Rejected"] and rows[1][2].startswith("MissingParam: ")
    assert "OrganizationName" in rows[1][2] and len(rows) == 2
    assert "OrganizationName" in done.stderr and "ocpp-station set SecurityCtrlr.OrganizationName=" in done.stderr
    answer = oem.barrier()[0]  # the station's answer as published on josev/cs
    check_response(answer, "TriggerMessage", "ocpp2.0.1")
    assert answer["data"]["payload"]["status"] == "Rejected"

    done = cli("certs", "renew", "--ca-cert", str(ca_pem), "--ca-key", str(ca_key), "--json",
               "--ocpp-version", "ocpp2.1", "--timeout", "5", mosquitto=broker)
    assert done.returncode == 1
    printed = json.loads(done.stdout)
    assert printed["status"] == "Rejected"
    [step] = printed["steps"]
    assert step["step"] == "TriggerMessage" and step["status"] == "Rejected"
    assert step["statusInfo"]["reasonCode"] == "MissingParam"
    assert "OrganizationName" in step["statusInfo"]["additionalInfo"]
    check_response(oem.barrier()[0], "TriggerMessage", "ocpp2.1")
    with pytest.raises(TimeoutError):
        oem.station_request("SignCertificate", timeout=0.3)  # the barrier came: no CSR was sent
    assert not (station.data_dir / OWN_CHAIN).exists()


def test_A02_FR_07_untrusted_chain_rejected_exits_1_and_is_in_the_security_log(
        fresh: tuple[StationProcess, OemClient], broker: Mosquitto, tmp_path: Path) -> None:
    """With a CSMSRootCertificate installed, a certificate from a CA outside it is Rejected (A02.FR.06):
    exit 1, the answer shown, and an InvalidChargingStationCertificate event (A02.FR.07) in the log that
    ``security-log`` reads beside the running station."""
    station, oem = fresh
    set_organization(oem)
    other_root, _ = ca_certificate("the CSMS's root")
    installed = cli("certs", "install", str(write_pem(tmp_path / "csms-root.pem", other_root)), mosquitto=broker)
    assert installed.returncode == 0, installed.stderr
    ca_pem, ca_key, _ = write_ca(tmp_path, "OEM CA outside the CSMS root")
    done = cli("certs", "renew", "--ca-cert", str(ca_pem), "--ca-key", str(ca_key), "--timeout", "5",
               mosquitto=broker)
    assert done.returncode == 1, (done.stdout, done.stderr)
    rows = table(done.stdout)
    assert [row[:2] for row in rows[1:4]] == [["TriggerMessage", "Accepted"], ["SignCertificate", "Received"],
                                              ["CertificateSigned", "Rejected"]]
    assert "the station answered CertificateSigned with Rejected" in done.stderr
    oem.station_request("SignCertificate")  # the CSR was sent (and is schema-valid)
    assert not (station.data_dir / OWN_CHAIN).exists()

    logged = cli("security-log", "--data-dir", str(station.data_dir))
    assert logged.returncode == 0, logged.stderr
    rows = table(logged.stdout)
    assert rows[0] == ["TIME", "TYPE", "CRITICAL", "TECH INFO"]
    assert rows[1][1:3] == ["StartupOfTheDevice", "yes"]
    assert ["InvalidChargingStationCertificate", "yes"] in [row[1:3] for row in rows[1:]]
    assert rows[-1][1] == "InvalidChargingStationCertificate"  # newest last
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", row[0]) for row in rows[1:])


def test_A02_FR_06_a_sub_ca_renews_with_the_root_of_its_file_and_again_by_the_same_sub_ca(
        fresh: tuple[StationProcess, OemClient], broker: Mosquitto, tmp_path: Path) -> None:
    """An OEM CA that is a sub-CA, its file ending in the root: the chain sent is leaf, sub-CA, root (the
    station has no CSMS root, so the chain must bring its top's issuer); the station installs leaf and
    sub-CA. A second renewal by the same sub-CA (A03.FR.06: the usual case) is accepted as well."""
    station, oem = fresh
    set_organization(oem)
    root, root_key = ca_certificate("OEM root")
    sub, sub_key = ca_certificate("OEM station sub-CA", issuer=(root, root_key))
    ca_pem = tmp_path / "sub-ca.pem"
    ca_pem.write_bytes(sub.public_bytes(serialization.Encoding.PEM) + root.public_bytes(serialization.Encoding.PEM))
    ca_key = tmp_path / "sub-ca.key"
    ca_key.write_bytes(sub_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()))
    root_pem = write_pem(tmp_path / "root.pem", root)
    sub_pem = write_pem(tmp_path / "sub.pem", sub)
    for attempt in (1, 2):
        done = cli("certs", "renew", "--ca-cert", str(ca_pem), "--ca-key", str(ca_key), "--json", "--timeout", "5",
                   mosquitto=broker)
        assert done.returncode == 0, (attempt, done.stdout, done.stderr)
        printed = json.loads(done.stdout)
        sent = x509.load_pem_x509_certificates(printed["certificateChain"].encode())
        assert [c.subject for c in sent[1:]] == [sub.subject, root.subject]
        installed = wait_for_installed(station, sent[0])
        assert [c.subject for c in installed[1:]] == [sub.subject]  # the root is not presented in TLS
        leaf_path = tmp_path / f"leaf-{attempt}.pem"
        leaf_path.write_bytes(installed[0].public_bytes(serialization.Encoding.PEM))
        verified = subprocess.run(["openssl", "verify", "-CAfile", str(root_pem), "-untrusted", str(sub_pem),
                                   str(leaf_path)], capture_output=True, text=True, timeout=10)
        assert verified.returncode == 0, verified


# -- the CSR that does not come ----------------------------------------------------------------------

class SilentStation:
    """Accepts TriggerMessage(SignChargingStationCertificate) and never sends its CSR — but first puts a
    stray SignCertificate on josev/cs, before its answer, as a CSR asked for by another tool would be:
    a renewal must take only a CSR that follows its own TriggerMessage's answer (F06.FR.04)."""

    def __init__(self, port: int):
        self.requests: queue.Queue[dict[str, Any]] = queue.Queue()
        self._client = subscribed_client(port, REQUEST_TOPIC, self._on_message, name="silent-station")

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _on_message(self, client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        envelope = json.loads(message.payload)
        self.requests.put(envelope)
        if envelope.get("type") != "request":
            return
        check_request_envelope(envelope)
        version = envelope["data"]["ocpp_version"]
        stray = {"csr": stray_csr(), "certificateType": "ChargingStationCertificate"}
        request_validator(version, "SignCertificate").validate(stray)
        client.publish(RESPONSE_TOPIC, json.dumps({"id": str(uuid.uuid4()), "name": "ocpp_message",
                                                   "type": "request", "data": {
                                                       "ocpp_version": version, "message_name": "SignCertificate",
                                                       "payload": stray}}), qos=1)
        answer = {"status": "Accepted"}
        response_validator(version, envelope["data"]["message_name"]).validate(answer)
        client.publish(RESPONSE_TOPIC, json.dumps({"id": envelope["id"], "name": "ocpp_message", "type": "response",
                                                   "data": {"ocpp_version": version, "message_type": "CallResult",
                                                            "payload": answer}}), qos=1)


def stray_csr() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "someone else"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION)])
    request = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    return request.public_bytes(serialization.Encoding.PEM).decode()


def test_F06_FR_04_no_csr_after_the_answer_times_out_with_exit_1(broker: Mosquitto, tmp_path: Path) -> None:
    """The CSR of a renewal follows the TriggerMessage's answer (F06.FR.04): a SignCertificate before it is
    not taken (with MQTT 3.1.1 every client reads josev/cs) and, none coming after, the wait ends in a
    clear message and exit status 1 — nothing is signed or sent."""
    silent = SilentStation(broker.port)
    ca_pem, ca_key, _ = write_ca(tmp_path, "OEM CA")
    try:
        done = cli("certs", "renew", "--ca-cert", str(ca_pem), "--ca-key", str(ca_key), "--mqtt-protocol", "3.1.1",
                   "--timeout", "5", "--csr-timeout", "0.5", mosquitto=broker)
        assert done.returncode == 1, (done.stdout, done.stderr)
        assert "the station accepted the TriggerMessage but sent no CSR (SignCertificate) within 0.5 s" in done.stderr
        assert [row[:2] for row in table(done.stdout)[1:]] == [["TriggerMessage", "Accepted"],
                                                               ["SignCertificate", "NotReceived"]]
        seen = [silent.requests.get(timeout=5)]
        with pytest.raises(queue.Empty):
            seen.append(silent.requests.get(timeout=0.3))  # the CLI has exited: all it sent is in
        assert [m["data"]["message_name"] for m in seen] == ["TriggerMessage"]  # no answer, no CertificateSigned
    finally:
        silent.close()


# -- usage ---------------------------------------------------------------------------------------------

def test_unusable_ca_files_exit_2_before_any_request(tmp_path: Path) -> None:
    ca_pem, _, _ = write_ca(tmp_path, "OEM CA")
    _, other_key, _ = write_ca(tmp_path, "another CA")
    done = cli("certs", "renew", "--ca-cert", str(ca_pem), "--ca-key", str(other_key), "--mqtt-url",
               "mqtt://127.0.0.1:1")  # no broker there: the files are checked first
    assert done.returncode == 2, done.stderr
    assert "is not the key of the CA certificate" in done.stderr
    done = cli("certs", "renew", "--ca-cert", str(tmp_path / "missing.pem"), "--ca-key", str(other_key))
    assert done.returncode == 2 and "cannot read the CA certificate" in done.stderr
    done = cli("certs", "renew", "--ca-cert", str(ca_pem), "--ca-key", str(other_key), "--days", "0")
    assert done.returncode == 2 and "--days" in done.stderr
    help_text = cli("certs", "renew", "--help").stdout
    assert "TriggerMessage(SignChargingStationCertificate)" in help_text and "CertificateSigned" in help_text
    assert "exit status: 0 success, 1" in help_text


def test_A02_FR_02_certs_renew_in_ocpp16_asks_with_extended_trigger_message(
        station: StationProcess, mosquitto: Mosquitto, oem: OemClient, tmp_path: Path) -> None:
    """The 1.6 security extension's renewal (whitepaper A02.FR.02/03/13): ExtendedTriggerMessage
    (SignChargePointCertificate), a SignCertificate of {csr} only with O = CpoName, CertificateSigned
    without a certificateType — every message checked against the official 1.6 schemas."""
    ca_pem, ca_key, ca_cert = write_ca(tmp_path, "OEM 1.6 CA")
    changed = oem.result("ChangeConfiguration", {"key": "CpoName", "value": ORGANIZATION}, "ocpp1.6")
    assert changed == {"status": "Accepted"}, changed
    oem.barrier()
    recorder = Recorder(mosquitto.port)
    try:
        done = cli("certs", "renew", "--ca-cert", str(ca_pem), "--ca-key", str(ca_key), "--ocpp-version", "ocpp1.6",
                   "--timeout", "5", "--json", mosquitto=mosquitto)
        assert done.returncode == 0, (done.stdout, done.stderr)
        trigger, answered, signed = recorder.take(3)
    finally:
        recorder.close()
    assert check_cli_message(trigger, "ExtendedTriggerMessage") == {"requestedMessage": "SignChargePointCertificate"}
    request = oem.station_request("SignCertificate")
    assert request["data"]["ocpp_version"] == "ocpp1.6" and set(request["data"]["payload"]) == {"csr"}
    csr = x509.load_pem_x509_csr(request["data"]["payload"]["csr"].encode())
    assert csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == ORGANIZATION
    assert check_cli_message(answered, "SignCertificate") == {"status": "Accepted"}
    certificate_signed = check_cli_message(signed, "CertificateSigned")
    assert set(certificate_signed) == {"certificateChain"}
    printed = json.loads(done.stdout)
    assert [(s["step"], s["status"]) for s in printed["steps"]] == [
        ("ExtendedTriggerMessage", "Accepted"), ("SignCertificate", "Received"), ("CertificateSigned", "Accepted")]
    leaf = wait_for_installed(station, x509.load_pem_x509_certificates(certificate_signed["certificateChain"]
                                                                        .encode())[0])[0]
    assert spki(leaf.public_key()) == spki(csr.public_key()) and leaf.issuer == ca_cert.subject

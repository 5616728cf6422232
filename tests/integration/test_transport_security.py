"""The station behind a locked-down broker: TLS, passwords, mutual TLS, host-name checks and the ACL.

One real mosquitto runs the configuration of ``examples/mosquitto`` (its global settings, its listener
settings and its ACL file verbatim; paths and ports made local) with three TLS listeners:

* ``password``: TLS, user name and password from a file made with ``mosquitto_passwd -b -c``;
* ``mtls``: ``require_certificate true`` and ``use_identity_as_username true``, as the example's comments say;
* ``wrong_name``: TLS with a server certificate for ``example.invalid`` instead of ``localhost``.

Certificates are made here with ``cryptography``: a CA, server certificates, client certificates (CN=station,
CN=oem) signed by the CA.
"""

from __future__ import annotations

import asyncio
import json
import queue
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ocpp_station.client import StationClient

from ..support import REQUEST_TOPIC, RESPONSE_TOPIC, StationProcess, check_response, envelope, free_port, wait_for_port

pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "mosquitto"
STATION_PASSWORD = "st4tion-S3cret-pw-91c2e7"
OEM_PASSWORD = "oem-S3cret-pw-5b80aa"
JOSEV_PASSWORD = "josev-S3cret-pw-77d1f0"
GET_ONE = {"getVariableData": [{"component": {"name": "TxCtrlr"}, "variable": {"name": "TxStartPoint"}}]}


# --------------------------------------------------------------------------------------------------------------
# Certificates
# --------------------------------------------------------------------------------------------------------------

def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)


def _certificate(path: Path, common_name: str, issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
                 *, ca: bool = False, sans: list[x509.GeneralName] | None = None,
                 usage: x509.ObjectIdentifier | None = None) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """Write ``path``.pem and ``path``.key; self-signed when ``issuer`` is None."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    builder = (x509.CertificateBuilder().subject_name(name)
               .issuer_name(issuer[0].subject if issuer else name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False),
            critical=True)
    else:
        assert issuer is not None
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            issuer[1].public_key()), critical=False)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    cert = builder.sign(issuer[1] if issuer else key, hashes.SHA256())
    path.with_suffix(".pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(key, path.with_suffix(".key"))
    return cert, key


# --------------------------------------------------------------------------------------------------------------
# The broker
# --------------------------------------------------------------------------------------------------------------

@dataclass
class SecureBroker:
    workdir: Path
    ports: dict[str, int]
    process: subprocess.Popen

    def certs(self, name: str) -> tuple[str, str]:
        return str(self.workdir / f"{name}.pem"), str(self.workdir / f"{name}.key")

    @property
    def ca(self) -> str:
        return str(self.workdir / "ca.pem")

    def log_text(self) -> str:
        return (self.workdir / "mosquitto.log").read_text("utf-8", errors="replace")


def _derived_conf(workdir: Path, ports: dict[str, int]) -> str:
    """examples/mosquitto/mosquitto.conf with local paths and ports, its listener repeated three times."""
    example = (EXAMPLE / "mosquitto.conf").read_text("utf-8")
    assert not [line for line in example.splitlines() if re.match(r"\s*[^#\s].*\s#", line)], "end-of-line comment"
    head, rest = example.split("\nlistener 8883", 1)
    listener, _logging = rest.split("# -- Logging", 1)
    listener = "listener 8883" + listener
    paths = {"/etc/mosquitto/passwd": workdir / "passwd", "/etc/mosquitto/acl": workdir / "acl",
             "/var/lib/mosquitto/": f"{workdir}/", "/etc/mosquitto/certs/": f"{workdir}/"}
    for old, new in paths.items():
        head, listener = head.replace(old, str(new)), listener.replace(old, str(new))
    assert "allow_anonymous false" in head and "acl_file" in head and "password_file" in head
    assert "#require_certificate true" in listener and "tls_version tlsv1.2" in listener
    password = listener.replace("listener 8883", f"listener {ports['password']} 127.0.0.1")
    mtls = (listener.replace("listener 8883", f"listener {ports['mtls']} 127.0.0.1")
            .replace("#require_certificate true", "require_certificate true")
            .replace("#use_identity_as_username true", "use_identity_as_username true"))
    wrong_name = (listener.replace("listener 8883", f"listener {ports['wrong_name']} 127.0.0.1")
                  .replace("server.pem", "wrong-name.pem").replace("server.key", "wrong-name.key"))
    local = (f"user root\nlog_dest file {workdir}/mosquitto.log\nlog_type all\nconnection_messages true\n")
    return "\n".join([head, password, mtls, wrong_name, local])


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    if shutil.which("mosquitto") is None or shutil.which("mosquitto_passwd") is None:
        pytest.fail("mosquitto and mosquitto_passwd are needed: run `make test`, which installs them")
    workdir = tmp_path_factory.mktemp("secure-broker")
    ca = _certificate(workdir / "ca", "Test charger CA", None, ca=True)
    _certificate(workdir / "server", "localhost", ca, usage=ExtendedKeyUsageOID.SERVER_AUTH,
                 sans=[x509.DNSName("localhost"), x509.IPAddress(IPv4Address("127.0.0.1"))])
    _certificate(workdir / "wrong-name", "example.invalid", ca, usage=ExtendedKeyUsageOID.SERVER_AUTH,
                 sans=[x509.DNSName("example.invalid")])
    for user in ("station", "oem"):
        _certificate(workdir / user, user, ca, usage=ExtendedKeyUsageOID.CLIENT_AUTH)
    shutil.copy(EXAMPLE / "acl", workdir / "acl")
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(workdir / "passwd"), "station", STATION_PASSWORD],
                   check=True, capture_output=True)
    subprocess.run(["mosquitto_passwd", "-b", str(workdir / "passwd"), "oem", OEM_PASSWORD],
                   check=True, capture_output=True)
    subprocess.run(["mosquitto_passwd", "-b", str(workdir / "passwd"), "josev", JOSEV_PASSWORD],
                   check=True, capture_output=True)
    assert STATION_PASSWORD not in (workdir / "passwd").read_text()  # hashed
    ports = {"password": free_port(), "mtls": free_port(), "wrong_name": free_port()}
    conf = workdir / "mosquitto.conf"
    conf.write_text(_derived_conf(workdir, ports))
    process = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL,
                               stderr=open(workdir / "mosquitto.stderr", "ab"))  # noqa: SIM115
    try:
        for port in ports.values():
            wait_for_port(port)
    except TimeoutError:
        process.terminate()
        raise RuntimeError(f"mosquitto did not start: {(workdir / 'mosquitto.stderr').read_text()}") from None
    yield SecureBroker(workdir, ports, process)
    process.terminate()
    process.wait(10)


# --------------------------------------------------------------------------------------------------------------
# Clients
# --------------------------------------------------------------------------------------------------------------

class TlsClient:
    """A paho client over TLS, as the OEM application (or an intruder) would run one."""

    def __init__(self, broker: SecureBroker, listener: str, username: str | None = None,
                 password: str | None = None, cert: str | None = None,
                 subscribe: tuple[str, ...] | None = (RESPONSE_TOPIC,)):
        self.messages: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.connected: queue.Queue[Any] = queue.Queue()
        self._subacks: queue.Queue[tuple[int, list[Any]]] = queue.Queue()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-{uuid.uuid4().hex[:8]}")
        certfile, keyfile = broker.certs(cert) if cert else (None, None)
        self.client.tls_set(ca_certs=broker.ca, certfile=certfile, keyfile=keyfile)
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.on_message = lambda _c, _u, msg: self.messages.put((msg.topic, msg.payload))
        self.client.on_connect = lambda _c, _u, _f, reason, _p: self.connected.put(reason)
        self.client.on_subscribe = lambda _c, _u, mid, reasons, _p: self._subacks.put((mid, reasons))
        self.client.connect("localhost", broker.ports[listener])
        self.client.loop_start()
        reason = self.connected.get(timeout=5)
        assert not reason.is_failure, reason
        for topic in (subscribe or ()):
            self.subscribe(topic)

    def subscribe(self, topic: str) -> list[Any]:
        """Subscribe and wait for the SUBACK itself (not a pause); its reason codes (a refusal is not raised)."""
        result, mid = self.client.subscribe(topic, qos=1)
        assert result == mqtt.MQTT_ERR_SUCCESS
        deadline = time.monotonic() + 5
        while True:
            got, reasons = self._subacks.get(timeout=max(0.0, deadline - time.monotonic()))
            if got == mid:
                return reasons

    def close(self) -> None:
        self.client.disconnect()  # first: paho's network thread then ends at once, not after its 1 s select
        self.client.loop_stop()

    def publish(self, topic: str, body: bytes | str) -> None:
        self.client.publish(topic, body, qos=1).wait_for_publish(5)

    def answer_to(self, request_id: str, timeout: float = 10.0,
                  passed_over: list[tuple[str, dict[str, Any]]] | None = None) -> dict[str, Any] | None:
        """The message with id ``request_id``; those before it are dropped, or collected (topic, message)."""
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                topic, body = self.messages.get(timeout=remaining)
            except queue.Empty:
                break
            answer = json.loads(body)
            if answer.get("id") == request_id:
                return answer
            if passed_over is not None:
                passed_over.append((topic, answer))
        return None

    def call(self, action: str, payload: Any,
             passed_over: list[tuple[str, dict[str, Any]]] | None = None) -> dict[str, Any]:
        message = envelope(action, payload)
        self.publish(REQUEST_TOPIC, json.dumps(message))
        answer = self.answer_to(message["id"], passed_over=passed_over)
        assert answer is not None, f"no answer to {message['id']}"
        check_response(answer, action, "ocpp2.0.1")
        return answer


@pytest.fixture
def station_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def _serve(broker: SecureBroker, url: str, data_dir: Path, *extra: str, wait: bool = True) -> StationProcess:
    return StationProcess(url, data_dir, ["--ca-file", broker.ca, *extra]).start(wait=wait)


def _stays_unconnected(station: StationProcess, failure: str) -> None:
    """The station tried again and failed again (``failure`` logged a second time), still running, never
    connected: its retry is the event waited for, not a pause (the retries log at DEBUG, which it runs at)."""
    station.wait_until_logged(failure, times=2)
    assert station.process is not None and station.process.poll() is None, station.log_text()[-2000:]
    assert "connected to" not in station.log_text(), station.log_text()[-2000:]


# --------------------------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------------------------

def test_tls_and_password_answer_the_oem_and_never_log_the_password(broker: SecureBroker, station_dir: Path) -> None:
    url = f"mqtts://station:{STATION_PASSWORD}@localhost:{broker.ports['password']}"
    station = _serve(broker, url, station_dir)
    oem = TlsClient(broker, "password", "oem", OEM_PASSWORD)
    try:
        answer = oem.call("GetVariables", GET_ONE)
        assert answer["data"]["message_type"] == "CallResult", answer
        assert f"mqtts://station:***@localhost:{broker.ports['password']}" in station.log_text()
    finally:
        oem.close()
        assert station.terminate() == 0
    assert STATION_PASSWORD not in station.log_text()


def test_acl_only_the_station_may_answer(broker: SecureBroker, station_dir: Path) -> None:
    """A forged answer published by the `oem` user on josev/cs is dropped; the station's own answer arrives."""
    url = f"mqtts://station:{STATION_PASSWORD}@localhost:{broker.ports['password']}"
    station = _serve(broker, url, station_dir)
    listener = TlsClient(broker, "password", "oem", OEM_PASSWORD)
    forger = TlsClient(broker, "password", "oem", OEM_PASSWORD, subscribe=None)
    try:
        forged_id = str(uuid.uuid4())
        forged = {"id": forged_id, "name": "ocpp_message", "type": "response",
                  "data": {"ocpp_version": "ocpp2.0.1", "message_type": "CallResult", "payload": {}}}
        forger.publish(RESPONSE_TOPIC, json.dumps(forged))  # acknowledged: the broker has dealt with it
        # The station's answer to a request sent after that travels the same way, to the same subscriber:
        # had the broker delivered the forged answer, it would have arrived before the station's.
        before: list[tuple[str, dict[str, Any]]] = []
        assert listener.call("GetVariables", GET_ONE, passed_over=before)["data"]["message_type"] == "CallResult"
        assert [m for _t, m in before if m.get("id") == forged_id] == [], "the broker delivered the forged answer"
        # Nor may the oem read the requests of others. The snoop also reads josev/cs, which it may: the
        # request reaches the broker before the station's answer to it exists, so a request delivered to
        # the snoop would arrive before that answer.
        snoop = TlsClient(broker, "password", "oem", OEM_PASSWORD, subscribe=(REQUEST_TOPIC, RESPONSE_TOPIC))
        try:
            answer = listener.call("GetVariables", GET_ONE)
            seen: list[tuple[str, dict[str, Any]]] = []
            assert snoop.answer_to(answer["id"], passed_over=seen) == answer
            assert [t for t, _m in seen if t == REQUEST_TOPIC] == [], "the oem user received a request from cs/josev"
        finally:
            snoop.close()
        assert re.search(r"Denied PUBLISH from .* 'josev/cs'", broker.log_text()), broker.log_text()[-2000:]
    finally:
        listener.close()
        forger.close()
        assert station.terminate() == 0


def test_the_example_acl_serves_josev_services_beside_the_station(broker: SecureBroker, station_dir: Path) -> None:
    """Issue 12: on a shared Josev broker, a Josev service answers service_status and the station does not;
    the station answers the ocpp_message; the OEM gets exactly one answer to each."""
    url = f"mqtts://station:{STATION_PASSWORD}@localhost:{broker.ports['password']}"
    station = _serve(broker, url, station_dir)
    josev = TlsClient(broker, "password", "josev", JOSEV_PASSWORD, subscribe=(REQUEST_TOPIC,))
    oem = TlsClient(broker, "password", "oem", OEM_PASSWORD)
    try:
        status_request = {"id": str(uuid.uuid4()), "name": "service_status", "type": "request", "data": {}}
        oem.publish(REQUEST_TOPIC, json.dumps(status_request))
        _topic, received = josev.messages.get(timeout=5)  # the Josev service gets it …
        assert json.loads(received)["id"] == status_request["id"]
        status_answer = {"id": status_request["id"], "name": "service_status", "type": "response",
                         "data": {"status": "running"}}
        josev.publish(RESPONSE_TOPIC, json.dumps(status_answer))  # … and may answer it
        barrier = envelope("GetVariables", GET_ONE)
        oem.publish(REQUEST_TOPIC, json.dumps(barrier))
        before: list[dict[str, Any]] = []  # the station answers in order: its answer would come before
        while (answer := json.loads(oem.messages.get(timeout=5)[1])).get("id") != barrier["id"]:
            before.append(answer)
        check_response(answer, "GetVariables", "ocpp2.0.1")
        if not any(a.get("name") == "service_status" for a in before):  # Josev's answer may come after
            assert oem.answer_to(status_request["id"], timeout=5) == status_answer
        # No ocpp_message answer came before the barrier's (the station's own requests — its startup
        # security event — may: they are not answers).
        assert [a for a in before if a.get("name") == "ocpp_message" and a.get("type") == "response"] == [], before
        station.wait_until_logged("not answered: Josev messages on the request topic that are not ocpp_message "
                                  "requests (name/type), e.g. 'service_status'/'request'")
    finally:
        josev.close()
        oem.close()
        assert station.terminate() == 0


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_the_oem_client_library_is_answered_behind_the_example_acl(broker: SecureBroker, station_dir: Path,
                                                                    protocol: str) -> None:
    """Our own client (MQTT 5: a private reply topic under josev/cs/client/) works with the shipped ACL."""
    url = f"mqtts://station:{STATION_PASSWORD}@localhost:{broker.ports['password']}"
    station = _serve(broker, url, station_dir)

    async def ask() -> tuple[str | None, dict[str, Any]]:
        oem_url = f"mqtts://oem:{OEM_PASSWORD}@localhost:{broker.ports['password']}"
        async with StationClient(oem_url, ca_file=broker.ca, protocol=protocol) as client:
            return client.reply_topic, await client.call_raw("GetVariables", GET_ONE, timeout=5)

    try:
        reply_topic, answer = asyncio.run(ask())
        assert reply_topic is not None and reply_topic.startswith(
            f"{RESPONSE_TOPIC}/client/" if protocol == "5" else RESPONSE_TOPIC), reply_topic
        check_response(answer, "GetVariables", "ocpp2.0.1")
        assert answer["data"]["message_type"] == "CallResult", answer
    finally:
        assert station.terminate() == 0


def test_acl_keeps_answers_to_foreign_response_topics_at_the_broker(broker: SecureBroker, station_dir: Path) -> None:
    """A requester cannot make the station publish outside its answer topics; josev/cs still gets the answer."""
    url = f"mqtts://station:{STATION_PASSWORD}@localhost:{broker.ports['password']}"
    station = _serve(broker, url, station_dir)
    listener = TlsClient(broker, "password", "oem", OEM_PASSWORD)
    requester = _mqtt5_client(broker)
    try:
        properties = Properties(PacketTypes.PUBLISH)
        properties.ResponseTopic = "cs/josev/elsewhere"  # somewhere the station may not write
        request = envelope("GetVariables", GET_ONE)
        requester.publish(REQUEST_TOPIC, json.dumps(request), qos=1, properties=properties).wait_for_publish(5)
        answer = listener.answer_to(request["id"])
        assert answer is not None, "no answer on josev/cs"
        check_response(answer, "GetVariables", "ocpp2.0.1")
        assert listener.call("GetVariables", GET_ONE)["data"]["message_type"] == "CallResult"  # not stalled
        assert re.search(r"Denied PUBLISH from .* 'cs/josev/elsewhere'", broker.log_text()), broker.log_text()[-2000:]
        station.wait_until_logged(f"the broker refused the answer to {request['id']} on 'cs/josev/elsewhere'")
    finally:
        requester.disconnect()
        requester.loop_stop()
        listener.close()
        assert station.terminate() == 0


def _mqtt5_client(broker: SecureBroker) -> mqtt.Client:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-{uuid.uuid4().hex[:8]}",
                         protocol=mqtt.MQTTv5)
    client.tls_set(ca_certs=broker.ca)
    client.username_pw_set("oem", OEM_PASSWORD)
    connected: queue.Queue[Any] = queue.Queue()
    client.on_connect = lambda _c, _u, _f, reason, _p: connected.put(reason)
    client.connect("localhost", broker.ports["password"])
    client.loop_start()
    reason = connected.get(timeout=5)
    assert not reason.is_failure, reason
    return client


def test_mutual_tls_answers(broker: SecureBroker, station_dir: Path) -> None:
    cert, key = broker.certs("station")
    station = _serve(broker, f"mqtts://localhost:{broker.ports['mtls']}", station_dir,
                     "--client-cert", cert, "--client-key", key)
    oem = TlsClient(broker, "mtls", cert="oem")
    try:
        assert oem.call("GetVariables", GET_ONE)["data"]["message_type"] == "CallResult"
    finally:
        oem.close()
        assert station.terminate() == 0
    assert "BEGIN" not in station.log_text()  # no key material in the log


def test_mutual_tls_without_a_client_certificate_does_not_connect(broker: SecureBroker, station_dir: Path) -> None:
    station = _serve(broker, f"mqtts://localhost:{broker.ports['mtls']}", station_dir, wait=False)
    try:
        # TLS 1.3: the broker's "certificate required" alert comes after the handshake, or not at all
        # when the broker resets the connection first; the station's own line names the likely cause.
        station.wait_until_logged("no client certificate is configured")
        _stays_unconnected(station, "no client certificate is configured")
        [line] = [line for line in station.log_text().splitlines() if "no client certificate is configured" in line][:1]
        assert " ERROR " in line and "--client-cert" in line, line
    finally:
        assert station.terminate() == 0
    assert "connected to" not in station.log_text()


def test_wrong_password_is_retried_logged_as_refused_and_never_shown(broker: SecureBroker,
                                                                      station_dir: Path) -> None:
    wrong = "Wr0ng-pa55word-3e1f0d"
    url = f"mqtts://station:{wrong}@localhost:{broker.ports['password']}"
    station = _serve(broker, url, station_dir, wait=False)
    try:
        station.wait_until_logged("refused: check the username and password")
        station.wait_until_logged("retrying in")
        _stays_unconnected(station, "refused: check the username and password")
        log = station.log_text()
        [line, *_] = [line for line in log.splitlines() if "refused: check the username and password" in line]
        assert " ERROR " in line, line
        assert f"mqtts://station:***@localhost:{broker.ports['password']}" in line, line
        assert log.count("refused: check the username and password") >= 2, log[-2000:]  # it keeps trying
        errors = [line for line in log.splitlines() if " ERROR " in line and "refused: check the username" in line]
        assert len(errors) == 1, errors  # said once; the retries at DEBUG (then a reminder every 10 min)
    finally:
        assert station.terminate() == 0
    assert wrong not in station.log_text()
    assert "stopped" in station.log_text()


def _serve_against_the_wrong_name(broker: SecureBroker, station_dir: Path) -> StationProcess:
    url = f"mqtts://station:{STATION_PASSWORD}@localhost:{broker.ports['wrong_name']}"
    station = _serve(broker, url, station_dir, wait=False)
    station.wait_until_logged("CERTIFICATE_VERIFY_FAILED")
    _stays_unconnected(station, "CERTIFICATE_VERIFY_FAILED")
    return station


def test_a_broker_certificate_for_another_name_is_refused(broker: SecureBroker, station_dir: Path) -> None:
    station = _serve_against_the_wrong_name(broker, station_dir)
    try:
        log = station.log_text()
        assert re.search(r"certificate verify failed: Hostname mismatch", log), log[-2000:]
        assert f"localhost:{broker.ports['wrong_name']}" in log and "retrying in" in log, log[-2000:]
        assert "no client certificate" not in log  # the cause is the broker's name, not our certificate
    finally:
        assert station.terminate() == 0
    assert STATION_PASSWORD not in station.log_text()


def test_a_refused_broker_certificate_is_logged_as_an_error(broker: SecureBroker, station_dir: Path) -> None:
    station = _serve_against_the_wrong_name(broker, station_dir)
    try:
        lines = [line for line in station.log_text().splitlines() if "CERTIFICATE_VERIFY_FAILED" in line]
        assert lines and [line for line in lines if " ERROR " in line] == lines[:1], lines  # then DEBUG
    finally:
        assert station.terminate() == 0

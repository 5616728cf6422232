"""Issue 17 against a CSMS: the station's own certificate renewed (A02), its password changed (A01) and
TriggerMessage (F06), over real websockets and TLS.

The CSMS is :class:`~.test_csms_link.Csms` (the ``ocpp`` package's server-side ``ChargePoint`` of the
version each connection negotiated, which validates every frame the station sends against the official
schema), extended here (:class:`LifecycleCsms`) with a SignCertificate handler whose answer a test picks,
a record of every CSR it received, and the DER of each client certificate a TLS handshake presented.
Its certificate authority is :class:`ocpp_station.oem_ca.CertificateAuthority` over a CA made with
:func:`~.test_csms_link.issue`: the same CA signs the CSMS's server certificate, the station's factory
certificate and, later, the renewed one; the CSMS requires client certificates from it (security
profile 3) or a password (profile 2).

Each station runs as a process on a mosquitto of its own. What OCPP has no message for before the
station first connects (its factory certificate and key) is imported with ``ocpp-station certs import``;
the quick retries, the first password and the CSMSRootCertificate are set through the station's own
request handling, in this process, before it starts (so that its first attempt connects), and the rest
by the CSMS. Every wait is for a frame, a handshake or a log line; the one bounded wait for "nothing
more" (the end of the A02 back-off) follows the station's own word that it gave up.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import websockets
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from ocpp.routing import on
from ocpp.v21 import ChargePoint as ChargePoint21
from ocpp.v21 import call as call21
from ocpp.v201 import ChargePoint, call
from websockets.asyncio.server import ServerConnection

from ocpp_station.app import Station
from ocpp_station.config import load
from ocpp_station.oem_ca import CertificateAuthority

from ..support import InProcessOem, wait_until
from .test_csms_link import (
    FAST_RETRIES,
    IDENTITY,
    PASSWORD,
    TWO_EVSES,
    V201,
    Csms,
    CsmsSession,
    Issued,
    Rig,
    issue,
    network_config,
    server_context,
    wait_logged,
)

V21 = "ocpp2.1"
BOTH = pytest.mark.parametrize("version", [V201, V21])
ORGANIZATION = "Lifecycle Test Operator"
OWN = "ChargingStationCertificate"
NEW_PASSWORD = "lifecycle-NEW-pass-0042-xyz"


# --------------------------------------------------------------------------------------------------------------
# The CSMS: SignCertificate answered as the test says, CSRs and client certificates recorded
# --------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SignRequest:
    """A SignCertificate the ``ocpp`` package validated and handed to the handler."""

    at: float  # time.monotonic()
    message_id: str
    csr: str
    certificate_type: str | None
    request_id: int | None


class LifecycleSession(CsmsSession):
    csms: LifecycleCsms

    @on("SignCertificate")
    async def on_sign_certificate(self, csr: str, call_unique_id: str, certificate_type: str | None = None,
                                  request_id: int | None = None, **_: Any) -> Any:
        self.csms.note(SignRequest(time.monotonic(), call_unique_id, csr, certificate_type, request_id))
        return self._call_result.SignCertificate(status=self.csms.sign_status)


class LifecycleChargePoint(LifecycleSession, ChargePoint):
    """A 2.0.1 session."""


class LifecycleChargePoint21(LifecycleSession, ChargePoint21):
    """A 2.1 session."""


LIFECYCLE_SESSIONS: dict[str, type[Any]] = {V201: LifecycleChargePoint, V21: LifecycleChargePoint21}


@dataclass
class LifecycleCsms(Csms):
    """:class:`Csms` that takes SignCertificate (answered ``sign_status``) and keeps the DER of every
    client certificate presented (``peer_ders``, beside the base class's ``peer_certificates``)."""

    sign_status: str = "Accepted"
    csrs: list[SignRequest] = field(default_factory=list)
    peer_ders: list[bytes] = field(default_factory=list)

    async def _handle(self, connection: ServerConnection) -> None:  # Csms._handle, with LIFECYCLE_SESSIONS
        ssl_object = connection.transport.get_extra_info("ssl_object")
        if ssl_object is not None and ssl_object.getpeercert():
            with self._lock:
                self.peer_certificates.append(ssl_object.getpeercert())
                self.peer_ders.append(ssl_object.getpeercert(binary_form=True))
        assert connection.request is not None
        version = connection.subprotocol or V201
        with self._lock:
            self.sessions.append(version)
        cp = LIFECYCLE_SESSIONS[version](connection.request.path.rstrip("/").rsplit("/", 1)[-1], connection, self)
        self.connection = cp
        with contextlib.suppress(websockets.ConnectionClosed):
            await cp.start()

    def note(self, request: SignRequest) -> None:
        with self._lock:
            self.csrs.append(request)

    def sign_requests(self) -> list[SignRequest]:
        with self._lock:
            return list(self.csrs)

    def wait_for_csrs(self, count: int, timeout: float = 15.0,
                      why: Callable[[], str] = lambda: "") -> list[SignRequest]:
        try:
            wait_until(lambda: len(self.sign_requests()) >= count, "", timeout)
        except TimeoutError:
            raise TimeoutError(f"the CSMS handled {len(self.sign_requests())} SignCertificate, wanted {count}:\n"
                               f"{why()}") from None
        return self.sign_requests()

    def peers(self) -> list[x509.Certificate]:
        with self._lock:
            return [x509.load_der_x509_certificate(der) for der in self.peer_ders]

    def position(self, frame: list[Any]) -> int:
        """Where ``frame`` (an object of :attr:`frames`) is in the order of arrival."""
        with self._lock:
            return next(i for i, r in enumerate(self.frames) if r.frame is frame)

    def positions(self, action: str) -> list[int]:
        with self._lock:
            return [i for i, r in enumerate(self.frames) if r.action == action]

    def security_events(self, kind: str, after: int = -1) -> list[dict[str, Any]]:
        """The SecurityEventNotification payloads of ``kind`` that arrived after position ``after``."""
        with self._lock:
            return [r.frame[3] for i, r in enumerate(self.frames)
                    if i > after and r.action == "SecurityEventNotification" and r.frame[3]["type"] == kind]

    def all_text(self) -> str:
        with self._lock:
            return json.dumps([r.frame for r in self.frames])


def calls(version: str) -> ModuleType:
    """The ``call`` module of ``version`` (2.1 has fields 2.0.1 lacks: CertificateSigned's requestId)."""
    return call21 if version == V21 else call


# --------------------------------------------------------------------------------------------------------------
# A station at security profile 2 or 3, prepared before it starts so that its first attempt connects
# --------------------------------------------------------------------------------------------------------------

@dataclass
class Setup:
    rig: Rig
    csms: LifecycleCsms
    ca: Issued
    factory: Issued | None  # the ChargingStationCertificate imported at the "factory" (profile 3)
    version: str

    def log(self) -> str:
        return self.rig.log()[-4000:]


@pytest.fixture
def setups(tmp_path: Path) -> Iterator[Callable[..., Setup]]:
    made: list[Setup] = []

    def make(*, profile: int, version: str = V201, extra: str = "", **csms_kwargs: Any) -> Setup:
        ca = issue("Lifecycle CSMS Root CA", ca=True)
        context = server_context(tmp_path, ca, client_ca=ca if profile == 3 else None)
        csms = LifecycleCsms(ssl_context=context, password=None if profile == 3 else PASSWORD,
                             subprotocols=[version], **csms_kwargs)
        csms.start()
        rig = Rig(tmp_path / f"rig{len(made)}", network_config(csms.url, security_profile=profile, extra=extra))
        setup = Setup(rig, csms, ca, None, version)
        made.append(setup)
        if profile == 3:
            setup.factory = issue(IDENTITY, ca, usage=ExtendedKeyUsageOID.CLIENT_AUTH)
            cert_path, key_path = setup.factory.write(tmp_path, f"factory{len(made)}", chain=(ca,))
            imported = subprocess.run([sys.executable, "-m", "ocpp_station", "certs", "import", "--type", OWN,
                                       str(cert_path), "--key", str(key_path), "--data-dir", str(rig.data_dir)],
                                      capture_output=True, text=True, timeout=30)
            assert imported.returncode == 0, imported.stderr
        station = Station(load(rig.workdir / "station.toml", overrides={"data_dir": rig.data_dir}))
        try:
            oem = InProcessOem(station)
            values = {("OCPPCommCtrlr", name): value for name, value in FAST_RETRIES.items()}
            if profile != 3:
                values["SecurityCtrlr", "BasicAuthPassword"] = PASSWORD
            results = oem.result("SetVariables", {"setVariableData": [
                {"component": {"name": c}, "variable": {"name": v}, "attributeValue": value}
                for (c, v), value in values.items()]})["setVariableResult"]
            assert all(r["attributeStatus"] == "Accepted" for r in results), results
            installed = oem.result("InstallCertificate", {"certificateType": "CSMSRootCertificate",
                                                          "certificate": ca.pem})
            assert installed["status"] == "Accepted", installed
        finally:
            station.close()
        rig.start()
        return setup

    yield make
    for setup in made:
        setup.rig.close()
        setup.csms.stop()


def until(setup: Setup, condition: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    """:func:`wait_until`, the station's log (at the moment it gave up) in the failure."""
    try:
        wait_until(condition, what, timeout)
    except TimeoutError:
        raise TimeoutError(f"{what}:\n{setup.log()}") from None


def accepted(setup: Setup, statuses: int = 1) -> None:
    """Until the station is registered: its StatusNotifications come only after an Accepted boot."""
    setup.csms.wait_for("StatusNotification", count=statuses, why=setup.log)


def set_from_csms(csms: Csms, component: str, values: dict[str, str]) -> None:
    result, answer = csms.call(call.SetVariables(set_variable_data=[
        {"component": {"name": component}, "variable": {"name": name}, "attribute_value": value}
        for name, value in values.items()]))
    assert result is not None, answer
    assert all(r["attribute_status"] == "Accepted" for r in result.set_variable_result), result


def trigger(csms: Csms, what: str, **fields: Any) -> tuple[str, list[Any]]:
    """A TriggerMessage from the CSMS: (its status, the answer frame)."""
    result, answer = csms.call(call.TriggerMessage(requested_message=what, **fields))
    assert result is not None, answer
    return result.status, answer


def renewal_requested(setup: Setup) -> SignRequest:
    """OrganizationName set by the CSMS, then TriggerMessage(SignChargingStationCertificate) → Accepted;
    the SignCertificate that follows, after the answer (F06.FR.04)."""
    before = len(setup.csms.sign_requests())
    set_from_csms(setup.csms, "SecurityCtrlr", {"OrganizationName": ORGANIZATION})
    status, answer = trigger(setup.csms, "SignChargingStationCertificate")
    assert status == "Accepted", answer
    requests = setup.csms.wait_for_csrs(before + 1, why=setup.log)
    signs = setup.csms.positions("SignCertificate")
    assert signs and min(signs[before:]) > setup.csms.position(answer), (signs, setup.csms.position(answer))
    return requests[before]


def certificate_signed(csms: Csms, version: str, chain: str, request_id: int | None = None) -> Any:
    module = calls(version)
    fields: dict[str, Any] = {"certificate_chain": chain, "certificate_type": OWN}
    if version == V21 and request_id is not None:
        fields["request_id"] = request_id
    result, answer = csms.call(module.CertificateSigned(**fields))
    assert result is not None, answer
    return result


def spki(cert: x509.Certificate | x509.CertificateSigningRequest) -> bytes:
    return cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)


def secret_pieces(secret: bytes) -> list[str]:
    """What ``secret`` looks like inside any base64 text (whatever its offset: three alignments) or in hex."""
    return [base64.b64encode(secret[a:a + 24]).decode("ascii") for a in range(3)] + [secret.hex(), secret.hex().upper()]


def bundle_leaf(setup: Setup) -> x509.Certificate:
    """The first certificate of the station's derived bundle of its own chain (what its TLS loads)."""
    return x509.load_pem_x509_certificates((setup.rig.data_dir / "certs" / f"{OWN}.pem").read_bytes())[0]


def own_generations(setup: Setup) -> list[tuple[str, int]]:
    """(generation, serial) of every leaf of the station's own chain in its database."""
    with contextlib.closing(sqlite3.connect(setup.rig.data_dir / "station.sqlite3", timeout=10)) as db:
        rows = db.execute("SELECT generation, pem FROM certificate WHERE use = ? AND role = 'leaf' ORDER BY id",
                          (OWN,)).fetchall()
    return [(generation, x509.load_pem_x509_certificate(pem.encode("ascii")).serial_number) for generation, pem in rows]


def security_log(setup: Setup) -> list[tuple[str, str]]:
    """(type, techInfo) of every entry of the station's security log, read from its database."""
    with contextlib.closing(sqlite3.connect(setup.rig.data_dir / "station.sqlite3", timeout=10)) as db:
        return [(kind, info or "") for kind, info in db.execute("SELECT type, tech_info FROM security_log ORDER BY id")]


# --------------------------------------------------------------------------------------------------------------
# A02: the whole renewal at security profile 3
# --------------------------------------------------------------------------------------------------------------

@BOTH
def test_A02_full_renewal_profile_3_next_handshake_presents_the_new_certificate(
        setups: Callable[..., Setup], version: str) -> None:
    setup = setups(profile=3, version=version)
    csms, rig = setup.csms, setup.rig
    accepted(setup)
    assert setup.factory is not None
    [first_peer] = csms.peers()
    assert first_peer.serial_number == setup.factory.cert.serial_number

    # A02's prerequisite: without SecurityCtrlr.OrganizationName there is no subject for a CSR.
    status, answer = trigger(csms, "SignChargingStationCertificate")
    assert status == "Rejected", answer
    assert answer[2]["statusInfo"]["reasonCode"] == "MissingParam", answer

    request = renewal_requested(setup)
    assert len(csms.sign_requests()) == 1  # none for the refused trigger
    assert request.certificate_type == OWN  # A02.FR.13
    assert (request.request_id is not None) == (version == V21), request  # 2.1 A02.FR.24 only
    # The CSR, read independently: subject CN = the identity, O = OrganizationName, a self-signature
    # that verifies (openssl, and cryptography), a key that is not the factory one (A02.FR.02).
    csr = x509.load_pem_x509_csr(request.csr.encode("ascii"))
    assert [a.value for a in csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)] == [IDENTITY]
    assert [a.value for a in csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)] == [ORGANIZATION]
    assert csr.is_signature_valid
    verified = subprocess.run(["openssl", "req", "-noout", "-verify"], input=request.csr, capture_output=True,
                              text=True, timeout=30)
    assert verified.returncode == 0 and "verify OK" in verified.stdout + verified.stderr, verified
    assert spki(csr) != spki(setup.factory.cert)
    assert "PRIVATE KEY" not in csms.all_text()  # A02.FR.05: the new key stays in the station

    chain = CertificateAuthority(setup.ca.cert, setup.ca.key).sign(request.csr)
    [signed] = x509.load_pem_x509_certificates(chain.encode("ascii"))  # the CA is a root: the leaf alone
    result = certificate_signed(csms, version, chain, request.request_id)
    assert result.status == "Accepted", result

    # A02.FR.08: in use at once (its notBefore has passed); at profile 3 the station connects again, and
    # the CSMS's side of that handshake sees the new certificate.
    until(setup, lambda: len(csms.peers()) >= 2, "no second TLS connection")
    new_peer = csms.peers()[1]
    assert new_peer.serial_number == signed.serial_number, (new_peer, signed)
    assert spki(new_peer) == spki(csr) == spki(signed)
    assert int(csms.peer_certificates[1]["serialNumber"], 16) == signed.serial_number
    csms.wait_for("BootNotification", count=2, why=setup.log)
    accepted(setup, statuses=2)  # the new connection is accepted
    assert bundle_leaf(setup).serial_number == signed.serial_number
    # A02.FR.10: the factory chain was the fallback until a connection with the new one was accepted.
    assert own_generations(setup) == [("current", signed.serial_number)]

    # The private key: a 0600 file under <data dir>/private, the key of the new certificate, in no frame
    # and no GetInstalledCertificateIds answer (through either door).
    key_file = rig.data_dir / "private" / f"{OWN}.key.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600, oct(key_file.stat().st_mode)
    key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    assert key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo) == spki(signed)
    assert isinstance(key, ec.EllipticCurvePrivateKey)  # [security] key_algorithm's default, ec-p256
    pieces = secret_pieces(key.private_numbers().private_value.to_bytes(32, "big"))
    listed, answer = csms.call(call.GetInstalledCertificateIds())
    assert listed is not None and listed.status == "Accepted", answer
    over_mqtt = rig.oem.result("GetInstalledCertificateIds", {}, version)
    for text in (json.dumps(answer), json.dumps(over_mqtt), csms.all_text()):
        assert "PRIVATE KEY" not in text
        flat = text.replace("\\n", "").replace("\\r", "")
        assert not [piece for piece in pieces if piece in flat]


# --------------------------------------------------------------------------------------------------------------
# A02.FR.07: a CertificateSigned the station must refuse
# --------------------------------------------------------------------------------------------------------------

def _other_key(setup: Setup, request: SignRequest) -> str:
    """The genuine CA's signature on a CSR of the same subject but of another key."""
    stranger = issue(IDENTITY, setup.ca)  # a key pair the station never made
    csr = (x509.CertificateSigningRequestBuilder().subject_name(x509.load_pem_x509_csr(
        request.csr.encode("ascii")).subject).sign(stranger.key, hashes.SHA256()))
    return CertificateAuthority(setup.ca.cert, setup.ca.key).sign(
        csr.public_bytes(serialization.Encoding.PEM).decode("ascii"))


def _expired(setup: Setup, request: SignRequest) -> str:
    start = datetime.now(UTC) - timedelta(days=10)
    return CertificateAuthority(setup.ca.cert, setup.ca.key).sign(request.csr, days=1, not_before=start)


def _untrusted(setup: Setup, request: SignRequest) -> str:
    """Signed by a CA the station does not trust, that CA's root sent along."""
    stranger = issue("Unrelated Root CA", ca=True)
    return CertificateAuthority(stranger.cert, stranger.key).sign(request.csr) + stranger.pem


def _broken(setup: Setup, request: SignRequest) -> str:
    """Signed by an unrelated CA, followed by the genuine CA: the chain does not hold together."""
    stranger = issue("Unrelated Root CA", ca=True)
    return CertificateAuthority(stranger.cert, stranger.key).sign(request.csr) + setup.ca.pem


# MaxCertificateChainSize is ReadOnly at 10000, the schema's maxLength of certificateChain: a longer
# chain is a FormatViolation before any handler sees it, so A02.FR.16 cannot be reached from a CSMS.
BAD_CHAINS = [pytest.param(_other_key, "KeyMismatch", id="wrong-key"),
              pytest.param(_expired, "CertificateExpired", id="expired-leaf"),
              pytest.param(_untrusted, "UntrustedChain", id="unrelated-ca"),
              pytest.param(_broken, "InvalidChain", id="broken-chain")]


@pytest.mark.parametrize(("make_chain", "reason"), BAD_CHAINS)
def test_A02_FR_07_certificate_signed_rejected_with_a_security_event_and_the_certificate_unchanged(
        setups: Callable[..., Setup], make_chain: Callable[[Setup, SignRequest], str], reason: str) -> None:
    setup = setups(profile=3)
    csms = setup.csms
    accepted(setup)
    assert setup.factory is not None
    request = renewal_requested(setup)
    mark = len(csms.frames) - 1

    result = certificate_signed(csms, V201, make_chain(setup, request))
    assert result.status == "Rejected", result
    assert result.status_info is not None and result.status_info["reason_code"] == reason, result
    # A02.FR.07 / A04: the event reaches the CSMS (the station is Accepted), after the answer.
    until(setup, lambda: bool(csms.security_events("InvalidChargingStationCertificate", after=mark)),
          "no InvalidChargingStationCertificate event")
    [event] = csms.security_events("InvalidChargingStationCertificate", after=mark)
    assert "PRIVATE KEY" not in event.get("techInfo", "") and "BEGIN" not in event.get("techInfo", "")
    assert ("InvalidChargingStationCertificate" in {kind for kind, _ in security_log(setup)})

    # The certificate in use is the factory one: in the bundle, and in the next handshake.
    assert bundle_leaf(setup).serial_number == setup.factory.cert.serial_number
    csms.drop()
    until(setup, lambda: len(csms.peers()) >= 2, "no second TLS connection")
    assert csms.peers()[1].serial_number == setup.factory.cert.serial_number
    accepted(setup, statuses=2)
    assert own_generations(setup) == [("current", setup.factory.cert.serial_number)]
    # A02.FR.20: that CSR is not sent again. A triggered Heartbeat goes behind whatever was queued before it.
    assert trigger(csms, "Heartbeat")[0] == "Accepted"
    csms.wait_for("Heartbeat", why=setup.log)
    assert len(csms.sign_requests()) == 1


# --------------------------------------------------------------------------------------------------------------
# A02.FR.17-19: no CertificateSigned after an Accepted SignCertificate: the same CSR again, the wait doubling
# --------------------------------------------------------------------------------------------------------------

def test_A02_FR_17_18_19_resend_with_doubling_backoff(setups: Callable[..., Setup]) -> None:
    setup = setups(profile=3)
    csms = setup.csms
    accepted(setup)
    set_from_csms(csms, "SecurityCtrlr", {"CertSigningWaitMinimum": "1", "CertSigningRepeatTimes": "2"})
    first = renewal_requested(setup)

    # A02.FR.19: after CertSigningRepeatTimes resends the station stops and says so; the wait that would
    # have come next (4 s) is where a third resend would be due: the log line comes at that moment.
    wait_logged(setup.rig, "no certificate came for the CSR after 2 resends", timeout=15)
    answer = csms.call(call.GetVariables(get_variable_data=[
        {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "CertSigningRepeatTimes"}}]))[1]
    assert answer[0] == 3, answer  # a round trip: what the station sent before its answer has arrived
    requests = csms.sign_requests()
    assert len(requests) == 3, requests  # the first and two resends (A02.FR.19)
    assert all(r.csr == first.csr for r in requests)  # A02.FR.17: the same CSR
    assert len({r.message_id for r in requests}) == 3  # each resend is a new CALL
    gaps = [b.at - a.at for a, b in itertools.pairwise(requests)]
    assert 0.8 <= gaps[0] < 3.0, gaps  # CertSigningWaitMinimum
    assert 1.8 <= gaps[1] < 5.0 and gaps[1] > gaps[0] * 1.4, gaps  # doubled (A02.FR.18)


# --------------------------------------------------------------------------------------------------------------
# A01: a new BasicAuthPassword from the CSMS
# --------------------------------------------------------------------------------------------------------------

def reconfigured(setup: Setup) -> list[str]:
    """The techInfo of every ReconfigurationOfSecurityParameters entry of the security log."""
    return [info for kind, info in security_log(setup) if kind == "ReconfigurationOfSecurityParameters"]


def basic(password: str) -> str:
    return "Basic " + base64.b64encode(f"{IDENTITY}:{password}".encode()).decode("ascii")


@BOTH
def test_A01_password_change_reconnects_with_the_new_password(setups: Callable[..., Setup], version: str) -> None:
    setup = setups(profile=2, version=version)
    csms = setup.csms
    accepted(setup)
    assert [h["authorization"] for h in csms.handshakes] == [basic(PASSWORD)]
    # The CSMS keeps the new password before it sends it: the open connection goes on, the next
    # handshake must carry the new one.
    csms.password = NEW_PASSWORD
    logged = len(reconfigured(setup))
    result, answer = csms.call(call.SetVariables(set_variable_data=[
        {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"},
         "attribute_value": NEW_PASSWORD}]))
    assert result is not None and result.set_variable_result[0]["attribute_status"] == "Accepted", answer
    mark = csms.position(answer)
    assert len(reconfigured(setup)) > logged  # logged with the change, in its unit of work

    csms.wait_for("BootNotification", count=2, why=setup.log)  # closed after the answer, connected again
    assert [h["authorization"] for h in csms.handshakes] == [basic(PASSWORD), basic(NEW_PASSWORD)]
    assert not csms.refused  # never tried the old one after the change
    assert min(csms.positions("BootNotification")[1:]) > mark

    # A04: ReconfigurationOfSecurityParameters, to the CSMS and in the security log, without the password.
    until(setup, lambda: bool(csms.security_events("ReconfigurationOfSecurityParameters", after=mark)),
          "no ReconfigurationOfSecurityParameters event after the change")
    entries = reconfigured(setup)
    secrets = [NEW_PASSWORD, PASSWORD, basic(NEW_PASSWORD).split()[1], basic(PASSWORD).split()[1]]
    text = csms.all_text()
    for secret in secrets:
        assert secret not in text
        assert all(secret not in info for info in entries)
        assert secret not in setup.rig.log()


# --------------------------------------------------------------------------------------------------------------
# F06: TriggerMessage from the CSMS
# --------------------------------------------------------------------------------------------------------------

@BOTH
def test_F06_trigger_heartbeat_arrives_after_the_answer(setups: Callable[..., Setup], version: str) -> None:
    setup = setups(profile=2, version=version, interval=300)  # no heartbeat of its own meanwhile
    csms = setup.csms
    accepted(setup)
    assert not csms.received("Heartbeat")
    status, answer = trigger(csms, "Heartbeat")
    assert status == "Accepted", answer
    csms.wait_for("Heartbeat", why=setup.log)
    [heartbeat] = csms.positions("Heartbeat")
    assert heartbeat > csms.position(answer)  # F06.FR.04


def test_F06_trigger_status_notification_one_connector_then_all(setups: Callable[..., Setup]) -> None:
    setup = setups(profile=2, extra=TWO_EVSES, interval=300)
    csms = setup.csms
    accepted(setup, statuses=3)  # the boot's own: (1,1), (2,1), (2,2)

    def triggered(answer: list[Any]) -> list[tuple[int, int]]:
        """The StatusNotifications after ``answer``, proved complete by a triggered Heartbeat behind them
        (one outbox, delivered in order)."""
        count = len(csms.received("Heartbeat"))
        assert trigger(csms, "Heartbeat")[0] == "Accepted"
        csms.wait_for("Heartbeat", count=count + 1, why=setup.log)
        with csms._lock:
            frames = list(csms.frames)
        at, barrier = csms.position(answer), max(csms.positions("Heartbeat"))
        return [(f.frame[3]["evseId"], f.frame[3]["connectorId"]) for i, f in enumerate(frames)
                if at < i < barrier and f.action == "StatusNotification"]

    status, answer = trigger(csms, "StatusNotification", evse={"id": 2, "connector_id": 2})
    assert status == "Accepted", answer
    assert triggered(answer) == [(2, 2)]
    status, answer = trigger(csms, "StatusNotification")  # F06.FR.11: every connector
    assert status == "Accepted", answer
    assert sorted(triggered(answer)) == [(1, 1), (2, 1), (2, 2)]
    status, answer = trigger(csms, "StatusNotification", evse={"id": 3})  # no such EVSE
    assert status == "Rejected", answer


@BOTH
def test_F06_FR_17_boot_trigger_rejected_once_accepted(setups: Callable[..., Setup], version: str) -> None:
    setup = setups(profile=2, version=version, interval=300)
    csms = setup.csms
    accepted(setup)
    status, answer = trigger(csms, "BootNotification")
    assert status == "Rejected", answer
    assert trigger(csms, "Heartbeat")[0] == "Accepted"
    csms.wait_for("Heartbeat", why=setup.log)  # whatever the boot trigger had queued would come first
    assert len(csms.received("BootNotification")) == 1


def test_F06_boot_trigger_while_pending_sends_boot_now_reason_triggered(setups: Callable[..., Setup]) -> None:
    setup = setups(profile=2, boot_statuses=["Pending", "Accepted"], interval=300)
    csms = setup.csms
    [first] = csms.wait_for("BootNotification", why=setup.log)
    assert first.frame[3]["reason"] == "PowerUp"
    started = time.monotonic()
    status, answer = trigger(csms, "BootNotification")  # Pending: the CSMS may ask (B02.FR.02)
    assert status == "Accepted", answer
    boots = csms.wait_for("BootNotification", count=2, timeout=10, why=setup.log)
    assert boots[1].frame[3]["reason"] == "Triggered", boots[1].frame
    assert boots[1].at - started < 10  # not the 300 s of the Pending interval
    assert csms.positions("BootNotification")[1] > csms.position(answer)  # F06.FR.04
    accepted(setup)  # answered Accepted: registered


@BOTH
def test_F06_FR_08_not_implemented(setups: Callable[..., Setup], version: str) -> None:
    setup = setups(profile=2, version=version, interval=300)
    csms = setup.csms
    accepted(setup)
    status, answer = trigger(csms, "MeterValues", evse={"id": 1})
    assert status == "NotImplemented", answer
    assert trigger(csms, "Heartbeat")[0] == "Accepted"
    csms.wait_for("Heartbeat", why=setup.log)
    assert not csms.received("MeterValues")


# --------------------------------------------------------------------------------------------------------------
# 2.1 A02.FR.24/26: the requestId ties a CertificateSigned to its SignCertificate
# --------------------------------------------------------------------------------------------------------------

def test_A02_FR_24_26_request_id_2_1(setups: Callable[..., Setup]) -> None:
    setup = setups(profile=3, version=V21)
    csms = setup.csms
    accepted(setup)
    request = renewal_requested(setup)
    assert isinstance(request.request_id, int), request  # A02.FR.24
    chain = CertificateAuthority(setup.ca.cert, setup.ca.key).sign(request.csr)  # a good chain for that CSR
    mark = len(csms.frames) - 1

    result = certificate_signed(csms, V21, chain, request.request_id + 1000)  # A02.FR.26: names no CSR
    assert result.status == "Rejected", result
    assert result.status_info is not None and result.status_info["reason_code"] == "UnknownRequestId", result
    until(setup, lambda: bool(csms.security_events("InvalidChargingStationCertificate", after=mark)),
          "no InvalidChargingStationCertificate event")
    assert setup.factory is not None
    assert bundle_leaf(setup).serial_number == setup.factory.cert.serial_number

    # The CSR that is waiting is still waiting: its own requestId gets the certificate in.
    result = certificate_signed(csms, V21, chain, request.request_id)
    assert result.status == "Accepted", result
    [signed] = x509.load_pem_x509_certificates(chain.encode("ascii"))
    until(setup, lambda: len(csms.peers()) >= 2, "no second TLS connection")
    assert csms.peers()[1].serial_number == signed.serial_number

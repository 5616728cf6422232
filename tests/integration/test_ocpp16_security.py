"""The OCPP 1.6 security extension (whitepaper edition 3) on the station's link to a real 1.6 Central System.

The Central System is :class:`~.test_security_lifecycle_csms.LifecycleCsms` serving only the
subprotocol ``ocpp1.6`` (:class:`Csms16`): the ``ocpp`` package's server-side 1.6 ``ChargePoint``,
which validates every CALL the station sends against the 1.6 schemas (the security messages
included), extended by a SignCertificate handler and, for the 2 → 3 upgrade, by an authentication
hook that lets a verified client certificate stand for the password. The session class is installed
per test (``LIFECYCLE_SESSIONS["ocpp1.6"]``, restored afterwards). Certificates are made with
``cryptography`` (:func:`~.test_csms_link.issue`) and signed by
:class:`ocpp_station.oem_ca.CertificateAuthority`; hash data are recomputed with the ``openssl`` CLI.

Each station runs as a process on a mosquitto of its own (:class:`~.test_csms_link.Rig`). What it
needs before its first attempt (quick retries, the password, the CentralSystemRootCertificate) is set
through its own request handling in this process before it starts, as test_security_lifecycle_csms
does; a factory ChargePointCertificate (profile 3) is imported with ``ocpp-station certs import``.
Every wait is for a frame, a handshake or a log line.
"""

from __future__ import annotations

import base64
import json
import ssl
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from ocpp.v16 import call
from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from ocpp_station.app import Station
from ocpp_station.config import load
from ocpp_station.oem_ca import CertificateAuthority

from ..certificate_cases import hash_data, openssl_hash_data
from ..support import InProcessOem, official_validator, wait_until
from . import test_security_lifecycle_csms as lifecycle
from .test_csms_link import (
    FAST_RETRIES,
    IDENTITY,
    PASSWORD,
    CsmsChargePoint16,
    Issued,
    Rig,
    issue,
    network_config,
    server_context,
    wait_logged,
)
from .test_csms_link import rigs as rigs  # the fixture, re-exported explicitly so that pytest finds it here
from .test_security_lifecycle_csms import LifecycleCsms, LifecycleSession, basic, spki

V16 = "ocpp1.6"
ROOT_16 = "CentralSystemRootCertificate"  # the store's (and the 2.x door's) CSMSRootCertificate
LONG = 300  # a heartbeat interval that keeps the station's own Heartbeats out of a test
CPO = "ACME"
NEW_KEY = "0123456789abcdef0123456789abcdef01234567"  # 40 hex digits (A00.FR.205)
THIRD_KEY = "fedcba9876543210fedcba9876543210fedcba98"


# --------------------------------------------------------------------------------------------------------------
# The 1.6 Central System
# --------------------------------------------------------------------------------------------------------------

class LifecycleChargePoint16(LifecycleSession, CsmsChargePoint16):
    """A 1.6 session that also takes SignCertificate (recorded, answered as the CSMS says)."""


@dataclass
class Csms16(LifecycleCsms):
    """A 1.6-only Central System; with ``certificate_or_password`` a TLS client certificate its CA
    verified authenticates the station without a password (profile 3 beside profile 2 on one port)."""

    subprotocols: list[str] = field(default_factory=lambda: [V16])
    certificate_or_password: bool = False

    def _check_auth(self, connection: ServerConnection, request: Request) -> Response | None:
        ssl_object = connection.transport.get_extra_info("ssl_object")
        if self.certificate_or_password and ssl_object is not None and ssl_object.getpeercert():
            with self._lock:
                self.handshakes.append({"path": request.path, "authorization": request.headers.get("Authorization"),
                                        "subprotocols": request.headers.get_all("Sec-WebSocket-Protocol")})
            return None
        return super()._check_auth(connection, request)


@pytest.fixture
def csmss16(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Csms16]]:
    """Started :class:`Csms16` servers; a test may stop one and start another on its port."""
    monkeypatch.setitem(lifecycle.LIFECYCLE_SESSIONS, V16, LifecycleChargePoint16)
    made: list[Csms16] = []

    def make(**kwargs: Any) -> Csms16:
        csms = Csms16(**kwargs).start()
        made.append(csms)
        return csms

    yield make
    for csms in made:
        if csms._thread is not None and csms._thread.is_alive():
            csms.stop()


def start_station(rigs: Callable[..., Rig], url: str, *, profile: int = 1, password: str | None = PASSWORD,
                  roots: tuple[Issued, ...] = (), own: tuple[Path, Path] | None = None) -> Rig:
    """A started station for ``url`` at security ``profile``, prepared so that its first attempt connects:
    quick retries, ``password`` and ``roots`` set through its own request handling before it starts;
    ``own`` (certificate chain, key files) imported as its factory ChargePointCertificate."""
    rig = rigs(network_config(url, security_profile=profile), start=False)
    if own is not None:
        imported = subprocess.run([sys.executable, "-m", "ocpp_station", "certs", "import", "--type",
                                   "ChargingStationCertificate", str(own[0]), "--key", str(own[1]),
                                   "--data-dir", str(rig.data_dir)], capture_output=True, text=True, timeout=30)
        assert imported.returncode == 0, imported.stderr
    offline = Station(load(rig.workdir / "station.toml", overrides={"data_dir": rig.data_dir}))
    try:
        oem = InProcessOem(offline)
        values = {("OCPPCommCtrlr", name): value for name, value in FAST_RETRIES.items()}
        if password is not None:
            values["SecurityCtrlr", "BasicAuthPassword"] = password
        results = oem.result("SetVariables", {"setVariableData": [
            {"component": {"name": c}, "variable": {"name": v}, "attributeValue": value}
            for (c, v), value in values.items()]})["setVariableResult"]
        assert all(r["attributeStatus"] == "Accepted" for r in results), results
        for root in roots:
            assert oem.result("InstallCertificate", {"certificateType": ROOT_16, "certificate": root.pem},
                              V16) == {"status": "Accepted"}
    finally:
        offline.close()
    return rig.start()


# --------------------------------------------------------------------------------------------------------------
# What the tests say to the station, and wait for
# --------------------------------------------------------------------------------------------------------------

def until(rig: Rig, condition: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    """:func:`wait_until`, with the station's log (when it gave up) in the failure."""
    try:
        wait_until(condition, what, timeout)
    except TimeoutError:
        raise TimeoutError(f"{what}:\n{rig.log()[-4000:]}") from None


def registered(csms: Csms16, rig: Rig, boots: int = 1) -> None:
    """Until the ``boots``-th BootNotification was accepted: a 1.6 station sends StatusNotifications only then."""
    csms.wait_for("BootNotification", count=boots, why=lambda: rig.log()[-4000:])
    boot = csms.positions("BootNotification")[boots - 1]
    until(rig, lambda: any(p > boot for p in csms.positions("StatusNotification")),
          f"no StatusNotification after BootNotification {boots}")


def answered(csms: Csms16, payload: Any) -> dict[str, Any]:
    """The CALLRESULT payload of a CALL into the station (camelCase, as sent); a CALLERROR fails."""
    result, answer = csms.call(payload)
    assert result is not None and answer[0] == 3, answer
    return answer[2]


def change(csms: Csms16, key: str, value: str) -> str:
    return answered(csms, call.ChangeConfiguration(key=key, value=value))["status"]


def configuration(csms: Csms16, *keys: str) -> dict[str, str | None]:
    """GetConfiguration of ``keys`` (every key when none): key → value (None: listed without one)."""
    got = answered(csms, call.GetConfiguration(key=list(keys)) if keys else call.GetConfiguration())
    assert not got.get("unknownKey"), got
    return {entry["key"]: entry.get("value") for entry in got["configurationKey"]}


def extended(csms: Csms16, what: str) -> tuple[str, list[Any]]:
    """ExtendedTriggerMessage ``what``: (its status, the answer frame)."""
    result, answer = csms.call(call.ExtendedTriggerMessage(requested_message=what))
    assert result is not None, answer
    return result.status, answer


def drained(csms: Csms16, rig: Rig) -> None:
    """Until everything the station queued for ``csms`` before now has arrived: a triggered Heartbeat is a
    row of the same outbox, behind them (``csms`` must give a LONG interval: no Heartbeat of the station's own)."""
    count = len(csms.received("Heartbeat"))
    assert extended(csms, "Heartbeat")[0] == "Accepted"
    csms.wait_for("Heartbeat", count=count + 1, why=lambda: rig.log()[-4000:])


def security_events(csms: Csms16) -> list[dict[str, Any]]:
    """Every SecurityEventNotification ``csms`` received, each checked against the official 1.6 schema."""
    events = csms.payloads("SecurityEventNotification")
    for event in events:
        official_validator(V16, "SecurityEventNotification", "").validate(event)  # 1.6: "Action.json"
    return events


def installed_roots_16(csms: Csms16) -> list[dict[str, str]]:
    got = answered(csms, call.GetInstalledCertificateIds(certificate_type=ROOT_16))
    assert got["status"] == "Accepted" and "certificateHashDataChain" not in got, got
    return got["certificateHashData"]


def renewed(csms: Csms16, rig: Rig, ca: Issued) -> x509.Certificate:
    """A02 the 1.6 way: CpoName set, ExtendedTriggerMessage SignChargePointCertificate, the CSR signed by
    ``ca`` and sent back in CertificateSigned (Accepted); the certificate issued."""
    assert change(csms, "CpoName", CPO) == "Accepted"
    status, _ = extended(csms, "SignChargePointCertificate")
    assert status == "Accepted"
    [request, *_] = csms.wait_for_csrs(1, why=lambda: rig.log()[-4000:])
    chain = CertificateAuthority(ca.cert, ca.key).sign(request.csr)
    assert answered(csms, call.CertificateSigned(certificate_chain=chain)) == {"status": "Accepted"}
    return x509.load_pem_x509_certificates(chain.encode("ascii"))[0]


def common_name(peer: dict[str, Any]) -> str:
    """The CN of a certificate as ``ssl.SSLSocket.getpeercert`` describes it."""
    return dict(item[0] for item in peer["subject"])["commonName"]


# --------------------------------------------------------------------------------------------------------------
# A00: security profiles 1, 2 and 3 with a 1.6 Central System
# --------------------------------------------------------------------------------------------------------------

def test_ocpp16_a00_security_profile_1(rigs: Callable[..., Rig], csmss16: Callable[..., Csms16]) -> None:
    csms = csmss16()
    rig = start_station(rigs, csms.url)
    registered(csms, rig)
    assert csms.sessions == [V16]
    [handshake] = csms.handshakes
    assert handshake["path"] == f"/ocpp/{IDENTITY}"  # A00.FR.204: the username is the identity in the URL
    assert handshake["authorization"] == basic(PASSWORD)  # A00.FR.202/203
    assert "ocpp1.6" in handshake["subprotocols"][0]
    assert not csms.refused
    assert configuration(csms, "SecurityProfile") == {"SecurityProfile": "1"}


def test_ocpp16_a00_security_profile_2(rigs: Callable[..., Rig], csmss16: Callable[..., Csms16],
                                       tmp_path: Path) -> None:
    ca = issue("1.6 Central System Root", ca=True)
    csms = csmss16(ssl_context=server_context(tmp_path, ca))
    rig = start_station(rigs, csms.url, profile=2, roots=(ca,))
    registered(csms, rig)
    assert csms.sessions == [V16]
    assert [h["authorization"] for h in csms.handshakes] == [basic(PASSWORD)]  # A00.FR.301/302
    assert not csms.peer_ders  # profile 2: no client certificate
    assert configuration(csms, "SecurityProfile") == {"SecurityProfile": "2"}


def test_ocpp16_a00_security_profile_3(rigs: Callable[..., Rig], csmss16: Callable[..., Csms16],
                                       tmp_path: Path) -> None:
    ca = issue("1.6 Central System Root", ca=True)
    csms = csmss16(ssl_context=server_context(tmp_path, ca, client_ca=ca), password=None)
    factory = issue(IDENTITY, ca, usage=ExtendedKeyUsageOID.CLIENT_AUTH)
    rig = start_station(rigs, csms.url, profile=3, password=None, roots=(ca,),
                  own=factory.write(tmp_path, "factory", chain=(ca,)))
    registered(csms, rig)
    assert csms.sessions == [V16]
    [peer] = csms.peers()  # mutual TLS: the CSMS verified the station's certificate against its CA
    assert peer.serial_number == factory.cert.serial_number
    assert common_name(csms.peer_certificates[0]) == IDENTITY
    assert [h["authorization"] for h in csms.handshakes] == [None]  # profile 3: no Basic authentication
    assert configuration(csms, "SecurityProfile") == {"SecurityProfile": "3"}


# --------------------------------------------------------------------------------------------------------------
# M03/M04/M05: certificates managed by the Central System, one store behind both doors
# --------------------------------------------------------------------------------------------------------------

def test_ocpp16_m05_install_get_delete_from_csms(rigs: Callable[..., Rig], csmss16: Callable[..., Csms16],
                                                 tmp_path: Path) -> None:
    ca, other = issue("1.6 Central System Root", ca=True), issue("Another Central System Root", ca=True)
    csms = csmss16(ssl_context=server_context(tmp_path, ca))
    rig = start_station(rigs, csms.url, profile=2, roots=(ca,))
    registered(csms, rig)

    # M05.FR.02
    assert answered(csms, call.InstallCertificate(certificate_type=ROOT_16, certificate=other.pem)) == {
        "status": "Accepted"}
    # M03.FR.03/04: one flat list of hash data, each computed here by openssl from the certificate alone.
    by_openssl = {other.cert.serial_number: openssl_hash_data(tmp_path, other.cert),
                  ca.cert.serial_number: openssl_hash_data(tmp_path, ca.cert)}
    key = json.dumps
    assert sorted(installed_roots_16(csms), key=key) == sorted(by_openssl.values(), key=key)
    # The OEM's 2.0.1 door reads the same store, under the 2.x name.
    over_mqtt = rig.oem.result("GetInstalledCertificateIds", {"certificateType": ["CSMSRootCertificate"]})
    assert sorted(over_mqtt["certificateHashDataChain"], key=key) == sorted(
        ({"certificateType": "CSMSRootCertificate", "certificateHashData": h} for h in by_openssl.values()), key=key)

    # M04.FR.06: the root that validates the live TLS connection is not deleted; another one is (M04.FR.02).
    live = call.DeleteCertificate(certificate_hash_data=by_openssl[ca.cert.serial_number])
    assert answered(csms, live) == {"status": "Failed"}
    assert answered(csms, call.DeleteCertificate(certificate_hash_data=by_openssl[other.cert.serial_number])) == {
        "status": "Accepted"}
    assert installed_roots_16(csms) == [by_openssl[ca.cert.serial_number]]
    assert answered(csms, call.DeleteCertificate(certificate_hash_data=by_openssl[other.cert.serial_number])) == {
        "status": "NotFound"}  # M04.FR.04


# --------------------------------------------------------------------------------------------------------------
# A05: ChangeConfiguration SecurityProfile
# --------------------------------------------------------------------------------------------------------------

def test_ocpp16_a05_upgrade_2_to_3_and_fr01_fr04(rigs: Callable[..., Rig], csmss16: Callable[..., Csms16],
                                                 tmp_path: Path) -> None:
    # One CSMS for both profiles, so that nothing has to be restarted between the Accepted and the
    # reconnection (a restart would leave a gap in which the station's attempts — and its fallback to
    # profile 2 — depend on timing): client certificates are asked for (CERT_OPTIONAL) and verified
    # against the CA when presented; a verified certificate stands for the password.
    ca = issue("1.6 Central System Root", ca=True)
    context = server_context(tmp_path, ca, client_ca=ca)
    context.verify_mode = ssl.CERT_OPTIONAL
    csms = csmss16(ssl_context=context, certificate_or_password=True)
    rig = start_station(rigs, csms.url, profile=2, roots=(ca,))
    registered(csms, rig)
    assert not csms.peer_ders  # profile 2 presents no certificate

    assert change(csms, "SecurityProfile", "2") == "Rejected"  # A05.FR.01: not above the one in use
    assert change(csms, "SecurityProfile", "1") == "Rejected"  # A05.FR.01
    assert change(csms, "SecurityProfile", "3") == "Rejected"  # A05.FR.04: no ChargePointCertificate yet
    assert configuration(csms, "SecurityProfile") == {"SecurityProfile": "2"}

    signed = renewed(csms, rig, ca)
    mark = len(csms.frames) - 1
    assert change(csms, "SecurityProfile", "3") == "Accepted"  # A05.FR.05

    # A05.FR.06/07: disconnected, connected again with mutual TLS and without the password.
    registered(csms, rig, boots=2)
    assert min(csms.positions("BootNotification")[1:]) > mark
    [peer] = csms.peers()
    assert peer.serial_number == signed.serial_number and spki(peer) == spki(signed)
    assert common_name(csms.peer_certificates[0]) == IDENTITY
    assert [h["authorization"] for h in csms.handshakes] == [basic(PASSWORD), None]
    assert csms.sessions == [V16, V16]
    assert configuration(csms, "SecurityProfile") == {"SecurityProfile": "3"}
    # Connected at 3: the profile-2 slot is removed (A05.FR.09's intent; the 2.x A05.FR.06).
    wait_logged(rig, "removed the network profiles of slots")
    priority = rig.get("OCPPCommCtrlr", "NetworkConfigurationPriority")
    assert priority == rig.get("OCPPCommCtrlr", "ActiveNetworkProfile") and "," not in priority, priority


def test_ocpp16_a05_fr08_fallback(rigs: Callable[..., Rig], csmss16: Callable[..., Csms16]) -> None:
    csms = csmss16()  # plain ws: the wss:// the upgrade makes of its URL meets no TLS server
    rig = start_station(rigs, csms.url)
    registered(csms, rig)
    root = issue("1.6 Central System Root", ca=True)

    # A05.FR.02 cannot be set up here: profile 1 already needs a valid AuthorizationKey to connect.
    assert change(csms, "SecurityProfile", "2") == "Rejected"  # A05.FR.03: no CentralSystemRootCertificate
    assert change(csms, "SecurityProfile", "3") == "Rejected"  # A05.FR.03/04
    assert answered(csms, call.InstallCertificate(certificate_type=ROOT_16, certificate=root.pem)) == {
        "status": "Accepted"}
    slot = rig.get("OCPPCommCtrlr", "ActiveNetworkProfile")
    assert change(csms, "SecurityProfile", "2") == "Accepted"

    # A05.FR.07: the station tries the same host and port with wss://; the TLS handshake fails.
    wss = "wss://" + csms.url.removeprefix("ws://")
    wait_logged(rig, f"connecting to {wss}/{IDENTITY}")
    # A05.FR.08: after its attempts it falls back to profile 1 and connects as before.
    registered(csms, rig, boots=2)
    assert [h["authorization"] for h in csms.handshakes] == [basic(PASSWORD)] * 2
    assert configuration(csms, "SecurityProfile") == {"SecurityProfile": "1"}
    assert rig.get("OCPPCommCtrlr", "ActiveNetworkProfile") == slot


# --------------------------------------------------------------------------------------------------------------
# A02: the ChargePointCertificate renewed through ExtendedTriggerMessage
# --------------------------------------------------------------------------------------------------------------

def test_ocpp16_a02_sign_charge_point_certificate(rigs: Callable[..., Rig], csmss16: Callable[..., Csms16]) -> None:
    csms = csmss16(interval=LONG)
    rig = start_station(rigs, csms.url)
    registered(csms, rig)
    ca = issue("ACME Charge Point CA", ca=True)
    assert answered(csms, call.InstallCertificate(certificate_type=ROOT_16, certificate=ca.pem)) == {
        "status": "Accepted"}

    # A02.FR.13 needs a CpoName: without one there is no CSR to send.
    assert not configuration(csms, "CpoName")["CpoName"]
    assert extended(csms, "SignChargePointCertificate")[0] == "Rejected"
    drained(csms, rig)
    assert not csms.received("SignCertificate")

    assert change(csms, "CpoName", CPO) == "Accepted"
    status, answer = extended(csms, "SignChargePointCertificate")
    assert status == "Accepted", answer
    [sign] = csms.wait_for("SignCertificate", why=lambda: rig.log()[-4000:])
    assert csms.position(sign.frame) > csms.position(answer)  # A02.FR.02: after the answer
    payload = sign.frame[3]
    assert set(payload) == {"csr"}, payload  # the 1.6 schema: no certificateType, no requestId
    official_validator(V16, "SignCertificate", "").validate(payload)
    csr = x509.load_pem_x509_csr(payload["csr"].encode("ascii"))  # A02.FR.03: PEM PKCS#10
    assert [a.value for a in csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)] == [IDENTITY]
    assert [a.value for a in csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)] == [CPO]  # A02.FR.13
    assert csr.is_signature_valid
    assert "PRIVATE KEY" not in csms.all_text()  # A02.FR.05

    chain = CertificateAuthority(ca.cert, ca.key).sign(payload["csr"])
    assert answered(csms, call.CertificateSigned(certificate_chain=chain)) == {"status": "Accepted"}

    # A02.FR.06/07: a certificate for a key the station never made is refused, with a security event.
    stranger = issue(IDENTITY, ca)
    foreign_csr = x509.CertificateSigningRequestBuilder().subject_name(csr.subject).sign(stranger.key,
                                                                                          hashes.SHA256())
    foreign = CertificateAuthority(ca.cert, ca.key).sign(
        foreign_csr.public_bytes(serialization.Encoding.PEM).decode("ascii"))
    _, answer = csms.call(call.CertificateSigned(certificate_chain=foreign))
    assert answer[2] == {"status": "Rejected"}, answer
    until(rig, lambda: bool(csms.security_events("InvalidChargePointCertificate")),
          "no InvalidChargePointCertificate event")
    # One event, and after the Rejected (the Accepted before it raised none: it would have come first).
    [event_at] = [i for i, r in enumerate(csms.frames) if r.action == "SecurityEventNotification"
                  and r.frame[3]["type"] == "InvalidChargePointCertificate"]
    assert event_at > csms.position(answer)
    security_events(csms)  # every one of them valid against the 1.6 schema
    assert not csms.security_events("InvalidChargingStationCertificate")  # the 2.x spelling never reaches 1.6


# --------------------------------------------------------------------------------------------------------------
# A04: security events kept while offline, delivered in order, once
# --------------------------------------------------------------------------------------------------------------

def test_ocpp16_a04_security_events_queued_while_offline(rigs: Callable[..., Rig], csmss16: Callable[..., Csms16],
                                                         tmp_path: Path) -> None:
    trusted, other_ca = issue("1.6 Central System Root", ca=True), issue("Unknown CA", ca=True)
    first = csmss16(ssl_context=server_context(tmp_path, trusted), interval=LONG)
    rig = start_station(rigs, first.url, profile=2, roots=(trusted,))
    registered(first, rig)  # connected once at 1.6: what the station writes now, it writes in 1.6
    drained(first, rig)
    first.stop()

    # Offline: the OEM installs and deletes a root over MQTT (A04: ReconfigurationOfSecurityParameters each).
    extra = issue("Root installed while offline", ca=True)
    assert rig.oem.result("InstallCertificate", {"certificateType": "CSMSRootCertificate",
                                                 "certificate": extra.pem})["status"] == "Accepted"
    assert rig.oem.result("DeleteCertificate", {"certificateHashData": hash_data(extra.cert)})["status"] == "Accepted"
    # A CSMS whose certificate is of another CA on the same port: every handshake fails (A00.FR.309/310).
    impostor = csmss16(port=first.port, ssl_context=server_context(tmp_path, other_ca), interval=LONG)
    until(rig, lambda: rig.log().count("security event InvalidCsmsCertificate") >= 2,
          "the station did not fail twice on the impostor's certificate")
    assert not impostor.handshakes and not impostor.frames
    impostor.stop()

    genuine = csmss16(port=first.port, ssl_context=server_context(tmp_path, trusted), interval=LONG)
    registered(genuine, rig)
    drained(genuine, rig)
    events = security_events(genuine)  # A04.FR.02: delivered after reconnecting, in order, each once
    assert [e["type"] for e in events] == ["ReconfigurationOfSecurityParameters",
                                           "ReconfigurationOfSecurityParameters",
                                           "InvalidCentralSystemCertificate"], events  # the 1.6 spelling
    assert "installed" in events[0].get("techInfo", "") and "deleted" in events[1].get("techInfo", ""), events


# --------------------------------------------------------------------------------------------------------------
# A01: AuthorizationKey, write-only, one home with SecurityCtrlr.BasicAuthPassword
# --------------------------------------------------------------------------------------------------------------

def test_ocpp16_authorization_key_write_only(rigs: Callable[..., Rig], csmss16: Callable[..., Csms16]) -> None:
    csms = csmss16()
    rig = start_station(rigs, csms.url)
    registered(csms, rig)

    csms.password = NEW_KEY  # A01.FR.03: from the Accepted on, the CSMS takes only the new key
    assert change(csms, "AuthorizationKey", NEW_KEY) == "Accepted"
    registered(csms, rig, boots=2)
    assert [h["authorization"] for h in csms.handshakes] == [basic(PASSWORD), basic(NEW_KEY)]
    assert not csms.refused

    # Write-only: listed without its value through both doors, asked for alone or with every key.
    assert configuration(csms, "AuthorizationKey") == {"AuthorizationKey": None}
    assert configuration(csms)["AuthorizationKey"] is None
    [alone] = rig.oem.result("GetConfiguration", {"key": ["AuthorizationKey"]}, V16)["configurationKey"]
    assert alone == {"key": "AuthorizationKey", "readonly": False}, alone
    every = rig.oem.result("GetConfiguration", {}, V16)
    assert [k for k in every["configurationKey"] if k["key"] == "AuthorizationKey"] == [alone]
    # The 2.x door: the same variable, write-only.
    [got] = rig.oem.result("GetVariables", {"getVariableData": [
        {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"}}]})["getVariableResult"]
    assert got["attributeStatus"] == "Rejected" and "attributeValue" not in got, got
    assert got.get("attributeStatusInfo", {}).get("reasonCode") == "WriteOnly", got

    # One home: the OEM's SetVariables is what the next 1.6 handshake uses (A01: it reconnects with it).
    csms.password = THIRD_KEY
    rig.set_variables("SecurityCtrlr", {"BasicAuthPassword": THIRD_KEY})
    registered(csms, rig, boots=3)
    assert [h["authorization"] for h in csms.handshakes] == [basic(PASSWORD), basic(NEW_KEY), basic(THIRD_KEY)]
    assert not csms.refused

    # A01.FR.12: never in the log, nor in anything the station sent.
    seen = rig.log() + csms.all_text() + json.dumps(every)
    for secret in (NEW_KEY, THIRD_KEY):
        token = base64.b64encode(f"{IDENTITY}:{secret}".encode()).decode("ascii")
        assert secret not in seen and token not in seen

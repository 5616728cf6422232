"""A02 / A03: the station's own certificate renewed (station/renewal.py), in process, on a clock of the test's own.

The :class:`Renewal` under test is built from the station's own parts (its storage, outbox, security
events, device model), with a wall clock the test moves, and a :class:`CertificateStore` on the
station's database with the same clock; it replaces ``station.renewal``, so that TriggerMessage and
CertificateSigned reach it through the real dispatcher (:class:`tests.support.InProcessOem`: the MQTT
door; ``Station.run`` with a request whose origin is ``"csms"``: the CSMS door), and
``Station.security_tick`` / ``security_due`` / ``sign_certificate_answered`` drive it as the CSMS link's
security clock does. Every SignCertificate row is checked against the official request schema; the
CSR is read back with ``cryptography``. Certificates are issued with
:class:`ocpp_station.oem_ca.CertificateAuthority`, the CSMS's CA in these tests.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ocpp_station.app import Station
from ocpp_station.config import Config, Csms
from ocpp_station.errors import OcppError
from ocpp_station.oem_ca import CertificateAuthority
from ocpp_station.rpc.envelope import Request
from ocpp_station.station import csr
from ocpp_station.station.certificate_store import CertificateStore
from ocpp_station.station.outbox import Door, Outgoing
from ocpp_station.station.renewal import MAX_PENDING, NotReady, Renewal, Waiting

from ..support import InProcessOem, ca_certificate, request_validator, response_validator

V201, V21 = "ocpp2.0.1", "ocpp2.1"
BOTH = pytest.mark.parametrize("version", [V201, V21])
CSC = "ChargingStationCertificate"
ORG = "Example CSO"
IDENTITY = "CS0000000001"  # [station] identity's default: SecurityCtrlr.Identity
DAY = timedelta(days=1)
WAIT = 5  # CertSigningWaitMinimum set by the tests


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


class Clock:
    """The wall clock of the renewal and of its certificate store, moved by the test."""

    def __init__(self) -> None:
        self.t = time.time()

    def __call__(self) -> float:
        return self.t

    def utc(self) -> datetime:
        return datetime.fromtimestamp(self.t, UTC)


@dataclass
class Rig:
    station: Station
    clock: Clock
    renewal: Renewal
    store: CertificateStore
    oem: InProcessOem
    ca: CertificateAuthority

    # -- requests through either door ------------------------------------------------------------------

    def csms(self, action: str, payload: dict[str, Any], version: str = V21) -> dict[str, Any]:
        """The CSMS's request (origin "csms", as the link runs it); the answer, checked."""
        outcome = self.station.run(Request(str(uuid.uuid4()), version, action, payload, origin="csms"))
        assert not isinstance(outcome, OcppError), outcome
        response_validator(version, action).validate(outcome)
        return outcome

    def set(self, variable: str, value: str, version: str = V21) -> None:
        [result] = self.oem.result("SetVariables", {"setVariableData": [
            {"component": {"name": "SecurityCtrlr"}, "variable": {"name": variable}, "attributeValue": value}]},
            version)["setVariableResult"]
        assert result["attributeStatus"] == "Accepted", result

    def trigger(self, version: str = V21, door: Door = "mqtt") -> dict[str, Any]:
        payload = {"requestedMessage": "SignChargingStationCertificate"}
        if door == "csms":
            return self.csms("TriggerMessage", payload, version)
        return self.oem.result("TriggerMessage", payload, version)

    def signed(self, chain_pem: str, version: str = V21, door: Door = "mqtt", **extra: Any) -> dict[str, Any]:
        payload = {"certificateChain": chain_pem, "certificateType": CSC, **extra}
        if door == "csms":
            return self.csms("CertificateSigned", payload, version)
        return self.oem.result("CertificateSigned", payload, version)

    # -- the outbox --------------------------------------------------------------------------------------

    def sign_requests(self, door: Door) -> list[Outgoing]:
        """The SignCertificate rows waiting for ``door``, each checked against the official schema."""
        rows = [row for row in self.station.outgoing(door, 1000) if row.action == "SignCertificate"]
        for row in rows:
            request_validator(row.ocpp_version, "SignCertificate").validate(row.payload)
        return rows

    def deliver_all(self, door: Door) -> None:
        for row in self.station.outgoing(door, 1000):
            self.station.delivered(row.seq)

    # -- the renewal, as the link's security clock drives it ----------------------------------------------

    def tick(self) -> None:
        self.station.security_tick()

    def request_csms(self) -> Waiting:
        with self.station.lock, self.station.storage.unit_of_work():
            return self.renewal.request("csms", V21, triggered=True)

    def answered(self, waiting: Waiting, accepted: bool = True) -> None:
        self.station.sign_certificate_answered(waiting.csr, accepted)

    def waiting(self) -> list[Waiting]:
        return self.renewal.waiting()

    # -- certificates --------------------------------------------------------------------------------------

    def issue_for(self, waiting: Waiting, *, not_before: datetime | None = None, days: int = 365) -> str:
        """The CA's chain for ``waiting``'s CSR, with the CA appended (no CSMS root is installed)."""
        return self.ca.sign(waiting.csr, days=days, not_before=not_before) + _pem(self.ca.certificate)

    def import_factory(self, *, days: int = 365, not_before: datetime | None = None) -> x509.Certificate:
        key = csr.generate_key(csr.KeyAlgorithm.EC_P256)
        chain = self.ca.sign(csr.build_csr(key, common_name=IDENTITY, organization=ORG), days=days,
                             not_before=not_before or self.clock.utc() - DAY)
        self.station.certificates.import_own(CSC, (chain + _pem(self.ca.certificate)).encode(),
                                             csr.key_to_pem(key).encode())
        leaf = self.store.own_leaf(CSC)
        assert leaf is not None
        return leaf


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    cert, key = ca_certificate("CSMS CA")
    return CertificateAuthority(cert, key)


@pytest.fixture
def make_rig(make_station: Callable[..., Station], ca: CertificateAuthority) -> Callable[..., Rig]:
    def make(config: Config | None = None, *, organization: str | None = ORG) -> Rig:
        station = make_station(config or Config(), name=f"data-{uuid.uuid4().hex[:8]}")
        clock = Clock()
        store = CertificateStore(station.storage, station.config.data_dir, max_entries=lambda: 50, clock=clock.utc)
        security = station.config.security
        renewal = Renewal(
            station.storage, station.outbox, store, station.events, key_algorithm=security.key_algorithm,
            identity=station.connections.active_identity,
            organization=lambda: station.model.read("SecurityCtrlr", "OrganizationName") or "",
            setting=lambda name, default: station.setting("SecurityCtrlr", name, default),
            renew_before=timedelta(days=security.renew_before_days), link_enabled=station.config.csms.enabled,
            version=station.ocpp_version, clock=clock)
        station.renewal = renewal  # what TriggerMessage, CertificateSigned and security_tick use
        rig = Rig(station, clock, renewal, store, InProcessOem(station), ca)
        if organization is not None:
            rig.set("OrganizationName", organization)
        rig.set("CertSigningWaitMinimum", str(WAIT))
        return rig

    return make


@pytest.fixture
def rig(make_rig: Callable[..., Rig]) -> Rig:
    return make_rig()


# -- A02's prerequisite: SecurityCtrlr.OrganizationName ------------------------------------------------------


@BOTH
def test_A02_without_organization_name_trigger_message_is_rejected_missing_param(
        make_rig: Callable[..., Rig], version: str) -> None:
    rig = make_rig(organization=None)
    answer = rig.trigger(version)
    assert answer["status"] == "Rejected" and answer["statusInfo"]["reasonCode"] == "MissingParam", answer
    assert rig.sign_requests("mqtt") == [] and rig.waiting() == []
    with pytest.raises(NotReady, match="OrganizationName"):
        rig.renewal.request("csms", version, triggered=False)
    assert rig.sign_requests("csms") == [] and rig.waiting() == []


# -- A02.FR.02/03: a key pair, a CSR, a SignCertificate through the door that asked ----------------------------


@BOTH
@pytest.mark.parametrize("door", ["mqtt", "csms"])
def test_A02_FR_02_03_trigger_queues_a_sign_certificate_with_a_csr_of_the_stored_key(
        rig: Rig, version: str, door: Door) -> None:
    assert rig.trigger(version, door) == {"status": "Accepted"}
    [row] = rig.sign_requests(door)
    other: Door = "csms" if door == "mqtt" else "mqtt"
    assert rig.sign_requests(other) == []  # to the door that asked only
    [waiting] = rig.waiting()
    assert row.ocpp_version == version and row.triggered  # asked for: may go to a Pending CSMS (B02.FR.02)
    assert row.payload["certificateType"] == CSC  # A02.FR.13
    if version == V21:
        assert row.payload["requestId"] == waiting.id  # 2.1 A02.FR.24
    else:
        assert "requestId" not in row.payload
    request = x509.load_pem_x509_csr(row.payload["csr"].encode("ascii"))  # A02.FR.03: PEM PKCS#10
    assert request.is_signature_valid
    stored_key = csr.key_from_pem(waiting.private_key)
    assert csr.public_key_der(request) == csr.public_key_der(stored_key) == waiting.public_key
    assert [a.value for a in request.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)] == [IDENTITY]
    assert [a.value for a in request.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)] == [ORG]
    assert (waiting.door, waiting.csr, waiting.attempts, waiting.next_due) == (door, row.payload["csr"], 0, None)
    assert waiting.private_key not in row.payload["csr"]  # A02.FR.05: the key never leaves


def test_A02_every_trigger_is_a_new_key_pair_and_at_most_max_pending_wait(rig: Rig) -> None:
    for _ in range(MAX_PENDING + 2):
        assert rig.trigger() == {"status": "Accepted"}
    waiting = rig.waiting()
    assert len(waiting) == MAX_PENDING
    rows = rig.sign_requests("mqtt")
    assert [w.id for w in waiting] == [row.payload["requestId"] for row in rows][-MAX_PENDING:]  # the newest
    assert len({w.public_key for w in waiting}) == MAX_PENDING


# -- A02.FR.17-19: the back-off after an Accepted SignCertificate without a certificate -----------------------


def test_A02_FR_17_sign_answered_accepted_waits_cert_signing_wait_minimum(rig: Rig) -> None:
    waiting = rig.request_csms()
    assert rig.station.security_due() is None  # nothing due before the CSMS answered
    rig.answered(waiting)
    [waiting] = rig.waiting()
    assert waiting.next_due == pytest.approx(rig.clock.t + WAIT)
    assert rig.station.security_due() == waiting.next_due


def test_A02_FR_17_18_19_the_same_csr_is_resent_with_a_doubling_wait_then_no_more(
        rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    rig.set("CertSigningRepeatTimes", "3")
    first = rig.request_csms()
    [row] = rig.sign_requests("csms")
    rig.deliver_all("csms")
    resends: list[Outgoing] = []
    waits = []
    for _ in range(3):
        rig.answered(first)  # the CSMS answered our SignCertificate Accepted, and sends no certificate
        due = rig.station.security_due()
        assert due is not None
        waits.append(round(due - rig.clock.t))
        rig.clock.t = due - 0.5
        rig.tick()
        assert rig.sign_requests("csms") == []  # not before it is due
        rig.clock.t = due
        rig.tick()
        [again] = rig.sign_requests("csms")
        assert again.payload == row.payload  # A02.FR.17: the same CSR
        assert again.message_id != row.message_id and not again.triggered
        resends.append(again)
        rig.deliver_all("csms")
        assert rig.station.security_due() is None  # until this one's answer
    assert waits == [WAIT, 2 * WAIT, 4 * WAIT]  # A02.FR.18: doubled each time
    rig.answered(first)
    due = rig.station.security_due()
    assert due is not None
    rig.clock.t = due
    with caplog.at_level(logging.WARNING, logger="ocpp_station.station.renewal"):
        rig.tick()
    assert rig.sign_requests("csms") == []  # A02.FR.19: CertSigningRepeatTimes resends, no more
    assert "after 3 resends" in caplog.text
    [waiting] = rig.waiting()
    assert waiting.attempts == 3 and waiting.next_due is None
    assert rig.station.security_due() is None  # and A03 does not start one by itself (A03.FR.19)


def test_A02_FR_17_a_rejected_sign_certificate_is_not_sent_again(rig: Rig) -> None:
    waiting = rig.request_csms()
    rig.deliver_all("csms")
    rig.answered(waiting, accepted=False)
    assert rig.waiting()[0].next_due is None and rig.station.security_due() is None
    rig.clock.t += 3600
    rig.tick()
    assert rig.sign_requests("csms") == []


def test_A02_FR_20_a_rejected_certificate_signed_stops_the_resends(rig: Rig) -> None:
    waiting = rig.request_csms()
    rig.deliver_all("csms")
    rig.answered(waiting)
    assert rig.station.security_due() is not None
    expired = rig.ca.sign(waiting.csr, days=1, not_before=rig.clock.utc() - 10 * DAY) + _pem(rig.ca.certificate)
    answer = rig.signed(expired, door="csms")  # for this CSR's key, but no longer valid (A02.FR.06)
    assert answer["status"] == "Rejected", answer
    assert rig.waiting()[0].next_due is None and rig.station.security_due() is None
    rig.clock.t += 3600
    rig.tick()
    assert rig.sign_requests("csms") == []  # not sent again until asked
    assert [e.type for e in rig.station.events.entries()][-1] == "InvalidChargingStationCertificate"  # A02.FR.07
    assert rig.store.own_leaf(CSC) is None  # nothing installed


# -- A02.FR.08/09: the certificate, in use once its notBefore has passed; the newest wins -------------------


@BOTH
def test_A02_FR_08_a_certificate_not_valid_yet_is_renewed_and_promoted_by_tick_once_its_start_passed(
        rig: Rig, version: str) -> None:
    factory = rig.import_factory()
    assert rig.trigger(version) == {"status": "Accepted"}
    [waiting] = rig.waiting()
    start = rig.clock.utc() + timedelta(hours=2)
    extra: dict[str, Any] = {"requestId": waiting.id} if version == V21 else {}
    assert rig.signed(rig.issue_for(waiting, not_before=start), version, **extra) == {"status": "Accepted"}
    renewed = rig.store.own_leaf(CSC, "renewed")
    assert renewed is not None and renewed.not_valid_before_utc == start.replace(microsecond=0)
    assert rig.store.own_leaf(CSC) == factory  # not in use yet
    assert rig.waiting() == []  # its key pair is done
    assert rig.station.security_due() == renewed.not_valid_before_utc.timestamp()

    rig.clock.t = start.timestamp() - 1
    rig.tick()
    assert rig.store.own_leaf(CSC) == factory
    rig.clock.t = start.timestamp()
    rig.tick()
    assert rig.store.own_leaf(CSC) == renewed  # A02.FR.08
    assert rig.store.own_leaf(CSC, "previous") == factory  # A02.FR.10: kept until a connection with it
    assert rig.store.own_leaf(CSC, "renewed") is None


def test_A02_FR_08_a_certificate_valid_now_is_in_use_at_once(rig: Rig) -> None:
    factory = rig.import_factory()
    rig.trigger()
    [waiting] = rig.waiting()
    assert rig.signed(rig.issue_for(waiting)) == {"status": "Accepted"}
    leaf = rig.store.own_leaf(CSC)
    assert leaf is not None and leaf != factory and csr.public_key_der(leaf) == waiting.public_key
    assert rig.store.own_leaf(CSC, "previous") == factory
    assert rig.station.events.entries()[-1].type == "ReconfigurationOfSecurityParameters"


def test_A02_FR_09_a_certificate_starting_before_the_one_in_use_is_dropped(rig: Rig) -> None:
    factory = rig.import_factory(not_before=rig.clock.utc() - DAY)
    rig.trigger()
    [waiting] = rig.waiting()
    older = rig.issue_for(waiting, not_before=rig.clock.utc() - 2 * DAY)
    assert rig.signed(older) == {"status": "Accepted"}
    assert rig.store.own_leaf(CSC) == factory  # the newest (by its start) stays in use
    assert rig.store.own_leaf(CSC, "renewed") is None and rig.store.own_leaf(CSC, "previous") is None


# -- A03: the certificate in use is about to expire ---------------------------------------------------------


def test_A03_FR_02_a_certificate_expiring_within_renew_before_days_starts_a_renewal_on_tick(rig: Rig) -> None:
    leaf = rig.import_factory(days=20)  # renew_before_days: 30 (the default)
    due = rig.station.security_due()
    assert due is not None and due == pytest.approx((leaf.not_valid_after_utc - timedelta(days=30)).timestamp())
    assert due <= rig.clock.t
    rig.tick()
    [row] = rig.sign_requests("csms")
    assert not row.triggered  # the station's own accord: sent once Accepted
    assert rig.sign_requests("mqtt") == []
    [waiting] = rig.waiting()
    assert waiting.door == "csms" and row.payload["csr"] == waiting.csr
    assert rig.station.security_due() is None  # one is under way: A03 waits for it

    rig.clock.t += 3600
    rig.tick()
    assert len(rig.sign_requests("csms")) == 1  # not again while one waits


def test_A03_the_renewal_is_due_renew_before_days_before_expiry_not_earlier(rig: Rig) -> None:
    leaf = rig.import_factory(days=100)
    due = rig.station.security_due()
    assert due is not None and due == pytest.approx((leaf.not_valid_after_utc - timedelta(days=30)).timestamp())
    rig.tick()
    assert rig.sign_requests("csms") == []
    rig.clock.t = due - 1
    rig.tick()
    assert rig.sign_requests("csms") == []
    rig.clock.t = due
    rig.tick()
    assert len(rig.sign_requests("csms")) == 1


def test_A03_no_renewal_starts_by_itself_when_the_csms_link_is_disabled(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(Config(csms=Csms(enabled=False)))
    rig.import_factory(days=20)
    assert rig.station.security_due() is None
    rig.tick()
    assert rig.sign_requests("csms") == [] and rig.sign_requests("mqtt") == [] and rig.waiting() == []


def test_A03_without_organization_name_it_tries_again_an_hour_later(
        make_rig: Callable[..., Rig], caplog: pytest.LogCaptureFixture) -> None:
    rig = make_rig(organization=None)
    rig.import_factory(days=20)
    with caplog.at_level(logging.WARNING, logger="ocpp_station.station.renewal"):
        rig.tick()
    assert rig.sign_requests("csms") == [] and "no renewal can start" in caplog.text
    assert rig.station.security_due() == pytest.approx(rig.clock.t + 3600)
    rig.set("OrganizationName", ORG)
    rig.clock.t += 3600
    rig.tick()
    assert len(rig.sign_requests("csms")) == 1


def test_next_due_is_the_earliest_of_a_resend_and_a_renewed_certificate_s_start(rig: Rig) -> None:
    rig.import_factory()
    rig.trigger()
    [first] = rig.waiting()
    start = rig.clock.utc() + timedelta(seconds=100)
    assert rig.signed(rig.issue_for(first, not_before=start)) == {"status": "Accepted"}
    assert rig.station.security_due() == start.replace(microsecond=0).timestamp()
    second = rig.request_csms()  # another renewal while the renewed one waits
    rig.answered(second)
    resend = rig.clock.t + WAIT
    assert rig.station.security_due() == pytest.approx(resend)  # the resend comes first
    rig.set("CertSigningWaitMinimum", "1000")
    rig.answered(second)
    assert rig.station.security_due() == start.replace(microsecond=0).timestamp()  # now the start does


def test_A03_FR_06_a_second_renewal_by_the_same_sub_ca_is_accepted(rig: Rig) -> None:
    """The CSMS's CA is a sub-CA: every certificate it issues comes with it, so the chain in use and the
    renewed one share that certificate. Renewing twice (the second renewal of A03) must work."""
    root, root_key = ca_certificate("CSMS Root")
    sub_cert, sub_key = ca_certificate("CSMS Issuing CA", issuer=(root, root_key))
    sub = CertificateAuthority(sub_cert, sub_key)
    leaves = []
    for _ in range(2):
        assert rig.trigger() == {"status": "Accepted"}
        [waiting] = rig.waiting()
        chain = sub.sign(waiting.csr) + _pem(root)  # leaf, the sub-CA, and the root (none is installed)
        answer = rig.oem.call("CertificateSigned", {"certificateChain": chain, "certificateType": CSC}, V21)
        assert answer["data"].get("payload") == {"status": "Accepted"}, answer["data"]
        leaf = rig.store.own_leaf(CSC)
        assert leaf is not None and csr.public_key_der(leaf) == waiting.public_key
        leaves.append(leaf)
    assert rig.store.own_leaf(CSC, "previous") == leaves[0]
    assert rig.store.usable(CSC)[1] == sub_cert

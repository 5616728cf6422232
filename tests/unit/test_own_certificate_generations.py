"""The station's own certificate chain in generations (certificate_store.py): current, renewed, previous.

A02.FR.08 (a renewed chain is used once its notBefore has passed), A02.FR.09 (the newest wins),
A02.FR.10 (the one before is kept until a connection with the new one is accepted) and 2.1
A02.FR.28/29 (alternate between the two; report the renewed one lost), at the store's level:
:meth:`CertificateStore.install_renewed`, :meth:`~CertificateStore.promote_renewed`,
:meth:`~CertificateStore.confirm_own`, :meth:`~CertificateStore.swap_own`,
:meth:`~CertificateStore.own_leaf` and :meth:`~CertificateStore.write_bundle`, with what the rest of
the station sees of them: GetInstalledCertificateIds, :meth:`~CertificateStore.usable`, DeleteCertificate
(M04.FR.06) and the derived PEM and key files.

Real certificates, issued by :class:`ocpp_station.oem_ca.CertificateAuthority` for keys and CSRs the
station's own :mod:`ocpp_station.station.csr` makes. A store with a clock of the test's own is built
on the station's database (the constructor takes one); the station's own store reads the same rows.
"""

from __future__ import annotations

import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ocpp_station.app import Station
from ocpp_station.config import Config
from ocpp_station.oem_ca import CertificateAuthority
from ocpp_station.station import csr
from ocpp_station.station.certificate_store import CertificateStore

from ..certificate_cases import delete, hash_data, installed
from ..support import InProcessOem, ca_certificate

CSC, V2G = "ChargingStationCertificate", "V2GCertificateChain"
CN, ORG = "CS0000000001", "Example CSO"
HOUR, DAY = timedelta(hours=1), timedelta(days=1)


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


@dataclass
class Issued:
    """A chain the CA issued (leaf first, the sub-CA after it when there is one) and its key."""

    chain: list[x509.Certificate]
    key_pem: str

    @property
    def leaf(self) -> x509.Certificate:
        return self.chain[0]

    @property
    def chain_pem(self) -> str:
        return "".join(_pem(cert) for cert in self.chain)


@dataclass
class Pki:
    root: x509.Certificate
    sub: CertificateAuthority  # the sub-CA that issues the station's certificates
    sub_cert: x509.Certificate = field(init=False)

    def __post_init__(self) -> None:
        self.sub_cert = self.sub.certificate

    def issue(self, *, not_before: datetime | None = None, days: int = 365) -> Issued:
        key = csr.generate_key(csr.KeyAlgorithm.EC_P256)
        chain_pem = self.sub.sign(csr.build_csr(key, common_name=CN, organization=ORG), days=days,
                                  not_before=not_before)
        return Issued(x509.load_pem_x509_certificates(chain_pem.encode()), csr.key_to_pem(key))


@pytest.fixture(scope="module")
def pki() -> Pki:
    root, root_key = ca_certificate("Station Root")
    sub, sub_key = ca_certificate("Station Sub-CA", issuer=(root, root_key))
    return Pki(root, CertificateAuthority(sub, sub_key))


@pytest.fixture(scope="module")
def other_pki() -> Pki:
    """A second hierarchy: a renewal whose chain shares no certificate with the factory one."""
    root, root_key = ca_certificate("Other Root")
    sub, sub_key = ca_certificate("Other Sub-CA", issuer=(root, root_key))
    return Pki(root, CertificateAuthority(sub, sub_key))


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Rig:
    station: Station
    store: CertificateStore  # on the station's database, with the test's clock
    clock: Clock
    oem: InProcessOem

    @property
    def data_dir(self) -> Path:
        return self.station.config.data_dir

    def import_factory(self, pki: Pki, use: str = CSC) -> Issued:
        issued = pki.issue(not_before=self.clock.now - DAY)
        self.station.certificates.import_own(use, (issued.chain_pem + _pem(pki.root)).encode(),
                                             issued.key_pem.encode())
        return issued

    def install_renewed(self, issued: Issued, top_issuer: x509.Certificate, use: str = CSC) -> bool:
        with self.station.storage.unit_of_work():  # as CertificateSigned runs it: in the request's unit of work
            return self.store.install_renewed(use, issued.chain, top_issuer, issued.key_pem)

    def leaf(self, generation: str = "current", use: str = CSC) -> x509.Certificate | None:
        return self.store.own_leaf(use, generation)

    def bundle(self, use: str = CSC) -> list[x509.Certificate]:
        return x509.load_pem_x509_certificates((self.data_dir / "certs" / f"{use}.pem").read_bytes())

    def key_file(self, use: str = CSC) -> Path:
        return self.data_dir / "private" / f"{use}.key.pem"


@pytest.fixture
def rig(make_station: Callable[..., Station]) -> Iterator[Rig]:
    station = make_station(Config())
    clock = Clock()
    store = CertificateStore(station.storage, station.config.data_dir, max_entries=lambda: 50, clock=clock)
    yield Rig(station, store, clock, InProcessOem(station))


def _spki(cert: x509.Certificate) -> bytes:
    return cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _key_spki(key_pem: str) -> bytes:
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    return key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _reported(oem: InProcessOem, use: str = V2G) -> list[dict]:
    answer = installed(oem, [use])
    return answer.get("certificateHashDataChain", [])


# -- A02.FR.08: in use once its notBefore has passed ---------------------------------------------------------


def test_A02_FR_08_a_renewed_chain_whose_start_has_passed_is_in_use_at_once_and_the_old_one_kept(
        rig: Rig, pki: Pki, other_pki: Pki) -> None:
    old = rig.import_factory(pki)
    new = other_pki.issue(not_before=rig.clock.now - HOUR)
    assert rig.install_renewed(new, other_pki.root) is True
    assert rig.leaf() == new.leaf
    assert rig.leaf("previous") == old.leaf  # A02.FR.10: the fallback
    assert rig.leaf("renewed") is None
    assert rig.store.usable(CSC) == new.chain  # the chain in use, as a whole
    assert rig.station.certificates.usable(CSC) == new.chain  # the station's own store sees the same rows
    assert rig.bundle() == new.chain  # the derived files follow the commit
    assert _key_spki(rig.key_file().read_text()) == _spki(new.leaf)


def test_A02_FR_08_a_renewed_chain_not_valid_yet_waits_and_tick_promotes_it_once_its_start_passed(
        rig: Rig, pki: Pki, other_pki: Pki) -> None:
    old = rig.import_factory(pki)
    new = other_pki.issue(not_before=rig.clock.now + HOUR)
    assert rig.install_renewed(new, other_pki.root) is False
    assert (rig.leaf(), rig.leaf("renewed"), rig.leaf("previous")) == (old.leaf, new.leaf, None)
    assert rig.store.usable(CSC) == old.chain and rig.bundle() == old.chain
    with rig.station.storage.unit_of_work():
        assert rig.store.promote_renewed(CSC) is False  # not before its notBefore
    assert rig.leaf("renewed") == new.leaf

    rig.clock.now += 2 * HOUR
    with rig.station.storage.unit_of_work():
        assert rig.store.promote_renewed(CSC) is True
    assert (rig.leaf(), rig.leaf("renewed"), rig.leaf("previous")) == (new.leaf, None, old.leaf)
    assert rig.bundle() == new.chain
    with rig.station.storage.unit_of_work():
        assert rig.store.promote_renewed(CSC) is False  # nothing left to promote


def test_A02_FR_08_a_later_renewed_chain_replaces_the_one_still_waiting(rig: Rig, pki: Pki, other_pki: Pki) -> None:
    rig.import_factory(pki)
    first = other_pki.issue(not_before=rig.clock.now + HOUR)
    second = other_pki.issue(not_before=rig.clock.now + 2 * HOUR)
    assert rig.install_renewed(first, other_pki.root) is False
    assert rig.install_renewed(second, other_pki.root) is False
    assert rig.leaf("renewed") == second.leaf
    count = rig.station.storage.connection.execute(
        "SELECT count(*) FROM certificate WHERE use = ? AND generation = 'renewed'", (CSC,)).fetchone()[0]
    assert count == len(second.chain)  # the first one's rows are gone


def test_A02_FR_08_a_renewal_issued_by_the_same_sub_ca_as_the_chain_in_use_can_be_installed(
        rig: Rig, pki: Pki) -> None:
    """The usual renewal: the same CA signs the new certificate, so both chains hold the same sub-CA."""
    old = rig.import_factory(pki)
    new = pki.issue(not_before=rig.clock.now - HOUR)
    assert new.chain[1] == old.chain[1]
    assert rig.install_renewed(new, pki.root) is True
    assert rig.leaf() == new.leaf and rig.leaf("previous") == old.leaf
    assert rig.store.usable(CSC) == new.chain


def test_A02_FR_09_a_renewed_chain_starting_before_the_one_in_use_is_dropped(
        rig: Rig, pki: Pki, other_pki: Pki) -> None:
    current = rig.import_factory(pki)  # notBefore: a day ago
    older = other_pki.issue(not_before=rig.clock.now - 2 * DAY)
    assert rig.install_renewed(older, other_pki.root) is False
    assert (rig.leaf(), rig.leaf("renewed"), rig.leaf("previous")) == (current.leaf, None, None)
    assert rig.bundle() == current.chain


def test_A02_FR_10_after_two_renewals_only_the_last_previous_chain_is_kept(
        rig: Rig, pki: Pki, other_pki: Pki) -> None:
    rig.import_factory(pki)
    second = other_pki.issue(not_before=rig.clock.now - HOUR)
    assert rig.install_renewed(second, other_pki.root)
    third_pki = Pki(*_fresh_hierarchy("Third"))
    third = third_pki.issue(not_before=rig.clock.now - HOUR + timedelta(minutes=1))
    assert rig.install_renewed(third, third_pki.root)
    assert (rig.leaf(), rig.leaf("previous")) == (third.leaf, second.leaf)
    generations = rig.station.storage.connection.execute(
        "SELECT generation, count(*) FROM certificate WHERE use = ? GROUP BY generation", (CSC,)).fetchall()
    assert dict(generations) == {"current": 2, "previous": 2}  # leaf + sub-CA each; the factory chain is gone


def _fresh_hierarchy(name: str) -> tuple[x509.Certificate, CertificateAuthority]:
    root, root_key = ca_certificate(f"{name} Root")
    sub, sub_key = ca_certificate(f"{name} Sub-CA", issuer=(root, root_key))
    return root, CertificateAuthority(sub, sub_key)


# -- A02.FR.10, 2.1 A02.FR.28/29: confirm, swap ----------------------------------------------------------------


def test_A02_FR_10_confirm_own_discards_the_previous_chain_and_reports_nothing_lost(
        rig: Rig, pki: Pki, other_pki: Pki) -> None:
    rig.import_factory(pki)
    new = other_pki.issue(not_before=rig.clock.now - HOUR)
    rig.install_renewed(new, other_pki.root)
    with rig.station.storage.unit_of_work():
        assert rig.store.confirm_own(CSC) is None  # the discarded one is the older: no renewed certificate lost
    assert rig.leaf("previous") is None and rig.leaf() == new.leaf
    with rig.station.storage.unit_of_work():
        assert rig.store.confirm_own(CSC) is None  # nothing kept: nothing to do


def test_A02_FR_28_swap_own_alternates_the_chains_and_the_files_follow(rig: Rig, pki: Pki, other_pki: Pki) -> None:
    old = rig.import_factory(pki)
    with rig.station.storage.unit_of_work():
        assert rig.store.swap_own(CSC) is False  # no fallback kept: nothing to switch to
    assert rig.leaf() == old.leaf
    new = other_pki.issue(not_before=rig.clock.now - HOUR)
    rig.install_renewed(new, other_pki.root)

    with rig.station.storage.unit_of_work():
        assert rig.store.swap_own(CSC) is True
    assert (rig.leaf(), rig.leaf("previous")) == (old.leaf, new.leaf)
    assert rig.store.usable(CSC) == old.chain and rig.bundle() == old.chain
    assert _key_spki(rig.key_file().read_text()) == _spki(old.leaf)

    with rig.station.storage.unit_of_work():
        assert rig.store.swap_own(CSC) is True  # and back
    assert (rig.leaf(), rig.leaf("previous")) == (new.leaf, old.leaf)
    assert rig.bundle() == new.chain


def test_A02_FR_29_confirming_the_old_chain_returns_the_renewed_one_it_discards(
        rig: Rig, pki: Pki, other_pki: Pki) -> None:
    old = rig.import_factory(pki)
    new = other_pki.issue(not_before=rig.clock.now - HOUR)
    rig.install_renewed(new, other_pki.root)
    with rig.station.storage.unit_of_work():
        rig.store.swap_own(CSC)  # the walk failed with the new one; the old one carried the connection
        lost = rig.store.confirm_own(CSC)
    assert lost == new.leaf  # the newer one is lost: 2.1 reports DiscardedRenewedClientCertificate
    assert (rig.leaf(), rig.leaf("previous")) == (old.leaf, None)


# -- what the rest of the station sees: only the chain in use --------------------------------------------------


def test_M03_get_installed_certificate_ids_reports_only_the_chain_in_use(rig: Rig, pki: Pki, other_pki: Pki) -> None:
    old = rig.import_factory(pki, V2G)
    [reported] = _reported(rig.oem)
    assert reported["certificateHashData"] == hash_data(old.leaf, pki.sub_cert)
    assert reported["childCertificateHashData"] == [hash_data(pki.sub_cert, pki.root)]  # M03.FR.05

    waiting = other_pki.issue(not_before=rig.clock.now + HOUR)
    rig.install_renewed(waiting, other_pki.root, V2G)
    assert _reported(rig.oem) == [reported]  # a renewed chain not in use yet is not reported
    assert [e.hash_data for e in rig.store.installed([V2G])] == [e.hash_data for e in
                                                                  rig.station.certificates.installed([V2G])]

    rig.clock.now += 2 * HOUR
    with rig.station.storage.unit_of_work():
        assert rig.store.promote_renewed(V2G)
    [now_reported] = _reported(rig.oem)  # the previous one, kept as a fallback, is not reported either
    assert now_reported["certificateHashData"] == hash_data(waiting.leaf, other_pki.sub_cert)
    assert now_reported["childCertificateHashData"] == [hash_data(other_pki.sub_cert, other_pki.root)]
    [entry] = rig.store.installed([CSC, V2G])
    assert entry.use == V2G


def test_usable_sees_only_the_current_chain(rig: Rig, pki: Pki, other_pki: Pki) -> None:
    old = rig.import_factory(pki)
    waiting = other_pki.issue(not_before=rig.clock.now + HOUR)
    rig.install_renewed(waiting, other_pki.root)
    assert rig.store.usable(CSC) == old.chain
    rig.clock.now += 2 * HOUR  # the renewed one would be valid now: still not usable until promoted
    assert rig.store.usable(CSC) == old.chain
    with rig.station.storage.unit_of_work():
        rig.store.promote_renewed(CSC)
    assert rig.store.usable(CSC) == waiting.chain  # not the previous one, though it is still valid


@pytest.mark.parametrize("which", ["leaf", "sub-ca"])
def test_M04_FR_06_delete_certificate_refuses_a_kept_previous_own_certificate(
        rig: Rig, pki: Pki, other_pki: Pki, which: str) -> None:
    old = rig.import_factory(pki, V2G)
    new = other_pki.issue(not_before=rig.clock.now - HOUR)
    rig.install_renewed(new, other_pki.root, V2G)
    assert rig.leaf("previous", V2G) == old.leaf
    target = hash_data(old.leaf, pki.sub_cert) if which == "leaf" else hash_data(pki.sub_cert, pki.root)
    answer = delete(rig.oem, target)
    assert answer["status"] == "Failed", answer
    assert answer["statusInfo"]["reasonCode"] == "InvalidCertificate"
    assert rig.leaf("previous", V2G) == old.leaf  # still kept
    assert not [e for e in rig.station.events.entries() if "deleted" in e.tech_info]  # no event: nothing deleted


# -- the derived files ---------------------------------------------------------------------------------------


def test_write_bundle_writes_the_current_chain_and_a_0600_key(rig: Rig, pki: Pki, other_pki: Pki) -> None:
    old = rig.import_factory(pki)
    waiting = other_pki.issue(not_before=rig.clock.now + HOUR)
    rig.install_renewed(waiting, other_pki.root)
    bundle, key_file = rig.data_dir / "certs" / f"{CSC}.pem", rig.key_file()
    bundle.unlink()
    key_file.unlink()
    rig.store.write_bundle(CSC)  # rebuilt from the database: the chain in use, not the waiting one
    assert rig.bundle() == old.chain  # leaf first, then the sub-CA; no root
    assert _key_spki(key_file.read_text()) == _spki(old.leaf)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert waiting.key_pem not in key_file.read_text()

    rig.clock.now += 2 * HOUR
    with rig.station.storage.unit_of_work():
        rig.store.promote_renewed(CSC)
    assert rig.bundle() == waiting.chain
    assert _key_spki(key_file.read_text()) == _spki(waiting.leaf)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_write_bundle_removes_the_files_of_a_use_with_nothing_in_use(rig: Rig) -> None:
    bundle, key_file = rig.data_dir / "certs" / f"{CSC}.pem", rig.key_file()
    bundle.parent.mkdir(parents=True, exist_ok=True)
    key_file.parent.mkdir(parents=True, exist_ok=True)
    bundle.write_text("stale")
    key_file.write_text("stale")
    rig.store.write_bundle(CSC)
    assert not bundle.exists() and not key_file.exists()


def test_own_leaf_of_each_generation(rig: Rig, pki: Pki, other_pki: Pki) -> None:
    assert rig.leaf() is None and rig.leaf("renewed") is None and rig.leaf("previous") is None
    old = rig.import_factory(pki)
    assert rig.leaf() == old.leaf
    assert rig.leaf(use=V2G) is None  # per use
    waiting = other_pki.issue(not_before=rig.clock.now + HOUR)
    rig.install_renewed(waiting, other_pki.root)
    assert rig.leaf("renewed") == waiting.leaf and rig.leaf("previous") is None

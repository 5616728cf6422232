"""Issue 13, the certificate rules: M05.FR.09–13 (AdditionalRootCertificateCheck), A05.FR.02/03 ("valid",
not "installed") and what DeleteCertificate must not delete (1.6 M04.FR.06, 2.x M04.FR.03).

In process: a real :class:`Storage` in ``tmp_path``, a store with a clock the test moves, and real
certificates made with ``cryptography`` (CSMS server certificates with a subjectAltName unless a test says
otherwise).
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ocpp_station.station.certificate_store import CertificateStore, Result
from ocpp_station.station.certificates import (
    MAX_REASON_CODE_LEN,
    NO_LIVE_CONNECTION,
    REASON_IN_USE,
    REASON_LAST_USABLE_ROOT,
    CertificateHashData,
    HashAlgorithm,
    LiveConnection,
    anchors_server_chain,
    compute_hash_data,
    csms_root_protection,
)
from ocpp_station.station.storage import Storage

CSMS = "CSMSRootCertificate"
NOW = datetime(2030, 6, 1, tzinfo=UTC)
HOST = "csms.example.com"

# --------------------------------------------------------------------------------------------------------------
# Certificates
# --------------------------------------------------------------------------------------------------------------


def _usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=not ca, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                         encipher_only=False, decipher_only=False)


_serials = iter(range(0x2000, 0x7FFFFFFF))


@dataclass(frozen=True)
class Made:
    """A certificate with its key, so that it can sign others."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def make(cn: str, issuer: Made | None = None, *, ca: bool = True, san: str | None = None, aki: bool = True,
         not_before: datetime = NOW - timedelta(days=30), not_after: datetime = NOW + timedelta(days=365),
         curve: ec.EllipticCurve | None = None) -> Made:
    """A CA (self-signed unless ``issuer``), or with ``ca=False`` a TLS server certificate for ``san``."""
    key = ec.generate_private_key(curve or ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ocpp-station issue 13")])
    builder = (x509.CertificateBuilder().subject_name(subject)
               .issuer_name(issuer.cert.subject if issuer else subject)
               .public_key(key.public_key()).serial_number(next(_serials))
               .not_valid_before(not_before).not_valid_after(not_after)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(_usage(ca=ca), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    if aki and issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False)
    if not ca:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False)
    return Made(builder.sign(issuer.key if issuer else key, hashes.SHA256()), key)


def server(issuer: Made, host: str = HOST, *, aki: bool = True) -> x509.Certificate:
    """The CSMS's TLS server certificate, issued by ``issuer``."""
    return make(host, issuer, ca=False, san=host, aki=aki).cert


def hash_of(made: Made, issuer: Made | None = None) -> CertificateHashData:
    return compute_hash_data(made.cert, (issuer or made).cert, HashAlgorithm.SHA256)


# --------------------------------------------------------------------------------------------------------------
# The store
# --------------------------------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Station:
    store: CertificateStore
    storage: Storage
    data_dir: Path
    clock: Clock

    def install(self, made: Made, use: str = CSMS) -> Result:
        return self.store.install_root(use, made.pem)

    def roots(self, use: str = CSMS) -> dict[str, str]:
        """Installed certificates of ``use``: subject CN → role."""
        rows = self.storage.connection.execute("SELECT role, pem FROM certificate WHERE use = ?", (use,))
        return {_cn(x509.load_pem_x509_certificate(pem.encode())): role for role, pem in rows}

    def bundle(self, use: str = CSMS) -> set[str]:
        path = self.data_dir / "certs" / f"{use}.pem"
        return {_cn(c) for c in x509.load_pem_x509_certificates(path.read_bytes())} if path.exists() else set()


def _cn(cert: x509.Certificate) -> str:
    return str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def _station(tmp_path: Path, *, check: bool) -> Iterator[Station]:
    data_dir = tmp_path / "data"
    storage = Storage(data_dir)
    clock = Clock()
    store = CertificateStore(storage, data_dir, max_entries=lambda: 10, additional_root_check=check, clock=clock)
    yield Station(store, storage, data_dir, clock)
    storage.close()


@pytest.fixture
def checked(tmp_path: Path) -> Iterator[Station]:
    """A store with AdditionalRootCertificateCheck = true."""
    yield from _station(tmp_path, check=True)


@pytest.fixture
def plain(tmp_path: Path) -> Iterator[Station]:
    """A store with AdditionalRootCertificateCheck = false (the default)."""
    yield from _station(tmp_path, check=False)


ACCEPTED = Result("Accepted")


# --------------------------------------------------------------------------------------------------------------
# 1. M05.FR.09–12: a fallback never opens the door to any root
# --------------------------------------------------------------------------------------------------------------


@pytest.fixture
def replaced(checked: Station) -> tuple[Station, Made, Made]:
    """Root A installed, then A2 signed by A: A2 is the root, A the fallback (M05.FR.12)."""
    a = make("A")
    a2 = make("A2", a)
    assert checked.install(a) == ACCEPTED
    assert checked.install(a2) == ACCEPTED
    assert checked.roots() == {"A": "fallback", "A2": "root"}
    return checked, a, a2


def test_M05_FR_11_after_the_new_root_is_deleted_an_unrelated_root_is_rejected(
        replaced: tuple[Station, Made, Made]) -> None:
    station, a, a2 = replaced
    assert station.store.delete(hash_of(a2, a)) == ACCEPTED
    assert station.roots() == {"A": "fallback"}
    # The fallback is now the current CSMS root: a self-signed root it did not sign must not come in.
    answer = station.install(make("B"))
    assert answer.status == "Rejected"
    assert answer.reason_code == "InvalidCertificate"
    assert "not signed by the current one" in answer.additional_info and "'A'" in answer.additional_info
    assert station.roots() == {"A": "fallback"}
    assert station.bundle() == {"A"}


def test_M05_FR_12_after_the_new_root_is_deleted_a_root_signed_by_the_fallback_is_accepted(
        replaced: tuple[Station, Made, Made]) -> None:
    station, a, a2 = replaced
    assert station.store.delete(hash_of(a2, a)) == ACCEPTED
    a3 = make("A3", a)
    assert station.install(a3) == ACCEPTED
    assert station.roots() == {"A": "fallback", "A3": "root"}  # the fallback is kept, not dropped
    assert station.bundle() == {"A", "A3"}
    [(hash_data,)] = station.storage.connection.execute(
        "SELECT hash_data FROM certificate WHERE role = 'root'").fetchall()
    assert json.loads(hash_data)["SHA256"] == hash_of(a3, a).to_ocpp()  # identified under its issuer, A


def test_M05_FR_11_a_root_signed_by_the_fallback_is_rejected_while_the_new_root_is_installed(
        replaced: tuple[Station, Made, Made]) -> None:
    station, a, _ = replaced
    # M05.FR.10: the new root must be signed by the root it replaces, the current one (A2), not the fallback.
    assert station.install(make("A3", a)).status == "Rejected"
    assert station.roots() == {"A": "fallback", "A2": "root"}


def test_M05_FR_11_after_the_fallback_is_deleted_the_new_root_is_the_current_one(
        replaced: tuple[Station, Made, Made]) -> None:
    station, a, a2 = replaced
    assert station.store.delete(hash_of(a)) == ACCEPTED
    assert station.install(make("B")).status == "Rejected"
    assert station.install(make("A4", a2)) == ACCEPTED
    assert station.roots() == {"A2": "fallback", "A4": "root"}


def test_M05_FR_12_a_second_replacement_keeps_only_the_previous_root_as_the_fallback(
        replaced: tuple[Station, Made, Made]) -> None:
    station, _, a2 = replaced
    assert station.install(make("A3", a2)) == ACCEPTED
    assert station.roots() == {"A2": "fallback", "A3": "root"}  # M05.FR.09: one root plus one fallback


def test_M05_FR_09_a_self_signed_root_is_the_first_only_when_no_csms_root_of_any_role_is_left(
        replaced: tuple[Station, Made, Made]) -> None:
    station, a, a2 = replaced
    assert station.store.delete(hash_of(a2, a)) == ACCEPTED
    assert station.store.delete(hash_of(a)) == ACCEPTED
    assert station.install(make("B")) == ACCEPTED
    assert station.roots() == {"B": "root"}
    # Other types are not subject to the check.
    assert station.install(make("M"), "ManufacturerRootCertificate") == ACCEPTED


def test_M05_FR_09_a_first_root_that_is_not_self_signed_is_rejected(checked: Station) -> None:
    assert checked.install(make("A2", make("A"))).status == "Rejected"
    assert checked.roots() == {}


def test_M05_FR_17_installing_the_fallback_again_while_it_is_the_current_root_changes_nothing(
        replaced: tuple[Station, Made, Made]) -> None:
    station, a, a2 = replaced
    assert station.store.delete(hash_of(a2, a)) == ACCEPTED
    assert station.install(a) == ACCEPTED
    assert station.roots() == {"A": "fallback"}


# --------------------------------------------------------------------------------------------------------------
# 2. A05.FR.02/03: "valid", not "installed"
# --------------------------------------------------------------------------------------------------------------


def test_A05_FR_02_only_csms_roots_inside_their_validity_period_are_usable(plain: Station) -> None:
    short = make("short", not_after=NOW + timedelta(days=10))
    long = make("long", not_after=NOW + timedelta(days=100))
    assert plain.install(short) == ACCEPTED
    assert plain.install(long) == ACCEPTED
    assert [_cn(c) for c in plain.store.usable(CSMS)] == ["short", "long"]
    plain.clock.now = NOW + timedelta(days=50)
    assert [_cn(c) for c in plain.store.usable(CSMS)] == ["long"]
    assert plain.store.has_usable(CSMS)
    plain.clock.now = NOW + timedelta(days=200)
    assert plain.store.usable(CSMS) == []
    assert not plain.store.has_usable(CSMS)  # installed, but not valid: A05.FR.02 must reject
    assert len(plain.store.installed([CSMS])) == 2
    plain.clock.now = NOW - timedelta(days=60)  # not valid yet
    assert not plain.store.has_usable(CSMS)


def test_A05_FR_02_a_kept_fallback_is_a_usable_csms_root(replaced: tuple[Station, Made, Made]) -> None:
    station, _, _ = replaced
    assert {_cn(c) for c in station.store.usable(CSMS)} == {"A", "A2"}


def test_A05_FR_02_usable_bundle_leaves_out_expired_roots(plain: Station) -> None:
    assert plain.store.usable_bundle_pem(CSMS) is None
    assert plain.install(make("short", not_after=NOW + timedelta(days=10))) == ACCEPTED
    assert plain.install(make("long", not_after=NOW + timedelta(days=100))) == ACCEPTED
    plain.clock.now = NOW + timedelta(days=50)
    bundle = plain.store.usable_bundle_pem(CSMS)
    assert bundle is not None
    assert [_cn(c) for c in x509.load_pem_x509_certificates(bundle)] == ["long"]
    assert plain.bundle() == {"short", "long"}  # the derived file still holds what is installed
    plain.clock.now = NOW + timedelta(days=200)
    assert plain.store.usable_bundle_pem(CSMS) is None


def _import_own(station: Station, use: str, chain: list[Made]) -> None:
    key = chain[0].key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption())
    station.store.import_own(use, "".join(m.pem for m in chain).encode(), key)


def test_A05_FR_03_the_station_certificate_is_usable_inside_its_validity_period_and_with_its_key(
        plain: Station) -> None:
    ca = make("CSMS CA")
    assert plain.install(ca) == ACCEPTED
    leaf = make("CS0001", ca, ca=False, not_after=NOW + timedelta(days=10))
    _import_own(plain, "ChargingStationCertificate", [leaf])
    assert [_cn(c) for c in plain.store.usable("ChargingStationCertificate")] == ["CS0001"]
    assert plain.store.has_usable("ChargingStationCertificate")
    plain.clock.now = NOW + timedelta(days=11)
    assert not plain.store.has_usable("ChargingStationCertificate")
    plain.clock.now = NOW
    plain.storage.connection.execute("UPDATE certificate SET private_key = NULL WHERE role = 'leaf'")
    assert not plain.store.has_usable("ChargingStationCertificate")  # no key: no TLS client certificate
    assert plain.store.installed(["ChargingStationCertificate"])  # though it is installed


def test_A05_FR_03_an_own_chain_with_an_expired_sub_ca_is_not_usable(plain: Station) -> None:
    root = make("V2G root")
    sub = make("V2G sub-CA", root, not_after=NOW + timedelta(days=10))
    leaf = make("SECC", sub, ca=False, not_after=NOW + timedelta(days=100))
    _import_own(plain, "V2GCertificateChain", [leaf, sub, root])
    assert [_cn(c) for c in plain.store.usable("V2GCertificateChain")] == ["SECC", "V2G sub-CA"]
    plain.clock.now = NOW + timedelta(days=20)
    assert plain.store.usable("V2GCertificateChain") == []
    assert not plain.store.has_usable("ChargingStationCertificate")  # nothing of that use


# --------------------------------------------------------------------------------------------------------------
# 3. DeleteCertificate: the CSMS root in use (1.6 M04.FR.06) and the last usable one (2.x M04.FR.03)
# --------------------------------------------------------------------------------------------------------------


def test_M04_FR_06_the_csms_root_validating_the_live_tls_connection_is_not_deleted(plain: Station) -> None:
    used, extra = make("used"), make("extra")
    assert plain.install(used) == ACCEPTED
    assert plain.install(extra) == ACCEPTED
    live = LiveConnection(peer_leaf=server(used), host=HOST, security_profile=2)
    answer = plain.store.delete(hash_of(used), live)
    assert answer.status == "Failed"
    assert answer.reason_code == REASON_IN_USE
    assert "validates the live connection" in answer.additional_info
    assert plain.roots() == {"used": "root", "extra": "root"}
    # The OCTT case: an extra root, not the one in use, is deleted.
    assert plain.store.delete(hash_of(extra), live) == ACCEPTED
    assert plain.roots() == {"used": "root"}
    assert plain.bundle() == {"used"}


@pytest.mark.parametrize("leaf_kind", ["no subjectAltName", "no authorityKeyIdentifier", "P-224 key"])
def test_M04_FR_06_a_root_validating_a_server_certificate_the_web_pki_profile_refuses_is_protected_too(
        plain: Station, leaf_kind: str) -> None:
    # cryptography's server verifier refuses these; OpenSSL (and so the live connection) accepts them.
    used = make("used", curve=ec.SECP224R1() if leaf_kind == "P-224 key" else None)
    other = make("other")
    assert plain.install(used) == ACCEPTED
    assert plain.install(other) == ACCEPTED
    leaf = {"no subjectAltName": lambda: make(HOST, used, ca=False).cert,
            "no authorityKeyIdentifier": lambda: server(used, aki=False),
            "P-224 key": lambda: server(used)}[leaf_kind]()
    answer = plain.store.delete(hash_of(used), LiveConnection(peer_leaf=leaf, host=HOST, security_profile=2))
    assert (answer.status, answer.reason_code) == ("Failed", REASON_IN_USE)


def test_M04_FR_06_a_root_validating_the_connection_through_an_intermediate_is_protected(plain: Station) -> None:
    used, other = make("used"), make("other")
    intermediate = make("CSMS sub-CA", used)
    assert plain.install(used) == ACCEPTED
    assert plain.install(other) == ACCEPTED
    live = LiveConnection(peer_leaf=server(intermediate), host=HOST, security_profile=3,
                          intermediates=(intermediate.cert,))
    assert plain.store.delete(hash_of(used), live).reason_code == REASON_IN_USE
    assert plain.store.delete(hash_of(other), live) == ACCEPTED


def test_M04_FR_06_a_fallback_validating_the_live_connection_is_not_deleted(
        replaced: tuple[Station, Made, Made]) -> None:
    station, a, a2 = replaced
    live = LiveConnection(peer_leaf=server(a), host=HOST, security_profile=2)  # M05.FR.14: the old root in use
    assert station.store.delete(hash_of(a), live).reason_code == REASON_IN_USE
    assert station.store.delete(hash_of(a2, a), live) == ACCEPTED  # A2 does not validate it, A is left


def test_M04_FR_06_without_a_live_tls_connection_the_root_is_deleted(plain: Station) -> None:
    used, other = make("used"), make("other")
    assert plain.install(used) == ACCEPTED
    assert plain.install(other) == ACCEPTED
    assert plain.store.delete(hash_of(used), LiveConnection(host=HOST, security_profile=2)) == ACCEPTED


@pytest.mark.parametrize("profile", [2, 3])
def test_M04_FR_03_the_last_usable_csms_root_is_not_deleted_at_security_profile_2_and_3(
        plain: Station, profile: int) -> None:
    only = make("only")
    assert plain.install(only) == ACCEPTED
    answer = plain.store.delete(hash_of(only), LiveConnection(security_profile=profile))
    assert answer.status == "Failed"
    assert answer.reason_code == REASON_LAST_USABLE_ROOT
    assert f"security profile {profile}" in answer.additional_info
    assert plain.roots() == {"only": "root"}


def test_M04_FR_03_the_last_usable_csms_root_is_not_deleted_even_if_expired_ones_remain(plain: Station) -> None:
    expiring, lasting = make("expiring", not_after=NOW + timedelta(days=10)), make("lasting")
    assert plain.install(expiring) == ACCEPTED
    assert plain.install(lasting) == ACCEPTED
    plain.clock.now = NOW + timedelta(days=20)
    assert plain.store.delete(hash_of(lasting), LiveConnection(security_profile=2)).reason_code == \
        REASON_LAST_USABLE_ROOT
    # An expired root protects nothing: it may go, even if it is the last one installed.
    assert plain.store.delete(hash_of(expiring), LiveConnection(security_profile=2)) == ACCEPTED


def test_M04_FR_03_an_expired_last_csms_root_is_deleted(plain: Station) -> None:
    old = make("old", not_after=NOW + timedelta(days=10))
    assert plain.install(old) == ACCEPTED
    plain.clock.now = NOW + timedelta(days=20)
    assert plain.store.delete(hash_of(old), LiveConnection(security_profile=3)) == ACCEPTED


def test_M04_FR_03_the_last_csms_root_is_deleted_at_security_profile_1(plain: Station) -> None:
    only = make("only")
    assert plain.install(only) == ACCEPTED
    assert plain.store.delete(hash_of(only)) == ACCEPTED  # the default: no live TLS, security profile 1
    assert plain.roots() == {}
    assert not (plain.data_dir / "certs" / f"{CSMS}.pem").exists()


def test_M04_FR_03_other_root_types_are_not_protected(plain: Station) -> None:
    manufacturer = make("manufacturer")
    assert plain.install(manufacturer, "ManufacturerRootCertificate") == ACCEPTED
    assert plain.store.delete(hash_of(manufacturer), LiveConnection(security_profile=3)) == ACCEPTED


def test_M04_FR_03_a_certificate_installed_under_two_types_is_protected_as_a_csms_root(plain: Station) -> None:
    both = make("both")
    assert plain.install(both) == ACCEPTED
    assert plain.install(both, "ManufacturerRootCertificate") == ACCEPTED
    assert plain.store.delete(hash_of(both), LiveConnection(security_profile=2)).status == "Failed"
    assert plain.roots("ManufacturerRootCertificate") == {"both": "root"}  # nothing of it was deleted


def test_M04_FR_03_the_protection_rule_is_one_pure_function() -> None:
    root, other = make("root"), make("other", not_after=NOW + timedelta(days=1))
    assert csms_root_protection(root.cert, live=NO_LIVE_CONNECTION, remaining=[], now=NOW) is None
    refused = csms_root_protection(root.cert, live=LiveConnection(security_profile=2), remaining=[], now=NOW)
    assert refused is not None and refused.reason_code == REASON_LAST_USABLE_ROOT
    assert csms_root_protection(root.cert, live=LiveConnection(security_profile=2), remaining=[other.cert],
                                now=NOW) is None
    assert csms_root_protection(root.cert, live=LiveConnection(security_profile=2), remaining=[other.cert],
                                now=NOW + timedelta(days=2)) is not None
    in_use = LiveConnection(peer_leaf=server(root), host=HOST, security_profile=1)
    refused = csms_root_protection(root.cert, live=in_use, remaining=[other.cert], now=NOW)
    assert refused is not None and refused.reason_code == REASON_IN_USE
    for code in (REASON_IN_USE, REASON_LAST_USABLE_ROOT):
        assert 0 < len(code) <= MAX_REASON_CODE_LEN


def test_anchors_server_chain_needs_the_roots_own_signature_and_validity() -> None:
    root, stranger = make("root"), make("stranger")
    leaf = server(root)
    assert anchors_server_chain(root.cert, leaf, host=HOST, now=NOW)
    assert anchors_server_chain(root.cert, leaf, host=None, now=NOW)  # the signature walk alone
    assert anchors_server_chain(root.cert, leaf, host="192.0.2.1", now=NOW)  # name checked by TLS, not here
    assert not anchors_server_chain(stranger.cert, leaf, host=HOST, now=NOW)
    assert not anchors_server_chain(root.cert, leaf, host=HOST, now=NOW + timedelta(days=400))  # expired
    # A look-alike: same subject as the root, another key.
    twin = make("root")
    assert not anchors_server_chain(root.cert, server(twin), host=HOST, now=NOW)


# --------------------------------------------------------------------------------------------------------------
# 4. M05.FR.13: the fallback goes after the first connection the new root validated
# --------------------------------------------------------------------------------------------------------------


def test_M05_FR_13_the_fallback_is_removed_once_the_new_root_validated_the_connection(
        replaced: tuple[Station, Made, Made]) -> None:
    station, _, a2 = replaced
    assert station.bundle() == {"A", "A2"}
    assert station.store.confirm_new_root(server(a2), HOST) is True
    assert station.roots() == {"A2": "root"}
    assert station.bundle() == {"A2"}
    assert station.store.count() == 1
    assert station.store.confirm_new_root(server(a2), HOST) is False  # nothing left to remove


def test_M05_FR_13_the_fallback_is_removed_for_a_server_certificate_without_subject_alt_name(
        replaced: tuple[Station, Made, Made]) -> None:
    station, _, a2 = replaced
    assert station.store.confirm_new_root(make(HOST, a2, ca=False).cert, HOST) is True
    assert station.roots() == {"A2": "root"}


def test_M05_FR_13_the_fallback_is_kept_while_the_server_certificate_is_signed_by_the_old_root_only(
        replaced: tuple[Station, Made, Made]) -> None:
    station, a, _ = replaced
    assert station.store.confirm_new_root(server(a), HOST) is False
    assert station.roots() == {"A": "fallback", "A2": "root"}
    assert station.bundle() == {"A", "A2"}


def test_M05_FR_13_nothing_changes_without_a_fallback(checked: Station) -> None:
    a = make("A")
    assert checked.install(a) == ACCEPTED
    assert checked.store.confirm_new_root(server(a), HOST) is False
    assert checked.roots() == {"A": "root"}


def test_M05_FR_13_nothing_changes_when_only_the_fallback_is_left(replaced: tuple[Station, Made, Made]) -> None:
    station, a, a2 = replaced
    assert station.store.delete(hash_of(a2, a)) == ACCEPTED
    assert station.store.confirm_new_root(server(a), HOST) is False
    assert station.roots() == {"A": "fallback"}


def _handshake(server_chain: list[x509.Certificate], server_key: ec.EllipticCurvePrivateKey,
               trusted: list[x509.Certificate], partial_chain: bool, tmp_path: Path) -> str:
    """One TLS handshake on 127.0.0.1: "ok" or OpenSSL's verify message."""
    pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in server_chain)
    (tmp_path / "chain.pem").write_bytes(pem)
    (tmp_path / "key.pem").write_bytes(server_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(tmp_path / "chain.pem", tmp_path / "key.pem")
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = listener.accept()
        try:
            with server_context.wrap_socket(conn, server_side=True) as tls:
                tls.recv(1)
        except (ssl.SSLError, OSError):
            pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    client = ssl.create_default_context(
        cadata="".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in trusted))
    client.verify_flags &= ~ssl.VERIFY_X509_PARTIAL_CHAIN  # Python 3.13 sets it by default
    if partial_chain:
        client.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    try:
        with socket.create_connection(listener.getsockname(), timeout=5) as raw, \
                client.wrap_socket(raw, server_hostname="localhost"):
            return "ok"
    except ssl.SSLCertVerificationError as error:
        return str(error.verify_message)
    finally:
        thread.join(5)
        listener.close()


def test_M05_FR_13_a_tls_client_trusting_only_the_new_root_needs_partial_chain(tmp_path: Path) -> None:
    """Why the CSMS link sets ``ssl.VERIFY_X509_PARTIAL_CHAIN``: after M05.FR.13 the trust store holds only
    the new root, which its predecessor signed; without the flag OpenSSL looks for that issuer and fails."""
    real_now = datetime.now(UTC)  # OpenSSL checks the validity periods at the real time
    start, end = real_now - timedelta(days=1), real_now + timedelta(days=30)
    a = make("A", not_before=start, not_after=end)
    a2 = make("A2", a, not_before=start, not_after=end)
    leaf = make("localhost", a2, ca=False, san="localhost", not_before=start, not_after=end)
    assert _handshake([leaf.cert], leaf.key, [a2.cert, a.cert], False, tmp_path) == "ok"  # root + fallback
    assert _handshake([leaf.cert], leaf.key, [a2.cert], False, tmp_path) != "ok"
    assert _handshake([leaf.cert], leaf.key, [a2.cert], True, tmp_path) == "ok"

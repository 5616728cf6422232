"""Unit tests for ocpp_station.station.certificates (OCPP M03/M04/M05 domain logic)."""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from ocpp_station.handlers.base import status_info
from ocpp_station.station.certificates import (
    CertificateHashData,
    CertificateRejected,
    HashAlgorithm,
    check_root_certificate,
    compute_hash_data,
    describe,
    fingerprint_sha256,
    is_signed_by,
    parse_pem_certificate,
    serial_number_hex,
)

from ..seed_vectors import SEED_PEM

# --------------------------------------------------------------------------------------
# Certificate factories
# --------------------------------------------------------------------------------------

NOT_BEFORE = datetime(2024, 1, 1, tzinfo=UTC)
NOT_AFTER = datetime(2044, 1, 1, tzinfo=UTC)
NOW = datetime(2030, 6, 1, tzinfo=UTC)

PrivateKey = (
    rsa.RSAPrivateKey
    | ec.EllipticCurvePrivateKey
    | dsa.DSAPrivateKey
    | ed25519.Ed25519PrivateKey
)

CA_KEY_USAGE = x509.KeyUsage(
    digital_signature=False,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)
LEAF_KEY_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=True,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=False,
    crl_sign=False,
    encipher_only=False,
    decipher_only=False,
)

_DEFAULT = object()


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ocpp-station tests"),
        ]
    )


def make_cert(
    key: PrivateKey,
    cn: str,
    *,
    issuer: x509.Certificate | None = None,
    issuer_key: PrivateKey | None = None,
    ca: bool | None = True,
    key_usage: x509.KeyUsage | object | None = _DEFAULT,
    not_before: datetime = NOT_BEFORE,
    not_after: datetime = NOT_AFTER,
    serial: int = 0x1001,
) -> x509.Certificate:
    """Build a certificate; self-signed unless issuer/issuer_key are given.

    ``ca=None`` omits basicConstraints, ``key_usage=None`` omits keyUsage.
    """
    subject = _name(cn)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject if issuer is not None else subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    if ca is not None:
        builder = builder.add_extension(
            x509.BasicConstraints(ca=ca, path_length=None), critical=True
        )
    if key_usage is _DEFAULT:
        key_usage = CA_KEY_USAGE if ca else LEAF_KEY_USAGE
    if isinstance(key_usage, x509.KeyUsage):
        builder = builder.add_extension(key_usage, critical=True)
    signer = issuer_key if issuer_key is not None else key
    algorithm = (
        None if isinstance(signer, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    )
    return builder.sign(signer, algorithm)


def to_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


# Minimal DER helpers, used to build certificates cryptography's builder refuses to
# make (X.509 v1, serial 0, oversized serial) by editing and re-signing a TBS.


def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _der_tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _der_len(len(content)) + content


def _der_children(der: bytes) -> list[bytes]:
    """Split the content of the outer constructed element into child TLVs."""

    def header(pos: int) -> tuple[int, int]:  # -> (content start, content length)
        first = der[pos + 1]
        if first < 0x80:
            return pos + 2, first
        count = first & 0x7F
        return pos + 2 + count, int.from_bytes(der[pos + 2 : pos + 2 + count], "big")

    start, length = header(0)
    children, pos = [], start
    while pos < start + length:
        content_start, content_len = header(pos)
        children.append(der[pos : content_start + content_len])
        pos = content_start + content_len
    return children


def resign(
    cert: x509.Certificate,
    key: ec.EllipticCurvePrivateKey,
    edit: Callable[[list[bytes]], list[bytes]],
) -> x509.Certificate:
    """Re-sign ``cert`` (ECDSA-SHA256) after ``edit`` changed the TBS children."""
    tbs = _der_tlv(0x30, b"".join(edit(_der_children(cert.tbs_certificate_bytes))))
    signature_algorithm = _der_children(cert.public_bytes(serialization.Encoding.DER))[
        1
    ]
    signature = key.sign(tbs, ec.ECDSA(hashes.SHA256()))
    der = _der_tlv(
        0x30, tbs + signature_algorithm + _der_tlv(0x03, b"\x00" + signature)
    )
    return x509.load_der_x509_certificate(der)


def _der_integer(value: int) -> bytes:
    return _der_tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


# --------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------


@functools.cache
def _ec_key(curve_name: str = "secp256r1") -> ec.EllipticCurvePrivateKey:
    curves = {"secp256r1": ec.SECP256R1, "secp224r1": ec.SECP224R1}
    return ec.generate_private_key(curves[curve_name]())


@functools.cache
def _rsa_key(bits: int, index: int = 0) -> rsa.RSAPrivateKey:
    del index  # only part of the cache key: lets tests ask for distinct keys
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


@pytest.fixture(scope="module")
def ec_root_key() -> ec.EllipticCurvePrivateKey:
    return _ec_key()


@pytest.fixture(scope="module")
def ec_root(ec_root_key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    return make_cert(ec_root_key, "Test EC Root CA", serial=0x0A)


@pytest.fixture(scope="module")
def rsa_root_key() -> rsa.RSAPrivateKey:
    return _rsa_key(2048)


@pytest.fixture(scope="module")
def rsa_root(rsa_root_key: rsa.RSAPrivateKey) -> x509.Certificate:
    return make_cert(rsa_root_key, "Test RSA Root CA", serial=4095)


@pytest.fixture(scope="module")
def rsa_sub_key() -> rsa.RSAPrivateKey:
    return _rsa_key(2048, 1)


@pytest.fixture(scope="module")
def rsa_sub(
    rsa_sub_key: rsa.RSAPrivateKey,
    ec_root: x509.Certificate,
    ec_root_key: ec.EllipticCurvePrivateKey,
) -> x509.Certificate:
    """RSA sub-CA signed by the EC root."""
    return make_cert(
        rsa_sub_key,
        "Test RSA Sub CA",
        issuer=ec_root,
        issuer_key=ec_root_key,
        serial=0x5B,
    )


@pytest.fixture(scope="module")
def leaf(rsa_sub: x509.Certificate, rsa_sub_key: rsa.RSAPrivateKey) -> x509.Certificate:
    return make_cert(
        _ec_key("secp224r1"), "CS0001", issuer=rsa_sub, issuer_key=rsa_sub_key, ca=False
    )


def assert_rejected(exc: CertificateRejected, *fragments: str) -> None:
    assert exc.reason_code == "InvalidCertificate"
    assert 0 < len(exc.additional_info) <= 512
    for fragment in fragments:
        assert fragment in exc.additional_info, exc.additional_info


def reject_root(cert: x509.Certificate, *fragments: str, now: datetime = NOW) -> None:
    with pytest.raises(CertificateRejected) as info:
        check_root_certificate(cert, now)
    assert_rejected(info.value, *fragments)


def reject_pem(text: str, *fragments: str) -> None:
    with pytest.raises(CertificateRejected) as info:
        parse_pem_certificate(text)
    assert_rejected(info.value, *fragments)


# --------------------------------------------------------------------------------------
# Seed vector (public OCTT test certificate, from the InstallCertificate example)
# --------------------------------------------------------------------------------------

OCTT_ROOT_CA_2_PEM = SEED_PEM

# certificateHashData of the DeleteCertificate example in the same seed.
OCTT_ROOT_CA_2_HASH_DATA = {
    "hashAlgorithm": "SHA256",
    "issuerKeyHash": "6fb6606900c9143982873363e815ae67163667c5792cd919afd37783bbff3095",
    "issuerNameHash": "d1c53ae0a9d11dda803bf38fc580dc9869ffb234b561fa624a20e618ce4bb656",
    "serialNumber": "4",
}


def test_M03_FR_04_seed_install_certificate_gives_seed_delete_hash_data() -> None:
    cert = parse_pem_certificate(OCTT_ROOT_CA_2_PEM)
    data = compute_hash_data(cert, cert)
    assert data.to_ocpp() == OCTT_ROOT_CA_2_HASH_DATA
    assert data.matches(CertificateHashData.from_ocpp(OCTT_ROOT_CA_2_HASH_DATA))


def test_M05_FR_02_seed_certificate_is_a_valid_root() -> None:
    cert = parse_pem_certificate(OCTT_ROOT_CA_2_PEM)
    check_root_certificate(cert, datetime(2025, 1, 1, tzinfo=UTC))
    check_root_certificate(
        cert, datetime(2064, 5, 20, 13, 17, 20, tzinfo=UTC)
    )  # notAfter


def test_M05_FR_07_seed_certificate_outside_validity_rejected() -> None:
    cert = parse_pem_certificate(OCTT_ROOT_CA_2_PEM)
    reject_root(cert, "not valid yet", now=datetime(2024, 5, 30, tzinfo=UTC))
    reject_root(cert, "expired", now=datetime(2064, 5, 20, 13, 17, 21, tzinfo=UTC))


# --------------------------------------------------------------------------------------
# Hash data vs. an independent computation (openssl ocsp)
# --------------------------------------------------------------------------------------

OPENSSL = shutil.which("openssl")


def openssl_cert_id(
    tmp_path: Path, cert: x509.Certificate, issuer: x509.Certificate, digest: str
) -> dict[str, str]:
    """CertID of an OCSP request built by the openssl CLI, as printed by -req_text."""
    assert OPENSSL is not None
    cert_pem, issuer_pem, req = (
        tmp_path / "cert.pem",
        tmp_path / "issuer.pem",
        tmp_path / "req.der",
    )
    cert_pem.write_text(to_pem(cert))
    issuer_pem.write_text(to_pem(issuer))
    # The digest option must come before -cert (openssl 3 applies it to the next -cert).
    subprocess.run(
        [OPENSSL, "ocsp", "-issuer", issuer_pem, f"-{digest}", "-cert", cert_pem,
         "-no_nonce", "-reqout", req],
        check=True, capture_output=True,
    )  # fmt: skip
    text = subprocess.run(
        [OPENSSL, "ocsp", "-reqin", req, "-req_text"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    # Long hex values are wrapped with a trailing backslash; join continuation lines.
    text = re.sub(r"\\\s*\n\s*", "", text)
    fields = {}
    for label in (
        "Hash Algorithm",
        "Issuer Name Hash",
        "Issuer Key Hash",
        "Serial Number",
    ):
        match = re.search(rf"^\s*{label}:\s*(\S+)\s*$", text, re.MULTILINE)
        assert match, f"{label!r} not found in openssl output:\n{text}"
        fields[label] = match.group(1)
    return fields


@pytest.mark.skipif(OPENSSL is None, reason="openssl CLI not available")
@pytest.mark.parametrize("algorithm", list(HashAlgorithm))
@pytest.mark.parametrize("case", ["ec_root", "rsa_root", "rsa_sub", "leaf"])
def test_M03_FR_04_hash_data_matches_openssl(
    request: pytest.FixtureRequest, tmp_path: Path, case: str, algorithm: HashAlgorithm
) -> None:
    cert: x509.Certificate = request.getfixturevalue(case)
    issuer = {
        "ec_root": cert,
        "rsa_root": cert,
        "rsa_sub": request.getfixturevalue("ec_root"),
        "leaf": request.getfixturevalue("rsa_sub"),
    }[case]
    expected = openssl_cert_id(tmp_path, cert, issuer, algorithm.value.lower())
    data = compute_hash_data(cert, issuer, algorithm)

    assert expected["Hash Algorithm"] == algorithm.value.lower()
    assert data.hash_algorithm is algorithm
    assert data.issuer_name_hash == expected["Issuer Name Hash"].lower()
    assert data.issuer_key_hash == expected["Issuer Key Hash"].lower()
    assert int(data.serial_number, 16) == int(expected["Serial Number"], 16)
    assert (
        len(data.issuer_name_hash)
        == len(data.issuer_key_hash)
        == {
            HashAlgorithm.SHA256: 64,
            HashAlgorithm.SHA384: 96,
            HashAlgorithm.SHA512: 128,
        }[algorithm]
    )


@pytest.mark.skipif(OPENSSL is None, reason="openssl CLI not available")
def test_M03_FR_04_seed_hash_data_matches_openssl(tmp_path: Path) -> None:
    cert = parse_pem_certificate(OCTT_ROOT_CA_2_PEM)
    expected = openssl_cert_id(tmp_path, cert, cert, "sha256")
    assert (
        expected["Issuer Name Hash"].lower()
        == OCTT_ROOT_CA_2_HASH_DATA["issuerNameHash"]
    )
    assert (
        expected["Issuer Key Hash"].lower() == OCTT_ROOT_CA_2_HASH_DATA["issuerKeyHash"]
    )


def test_hash_data_issuer_key_hash_is_over_subject_public_key_bits(
    ec_root: x509.Certificate, rsa_sub: x509.Certificate
) -> None:
    """Second cross-check: the RFC 6960 definitions computed by hand."""
    ec_bits = ec_root.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    for algorithm, digest in [(HashAlgorithm.SHA256, hashes.SHA256()),
                              (HashAlgorithm.SHA512, hashes.SHA512())]:  # fmt: skip
        data = compute_hash_data(rsa_sub, ec_root, algorithm)
        h = hashes.Hash(digest)
        h.update(ec_bits)
        assert data.issuer_key_hash == h.finalize().hex()
        h = hashes.Hash(digest)
        h.update(rsa_sub.issuer.public_bytes())
        assert data.issuer_name_hash == h.finalize().hex()


def test_compute_hash_data_wrong_issuer_raises(
    rsa_sub: x509.Certificate, rsa_root: x509.Certificate
) -> None:
    with pytest.raises(ValueError, match="issuer mismatch"):
        compute_hash_data(rsa_sub, rsa_root)


# --------------------------------------------------------------------------------------
# Serial formatting and matching
# --------------------------------------------------------------------------------------


def test_serial_4095_is_fff(rsa_root: x509.Certificate) -> None:
    assert compute_hash_data(rsa_root, rsa_root).serial_number == "fff"


@pytest.mark.filterwarnings("ignore:Parsed a serial number which wasn't positive")
def test_serial_zero_is_0(ec_root: x509.Certificate) -> None:
    assert serial_number_hex(0) == "0"
    # cryptography's builder refuses serial 0, so patch it into the TBS and re-sign.
    # (cryptography deprecates parsing such certificates; skip once it refuses them.)
    try:
        cert = resign(ec_root, _ec_key(), lambda c: [c[0], _der_integer(0), *c[2:]])
        serial = cert.serial_number
    except ValueError:
        pytest.skip("cryptography no longer loads certificates with serial 0")
    assert serial == 0
    assert compute_hash_data(cert, cert).serial_number == "0"
    check_root_certificate(cert, NOW)


@pytest.mark.skipif(OPENSSL is None, reason="openssl CLI not available")
def test_serial_20_bytes_with_leading_zero_byte(tmp_path: Path) -> None:
    raw = bytes([0x00, 0x0F]) + bytes(range(0xA1, 0xB3))  # 20 bytes, first one zero
    assert len(raw) == 20
    serial = int.from_bytes(raw, "big")
    key = _ec_key()
    cert = make_cert(key, "Long serial root", serial=serial)
    data = compute_hash_data(cert, cert)
    assert data.serial_number == raw.hex().lstrip("0")
    assert data.serial_number.startswith("fa1a2")
    assert len(data.serial_number) == 37
    assert (
        int(openssl_cert_id(tmp_path, cert, cert, "sha256")["Serial Number"], 16)
        == serial
    )


def test_serial_longer_than_20_octets_rejected(ec_root: x509.Certificate) -> None:
    huge = (1 << 164) - 1  # 41 hex digits: cannot fit serialNumber (40 characters)
    try:
        cert = resign(ec_root, _ec_key(), lambda c: [c[0], _der_integer(huge), *c[2:]])
        serial = cert.serial_number
    except ValueError:
        pytest.skip("cryptography refuses to parse serials longer than 20 octets")
    assert serial == huge
    reject_root(cert, "serial number longer than 20 octets")


def test_serial_number_hex_negative_raises() -> None:
    with pytest.raises(ValueError, match="negative"):
        serial_number_hex(-1)


def _hd(
    serial: str = "fff",
    name: str = "ab" * 32,
    key: str = "cd" * 32,
    algorithm: HashAlgorithm = HashAlgorithm.SHA256,
) -> CertificateHashData:
    return CertificateHashData(algorithm, name, key, serial)


def test_M04_matches_is_case_insensitive() -> None:
    assert _hd().matches(_hd(serial="FFF", name="AB" * 32, key="Cd" * 32))


def test_M04_matches_tolerates_leading_zeros_in_serial() -> None:
    assert _hd().matches(_hd(serial="0fff"))
    assert _hd(serial="000FFF").matches(_hd())
    assert _hd(serial="0").matches(_hd(serial="0000"))


def test_M04_matches_rejects_0x_prefix_and_other_values() -> None:
    assert not _hd().matches(_hd(serial="0xfff"))
    assert not _hd().matches(_hd(serial="ffe"))
    assert not _hd().matches(_hd(name="ab" * 31 + "ac"))
    assert not _hd().matches(_hd(key="cd" * 31 + "ce"))


def test_M04_FR_07_matches_requires_same_hash_algorithm(
    ec_root: x509.Certificate,
) -> None:
    sha256 = compute_hash_data(ec_root, ec_root, HashAlgorithm.SHA256)
    sha384 = compute_hash_data(ec_root, ec_root, HashAlgorithm.SHA384)
    assert not sha256.matches(sha384)
    relabelled = CertificateHashData(
        HashAlgorithm.SHA384, sha256.issuer_name_hash, sha256.issuer_key_hash, "a"
    )
    assert not sha256.matches(relabelled)


def test_hash_data_ocpp_round_trip() -> None:
    received = {
        "hashAlgorithm": "SHA512",
        "issuerNameHash": "AB" * 64,
        "issuerKeyHash": "Cd" * 64,
        "serialNumber": "00FF",
    }
    data = CertificateHashData.from_ocpp(received)
    assert data.hash_algorithm is HashAlgorithm.SHA512
    assert data.to_ocpp() == received  # kept verbatim
    assert data.normalized().to_ocpp() == {
        "hashAlgorithm": "SHA512",
        "issuerNameHash": "ab" * 64,
        "issuerKeyHash": "cd" * 64,
        "serialNumber": "ff",
    }


def test_hash_data_from_ocpp_invalid() -> None:
    good = dict(OCTT_ROOT_CA_2_HASH_DATA)
    with pytest.raises(ValueError, match="hashAlgorithm"):
        CertificateHashData.from_ocpp({**good, "hashAlgorithm": "SHA1"})
    with pytest.raises(ValueError, match="serialNumber"):
        CertificateHashData.from_ocpp(
            {k: v for k, v in good.items() if k != "serialNumber"}
        )
    with pytest.raises(TypeError, match="serialNumber"):
        CertificateHashData.from_ocpp({**good, "serialNumber": 4})


def test_hash_algorithm_values() -> None:
    assert [a.value for a in HashAlgorithm] == ["SHA256", "SHA384", "SHA512"]


# --------------------------------------------------------------------------------------
# Accepted roots
# --------------------------------------------------------------------------------------


def test_M05_FR_02_ec_and_rsa_roots_accepted(
    ec_root: x509.Certificate, rsa_root: x509.Certificate
) -> None:
    for cert in (ec_root, rsa_root):
        assert parse_pem_certificate(to_pem(cert)) == cert
        check_root_certificate(cert, NOW)
        check_root_certificate(cert, NOT_BEFORE)  # validity bounds are inclusive
        check_root_certificate(cert, NOT_AFTER)


def test_A00_FR_503_ec_p224_root_accepted() -> None:
    check_root_certificate(make_cert(_ec_key("secp224r1"), "P-224 root"), NOW)


def test_ed25519_root_accepted() -> None:
    check_root_certificate(
        make_cert(ed25519.Ed25519PrivateKey.generate(), "Ed root"), NOW
    )


def test_M05_FR_10_sub_ca_accepted_when_self_signature_not_required(
    rsa_sub: x509.Certificate,
) -> None:
    check_root_certificate(rsa_sub, NOW, require_self_signed=False)


def test_check_root_certificate_requires_aware_now(ec_root: x509.Certificate) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        check_root_certificate(ec_root, datetime(2030, 1, 1))


# --------------------------------------------------------------------------------------
# Rejected roots (M05.FR.07: invalid certificate -> Rejected)
# --------------------------------------------------------------------------------------


def test_M05_FR_07_expired_root_rejected() -> None:
    cert = make_cert(_ec_key(), "Expired root", not_after=NOW - timedelta(seconds=1))
    reject_root(cert, "expired", "notAfter 2030-05-31T23:59:59Z")


def test_M05_FR_07_not_yet_valid_root_rejected() -> None:
    cert = make_cert(_ec_key(), "Future root", not_before=NOW + timedelta(days=1))
    reject_root(cert, "not valid yet", "notBefore 2030-06-02")


def test_M05_FR_07_ca_false_rejected() -> None:
    cert = make_cert(_ec_key(), "Not a CA", ca=False, key_usage=CA_KEY_USAGE)
    reject_root(cert, "CA=false")


def test_M05_FR_07_missing_basic_constraints_rejected() -> None:
    cert = make_cert(_ec_key(), "No BC", ca=None, key_usage=CA_KEY_USAGE)
    reject_root(cert, "basicConstraints extension missing")


def test_M05_FR_07_key_usage_without_key_cert_sign_rejected() -> None:
    cert = make_cert(_ec_key(), "No keyCertSign", key_usage=LEAF_KEY_USAGE)
    reject_root(cert, "keyUsage lacks keyCertSign")


def test_M05_FR_07_missing_key_usage_rejected() -> None:
    cert = make_cert(_ec_key(), "No KU", key_usage=None)
    reject_root(cert, "keyUsage extension missing")


def test_M05_FR_07_not_self_signed_rejected(rsa_sub: x509.Certificate) -> None:
    reject_root(rsa_sub, "not self-signed", "Test EC Root CA")


def test_M05_FR_07_bad_self_signature_rejected(rsa_root_key: rsa.RSAPrivateKey) -> None:
    # issuer == subject, but the signature was made with a different key.
    cert = make_cert(_ec_key(), "Forged root", issuer_key=rsa_root_key)
    assert cert.issuer == cert.subject
    reject_root(cert, "self-signature")


def test_M05_FR_07_leaf_rejected(leaf: x509.Certificate) -> None:
    reject_root(leaf, "CA=false", "keyCertSign", "not self-signed")


def test_M05_FR_07_all_problems_reported_together() -> None:
    cert = make_cert(
        _rsa_key(1024),
        "Bad",
        ca=False,
        key_usage=None,
        not_after=NOW - timedelta(days=1),
    )
    reject_root(
        cert, "expired", "CA=false", "keyUsage extension missing", "RSA key of 1024"
    )


def test_A00_FR_502_rsa_1024_root_rejected() -> None:
    reject_root(make_cert(_rsa_key(1024), "Weak RSA root"), "RSA key of 1024 bits")


def test_A00_FR_502_dsa_1024_root_rejected() -> None:
    try:
        key = dsa.generate_private_key(key_size=1024)
        cert = make_cert(key, "Weak DSA root")
    except (UnsupportedAlgorithm, ValueError, TypeError):
        pytest.skip(
            "DSA-1024 certificates cannot be built with this cryptography/OpenSSL"
        )
    reject_root(cert, "DSA key of 1024 bits")


def test_A00_FR_503_ec_p192_root_rejected() -> None:
    try:
        cert = make_cert(ec.generate_private_key(ec.SECP192R1()), "Weak EC root")
    except (UnsupportedAlgorithm, ValueError):
        pytest.skip("P-192 is not supported by this cryptography/OpenSSL")
    reject_root(cert, "EC key on secp192r1 (192 bits)")


def test_M05_FR_07_x509_v1_rejected() -> None:
    key = _ec_key()
    v3 = make_cert(key, "Version 1 root", ca=None, key_usage=None)  # no extensions

    def drop_version(children: list[bytes]) -> list[bytes]:
        assert children[0][0] == 0xA0  # [0] EXPLICIT version
        return children[1:]

    try:
        cert = resign(v3, key, drop_version)
        version = cert.version
    except ValueError:
        pytest.skip("cryptography cannot load an X.509 v1 certificate")
    assert version is x509.Version.v1
    assert parse_pem_certificate(to_pem(cert)) == cert
    reject_root(cert, "X.509 v1 certificate", "basicConstraints extension missing")


# --------------------------------------------------------------------------------------
# PEM parsing (A00.FR.507: PEM only)
# --------------------------------------------------------------------------------------


def test_A00_FR_507_pem_with_surrounding_whitespace_accepted(
    ec_root: x509.Certificate,
) -> None:
    assert parse_pem_certificate("\n\n  " + to_pem(ec_root) + "\r\n\t ") == ec_root
    crlf = to_pem(ec_root).replace("\n", "\r\n")
    assert parse_pem_certificate(crlf) == ec_root


def test_A00_FR_507_garbage_rejected() -> None:
    reject_pem("this is not a certificate", "no PEM armour")


def test_A00_FR_507_empty_rejected() -> None:
    reject_pem("", "empty")
    reject_pem("  \n\t", "empty")


def test_A00_FR_507_two_certificates_rejected(
    ec_root: x509.Certificate, rsa_root: x509.Certificate
) -> None:
    reject_pem(to_pem(ec_root) + to_pem(rsa_root), "2 certificates", "exactly one")


def test_A00_FR_507_private_key_rejected(
    ec_root_key: ec.EllipticCurvePrivateKey,
) -> None:
    pem = ec_root_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    with pytest.raises(CertificateRejected) as info:
        parse_pem_certificate(pem)
    assert_rejected(info.value, "PRIVATE KEY block instead of a CERTIFICATE")
    body = "".join(pem.strip().splitlines()[1:-1])
    assert body[:16] not in info.value.additional_info  # never echo key material


def test_A00_FR_507_private_key_next_to_certificate_rejected(
    ec_root: x509.Certificate, ec_root_key: ec.EllipticCurvePrivateKey
) -> None:
    key_pem = ec_root_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    reject_pem(to_pem(ec_root) + key_pem, "EC PRIVATE KEY")


def test_A00_FR_507_csr_rejected(ec_root_key: ec.EllipticCurvePrivateKey) -> None:
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(_name("CSR"))
        .sign(ec_root_key, hashes.SHA256())
    )
    reject_pem(
        csr.public_bytes(serialization.Encoding.PEM).decode(), "CERTIFICATE REQUEST"
    )


def test_A00_FR_507_base64_der_without_armour_rejected(
    ec_root: x509.Certificate,
) -> None:
    body = "".join(to_pem(ec_root).strip().splitlines()[1:-1])
    reject_pem(body, "no PEM armour")


def test_A00_FR_507_unparseable_body_rejected() -> None:
    pem = "-----BEGIN CERTIFICATE-----\nTm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"
    reject_pem(pem, "not a valid X.509 certificate")


def test_A00_FR_507_truncated_body_rejected(ec_root: x509.Certificate) -> None:
    lines = to_pem(ec_root).splitlines()
    reject_pem("\n".join([lines[0], *lines[1:3], lines[-1]]), "not a valid X.509")


def test_A00_FR_507_unterminated_block_rejected(ec_root: x509.Certificate) -> None:
    reject_pem(to_pem(ec_root).replace("-----END CERTIFICATE-----", ""), "BEGIN/END")


def test_A00_FR_507_text_around_block_rejected(ec_root: x509.Certificate) -> None:
    reject_pem("subject=CN=Test\n" + to_pem(ec_root), "unexpected text")
    reject_pem(to_pem(ec_root) + "trailing", "unexpected text")


# --------------------------------------------------------------------------------------
# AdditionalRootCertificateCheck, fingerprint, describe, exception bounds
# --------------------------------------------------------------------------------------


def test_M05_FR_10_is_signed_by_true(
    rsa_sub: x509.Certificate, ec_root: x509.Certificate, leaf: x509.Certificate
) -> None:
    assert is_signed_by(rsa_sub, ec_root)
    assert is_signed_by(leaf, rsa_sub)
    assert is_signed_by(ec_root, ec_root)


def test_M05_FR_11_is_signed_by_false(
    rsa_sub: x509.Certificate,
    rsa_root: x509.Certificate,
    ec_root: x509.Certificate,
    leaf: x509.Certificate,
) -> None:
    assert not is_signed_by(rsa_sub, rsa_root)  # different issuer name
    assert not is_signed_by(ec_root, rsa_sub)
    assert not is_signed_by(leaf, ec_root)
    # Same issuer name, different key: the name matches but the signature does not.
    impostor = make_cert(_rsa_key(2048, 2), "Test EC Root CA")
    assert impostor.subject == ec_root.subject
    assert not is_signed_by(rsa_sub, impostor)


def test_M05_FR_17_fingerprint_identifies_identical_certificate(
    ec_root: x509.Certificate, rsa_root: x509.Certificate
) -> None:
    again = parse_pem_certificate(to_pem(ec_root))
    assert fingerprint_sha256(again) == fingerprint_sha256(ec_root)
    assert fingerprint_sha256(ec_root) != fingerprint_sha256(rsa_root)
    assert re.fullmatch(r"[0-9a-f]{64}", fingerprint_sha256(ec_root))
    seed = parse_pem_certificate(OCTT_ROOT_CA_2_PEM)
    assert fingerprint_sha256(seed) == seed.fingerprint(hashes.SHA256()).hex()


def test_describe() -> None:
    text = describe(parse_pem_certificate(OCTT_ROOT_CA_2_PEM))
    assert text == "'OCTT Root CA 2' serial 4 valid until 2064-05-20"


def test_describe_without_common_name() -> None:
    key = _ec_key()
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "No CN Org")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(255)
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .sign(key, hashes.SHA256())
    )
    assert describe(cert) == "'O=No CN Org' serial ff valid until 2044-01-01"


def test_certificate_rejected_bounds() -> None:
    exc = CertificateRejected("x" * 2000)
    assert exc.reason_code == "InvalidCertificate"
    assert str(exc) == exc.additional_info
    # cut once, per version, where it becomes a StatusInfo (512 in 2.0.1, 1024 in 2.1)
    assert len(status_info(exc.reason_code, exc.additional_info, "ocpp2.0.1")["additionalInfo"]) == 512
    assert len(status_info(exc.reason_code, exc.additional_info, "ocpp2.1")["additionalInfo"]) == 1024
    assert CertificateRejected("  ").additional_info  # never empty
    assert CertificateRejected("full", reason_code="TooLargeElement").reason_code == (
        "TooLargeElement"
    )
    with pytest.raises(ValueError, match="reason_code"):
        CertificateRejected("info", reason_code="X" * 21)


def test_M05_FR_07_a_certificate_with_an_unreadable_issuer_is_rejected_not_a_crash() -> None:
    """Found by the fuzzer: cryptography reads names lazily, so a one-byte change inside the issuer
    passed loading and then raised ValueError in the middle of the root checks."""
    corrupted = SEED_PEM.replace("T3BlbiBDaGFy", "T3Bl7iBDaGFy")
    with pytest.raises(CertificateRejected, match="issuer cannot be read") as caught:
        parse_pem_certificate(corrupted)
    assert caught.value.reason_code == "InvalidCertificate"

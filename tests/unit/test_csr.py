"""The station's keys and CSRs, and the check of a CertificateSigned chain (A00.FR.5xx, A02, A03).

Real keys and certificates throughout, made with ``cryptography``; the CSR is checked independently
with the ``openssl`` command line.
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import ExtensionOID, NameOID

from ocpp_station.config import KEY_ALGORITHMS, Security
from ocpp_station.oem_ca import CertificateAuthority
from ocpp_station.station.certificates import CertificateRejected
from ocpp_station.station.csr import (
    MAX_SUB_CAS,
    KeyAlgorithm,
    PrivateKey,
    build_csr,
    check_signed_chain,
    generate_key,
    key_from_pem,
    key_to_pem,
    public_key_der,
)
from tests.support import ca_certificate

CN, ORG = "cs-0001", "Example CSO"
NOW = datetime.now(UTC)
DAY = timedelta(days=1)


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _ca(cn: str, issuer: CertificateAuthority | None = None, *, start: datetime = NOW - DAY,
        end: datetime = NOW + 3650 * DAY, ca: bool = True) -> CertificateAuthority:
    """A CA (or, with ``ca=False``, a certificate that is none) with the given validity period."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    cert = (x509.CertificateBuilder().subject_name(name)
            .issuer_name(issuer.certificate.subject if issuer else name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .sign(_ec_key(issuer) if issuer else key, hashes.SHA256()))
    chain = () if issuer is None or issuer.certificate.issuer == issuer.certificate.subject else (
        issuer.certificate, *issuer.chain)
    return CertificateAuthority(cert, key, chain)


def _ec_key(ca: CertificateAuthority) -> ec.EllipticCurvePrivateKey:
    assert isinstance(ca.key, ec.EllipticCurvePrivateKey)
    return ca.key


@pytest.fixture(scope="module")
def root() -> CertificateAuthority:
    cert, key = ca_certificate("CSO Root")
    return CertificateAuthority(cert, key)


@pytest.fixture(scope="module")
def station_key() -> PrivateKey:
    return generate_key(KeyAlgorithm.EC_P256)


def _check(chain: str, key: PrivateKey, roots: list[x509.Certificate], *, now: datetime = NOW,
           max_chain_size: int | None = None) -> list[x509.Certificate]:
    return check_signed_chain(chain, public_key=public_key_der(key), common_name=CN, organization=ORG,
                              roots=roots, now=now, max_chain_size=max_chain_size)


def _rejected(chain: str, key: PrivateKey, roots: list[x509.Certificate], *,
              max_chain_size: int | None = None) -> CertificateRejected:
    with pytest.raises(CertificateRejected) as caught:
        _check(chain, key, roots, max_chain_size=max_chain_size)
    assert len(caught.value.reason_code) <= 20
    assert "BEGIN" not in caught.value.additional_info  # never a certificate or key body
    return caught.value


def _openssl(*args: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command line is not installed")
    return subprocess.run(["openssl", *args], capture_output=True, text=True, check=False, timeout=30)


# --- keys -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", list(KeyAlgorithm))
def test_A02_FR_02_every_key_algorithm_generates_a_csr_openssl_accepts(algorithm: KeyAlgorithm,
                                                                       tmp_path: Path) -> None:
    key = generate_key(algorithm)
    if algorithm.value.startswith("ec-"):
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        assert key.curve.key_size == int(algorithm.value.removeprefix("ec-p"))
    else:
        assert isinstance(key, rsa.RSAPrivateKey)
        assert key.key_size == int(algorithm.value.removeprefix("rsa-"))
    path = tmp_path / "station.csr"
    path.write_text(build_csr(key, common_name=CN, organization=ORG))
    verified = _openssl("req", "-in", str(path), "-verify", "-noout")
    assert verified.returncode == 0, verified.stderr
    subject = _openssl("req", "-in", str(path), "-subject", "-noout")
    assert subject.returncode == 0, subject.stderr
    assert f"CN = {CN}" in subject.stdout and f"O = {ORG}" in subject.stdout, subject.stdout


def test_KeyAlgorithm_spells_the_values_of_the_setting() -> None:
    assert tuple(KeyAlgorithm) == KEY_ALGORITHMS and Security().key_algorithm == KeyAlgorithm.EC_P256


def test_A02_FR_05_key_pem_round_trip_is_pkcs8_unencrypted(station_key: PrivateKey) -> None:
    pem = key_to_pem(station_key)
    assert pem.startswith("-----BEGIN PRIVATE KEY-----")
    assert public_key_der(key_from_pem(pem)) == public_key_der(station_key)


@pytest.mark.parametrize("text", ["", "garbage", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"])
def test_key_from_pem_unreadable_raises_value_error_without_the_text(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        key_from_pem(text)
    assert "AAAA" not in str(caught.value)


def test_key_from_pem_refuses_keys_other_than_ec_or_rsa() -> None:
    pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    with pytest.raises(ValueError, match="not an EC or RSA"):
        key_from_pem(pem)


def test_key_from_pem_refuses_an_encrypted_key(station_key: PrivateKey) -> None:
    pem = station_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.BestAvailableEncryption(b"secret")).decode()
    with pytest.raises(ValueError):
        key_from_pem(pem)


# --- the CSR ----------------------------------------------------------------------------------------


def test_A00_FR_511_csr_subject_cn_and_o(station_key: PrivateKey) -> None:
    csr = x509.load_pem_x509_csr(build_csr(station_key, common_name=CN, organization=ORG).encode())
    assert csr.is_signature_valid
    assert [a.value for a in csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)] == [CN]
    assert [a.value for a in csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)] == [ORG]  # A00.FR.509
    assert isinstance(csr.signature_hash_algorithm, hashes.SHA256)  # A00.FR.506
    assert public_key_der(csr) == public_key_der(station_key)


@pytest.mark.parametrize("algorithm", [KeyAlgorithm.EC_P256, KeyAlgorithm.RSA_2048])
def test_A00_FR_512_514_csr_restricts_key_usage_without_san_or_eku(algorithm: KeyAlgorithm) -> None:
    key = generate_key(algorithm)
    csr = x509.load_pem_x509_csr(build_csr(key, common_name=CN, organization=ORG).encode())
    usage = csr.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and not usage.value.key_cert_sign
    is_ec = algorithm is KeyAlgorithm.EC_P256
    assert usage.value.key_agreement is is_ec and usage.value.key_encipherment is not is_ec
    present = {e.oid for e in csr.extensions}
    assert ExtensionOID.SUBJECT_ALTERNATIVE_NAME not in present  # A00.FR.511 note
    assert ExtensionOID.EXTENDED_KEY_USAGE not in present  # A00.FR.514


@pytest.mark.parametrize(("cn", "org"), [
    ("", ORG), ("   ", ORG), (CN, ""), ("https://cs.example.com", ORG), ("wss://cs.example.com/ocpp", ORG),
    ("www.example.com", ORG), ("192.0.2.7", ORG), ("2001:db8::1", ORG), ("[2001:db8::1]", ORG),
    ("x" * 65, ORG), (CN, "o" * 65),
])
def test_A00_FR_511_csr_refuses_empty_names_urls_and_ip_addresses(station_key: PrivateKey, cn: str, org: str) -> None:
    with pytest.raises(ValueError):
        build_csr(station_key, common_name=cn, organization=org)


# --- check_signed_chain: accepted -------------------------------------------------------------------


def test_A02_FR_06_signed_certificate_accepted_and_leaf_returned(root: CertificateAuthority,
                                                                  station_key: PrivateKey) -> None:
    chain = root.sign(build_csr(station_key, common_name=CN, organization=ORG))
    result = _check(chain, station_key, [root.certificate])
    assert len(result) == 1
    assert public_key_der(result[0]) == public_key_der(station_key)
    assert result[0].issuer == root.certificate.subject


def test_A02_FR_08_future_not_before_accepted(root: CertificateAuthority, station_key: PrivateKey) -> None:
    chain = root.sign(build_csr(station_key, common_name=CN, organization=ORG), not_before=NOW + 2 * DAY)
    assert _check(chain, station_key, [root.certificate])[0].not_valid_before_utc > NOW


def test_A02_FR_06_chain_with_one_sub_ca_under_a_root_accepted(root: CertificateAuthority,
                                                               station_key: PrivateKey) -> None:
    sub = _ca("CSO Sub-CA", root)
    chain = sub.sign(build_csr(station_key, common_name=CN, organization=ORG))
    result = _check(chain, station_key, [ca_certificate("Other Root")[0], root.certificate])
    assert [c.subject for c in result] == [result[0].subject, sub.certificate.subject]


def test_A02_FR_06_trailing_root_in_roots_accepted_and_dropped(root: CertificateAuthority,
                                                               station_key: PrivateKey) -> None:
    chain = root.sign(build_csr(station_key, common_name=CN, organization=ORG)) + _pem(root.certificate)
    result = _check(chain, station_key, [root.certificate])
    assert len(result) == 1 and result[0].issuer == root.certificate.subject


def test_A02_FR_06_no_roots_accepts_a_chain_that_holds_together(root: CertificateAuthority,
                                                                station_key: PrivateKey) -> None:
    sub = _ca("OEM Sub-CA", root)
    chain = sub.sign(build_csr(station_key, common_name=CN, organization=ORG)) + _pem(root.certificate)
    assert len(_check(chain, station_key, [])) == 2


def test_A02_FR_16_chain_at_max_size_accepted(root: CertificateAuthority, station_key: PrivateKey) -> None:
    chain = root.sign(build_csr(station_key, common_name=CN, organization=ORG))
    assert _check(chain, station_key, [root.certificate], max_chain_size=len(chain))


def test_A02_FR_06_four_sub_cas_accepted_five_rejected(root: CertificateAuthority, station_key: PrivateKey) -> None:
    issuer = root
    for n in range(MAX_SUB_CAS):
        issuer = _ca(f"Sub-CA {n}", issuer)
    csr = build_csr(station_key, common_name=CN, organization=ORG)
    assert len(_check(issuer.sign(csr), station_key, [root.certificate])) == 1 + MAX_SUB_CAS
    assert _rejected(_ca("Sub-CA 5", issuer).sign(csr), station_key, [root.certificate]).reason_code == "InvalidChain"


# --- check_signed_chain: rejected -------------------------------------------------------------------


def test_A02_FR_16_chain_beyond_max_size_rejected(root: CertificateAuthority, station_key: PrivateKey) -> None:
    chain = root.sign(build_csr(station_key, common_name=CN, organization=ORG))
    rejected = _rejected(chain, station_key, [root.certificate], max_chain_size=len(chain) - 1)
    assert rejected.reason_code == "TooLarge"


def test_A02_FR_06_certificate_for_another_key_rejected(root: CertificateAuthority, station_key: PrivateKey) -> None:
    other = generate_key(KeyAlgorithm.EC_P256)
    chain = root.sign(build_csr(other, common_name=CN, organization=ORG))
    assert _rejected(chain, station_key, [root.certificate]).reason_code == "KeyMismatch"


def test_A02_FR_06_expired_leaf_rejected(root: CertificateAuthority, station_key: PrivateKey) -> None:
    chain = root.sign(build_csr(station_key, common_name=CN, organization=ORG), not_before=NOW - 10 * DAY, days=1)
    rejected = _rejected(chain, station_key, [root.certificate])
    assert rejected.reason_code == "CertificateExpired" and "expired" in rejected.additional_info


def test_A02_FR_06_expired_sub_ca_rejected(root: CertificateAuthority, station_key: PrivateKey) -> None:
    sub = _ca("Old Sub-CA", root, start=NOW - 100 * DAY, end=NOW - DAY)
    chain = sub.sign(build_csr(station_key, common_name=CN, organization=ORG))
    rejected = _rejected(chain, station_key, [root.certificate])
    assert rejected.reason_code == "CertificateExpired" and "Old Sub-CA" in rejected.additional_info


def test_A02_FR_06_sub_ca_not_yet_valid_rejected(root: CertificateAuthority, station_key: PrivateKey) -> None:
    sub = _ca("Future Sub-CA", root, start=NOW + DAY)
    chain = sub.sign(build_csr(station_key, common_name=CN, organization=ORG))
    assert _rejected(chain, station_key, [root.certificate]).reason_code == "InvalidChain"


@pytest.mark.parametrize(("cn", "org", "requirement"),
                         [("cs-9999", ORG, "A00.FR.511"), (CN, "Other CSO", "A00.FR.509")])
def test_A00_FR_509_511_wrong_cn_or_o_rejected(root: CertificateAuthority, station_key: PrivateKey,
                                               cn: str, org: str, requirement: str) -> None:
    chain = root.sign(build_csr(station_key, common_name=cn, organization=org))
    rejected = _rejected(chain, station_key, [root.certificate])
    assert rejected.reason_code == "InvalidCertificate" and requirement in rejected.additional_info


def test_A00_FR_502_rsa_keys_at_least_2048(root: CertificateAuthority) -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    chain = root.sign(build_csr(weak, common_name=CN, organization=ORG))
    rejected = _rejected(chain, weak, [root.certificate])
    assert rejected.reason_code == "InvalidCertificate" and "A00.FR.502" in rejected.additional_info


def test_A02_FR_06_broken_chain_rejected(root: CertificateAuthority, station_key: PrivateKey) -> None:
    signer, impostor = _ca("CSO Sub-CA", root), _ca("CSO Sub-CA", root)  # same name, another key
    leaf = signer.sign(build_csr(station_key, common_name=CN, organization=ORG)).split("-----END CERTIFICATE-----")[0]
    chain = leaf + "-----END CERTIFICATE-----\n" + _pem(impostor.certificate)
    assert _rejected(chain, station_key, [root.certificate]).reason_code == "InvalidChain"


def test_A02_FR_06_issuer_that_is_no_ca_rejected(root: CertificateAuthority, station_key: PrivateKey) -> None:
    not_a_ca = _ca("Just a leaf", root, ca=False)
    chain = not_a_ca.sign(build_csr(station_key, common_name=CN, organization=ORG))
    rejected = _rejected(chain, station_key, [root.certificate])
    assert rejected.reason_code == "InvalidChain" and "no CA" in rejected.additional_info


def test_A02_FR_06_chain_under_no_trusted_root_rejected(station_key: PrivateKey) -> None:
    foreign = _ca("Foreign Root")
    chain = foreign.sign(build_csr(station_key, common_name=CN, organization=ORG))
    assert _rejected(chain, station_key, [ca_certificate("CSO Root")[0]]).reason_code == "UntrustedChain"


def test_A02_FR_06_expired_trusted_root_does_not_anchor(station_key: PrivateKey) -> None:
    old = _ca("Old Root", start=NOW - 100 * DAY, end=NOW - DAY)
    chain = old.sign(build_csr(station_key, common_name=CN, organization=ORG), not_before=NOW - 50 * DAY)
    assert _rejected(chain, station_key, [old.certificate]).reason_code == "UntrustedChain"


def test_A02_FR_06_trailing_root_not_in_roots_rejected(root: CertificateAuthority, station_key: PrivateKey) -> None:
    foreign = _ca("Foreign Root")
    chain = foreign.sign(build_csr(station_key, common_name=CN, organization=ORG)) + _pem(foreign.certificate)
    rejected = _rejected(chain, station_key, [root.certificate])
    assert rejected.reason_code == "UntrustedChain" and "Foreign Root" in rejected.additional_info


@pytest.mark.parametrize("text", ["", "garbage", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                                  "-----BEGIN CERTIFICATE-----\nAAAA\n"])
def test_A00_FR_507_garbage_chain_rejected(station_key: PrivateKey, text: str) -> None:
    assert _rejected(text, station_key, []).reason_code == "InvalidCertificate"


def test_A00_FR_507_text_between_blocks_rejected(root: CertificateAuthority, station_key: PrivateKey) -> None:
    leaf = root.sign(build_csr(station_key, common_name=CN, organization=ORG))
    chain = leaf + "by the way\n" + _pem(root.certificate)
    assert _rejected(chain, station_key, [root.certificate]).reason_code == "InvalidCertificate"


def test_A02_FR_05_private_key_instead_of_certificate_rejected(station_key: PrivateKey) -> None:
    pem = key_to_pem(station_key)
    rejected = _rejected(pem, station_key, [])
    assert rejected.reason_code == "InvalidCertificate" and "PRIVATE KEY" in rejected.additional_info
    assert pem.splitlines()[1] not in rejected.additional_info


def test_check_signed_chain_refuses_a_naive_now(root: CertificateAuthority, station_key: PrivateKey) -> None:
    chain = root.sign(build_csr(station_key, common_name=CN, organization=ORG))
    with pytest.raises(ValueError, match="timezone"):
        _check(chain, station_key, [root.certificate], now=datetime.now())


# --- the OEM's CA -----------------------------------------------------------------------------------


def test_oem_ca_sign_sets_the_leaf_properties(root: CertificateAuthority, station_key: PrivateKey) -> None:
    leaf = x509.load_pem_x509_certificates(root.sign(build_csr(station_key, common_name=CN, organization=ORG),
                                                     days=30).encode())[0]
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert leaf.extensions.get_extension_for_class(x509.KeyUsage).value.key_agreement
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc == timedelta(days=30)
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == x509.SubjectKeyIdentifier.from_public_key(root.certificate.public_key()).digest
    assert leaf.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)


def test_oem_ca_sign_with_rsa_uses_pss(station_key: PrivateKey) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "RSA Root")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(NOW - DAY).not_valid_after(NOW + DAY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    chain = CertificateAuthority(cert, key).sign(build_csr(station_key, common_name=CN, organization=ORG))
    leaf = _check(chain, station_key, [cert])[0]
    assert isinstance(leaf.signature_algorithm_parameters, padding.PSS)  # A00.FR.505


def test_oem_ca_sign_refuses_a_csr_with_a_broken_signature(root: CertificateAuthority,
                                                           station_key: PrivateKey) -> None:
    csr = x509.load_pem_x509_csr(build_csr(station_key, common_name=CN, organization=ORG).encode())
    der = bytearray(csr.public_bytes(serialization.Encoding.DER))
    der[-1] ^= 0x01  # the last byte of the signature
    broken = x509.load_der_x509_csr(bytes(der)).public_bytes(serialization.Encoding.PEM).decode()
    with pytest.raises(ValueError, match="signature"):
        root.sign(broken)


def _write(tmp_path: Path, certs: list[x509.Certificate], key: PrivateKeyTypes) -> tuple[Path, Path]:
    cert_path, key_path = tmp_path / "ca.pem", tmp_path / "ca.key"
    cert_path.write_text("".join(_pem(c) for c in certs))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_oem_ca_from_files_reads_a_sub_ca_with_its_issuers(tmp_path: Path, root: CertificateAuthority,
                                                          station_key: PrivateKey) -> None:
    sub = _ca("OEM Sub-CA", root)
    ca = CertificateAuthority.from_files(*_write(tmp_path, [sub.certificate, root.certificate], sub.key))
    assert ca.chain == ()  # the trailing root stays out
    assert len(_check(ca.sign(build_csr(station_key, common_name=CN, organization=ORG)), station_key,
                      [root.certificate])) == 2


def test_oem_ca_from_files_refuses_the_key_of_another_ca(tmp_path: Path, root: CertificateAuthority) -> None:
    with pytest.raises(ValueError, match="not the key"):
        CertificateAuthority.from_files(*_write(tmp_path, [root.certificate], _ca("Other").key))


def test_oem_ca_from_files_refuses_a_certificate_that_is_no_ca(tmp_path: Path, root: CertificateAuthority) -> None:
    leaf = _ca("Not a CA", root, ca=False)
    with pytest.raises(ValueError, match="no CA"):
        CertificateAuthority.from_files(*_write(tmp_path, [leaf.certificate], leaf.key))


def test_oem_ca_from_files_refuses_unreadable_files(tmp_path: Path, root: CertificateAuthority) -> None:
    cert_path, key_path = _write(tmp_path, [root.certificate], root.key)
    (tmp_path / "garbage").write_text("garbage")
    with pytest.raises(ValueError, match="cannot read"):
        CertificateAuthority.from_files(tmp_path / "garbage", key_path)
    with pytest.raises(ValueError, match="no unencrypted PEM private key"):
        CertificateAuthority.from_files(cert_path, tmp_path / "garbage")
    with pytest.raises(ValueError, match="cannot read"):
        CertificateAuthority.from_files(tmp_path / "missing.pem", key_path)

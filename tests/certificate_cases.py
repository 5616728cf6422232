"""What the M03/M04/M05 certificate tests share: certificate factories, hash data, the requests.

Certificates are made here with ``cryptography``; :func:`openssl_hash_data` computes the hash data the
station must report independently, with the ``openssl ocsp`` CLI (RFC 6960 CertID). The requests go
through ``oem``: an :class:`tests.support.OemClient` (over mosquitto) or an
:class:`tests.support.InProcessOem` (a Station in the test's process).
tests/unit/test_m03_m04_m05_certificate_rules.py runs every case in process;
tests/integration/test_certificates.py a few of each over the broker.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from .seed_vectors import SEED_HASH_DATA, SEED_PEM


class Oem(Protocol):
    def result(self, action: str, payload: Any, ocpp_version: str = ...) -> dict[str, Any]: ...

    def error(self, action: str, payload: Any, ocpp_version: str = ...) -> dict[str, Any]: ...


V201, V21, V16 = "ocpp2.0.1", "ocpp2.1", "ocpp1.6"
OPENSSL = shutil.which("openssl")


# --------------------------------------------------------------------------------------------------------------
# Certificate factories
# --------------------------------------------------------------------------------------------------------------

NOW = datetime.now(UTC)
NOT_BEFORE = NOW - timedelta(days=1)
NOT_AFTER = NOW + timedelta(days=3650)


def _usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=not cert_sign, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=cert_sign, crl_sign=cert_sign,
                         encipher_only=False, decipher_only=False)


def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@functools.cache
def _rsa_key(bits: int, n: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def rsa_key(bits: int = 2048, n: int = 0) -> rsa.RSAPrivateKey:
    """RSA keys are slow to make: the ``n``-th one of each size is made once per session."""
    return _rsa_key(bits, n)


_serials = iter(range(0x1000, 0x7FFFFFFF))


def make_cert(key: Any, cn: str, *, issuer: x509.Certificate | None = None, issuer_key: Any = None,
              ca: bool = True, not_before: datetime = NOT_BEFORE, not_after: datetime = NOT_AFTER,
              serial: int | None = None) -> x509.Certificate:
    """A certificate with a fresh serial; a self-signed CA unless told otherwise."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ocpp-station integration tests")])
    builder = (x509.CertificateBuilder().subject_name(subject)
               .issuer_name(issuer.subject if issuer is not None else subject)
               .public_key(key.public_key()).serial_number(serial if serial is not None else next(_serials))
               .not_valid_before(not_before).not_valid_after(not_after)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(_usage(cert_sign=ca), critical=True))
    return builder.sign(issuer_key if issuer_key is not None else key, hashes.SHA256())


def root(cn: str = "Test Root", key: Any = None, **kwargs: Any) -> x509.Certificate:
    return make_cert(key if key is not None else ec_key(), cn, **kwargs)


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def key_pem(key: Any) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode("ascii")


def fingerprint(cert: x509.Certificate) -> bytes:
    return cert.fingerprint(hashes.SHA256())


# --------------------------------------------------------------------------------------------------------------
# Hash data computed independently, by the openssl CLI
# --------------------------------------------------------------------------------------------------------------


def openssl_hash_data(tmp_path: Path, cert: x509.Certificate, issuer: x509.Certificate | None = None,
                      algorithm: str = "SHA256") -> dict[str, str]:
    """The OCPP certificateHashData of ``cert`` from the CertID of an OCSP request built by ``openssl ocsp``."""
    assert OPENSSL is not None, "the openssl CLI is needed"
    issuer = issuer or cert
    work = tmp_path / f"openssl-{fingerprint(cert).hex()[:12]}-{algorithm}"
    work.mkdir(exist_ok=True)
    cert_file, issuer_file, request = work / "cert.pem", work / "issuer.pem", work / "req.der"
    cert_file.write_text(pem(cert))
    issuer_file.write_text(pem(issuer))
    # The digest option must come before -cert: openssl applies it to the next -cert.
    subprocess.run([OPENSSL, "ocsp", "-issuer", issuer_file, f"-{algorithm.lower()}", "-cert", cert_file,
                    "-no_nonce", "-reqout", request], check=True, capture_output=True)
    text = subprocess.run([OPENSSL, "ocsp", "-reqin", request, "-req_text"], check=True, capture_output=True,
                          text=True).stdout
    text = re.sub(r"\\\s*\n\s*", "", text)  # long hex values are wrapped with a trailing backslash
    fields = {}
    for label in ("Hash Algorithm", "Issuer Name Hash", "Issuer Key Hash", "Serial Number"):
        match = re.search(rf"^\s*{label}:\s*(\S+)\s*$", text, re.MULTILINE)
        assert match, f"{label!r} not in the openssl output:\n{text}"
        fields[label] = match.group(1)
    assert fields["Hash Algorithm"] == algorithm.lower()
    return {"hashAlgorithm": algorithm, "issuerNameHash": fields["Issuer Name Hash"].lower(),
            "issuerKeyHash": fields["Issuer Key Hash"].lower(),
            "serialNumber": format(int(fields["Serial Number"], 16), "x")}


# --------------------------------------------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------------------------------------------


def install(oem: Oem, cert: x509.Certificate | str, use: str = "CSMSRootCertificate",
            version: str = V201) -> dict[str, Any]:
    return oem.result("InstallCertificate", {"certificateType": use,
                                             "certificate": cert if isinstance(cert, str) else pem(cert)}, version)


def delete(oem: Oem, hash_data: dict[str, str], version: str = V201) -> dict[str, Any]:
    return oem.result("DeleteCertificate", {"certificateHashData": hash_data}, version)


def installed(oem: Oem, uses: list[str] | None = None, version: str = V201) -> dict[str, Any]:
    """The GetInstalledCertificateIds answer; ``uses=None`` omits certificateType."""
    return oem.result("GetInstalledCertificateIds", {} if uses is None else {"certificateType": uses}, version)


def listed(oem: Oem, uses: list[str] | None = None, version: str = V201) -> list[tuple[str, dict[str, str]]]:
    """(certificateType, certificateHashData) of every reported certificate (no children)."""
    answer = installed(oem, uses, version)
    chains = answer.get("certificateHashDataChain", [])
    assert (answer["status"] == "Accepted") == bool(chains), answer
    return [(chain["certificateType"], chain["certificateHashData"]) for chain in chains]


def listed_16(oem: Oem, use: str = "CentralSystemRootCertificate") -> list[dict[str, str]]:
    answer = oem.result("GetInstalledCertificateIds", {"certificateType": use}, V16)
    entries = answer.get("certificateHashData", [])
    assert (answer["status"] == "Accepted") == bool(entries), answer
    assert "certificateHashDataChain" not in answer
    return entries


def hash_data(cert: x509.Certificate, issuer: x509.Certificate | None = None,
              algorithm: str = "SHA256") -> dict[str, str]:
    """The hash data the station must report, computed from the public spec (RFC 6960) with ``cryptography``."""
    from cryptography.x509 import ocsp

    digest = {"SHA256": hashes.SHA256(), "SHA384": hashes.SHA384(), "SHA512": hashes.SHA512()}[algorithm]
    request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer or cert, digest).build()
    return {"hashAlgorithm": algorithm, "issuerNameHash": request.issuer_name_hash.hex(),
            "issuerKeyHash": request.issuer_key_hash.hex(), "serialNumber": format(request.serial_number, "x")}


def get_variable(oem: Oem, component: str, variable: str) -> str:
    [result] = oem.result("GetVariables", {"getVariableData": [
        {"component": {"name": component}, "variable": {"name": variable}}]})["getVariableResult"]
    assert result["attributeStatus"] == "Accepted", result
    return result["attributeValue"]


def assert_rejected(answer: dict[str, Any], version: str, reason: str = "InvalidCertificate") -> None:
    assert answer["status"] == "Rejected", answer
    if version == V16:
        assert "statusInfo" not in answer, answer
    else:
        assert answer["statusInfo"]["reasonCode"] == reason, answer


# A certificate InstallCertificate must refuse (M05.FR.07), by the reason it is refused for.

def bad_signature() -> str:
    der = bytearray(root("bad signature").public_bytes(serialization.Encoding.DER))
    der[-5] ^= 0x01  # inside the ECDSA signature value (the last field of the certificate)
    cert = x509.load_der_x509_certificate(bytes(der))  # still parses
    return pem(cert)


def not_self_signed() -> str:
    ca_key = ec_key()
    ca = root("issuing CA", ca_key)
    return pem(make_cert(ec_key(), "sub CA", issuer=ca, issuer_key=ca_key))


INVALID = {
    "expired": lambda: pem(root("expired", not_before=NOW - timedelta(days=400),
                                not_after=NOW - timedelta(days=1))),
    "not_yet_valid": lambda: pem(root("not yet valid", not_before=NOW + timedelta(days=2),
                                      not_after=NOW + timedelta(days=400))),
    "not_a_ca": lambda: pem(root("leaf", ca=False)),
    "not_self_signed": not_self_signed,
    "bad_signature": bad_signature,
    "rsa_1024": lambda: pem(root("weak", rsa_key(1024))),
    "garbage_pem": lambda: "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
    "two_certificates": lambda: pem(root("first")) + pem(root("second")),
    "private_key": lambda: key_pem(ec_key()),
}
# A word of the additionalInfo (2.x) showing the certificate was refused for the reason the case is about.
WHY = {"expired": "expired", "not_yet_valid": "not valid yet", "not_a_ca": "ca=false", "not_self_signed": "self-signed",
       "bad_signature": "signature", "rsa_1024": "1024", "garbage_pem": "x.509", "two_certificates": "2 certificates",
       "private_key": "private key"}


# --------------------------------------------------------------------------------------------------------------
# The scenarios, run by both modules: every case in process, a few over the broker (the wiring)
# --------------------------------------------------------------------------------------------------------------


def seed_install_list_delete_2x(oem: Oem, version: str) -> None:
    assert install(oem, SEED_PEM, "CSMSRootCertificate", version) == {"status": "Accepted"}
    answer = installed(oem, ["CSMSRootCertificate"], version)
    assert answer["status"] == "Accepted"
    seed = [c for c in answer["certificateHashDataChain"] if c["certificateHashData"]["serialNumber"] == "4"]
    assert seed == [{"certificateType": "CSMSRootCertificate", "certificateHashData": SEED_HASH_DATA}]
    assert delete(oem, SEED_HASH_DATA, version)["status"] == "Accepted"
    assert ("CSMSRootCertificate", SEED_HASH_DATA) not in listed(oem, ["CSMSRootCertificate"], version)
    assert delete(oem, SEED_HASH_DATA, version)["status"] == "NotFound"


def seed_install_list_delete_16(oem: Oem) -> None:
    answer = oem.result("InstallCertificate", {"certificateType": "CentralSystemRootCertificate",
                                               "certificate": SEED_PEM}, V16)
    assert answer == {"status": "Accepted"}
    assert SEED_HASH_DATA in listed_16(oem)
    # The 1.6 CentralSystemRootCertificate is the 2.x CSMSRootCertificate store.
    assert ("CSMSRootCertificate", SEED_HASH_DATA) in listed(oem, ["CSMSRootCertificate"])
    assert delete(oem, SEED_HASH_DATA, V16) == {"status": "Accepted"}
    assert SEED_HASH_DATA not in listed_16(oem)
    assert delete(oem, SEED_HASH_DATA, V16) == {"status": "NotFound"}


def hash_data_matches_openssl_and_deletes(oem: Oem, tmp_path: Path, kind: str, algorithm: str) -> None:
    key = ec_key() if kind == "ec" else rsa_key(2048, n=["SHA256", "SHA384", "SHA512"].index(algorithm))
    cert = root(f"{kind} root {algorithm}", key)
    assert install(oem, cert, "V2GRootCertificate") == {"status": "Accepted"}

    expected = openssl_hash_data(tmp_path, cert)
    assert ("V2GRootCertificate", expected) in listed(oem, ["V2GRootCertificate"])  # SHA256, lower case

    by_openssl = openssl_hash_data(tmp_path, cert, algorithm=algorithm)
    # A hash of another algorithm than the one named never matches.
    other = "SHA512" if algorithm != "SHA512" else "SHA384"
    assert delete(oem, {**by_openssl, "hashAlgorithm": other})["status"] == "NotFound"
    # Upper-case hex and leading zeros in the serial name the same certificate.
    shouted = {**by_openssl, "issuerNameHash": by_openssl["issuerNameHash"].upper(),
               "issuerKeyHash": by_openssl["issuerKeyHash"].upper(),
               "serialNumber": "00" + by_openssl["serialNumber"].upper()}
    assert delete(oem, shouted)["status"] == "Accepted"
    assert ("V2GRootCertificate", expected) not in listed(oem, ["V2GRootCertificate"])
    assert delete(oem, by_openssl)["status"] == "NotFound"


def serial_is_reported_without_leading_zeros(oem: Oem, serial: int, reported: str) -> None:
    cert = root(f"serial {serial:x}", serial=serial)
    assert install(oem, cert, "V2GRootCertificate") == {"status": "Accepted"}
    assert ("V2GRootCertificate", {**hash_data(cert), "serialNumber": reported}) in listed(oem, ["V2GRootCertificate"])
    padded = reported.rjust(40, "0")  # leading zeros up to the 40 characters the schema allows
    assert delete(oem, {**hash_data(cert), "serialNumber": padded})["status"] == "Accepted"


def invalid_certificate_is_rejected_and_not_installed(oem: Oem, log: Callable[[], str], case: str,
                                                      version: str) -> None:
    text = INVALID[case]()
    use = "CentralSystemRootCertificate" if version == V16 else "CSMSRootCertificate"
    before = listed(oem, ["CSMSRootCertificate"])
    entries_before = get_variable(oem, "SecurityCtrlr", "CertificateEntries")
    answer = install(oem, text, use, version)
    assert_rejected(answer, version)
    if version != V16:
        assert WHY[case] in answer["statusInfo"]["additionalInfo"].lower(), answer
    assert listed(oem, ["CSMSRootCertificate"]) == before
    assert get_variable(oem, "SecurityCtrlr", "CertificateEntries") == entries_before
    if "PRIVATE KEY" in text:  # the answer never echoes what it was given
        body = text.splitlines()[1]
        assert body not in log()


def reinstall_identical_is_accepted_once(oem: Oem, version: str) -> None:
    cert = root(f"reinstalled {version}")
    entries = int(get_variable(oem, "SecurityCtrlr", "CertificateEntries"))
    for _ in range(3):
        assert install(oem, cert, "MORootCertificate", version) == {"status": "Accepted"}
    assert listed(oem, ["MORootCertificate"], version).count(("MORootCertificate", hash_data(cert))) == 1
    assert int(get_variable(oem, "SecurityCtrlr", "CertificateEntries")) == entries + 1
    assert delete(oem, hash_data(cert), version)["status"] == "Accepted"


def omitted_type_lists_all_types_and_a_list_filters(oem: Oem) -> None:
    certs = {use: root(f"filter {use}") for use in ("V2GRootCertificate", "MORootCertificate", "CSMSRootCertificate",
                                                    "ManufacturerRootCertificate", "OEMRootCertificate")}
    for use, cert in certs.items():
        assert install(oem, cert, use, V21) == {"status": "Accepted"}
    try:
        everything_21 = listed(oem, None, V21)
        for use, cert in certs.items():
            assert (use, hash_data(cert)) in everything_21
        everything_201 = listed(oem, None, V201)
        for use, cert in certs.items():
            if use != "OEMRootCertificate":
                assert (use, hash_data(cert)) in everything_201
        # 2.0.1 has no OEMRootCertificate: a 2.0.1 request without filter never reports one.
        assert all(use != "OEMRootCertificate" for use, _ in everything_201)

        some = listed(oem, ["MORootCertificate", "OEMRootCertificate"], V21)
        assert {use for use, _ in some} == {"MORootCertificate", "OEMRootCertificate"}
        assert ("MORootCertificate", hash_data(certs["MORootCertificate"])) in some
        assert ("OEMRootCertificate", hash_data(certs["OEMRootCertificate"])) in some
        assert {use for use, _ in listed(oem, ["CSMSRootCertificate"])} == {"CSMSRootCertificate"}
    finally:
        for cert in certs.values():
            assert delete(oem, hash_data(cert), V21)["status"] == "Accepted"


def certificate_longer_than_the_schema_allows_is_a_property_constraint_violation(oem: Oem, version: str,
                                                                                 limit: int) -> None:
    use = "CentralSystemRootCertificate" if version == V16 else "CSMSRootCertificate"
    head, tail = "-----BEGIN CERTIFICATE-----\n", "\n-----END CERTIFICATE-----\n"

    def certificate(length: int) -> str:
        return head + "A" * (length - len(head) - len(tail)) + tail

    error = oem.error("InstallCertificate", {"certificateType": use, "certificate": certificate(limit + 1)}, version)
    assert error["error_code"] == "PropertyConstraintViolation", error
    # Exactly at the limit the request is valid: the (garbage) certificate is then Rejected, not an error.
    assert_rejected(install(oem, certificate(limit), use, version), version)


def store_full_is_rejected_out_of_storage(oem: Oem) -> None:
    first, second, third = root("first"), root("second"), root("third")
    assert get_variable(oem, "SecurityCtrlr", "CertificateEntries") == "0"
    assert install(oem, first) == {"status": "Accepted"}
    assert install(oem, second, "V2GRootCertificate") == {"status": "Accepted"}
    assert get_variable(oem, "SecurityCtrlr", "CertificateEntries") == "2"

    assert_rejected(install(oem, third), V201, "OutOfStorage")
    assert_rejected(install(oem, third, "MORootCertificate", V21), V21, "OutOfStorage")
    assert_rejected(install(oem, pem(third), "CentralSystemRootCertificate", V16), V16)
    assert all(data != hash_data(third) for _use, data in listed(oem))
    # Installing one of the installed again is no new entry (M05.FR.17).
    assert install(oem, first) == {"status": "Accepted"}
    assert install(oem, second, "V2GRootCertificate", V21) == {"status": "Accepted"}
    assert get_variable(oem, "SecurityCtrlr", "CertificateEntries") == "2"
    assert len(listed(oem)) == 2

    # Room again after a delete.
    assert delete(oem, hash_data(second))["status"] == "Accepted"
    assert get_variable(oem, "SecurityCtrlr", "CertificateEntries") == "1"
    assert install(oem, third) == {"status": "Accepted"}
    assert get_variable(oem, "SecurityCtrlr", "CertificateEntries") == "2"
    assert sorted(data["serialNumber"] for _use, data in listed(oem)) == sorted(
        hash_data(c)["serialNumber"] for c in (first, third))


def additional_root_certificate_check(oem: Oem) -> None:
    assert get_variable(oem, "SecurityCtrlr", "AdditionalRootCertificateCheck") == "true"
    old_key = ec_key()
    old = root("CSMS root 2025", old_key)
    assert install(oem, old) == {"status": "Accepted"}
    assert listed(oem, ["CSMSRootCertificate"]) == [("CSMSRootCertificate", hash_data(old))]

    # M05.FR.11: a root the installed one did not sign is refused, and not installed.
    assert_rejected(install(oem, root("unrelated root")), V201)
    assert listed(oem, ["CSMSRootCertificate"]) == [("CSMSRootCertificate", hash_data(old))]

    # M05.FR.12: the new root, signed by the old one, is installed and the old one kept as the fallback.
    new = make_cert(ec_key(), "CSMS root 2026", issuer=old, issuer_key=old_key)
    assert install(oem, new) == {"status": "Accepted"}
    found = listed(oem, ["CSMSRootCertificate"])
    assert len(found) == 2
    assert ("CSMSRootCertificate", hash_data(old)) in found
    assert ("CSMSRootCertificate", hash_data(new, issuer=old)) in found
    assert len(listed_16(oem)) == 2
    assert get_variable(oem, "SecurityCtrlr", "CertificateEntries") == "2"
    # Other root types are not subject to the check.
    assert install(oem, root("manufacturer"), "ManufacturerRootCertificate") == {"status": "Accepted"}

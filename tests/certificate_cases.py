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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID


class Oem(Protocol):
    def result(self, action: str, payload: Any, ocpp_version: str = ...) -> dict[str, Any]: ...


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



"""The station's own key pairs, its certificate signing requests, and the check of what comes back (A02/A03).

Pure like :mod:`.certificates`: keys are made and encoded here, never stored, sent or logged. The
private key leaves this module only as PEM text for the station's own storage (A02.FR.05/A03.FR.05);
no exception message carries a key or a certificate body.

Anchoring, a decision. A02.FR.06/A03.FR.06 want the signed certificate to belong to the Charging
Station Operator's hierarchy. The caller passes the roots that stand for it (the installed CSMS
roots) and the top of the chain must be signed by one of them that is valid now. A station
provisioned without any such root (at the factory, its certificate renewed by the OEM's CA) has
nothing to anchor to: then a chain that holds together (each certificate signed by the next, every
issuer a CA inside its validity period) is accepted. It is still tied to this station, because the
leaf must carry the public key of the CSR the station sent, whose private key only the station has.

Only the standard library and ``cryptography`` are imported (the latter when first used: :mod:`.crypto`).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from itertools import pairwise
from typing import TypeAlias

from .certificates import (
    _PEM_BEGIN,
    _PEM_BLOCK,
    _PEM_END,
    MAX_SERIAL_HEX_LEN,
    REASON_INVALID_CERTIFICATE,
    CertificateRejected,
    _iso,
    _key_problem,
    describe,
    fingerprint_sha256,
    is_ca,
    is_self_signed,
    is_signed_by,
    is_valid_at,
    parse_pem_certificate,
    serial_number_hex,
)
from .crypto import ec, exceptions, hashes, rsa, serialization, x509

__all__ = [
    "MAX_SUB_CAS", "REASON_EXPIRED", "REASON_INVALID_CERTIFICATE", "REASON_INVALID_CHAIN", "REASON_KEY_MISMATCH",
    "REASON_TOO_LARGE", "REASON_UNTRUSTED_CHAIN", "KeyAlgorithm", "PrivateKey", "build_csr", "check_signed_chain",
    "generate_key", "key_from_pem", "key_to_pem", "public_key_der",
]

PrivateKey: TypeAlias = "ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey"  # a string: cryptography loads lazily

# Not an import of certificate_store.MAX_CHILD_CERTIFICATES (the store imports the domain, not the
# other way round): GetInstalledCertificateIds reports at most 4 child certificates of a chain.
MAX_SUB_CAS = 4

# The reason codes of a rejected CertificateSignedRequest (StatusInfo.reasonCode, string(20)).
REASON_TOO_LARGE = "TooLarge"  # beyond MaxCertificateChainSize (A02.FR.16)
REASON_KEY_MISMATCH = "KeyMismatch"  # not the key of the pending CSR
REASON_EXPIRED = "CertificateExpired"  # the leaf or a sub-CA is past its notAfter
REASON_INVALID_CHAIN = "InvalidChain"  # the certificates do not hold together
REASON_UNTRUSTED_CHAIN = "UntrustedChain"  # not under any of the given roots (A02.FR.06)

# RFC 5280 upper bounds ub-common-name and ub-organization-name.
_MAX_NAME_LEN = 64
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://|^www\.", re.IGNORECASE)


class KeyAlgorithm(StrEnum):
    """The setting [security] key_algorithm: each one gives at least 112 bits of security (A00.FR.501)."""

    EC_P256 = "ec-p256"  # default
    EC_P384 = "ec-p384"
    RSA_2048 = "rsa-2048"
    RSA_3072 = "rsa-3072"
    RSA_4096 = "rsa-4096"


_RSA_BITS = {KeyAlgorithm.RSA_2048: 2048, KeyAlgorithm.RSA_3072: 3072, KeyAlgorithm.RSA_4096: 4096}


def _curve(algorithm: KeyAlgorithm) -> ec.EllipticCurve | None:
    """The curve of an EC algorithm, None for the others (a function: cryptography loads when first used)."""
    curve = {KeyAlgorithm.EC_P256: ec.SECP256R1, KeyAlgorithm.EC_P384: ec.SECP384R1}.get(algorithm)
    return None if curve is None else curve()


def generate_key(algorithm: KeyAlgorithm) -> PrivateKey:
    """A fresh key pair for a new CSR (A02.FR.02/A03.FR.02), from OpenSSL's generators via ``cryptography``."""
    curve = _curve(algorithm)
    if curve is not None:
        return ec.generate_private_key(curve)
    if algorithm in _RSA_BITS:
        return rsa.generate_private_key(public_exponent=65537, key_size=_RSA_BITS[algorithm])
    raise ValueError(f"unsupported key algorithm {algorithm!r}")


def key_to_pem(key: PrivateKey) -> str:
    """PKCS#8 PEM, unencrypted: the station's storage protects it, and it never leaves the station (A02.FR.05)."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode("ascii")


def key_from_pem(pem: str) -> PrivateKey:
    """The key :func:`key_to_pem` wrote. ValueError (without the text) for anything but an EC or RSA key."""
    try:
        key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    except (ValueError, TypeError, exceptions.UnsupportedAlgorithm):  # TypeError: encrypted; never echo the text
        raise ValueError("not an unencrypted PEM private key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ValueError(f"a {type(key).__name__} is not an EC or RSA private key")
    return key


def public_key_der(key_or_cert: PrivateKey | x509.Certificate | x509.CertificateSigningRequest) -> bytes:
    """SubjectPublicKeyInfo DER: one spelling of a public key, so "the key matches" is a byte comparison."""
    public = key_or_cert.public_key()
    return public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _name_problem(what: str, value: str) -> str | None:
    if not value.strip():
        return f"{what} is empty"
    if len(value) > _MAX_NAME_LEN:
        return f"{what} has {len(value)} characters, more than the {_MAX_NAME_LEN} X.509 allows"
    return None


def _looks_like_address(value: str) -> bool:
    """A URL or an IP address: what a CSMS certificate names, so a station's CN must not (A00.FR.511)."""
    if _URL.search(value.strip()):
        return True
    try:
        ipaddress.ip_address(value.strip().strip("[]"))
    except ValueError:
        return False
    return True


def build_csr(key: PrivateKey, *, common_name: str, organization: str) -> str:
    """A PEM PKCS#10 request (RFC 2986, A02.FR.03/A03.FR.03) for ``key``, signed with SHA-256 (A00.FR.506).

    The subject is O=``organization`` (A00.FR.509), CN=``common_name``, the station's serial
    (A00.FR.511). No subjectAltName: a dNSName would take precedence over the CN as the identity
    (A00.FR.511 note). A KeyUsage restricts the key to what a TLS client key does (A00.FR.512), and
    there is no ExtendedKeyUsage (A00.FR.514). ValueError for an empty or over-long name, or a CN
    that looks like a URL or an IP address (A00.FR.511).
    """
    problem = _name_problem("the common name", common_name) or _name_problem("the organization", organization)
    if problem is None and _looks_like_address(common_name):
        problem = f"the common name {common_name!r} looks like a URL or an IP address (A00.FR.511)"
    if problem:
        raise ValueError(problem)
    is_ec = isinstance(key, ec.EllipticCurvePrivateKey)
    usage = x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=not is_ec,
                          data_encipherment=False, key_agreement=is_ec, key_cert_sign=False, crl_sign=False,
                          encipher_only=False, decipher_only=False)  # A00.FR.512
    subject = x509.Name([x509.NameAttribute(x509.NameOID.ORGANIZATION_NAME, organization),  # A00.FR.509
                         x509.NameAttribute(x509.NameOID.COMMON_NAME, common_name)])  # A00.FR.511
    csr = (x509.CertificateSigningRequestBuilder().subject_name(subject)
           .add_extension(usage, critical=True).sign(key, hashes.SHA256()))
    return csr.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _parse_chain(text: str) -> list[x509.Certificate]:
    """One or more PEM CERTIFICATE blocks (A00.FR.507) with only whitespace around them, leaf first."""
    blocks = list(_PEM_BLOCK.finditer(text))
    if not blocks:
        raise CertificateRejected("no PEM CERTIFICATE block found in the certificate chain (A00.FR.507)")
    if len(blocks) != len(_PEM_BEGIN.findall(text)) or len(blocks) != len(_PEM_END.findall(text)):
        raise CertificateRejected("malformed PEM: BEGIN/END lines do not pair up")
    if _PEM_BLOCK.sub("", text).strip():
        raise CertificateRejected("unexpected text between or around the PEM blocks of the chain")
    certificates = []
    for position, block in enumerate(blocks, 1):
        try:  # the one-block parser names a foreign label (a private key) without echoing it
            certificates.append(parse_pem_certificate(block.group(0)))
        except CertificateRejected as exc:
            raise CertificateRejected(f"certificate {position} of the chain: {exc.additional_info}") from None
    return certificates


def _leaf_problems(leaf: x509.Certificate, common_name: str, organization: str) -> list[str]:
    """What the leaf lacks of the certificate properties (A00.FR.501–511)."""
    problems = []
    for label, oid, wanted, requirement in (("CN", x509.NameOID.COMMON_NAME, common_name, "A00.FR.511"),
                                            ("O", x509.NameOID.ORGANIZATION_NAME, organization, "A00.FR.509")):
        found = [str(a.value) for a in leaf.subject.get_attributes_for_oid(oid)]
        if found != [wanted]:
            problems.append(f"subject {label} is {', '.join(map(repr, found)) or 'missing'}, "
                            f"the CSR asked for {wanted!r} ({requirement})")
    if leaf.serial_number < 0:  # A00.FR.508: a serial that OCPP can report
        problems.append("negative serial number (A00.FR.508)")
    elif len(serial_number_hex(leaf.serial_number)) > MAX_SERIAL_HEX_LEN:
        problems.append("serial number longer than 20 octets (A00.FR.508)")
    key_problem = _key_problem(leaf)  # A00.FR.501–503
    if key_problem:
        problems.append(key_problem)
    return problems



def check_signed_chain(chain_pem: str, *, public_key: bytes, common_name: str, organization: str,
                       roots: Sequence[x509.Certificate], now: datetime,
                       max_chain_size: int | None = None) -> list[x509.Certificate]:
    """Check the certificateChain of a CertificateSignedRequest (A02.FR.06/A03.FR.06); leaf first, no root.

    ``public_key`` is the SPKI DER of the pending CSR (:func:`public_key_der`); ``roots`` those the
    chain must rest on (see the module docstring for an empty list). A trailing self-signed root is
    dropped from the result: the station keeps what it presents in TLS. Raises
    :class:`CertificateRejected` with an operator's sentence, so the caller answers Rejected (A02.FR.07).
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    if max_chain_size is not None and len(chain_pem) > max_chain_size:  # A02.FR.16/A03.FR.16
        raise CertificateRejected(f"the certificate chain has {len(chain_pem)} characters, more than "
                                  f"MaxCertificateChainSize ({max_chain_size})", REASON_TOO_LARGE)
    certificates = _parse_chain(chain_pem)  # A00.FR.507
    leaf = certificates[0]
    if public_key_der(leaf) != public_key:  # the key of the CSR this station sent (A02.FR.05)
        raise CertificateRejected(f"{describe(leaf)} is not for the key of the pending CSR", REASON_KEY_MISMATCH)
    # A02.FR.06: the period of validity. A notBefore still ahead is no reason to refuse: the station
    # switches to the certificate once it has passed (A02.FR.08/A03.FR.08). The CAs must be valid now.
    if now > leaf.not_valid_after_utc:
        raise CertificateRejected(f"{describe(leaf)} expired at {_iso(leaf.not_valid_after_utc)}", REASON_EXPIRED)
    for ca in certificates[1:]:
        if now > ca.not_valid_after_utc:
            raise CertificateRejected(f"the CA {describe(ca)} in the chain expired at "
                                      f"{_iso(ca.not_valid_after_utc)}", REASON_EXPIRED)
        if not is_valid_at(ca, now):
            raise CertificateRejected(f"the CA {describe(ca)} in the chain is not valid before "
                                      f"{_iso(ca.not_valid_before_utc)}", REASON_INVALID_CHAIN)
    problems = _leaf_problems(leaf, common_name, organization)  # A02.FR.06: the certificate properties
    if problems:
        raise CertificateRejected(f"{describe(leaf)}: {'; '.join(problems)}")
    for position, (cert, issuer) in enumerate(pairwise(certificates), 1):
        if not is_signed_by(cert, issuer):
            raise CertificateRejected(f"certificate {position} of the chain ({describe(cert)}) is not signed by "
                                      f"the next one ({describe(issuer)})", REASON_INVALID_CHAIN)
        problem = None if is_ca(issuer) else "is no CA (basicConstraints CA=true missing)"
        problem = problem or _key_problem(issuer)  # A00.FR.501–503 hold for every certificate
        if problem:
            raise CertificateRejected(f"the issuer {describe(issuer)}: {problem}", REASON_INVALID_CHAIN)
    chain = certificates
    if len(certificates) > 1 and is_self_signed(certificates[-1]):
        root, chain = certificates[-1], certificates[:-1]
        # A root sent along is trusted only when it is one of the given roots, never because it came along.
        if roots and fingerprint_sha256(root) not in {fingerprint_sha256(r) for r in roots}:
            raise CertificateRejected(f"the chain ends in the root {describe(root)}, which is none of the "
                                      f"station's {len(roots)} trusted roots", REASON_UNTRUSTED_CHAIN)
    top = chain[-1]
    if roots and not any(is_valid_at(r, now) and is_signed_by(top, r) for r in roots):  # A02.FR.06: the hierarchy
        raise CertificateRejected(f"the chain's top certificate {describe(top)} is not signed by any of the "
                                  f"station's {len(roots)} trusted roots valid now", REASON_UNTRUSTED_CHAIN)
    if len(chain) - 1 > MAX_SUB_CAS:
        raise CertificateRejected(f"the chain has {len(chain) - 1} sub-CA certificates; at most {MAX_SUB_CAS} "
                                  "can be reported", REASON_INVALID_CHAIN)
    return chain

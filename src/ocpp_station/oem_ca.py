"""A small certificate authority: the OEM's side of a station certificate renewal (A02/A03).

The station never signs its own certificate (A02.FR.04); someone's CA does. ``ocpp-station certs
renew`` signs the station's CSR with the OEM's CA through this module, and the tests use it as the
certificate authority behind a CSMS. It issues exactly what :func:`.station.csr.check_signed_chain`
expects of a station certificate: the CSR's subject, a fresh serial, the KeyUsage the CSR asked for,
no CA rights, and the chain up to (not including) the root.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    CertificatePublicKeyTypes,
    PrivateKeyTypes,
)

from .station.certificates import describe, is_ca, is_self_signed, is_signed_by

__all__ = ["CertificateAuthority"]


def _spki(public: CertificatePublicKeyTypes) -> bytes:
    return public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)



def _signing_key(key: PrivateKeyTypes) -> CertificateIssuerPrivateKeyTypes:
    if isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | dsa.DSAPrivateKey
                  | ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
        return key
    raise ValueError(f"a {type(key).__name__} cannot sign certificates")


def _default_key_usage(public: CertificatePublicKeyTypes) -> x509.KeyUsage:
    """What a TLS client key does (A00.FR.512): sign, and agree (EC) or encipher (RSA) a key."""
    is_ec = isinstance(public, ec.EllipticCurvePublicKey)
    return x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=not is_ec,
                         data_encipherment=False, key_agreement=is_ec, key_cert_sign=False, crl_sign=False,
                         encipher_only=False, decipher_only=False)


@dataclass(frozen=True)
class CertificateAuthority:
    """A CA certificate and its key; ``chain`` holds its issuers below the root, sent after it."""

    certificate: x509.Certificate
    key: PrivateKeyTypes
    chain: tuple[x509.Certificate, ...] = ()  # sub-CAs between this CA and the root, if any, to append

    @classmethod
    def from_files(cls, certificate: Path, key: Path) -> CertificateAuthority:
        """Read the CA: ``certificate`` holds it first, then its issuers; ``key`` its unencrypted PEM key.

        A trailing self-signed root in the file is left out of ``chain`` (the station has its roots).
        ValueError, with a sentence for whoever runs the CLI, when a file is unreadable, the key is
        not the certificate's, the certificate is no CA, or the issuers do not follow one another.
        """
        try:
            certificates = x509.load_pem_x509_certificates(certificate.read_bytes())
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read the CA certificate(s) from {certificate}: {exc}") from None
        try:
            private = serialization.load_pem_private_key(key.read_bytes(), password=None)
        except OSError as exc:
            raise ValueError(f"cannot read the CA key from {key}: {exc}") from None
        except (ValueError, TypeError, UnsupportedAlgorithm):  # never echo what a key file holds
            raise ValueError(f"{key} holds no unencrypted PEM private key") from None
        ca = certificates[0]
        if _spki(_signing_key(private).public_key()) != _spki(ca.public_key()):
            raise ValueError(f"the key in {key} is not the key of the CA certificate {describe(ca)}")
        for cert in certificates:
            if not is_ca(cert):
                raise ValueError(f"{describe(cert)} in {certificate} is no CA (basicConstraints CA=true missing)")
        for cert, issuer in pairwise(certificates):
            if not is_signed_by(cert, issuer):
                raise ValueError(f"{describe(cert)} in {certificate} is not signed by the next one, {describe(issuer)}")
        chain = certificates[1:]
        if chain and is_self_signed(chain[-1]):
            chain = chain[:-1]
        return cls(ca, private, tuple(chain))

    def sign(self, csr_pem: str, *, days: int = 365, not_before: datetime | None = None) -> str:
        """Issue the certificate a station asked for in ``csr_pem``; PEM, leaf first, then the CAs, no root.

        The CSR's own signature must verify (proof that the requester holds the key; ValueError if
        not). This CA's certificate follows the leaf unless it is a self-signed root, then ``chain``.
        RSA keys sign with RSA-PSS, EC keys with ECDSA (A00.FR.505), both over SHA-256 (A00.FR.506).
        """
        if days < 1:
            raise ValueError("days must be at least 1")
        try:
            csr = x509.load_pem_x509_csr(csr_pem.encode("ascii"))
            valid = csr.is_signature_valid
            public = csr.public_key()
            requested = csr.extensions
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise ValueError(f"not a readable PEM certificate signing request: {exc}") from None
        if not valid:
            raise ValueError("the CSR's signature does not verify with its own public key")
        start = not_before or datetime.now(UTC) - timedelta(minutes=1)
        try:
            usage = requested.get_extension_for_class(x509.KeyUsage)
            key_usage, critical = usage.value, usage.critical
        except x509.ExtensionNotFound:
            key_usage, critical = _default_key_usage(public), True
        key = _signing_key(self.key)
        try:
            ski = self.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
            aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
        except x509.ExtensionNotFound:
            aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key())
        builder = (x509.CertificateBuilder().subject_name(csr.subject).issuer_name(self.certificate.subject)
                   .public_key(public).serial_number(x509.random_serial_number())  # A00.FR.508
                   .not_valid_before(start).not_valid_after(start + timedelta(days=days))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(key_usage, critical=critical)  # A00.FR.512
                   .add_extension(aki, critical=False)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False))
        if isinstance(key, rsa.RSAPrivateKey):
            pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
            leaf = builder.sign(key, hashes.SHA256(), rsa_padding=pss)  # A00.FR.505
        elif isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
            leaf = builder.sign(key, None)
        else:
            leaf = builder.sign(key, hashes.SHA256())  # A00.FR.505/506
        issuers = ([] if is_self_signed(self.certificate) else [self.certificate]) + list(self.chain)
        return "".join(c.public_bytes(serialization.Encoding.PEM).decode("ascii") for c in [leaf, *issuers])

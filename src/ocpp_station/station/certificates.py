"""Certificate domain logic for certificate management (OCPP use cases M03/M04/M05).

This module is deliberately *pure*: it parses, validates and identifies X.509
certificates but never stores them, never touches the network and never
serialises JSON. The certificate store (SQLite) and the message handlers for
GetInstalledCertificateIds, DeleteCertificate and InstallCertificate sit on top
of it, so all the security-relevant decisions live in one place that can be
unit tested without a station running.

The same rules apply to OCPP 1.6 (Security Whitepaper Ed.3), 2.0.1 and 2.1;
requirement ids below use the 2.0.1/2.1 numbering unless noted otherwise.

Only the standard library and ``cryptography`` are imported.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from .crypto import dsa, ec, exceptions, hashes, ocsp, rsa, verification, x509

__all__ = [
    "MAX_REASON_CODE_LEN",
    "MAX_SERIAL_HEX_LEN",
    "NO_LIVE_CONNECTION",
    "REASON_INVALID_CERTIFICATE",
    "REASON_IN_USE",
    "REASON_LAST_USABLE_ROOT",
    "CertificateHashData",
    "CertificateRejected",
    "DeleteRefused",
    "HashAlgorithm",
    "LiveConnection",
    "anchors_server_chain",
    "check_root_certificate",
    "compute_hash_data",
    "csms_root_protection",
    "describe",
    "fingerprint_sha256",
    "is_signed_by",
    "is_valid_at",
    "parse_pem_certificate",
    "serial_number_hex",
]

# StatusInfoType: reasonCode string(20). (additionalInfo is cut per version by handlers.base.status_info.)
MAX_REASON_CODE_LEN = 20

# Reason code listed in the OCPP appendix for an InstallCertificate that fails validation.
REASON_INVALID_CERTIFICATE = "InvalidCertificate"

# DeleteCertificate refusals of a CSMS root (M04.FR.03 2.x, M04.FR.06 1.6). The appendix's reason
# codes (2.1 Appendices CSV v2.0) have none for "this certificate is needed": InvalidCertificate
# would blame a certificate that is fine, InvalidMessageSeq and UnsupportedRequest say something
# else. So two short codes of our own (reasonCode is a free string(20)); 1.6 sends no statusInfo.
REASON_IN_USE = "InUse"  # it validates the live TLS connection to the CSMS
REASON_LAST_USABLE_ROOT = "LastUsableRoot"  # without it the station could never reconnect (profile 2/3)

# CertificateHashDataType.serialNumber is limited to 40 characters (identifierString[40]
# in 2.x, CiString40 in 1.6). 40 hex digits = 160 bits, which is also the RFC 5280
# upper bound of 20 octets for a serial, so anything longer cannot be reported.
MAX_SERIAL_HEX_LEN = 40

# Minimum key sizes from the certificate properties requirements (A00.FR.501-503):
# 112-bit symmetric-equivalent security.
MIN_RSA_BITS = 2048  # A00.FR.502 (RSA)
MIN_DSA_BITS = 2048  # A00.FR.502 (DSA)
MIN_EC_BITS = 224  # A00.FR.503


class HashAlgorithm(StrEnum):
    """HashAlgorithmEnumType: the digests a CSMS may ask for in certificateHashData."""

    SHA256 = "SHA256"
    SHA384 = "SHA384"
    SHA512 = "SHA512"


def _hash_for(algorithm: HashAlgorithm) -> hashes.HashAlgorithm:
    # Explicit mapping rather than getattr(hashes, ...) so an unexpected enum value
    # can never pick an unintended digest.
    if algorithm is HashAlgorithm.SHA256:
        return hashes.SHA256()
    if algorithm is HashAlgorithm.SHA384:
        return hashes.SHA384()
    if algorithm is HashAlgorithm.SHA512:
        return hashes.SHA512()
    raise ValueError(f"unsupported hash algorithm {algorithm!r}")


def serial_number_hex(serial: int) -> str:
    """Render a certificate serial the way OCPP reports it.

    The 1.6 Ed.3 clarification (adopted by 2.x) defines serialNumber as the hex of the
    serial without a "0x" prefix and without leading zeroes; 0 therefore becomes "0".
    We emit lower case because the hashes are emitted lower case too and the field is
    case-insensitive anyway.
    """
    if serial < 0:
        # A negative INTEGER has no "hex without leading zeros" form that a CSMS could
        # send back to us; such certificates are refused at install time.
        raise ValueError(
            "negative certificate serial numbers cannot be expressed in OCPP"
        )
    return format(serial, "x")


def _normalise_serial(serial: str) -> str:
    # Only leading zeros are tolerated: "0x04" is a different (invalid) value, not 4,
    # because the OCPP definition excludes the prefix and we do not want to guess.
    lowered = serial.lower()
    if not lowered:
        return lowered
    return lowered.lstrip("0") or "0"


@dataclass(frozen=True)
class CertificateHashData:
    """CertificateHashDataType: how OCPP names an installed certificate.

    Values computed by :func:`compute_hash_data` are canonical (lower-case hex, serial
    without leading zeros). Values received from the CSMS are kept verbatim by
    :meth:`from_ocpp` so they can be logged as sent; always compare with
    :meth:`matches` (or on :meth:`normalized` values), never with ``==``.
    """

    hash_algorithm: HashAlgorithm
    issuer_name_hash: str
    issuer_key_hash: str
    serial_number: str

    def to_ocpp(self) -> dict[str, str]:
        """Return the OCPP JSON object (field names as in the 1.6/2.x schemas)."""
        return {
            "hashAlgorithm": str(self.hash_algorithm),
            "issuerNameHash": self.issuer_name_hash,
            "issuerKeyHash": self.issuer_key_hash,
            "serialNumber": self.serial_number,
        }

    @classmethod
    def from_ocpp(cls, d: Mapping[str, object]) -> CertificateHashData:
        """Build from an OCPP certificateHashData object.

        Raises ValueError when a required field is missing or the hashAlgorithm is not
        one OCPP defines, TypeError when a field is not a string. Schema validation
        should already have caught both, so reaching them indicates a bug or a
        schema-less path.
        """
        values: dict[str, str] = {}
        for key in ("hashAlgorithm", "issuerNameHash", "issuerKeyHash", "serialNumber"):
            if key not in d:
                raise ValueError(f"certificateHashData.{key} is missing")
            value = d[key]
            if not isinstance(value, str):
                raise TypeError(f"certificateHashData.{key} must be a string")
            values[key] = value
        try:
            algorithm = HashAlgorithm(values["hashAlgorithm"])
        except ValueError:
            raise ValueError(
                f"certificateHashData.hashAlgorithm {values['hashAlgorithm']!r} is not one of "
                f"{', '.join(a.value for a in HashAlgorithm)}"
            ) from None
        return cls(
            hash_algorithm=algorithm,
            issuer_name_hash=values["issuerNameHash"],
            issuer_key_hash=values["issuerKeyHash"],
            serial_number=values["serialNumber"],
        )

    def normalized(self) -> CertificateHashData:
        """Canonical form (lower-case hashes, serial without leading zeros).

        Useful as a lookup key in storage so that lookups agree with :meth:`matches`.
        """
        return CertificateHashData(
            hash_algorithm=self.hash_algorithm,
            issuer_name_hash=self.issuer_name_hash.lower(),
            issuer_key_hash=self.issuer_key_hash.lower(),
            serial_number=_normalise_serial(self.serial_number),
        )

    def matches(self, other: CertificateHashData) -> bool:
        """True when both identify the same certificate.

        The fields are case-insensitive types in every OCPP version (CiString in 1.6,
        identifierString in 2.x) and implementations differ in the case they emit, so
        we compare case-insensitively and tolerate leading zeros in the serial. The
        algorithm must be identical: hashes made with different digests never match,
        which is why the CSMS has to reuse the algorithm we reported (M04.FR.07).
        """
        return (
            self.hash_algorithm == other.hash_algorithm
            and self.normalized() == other.normalized()
        )


def compute_hash_data(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    algorithm: HashAlgorithm = HashAlgorithm.SHA256,
) -> CertificateHashData:
    """Compute the OCPP certificateHashData of ``cert`` (M03.FR.04, M04).

    OCPP uses the RFC 6960 CertID: issuerNameHash is the digest of the DER encoding
    of the certificate's issuer Name, issuerKeyHash the digest of the issuer public
    key's BIT STRING contents (without tag, length and unused-bits octet). For a
    self-signed root pass the certificate as its own issuer.

    We let ``cryptography``'s OCSP request builder derive the CertID because it hashes
    the encodings exactly as they appear in the certificates (e.g. a compressed EC
    point stays compressed), which re-encoding a parsed key would not guarantee.

    Raises ValueError if ``issuer`` is not the issuer named by ``cert`` (the hash would
    silently identify the wrong certificate) or if the serial is negative.
    """
    if cert.issuer != issuer.subject:
        raise ValueError(
            f"issuer mismatch: certificate names issuer {cert.issuer.rfc4514_string()!r} "
            f"but the given issuer is {issuer.subject.rfc4514_string()!r}"
        )
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(cert, issuer, _hash_for(algorithm))
        .build()
    )
    return CertificateHashData(
        hash_algorithm=algorithm,
        issuer_name_hash=request.issuer_name_hash.hex(),
        issuer_key_hash=request.issuer_key_hash.hex(),
        serial_number=serial_number_hex(request.serial_number),
    )


class CertificateRejected(Exception):
    """A certificate the station refuses (InstallCertificate → Rejected, M05.FR.07; 1.6: FR.06).

    ``reason_code`` and ``additional_info`` go straight into the response's
    statusInfo, so they are bounded to the schema limits here rather than at every
    call site. ``additional_info`` is meant for an operator reading CSMS logs: it says
    what is wrong and never contains key material or the certificate body.
    """

    reason_code: str
    additional_info: str

    def __init__(
        self, additional_info: str, reason_code: str = REASON_INVALID_CERTIFICATE
    ):
        if not reason_code or len(reason_code) > MAX_REASON_CODE_LEN:
            raise ValueError(f"reason_code must be 1..{MAX_REASON_CODE_LEN} characters")
        info = additional_info.strip() or "certificate rejected"
        super().__init__(info)  # the StatusInfo it becomes is cut to the version's limit in one place
        self.reason_code = reason_code
        self.additional_info = info


# One complete PEM block. Labels never contain "-" in practice (CERTIFICATE,
# PRIVATE KEY, CERTIFICATE REQUEST, X9.42 DH PARAMETERS, ...).
_PEM_BLOCK = re.compile(
    r"-----BEGIN (?P<label>[^\r\n-]+)-----(?P<body>.*?)-----END (?P=label)-----",
    re.DOTALL,
)
_PEM_BEGIN = re.compile(r"-----BEGIN ([^\r\n-]+)-----")
_PEM_END = re.compile(r"-----END ([^\r\n-]+)-----")


def parse_pem_certificate(text: str) -> x509.Certificate:
    """Parse the ``certificate`` field of InstallCertificate: exactly one PEM certificate.

    OCPP mandates PEM (A00.FR.507) and InstallCertificate carries a single CA
    certificate, so anything else is refused rather than guessed at: bare base64/DER,
    several certificates (which one would we install?), keys or CSRs pasted by
    mistake, or text around the block. Whitespace around the block is fine.

    The size limit of the field (5500 / 10000 characters) is a schema concern and is
    left to the message handler (reasonCode TooLargeElement).
    """
    if not isinstance(text, str):
        raise CertificateRejected("certificate is not a text (PEM) value")
    if not text.strip():
        raise CertificateRejected(
            "certificate is empty; expected one PEM CERTIFICATE block"
        )

    begins = _PEM_BEGIN.findall(text)
    ends = _PEM_END.findall(text)
    if not begins and not ends:
        raise CertificateRejected(
            "no PEM armour found: expected '-----BEGIN CERTIFICATE-----' ... "
            "'-----END CERTIFICATE-----' (bare DER/base64 is not accepted, A00.FR.507)"
        )
    blocks = list(_PEM_BLOCK.finditer(text))
    if len(blocks) != len(begins) or len(blocks) != len(ends):
        raise CertificateRejected("malformed PEM: BEGIN/END lines do not pair up")

    labels = [m.group("label") for m in blocks]
    foreign = [label for label in labels if label != "CERTIFICATE"]
    if foreign:
        # Name only the label: never echo the content of e.g. a private key.
        what = ", ".join(sorted(set(foreign)))
        hint = " (a private key must never be sent)" if "PRIVATE KEY" in what else ""
        raise CertificateRejected(
            f"PEM contains a {what} block instead of a CERTIFICATE{hint}"
        )
    if len(blocks) > 1:
        raise CertificateRejected(
            f"PEM contains {len(blocks)} certificates; exactly one certificate is expected"
        )

    block = blocks[0]
    if text[: block.start()].strip() or text[block.end() :].strip():
        raise CertificateRejected(
            "unexpected text before or after the PEM CERTIFICATE block"
        )

    try:
        cert = x509.load_pem_x509_certificate(block.group(0).encode("ascii"))
    except UnicodeEncodeError:
        raise CertificateRejected(
            "PEM CERTIFICATE body contains non-ASCII characters"
        ) from None
    except ValueError as exc:
        raise CertificateRejected(
            f"PEM CERTIFICATE body is not a valid X.509 certificate: {_short(exc)}"
        ) from None
    # cryptography parses names, validity and the key lazily: a certificate whose outer structure
    # is sound but whose issuer (say) is garbage would only fail later, in the middle of a check.
    # Read every field we use now, so such a certificate is rejected here like any other.
    for field, read in (("subject", lambda: cert.subject), ("issuer", lambda: cert.issuer),
                        ("validity", lambda: (cert.not_valid_before_utc, cert.not_valid_after_utc)),
                        ("public key", cert.public_key), ("serial number", lambda: cert.serial_number)):
        try:
            read()
        except (ValueError, exceptions.UnsupportedAlgorithm) as exc:
            raise CertificateRejected(f"the certificate's {field} cannot be read: {_short(exc)}") from None
    return cert


def _short(exc: BaseException, limit: int = 160) -> str:
    """Trim library error text so it fits into additionalInfo next to our own text."""
    msg = " ".join(str(exc).split()) or type(exc).__name__
    return msg if len(msg) <= limit else msg[: limit - 3] + "..."


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _key_problem(cert: x509.Certificate) -> str | None:
    """Return why the subject key is too weak, or None (A00.FR.501-503)."""
    try:
        key = cert.public_key()
    except (exceptions.UnsupportedAlgorithm, ValueError) as exc:
        return f"unsupported or malformed public key: {_short(exc, 80)}"
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        return f"RSA key of {key.key_size} bits is too weak (minimum {MIN_RSA_BITS}, A00.FR.502)"
    if isinstance(key, dsa.DSAPublicKey) and key.key_size < MIN_DSA_BITS:
        return f"DSA key of {key.key_size} bits is too weak (minimum {MIN_DSA_BITS}, A00.FR.502)"
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.key_size < MIN_EC_BITS:
        return (
            f"EC key on {key.curve.name} ({key.curve.key_size} bits) is too weak "
            f"(minimum {MIN_EC_BITS}, A00.FR.503)"
        )
    # Ed25519/Ed448 (and anything else cryptography can load) meet the 112-bit floor
    # or cannot sign, in which case the self-signature check below fails anyway.
    return None


def check_root_certificate(
    cert: x509.Certificate,
    now: datetime,
    *,
    require_self_signed: bool = True,
) -> None:
    """Decide whether ``cert`` may be installed as a root/CA (M05.FR.07).

    InstallCertificate only ever installs trust anchors (CSMS, Manufacturer, V2G, MO,
    OEM roots), so a certificate is acceptable only if it can act as one: X.509 v3,
    a CA (basicConstraints CA=true) allowed to sign certificates (keyUsage with
    keyCertSign), inside its validity period, with a strong enough key, and
    self-signed. All problems found are reported together so the operator can fix
    them in one round trip.

    ``require_self_signed=False`` exists for AdditionalRootCertificateCheck
    (M05.FR.10): the replacement CSMS root is then signed by the *old* root rather
    than by itself; the caller checks that with :func:`is_signed_by` instead.

    ``now`` must be timezone-aware (naive datetimes raise ValueError, a caller bug).
    Raises :class:`CertificateRejected` with reasonCode InvalidCertificate.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")

    problems: list[str] = []

    # Extensions only exist in v3; an old v1 certificate cannot express CA=true.
    try:
        version = cert.version
    except x509.InvalidVersion as exc:
        problems.append(f"unsupported X.509 version ({exc.parsed_version + 1})")
    else:
        if version is not x509.Version.v3:
            problems.append(
                f"X.509 {version.name} certificate; a v3 CA certificate is required"
            )

    # RFC 5280 validity is inclusive at both ends. M05.FR.07: an expired certificate is
    # invalid (OCTT TC_M_07_CS installs an expired CSMS root and expects Rejected).
    not_before = cert.not_valid_before_utc
    not_after = cert.not_valid_after_utc
    if now < not_before:
        problems.append(f"not valid yet (notBefore {_iso(not_before)})")
    if now > not_after:
        problems.append(f"expired (notAfter {_iso(not_after)})")

    # A00.FR.508 requires a serial; it must also fit the 40-character serialNumber of
    # CertificateHashDataType or we could never report/delete the certificate (M03/M04).
    if cert.serial_number < 0:
        problems.append("negative serial number (RFC 5280 requires a positive serial)")
    elif len(serial_number_hex(cert.serial_number)) > MAX_SERIAL_HEX_LEN:
        problems.append(
            "serial number longer than 20 octets (cannot be reported in OCPP)"
        )

    # The certificate must be a CA that may sign certificates (RFC 5280 4.2.1.3/4.2.1.9).
    try:
        extensions = cert.extensions
    except ValueError as exc:
        problems.append(f"malformed extensions: {_short(exc, 120)}")
    else:
        try:
            bc = extensions.get_extension_for_class(x509.BasicConstraints).value
        except x509.ExtensionNotFound:
            problems.append("basicConstraints extension missing (CA=true required)")
        else:
            if not bc.ca:
                problems.append(
                    "basicConstraints CA=false; a CA certificate is required"
                )
        try:
            ku = extensions.get_extension_for_class(x509.KeyUsage).value
        except x509.ExtensionNotFound:
            # Stricter than RFC 5280 (which only says a CA SHOULD carry keyUsage), in
            # the spirit of A00.FR.512: a trust anchor must say it signs certificates.
            problems.append("keyUsage extension missing (keyCertSign required)")
        else:
            if not ku.key_cert_sign:
                problems.append("keyUsage lacks keyCertSign")

    key_problem = _key_problem(cert)
    if key_problem:
        problems.append(key_problem)

    if require_self_signed:
        if cert.issuer != cert.subject:
            problems.append(
                f"not self-signed: issuer {cert.issuer.rfc4514_string()!r} differs from "
                f"subject {cert.subject.rfc4514_string()!r}"
            )
        else:
            try:
                cert.verify_directly_issued_by(cert)
            except exceptions.InvalidSignature:
                problems.append(
                    "self-signature does not verify with the certificate's own key"
                )
            except (ValueError, TypeError, exceptions.UnsupportedAlgorithm) as exc:
                problems.append(
                    f"self-signature cannot be verified: {_short(exc, 120)}"
                )

    if problems:
        raise CertificateRejected("; ".join(problems))


def is_signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """True if ``issuer`` names and signed ``cert``.

    Used for AdditionalRootCertificateCheck: a new CSMS root is only installed when
    the current root signed it (M05.FR.10, else Rejected per M05.FR.11; 1.6 numbering
    M05.FR.09/10). Any failure (name mismatch, bad signature, unsupported key or
    signature algorithm) simply means "not signed by".
    """
    try:
        cert.verify_directly_issued_by(issuer)
    except (exceptions.InvalidSignature, ValueError, TypeError, exceptions.UnsupportedAlgorithm):
        return False
    return True


def is_ca(cert: x509.Certificate) -> bool:
    """True if ``cert`` says it is a certificate authority (basicConstraints CA=true)."""
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except (x509.ExtensionNotFound, ValueError):
        return False


def is_self_signed(cert: x509.Certificate) -> bool:
    """True if ``cert`` names itself as its issuer and its own key signed it (a root)."""
    return cert.issuer == cert.subject and is_signed_by(cert, cert)


def fingerprint_sha256(cert: x509.Certificate) -> str:
    """Lower-case hex SHA-256 over the DER encoding.

    Identifies a byte-identical certificate so a repeated InstallCertificate replaces
    instead of duplicating it (M05.FR.17).
    """
    return cert.fingerprint(hashes.SHA256()).hex()


def describe(cert: x509.Certificate) -> str:
    """One short line naming a certificate, for logs and the CLI.

    Shows the subject CN (the whole subject if it has no CN), the serial as OCPP
    reports it and the expiry date: enough to tell certificates apart without
    dumping them.
    """
    cns = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    name = (
        str(cns[0].value) if cns else cert.subject.rfc4514_string() or "<empty subject>"
    )
    serial = (
        serial_number_hex(cert.serial_number)
        if cert.serial_number >= 0
        else f"-{format(-cert.serial_number, 'x')}"
    )
    return f"{name!r} serial {serial} valid until {cert.not_valid_after_utc.date().isoformat()}"


def is_valid_at(cert: x509.Certificate, now: datetime) -> bool:
    """True if ``now`` is inside the certificate's validity period (RFC 5280: both ends inclusive).

    "Valid" in the requirements that guard a security-profile change (A05.FR.02/03) and in
    the rules below means usable *now*, not merely installed: an expired CSMS root cannot
    validate any server, so it must not count as "a CSMS root is installed".
    """
    return cert.not_valid_before_utc <= now <= cert.not_valid_after_utc


def _server_name(host: str) -> verification.DNSName | verification.IPAddress:
    try:
        return verification.IPAddress(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return verification.DNSName(host)


def _directly_anchored(
    root: x509.Certificate,
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    now: datetime,
) -> bool:
    """Signature walk: leaf → (intermediates, in any order) → a certificate ``root`` signed.

    Every certificate on the way, ``root`` included, must be inside its validity period.
    """
    if not (is_valid_at(root, now) and is_valid_at(leaf, now)):
        return False
    current, unused = leaf, list(intermediates)
    while True:
        if is_signed_by(current, root):
            return True
        issuer = next((c for c in unused if is_valid_at(c, now) and is_signed_by(current, c)), None)
        if issuer is None:
            return False
        unused.remove(issuer)
        current = issuer


def anchors_server_chain(
    root: x509.Certificate,
    leaf: x509.Certificate,
    *,
    host: str | None,
    now: datetime,
    intermediates: Sequence[x509.Certificate] = (),
) -> bool:
    """True if ``root``, as the only trust anchor, validates the CSMS server certificate ``leaf``.

    Used for "the root in use for the connection" (1.6 M04.FR.06) and "connected using the
    new root" (M05.FR.13). The TLS stack has already accepted ``leaf`` for ``host`` when we
    are asked, so the question is only *which* installed root anchors its chain.

    First ``cryptography``'s path validation with ``Store([root])`` and the host name (the
    CA/Browser-Forum "web PKI" profile). ``root`` need not be self-signed: cryptography takes
    any certificate in the store as an anchor, which is what a root installed under
    AdditionalRootCertificateCheck (signed by its predecessor) needs. That profile is stricter
    than OpenSSL and than OCPP, and refuses CSMS certificates that connect fine: no
    subjectAltName (OpenSSL falls back to the CN), no authorityKeyIdentifier, EC keys on
    P-224 (allowed by A00.FR.503), other signature algorithms. So when it says no, we fall back
    to a signature walk with ``verify_directly_issued_by`` (leaf, then the intermediates, up to
    a certificate ``root`` signed; every certificate inside its validity period). The walk
    checks neither the host name (done by the TLS stack) nor extensions; it cannot be fooled
    into a false "yes", because only ``root``'s key can make the last signature verify.
    """
    if host:
        try:
            (
                verification.PolicyBuilder()
                .store(verification.Store([root]))
                .time(now)
                .build_server_verifier(_server_name(host))
                .verify(leaf, list(intermediates))
            )
        except (verification.VerificationError, ValueError, TypeError):
            pass  # e.g. no subjectAltName, a name that is no DNS name: try the signature walk
        else:
            return True
    return _directly_anchored(root, leaf, intermediates, now)


@dataclass(frozen=True)
class LiveConnection:
    """What DeleteCertificate must know about the CSMS connection to protect its root (M04).

    ``peer_leaf`` is the server certificate of the TLS connection to the CSMS that is up now
    (None: no TLS connection, e.g. offline or security profile 1), ``host`` the host name or
    IP address the station connected to, ``intermediates`` the other certificates the server
    sent (Python's ssl before 3.13 only exposes the leaf: leave it empty), and
    ``security_profile`` the active one (SecurityCtrlr.SecurityProfile; 1.6: the SecurityProfile
    key).
    """

    peer_leaf: x509.Certificate | None = None
    host: str | None = None
    security_profile: int = 1
    intermediates: tuple[x509.Certificate, ...] = ()


# No live TLS connection, security profile 1: nothing protects a CSMS root.
NO_LIVE_CONNECTION = LiveConnection()


@dataclass(frozen=True)
class DeleteRefused:
    """Why DeleteCertificate answers Failed for a certificate it found (statusInfo)."""

    reason_code: str
    additional_info: str


def csms_root_protection(
    root: x509.Certificate,
    *,
    live: LiveConnection,
    remaining: Iterable[x509.Certificate],
    now: datetime,
) -> DeleteRefused | None:
    """Whether DeleteCertificate must refuse to delete the CSMS root ``root``; None if not.

    One rule for every version. 1.6 M04.FR.06 forbids deleting the CentralSystemRootCertificate
    in use for the connection; 2.x has no such requirement (its M04.FR.06 guards the station's
    own certificate), but M04.FR.03 lets the station refuse a deletion, and a station that
    deletes the root it needs cuts itself off from its CSMS for good. So a CSMS root is
    protected when

    (a) it validates the live TLS connection to the CSMS (:func:`anchors_server_chain` with
        the server certificate of that connection), or
    (b) the active security profile is 2 or 3 and it is the last *usable* CSMS root
        (:func:`is_valid_at`): ``remaining`` are the CSMS roots (fallback included) that would
        be left after the deletion. An expired root protects nothing, so it may go.

    Any other root may be deleted (OCTT installs an extra root and deletes it).
    """
    if live.peer_leaf is not None and anchors_server_chain(
        root, live.peer_leaf, host=live.host, now=now, intermediates=live.intermediates
    ):  # 1.6 M04.FR.06, 2.x M04.FR.03
        return DeleteRefused(
            REASON_IN_USE,
            f"the CSMS root {describe(root)} validates the live connection to the CSMS",
        )
    if (
        live.security_profile >= 2
        and is_valid_at(root, now)
        and not any(is_valid_at(other, now) for other in remaining)
    ):  # 2.x M04.FR.03
        return DeleteRefused(
            REASON_LAST_USABLE_ROOT,
            f"{describe(root)} is the last valid CSMS root and security profile "
            f"{live.security_profile} needs one to reconnect to the CSMS",
        )
    return None

"""The station's certificates: install, list and delete roots (M03–M05); import its own chains.

Certificates live in the SQLite database (table ``certificate``), which is the source of truth.
From it we derive, atomically, one PEM bundle per type under ``<data dir>/certs/`` — what a TLS
stack loads (``CSMSRootCertificate.pem`` is the trust store for the CSMS link) — and rewrite them
all at start, so the database and the bundles agree after any crash.

Uses (certificate types) are the 2.x names; OCPP 1.6's ``CentralSystemRootCertificate`` is the
same store as ``CSMSRootCertificate`` (the handler translates). Besides the roots, two uses hold
the station's own chains, imported by the admin until CertificateSigned exists:
``ChargingStationCertificate`` (security profile 3) and ``V2GCertificateChain`` (ISO 15118); their
private keys are files of mode 0600 under ``<data dir>/private/``.

The store reads the database on every call: certificate operations are rare, and an admin command
run beside the service (``ocpp-station certs import``) is then seen at once.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from .certificates import (
    CertificateHashData,
    CertificateRejected,
    HashAlgorithm,
    check_root_certificate,
    compute_hash_data,
    describe,
    fingerprint_sha256,
    is_signed_by,
    parse_pem_certificate,
)
from .files import atomic_write, remove_durably
from .storage import Storage

log = logging.getLogger(__name__)

ROOT_USES = ("CSMSRootCertificate", "ManufacturerRootCertificate", "V2GRootCertificate", "MORootCertificate",
             "OEMRootCertificate")
OWN_USES = ("ChargingStationCertificate", "V2GCertificateChain")
MAX_CHILD_CERTIFICATES = 4  # CertificateHashDataChainType.childCertificateHashData: at most 4 sub-CAs


class InstallStatus(StrEnum):
    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    FAILED = "Failed"


class DeleteStatus(StrEnum):
    ACCEPTED = "Accepted"
    FAILED = "Failed"
    NOT_FOUND = "NotFound"


@dataclass(frozen=True)
class Result:
    """A status and, when it is not Accepted, why (reasonCode + a sentence)."""

    status: str
    reason_code: str | None = None
    additional_info: str = ""


@dataclass(frozen=True)
class InstalledCertificate:
    """One installed certificate, as GetInstalledCertificateIds reports it."""

    use: str
    role: str
    hash_data: dict[HashAlgorithm, CertificateHashData]
    description: str
    children: tuple[dict[HashAlgorithm, CertificateHashData], ...] = field(default=())


class ImportError_(ValueError):
    """The files given to ``certs import`` cannot be used; the message says why."""


def _all_hash_data(cert: x509.Certificate, issuer: x509.Certificate) -> str:
    return json.dumps({alg.value: compute_hash_data(cert, issuer, alg).to_ocpp() for alg in HashAlgorithm})


def _read_hash_data(text: str) -> dict[HashAlgorithm, CertificateHashData]:
    return {HashAlgorithm(alg): CertificateHashData.from_ocpp(data) for alg, data in json.loads(text).items()}


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


class CertificateStore:
    def __init__(self, storage: Storage, data_dir: Path, max_entries: Callable[[], int],
                 additional_root_check: bool = False, clock: Callable[[], datetime] | None = None):
        self._storage = storage
        self._db = storage.connection
        self._certs_dir = data_dir / "certs"
        self._private_dir = data_dir / "private"
        self._max_entries = max_entries
        self._additional_root_check = additional_root_check
        self._clock = clock or (lambda: datetime.now(UTC))

    # -- reading ------------------------------------------------------------------------------

    def count(self) -> int:
        """Installed CA certificates (roots and a kept fallback): SecurityCtrlr.CertificateEntries."""
        return self._db.execute("SELECT count(*) FROM certificate WHERE role IN ('root', 'fallback')").fetchone()[0]

    def installed(self, uses: Iterable[str]) -> list[InstalledCertificate]:
        """Installed certificates of ``uses``, oldest first; own chains as leaf + children (M03.FR.05)."""
        found = []
        for use in uses:
            rows = self._db.execute(
                "SELECT role, hash_data, description FROM certificate WHERE use = ? ORDER BY position, id",
                (use,)).fetchall()
            if use in OWN_USES:
                leaf = [r for r in rows if r[0] == "leaf"]
                if leaf:
                    children = tuple(_read_hash_data(r[1]) for r in rows if r[0] == "sub-ca")
                    found.append(InstalledCertificate(use, "leaf", _read_hash_data(leaf[0][1]), leaf[0][2],
                                                      children[:MAX_CHILD_CERTIFICATES]))
                continue
            found += [InstalledCertificate(use, role, _read_hash_data(data), text) for role, data, text in rows]
        return found

    # -- M05 InstallCertificate ---------------------------------------------------------------

    def install_root(self, use: str, pem: str) -> Result:
        """Install a root of ``use``; Accepted only once it is durably stored (M05.FR.01–03)."""
        try:
            cert = parse_pem_certificate(pem)
            fingerprint = fingerprint_sha256(cert)
            if self._db.execute("SELECT 1 FROM certificate WHERE use = ? AND fingerprint = ? AND role = 'root'",
                                (use, fingerprint)).fetchone():
                log.info("InstallCertificate %s: %s is already installed", use, describe(cert))
                return Result(InstallStatus.ACCEPTED)  # M05.FR.17: installing it again changes nothing
            issuer, replaces = self._issuer_for(use, cert)
            check_root_certificate(cert, self._clock(), require_self_signed=issuer is cert)  # M05.FR.07
        except CertificateRejected as why:
            log.info("InstallCertificate %s rejected: %s", use, why.additional_info)
            return Result(InstallStatus.REJECTED, why.reason_code, why.additional_info)
        # A replacement keeps the old root as fallback and drops an older fallback (M05.FR.12).
        dropped = 0 if replaces is None else self._db.execute(
            "SELECT count(*) FROM certificate WHERE use = ? AND role = 'fallback'", (use,)).fetchone()[0]
        if self.count() - dropped + 1 > self._max_entries():  # M05.FR.06
            info = f"the certificate store is full ({self._max_entries()} certificates)"
            log.info("InstallCertificate %s rejected: %s", use, info)
            return Result(InstallStatus.REJECTED, "OutOfStorage", info)
        try:
            with self._storage.transaction() as db:
                if replaces is not None:  # M05.FR.12: the old root stays as the fallback
                    db.execute("DELETE FROM certificate WHERE use = ? AND role = 'fallback'", (use,))
                    db.execute("UPDATE certificate SET role = 'fallback' WHERE id = ?", (replaces,))
                db.execute("DELETE FROM certificate WHERE use = ? AND fingerprint = ?", (use, fingerprint))
                db.execute("INSERT INTO certificate (use, role, pem, fingerprint, hash_data, description)"
                           " VALUES (?, 'root', ?, ?, ?, ?)",
                           (use, _pem(cert), fingerprint, _all_hash_data(cert, issuer), describe(cert)))
            self._storage.after_commit(lambda: self.write_bundle(use))
        except Exception:
            log.exception("InstallCertificate %s: could not store %s", use, describe(cert))
            return Result(InstallStatus.FAILED, "OutOfStorage", "the certificate could not be stored")  # M05.FR.03
        log.info("InstallCertificate %s: installed %s", use, describe(cert))
        return Result(InstallStatus.ACCEPTED)

    def _issuer_for(self, use: str, cert: x509.Certificate) -> tuple[x509.Certificate, int | None]:
        """Who must have signed ``cert``, and which installed root it replaces.

        Normally a root signs itself. With AdditionalRootCertificateCheck a new CSMS root must be
        signed by the one installed (M05.FR.09–11), which it then replaces (M05.FR.12).
        """
        if not (self._additional_root_check and use == "CSMSRootCertificate"):
            return cert, None
        current = self._db.execute(
            "SELECT id, pem, fingerprint FROM certificate WHERE use = ? AND role = 'root' ORDER BY id DESC",
            (use,)).fetchone()
        if current is None or current[2] == fingerprint_sha256(cert):
            return cert, None
        old = x509.load_pem_x509_certificate(current[1].encode())
        if not is_signed_by(cert, old):  # M05.FR.11
            raise CertificateRejected("AdditionalRootCertificateCheck: the new CSMS root is not signed by the "
                                      "installed one")
        return old, current[0]

    # -- M04 DeleteCertificate ----------------------------------------------------------------

    def delete(self, wanted: CertificateHashData) -> Result:
        """Delete every certificate matching ``wanted`` (M04.FR.02); never the station's own (FR.06)."""
        matches = [(row_id, use, role, text) for row_id, use, role, data, text in self._db.execute(
            "SELECT id, use, role, hash_data, description FROM certificate")
            if _read_hash_data(data)[wanted.hash_algorithm].matches(wanted)]
        if not matches:
            return Result(DeleteStatus.NOT_FOUND)  # M04.FR.04
        if any(role in ("leaf", "sub-ca") for _, _, role, _ in matches):
            log.info("DeleteCertificate refused: it is part of the station's own %s", matches[0][1])
            return Result(DeleteStatus.FAILED, "InvalidCertificate",  # M04.FR.06
                          "the station's own certificate cannot be deleted")
        try:
            with self._storage.transaction() as db:
                db.executemany("DELETE FROM certificate WHERE id = ?", [(m[0],) for m in matches])
            for use in {m[1] for m in matches}:
                self._storage.after_commit(lambda use=use: self.write_bundle(use))
        except Exception:
            log.exception("DeleteCertificate failed")
            return Result(DeleteStatus.FAILED, "InternalError", "the certificate could not be deleted")  # FR.03
        for _, use, _, text in matches:
            log.info("DeleteCertificate %s: deleted %s", use, text)
        return Result(DeleteStatus.ACCEPTED)

    # -- the station's own chains (admin import) ----------------------------------------------

    def import_own(self, use: str, chain_pem: bytes, key_pem: bytes) -> list[str]:
        """Store the station's certificate chain of ``use`` and its private key; replace what was there.

        The chain file holds the leaf first, then the sub-CAs that issued it (a trailing self-signed
        root is accepted and not stored). Returns one line per stored certificate.
        """
        if use not in OWN_USES:
            raise ImportError_(f"--type must be one of {', '.join(OWN_USES)}")
        try:
            chain = x509.load_pem_x509_certificates(chain_pem)
        except ValueError:
            raise ImportError_("the certificate file holds no readable PEM certificate") from None
        key = _load_key(key_pem)
        leaf = chain[0]
        if key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo) != \
                leaf.public_key().public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo):
            raise ImportError_("the private key does not belong to the first certificate of the file")
        now = self._clock()
        if not leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc:
            raise ImportError_(f"the certificate is not valid now: {describe(leaf)}")
        for child, parent in itertools.pairwise(chain):
            if not is_signed_by(child, parent):
                raise ImportError_(f"{describe(child)} is not signed by the next certificate in the file")
        if len(chain) > 1 and chain[-1].issuer == chain[-1].subject:
            top_issuer, chain = chain[-1], chain[:-1]
        else:
            top_issuer = self._find_installed_issuer(chain[-1])
        if len(chain) - 1 > MAX_CHILD_CERTIFICATES:
            raise ImportError_(f"at most {MAX_CHILD_CERTIFICATES} sub-CA certificates can be reported")
        issuers = [*chain[1:], top_issuer]
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode("ascii")
        with self._storage.transaction() as db:
            db.execute("DELETE FROM certificate WHERE use = ?", (use,))
            for position, (cert, issuer) in enumerate(zip(chain, issuers, strict=True)):
                db.execute("INSERT INTO certificate (use, role, position, pem, fingerprint, hash_data, description,"
                           " private_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           (use, "leaf" if position == 0 else "sub-ca", position, _pem(cert),
                            fingerprint_sha256(cert), _all_hash_data(cert, issuer), describe(cert),
                            key_pem if position == 0 else None))
        self._storage.after_commit(lambda: self.write_bundle(use))
        log.info("imported the station's %s: %s (+%d sub-CA)", use, describe(leaf), len(chain) - 1)
        return [describe(cert) for cert in chain]

    def _find_installed_issuer(self, cert: x509.Certificate) -> x509.Certificate:
        for (pem,) in self._db.execute("SELECT pem FROM certificate WHERE role IN ('root', 'fallback')"):
            candidate = x509.load_pem_x509_certificate(pem.encode())
            if is_signed_by(cert, candidate):
                return candidate
        raise ImportError_(f"cannot compute the hash data of {describe(cert)}: its issuer is neither in the "
                           "file nor an installed root")

    # -- derived files --------------------------------------------------------------------------

    def write_bundle(self, use: str) -> None:
        """Rewrite ``certs/<use>.pem`` (and an own chain's key file) from the database.

        Files of a use with nothing installed are removed.
        """
        rows = self._db.execute(
            "SELECT pem, private_key FROM certificate WHERE use = ? ORDER BY position, id", (use,)).fetchall()
        bundle = self._certs_dir / f"{use}.pem"
        if rows:
            atomic_write(bundle, "".join(pem for pem, _ in rows).encode("ascii"))
        else:
            remove_durably(bundle)
        if use in OWN_USES:
            key_file = self._private_dir / f"{use}.key.pem"
            if rows and rows[0][1]:
                atomic_write(key_file, rows[0][1].encode("ascii"), mode=0o600)
            else:
                remove_durably(key_file)

    def write_all_bundles(self) -> None:
        """Make every derived file agree with the database (at start: heals a crash mid-write)."""
        for use in (*ROOT_USES, *OWN_USES):
            self.write_bundle(use)


def _load_key(data: bytes) -> PrivateKeyTypes:
    try:
        return serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise ImportError_("the private key is encrypted; give it unencrypted (the data dir is 0700)") from None
    except (ValueError, UnsupportedAlgorithm):
        raise ImportError_("the key file holds no readable PEM private key") from None

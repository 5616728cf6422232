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

*Installed* is not *usable*: :meth:`CertificateStore.usable` gives the certificates of a use that
work now (inside their validity period at the store's clock; the station's own chain only with
its private key), which is what "a valid CSMSRootCertificate / ChargingStationCertificate" means
in A05.FR.02/03 and what DeleteCertificate protects (M04, :func:`.certificates.csms_root_protection`).
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from ..logsafe import shown
from .certificate_uses import OWN_USES, ROOT_USES
from .certificates import (
    NO_LIVE_CONNECTION,
    CertificateHashData,
    CertificateRejected,
    HashAlgorithm,
    LiveConnection,
    anchors_server_chain,
    check_root_certificate,
    compute_hash_data,
    csms_root_protection,
    describe,
    fingerprint_sha256,
    is_signed_by,
    is_valid_at,
    parse_pem_certificate,
)
from .crypto import exceptions, serialization, x509
from .files import atomic_write, remove_durably
from .storage import Storage

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

log = logging.getLogger(__name__)


def _logged(text: str) -> str:
    """A certificate's description (its subject, chosen by whoever made it) or a refusal quoting one,
    for a log line: :func:`.certificates.describe` quotes the subject with ``repr``, which escapes a
    newline but keeps every character of a subject of thousands; this caps it too."""
    return shown(text, 300, quote=False)


CSMS_ROOT = "CSMSRootCertificate"
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


def _load(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode("ascii"))


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
                "SELECT role, hash_data, description FROM certificate WHERE use = ? AND generation = 'current'"
                " ORDER BY position, id",
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

    def usable(self, use: str) -> list[x509.Certificate]:
        """The installed certificates of ``use`` that can be used now, oldest first.

        A root (a kept CSMS fallback included: M05.FR.14 may still use it) is usable inside its
        validity period at the store's clock. The station's own chain (ChargingStationCertificate,
        V2GCertificateChain) is usable as a whole, leaf first, or not at all: its private key must be
        stored and the leaf and every sub-CA must be inside their validity periods, since the peer
        refuses a chain with an expired link. This is the "valid" of A05.FR.02/03.
        """
        rows = self._db.execute("SELECT role, pem, private_key FROM certificate WHERE use = ?"
                                " AND generation = 'current' ORDER BY position, id", (use,)).fetchall()
        now = self._clock()
        if use in OWN_USES:
            leaf = [(pem, key) for role, pem, key in rows if role == "leaf"]
            if not leaf or not leaf[0][1]:  # A05.FR.03: no key, no TLS client certificate
                return []
            chain = [_load(leaf[0][0]), *(_load(pem) for role, pem, _ in rows if role == "sub-ca")]
            return chain if all(is_valid_at(cert, now) for cert in chain) else []
        roots = (_load(pem) for role, pem, _ in rows if role in ("root", "fallback"))
        return [cert for cert in roots if is_valid_at(cert, now)]  # A05.FR.02

    def has_usable(self, use: str) -> bool:
        """True if :meth:`usable` finds anything (A05.FR.02: a valid CSMS root; A05.FR.03: a valid
        ChargingStationCertificate)."""
        return bool(self.usable(use))

    def usable_bundle_pem(self, use: str) -> bytes | None:
        """The usable certificates of ``use`` as one PEM bundle, or None if there are none.

        For a TLS context that must not trust what cannot be used (an expired root):
        ``ssl.SSLContext.load_verify_locations(cadata=bundle.decode())``. The files under
        ``certs/`` stay what they are: every installed certificate, derived from the database.
        """
        found = self.usable(use)
        return "".join(_pem(cert) for cert in found).encode("ascii") if found else None

    # -- M05 InstallCertificate ---------------------------------------------------------------

    def install_root(self, use: str, pem: str) -> Result:
        """Install a root of ``use``; Accepted only once it is durably stored (M05.FR.01–03)."""
        try:
            cert = parse_pem_certificate(pem)
            fingerprint = fingerprint_sha256(cert)
            current = self._current_csms_root() if self._checks_roots(use) else None
            if self._db.execute("SELECT 1 FROM certificate WHERE use = ? AND fingerprint = ? AND role = 'root'",
                                (use, fingerprint)).fetchone() or (current is not None and current[2] == fingerprint):
                # M05.FR.17: installing it again changes nothing; so does installing again the kept
                # fallback while it is the current root (M05.FR.09), which stays the fallback.
                log.info("InstallCertificate %s: %s is already installed", use, _logged(describe(cert)))
                return Result(InstallStatus.ACCEPTED)
            issuer, replaces = self._issuer_for(use, cert, current)
            check_root_certificate(cert, self._clock(), require_self_signed=issuer is cert)  # M05.FR.07
        except CertificateRejected as why:
            log.info("InstallCertificate %s rejected: %s", use, _logged(why.additional_info))
            return Result(InstallStatus.REJECTED, why.reason_code, why.additional_info)
        # A replacement keeps the old root as fallback and drops an older fallback (M05.FR.12).
        dropped = 0 if replaces is None else self._db.execute(
            "SELECT count(*) FROM certificate WHERE use = ? AND role = 'fallback' AND id != ?",
            (use, replaces)).fetchone()[0]
        if self.count() - dropped + 1 > self._max_entries():  # M05.FR.06
            info = f"the certificate store is full ({self._max_entries()} certificates)"
            log.info("InstallCertificate %s rejected: %s", use, info)
            return Result(InstallStatus.REJECTED, "OutOfStorage", info)
        try:
            with self._storage.transaction() as db:
                if replaces is not None:  # M05.FR.12: the old root stays as the (only) fallback
                    db.execute("DELETE FROM certificate WHERE use = ? AND role = 'fallback' AND id != ?",
                               (use, replaces))
                    db.execute("UPDATE certificate SET role = 'fallback' WHERE id = ?", (replaces,))
                db.execute("DELETE FROM certificate WHERE use = ? AND fingerprint = ?", (use, fingerprint))
                db.execute("INSERT INTO certificate (use, role, pem, fingerprint, hash_data, description)"
                           " VALUES (?, 'root', ?, ?, ?, ?)",
                           (use, _pem(cert), fingerprint, _all_hash_data(cert, issuer), describe(cert)))
            self._storage.after_commit(lambda: self.write_bundle(use))
        except Exception:
            log.exception("InstallCertificate %s: could not store %s", use, _logged(describe(cert)))
            return Result(InstallStatus.FAILED, "OutOfStorage", "the certificate could not be stored")  # M05.FR.03
        log.info("InstallCertificate %s: installed %s", use, _logged(describe(cert)))
        return Result(InstallStatus.ACCEPTED)

    def _checks_roots(self, use: str) -> bool:
        """AdditionalRootCertificateCheck applies to CSMS roots only (M05.FR.09)."""
        return self._additional_root_check and use == CSMS_ROOT

    def _current_csms_root(self) -> tuple[int, x509.Certificate, str] | None:
        """The CSMS root a new one must be signed by: (row id, certificate, fingerprint), or None.

        The newest 'root'; when there is none (it was deleted), the kept fallback (M05.FR.09–11). A
        fallback must never count as "no CSMS root installed": that would let any self-signed root in.
        """
        row = self._db.execute(
            "SELECT id, pem, fingerprint FROM certificate WHERE use = ? AND role IN ('root', 'fallback')"
            " ORDER BY role = 'root' DESC, id DESC", (CSMS_ROOT,)).fetchone()
        return None if row is None else (row[0], _load(row[1]), row[2])

    def _issuer_for(self, use: str, cert: x509.Certificate,
                    current: tuple[int, x509.Certificate, str] | None) -> tuple[x509.Certificate, int | None]:
        """Who must have signed ``cert``, and which installed root it replaces.

        Normally a root signs itself. With AdditionalRootCertificateCheck a new CSMS root must be
        signed by the current one, ``current`` (M05.FR.10/11: the one it replaces, which then stays as
        the fallback, M05.FR.12). Only when no CSMS root of any role is installed may a self-signed
        root come in as the first.
        """
        if not self._checks_roots(use) or current is None:
            return cert, None
        row_id, old, _ = current
        if not is_signed_by(cert, old):  # M05.FR.11
            raise CertificateRejected(f"AdditionalRootCertificateCheck: the new CSMS root is not signed by the "
                                      f"current one, {describe(old)}")
        return old, row_id

    # -- M04 DeleteCertificate ----------------------------------------------------------------

    def delete(self, wanted: CertificateHashData, live: LiveConnection = NO_LIVE_CONNECTION) -> Result:
        """Delete every certificate matching ``wanted`` (M04.FR.02); never the station's own (FR.06).

        ``live`` describes the CSMS connection: a CSMS root that validates it, or the last usable one
        at security profile 2 or 3, is not deleted (Failed; 1.6 M04.FR.06, 2.x M04.FR.03; the rule is
        :func:`.certificates.csms_root_protection`). The default, no live TLS connection and security
        profile 1, protects no root.
        """
        matches = [(row_id, use, role, text, pem) for row_id, use, role, data, text, pem in self._db.execute(
            "SELECT id, use, role, hash_data, description, pem FROM certificate")
            if _read_hash_data(data)[wanted.hash_algorithm].matches(wanted)]
        if not matches:
            return Result(DeleteStatus.NOT_FOUND)  # M04.FR.04
        if any(role in ("leaf", "sub-ca") for _, _, role, _, _ in matches):
            log.info("DeleteCertificate refused: it is part of the station's own %s", matches[0][1])
            return Result(DeleteStatus.FAILED, "InvalidCertificate",  # M04.FR.06
                          "the station's own certificate cannot be deleted")
        refused = self._protection([m for m in matches if m[1] == CSMS_ROOT], {m[0] for m in matches}, live)
        if refused is not None:
            log.info("DeleteCertificate refused: %s", _logged(refused.additional_info))
            return Result(DeleteStatus.FAILED, refused.reason_code, refused.additional_info)
        try:
            with self._storage.transaction() as db:
                db.executemany("DELETE FROM certificate WHERE id = ?", [(m[0],) for m in matches])
            for changed in {m[1] for m in matches}:
                self._storage.after_commit(functools.partial(self.write_bundle, changed))
        except Exception:
            log.exception("DeleteCertificate failed")
            return Result(DeleteStatus.FAILED, "InternalError", "the certificate could not be deleted")  # FR.03
        for _, use, _, text, _ in matches:
            log.info("DeleteCertificate %s: deleted %s", use, _logged(text))
        return Result(DeleteStatus.ACCEPTED)

    def _protection(self, csms_matches: list[tuple[int, str, str, str, str]], deleted: set[int],
                    live: LiveConnection) -> Result | None:
        """The first CSMS root among ``csms_matches`` that must stay, as a Failed result (M04)."""
        if not csms_matches:
            return None
        now = self._clock()
        remaining = [_load(pem) for row_id, pem in self._db.execute(
            "SELECT id, pem FROM certificate WHERE use = ? AND role IN ('root', 'fallback')", (CSMS_ROOT,))
            if row_id not in deleted]
        for *_, pem in csms_matches:
            refused = csms_root_protection(_load(pem), live=live, remaining=remaining, now=now)
            if refused is not None:
                return Result(DeleteStatus.FAILED, refused.reason_code, refused.additional_info)
        return None

    # -- M05.FR.13 the first connection with a new CSMS root ------------------------------------

    def confirm_new_root(self, peer_leaf: x509.Certificate, host: str | None,
                         intermediates: tuple[x509.Certificate, ...] = ()) -> bool:
        """After a successful TLS connection to the CSMS: drop the fallback CSMS root if the new one did it.

        M05.FR.13 (1.6: M05.FR.12): once the station connected using the new CSMS root, the old one,
        kept as the fallback (M05.FR.12), is removed. "Using the new root" is checked with the current
        'root' as the only trust anchor (:func:`.certificates.anchors_server_chain`): a server
        certificate still issued under the old root leaves the fallback in place (M05.FR.14 may need
        it). Returns True when the fallback was removed; otherwise nothing changes.

        The TLS stack must then be able to trust the new root alone although it is not self-signed:
        ``ssl.VERIFY_X509_PARTIAL_CHAIN`` (OpenSSL otherwise looks for its issuer and fails).
        """
        current = self._db.execute("SELECT pem FROM certificate WHERE use = ? AND role = 'root' ORDER BY id DESC",
                                   (CSMS_ROOT,)).fetchone()
        fallbacks = self._db.execute("SELECT id, description FROM certificate WHERE use = ? AND role = 'fallback'",
                                     (CSMS_ROOT,)).fetchall()
        if current is None or not fallbacks:
            return False
        new_root = _load(current[0])
        if not anchors_server_chain(new_root, peer_leaf, host=host, now=self._clock(), intermediates=intermediates):
            log.debug("M05.FR.13: the CSMS server certificate is not validated by the new CSMS root alone; "
                      "the fallback is kept")
            return False
        with self._storage.transaction() as db:
            db.executemany("DELETE FROM certificate WHERE id = ?", [(row_id,) for row_id, _ in fallbacks])
        self._storage.after_commit(lambda: self.write_bundle(CSMS_ROOT))
        for _, text in fallbacks:
            log.info("M05.FR.13: connected to the CSMS with the new CSMS root %s; removed the fallback %s",
                     _logged(describe(new_root)), _logged(text))
        return True

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
        key_text = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()).decode("ascii")
        with self._storage.transaction() as db:
            db.execute("DELETE FROM certificate WHERE use = ?", (use,))
            self._insert_own(use, chain, top_issuer, key_text, "current")
        self._storage.after_commit(lambda: self.write_bundle(use))
        log.info("imported the station's %s: %s (+%d sub-CA)", use, describe(leaf), len(chain) - 1)
        return [describe(cert) for cert in chain]

    def _insert_own(self, use: str, chain: list[x509.Certificate], top_issuer: x509.Certificate, key_text: str,
                    generation: str) -> None:
        issuers = [*chain[1:], top_issuer]
        for position, (cert, issuer) in enumerate(zip(chain, issuers, strict=True)):
            self._db.execute(
                "INSERT INTO certificate (use, role, position, pem, fingerprint, hash_data, description, private_key,"
                " generation) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (use, "leaf" if position == 0 else "sub-ca", position, _pem(cert), fingerprint_sha256(cert),
                 _all_hash_data(cert, issuer), describe(cert), key_text if position == 0 else None, generation))

    # -- the station's own chains (renewed: A02/A03) ------------------------------------------------

    def install_renewed(self, use: str, chain: list[x509.Certificate], top_issuer: x509.Certificate,
                        key_pem: str) -> bool:
        """Store a renewed own chain (leaf first, sub-CAs after; ``top_issuer`` signed the last) with its key.

        In the caller's unit of work. It becomes the one in use at once if its notBefore has passed
        (A02.FR.08), else it waits as 'renewed' (a later one replaces it) until :meth:`promote_renewed`.
        True when it is in use now.
        """
        self._db.execute("DELETE FROM certificate WHERE use = ? AND generation = 'renewed'", (use,))
        self._insert_own(use, chain, top_issuer, key_pem, "renewed")
        return self.promote_renewed(use)

    def own_leaf(self, use: str, generation: str = "current") -> x509.Certificate | None:
        """The leaf of the station's own chain of ``use`` in ``generation`` ('current', 'renewed', 'previous')."""
        row = self._db.execute("SELECT pem FROM certificate WHERE use = ? AND generation = ? AND role = 'leaf'",
                               (use, generation)).fetchone()
        return None if row is None else _load(row[0])

    def promote_renewed(self, use: str) -> bool:
        """Switch to the renewed chain once its notBefore has passed (A02.FR.08/A03.FR.08); True if it did.

        The newest wins (A02.FR.09: by the start of its validity): a renewed chain that starts before the
        one in use is not newer, and is dropped. The chain that was in use stays as 'previous', the
        fallback (A02.FR.10), until a connection with the new one is confirmed (:meth:`confirm_own`);
        an older fallback goes.
        """
        renewed, current = self.own_leaf(use, "renewed"), self.own_leaf(use)
        if renewed is None or renewed.not_valid_before_utc > self._clock():
            return False
        with self._storage.transaction() as db:
            if current is not None and renewed.not_valid_before_utc < current.not_valid_before_utc:  # A02.FR.09
                db.execute("DELETE FROM certificate WHERE use = ? AND generation = 'renewed'", (use,))
                log.info("the renewed %s %s starts before the one in use: dropped", use, _logged(describe(renewed)))
                return False
            db.execute("DELETE FROM certificate WHERE use = ? AND generation = 'previous'", (use,))
            db.execute("UPDATE certificate SET generation = 'previous' WHERE use = ? AND generation = 'current'",
                       (use,))
            db.execute("UPDATE certificate SET generation = 'current' WHERE use = ? AND generation = 'renewed'",
                       (use,))
        self._storage.after_commit(lambda: self.write_bundle(use))
        log.info("the station's %s is now %s", use, _logged(describe(renewed)))
        return True

    def confirm_own(self, use: str) -> x509.Certificate | None:
        """A connection was accepted with the chain in use: the other one, kept as the fallback, goes
        (2.1 A02.FR.10: the one not in use is discarded; 2.0.1 allows it). Returns the discarded leaf
        when it was the newer of the two — the renewed certificate lost (2.1 A02.FR.29 reports it)."""
        previous, current = self.own_leaf(use, "previous"), self.own_leaf(use)
        if previous is None:
            return None
        with self._storage.transaction() as db:
            db.execute("DELETE FROM certificate WHERE use = ? AND generation = 'previous'", (use,))
        log.info("the station's %s carried an accepted connection: the other one, %s, is discarded", use,
                 _logged(describe(previous)))
        newer = current is not None and previous.not_valid_before_utc > current.not_valid_before_utc
        return previous if newer else None

    def swap_own(self, use: str) -> bool:
        """No CSMS could be reached with the chain in use while a fallback is kept: use the other one for
        the next walk (2.1 A02.FR.28: alternate between old and new after the whole priority list).
        True if there was one to switch to."""
        previous = self.own_leaf(use, "previous")
        if previous is None:
            return False
        with self._storage.transaction() as db:
            db.execute("UPDATE certificate SET generation = 'swapping' WHERE use = ? AND generation = 'current'",
                       (use,))
            db.execute("UPDATE certificate SET generation = 'current' WHERE use = ? AND generation = 'previous'",
                       (use,))
            db.execute("UPDATE certificate SET generation = 'previous' WHERE use = ? AND generation = 'swapping'",
                       (use,))
        self._storage.after_commit(lambda: self.write_bundle(use))
        log.warning("no CSMS could be reached with the station's %s: trying %s", use, _logged(describe(previous)))
        return True

    def issuer_of(self, cert: x509.Certificate) -> x509.Certificate | None:
        """An installed root (or kept fallback) that signed ``cert``, if any."""
        try:
            return self._find_installed_issuer(cert)
        except ImportError_:
            return None

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
            "SELECT pem, private_key FROM certificate WHERE use = ? AND generation = 'current' ORDER BY position, id",
            (use,)).fetchall()
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
    except (ValueError, exceptions.UnsupportedAlgorithm):
        raise ImportError_("the key file holds no readable PEM private key") from None

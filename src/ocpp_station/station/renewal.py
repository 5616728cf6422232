"""The station's own certificate, renewed: A02 (the CSMS or the OEM asks) and A03 (it is about to expire).

A renewal is a key pair the station generates (A02.FR.02, A03.FR.02: ``[security] key_algorithm``),
whose private key never leaves the data directory (A02.FR.05: the database and its derived 0600
file; no door reads either), and a PEM PKCS#10 CSR (A02.FR.03) with CN = the station's identity
(SecurityCtrlr.Identity, A00.FR.511) and O = SecurityCtrlr.OrganizationName (A00.FR.509; A02's
prerequisite: no organization, no CSR). The CSR goes out as a **SignCertificate** through the
outbox of the door that asked — the CSMS's, or the OEM's over MQTT (factory provisioning) — and
the key pair waits in ``signing_request`` for its certificate. At most MAX_PENDING wait per use: a
newer request does not void a CSR a certificate authority is still signing, but they do not pile up.

**CertificateSigned** (:meth:`Renewal.certificate_signed`) is checked (:func:`.csr.check_signed_chain`:
size, the key of a waiting CSR, validity, Certificate Properties, the chain up to an installed
valid CSMS root where there is one). Rejected: discarded, an InvalidChargingStationCertificate
security event (A02.FR.07), and that CSR is not sent again until asked (A02.FR.20). Accepted:
installed (:meth:`CertificateStore.install_renewed`), in use once its notBefore has passed
(A02.FR.08), the one before kept as a fallback until a connection with the new one is accepted
(A02.FR.10) — and the key pairs waiting for that use are done.

The back-off (A02.FR.17–19) runs where the station learns that its SignCertificate was accepted:
on the CSMS link, whose answer says so (:meth:`Renewal.sign_answered`). CertSigningWaitMinimum
after an Accepted answer without a certificate, the same CSR is sent again, and the wait doubles
each time, CertSigningRepeatTimes times at most; then the station waits to be asked again
(A02.FR.19). Over MQTT the station learns nothing of the OEM's answer (the broker's
acknowledgement is all the door hears), so nothing is resent there: the OEM's tool waits for the
CSR it asked for.

A03: when the chain in use expires within ``[security] renew_before_days`` (30: "one month") and no
renewal of it is under way, :meth:`Renewal.tick` starts one towards the CSMS. It does not start
again after the CSMS let one lapse (the back-off given up, or a certificate rejected): A03.FR.19
waits for a TriggerMessage then.

Pure domain and storage, in the caller's unit of work; :meth:`Renewal.next_due` tells the shell
when to call :meth:`Renewal.tick`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ..versions import V16, V21
from . import csr
from .certificate_store import CSMS_ROOT, CertificateStore, InstallStatus, Result
from .certificates import CertificateRejected, describe
from .crypto import x509
from .outbox import Door, Outbox
from .security_events import SecurityEvents
from .storage import Storage

log = logging.getLogger(__name__)

USE = "ChargingStationCertificate"
ACTION = "SignCertificate"
MAX_PENDING = 4  # key pairs waiting for a certificate, per use
NOT_READY_RETRY_S = 3600.0  # A03 could not start (no OrganizationName): the next try


class NotReady(Exception):
    """A renewal cannot start now; the message says why (for a statusInfo and the log)."""


@dataclass(frozen=True)
class Waiting:
    """A key pair waiting for its certificate."""

    id: int  # also the 2.1 requestId (A02.FR.24)
    use: str
    door: str
    ocpp_version: str
    private_key: str
    public_key: bytes
    csr: str
    common_name: str
    organization: str
    attempts: int  # resends so far (A02.FR.17)
    next_due: float | None  # when to send it again (wall clock), None: not until asked


_COLUMNS = ("id, use, door, ocpp_version, private_key, public_key, csr, common_name, organization, attempts,"
            " next_due")


class Renewal:
    def __init__(self, storage: Storage, outbox: Outbox, certificates: CertificateStore, events: SecurityEvents, *,
                 key_algorithm: str, identity: Callable[[], str], organization: Callable[[], str],
                 setting: Callable[[str, int], int], renew_before: timedelta, link_enabled: bool,
                 version: Callable[[], str], clock: Callable[[], float] = time.time):
        self._storage = storage
        self._db = storage.connection
        self._outbox = outbox
        self._certificates = certificates
        self._events = events
        self._algorithm = csr.KeyAlgorithm(key_algorithm)
        self._identity = identity  # SecurityCtrlr.Identity
        self._organization = organization  # SecurityCtrlr.OrganizationName
        self._setting = setting  # SecurityCtrlr.<name> as an integer, with a default
        self._renew_before = renew_before
        self._link_enabled = link_enabled
        self._version = version  # the OCPP version of a renewal the station starts itself (A03)
        self._clock = clock
        self._not_before = 0.0  # A03 could not start (no OrganizationName): not again before this

    # -- asking for a certificate (A02.FR.02/03, A03.FR.02/03) ------------------------------------

    def request(self, door: Door, ocpp_version: str, *, triggered: bool, reply_to: str | None = None,
                correlation: bytes | None = None) -> Waiting:
        """Generate a key pair and queue its SignCertificate through ``door``; in the caller's unit of work.

        NotReady if SecurityCtrlr.OrganizationName is not set (the prerequisite of A02 and A03).
        """
        organization = self._organization().strip()
        if not organization:
            raise NotReady("SecurityCtrlr.OrganizationName is not set: a certificate's subject needs it (A00.FR.509)")
        common_name = self._identity()
        key = csr.generate_key(self._algorithm)
        try:
            request = csr.build_csr(key, common_name=common_name, organization=organization)
        except ValueError as why:  # A00.FR.511: a CN that looks like a URL; names over 64 characters
            raise NotReady(f"no certificate can be asked for with this subject: {why}") from None
        with self._storage.transaction() as db:
            cursor = db.execute(
                "INSERT INTO signing_request (use, door, ocpp_version, private_key, public_key, csr, common_name,"
                " organization, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (USE, door, ocpp_version, csr.key_to_pem(key), csr.public_key_der(key), request, common_name,
                 organization, self._clock()))
            db.execute("DELETE FROM signing_request WHERE use = ? AND id NOT IN (SELECT id FROM signing_request"
                       " WHERE use = ? ORDER BY id DESC LIMIT ?)", (USE, USE, MAX_PENDING))
            waiting = self._get(int(cursor.lastrowid or 0))
            assert waiting is not None
            self._send(waiting, triggered=triggered, reply_to=reply_to, correlation=correlation)
        log.info("%s: new %s key pair, CSR for CN=%s O=%s queued for the %s", USE, self._algorithm.value,
                 common_name, organization, "CSMS" if door == "csms" else "OEM")
        return waiting

    def _send(self, waiting: Waiting, *, triggered: bool, reply_to: str | None = None,
              correlation: bytes | None = None) -> None:
        payload: dict[str, object] = {"csr": waiting.csr}
        if waiting.ocpp_version != V16.value:  # 1.6 has one certificate to sign, and no certificateType
            payload["certificateType"] = waiting.use  # A02.FR.13
        if waiting.ocpp_version == V21.value:
            payload["requestId"] = waiting.id  # 2.1 A02.FR.24: the CertificateSigned names it
        door: Door = "mqtt" if waiting.door == "mqtt" else "csms"
        self._outbox.add(door, waiting.ocpp_version, ACTION, [payload], triggered=triggered, reply_to=reply_to,
                         correlation=correlation)

    def _get(self, request_id: int) -> Waiting | None:
        row = self._db.execute(f"SELECT {_COLUMNS} FROM signing_request WHERE id = ?", (request_id,)).fetchone()
        return None if row is None else Waiting(*row)

    def waiting(self, use: str = USE) -> list[Waiting]:
        """The key pairs of ``use`` waiting for their certificate, oldest first."""
        return [Waiting(*row) for row in self._db.execute(
            f"SELECT {_COLUMNS} FROM signing_request WHERE use = ? ORDER BY id", (use,))]

    # -- the CSMS's answer to SignCertificate, and the back-off (A02.FR.17-19) ---------------------

    def sign_answered(self, csr_text: str, accepted: bool) -> None:
        """The CSMS answered our SignCertificate for ``csr_text``: Accepted starts (or continues) the wait."""
        row = self._db.execute("SELECT id, attempts FROM signing_request WHERE csr = ?", (csr_text,)).fetchone()
        if row is None:
            return  # its certificate came already, or a newer request replaced it
        request_id, attempts = row
        due = None
        if accepted:  # A02.FR.17/18: CertSigningWaitMinimum, doubled for every resend so far
            wait = max(self._setting("CertSigningWaitMinimum", 30), 1)
            due = self._clock() + wait * 2 ** min(attempts, 20)
        else:
            log.warning("%s: the CSMS rejected the SignCertificate; not sent again until asked", USE)
        with self._storage.transaction() as db:
            db.execute("UPDATE signing_request SET next_due = ? WHERE id = ?", (due, request_id))

    def next_due(self) -> float | None:
        """When :meth:`tick` has something to do (wall clock): a resend, a renewed chain's notBefore, A03."""
        moments = [due for (due,) in self._db.execute(
            "SELECT next_due FROM signing_request WHERE next_due IS NOT NULL")]
        renewed = self._certificates.own_leaf(USE, "renewed")
        if renewed is not None:
            moments.append(renewed.not_valid_before_utc.timestamp())
        expiry = self._expiry_check_at()
        if expiry is not None:
            moments.append(expiry)
        return min(moments) if moments else None

    def tick(self) -> bool:
        """Do what is due now, in the caller's unit of work; True when the chain in use changed."""
        now = self._clock()
        for waiting in self.waiting():
            if waiting.next_due is None or waiting.next_due > now:
                continue
            if waiting.attempts >= self._setting("CertSigningRepeatTimes", 2):  # A02.FR.19
                log.warning("%s: no certificate came for the CSR after %d resends; waiting to be asked again "
                            "(TriggerMessage SignChargingStationCertificate)", USE, waiting.attempts)
                self._db.execute("UPDATE signing_request SET next_due = NULL WHERE id = ?", (waiting.id,))
                continue
            log.info("%s: no certificate within the back-off; sending the CSR again (%d)", USE, waiting.attempts + 1)
            self._db.execute("UPDATE signing_request SET attempts = attempts + 1, next_due = NULL WHERE id = ?",
                             (waiting.id,))
            self._send(waiting, triggered=False)  # A02.FR.17: the same CSR
        changed = self._certificates.promote_renewed(USE)
        at = self._expiry_check_at()
        if at is not None and at <= now:
            try:
                self.request("csms", self._version(), triggered=False)  # A03.FR.02
            except NotReady as why:
                log.warning("%s expires soon, but no renewal can start: %s; trying again in an hour", USE, why)
                self._not_before = now + NOT_READY_RETRY_S
        return changed

    def _expiry_check_at(self) -> float | None:
        """When A03 starts a renewal: ``renew_before`` before the chain in use expires — unless one is under
        way, a renewed chain waits, the CSMS link is off, or a renewal lapsed (A03.FR.19)."""
        if not self._link_enabled or self._db.execute(
                "SELECT 1 FROM signing_request WHERE use = ?", (USE,)).fetchone() is not None:
            return None
        leaf = self._certificates.own_leaf(USE)
        if leaf is None or self._certificates.own_leaf(USE, "renewed") is not None:
            return None
        return max((leaf.not_valid_after_utc - self._renew_before).timestamp(), self._not_before)

    # -- CertificateSigned (A02.FR.06-10, A03.FR.06-10) -------------------------------------------

    def certificate_signed(self, chain_pem: str, use: str, request_id: int | None) -> tuple[Result, bool]:
        """Check and install the certificate of a waiting CSR; (the answer's Result, whether it is in use now).

        In the caller's unit of work: the certificate, the security event of a rejection and the
        answer commit together.
        """
        try:
            chain, waiting, top_issuer = self._check(chain_pem, use, request_id)
        except CertificateRejected as why:
            self._events.record("InvalidChargingStationCertificate", f"CertificateSigned rejected: {why}")  # A02.FR.07
            return Result(InstallStatus.REJECTED, why.reason_code, why.additional_info), False
        in_use = self._certificates.install_renewed(use, chain, top_issuer, waiting.private_key)
        self._db.execute("DELETE FROM signing_request WHERE use = ?", (use,))
        self._events.record("ReconfigurationOfSecurityParameters",
                            f"new {use} installed: {describe(chain[0])}")
        return Result(InstallStatus.ACCEPTED), in_use

    def _check(self, chain_pem: str, use: str, request_id: int | None) -> tuple[list[x509.Certificate], Waiting,
                                                                                 x509.Certificate]:
        if use != USE:  # no ISO 15118 certificate is generated here: nothing waits for a V2GCertificate
            raise CertificateRejected(f"no {use} was asked for by this station", "NoCSR")
        candidates = self.waiting(use)
        if request_id is not None:  # 2.1 A02.FR.26: a requestId names the CSR
            candidates = [w for w in candidates if w.id == request_id]
            if not candidates:
                raise CertificateRejected(f"requestId {request_id} names no CSR of this station", "UnknownRequestId")
        if not candidates:
            raise CertificateRejected("this station has no CSR waiting for a certificate", "NoCSR")
        try:
            given = x509.load_pem_x509_certificates(chain_pem.encode("ascii", "replace"))
        except ValueError:
            given = []
        leaf_key = csr.public_key_der(given[0]) if given else b""
        waiting = next((w for w in candidates if w.public_key == leaf_key), candidates[-1])
        roots = self._certificates.usable(CSMS_ROOT)
        maximum = self._setting("MaxCertificateChainSize", 0)
        try:
            chain = csr.check_signed_chain(chain_pem, public_key=waiting.public_key, common_name=waiting.common_name,
                                           organization=waiting.organization, roots=roots,
                                           now=datetime.fromtimestamp(self._clock(), UTC),
                                           max_chain_size=maximum or None)  # A02.FR.16
        except CertificateRejected:
            with self._storage.transaction() as db:  # A02.FR.20: not sent again until asked
                db.execute("UPDATE signing_request SET next_due = NULL WHERE id = ?", (waiting.id,))
            raise
        top_issuer = self._top_issuer(chain, given, roots)
        return chain, waiting, top_issuer

    def _top_issuer(self, chain: list[x509.Certificate], given: list[x509.Certificate],
                    roots: list[x509.Certificate]) -> x509.Certificate:
        """Who signed the top of ``chain``: the root sent with it, else an installed one (the hash data
        GetInstalledCertificateIds reports needs the issuer's key)."""
        top = chain[-1]
        for candidate in [*given[len(chain):], *roots]:
            if candidate.subject == top.issuer:
                return candidate
        found = self._certificates.issuer_of(top)
        if found is None:
            raise CertificateRejected(f"the issuer of {describe(top)} is neither in the chain nor installed",
                                      "InvalidChain")
        return found

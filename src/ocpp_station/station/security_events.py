"""Security events (A04): the durable, bounded security log, and the notifications it promises.

Every event the station detects is a row of the security log (A04.FR.04, critical or not),
written in the caller's unit of work — a root installed and the event saying so commit together,
or neither does. The log rolls: beyond ``[security] security_log_max`` entries the oldest go.
``ocpp-station security-log`` prints it.

Each event is also a SecurityEventNotification promised to the CSMS (A04.FR.01; queued durably
while offline and delivered in order after reconnecting, A04.FR.02: rows of the outbox, door
``"csms"``, sent only once the CSMS has accepted the station) and to the OEM (door ``"mqtt"``:
an ``ocpp_message`` request on the answer topic, so that an integrator can log them). The part 2
appendix marks which events are critical; those must be pushed. The others are pushed as well
unless ``[security] notify_non_critical_events`` is false — a CSMS that wants to know about a
changed security profile or a root deleted should not have to poll the log.

No backlog of ours grows without bound (DESIGN rule 4), so two things are bounded:

* an event that a peer can make the station detect again and again — a CSMS certificate that fails
  every handshake, messages that are no OCPP, a refused password — is queued once per door while
  one of its type still waits there undelivered (the A00.FR.419 note: once for repeated failed
  connection attempts); every occurrence is still logged;
* at most ``[security] event_queue_max`` notifications wait per door; beyond that an event is
  logged only, with a WARNING.

Pure storage and bookkeeping, like the outbox it writes to: callers hold the station's lock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..logsafe import shown
from ..versions import catalogue_name, profile
from .datatypes import now_iso
from .outbox import DOORS, Door, Outbox
from .storage import Storage

log = logging.getLogger(__name__)

ACTION = "SecurityEventNotification"
TECH_INFO_MAX = 255  # SecurityEventNotificationRequest.techInfo: string[255]

# The events of the part 2 appendix ("Security Events"), by their names there, and whether each
# is critical. The station detects those marked "detected"; the others are listed so that a
# name is never misspelled and the log can say what the catalogue says of it.
CRITICAL: dict[str, bool] = {
    "FirmwareUpdated": True,
    "FailedToAuthenticationAtCsms": False,  # detected: the CSMS refused our credentials (HTTP 401/403)
    "CsmsFailedToAuthentication": False,
    "SettingSystemTime": True,
    "StartupOfTheDevice": True,  # detected: the service started
    "ResetOrReboot": True,  # detected: a Reset was accepted
    "SecurityLogWasCleared": True,
    "ReconfigurationOfSecurityParameters": False,  # detected: profile, priority, password, roots, own certificate
    "MemoryExhaustion": True,
    "InvalidMessages": False,  # detected: a CSMS frame that is no OCPP-J message
    "AttemptedReplayAttacks": False,
    "TamperDetectionActivated": True,
    "InvalidFirmwareSignature": True,
    "InvalidFirmwareSigningCertificate": True,
    "InvalidCsmsCertificate": True,  # detected: the CSMS's certificate failed the TLS handshake (A00.FR.413)
    "InvalidChargingStationCertificate": True,  # detected: CertificateSigned rejected (A02.FR.07)
    "DiscardedRenewedClientCertificate": True,  # OCPP 2.1 (A02.FR.29)
    "InvalidTLSVersion": True,  # detected: the CSMS offers no TLS 1.2 or newer (A00.FR.419)
    "InvalidTLSCipherSuite": True,  # detected: no cipher suite in common (A00.FR.426)
    "MaintenanceLoginAccepted": True,
    "MaintenanceLoginFailed": True,
}

# Events a peer can cause again and again: one queued per door at a time (see the module docstring).
REPEATABLE = frozenset({"FailedToAuthenticationAtCsms", "InvalidMessages", "InvalidCsmsCertificate",
                        "InvalidTLSVersion", "InvalidTLSCipherSuite", "CsmsFailedToAuthentication",
                        "AttemptedReplayAttacks"})


def spelled_for(payload: dict[str, Any], version: str) -> dict[str, Any]:
    """A SecurityEventNotification ``payload`` with its type as ``version`` names the event.

    A notification is written in the version the station spoke when it was queued, but goes out in
    the version the next connection agrees on, which may be another one (queued before any
    connection, or a CSMS that moved from 2.0.1 to 1.6): the four events whose names differ are
    renamed on the way out, so that a 1.6 CSMS reads InvalidCentralSystemCertificate whenever it
    was queued.
    """
    kind = payload.get("type")
    if not isinstance(kind, str):
        return payload
    name = profile(version).spell_event(catalogue_name(kind))
    return payload if name == kind else {**payload, "type": name}


@dataclass(frozen=True)
class LoggedEvent:
    """One entry of the security log."""

    id: int
    at: str  # UTC, as OCPP writes a dateTime
    type: str
    tech_info: str
    critical: bool


class SecurityEvents:
    """The security log and the notifications it queues; see the module docstring."""

    def __init__(self, storage: Storage, outbox: Outbox, *, log_max: int, queue_max: int,
                 notify_non_critical: bool, version: Callable[[], str],
                 doors: Callable[[], tuple[Door, ...]] = lambda: DOORS):
        self._storage = storage
        self._db = storage.connection
        self._outbox = outbox
        self._log_max = log_max
        self._queue_max = queue_max
        self._notify_non_critical = notify_non_critical
        self._version = version  # the OCPP version a notification is written in
        self._doors = doors  # the doors notifications go to (the CSMS's only while the link is enabled)

    def record(self, kind: str, tech_info: str = "") -> None:
        """Log the event ``kind`` and queue its notifications, in the caller's unit of work (or its own).

        ``tech_info`` is for people: what happened, never a secret (A01.FR.12: a password change is
        logged as a change, without the password), cut to the 255 characters OCPP allows.
        """
        if kind not in CRITICAL:
            raise ValueError(f"{kind!r} is no security event of the catalogue")  # a bug of ours
        critical = CRITICAL[kind]
        info = tech_info[:TECH_INFO_MAX]
        at = now_iso()
        with self._storage.transaction() as db:
            db.execute("INSERT INTO security_log (at, type, tech_info, critical) VALUES (?, ?, ?, ?)",
                       (at, kind, info, int(critical)))
            db.execute("DELETE FROM security_log WHERE id <= (SELECT max(id) FROM security_log) - ?",
                       (self._log_max,))  # A04.FR.04's note: a rolling log
            if critical or self._notify_non_critical:
                for door in self._doors():
                    self._queue(door, kind, at, info)
        log.info("security event %s%s: %s", kind, " (critical)" if critical else "", shown(info, 200, quote=False))

    def _queue(self, door: Door, kind: str, at: str, info: str) -> None:
        version = self._version()
        name = profile(version).spell_event(kind)  # 1.6: InvalidCentralSystemCertificate, …
        if kind in REPEATABLE and self._outbox.pending(door, ACTION, where=("type", name)):
            return  # one of its type still waits: this occurrence is in the log
        if self._outbox.pending(door, ACTION) >= self._queue_max:
            log.warning("security event %s: %d notifications already wait for the %s; this one is only in the "
                        "security log", kind, self._queue_max, "CSMS" if door == "csms" else "OEM")
            return
        payload = {"type": name, "timestamp": at}
        if info:
            payload["techInfo"] = info
        self._outbox.add(door, version, ACTION, [payload], triggered=False)  # A04.FR.02

    def entries(self, limit: int | None = None) -> list[LoggedEvent]:
        """The security log, oldest first (the last ``limit`` entries, if given)."""
        rows = self._db.execute("SELECT id, at, type, tech_info, critical FROM security_log ORDER BY id DESC"
                                " LIMIT ?", (-1 if limit is None else limit,)).fetchall()
        return [LoggedEvent(row_id, at, kind, info, bool(critical)) for row_id, at, kind, info, critical
                in reversed(rows)]

"""Assemble a station from its configuration: storage → device model → handlers → dispatcher.

This is the composition root: the one place that knows every layer, so that the layers themselves
only know the one beneath them (DESIGN: dependencies point inward). Doors (MQTT now, the CSMS link
later) get a :class:`Station` and call :meth:`Station.handle` with the bytes they received.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from .answers import AnswerCache, already_answered
from .config import Config
from .errors import ErrorCode, OcppError
from .handlers.routes import ROUTES
from .logsafe import shown
from .presence import CsmsLink
from .rpc.dispatch import Answer, Dispatcher, Routes
from .rpc.envelope import Request, fingerprint
from .station.certificate_store import CertificateStore
from .station.certificates import LiveConnection, describe
from .station.configuration_keys import ConfigurationKeys
from .station.connections import Connections, ConnectionTarget
from .station.crypto import x509
from .station.datatypes import now_iso
from .station.device_model import DeviceModel
from .station.network import password_problem, priority_rule
from .station.network_store import NetworkStore
from .station.outbox import DOORS, Door, Outbox, Outgoing
from .station.profile_upgrade import security_profile_writer
from .station.renewal import Renewal
from .station.security_events import SecurityEvents
from .station.shape import build_definitions
from .station.storage import Storage
from .versions import V21

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class NetworkOverview:
    """What ``network list`` shows: the configuration slots and what is known of each."""

    slots: tuple[int, ...]
    priority: tuple[int, ...]
    active: int
    profiles: dict[int, dict[str, Any]]  # without secrets (NetworkProfile.public)


class Station:
    """A running station engine (without any door)."""

    def __init__(self, config: Config):
        self.config = config
        # Two doors (MQTT on paho's thread, the CSMS link on the event loop) share one station:
        # requests are still run one at a time (DESIGN rule 3).
        self.lock = threading.RLock()
        self._reconnect_listeners: list[Callable[[str | None], None]] = []
        self._schedule_listeners: list[Callable[[], None]] = []
        self._registration: str | None = None  # the CSMS's last answer to our BootNotification (F06.FR.17)
        self._csms_link = CsmsLink(enabled=config.csms.enabled)  # what the presence message tells of it
        self._csms_link_listeners: list[Callable[[], None]] = []
        self._tls_peer: tuple[bytes, str | None] | None = None  # the live CSMS connection's certificate
        self.storage = Storage(config.data_dir)
        self.certificates = CertificateStore(
            self.storage, config.data_dir, max_entries=lambda: config.security.certificate_entries_max,
            additional_root_check=config.security.additional_root_certificate_check)
        self.certificates.write_all_bundles()  # the bundles agree with the database, whatever happened
        self.network = NetworkStore(self.storage, config.network)
        self.outbox = Outbox(self.storage)  # what was promised and not delivered yet: report parts
        self.connections = Connections(self.network, config.station.identity,
                                       station_password=self._station_password, priority=self.priority,
                                       offered=config.csms.ocpp_versions)
        connections = self.connections
        self.model = DeviceModel(
            definitions=build_definitions(config), store=self.storage,
            stored=self.storage.load_variable_values(),
            live={("ClockCtrlr", "DateTime"): lambda _: now_iso(),
                  ("SecurityCtrlr", "CertificateEntries"): lambda _: str(self.certificates.count()),
                  ("SecurityCtrlr", "SecurityProfile"): lambda _: str(self.network.security_state()
                                                                     .active_security_profile),
                  ("SecurityCtrlr", "Identity"): lambda _: connections.active_identity(),  # B09.FR.28
                  ("OCPPCommCtrlr", "MessageTimeout"): lambda _: connections.active_message_timeout(),
                  ("OCPPCommCtrlr", "ActiveNetworkProfile"): lambda _: str(self.network.active_slot()),
                  ("NetworkConfiguration", "*"): connections.network_configuration,
                  ("OCPP16Ctrlr", "NumberOfConnectors"): lambda _: str(len(self.connectors()))},
            rules={("OCPPCommCtrlr", "NetworkConfigurationPriority"): lambda _, value: check_priority(value),
                   ("SecurityCtrlr", "BasicAuthPassword"): lambda _, value: password_problem(value),  # A00.FR.205
                   ("NetworkConfiguration", "*"): connections.network_configuration_rule},
            views={("NetworkConfiguration", "*"): connections.write_network_configuration},  # B09.FR.23/24
            after_set={("SecurityCtrlr", "BasicAuthPassword"): self._password_changed,  # B09.FR.27, A01
                       ("OCPPCommCtrlr", "NetworkConfigurationPriority"): lambda _d, value: self.events.record(
                           "ReconfigurationOfSecurityParameters", f"NetworkConfigurationPriority set to {value}")})
        security = config.security
        self.events = SecurityEvents(  # A04
            self.storage, self.outbox, log_max=security.security_log_max, queue_max=security.event_queue_max,
            notify_non_critical=security.notify_non_critical_events, version=self.ocpp_version,
            doors=lambda: DOORS if config.csms.enabled else ("mqtt",))
        self.renewal = Renewal(  # A02, A03
            self.storage, self.outbox, self.certificates, self.events, key_algorithm=security.key_algorithm,
            identity=connections.active_identity, organization=lambda: self.model.read("SecurityCtrlr",
                                                                                        "OrganizationName") or "",
            setting=lambda name, default: self.model.read_int("SecurityCtrlr", name, default=default),
            renew_before=timedelta(days=security.renew_before_days), link_enabled=config.csms.enabled,
            version=self.ocpp_version)
        self.configuration = ConfigurationKeys(self.model, writers={  # 1.6 keys, views of the variables
            "SecurityProfile": security_profile_writer(  # the 1.6 A05 upgrade
                network=self.network, model=self.model, certificates=self.certificates,
                password=connections.password_for, priority=self.priority, record_event=self.events.record,
                after_commit=lambda: self.storage.after_commit(self.request_reconnect))})
        check_priority = priority_rule(
            self.network.profiles, self.network.usable,
            has_csms_root=lambda: self.certificates.has_usable("CSMSRootCertificate"),  # A05.FR.02: valid
            has_station_certificate=lambda: self.certificates.has_usable("ChargingStationCertificate"),  # FR.03
            current=self.priority)
        self.routes: Routes = {(version.value, route.action): route.build(self)
                               for route in ROUTES for version in route.versions}
        # DESIGN rule 3: what may change state commits its effect and its answer together.
        self._mutating = frozenset((version.value, route.action)
                                   for route in ROUTES if route.mutates for version in route.versions)
        self.dispatcher = Dispatcher(self.routes, config.requests.max_bytes)
        self.answers = AnswerCache(self.storage, config.requests.answer_cache_size,
                                   config.requests.answer_cache_max_age_s, config.requests.answer_cache_memory_bytes,
                                   # once-only for as long as the broker may deliver a request again
                                   horizon_s=config.mqtt.session_expiry_s,
                                   max_identities=config.requests.answered_requests_max)

    def on_reconnect(self, listener: Callable[[str | None], None]) -> None:
        """Call ``listener(boot_reason)`` (from any thread) when the CSMS connection must be made again:
        a Reset (boot reason RemoteReset), a new password (A01) or a new certificate in use (A02.FR.08),
        both without a reason of their own (None)."""
        self._reconnect_listeners.append(listener)

    def request_reconnect(self, boot_reason: str | None = None) -> None:
        """Tell whoever keeps the CSMS connection to make it again (once the answer being given is out)."""
        for listener in self._reconnect_listeners:
            listener(boot_reason)

    def request_reset(self) -> None:
        """A Reset was accepted (from either door), in its unit of work: a security event, and a reconnection."""
        self.events.record("ResetOrReboot", "Reset accepted: the CSMS connection is re-established")
        self.request_reconnect("RemoteReset")

    def _password_changed(self, definition: Any, value: str) -> None:
        """SecurityCtrlr.BasicAuthPassword was set (in the SetVariables' unit of work): B09.FR.27; the security
        log says so without the password (A01.FR.11/12); once committed, the link connects with it (A01)."""
        self.connections.station_password_changed(definition, value)
        self.events.record("ReconfigurationOfSecurityParameters", "SecurityCtrlr.BasicAuthPassword changed")
        if self.network.security_state().active_security_profile in (1, 2):
            self.storage.after_commit(self.request_reconnect)

    def ocpp_version(self) -> str:
        """The OCPP version the station writes what it sends of its own accord in: the one its CSMS
        connection agreed on last, else the one it offers first."""
        return self.connections.preferred_version()

    # -- security: events, renewal (A02-A04) ----------------------------------------------------

    def record_startup(self) -> None:
        """The service started: StartupOfTheDevice (A04), durable."""
        with self.lock, self.storage.unit_of_work():
            self.events.record("StartupOfTheDevice", "ocpp-station started")

    def record_security_event(self, kind: str, tech_info: str) -> None:
        """A door detected a security event (a TLS handshake that failed on the CSMS's certificate, say):
        logged and queued durably. A commit: call it from a worker thread, not an event loop."""
        with self.lock, self.storage.unit_of_work():
            self.events.record(kind, tech_info)

    def on_security_schedule(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (from any thread) when :meth:`security_due` may have moved earlier."""
        self._schedule_listeners.append(listener)

    def _schedule_changed(self) -> None:
        for listener in self._schedule_listeners:
            listener()

    def security_due(self) -> float | None:
        """When :meth:`security_tick` has work (wall clock): a CSR to resend, a renewed certificate's start, A03."""
        with self.lock:
            return self.renewal.next_due()

    def security_tick(self) -> None:
        """Do the renewal work that is due (a commit: from a worker thread); reconnect if the certificate in use
        changed while security profile 3 uses it (A02.FR.08)."""
        with self.lock, self.storage.unit_of_work():
            changed = self.renewal.tick()
        if changed:
            self.certificate_in_use_changed()

    def sign_certificate_answered(self, csr: str, accepted: bool) -> None:
        """The CSMS answered our SignCertificate (A02.FR.17: the back-off starts if Accepted); a commit."""
        with self.lock:
            self.renewal.sign_answered(csr, accepted)
        self._schedule_changed()

    def certificate_in_use_changed(self) -> None:
        """A new own certificate is in use (after its commit: a CertificateSigned, or the renewed one's
        notBefore came): at security profile 3 the link reconnects with it (A02.FR.08)."""
        if self.network.security_state().active_security_profile == 3:
            self.request_reconnect()
        self._schedule_changed()

    def walk_failed(self) -> None:
        """No slot of the priority list connected (a commit: from a worker thread). At security profile 3
        with a renewed certificate not yet proven, the next walk uses the other one (2.1 A02.FR.28)."""
        with self.lock:
            if self.network.security_state().active_security_profile == 3:
                self.certificates.swap_own("ChargingStationCertificate")

    # -- the CSMS's registration (F06.FR.17) -----------------------------------------------------

    def record_registration(self, status: str, ocpp_version: str | None = None, slot: int | None = None) -> None:
        """The CSMS answered our BootNotification with ``status`` (Accepted, Pending, Rejected), on a
        connection in ``ocpp_version`` to ``slot``."""
        self._registration = status
        self._csms_link_changed(CsmsLink(True, True, status, ocpp_version, slot))

    def csms_link(self) -> CsmsLink:
        """The CSMS link as the presence message tells of it (any thread: a value, replaced whole)."""
        return self._csms_link

    def on_csms_link(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` (from the link's thread) when :meth:`csms_link` changed."""
        self._csms_link_listeners.append(listener)

    def _csms_link_changed(self, link: CsmsLink) -> None:
        if link == self._csms_link:
            return
        self._csms_link = link
        for listener in self._csms_link_listeners:
            listener()

    def registration_accepted(self) -> bool:
        """Whether the CSMS's answer to our last BootNotification was Accepted."""
        return self._registration == "Accepted"

    def mutates(self, request: Request) -> bool:
        """Whether ``request`` may change state (its route says so): then it commits with its answer."""
        return (request.ocpp_version, request.action) in self._mutating

    def _station_password(self) -> str | None:
        """SecurityCtrlr.BasicAuthPassword as stored: the password of every slot without its own."""
        found = self.model.find_internal("SecurityCtrlr", "BasicAuthPassword")
        return None if found is None else self.model.current_value(found)

    # -- what the CSMS link asks -----------------------------------------------------------------

    def priority(self) -> list[int]:
        """OCPPCommCtrlr.NetworkConfigurationPriority as slots, in order."""
        with self.lock:
            value = self.model.read("OCPPCommCtrlr", "NetworkConfigurationPriority") or "1"
        return [int(slot) for slot in value.split(",") if slot.strip().isdigit()]

    def connection_target(self, slot: int) -> ConnectionTarget:
        """How to connect with ``slot`` now (raises :class:`CannotConnect` with the reason it cannot)."""
        with self.lock:  # what TLS needs is checked where the TLS context is made (csms.connection)
            return self.connections.target(slot)

    def setting(self, component: str, variable: str, default: int) -> int:
        """An integer setting of the device model (retries, intervals) as it is now."""
        with self.lock:
            return self.model.read_int(component, variable, default=default)

    def record_heartbeat_interval(self, seconds: int) -> bool:
        """The CSMS gave the heartbeat interval in its BootNotification answer (B01.FR.04): durable,
        if the device model takes it; False, and nothing changes, if not.

        It meets what a SetVariables of OCPPCommCtrlr.HeartbeatInterval meets (the device model's
        ``value_problem``: an integer, minLimit 1, OCPP's 32 bits): an interval no one could set is
        not set by the CSMS's answer either, and the link keeps the interval it had.
        """
        try:
            value = str(seconds)
        except ValueError:  # more digits than Python writes (4300): no value of an integer variable
            return False
        with self.lock:
            if self.model.check_internal("OCPPCommCtrlr", "HeartbeatInterval", value) is not None:
                return False
            self.model.write_internal("OCPPCommCtrlr", "HeartbeatInterval", value)
            return True

    def network_overview(self) -> NetworkOverview:
        """The slots, the priority list, the active slot and every profile without its secrets."""
        with self.lock:
            return NetworkOverview(self.network.slots, tuple(self.priority()), self.network.active_slot(),
                                   dict(self.network.public_profiles()))

    def record_tls_peer(self, peer_der: bytes | None, host: str | None) -> None:
        """A connection to the CSMS is open; ``peer_der`` is the server certificate it presented (TLS)."""
        with self.lock:
            self._tls_peer = (peer_der, host) if peer_der is not None else None

    def live_connection(self) -> LiveConnection:
        """The connection to the CSMS as the certificate rules see it (M04.FR.06/M04.FR.03)."""
        level = self.network.security_state().active_security_profile
        if self._tls_peer is None:
            return LiveConnection(security_profile=level)
        der, host = self._tls_peer
        return LiveConnection(peer_leaf=x509.load_der_x509_certificate(der), host=host, security_profile=level)

    def outgoing(self, door: Door, count: int = 1, *, triggered_only: bool = False) -> list[Outgoing]:
        """The oldest messages the station promised to send through ``door`` and has not delivered (only
        those the receiver asked for, if ``triggered_only``: B02.FR.02)."""
        with self.lock:
            return self.outbox.first(door, count, triggered_only=triggered_only)

    def delivered(self, seq: int) -> None:
        """``door``'s receiver has outbox row ``seq`` (the CSMS answered, the broker acknowledged): durable."""
        with self.lock:
            self.outbox.delivered(seq)

    def on_outgoing(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(door)``, from the committing thread, when new messages wait to go through ``door``."""
        self.outbox.on_added(listener)

    def record_disconnected(self) -> None:
        """The connection to the CSMS is gone: no root validates a live connection any more."""
        with self.lock:
            self._tls_peer = None
        self._csms_link_changed(CsmsLink(self.config.csms.enabled))

    def record_connected(self, target: ConnectionTarget, subprotocol: str) -> None:
        """The link is connected and accepted with ``target``: the slot becomes the active one.

        A05.FR.06: after a connection at a higher security profile, the profiles below it are
        removed and NetworkConfigurationPriority keeps only the others.
        """
        with self.lock, self.storage.unit_of_work():
            self.network.set_active_slot(target.slot)  # OCPPCommCtrlr.ActiveNetworkProfile
            self.connections.record_connected(target.slot, subprotocol)
            removed = self.network.remove_profiles_below(target.security_profile)  # A05.FR.06
            if removed:
                kept = [s for s in self.priority() if s not in removed] or [target.slot]
                self.model.write_internal("OCPPCommCtrlr", "NetworkConfigurationPriority", ",".join(map(str, kept)))
                self.events.record("ReconfigurationOfSecurityParameters",
                                   f"connected at security profile {target.security_profile}: the profiles below it "
                                   f"are removed (slots {', '.join(map(str, sorted(removed)))})")
            if target.security_profile == 3:  # A02.FR.10: the certificate in use works; the other one goes
                lost = self.certificates.confirm_own("ChargingStationCertificate")
                if lost is not None and subprotocol == V21:  # 2.1 A02.FR.29: the renewed one never carried one
                    self.events.record("DiscardedRenewedClientCertificate", f"discarded {describe(lost)}")
                elif lost is not None:  # an event 2.0.1 and 1.6 do not have: the log says it
                    log.info("discarded the renewed ChargingStationCertificate %s: it never carried a connection",
                             describe(lost))
        with self.lock:
            live = self.live_connection()
            if live.peer_leaf is not None:  # M05.FR.13: the new root validated this connection, the fallback goes
                self.certificates.confirm_new_root(live.peer_leaf, live.host)

    def charging_station(self) -> dict[str, str]:
        """The BootNotification's chargingStation: who this station is (from ``[station]``)."""
        identity = self.config.station
        return {"model": identity.model, "vendorName": identity.vendor, "serialNumber": identity.serial_number,
                "firmwareVersion": identity.firmware_version}

    def connectors(self) -> list[tuple[int, int]]:
        """(EVSE id, connector id) of every connector, in order: one StatusNotification each (B01.FR.05)."""
        return [(evse.id, connector.id) for evse in self.config.evses for connector in evse.connectors]

    def own_certificate_files(self) -> tuple[Path, Path] | None:
        """The files of the station's ChargingStationCertificate chain and key (security profile 3),
        derived from the database by the certificate store; None unless a *valid* one is installed
        (A05.FR.03: inside its validity period, with its key)."""
        with self.lock:
            if not self.certificates.has_usable("ChargingStationCertificate"):
                return None
        chain = self.config.data_dir / "certs" / "ChargingStationCertificate.pem"
        key = self.config.data_dir / "private" / "ChargingStationCertificate.key.pem"
        return (chain, key) if chain.exists() and key.exists() else None

    def csms_trust_store(self) -> bytes | None:
        """The CSMS roots valid now, as PEM: what the link's TLS context trusts (None: there are none)."""
        with self.lock:
            return self.certificates.usable_bundle_pem("CSMSRootCertificate")

    def run(self, request: Request) -> dict[str, Any] | OcppError:
        """Run a request that came through a door without an answer cache (the CSMS link).

        Same handlers, same validation, same durability as :meth:`handle`; never raises.
        """
        with self.lock:
            try:
                with self._work(request):
                    return self.dispatcher.run(request)
            except Exception:
                log.exception("%s: could not commit the request's effect", shown(request.id, quote=False))
                return OcppError(ErrorCode.INTERNAL_ERROR, "the station could not store the result")

    def run_now(self, request: Request) -> dict[str, Any] | OcppError | None:
        """Run ``request`` at once if that cannot wait on a disk or on the other door, else None.

        For a caller on an event loop, which must never block: a request that changes state
        commits with an fsync, and the lock may be held by the other door, so those return None
        and the caller runs :meth:`run` in a worker thread. A read while the lock is free — almost
        every read — runs here, without the cost of a thread hop.
        """
        if self.mutates(request) or not self.lock.acquire(blocking=False):
            return None
        try:
            return self.dispatcher.run(request)
        finally:
            self.lock.release()

    def handle(self, raw: bytes, reply_to: str | None = None, correlation: bytes | None = None) -> Answer:
        """Answer one request: once only, its effect and its answer committed together. Never raises.

        Once only means per request, and a request is its id *and* its content: the same request
        again (a QoS 1 redelivery, the OEM's retry) gets the answer it was given and runs nothing;
        a different request under a used id runs, as the new request it is (the seed's examples
        all share one id, and people paste them in order).

        ``reply_to``, ``correlation``: the MQTT 5 Response Topic and Correlation Data of the message,
        where what the request promises (report parts) is published too.
        """
        with self.lock:
            return self._handle(raw, reply_to, correlation)

    def _handle(self, raw: bytes, reply_to: str | None, correlation: bytes | None) -> Answer:
        parsed = self.dispatcher.parse(raw)
        if isinstance(parsed, Answer):
            return parsed  # nothing was executed: nothing to remember
        request = parsed if reply_to is None else replace(parsed, reply_to=reply_to, correlation=correlation)
        try:
            identity = fingerprint(request, raw)
            given = self.answers.get(request.id, identity)
            if given is not None:  # this very request was answered: a redelivery or a retry
                log.info("%s was answered before: sent the same answer again, executed nothing", request.id)
                return Answer(given.body, request.id, "repeated, answered from the answer cache")
            durable = self.mutates(request)
            answered_at = self.answers.answered_at(request.id, identity) if durable else None
            if answered_at is not None:  # answered, and its answer pruned since: e.g. a broker restored from a snapshot
                refusal = already_answered(answered_at)
                log.warning("%s was answered at %s and that answer is no longer kept: refused with a CallError,"
                            " executed nothing", request.id, refusal.details["answeredAt"])
                return self.dispatcher.refuse(request, refusal)
            with self._work(request):
                answer = self.dispatcher.execute(request)
                if answer.body is not None:
                    self.answers.remember(request.id, answer.body, identity, durable=durable)
            return answer
        except Exception:
            # The commit failed (disk full, I/O error): whatever the handler answered did not happen.
            log.exception("%s: could not commit the request's effect and answer", request.id)
            return self.dispatcher.fail(request, "the station could not store the result")

    def _work(self, request: Request) -> contextlib.AbstractContextManager[object]:
        """The transaction a request runs in: a durable unit of work if it may change state, else none."""
        return self.storage.unit_of_work() if self.mutates(request) else contextlib.nullcontext()

    def close(self) -> None:
        """Close the database once no door is using it: a worker thread of the CSMS link (the renewal's
        clock, an outbox read) may still be in a station method when the service stops, and SQLite
        closed under a running statement crashes the process (SIGSEGV at SIGTERM). Every such method
        holds the lock; a call that comes after this raises ProgrammingError instead."""
        with self.lock:
            self.storage.close()

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
from datetime import UTC, datetime
from typing import Any

from .config import Config
from .handlers import provisioning, security
from .rpc.dispatch import Answer, Dispatcher, Routes
from .rpc.envelope import Request, fingerprint
from .rpc.errors import ErrorCode, OcppError
from .station.answers import AnswerCache
from .station.certificate_store import CertificateStore
from .station.device_model import DeviceModel, VariableDefinition
from .station.network import priority_rule
from .station.network_store import NetworkStore
from .station.shape import build_definitions
from .station.storage import Storage

log = logging.getLogger(__name__)

VERSIONS_2X = ("ocpp2.0.1", "ocpp2.1")
# Requests that may change state: their effect and answer commit together, with an fsync. The others
# (reads) run outside any transaction and their answers are remembered in memory only.
MUTATING_ACTIONS = frozenset({"SetVariables", "InstallCertificate", "DeleteCertificate", "SetNetworkProfile", "Reset"})


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class Station:
    """A running station engine (without any door)."""

    def __init__(self, config: Config):
        self.config = config
        # Two doors (MQTT on paho's thread, the CSMS link on the event loop) share one station:
        # requests are still run one at a time (DESIGN rule 3).
        self.lock = threading.RLock()
        self._reset_listeners: list[Callable[[], None]] = []
        self.storage = Storage(config.data_dir)
        self.certificates = CertificateStore(
            self.storage, config.data_dir, max_entries=lambda: config.security.certificate_entries_max,
            additional_root_check=config.security.additional_root_certificate_check)
        self.certificates.write_all_bundles()  # the bundles agree with the database, whatever happened
        self.network = NetworkStore(self.storage, config.network)
        self.model = DeviceModel(
            definitions=build_definitions(config), store=self.storage,
            stored=self.storage.load_variable_values(),
            live={("ClockCtrlr", "DateTime"): lambda _: _now(),
                  ("SecurityCtrlr", "CertificateEntries"): lambda _: str(self.certificates.count()),
                  ("SecurityCtrlr", "SecurityProfile"): lambda _: str(self.network.security_state()
                                                                     .active_security_profile),
                  ("OCPPCommCtrlr", "ActiveNetworkProfile"): lambda _: str(self.network.active_slot()),
                  ("NetworkConfiguration", "*"): self._network_configuration},
            rules={("OCPPCommCtrlr", "NetworkConfigurationPriority"): priority_rule(
                self.network.profiles, self.network.security_state,
                has_csms_root=lambda: bool(self.certificates.installed(["CSMSRootCertificate"])),
                has_station_certificate=lambda: bool(self.certificates.installed(["ChargingStationCertificate"])))})
        routes: dict = {}
        for version in VERSIONS_2X:
            routes[(version, "GetVariables")] = provisioning.get_variables(self.model)
            routes[(version, "SetVariables")] = provisioning.set_variables(self.model)
            routes[(version, "SetNetworkProfile")] = provisioning.set_network_profile(self.network)
            routes[(version, "Reset")] = provisioning.reset(self._reset)
        for version in ("ocpp1.6", *VERSIONS_2X):
            routes[(version, "InstallCertificate")] = security.install_certificate(self.certificates)
            routes[(version, "DeleteCertificate")] = security.delete_certificate(self.certificates)
            routes[(version, "GetInstalledCertificateIds")] = security.get_installed_certificate_ids(
                self.certificates)
        self.routes: Routes = routes
        self.dispatcher = Dispatcher(routes, config.requests.max_bytes)
        self.answers = AnswerCache(self.storage, config.requests.answer_cache_size,
                                   config.requests.answer_cache_max_age_s, config.requests.answer_cache_memory_bytes)

    def on_reset(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (from any thread) when a Reset is accepted: the CSMS link reconnects."""
        self._reset_listeners.append(listener)

    def _reset(self) -> None:
        for listener in self._reset_listeners:
            listener()

    def _network_configuration(self, definition: VariableDefinition) -> str | None:
        """2.1 NetworkConfiguration[slot].<Variable>: read from the stored profile of that slot."""
        profile = self.network.profiles().get(int(definition.component.instance or 0))
        data = profile.data if profile else {}
        if definition.name in ("VpnEnabled", "ApnEnabled"):  # B09.FR.11/12: follow the profile
            return "true" if data.get(definition.name[:3].lower()) else "false"
        field = definition.name[0].lower() + definition.name[1:]  # OcppCsmsUrl → ocppCsmsUrl
        value = data.get(field)
        return "" if value is None else str(value)

    def run(self, request: Request, size: int) -> dict[str, Any] | OcppError:
        """Run a request that came through a door without an answer cache (the CSMS link).

        Same handlers, same validation, same durability as :meth:`handle`; never raises.
        """
        with self.lock:
            try:
                with self._work(request):
                    return self.dispatcher.run(request, size)
            except Exception:
                log.exception("%s: could not commit the request's effect", request.id)
                return OcppError(ErrorCode.INTERNAL_ERROR, "the station could not store the result")

    def handle(self, raw: bytes) -> Answer:
        """Answer one request: once only, its effect and its answer committed together. Never raises.

        Once only means per request, and a request is its id *and* its content: the same request
        again (a QoS 1 redelivery, the OEM's retry) gets the answer it was given and runs nothing;
        a different request under a used id runs, as the new request it is (the seed's examples
        all share one id, and people paste them in order).
        """
        with self.lock:
            return self._handle(raw)

    def _handle(self, raw: bytes) -> Answer:
        parsed = self.dispatcher.parse(raw)
        if isinstance(parsed, Answer):
            return parsed  # nothing was executed: nothing to remember
        request = parsed
        try:
            identity = fingerprint(request, raw)
            given = self.answers.get(request.id, identity)
            if given is not None:  # this very request was answered: a redelivery or a retry
                log.info("%s was answered before: sent the same answer again, executed nothing", request.id)
                return Answer(given.body, request.id, "repeated, answered from the answer cache")
            with self._work(request):
                answer = self.dispatcher.execute(request, len(raw))
                if answer.body is not None:
                    self.answers.remember(request.id, answer.body, identity,
                                          durable=request.action in MUTATING_ACTIONS)
            return answer
        except Exception:
            # The commit failed (disk full, I/O error): whatever the handler answered did not happen.
            log.exception("%s: could not commit the request's effect and answer", request.id)
            return self.dispatcher.fail(request, "the station could not store the result")

    def _work(self, request: Request) -> contextlib.AbstractContextManager[object]:
        """The transaction a request runs in: a durable unit of work if it may change state, else none."""
        return self.storage.unit_of_work() if request.action in MUTATING_ACTIONS else contextlib.nullcontext()

    def close(self) -> None:
        self.storage.close()

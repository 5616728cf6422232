"""Assemble a station from its configuration: storage → device model → handlers → dispatcher.

This is the composition root: the one place that knows every layer, so that the layers themselves
only know the one beneath them (DESIGN: dependencies point inward). Doors (MQTT now, the CSMS link
later) get a :class:`Station` and call :meth:`Station.handle` with the bytes they received.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from .config import Config
from .handlers import provisioning, security
from .rpc.dispatch import Answer, Dispatcher, Routes
from .station.certificate_store import CertificateStore
from .station.device_model import DeviceModel
from .station.shape import build_definitions
from .station.storage import Storage

log = logging.getLogger(__name__)

VERSIONS_2X = ("ocpp2.0.1", "ocpp2.1")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class Station:
    """A running station engine (without any door)."""

    def __init__(self, config: Config):
        self.config = config
        self.storage = Storage(config.data_dir)
        self.certificates = CertificateStore(
            self.storage, config.data_dir, max_entries=lambda: config.security.certificate_entries_max,
            additional_root_check=config.security.additional_root_certificate_check)
        self.certificates.write_all_bundles()  # the bundles agree with the database, whatever happened
        self.model = DeviceModel(
            definitions=build_definitions(config), store=self.storage,
            stored=self.storage.load_variable_values(),
            live={("ClockCtrlr", "DateTime"): _now,
                  ("SecurityCtrlr", "CertificateEntries"): lambda: str(self.certificates.count())})
        routes: dict = {}
        for version in VERSIONS_2X:
            routes[(version, "GetVariables")] = provisioning.get_variables(self.model)
            routes[(version, "SetVariables")] = provisioning.set_variables(self.model)
        for version in ("ocpp1.6", *VERSIONS_2X):
            routes[(version, "InstallCertificate")] = security.install_certificate(self.certificates)
            routes[(version, "DeleteCertificate")] = security.delete_certificate(self.certificates)
            routes[(version, "GetInstalledCertificateIds")] = security.get_installed_certificate_ids(
                self.certificates)
        self.routes: Routes = routes
        self.dispatcher = Dispatcher(routes)

    def handle(self, raw: bytes) -> Answer:
        return self.dispatcher.handle(raw)

    def close(self) -> None:
        self.storage.close()

"""Every route the station offers, as its handler modules declare them (DESIGN rule 7)."""

from __future__ import annotations

from . import configuration, data_transfer, provisioning, remote_control, reports, security
from .base import Route

ROUTES: tuple[Route, ...] = (*provisioning.ROUTES, *configuration.ROUTES, *reports.ROUTES, *security.ROUTES,
                             *remote_control.ROUTES, *data_transfer.ROUTES)

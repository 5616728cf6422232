"""The station's own BootNotification and StatusNotification, as each OCPP version writes them.

Two callers need them and must agree: the CSMS session (its boot, and a StatusNotification per
connector once accepted: B01.FR.05, 1.6 §4.2/§4.9) and TriggerMessage (F06; 1.6 §5.17, and the
security extension's ExtendedTriggerMessage), on either door. So the shape lives here, once.

How the versions differ:

* 2.x: a BootNotification carries a ``reason`` and a ChargingStationType; a StatusNotification
  names an EVSE and a connector of it.
* 1.6: a BootNotification carries the Charge Point's vendor, model, serial number and firmware as
  fields of its own, and no reason; connectors have no EVSE: they are numbered 1 to N across the
  station (:func:`ocpp16_connectors`: the configuration's EVSEs in order, each one's connectors in
  order), and connector 0 stands for the Charge Point itself. Its StatusNotification carries an
  errorCode; the station reports ``NoError`` (it has no hardware that could fail yet).

Pure: the station's identity and its connectors are arguments.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..versions import V16
from .availability import CONNECTOR_STATUS

Connector = tuple[int, int]
"""(EVSE id, connector id) as the configuration and OCPP 2.x number them."""

# ChargingStationType field (2.x) → the 1.6 BootNotification field that carries the same fact.
_OCPP16_BOOT_FIELDS = {"vendorName": "chargePointVendor", "model": "chargePointModel",
                       "serialNumber": "chargePointSerialNumber", "firmwareVersion": "firmwareVersion"}


def boot_notification(version: str, reason: str, charging_station: Mapping[str, str]) -> dict[str, Any]:
    """The BootNotification payload; ``charging_station`` is the 2.x ChargingStationType of the station.

    Empty fields are left out in 1.6 (its optional fields are absent, not blank).
    """
    if version == V16:
        return {field: charging_station[name] for name, field in _OCPP16_BOOT_FIELDS.items()
                if charging_station.get(name)}
    return {"reason": reason, "chargingStation": dict(charging_station)}


def ocpp16_connectors(connectors: Sequence[Connector]) -> dict[int, Connector]:
    """1.6 connector id → (EVSE id, connector id): 1 to N in configuration order (see the module docstring)."""
    return {number: pair for number, pair in enumerate(connectors, start=1)}


def status_notifications(version: str, connectors: Sequence[Connector], timestamp: str) -> list[dict[str, Any]]:
    """2.x: one StatusNotification payload per (EVSE, connector) of ``connectors``."""
    if version == V16:
        raise TypeError("1.6 numbers its connectors: use ocpp16_status_notifications")
    return [{"timestamp": timestamp, "connectorStatus": CONNECTOR_STATUS, "evseId": evse, "connectorId": connector}
            for evse, connector in connectors]


def ocpp16_status_notifications(connector_ids: Sequence[int], timestamp: str) -> list[dict[str, Any]]:
    """1.6 StatusNotification payloads for ``connector_ids`` (0: the Charge Point)."""
    return [{"connectorId": number, "errorCode": "NoError", "status": CONNECTOR_STATUS, "timestamp": timestamp}
            for number in connector_ids]


def statuses_after_boot(version: str, connectors: Sequence[Connector], timestamp: str) -> list[dict[str, Any]]:
    """What follows an Accepted boot: every connector's status (B01.FR.05); in 1.6 connector 0's first."""
    if version == V16:
        return ocpp16_status_notifications([0, *ocpp16_connectors(connectors)], timestamp)
    return status_notifications(version, connectors, timestamp)

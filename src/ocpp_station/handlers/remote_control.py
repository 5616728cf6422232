"""F06 TriggerMessage (2.x), 1.6 TriggerMessage, ExtendedTriggerMessage: the station sends one of its messages now.

Through either door: the CSMS's TriggerMessage makes the station send the message to the CSMS; the
OEM's, over MQTT, to the OEM (an ``ocpp_message`` request on the answer topic, and on the
request's Response Topic too) — factory provisioning drives a certificate renewal that way. An
Accepted trigger is a promise (F06.FR.10): the message is a row of the door's outbox, committed
with the answer, sent after it (F06.FR.04: the doors send what the outbox holds only after the
answer that promised it), marked as asked for, so it may go to a CSMS that has not accepted the
station yet (B02.FR.02).

What the station sends, and when it says no:

* BootNotification: Rejected once the CSMS accepted the station (F06.FR.17: it answered the last
  one Accepted). Otherwise Accepted; to the CSMS, the link sends its next BootNotification at once
  (reason Triggered) instead of waiting out the Pending interval; to the OEM, a BootNotification
  request carrying the station's identity.
* Heartbeat.
* StatusNotification: for the connector named, or every connector of the EVSE named, or every
  connector when neither is (F06.FR.11: "all allowed evse values"; F06.FR.12 would allow Rejected,
  sending them is more use). An EVSE or connector the station does not have: Rejected.
* SignChargingStationCertificate: a new key pair and its SignCertificate (A02.FR.02/03); Rejected
  while SecurityCtrlr.OrganizationName is not set (A02's prerequisite).
* FirmwareStatusNotification and LogStatusNotification: status Idle (F06.FR.16, F06.FR.15): this
  station never updates firmware nor uploads a log, so Idle is the truth.
* Everything else — MeterValues, TransactionEvent (no meter, no transactions), the V2G and combined
  certificates (no ISO 15118), PublishFirmwareStatusNotification, 2.1's CustomTrigger —:
  NotImplemented (F06.FR.08, F06.FR.19).

The evse of a trigger that does not concern EVSEs is ignored (F06.FR.03). The information sent is
current (F06.FR.09): a StatusNotification's timestamp is when the trigger was accepted.
"""

from __future__ import annotations

import logging
from typing import Any

from ..station import own_messages
from ..station.datatypes import now_iso
from ..station.renewal import NotReady
from ..versions import V16, VERSIONS_2X
from .base import Call, Handler, Route, Services, door_of, status_info

log = logging.getLogger(__name__)


def _payloads(services: Services, call: Call, what: str) -> tuple[str, list[dict[str, Any]]] | dict[str, Any]:
    """The messages to send for ``what`` (action, payloads), or the answer that refuses the trigger."""
    if what == "Heartbeat":
        return "Heartbeat", [{}]
    if what == "FirmwareStatusNotification":
        return what, [{"status": "Idle"}]  # F06.FR.16
    if what == "LogStatusNotification":
        return what, [{"status": "Idle"}]  # F06.FR.15
    if what == "BootNotification":
        return what, [own_messages.boot_notification(call.ocpp_version, "Triggered", services.charging_station())]
    assert what == "StatusNotification"
    evse = call.payload.get("evse") or {}
    wanted = [(evse_id, connector_id) for evse_id, connector_id in services.connectors()
              if evse.get("id") in (None, evse_id) and evse.get("connectorId") in (None, connector_id)]
    if not wanted:
        return _refused(call, "UnknownEvse", f"this station has no EVSE {evse.get('id')}"
                        + (f" with connector {evse['connectorId']}" if "connectorId" in evse else ""))
    return what, own_messages.status_notifications(call.ocpp_version, wanted, now_iso())


def _refused(call: Call, reason: str, why: str) -> dict[str, Any]:
    log.info("TriggerMessage %s rejected: %s", call.payload["requestedMessage"], why)
    return {"status": "Rejected", "statusInfo": status_info(reason, why, call.ocpp_version)}


SENT = frozenset({"BootNotification", "Heartbeat", "StatusNotification", "FirmwareStatusNotification",
                  "LogStatusNotification", "SignChargingStationCertificate"})


def trigger_message(services: Services) -> Handler:
    def handle(call: Call) -> dict[str, Any]:
        what = call.payload["requestedMessage"]
        if what not in SENT:
            return {"status": "NotImplemented"}  # F06.FR.08, F06.FR.19
        if what == "BootNotification" and services.registration_accepted():  # F06.FR.17
            return _refused(call, "AlreadyAccepted", "the CSMS accepted the station's last BootNotification")
        door = door_of(call)
        if what == "SignChargingStationCertificate":
            try:
                services.renewal.request(door, call.ocpp_version, triggered=True, reply_to=call.reply_to,
                                         correlation=call.correlation)  # A02.FR.02/03
            except NotReady as why:
                return _refused(call, "MissingParam", str(why))
            return {"status": "Accepted"}
        outcome = _payloads(services, call, what)
        if isinstance(outcome, dict):
            return outcome
        action, payloads = outcome
        services.outbox.add(door, call.ocpp_version, action, payloads, reply_to=call.reply_to,
                            correlation=call.correlation, triggered=True)  # F06.FR.10, after the answer (F06.FR.04)
        log.info("TriggerMessage %s accepted: %d message(s) for %s", what, len(payloads), call.origin)
        return {"status": "Accepted"}

    return handle


# -- OCPP 1.6: TriggerMessage (§5.17, the RemoteTrigger profile) and the security extension's ExtendedTriggerMessage --

# requestedMessage → (the message sent, its payload) for those with a fixed payload. Idle is the truth for a
# station that neither updates firmware, nor uploads diagnostics or logs (1.6 §7.25/§7.24, whitepaper N01.FR.12).
_FIXED_16 = {"Heartbeat": ("Heartbeat", {}), "DiagnosticsStatusNotification": ("DiagnosticsStatusNotification",
                                                                               {"status": "Idle"})}
_FIXED_16_TRIGGER = {**_FIXED_16, "FirmwareStatusNotification": ("FirmwareStatusNotification", {"status": "Idle"})}
# ExtendedTriggerMessage FirmwareStatusNotification asks for the *signed* one (whitepaper L01.FR.28/29; L01.FR.21:
# no requestId with Idle); LogStatusNotification without requestId (N01.FR.12).
_FIXED_16_EXTENDED = {**_FIXED_16,
                      "FirmwareStatusNotification": ("SignedFirmwareStatusNotification", {"status": "Idle"}),
                      "LogStatusNotification": ("LogStatusNotification", {"status": "Idle"})}


def trigger_message_16(services: Services, *, extended: bool) -> Handler:
    """1.6 TriggerMessage (``extended`` False) or ExtendedTriggerMessage: Accepted, Rejected or NotImplemented.

    Where the connectorId matters (StatusNotification) one that is given names one connector, 0 the
    Charge Point itself, and one that is absent means all of them, 0 first (1.6 §5.17); a connector the
    station does not have → Rejected. Elsewhere it is ignored. BootNotification is always sent (1.6 has
    no F06.FR.17): the link sends its next boot at once. MeterValues: NotImplemented (no meter).
    """
    fixed = _FIXED_16_EXTENDED if extended else _FIXED_16_TRIGGER

    def handle(call: Call) -> dict[str, Any]:
        what, connector = call.payload["requestedMessage"], call.payload.get("connectorId")
        door = door_of(call)
        if what == "SignChargePointCertificate":  # the whitepaper's A02.FR.02/03
            try:
                services.renewal.request(door, call.ocpp_version, triggered=True, reply_to=call.reply_to,
                                         correlation=call.correlation)
            except NotReady as why:
                log.info("ExtendedTriggerMessage %s rejected: %s", what, why)
                return {"status": "Rejected"}
            return {"status": "Accepted"}
        if what in fixed:
            action, payloads = fixed[what][0], [dict(fixed[what][1])]
        elif what == "BootNotification":
            action, payloads = what, [own_messages.boot_notification(V16, "Triggered", services.charging_station())]
        elif what == "StatusNotification":
            numbered = own_messages.ocpp16_connectors(services.connectors())
            if connector is not None and connector != 0 and connector not in numbered:
                log.info("TriggerMessage StatusNotification rejected: no connector %d", connector)
                return {"status": "Rejected"}
            ids = [0, *numbered] if connector is None else [connector]
            action, payloads = what, own_messages.ocpp16_status_notifications(ids, now_iso())
        else:
            return {"status": "NotImplemented"}  # MeterValues
        services.outbox.add(door, call.ocpp_version, action, payloads, reply_to=call.reply_to,
                            correlation=call.correlation, triggered=True)  # sent after the answer (1.6 §5.17)
        log.info("%s %s accepted: %d message(s) for %s", call.action, what, len(payloads), call.origin)
        return {"status": "Accepted"}

    return handle


ROUTES = (
    Route("TriggerMessage", VERSIONS_2X, mutates=True, build=trigger_message),  # F06
    Route("TriggerMessage", (V16,), mutates=True, build=lambda s: trigger_message_16(s, extended=False)),
    Route("ExtendedTriggerMessage", (V16,), mutates=True, build=lambda s: trigger_message_16(s, extended=True)),
)

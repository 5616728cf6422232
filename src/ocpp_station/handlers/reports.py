"""B07 GetBaseReport and B08 GetReport (OCPP 2.0.1 and 2.1; 1.6 has neither).

An accepted report is a promise of NotifyReport parts (B07.FR.03, B08.FR.03). The handler builds
the whole report now (:mod:`ocpp_station.station.reports`), cuts it into parts within
``[limits] report_items_per_part`` / ``report_bytes_per_part`` and puts them in the outbox of the
door the request came through, in the unit of work of its answer (the routes are ``mutates``): the
Accepted and its parts are committed together, or neither is. The doors deliver the parts.

The answer, in this order:

* GetReport beyond DeviceDataCtrlr.ItemsPerMessage[GetReport] / BytesPerMessage[GetReport]:
  CALLERROR OccurrenceConstraintViolation / FormatViolation (B08.FR.17/18), the check GetVariables
  makes (:func:`~.base.enforce_message_limits`).
* A reportBase the station does not offer: NotSupported, and nothing sent (B07.FR.02/05). All three
  of ReportBaseEnumType are offered (B07.FR.12 asks for the first two).
* Nothing to report: EmptyResultSet (B08.FR.15; for a base report, which cannot be empty with the
  catalogue, the same).
* A report still being delivered through the same door (NotifyReport parts in its outbox):
  Rejected, with a statusInfo saying why (B07.FR.13, B08.FR.16) — one report at a time per
  receiver, so a CSMS gets its parts in one run, not interleaved with those of a second report; the
  other door's reports do not count.
* Otherwise Accepted (B07.FR.01, B08.FR.01), the parts queued.
"""

from __future__ import annotations

import logging
from typing import Any

from ..config import Limits
from ..station.datatypes import now_iso
from ..station.device_model import DeviceModel
from ..station.outbox import Door, Outbox
from ..station.reports import BASE_REPORTS, ReportItem, custom_report, envelope_bytes, notify_report_payloads, split
from ..versions import VERSIONS_2X
from .base import Call, Handler, Route, door_of, enforce_message_limits, message_limits, status_info

log = logging.getLogger(__name__)

ACTION = "NotifyReport"
_TO: dict[Door, str] = {"csms": "to the CSMS", "mqtt": "over the MQTT API"}


def _busy(outbox: Outbox, call: Call) -> dict[str, Any] | None:
    """The Rejected answer while an earlier report is still being delivered through this door."""
    door = door_of(call)
    waiting = outbox.pending(door, ACTION)
    if not waiting:
        return None
    return {"status": "Rejected", "statusInfo": status_info(
        "InvalidMessageSeq", f"{waiting} NotifyReport part(s) of an earlier report are still being delivered "
        f"{_TO[door]}; ask again once they are", call.ocpp_version)}


def _promise(outbox: Outbox, limits: Limits, call: Call, items: list[ReportItem]) -> dict[str, Any]:
    """Queue the parts of ``items`` for the door ``call`` came through; the Accepted answer."""
    request_id, generated_at = call.payload["requestId"], now_iso()  # generatedAt: now, UTC
    parts = split(items, limits.report_items_per_part, limits.report_bytes_per_part,
                  envelope=envelope_bytes(request_id, generated_at))
    payloads = notify_report_payloads(request_id, generated_at, parts)  # B07.FR.04/10, B08.FR.04/14
    # Over MQTT 5 the parts follow the request to its Response Topic too (api/mqtt.py publishes them there).
    outbox.add(door_of(call), call.ocpp_version, ACTION, payloads, reply_to=call.reply_to, correlation=call.correlation)
    log.info("%s %d accepted: %d items in %d NotifyReport part(s) for %s", call.action, request_id, len(items),
             len(payloads), call.origin)
    return {"status": "Accepted"}


def get_base_report(model: DeviceModel, outbox: Outbox, limits: Limits) -> Handler:
    def handle(call: Call) -> dict[str, Any]:
        build = BASE_REPORTS.get(call.payload["reportBase"])
        if build is None:
            return {"status": "NotSupported"}  # B07.FR.02; and no NotifyReport (B07.FR.05)
        items = build(model, call.version)  # B07.FR.07/08/09
        if not items:
            return {"status": "EmptyResultSet"}
        return _busy(outbox, call) or _promise(outbox, limits, call, items)  # B07.FR.13, else B07.FR.01/03

    return handle


def get_report(model: DeviceModel, outbox: Outbox, limits: Limits) -> Handler:
    message = message_limits(model, "GetReport")

    def handle(call: Call) -> dict[str, Any]:
        elements = call.payload.get("componentVariable") or []
        enforce_message_limits(message, call, len(elements), "GetReport")  # B08.FR.17, B08.FR.18
        items = custom_report(model, call.version, elements, call.payload.get("componentCriteria") or ())
        if not items:
            return {"status": "EmptyResultSet"}  # B08.FR.15
        return _busy(outbox, call) or _promise(outbox, limits, call, items)  # B08.FR.16, else B08.FR.01/03

    return handle


ROUTES = (
    Route("GetBaseReport", VERSIONS_2X, mutates=True,
          build=lambda s: get_base_report(s.model, s.outbox, s.config.limits)),  # B07
    Route("GetReport", VERSIONS_2X, mutates=True,
          build=lambda s: get_report(s.model, s.outbox, s.config.limits)),  # B08
)

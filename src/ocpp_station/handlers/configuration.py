"""OCPP 1.6 GetConfiguration and ChangeConfiguration (1.6 §5.8, §5.3), through either door.

The keys are views of the device model (:mod:`ocpp_station.station.configuration_keys`): what a
1.6 CSMS or OEM changes here is what 2.0.1 and 2.1 read, and the reverse.

* GetConfiguration with no key (or an empty list) lists every key; otherwise the keys asked for,
  the unknown ones in ``unknownKey``. GetConfigurationMaxKeys bounds how many may be asked for at
  once; 1.6 names no error for more, so the station answers what 2.x answers for more than
  ItemsPerMessage (B06.FR.16) — the same limit, one home —: CALLERROR OccurenceConstraintViolation.
* ChangeConfiguration answers Accepted, RebootRequired, Rejected or NotSupported (1.6 §7.13); the
  reason of a refusal goes to the log only (the 1.6 answer has no field for it), never the value:
  AuthorizationKey is a password.
"""

from __future__ import annotations

import logging
from typing import Any

from ..errors import ErrorCode, OcppError
from ..logsafe import shown
from ..station.configuration_keys import ConfigurationKeys, ConfigurationStatus
from ..versions import V16
from .base import Call, Handler, Route

log = logging.getLogger(__name__)


def _max_keys(keys: ConfigurationKeys) -> int:
    """GetConfigurationMaxKeys, read through its key (the data says which variable holds it); 0: no limit."""
    value = keys.value("GetConfigurationMaxKeys")
    return int(value) if value is not None and value.isdigit() else 0


def get_configuration(keys: ConfigurationKeys) -> Handler:
    max_keys = _max_keys(keys)  # read-only, so read once

    def handle(call: Call) -> dict[str, Any]:
        asked = call.payload.get("key") or []
        if max_keys and len(asked) > max_keys:
            raise OcppError(ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION,
                            f"{len(asked)} keys exceed GetConfigurationMaxKeys = {max_keys}",
                            {"limit": max_keys, "received": len(asked)})
        known, unknown = keys.read(asked)
        answer: dict[str, Any] = {"configurationKey": [value.to_ocpp() for value in known]}
        if unknown:
            answer["unknownKey"] = unknown
        return answer

    return handle


def change_configuration(keys: ConfigurationKeys) -> Handler:
    def handle(call: Call) -> dict[str, Any]:
        name = call.payload["key"]
        change = keys.change(name, call.payload["value"])
        level = logging.INFO if change.status is not ConfigurationStatus.NOT_SUPPORTED else logging.DEBUG
        log.log(level, "ChangeConfiguration %s: %s%s", shown(name, quote=False), change.status.value,
                f" ({change.why})" if change.why else "")
        return {"status": change.status.value}

    return handle


ROUTES = (
    Route("GetConfiguration", (V16,), mutates=False, build=lambda s: get_configuration(s.configuration)),
    Route("ChangeConfiguration", (V16,), mutates=True, build=lambda s: change_configuration(s.configuration)),
)

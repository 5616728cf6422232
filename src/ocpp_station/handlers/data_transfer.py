"""DataTransfer from the CSMS or the OEM (1.6 §5.6; 2.x P02): vendor messages, of which the station knows none.

Every vendorId is one the station has no implementation for, so every DataTransfer is answered
UnknownVendorId (1.6 §5.6; 2.x P02, by the rule P01.FR.05 gives either recipient) — a CALLRESULT,
not a CALLERROR: the message is understood, the vendor is not. The data is neither read nor
logged (it is the vendor's, and may be anything).
"""

from __future__ import annotations

import logging
from typing import Any

from ..logsafe import shown
from ..versions import ALL_VERSIONS
from .base import Call, Handler, Route

log = logging.getLogger(__name__)


def data_transfer(_services: object) -> Handler:
    def handle(call: Call) -> dict[str, Any]:
        log.info("DataTransfer for vendor %s: UnknownVendorId", shown(call.payload["vendorId"], 60))
        return {"status": "UnknownVendorId"}

    return handle


ROUTES = (Route("DataTransfer", ALL_VERSIONS, mutates=False, build=data_transfer),)

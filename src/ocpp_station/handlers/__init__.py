"""One module per OCPP functional block; each maps one version's payloads onto station calls."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from .. import exact_json


@dataclass(frozen=True)
class Call:
    """An OCPP request as a handler sees it, whatever door it came through."""

    ocpp_version: str  # "ocpp1.6", "ocpp2.0.1" or "ocpp2.1"
    action: str
    payload: dict[str, Any]
    message_id: str = ""

    @cached_property
    def frame_size(self) -> int:
        """Bytes of this request as an OCPP-J CALL frame, ``[2,"<id>","<Action>",{…}]``, compact.

        What B06.FR.17 (BytesPerMessage) measures: the OCPP message, the same on every door — not
        the MQTT envelope around it, nor the whitespace a CSMS happened to send. Computed only by a
        handler that has such a limit.
        """
        return len(exact_json.dumps([2, self.message_id, self.action, self.payload]))

    @property
    def version(self) -> str:
        """The version without the prefix, as the device model names it: "2.0.1"."""
        return self.ocpp_version.removeprefix("ocpp")


Handler = Callable[[Call], dict[str, Any]]
"""Returns the CALLRESULT payload, or raises :class:`~ocpp_station.rpc.errors.OcppError`."""


def status_info(reason_code: str, additional_info: str, ocpp_version: str) -> dict[str, str]:
    """A StatusInfoType; additionalInfo is clipped to 512 (2.0.1) or 1024 (2.1) characters."""
    limit = 1024 if ocpp_version == "ocpp2.1" else 512
    info = {"reasonCode": reason_code[:20]}
    if additional_info:
        info["additionalInfo"] = additional_info[:limit]
    return info

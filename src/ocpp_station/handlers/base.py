"""What every handler module shares: the request as a handler sees it, and how a route is declared.

A handler module declares its routes beside its handlers (DESIGN rule 7): for each action, the
versions it serves and whether it changes state — a request that does commits its effect and its
answer together, durably, before the answer leaves. The route table, the set of actions the
station offers and that transaction rule are all derived from these declarations
(:mod:`ocpp_station.handlers.routes`); nothing else keeps a list of action names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from .. import exact_json
from ..config import Config
from ..errors import ErrorCode, OcppError
from ..station.certificate_store import CertificateStore
from ..station.certificates import LiveConnection
from ..station.configuration_keys import ConfigurationKeys
from ..station.device_model import DeviceModel
from ..station.network_store import NetworkStore
from ..station.outbox import DOORS, Door, Outbox
from ..station.renewal import Renewal
from ..station.security_events import SecurityEvents
from ..station.storage import Storage
from ..versions import OcppVersion, profile


@dataclass(frozen=True)
class Call:
    """An OCPP request as a handler sees it, whatever door it came through."""

    ocpp_version: str  # "ocpp1.6", "ocpp2.0.1" or "ocpp2.1"
    action: str
    payload: dict[str, Any]
    message_id: str = ""
    origin: str = "mqtt"  # the door it came through ("mqtt", "csms"): where what it promises is sent
    reply_to: str | None = None  # MQTT 5: the request's Response Topic (what it promises is published there too)
    correlation: bytes | None = None  # … and its Correlation Data

    # Plain properties, not functools.cached_property: a Call lives for one request and each is read
    # about once, and Python 3.11's cached_property takes a lock at every first read (issue 20's profile).
    @property
    def frame_size(self) -> int:
        """Bytes of this request as an OCPP-J CALL frame, ``[2,"<id>","<Action>",{…}]``, compact.

        What B06.FR.17 (BytesPerMessage) measures: the OCPP message, the same on every door — not
        the MQTT envelope around it, nor the whitespace a CSMS happened to send. Computed only by a
        handler that has such a limit.
        """
        return len(exact_json.dumps([2, self.message_id, self.action, self.payload]))

    @property
    def version(self) -> str:
        """The version as the device model names it ("2.0.1"; empty for 1.6, which has none)."""
        return profile(self.ocpp_version).device_model_name or ""


Handler = Callable[[Call], dict[str, Any]]
"""Returns the CALLRESULT payload, or raises :class:`~ocpp_station.rpc.errors.OcppError`."""


class Services(Protocol):
    """What the handlers are built from: the station's stores, and two questions only it can answer."""

    config: Config
    model: DeviceModel
    network: NetworkStore
    certificates: CertificateStore
    outbox: Outbox
    events: SecurityEvents
    renewal: Renewal
    storage: Storage
    configuration: ConfigurationKeys

    def request_reset(self) -> None: ...

    def live_connection(self) -> LiveConnection: ...

    def registration_accepted(self) -> bool: ...

    def charging_station(self) -> dict[str, str]: ...

    def certificate_in_use_changed(self) -> None: ...

    def connectors(self) -> list[tuple[int, int]]: ...


def door_of(call: Call) -> Door:
    """The outbox door of the door ``call`` came through: where what it promises is sent."""
    for door in DOORS:
        if call.origin == door:
            return door
    raise ValueError(f"no outbox for requests that came through {call.origin!r}")


@dataclass(frozen=True)
class Route:
    """One action the station offers: in which versions, whether it changes state, how to build it."""

    action: str
    versions: tuple[OcppVersion, ...]
    mutates: bool  # its effect and answer commit together, with an fsync, before the answer leaves
    build: Callable[[Services], Handler]


def status_info(reason_code: str, additional_info: str, ocpp_version: str) -> dict[str, str]:
    """A StatusInfoType: reasonCode ≤ 20 characters, additionalInfo as long as the version allows.

    The one place a StatusInfo is made: every handler's reason goes through it, so the limits of
    each version (512 in 2.0.1, 1024 in 2.1: :meth:`~ocpp_station.versions.VersionProfile.
    clip_status_info`) are applied once.
    """
    info = {"reasonCode": reason_code[:20]}
    if additional_info:
        info["additionalInfo"] = profile(ocpp_version).clip_status_info(additional_info)
    return info


MessageLimits = tuple[int, int]
"""DeviceDataCtrlr.ItemsPerMessage[…] and BytesPerMessage[…] of one action; 0 means no limit."""


def message_limits(model: DeviceModel, which: str) -> MessageLimits:
    """ItemsPerMessage/BytesPerMessage[which]: read-only, set by the configuration, read once."""
    return (model.read_int("DeviceDataCtrlr", "ItemsPerMessage", which),
            model.read_int("DeviceDataCtrlr", "BytesPerMessage", which))


def enforce_message_limits(limits: MessageLimits, call: Call, items: int, which: str) -> None:
    """Refuse a request beyond the limits the station announces for it: the one check of
    B06.FR.16/17 (GetVariables, and SetVariables alike) and B08.FR.17/18 (GetReport).

    More elements than ItemsPerMessage[which] → OccurrenceConstraintViolation; more bytes than
    BytesPerMessage[which], measured on the OCPP-J CALL frame whatever door the request came
    through (:attr:`Call.frame_size`) → FormatViolation.
    """
    max_items, max_bytes = limits
    if max_items and items > max_items:
        raise OcppError(ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION,
                        f"{items} elements exceed ItemsPerMessage[{which}] = {max_items}",
                        {"limit": max_items, "received": items})
    if max_bytes and (size := call.frame_size) > max_bytes:
        raise OcppError(ErrorCode.FORMAT_VIOLATION,
                        f"the {which} message of {size} bytes exceeds BytesPerMessage[{which}] = "
                        f"{max_bytes}", {"limit": max_bytes, "received": size})

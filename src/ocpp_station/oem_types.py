"""What the OEM's client says and hears: variable references and the results of the six messages.

Plain values, no I/O: :class:`VariableRef` is the textual syntax the CLI and the client share
(``EVSE[1].Power``, ``DeviceDataCtrlr.ItemsPerMessage[GetVariables]``, ``Connector[1.2].ConnectorType``,
``NetworkConfiguration(2).OcppCsmsUrl``, ``OCPPCommCtrlr.OfflineThreshold:Target``), the result
classes are the typed form of GetVariables/SetVariables/certificate answers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

"""The values of the envelope's ``ocpp_version``."""
ATTRIBUTE_TYPES = ("Actual", "Target", "MinSet", "MaxSet")
"""OCPP 2.x AttributeEnumType."""



# -- errors ------------------------------------------------------------------------------------------

class CallError(Exception):
    """The station answered a request with a CallError.

    ``code`` is the RPC framework error code (e.g. ``OccurrenceConstraintViolation``), ``description``
    the station's human-readable text, ``details`` its ``error_details`` object, ``request_id`` the
    envelope id of the request.
    """

    def __init__(self, code: str, description: str, details: dict[str, Any] | None, request_id: str):
        super().__init__(f"{code}: {description}" if description else code)
        self.code = code
        self.description = description
        self.details = details or {}
        self.request_id = request_id


class StationUnreachable(ConnectionError):
    """The broker cannot be reached, refused us, or the link to it was lost during a call."""


# -- variable references -----------------------------------------------------------------------------

_NAME = r"[A-Za-z0-9*_\-=+|@.]+"  # identifierString, minus ':' (attribute suffix) and brackets
_REF = re.compile(
    r"(?P<component>[A-Za-z0-9*_\-=+|@]+)"
    r"(?:\[(?P<evse>[^\]]*)\])?"
    r"(?:\((?P<cinst>[^()]*)\))?"
    r"\.(?P<variable>[A-Za-z0-9*_\-=+|@]+)"
    r"(?:\[(?P<vinst>[^\]]*)\])?"
)
_INSTANCE = re.compile(_NAME)


@dataclass(frozen=True)
class VariableRef:
    """One variable of the OCPP 2.x device model: a component (with its instance and EVSE/connector),
    a variable (with its instance) and optionally an attribute type.

    The text form, read by :meth:`parse` and written by ``str()``, is
    ``Component[evse.connector](componentInstance).Variable[variableInstance]:AttributeType``,
    every part but the two names optional — e.g. ``EVSE[1].AvailabilityState``,
    ``Connector[1.2].ConnectorType``, ``NetworkConfiguration(2).OcppCsmsUrl``,
    ``DeviceDataCtrlr.ItemsPerMessage[GetVariables]``, ``OCPPCommCtrlr.OfflineThreshold:Target``.
    """

    component: str
    variable: str
    component_instance: str | None = None
    variable_instance: str | None = None
    evse_id: int | None = None
    connector_id: int | None = None
    attribute_type: str | None = None

    def __post_init__(self) -> None:
        if not self.component or not self.variable:
            raise ValueError("a variable reference needs a component name and a variable name")
        if self.connector_id is not None and self.evse_id is None:
            raise ValueError("a connector id needs an EVSE id")
        if self.attribute_type is not None and self.attribute_type not in ATTRIBUTE_TYPES:
            raise ValueError(f"unknown attribute type {self.attribute_type!r} (one of {', '.join(ATTRIBUTE_TYPES)})")

    @classmethod
    def parse(cls, text: str) -> VariableRef:
        """Read the text form (see the class docstring); ``ValueError`` says what is wrong."""
        source = text.strip()
        if not source:
            raise ValueError("empty variable reference (expected Component.Variable, "
                             "e.g. OCPPCommCtrlr.OfflineThreshold)")
        attribute_type = None
        head, colon, tail = source.rpartition(":")
        if colon and not any(c in tail for c in "])."):
            if tail not in ATTRIBUTE_TYPES:
                raise ValueError(f"{text!r}: unknown attribute type {tail!r} after ':' "
                                 f"(one of {', '.join(ATTRIBUTE_TYPES)})")
            source, attribute_type = head, tail
        match = _REF.fullmatch(source)
        if match is None:
            if "." not in source:
                raise ValueError(f"{text!r}: expected Component.Variable (e.g. OCPPCommCtrlr.OfflineThreshold)")
            raise ValueError(f"{text!r}: not a variable reference; the syntax is "
                             "Component[evse.connector](instance).Variable[instance]:AttributeType, "
                             "e.g. EVSE[1].AvailabilityState or NetworkConfiguration(2).OcppCsmsUrl")
        evse_id = connector_id = None
        if match["evse"] is not None:
            evse_text, _, connector_text = match["evse"].partition(".")
            try:
                evse_id = int(evse_text)
                connector_id = int(connector_text) if connector_text else None
            except ValueError:
                raise ValueError(f"{text!r}: [{match['evse']}] must be an EVSE id or evse.connector ids, "
                                 "e.g. EVSE[1] or Connector[1.2]") from None
            if evse_id < 0 or (connector_id is not None and connector_id < 0) or (
                    connector_text == "" and "." in match["evse"]):
                raise ValueError(f"{text!r}: [{match['evse']}] must be non-negative integers, e.g. Connector[1.2]")
        for part, what in ((match["cinst"], "component instance"), (match["vinst"], "variable instance")):
            if part is not None and not _INSTANCE.fullmatch(part):
                raise ValueError(f"{text!r}: empty or invalid {what} {part!r}")
        return cls(match["component"], match["variable"], component_instance=match["cinst"],
                   variable_instance=match["vinst"], evse_id=evse_id, connector_id=connector_id,
                   attribute_type=attribute_type)

    @classmethod
    def coerce(cls, ref: VariableRef | str | Sequence[str]) -> VariableRef:
        """A VariableRef from a VariableRef, its text form, or a ``(component, variable)`` pair."""
        if isinstance(ref, VariableRef):
            return ref
        if isinstance(ref, str):
            return cls.parse(ref)
        if isinstance(ref, Sequence) and len(ref) == 2 and all(isinstance(p, str) for p in ref):
            return cls(ref[0], ref[1])
        raise ValueError(f"not a variable reference: {ref!r} (use a VariableRef, 'Component.Variable' or "
                         "a (component, variable) pair)")

    def to_ocpp(self) -> dict[str, Any]:
        """The ``component``/``variable``(/``attributeType``) fields of a GetVariableData or SetVariableData."""
        component: dict[str, Any] = {"name": self.component}
        if self.component_instance is not None:
            component["instance"] = self.component_instance
        if self.evse_id is not None:
            component["evse"] = {"id": self.evse_id}
            if self.connector_id is not None:
                component["evse"]["connectorId"] = self.connector_id
        variable: dict[str, Any] = {"name": self.variable}
        if self.variable_instance is not None:
            variable["instance"] = self.variable_instance
        data: dict[str, Any] = {"component": component, "variable": variable}
        if self.attribute_type is not None:
            data["attributeType"] = self.attribute_type
        return data

    @classmethod
    def from_ocpp(cls, data: Mapping[str, Any]) -> VariableRef:
        """The reference named by a GetVariableResult or SetVariableResult."""
        component, variable = data["component"], data["variable"]
        evse = component.get("evse") or {}
        return cls(component["name"], variable["name"], component_instance=component.get("instance"),
                   variable_instance=variable.get("instance"), evse_id=evse.get("id"),
                   connector_id=evse.get("connectorId"), attribute_type=data.get("attributeType"))

    def __str__(self) -> str:
        text = self.component
        if self.evse_id is not None:
            text += f"[{self.evse_id}" + (f".{self.connector_id}" if self.connector_id is not None else "") + "]"
        if self.component_instance is not None:
            text += f"({self.component_instance})"
        text += f".{self.variable}"
        if self.variable_instance is not None:
            text += f"[{self.variable_instance}]"
        if self.attribute_type is not None:
            text += f":{self.attribute_type}"
        return text


# -- results -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class VariableResult:
    """One GetVariableResult: ``value`` is None unless ``status`` is Accepted; ``reason`` is the
    statusInfo reasonCode, if any. ``ref`` has no attribute type: it is in ``attribute_type``."""

    ref: VariableRef
    status: str
    value: str | None
    attribute_type: str
    reason: str | None = None
    additional_info: str | None = None

    @property
    def accepted(self) -> bool:
        """True when the station returned a value."""
        return self.status == "Accepted"

    @property
    def label(self) -> str:
        """The variable in the text form, with ``:AttributeType`` unless it is Actual."""
        return str(self.ref) + ("" if self.attribute_type == "Actual" else f":{self.attribute_type}")


@dataclass(frozen=True)
class SetVariableResult:
    """One SetVariableResult (status Accepted, Rejected, UnknownComponent, UnknownVariable,
    NotSupportedAttributeType or RebootRequired). ``ref`` has no attribute type: it is in
    ``attribute_type``."""

    ref: VariableRef
    status: str
    attribute_type: str
    reason: str | None = None
    additional_info: str | None = None

    @property
    def accepted(self) -> bool:
        """True when the value was stored (RebootRequired: stored, effective after a restart)."""
        return self.status in ("Accepted", "RebootRequired")

    @property
    def label(self) -> str:
        """The variable in the text form, with ``:AttributeType`` unless it is Actual."""
        return str(self.ref) + ("" if self.attribute_type == "Actual" else f":{self.attribute_type}")


@dataclass(frozen=True)
class Status:
    """The answer of InstallCertificate, DeleteCertificate or SetNetworkProfile."""

    status: str
    reason: str | None = None
    additional_info: str | None = None

    @property
    def accepted(self) -> bool:
        """True for status Accepted."""
        return self.status == "Accepted"

    @classmethod
    def from_ocpp(cls, payload: Mapping[str, Any]) -> Status:
        """Read a ``{"status": …, "statusInfo": {…}}`` payload."""
        info = payload.get("statusInfo") or {}
        return cls(payload["status"], info.get("reasonCode"), info.get("additionalInfo"))


@dataclass(frozen=True)
class InstalledCertificate:
    """One installed certificate as GetInstalledCertificateIds reports it.

    ``certificate_type`` uses the 2.x names (a 1.6 CentralSystemRootCertificate is reported as
    CSMSRootCertificate); ``hash_data`` is the OCPP CertificateHashDataType (what
    :meth:`StationClient.delete_certificate` takes); ``children`` the sub-CAs of a V2G chain.
    """

    certificate_type: str
    hash_data: dict[str, str]
    children: list[dict[str, str]] = field(default_factory=list)


def _reason(item: Mapping[str, Any], key: str) -> tuple[str | None, str | None]:
    info = item.get(key) or {}
    return info.get("reasonCode"), info.get("additionalInfo")


def _plain(item: Mapping[str, Any]) -> VariableRef:
    """The reference a result names, without its attribute type (kept in the result's own field)."""
    return replace(VariableRef.from_ocpp(item), attribute_type=None)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# -- the client --------------------------------------------------------------------------------------

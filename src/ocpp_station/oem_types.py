"""What the OEM's client says and hears: variable references and the results of the six messages.

Plain values, no I/O: :class:`VariableRef` is the textual syntax the CLI and the client share
(``EVSE[1].Power``, ``DeviceDataCtrlr.ItemsPerMessage[GetVariables]``, ``Connector[1.2].ConnectorType``,
``NetworkConfiguration(2).OcppCsmsUrl``, ``OCPPCommCtrlr.OfflineThreshold:Target``), the result
classes are the typed form of GetVariables/SetVariables/certificate answers, and of reports:
:class:`ComponentVariable` (what GetReport asks about), :class:`ReportItem` (one reported variable),
and :class:`ReportCollector`, which puts a report's NotifyReport parts in order.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .versions import V16

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
_COMPONENT_ONLY = re.compile(  # the component part of _REF, alone: what GetReport may name without a variable
    r"(?P<component>[A-Za-z0-9*_\-=+|@]+)"
    r"(?:\[(?P<evse>[^\]]*)\])?"
    r"(?:\((?P<cinst>[^()]*)\))?"
)


def _evse_ids(text: str, bracket: str | None) -> tuple[int | None, int | None]:
    """The EVSE and connector ids of a ``[evse]`` or ``[evse.connector]`` part (None, None without one)."""
    if bracket is None:
        return None, None
    evse_text, _, connector_text = bracket.partition(".")
    try:
        evse_id = int(evse_text)
        connector_id = int(connector_text) if connector_text else None
    except ValueError:
        raise ValueError(f"{text!r}: [{bracket}] must be an EVSE id or evse.connector ids, "
                         "e.g. EVSE[1] or Connector[1.2]") from None
    if evse_id < 0 or (connector_id is not None and connector_id < 0) or (connector_text == "" and "." in bracket):
        raise ValueError(f"{text!r}: [{bracket}] must be non-negative integers, e.g. Connector[1.2]")
    return evse_id, connector_id


def _component_text(name: str, evse_id: int | None, connector_id: int | None, instance: str | None) -> str:
    text = name
    if evse_id is not None:
        text += f"[{evse_id}" + (f".{connector_id}" if connector_id is not None else "") + "]"
    if instance is not None:
        text += f"({instance})"
    return text



def component_ocpp(name: str, instance: str | None, evse_id: int | None, connector_id: int | None) -> dict[str, Any]:
    """An OCPP ComponentType: the name, and the instance and EVSE (connector) where given."""
    component: dict[str, Any] = {"name": name}
    if instance is not None:
        component["instance"] = instance
    if evse_id is not None:
        component["evse"] = {"id": evse_id}
        if connector_id is not None:
            component["evse"]["connectorId"] = connector_id
    return component

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
        evse_id, connector_id = _evse_ids(text, match["evse"])
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
        component = component_ocpp(self.component, self.component_instance, self.evse_id, self.connector_id)
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

    @property
    def component_label(self) -> str:
        """The component in the text form: ``EVSE[1]``, ``Connector[1.2]``, ``NetworkConfiguration(2)``."""
        return _component_text(self.component, self.evse_id, self.connector_id, self.component_instance)

    @property
    def variable_label(self) -> str:
        """The variable in the text form: ``Power``, ``ItemsPerMessage[GetVariables]``."""
        return self.variable + (f"[{self.variable_instance}]" if self.variable_instance is not None else "")

    def __str__(self) -> str:
        text = f"{self.component_label}.{self.variable_label}"
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
class ConfigurationValue:
    """One KeyValue of a 1.6 GetConfiguration answer; ``value`` is None when the station left it out
    (a write-only key such as AuthorizationKey, or a key without a value)."""

    key: str
    readonly: bool
    value: str | None = None


@dataclass(frozen=True)
class Configuration:
    """A 1.6 GetConfiguration answer: the keys the station knows, and the names it does not."""

    keys: tuple[ConfigurationValue, ...]
    unknown: tuple[str, ...] = ()


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


# -- reports: GetBaseReport, GetReport and the NotifyReport parts that follow -----------------------

REPORT_BASES = ("ConfigurationInventory", "FullInventory", "SummaryInventory")
"""OCPP 2.x ReportBaseEnumType: what GetBaseReport asks for."""
COMPONENT_CRITERIA = ("Active", "Available", "Enabled", "Problem")
"""OCPP 2.x ComponentCriterionEnumType: what GetReport's ``componentCriteria`` may hold."""


@dataclass(frozen=True)
class ComponentVariable:
    """What GetReport asks about (its ComponentVariableType): a component, optionally one of its variables.

    The text form, read by :meth:`parse`, is :class:`VariableRef`'s without the attribute type, the
    variable optional: ``EVSE[1]``, ``Connector[1.1]``, ``NetworkConfiguration(2)``,
    ``OCPPCommCtrlr.HeartbeatInterval``, ``DeviceDataCtrlr.ItemsPerMessage[GetVariables]`` — so that
    a name `get` takes, or a row `report` prints, can be asked about as it is written.
    """

    component: str
    variable: str | None = None
    component_instance: str | None = None
    variable_instance: str | None = None
    evse_id: int | None = None
    connector_id: int | None = None

    def __post_init__(self) -> None:
        if not self.component:
            raise ValueError("a component reference needs a component name")
        if self.variable == "":
            raise ValueError("an empty variable name (leave it out to ask for the whole component)")
        if self.variable_instance is not None and self.variable is None:
            raise ValueError("a variable instance needs a variable name")
        if self.connector_id is not None and self.evse_id is None:
            raise ValueError("a connector id needs an EVSE id")

    @classmethod
    def parse(cls, text: str) -> ComponentVariable:
        """Read ``Component[evse.connector](instance)`` or that ``.Variable[instance]``; ``ValueError``
        says what is wrong."""
        source = text.strip()
        if not source:
            raise ValueError("empty component reference (expected Component or Component.Variable, "
                             "e.g. EVSE[1] or OCPPCommCtrlr.HeartbeatInterval)")
        match = _COMPONENT_ONLY.fullmatch(source)
        if match is not None:
            evse_id, connector_id = _evse_ids(text, match["evse"])
            if match["cinst"] is not None and not _INSTANCE.fullmatch(match["cinst"]):
                raise ValueError(f"{text!r}: empty or invalid component instance {match['cinst']!r}")
            return cls(match["component"], component_instance=match["cinst"], evse_id=evse_id,
                       connector_id=connector_id)
        try:
            ref = VariableRef.parse(source)
        except ValueError:
            if "." not in source:
                raise ValueError(f"{text!r}: expected Component or Component.Variable, e.g. EVSE[1], "
                                 "Connector[1.1], NetworkConfiguration(2) or OCPPCommCtrlr.HeartbeatInterval") from None
            raise
        if ref.attribute_type is not None:
            raise ValueError(f"{text!r}: a report covers every attribute of a variable; leave out "
                             f"':{ref.attribute_type}'")
        return cls.from_ref(ref)

    @classmethod
    def from_ref(cls, ref: VariableRef) -> ComponentVariable:
        """The same component and variable (a report has no attribute type to ask for)."""
        return cls(ref.component, ref.variable, component_instance=ref.component_instance,
                   variable_instance=ref.variable_instance, evse_id=ref.evse_id, connector_id=ref.connector_id)

    @classmethod
    def coerce(cls, ref: ComponentVariable | VariableRef | str) -> ComponentVariable:
        """A ComponentVariable from itself, a :class:`VariableRef` or the text form."""
        if isinstance(ref, ComponentVariable):
            return ref
        if isinstance(ref, VariableRef):
            return cls.from_ref(ref)
        if isinstance(ref, str):
            return cls.parse(ref)
        raise ValueError(f"not a component reference: {ref!r} (use a ComponentVariable, a VariableRef or "
                         "'Component[.Variable]')")

    def to_ocpp(self) -> dict[str, Any]:
        """A GetReport ComponentVariableType."""
        component = component_ocpp(self.component, self.component_instance, self.evse_id, self.connector_id)
        data: dict[str, Any] = {"component": component}
        if self.variable is not None:
            data["variable"] = {"name": self.variable}
            if self.variable_instance is not None:
                data["variable"]["instance"] = self.variable_instance
        return data

    def __str__(self) -> str:
        text = _component_text(self.component, self.evse_id, self.connector_id, self.component_instance)
        if self.variable is not None:
            text += f".{self.variable}" + (f"[{self.variable_instance}]" if self.variable_instance is not None else "")
        return text


@dataclass(frozen=True)
class ReportAttribute:
    """One VariableAttributeType of a reported variable, the schema's defaults filled in.

    ``value`` is None when the station sent none: a WriteOnly attribute (a password) is reported
    without its value.
    """

    type: str = "Actual"
    value: str | None = None
    mutability: str = "ReadWrite"
    persistent: bool = False
    constant: bool = False


@dataclass(frozen=True)
class VariableCharacteristics:
    """A reported variable's VariableCharacteristicsType: its data type, unit, limits and allowed values.

    ``max_limit`` is the longest value for string and list types; ``max_elements`` exists in 2.1 only.
    """

    data_type: str
    supports_monitoring: bool
    unit: str | None = None
    min_limit: int | float | None = None
    max_limit: int | float | None = None
    values_list: str | None = None
    max_elements: int | None = None


@dataclass(frozen=True)
class ReportItem:
    """One ReportDataType of a NotifyReport: a variable, its attributes and characteristics.

    ``ref`` names the component and variable (no attribute type: every attribute is in
    ``attributes``), so ``client.get_variables([item.ref])`` reads the same variable again. ``raw``
    is the item as it was received.
    """

    ref: VariableRef
    attributes: tuple[ReportAttribute, ...]
    characteristics: VariableCharacteristics | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_ocpp(cls, data: Any) -> ReportItem:
        """Read one ReportDataType; ``ValueError`` for one that is not shaped like one."""
        data = _mapping(data, "the item")
        component = _mapping(data.get("component"), "component")
        variable = _mapping(data.get("variable"), "variable")
        evse = component.get("evse")
        evse_id = connector_id = None
        if evse is not None:
            evse = _mapping(evse, "component.evse")
            evse_id = _typed(evse, "id", int, "component.evse.id", required=True)
            connector_id = _typed(evse, "connectorId", int, "component.evse.connectorId")
        ref = VariableRef(_typed(component, "name", str, "component.name", required=True),
                          _typed(variable, "name", str, "variable.name", required=True),
                          component_instance=_typed(component, "instance", str, "component.instance"),
                          variable_instance=_typed(variable, "instance", str, "variable.instance"),
                          evse_id=evse_id, connector_id=connector_id)
        given = data.get("variableAttribute")
        if not isinstance(given, list) or not given:
            raise ValueError("variableAttribute: not a non-empty array")
        attributes = []
        for index, attribute in enumerate(given):
            where = f"variableAttribute/{index}"
            attribute = _mapping(attribute, where)
            kind = _typed(attribute, "type", str, f"{where}/type") or "Actual"
            if kind not in ATTRIBUTE_TYPES:
                raise ValueError(f"{where}/type: unknown attribute type {kind!r}")
            attributes.append(ReportAttribute(
                kind, _typed(attribute, "value", str, f"{where}/value"),
                _typed(attribute, "mutability", str, f"{where}/mutability") or "ReadWrite",
                bool(_typed(attribute, "persistent", bool, f"{where}/persistent")),
                bool(_typed(attribute, "constant", bool, f"{where}/constant"))))
        characteristics = None
        if data.get("variableCharacteristics") is not None:
            given_c = _mapping(data["variableCharacteristics"], "variableCharacteristics")
            where = "variableCharacteristics"
            characteristics = VariableCharacteristics(
                _typed(given_c, "dataType", str, f"{where}/dataType", required=True),
                _typed(given_c, "supportsMonitoring", bool, f"{where}/supportsMonitoring", required=True),
                _typed(given_c, "unit", str, f"{where}/unit"),
                _typed(given_c, "minLimit", (int, float), f"{where}/minLimit"),
                _typed(given_c, "maxLimit", (int, float), f"{where}/maxLimit"),
                _typed(given_c, "valuesList", str, f"{where}/valuesList"),
                _typed(given_c, "maxElements", int, f"{where}/maxElements"))
        return cls(ref, tuple(attributes), characteristics, dict(data))

    def attribute(self, attribute_type: str = "Actual") -> ReportAttribute | None:
        """The attribute of that type, if the variable has it."""
        return next((a for a in self.attributes if a.type == attribute_type), None)

    @property
    def value(self) -> str | None:
        """The Actual value (None: no Actual attribute, or a WriteOnly one)."""
        actual = self.attribute("Actual")
        return actual.value if actual is not None else None

    @property
    def label(self) -> str:
        """The variable in the text form `get` takes, e.g. ``EVSE[1].Power``."""
        return str(self.ref)


@dataclass(frozen=True)
class ReportPart:
    """One NotifyReport of a report: ``seq_no`` from 0, ``tbc`` true on all but the last.

    ``message_id`` is the id of the envelope it came in (the same when it is sent again);
    ``payload`` the NotifyReport payload as received.
    """

    request_id: int
    seq_no: int
    tbc: bool
    generated_at: str
    items: tuple[ReportItem, ...]
    message_id: str | None = None
    ocpp_version: str = "ocpp2.0.1"
    payload: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def report_data(self) -> list[dict[str, Any]]:
        """The ReportDataType items as received."""
        return [item.raw for item in self.items]


@dataclass(frozen=True)
class Report:
    """A whole report: the station's answer (``status``: Accepted or EmptyResultSet) and its items in order.

    Iterating over a Report, or ``len()``, is over its items. ``parts`` counts the NotifyReport
    messages it came in (0 for EmptyResultSet).
    """

    request_id: int
    status: str
    items: tuple[ReportItem, ...] = ()
    parts: int = 0
    reason: str | None = None
    additional_info: str | None = None

    def __iter__(self) -> Iterator[ReportItem]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def report_data(self) -> list[dict[str, Any]]:
        """Every ReportDataType item as received, in order."""
        return [item.raw for item in self.items]


class ReportRefused(Exception):
    """The station answered GetBaseReport/GetReport with Rejected or NotSupported: no report follows.

    ``reason`` and ``additional_info`` are the answer's statusInfo, when it had one.
    """

    def __init__(self, request_id: int, status: str, reason: str | None = None, additional_info: str | None = None):
        explained = ": ".join(part for part in (reason, additional_info) if part)
        super().__init__(f"report {request_id}: the station answered {status}"
                         + (f" ({explained})" if explained else ""))
        self.request_id = request_id
        self.status = status
        self.reason = reason
        self.additional_info = additional_info


class ReportTimeout(TimeoutError):
    """The report was accepted but stopped arriving: no new part within the timeout between parts.

    The message says what is missing (a part in the middle, or the one after the last received);
    ``received`` is the number of distinct parts that did arrive.
    """

    def __init__(self, request_id: int, timeout: float, state: str, received: int):
        super().__init__(f"report {request_id}: no new part within {timeout:g} s; {state}")
        self.request_id = request_id
        self.timeout = timeout
        self.received = received


class MalformedPart(ValueError):
    """A NotifyReport that cannot be read; ``request_id`` is its requestId when that much could be read."""

    def __init__(self, message: str, request_id: int | None = None):
        super().__init__(message)
        self.request_id = request_id


def read_notify_report(envelope: Any) -> ReportPart | None:
    """The report part an ``ocpp_message`` request named NotifyReport carries; None for any other message.

    Raises :class:`MalformedPart` for a NotifyReport whose payload is not one (the client logs and
    drops it; its seqNo will then be missing, which the timeout names).
    """
    if not isinstance(envelope, Mapping) or envelope.get("name") != "ocpp_message" \
            or envelope.get("type") != "request":
        return None
    data = envelope.get("data")
    if not isinstance(data, Mapping) or data.get("message_name") != "NotifyReport":
        return None
    payload = data.get("payload")
    if not isinstance(payload, Mapping):
        raise MalformedPart("a NotifyReport without a payload object")
    request_id = payload.get("requestId")
    if not isinstance(request_id, int) or isinstance(request_id, bool):
        raise MalformedPart("a NotifyReport without an integer requestId")
    try:
        seq_no = _typed(payload, "seqNo", int, "seqNo", required=True)
        if seq_no < 0:
            raise ValueError("seqNo: negative")
        tbc = bool(_typed(payload, "tbc", bool, "tbc"))
        generated_at = _typed(payload, "generatedAt", str, "generatedAt", required=True)
        report_data = payload.get("reportData", [])
        if not isinstance(report_data, list):
            raise ValueError("reportData: not an array")
        items = []
        for index, item in enumerate(report_data):
            try:
                items.append(ReportItem.from_ocpp(item))
            except ValueError as error:
                raise ValueError(f"reportData/{index}: {error}") from None
    except ValueError as error:
        raise MalformedPart(f"NotifyReport of report {request_id}: {error}", request_id) from None
    message_id = envelope.get("id")
    version = data.get("ocpp_version")
    return ReportPart(request_id, seq_no, tbc, generated_at, tuple(items),
                      message_id if isinstance(message_id, str) else None,
                      version if isinstance(version, str) else "ocpp2.0.1", dict(payload))


class ReportCollector:
    """The parts of one report put in order, without I/O: what :meth:`StationClient.report_parts` yields.

    A class of its own because the parts are MQTT messages: they may come out of order (two
    topics, a reconnection), twice (a station that restarts or reconnects sends the part it was not
    sure of again, same envelope id, same seqNo), and mixed with other reports' parts. The rules:

    * only NotifyReport requests with this ``requestId`` count (:meth:`offer` returns None for others);
    * one part per seqNo: another with a seqNo already received is dropped;
    * parts are handed out by :meth:`take` in seqNo order from 0, each once every part before it is there;
    * the report ends at the (lowest) part with ``tbc`` false: it is :attr:`complete` once that part and
      every one before it have been taken; a part numbered after the end is dropped.
    """

    def __init__(self, request_id: int):
        self.request_id = request_id
        self._waiting: dict[int, ReportPart] = {}
        self._next = 0  # the seqNo take() hands out next; every one before it has been taken
        self._last: int | None = None  # the seqNo of the part with tbc false, once one came
        self.dropped = 0
        """Parts dropped: duplicates, and parts numbered after the end."""

    @property
    def received(self) -> int:
        """Distinct parts received (taken or waiting for an earlier one)."""
        return self._next + len(self._waiting)

    @property
    def complete(self) -> bool:
        """True once the last part and every part before it have been taken."""
        return self._last is not None and self._next > self._last

    def offer(self, envelope: Any) -> bool | None:
        """Take one message as received: None when it is not a part of this report, True for a new
        part, False for one dropped (a duplicate, or numbered after the end). :class:`MalformedPart`
        for a NotifyReport that cannot be read."""
        try:
            part = read_notify_report(envelope)
        except MalformedPart as error:
            if error.request_id is not None and error.request_id != self.request_id:
                return None
            raise
        if part is None or part.request_id != self.request_id:
            return None
        return self.add(part)

    def add(self, part: ReportPart) -> bool:
        """Keep ``part`` unless its seqNo was received already or comes after the end; True if kept."""
        if part.request_id != self.request_id:
            raise ValueError(f"part of report {part.request_id} offered to report {self.request_id}")
        seq = part.seq_no
        if seq < self._next or seq in self._waiting or (self._last is not None and seq > self._last):
            self.dropped += 1
            return False
        if not part.tbc:
            self._last = seq
            for later in [s for s in self._waiting if s > seq]:  # a station that contradicts itself
                del self._waiting[later]
                self.dropped += 1
        self._waiting[seq] = part
        return True

    def take(self) -> list[ReportPart]:
        """The parts that can be handed out now, in order (each only once)."""
        ready = []
        while self._next in self._waiting:
            ready.append(self._waiting.pop(self._next))
            self._next += 1
        return ready

    def missing(self) -> list[int]:
        """The seqNos not received yet that come before a part received (or before the end, once known)."""
        high = self._last if self._last is not None else max(self._waiting, default=self._next - 1)
        return [seq for seq in range(self._next, high + 1) if seq not in self._waiting]

    def state(self) -> str:
        """What the report waits for, in words (for the timeout's message)."""
        if self.complete:
            return "complete"
        missing = self.missing()
        if self.received == 0:
            return "no part arrived"
        have = sorted([*range(self._next), *self._waiting])
        if missing:
            return f"received {self.received} part(s) ({_ranges(have)}), part(s) {_ranges(missing)} missing"
        return (f"received parts {_ranges(have)}; part {have[-1]} said more was to come (tbc), "
                f"part {have[-1] + 1} did not arrive")


def _ranges(numbers: Sequence[int]) -> str:
    """``0-2, 5`` for [0, 1, 2, 5]."""
    spans: list[list[int]] = []
    for number in numbers:
        if spans and number == spans[-1][1] + 1:
            spans[-1][1] = number
        else:
            spans.append([number, number])
    return ", ".join(f"{a}-{b}" if b > a else f"{a}" for a, b in spans)


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: not an object")
    return value


def _typed(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str, *,
           required: bool = False) -> Any:
    """``data[key]`` if it has type ``kind`` (booleans are not numbers here), None if absent and optional."""
    value = data.get(key)
    if value is None:
        if required:
            raise ValueError(f"{where}: missing")
        return None
    if isinstance(value, bool) and kind is not bool:
        raise ValueError(f"{where}: wrong type")
    if not isinstance(value, kind):
        raise ValueError(f"{where}: wrong type")
    return value


# -- certificate renewal (A02, from the OEM's side) ----------------------------------------------------

@dataclass(frozen=True)
class SigningRequest:
    """The station's SignCertificate request: its CSR (PEM PKCS#10) and what came with it.

    ``certificate_type`` is the payload's certificateType (ChargingStationCertificate when absent);
    ``request_id`` its OCPP 2.1 requestId, which the CertificateSigned must name (None in 2.0.1);
    ``message_id`` the envelope id it came under, ``ocpp_version`` the envelope's version.
    """

    csr: str
    certificate_type: str = "ChargingStationCertificate"
    request_id: int | None = None
    message_id: str | None = None
    ocpp_version: str = "ocpp2.0.1"


def read_sign_certificate(envelope: Any) -> SigningRequest | None:
    """The SignCertificate an ``ocpp_message`` request carries; None for any other message, or for a
    SignCertificate without a readable CSR (nothing could be signed)."""
    if not isinstance(envelope, Mapping) or envelope.get("name") != "ocpp_message" \
            or envelope.get("type") != "request":
        return None
    data = envelope.get("data")
    if not isinstance(data, Mapping) or data.get("message_name") != "SignCertificate":
        return None
    payload = data.get("payload")
    if not isinstance(payload, Mapping) or not isinstance(payload.get("csr"), str):
        return None
    use = payload.get("certificateType")
    request_id = payload.get("requestId")
    message_id = envelope.get("id")
    version = data.get("ocpp_version")
    return SigningRequest(payload["csr"], use if isinstance(use, str) else "ChargingStationCertificate",
                          request_id if isinstance(request_id, int) and not isinstance(request_id, bool) else None,
                          message_id if isinstance(message_id, str) else None,
                          version if isinstance(version, str) else "ocpp2.0.1")


@dataclass(frozen=True)
class CertificateRenewal:
    """A renewal carried out: the TriggerMessage answer, the station's CSR, the chain sent back, and
    the station's answer to CertificateSigned (``result``; :attr:`accepted` when it installed it)."""

    trigger: Status
    request: SigningRequest
    certificate_chain: str
    result: Status

    @property
    def accepted(self) -> bool:
        """True when the station accepted (and installed) the certificate."""
        return self.result.accepted


class RenewalRefused(Exception):
    """The station answered TriggerMessage(SignChargingStationCertificate) with other than Accepted:
    no CSR follows. ``reason``/``additional_info`` are its statusInfo (e.g. MissingParam: no
    SecurityCtrlr.OrganizationName)."""

    def __init__(self, status: str, reason: str | None = None, additional_info: str | None = None):
        explained = ": ".join(part for part in (reason, additional_info) if part)
        super().__init__(f"the station answered TriggerMessage(SignChargingStationCertificate) with {status}"
                         + (f" ({explained})" if explained else ""))
        self.status = status
        self.reason = reason
        self.additional_info = additional_info


class CsrTimeout(TimeoutError):
    """The station accepted the TriggerMessage but sent no SignCertificate within ``timeout`` seconds."""

    def __init__(self, timeout: float):
        super().__init__(f"the station accepted the TriggerMessage but sent no CSR (SignCertificate) within "
                         f"{timeout:g} s")
        self.timeout = timeout


# -- the client --------------------------------------------------------------------------------------


def renewal_trigger(ocpp_version: str) -> tuple[str, str]:
    """The request that asks the station for a CSR in ``ocpp_version``, and the message it asks for:
    1.6 has it in the security extension's ExtendedTriggerMessage."""
    if ocpp_version == V16:
        return "ExtendedTriggerMessage", "SignChargePointCertificate"
    return "TriggerMessage", "SignChargingStationCertificate"

"""The reports of B07 (GetBaseReport) and B08 (GetReport): what they hold, and the parts that carry it.

Pure: the device model in, ReportDataType items (the wire form, camelCase dicts) out, then those
items cut into NotifyReport payloads. No I/O and no clock: the handlers
(:mod:`ocpp_station.handlers.reports`) give the time, and put the parts in the outbox in the unit of
work of their answer.

What each report holds, always in catalogue order (component by component, each EVSE's and each
connector's in turn) and only what exists in the version asked about (a 2.1-only variable is not in
a 2.0.1 report, nor the other way round):

* FullInventory (B07.FR.08): every variable.
* ConfigurationInventory (B07.FR.07): every variable the operator can set — one with a ReadWrite
  or WriteOnly attribute.
* SummaryInventory (B07.FR.09): AvailabilityState of the ChargingStation and of every EVSE; a
  connector's only when it differs from its EVSE's (the ReportBase note: "if known and different
  from EVSE"); and of every component in an abnormal state — one whose Problem, Tripped, Overload or
  Fallback variable is true — those true variables with its TechCode and TechInfo. The catalogue
  holds no such variable yet, so today the summary is the station's and the EVSEs' availability;
  it is never empty.
* A custom report (B08): the variables addressed by ``componentVariable`` (B08.FR.11, FR.20–25)
  and/or those of the components meeting one of ``componentCriteria`` (B08.FR.07–10, OR: FR.13);
  with both, what meets both (B08.FR.05); with neither, everything.

Every item has every attribute type the variable supports, set or not (B07.FR.11), and its
characteristics (B07.FR.07/08, B08.FR.12). A value is the one GetVariables shows
(:meth:`~ocpp_station.station.device_model.DeviceModel.shown_value`): ``""`` when unset — the spec
lets VariableAttribute.value be left out only for a write-only attribute — cut to
ReportingValueSize, and never the value of a write-only attribute, whose attribute appears without
it (B07.FR.03/B08.FR.03 as the 2025 errata word them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, NamedTuple

from .. import exact_json
from .datatypes import INT32_MAX, INT32_MIN, Characteristics
from .device_model import AttributeType, ComponentKey, DeviceModel, Mutability, VariableDefinition

ReportItem = dict[str, Any]
"""One ReportDataType, as it goes on the wire."""

VALUES_LIST_MAX = 1000  # VariableCharacteristicsType.valuesList maxLength, 2.0.1 and 2.1 schemas alike
CRITERIA = ("Active", "Available", "Enabled", "Problem")  # ComponentCriterionEnumType

# B07.FR.09: the flags that put a component in an abnormal state, and what else is reported of it.
_ABNORMAL = frozenset({"Problem", "Tripped", "Overload", "Fallback"})
_DIAGNOSTIC = frozenset({"TechCode", "TechInfo"})


# -- items ----------------------------------------------------------------------------------------


def report_data(model: DeviceModel, definitions: Sequence[VariableDefinition]) -> list[ReportItem]:
    """One ReportDataType per definition, in the order given."""
    size = model.read_int("DeviceDataCtrlr", "ConfigurationValueSize")  # also bounds valuesList
    values_list_max = min(VALUES_LIST_MAX, size) if size > 0 else VALUES_LIST_MAX
    return [_item(model, definition, values_list_max) for definition in definitions]


def _item(model: DeviceModel, definition: VariableDefinition, values_list_max: int) -> ReportItem:
    variable: dict[str, Any] = {"name": definition.name}
    if definition.instance:
        variable["instance"] = definition.instance
    attributes = []
    for kind, attribute in definition.attributes.items():  # B07.FR.11: every supported type, even unset
        entry: dict[str, Any] = {"type": kind.value}
        value = model.shown_value(definition, kind)
        if value is not None:  # None: write-only, its value never leaves the station (B07.FR.03, B08.FR.03)
            entry["value"] = value
        entry["mutability"] = attribute.mutability.value
        if attribute.mutability is not Mutability.READ_ONLY:
            entry["persistent"] = True  # a value set is committed before it is Accepted and survives a restart
        attributes.append(entry)
    return {"component": component_type(definition.component), "variable": variable,
            "variableAttribute": attributes,
            "variableCharacteristics": _characteristics(definition.characteristics, values_list_max)}


def component_type(component: ComponentKey) -> dict[str, Any]:
    """The ComponentType of ``component``: name, instance and EVSE only where it has them."""
    found: dict[str, Any] = {"name": component.name}
    if component.instance:
        found["instance"] = component.instance
    if component.evse_id is not None:
        evse: dict[str, int] = {"id": component.evse_id}
        if component.connector_id is not None:
            evse["connectorId"] = component.connector_id
        found["evse"] = evse
    return found


def _characteristics(spec: Characteristics, values_list_max: int) -> dict[str, Any]:
    found: dict[str, Any] = {"dataType": spec.data_type.value}
    if spec.unit:
        found["unit"] = spec.unit
    if spec.min_limit is not None:
        found["minLimit"] = _number(spec.min_limit)
    if spec.max_limit is not None:
        found["maxLimit"] = _number(spec.max_limit)
    if spec.values_list:
        found["valuesList"] = _values_list(spec.values_list, values_list_max)
    found["supportsMonitoring"] = False  # required by the schema; the station has no monitoring (N)
    return found


def _number(limit: Decimal) -> int | float:
    """A JSON number for a limit (the schema's ``number``): an integer when it is one."""
    return int(limit) if limit == limit.to_integral_value() else float(limit)


def _values_list(values: tuple[str, ...], limit: int) -> str:
    """The comma-separated list, whole entries only, within ``limit`` characters (the schema's
    1000 and ConfigurationValueSize): a list cut mid-entry would name a value that does not exist."""
    text = ",".join(values)
    if len(text) <= limit:
        return text
    cut = text[: limit + 1]
    return cut[: cut.rfind(",")] if "," in cut else text[:limit]


def _is_true(model: DeviceModel, definition: VariableDefinition) -> bool:
    return (AttributeType.ACTUAL in definition.attributes
            and model.shown_value(definition, AttributeType.ACTUAL) == "true")


# -- B07 base reports ---------------------------------------------------------------------------------


def full_inventory(model: DeviceModel, version: str) -> list[ReportItem]:
    """B07.FR.08: every variable of ``version``, with its characteristics."""
    return report_data(model, model.definitions_of(version))


def configuration_inventory(model: DeviceModel, version: str) -> list[ReportItem]:
    """B07.FR.07: every variable the operator can set (a ReadWrite or WriteOnly attribute)."""
    return report_data(model, [d for d in model.definitions_of(version)
                               if any(a.mutability is not Mutability.READ_ONLY for a in d.attributes.values())])


def summary_inventory(model: DeviceModel, version: str) -> list[ReportItem]:
    """B07.FR.09: the availability of the station, its EVSEs and (where it differs) connectors, and
    the problem flags of every component in an abnormal state (see the module's docstring)."""
    definitions = model.definitions_of(version)
    evse_state: dict[int | None, str | None] = {}
    abnormal: set[ComponentKey] = set()
    for d in definitions:  # connectors come before EVSEs in the catalogue: learn the EVSEs' first
        if d.name == "AvailabilityState" and d.instance is None and d.component.name == "EVSE" \
                and d.component.connector_id is None:
            evse_state[d.component.evse_id] = model.shown_value(d, AttributeType.ACTUAL)
        elif d.name in _ABNORMAL and _is_true(model, d):
            abnormal.add(d.component)

    def wanted(d: VariableDefinition) -> bool:
        component = d.component
        if d.name == "AvailabilityState" and d.instance is None:
            if component.name == "Connector" and component.connector_id is not None:  # if different from EVSE
                return model.shown_value(d, AttributeType.ACTUAL) != evse_state.get(component.evse_id)
            return (component.name == "ChargingStation" and component.evse_id is None) or \
                (component.name == "EVSE" and component.connector_id is None)
        return component in abnormal and ((d.name in _ABNORMAL and _is_true(model, d)) or d.name in _DIAGNOSTIC)

    return report_data(model, [d for d in definitions if wanted(d)])


BASE_REPORTS: Mapping[str, Callable[[DeviceModel, str], list[ReportItem]]] = {
    "ConfigurationInventory": configuration_inventory,  # B07.FR.12: required
    "FullInventory": full_inventory,  # B07.FR.12: required
    "SummaryInventory": summary_inventory,
}
"""ReportBaseEnumType → the report's items; a base not here is answered NotSupported (B07.FR.02)."""


# -- B08 custom reports -------------------------------------------------------------------------------


def _fold(text: str | None) -> str | None:
    """Names and instances compare case-insensitively, as GetVariables compares them; an empty
    instance in a request is taken as no instance given, which here means every instance."""
    return text.casefold() if text else None


class _Selector(NamedTuple):
    """One ComponentVariableType, less the component name (by which selectors are grouped); None
    is "not given", which matches everything (B08.FR.20–25)."""

    component_instance: str | None
    evse_id: int | None
    connector_id: int | None
    variable: str | None
    variable_instance: str | None

    @classmethod
    def of(cls, element: Mapping[str, Any]) -> _Selector:
        component, variable = element["component"], element.get("variable") or {}
        evse = component.get("evse") or {}
        return cls(_fold(component.get("instance")), evse.get("id"), evse.get("connectorId"),
                   _fold(variable.get("name")), _fold(variable.get("instance")))

    def matches(self, definition: VariableDefinition) -> bool:
        component = definition.component
        if self.component_instance is not None and _fold(component.instance) != self.component_instance:
            return False  # B08.FR.24; without an instance, every instance and none (B08.FR.25)
        if self.evse_id is not None:
            if component.evse_id != self.evse_id:
                return False  # without an EVSE, every EVSE's and the top-level one (B08.FR.23)
            if self.connector_id is not None and component.connector_id != self.connector_id:
                return False  # an EVSE without a connector: the EVSE's and every connector's (B08.FR.22)
        if self.variable is not None:  # without a variable, every variable of the component (B08.FR.20)
            if definition.name.casefold() != self.variable:
                return False
            if self.variable_instance is not None and _fold(definition.instance) != self.variable_instance:
                return False  # without an instance, every instance of the variable (B08.FR.21)
        return True


def _meeting(model: DeviceModel, definitions: Sequence[VariableDefinition],
             criteria: Sequence[str]) -> set[ComponentKey]:
    """The components meeting at least one of ``criteria`` (B08.FR.13)."""
    flags: dict[ComponentKey, dict[str, bool]] = {}
    for d in definitions:
        has = flags.setdefault(d.component, {})
        if d.instance is None and d.name in CRITERIA:
            has[d.name] = _is_true(model, d)
    wanted = set(criteria)
    met = set()
    for component, has in flags.items():
        for criterion in wanted:
            if has.get(criterion, False) if criterion == "Problem" else has.get(criterion, True):
                met.add(component)  # B08.FR.10: Problem set to true; FR.07–09: true, or no such variable
                break
    return met


def custom_report(model: DeviceModel, version: str, component_variables: Sequence[Mapping[str, Any]] = (),
                  criteria: Sequence[str] = ()) -> list[ReportItem]:
    """B08: the variables of ``version`` addressed by ``component_variables`` (ComponentVariableType
    dicts, as the request has them) and/or of the components meeting one of ``criteria``; with
    both, those meeting both (B08.FR.05, FR.11); with neither, every variable. Empty when nothing
    matches (B08.FR.15)."""
    definitions = model.definitions_of(version)
    selectors: dict[str, list[_Selector]] = {}
    for element in component_variables:
        selectors.setdefault(element["component"]["name"].casefold(), []).append(_Selector.of(element))
    met = _meeting(model, definitions, criteria) if criteria else None
    chosen = []
    for d in definitions:
        if met is not None and d.component not in met:
            continue
        if component_variables:
            candidates = selectors.get(d.component.name.casefold())
            if not candidates or not any(s.matches(d) for s in candidates):
                continue
        chosen.append(d)
    return report_data(model, chosen)


# -- NotifyReport parts ----------------------------------------------------------------------------

_WIDEST_TIME = "0000-00-00T00:00:00.000000+00:00"  # wider than any dateTime the station writes


def envelope_bytes(request_id: int = INT32_MIN, generated_at: str = _WIDEST_TIME) -> int:
    """Bytes of a NotifyReport's OCPP-J CALL frame, ``[2,"<36-character id>","NotifyReport",{…}]``
    compact, with an empty reportData: what a part costs besides its items. seqNo and tbc are
    counted at their widest (a 32-bit seqNo, ``false``), so every part of a report fits in it."""
    return len(exact_json.dumps([2, "0" * 36, "NotifyReport",
                                 _payload(request_id, generated_at, [], tbc=False, seq_no=INT32_MAX)]))


def split(items: Sequence[ReportItem], max_items: int, max_bytes: int, *,
          envelope: int | None = None) -> list[list[ReportItem]]:
    """``items`` in order, cut into parts of at most ``max_items`` items whose NotifyReport CALL
    frame is at most ``max_bytes`` bytes (``envelope``: the frame without items, by default the
    widest :func:`envelope_bytes`). One pass, each item measured once.

    An item that does not fit in a part even on its own goes in a part of its own, the only way to
    send it whole; ``limits.report_bytes_per_part`` is at least 5120 so that this does not happen
    with the values the station holds (ReportingValueSize, valuesList ≤ 1000).
    """
    base = envelope_bytes() if envelope is None else envelope
    parts: list[list[ReportItem]] = []
    part: list[ReportItem] = []
    size = base
    for item in items:
        cost = len(exact_json.dumps(item))
        if part and (len(part) >= max_items or size + 1 + cost > max_bytes):  # 1: the comma before it
            parts.append(part)
            part, size = [], base
        size += cost + (1 if part else 0)
        part.append(item)
    if part:
        parts.append(part)
    return parts


def _payload(request_id: int, generated_at: str, items: list[ReportItem], *, tbc: bool, seq_no: int) -> dict[str, Any]:
    return {"requestId": request_id, "generatedAt": generated_at, "reportData": items, "tbc": tbc, "seqNo": seq_no}


def notify_report_payloads(request_id: int, generated_at: str,
                           parts: Sequence[list[ReportItem]]) -> list[dict[str, Any]]:
    """The NotifyReportRequest of each part: the request's requestId in every one (B07.FR.04,
    B08.FR.04), seqNo from 0 without a gap (B07.FR.10, B08.FR.14), tbc true on all but the last."""
    last = len(parts) - 1
    return [_payload(request_id, generated_at, part, tbc=number < last, seq_no=number)
            for number, part in enumerate(parts)]

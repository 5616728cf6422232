"""The OCPP 2.x device model: components, variables, attributes — and Get/Set on them (B05, B06).

The model is a lookup table of :class:`VariableDefinition` built at start (standard definitions
from ``components.json`` shaped by the station's configuration, see :mod:`.shape`), the values that
were set and stored, and a few *live* values computed when read (the clock, for instance).

Addressing follows Part 2 §"Device model": a component is its name plus optional instance plus
optional EVSE id and connector id; a variable is its name plus optional instance. Names compare
case-insensitively; an empty instance is the same as none (B06.FR.15), and there is no wildcard:
asking for a component without its EVSE, or a variable without its instance, finds nothing.

The order of checks for every element gives the status precedence of B05/B06:
UnknownComponent → UnknownVariable → NotSupportedAttributeType → Rejected (read-only or write-only,
badly formatted or out of range, refused by a domain rule, could not be stored) → Accepted /
RebootRequired.

Nothing here knows about JSON envelopes, schemas or MQTT.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import NamedTuple, Protocol, TypeVar

from .datatypes import Characteristics, InvalidValue, validate

log = logging.getLogger(__name__)


def _fold(instance: str | None) -> str | None:
    """Instances, like names, compare case-insensitively; an empty instance is no instance."""
    return instance.casefold() if instance else None


class AttributeType(StrEnum):
    ACTUAL = "Actual"
    TARGET = "Target"
    MIN_SET = "MinSet"
    MAX_SET = "MaxSet"


class Mutability(StrEnum):
    READ_ONLY = "ReadOnly"
    WRITE_ONLY = "WriteOnly"
    READ_WRITE = "ReadWrite"


class AttributeStatus(StrEnum):
    """GetVariableStatusEnumType and SetVariableStatusEnumType in one (Set adds RebootRequired)."""

    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    UNKNOWN_COMPONENT = "UnknownComponent"
    UNKNOWN_VARIABLE = "UnknownVariable"
    NOT_SUPPORTED_ATTRIBUTE_TYPE = "NotSupportedAttributeType"
    REBOOT_REQUIRED = "RebootRequired"


@dataclass(frozen=True)
class ComponentKey:
    """Where a component sits: name, instance, and for EVSE-tier components the EVSE/connector."""

    name: str
    instance: str | None = None
    evse_id: int | None = None
    connector_id: int | None = None

    def folded(self) -> tuple[str, str | None, int | None, int | None]:
        return (self.name.casefold(), _fold(self.instance), self.evse_id, self.connector_id)



@dataclass(frozen=True)
class Attribute:
    type: AttributeType
    mutability: Mutability
    default: str | None = None


@dataclass(frozen=True)
class VariableDefinition:
    """One variable of one component, with its characteristics and attributes."""

    component: ComponentKey
    name: str
    instance: str | None
    characteristics: Characteristics
    attributes: Mapping[AttributeType, Attribute]
    versions: frozenset[str] = frozenset({"2.0.1", "2.1"})
    reboot_required: bool = False


    @cached_property
    def key_prefix(self) -> tuple[str, ...]:
        """How its values are keyed in storage, less the attribute type (computed once)."""
        c = self.component
        return (c.name, c.instance or "", "" if c.evse_id is None else str(c.evse_id),
                "" if c.connector_id is None else str(c.connector_id), self.name, self.instance or "")


class VariableAddress(NamedTuple):
    """What a Get/SetVariableData element asks for (a tuple: one is built per element, cheaply)."""

    component: str
    variable: str
    attribute: AttributeType = AttributeType.ACTUAL
    component_instance: str | None = None
    evse_id: int | None = None
    connector_id: int | None = None
    variable_instance: str | None = None


class Outcome(NamedTuple):
    """The answer for one element: a status, the value (Get, Accepted only) and why (if refused)."""

    status: AttributeStatus
    value: str | None = None
    info: InvalidValue | None = None


StoredKey = tuple[str, str, str, str, str, str, str]
"""How a value is keyed in storage: component, instance, evse, connector, variable, instance, type."""


def stored_key(definition: VariableDefinition, attribute: AttributeType) -> StoredKey:
    return (*definition.key_prefix, attribute.value)  # type: ignore[return-value]


class ValueStore(Protocol):
    """What the model needs from storage: all-or-nothing writes, and a hook for after the commit."""

    def save_variable_values(self, rows: Sequence[tuple[StoredKey, str]]) -> None: ...

    def after_commit(self, action: Callable[[], None]) -> None: ...

    def transaction(self) -> contextlib.AbstractContextManager[object]: ...


Rule = Callable[[VariableDefinition, str], InvalidValue | None]
"""A domain rule on a value that the data type alone cannot express (e.g. B10: slots must exist)."""

Writer = Callable[[VariableDefinition, str], None]
_H = TypeVar("_H")
"""Stores the value of a variable whose fact lives elsewhere (a network profile's field), durably."""


def _folded(hooks: Mapping[tuple[str, str], _H]) -> dict[tuple[str, str], _H]:
    """``hooks`` keyed by case-folded (component, variable) names, as lookups compare them."""
    return {(component.casefold(), variable.casefold()): f for (component, variable), f in hooks.items()}


def _hook(hooks: Mapping[tuple[str, str], _H], definition: VariableDefinition) -> _H | None:
    """The hook for ``definition`` in case-folded ``hooks``: its own, else its component's "*" one."""
    component = definition.component.name.casefold()
    return hooks.get((component, definition.name.casefold())) or hooks.get((component, "*"))


@dataclass
class DeviceModel:
    """Get and set variables, durably."""

    definitions: Iterable[VariableDefinition]
    store: ValueStore
    stored: Mapping[StoredKey, str] = field(default_factory=dict)
    live: Mapping[tuple[str, str], Callable[[VariableDefinition], str | None]] = field(default_factory=dict)
    """Values computed at read time, keyed by (component name, variable name); variable "*" stands
    for every variable of the component. The function gets the definition (to see instance, EVSE)."""
    rules: dict[tuple[str, str], Rule] = field(default_factory=dict)
    views: Mapping[tuple[str, str], Writer] = field(default_factory=dict)
    """Variables that are views of a fact kept elsewhere (one home for each fact, DESIGN rule 6),
    keyed like ``live`` ("*" for every variable of a component): reading one asks ``live``,
    writing one calls its writer instead of storing a row, so there is never a second copy."""
    after_set: Mapping[tuple[str, str], Writer] = field(default_factory=dict)
    """Called in the same transaction after a variable's value was stored (B09.FR.27: a new
    SecurityCtrlr.BasicAuthPassword clears the active profile's own one)."""

    def __post_init__(self) -> None:
        self._components: dict[tuple, dict[tuple[str, str | None], VariableDefinition]] = {}
        self._component_versions: dict[tuple, set[str]] = {}  # a component exists where one of its variables does
        for definition in self.definitions:
            key = definition.component.folded()
            self._components.setdefault(key, {})[(definition.name.casefold(), _fold(definition.instance))] = definition
            self._component_versions.setdefault(key, set()).update(definition.versions)
        self._values: dict[StoredKey, str] = dict(self.stored)
        self._of_version: dict[str, tuple[VariableDefinition, ...]] = {}  # definitions_of(), made once each
        self._forget_unusable_stored_values()
        self._pending: dict[StoredKey, str] = {}  # written by the SetVariables being run, not committed yet
        live = _folded(self.live)
        # Which definitions are computed at read time, resolved once rather than per read.
        self._live_for: dict[int, Callable[[VariableDefinition], str | None]] = {}
        for variables in self._components.values():
            for definition in variables.values():
                found = _hook(live, definition)
                if found is not None:
                    self._live_for[id(definition)] = found
        self.rules = _folded(self.rules)
        self._views = _folded(self.views)
        self._after_set = _folded(self.after_set)

    def _forget_unusable_stored_values(self) -> None:
        """Leave out stored values that break their variable's data type or limits, saying so.

        Every value is checked before it is stored, but a release before issue 15 took the CSMS's
        BootNotification interval unchecked (a 401-digit HeartbeatInterval) — and a value stored by
        an older release may break a limit a newer one knows. Such a value would be reported, and
        used, as it is; the variable's default is the safer reading. The row stays on disk, so the
        warning repeats at every start until the variable is set again.
        """
        for variables in self._components.values():
            for definition in variables.values():
                for attribute in definition.attributes:
                    key = stored_key(definition, attribute)
                    value = self._values.get(key)
                    if value is None:
                        continue
                    invalid = validate(value, definition.characteristics)
                    if invalid is not None:
                        del self._values[key]
                        where = definition.component
                        name = where.name + (f"[{where.instance}]" if where.instance else "")
                        log.warning("the stored %s value of %s.%s breaks its rules (%s): ignored, the default is "
                                    "used until it is set again", attribute.value, name, definition.name,
                                    invalid.additional_info)

    # -- lookup ---------------------------------------------------------------------------------

    def find(self, address: VariableAddress,
             ocpp_version: str | None) -> VariableDefinition | AttributeStatus:
        """The definition addressed, or the status that says why there is none (B05/B06.FR.04–08)."""
        key = (address.component.casefold(), _fold(address.component_instance),
               address.evse_id, address.connector_id)
        variables = self._components.get(key)
        if variables is None or (ocpp_version is not None and ocpp_version not in self._component_versions[key]):
            return AttributeStatus.UNKNOWN_COMPONENT  # B05.FR.04, B06.FR.06 (e.g. NetworkConfiguration in 2.0.1)
        definition = variables.get((address.variable.casefold(), _fold(address.variable_instance)))
        if definition is None or (ocpp_version is not None and ocpp_version not in definition.versions):
            return AttributeStatus.UNKNOWN_VARIABLE  # B05.FR.05, B06.FR.07
        if address.attribute not in definition.attributes:
            return AttributeStatus.NOT_SUPPORTED_ATTRIBUTE_TYPE  # B05.FR.06, B06.FR.08
        return definition


    def current_value(self, definition: VariableDefinition,
                      attribute: AttributeType = AttributeType.ACTUAL) -> str | None:
        """The value now: live, else set and stored, else the default; None when it has none."""
        live = self._live_for.get(id(definition))
        if live is not None and attribute is AttributeType.ACTUAL:
            return live(definition)
        key = stored_key(definition, attribute)
        stored = self._pending.get(key) if self._pending else None  # set earlier in this SetVariables
        if stored is None:
            stored = self._values.get(key)
        if stored is not None:
            return stored
        return definition.attributes[attribute].default

    def read(self, component: str, variable: str, instance: str | None = None, *,
             evse_id: int | None = None, connector_id: int | None = None) -> str | None:
        """Internal read of an Actual value, for the station's own use (limits, the CSMS link)."""
        found = self.find(VariableAddress(component, variable, AttributeType.ACTUAL, None, evse_id,
                                          connector_id, instance), None)
        return None if isinstance(found, AttributeStatus) else self.current_value(found)

    def find_internal(self, component: str, variable: str, instance: str | None = None) -> VariableDefinition | None:
        """The definition of a station-level variable, for the station's own reads (write-only ones too)."""
        found = self.find(VariableAddress(component, variable, AttributeType.ACTUAL, None, None, None, instance), None)
        return None if isinstance(found, AttributeStatus) else found

    def write_internal(self, component: str, variable: str, value: str, instance: str | None = None) -> None:
        """The station's own update of a value (e.g. HeartbeatInterval from BootNotification): durable,
        and not subject to mutability — the station may change what the CSMS may only read."""
        found = self.find(VariableAddress(component, variable, AttributeType.ACTUAL, None, None, None, instance), None)
        if isinstance(found, AttributeStatus):
            raise KeyError(f"{component}.{variable} is not in the device model")
        rows = [(stored_key(found, AttributeType.ACTUAL), value)]
        self.store.save_variable_values(rows)
        self.store.after_commit(lambda: self._values.update(rows))

    def value_problem(self, definition: VariableDefinition, value: str) -> InvalidValue | None:
        """Why ``value`` is no value of ``definition``, or None: its data type and limits
        (B05.FR.07/08: minLimit, maxLimit, OCPP's 32-bit integer), then its domain rule.

        The one question, whoever asks it: a SetVariables (:meth:`set_many`) and the station for
        a value it is given from elsewhere (:meth:`check_internal`, e.g. the heartbeat interval of a
        BootNotification answer).
        """
        invalid = validate(value, definition.characteristics)
        if invalid is None:
            rule = _hook(self.rules, definition)
            invalid = rule(definition, value) if rule is not None else None
        return invalid

    def check_internal(self, component: str, variable: str, value: str,
                       instance: str | None = None) -> InvalidValue | None:
        """:meth:`value_problem` for a station-level variable, before :meth:`write_internal` of a value
        that came from outside (which, unlike mutability, the station may not ignore)."""
        found = self.find_internal(component, variable, instance)
        if found is None:
            raise KeyError(f"{component}.{variable} is not in the device model")
        return self.value_problem(found, value)

    def read_int(self, component: str, variable: str, instance: str | None = None, default: int = 0) -> int:
        value = self.read(component, variable, instance)
        try:
            return int(value) if value is not None else default
        except ValueError:
            return default

    # -- B06 GetVariables -----------------------------------------------------------------------

    def get(self, address: VariableAddress, ocpp_version: str) -> Outcome:
        found = self.find(address, ocpp_version)
        if isinstance(found, AttributeStatus):
            return Outcome(found)
        value = self.shown_value(found, address.attribute)
        if value is None:  # B06.FR.09: never reveal a write-only value
            return Outcome(AttributeStatus.REJECTED, info=InvalidValue("WriteOnly", "the variable is write-only"))
        return Outcome(AttributeStatus.ACCEPTED, value)  # B06.FR.10

    def shown_value(self, definition: VariableDefinition, attribute: AttributeType) -> str | None:
        """The value of ``attribute`` as the station shows it to whoever reads it: GetVariables and
        the NotifyReport parts of a report alike, so that they can never disagree.

        None for a write-only attribute, which is never revealed and not even read (B06.FR.09;
        B07.FR.03/B08.FR.03 as the 2025 errata word them); ``""`` for one supported but unset
        (B06.FR.13; a report's VariableAttribute.value may be left out only for a write-only one);
        cut to DeviceDataCtrlr.ReportingValueSize, which bounds GetVariableResult.attributeValue and
        VariableAttribute.value alike.
        """
        if definition.attributes[attribute].mutability is Mutability.WRITE_ONLY:
            return None
        value = self.current_value(definition, attribute)
        value = "" if value is None else value
        limit = self._reporting_value_size
        return value[:limit] if len(value) > limit else value

    def definitions_of(self, ocpp_version: str) -> tuple[VariableDefinition, ...]:
        """Every variable that exists in ``ocpp_version`` ("2.0.1", "2.1"), in catalogue order
        (component by component, each EVSE's and connector's in turn): what a report walks (B07, B08).

        The definitions are fixed once the model is built, so each version's tuple is made once.
        """
        found = self._of_version.get(ocpp_version)
        if found is None:
            found = self._of_version[ocpp_version] = tuple(
                definition for variables in self._components.values() for definition in variables.values()
                if ocpp_version in definition.versions)
        return found

    @cached_property
    def _reporting_value_size(self) -> int:
        """DeviceDataCtrlr.ReportingValueSize: read-only, so read once; values are cut to it."""
        return max(self.read_int("DeviceDataCtrlr", "ReportingValueSize", default=2500), 0) or 2500

    # -- B05 SetVariables -----------------------------------------------------------------------

    def _check_set(self, address: VariableAddress, value: str, ocpp_version: str | None,
                   max_value_size: int) -> tuple[Outcome, VariableDefinition | None]:
        found = self.find(address, ocpp_version)
        if isinstance(found, AttributeStatus):
            return Outcome(found), None
        if found.attributes[address.attribute].mutability is Mutability.READ_ONLY:  # B05.FR.09
            return Outcome(AttributeStatus.REJECTED, info=InvalidValue("ReadOnly", "the variable is read-only")), None
        if max_value_size and len(value) > max_value_size:  # ConfigurationValueSize
            return Outcome(AttributeStatus.REJECTED, info=InvalidValue(
                "TooLargeElement", f"longer than ConfigurationValueSize ({max_value_size})")), None
        invalid = self.value_problem(found, value)  # B05.FR.07, B05.FR.08, then the domain rule
        if invalid is not None:
            return Outcome(AttributeStatus.REJECTED, info=invalid), None
        status = AttributeStatus.REBOOT_REQUIRED if found.reboot_required else AttributeStatus.ACCEPTED
        return Outcome(status), found  # B05.FR.10

    @cached_property
    def _configuration_value_size(self) -> int:
        """DeviceDataCtrlr.ConfigurationValueSize: read-only, so read once (0: no limit)."""
        return self.read_int("DeviceDataCtrlr", "ConfigurationValueSize")

    def set_many(self, items: Sequence[tuple[VariableAddress, str]], ocpp_version: str | None) -> list[Outcome]:
        """Set values in order (a later element wins over an earlier one for the same attribute).

        ``ocpp_version`` is the device model's name of the request's version ("2.0.1", "2.1"): what
        does not exist in it is unknown. None for a 1.6 ChangeConfiguration, whose key already named
        its variable (:mod:`.configuration_keys`).

        Everything accepted is written in one durable transaction *before* this returns, so an
        Accepted answer is never lost. If the write fails, every would-be-accepted element is
        Rejected instead (B05.FR.09: "could not be set for a technical reason") and nothing changes.
        """
        max_value_size = self._configuration_value_size
        outcomes: list[Outcome] = []
        writes: list[tuple[StoredKey, str]] = []
        try:
            # One transaction for all of it, whatever home each value has. Each element is checked
            # against what the elements before it did (B09.FR.22/33: adding a slot to the priority
            # and changing that slot in one request must be judged in order, not both against the
            # state before): stored values through the pending overlay, views in their own home.
            with self.store.transaction():
                for address, value in items:
                    outcome, definition = self._check_set(address, value, ocpp_version, max_value_size)
                    outcomes.append(outcome)
                    if definition is None:
                        continue
                    view = _hook(self._views, definition)
                    if view is not None and address.attribute is AttributeType.ACTUAL:
                        view(definition, value)
                        continue
                    key = stored_key(definition, address.attribute)
                    self._pending[key] = value
                    writes.append((key, value))
                    hook = _hook(self._after_set, definition)
                    if hook is not None:
                        hook(definition, value)
                if writes:
                    self.store.save_variable_values(writes)
        except Exception:
            log.exception("could not store the variable values of a SetVariables; answering Rejected")
            failed = InvalidValue("InternalError", "the value could not be stored")
            return [Outcome(AttributeStatus.REJECTED, info=failed)
                    if o.status in (AttributeStatus.ACCEPTED, AttributeStatus.REBOOT_REQUIRED) else o
                    for o in outcomes]
        finally:
            self._pending = {}
        self.store.after_commit(lambda: self._values.update(writes))  # memory never runs ahead of disk
        return outcomes

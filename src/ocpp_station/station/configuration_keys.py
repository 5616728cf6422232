"""OCPP 1.6 configuration keys as views of the 2.x device model: one value, whichever version reads it.

1.6 configures a Charge Point with flat keys (GetConfiguration, ChangeConfiguration: 1.6 §5.3, §5.8,
§9; the security whitepaper §7); 2.x with components and variables. A station that speaks both must
not keep two copies of one setting, or a HeartbeatInterval set by a 1.6 CSMS would not be the one a
2.0.1 OEM reads. So every key is *mapped* onto the device-model variable that holds its fact
(``configuration_keys.json`` in this package, data like ``components.json``): HeartbeatInterval is
OCPPCommCtrlr.HeartbeatInterval, AuthorizationKey is SecurityCtrlr.BasicAuthPassword, CpoName is
SecurityCtrlr.OrganizationName, TransactionMessageAttempts is OCPPCommCtrlr.MessageAttempts
[TransactionEvent]. A key 1.6 needs that 2.x has no variable for (NumberOfConnectors, say) is a
variable too, of the component ``OCPP16Ctrlr`` that exists in 1.6 only.

What each key shows and takes follows from its variable:

* ``readonly``: the variable's Actual attribute is ReadOnly — unless the data says otherwise for a
  key whose 1.6 accessibility differs (SecurityProfile is read-write in 1.6, read-only in 2.x, where
  SetNetworkProfile changes it; its write is the 1.6 A05 upgrade, a *writer* of its own).
* ``value``: the variable's value as GetVariables would show it (live values included), absent for a
  write-only variable (AuthorizationKey is never revealed: whitepaper §7.2, B06.FR.09's rule) and for
  one that has no value, cut to the 500 characters of 1.6's CiString500.
* ChangeConfiguration: an unknown key → NotSupported; a read-only one → Rejected; a value is checked
  and stored exactly as a SetVariables of the variable would check and store it (its data type and
  limits, its domain rule, its side effects: a new AuthorizationKey reconnects, A01) → Rejected, or
  RebootRequired for a variable that needs a reboot, or Accepted once it is durable.

Keys compare case-insensitively (CiString50) and are answered as the station spells them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

from .device_model import AttributeStatus, AttributeType, DeviceModel, Mutability, VariableAddress, VariableDefinition

VALUE_MAX = 500  # KeyValue.value and ChangeConfiguration.req value: CiString500


class ConfigurationStatus(StrEnum):
    """ChangeConfiguration.conf's status (1.6 §7.13)."""

    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    REBOOT_REQUIRED = "RebootRequired"
    NOT_SUPPORTED = "NotSupported"


@dataclass(frozen=True)
class ConfigurationKey:
    """One 1.6 key and the variable that holds its value."""

    key: str
    component: str
    variable: str
    instance: str | None = None
    readonly: bool | None = None  # None: as the variable's Actual mutability says
    profile: str = "Core"  # the 1.6 feature profile, or "Security" (the whitepaper)
    required: bool = False


@dataclass(frozen=True)
class KeyValue:
    """A KeyValue of GetConfiguration.conf."""

    key: str
    readonly: bool
    value: str | None  # None: left out (write-only, or no value)

    def to_ocpp(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key, "readonly": self.readonly}
        if self.value is not None:
            out["value"] = self.value
        return out


@dataclass(frozen=True)
class Change:
    """What a ChangeConfiguration did: its status, and why, for the log (1.6 answers carry no reason)."""

    status: ConfigurationStatus
    why: str = ""


Writer = Callable[[str], Change]
"""A key whose write is no SetVariables of its variable (SecurityProfile: the 1.6 A05 upgrade)."""


@cache
def catalogue() -> tuple[ConfigurationKey, ...]:
    """The keys shipped with the package, in the order GetConfiguration lists them."""
    raw = json.loads((resources.files(__package__) / "configuration_keys.json").read_text("utf-8"))
    return tuple(ConfigurationKey(entry["key"], entry["component"], entry["variable"], entry.get("instance"),
                                  entry.get("readonly"), entry.get("profile", "Core"), bool(entry.get("required")))
                 for entry in raw["keys"])


_CHANGED = {AttributeStatus.ACCEPTED: ConfigurationStatus.ACCEPTED,
            AttributeStatus.REBOOT_REQUIRED: ConfigurationStatus.REBOOT_REQUIRED}


class ConfigurationKeys:
    """GetConfiguration and ChangeConfiguration on the device model (see the module docstring)."""

    def __init__(self, model: DeviceModel, keys: Iterable[ConfigurationKey] | None = None,
                 writers: Mapping[str, Writer] | None = None):
        self._model = model
        self._keys: dict[str, tuple[ConfigurationKey, VariableDefinition]] = {}
        for key in catalogue() if keys is None else keys:
            definition = model.find_internal(key.component, key.variable, key.instance)
            if definition is None:  # a bug of the data: fail at start, not at the first GetConfiguration
                raise ValueError(f"configuration key {key.key}: {key.component}.{key.variable} is not in the model")
            self._keys[key.key.casefold()] = (key, definition)
        self._writers = {name.casefold(): writer for name, writer in (writers or {}).items()}

    @property
    def names(self) -> tuple[str, ...]:
        """Every key, as the station spells it, in catalogue order."""
        return tuple(key.key for key, _ in self._keys.values())

    def _readonly(self, key: ConfigurationKey, definition: VariableDefinition) -> bool:
        if key.readonly is not None:
            return key.readonly
        return definition.attributes[AttributeType.ACTUAL].mutability is Mutability.READ_ONLY

    def read(self, names: Sequence[str] | None = None) -> tuple[list[KeyValue], list[str]]:
        """GetConfiguration: the known keys asked for (all of them if none are), and the unknown ones.

        A key asked for twice (in any case) is listed once; unknown keys are given back as first asked.
        """
        wanted = list(self._keys) if not names else list(dict.fromkeys(name.casefold() for name in names))
        unknown: dict[str, str] = {}  # folded → the first spelling asked
        for name in names or ():
            if name.casefold() not in self._keys:
                unknown.setdefault(name.casefold(), name)
        known = []
        for folded in wanted:
            found = self._keys.get(folded)
            if found is None:
                continue
            key, definition = found
            known.append(KeyValue(key.key, self._readonly(key, definition), self._value(definition)))
        return known, list(unknown.values())

    def value(self, name: str) -> str | None:
        """The value GetConfiguration shows for the key ``name`` (None: unknown, write-only or unset)."""
        known, _ = self.read([name])
        return known[0].value if known else None

    def _value(self, definition: VariableDefinition) -> str | None:
        shown = self._model.shown_value(definition, AttributeType.ACTUAL)  # GetVariables' view, live values too
        if shown is None:
            return None  # write-only: never revealed (whitepaper §7.2: AuthorizationKey), not even read
        if not shown and self._model.current_value(definition) is None:
            return None  # known, and no value: 1.6 leaves the field out
        return shown[:VALUE_MAX]

    def change(self, name: str, value: str) -> Change:
        """ChangeConfiguration ``name`` = ``value``: durable before it returns Accepted or RebootRequired."""
        found = self._keys.get(name.casefold())
        if found is None:
            return Change(ConfigurationStatus.NOT_SUPPORTED, "no such key")
        key, definition = found
        writer = self._writers.get(name.casefold())
        if writer is not None:
            return writer(value)
        if self._readonly(key, definition):
            return Change(ConfigurationStatus.REJECTED, "the key is read-only")
        address = VariableAddress(key.component, key.variable, AttributeType.ACTUAL, definition.component.instance,
                                  definition.component.evse_id, definition.component.connector_id, key.instance)
        [outcome] = self._model.set_many([(address, value)], None)  # every check a SetVariables makes
        status = _CHANGED.get(outcome.status, ConfigurationStatus.REJECTED)
        why = f"{outcome.info.reason_code}: {outcome.info.additional_info}" if outcome.info is not None else ""
        return Change(status, why)

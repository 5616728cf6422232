"""Build the device model of *this* station: the standard catalogue, shaped by its configuration.

``components.json`` (in this package) holds the standardized components and variables, written
by us from the OCPP 2.0.1/2.1 device-model tables: data, not code (DESIGN rule 2). It knows nothing
of a particular station, so here we

* instantiate the EVSE-tier components once per configured EVSE, Connector once per connector,
  and the 2.1 NetworkConfiguration component once per configuration slot (instance = slot);
* fill in what describes the hardware, identity and policy (SupplyPhases, Power and its maxLimit,
  ConnectorType, Identity, the per-message limits, the slots …) from
  :class:`~ocpp_station.config.Config`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

from ..config import Config, EvseConfig
from .datatypes import Characteristics, DataType
from .device_model import Attribute, AttributeType, ComponentKey, Mutability, VariableDefinition
from .own_messages import ocpp16_connectors

Overrides = dict[tuple[str, str, str | None], dict[str, Any]]
"""(component, variable, variable instance) → catalogue keys replaced by the configuration:
``value`` (the Actual default), ``maxLimit``, ``valuesList``."""


@cache
def catalogue() -> dict[str, Any]:
    """The standardized components and variables shipped with the package."""
    return json.loads((resources.files(__package__) / "components.json").read_text("utf-8"))


def _definition(component: ComponentKey, raw: dict[str, Any], overrides: Overrides) -> VariableDefinition:
    patch = overrides.get((component.name, raw["name"], raw.get("instance")), {})
    raw = {**raw, **{k: v for k, v in patch.items() if k != "value"}}

    def limit(name: str) -> Decimal | None:
        return None if raw.get(name) is None else Decimal(str(raw[name]))

    characteristics = Characteristics(
        data_type=DataType(raw["dataType"]), unit=raw.get("unit"), min_limit=limit("minLimit"),
        max_limit=limit("maxLimit"), values_list=tuple(raw.get("valuesList", ())))
    attributes = {}
    for attr in raw.get("attributes") or [{"type": "Actual", "mutability": "ReadWrite"}]:
        kind = AttributeType(attr["type"])
        default = patch["value"] if kind is AttributeType.ACTUAL and "value" in patch else attr.get("value")
        attributes[kind] = Attribute(kind, Mutability(attr["mutability"]), default)
    return VariableDefinition(
        component=component, name=raw["name"], instance=raw.get("instance"),
        characteristics=characteristics, attributes=attributes,
        versions=frozenset(raw.get("versions", ("2.0.1", "2.1"))),
        reboot_required=bool(raw.get("rebootRequired", False)))


def _station_overrides(config: Config) -> Overrides:
    s, limits, security, network = config.station, config.limits, config.security, config.network
    return {
        ("SecurityCtrlr", "Identity", None): {"value": s.identity},
        ("ChargingStation", "Model", None): {"value": s.model},
        ("ChargingStation", "VendorName", None): {"value": s.vendor},
        ("ChargingStation", "SupplyPhases", None): {"value": str(max(e.phases for e in config.evses))},
        ("DeviceDataCtrlr", "ItemsPerMessage", "GetVariables"): {"value": str(limits.items_per_message_get_variables)},
        ("DeviceDataCtrlr", "BytesPerMessage", "GetVariables"): {"value": str(limits.bytes_per_message_get_variables)},
        ("DeviceDataCtrlr", "ItemsPerMessage", "SetVariables"): {"value": str(limits.items_per_message_set_variables)},
        ("DeviceDataCtrlr", "BytesPerMessage", "SetVariables"): {"value": str(limits.bytes_per_message_set_variables)},
        ("DeviceDataCtrlr", "ItemsPerMessage", "GetReport"): {"value": str(limits.items_per_message_get_report)},
        ("DeviceDataCtrlr", "BytesPerMessage", "GetReport"): {"value": str(limits.bytes_per_message_get_report)},
        ("SecurityCtrlr", "AdditionalRootCertificateCheck", None):
            {"value": _bool(security.additional_root_certificate_check)},
        ("SecurityCtrlr", "CertificateEntries", None): {"maxLimit": security.certificate_entries_max},
        ("OCPP16Ctrlr", "CertificateStoreMaxLength", None): {"value": str(security.certificate_entries_max)},
        **_phase_rotation_overrides(config),
        ("SecurityCtrlr", "AllowSecurityProfileDowngrade", None):
            {"value": _bool(network.allow_security_profile_downgrade)},
        ("OCPPCommCtrlr", "NetworkConfigurationPriority", None):
            {"valuesList": [str(slot) for slot in network.slots], "value": "1"},
        ("NetworkConfiguration", "OcppInterface", None): {"valuesList": [*network.interfaces, "Any"]},
    }


def _evse_overrides(evse: EvseConfig) -> Overrides:
    return {
        ("EVSE", "SupplyPhases", None): {"value": str(evse.phases)},
        # EVSE.Power: its maxLimit is the EVSE's rating (required by the spec).
        ("EVSE", "Power", None): {"value": _decimal_text(evse.max_power_w), "maxLimit": evse.max_power_w},
        ("Connector", "SupplyPhases", None): {"value": str(evse.phases)},
    }


_ROTATIONS = ("NotApplicable", "Unknown", "RST", "RTS", "SRT", "STR", "TRS", "TSR")


def _phase_rotation_overrides(config: Config) -> Overrides:
    """1.6 ConnectorPhaseRotation: an entry per 1.6 connector (0, the grid connection, and 1..N), so its
    values, its default (Unknown for a three-phase connector, NotApplicable otherwise) and
    ConnectorPhaseRotationMaxLength follow the configured connectors."""
    phases_of = {evse.id: evse.phases for evse in config.evses}
    numbered = ocpp16_connectors([(e.id, c.id) for e in config.evses for c in e.connectors])
    phases = {number: phases_of[evse] for number, (evse, _) in numbered.items()}
    default = ",".join(f"{n}.{'Unknown' if p == 3 else 'NotApplicable'}" for n, p in phases.items())
    return {
        ("OCPP16Ctrlr", "ConnectorPhaseRotation", None): {
            "valuesList": [f"{n}.{rotation}" for n in (0, *phases) for rotation in _ROTATIONS], "value": default},
        ("OCPP16Ctrlr", "ConnectorPhaseRotationMaxLength", None): {"value": str(len(phases) + 1)},
    }


def _bool(flag: bool) -> str:
    return "true" if flag else "false"


def _decimal_text(number: float) -> str:
    return format(Decimal(str(number)).normalize(), "f")


def build_definitions(config: Config) -> Iterator[VariableDefinition]:
    """Every variable of this station, the per-EVSE, per-connector and per-slot components instantiated."""
    station = _station_overrides(config)
    for component in catalogue()["components"]:
        tier, name, variables = component.get("tier", "ChargingStation"), component["name"], component["variables"]
        if tier == "ChargingStation":
            keys = [(ComponentKey(name, component.get("instance")), station)]
        elif tier == "NetworkConfiguration":
            keys = [(ComponentKey(name, str(slot)), station) for slot in config.network.slots]
        elif tier == "EVSE":
            keys = [(ComponentKey(name, None, evse.id), {**station, **_evse_overrides(evse)})
                    for evse in config.evses]
        else:
            keys = [(ComponentKey(name, None, evse.id, connector.id),
                     {**station, **_evse_overrides(evse),
                      ("Connector", "ConnectorType", None): {"value": connector.type}})
                    for evse in config.evses for connector in evse.connectors]
        for key, overrides in keys:
            for raw in variables:
                yield _definition(key, raw, overrides)

"""Build the device model of *this* station: the standard catalogue, shaped by its configuration.

``components.json`` (in this package) holds the standardized components and variables, written
by us from the OCPP 2.0.1/2.1 device-model tables: data, not code (DESIGN rule 2). It knows nothing
of a particular station, so here we

* instantiate the EVSE-tier components once per configured EVSE and Connector once per connector;
* fill in the values that describe the hardware and identity (SupplyPhases, Power, ConnectorType,
  Identity, the per-message limits …) from :class:`~ocpp_station.config.Config`.
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

ValueOverrides = dict[tuple[str, str, str | None], str]
"""(component, variable, variable instance) → Actual value set by the station's configuration."""
MaxLimitOverrides = dict[tuple[str, str, str | None], Decimal]
"""(component, variable, variable instance) → maxLimit set by the station's configuration."""


@cache
def catalogue() -> dict[str, Any]:
    """The standardized components and variables shipped with the package."""
    return json.loads((resources.files(__package__) / "components.json").read_text("utf-8"))


def _definition(component: ComponentKey, raw: dict[str, Any], values: ValueOverrides,
                max_limits: MaxLimitOverrides) -> VariableDefinition:
    def limit(name: str) -> Decimal | None:
        return None if raw.get(name) is None else Decimal(str(raw[name]))

    key = (component.name, raw["name"], raw.get("instance"))
    characteristics = Characteristics(
        data_type=DataType(raw["dataType"]), unit=raw.get("unit"),
        min_limit=limit("minLimit"), max_limit=max_limits.get(key, limit("maxLimit")),
        values_list=tuple(raw.get("valuesList", ())))
    override = values.get(key)
    attributes = {}
    for attr in raw.get("attributes") or [{"type": "Actual", "mutability": "ReadWrite"}]:
        kind = AttributeType(attr["type"])
        default = attr.get("value")
        if kind is AttributeType.ACTUAL and override is not None:
            default = override
        attributes[kind] = Attribute(kind, Mutability(attr["mutability"]), default)
    return VariableDefinition(
        component=component, name=raw["name"], instance=raw.get("instance"),
        characteristics=characteristics, attributes=attributes,
        versions=frozenset(raw.get("versions", ("2.0.1", "2.1"))),
        reboot_required=bool(raw.get("rebootRequired", False)))


def _station_values(config: Config) -> ValueOverrides:
    s, limits = config.station, config.limits
    return {
        ("SecurityCtrlr", "Identity", None): s.identity,
        ("ChargingStation", "Model", None): s.model,
        ("ChargingStation", "VendorName", None): s.vendor,
        ("ChargingStation", "SupplyPhases", None): str(max(e.phases for e in config.evses)),
        ("DeviceDataCtrlr", "ItemsPerMessage", "GetVariables"): str(limits.items_per_message_get_variables),
        ("DeviceDataCtrlr", "BytesPerMessage", "GetVariables"): str(limits.bytes_per_message_get_variables),
        ("DeviceDataCtrlr", "ItemsPerMessage", "SetVariables"): str(limits.items_per_message_set_variables),
        ("DeviceDataCtrlr", "BytesPerMessage", "SetVariables"): str(limits.bytes_per_message_set_variables),
        ("SecurityCtrlr", "AdditionalRootCertificateCheck", None):
            "true" if config.security.additional_root_certificate_check else "false",
    }


def _station_max_limits(config: Config) -> MaxLimitOverrides:
    return {("SecurityCtrlr", "CertificateEntries", None): Decimal(config.security.certificate_entries_max)}


def _evse_values(evse: EvseConfig) -> ValueOverrides:
    return {
        ("EVSE", "SupplyPhases", None): str(evse.phases),
        ("EVSE", "Power", None): _decimal_text(evse.max_power_w),
        ("Connector", "SupplyPhases", None): str(evse.phases),
    }


def _decimal_text(number: float) -> str:
    text = format(Decimal(str(number)).normalize(), "f")
    return text


def build_definitions(config: Config) -> Iterator[VariableDefinition]:
    """Every variable of this station, EVSE and connector components instantiated."""
    station_values, station_limits = _station_values(config), _station_max_limits(config)
    for component in catalogue()["components"]:
        tier = component.get("tier", "ChargingStation")
        variables = component["variables"]
        if tier == "ChargingStation":
            key = ComponentKey(component["name"], component.get("instance"))
            for raw in variables:
                yield _definition(key, raw, station_values, station_limits)
            continue
        for evse in config.evses:
            values = _evse_values(evse)
            # EVSE.Power: its maxLimit is the EVSE's rating (required by the spec).
            limits = {("EVSE", "Power", None): Decimal(str(evse.max_power_w))}
            if tier == "EVSE":
                key = ComponentKey(component["name"], None, evse.id)
                for raw in variables:
                    yield _definition(key, raw, values, limits)
                continue
            for connector in evse.connectors:
                key = ComponentKey(component["name"], None, evse.id, connector.id)
                connector_values = {**values, ("Connector", "ConnectorType", None): connector.type}
                for raw in variables:
                    yield _definition(key, raw, connector_values, limits)

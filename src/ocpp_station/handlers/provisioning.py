"""B05 SetVariables, B06 GetVariables and B09 SetNetworkProfile (OCPP 2.0.1 and 2.1).

The handler turns each GetVariableData/SetVariableData element into a
:class:`~ocpp_station.station.device_model.VariableAddress`, asks the device model, and builds one
result per element, in order, echoing the element's component and variable exactly as sent
(B05.FR.01–03, B06.FR.01–03) and the attribute type, which defaults to Actual (B05.FR.12,
B06.FR.11). Values are never logged: a SetVariables value can be a password.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ..logsafe import shown
from ..station.device_model import AttributeStatus, AttributeType, DeviceModel, Outcome, VariableAddress
from ..station.network import NetworkProfile
from ..station.network_store import NetworkStore
from ..versions import ALL_VERSIONS, VERSIONS_2X
from .base import Call, Handler, Route, enforce_message_limits, message_limits, status_info

log = logging.getLogger(__name__)


_ATTRIBUTE_TYPES = {kind.value: kind for kind in AttributeType}  # a dict lookup, ~10x cheaper than Enum()


def _address(element: dict[str, Any]) -> VariableAddress:
    component, variable = element["component"], element["variable"]
    evse = component.get("evse") or {}
    return VariableAddress(
        component=component["name"], variable=variable["name"],
        attribute=_ATTRIBUTE_TYPES[element.get("attributeType", "Actual")],  # the schema vouches for the enum
        component_instance=component.get("instance") or None,
        evse_id=evse.get("id"), connector_id=evse.get("connectorId"),
        variable_instance=variable.get("instance") or None)


def _result(element: dict[str, Any], outcome: Outcome, ocpp_version: str) -> dict[str, Any]:
    result: dict[str, Any] = {
        "attributeStatus": outcome.status.value,
        "attributeType": element.get("attributeType", "Actual"),  # B05.FR.12, B06.FR.11
        "component": element["component"],  # B05.FR.02, B06.FR.02: echoed as sent
        "variable": element["variable"],
    }
    if outcome.info is not None:
        result["attributeStatusInfo"] = status_info(outcome.info.reason_code, outcome.info.additional_info,
                                                    ocpp_version)
    return result


def get_variables(model: DeviceModel) -> Handler:
    limits = message_limits(model, "GetVariables")

    def handle(call: Call) -> dict[str, Any]:
        elements = call.payload["getVariableData"]
        enforce_message_limits(limits, call, len(elements), "GetVariables")  # B06.FR.16, B06.FR.17
        results, version = [], call.version
        for element in elements:
            outcome = model.get(_address(element), version)
            result = _result(element, outcome, call.ocpp_version)
            if outcome.status is AttributeStatus.ACCEPTED:
                result["attributeValue"] = outcome.value  # B06.FR.04; omitted otherwise (FR.06–09)
            results.append(result)
        return {"getVariableResult": results}

    return handle


def set_variables(model: DeviceModel) -> Handler:
    limits = message_limits(model, "SetVariables")

    def handle(call: Call) -> dict[str, Any]:
        elements = call.payload["setVariableData"]
        enforce_message_limits(limits, call, len(elements), "SetVariables")
        outcomes = model.set_many([(_address(e), e["attributeValue"]) for e in elements], call.version)
        for element, outcome in zip(elements, outcomes, strict=True):
            # The names are the client's (up to 50 characters, any of them: a newline too).
            log.info("SetVariables %s.%s%s [%s]: %s%s", shown(element["component"]["name"], quote=False),
                     shown(element["variable"]["name"], quote=False),
                     f"[{shown(element['variable']['instance'], quote=False)}]"
                     if element["variable"].get("instance") else "",
                     element.get("attributeType", "Actual"), outcome.status.value,
                     f" ({outcome.info.reason_code}: {outcome.info.additional_info})" if outcome.info else "")
        return {"setVariableResult": [_result(e, o, call.ocpp_version)
                                      for e, o in zip(elements, outcomes, strict=True)]}

    return handle


def set_network_profile(network: NetworkStore, record_event: Callable[[str, str], None]) -> Handler:
    """B09: validate, store durably, then Accepted (FR.01); Rejected with a reason (FR.02/04/05/31);
    Failed when it cannot be stored (FR.03). The 2.1 identity/basicAuthPassword are kept with the
    profile; the password is never logged or returned."""

    def handle(call: Call) -> dict[str, Any]:
        profile = NetworkProfile.from_ocpp(call.payload["configurationSlot"], call.payload["connectionData"])
        problem = network.check(profile)
        if problem is not None:
            log.info("SetNetworkProfile slot %d rejected: %s (%s)", profile.slot, problem.reason_code,
                     problem.additional_info)
            return {"status": "Rejected",
                    "statusInfo": status_info(problem.reason_code, problem.additional_info, call.ocpp_version)}
        try:
            network.save(profile)
        except Exception:
            log.exception("SetNetworkProfile slot %d: could not store the profile", profile.slot)
            return {"status": "Failed", "statusInfo": status_info("OutOfStorage", "the profile could not be stored",
                                                                  call.ocpp_version)}
        record_event("ReconfigurationOfSecurityParameters",  # A04: a profile is a security parameter
                     f"network profile of slot {profile.slot} set (security profile {profile.level})")
        return {"status": "Accepted"}

    return handle


def reset(on_reset: Callable[[], None]) -> Handler:
    """B11/B12 Reset (2.x), Reset (1.6 §5.14: Soft and Hard alike). This station does not reboot its
    host: a Reset re-establishes the CSMS connection from the top of NetworkConfigurationPriority,
    which is what a new priority or security profile needs to take effect (B10, A05). Resetting a
    single EVSE is not supported."""

    def handle(call: Call) -> dict[str, Any]:
        if call.payload.get("evseId") is not None:
            return {"status": "Rejected", "statusInfo": status_info(
                "UnsupportedRequest", "this station does not reset a single EVSE", call.ocpp_version)}
        log.info("Reset %s: the CSMS connection will be re-established", call.payload["type"])
        on_reset()
        return {"status": "Accepted"}

    return handle


ROUTES = (
    Route("GetVariables", VERSIONS_2X, mutates=False, build=lambda s: get_variables(s.model)),  # B06
    Route("SetVariables", VERSIONS_2X, mutates=True, build=lambda s: set_variables(s.model)),  # B05
    Route("SetNetworkProfile", VERSIONS_2X, mutates=True,
          build=lambda s: set_network_profile(s.network, s.events.record)),  # B09
    Route("Reset", ALL_VERSIONS, mutates=True, build=lambda s: reset(s.request_reset)),  # B11/B12; 1.6 §5.14
)

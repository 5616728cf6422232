"""Helpers of the B05 SetVariables and B06 GetVariables tests, over the broker and in process alike.

``oem`` is an :class:`tests.support.OemClient` (a station process behind mosquitto) or an
:class:`tests.support.InProcessOem` (a Station in the test's process): both check every answer.
"""

from __future__ import annotations

from typing import Any, Protocol

from .support import variable_data

VERSIONS = ("ocpp2.0.1", "ocpp2.1")

address = element = variable_data


class Oem(Protocol):
    def call(self, action: str, payload: Any, ocpp_version: str = ...) -> dict[str, Any]: ...

    def result(self, action: str, payload: Any, ocpp_version: str = ...) -> dict[str, Any]: ...

    def error(self, action: str, payload: Any, ocpp_version: str = ...) -> dict[str, Any]: ...


# -- B05 SetVariables ---------------------------------------------------------------------------------

def setting(component: str, variable: str, value: str, **kwargs: Any) -> dict[str, Any]:
    return {**address(component, variable, **kwargs), "attributeValue": value}


def set_many(oem: Oem, elements: list[dict[str, Any]], version: str = "ocpp2.0.1") -> list[dict[str, Any]]:
    results = oem.result("SetVariables", {"setVariableData": elements}, version)["setVariableResult"]
    assert len(results) == len(elements)  # B05.FR.01 — always
    for sent, got in zip(elements, results, strict=True):  # B05.FR.02/03/12 — always
        assert got["component"] == sent["component"] and got["variable"] == sent["variable"], got
        assert got["attributeType"] == sent.get("attributeType", "Actual"), got
    return results


def set_one(oem: Oem, data: dict[str, Any], version: str = "ocpp2.0.1") -> dict[str, Any]:
    [result] = set_many(oem, [data], version)
    return result


def read(oem: Oem, component: str, variable: str, version: str = "ocpp2.0.1", **kwargs: Any) -> str:
    """The Actual value now (GetVariables must accept it)."""
    data = address(component, variable, **kwargs)
    [result] = oem.result("GetVariables", {"getVariableData": [data]}, version)["getVariableResult"]
    assert result["attributeStatus"] == "Accepted", result
    return result["attributeValue"]


def assert_rejected(result: dict[str, Any], reason: str | None = None) -> None:
    assert result["attributeStatus"] == "Rejected", result
    if reason is not None:
        assert result["attributeStatusInfo"]["reasonCode"] == reason, result


# -- B06 GetVariables ---------------------------------------------------------------------------------

def get_many(oem: Oem, elements: list[dict[str, Any]], version: str = "ocpp2.0.1") -> list[dict[str, Any]]:
    results = oem.result("GetVariables", {"getVariableData": elements}, version)["getVariableResult"]
    assert len(results) == len(elements)  # B06.FR.01 — always
    return results


def get_one(oem: Oem, data: dict[str, Any], version: str = "ocpp2.0.1") -> dict[str, Any]:
    [result] = get_many(oem, [data], version)
    assert result["component"] == data["component"] and result["variable"] == data["variable"]  # B06.FR.02
    return result


def assert_refused(result: dict[str, Any], status: str) -> None:
    assert result["attributeStatus"] == status, result
    assert "attributeValue" not in result, result


def assert_value(result: dict[str, Any], value: str) -> None:
    assert (result["attributeStatus"], result.get("attributeValue")) == ("Accepted", value), result

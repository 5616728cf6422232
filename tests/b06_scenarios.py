"""The B06 GetVariables scenarios both modules run, each on its own ``oem``.

tests/unit/test_b06_get_variables_rules.py runs every case in process (an :class:`tests.support.InProcessOem`);
tests/integration/test_b06_get_variables.py a few of them over mosquitto (an :class:`tests.support.OemClient`),
where ``log`` is the station process's log.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

from .variables import Oem, assert_refused, assert_value, element, get_one


def items_limit(oem: Oem, version: str) -> int:
    data = element("DeviceDataCtrlr", "ItemsPerMessage", variable_instance="GetVariables")
    result = get_one(oem, data, version)
    assert result["attributeStatus"] == "Accepted"
    return int(result["attributeValue"])


def escaped(text: str) -> str:
    """A JSON string literal that spells every character as a \\uXXXX escape (6 bytes per character)."""
    return '"' + "".join(f"\\u{ord(c):04x}" for c in text) + '"'


def attribute_type_is_echoed(oem: Oem, version: str, attribute: str) -> None:
    result = get_one(oem, element("OCPPCommCtrlr", "HeartbeatInterval", attribute=attribute), version)
    assert result["attributeType"] == attribute
    if attribute == "Actual":
        assert_value(result, "60")
    else:  # the catalogue defines Actual only
        assert_refused(result, "NotSupportedAttributeType")


def accepted_with_the_value(oem: Oem, version: str, component: str, variable: str, value: str) -> None:
    assert_value(get_one(oem, element(component, variable), version), value)


def write_only_variable_is_rejected_without_value(oem: Oem, log: Callable[[], str], version: str) -> None:
    data = element("SecurityCtrlr", "BasicAuthPassword")
    result = get_one(oem, data, version)
    assert_refused(result, "Rejected")
    assert result["attributeStatusInfo"]["reasonCode"] == "WriteOnly"

    password = f"pw-{uuid.uuid4().hex}"[:32]
    [set_result] = oem.result("SetVariables", {"setVariableData": [{**data, "attributeValue": password}]},
                              version)["setVariableResult"]
    assert set_result["attributeStatus"] == "Accepted"

    answer = oem.call("GetVariables", {"getVariableData": [data]}, version)
    [result] = answer["data"]["payload"]["getVariableResult"]
    assert_refused(result, "Rejected")  # even after it was set
    assert result["attributeStatusInfo"]["reasonCode"] == "WriteOnly"
    assert password not in json.dumps(answer)
    assert password not in log()


def supported_unset_attribute_is_empty_string(oem: Oem, version: str, component: str, variable: str,
                                              instance: str | None) -> None:
    assert_value(get_one(oem, element(component, variable, variable_instance=instance), version), "")


def instance_addressing(oem: Oem, version: str, component: str, variable: str, instance: str, value: str) -> None:
    assert_value(get_one(oem, element(component, variable, variable_instance=instance), version), value)


def more_items_than_items_per_message_is_occurrence_violation(oem: Oem, version: str) -> None:
    limit = items_limit(oem, version)
    elements = [element("OCPPCommCtrlr", "OfflineThreshold")] * (limit + 1)
    error = oem.error("GetVariables", {"getVariableData": elements}, version)
    assert error["error_code"] == "OccurrenceConstraintViolation"

"""The B05 SetVariables scenarios both modules run, each on its own ``oem``.

tests/unit/test_b05_set_variables_rules.py runs every case in process (an :class:`tests.support.InProcessOem`);
tests/integration/test_b05_set_variables.py a few of them over mosquitto (an :class:`tests.support.OemClient`),
where ``log`` is the station process's log.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

from .variables import Oem, address, assert_rejected, read, set_one, setting


def make_password(length: int) -> str:
    return "".join(uuid.uuid4().hex for _ in range(3))[:length]


def invalid_format_is_rejected(oem: Oem, version: str, component: str, variable: str, value: str) -> None:
    before = read(oem, component, variable, version)
    assert_rejected(set_one(oem, setting(component, variable, value), version), "InvalidValue")
    assert read(oem, component, variable, version) == before


def correct_format_is_accepted_and_read_back(oem: Oem, version: str, component: str, variable: str, value: str) -> None:
    assert set_one(oem, setting(component, variable, value), version)["attributeStatus"] == "Accepted"
    assert read(oem, component, variable, version) == value


def out_of_range_is_rejected(oem: Oem, version: str, component: str, variable: str, value: str) -> None:
    before = read(oem, component, variable, version)
    assert_rejected(set_one(oem, setting(component, variable, value), version), "ValueOutOfRange")
    assert read(oem, component, variable, version) == before


def basic_auth_password_is_accepted_and_never_disclosed(oem: Oem, log: Callable[[], str], version: str,
                                                        length: int) -> None:
    password = make_password(length)
    answer = oem.call("SetVariables", {"setVariableData": [
        setting("SecurityCtrlr", "BasicAuthPassword", password)]}, version)
    [result] = answer["data"]["payload"]["setVariableResult"]
    assert result["attributeStatus"] == "Accepted"
    got = oem.call("GetVariables", {"getVariableData": [address("SecurityCtrlr", "BasicAuthPassword")]}, version)
    [got_result] = got["data"]["payload"]["getVariableResult"]
    assert got_result["attributeStatus"] == "Rejected" and "attributeValue" not in got_result
    for text in (json.dumps(answer), json.dumps(got), log()):
        assert password not in text


def basic_auth_password_in_a_schema_error_is_not_disclosed(oem: Oem, log: Callable[[], str], version: str) -> None:
    password = make_password(32) * 80  # 2560 characters: over the schema's maxLength in both versions
    data = oem.error("SetVariables", {"setVariableData": [setting("SecurityCtrlr", "BasicAuthPassword", password)]},
                     version)
    assert data["error_code"] == "PropertyConstraintViolation"
    assert password[:32] not in json.dumps(data)
    assert password[:32] not in log()


def more_items_than_items_per_message_is_occurrence_violation(oem: Oem, version: str) -> None:
    limit = int(read(oem, "DeviceDataCtrlr", "ItemsPerMessage", version, variable_instance="SetVariables"))
    before = read(oem, "OCPPCommCtrlr", "RetryBackOffRepeatTimes", version)
    new = "4" if before != "4" else "5"
    elements = [setting("OCPPCommCtrlr", "RetryBackOffRepeatTimes", new)] + \
        [setting("NoSuchCtrlr", f"Variable{i}", "1") for i in range(limit)]
    error = oem.error("SetVariables", {"setVariableData": elements}, version)
    assert error["error_code"] == "OccurrenceConstraintViolation"
    assert read(oem, "OCPPCommCtrlr", "RetryBackOffRepeatTimes", version) == before  # nothing applied


def more_bytes_than_bytes_per_message_is_refused_whole(oem: Oem, version: str) -> None:
    max_bytes = int(read(oem, "DeviceDataCtrlr", "BytesPerMessage", version, variable_instance="SetVariables"))
    before = read(oem, "SampledDataCtrlr", "TxUpdatedMeasurands", version)
    new = "Voltage" if before != "Voltage" else "SoC"
    filler = [setting("NoSuchCtrlr", f"Variable{i}", "F" * 900) for i in range(max_bytes // 900 + 1)]
    elements = [setting("SampledDataCtrlr", "TxUpdatedMeasurands", new), *filler]
    assert len(json.dumps(elements)) > max_bytes
    error = oem.error("SetVariables", {"setVariableData": elements}, version)
    assert error["error_code"] == "FormatViolation"
    assert read(oem, "SampledDataCtrlr", "TxUpdatedMeasurands", version) == before

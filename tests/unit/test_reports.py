"""The report builder (station/reports.py), on device models built for the test: the items, the parts.

What the in-process rule tests (test_b07_b08_report_rules.py) cannot reach through a door: attribute
types the catalogue does not have (it has only Actual), values a door cannot set (a read-only
Available, a connector's AvailabilityState, a Problem flag), long values and lists, and the splitter
on its own. Every item and payload is checked against the official NotifyReportRequest schema with
the pure-Python ``jsonschema``, not the station's validator.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ocpp_station.config import MIN_REPORT_BYTES_PER_PART, Config, ConfigError, ConnectorConfig, EvseConfig, load
from ocpp_station.station import reports
from ocpp_station.station.datatypes import INT32_MAX, INT32_MIN, Characteristics, DataType
from ocpp_station.station.device_model import (
    Attribute,
    AttributeType,
    ComponentKey,
    DeviceModel,
    Mutability,
    StoredKey,
    VariableAddress,
    VariableDefinition,
    stored_key,
)
from ocpp_station.station.shape import build_definitions

from ..support import request_validator

VERSIONS = ("2.0.1", "2.1")  # as the device model names them
version_param = pytest.mark.parametrize("version", VERSIONS)
ACTUAL, TARGET = AttributeType.ACTUAL, AttributeType.TARGET
MIN_SET, MAX_SET = AttributeType.MIN_SET, AttributeType.MAX_SET
RW, RO, WO = Mutability.READ_WRITE, Mutability.READ_ONLY, Mutability.WRITE_ONLY




def frame_bytes(payload: dict[str, Any]) -> int:
    """The NotifyReport CALL frame as the CSMS would receive it, compact, under a real message id."""
    frame = [2, str(uuid.uuid4()), "NotifyReport", payload]
    return len(json.dumps(frame, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def valid(version: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``items`` unchanged, once one NotifyReport holding them all conforms to the schema."""
    [payload] = reports.notify_report_payloads(1, "2025-01-01T00:00:00Z", [items])
    request_validator("ocpp" + version, "NotifyReport").validate(payload)
    return items


class NoStore:
    """A value store for models that are only read."""

    def save_variable_values(self, rows: Sequence[tuple[StoredKey, str]]) -> None:
        raise AssertionError("a report writes nothing")

    def after_commit(self, action: Any) -> None:
        raise AssertionError("a report writes nothing")

    def transaction(self) -> AbstractContextManager[object]:
        return nullcontext()


def model(definitions: Sequence[VariableDefinition], stored: Mapping[StoredKey, str] | None = None) -> DeviceModel:
    return DeviceModel(definitions=list(definitions), store=NoStore(), stored=dict(stored or {}))


def station_model(config: Config, stored: Mapping[tuple[str, str, str | None, int | None, int | None], str] = {},
                  extra: Sequence[VariableDefinition] = ()) -> DeviceModel:
    """The model of a station with ``config``; ``stored``: (component, variable, instance, evse, connector) → value."""
    definitions = [*build_definitions(config), *extra]
    keys: dict[StoredKey, str] = {}
    for d in definitions:
        where = (d.component.name, d.name, d.instance, d.component.evse_id, d.component.connector_id)
        if where in stored:
            keys[stored_key(d, ACTUAL)] = stored[where]
    return model(definitions, keys)


def variable(component: ComponentKey, name: str, data_type: DataType = DataType.BOOLEAN, value: str | None = None,
             mutability: Mutability = RO, **characteristics: Any) -> VariableDefinition:
    return VariableDefinition(component=component, name=name, instance=None,
                              characteristics=Characteristics(data_type, **characteristics),
                              attributes={ACTUAL: Attribute(ACTUAL, mutability, value)})


def where(item: dict[str, Any]) -> tuple[Any, ...]:
    component, var = item["component"], item["variable"]
    evse = component.get("evse", {})
    return (component["name"], component.get("instance"), evse.get("id"), evse.get("connectorId"), var["name"],
            var.get("instance"))


TWO_BY_TWO = Config(evses=(EvseConfig(id=1, connectors=(ConnectorConfig(1), ConnectorConfig(2))),
                           EvseConfig(id=2, connectors=(ConnectorConfig(1), ConnectorConfig(2)))))


# -- the items ---------------------------------------------------------------------------------------------


@version_param
def test_B07_FR_11_every_supported_attribute_type_even_unset(version: str) -> None:
    limit = VariableDefinition(
        component=ComponentKey("SampleCtrlr"), name="Current", instance="Max",
        characteristics=Characteristics(DataType.DECIMAL, unit="A", min_limit=Decimal(0), max_limit=Decimal("32.5")),
        attributes={ACTUAL: Attribute(ACTUAL, RW, "16"), TARGET: Attribute(TARGET, RO),
                    MIN_SET: Attribute(MIN_SET, RW), MAX_SET: Attribute(MAX_SET, RW)})
    [item] = valid(version, reports.full_inventory(model([limit]), version))
    assert item == {
        "component": {"name": "SampleCtrlr"}, "variable": {"name": "Current", "instance": "Max"},
        "variableAttribute": [
            {"type": "Actual", "value": "16", "mutability": "ReadWrite", "persistent": True},
            # unset: reported, with the empty value GetVariables gives (B06.FR.13); only a write-only
            # attribute may go without a value (VariableAttributeType.value)
            {"type": "Target", "value": "", "mutability": "ReadOnly"},
            {"type": "MinSet", "value": "", "mutability": "ReadWrite", "persistent": True},
            {"type": "MaxSet", "value": "", "mutability": "ReadWrite", "persistent": True}],
        "variableCharacteristics": {"dataType": "decimal", "unit": "A", "minLimit": 0, "maxLimit": 32.5,
                                    "supportsMonitoring": False}}


@version_param
def test_B07_FR_03_a_write_only_attribute_appears_without_its_value(version: str) -> None:
    secret = VariableDefinition(
        component=ComponentKey("SampleCtrlr"), name="Secret", instance=None,
        characteristics=Characteristics(DataType.STRING, max_limit=Decimal(64)),
        attributes={ACTUAL: Attribute(ACTUAL, WO), TARGET: Attribute(TARGET, RW, "shown")})
    stored = {stored_key(secret, ACTUAL): "never-in-a-report"}
    [item] = valid(version, reports.full_inventory(model([secret], stored), version))
    assert item["variableAttribute"] == [{"type": "Actual", "mutability": "WriteOnly", "persistent": True},
                                         {"type": "Target", "value": "shown", "mutability": "ReadWrite",
                                          "persistent": True}]
    assert "never-in-a-report" not in json.dumps(item)


@version_param
def test_a_value_is_cut_to_reporting_value_size_as_get_variables_cuts_it(version: str) -> None:
    size = variable(ComponentKey("DeviceDataCtrlr"), "ReportingValueSize", DataType.INTEGER, "10")
    text = variable(ComponentKey("SampleCtrlr"), "Text", DataType.STRING, "x" * 40)
    built = model([size, text])
    [_, item] = valid(version, reports.full_inventory(built, version))
    assert item["variableAttribute"][0]["value"] == "x" * 10
    assert built.get(VariableAddress("SampleCtrlr", "Text"), version).value == "x" * 10  # one rule for both


@version_param
def test_values_list_keeps_whole_entries_within_1000_characters(version: str) -> None:
    entries = tuple(f"Value{n:03d}" for n in range(300))  # 2,699 characters in all
    listed = variable(ComponentKey("SampleCtrlr"), "Choice", DataType.OPTION_LIST, "Value000", values_list=entries)
    [item] = valid(version, reports.full_inventory(model([listed]), version))
    shown = item["variableCharacteristics"]["valuesList"]
    assert len(shown) <= 1000 and shown.split(",") == list(entries[: len(shown.split(","))])
    assert len(shown) + len(",Value000") > 1000  # as many as fit


def test_values_list_keeps_within_configuration_value_size_too() -> None:
    size = variable(ComponentKey("DeviceDataCtrlr"), "ConfigurationValueSize", DataType.INTEGER, "20")
    listed = variable(ComponentKey("SampleCtrlr"), "Choice", DataType.OPTION_LIST, "A", values_list=("Aaaa",) * 8)
    [_, item] = reports.full_inventory(model([size, listed]), "2.0.1")
    assert item["variableCharacteristics"]["valuesList"] == "Aaaa,Aaaa,Aaaa,Aaaa"


@version_param
def test_the_order_is_the_catalogue_s_and_stable(version: str) -> None:
    built = station_model(TWO_BY_TWO)
    first = reports.full_inventory(built, version)
    assert first == reports.full_inventory(built, version)
    defined = [(d.component.name, d.component.instance, d.component.evse_id, d.component.connector_id, d.name,
                d.instance) for d in built.definitions_of(version)]
    assert [where(item) for item in first] == defined
    assert [name for name, *_ in defined][:1] == ["AlignedDataCtrlr"]  # components as components.json lists them


def test_only_the_variables_of_the_version_asked_about() -> None:
    built = station_model(Config())
    of_201 = {where(i) for i in reports.full_inventory(built, "2.0.1")}
    of_21 = {where(i) for i in reports.full_inventory(built, "2.1")}
    only_21 = {(d.component.name, d.component.instance, d.component.evse_id, d.component.connector_id, d.name,
                d.instance) for d in built.definitions_of("2.1") if "2.0.1" not in d.versions}
    assert only_21 and of_21 - of_201 == only_21 and of_201 <= of_21
    assert not any(name == "NetworkConfiguration" for name, *_ in of_201)


# -- B07.FR.09 SummaryInventory ------------------------------------------------------------------------


@version_param
def test_B07_FR_09_summary_is_the_availability_of_the_station_and_its_evses(version: str) -> None:
    items = valid(version, reports.summary_inventory(station_model(TWO_BY_TWO), version))
    assert [where(i) for i in items] == [("ChargingStation", None, None, None, "AvailabilityState", None),
                                         ("EVSE", None, 1, None, "AvailabilityState", None),
                                         ("EVSE", None, 2, None, "AvailabilityState", None)]
    assert {i["variableAttribute"][0]["value"] for i in items} == {"Available"}


def test_B07_FR_09_a_connector_whose_availability_differs_from_its_evse_s_is_in_the_summary() -> None:
    built = station_model(TWO_BY_TWO, {("Connector", "AvailabilityState", None, 2, 1): "Occupied"})
    items = reports.summary_inventory(built, "2.0.1")
    assert ("Connector", None, 2, 1, "AvailabilityState", None) in [where(i) for i in items]
    assert [where(i) for i in items if i["component"]["name"] == "Connector"] == [
        ("Connector", None, 2, 1, "AvailabilityState", None)]


def test_B07_FR_09_a_component_in_an_abnormal_state_reports_its_true_flags_and_tech_info() -> None:
    module, fine = ComponentKey("PowerModule", "1"), ComponentKey("PowerModule", "2")
    extra = [variable(module, "Problem", value="true"), variable(module, "Tripped", value="false"),
             variable(module, "Overload", value="true"), variable(module, "Available", value="true"),
             variable(module, "TechCode", DataType.STRING, "E42"),
             variable(fine, "Problem", value="false"), variable(fine, "TechCode", DataType.STRING, "")]
    items = valid("2.1", reports.summary_inventory(station_model(Config(), extra=extra), "2.1"))
    assert [where(i) for i in items if i["component"]["name"] == "PowerModule"] == [
        ("PowerModule", "1", None, None, "Problem", None), ("PowerModule", "1", None, None, "Overload", None),
        ("PowerModule", "1", None, None, "TechCode", None)]


# -- B08 criteria on values a door cannot set ------------------------------------------------------


def test_B08_FR_08_available_leaves_out_a_component_that_is_not_available() -> None:
    built = station_model(TWO_BY_TWO, {("EVSE", "Available", None, 1, None): "false"})
    items = reports.custom_report(built, "2.0.1", criteria=["Available"])
    components = {(i["component"]["name"], i["component"].get("evse", {}).get("id")) for i in items}
    assert ("EVSE", 1) not in components and ("EVSE", 2) in components
    assert ("DeviceDataCtrlr", None) in components  # no Available variable: reported (B08.FR.08)
    everything = reports.full_inventory(built, "2.0.1")
    assert len(items) == len(everything) - sum(1 for d in built.definitions_of("2.0.1")
                                               if d.component == ComponentKey("EVSE", None, 1))


def test_B08_FR_10_problem_reports_the_components_with_a_problem_only() -> None:
    broken, fine = ComponentKey("PowerModule", "1"), ComponentKey("PowerModule", "2")
    extra = [variable(broken, "Problem", value="true"), variable(broken, "TechInfo", DataType.STRING, "hot"),
             variable(fine, "Problem", value="false")]
    items = reports.custom_report(station_model(Config(), extra=extra), "2.0.1", criteria=["Problem"])
    assert [where(i) for i in items] == [("PowerModule", "1", None, None, "Problem", None),
                                         ("PowerModule", "1", None, None, "TechInfo", None)]


# -- the parts ---------------------------------------------------------------------------------------


def sample_items(count: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [{"component": {"name": f"C{n}"}, "variable": {"name": "V"},
             "variableAttribute": [{"type": "Actual", "value": "x" * rng.randrange(0, 900), "mutability": "ReadOnly"}],
             "variableCharacteristics": {"dataType": "string", "supportsMonitoring": False}} for n in range(count)]


@pytest.mark.parametrize(("max_items", "max_bytes"), [(1, 60_000), (7, 60_000), (100, 5120), (3, 2000), (1000, 10**9)])
def test_B07_FR_10_B08_FR_14_parts_keep_the_order_and_both_limits(max_items: int, max_bytes: int) -> None:
    items = sample_items(60)
    request_id, generated_at = 2**31 - 1, "2025-06-01T12:00:00Z"
    parts = reports.split(items, max_items, max_bytes, envelope=reports.envelope_bytes(request_id, generated_at))
    payloads = reports.notify_report_payloads(request_id, generated_at, parts)
    assert [item for p in payloads for item in p["reportData"]] == items  # nothing lost, nothing reordered
    assert [p["seqNo"] for p in payloads] == list(range(len(payloads)))  # from 0, without a gap
    assert [p["tbc"] for p in payloads] == [True] * (len(payloads) - 1) + [False]
    assert {p["requestId"] for p in payloads} == {request_id} and {p["generatedAt"] for p in payloads} == {generated_at}
    for number, payload in enumerate(payloads):
        request_validator("ocpp2.0.1", "NotifyReport").validate(payload)
        request_validator("ocpp2.1", "NotifyReport").validate(payload)
        assert len(payload["reportData"]) <= max_items
        assert frame_bytes(payload) <= max_bytes or len(payload["reportData"]) == 1
        if number < len(payloads) - 1:  # as full as the limits allow: the next item would not have fitted
            grown = {**payload, "reportData": [*payload["reportData"], payloads[number + 1]["reportData"][0]]}
            # … in a part whose seqNo and tbc are counted at their widest, "2147483647" and false
            widest = len(str(2**31 - 1)) - len(str(number)) + len("false") - len("true")
            assert len(grown["reportData"]) > max_items or frame_bytes(grown) + widest > max_bytes


def test_an_item_larger_than_a_part_goes_in_a_part_of_its_own() -> None:
    small, large = sample_items(1)[0], {**sample_items(1)[0], "variable": {"name": "L" * 50}}
    large["variableAttribute"] = [{"type": "Actual", "value": "y" * 2500, "mutability": "ReadOnly"}]
    parts = reports.split([small, large, small], 100, 1500)
    assert parts == [[small], [large], [small]]


def test_nothing_to_split_is_no_part() -> None:
    assert reports.split([], 100, 60_000) == [] and reports.notify_report_payloads(1, "x", []) == []


def test_one_part_is_not_to_be_continued() -> None:
    [payload] = reports.notify_report_payloads(5, "2025-06-01T12:00:00Z", [sample_items(2)])
    assert (payload["seqNo"], payload["tbc"], payload["requestId"]) == (0, False, 5)


def test_the_smallest_part_allowed_holds_the_largest_item_the_station_can_report() -> None:
    """MIN_REPORT_BYTES_PER_PART: a value of ReportingValueSize (2500), a valuesList of 1000, every
    name and instance at its 50 characters, the widest numbers, in the widest NotifyReport."""
    component = ComponentKey("C" * 50, "I" * 50, INT32_MAX, INT32_MAX)  # ids are ≥ 0 in 2.1
    largest = VariableDefinition(
        component=component, name="V" * 50, instance="W" * 50,
        characteristics=Characteristics(DataType.MEMBER_LIST, unit="u" * 16, min_limit=Decimal(INT32_MIN),
                                        max_limit=Decimal(INT32_MIN), values_list=("x" * 1000,)),
        attributes={ACTUAL: Attribute(ACTUAL, RW, "y" * 2500)})
    [item] = valid("2.1", reports.full_inventory(model([largest]), "2.1"))
    [payload] = reports.notify_report_payloads(INT32_MIN, "0000-00-00T00:00:00.000000+00:00", [[item]])
    assert frame_bytes({**payload, "seqNo": 2**31 - 1}) <= MIN_REPORT_BYTES_PER_PART
    assert reports.split([item, item], 100, MIN_REPORT_BYTES_PER_PART) == [[item], [item]]


@pytest.mark.parametrize(("setting", "value"), [("report_items_per_part", 0),
                                                ("report_bytes_per_part", MIN_REPORT_BYTES_PER_PART - 1)])
def test_part_limits_too_small_are_refused(tmp_path: Path, setting: str, value: int) -> None:
    path = tmp_path / "s.toml"
    path.write_text(f"[limits]\n{setting} = {value}\n")
    with pytest.raises(ConfigError, match=setting):
        load(path, environ={})


def test_part_limits_are_read_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text("[limits]\nreport_items_per_part = 20\nreport_bytes_per_part = 8192\n")
    limits = load(path, environ={}).limits
    assert (limits.report_items_per_part, limits.report_bytes_per_part) == (20, 8192)


# -- how fast --------------------------------------------------------------------------------------


def test_full_inventory_of_100_evses_with_2_connectors_builds_and_splits_well_under_a_second() -> None:
    config = Config(evses=tuple(EvseConfig(id=n, connectors=(ConnectorConfig(1), ConnectorConfig(2)))
                                for n in range(1, 101)))
    built = station_model(config)
    built.definitions_of("2.1")  # the model's one-off index, as a running station has it after its first report
    started = time.perf_counter()
    items = reports.full_inventory(built, "2.1")
    parts = reports.split(items, 100, 60_000)
    elapsed = time.perf_counter() - started
    assert len(items) > 1300 and len(parts) == -(-len(items) // 100)
    assert elapsed < 0.5, f"{len(items)} items took {elapsed:.3f} s"

"""B07 GetBaseReport and B08 GetReport, the rules, in process: a Station without any door (2.0.1 and 2.1).

Requests go through :meth:`ocpp_station.app.Station.handle` with the envelope bytes the MQTT door
would hand over (:class:`tests.support.InProcessOem`: origin "mqtt"), every answer checked with
:func:`tests.support.check_response`. The report travels in NotifyReport parts that the handler puts
in the station's outbox; the tests read them back with ``station.outgoing("mqtt", n)``, check each
against the official NotifyReportRequest schema of its version (the pure-Python ``jsonschema``, not
the station's validator) and its CALL frame against the part limits, then mark them delivered, as
the MQTT door does once the broker has them. Requirement ids are those of OCPP 2.x Part 2.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest

from ocpp_station.app import Station
from ocpp_station.config import Config, ConnectorConfig, EvseConfig, Limits
from ocpp_station.handlers.base import Call
from ocpp_station.handlers.reports import get_base_report

from ..network_cases import profile
from ..support import InProcessOem, check_response, request_validator
from ..variables import VERSIONS, element, set_one

version_param = pytest.mark.parametrize("version", VERSIONS)
BASES = ("ConfigurationInventory", "FullInventory", "SummaryInventory")
PASSWORD = "station-Secret-never-reported-5e1"
TWO_BY_TWO = (EvseConfig(id=1, connectors=(ConnectorConfig(1), ConnectorConfig(2))),
              EvseConfig(id=2, connectors=(ConnectorConfig(1), ConnectorConfig(2))))




def frame_bytes(message_id: str, payload: dict[str, Any]) -> int:
    return len(json.dumps([2, message_id, "NotifyReport", payload], separators=(",", ":"),
                          ensure_ascii=False).encode("utf-8"))


class Rig(InProcessOem):
    """The OEM's side of a station of the test's own, and the NotifyReport parts it is sent."""

    def take_parts(self, version: str) -> list[dict[str, Any]]:
        """Every part waiting in the MQTT door's outbox, checked, then delivered (so none is pending)."""
        rows = self.station.outgoing("mqtt", 100_000)
        limits: Limits = self.station.config.limits
        for row in rows:
            if row.action == "SecurityEventNotification":  # a password or profile set by the test (A04): not a part
                request_validator(version, row.action).validate(row.payload)
                self.station.delivered(row.seq)
                continue
            assert (row.action, row.ocpp_version) == ("NotifyReport", version), row
            request_validator(version, "NotifyReport").validate(row.payload)
            assert len(row.message_id) == 36  # a UUID, as the CALL's id will be
            assert len(row.payload["reportData"]) <= limits.report_items_per_part
            assert frame_bytes(row.message_id, row.payload) <= limits.report_bytes_per_part
            self.station.delivered(row.seq)
        return [row.payload for row in rows if row.action == "NotifyReport"]

    def report(self, action: str, payload: dict[str, Any], version: str) -> list[dict[str, Any]]:
        """The parts of an Accepted report, in order, with what every report's parts must hold."""
        assert self.result(action, payload, version) == {"status": "Accepted"}  # B07.FR.01, B08.FR.01
        parts = self.take_parts(version)
        assert parts, "an accepted report is sent (B07.FR.03, B08.FR.03)"
        assert [p["seqNo"] for p in parts] == list(range(len(parts)))  # B07.FR.10, B08.FR.14
        assert [p.get("tbc", False) for p in parts] == [True] * (len(parts) - 1) + [False]
        assert {p["requestId"] for p in parts} == {payload["requestId"]}  # B07.FR.04, B08.FR.04
        return parts

    def items(self, action: str, payload: dict[str, Any], version: str) -> list[dict[str, Any]]:
        return [item for part in self.report(action, payload, version) for item in part["reportData"]]

    def base(self, base: str, version: str, request_id: int = 1) -> list[dict[str, Any]]:
        return self.items("GetBaseReport", {"requestId": request_id, "reportBase": base}, version)

    def custom(self, version: str, component_variable: list[dict[str, Any]] | None = None,
               criteria: list[str] | None = None, request_id: int = 1) -> list[dict[str, Any]]:
        return self.items("GetReport", _get_report(request_id, component_variable, criteria), version)

    def status(self, action: str, payload: dict[str, Any], version: str) -> dict[str, Any]:
        return self.result(action, payload, version)


def _get_report(request_id: int, component_variable: list[dict[str, Any]] | None = None,
                criteria: list[str] | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {"requestId": request_id}
    if component_variable is not None:
        payload["componentVariable"] = component_variable
    if criteria is not None:
        payload["componentCriteria"] = criteria
    return payload


@pytest.fixture
def make_rig(make_station: Callable[..., Station]) -> Callable[..., Rig]:
    def make(config: Config | None = None, **limits: int) -> Rig:
        config = config or Config()
        if limits:
            config = replace(config, limits=replace(config.limits, **limits))
        return Rig(make_station(config, name=f"data-{uuid.uuid4().hex[:8]}"))

    return make


@pytest.fixture
def rig(make_rig: Callable[..., Rig]) -> Rig:
    return make_rig()


@pytest.fixture
def two_by_two(make_rig: Callable[..., Rig]) -> Rig:
    """Two EVSEs of two connectors each: the EVSE and connector addressing of B08."""
    return make_rig(Config(evses=TWO_BY_TWO))


Where = tuple[Any, ...]


def where(item: dict[str, Any]) -> Where:
    """(component, instance, EVSE, connector, variable, instance) of a ReportDataType."""
    component, variable = item["component"], item["variable"]
    evse = component.get("evse", {})
    return (component["name"], component.get("instance"), evse.get("id"), evse.get("connectorId"), variable["name"],
            variable.get("instance"))


def cv(component: str, variable: str | None = None, *, instance: str | None = None, evse: int | None = None,
       connector: int | None = None, variable_instance: str | None = None) -> dict[str, Any]:
    """A ComponentVariableType; what is None is left out."""
    found: dict[str, Any] = {"component": {"name": component}}
    if instance is not None:
        found["component"]["instance"] = instance
    if evse is not None:
        found["component"]["evse"] = {"id": evse} if connector is None else {"id": evse, "connectorId": connector}
    if variable is not None:
        found["variable"] = {"name": variable} if variable_instance is None else {"name": variable,
                                                                                  "instance": variable_instance}
    return found


def full(rig: Rig, version: str) -> list[Where]:
    return [where(item) for item in rig.base("FullInventory", version, request_id=999)]


def batches(items: list[dict[str, Any]], size: int = 100) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


# -- B07.FR.01/03/04/10: accepted, then the parts -----------------------------------------------


@version_param
@pytest.mark.parametrize("base", BASES)
def test_B07_FR_01_FR_03_accepted_and_the_report_follows_in_parts(rig: Rig, version: str, base: str) -> None:
    items = rig.base(base, version, request_id=42)
    assert items


@version_param
def test_B07_FR_04_every_part_carries_the_request_s_id(make_rig: Callable[..., Rig], version: str) -> None:
    parts = make_rig(report_items_per_part=10).report("GetBaseReport", {"requestId": -7, "reportBase": "FullInventory"},
                                                     version)
    assert len(parts) > 5 and {p["requestId"] for p in parts} == {-7}


@version_param
@pytest.mark.parametrize("base", BASES)
def test_B07_FR_10_seq_no_from_0_and_tbc_until_the_last_part(make_rig: Callable[..., Rig], version: str,
                                                               base: str) -> None:
    whole = make_rig().base(base, version)
    parts = make_rig(report_items_per_part=2).report("GetBaseReport", {"requestId": 3, "reportBase": base}, version)
    assert len(parts) == -(-len(whole) // 2) and all(len(p["reportData"]) <= 2 for p in parts)
    assert [where(i) for p in parts for i in p["reportData"]] == [where(i) for i in whole]


@version_param
def test_B07_FR_10_parts_within_report_bytes_per_part(make_rig: Callable[..., Rig], version: str) -> None:
    rig = make_rig(report_bytes_per_part=5120)
    parts = rig.report("GetBaseReport", {"requestId": 2**31 - 1, "reportBase": "FullInventory"}, version)
    assert len(parts) > 5  # take_parts checked every frame against the 5120 bytes
    assert [where(i) for p in parts for i in p["reportData"]] == full(make_rig(), version)


# -- B07.FR.02/05, B07.FR.12: the bases offered ----------------------------------------------------


@version_param
def test_B07_FR_02_FR_05_a_report_base_not_offered_is_not_supported_and_nothing_is_sent(
        rig: Rig, version: str) -> None:
    # ReportBaseEnumType is closed: over a door, another base is a schema error …
    error = rig.error("GetBaseReport", {"requestId": 1, "reportBase": "MonitoringInventory"}, version)
    assert error["error_code"] == "PropertyConstraintViolation"
    # … so the handler's answer to a base it lacks is seen by calling it directly.
    station = rig.station
    handler = get_base_report(station.model, station.outbox, station.config.limits)
    call = Call(version, "GetBaseReport", {"requestId": 1, "reportBase": "NoSuchBase"}, "id-1", "mqtt")
    assert handler(call) == {"status": "NotSupported"}
    assert station.outgoing("mqtt") == []


@version_param
def test_B07_FR_12_configuration_and_full_inventory_are_offered(rig: Rig, version: str) -> None:
    for base in ("ConfigurationInventory", "FullInventory"):
        assert rig.base(base, version)


# -- B07.FR.07/08/11: what the reports hold --------------------------------------------------------


@version_param
def test_B07_FR_07_configuration_inventory_is_every_variable_that_can_be_set(rig: Rig, version: str) -> None:
    everything = rig.base("FullInventory", version)
    settable = [where(i) for i in everything
                if any(a["mutability"] in ("ReadWrite", "WriteOnly") for a in i["variableAttribute"])]
    configuration = rig.base("ConfigurationInventory", version)
    assert [where(i) for i in configuration] == settable
    assert ("SecurityCtrlr", None, None, None, "BasicAuthPassword", None) in settable  # write-only: settable
    assert ("ChargingStation", None, None, None, "VendorName", None) not in settable
    assert all("variableCharacteristics" in i for i in configuration)  # "including their VariableCharacteristics"


@version_param
def test_B07_FR_08_full_inventory_item_by_item_against_get_variables(rig: Rig, version: str) -> None:
    """Every variable, every attribute: the value GetVariables gives, and a write-only one never."""
    assert set_one(rig, {**element("SecurityCtrlr", "BasicAuthPassword"), "attributeValue": PASSWORD},
                   version)["attributeStatus"] == "Accepted"
    assert set_one(rig, {**element("OCPPCommCtrlr", "OfflineThreshold"), "attributeValue": "321"},
                   version)["attributeStatus"] == "Accepted"
    if version == "ocpp2.1":
        assert rig.result("SetNetworkProfile", {"configurationSlot": 2, "connectionData": profile(
            identity="CS-slot-2", basicAuthPassword=PASSWORD + "-2")}, version)["status"] == "Accepted"
    parts = rig.report("GetBaseReport", {"requestId": 1, "reportBase": "FullInventory"}, version)
    assert PASSWORD not in json.dumps(parts)  # B07.FR.03 (errata): nor the 2.1 profile's password
    items = [item for part in parts for item in part["reportData"]]
    asked = [{"component": item["component"], "variable": item["variable"], "attributeType": attribute["type"]}
             for item in items for attribute in item["variableAttribute"]]
    shown = [attribute for item in items for attribute in item["variableAttribute"]]
    answers = [result for batch in batches(asked)
               for result in rig.result("GetVariables", {"getVariableData": batch}, version)["getVariableResult"]]
    assert len(answers) == len(shown)
    for attribute, answer in zip(shown, answers, strict=True):
        if attribute["mutability"] == "WriteOnly":
            assert "value" not in attribute, answer  # the attribute is reported, its value never
            assert (answer["attributeStatus"], answer["attributeStatusInfo"]["reasonCode"]) == ("Rejected",
                                                                                               "WriteOnly")
        else:
            assert answer["attributeStatus"] == "Accepted", answer
            if answer["variable"]["name"] == "DateTime":  # the clock, read live: it may tick in between
                continue
            assert attribute["value"] == answer["attributeValue"], (attribute, answer)
    offline = next(i for i in items if where(i) == ("OCPPCommCtrlr", None, None, None, "OfflineThreshold", None))
    assert offline["variableAttribute"][0]["value"] == "321"


@version_param
def test_B07_FR_08_full_inventory_has_the_required_variables_of_the_charging_infrastructure(
        two_by_two: Rig, version: str) -> None:
    found = set(full(two_by_two, version))
    for evse in (1, 2):
        assert ("EVSE", None, evse, None, "AvailabilityState", None) in found
        assert ("EVSE", None, evse, None, "Power", None) in found
        for connector in (1, 2):
            assert ("Connector", None, evse, connector, "ConnectorType", None) in found
    assert ("ChargingStation", None, None, None, "AvailabilityState", None) in found
    assert ("DeviceDataCtrlr", None, None, None, "ItemsPerMessage", "GetReport") in found


@version_param
def test_B07_FR_08_only_the_variables_of_the_request_s_version(rig: Rig, version: str) -> None:
    found = full(rig, version)
    network_configuration = [w for w in found if w[0] == "NetworkConfiguration"]
    signed = ("SampledDataCtrlr", None, None, None, "SignUpdatedReadings", None)
    if version == "ocpp2.0.1":
        assert network_configuration == [] and signed not in found
    else:
        assert {w[1] for w in network_configuration} == {"1", "2", "3", "4"} and signed in found


@version_param
def test_B07_FR_11_every_supported_attribute_type_even_unset(rig: Rig, version: str) -> None:
    items = rig.base("FullInventory", version)
    model = rig.station.model
    for item in items:
        name, instance, evse, connector, variable, variable_instance = where(item)
        [definition] = [d for d in model.definitions_of(version.removeprefix("ocpp"))
                        if (d.component.name, d.component.instance, d.component.evse_id, d.component.connector_id,
                            d.name, d.instance) == (name, instance, evse, connector, variable, variable_instance)]
        assert [a["type"] for a in item["variableAttribute"]] == [t.value for t in definition.attributes]
    unset = next(i for i in items if where(i) == ("AuthCtrlr", None, None, None, "MasterPassGroupId", None))
    assert unset["variableAttribute"] == [{"type": "Actual", "value": "", "mutability": "ReadWrite",
                                           "persistent": True}]


@version_param
def test_B07_FR_07_FR_08_B08_FR_12_every_item_has_its_characteristics(rig: Rig, version: str) -> None:
    for item in rig.base("FullInventory", version):
        characteristics = item["variableCharacteristics"]
        assert characteristics["supportsMonitoring"] is False
        if characteristics["dataType"] in ("OptionList", "MemberList", "SequenceList"):
            assert characteristics["valuesList"], item  # TC_B_53_CS: never omitted nor empty
    power = next(i for i in rig.base("FullInventory", version) if where(i)[0] == "EVSE" and where(i)[4] == "Power")
    assert power["variableCharacteristics"] == {"dataType": "decimal", "unit": "W", "maxLimit": 22000,
                                                "supportsMonitoring": False}


# -- B07.FR.09: SummaryInventory ---------------------------------------------------------------------


@version_param
def test_B07_FR_09_summary_inventory_is_the_availability_of_the_station_and_its_evses(
        two_by_two: Rig, version: str) -> None:
    items = two_by_two.base("SummaryInventory", version)
    assert [where(i) for i in items] == [("ChargingStation", None, None, None, "AvailabilityState", None),
                                         ("EVSE", None, 1, None, "AvailabilityState", None),
                                         ("EVSE", None, 2, None, "AvailabilityState", None)]
    assert [i["variableAttribute"] for i in items] == [[{"type": "Actual", "value": "Available",
                                                         "mutability": "ReadOnly"}]] * 3


# -- B07.FR.13, B08.FR.16: one report at a time per door -------------------------------------------


@version_param
@pytest.mark.parametrize("action", ["GetBaseReport", "GetReport"])
def test_B07_FR_13_B08_FR_16_rejected_while_a_report_is_still_being_delivered_through_the_same_door(
        rig: Rig, version: str, action: str) -> None:
    first = {"requestId": 1, "reportBase": "FullInventory"}
    assert rig.status("GetBaseReport", first, version) == {"status": "Accepted"}
    waiting = rig.station.outgoing("mqtt", 1000)
    again = first if action == "GetBaseReport" else {"requestId": 2}
    refused = rig.status(action, {**again, "requestId": 2}, version)
    assert refused["status"] == "Rejected"
    assert refused["statusInfo"]["reasonCode"] == "InvalidMessageSeq"
    assert "still being delivered" in refused["statusInfo"]["additionalInfo"]
    assert rig.station.outgoing("mqtt", 1000) == waiting  # nothing added
    for row in waiting[:-1]:
        rig.station.delivered(row.seq)
    assert rig.status(action, {**again, "requestId": 3}, version)["status"] == "Rejected"  # one part left
    rig.station.delivered(waiting[-1].seq)
    assert rig.status(action, {**again, "requestId": 4}, version) == {"status": "Accepted"}


@version_param
def test_B07_FR_13_a_report_waiting_for_the_other_door_does_not_count(rig: Rig, version: str) -> None:
    station = rig.station
    with station.storage.unit_of_work():  # the CSMS's report, not delivered yet
        station.outbox.add("csms", version, "NotifyReport", [{"requestId": 9, "generatedAt": "2025-01-01T00:00:00Z",
                                                              "seqNo": 0}])
    assert rig.base("FullInventory", version)
    assert station.outbox.pending("csms", "NotifyReport") == 1


@version_param
def test_the_accepted_answer_and_its_parts_are_committed_together(rig: Rig, version: str) -> None:
    """A commit that fails leaves neither: an InternalError, and no part promised by nobody."""
    station = rig.station
    station.storage.connection.executescript("""
        CREATE TABLE trap_parent (id INTEGER PRIMARY KEY);
        CREATE TABLE trap_child (parent INTEGER REFERENCES trap_parent (id) DEFERRABLE INITIALLY DEFERRED);
        CREATE TRIGGER trap AFTER INSERT ON outbox BEGIN INSERT INTO trap_child VALUES (1); END;
    """)
    answer = rig.call("GetBaseReport", {"requestId": 1, "reportBase": "FullInventory"}, version)
    assert answer["data"]["error_code"] == "InternalError"
    assert station.outgoing("mqtt") == []


# -- B08.FR.01/03/04/12/14: a custom report ---------------------------------------------------------


@version_param
def test_B08_FR_01_FR_03_FR_04_accepted_and_sent_with_the_request_s_id(rig: Rig, version: str) -> None:
    items = rig.custom(version, [cv("TxCtrlr", "TxStartPoint")], request_id=77)
    assert [where(i) for i in items] == [("TxCtrlr", None, None, None, "TxStartPoint", None)]
    assert items[0]["variableCharacteristics"]["valuesList"].startswith("ParkingBayOccupancy")  # B08.FR.12


@version_param
def test_B08_FR_14_seq_no_and_tbc_across_parts(make_rig: Callable[..., Rig], version: str) -> None:
    parts = make_rig(report_items_per_part=3).report("GetReport", _get_report(5, [cv("OCPPCommCtrlr")]), version)
    count = 19 if version == "ocpp2.1" else 18  # ExternalConfigChangeDate is 2.1's
    assert [len(p["reportData"]) for p in parts] == [3] * (count // 3) + ([count % 3] if count % 3 else [])


@version_param
def test_B08_without_criteria_or_component_variables_everything(rig: Rig, version: str) -> None:
    assert [where(i) for i in rig.custom(version)] == full(rig, version)


# -- B08.FR.05/11/13, FR.07–10: criteria ---------------------------------------------------------------


@version_param
def test_B08_FR_07_active_every_component_that_has_no_active_variable(rig: Rig, version: str) -> None:
    assert [where(i) for i in rig.custom(version, criteria=["Active"])] == full(rig, version)


@version_param
def test_B08_FR_08_available_every_component_available_or_without_the_variable(rig: Rig, version: str) -> None:
    assert [where(i) for i in rig.custom(version, criteria=["Available"])] == full(rig, version)


@version_param
def test_B08_FR_09_enabled_leaves_out_a_disabled_component(rig: Rig, version: str) -> None:
    assert set_one(rig, {**element("AlignedDataCtrlr", "Enabled"), "attributeValue": "false"},
                   version)["attributeStatus"] == "Accepted"
    enabled = [where(i) for i in rig.custom(version, criteria=["Enabled"])]
    assert enabled == [w for w in full(rig, version) if w[0] != "AlignedDataCtrlr"]
    assert ("DeviceDataCtrlr", None, None, None, "Enabled", None) in enabled
    assert ("EVSE", None, 1, None, "Power", None) in enabled  # no Enabled variable: reported


@version_param
def test_B08_FR_10_FR_15_problem_nothing_has_a_problem_so_the_result_set_is_empty(rig: Rig, version: str) -> None:
    assert rig.status("GetReport", _get_report(1, criteria=["Problem"]), version) == {"status": "EmptyResultSet"}
    assert rig.station.outgoing("mqtt") == []


@version_param
def test_B08_FR_13_criteria_are_ored(rig: Rig, version: str) -> None:
    assert set_one(rig, {**element("AlignedDataCtrlr", "Enabled"), "attributeValue": "false"},
                   version)["attributeStatus"] == "Accepted"
    without_aligned = [w for w in full(rig, version) if w[0] != "AlignedDataCtrlr"]
    assert [where(i) for i in rig.custom(version, criteria=["Enabled", "Problem"])] == without_aligned
    assert [where(i) for i in rig.custom(version, criteria=["Problem", "Enabled", "Active"])] == full(rig, version)


@version_param
def test_B08_FR_05_criteria_and_component_variables_must_both_hold(rig: Rig, version: str) -> None:
    assert set_one(rig, {**element("AlignedDataCtrlr", "Enabled"), "attributeValue": "false"},
                   version)["attributeStatus"] == "Accepted"
    asked = [cv("AlignedDataCtrlr", "Interval"), cv("TxCtrlr", "TxStopPoint")]
    assert [where(i) for i in rig.custom(version, asked, ["Enabled"])] == [
        ("TxCtrlr", None, None, None, "TxStopPoint", None)]
    assert rig.status("GetReport", _get_report(2, asked[:1], ["Enabled"]), version) == {"status": "EmptyResultSet"}


@version_param
def test_B08_FR_11_limited_to_the_component_variables_in_catalogue_order(rig: Rig, version: str) -> None:
    asked = [cv("TxCtrlr", "TxStartPoint"), cv("OCPPCommCtrlr", "HeartbeatInterval"), cv("TxCtrlr", "TxStartPoint")]
    assert [where(i) for i in rig.custom(version, asked)] == [
        ("OCPPCommCtrlr", None, None, None, "HeartbeatInterval", None),
        ("TxCtrlr", None, None, None, "TxStartPoint", None)]  # once each


@version_param
def test_B08_names_compare_case_insensitively_as_get_variables_does(rig: Rig, version: str) -> None:
    items = rig.custom(version, [cv("txctrlr", "TXSTARTPOINT"), cv("deviceDataCtrlr", "itemsPerMessage",
                                                                   variable_instance="getreport")])
    assert [where(i) for i in items] == [("DeviceDataCtrlr", None, None, None, "ItemsPerMessage", "GetReport"),
                                         ("TxCtrlr", None, None, None, "TxStartPoint", None)]  # as the catalogue spells


# -- B08.FR.15: an empty result set --------------------------------------------------------------------


@version_param
@pytest.mark.parametrize("asked", [
    pytest.param([cv("NoSuchCtrlr")], id="unknown-component"),
    pytest.param([cv("TxCtrlr", "NoSuchVariable")], id="unknown-variable"),
    pytest.param([cv("TxCtrlr", instance="Nope")], id="unknown-component-instance"),
    pytest.param([cv("EVSE", evse=9)], id="unknown-evse"),
    pytest.param([cv("Connector", evse=1, connector=9)], id="unknown-connector"),
    pytest.param([cv("ClockCtrlr", "TimeOffset", variable_instance="Nope")], id="unknown-variable-instance"),
])
def test_B08_FR_15_empty_result_set(rig: Rig, version: str, asked: list[dict[str, Any]]) -> None:
    assert rig.status("GetReport", _get_report(1, asked), version) == {"status": "EmptyResultSet"}
    assert rig.station.outgoing("mqtt") == []


def test_B08_FR_15_a_2_1_component_asked_for_in_2_0_1_is_an_empty_result_set(rig: Rig) -> None:
    asked = _get_report(1, [cv("NetworkConfiguration")])
    assert rig.status("GetReport", asked, "ocpp2.0.1") == {"status": "EmptyResultSet"}
    assert len(rig.custom("ocpp2.1", [cv("NetworkConfiguration")])) == 40  # 4 slots, 10 variables each


# -- B08.FR.17/18: the request's limits -------------------------------------------------------------


@version_param
def test_B08_FR_17_more_component_variables_than_items_per_message_is_occurrence_constraint_violation(
        rig: Rig, version: str) -> None:
    assert rig.custom(version, [cv("TxCtrlr", "TxStartPoint")] * 100)  # ItemsPerMessage[GetReport] = 100: fine
    error = rig.error("GetReport", _get_report(1, [cv("TxCtrlr", "TxStartPoint")] * 101), version)
    assert error["error_code"] == "OccurrenceConstraintViolation"
    assert error["error_details"] == {"limit": 100, "received": 101}
    assert rig.station.outgoing("mqtt") == []


@version_param
def test_B08_FR_06_FR_17_the_limit_is_the_configured_items_per_message_get_report(
        make_rig: Callable[..., Rig], version: str) -> None:
    """[limits] items_per_message_get_report is DeviceDataCtrlr.ItemsPerMessage[GetReport] (B08.FR.06), the one
    value the check enforces and GetVariables reports; likewise the bytes."""
    rig = make_rig(items_per_message_get_report=3, bytes_per_message_get_report=2000)
    values = {r["variable"]["name"]: r["attributeValue"] for r in rig.result("GetVariables", {"getVariableData": [
        {"component": {"name": "DeviceDataCtrlr"}, "variable": {"name": name, "instance": "GetReport"}}
        for name in ("ItemsPerMessage", "BytesPerMessage")]}, version)["getVariableResult"]}
    assert values == {"ItemsPerMessage": "3", "BytesPerMessage": "2000"}
    assert rig.custom(version, [cv("TxCtrlr", "TxStartPoint")] * 3)
    error = rig.error("GetReport", _get_report(1, [cv("TxCtrlr", "TxStartPoint")] * 4), version)
    assert error["error_code"] == "OccurrenceConstraintViolation"
    assert error["error_details"] == {"limit": 3, "received": 4}
    padded = {**_get_report(2, [cv("TxCtrlr")]), "customData": {"vendorId": "example.com", "padding": "x" * 2000}}
    assert rig.error("GetReport", padded, version)["error_code"] == "FormatViolation"


@version_param
def test_B08_FR_18_more_bytes_than_bytes_per_message_is_format_violation(rig: Rig, version: str) -> None:
    padded = {**_get_report(1, [cv("TxCtrlr")]), "customData": {"vendorId": "example.com", "padding": "x" * 65_536}}
    error = rig.error("GetReport", padded, version)
    assert error["error_code"] == "FormatViolation"
    assert error["error_details"]["limit"] == 65_536 and error["error_details"]["received"] > 65_536
    assert rig.station.outgoing("mqtt") == []


# -- B08.FR.20–25: addressing --------------------------------------------------------------------------


@version_param
def test_B08_FR_20_without_a_variable_every_variable_of_the_component(rig: Rig, version: str) -> None:
    assert [where(i) for i in rig.custom(version, [cv("TxCtrlr")])] == [w for w in full(rig, version)
                                                                        if w[0] == "TxCtrlr"]


@version_param
def test_B08_FR_21_a_variable_without_an_instance_every_instance(rig: Rig, version: str) -> None:
    items = rig.custom(version, [cv("DeviceDataCtrlr", "ItemsPerMessage"), cv("ClockCtrlr", "TimeOffset")])
    assert [where(i) for i in items] == [
        ("ClockCtrlr", None, None, None, "TimeOffset", None),
        ("ClockCtrlr", None, None, None, "TimeOffset", "NextTransition"),
        ("DeviceDataCtrlr", None, None, None, "ItemsPerMessage", "GetReport"),
        ("DeviceDataCtrlr", None, None, None, "ItemsPerMessage", "GetVariables"),
        ("DeviceDataCtrlr", None, None, None, "ItemsPerMessage", "SetVariables")]
    [only] = rig.custom(version, [cv("ClockCtrlr", "TimeOffset", variable_instance="NextTransition")])
    assert where(only) == ("ClockCtrlr", None, None, None, "TimeOffset", "NextTransition")


@version_param
def test_B08_FR_22_an_evse_without_a_connector_every_connector(two_by_two: Rig, version: str) -> None:
    everything = full(two_by_two, version)
    connectors = [where(i) for i in two_by_two.custom(version, [cv("Connector", evse=2)])]
    assert connectors == [w for w in everything if w[0] == "Connector" and w[2] == 2]
    assert {w[3] for w in connectors} == {1, 2}
    one = [where(i) for i in two_by_two.custom(version, [cv("Connector", "ConnectorType", evse=2, connector=1)])]
    assert one == [("Connector", None, 2, 1, "ConnectorType", None)]
    evse = [where(i) for i in two_by_two.custom(version, [cv("EVSE", "Power", evse=2)])]
    assert evse == [("EVSE", None, 2, None, "Power", None)]


@version_param
def test_B08_FR_23_without_an_evse_every_evse_s_and_the_top_level_one(two_by_two: Rig, version: str) -> None:
    availability = [where(i) for i in two_by_two.custom(version, [cv("EVSE", "AvailabilityState"),
                                                                  cv("Connector", "AvailabilityState"),
                                                                  cv("ChargingStation", "AvailabilityState")])]
    assert availability == [
        ("ChargingStation", None, None, None, "AvailabilityState", None),
        *[("Connector", None, e, c, "AvailabilityState", None) for e in (1, 2) for c in (1, 2)],
        ("EVSE", None, 1, None, "AvailabilityState", None), ("EVSE", None, 2, None, "AvailabilityState", None)]


def test_B08_FR_24_a_component_instance_only_that_instance(rig: Rig) -> None:
    items = rig.custom("ocpp2.1", [cv("NetworkConfiguration", "OcppCsmsUrl", instance="2"),
                                   cv("NetworkConfiguration", instance="3")])
    assert [where(i) for i in items] == [
        ("NetworkConfiguration", "2", None, None, "OcppCsmsUrl", None),
        *[w for w in full(rig, "ocpp2.1") if w[:2] == ("NetworkConfiguration", "3")]]


def test_B08_FR_25_without_a_component_instance_every_instance(rig: Rig) -> None:
    items = rig.custom("ocpp2.1", [cv("NetworkConfiguration", "SecurityProfile")])
    assert [where(i) for i in items] == [("NetworkConfiguration", slot, None, None, "SecurityProfile", None)
                                         for slot in ("1", "2", "3", "4")]
    # and a component without instances is found without one, as it is
    assert [where(i) for i in rig.custom("ocpp2.1", [cv("TxCtrlr", "TxStopPoint")])] == [
        ("TxCtrlr", None, None, None, "TxStopPoint", None)]


# -- 1.6 has neither ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("action", "payload"), [("GetBaseReport", {"requestId": 1, "reportBase": "FullInventory"}),
                                                 ("GetReport", {"requestId": 1})])
def test_ocpp_1_6_offers_neither(rig: Rig, action: str, payload: dict[str, Any]) -> None:
    error = rig.error(action, payload, "ocpp1.6")
    assert error["error_code"] == "NotSupported"  # an action of 2.0.1 and 2.1 only (the dispatcher's rule)
    assert rig.station.outgoing("mqtt") == []


def test_every_answer_is_checked(rig: Rig) -> None:
    """check_response validates each answer against the official response schema: here once by hand."""
    answer = rig.call("GetReport", _get_report(1, [cv("TxCtrlr")]), "ocpp2.1")
    check_response(answer, "GetReport", "ocpp2.1")
    rig.take_parts("ocpp2.1")

"""The seed document's GetVariables and SetVariables examples, end to end over mosquitto."""

from __future__ import annotations

from ..support import OemClient

SEED_GET_ONE = {"getVariableData": [{"component": {"name": "TxCtrlr"}, "variable": {"name": "TxStartPoint"}}]}
SEED_GET_TWO = {"getVariableData": [
    {"attributeType": "Actual", "component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "OfflineThreshold"}},
    {"attributeType": "Actual", "component": {"name": "AuthCtrlr"}, "variable": {"name": "LocalAuthorizeOffline"}},
]}
SEED_SET = {"setVariableData": [
    {"attributeType": "Actual", "attributeValue": "300", "component": {"name": "OCPPCommCtrlr"},
     "variable": {"name": "OfflineThreshold"}},
    {"attributeType": "Actual", "attributeValue": "true", "component": {"name": "AuthCtrlr"},
     "variable": {"name": "LocalAuthorizeOffline"}},
]}


def test_seed_get_variables_single(oem: OemClient) -> None:
    answer = oem.call("GetVariables", SEED_GET_ONE)
    assert answer["data"]["message_type"] == "CallResult"
    [result] = answer["data"]["payload"]["getVariableResult"]
    assert result["attributeStatus"] == "Accepted"
    assert result["attributeType"] == "Actual"
    assert result["component"] == {"name": "TxCtrlr"} and result["variable"] == {"name": "TxStartPoint"}
    assert set(result["attributeValue"].split(",")) <= {"ParkingBayOccupancy", "EVConnected", "Authorized",
                                                        "PowerPathClosed", "EnergyTransfer", "DataSigned"}


def test_seed_set_then_get_variables(oem: OemClient) -> None:
    results = oem.result("SetVariables", SEED_SET)["setVariableResult"]
    assert [(r["attributeStatus"], r["component"]["name"], r["variable"]["name"], r["attributeType"])
            for r in results] == [("Accepted", "OCPPCommCtrlr", "OfflineThreshold", "Actual"),
                                  ("Accepted", "AuthCtrlr", "LocalAuthorizeOffline", "Actual")]
    got = oem.result("GetVariables", SEED_GET_TWO)["getVariableResult"]
    assert [(r["attributeStatus"], r["attributeValue"]) for r in got] == [("Accepted", "300"), ("Accepted", "true")]


def test_answer_carries_the_request_id_and_version(oem: OemClient) -> None:
    for version in ("ocpp2.0.1", "ocpp2.1"):
        answer = oem.call("GetVariables", SEED_GET_ONE, version)
        assert answer["data"]["ocpp_version"] == version

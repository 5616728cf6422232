"""docs/asyncapi.yaml: the document is AsyncAPI 3.0.0, names the right topics, and every example in it is true.

Each example envelope is checked against the document's own envelope schemas (AsyncAPI schemas are a
superset of JSON Schema Draft 7), and each example payload against the official OCA schema the station
itself validates with (:class:`ocpp_station.rpc.schemas.SchemaSet`), so the documentation cannot drift
away from the service without this test noticing.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from ocpp_station import presence
from ocpp_station.config import MqttConfig
from ocpp_station.handlers.routes import ROUTES
from ocpp_station.rpc.schemas import SchemaSet
from ocpp_station.versions import OCPP_VERSIONS

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.yaml"
# The seed document's enum of message_name; the station offers these and whatever else its routes declare.
SEED_ACTIONS = ("GetVariables", "GetInstalledCertificateIds", "SetVariables", "InstallCertificate",
                "DeleteCertificate", "SetNetworkProfile")
OFFERED = {route.action for route in ROUTES}


@cache
def document() -> dict[str, Any]:
    return yaml.safe_load(DOCUMENT.read_text("utf-8"))


def validator(schema: dict[str, Any]) -> jsonschema.Draft7Validator:
    """A Draft 7 validator for ``schema`` whose ``#/components/...`` references resolve in the document."""
    root = {**schema, "components": document()["components"]}
    jsonschema.Draft7Validator.check_schema(root)
    return jsonschema.Draft7Validator(root, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


def envelope_schema(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


@cache
def schema_set(ocpp_version: str, action: str) -> SchemaSet:
    schemas = SchemaSet({ocpp_version: (action,)})
    assert schemas.has(ocpp_version, action), f"the ocpp package has no {action} in {ocpp_version}"
    return schemas


def examples() -> list[Any]:
    """Every example of every message in components/messages, as pytest params."""
    params = []
    for message_id, message in document()["components"]["messages"].items():
        for example in message.get("examples", []):
            params.append(pytest.param(message_id, message, example, id=f"{message_id}:{example['name']}"))
    return params


EXAMPLES = examples()
PRESENCE = [p for p in EXAMPLES if p.values[0] in ("StationOnline", "StationOffline")]
REQUESTS = [p for p in EXAMPLES if p not in PRESENCE and p.values[2]["payload"]["type"] == "request"]
RESPONSES = [p for p in EXAMPLES if p not in PRESENCE and p.values[2]["payload"]["type"] == "response"]


def resolve(pointer: str) -> Any:
    node: Any = document()
    for part in pointer.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def all_refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if "$ref" in node else []
        return own + [ref for value in node.values() for ref in all_refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in all_refs(value)]
    return []


# -- the document ----------------------------------------------------------------------------------------------

def test_it_is_an_asyncapi_3_document_of_this_release() -> None:
    doc = document()
    assert doc["asyncapi"] == "3.0.0"
    assert doc["info"]["version"] == "0.1.0"
    assert doc["info"]["title"] and doc["info"]["description"]
    protocols = {server["protocol"] for server in doc["servers"].values()}
    assert "mqtt" in protocols and len(protocols) == 2  # plain and TLS
    assert any(server["host"] == "127.0.0.1:1883" for server in doc["servers"].values())


def test_the_channels_are_the_topics_of_the_api() -> None:
    channels = document()["channels"]
    assert channels["requests"]["address"] == "cs/josev"
    assert channels["responses"]["address"] == "josev/cs"
    assert channels["responseTopicReply"]["address"] is None  # named at run time by the request's Response Topic
    assert channels["status"]["address"] == MqttConfig().status_topic


def test_operations_send_requests_and_receive_answers_at_qos_1_unretained() -> None:
    operations = document()["operations"]
    assert operations["sendRequest"]["action"] == "send"
    assert operations["sendRequest"]["channel"] == {"$ref": "#/channels/requests"}
    assert operations["sendRequest"]["reply"]["channel"] == {"$ref": "#/channels/responses"}
    assert operations["receiveResponse"]["action"] == "receive"
    assert operations["receiveResponse"]["channel"] == {"$ref": "#/channels/responses"}
    for name, operation in operations.items():
        assert operation["bindings"]["mqtt"]["qos"] == 1
        assert operation["bindings"]["mqtt"]["retain"] is (name == "receivePresence")  # presence alone is retained


def test_every_reference_resolves_and_operations_only_use_their_channels_messages() -> None:
    for ref in all_refs(document()):
        assert ref.startswith("#/"), ref
        resolve(ref)  # raises KeyError if it does not
    for name, operation in document()["operations"].items():
        channel = operation["channel"]["$ref"]
        for message in operation["messages"]:
            assert message["$ref"].startswith(channel + "/messages/"), (name, message)


def test_the_envelope_schemas_follow_the_seed() -> None:
    schemas = document()["components"]["schemas"]
    assert set(schemas["OcppVersion"]["enum"]) == set(OCPP_VERSIONS)
    assert set(schemas["MessageName"]["enum"]) == OFFERED  # what the routes declare, no more, no less
    assert set(SEED_ACTIONS) <= OFFERED
    request = schemas["OcppRequest"]["properties"]
    assert request["name"] == {"const": "ocpp_message"} and request["type"] == {"const": "request"}
    response = schemas["OcppResponse"]["properties"]
    assert response["type"] == {"const": "response"}
    assert set(response["data"]["properties"]["message_type"]["enum"]) == {"CallResult", "CallError"}
    assert response["data"]["properties"]["error_description"]["maxLength"] == 255
    codes = set(schemas["ErrorCode"]["enum"])
    assert {"FormatViolation", "FormationViolation", "OccurrenceConstraintViolation",
            "OccurenceConstraintViolation", "RpcFrameworkError"} <= codes


def test_x_ocpp_schema_names_files_that_the_ocpp_package_ships() -> None:
    package = resources.files("ocpp")
    for message_id, message in document()["components"]["messages"].items():
        pointers = message.get("x-ocpp-schema")
        if pointers is None:
            continue
        for version, path in pointers.items():
            if version == "package":
                continue
            assert version in OCPP_VERSIONS, (message_id, version)
            assert path.startswith("ocpp/"), path
            assert (package / path.removeprefix("ocpp/")).is_file(), (message_id, path)


def test_the_examples_cover_the_seed() -> None:
    actions = [p.values[2]["payload"]["data"]["message_name"] for p in REQUESTS]
    assert set(actions) >= set(SEED_ACTIONS)
    assert actions.count("GetVariables") >= 2
    types = {p.values[2]["payload"]["data"]["message_type"] for p in RESPONSES}
    assert types == {"CallResult", "CallError"}


# -- the examples ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("message_id", "message", "example"), REQUESTS)
def test_request_example_is_a_valid_envelope_and_a_valid_ocpp_request(message_id: str, message: dict[str, Any],
                                                                      example: dict[str, Any]) -> None:
    envelope = example["payload"]
    validator(envelope_schema("OcppRequest")).validate(envelope)
    validator(message["payload"]).validate(envelope)
    version, action = envelope["data"]["ocpp_version"], envelope["data"]["message_name"]
    assert action == message["x-ocpp-action"] and message["x-ocpp-kind"] == "request"
    assert version in message["x-ocpp-schema"], f"{message_id} does not name the {version} schema"
    assert schema_set(version, action).check(version, action, "request", envelope["data"]["payload"]) is None


@pytest.mark.parametrize(("message_id", "message", "example"), RESPONSES)
def test_response_example_is_a_valid_envelope_and_a_valid_ocpp_answer(message_id: str, message: dict[str, Any],
                                                                       example: dict[str, Any]) -> None:
    envelope = example["payload"]
    validator(envelope_schema("OcppResponse")).validate(envelope)
    validator(message["payload"]).validate(envelope)
    data = envelope["data"]
    if data["message_type"] == "CallError":
        assert data["error_code"] in document()["components"]["schemas"]["ErrorCode"]["enum"]
        assert "payload" not in data
        return
    version, action = data["ocpp_version"], message["x-ocpp-action"]
    assert message["x-ocpp-kind"] == "response"
    assert version in message["x-ocpp-schema"], f"{message_id} does not name the {version} schema"
    assert schema_set(version, action).check(version, action, "response", data["payload"]) is None


def test_the_envelope_schemas_reject_what_the_station_rejects() -> None:
    """The schemas are not vacuous: a few broken envelopes fail them."""
    [good] = [p.values[2]["payload"] for p in REQUESTS if p.values[2]["name"] == "GetVariables"]
    request = validator(envelope_schema("OcppRequest"))
    assert request.is_valid(good)
    for broken in ({**good, "id": "not-a-uuid"}, {**good, "name": "other"}, {**good, "type": "response"},
                   {**good, "data": {**good["data"], "ocpp_version": "ocpp2.0"}},
                   {**good, "data": {**good["data"], "payload": []}}):
        assert not request.is_valid(broken), broken
    response = validator(envelope_schema("OcppResponse"))
    error = {"id": "-1", "name": "ocpp_message", "type": "response",
             "data": {"ocpp_version": "ocpp2.0.1", "message_type": "CallError", "error_code": "RpcFrameworkError",
                      "error_description": "x", "error_details": {}}}
    assert response.is_valid(error)
    versionless = {**error, "data": {k: v for k, v in error["data"].items() if k != "ocpp_version"}}
    assert not response.is_valid(versionless)  # issue 12: the seed's OcppResponse requires a version
    assert not response.is_valid({**error, "data": {**error["data"], "error_code": "Oops"}})
    assert not response.is_valid({**error, "data": {**error["data"], "error_description": "x" * 256}})
    assert not response.is_valid({**error, "data": {"message_type": "CallResult", "ocpp_version": "ocpp2.0.1"}})


# -- presence --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("message_id", "message", "example"), PRESENCE)
def test_presence_example_fits_its_schema_and_reads_back(message_id: str, message: dict[str, Any],
                                                         example: dict[str, Any]) -> None:
    validator(message["payload"]).validate(example["payload"])
    read = presence.read("CS-0001", json.dumps(example["payload"]).encode())
    assert read is not None and read.state == example["payload"]["state"]
    assert read.reason == example["payload"].get("reason") and read.since == example["payload"].get("since")


def test_what_the_station_publishes_as_presence_fits_the_documented_schemas() -> None:
    """The station's own presence messages (presence.py) against the document: they cannot drift apart."""
    online_schema = validator(envelope_schema("StationOnline"))
    for link in (presence.CsmsLink(False), presence.CsmsLink(True),
                 presence.CsmsLink(True, True, "Accepted", "ocpp2.0.1", 1), presence.CsmsLink(True, True, "Pending",
                                                                                             "ocpp1.6", 2)):
        body = presence.online("CS-1", since="2026-12-02T10:00:00Z", station={
            "vendorName": "v", "model": "m", "serialNumber": "s", "firmwareVersion": "f"},
            ocpp_versions=OCPP_VERSIONS, topics={"requests": "cs/josev", "answers": "josev/cs"}, csms=link,
            offered=("ocpp2.1", "ocpp1.6"))
        online_schema.validate(json.loads(body))
    offline_schema = validator(envelope_schema("StationOffline"))
    for reason in (presence.STOPPED, presence.RECONNECTING, presence.LOST):
        offline_schema.validate(json.loads(presence.offline("CS-1", reason)))
        offline_schema.validate(json.loads(presence.offline("CS-1", reason, "2026-12-02T10:00:00Z")))
    assert not offline_schema.is_valid({"state": "offline", "identity": "CS-1", "reason": "bored"})

"""``ocpp-station get|set --ocpp-version ocpp1.6`` end to end: GetConfiguration and ChangeConfiguration (1.6 §5.8,
§5.3) through a real mosquitto and a real station process, and the same GetConfiguration from the user's own tool,
``mosquitto_rr``.

The 1.6 keys are views of the 2.x variables (``station/configuration_keys.py``): a key changed in 1.6 is read back
by a 2.0.1 GetVariables. AuthorizationKey is SecurityCtrlr.BasicAuthPassword: write-only, so its value never appears
in any output, neither as a table nor with ``--json`` (whitepaper A01.FR.12). The commands and fixtures are those of
``test_oem_cli.py`` and ``test_interop.py``, imported, not copied.
"""

from __future__ import annotations

import json
import uuid

from ocpp_station.station.configuration_keys import catalogue

from ..support import Mosquitto, StationProcess, check_response, envelope
from .test_interop import mosquitto_rr
from .test_oem_cli import cli, table

V16 = ("--ocpp-version", "ocpp1.6")
EXIT_OK, EXIT_REFUSED = 0, 1
KEYS = [key.key for key in catalogue()]  # every key, in the order GetConfiguration lists them
AUTHORIZATION_KEY = "cli16-AuthKey-7c41e9d0b2a8"  # 26 characters: a valid Basic-auth password (16 to 64)
OTHER_AUTHORIZATION_KEY = "cli16-OtherKey-5f3a8e21c6d9"


# -- help --------------------------------------------------------------------------------------------------------

def test_help_of_get_and_set_names_ocpp16() -> None:
    for command, action in (("get", "GetConfiguration"), ("set", "ChangeConfiguration")):
        done = cli(command, "--help")
        assert done.returncode == EXIT_OK, done.stderr
        assert "ocpp1.6" in done.stdout and action in done.stdout, done.stdout


# -- get: GetConfiguration ---------------------------------------------------------------------------------------

def test_get_16_without_a_key_lists_every_key_as_a_table(station: StationProcess, mosquitto: Mosquitto) -> None:
    done = cli("get", *V16, mosquitto=mosquitto)
    assert done.returncode == EXIT_OK, done.stderr
    rows = table(done.stdout)
    assert rows[0] == ["KEY", "ACCESS", "VALUE"]
    assert [row[0] for row in rows[1:]] == KEYS
    found = {row[0]: row[1:] for row in rows[1:]}
    assert found["AuthorizationKey"] == ["read-write", "(write-only)"]  # listed, its value never shown
    assert found["NumberOfConnectors"] == ["read-only", "1"]  # the default station: one connector
    assert found["GetConfigurationMaxKeys"] == ["read-only", "100"]  # = DeviceDataCtrlr.ItemsPerMessage[GetVariables]
    assert found["SecurityProfile"][0] == "read-write"  # read-only in 2.x; the 1.6 A05 upgrade writes it


def test_get_16_without_a_key_json_lists_every_key(station: StationProcess, mosquitto: Mosquitto) -> None:
    done = cli("get", *V16, "--json", mosquitto=mosquitto)
    assert done.returncode == EXIT_OK, done.stderr
    answer = json.loads(done.stdout)
    assert [item["key"] for item in answer["configurationKey"]] == KEYS
    assert answer["unknownKey"] == []
    values = {item["key"]: item for item in answer["configurationKey"]}
    assert values["AuthorizationKey"] == {"key": "AuthorizationKey", "readonly": False, "value": None}
    assert values["HeartbeatInterval"]["readonly"] is False and values["HeartbeatInterval"]["value"].isdigit()


def test_get_16_with_an_unknown_key_exits_refused(station: StationProcess, mosquitto: Mosquitto) -> None:
    done = cli("get", *V16, "heartbeatinterval", "NoSuchKey", mosquitto=mosquitto)
    assert done.returncode == EXIT_REFUSED, done.stderr
    rows = table(done.stdout)
    assert rows[1][:2] == ["HeartbeatInterval", "read-write"] and rows[1][2].isdigit()  # the station's spelling
    assert rows[2] == ["NoSuchKey", "unknown"]

    done = cli("get", *V16, "CpoName", "NoSuchKey", "--json", mosquitto=mosquitto)
    assert done.returncode == EXIT_REFUSED, done.stderr
    answer = json.loads(done.stdout)
    assert [item["key"] for item in answer["configurationKey"]] == ["CpoName"]
    assert answer["unknownKey"] == ["NoSuchKey"]


# -- set: ChangeConfiguration ------------------------------------------------------------------------------------

def test_set_16_changes_the_2x_variable_and_masks_the_authorization_key(station: StationProcess,
                                                                        mosquitto: Mosquitto) -> None:
    done = cli("set", *V16, "HeartbeatInterval=300", f"AuthorizationKey={AUTHORIZATION_KEY}", mosquitto=mosquitto)
    assert done.returncode == EXIT_OK, done.stderr
    rows = table(done.stdout)
    assert rows[0] == ["KEY", "VALUE", "STATUS", "NOTE"]
    assert rows[1] == ["HeartbeatInterval", "300", "Accepted"]
    assert rows[2] == ["AuthorizationKey", "***", "Accepted"]
    assert AUTHORIZATION_KEY not in done.stdout + done.stderr

    # One value, whichever version reads it: HeartbeatInterval is OCPPCommCtrlr.HeartbeatInterval.
    done = cli("get", "OCPPCommCtrlr.HeartbeatInterval", mosquitto=mosquitto)
    assert done.returncode == EXIT_OK, done.stderr
    assert table(done.stdout)[1] == ["OCPPCommCtrlr.HeartbeatInterval", "Accepted", "300"]

    done = cli("set", *V16, f"authorizationkey={OTHER_AUTHORIZATION_KEY}", "--json", mosquitto=mosquitto)
    assert done.returncode == EXIT_OK, done.stderr
    assert json.loads(done.stdout) == [{"key": "authorizationkey", "value": "***", "status": "Accepted",
                                        "rebootRequired": False}]
    done = cli("get", *V16, "AuthorizationKey", "--json", mosquitto=mosquitto)
    assert json.loads(done.stdout)["configurationKey"] == [{"key": "AuthorizationKey", "readonly": False,
                                                            "value": None}]
    everything = done.stdout + done.stderr + station.log_text()
    assert AUTHORIZATION_KEY not in everything and OTHER_AUTHORIZATION_KEY not in everything


def test_set_16_of_a_read_only_or_unknown_key_exits_refused(station: StationProcess, mosquitto: Mosquitto) -> None:
    done = cli("set", *V16, "NumberOfConnectors=2", mosquitto=mosquitto)
    assert done.returncode == EXIT_REFUSED, done.stderr
    assert table(done.stdout)[1] == ["NumberOfConnectors", "2", "Rejected"]

    done = cli("set", *V16, "NoSuchKey=1", "AuthorizationKey=too-short", "--json", mosquitto=mosquitto)
    assert done.returncode == EXIT_REFUSED, done.stderr
    assert [(r["key"], r["status"]) for r in json.loads(done.stdout)] == [("NoSuchKey", "NotSupported"),
                                                                          ("AuthorizationKey", "Rejected")]
    assert "too-short" not in done.stdout

    done = cli("get", *V16, "NumberOfConnectors", mosquitto=mosquitto)
    assert table(done.stdout)[1] == ["NumberOfConnectors", "read-only", "1"]  # unchanged


# -- the user's own tool -----------------------------------------------------------------------------------------

def test_mosquitto_rr_get_configuration_16_is_answered_by_the_16_schema(station: StationProcess,
                                                                        mosquitto: Mosquitto) -> None:
    """A 1.6 GetConfiguration envelope from ``mosquitto_rr``; the answer is checked against the official 1.6
    GetConfigurationResponse schema (:func:`check_response`)."""
    request = envelope("GetConfiguration", {"key": ["HeartbeatInterval", "AuthorizationKey", "NoSuchKey"]}, "ocpp1.6")
    printed = mosquitto_rr(mosquitto.port, json.dumps(request), f"oem16/replies/{uuid.uuid4().hex}")
    answer = json.loads(printed)
    check_response(answer, "GetConfiguration", "ocpp1.6")
    assert answer["id"] == request["id"] and answer["data"]["message_type"] == "CallResult", answer
    payload = answer["data"]["payload"]
    keys = {item["key"]: item for item in payload["configurationKey"]}
    assert list(keys) == ["HeartbeatInterval", "AuthorizationKey"]
    assert keys["HeartbeatInterval"]["readonly"] is False and keys["HeartbeatInterval"]["value"].isdigit()
    assert "value" not in keys["AuthorizationKey"]  # write-only: listed without a value
    assert payload["unknownKey"] == ["NoSuchKey"]

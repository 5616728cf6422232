"""Every secret a network profile can hold is masked wherever a profile is shown (issue 15 item 5).

``SECRET_FIELDS`` in station/network.py is the one declaration of a profile's secrets;
``NetworkProfile.public()`` (every log line and listing of a profile) masks what it names. These
tests tie it to the official schemas the ``ocpp`` package ships: a password-, key- or PIN-like field
of SetNetworkProfile's connectionData that is not declared fails here, so a field that a new OCPP
release adds is masked before it can reach a log. The scan over real processes is
tests/integration/test_secrets_scan.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from importlib import resources
from typing import Any

import pytest

from ocpp_station.station.network import MASK, SECRET_FIELDS, NetworkProfile
from ocpp_station.station.shape import catalogue
from ocpp_station.versions import profile as version_profile

Path_ = tuple[str, ...]

# The words of a field name that say "secret" (a camelCase name is read word by word: simPin holds
# "pin", ocppInterface does not). Generous on purpose: a false alarm costs one look, a miss a leak.
SECRET_WORDS = frozenset({"password", "passwd", "passphrase", "pass", "secret", "key", "pin", "puk", "psk",
                          "token", "credential", "credentials"})


def secret_like(name: str) -> bool:
    return any(word.casefold() in SECRET_WORDS for word in re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])", name))

# Every field of a 2.1 NetworkConnectionProfileType, each secret with a value found nowhere else.
FULL_PROFILE: dict[str, Any] = {
    "ocppCsmsUrl": "ws://csms.example.com/ocpp", "securityProfile": 1, "ocppInterface": "Wired0",
    "ocppTransport": "JSON", "ocppVersion": "OCPP21", "messageTimeout": 30, "identity": "CS-secret-fields",
    "basicAuthPassword": "bap-Qm3RtZ8vLw2Kx9Nf",
    "vpn": {"server": "vpn.example.com", "user": "vpn-user", "group": "vpn-group", "password": "vpw-Hs7Jd2Lq9Xc4",
            "key": "vkey-Pz5Wm8Tn3Rb6Yv1Gk", "type": "IKEv2"},
    "apn": {"apn": "internet.example", "apnAuthentication": "CHAP", "apnUserName": "apn-user",
            "apnPassword": "apw-Fk4Ns9Vx2Mc7", "simPin": 73190548, "preferredNetwork": "26201",
            "useOnlyPreferredNetwork": True},
}


def _schema(ocpp_version: str) -> dict[str, Any]:
    """The official SetNetworkProfile request schema, read from the ``ocpp`` package as rpc/schemas.py does."""
    found = version_profile(ocpp_version)
    folder = resources.files("ocpp") / found.schema_folder / "schemas"
    return json.loads((folder / f"SetNetworkProfile{found.request_schema_suffix}.json").read_text("utf-8"))


def _fields(schema: dict[str, Any], node: dict[str, Any], prefix: Path_ = ()) -> Iterator[Path_]:
    """Every property path below ``node``, through the schema's ``#/definitions/…`` references."""
    while "$ref" in node:
        node = schema["definitions"][node["$ref"].removeprefix("#/definitions/")]
    for name, sub in node.get("properties", {}).items():
        yield (*prefix, name)
        yield from _fields(schema, sub, (*prefix, name))


def connection_data_fields(ocpp_version: str) -> set[Path_]:
    schema = _schema(ocpp_version)
    return set(_fields(schema, schema["properties"]["connectionData"]))


def _at(data: Any, path: Path_) -> Any:
    for part in path:
        data = data[part]
    return data


def test_secret_like_reads_names_word_by_word() -> None:
    assert [secret_like(n) for n in ("simPin", "apnPassword", "key", "vpnPreSharedKey", "ocppInterface",
                                     "apnUserName", "preferredNetwork")] == [True, True, True, True, False,
                                                                              False, False]


@pytest.mark.parametrize("ocpp_version", ["ocpp2.0.1", "ocpp2.1"])
def test_every_secret_like_field_of_the_official_schema_is_declared_secret(ocpp_version: str) -> None:
    found = {path for path in connection_data_fields(ocpp_version) if secret_like(path[-1])}
    assert found, "the schema walk found nothing: it is broken"
    undeclared = found - set(SECRET_FIELDS)
    assert not undeclared, f"{ocpp_version} defines secret fields that public() would show: {sorted(undeclared)}"


def test_every_declared_secret_field_is_one_a_schema_defines() -> None:
    """A misspelt path in SECRET_FIELDS would mask nothing while looking as if it did."""
    defined = connection_data_fields("ocpp2.0.1") | connection_data_fields("ocpp2.1")
    assert set(SECRET_FIELDS) <= defined, sorted(set(SECRET_FIELDS) - defined)


def test_the_sample_profile_holds_every_declared_secret() -> None:
    """So that the parametrized test below really sets each field it names."""
    for path in SECRET_FIELDS:
        assert _at(FULL_PROFILE, path) is not None


@pytest.mark.parametrize("path", SECRET_FIELDS, ids="/".join)
def test_public_masks_the_secret_and_repr_leaves_it_out(path: Path_) -> None:
    stored = NetworkProfile.from_ocpp(2, FULL_PROFILE)
    secret = str(_at(FULL_PROFILE, path))
    shown = stored.public()
    assert _at(shown, path) == MASK
    assert secret not in json.dumps(shown)
    assert secret not in repr(stored) and secret not in str(stored)  # an exception or a debug print
    assert _at(stored.to_ocpp(), path) == _at(FULL_PROFILE, path)  # stored and used as it was sent


def test_public_shows_every_other_field_as_it_is() -> None:
    shown = NetworkProfile.from_ocpp(2, FULL_PROFILE).public()
    for path in SECRET_FIELDS:  # the masked ones were checked above; the rest must be untouched
        holder = _at(shown, path[:-1])
        holder[path[-1]] = _at(FULL_PROFILE, path)
    assert shown == FULL_PROFILE


def test_a_profile_without_secrets_is_shown_without_masks() -> None:
    """A mask where there is no secret would suggest one is set."""
    plain = {name: value for name, value in FULL_PROFILE.items() if name not in ("basicAuthPassword", "vpn", "apn")}
    without_pin = {**FULL_PROFILE["apn"]}
    del without_pin["apnPassword"], without_pin["simPin"]
    assert NetworkProfile.from_ocpp(3, plain).public() == plain
    assert NetworkProfile.from_ocpp(3, {**plain, "apn": without_pin}).public() == {**plain, "apn": without_pin}


# A device-model variable whose name says it holds a secret. Narrower than SECRET_WORDS: the catalogue
# has public keys (PublicKeyWithSignedMeterValue) and token *types* (SupportedIdTokenTypes), not secret.
SECRET_VARIABLE = re.compile(r"password|secret|private", re.IGNORECASE)


def test_every_secret_variable_of_the_device_model_is_write_only() -> None:
    """SecurityCtrlr.BasicAuthPassword and the 2.1 NetworkConfiguration[slot].BasicAuthPassword: never read back."""
    found = {(component["name"], variable["name"]): [a["mutability"] for a in variable["attributes"]]
             for component in catalogue()["components"] for variable in component["variables"]
             if SECRET_VARIABLE.search(variable["name"])}
    assert {("SecurityCtrlr", "BasicAuthPassword"), ("NetworkConfiguration", "BasicAuthPassword")} <= set(found)
    readable = {name: kinds for name, kinds in found.items() if set(kinds) != {"WriteOnly"}}
    assert not readable, f"secret variables that GetVariables would answer: {readable}"


def test_the_values_that_carry_connection_secrets_leave_them_out_of_repr() -> None:
    """A debug line or a traceback that prints one of these must not print the password it carries."""
    from ocpp_station.api.connection import BrokerAddress
    from ocpp_station.config import Config, MqttConfig
    from ocpp_station.csms.connection import endpoint
    from ocpp_station.station.connections import ConnectionTarget

    secret = "Repr-Secret-9b8c7d6e5f"
    address = BrokerAddress.parse(f"mqtt://station:{secret}@broker.example:1883")
    config = Config(mqtt=MqttConfig(url=f"mqtt://station:{secret}@broker.example:1883"))
    target = ConnectionTarget(slot=1, url="ws://csms.example/ocpp/CS1", identity="CS1", password=secret,
                              security_profile=1, message_timeout=30, offered_versions=("ocpp2.0.1",))
    shown = endpoint(target, roots=None, own=None)
    assert address.password == secret and shown.headers  # they do carry it
    authorization = shown.headers["Authorization"]  # Basic base64(identity:password)
    for value in (address, config, target, shown):
        assert secret not in repr(value) and authorization not in repr(value), type(value).__name__

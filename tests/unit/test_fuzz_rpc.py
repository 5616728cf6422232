"""Property-based fuzzing of the envelope and RPC core, in process, through :meth:`Station.handle`.

Whatever arrives on ``cs/josev`` — random bytes, arbitrary JSON, envelopes with a field gone wrong,
well-formed requests whose payload was mutated from a valid one — the station must

* never let an exception escape, and never answer with an InternalError (that would be a bug of ours);
* give at most one answer, and none only for a response seen on the request topic;
* answer with a well-formed OcppResponse: ``name`` ocpp_message, ``type`` response, ``message_type``
  CallResult or CallError, a CallError with a known code, a string description of at most 255
  characters and an object of details; the request's id when it could be read (a string of 1–36
  characters), else ``"-1"``; the request's version when it named a known one; for bytes that are
  not JSON, ``"-1"`` or an id (and a version) the bytes do hold under ``"id"`` (issue 15: the id of
  a message broken further on is recovered; never one the station made up);
* for a CallResult, give a payload that conforms to the official response schema, checked with the
  pure-Python ``jsonschema`` package (not the jsonschema-rs validators the station itself uses);
* still answer a plain GetVariables afterwards, and give a repeated request its first answer.

The example counts below add up to 11,000 generated inputs per run (see ``EXAMPLES``). The inputs
are the same every run (``derandomize``): the suite's verdict does not depend on chance, and its
time is that of a fixed set of inputs. ``OCPP_STATION_FUZZ_EXPLORE=1`` explores new inputs instead
(a failure prints how to replay it). Each property runs on a station of its own, and checks that
the station still serves once all its examples have run.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
import random
import re
import string
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, note, settings
from hypothesis import strategies as st

from ocpp_station.app import Station
from ocpp_station.config import Config

from ..seed_vectors import SEED_HASH_DATA, SEED_PEM
from ..support import ERROR_CODES, check_envelope, response_validator

VERSIONS = ("ocpp1.6", "ocpp2.0.1", "ocpp2.1")
SEED_ACTIONS = ("GetVariables", "GetInstalledCertificateIds", "SetVariables", "InstallCertificate",
                "DeleteCertificate", "SetNetworkProfile")
MAX_ID_LENGTH = 36

# Examples per strategy; their sum is the number of inputs one run of this file generates.
EXAMPLES = {"bytes": 3700, "json": 1200, "envelope_fields": 2300, "payloads": 2300, "byte_mutations": 1500}
assert sum(EXAMPLES.values()) >= 10_000


# The inputs are the same every run, in CI and on a developer's machine alike: a fixed, reproducible set
# (hypothesis derives them from each test's name). Exploring new inputs is asked for explicitly.
DERANDOMIZE = os.environ.get("OCPP_STATION_FUZZ_EXPLORE") != "1"


def _settings(name: str) -> settings:
    return settings(max_examples=EXAMPLES[name], deadline=None, database=None, derandomize=DERANDOMIZE,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much, HealthCheck.large_base_example])


# ---------------------------------------------------------------------------------------------------------
# Valid payloads (from the seed's examples), which the mutation strategies start from
# ---------------------------------------------------------------------------------------------------------

GET_ONE = {"getVariableData": [{"component": {"name": "TxCtrlr"}, "variable": {"name": "TxStartPoint"}}]}
VALID_PAYLOADS: dict[str, list[dict[str, Any]]] = {
    "GetVariables": [
        GET_ONE,
        {"getVariableData": [
            {"attributeType": "Actual", "component": {"name": "OCPPCommCtrlr"},
             "variable": {"name": "OfflineThreshold"}},
            {"attributeType": "Actual", "component": {"name": "AuthCtrlr"},
             "variable": {"name": "LocalAuthorizeOffline"}},
        ]},
        {"getVariableData": [
            {"component": {"name": "EVSE", "evse": {"id": 1}}, "variable": {"name": "Power"},
             "attributeType": "MaxSet"},
            {"component": {"name": "Connector", "evse": {"id": 1, "connectorId": 1}},
             "variable": {"name": "ConnectorType"}},
            {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "CertificateEntries"}},
        ]},
    ],
    "SetVariables": [
        {"setVariableData": [
            {"attributeType": "Actual", "attributeValue": "300", "component": {"name": "OCPPCommCtrlr"},
             "variable": {"name": "OfflineThreshold"}},
            {"attributeType": "Actual", "attributeValue": "true", "component": {"name": "AuthCtrlr"},
             "variable": {"name": "LocalAuthorizeOffline"}},
        ]},
        {"setVariableData": [{"attributeValue": "120", "component": {"name": "OCPPCommCtrlr"},
                              "variable": {"name": "HeartbeatInterval"}}]},
        {"setVariableData": [{"attributeValue": "EVConnected,Authorized", "component": {"name": "TxCtrlr"},
                              "variable": {"name": "TxStartPoint"}}]},
    ],
    "InstallCertificate": [
        {"certificateType": "CSMSRootCertificate", "certificate": SEED_PEM},
        {"certificateType": "ManufacturerRootCertificate", "certificate": SEED_PEM},
        {"certificateType": "CentralSystemRootCertificate", "certificate": SEED_PEM},  # 1.6
    ],
    "DeleteCertificate": [{"certificateHashData": SEED_HASH_DATA}],
    "GetInstalledCertificateIds": [
        {},
        {"certificateType": ["CSMSRootCertificate", "V2GCertificateChain"]},
        {"certificateType": "CentralSystemRootCertificate"},  # 1.6
    ],
    "SetNetworkProfile": [
        {"configurationSlot": 2, "connectionData": {
            "ocppCsmsUrl": "wss://324595e6999a17ae.octt.openchargealliance.org:18603", "ocppInterface": "Wired0",
            "ocppTransport": "JSON", "ocppVersion": "OCPP20", "securityProfile": 2, "messageTimeout": 75}},
        {"configurationSlot": 3, "connectionData": {
            "ocppCsmsUrl": "ws://127.0.0.1:9000/ocpp", "ocppInterface": "Wireless0", "ocppTransport": "JSON",
            "ocppVersion": "OCPP20", "securityProfile": 1, "messageTimeout": 30,
            "apn": {"apn": "internet", "apnAuthentication": "AUTO", "apnUserName": "u", "apnPassword": "p"}}},
    ],
}

# ---------------------------------------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------------------------------------

HUGE_INTS = (2**63, -(2**63) - 1, 2**64, 10**40, -(10**40), 2**1000)
ODD_STRINGS = ("", "-1", "\u0000", "\ud800", "\udfff", "\ud7ff\ue000", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "a" * 300, "é" * 256, "\u202e",
               "true", "null", "1e400", "NaN")
# JSON-ish values, generated by hypothesis (used as whole messages, where shrinking helps most).
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.sampled_from(HUGE_INTS),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=16), st.sampled_from(ODD_STRINGS))
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.text(max_size=8), children, max_size=4)),
    max_leaves=10)

# The structured strategies below let hypothesis choose what to break and a seeded random.Random choose
# the details: drawing every node of a mutated payload through hypothesis costs ~7 ms an example, which
# would not fit 10,000 examples in the time budget. A failure still reproduces (the seed is part of the
# example) and is reported with the message that was sent (``note``).
SEEDS = st.integers(0, 2**64 - 1)
FRESH = object()  # stands for a new uuid4, made when the example runs: no two requests share an id by chance


def random_json(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(12 if depth < 3 else 8)
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind == 2:
        return rng.randint(-(2**70), 2**70) if rng.random() < 0.3 else rng.randint(-1000, 1000)
    if kind == 3:
        return rng.choice(HUGE_INTS)
    if kind == 4:
        return rng.choice((0.0, -0.0, 1e308, -1e-308, 5e-324, 0.1, rng.uniform(-1e9, 1e9)))
    if kind == 5:
        return rng.choice(ODD_STRINGS)
    if kind in (6, 7):
        alphabet = rng.choice((string.printable, "abcdefABCDEF0123456789-", "\"\\/\b\f\n\r\t\u0000\u001f",
                               "äöü€𝄞\u200b\ufeff\ufffd"))
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(24)))
    if kind in (8, 9):
        return [random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {random_json_key(rng): random_json(rng, depth + 1) for _ in range(rng.randrange(4))}


def random_json_key(rng: random.Random) -> str:
    return rng.choice(("", "id", "type", "data", "payload", "component", "variable", "name", "evse", "__proto__",
                       "x" * 40, "\u0000", "é")) if rng.random() < 0.6 else str(rng.randrange(10**6))


def mutate(rng: random.Random, value: Any, rate: float, depth: int = 0) -> Any:
    """``value`` with random changes: fields dropped, added or retyped, lists emptied or repeated …"""
    if depth > 8 or rng.random() > rate:
        return copy.deepcopy(value)
    if rng.random() < 0.15:
        return random_json(rng)  # replace this node altogether
    if isinstance(value, dict):
        result = {k: mutate(rng, v, rate, depth + 1) for k, v in value.items()}
        roll = rng.random()
        if roll < 0.2 and result:
            result.pop(rng.choice(sorted(result)))
        elif roll < 0.35:
            result[random_json_key(rng)] = random_json(rng)
        elif roll < 0.45 and result:  # a known key under another spelling
            key = rng.choice(sorted(result))
            result[rng.choice((key.upper(), key + " ", key[:-1], key.lower()))] = result.pop(key)
        return result
    if isinstance(value, list):
        result = [mutate(rng, v, rate, depth + 1) for v in value]
        roll = rng.random()
        if roll < 0.15:
            return []
        if roll < 0.3 and result:
            return result * rng.choice((2, 3, 101))  # beyond the announced ItemsPerMessage
        if roll < 0.4 and result:
            result.pop(rng.randrange(len(result)))
        return result
    if isinstance(value, str):
        return rng.choice((
            lambda: value * rng.randrange(2, 60), lambda: value[: rng.randrange(len(value) + 1)],
            lambda: value.lower(), lambda: value.upper(), lambda: value + rng.choice(ODD_STRINGS),
            lambda: random_json(rng, 99) if rng.random() < 0.5 else str(rng.randrange(-5, 10**6)),
        ))()
    if isinstance(value, bool):
        return rng.choice((not value, "true", 1, None))
    if isinstance(value, int):
        return rng.choice((0, -1, value + 1, 2**31, 2**31 - 1, float(value), str(value), *HUGE_INTS[:3]))
    return random_json(rng)


ID_KINDS = st.sampled_from(["fresh"] * 6 + ["mangled", "mangled", "json"])
OTHER_ACTIONS = st.sampled_from(["BootNotification", "Reset", "GetConfiguration", "ChangeConfiguration",
                                 "getvariables", "GetVariables ", "DataTransfer", "", "Get Variables",
                                 "GetVariablesRequest", "x" * 300])
ACTIONS = st.one_of(st.sampled_from(SEED_ACTIONS), st.sampled_from(SEED_ACTIONS), st.sampled_from(SEED_ACTIONS),
                    OTHER_ACTIONS)
BASE_PAYLOADS = st.sampled_from([(a, p) for a, ps in VALID_PAYLOADS.items() for p in ps])
RATES = st.sampled_from([0.0, 0.2, 0.4, 0.6, 0.9])


def request_id(kind: str, rng: random.Random) -> Any:
    """A fresh UUID, or something an id should not be."""
    if kind == "fresh":
        return FRESH
    if kind == "json":
        return random_json(rng)
    fresh = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    return rng.choice([
        fresh.upper(), fresh.replace("-", ""), "{" + fresh + "}", fresh[:35], fresh + "0", fresh + "x" * 30,
        "", "-1", "not-a-uuid", None, 12345, 2**70, 1.5, True, [fresh], {"id": fresh}, "x" * 36, "é" * 36,
        "\u0000" * 10, "ü" + fresh[1:], fresh.replace("-", "_"), " " + fresh, fresh[:8] + "-" + "0" * 27,
    ])


@st.composite
def mutated_requests(draw: st.DrawFn) -> dict[str, Any]:
    """A well-formed request whose payload was mutated from a valid one (action and version drawn too)."""
    base_action, payload = draw(BASE_PAYLOADS)
    rng = random.Random(draw(SEEDS))
    action = base_action if draw(st.integers(0, 9)) else draw(ACTIONS)
    return {"id": FRESH, "name": "ocpp_message", "type": "request",
            "data": {"ocpp_version": draw(st.sampled_from(VERSIONS)), "message_name": action,
                     "payload": mutate(rng, payload, draw(RATES))}}


FIELD_CHOICE = st.sampled_from(["right"] * 7 + ["wrong", "wrong", "missing"])
WRONG_WORDS = ["", "OCPP_MESSAGE", "ocpp_message ", "Request", "response", "call", "ocpp2.0", "ocpp2.0.1 ",
               "OCPP2.0.1", "ocpp1.5", "ocpp2.1\u0000", "CallResult", "ocpp_message\n"]


@st.composite
def envelopes_with_bad_fields(draw: st.DrawFn) -> Any:
    """An envelope in which each field may be missing, wrong, or of the wrong type."""
    base_action, payload = draw(BASE_PAYLOADS)
    rng = random.Random(draw(SEEDS))

    def wrong() -> Any:
        return rng.choice(WRONG_WORDS) if rng.random() < 0.5 else random_json(rng)

    message: dict[str, Any] = {}
    rights = {"id": FRESH, "name": "ocpp_message", "type": "request"}
    for key, right in rights.items():
        choice = draw(FIELD_CHOICE)
        if choice == "right":
            message[key] = right
        elif choice == "wrong":
            message[key] = request_id(draw(ID_KINDS), rng) if key == "id" else wrong()
    data: dict[str, Any] = {}
    rights = {"ocpp_version": draw(st.sampled_from(VERSIONS)), "message_name": base_action,
              "payload": mutate(rng, payload, 0.2)}
    for key, right in rights.items():
        choice = draw(FIELD_CHOICE)
        if choice == "right":
            data[key] = right
        elif choice == "wrong":
            data[key] = wrong()
    if draw(st.booleans()):
        data[rng.choice(["message_type", "extra", "payload2", "error_code"])] = random_json(rng)
    choice = draw(st.integers(0, 9))
    if choice <= 7:
        message["data"] = data
    elif choice == 8:
        message["data"] = random_json(rng)
    if draw(st.integers(0, 4)) == 0:
        message[random_json_key(rng)] = random_json(rng)
    if draw(st.integers(0, 19)) == 0:
        return [message]  # an array, not an object
    return message


# ---------------------------------------------------------------------------------------------------------
# The station and the oracle
# ---------------------------------------------------------------------------------------------------------

@pytest.fixture
def station(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Station]:
    """A station of each property's own: what one property's inputs changed, no other sees."""
    config = replace(Config(), data_dir=tmp_path_factory.mktemp("fuzz") / "data")
    engine = Station(config)
    logger = logging.getLogger("ocpp_station")
    level = logger.level
    logger.setLevel(logging.ERROR)  # one WARNING per bad request would only slow the run down
    yield engine
    logger.setLevel(level)
    engine.close()


def _fill_ids(value: Any) -> Any:
    """Replace the FRESH placeholders by new uuid4 strings."""
    if value is FRESH:
        return str(uuid.uuid4())
    if isinstance(value, dict):
        return {k: _fill_ids(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill_ids(v) for v in value]
    return value


def _serialize(message: Any, compact: bool) -> bytes:
    text = json.dumps(message, ensure_ascii=compact, separators=(",", ":") if compact else None)
    return text.encode("utf-8", errors="surrogatepass")


def _read_json(raw: bytes) -> tuple[bool, Any]:
    """(True, value) if ``raw`` is JSON as RFC 8259 defines it (UTF-8, no NaN, no lone surrogates)."""
    def refuse(name: str) -> Any:
        raise ValueError(name)
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=refuse)
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (ValueError, RecursionError):  # UnicodeError and JSONDecodeError are ValueErrors
        return False, None
    return True, value


def _strings_under(raw: bytes, key: str) -> set[str]:
    """Every string that ``raw`` holds as the value of a member named ``key``, wherever it is: the
    most an id recovered from broken bytes may be (the oracle is looser than the station on purpose)."""
    found = set()
    for token in re.finditer(rb'"' + key.encode() + rb'"\s*:\s*("(?:[^"\\]|\\.)*")', raw, re.DOTALL):
        with contextlib.suppress(ValueError):
            found.add(json.loads(token.group(1).decode("utf-8")))
    return found


def check(station: Station, raw: bytes, in_hypothesis: bool = True) -> dict[str, Any] | None:
    """Send ``raw``; assert every property of the answer; return the decoded answer (or None)."""
    if in_hypothesis:
        note(f"request: {raw[:2000]!r}")
    answer = station.handle(raw)  # an exception here fails the test: nothing may escape
    is_json, message = _read_json(raw)
    is_object = is_json and isinstance(message, dict)
    if answer.body is None:  # issue 12: Josev's other messages, and answers, are not ours to answer
        name, kind = (message.get("name"), message.get("type")) if is_object else (None, None)
        assert isinstance(name, str) and isinstance(kind, str), (raw[:300], answer)
        assert name != "ocpp_message" or kind == "response", (raw[:300], answer)
        return None
    assert isinstance(answer.body, bytes), answer
    ok, body = _read_json(answer.body)
    assert ok and isinstance(body, dict), answer.body[:300]
    check_envelope(body)
    request_id = message.get("id") if is_object else None
    expected_id = request_id if isinstance(request_id, str) and 0 < len(request_id) <= MAX_ID_LENGTH else "-1"
    data = body.get("data")
    assert isinstance(data, dict), body
    request_data = message.get("data") if is_object else None
    request_version = request_data.get("ocpp_version") if isinstance(request_data, dict) else None
    if is_json:
        assert body.get("id") == expected_id, (raw[:300], body)
    else:  # issue 15 item 3: "-1", or an id recovered from what the bytes hold (never a made-up one)
        assert body.get("id") == "-1" or body.get("id") in _strings_under(raw, "id"), (raw[:300], body)
        assert data.get("message_type") == "CallError", body
        if data.get("ocpp_version") in _strings_under(raw, "ocpp_version"):
            request_version = data.get("ocpp_version")
    assert body.get("name") == "ocpp_message" and body.get("type") == "response", body
    if request_version in VERSIONS:
        assert data.get("ocpp_version") == request_version, (raw[:300], body)
    else:  # issue 12: the seed's OcppResponse requires a version; the station names its own
        assert data.get("ocpp_version") == "ocpp2.0.1", body
    if data.get("message_type") == "CallError":
        codes = ERROR_CODES["ocpp1.6" if data.get("ocpp_version") == "ocpp1.6" else "ocpp2.x"]
        assert data.get("error_code") in codes, body
        assert data["error_code"] != "InternalError", (raw[:300], body)  # a bug of ours, not of the request
        assert isinstance(data.get("error_description"), str) and len(data["error_description"]) <= 255, body
        assert isinstance(data.get("error_details"), dict), body
        assert "payload" not in data, body
    else:
        assert data.get("message_type") == "CallResult", body
        assert isinstance(request_data, dict), (raw[:300], body)
        payload = data.get("payload")
        assert isinstance(payload, dict), body
        response_validator(data["ocpp_version"], request_data["message_name"]).validate(payload)
    return body


def get_variables_still_works(station: Station) -> None:
    raw = json.dumps({"id": str(uuid.uuid4()), "name": "ocpp_message", "type": "request",
                      "data": {"ocpp_version": "ocpp2.0.1", "message_name": "GetVariables",
                               "payload": GET_ONE}}).encode()
    body = check(station, raw, in_hypothesis=False)
    assert body is not None and body["data"]["message_type"] == "CallResult", body
    [result] = body["data"]["payload"]["getVariableResult"]
    assert result["attributeStatus"] == "Accepted", result


# ---------------------------------------------------------------------------------------------------------
# The properties
# ---------------------------------------------------------------------------------------------------------

def still_serves(station: Station) -> None:
    """After a property's examples: a plain GetVariables is answered, and a repeated request gets its first answer."""
    get_variables_still_works(station)
    raw = json.dumps({"id": str(uuid.uuid4()), "name": "ocpp_message", "type": "request",
                      "data": {"ocpp_version": "ocpp2.0.1", "message_name": "GetVariables",
                               "payload": VALID_PAYLOADS["GetVariables"][2]}}).encode()
    first, second = check(station, raw, False), check(station, raw, False)
    assert first == second and first is not None and first["data"]["message_type"] == "CallResult"


def test_random_bytes(station: Station) -> None:
    @_settings("bytes")
    @given(raw=st.one_of(st.binary(max_size=300), st.text(max_size=200).map(lambda t: t.encode("utf-8"))))
    @example(raw=b"")
    @example(raw=b"\xef\xbb\xbf{}")  # a UTF-8 byte-order mark
    @example(raw=b'{"id": "\xff\xfe", "type": "request"}')
    @example(raw=b"[" * 5000 + b"]" * 5000)  # deeper than any JSON parser's recursion limit
    @example(raw=b'{"a":' * 3000 + b"1" + b"}" * 3000)
    @example(raw=b"1" * 5000)  # an integer beyond Python's int/str conversion limit
    @example(raw=b'{"id":"2b0aa109-21a1-4f2f-bdbd-6cdf139e7bb1","data":NaN}')
    @example(raw=b'{"id":"2b0aa109-21a1-4f2f-bdbd-6cdf139e7bb1","x":"\\ud800"}')  # a lone surrogate escape
    @example(raw=b'{"id":"\\u0000","name":"ocpp_message"}')
    def random_bytes(raw: bytes) -> None:
        check(station, raw)

    random_bytes()
    still_serves(station)


def test_random_json(station: Station) -> None:
    @_settings("json")
    @given(value=JSON_VALUES, compact=st.booleans())
    def random_json(value: Any, compact: bool) -> None:
        check(station, _serialize(value, compact))

    random_json()
    still_serves(station)


def test_envelopes_with_bad_fields(station: Station) -> None:
    @_settings("envelope_fields")
    @given(message=envelopes_with_bad_fields(), compact=st.booleans())
    def bad_fields(message: Any, compact: bool) -> None:
        check(station, _serialize(_fill_ids(message), compact))

    bad_fields()
    still_serves(station)


def test_mutated_payloads(station: Station) -> None:
    @_settings("payloads")
    @given(message=mutated_requests(), compact=st.booleans())
    def mutated_payloads(message: dict[str, Any], compact: bool) -> None:
        check(station, _serialize(_fill_ids(message), compact))

    mutated_payloads()
    still_serves(station)


def test_byte_level_mutations(station: Station) -> None:
    """Valid requests, then cut short, a byte replaced, or bytes inserted."""
    @_settings("byte_mutations")
    @given(message=mutated_requests(), edits=st.integers(1, 4), seed=SEEDS)
    def byte_mutations(message: dict[str, Any], edits: int, seed: int) -> None:
        rng = random.Random(seed)
        raw = bytearray(_serialize(_fill_ids(message), True))
        for _ in range(edits):
            where = rng.randrange(len(raw) + 1)
            kind = rng.randrange(3)
            if kind == 0:
                del raw[where:]
            elif kind == 1 and where < len(raw):
                raw[where] = rng.randrange(256)
            else:
                raw[where:where] = rng.choice((b"\"", b"\\", b"{", b"]", b",", b"\x00", b"\xff", b"\xc3",
                                               b"\\ud800", rng.randbytes(rng.randrange(1, 9))))
        check(station, bytes(raw))

    byte_mutations()
    still_serves(station)

"""Issue 15 item 4, in process: what a hostile client sends never forges a log line nor floods the log,
nesting is answered as the format error it is on both doors, and a broken message whose id is clear is
answered under that id.

The doors are the MQTT envelope (:meth:`Station.handle`, the bytes as the MQTT door hands them over) and
the CSMS frame (:func:`ocpp_station.csms.frames.parse`, then :meth:`Station.run` as the link runs a
CALL). Every envelope answer is checked with :func:`tests.support.check_response` (the seed's
OcppResponse), every frame answer is a CALLERROR frame of Part 4 §4.2.3. The OCPP-J sections the
rules come from: Part 4 §4.2.3 (the id of a CALLERROR; "-1" only when it cannot be read), §4.3 / 1.6
§4.2.3 (the error codes: RpcFrameworkError when the message is not a valid RPC message, FormatViolation
when the payload is not; 1.6 spells both FormationViolation).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ocpp_station import exact_json
from ocpp_station.app import Station
from ocpp_station.csms import frames
from ocpp_station.csms.session import Session
from ocpp_station.errors import MAX_PAYLOAD_DEPTH, UNKNOWN_ID, OcppError
from ocpp_station.logsafe import WIRE_LOGGERS, quiet_wire_loggers, shown
from ocpp_station.rpc import envelope
from ocpp_station.rpc.envelope import SNIFF_BYTES, Request, fingerprint, recover

from ..support import InProcessOem, ca_certificate, check_response

VERSIONS = ("ocpp1.6", "ocpp2.0.1", "ocpp2.1")
VERSIONS_2X = ("ocpp2.0.1", "ocpp2.1")
FORGED = "\n2026-12-02 04:00:00 ERROR forged"  # 33 characters: a readable id, and a log line of its own
LONG_INTEGER = b"12345678901234567890"  # 20 digits: the message goes to the exact (standard library) parser
GET_ONE = {"getVariableData": [{"component": {"name": "TxCtrlr"}, "variable": {"name": "TxStartPoint"}}]}
# One action each version routes, and a payload of it that is valid as it is.
VALID = {"ocpp1.6": ("GetInstalledCertificateIds", {"certificateType": "CentralSystemRootCertificate"}),
         "ocpp2.0.1": ("GetVariables", GET_ONE), "ocpp2.1": ("GetVariables", GET_ONE)}


def spelled(code: str, version: str) -> str:
    """``code`` (2.x name) as ``version`` spells it on the wire."""
    return {"RpcFrameworkError": "FormationViolation", "FormatViolation": "FormationViolation"}.get(code, code) \
        if version == "ocpp1.6" else code


def raw_request(version: str, action: str, payload_json: bytes, request_id: str | None = None) -> tuple[str, bytes]:
    """(id, bytes) of an envelope whose payload is ``payload_json`` as it is (possibly not JSON)."""
    request_id = request_id or str(uuid.uuid4())
    head = json.dumps({"id": request_id, "name": "ocpp_message", "type": "request"})[:-1]
    data = json.dumps({"ocpp_version": version, "message_name": action})[:-1]
    return request_id, (head + ', "data": ' + data + ', "payload": ').encode() + payload_json + b"}}"


def payload_with(version: str, extra: bytes) -> bytes:
    """The version's valid payload with one more member, ``"x": <extra>`` (an unexpected property)."""
    _action, payload = VALID[version]
    return json.dumps(payload).encode()[:-1] + b', "x": ' + extra + b"}"


def nested(depth: int, long_integer: bool) -> bytes:
    """``depth`` arrays, one in the other; the innermost holds a 20-digit integer when ``long_integer``."""
    return b"[" * depth + (LONG_INTEGER if long_integer else b"") + b"]" * depth


@pytest.fixture
def station(make_station: Callable[..., Station]) -> Station:
    return make_station()


@pytest.fixture
def oem(station: Station) -> InProcessOem:
    return InProcessOem(station)


def answer_to(oem: InProcessOem, raw: bytes, request_id: str | None, action: str | None,
              version: str | None) -> dict[str, Any]:
    """The one answer to ``raw``, checked against the OcppResponse schema (and the response schema)."""
    answer = oem.send(raw)
    assert answer is not None, "no answer"
    check_response(answer, action, version)
    if request_id is not None:
        assert answer["id"] == request_id, answer
    return answer


def through_the_csms_door(station: Station, text: bytes, version: str) -> list[Any]:
    """The CALLERROR or CALLRESULT frame the station sends back for the CSMS's ``text`` (the link's path)."""
    try:
        call = frames.parse(text)
    except frames.FrameError as error:
        return json.loads(frames.call_error(error.request_id, error, version))
    assert isinstance(call, frames.Call)
    outcome = station.run(Request(call.id, version, call.action, call.payload))
    if isinstance(outcome, OcppError):
        return json.loads(frames.call_error(call.id, outcome, version))
    return json.loads(frames.call_result(call.id, outcome))


def no_trace_of_trouble(caplog: pytest.LogCaptureFixture) -> None:
    """No traceback and nothing at ERROR: a hostile message is the client's problem, not a bug of ours."""
    bad = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not bad, [r.getMessage()[:300] for r in bad]


# ---------------------------------------------------------------------------------------------------------
# Log injection and amplification
# ---------------------------------------------------------------------------------------------------------

def forged_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if line.startswith("2026-12-02 04:00:00")]


def test_a_readable_id_with_a_forged_line_is_echoed_but_logged_escaped(oem: InProcessOem, station_log: Any) -> None:
    """The id is readable (33 characters), so Part 4 §4.2.3 has it echoed; the log shows it escaped."""
    _, raw = raw_request("ocpp2.0.1", "GetVariables" + FORGED, json.dumps(GET_ONE).encode(), request_id=FORGED)
    answer = answer_to(oem, raw, FORGED, None, "ocpp2.0.1")
    assert answer["data"]["error_code"] == "RpcFrameworkError"  # not a UUID
    log = station_log()
    assert not forged_lines(log), log
    assert "\\n2026-12-02 04:00:00 ERROR forged" in log  # still there to read, as one piece of one line


@pytest.mark.parametrize("door", ["mqtt", "csms"])
def test_a_forged_line_and_a_megabyte_in_the_action_stay_one_short_piece_of_a_line(
        station: Station, station_log: Any, door: str) -> None:
    """Just under requests.max_bytes (1 MiB): parsed, routed, NotImplemented; the log grows by a few lines."""
    action = "Get" + FORGED + "x" * (1024 * 1024 - 1000)
    if door == "mqtt":
        request_id, raw = raw_request("ocpp2.0.1", action, b"{}")
        answer = answer_to(InProcessOem(station), raw, request_id, None, "ocpp2.0.1")
        assert answer["data"]["error_code"] == "NotImplemented"
        assert "forged" not in json.dumps(answer)
    else:
        frame = through_the_csms_door(station, json.dumps([2, FORGED, action, {}]).encode(), "ocpp2.0.1")
        assert frame[:3] == [4, FORGED, "NotImplemented"] and "forged" not in frame[3], frame[:4]
    log = station_log()
    assert not forged_lines(log), log[:2000]
    assert len(log) < 2000, len(log)


def test_a_megabyte_action_beyond_max_bytes_is_refused_unread_and_logged_short(oem: InProcessOem,
                                                                             station_log: Any) -> None:
    """The id its first bytes give is echoed (Part 4 §4.2.3), escaped in the log like any other."""
    request_id, raw = raw_request("ocpp2.0.1", "Get" + FORGED + "x" * (1024 * 1024), b"{}", request_id=FORGED)
    answer = answer_to(oem, raw, request_id, None, "ocpp2.0.1")
    assert answer["data"]["error_code"] == "FormatViolation"  # beyond requests.max_bytes: not read (issue 5)
    log = station_log()
    assert not forged_lines(log) and len(log) < 2000, log[:2000]


def test_component_and_variable_names_of_a_set_variables_are_logged_escaped(oem: InProcessOem,
                                                                            station_log: Any) -> None:
    """B05: one INFO line per element, with the names as sent: 50 characters of the client's choice."""
    item = {"component": {"name": FORGED}, "variable": {"name": FORGED, "instance": FORGED}, "attributeValue": "1"}
    result = oem.result("SetVariables", {"setVariableData": [item]})
    assert result["setVariableResult"][0]["attributeStatus"] == "UnknownComponent"
    log = station_log()
    assert not forged_lines(log), log
    assert "SetVariables \\n2026-12-02 04:00:00 ERROR forged.\\n2026" in log


def _root_with_subject(subject: str) -> str:
    """A self-signed CA certificate (PEM) whose subject is one organisation name, ``subject``."""
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, subject)])
    cert, _ = ca_certificate(subject, subject=name)
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def test_a_certificate_subject_of_1500_characters_is_logged_capped(oem: InProcessOem,
                                                                           station_log: Any) -> None:
    """M05: InstallCertificate logs the certificate it installed by its subject, which its maker chose."""
    pem = _root_with_subject(FORGED + "s" * 1500)
    assert len(pem) <= 5500  # InstallCertificateRequest's certificate: string[5500]
    result = oem.result("InstallCertificate", {"certificateType": "CSMSRootCertificate", "certificate": pem})
    assert result["status"] == "Accepted", result
    log = station_log()
    assert not forged_lines(log), log[:2000]
    assert "installed" in log and len(log) < 1000, len(log)


def test_the_message_type_of_a_frame_is_not_quoted_back(station: Station) -> None:
    """Part 4 §4.4 MessageTypeNotSupported: the description says the rule, not the peer's value."""
    frame = through_the_csms_door(station, json.dumps([FORGED + "x" * 100_000, "abc", {}]).encode(), "ocpp2.0.1")
    assert frame[:3] == [4, "abc", "MessageTypeNotSupported"], frame[:3]
    assert "forged" not in frame[3] and len(frame[3]) <= 255


def test_paho_is_kept_from_writing_mqtt_properties_at_debug() -> None:
    """paho writes the MQTT 5 properties of each PUBLISH received (a Response Topic, User Properties:
    the client's text, of any length) at DEBUG: its logger stays at INFO whatever --log-level says."""
    paho = logging.getLogger("ocpp_station.api.paho")
    level = paho.level
    try:
        quiet_wire_loggers(logging.DEBUG)
        assert "ocpp_station.api.paho" in WIRE_LOGGERS
        assert not paho.isEnabledFor(logging.DEBUG) and paho.isEnabledFor(logging.ERROR)
    finally:
        paho.setLevel(level)


def test_shown_without_quotes_escapes_and_caps_an_id_and_keeps_a_uuid_as_it_is() -> None:
    request_id = str(uuid.uuid4())
    assert shown(request_id, quote=False) == request_id  # grep for an id finds every line about it
    assert shown(FORGED, quote=False) == "\\n2026-12-02 04:00:00 ERROR forged"
    assert shown("x" * 1000, quote=False) == "x" * 64 + "…"
    assert shown("it's", quote=False) == "it's" and shown("it's") == "'it\\'s'"


# ---------------------------------------------------------------------------------------------------------
# Nesting: the format error it is, on both doors and both JSON paths
# ---------------------------------------------------------------------------------------------------------
# ``depth`` arrays as the value of an unexpected property: up to MAX_PAYLOAD_DEPTH the payload is read and
# validated (the unexpected property is a FormatViolation of the schema, also where jsonschema-rs could
# not hand back an error about a value 255 levels deep); deeper, but within orjson's 1024 levels of the
# whole message, it was read and is refused as too deep (FormatViolation, under its id); beyond 1024 it
# cannot be read at all (RpcFrameworkError; the id is still recovered from the start).

DEPTHS = {200: "schema", 256: "schema", 500: "schema", 1000: "too deep", 1025: "unreadable", 5000: "unreadable"}


def expected_for(depth: int, version: str) -> tuple[str, str]:
    """(error code as ``version`` spells it, a word of its description) for a payload ``{"x": nested(depth)}``."""
    kind = DEPTHS[depth]
    if kind == "schema":
        return spelled("FormatViolation", version), "property not allowed"
    if kind == "too deep":
        return spelled("FormatViolation", version), f"at most {MAX_PAYLOAD_DEPTH} levels"
    return spelled("RpcFrameworkError", version), "too deeply to be read"


@pytest.mark.parametrize("long_integer", [False, True], ids=["orjson-path", "exact-path"])
@pytest.mark.parametrize("depth", sorted(DEPTHS))
@pytest.mark.parametrize("version", VERSIONS)
def test_nesting_is_a_format_error_never_an_internal_error(oem: InProcessOem, caplog: pytest.LogCaptureFixture,
                                                          version: str, depth: int, long_integer: bool) -> None:
    """OCPP-J 2.x §4.3 / 1.6 §4.2.3: FormatViolation when the payload is not what the action takes,
    RpcFrameworkError when the message cannot be read; the id and version are the request's either way."""
    action, _ = VALID[version]
    request_id, raw = raw_request(version, action, payload_with(version, nested(depth, long_integer)))
    assert exact_json.may_hold_long_integers(raw) is long_integer
    answer = answer_to(oem, raw, request_id, None, version)
    code, words = expected_for(depth, version)
    assert (answer["data"]["error_code"], answer["data"]["ocpp_version"]) == (code, version), answer
    assert words in answer["data"]["error_description"], answer
    no_trace_of_trouble(caplog)


@pytest.mark.parametrize("long_integer", [False, True], ids=["orjson-path", "exact-path"])
@pytest.mark.parametrize("depth", sorted(DEPTHS))
@pytest.mark.parametrize("version", VERSIONS_2X)
def test_nesting_in_custom_data_runs_while_the_station_can_carry_it(oem: InProcessOem,
                                                                   caplog: pytest.LogCaptureFixture,
                                                                   version: str, depth: int,
                                                                   long_integer: bool) -> None:
    """customData takes any property: a valid payload runs up to MAX_PAYLOAD_DEPTH levels (its frame is
    measured for BytesPerMessage by serializing it, which failed beyond ~950), and is refused beyond."""
    item = json.dumps(GET_ONE["getVariableData"][0]).encode()[:-1]
    item += b', "customData": {"vendorId": "acme", "deep": ' + nested(depth, long_integer) + b"}}"
    request_id, raw = raw_request(version, "GetVariables", b'{"getVariableData": [' + item + b"]}")
    kind = DEPTHS[depth]
    answer = answer_to(oem, raw, request_id, "GetVariables" if kind == "schema" else None, version)
    if kind == "schema":
        assert answer["data"]["message_type"] == "CallResult", answer
    else:
        assert answer["data"]["error_code"] == ("FormatViolation" if kind == "too deep" else "RpcFrameworkError")
    no_trace_of_trouble(caplog)


@pytest.mark.parametrize("long_integer", [False, True], ids=["orjson-path", "exact-path"])
@pytest.mark.parametrize("depth", sorted(DEPTHS))
@pytest.mark.parametrize("version", VERSIONS_2X)
def test_the_csms_door_answers_nesting_as_the_mqtt_door_does(station: Station, caplog: pytest.LogCaptureFixture,
                                                            version: str, depth: int, long_integer: bool) -> None:
    """The same payload in a CALL frame: the same code, under the CALL's id (Part 4 §4.2.3)."""
    payload = payload_with(version, nested(depth, long_integer))
    call_id = str(uuid.uuid4())
    frame = through_the_csms_door(station, b'[2, "' + call_id.encode() + b'", "GetVariables", ' + payload + b"]",
                                  version)
    code, words = expected_for(depth, version)
    assert frame[:3] == [4, call_id, code], frame[:4]
    assert len(frame) == 5 and len(frame[3]) <= 255 and isinstance(frame[4], dict), frame
    if DEPTHS[depth] != "unreadable":  # what cannot be read, the frame door calls "not valid JSON"
        assert words in frame[3], frame
    request_id, raw = raw_request(version, "GetVariables", payload)
    answer = answer_to(InProcessOem(station), raw, request_id, None, version)
    assert answer["data"]["error_code"] == code
    no_trace_of_trouble(caplog)


def test_nested_deeper_than_is_exact_and_not_fooled_by_brackets_in_strings() -> None:
    for depth in (0, 1, 2, 3, 10, 11, 12):
        raw = nested(depth, False)
        value = exact_json.loads(raw) if depth else 0
        assert exact_json.nested_deeper_than(raw or b"0", value, 11) is (depth > 11), depth
    # Closing brackets inside a string lower a naive count of the nesting, never this one's.
    raw = b'["' + b"]" * 50 + b'",' + nested(20, False) + b"]"
    assert exact_json.nested_deeper_than(raw, exact_json.loads(raw), 20)
    assert not exact_json.nested_deeper_than(raw, exact_json.loads(raw), 21)
    wide = json.dumps([{"a": [{"b": {}}]} for _ in range(300)]).encode()  # 1201 brackets, 5 levels
    assert not exact_json.nested_deeper_than(wide, exact_json.loads(wide), 5)
    assert exact_json.nested_deeper_than(wide, exact_json.loads(wide), 4)


# ---------------------------------------------------------------------------------------------------------
# A broken message whose id is clear is answered under it (Part 4 §4.2.3)
# ---------------------------------------------------------------------------------------------------------

BROKEN_PAYLOADS = {
    "lone-surrogate-escape": b'{"x": "A\\ud800"}',
    "invalid-utf8": b'{"x": "A\xc3\x28"}',
    "raw-control-character": b'{"x": "A\x01B"}',
    "nan": b'{"x": NaN}',
    "number-out-of-range": b'{"x": 1e400}',
    "nested-beyond-the-parser": b'{"x": ' + b"[" * 2000 + b"]" * 2000 + b"}",
    "cut-short": b'{"x": [1, 2',  # and the rest of the message with it
}


@pytest.mark.parametrize("long_integer", [False, True], ids=["orjson-path", "exact-path"])
@pytest.mark.parametrize("case", sorted(BROKEN_PAYLOADS))
@pytest.mark.parametrize("version", VERSIONS)
def test_a_broken_payload_is_answered_under_the_readable_id_and_version(oem: InProcessOem, version: str,
                                                                       case: str, long_integer: bool) -> None:
    """Part 4 §4.2.3: "-1" is for an id that cannot be read; this one can (it comes first)."""
    action, _ = VALID[version]
    payload = BROKEN_PAYLOADS[case]
    if long_integer:
        payload = b'{"n": ' + LONG_INTEGER + b", " + payload[1:]
    request_id, raw = raw_request(version, action, payload)
    if case == "cut-short":
        raw = raw[:-2]
    answer = answer_to(oem, raw, request_id, None, version)
    assert answer["data"]["error_code"] == spelled("RpcFrameworkError", version), answer


def _with(raw: bytes, old: bytes, new: bytes) -> bytes:
    assert old in raw
    return raw.replace(old, new, 1)


BAD_ID = "2b0aa109-21a1-4f2f-bdbd-6cdf139e7bb1"
_, BROKEN = raw_request("ocpp2.0.1", "GetVariables", b'{"x": "\xff"}', request_id=BAD_ID)
AMBIGUOUS = {
    "id-repeated": _with(BROKEN, b'"name"', b'"id": "ffffffff-21a1-4f2f-bdbd-6cdf139e7bb1", "name"'),
    "id-repeated-with-an-escape": _with(BROKEN, b'"name"', b'"\\u0069d": "x", "name"'),
    "id-only-in-the-payload": _with(_with(BROKEN, b'"id"', b'"di"'), b'"x"', b'"id": "abc", "x"'),
    "id-after-the-window": _with(BROKEN, b'"id": "' + BAD_ID.encode() + b'", ', b"")[:-1]
    + b', "pad": "' + b"p" * SNIFF_BYTES + b'", "id": "' + BAD_ID.encode() + b'"}',
    "id-not-utf8": _with(BROKEN, BAD_ID.encode(), b"2b0aa109-\xff"),
    "id-a-lone-surrogate": _with(BROKEN, BAD_ID.encode(), b"\\ud800"),
    "id-37-characters": _with(BROKEN, BAD_ID.encode(), BAD_ID.encode() + b"0"),
    "id-a-number": _with(BROKEN, b'"' + BAD_ID.encode() + b'"', b"42"),
    "two-objects": BROKEN + b'{"id": "other"}',
    "another-josev-message": _with(BROKEN, b'"ocpp_message"', b'"service_status"'),
    "a-response": _with(BROKEN, b'"request"', b'"response"'),
    "an-array": b"[" + BROKEN + b"]",
    "a-byte-order-mark": b"\xef\xbb\xbf" + BROKEN,
    "broken-structure-before-the-id": b'{"a": [}, ' + BROKEN[1:],
    # Brackets that do not pair up after the id: where the top-level object goes on (another "id"?) is
    # unknown; a message cut short, by contrast, has nothing more to say.
    "broken-structure-after-the-id": _with(BROKEN, b'{"x": "\xff"}', b'{"x": [1, "\xff"}'),
}


@pytest.mark.parametrize("case", sorted(AMBIGUOUS))
def test_an_id_that_is_not_clear_stays_minus_one(oem: InProcessOem, case: str) -> None:
    """Only one top-level "id", readable, in a text that is JSON in its structure up to there (RFC 8259
    §4: with a name repeated, what a message says is unpredictable); and never for a message that says
    it is another Josev message or a response (issue 12: the OEM could take it for its own answer)."""
    answer = answer_to(oem, AMBIGUOUS[case], UNKNOWN_ID, None, None)
    assert answer["data"]["error_code"] == "RpcFrameworkError", answer


@pytest.mark.parametrize("version", [b'"ocpp9"', b'"ocpp1.6\xff"', b"16", b'"ocpp1.6" , "ocpp_version": "ocpp2.1"'])
def test_the_version_of_a_broken_message_is_the_stations_when_it_cannot_be_read(oem: InProcessOem,
                                                                               version: bytes) -> None:
    """The README: the request's version, or ocpp2.0.1 (the station's) when it cannot be read."""
    answer = answer_to(oem, _with(BROKEN, b'"ocpp2.0.1"', version), BAD_ID, None, "ocpp2.0.1")
    assert answer["data"]["error_code"] == "RpcFrameworkError"


def test_an_oversized_message_takes_its_id_from_the_top_level_only(oem: InProcessOem) -> None:
    """requests.max_bytes: refused unread, answered under the id its first bytes give (issue 5); an "id"
    inside the payload is not the request's."""
    big = b'{"data": {"payload": {"id": "not-this-one", "x": "' + b"A" * (2 * 1024 * 1024) + b'"}}}'
    answer = answer_to(oem, big, UNKNOWN_ID, None, None)
    assert answer["data"]["error_code"] == "FormatViolation"
    request_id, raw = raw_request("ocpp2.1", "GetVariables", b'{"x": "' + b"A" * (2 * 1024 * 1024) + b'"}')
    answer = answer_to(oem, raw, request_id, None, "ocpp2.1")
    assert answer["data"]["error_code"] == "FormatViolation"


BROKEN_FRAMES = {
    "invalid-utf8": b'[2, "%s", "GetVariables", {"x": "\xff"}]',
    "lone-surrogate-escape": b'[2,"%s","GetVariables",{"x":"\\ud800"}]',
    "nested-beyond-the-parser": b'[2, "%s", "GetVariables", {"x": ' + b"[" * 2000 + b"]" * 2000 + b"}]",
    "cut-short": b'[2, "%s", "GetVariables", {"x": [1, ',
    "nan": b'[2, "%s", "GetVariables", {"x": NaN}]',
}


@pytest.mark.parametrize("long_integer", [False, True], ids=["orjson-path", "exact-path"])
@pytest.mark.parametrize("case", sorted(BROKEN_FRAMES))
def test_part4_4_2_3_a_broken_call_is_answered_under_its_readable_id(case: str, long_integer: bool) -> None:
    """Through the session, as the link feeds it: the CALLERROR carries the CALL's id, not "-1"."""
    call_id = str(uuid.uuid4())
    text = BROKEN_FRAMES[case].replace(b"%s", call_id.encode())
    if long_integer:
        text = text.replace(b'{"x"', b'{"n": ' + LONG_INTEGER + b', "x"')
    assert exact_json.may_hold_long_integers(text) is long_integer
    session = Session("ocpp2.0.1", boot_reason="PowerUp", charging_station={"model": "m", "vendorName": "v"},
                      connectors=[], message_timeout=30, heartbeat_interval=60, boot_retry_s=5, now=0.0)
    session.frames_to_send()  # our BootNotification
    session.receive(text, 1.0)
    [answer] = [json.loads(sent) for sent in session.frames_to_send()]
    assert answer[:3] == [4, call_id, "RpcFrameworkError"], answer
    assert len(answer) == 5 and len(answer[3]) <= 255 and isinstance(answer[4], dict)


@pytest.mark.parametrize("text", [
    b'[3, "%s", {"x": "\xff"}]',  # a CALLRESULT is not the peer's CALL: nothing of it is answered under its id
    b'[2, "' + b"x" * 37 + b'", "X", {"x": "\xff"}]',
    b'[2, "\\ud800", "X", {"x": "\xff"}]',
    b'[2, "a\xffb", "X", {}]',
    b'[20, "%s", "X", {"x": "\xff"}]',
    b'{"id": "%s", "x": "\xff"}',
])
def test_a_broken_frame_whose_call_id_cannot_be_read_is_minus_one(text: bytes) -> None:
    with pytest.raises(frames.FrameError) as raised:
        frames.parse(text.replace(b"%s", str(uuid.uuid4()).encode()))
    assert raised.value.request_id == UNKNOWN_ID
    assert raised.value.code.value == "RpcFrameworkError"


# ---------------------------------------------------------------------------------------------------------
# What touches raw bytes never raises
# ---------------------------------------------------------------------------------------------------------

def _string_tokens(raw: bytes) -> set[str]:
    """Every string the bytes hold, read as JSON strings wherever they are (the oracle is loose on purpose)."""
    found = set()
    for token in re.finditer(rb'"(?:[^"\\]|\\.)*"', raw, re.DOTALL):
        with contextlib.suppress(ValueError):
            found.add(json.loads(token.group().decode("utf-8")))
    return found


@settings(max_examples=3000, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.one_of(st.binary(max_size=300),
                     st.builds(lambda cut, junk: BROKEN[:cut] + junk, st.integers(0, len(BROKEN)),
                               st.binary(max_size=8))))
@example(raw=b'{"id":"a","data":{"ocpp_version":"ocpp2.1","payload":' + b"{" * 5000)
@example(raw=b'{"id":"\\')
@example(raw=b'{"id":"a"}}')
@example(raw=b'{"id":"\\u0041\\n", "x": NaN}')
@example(raw=b'[2, "\\u0041\\n", "X", NaN]')
def test_recovery_never_raises_and_never_makes_up_an_id(raw: bytes) -> None:
    request_id, version = recover(raw)
    assert request_id == UNKNOWN_ID or (0 < len(request_id) <= 36 and request_id in _string_tokens(raw))
    assert version in (None, *VERSIONS)
    try:
        frames.parse(raw)
    except frames.FrameError as error:
        assert error.request_id == UNKNOWN_ID or error.request_id in _string_tokens(raw)


@pytest.mark.parametrize("payload", [
    {"deep": json.loads(nested(500, False))},
    {"s": "\ud800", "t": "\udfff\ud800"},
    {"n": 2**70, "m": -(2**64)},
    {"deep": json.loads(nested(500, True))},
], ids=["nested-500", "lone-surrogates", "long-integers", "nested-500-long-integer"])
def test_the_fingerprint_of_any_request_the_station_may_hold(payload: dict[str, Any]) -> None:
    """A regression guard (the fingerprint needed no change): whatever payload reaches the answer cache,
    its fingerprint is 16 bytes and the same for the same content."""
    request = Request(str(uuid.uuid4()), "ocpp2.0.1", "GetVariables", payload)
    first = fingerprint(request, b"raw")
    assert len(first) == 16 and first == fingerprint(request, b"other raw")


def test_a_well_formed_request_never_pays_for_recovery(oem: InProcessOem, monkeypatch: pytest.MonkeyPatch) -> None:
    """Recovery is for what cannot be parsed; the common request pays two ``bytes.count`` calls for the
    nesting rule and nothing else."""
    def refuse(*_args: Any) -> Any:
        raise AssertionError("recover() called for a well-formed request")

    monkeypatch.setattr(envelope, "recover", refuse)
    answer = oem.call("GetVariables", GET_ONE)
    assert answer["data"]["message_type"] == "CallResult"

"""The Josev "OcppMessage" envelope: how an OCPP CALL travels over MQTT (seed document).

A request on ``cs/josev``::

    {"id": "<uuid>", "name": "ocpp_message", "type": "request",
     "data": {"ocpp_version": "ocpp2.0.1", "message_name": "<Action>", "payload": {...}}}

and its answer on ``josev/cs``, with the same ``id``::

    {"id": "<uuid>", "name": "ocpp_message", "type": "response",
     "data": {"ocpp_version": "...", "message_type": "CallResult", "payload": {...}}}
    {"id": "<uuid>", "name": "ocpp_message", "type": "response",
     "data": {"ocpp_version": "...", "message_type": "CallError", "error_code": "...",
              "error_description": "...", "error_details": {...}}}

``message_name``/``payload`` are the CALL's Action and Payload (OCPP-J §4.2.1), the response
``payload`` is the CALLRESULT's (§4.2.2) and the error fields are the CALLERROR's (§4.2.3).

Parsing is strict about what the seed defines and tolerant of extra keys (a newer client may add
some). Whatever is wrong, we keep as much as we could read — the id above all — so that the caller
still gets one answer it can correlate (OCPP-J 2.x §4.2.3: an unreadable message id is answered
with ``"-1"``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from .. import exact_json, versions
from ..errors import MAX_ID_LENGTH, MAX_PAYLOAD_DEPTH, UNKNOWN_ID, ErrorCode, OcppError, clip_description, wire_code
from ..versions import OCPP_VERSIONS

MESSAGE_NAME = "ocpp_message"
STATION_OCPP_VERSION = versions.STATION_VERSION.value  # named by a CallError when the request's is unreadable

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


@dataclass(frozen=True)
class Request:
    """A well-formed OcppRequest envelope."""

    id: str
    ocpp_version: str
    action: str
    payload: dict[str, Any]
    origin: str = "mqtt"  # the door it came through: "mqtt" (the OEM) or "csms"; what it promises goes back there
    reply_to: str | None = None  # MQTT 5: the request's Response Topic, where what it promises goes too …
    correlation: bytes | None = None  # … with its Correlation Data


class EnvelopeError(OcppError):
    """The envelope itself is wrong; carries what could be read so the answer can be correlated."""

    def __init__(self, description: str, request_id: str = UNKNOWN_ID, ocpp_version: str | None = None,
                 code: ErrorCode = ErrorCode.RPC_FRAMEWORK_ERROR):
        super().__init__(code, description)
        self.request_id = request_id
        self.ocpp_version = ocpp_version


class NotARequest(Exception):
    """A well-formed Josev message that is not an OcppMessage request: not ours to answer.

    On a Josev broker ``cs/josev`` carries every message the OEM sends to Josev (``service_status``,
    ``cp_status`` updates, ``meter_values`` …, some forty names), and an OEM answers the OCPP requests
    the station sends it with ``ocpp_message`` responses on the same topic. Answering any of them
    would break the OEM's own request/response pairing (its ``service_status`` request would get
    our CallError as its answer) and could let two services bounce messages forever.
    """

    def __init__(self, name: str, kind: str):
        super().__init__(f"a {name!r} {kind!r} message")
        self.name = name
        self.kind = kind


_LEVELS_AROUND_PAYLOAD = 2  # the message and its "data"


def decode(raw: bytes) -> Any:
    """Parse a message body as JSON (RFC 8259, UTF-8), or raise :class:`EnvelopeError` saying why not.

    orjson is fast but reads integers beyond 64 bits, which are valid JSON, as floats (an answer
    echoing one would not say what was sent): :mod:`ocpp_station.exact_json` keeps them exact, and
    refuses what orjson refuses on both of its paths. The error carries the id and version that
    :func:`recover` reads, so that the answer can still be correlated.
    """
    try:
        return exact_json.loads(raw)
    except exact_json.TooDeep:
        raise EnvelopeError("the message is nested too deeply to be read", *recover(raw)) from None
    except ValueError:
        raise _not_json(raw) from None


def read(raw: bytes) -> Request:
    """The request in a message body; :class:`EnvelopeError` (answer it) or :class:`NotARequest` (drop).

    What cannot be parsed is the frame's problem: RpcFrameworkError (1.6 FormationViolation), with
    the id if :func:`recover` reads it. That includes JSON nested deeper than orjson's 1024 levels:
    nothing of it can be trusted to be where it seems to be. JSON that parses but whose payload is
    nested more than :data:`~ocpp_station.errors.MAX_PAYLOAD_DEPTH` levels is a request the station
    has read: its id, version and action are known, and its payload is not one the station takes,
    which OCPP-J calls a FormatViolation ("payload for Action is syntactically incorrect"; 1.6
    FormationViolation, the same code). The CSMS door (:func:`ocpp_station.csms.frames.parse`)
    draws the same line at the same depth of the payload.
    """
    try:
        message = exact_json.loads(raw, max_depth=MAX_PAYLOAD_DEPTH + _LEVELS_AROUND_PAYLOAD)
    except exact_json.TooDeep as deep:
        request = parse_request(deep.value)  # what is wrong with the envelope is said first, as always
        raise EnvelopeError(f"the message is nested too deeply: a payload may hold at most {MAX_PAYLOAD_DEPTH} "
                            "levels of arrays and objects", request.id, request.ocpp_version,
                            code=ErrorCode.FORMAT_VIOLATION) from None
    except ValueError:
        raise _not_json(raw) from None
    return parse_request(message)


def _not_json(raw: bytes) -> EnvelopeError:
    """The error for a body that is not JSON: what is wrong (said by the standard library, whose
    messages have a line and column), and whatever id and version :func:`recover` can read."""
    request_id, version = recover(raw)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return EnvelopeError("the message is not valid UTF-8", request_id, version)
    try:
        message = json.loads(text, parse_constant=exact_json.refuse_constant)
    except RecursionError:
        return EnvelopeError("the message is nested too deeply to be read", request_id, version)
    except ValueError as error:  # json.JSONDecodeError is a ValueError, and so are huge-number limits
        where = f" (line {error.lineno}, column {error.colno})" if isinstance(error, json.JSONDecodeError) else ""
        return EnvelopeError(f"the message is not valid JSON{where}", request_id, version)
    try:
        json.dumps(message, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return EnvelopeError("the message contains an unpaired UTF-16 surrogate escape", request_id, version)
    except (RecursionError, ValueError):
        pass
    # The standard library takes what orjson does not: a number beyond the range of a double (1e400).
    return EnvelopeError("the message is not valid JSON (a number out of range)", request_id, version)


def encode(answer: dict[str, Any]) -> bytes:
    """Serialize an answer; integers beyond 64 bits (valid JSON, echoed from a request) included."""
    return exact_json.dumps(answer)


def fingerprint(request: Request, raw: bytes) -> bytes:
    """What identifies a request besides its id: 16 bytes of its version, action and payload.

    A repeated id is a retry only if the request is the same. Keys are sorted and whitespace
    dropped first, so a client that serializes the same request again differently still matches.
    A payload orjson cannot serialize (integers beyond 64 bits, nesting deeper than it writes) goes
    through the standard library, and one too deep even for that is identified by its raw bytes.
    """
    content = [request.ocpp_version, request.action, request.payload]
    try:
        canonical = orjson.dumps(content, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        try:
            canonical = json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
        except (RecursionError, ValueError):
            canonical = b"raw:" + raw
    return hashlib.blake2b(canonical, digest_size=16).digest()


SNIFF_BYTES = 4096  # of a message that is not parsed, what is read for its id: its first bytes


def recover(raw: bytes, window: int = SNIFF_BYTES) -> tuple[str, str | None]:
    """The id and version of a message that could not be parsed, if its first bytes say them clearly.

    Read from the first ``window`` bytes, following only the structure of the JSON, so whatever is
    wrong further on (bytes that are not UTF-8, a surrogate escape, nesting beyond any parser, the
    end of a message cut short) does not hide an id that comes first, as every client writes it.
    The id is taken only when it is unambiguous: the one ``"id"`` member of the top-level object
    within the window (RFC 8259 §4: with names repeated, what a message says is unpredictable),
    readable as :func:`readable_id` reads it, and the text up to the window's end is JSON in its
    structure. A message that names itself another Josev message or a response keeps ``"-1"``: an
    OEM must not take a CallError as the answer to its own request of that id (issue 12). The
    version is the one ``data.ocpp_version`` if it is a known one, else None (the answer names the
    station's own).
    """
    head = raw[:window]
    try:
        start = exact_json.skip_whitespace(head, 0)
        if head[start:start + 1] != b"{":
            return UNKNOWN_ID, None
        members, end = exact_json.object_members(head, start)
        if end is not None and exact_json.skip_whitespace(head, end) != len(head):
            return UNKNOWN_ID, None  # more after the object: which is the request?
    except exact_json.Unreadable:
        return UNKNOWN_ID, None
    fields = _complete_strings(head, members)
    data = [m for m in members if m.key == "data"]
    version = None
    if len(data) == 1 and head[data[0].start:data[0].start + 1] == b"{":
        with contextlib.suppress(exact_json.Unreadable):  # broken inside "data": the id, at the top, is clear
            version = _complete_strings(head, exact_json.object_members(head, data[0].start)[0]).get("ocpp_version")
    name, kind = fields.get("name"), fields.get("type")
    if (name is not None and name != MESSAGE_NAME) or kind == "response":
        return UNKNOWN_ID, None
    return readable_id(fields), version if version in OCPP_VERSIONS else None


def _complete_strings(raw: bytes, members: list[exact_json.Member]) -> dict[str, str | None]:
    """The members' values that are whole, readable strings, by key; None for a key that occurs more
    than once or whose value is anything else (so that no caller reads it as a value)."""
    found: dict[str, str | None] = {}
    for member in members:
        if member.key is None:
            continue
        token = raw[member.start:member.end] if member.end is not None else b""
        value = exact_json.read_string(token) if token[:1] == b'"' else None
        found[member.key] = None if member.key in found else value
    return found


def sniff(raw: bytes) -> tuple[str, str | None]:
    """The request id and version, read from the first bytes of a message too large to parse."""
    return recover(raw, SNIFF_BYTES)


def readable_id(message: Mapping[str, Any]) -> str:
    """The request id if it can be echoed back, else ``"-1"``."""
    value = message.get("id")
    if isinstance(value, str) and 0 < len(value) <= MAX_ID_LENGTH:
        return value
    return UNKNOWN_ID


def parse_request(message: Any) -> Request:
    """Check a decoded JSON value against the OcppRequest envelope of the seed.

    Raises :class:`EnvelopeError` (answer with a CallError) or :class:`NotARequest` (drop).
    """
    if not isinstance(message, dict):
        raise EnvelopeError("the message must be a JSON object")
    request_id = readable_id(message)
    data = message.get("data")
    version = data.get("ocpp_version") if isinstance(data, dict) else None
    version = version if version in OCPP_VERSIONS else None

    def fail(description: str) -> EnvelopeError:
        return EnvelopeError(description, request_id, version)

    name, kind = message.get("name"), message.get("type")
    if isinstance(name, str) and isinstance(kind, str) and (name != MESSAGE_NAME or kind == "response"):
        raise NotARequest(name, kind)  # another Josev message, or an answer: not ours to answer
    if request_id == UNKNOWN_ID:
        raise fail(f"'id' must be a UUID string of at most {MAX_ID_LENGTH} characters")
    if not _UUID.fullmatch(request_id):
        raise fail("'id' must be a UUID (8-4-4-4-12 hexadecimal digits)")
    if message.get("name") != MESSAGE_NAME:
        raise fail(f"'name' must be '{MESSAGE_NAME}'")
    if message.get("type") != "request":
        raise fail("'type' must be 'request'")
    if not isinstance(data, dict):
        raise fail("'data' must be an object")
    if version is None:
        raise fail("'data.ocpp_version' must be one of " + ", ".join(OCPP_VERSIONS))
    action = data.get("message_name")
    if not isinstance(action, str) or not action:
        raise fail("'data.message_name' must be a non-empty string (the OCPP action)")
    payload = data.get("payload")
    if not isinstance(payload, dict):
        raise fail("'data.payload' must be an object (the OCPP request payload)")
    return Request(request_id, version, action, payload)


def call_result(request: Request, payload: dict[str, Any]) -> dict[str, Any]:
    """The OcppResponse envelope carrying a CALLRESULT."""
    return {
        "id": request.id,
        "name": MESSAGE_NAME,
        "type": "response",
        "data": {"ocpp_version": request.ocpp_version, "message_type": "CallResult", "payload": payload},
    }


def call_error(request_id: str, ocpp_version: str | None, error: OcppError) -> dict[str, Any]:
    """The OcppResponse envelope carrying a CALLERROR, spelled for ``ocpp_version``.

    The seed's OcppResponse requires ``ocpp_version``, and a client that validates answers (Josev's
    own library does) rejects one without it. When the request's version could not be read, the
    answer names :data:`STATION_OCPP_VERSION` and is spelled for it.
    """
    ocpp_version = ocpp_version or STATION_OCPP_VERSION
    data: dict[str, Any] = {"ocpp_version": ocpp_version, "message_type": "CallError"}
    data["error_code"] = wire_code(error.code, ocpp_version)
    data["error_description"] = clip_description(error.description)
    data["error_details"] = error.details
    return {"id": request_id, "name": MESSAGE_NAME, "type": "response", "data": data}

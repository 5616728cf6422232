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

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

import orjson

from .. import exact_json, versions
from ..errors import MAX_ID_LENGTH, UNKNOWN_ID, ErrorCode, OcppError, clip_description, wire_code
from ..exact_json import may_hold_long_integers
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


def decode(raw: bytes) -> Any:
    """Parse a message body as JSON (RFC 8259), or raise :class:`EnvelopeError` saying why not.

    orjson is fast but reads integers beyond 64 bits, which are valid JSON, as floats (an answer
    echoing one would not say what was sent; :mod:`ocpp_station.exact_json`). A message that may
    hold one goes to the standard library parser instead, which keeps every integer exact; so does
    one orjson refuses, to say precisely what is wrong. It is told to refuse NaN and Infinity,
    which JSON does not have.
    """
    if not may_hold_long_integers(raw):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise EnvelopeError("the message is not valid UTF-8") from None
    try:
        message = json.loads(text, parse_constant=exact_json.refuse_constant)
        json.dumps(message, ensure_ascii=False).encode("utf-8")  # refuses lone UTF-16 surrogates ("\ud800")
        return message
    except UnicodeEncodeError:
        raise EnvelopeError("the message contains an unpaired UTF-16 surrogate escape") from None
    except RecursionError:
        raise EnvelopeError("the message is nested too deeply") from None
    except ValueError as error:  # json.JSONDecodeError is a ValueError, and so are huge-number limits
        where = f" (line {error.lineno}, column {error.colno})" if isinstance(error, json.JSONDecodeError) else ""
        raise EnvelopeError(f"the message is not valid JSON{where}") from None


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


_ID_NEAR_START = re.compile(rb'"id"\s*:\s*"([^"\\]{1,36})"')
_VERSION_NEAR_START = re.compile(rb'"ocpp_version"\s*:\s*"(ocpp[0-9.]{1,6})"')
SNIFF_BYTES = 4096


def sniff(raw: bytes) -> tuple[str, str | None]:
    """The request id and version, read from the first bytes of a message too large to parse.

    Good enough for the envelope our clients write (``id`` and ``data`` before the payload, as in
    the seed's examples); what cannot be seen this cheaply is ``"-1"`` / None.
    """
    head = raw[:SNIFF_BYTES]
    found_id, found_version = _ID_NEAR_START.search(head), _VERSION_NEAR_START.search(head)
    version = found_version.group(1).decode("ascii") if found_version else None
    try:
        request_id = found_id.group(1).decode("utf-8") if found_id else UNKNOWN_ID
    except UnicodeDecodeError:
        request_id = UNKNOWN_ID
    return request_id, version if version in OCPP_VERSIONS else None


def readable_id(message: dict[str, Any]) -> str:
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

"""OCPP-J message frames (Part 4 §4): CALL ``[2, id, action, payload]``, CALLRESULT ``[3, id, payload]``,
CALLERROR ``[4, id, code, description, details]``. Pure functions; no I/O.

JSON goes through :mod:`ocpp_station.exact_json`, the path the MQTT door uses too: orjson's speed,
with integers beyond 64 bits kept exact both ways and NaN/Infinity refused (RFC 8259 has no such
numbers). Frames are written compact and in UTF-8 as they are (Part 4 §4.1.2: the whole message is
UTF-8), not with ``\\u`` escapes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .. import exact_json
from ..errors import (
    MAX_ID_LENGTH,
    MAX_PAYLOAD_DEPTH,
    UNKNOWN_ID,
    ErrorCode,
    OcppError,
    clip_description,
    parse_wire_code,
    wire_code,
)

CALL, CALLRESULT, CALLERROR = 2, 3, 4


@dataclass(frozen=True)
class Call:
    id: str
    action: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class CallResult:
    id: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class CallError:
    id: str
    code: ErrorCode | None
    description: str
    details: dict[str, Any]


class FrameError(OcppError):
    """A frame we cannot use; ``request_id`` is what we could read of its id."""

    def __init__(self, code: ErrorCode, description: str, request_id: str = UNKNOWN_ID):
        super().__init__(code, description)
        self.request_id = request_id


def parse(text: str | bytes) -> Call | CallResult | CallError:
    """Read one frame, or raise :class:`FrameError` saying what to answer.

    The lines are the MQTT door's (:func:`ocpp_station.rpc.envelope.read`), drawn at the same depth
    of the payload. What is not JSON (bytes that are not UTF-8, an unpaired surrogate escape, NaN,
    nesting beyond orjson's 1024 levels, on either JSON path) cannot be read as a frame:
    RpcFrameworkError, under the CALL's id if its first bytes say it (Part 4 §4.2.3: "-1" only when
    the id cannot be read). A frame that is JSON, with a payload nested more than
    :data:`~ocpp_station.errors.MAX_PAYLOAD_DEPTH` levels, was read: FormatViolation under its id.
    """
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    too_deep = False
    try:
        frame = exact_json.loads(data, max_depth=MAX_PAYLOAD_DEPTH + 1)  # the frame's array around the payload
    except exact_json.TooDeep as deep:
        frame, too_deep = deep.value, True
    except ValueError:  # UnicodeError and orjson.JSONDecodeError are ValueErrors
        raise FrameError(ErrorCode.RPC_FRAMEWORK_ERROR, "the message is not valid JSON", call_id(data)) from None
    if not isinstance(frame, list) or len(frame) < 3:
        raise FrameError(ErrorCode.RPC_FRAMEWORK_ERROR, "a message must be a JSON array of 3 to 5 elements")
    kind, message_id = frame[0], frame[1]
    if not isinstance(message_id, str) or not 0 < len(message_id) <= MAX_ID_LENGTH:
        raise FrameError(ErrorCode.RPC_FRAMEWORK_ERROR, "the message id must be a string of 1 to 36 characters")
    if kind not in (CALL, CALLRESULT, CALLERROR):
        # The type is not quoted: it is whatever the peer put there (a string of any length, say).
        raise FrameError(ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED, "the message type is not one this station supports",
                         message_id)
    if too_deep:
        raise FrameError(ErrorCode.FORMAT_VIOLATION, "the message is nested too deeply: a payload may hold at "
                         f"most {MAX_PAYLOAD_DEPTH} levels of arrays and objects", message_id)
    if kind == CALL and len(frame) == 4 and isinstance(frame[2], str) and isinstance(frame[3], dict):
        return Call(message_id, frame[2], frame[3])
    if kind == CALLRESULT and len(frame) == 3 and isinstance(frame[2], dict):
        return CallResult(message_id, frame[2])
    if kind == CALLERROR and len(frame) == 5 and isinstance(frame[2], str):
        details = frame[4] if isinstance(frame[4], dict) else {}
        return CallError(message_id, parse_wire_code(frame[2]), str(frame[3]), details)
    raise FrameError(ErrorCode.FORMAT_VIOLATION, "the message does not have the shape of its type", message_id)


_CALL_START = re.compile(rb"[ \t\n\r]*\[[ \t\n\r]*2[ \t\n\r]*,[ \t\n\r]*")
_CALL_ID_BYTES = 6 * MAX_ID_LENGTH + 2  # the longest a 36-character id can be written: every character \uXXXX


def call_id(data: bytes) -> str:
    """The id of a CALL that is not JSON, if its first bytes say it; else ``"-1"``.

    A frame's id is its second element, so where the frame starts ``[2,"<id>"``, that is the id
    whatever follows (nothing later can contradict it, unlike an object's repeated keys). Only a
    CALL's: a CALL is what gets an answer, while a CALLRESULT or CALLERROR answers a CALL of ours,
    and a CALLERROR under its id would be about that CALL of ours instead.
    """
    start = _CALL_START.match(data)
    if start is None:
        return UNKNOWN_ID
    token = exact_json.STRING_TOKEN.match(data, start.end(), start.end() + _CALL_ID_BYTES)
    message_id = exact_json.read_string(token.group()) if token is not None else None
    return message_id if message_id is not None and 0 < len(message_id) <= MAX_ID_LENGTH else UNKNOWN_ID


def _text(frame: list[Any]) -> str:
    """A frame as the text of one websocket text message (compact JSON)."""
    return exact_json.dumps(frame).decode("utf-8")


def call(message_id: str, action: str, payload: dict[str, Any]) -> str:
    return _text([CALL, message_id, action, payload])


def call_result(message_id: str, payload: dict[str, Any]) -> str:
    return _text([CALLRESULT, message_id, payload])


def call_error(message_id: str, error: OcppError, ocpp_version: str) -> str:
    """A CALLERROR with the code as ``ocpp_version`` spells it and a description of at most 255 characters."""
    return _text([CALLERROR, message_id, wire_code(error.code, ocpp_version), clip_description(error.description),
                  error.details])

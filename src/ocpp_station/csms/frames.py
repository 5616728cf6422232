"""OCPP-J message frames (Part 4 §4): CALL ``[2, id, action, payload]``, CALLRESULT ``[3, id, payload]``,
CALLERROR ``[4, id, code, description, details]``. Pure functions; no I/O.

JSON goes through :mod:`ocpp_station.exact_json`, the path the MQTT door uses too: orjson's speed,
with integers beyond 64 bits kept exact both ways and NaN/Infinity refused (RFC 8259 has no such
numbers). Frames are written compact and in UTF-8 as they are (Part 4 §4.1.2: the whole message is
UTF-8), not with ``\\u`` escapes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import exact_json
from ..errors import MAX_ID_LENGTH, UNKNOWN_ID, ErrorCode, OcppError, clip_description, parse_wire_code, wire_code

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

    NaN and Infinity are refused (an answer echoing one would not be JSON for the CSMS either);
    nesting too deep for the parser is refused, not raised (RecursionError on the exact path).
    """
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    try:
        frame = exact_json.loads(data)
        if exact_json.may_hold_long_integers(data):
            # That path is the standard library's parser, which takes an unpaired surrogate escape
            # ("\\ud800") that orjson refuses and that no UTF-8 answer could echo: refuse it here too.
            exact_json.dumps(frame)
    except (ValueError, RecursionError):  # UnicodeError is a ValueError
        raise FrameError(ErrorCode.RPC_FRAMEWORK_ERROR, "the message is not valid JSON") from None
    if not isinstance(frame, list) or len(frame) < 3:
        raise FrameError(ErrorCode.RPC_FRAMEWORK_ERROR, "a message must be a JSON array of 3 to 5 elements")
    kind, message_id = frame[0], frame[1]
    if not isinstance(message_id, str) or not 0 < len(message_id) <= MAX_ID_LENGTH:
        raise FrameError(ErrorCode.RPC_FRAMEWORK_ERROR, "the message id must be a string of 1 to 36 characters")
    if kind == CALL and len(frame) == 4 and isinstance(frame[2], str) and isinstance(frame[3], dict):
        return Call(message_id, frame[2], frame[3])
    if kind == CALLRESULT and len(frame) == 3 and isinstance(frame[2], dict):
        return CallResult(message_id, frame[2])
    if kind == CALLERROR and len(frame) == 5 and isinstance(frame[2], str):
        details = frame[4] if isinstance(frame[4], dict) else {}
        return CallError(message_id, parse_wire_code(frame[2]), str(frame[3]), details)
    if kind in (CALL, CALLRESULT, CALLERROR):
        raise FrameError(ErrorCode.FORMAT_VIOLATION, "the message does not have the shape of its type", message_id)
    raise FrameError(ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED, f"message type {kind!r} is not supported", message_id)


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

"""OCPP-J RPC error codes, with each version's own spelling.

OCPP-J 1.6 (Table 7) and OCPP-J 2.0.1/2.1 (Part 4, Tables 8/9) define the CALLERROR codes. Two of the
1.6 names are misspelled in the specification and the 1.6 errata sheet keeps them on purpose so that
existing implementations keep interoperating: ``FormationViolation`` and
``OccurenceConstraintViolation``. A strict 1.6 peer expects exactly those strings, so we send the
spelling of the version the request was made in, and we never invent a code a version does not have
(1.6 has no ``RpcFrameworkError`` and no ``MessageTypeNotSupported``).

Everything else in the package raises :class:`OcppError` with a version-neutral :class:`ErrorCode`;
:func:`wire_code` is the one place that turns it into the string on the wire.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

MAX_DESCRIPTION_LENGTH = 255  # OCPP-J 2.x: errorDescription is string[255]; we apply it to 1.6 too.


class ErrorCode(Enum):
    """The RPC error conditions, named as in OCPP 2.x."""

    FORMAT_VIOLATION = "FormatViolation"
    GENERIC_ERROR = "GenericError"
    INTERNAL_ERROR = "InternalError"
    MESSAGE_TYPE_NOT_SUPPORTED = "MessageTypeNotSupported"
    NOT_IMPLEMENTED = "NotImplemented"
    NOT_SUPPORTED = "NotSupported"
    OCCURRENCE_CONSTRAINT_VIOLATION = "OccurrenceConstraintViolation"
    PROPERTY_CONSTRAINT_VIOLATION = "PropertyConstraintViolation"
    PROTOCOL_ERROR = "ProtocolError"
    RPC_FRAMEWORK_ERROR = "RpcFrameworkError"
    SECURITY_ERROR = "SecurityError"
    TYPE_CONSTRAINT_VIOLATION = "TypeConstraintViolation"


# OCPP-J 1.6 Table 7, spelled as the 1.6 specification spells it (errata §5 keeps the typos).
_OCPP16_SPELLING: dict[ErrorCode, str] = {
    ErrorCode.FORMAT_VIOLATION: "FormationViolation",
    ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION: "OccurenceConstraintViolation",
    # 1.6 has no RpcFrameworkError: a frame we cannot read is "syntactically incorrect".
    ErrorCode.RPC_FRAMEWORK_ERROR: "FormationViolation",
    # 1.6 has no MessageTypeNotSupported either; the closest is "not supported".
    ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED: "NotSupported",
}

# Every code a peer may send us, in any spelling, mapped back (we accept both spellings on receipt).
_FROM_WIRE: dict[str, ErrorCode] = {code.value: code for code in ErrorCode}
_FROM_WIRE.update({"FormationViolation": ErrorCode.FORMAT_VIOLATION,
                   "OccurenceConstraintViolation": ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION})


def wire_code(code: ErrorCode, ocpp_version: str | None) -> str:
    """The error code string to send for ``code`` in a conversation of ``ocpp_version``."""
    if ocpp_version == "ocpp1.6":
        return _OCPP16_SPELLING.get(code, code.value)
    return code.value


def parse_wire_code(text: str) -> ErrorCode | None:
    """Read an error code sent by a peer, accepting both the 1.6 and the 2.x spelling."""
    return _FROM_WIRE.get(text)


def clip_description(text: str) -> str:
    """Shorten a description to the 255 characters OCPP-J 2.x allows, marking the cut."""
    if len(text) <= MAX_DESCRIPTION_LENGTH:
        return text
    return text[: MAX_DESCRIPTION_LENGTH - 1] + "…"


class OcppError(Exception):
    """A request cannot be answered with a CallResult; it becomes a CALLERROR.

    ``description`` is shown to the client: it must never contain a value the client sent (it could
    be a password) — describe the location and the rule instead. ``details`` is a JSON object.
    """

    def __init__(self, code: ErrorCode, description: str, details: dict[str, Any] | None = None):
        super().__init__(description)
        self.code = code
        self.description = description
        self.details: dict[str, Any] = details or {}

"""OCPP-J RPC error codes, with each version's own spelling.

OCPP-J 1.6 (Table 7) and OCPP-J 2.0.1/2.1 (Part 4, Tables 8/9) define the CALLERROR codes. Two of the
1.6 names are misspelled in the specification and the 1.6 errata sheet keeps them on purpose so that
existing implementations keep interoperating: ``FormationViolation`` and
``OccurenceConstraintViolation``. A strict 1.6 peer expects exactly those strings, so we send the
spelling of the version the request was made in, and we never invent a code a version does not have
(1.6 has no ``RpcFrameworkError`` and no ``MessageTypeNotSupported``).

Everything else in the package raises :class:`OcppError` with a version-neutral :class:`ErrorCode`;
:func:`wire_code` is the one place that turns it into the string on the wire, with the spelling
that :mod:`ocpp_station.versions` keeps for each version. A leaf module, so that every layer (the
handlers raise OcppError, the RPC layer maps it) can import it without a cycle.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from .versions import OCPP_VERSIONS, profile

MAX_DESCRIPTION_LENGTH = 255  # OCPP-J 2.x: errorDescription is string[255]; we apply it to 1.6 too.
UNKNOWN_ID = "-1"  # OCPP-J 2.x §4.2.3: the id of a CALLERROR about a message whose id cannot be read
MAX_ID_LENGTH = 36  # OCPP-J: a message id is at most 36 characters; a UUID is exactly 36
# Arrays and objects nested in a request's payload, at most (both doors: the envelope adds two levels
# around it, a CALL frame one). No OCPP schema goes a dozen levels down, but customData takes anything,
# so this is about what the station can carry, not what OCPP needs: half of orjson's 1024, which
# leaves the standard library (exact integers; one interpreter frame per level, 1000 in all, shared
# with whoever calls) room to read and write every payload the station accepts.
MAX_PAYLOAD_DEPTH = 512


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


# Every code a peer may send us, in any spelling, mapped back (we accept both spellings on receipt).
_FROM_WIRE: dict[str, ErrorCode] = {code.value: code for code in ErrorCode}
_FROM_WIRE.update({"FormationViolation": ErrorCode.FORMAT_VIOLATION,
                   "OccurenceConstraintViolation": ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION})


def wire_code(code: ErrorCode, ocpp_version: str | None) -> str:
    """The error code string to send for ``code`` in a conversation of ``ocpp_version``.

    The spelling is the version's (:meth:`ocpp_station.versions.VersionProfile.spell_error`); an
    unknown version gets the 2.x one.
    """
    if ocpp_version in OCPP_VERSIONS:
        return profile(ocpp_version).spell_error(code.value)
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

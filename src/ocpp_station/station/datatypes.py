"""Value validation for the eight device-model data types (OCPP 2.x Part 2, DataEnumType).

Every value in the device model travels as a string. A SetVariables value that does not read as its
variable's type is "incorrectly formatted" (B05.FR.07); one that reads but falls outside
``minLimit``/``maxLimit`` is "out of range" (B05.FR.08). Both are answered Rejected, and we say
which with a reasonCode from the spec's reason-code appendix: ``InvalidValue`` or
``ValueOutOfRange`` (``TooLargeElement`` when the text exceeds ConfigurationValueSize).

The rules, per type:

* integer — optional ``-``, digits, no leading zeros, no ``+``, no ``-0``; 32-bit signed; checked
  against min/max.
* decimal — like integer with an optional fraction of at most six digits (what OCPP allows to be
  sent to a station); checked against min/max.
* boolean — exactly ``true`` or ``false``.
* dateTime — RFC 3339 with a time zone (``Z`` or an offset), at most 3 decimals of a second.
* string — ``minLimit``/``maxLimit`` are the minimum/maximum length.
* OptionList — exactly one entry of ``valuesList``.
* MemberList — a comma-separated set of ``valuesList`` entries, in any order, no repeats
  (may be empty: "none of them").
* SequenceList — a comma-separated, ordered list of ``valuesList`` entries, no repeats, at least one.

For the three list types ``maxLimit`` is the maximum length of the whole comma-separated string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum


class DataType(StrEnum):
    STRING = "string"
    DECIMAL = "decimal"
    INTEGER = "integer"
    DATETIME = "dateTime"
    BOOLEAN = "boolean"
    OPTION_LIST = "OptionList"
    SEQUENCE_LIST = "SequenceList"
    MEMBER_LIST = "MemberList"


LIST_TYPES = frozenset({DataType.OPTION_LIST, DataType.SEQUENCE_LIST, DataType.MEMBER_LIST})

_INTEGER = re.compile(r"0|-?[1-9][0-9]*")
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1  # Part 2 §2.1.1 "integer": 32 bit, signed
_DECIMAL = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]{1,6})?")
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,3})?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])")


@dataclass(frozen=True)
class Characteristics:
    """What a variable's values must look like (VariableCharacteristicsType)."""

    data_type: DataType
    unit: str | None = None
    min_limit: Decimal | None = None
    max_limit: Decimal | None = None
    values_list: tuple[str, ...] = ()


@dataclass(frozen=True)
class InvalidValue:
    """Why a value was refused: an OCPP reasonCode and a sentence that does not quote the value."""

    reason_code: str
    additional_info: str


def _bad(info: str) -> InvalidValue:
    return InvalidValue("InvalidValue", info)


def _check_range(number: Decimal, spec: Characteristics) -> InvalidValue | None:
    if spec.min_limit is not None and number < spec.min_limit:
        return InvalidValue("ValueOutOfRange", f"below the minimum of {spec.min_limit}")
    if spec.max_limit is not None and number > spec.max_limit:
        return InvalidValue("ValueOutOfRange", f"above the maximum of {spec.max_limit}")
    return None


def _check_length(value: str, spec: Characteristics) -> InvalidValue | None:
    if spec.max_limit is not None and len(value) > spec.max_limit:
        return InvalidValue("ValueOutOfRange", f"longer than {spec.max_limit} characters")
    if spec.data_type is DataType.STRING and spec.min_limit is not None and len(value) < spec.min_limit:
        return InvalidValue("ValueOutOfRange", f"shorter than {spec.min_limit} characters")
    return None


def _check_list(value: str, spec: Characteristics) -> InvalidValue | None:
    allowed = spec.values_list
    if spec.data_type is DataType.OPTION_LIST:
        return None if value in allowed else _bad("not one of: " + ",".join(allowed))
    items = value.split(",") if value else []
    if spec.data_type is DataType.SEQUENCE_LIST and not items:
        return _bad("a SequenceList needs at least one entry")
    if any(item not in allowed for item in items):
        return _bad("every entry must be one of: " + ",".join(allowed))
    if len(set(items)) != len(items):
        return _bad("an entry is repeated")
    return None


def validate(value: str, spec: Characteristics) -> InvalidValue | None:
    """None when ``value`` is a correct value of a variable with characteristics ``spec``."""
    match spec.data_type:
        case DataType.INTEGER:
            if not _INTEGER.fullmatch(value):
                return _bad("not an integer (digits, optional leading '-', no leading zeros)")
            if not INT32_MIN <= int(value) <= INT32_MAX:
                return InvalidValue("ValueOutOfRange", "outside the 32-bit integer range")
            return _check_range(Decimal(value), spec)
        case DataType.DECIMAL:
            if not _DECIMAL.fullmatch(value):
                return _bad("not a decimal number with at most 6 decimals")
            return _check_range(Decimal(value), spec)
        case DataType.BOOLEAN:
            return None if value in ("true", "false") else _bad("not 'true' or 'false'")
        case DataType.DATETIME:
            if not _RFC3339.fullmatch(value):
                return _bad("not an RFC 3339 date-time with a time zone")
            try:
                datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
            except ValueError:
                return _bad("not a valid calendar date-time")
            return None
        case DataType.STRING:
            return _check_length(value, spec)
        case _:
            return _check_list(value, spec) or _check_length(value, spec)


def now_iso() -> str:
    """The time now as OCPP writes a dateTime the station sends: RFC 3339, UTC, whole seconds, ``Z``."""
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")

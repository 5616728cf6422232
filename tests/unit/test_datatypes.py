"""Unit tests of :func:`ocpp_station.station.datatypes.validate` for the eight DataEnumType values."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ocpp_station.station.datatypes import Characteristics, DataType, InvalidValue, validate

OK, BAD, RANGE = None, "InvalidValue", "ValueOutOfRange"


def spec(data_type: DataType, lo: str | None = None, hi: str | None = None, values: str = "") -> Characteristics:
    return Characteristics(data_type, min_limit=None if lo is None else Decimal(lo),
                           max_limit=None if hi is None else Decimal(hi),
                           values_list=tuple(values.split(",")) if values else ())


def reason(value: str, characteristics: Characteristics) -> str | None:
    result = validate(value, characteristics)
    if result is None:
        return None
    assert isinstance(result, InvalidValue)
    assert result.additional_info  # always says why
    return result.reason_code


# --- integer --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "expected"), [
    ("0", OK), ("7", OK), ("-7", OK), ("-0", BAD),
    ("", BAD), ("-", BAD), ("+1", BAD), ("01", BAD), ("-01", BAD), ("00", BAD), ("1.0", BAD), ("1.", BAD),
    ("1e3", BAD), (" 1", BAD), ("1 ", BAD), ("1\n", BAD), ("0x10", BAD), ("1_000", BAD), ("one", BAD),
    ("\u0663", BAD),  # ARABIC-INDIC DIGIT THREE: a Unicode digit, not an ASCII one
    ("１", BAD),  # full-width digit one
    ("NaN", BAD), ("Infinity", BAD), ("--1", BAD),
])
def test_integer_syntax(value: str, expected: str | None) -> None:
    assert reason(value, spec(DataType.INTEGER)) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("2147483647", OK), ("-2147483648", OK), ("2147483648", RANGE), ("-2147483649", RANGE),
    ("123456789012345678901234567890", RANGE),
])
def test_integer_is_32_bit_signed(value: str, expected: str | None) -> None:
    """Part 2 §2.1.1: integer is a 32-bit signed number, whatever the variable's own limits."""
    assert reason(value, spec(DataType.INTEGER)) == expected
    assert reason(value, spec(DataType.INTEGER, "-99999999999", "99999999999")) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("10", OK), ("20", OK), ("15", OK), ("9", RANGE), ("21", RANGE), ("-10", RANGE),
    ("99999999999999999999999", RANGE), ("010", BAD),
])
def test_integer_limits_inclusive(value: str, expected: str | None) -> None:
    assert reason(value, spec(DataType.INTEGER, "10", "20")) == expected


@pytest.mark.parametrize(("value", "lo", "hi", "expected"), [
    ("0", "0", None, OK), ("-1", "0", None, RANGE), ("-1", None, "-1", OK), ("0", None, "-1", RANGE),
    ("1", "1.5", None, RANGE), ("2", "1.5", None, OK),  # a fractional limit on an integer variable
])
def test_integer_one_sided_limits(value: str, lo: str | None, hi: str | None, expected: str | None) -> None:
    assert reason(value, spec(DataType.INTEGER, lo, hi)) == expected


# --- decimal --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "expected"), [
    ("0", OK), ("1", OK), ("-1", OK), ("1.5", OK), ("-0.5", OK), ("0.000001", OK), ("1.123456", OK),
    ("1.1234567", BAD), ("0.0000001", BAD), ("1.", BAD), (".5", BAD), ("-.5", BAD), ("+1.5", BAD),
    ("01.5", BAD), ("1e3", BAD), ("1E-3", BAD), ("1,5", BAD), ("", BAD), ("NaN", BAD), ("Infinity", BAD),
    (" 1.5", BAD), ("1.5 ", BAD), ("1.5\n", BAD), ("1..5", BAD),
])
def test_decimal_syntax(value: str, expected: str | None) -> None:
    assert reason(value, spec(DataType.DECIMAL)) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("-1.5", OK), ("2.25", OK), ("-1.500000", OK), ("2.250000", OK), ("0", OK),
    ("-1.500001", RANGE), ("2.250001", RANGE), ("-2", RANGE), ("3", RANGE),
    ("2.2500001", BAD),  # seven decimals: malformed before it is out of range
])
def test_decimal_limits_inclusive(value: str, expected: str | None) -> None:
    assert reason(value, spec(DataType.DECIMAL, "-1.5", "2.25")) == expected


# --- boolean --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "expected"), [
    ("true", OK), ("false", OK), ("True", BAD), ("FALSE", BAD), ("1", BAD), ("0", BAD), ("yes", BAD),
    ("", BAD), (" true", BAD), ("true ", BAD),
])
def test_boolean(value: str, expected: str | None) -> None:
    assert reason(value, spec(DataType.BOOLEAN)) == expected


# --- dateTime -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "expected"), [
    ("2024-01-31T12:34:56Z", OK),
    ("2024-01-31T12:34:56+02:00", OK),
    ("2024-01-31T12:34:56-05:30", OK),
    ("2024-01-31T12:34:56+00:00", OK),
    ("2024-01-31T12:34:56-00:00", OK),
    ("2024-01-31T12:34:56+23:59", OK),
    ("2024-01-31T12:34:56.1Z", OK),
    ("2024-01-31T12:34:56.123Z", OK),
    ("2024-01-31T12:34:56.999-01:00", OK),
    ("2024-01-31T12:34:56.1234Z", BAD),  # at most 3 decimals of a second
    ("2024-01-31T12:34:56.123456789+01:00", BAD),
    ("2024-01-31t12:34:56z", OK),  # RFC 3339 §5.6 NOTE: 't' and 'z' may be lowercase
    ("2024-02-29T00:00:00Z", OK),  # leap year
    ("2024-12-31T23:59:59Z", OK),
    ("2024-01-31T12:34:56", BAD),  # no time zone
    ("2024-01-31 12:34:56Z", BAD),  # space instead of T
    ("2024-01-31T12:34Z", BAD),  # no seconds
    ("2024-01-31", BAD),
    ("12:34:56Z", BAD),
    ("2024-01-31T12:34:56.Z", BAD),
    ("2024-01-31T12:34:56+0200", BAD),
    ("2024-01-31T12:34:56+02", BAD),
    ("2023-02-29T00:00:00Z", BAD),  # not a leap year
    ("2023-02-30T00:00:00Z", BAD),
    ("2023-04-31T00:00:00Z", BAD),
    ("2023-13-01T00:00:00Z", BAD),
    ("2023-00-10T00:00:00Z", BAD),
    ("2023-01-00T00:00:00Z", BAD),
    ("2023-01-01T24:00:00Z", BAD),
    ("2023-01-01T23:60:00Z", BAD),
    ("2023-01-01T00:00:00+24:00", BAD),
    ("24-01-31T12:34:56Z", BAD),
    ("2024-1-31T12:34:56Z", BAD),
    ("", BAD),
    (" 2024-01-31T12:34:56Z", BAD),
    ("2024-01-31T12:34:56Z ", BAD),
    ("2024-01-31T12:34:56ZZ", BAD),
    ("2024-01-31T12:34:56+02:00Z", BAD),
    ("２０２４-01-31T12:34:56Z", BAD),  # full-width digits
])
def test_datetime(value: str, expected: str | None) -> None:
    assert reason(value, spec(DataType.DATETIME)) == expected


@pytest.mark.parametrize("offset", ["+05:60", "+05:99", "-00:60"])
def test_datetime_offset_minutes_above_59_refused(offset: str) -> None:
    assert reason("2024-01-31T12:34:56" + offset, spec(DataType.DATETIME)) == BAD


def test_datetime_ignores_limits() -> None:
    assert reason("2024-01-31T12:34:56Z", spec(DataType.DATETIME, "0", "1")) is OK


# --- string ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "expected"), [
    ("ab", OK), ("abcde", OK), ("abc", OK), ("a", RANGE), ("", RANGE), ("abcdef", RANGE),
    ("éèêëà", OK),  # limits count characters, not bytes
])
def test_string_length_limits_inclusive(value: str, expected: str | None) -> None:
    assert reason(value, spec(DataType.STRING, "2", "5")) == expected


@pytest.mark.parametrize("value", ["", "anything at all", "x" * 5000, "with,commas", "123", "\u0000"])
def test_string_without_limits_accepts_anything(value: str) -> None:
    assert reason(value, spec(DataType.STRING)) is OK


def test_string_empty_allowed_with_zero_max() -> None:
    assert reason("", spec(DataType.STRING, None, "0")) is OK
    assert reason("a", spec(DataType.STRING, None, "0")) == RANGE


# --- OptionList -----------------------------------------------------------------------------------

OPTIONS = "Wired0,Wired1,Wireless0"


@pytest.mark.parametrize(("value", "expected"), [
    ("Wired0", OK), ("Wireless0", OK), ("wired0", BAD), ("WIRED0", BAD), ("Wired2", BAD), ("", BAD),
    ("Wired0,Wired1", BAD), (" Wired0", BAD), ("Wired0 ", BAD),
])
def test_option_list_exactly_one_entry_case_sensitive(value: str, expected: str | None) -> None:
    assert reason(value, spec(DataType.OPTION_LIST, values=OPTIONS)) == expected


def test_option_list_max_limit_is_the_string_length() -> None:
    assert reason("Wired0", spec(DataType.OPTION_LIST, hi="6", values=OPTIONS)) is OK
    assert reason("Wireless0", spec(DataType.OPTION_LIST, hi="6", values=OPTIONS)) == RANGE


# --- MemberList -----------------------------------------------------------------------------------

MEMBERS = "EVConnected,Authorized,PowerPathClosed,EnergyTransfer"


@pytest.mark.parametrize(("value", "expected"), [
    ("", OK),  # "none of them"
    ("Authorized", OK),
    ("Authorized,EVConnected", OK),
    ("EVConnected,Authorized", OK),  # any order
    ("EnergyTransfer,PowerPathClosed,Authorized,EVConnected", OK),
    ("Authorized,Authorized", BAD),  # repeat
    ("Authorized,EVConnected,Authorized", BAD),
    ("authorized", BAD),  # case-sensitive
    ("Authorized,Foo", BAD),
    ("Authorized,", BAD),  # empty entry
    (",Authorized", BAD),
    (",", BAD),
    ("Authorized, EVConnected", BAD),  # no spaces around commas
    ("Authorized;EVConnected", BAD),
])
def test_member_list(value: str, expected: str | None) -> None:
    assert reason(value, spec(DataType.MEMBER_LIST, values=MEMBERS)) == expected


# --- SequenceList ---------------------------------------------------------------------------------

SEQUENCE = "Wired0,Wired1,Wireless0,Wireless1"


@pytest.mark.parametrize(("value", "expected"), [
    ("Wired0", OK), ("Wireless1,Wired0", OK), ("Wired0,Wired1,Wireless0,Wireless1", OK),
    ("", BAD),  # at least one entry
    ("Wired0,Wired0", BAD), ("Wired0,wired1", BAD), ("Wired0,,Wired1", BAD), ("Wired0,", BAD), ("Other", BAD),
])
def test_sequence_list(value: str, expected: str | None) -> None:
    assert reason(value, spec(DataType.SEQUENCE_LIST, values=SEQUENCE)) == expected


# --- list maxLimit: the length of the whole comma-separated string ----------------------------------

@pytest.mark.parametrize(("data_type", "value", "limit", "expected"), [
    (DataType.MEMBER_LIST, "Authorized,EVConnected", "22", OK),  # exactly 22 characters
    (DataType.MEMBER_LIST, "Authorized,EVConnected", "21", RANGE),
    (DataType.MEMBER_LIST, "", "0", OK),
    (DataType.SEQUENCE_LIST, "Wired0,Wired1", "13", OK),
    (DataType.SEQUENCE_LIST, "Wired0,Wired1", "12", RANGE),
])
def test_list_max_limit_counts_characters(data_type: DataType, value: str, limit: str, expected: str | None) -> None:
    values = MEMBERS if data_type is DataType.MEMBER_LIST else SEQUENCE
    assert reason(value, spec(data_type, hi=limit, values=values)) == expected


def test_list_min_limit_is_not_a_length() -> None:
    """minLimit has no meaning for list types; only maxLimit is applied (to the CSV length)."""
    assert reason("Wired0", spec(DataType.SEQUENCE_LIST, lo="100", values=SEQUENCE)) is OK
    assert reason("", spec(DataType.MEMBER_LIST, lo="5", values=MEMBERS)) is OK


def test_list_invalid_entry_beats_length() -> None:
    assert reason("Foo,Bar,Baz", spec(DataType.MEMBER_LIST, hi="3", values=MEMBERS)) == BAD


# --- cross-cutting --------------------------------------------------------------------------------

@pytest.mark.parametrize("data_type", list(DataType))
def test_every_data_type_is_handled(data_type: DataType) -> None:
    """Each of the eight types has a value it accepts and one it refuses (none falls through silently)."""
    good = {DataType.STRING: "x", DataType.DECIMAL: "1.5", DataType.INTEGER: "1", DataType.DATETIME:
            "2024-01-01T00:00:00Z", DataType.BOOLEAN: "true", DataType.OPTION_LIST: "Wired0",
            DataType.SEQUENCE_LIST: "Wired0", DataType.MEMBER_LIST: "Wired0"}[data_type]
    bad = {DataType.STRING: "xxxxxx", DataType.DECIMAL: "x", DataType.INTEGER: "x", DataType.DATETIME: "x",
           DataType.BOOLEAN: "x", DataType.OPTION_LIST: "x", DataType.SEQUENCE_LIST: "x",
           DataType.MEMBER_LIST: "x"}[data_type]
    characteristics = spec(data_type, hi="5" if data_type is DataType.STRING else None, values=SEQUENCE)
    assert validate(good, characteristics) is None
    assert validate(bad, characteristics) is not None


@pytest.mark.parametrize(("data_type", "value", "limits"), [
    (DataType.INTEGER, "987654321", ("0", "10")),
    (DataType.DECIMAL, "98765.4321", ("0", "10")),
    (DataType.STRING, "s3cr3t-passw0rd", ("0", "3")),
    (DataType.OPTION_LIST, "s3cr3t-passw0rd", (None, None)),
    (DataType.MEMBER_LIST, "s3cr3t-passw0rd", (None, None)),
    (DataType.DATETIME, "s3cr3t-passw0rd", (None, None)),
    (DataType.BOOLEAN, "s3cr3t-passw0rd", (None, None)),
])
def test_additional_info_never_quotes_the_value(data_type: DataType, value: str, limits: tuple) -> None:
    result = validate(value, spec(data_type, *limits, values="a,b"))
    assert result is not None
    assert value not in result.additional_info
    assert len(result.additional_info) <= 512  # StatusInfoType.additionalInfo string[512] in 2.0.1

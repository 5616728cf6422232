"""exact_json: orjson's speed, with integers beyond 64 bits kept exact both ways."""

from __future__ import annotations

import json

import pytest

from ocpp_station import exact_json

HUGE = [2**64, 2**64 + 1, -(2**63) - 1, 10**40]


@pytest.mark.parametrize("number", HUGE)
def test_loads_keeps_long_integers_exact(number: int) -> None:
    for text in (json.dumps({"n": number}), json.dumps({"n": number}).encode()):
        value = exact_json.loads(text)["n"]
        assert value == number and type(value) is int


def test_loads_takes_digits_in_strings_and_ordinary_numbers_alike() -> None:
    assert exact_json.loads(b'{"s": "12345678901234567890", "n": 1.5}') == {"s": "12345678901234567890", "n": 1.5}
    assert exact_json.loads(b"[9223372036854775807]") == [2**63 - 1]


@pytest.mark.parametrize("text", [b"NaN", b"[Infinity]", b'{"x": -Infinity, "n": 12345678901234567890}', b"{"])
def test_loads_refuses_what_is_not_json(text: bytes) -> None:
    with pytest.raises(ValueError):
        exact_json.loads(text)


def test_dumps_writes_long_integers_compact_and_indented() -> None:
    value = {"n": 2**64 + 1, "s": "é"}
    assert exact_json.dumps(value) == '{"n":18446744073709551617,"s":"é"}'.encode()
    assert json.loads(exact_json.dumps(value, indent=True)) == value
    assert exact_json.dumps({"n": 1}, indent=True) == b'{\n  "n": 1\n}'


# -- issue 15 item 4: the exact path (standard library, for integers beyond 64 bits) refuses what the fast
# path (orjson) refuses, so that whether a message is JSON does not depend on a 19-digit number in it.

HOSTILE = {
    "lone-high-surrogate-escape": b'"\\ud800"',
    "lone-low-surrogate-escape": b'"\\udfff"',
    "reversed-surrogate-pair": b'"\\udc00\\ud800"',
    "high-surrogate-then-text": b'"\\ud83dx"',
    "surrogate-as-a-key": b'{"\\ud800": 1}',
    "invalid-utf8": b'"\xc3\x28"',
    "utf8-encoded-surrogate": b'"\xed\xa0\x80"',
    "overlong-utf8": b'"\xc0\xaf"',
    "byte-order-mark": b"\xef\xbb\xbf{}",
    "raw-control-character": b'"a\x01b"',
    "nan": b"NaN",
    "infinity": b"-Infinity",
    "number-beyond-a-double": b"1e400",
    "nested-1025": b"[" * 1025 + b"]" * 1025,
    "nested-1000": b"[" * 1000 + b"]" * 1000,  # orjson reads it, the standard library did not
    "trailing-comma": b"[1,]",
    "single-quotes": b"'a'",
    "comment": b"[1 /* c */]",
    "leading-zero": b"01",
    # Taken by both: JSON.
    "surrogate-pair": b'"\\ud83d\\ude00"',
    "escaped-nul": b'"\\u0000"',
    "duplicate-keys": b'{"a": 1, "a": 2}',
    "a-double": b"1e308",
    "nested-599": b"[" * 599 + b"]" * 599,  # 600 with the array around it: DEFAULT_MAX_DEPTH
}


def _accepted(raw: bytes) -> bool:
    try:
        exact_json.loads(raw)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_both_json_paths_take_and_refuse_the_same_texts(case: str) -> None:
    """RFC 8259 §8.1/§8.2 and OCPP-J (a message is UTF-8): the same text around a 19-digit number or not."""
    fast = b"[" + HOSTILE[case] + b', "abc"]'
    exact = b"[" + HOSTILE[case] + b', "1234567890123456789"]'
    if case == "byte-order-mark":  # about the start of the text
        fast, exact = HOSTILE[case], HOSTILE[case][:-1] + b'"n": 1234567890123456789}'
    assert not exact_json.may_hold_long_integers(fast) and exact_json.may_hold_long_integers(exact)
    json_text = case in ("surrogate-pair", "escaped-nul", "duplicate-keys", "a-double", "nested-599")
    assert (_accepted(fast), _accepted(exact)) == (json_text, json_text), case


def test_an_integer_beyond_a_double_is_refused_on_the_exact_path_as_orjson_refuses_a_number_that_big() -> None:
    """RFC 8259 §6 lets a reader limit the range of numbers; this one's is orjson's on both paths (no
    OCPP integer comes near 10**308, and orjson refuses 1e400 written as a float on the fast path)."""
    with pytest.raises(ValueError):
        exact_json.loads(b"[1" + b"0" * 400 + b"]")
    assert exact_json.loads(b"[1" + b"0" * 300 + b"]") == [10**300]


def test_a_depth_limit_applies_on_both_paths_alike() -> None:
    for raw in (b"[" * 601 + b"12345678901234567890" + b"]" * 601, b"[" * 601 + b"1" + b"]" * 601):
        with pytest.raises(exact_json.TooDeep) as raised:
            exact_json.loads(raw)
        assert raised.value.max_depth == exact_json.DEFAULT_MAX_DEPTH and isinstance(raised.value.value, list)
        with pytest.raises(exact_json.TooDeep):
            exact_json.loads(raw[300:-300], max_depth=300)
        assert exact_json.loads(raw[1:-1]) is not None  # 600 levels
    value = exact_json.loads(b'{"n": 12345678901234567890}', max_depth=1)
    assert value == {"n": 12345678901234567890} and type(value["n"]) is int

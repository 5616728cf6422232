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

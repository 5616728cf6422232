"""OCPP-J frames from the CSMS (csms/frames.py): what is read, and what is refused with which code."""

from __future__ import annotations

import json

import pytest

from ocpp_station.csms.frames import Call, CallError, CallResult, FrameError, call_result, parse
from ocpp_station.errors import ErrorCode


def test_the_three_frame_types_are_read() -> None:
    assert parse('[2,"a","Reset",{"type":"Immediate"}]') == Call("a", "Reset", {"type": "Immediate"})
    assert parse('[3,"b",{}]') == CallResult("b", {})
    assert parse('[4,"c","NotSupported","no",{}]') == CallError("c", ErrorCode.NOT_SUPPORTED, "no", {})


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(constant: str) -> None:
    """Python's parser accepts them; echoed in an answer they would make that answer invalid JSON."""
    with pytest.raises(FrameError) as raised:
        parse(f'[2,"a","GetVariables",{{"x":{constant}}}]')
    assert raised.value.code is ErrorCode.RPC_FRAMEWORK_ERROR


def test_integers_beyond_64_bits_stay_exact_and_answers_stay_json() -> None:
    frame = parse('[2,"a","GetVariables",{"n":18446744073709551617}]')
    assert isinstance(frame, Call) and frame.payload == {"n": 2**64 + 1}
    assert json.loads(call_result("a", frame.payload)) == [3, "a", {"n": 2**64 + 1}]


def test_nesting_too_deep_for_the_parser_is_refused_not_raised() -> None:
    with pytest.raises(FrameError) as raised:
        parse("[2,\"a\",\"X\"," + "[" * 100_000 + "]" * 100_000 + "]")
    assert raised.value.code is ErrorCode.RPC_FRAMEWORK_ERROR

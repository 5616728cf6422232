"""OCPP-J frames from the CSMS (csms/frames.py): what is read, and what is refused with which code."""

from __future__ import annotations

import json

import pytest

from ocpp_station.csms.frames import Call, CallError, CallResult, FrameError, call, call_error, call_result, parse
from ocpp_station.errors import ErrorCode, OcppError


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


@pytest.mark.parametrize("tail", ["", ',"n":18446744073709551617'])
def test_an_unpaired_surrogate_escape_is_refused_on_both_json_paths(tail: str) -> None:
    """orjson refuses "\\ud800"; the exact path (long integers) must too: no UTF-8 answer could echo it."""
    with pytest.raises(FrameError) as raised:
        parse('[2,"a","GetVariables",{"s":"\\ud800"' + tail + "}]")
    assert raised.value.code is ErrorCode.RPC_FRAMEWORK_ERROR
    assert parse('[2,"a","X",{"s":"\\ud83d\\ude00"' + tail + "}]").payload["s"] == "😀"  # a pair is fine


def test_frames_are_compact_utf_8_text() -> None:
    assert call("id-1", "Heartbeat", {"a": "é", "b": [1, 2]}) == '[2,"id-1","Heartbeat",{"a":"é","b":[1,2]}]'
    assert call_result("id-2", {}) == '[3,"id-2",{}]'
    error = OcppError(ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED, "x" * 300, {"k": 1})
    frame = json.loads(call_error("id-3", error, "ocpp2.0.1"))
    assert frame[:3] == [4, "id-3", "MessageTypeNotSupported"] and len(frame[3]) == 255 and frame[4] == {"k": 1}


def test_bytes_are_read_as_utf_8_and_broken_utf_8_is_not_json() -> None:
    assert parse('[3,"b",{"s":"é"}]'.encode()) == CallResult("b", {"s": "é"})
    with pytest.raises(FrameError):
        parse(b'[3,"b",{"s":"\xff"}]')


@pytest.mark.parametrize(("text", "code", "message_id"), [
    ('[2,"a","X"]', ErrorCode.FORMAT_VIOLATION, "a"),
    ('[3,"a",[]]', ErrorCode.FORMAT_VIOLATION, "a"),
    ('[7,"a",{}]', ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED, "a"),
    ('[2,"' + "x" * 37 + '","X",{}]', ErrorCode.RPC_FRAMEWORK_ERROR, "-1"),
    ('{"a":1}', ErrorCode.RPC_FRAMEWORK_ERROR, "-1"),
])
def test_what_is_refused_names_the_id_it_could_read(text: str, code: ErrorCode, message_id: str) -> None:
    with pytest.raises(FrameError) as raised:
        parse(text)
    assert (raised.value.code, raised.value.request_id) == (code, message_id)

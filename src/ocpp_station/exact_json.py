"""JSON read fast, with every integer exact.

orjson is the fast parser, but it reads integers beyond 64 bits, which are valid JSON, as floats:
2**64 + 1 becomes 1.8446744073709552e+19, and whatever echoes it no longer says what was sent. The
standard library keeps them exact. Such numbers have at least 19 digits in a row, which is cheap
to look for: map every digit to "9" and search for 19 of them (1 µs for a one-item request, 14 µs
for a 100-item one, where the regular expression ``[0-9]{19}`` cost 4 and 160 µs).

Which texts are JSON is orjson's verdict on both paths: a text that may hold a long integer is read
by orjson first and only then again by the standard library, for its integers. Left to itself the
standard library takes what RFC 8259 and OCPP-J (a message is UTF-8) do not: unpaired UTF-16
surrogate escapes (``"\\ud800"``, which no UTF-8 answer can echo), 1e400 (read as infinity), a
byte-order mark or UTF-16 and UTF-32 bytes (``json.loads`` of bytes guesses the encoding). Whether
a message is refused must not depend on whether a serial number somewhere in it has 19 digits. So
an integer beyond the range of a double (309 digits and more, which orjson cannot even read as a
float) is refused on the exact path too: RFC 8259 §6 lets a reader limit the range of numbers, and
no OCPP field comes near it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import orjson

_ALL_DIGITS_TO_NINE = bytes.maketrans(b"0123456789", b"9" * 10)
# 19 digits: the shortest integers orjson cannot hold exactly (below -2**63; above 2**64 - 1 takes 20).
_LONG_DIGIT_RUN = b"9" * 19
# What loads() takes unless told otherwise, on both paths alike (orjson itself reads 1024 levels): the
# standard library recurses once per level within the interpreter's 1000 frames, which it shares with
# its caller's stack. Deeper than every message the station takes (errors.MAX_PAYLOAD_DEPTH and the
# envelope around it).
DEFAULT_MAX_DEPTH = 600


class TooDeep(ValueError):
    """JSON, but nested deeper than the caller's ``max_depth``.

    ``value`` is orjson's reading of it, for the caller to tell who sent it (an id, a version): its
    integers beyond 64 bits may be floats, so it must not be acted upon.
    """

    def __init__(self, value: Any, max_depth: int):
        super().__init__(f"nested more than {max_depth} levels deep")
        self.value = value
        self.max_depth = max_depth


def may_hold_long_integers(raw: bytes) -> bool:
    """True when ``raw`` has a run of 19 or more digits (in a number, or in a string: no harm)."""
    return _LONG_DIGIT_RUN in raw.translate(_ALL_DIGITS_TO_NINE)


def refuse_constant(name: str) -> Any:
    """``parse_constant`` for :func:`json.loads`, which would otherwise take NaN and Infinity:
    RFC 8259 has no such numbers, and whatever echoed one would not be JSON."""
    raise ValueError(f"{name} is not JSON")


def nested_deeper_than(raw: bytes, value: Any, limit: int) -> bool:
    """Whether ``value``, read from ``raw``, has arrays or objects nested more than ``limit`` deep.

    ``[]`` is one level, ``[{}]`` two. A value cannot be nested deeper than half its length, nor
    deeper than ``raw`` has opening brackets (those inside strings only add to the count): a
    request of ordinary size is cleared by its length, a large one by two ``bytes.count`` calls
    (5 µs for a 100-item GetVariables), and only one with more brackets than ``limit`` is walked,
    level by level; the walk stops as soon as what is left unvisited could not reach the limit.
    """
    if len(raw) <= 2 * limit:
        return False
    brackets = raw.count(b"[") + raw.count(b"{")
    if brackets <= limit:
        return False
    level = [value] if type(value) is dict or type(value) is list else []
    depth = seen = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        seen += len(level)
        if depth + brackets - seen <= limit:  # every chain below has at most that many containers left
            return False
        level = [child for node in level for child in (node.values() if type(node) is dict else node)
                 if type(child) is dict or type(child) is list]
    return False


def loads(raw: bytes | str, *, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """Parse ``raw``; ValueError (orjson.JSONDecodeError is one) when it is not JSON.

    :class:`TooDeep` (a ValueError too) for JSON nested more than ``max_depth`` levels, on both
    paths: the standard library could not read much deeper (it raised RecursionError near 990
    levels, where orjson reads 1024), and a verdict must not depend on the path.
    """
    data = raw.encode("utf-8") if isinstance(raw, str) else raw  # a lone surrogate: UnicodeEncodeError
    value = orjson.loads(data)  # the verdict, on both paths
    if nested_deeper_than(data, value, max_depth):
        raise TooDeep(value, max_depth)
    if not may_hold_long_integers(data):
        return value
    try:
        return json.loads(data.decode("utf-8"), parse_constant=refuse_constant)
    except RecursionError:  # a caller already hundreds of frames deep (max_depth is then too high for it)
        raise TooDeep(value, max_depth) from None


def dumps(value: Any, *, indent: bool = False) -> bytes:
    """Serialize ``value`` (UTF-8, compact or indented by 2); integers beyond 64 bits, which orjson
    refuses to write, go through the standard library."""
    try:
        return orjson.dumps(value, option=orjson.OPT_INDENT_2 if indent else None)
    except TypeError:
        return json.dumps(value, ensure_ascii=False, indent=2 if indent else None,
                          separators=(",", ": ") if indent else (",", ":")).encode("utf-8")


# -- reading what can be read of a text that is not JSON ------------------------------------------------
# For the answer to a message that cannot be parsed: its id, when the start of the text says it
# unambiguously (OCPP-J 2.x §4.2.3 asks for "-1" only when the id cannot be read). Regular
# expressions do the byte work; Python only steps from token to token, and callers bound the text.

STRING_TOKEN = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"', re.DOTALL)
_WHITESPACE = re.compile(rb"[ \t\n\r]*")
_SCALAR = re.compile(rb"[-+.0-9A-Za-z]+")  # a number, true, false, null (or a wrong word: skipped alike)
# Inside a value being skipped: a whole string, a bracket, or a quote that opens a string never closed.
_SKIPPED = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"|[\[\]{}]|"', re.DOTALL)
_CLOSER = {ord("["): ord("]"), ord("{"): ord("}")}


class Unreadable(Exception):
    """The text stops having the structure of JSON here: nothing after this point can be trusted."""


def read_string(token: bytes) -> str | None:
    """The text of the JSON string token ``token`` (quotes included), or None if it is not readable:
    not UTF-8, a raw control character, a bad escape, an unpaired surrogate escape."""
    try:
        text = json.loads(token.decode("utf-8"))
        text.encode("utf-8")  # "\ud800" is read by the standard library, not by anyone downstream
    except ValueError:  # UnicodeError and JSONDecodeError are ValueErrors
        return None
    return text if isinstance(text, str) else None


def skip_whitespace(raw: bytes, pos: int) -> int:
    return _WHITESPACE.match(raw, pos).end()  # type: ignore[union-attr]  # matches the empty string too


def value_end(raw: bytes, pos: int) -> int | None:
    """Where the value starting at ``raw[pos]`` ends; None when the text ends first.

    Only the structure is followed (strings, brackets): what a skipped value holds (bytes that are
    not UTF-8, a surrogate escape, a thousand levels of nesting) does not matter, which is the point.
    Raises :class:`Unreadable` where brackets do not pair up or no value starts.
    """
    if pos >= len(raw):
        return None
    first = raw[pos]
    if first == 0x22:  # '"'
        found = STRING_TOKEN.match(raw, pos)
        return found.end() if found else None
    if first in _CLOSER:
        expected: list[int] = []
        for token in _SKIPPED.finditer(raw, pos):
            kind = raw[token.start()]
            if kind == 0x22:
                if token.end() - token.start() == 1:
                    return None  # a string that runs to the end of the text
                continue
            if kind in _CLOSER:
                expected.append(_CLOSER[kind])
            elif not expected or expected.pop() != kind:
                raise Unreadable(pos)
            elif not expected:
                return token.end()
        return None
    scalar = _SCALAR.match(raw, pos)
    if scalar is None:
        raise Unreadable(pos)
    return scalar.end()


@dataclass(frozen=True)
class Member:
    """One member of an object as far as it could be followed: ``end`` is None if the text ends in it."""

    key: str | None  # None: a key that is not readable text (so not any name a caller looks for)
    start: int
    end: int | None


def object_members(raw: bytes, pos: int) -> tuple[list[Member], int | None]:
    """The members of the object whose ``{`` is at ``raw[pos]``, and where it ends (None: the text
    ends before it does). Raises :class:`Unreadable` where the text stops being an object."""
    members: list[Member] = []
    pos = skip_whitespace(raw, pos + 1)
    if raw[pos:pos + 1] == b"}":
        return members, pos + 1
    while True:
        if pos >= len(raw):
            return members, None
        if raw[pos] != 0x22:
            raise Unreadable(pos)
        key = STRING_TOKEN.match(raw, pos)
        if key is None:
            return members, None
        pos = skip_whitespace(raw, key.end())
        if pos >= len(raw):
            return members, None
        if raw[pos] != 0x3A:  # ':'
            raise Unreadable(pos)
        start = skip_whitespace(raw, pos + 1)
        end = value_end(raw, start)
        members.append(Member(read_string(key.group()), start, end))
        if end is None:
            return members, None
        pos = skip_whitespace(raw, end)
        if pos >= len(raw):
            return members, None
        if raw[pos] == 0x7D:  # '}'
            return members, pos + 1
        if raw[pos] != 0x2C:  # ','
            raise Unreadable(pos)
        pos = skip_whitespace(raw, pos + 1)

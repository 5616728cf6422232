"""Whether the CSMS's answer to a CALL of ours is one we may use: its official schema, then OCPP's integer range.

The mirror of :mod:`.outgoing`: that module keeps a bug of ours off the wire, this one keeps a bad
answer of the CSMS's out of the station. Every CALLRESULT is checked against the official
*response* schema of the action it answers, in the session's version, with the validators of
:mod:`ocpp_station.rpc.schemas` (the one place that loads and compiles the OCA's files), before
the session or the station acts on any of it.

The schemas say ``"type": "integer"`` and nothing more, so a 401-digit number, or ``1e300``
(which JSON Schema counts as an integer too), passes them; OCPP's integer is 32-bit signed
(Part 2, primitive datatypes), so a value beyond that range is refused here as well: it could
not be stored in the device model, and as a number of seconds it would overflow a float.

What a problem says names the place (a JSON pointer) and the rule, never the value: this text
goes to the log, and a hostile CSMS chooses the value.
"""

from __future__ import annotations

from typing import Any

from ..logsafe import shown
from ..rpc.schemas import compiled, known_actions, violation
from ..station.datatypes import INT32_MAX, INT32_MIN


def _out_of_range(payload: Any) -> str | None:
    """The JSON pointer of the first integer outside OCPP's 32-bit range in ``payload``, or None.

    Walked with a stack of its own, not recursion: ``customData`` admits any nesting, and a CSMS
    may nest deeper than Python's recursion limit. Its keys are the CSMS's text, so the pointer
    shows each made safe for a log line (escaped, at most 32 characters).
    """
    stack: list[tuple[str, Any]] = [("", payload)]
    while stack:
        pointer, value = stack.pop()
        if isinstance(value, bool):
            continue
        if isinstance(value, int):
            if not INT32_MIN <= value <= INT32_MAX:
                return pointer
        elif isinstance(value, float):  # 5.0 is an integer to JSON Schema: so 1e300 is one, out of range
            if value.is_integer() and not INT32_MIN <= value <= INT32_MAX:
                return pointer
        elif isinstance(value, dict):
            stack.extend((f"{pointer}/{shown(key, 32, quote=False)}", item) for key, item in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend((f"{pointer}/{index}", item) for index, item in reversed(list(enumerate(value))))
    return None


def answer_problem(version: str, action: str, payload: Any) -> str | None:
    """What is wrong with the CSMS's answer ``payload`` to our CALL ``action`` in ``version``; None when usable.

    E.g. ``"/interval: wrong JSON type (type)"`` or ``"/interval: outside the 32-bit integer range"``.
    """
    if action not in known_actions(version):
        return f"{action} is not an action of {version}"
    found = violation(compiled(version, action, "response"), payload)
    if found is not None:
        return f"{found.pointer or 'the payload'}: {found.rule} ({found.keyword})"
    pointer = _out_of_range(payload)
    if pointer is not None:
        return f"{pointer or 'the payload'}: outside the 32-bit integer range of OCPP (integer)"
    return None

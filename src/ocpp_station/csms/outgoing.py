"""The official schema of every CALL the station sends, compiled once and kept: a bug of ours must not reach a CSMS.

The dispatcher validates the station's *answers* (its CALLRESULT payloads) against the response
schemas; this module is for the other direction, the CALLs the station makes itself
(BootNotification, StatusNotification, Heartbeat and whatever later work queues: report parts,
security events, certificate requests). It uses the schemas of :mod:`ocpp_station.rpc.schemas`, the one
place that loads the OCA's files shipped in the ``ocpp`` package and maps a violation to words:
each (version, action) is compiled the first time it is needed (≈1 ms; a session sends a handful
of actions, so compiling all ~180 schemas of a version up front would cost more than it saves)
and cached for the life of the process.

What a violation says names the place (a JSON pointer) and the rule, never the value: a payload
may carry a secret, and this text goes to the log.
"""

from __future__ import annotations

from typing import Any

from ..rpc.schemas import compiled, known_actions, violation


def request_problem(version: str, action: str, payload: Any) -> str | None:
    """What is wrong with the CALL ``action`` carrying ``payload`` in ``version``, or None when it conforms.

    The answer names the JSON pointer, the rule and the schema keyword, never the value, e.g.
    ``"/connectorStatus: not one of the allowed values (enum)"``.
    """
    if action not in known_actions(version):
        return f"{action} is not an action of {version}"
    found = violation(compiled(version, action, "request"), payload)
    return None if found is None else f"{found.pointer or 'the payload'}: {found.rule} ({found.keyword})"

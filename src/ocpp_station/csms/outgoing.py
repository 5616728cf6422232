"""The official schema of every CALL the station sends, compiled once and kept: a bug of ours must not reach a CSMS.

The dispatcher validates the station's *answers* (its CALLRESULT payloads) against the response
schemas; this module is for the other direction, the CALLs the station makes itself
(BootNotification, StatusNotification, Heartbeat and whatever later work queues: report parts,
security events, certificate requests). It reads the OCA's files shipped in the ``ocpp`` package
with :mod:`importlib.resources`, exactly as :mod:`ocpp_station.rpc.schemas` does for the requests
a CSMS or the OEM sends us, and asks :func:`ocpp_station.versions.profile` where each version's
files live and how they are named. Each (version, action) is compiled with jsonschema-rs the first
time it is needed (≈1 ms; a session sends a handful of actions, so compiling all ~180 schemas of a
version up front would cost more than it saves) and cached for the life of the process.

What a violation says names the place (a JSON pointer) and the rule, never the value: a payload
may carry a secret, and this text goes to the log.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import jsonschema_rs

from .. import versions


@cache
def _actions(version: str) -> frozenset[str]:
    """Every action the OCA defines for ``version`` (read from its request schema file names)."""
    profile = versions.profile(version)
    folder = resources.files("ocpp") / profile.schema_folder / "schemas"
    requests = {entry.name.removesuffix(".json") for entry in folder.iterdir()
                if entry.name.endswith(".json") and not entry.name.endswith("Response.json")}
    return frozenset(name.removesuffix(profile.request_schema_suffix) for name in requests
                     if name.endswith(profile.request_schema_suffix))


@cache
def _validator(version: str, action: str) -> Any:
    """The compiled request schema of ``action`` in ``version`` (a jsonschema-rs validator)."""
    profile = versions.profile(version)
    path = resources.files("ocpp") / profile.schema_folder / "schemas" / f"{action}{profile.request_schema_suffix}.json"
    # validate_formats: a timestamp that is not a date-time is as wrong as a missing field.
    return jsonschema_rs.validator_for(json.loads(path.read_text("utf-8")), validate_formats=True)


def request_problem(version: str, action: str, payload: Any) -> str | None:
    """What is wrong with the CALL ``action`` carrying ``payload`` in ``version``, or None when it conforms.

    The answer names the JSON pointer and the schema keyword, never the value, e.g.
    ``"/connectorStatus: not allowed by the schema (enum)"``.
    """
    if action not in _actions(version):
        return f"{action} is not an action of {version}"
    validator = _validator(version, action)
    if validator.is_valid(payload):
        return None
    error = next(iter(validator.iter_errors(payload)))
    pointer = "".join(f"/{part}" for part in error.instance_path)
    missing = getattr(error.kind, "property", None)
    if type(error.kind).__name__ == "Required" and isinstance(missing, str):
        return f"{pointer}/{missing}: a required field is missing"
    return f"{pointer or 'the payload'}: not allowed by the schema ({error.kind.name})"

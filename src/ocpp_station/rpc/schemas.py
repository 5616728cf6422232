"""The official OCA JSON schemas, loaded from the installed ``ocpp`` package and compiled once.

We never copy the schemas: the ``ocpp`` package ships the OCA's files for 1.6 (security extension
included), 2.0.1 and 2.1, and we read them with :mod:`importlib.resources`. They are compiled with
jsonschema-rs (≈4 µs for a 20-item SetVariables, against ≈1.3 ms for the pure-Python ``jsonschema``;
see ecosystem-notes), with ``format`` checking on so that a bad ``date-time`` is caught.

A validation failure is mapped onto the OCPP-J error code that describes it (ocpp-notes §1.3):

========================================  ====================================
what is wrong                             CALLERROR
========================================  ====================================
a required field is missing, or an        OccurrenceConstraintViolation
array has too few / too many items
a value has the wrong JSON type           TypeConstraintViolation
a value is outside its enum, range,       PropertyConstraintViolation
length, pattern or format
an unexpected property, or any other      FormatViolation
structural problem
========================================  ====================================

The description names the location (a JSON pointer) and the rule, never the offending value: it may
be a password.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import jsonschema_rs

from ..errors import ErrorCode, OcppError
from ..versions import profile

_KIND_TO_CODE: dict[str, ErrorCode] = {
    "Required": ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION,
    "MinItems": ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION,
    "MaxItems": ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION,
    "Type": ErrorCode.TYPE_CONSTRAINT_VIOLATION,
    "Enum": ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
    "Constant": ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
    "MaxLength": ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
    "MinLength": ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
    "Minimum": ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
    "Maximum": ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
    "ExclusiveMinimum": ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
    "ExclusiveMaximum": ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
    "MultipleOf": ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
    "Pattern": ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
    "Format": ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
    "UniqueItems": ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
}

# Human wording per rule; the value itself is never quoted.
_KIND_TO_RULE: dict[str, str] = {
    "Required": "a required field is missing",
    "MinItems": "too few items",
    "MaxItems": "too many items",
    "Type": "wrong JSON type",
    "Enum": "not one of the allowed values",
    "Constant": "not the allowed value",
    "MaxLength": "too long",
    "MinLength": "too short",
    "Minimum": "below the minimum",
    "Maximum": "above the maximum",
    "ExclusiveMinimum": "below the minimum",
    "ExclusiveMaximum": "above the maximum",
    "Pattern": "does not match the required pattern",
    "Format": "not in the required format",
    "AdditionalProperties": "property not allowed here",
}


def _pointer(path: Any) -> str:
    return "/" + "/".join(str(part) for part in path) if path else ""


def _schema_file(ocpp_version: str, action: str, kind: str) -> str:
    """The file name of an action's request or response schema.

    1.6 names the request ``Action.json`` and the confirmation ``ActionResponse.json``; 2.x names
    them ``ActionRequest.json`` and ``ActionResponse.json``.
    """
    if kind == "response":
        return f"{action}Response.json"
    return f"{action}{profile(ocpp_version).request_schema_suffix}.json"


@cache
def known_actions(ocpp_version: str) -> frozenset[str]:
    """Every action the OCA defines for ``ocpp_version`` (read from the schema file names)."""
    folder = resources.files("ocpp") / profile(ocpp_version).schema_folder / "schemas"
    names = [entry.name.removesuffix(".json") for entry in folder.iterdir()
             if entry.name.endswith("Response.json")]
    return frozenset(name.removesuffix("Response") for name in names)


def _load(ocpp_version: str, action: str, kind: str) -> dict[str, Any]:
    folder = resources.files("ocpp") / profile(ocpp_version).schema_folder / "schemas"
    return json.loads((folder / _schema_file(ocpp_version, action, kind)).read_text("utf-8"))


@cache
def compiled(ocpp_version: str, action: str, kind: str) -> Any:
    """The official ``kind`` ("request" or "response") schema of ``action``, compiled once per process.

    ``format`` checking is on: a timestamp that is not a date-time is as wrong as a missing field.
    """
    return jsonschema_rs.validator_for(_load(ocpp_version, action, kind), validate_formats=True)


def violation(validator: Any, payload: Any) -> SchemaViolation | None:
    """The first violation of a compiled schema by ``payload``, or None when it conforms."""
    if validator.is_valid(payload):
        return None
    error = next(iter(validator.iter_errors(payload)))
    kind_name = type(error.kind).__name__  # e.g. "MinItems"; .name is the keyword, "minItems"
    pointer = _pointer(error.instance_path)
    if kind_name == "Required":
        # The instance path points at the object; name the missing field as well.
        missing = getattr(error.kind, "property", None)
        if isinstance(missing, str):
            pointer = f"{pointer}/{missing}"
    code = _KIND_TO_CODE.get(kind_name, ErrorCode.FORMAT_VIOLATION)
    rule = _KIND_TO_RULE.get(kind_name, f"violates the schema ({kind_name})")
    return SchemaViolation(code, pointer, rule, error.kind.name)


@dataclass(frozen=True)
class SchemaViolation:
    """The first thing wrong with a payload, as an OCPP error code and a value-free description."""

    code: ErrorCode
    pointer: str
    rule: str
    keyword: str

    def to_error(self, what: str) -> OcppError:
        where = self.pointer or "the payload"
        return OcppError(self.code, f"{what}: {where}: {self.rule}",
                         {"path": self.pointer, "keyword": self.keyword})


class SchemaSet:
    """Compiled request and response validators for a set of (version, action) pairs."""

    def __init__(self, actions: dict[str, tuple[str, ...]]):
        """Compile the schemas of ``actions`` (version → action names) now, not per request."""
        self._validators: dict[tuple[str, str, str], Any] = {}
        for ocpp_version, names in actions.items():
            for action in names:
                if action not in known_actions(ocpp_version):
                    continue
                for kind in ("request", "response"):
                    self._validators[(ocpp_version, action, kind)] = compiled(ocpp_version, action, kind)

    def has(self, ocpp_version: str, action: str) -> bool:
        return (ocpp_version, action, "request") in self._validators

    def check(self, ocpp_version: str, action: str, kind: str, payload: Any) -> SchemaViolation | None:
        """The first violation of the official schema, or None when ``payload`` conforms."""
        return violation(self._validators[(ocpp_version, action, kind)], payload)

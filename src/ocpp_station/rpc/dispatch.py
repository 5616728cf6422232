"""From the bytes of a request to the bytes of its answer: the sans-I/O heart of every door.

:meth:`Dispatcher.parse` and :meth:`Dispatcher.run` never raise and never block on the network.
Together they

1. decode the JSON (not JSON, not UTF-8 → RpcFrameworkError, under the id if its first bytes
   say it clearly, else ``"-1"``; a payload nested too deeply → FormatViolation: :func:`.envelope.read`);
2. check the Josev envelope (:mod:`.envelope`);
3. route by (version, action): an action the version does not define → NotImplemented, one it
   defines but the station does not offer → NotSupported;
4. validate the payload against the official request schema (:mod:`.schemas`);
5. call the handler;
6. validate the handler's answer against the official response schema, so that a bug of ours
   becomes an honest InternalError instead of a malformed CallResult;
7. turn any failure into a CallError spelled for the request's version.

Every request with a readable id gets exactly one answer (DESIGN rule 4). A message that is not a
request (a response echoed onto the request topic) gets none.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ErrorCode, OcppError
from ..handlers.base import Call, Handler
from ..logsafe import shown
from ..repeats import Tally
from ..versions import OCPP_VERSIONS
from .envelope import (
    UNKNOWN_ID,
    EnvelopeError,
    NotARequest,
    Request,
    call_error,
    call_result,
    encode,
    read,
    sniff,
)
from .schemas import SchemaSet, SchemaViolation, known_actions

log = logging.getLogger(__name__)

Routes = Mapping[tuple[str, str], Handler]

# Large enough for every legal request (a 2.1 InstallCertificate is ≤ 10,000 characters, SetVariables
# is bounded by BytesPerMessage[SetVariables]), small enough that a flood of junk costs little.
DEFAULT_MAX_REQUEST_BYTES = 1024 * 1024
SCHEMA_DEPTH = 64  # a payload cut this deep still breaks every rule of an OCPP schema that it breaks whole


def _cut(value: Any, levels: int) -> Any:
    """``value`` with the arrays and objects below ``levels`` levels emptied (same types, so the same
    type rules hold); recursion stays ``levels`` deep."""
    if isinstance(value, dict):
        return {key: _cut(item, levels - 1) for key, item in value.items()} if levels > 0 else {}
    if isinstance(value, list):
        return [_cut(item, levels - 1) for item in value] if levels > 0 else []
    return value


@dataclass(frozen=True)
class Answer:
    """What to publish (None: nothing) and, for the log and the caller, what it was."""

    body: bytes | None
    request_id: str | None = None
    outcome: str = ""


class Dispatcher:
    """Routes requests to handlers; pure apart from what the handlers themselves do.

    :meth:`parse` reads a request; :meth:`run` runs it and returns the outcome, which
    :meth:`execute` wraps in the Josev envelope. A door acts in between (the station looks up
    answers already given and wraps the work in a transaction).
    """

    def __init__(self, routes: Routes, max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES):
        self._routes = dict(routes)
        self._offered = frozenset(action for _version, action in self._routes)  # in some version
        self._max_request_bytes = max_request_bytes
        wanted: dict[str, set[str]] = {v: set() for v in OCPP_VERSIONS}
        for version, action in self._routes:
            wanted[version].add(action)
        self._schemas = SchemaSet({v: tuple(sorted(a)) for v, a in wanted.items()})
        self._not_ours = Tally(log, "not answered: Josev messages on the request topic that are not "
                                    "ocpp_message requests (name/type)")

    def parse(self, raw: bytes) -> Request | Answer:
        """The request in ``raw``, or the answer to give without executing anything. Never raises."""
        try:
            if len(raw) > self._max_request_bytes:
                raise EnvelopeError(f"the message is {len(raw)} bytes, more than the {self._max_request_bytes} "
                                    "this station accepts", *sniff(raw), code=ErrorCode.FORMAT_VIOLATION)
            return read(raw)
        except NotARequest as why:  # another Josev message, or an OEM's answer to a request of ours
            what = f"{shown(why.name, 40)}/{shown(why.kind, 20)}"
            log.debug("not answered: %s is not an ocpp_message request", what)
            self._not_ours.count(what)
            return Answer(None, None, "not an ocpp_message request: not answered")
        except EnvelopeError as error:
            log.warning("bad request (id %s): %s", shown(error.request_id, quote=False), error.description)
            return self._error(error.request_id, error.ocpp_version, error)
        except Exception:  # the last line of defence: nothing a client sends may stop the service
            log.exception("unexpected failure while reading a message")
            return self._error(UNKNOWN_ID, None, OcppError(ErrorCode.INTERNAL_ERROR, "internal error"))

    def execute(self, request: Request) -> Answer:
        """Run ``request`` and build its envelope answer. Never raises."""
        outcome = self.run(request)
        if isinstance(outcome, OcppError):
            return self._error(request.id, request.ocpp_version, outcome)
        return Answer(encode(call_result(request, outcome)), request.id, "CallResult")

    def run(self, request: Request) -> dict[str, Any] | OcppError:
        """Run ``request``: the CALLRESULT payload, or the error for a CALLERROR. Never raises.

        This is what every door shares; each formats the outcome its own way (a Josev envelope
        over MQTT, an OCPP-J frame towards the CSMS).
        """
        try:
            return self._call(request)
        except OcppError as error:
            log.info("%s %s %s → CallError %s: %s", shown(request.id, quote=False), request.ocpp_version,
                     shown(request.action), error.code.value, error.description)
            return error
        except Exception:
            log.exception("%s %s %s: handler failed", shown(request.id, quote=False), request.ocpp_version,
                          shown(request.action))
            return OcppError(ErrorCode.INTERNAL_ERROR, f"internal error while handling {request.action}")

    def fail(self, request: Request, why: str) -> Answer:
        """An InternalError answer for ``request``, for failures outside the handler (e.g. the commit)."""
        return self.refuse(request, OcppError(ErrorCode.INTERNAL_ERROR, why))

    def refuse(self, request: Request, error: OcppError) -> Answer:
        """The CALLERROR answer ``error`` for ``request``, which a door decided not to run."""
        return self._error(request.id, request.ocpp_version, error)

    def _call(self, request: Request) -> dict[str, Any]:
        version, action = request.ocpp_version, request.action
        handler = self._routes.get((version, action))
        if handler is None:
            raise self._unrouted(version, action)
        violation = self._check_request(version, action, request.payload)
        if violation is not None:
            raise violation.to_error(f"{action}Request")
        payload = handler(Call(version, action, request.payload, request.id, request.origin,
                               request.reply_to, request.correlation))
        problem = self._schemas.check(version, action, "response", payload)
        if problem is not None:
            log.error("%s built a %sResponse that violates the official schema at %s (%s)",
                      action, action, problem.pointer or "/", problem.rule)
            raise OcppError(ErrorCode.INTERNAL_ERROR, f"internal error while handling {action}")
        return payload

    def _check_request(self, version: str, action: str, payload: dict[str, Any]) -> SchemaViolation | None:
        """The first violation of the request schema, also in a payload nested a few hundred levels deep.

        jsonschema-rs hands every error back with the value it is about, converted to Python, and
        gives up on one nested 255 levels deep (ValueError "Recursion limit reached"): a payload
        with an unexpected property holding such a value would be an InternalError. Only then, the
        error is looked for again in a copy cut :data:`SCHEMA_DEPTH` levels down: no OCPP schema
        looks that deep, so the copy breaks the same rules at the same places, and customData, the
        one place that takes anything, is not looked into at all.
        """
        try:
            return self._schemas.check(version, action, "request", payload)
        except ValueError:
            return self._schemas.check(version, action, "request", _cut(payload, SCHEMA_DEPTH))

    def _unrouted(self, version: str, action: str) -> OcppError:
        """NotSupported for an action of the version the station does not offer, and for one it offers
        in another version only (GetVariables in 1.6: recognised, not unknown); else NotImplemented."""
        name = version.removeprefix("ocpp")
        if action in known_actions(version):
            return OcppError(ErrorCode.NOT_SUPPORTED, f"{action} is not supported by this station")
        if action in self._offered:
            others = [v.removeprefix("ocpp") for v in OCPP_VERSIONS if action in known_actions(v)]
            hint = " (use GetConfiguration/ChangeConfiguration)" if action.endswith("Variables") else ""
            return OcppError(ErrorCode.NOT_SUPPORTED,
                             f"OCPP {name} has no {action} message; it exists in OCPP {' and '.join(others)}"
                             + hint)
        # The client's text is not quoted back (it could be anything, of any length): say the rule only.
        return OcppError(ErrorCode.NOT_IMPLEMENTED, f"'data.message_name' is not an action of OCPP {name}")

    @staticmethod
    def _error(request_id: str, version: str | None, error: OcppError) -> Answer:
        body = call_error(request_id, version, error)
        return Answer(encode(body), request_id, f"CallError {body['data']['error_code']}")

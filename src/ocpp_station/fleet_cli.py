"""``ocpp-station fleet …``: the everyday commands, on many stations at once, through a central broker.

``fleet list`` shows who is there (the stations' retained presence, and their bridges' word);
``fleet get|set|certs list|certs install|call`` send one request (or a few) to every station that
``--stations`` chooses, ``--concurrency`` at a time, each with a deadline of ``--timeout`` seconds,
with a progress bar on a terminal, then a table sorted by identity (or, with ``--json``, one JSON
object per station and line, as each finishes) and a summary. Built on
:class:`ocpp_station.fleet.FleetClient`.

Exit statuses: 0 every chosen station answered, and Accepted (``list``: every chosen station is
online); 1 every one answered, but some refused (or answered a CallError), or no station matched;
2 bad usage; 3 some did not answer (offline, never seen, queued, timed out) or the broker cannot be
reached.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import exact_json
from .local_cli import printable
from .local_cli import table as _table
from .oem_cli import (
    CONFIGURATION_HEADERS,
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    LISTED_TYPES,
    ROOT_TYPES,
    _certificate_json,
    _certificate_row,
    _explain,
    _paragraphs,
    _positive,
    _Progress,
    _write_only_keys,
    _write_only_variables,
    configuration_complete,
    configuration_json,
    configuration_rows,
    read_certificate,
)
from .oem_types import StationUnreachable, VariableRef
from .presence import Presence
from .station.network import MASK
from .versions import OCPP_VERSIONS, V16, V21, V201

if TYPE_CHECKING:  # the fleet client (aiomqtt, asyncio) is imported when a command runs: `serve` needs none of it
    from .fleet import FleetClient, FleetStation, Outcome

EPILOG = ("exit status: 0 every station answered Accepted, 1 some refused (or no station matched),\n"
          "2 bad usage, 3 some did not answer (offline, unknown, queued, timed out) or the broker cannot be reached")


@dataclass(frozen=True)
class Answered:
    """What one station's answer means to the command: success or not, its table rows, its JSON."""

    accepted: bool
    rows: list[list[str]]
    data: Any


# -- parsers -----------------------------------------------------------------------------------------

def add_commands(subparsers: Any, common_parent_parser: argparse.ArgumentParser) -> None:
    """Add ``fleet`` and its sub-commands; each sets ``oem_handler`` (called by ``cli.main``)."""
    broker = argparse.ArgumentParser(add_help=False)
    broker.add_argument("--mqtt-url", default="mqtt://127.0.0.1:1883", metavar="URL",
                        help="the central broker: mqtt://[user:pass@]host[:port] or mqtts://… "
                             "(default mqtt://127.0.0.1:1883)")
    broker.add_argument("--ca-file", metavar="FILE", help="CA certificate(s) to verify an mqtts:// broker")
    broker.add_argument("--client-cert", metavar="FILE", help="certificate for mutual TLS with the broker")
    broker.add_argument("--client-key", metavar="FILE", help="private key of --client-cert")
    broker.add_argument("--mqtt-protocol", choices=["5", "3.1.1"], dest="protocol",
                        help="MQTT version (default: 5 if the broker speaks it, else 3.1.1, e.g. RabbitMQ)")
    broker.add_argument("--prefix", default="stations/", metavar="PREFIX",
                        help="what comes before each station's identity in its topics (default stations/)")
    broker.add_argument("--timeout", type=float, default=10.0, metavar="S",
                        help="seconds to wait for the broker, and for each station's answers (default 10)")
    broker.add_argument("--json", action="store_true",
                        help="one JSON object per station and line instead of a table (the summary goes to stderr)")
    choose = argparse.ArgumentParser(add_help=False)
    choose.add_argument("--stations", required=True, action="extend", type=_patterns, metavar="GLOB[,GLOB…]",
                        help="the stations: identities or globs over the known ones ('CS-00*', 'CS-01[0-4]'); "
                             "repeatable")
    choose.add_argument("--concurrency", type=_positive, default=100, metavar="N",
                        help="stations asked at once, at most (default 100)")
    choose.add_argument("--no-presence", dest="presence", action="store_false",
                        help="do not wait for the stations' retained presence: send to every named station "
                             "(no globs) and report those that do not answer; for brokers that keep no retained "
                             "message where a wildcard subscriber sees it (RabbitMQ 3.x)")
    choose.add_argument("--queue", action="store_true",
                        help="send to offline and unknown stations too: the request waits at the broker (QoS 1) "
                             "for the station's bridge; reported as queued")
    parents = [common_parent_parser, broker]
    raw = argparse.RawDescriptionHelpFormatter

    fleet = subparsers.add_parser(
        "fleet", formatter_class=raw, help="the everyday commands on many stations through a central broker",
        description=_paragraphs(
            "Work on a fleet of stations through a central MQTT broker, where each station's topics sit under "
            "PREFIX/IDENTITY/ (a bridge from the station's own broker maps them there: examples/bridge). "
            "Stations are chosen with --stations, by identity or glob; who is there comes from the stations' "
            "retained presence (PREFIX/IDENTITY/josev/status) and their bridges' notifications "
            "(PREFIX/IDENTITY/bridge). An offline station is reported as such, not waited for (--queue sends "
            "to it all the same)."),
        epilog=EPILOG)
    commands = fleet.add_subparsers(dest="fleet_command", required=True, metavar="COMMAND")

    listing = commands.add_parser(
        "list", parents=parents, formatter_class=raw, help="who is there: the stations' presence",
        description="List the stations known under the prefix, online or not, with their CSMS link and software.",
        epilog="exit status: 0 every listed station is online, 1 none matched, 3 some are offline or the broker "
               "cannot be reached\nexample: ocpp-station fleet list --mqtt-url mqtts://fleet:…@central:8883 "
               "--stations 'CS-0*'")
    listing.add_argument("--stations", action="extend", type=_patterns, metavar="GLOB[,GLOB…]",
                         help="only these stations (default: every one)")
    listing.set_defaults(oem_handler=_list)

    get = commands.add_parser(
        "get", parents=[*parents, choose], formatter_class=raw,
        help="read variables (GetVariables; 1.6: GetConfiguration) of many stations",
        description="Read device-model variables of every chosen station, named as for `ocpp-station get`.",
        epilog=EPILOG + "\nexample: ocpp-station fleet get --stations 'CS-*' OCPPCommCtrlr.HeartbeatInterval")
    get.add_argument("variables", nargs="+", metavar="VARIABLE")
    _version(get)
    get.set_defaults(oem_handler=_get)

    set_ = commands.add_parser(
        "set", parents=[*parents, choose], formatter_class=raw,
        help="change variables (SetVariables; 1.6: ChangeConfiguration) on many stations",
        description="Change device-model variables on every chosen station (VARIABLE=VALUE, as for "
                    "`ocpp-station set`). RebootRequired counts as success. Write-only values are shown masked.",
        epilog=EPILOG + "\nexample: ocpp-station fleet set --stations 'CS-00*' OCPPCommCtrlr.HeartbeatInterval=600")
    set_.add_argument("assignments", nargs="+", metavar="VARIABLE=VALUE")
    _version(set_)
    set_.set_defaults(oem_handler=_set)

    certs = commands.add_parser("certs", help="certificates of many stations: list, install",
                                description="Certificates of many stations.")
    certs_commands = certs.add_subparsers(dest="certs_command", required=True, metavar="COMMAND")
    certs_list = certs_commands.add_parser(
        "list", parents=[*parents, choose], formatter_class=raw,
        help="installed certificates (GetInstalledCertificateIds)",
        description="List the installed certificates of every chosen station.", epilog=EPILOG)
    certs_list.add_argument("--type", action="append", dest="types", choices=LISTED_TYPES, metavar="TYPE",
                            help=f"only this type (repeatable; one of {', '.join(LISTED_TYPES)})")
    _version(certs_list)
    certs_list.set_defaults(oem_handler=_certs_list)
    certs_install = certs_commands.add_parser(
        "install", parents=[*parents, choose], formatter_class=raw,
        help="install a root certificate (InstallCertificate)",
        description="Install one root certificate (PEM) on every chosen station.",
        epilog=EPILOG + "\nexample: ocpp-station fleet certs install --stations 'CS-*' new-csms-root.pem")
    certs_install.add_argument("certificate", type=Path, metavar="CERT.pem")
    certs_install.add_argument("--type", dest="certificate_type", default="CSMSRootCertificate", choices=ROOT_TYPES,
                               help="the root's use (default CSMSRootCertificate)")
    _version(certs_install)
    certs_install.set_defaults(oem_handler=_certs_install)

    call = commands.add_parser(
        "call", parents=[*parents, choose], formatter_class=raw, help="send any OCPP request to many stations",
        description="Send one OCPP request (ACTION and its PAYLOAD as JSON, or - for stdin) to every chosen station. "
                    "A CallResult counts as success unless its payload has a status other than Accepted.",
        epilog=EPILOG + "\nexample: ocpp-station fleet call --stations 'CS-*' Reset '{\"type\": \"OnIdle\"}'")
    call.add_argument("action", help="the OCPP action, e.g. TriggerMessage")
    call.add_argument("payload", help="the request payload as JSON, or - to read it from stdin")
    call.add_argument("--ocpp-version", default=V201, choices=list(OCPP_VERSIONS),
                      help="OCPP version of the request (default ocpp2.0.1)")
    call.set_defaults(oem_handler=_call)


def _version(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ocpp-version", default=V201, choices=[V16, V201, V21],
                        help="OCPP version of the requests (default ocpp2.0.1)")


def _patterns(text: str) -> list[str]:
    found = [word.strip() for word in text.split(",") if word.strip()]
    if not found:
        raise argparse.ArgumentTypeError("name at least one station or glob")
    return found


# -- running -----------------------------------------------------------------------------------------

def _name(args: argparse.Namespace) -> str:
    sub = getattr(args, "certs_command", None)
    return f"ocpp-station fleet {args.fleet_command}" + (f" {sub}" if sub else "")


def _client(args: argparse.Namespace) -> FleetClient:
    from .fleet import FleetClient

    return FleetClient(args.mqtt_url, prefix=args.prefix, ca_file=args.ca_file, client_cert=args.client_cert,
                       client_key=args.client_key, protocol=args.protocol, connect_timeout=args.timeout)


def _guarded(args: argparse.Namespace, session: Callable[[], Coroutine[Any, Any, int]]) -> int:
    """Run ``session`` and turn an unreachable broker or a bad URL into a message and an exit status."""
    try:
        return asyncio.run(session())
    except StationUnreachable as error:
        print(f"{_name(args)}: {error}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except ValueError as error:  # a bad --mqtt-url or --prefix, a station that cannot be a topic level
        print(f"{_name(args)}: {error}", file=sys.stderr)
        return EXIT_USAGE


def _fleet(args: argparse.Namespace, headers: Sequence[str],
           work: Callable[[FleetStation], Awaitable[Answered]]) -> int:
    """Choose the stations, do ``work`` on each, print what became of each, and say how it went."""
    from .fleet import GLOB_CHARACTERS

    name = _name(args)
    if not args.presence and any(GLOB_CHARACTERS & set(pattern) for pattern in args.stations):
        print(f"{name}: --no-presence needs the stations named, not globs (which match the stations known "
              "from their presence)", file=sys.stderr)
        return EXIT_USAGE

    async def session() -> int:
        async with _client(args) as fleet:
            seen = await fleet.presence(timeout=args.timeout) if args.presence else {}
            chosen = fleet.select(args.stations, seen)
            if not chosen:
                print(f"{name}: no known station matches {', '.join(args.stations)}", file=sys.stderr)
                return EXIT_REFUSED
            bar = _Bar(len(chosen)) if sys.stderr.isatty() else None
            outcomes: list[Outcome[Answered]] = []
            try:
                async for outcome in fleet.run(chosen, work, concurrency=args.concurrency, timeout=args.timeout,
                                               queue_offline=args.queue, presence=seen,
                                               send_unknown=not args.presence):
                    outcomes.append(outcome)
                    if args.json:
                        print(exact_json.dumps(_outcome_json(outcome)).decode(), flush=True)
                    if bar is not None:
                        bar.show(outcomes)
            finally:
                if bar is not None:
                    bar.clear()
        if not args.json:
            rows = []
            for outcome in sorted(outcomes, key=lambda o: o.identity):
                if outcome.value is not None:
                    rows += [[printable(outcome.identity), *row] for row in outcome.value.rows] or [
                        [printable(outcome.identity), *[""] * (len(headers) - 1)]]
                else:
                    rows.append([printable(outcome.identity), outcome.state.upper(),
                                 *[""] * (len(headers) - 2), printable(outcome.error or "")])
            print(_table(["STATION", *headers], rows))
        summary, status = _summary(outcomes)
        print(f"{name}: {summary}", file=sys.stderr if args.json else sys.stdout)
        return status

    return _guarded(args, session)


def _outcome_json(outcome: Outcome[Answered]) -> dict[str, Any]:
    line: dict[str, Any] = {"station": outcome.identity, "outcome": outcome.state}
    if outcome.value is not None:
        line["accepted"] = outcome.value.accepted
        line["result"] = outcome.value.data
    if outcome.error is not None:
        line["error"] = outcome.error
    if outcome.call_error is not None:
        line["callError"] = {"code": outcome.call_error.code, "description": outcome.call_error.description}
    return line


def _summary(outcomes: list[Outcome[Answered]]) -> tuple[str, int]:
    """``5 stations: 4 accepted, 1 offline (CS-005)`` and the exit status it means."""
    from .fleet import ANSWERED

    kinds: Counter[str] = Counter()
    named: dict[str, list[str]] = {}
    for outcome in outcomes:
        kind = outcome.state if outcome.value is None else "accepted" if outcome.value.accepted else "refused"
        kinds[kind] += 1
        named.setdefault(kind, []).append(outcome.identity)
    parts = []
    for kind in ("accepted", "refused", "error", "offline", "unknown", "queued", "timeout"):
        if kinds[kind]:
            who = sorted(named[kind])
            listed = "" if kind == "accepted" else f" ({', '.join(who[:5])}{', …' if len(who) > 5 else ''})"
            parts.append(f"{kinds[kind]} {kind}{listed}")
    text = f"{len(outcomes)} station{'s' if len(outcomes) != 1 else ''}: {', '.join(parts)}"
    if any(outcome.state != ANSWERED and outcome.call_error is None for outcome in outcomes):
        return text, EXIT_UNREACHABLE  # offline, unknown, queued, timed out, or the broker link lost
    return text, EXIT_OK if kinds["accepted"] == len(outcomes) else EXIT_REFUSED


class _Bar:
    """A progress bar on stderr (a terminal only), rewritten in place as stations finish."""

    WIDTH = 30

    def __init__(self, total: int):
        self.total = total
        self._started = time.monotonic()
        self._line = _Progress()  # the line rewritten in place, as `report` shows its parts

    def show(self, outcomes: list[Outcome[Answered]]) -> None:
        from .fleet import ANSWERED

        done = len(outcomes)
        filled = self.WIDTH * done // self.total
        missing = sum(1 for o in outcomes if o.state != ANSWERED)
        self._line.write(f"[{'#' * filled}{'-' * (self.WIDTH - filled)}] {done}/{self.total} stations"
                         f"{f', {missing} without an answer' if missing else ''}"
                         f" ({time.monotonic() - self._started:.1f} s)")

    def clear(self) -> None:
        self._line.clear()


# -- list --------------------------------------------------------------------------------------------

def _list(args: argparse.Namespace) -> int:
    from .fleet import FleetClient

    async def session() -> int:
        async with _client(args) as fleet:
            seen = await fleet.presence(timeout=args.timeout)
        chosen = FleetClient.select(args.stations, seen) if args.stations else list(seen)
        if args.stations and not chosen:
            print(f"{_name(args)}: no known station matches {', '.join(args.stations)}", file=sys.stderr)
            return EXIT_REFUSED
        found = [seen.get(identity) or Presence(identity, "unknown", reason="never seen") for identity in chosen]
        if args.json:
            for one in found:
                print(exact_json.dumps(_presence_json(one)).decode())
        else:
            print(_table(["STATION", "STATE", "SINCE", "CSMS", "SOFTWARE", "REASON"],
                         [_presence_row(one) for one in found]))
        online = sum(1 for one in found if one.online)
        print(f"{_name(args)}: {len(found)} station{'s' if len(found) != 1 else ''}, {online} online",
              file=sys.stderr if args.json else sys.stdout)
        return EXIT_OK if online == len(found) else EXIT_UNREACHABLE

    return _guarded(args, session)


def _presence_json(one: Presence) -> dict[str, Any]:
    return {"station": one.identity, "state": one.state, "reason": one.reason, "since": one.since,
            "csms": one.csms or None, "status": one.raw or None}


def _presence_row(one: Presence) -> list[str]:
    csms = one.csms
    link = ""
    if csms:
        link = str(csms.get("state", ""))
        if csms.get("registration"):
            link += f" ({csms['registration']}, {csms.get('ocppVersion')}, slot {csms.get('slot')})"
    software = one.raw.get("software") if isinstance(one.raw.get("software"), dict) else {}
    version = f"{software.get('name', '')} {software.get('version', '')}".strip() if software else ""
    return [printable(one.identity), one.state, one.since or "", printable(link), printable(version),
            printable(one.reason or "")]


# -- get / set ---------------------------------------------------------------------------------------

def _get(args: argparse.Namespace) -> int:
    if args.ocpp_version == V16:
        keys = list(args.variables)

        async def get_keys(station: FleetStation) -> Answered:
            found = await station.get_configuration(keys, timeout=args.timeout)
            return Answered(configuration_complete(found), configuration_rows(found), configuration_json(found))

        return _fleet(args, CONFIGURATION_HEADERS, get_keys)
    try:
        refs = [VariableRef.parse(text) for text in args.variables]
    except ValueError as error:
        print(f"{_name(args)}: {error}", file=sys.stderr)
        return EXIT_USAGE

    async def get_variables(station: FleetStation) -> Answered:
        results = await station.get_variables(refs, ocpp_version=args.ocpp_version, timeout=args.timeout)
        return Answered(bool(results) and all(r.accepted for r in results),
                        [[r.label, r.status, printable(r.value or "") if r.accepted
                          else _explain(r.reason, r.additional_info)] for r in results],
                        [{"variable": r.label, "status": r.status, "value": r.value, "reason": r.reason,
                          "additionalInfo": r.additional_info} for r in results])

    return _fleet(args, ["VARIABLE", "STATUS", "VALUE / REASON"], get_variables)


def _set(args: argparse.Namespace) -> int:
    split = [text.partition("=") for text in args.assignments]
    bad = next((text for text, (_, equals, _) in zip(args.assignments, split, strict=True) if not equals), None)
    if bad is not None:
        print(f"{_name(args)}: {bad!r}: expected VARIABLE=VALUE, e.g. OCPPCommCtrlr.HeartbeatInterval=600",
              file=sys.stderr)
        return EXIT_USAGE
    good = ("Accepted", "RebootRequired")
    if args.ocpp_version == V16:
        secret_keys = _write_only_keys()
        pairs16 = [(key, value) for key, _, value in split]

        async def change(station: FleetStation) -> Answered:
            rows = []
            for key, value in pairs16:
                status = await station.change_configuration(key, value, timeout=args.timeout)
                rows.append([printable(key), MASK if key.casefold() in secret_keys else printable(value), status])
            return Answered(all(row[2] in good for row in rows), rows,
                            [{"key": k, "value": v, "status": s} for k, v, s in rows])

        return _fleet(args, ["KEY", "VALUE", "STATUS"], change)
    try:
        pairs = [(VariableRef.parse(ref), value) for ref, _, value in split]
    except ValueError as error:
        print(f"{_name(args)}: {error}", file=sys.stderr)
        return EXIT_USAGE
    secret = _write_only_variables()
    shown = {str(replace(ref, attribute_type=None) if ref.attribute_type == "Actual" else ref):
             MASK if ref.variable.casefold() in secret else printable(value) for ref, value in pairs}

    async def set_variables(station: FleetStation) -> Answered:
        results = await station.set_variables(pairs, ocpp_version=args.ocpp_version, timeout=args.timeout)
        return Answered(bool(results) and all(r.accepted for r in results),
                        [[r.label, shown.get(r.label, ""), r.status,
                          "" if r.status in good else _explain(r.reason, r.additional_info)] for r in results],
                        [{"variable": r.label, "value": shown.get(r.label), "status": r.status, "reason": r.reason,
                          "additionalInfo": r.additional_info} for r in results])

    return _fleet(args, ["VARIABLE", "VALUE", "STATUS", "NOTE"], set_variables)


# -- certs -------------------------------------------------------------------------------------------

def _certs_list(args: argparse.Namespace) -> int:
    async def listed(station: FleetStation) -> Answered:
        found = await station.get_installed_certificate_ids(args.types, ocpp_version=args.ocpp_version,
                                                            timeout=args.timeout)
        rows = []
        for cert in found:
            rows.append(_certificate_row(cert.certificate_type, cert.hash_data))
            rows += [_certificate_row("  sub-CA", child) for child in cert.children]
        return Answered(True, rows or [["(none)", "", "", "", ""]], [_certificate_json(c) for c in found])

    return _fleet(args, ["TYPE", "SERIAL", "ALGORITHM", "ISSUER NAME HASH", "ISSUER KEY HASH"], listed)


def _certs_install(args: argparse.Namespace) -> int:
    pem = read_certificate(args, _name(args))
    if pem is None:
        return EXIT_USAGE

    async def install(station: FleetStation) -> Answered:
        status = await station.install_certificate(pem, args.certificate_type, ocpp_version=args.ocpp_version,
                                                   timeout=args.timeout)
        return Answered(status.accepted, [[status.status, _explain(status.reason, status.additional_info)]],
                        {"status": status.status, "reason": status.reason, "additionalInfo": status.additional_info})

    return _fleet(args, ["STATUS", "REASON"], install)


# -- call --------------------------------------------------------------------------------------------

def _call(args: argparse.Namespace) -> int:
    text = sys.stdin.read() if args.payload == "-" else args.payload
    try:
        payload = exact_json.loads(text)
    except ValueError as error:
        print(f"{_name(args)}: the payload is not JSON: {error}", file=sys.stderr)
        return EXIT_USAGE
    if not isinstance(payload, dict):
        print(f"{_name(args)}: the payload must be a JSON object", file=sys.stderr)
        return EXIT_USAGE

    async def call(station: FleetStation) -> Answered:
        answer = await station.call_raw(args.action, payload, ocpp_version=args.ocpp_version, timeout=args.timeout)
        raw_data = answer.get("data")
        data: dict[str, Any] = raw_data if isinstance(raw_data, dict) else {}
        kind = str(data.get("message_type", ""))
        if kind == "CallError":
            detail = f"{data.get('error_code')}: {data.get('error_description', '')}"
            return Answered(False, [[kind, printable(detail)]], data)
        result = data.get("payload")
        status = result.get("status") if isinstance(result, dict) else None
        shown = exact_json.dumps(result).decode()
        return Answered(kind == "CallResult" and status in (None, "Accepted"),
                        [[kind, printable(shown if len(shown) <= 100 else shown[:99] + "…")]], data)

    return _fleet(args, ["ANSWER", "PAYLOAD"], call)

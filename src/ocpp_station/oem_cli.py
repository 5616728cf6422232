"""The OEM's commands of ``ocpp-station``: read and change a running station through its MQTT API.

``get``, ``set``, ``report``, ``certs list|install|delete|renew`` and ``network list|set`` send OCPP requests
with :class:`ocpp_station.client.StationClient`, exactly as a CSMS would send them, so they work on
any station reachable through the broker (``certs renew`` also signs the station's CSR, with the
OEM's CA: :mod:`ocpp_station.oem_ca`). ``certs import`` (the station's own certificate and key;
OCPP has no message for it), the ``--data-dir`` form of ``certs list``/``network list`` and
``security-log`` work on the data directory directly (:mod:`ocpp_station.local_cli`).

Exit statuses, common to these commands: 0 success (every variable Accepted, the certificate
installed, the whole report received …), 1 the station refused something or answered a CallError,
2 bad usage, 3 the broker cannot be reached or no answer came within ``--timeout`` (``report``: or
the report's parts stopped coming, ``--part-timeout``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import textwrap
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import exact_json, local_cli
from .local_cli import printable
from .local_cli import table as _table
from .oem_types import (
    COMPONENT_CRITERIA,
    CallError,
    CertificateRenewal,
    ComponentVariable,
    Configuration,
    CsrTimeout,
    InstalledCertificate,
    RenewalRefused,
    ReportItem,
    ReportRefused,
    ReportTimeout,
    VariableCharacteristics,
    VariableRef,
    renewal_trigger,
)
from .station.certificate_uses import ROOT_USES
from .station.network import MASK
from .versions import V16, V21, V201

if TYPE_CHECKING:  # the client (aiomqtt, asyncio) is imported when a command runs: `serve` needs none of it
    from .client import StationClient

EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3
MAX_PROBED_SLOTS = 10
NETWORK_VARIABLES = ("OcppCsmsUrl", "OcppInterface", "OcppTransport", "OcppVersion", "MessageTimeout",
                     "SecurityProfile", "Identity", "VpnEnabled", "ApnEnabled")
ROOT_TYPES = ROOT_USES
LISTED_TYPES = (*ROOT_USES, "V2GCertificateChain")  # what GetInstalledCertificateIds can be asked for

EXIT_EPILOG = ("exit status: 0 success, 1 {refused}, 2 bad usage, "
               "3 the broker cannot be reached or no answer came within --timeout")
REPORT_KINDS = {"full": "FullInventory", "config": "ConfigurationInventory", "summary": "SummaryInventory"}
"""``report``'s first argument → GetBaseReport's reportBase."""
NUMERIC_TYPES = ("integer", "decimal")  # DataEnumType whose min/maxLimit bound the value, not its length


class UsageError(Exception):
    """Bad command-line input found after parsing (exit status 2)."""


# -- parsers -----------------------------------------------------------------------------------------

def add_commands(subparsers: Any, common_parent_parser: argparse.ArgumentParser) -> None:
    """Add ``get``, ``set``, ``report``, ``certs``, ``security-log`` and ``network`` to the ``ocpp-station``
    sub-commands.

    ``common_parent_parser`` holds the options every command accepts (``--log-level``). Each parser
    sets ``oem_handler``: ``main`` calls ``args.oem_handler(args)`` for its exit status.
    """
    mqtt = argparse.ArgumentParser(add_help=False)
    mqtt.add_argument("--mqtt-url", default="mqtt://127.0.0.1:1883", metavar="URL",
                      help="broker the station listens on: mqtt://[user:pass@]host[:port] or mqtts://… "
                           "(default mqtt://127.0.0.1:1883)")
    mqtt.add_argument("--ca-file", metavar="FILE", help="CA certificate(s) to verify an mqtts:// broker")
    mqtt.add_argument("--mqtt-protocol", choices=["5", "3.1.1"], dest="protocol",
                      help="MQTT version (default: 5 if the broker speaks it, else 3.1.1)")
    mqtt.add_argument("--timeout", type=float, default=10.0, metavar="S",
                      help="seconds to wait for the broker and for each answer (default 10)")
    mqtt.add_argument("--json", action="store_true", help="print machine-readable JSON instead of a table")
    parents = [common_parent_parser, mqtt]
    raw = argparse.RawDescriptionHelpFormatter

    get = subparsers.add_parser(
        "get", parents=parents, formatter_class=raw,
        help="read device-model variables (GetVariables) or 1.6 keys (GetConfiguration)",
        description=_paragraphs(
            "Read variables of a running station with GetVariables. A variable is written "
            "Component[evse.connector](instance).Variable[instance]:AttributeType, e.g. "
            "OCPPCommCtrlr.OfflineThreshold, EVSE[1].Power, Connector[1.2].ConnectorType, "
            "DeviceDataCtrlr.ItemsPerMessage[GetVariables], NetworkConfiguration(2).OcppCsmsUrl "
            "(2.1), OCPPCommCtrlr.OfflineThreshold:Target.",
            "With --ocpp-version ocpp1.6 the arguments are 1.6 configuration keys (HeartbeatInterval, "
            "CpoName, …), read with GetConfiguration; no key lists them all. A 1.6 key is a view of the "
            "2.x variable that holds the same value. A write-only key (AuthorizationKey) is listed "
            "without its value."),
        epilog=EXIT_EPILOG.format(refused="a variable was not Accepted, a key is unknown (or a CallError)") +
        "\nexamples: ocpp-station get OCPPCommCtrlr.OfflineThreshold TxCtrlr.TxStartPoint EVSE[1].Power"
        "\n          ocpp-station get --ocpp-version ocpp1.6 HeartbeatInterval SecurityProfile")
    get.add_argument("variables", nargs="*", metavar="VARIABLE")
    _version(get, [V16, V201, V21], V201)
    get.set_defaults(oem_handler=_get)

    set_ = subparsers.add_parser(
        "set", parents=parents, formatter_class=raw,
        help="change device-model variables (SetVariables) or 1.6 keys (ChangeConfiguration)",
        description=_paragraphs(
            "Change variables of a running station with SetVariables (VARIABLE=VALUE, see `get --help` "
            "for how to name a variable). RebootRequired counts as success: the value takes effect "
            "after a restart.",
            "With --ocpp-version ocpp1.6, KEY=VALUE changes 1.6 configuration keys, one ChangeConfiguration "
            "each, in order. The value of a write-only key (AuthorizationKey) is shown masked."),
        epilog=EXIT_EPILOG.format(refused="a value was not Accepted/RebootRequired (or a CallError)") +
        "\nexamples: ocpp-station set OCPPCommCtrlr.OfflineThreshold=300 AuthCtrlr.LocalAuthorizeOffline=true"
        "\n          ocpp-station set --ocpp-version ocpp1.6 HeartbeatInterval=300 CpoName=ACME")
    set_.add_argument("assignments", nargs="+", metavar="VARIABLE=VALUE")
    _version(set_, [V16, V201, V21], V201)
    set_.set_defaults(oem_handler=_set)

    report = subparsers.add_parser(
        "report", parents=parents, formatter_class=raw,
        help="print the station's device model, as a report (GetBaseReport, GetReport)",
        description=_paragraphs(
            "Ask a running station for a report of its device model and print it, one row per variable "
            "attribute, in the order received. `full` (every variable), `config` (the variables that can be "
            "set: ReadWrite and WriteOnly) and `summary` (availability and problems, as the station chooses) "
            "send GetBaseReport with reportBase FullInventory, ConfigurationInventory or SummaryInventory. "
            "With COMPONENT arguments or --criteria, `full` sends GetReport instead, for those components "
            "(or variables) only.",
            "A COMPONENT is written as for `get`, the variable optional and without an attribute type: "
            "EVSE[1], Connector[1.1] (EVSE 1, connector 1), NetworkConfiguration(2) (instance 2, OCPP 2.1), "
            "OCPPCommCtrlr.HeartbeatInterval, DeviceDataCtrlr.ItemsPerMessage[GetVariables]. A row's "
            "COMPONENT and VARIABLE, joined by a dot, name the variable for `get` and `set`.",
            "The station answers at once, then sends the report in parts (NotifyReport, on the answer "
            "topic): they are put in order, a part sent twice counts once, and each is answered "
            "(--no-answer: not). A WriteOnly value (a password) is never reported: its VALUE is empty. "
            "A progress line is shown on stderr while parts arrive, when stderr is a terminal. --json "
            "prints one document: {\"requestId\", \"status\", \"parts\", \"reportData\": [the "
            "ReportDataType items as received]}."),
        epilog=EXIT_EPILOG.format(refused="the station answered Rejected or NotSupported (or a CallError)") +
        ", or no new part of the report within --part-timeout; EmptyResultSet (nothing matched) is a success"
        "\nexamples: ocpp-station report config\n"
        "          ocpp-station report full EVSE[1] OCPPCommCtrlr.HeartbeatInterval --json\n"
        "          ocpp-station report full --criteria Problem --ocpp-version ocpp2.1")
    report.add_argument("kind", choices=list(REPORT_KINDS),
                        help="full, config or summary (with COMPONENT or --criteria: full)")
    report.add_argument("components", nargs="*", metavar="COMPONENT[.VARIABLE]",
                        help="report only these components or variables (GetReport componentVariable)")
    report.add_argument("--criteria", type=_criteria, action="extend", metavar="C[,C…]",
                        help=f"report only the components that meet these criteria: {', '.join(COMPONENT_CRITERIA)} "
                             "(GetReport componentCriteria)")
    report.add_argument("--part-timeout", type=float, default=30.0, metavar="S",
                        help="seconds to wait for each next part of the report (default 30)")
    report.add_argument("--no-answer", dest="acknowledge", action="store_false",
                        help="do not answer the NotifyReport parts (the station does not need the answers)")
    _version(report, [V201, V21], V201)
    report.set_defaults(oem_handler=_report)

    certs = subparsers.add_parser(
        "certs", help="the station's certificates", formatter_class=raw,
        description="list, install and delete the station's root certificates through the broker "
                    "(GetInstalledCertificateIds, InstallCertificate, DeleteCertificate); renew the "
                    "station's own certificate, signed by your CA (TriggerMessage, SignCertificate, "
                    "CertificateSigned); import the station's own certificate chain into its data directory")
    certs_commands = certs.add_subparsers(dest="certs_command", required=True, metavar="COMMAND")
    certs_list = certs_commands.add_parser(
        "list", parents=parents, formatter_class=raw, help="print the installed certificates",
        description="List the installed certificates with GetInstalledCertificateIds. With --data-dir or "
                    "--config, read the data directory directly instead (the service may be stopped); that "
                    "view also shows the station's own certificates.",
        epilog=EXIT_EPILOG.format(refused="a CallError"))
    certs_list.add_argument("--type", action="append", dest="types", choices=LISTED_TYPES, metavar="TYPE",
                            help=f"only this type (repeatable): {', '.join(LISTED_TYPES)}")
    _version(certs_list, [V16, V201, V21], V201)
    _local_options(certs_list)
    certs_list.set_defaults(oem_handler=_certs_list)

    certs_install = certs_commands.add_parser(
        "install", parents=parents, formatter_class=raw, help="install a root certificate (InstallCertificate)",
        description="Install a root certificate (PEM) with InstallCertificate.",
        epilog=EXIT_EPILOG.format(refused="the station rejected the certificate (or a CallError)"))
    certs_install.add_argument("certificate", type=Path, metavar="FILE.pem")
    certs_install.add_argument("--type", dest="certificate_type", default="CSMSRootCertificate", choices=ROOT_TYPES,
                               help="the certificate's use (default CSMSRootCertificate; "
                                    "1.6 sends it as CentralSystemRootCertificate)")
    _version(certs_install, [V16, V201, V21], V201)
    certs_install.set_defaults(oem_handler=_certs_install)

    certs_delete = certs_commands.add_parser(
        "delete", parents=parents, formatter_class=raw, help="delete a certificate (DeleteCertificate)",
        description="Delete an installed certificate with DeleteCertificate: name it by its hash data "
                    "(as `certs list` prints it), or give the PEM file of a self-signed root and let the "
                    "hash data be computed here.",
        epilog=EXIT_EPILOG.format(refused="NotFound or Failed (or a CallError)"))
    certs_delete.add_argument("certificate", nargs="?", type=Path, metavar="FILE.pem",
                              help="a self-signed root certificate to delete")
    certs_delete.add_argument("--issuer-name-hash", metavar="HEX")
    certs_delete.add_argument("--issuer-key-hash", metavar="HEX")
    certs_delete.add_argument("--serial", metavar="HEX", help="serial number, hexadecimal")
    certs_delete.add_argument("--hash-algorithm", default="SHA256", choices=["SHA256", "SHA384", "SHA512"])
    _version(certs_delete, [V16, V201, V21], V201)
    certs_delete.set_defaults(oem_handler=_certs_delete)

    certs_renew = certs_commands.add_parser(
        "renew", parents=parents, formatter_class=raw,
        help="renew the station's own certificate, signed by your CA (A02)",
        description=_paragraphs(
            "Ask the station for a new ChargingStationCertificate with TriggerMessage("
            "SignChargingStationCertificate): it makes a new key pair, which never leaves it, and sends its "
            "certificate signing request (SignCertificate). Sign that CSR here with the CA of --ca-cert and "
            "--ca-key, and send the certificate back (CertificateSigned), which the station checks and installs.",
            "The station needs SecurityCtrlr.OrganizationName set (`ocpp-station set "
            "SecurityCtrlr.OrganizationName=…`): it is the O of the certificate's subject. The chain sent ends "
            "with the root, for a station with no CSMSRootCertificate: the CA itself when it is a self-signed "
            "root, else the root at the end of --ca-cert; when the station has a CSMSRootCertificate installed, "
            "the CA must be that root or one of its sub-CAs. With --ocpp-version ocpp1.6 the request is "
            "ExtendedTriggerMessage(SignChargePointCertificate) and the O comes from the CpoName key (the same "
            "value). A progress line is shown on stderr "
            "while waiting, when stderr is a terminal. --json prints one document: {\"status\", \"steps\": "
            "[{\"step\", \"status\", …}] (SignCertificate's with the \"csr\"), \"certificate\": {subject, "
            "issuer, serialNumber, notBefore, notAfter}, \"certificateChain\"}."),
        epilog=EXIT_EPILOG.format(refused="the station did not accept the certificate, refused the "
                                          "TriggerMessage (e.g. no OrganizationName) or sent no CSR within "
                                          "--csr-timeout (or a CallError)") +
        " (2 also: the CA files cannot be used)"
        "\nexample: ocpp-station certs renew --ca-cert oem-ca.pem --ca-key oem-ca.key --days 730")
    certs_renew.add_argument("--ca-cert", required=True, type=Path, metavar="CA.pem",
                             help="the CA's certificate (PEM), then its issuers up to the root, if any")
    certs_renew.add_argument("--ca-key", required=True, type=Path, metavar="CA.key",
                             help="the CA's unencrypted private key (PEM)")
    certs_renew.add_argument("--days", type=_positive, default=365, metavar="N",
                             help="validity of the new certificate in days (default 365)")
    certs_renew.add_argument("--csr-timeout", type=float, metavar="S",
                             help="seconds to wait for the station's CSR after it accepted (default: --timeout)")
    _version(certs_renew, [V16, V201, V21], V201)
    certs_renew.set_defaults(oem_handler=_certs_renew)

    certs_import = certs_commands.add_parser(
        "import", parents=[common_parent_parser], help="import the station's own certificate chain and private key",
        description="Store the station's ChargingStationCertificate (security profile 3) or its V2G "
                    "certificate chain, with the private key (kept 0600, never logged), in the data "
                    "directory. The PEM file holds the leaf first, then the sub-CAs that issued it. "
                    "Replaces what was there. Local: OCPP has no message for it.")
    certs_import.add_argument("--type", required=True, dest="use",
                              choices=["ChargingStationCertificate", "V2GCertificateChain"])
    certs_import.add_argument("certificate", type=Path, metavar="CERT.pem")
    certs_import.add_argument("--key", required=True, type=Path, metavar="KEY.pem",
                              help="the unencrypted private key of the first certificate")
    _local_options(certs_import)
    certs_import.set_defaults(oem_handler=_local_certs)

    security_log = subparsers.add_parser(
        "security-log", parents=[common_parent_parser], formatter_class=raw,
        help="print the station's security log (read from its data directory)",
        description=_paragraphs(
            "Print the station's security log (A04: the security events it detected, critical or not), oldest "
            "first, newest last, read from its data directory. Read-only: it may run while the station runs. "
            "--json prints one object per line: {\"id\", \"timestamp\", \"type\", \"critical\", \"techInfo\"}."),
        epilog="exit status: 0 success (also for an empty log), 2 the data directory holds no readable "
               "station database\nexample: ocpp-station security-log --data-dir /var/lib/ocpp-station --limit 20")
    security_log.add_argument("--limit", type=_positive, metavar="N", help="only the last N entries")
    security_log.add_argument("--json", action="store_true", help="one JSON object per line instead of a table")
    _local_options(security_log)
    security_log.set_defaults(oem_handler=local_cli.security_log)

    network = subparsers.add_parser(
        "network", help="the station's network connection profiles",
        description="List the configuration slots and their profiles (OCPP 2.1 NetworkConfiguration), "
                    "or store a profile in a slot (SetNetworkProfile).")
    network_commands = network.add_subparsers(dest="network_command", required=True, metavar="COMMAND")
    network_list = network_commands.add_parser(
        "list", parents=parents, formatter_class=raw, help="print the slots and their profiles",
        description="Read every configuration slot with OCPP 2.1 GetVariables of NetworkConfiguration(slot) "
                    f"(slots 1, 2, … up to the first the station does not have, at most {MAX_PROBED_SLOTS}), "
                    "with the priority order (OCPPCommCtrlr.NetworkConfigurationPriority) and the active "
                    "slot (ActiveNetworkProfile). With --data-dir or --config, read the data directory "
                    "directly instead (passwords masked).",
        epilog=EXIT_EPILOG.format(refused="a CallError or an unreadable variable"))
    _version(network_list, [V21], V21)
    _local_options(network_list)
    network_list.set_defaults(oem_handler=_network_list)

    network_set = network_commands.add_parser(
        "set", parents=parents, formatter_class=raw, help="store a profile in a slot (SetNetworkProfile)",
        description="Store a network connection profile in configuration SLOT with SetNetworkProfile. The "
                    "station uses it once the slot is in NetworkConfigurationPriority, e.g. "
                    "`ocpp-station set OCPPCommCtrlr.NetworkConfigurationPriority=2,1`. The Basic-auth "
                    "password (2.1) is read from an environment variable, never from the command line.",
        epilog=EXIT_EPILOG.format(refused="the station rejected the profile (or a CallError)") +
        "\nexample: OCPP_PASSWORD=… ocpp-station network set 2 --url wss://csms.example.com/ocpp "
        "--security-profile 2 --ocpp-version ocpp2.1 --identity CS001 --password-env OCPP_PASSWORD")
    network_set.add_argument("slot", type=int, metavar="SLOT")
    network_set.add_argument("--url", required=True, help="the CSMS URL (ws:// or wss://)")
    network_set.add_argument("--security-profile", required=True, type=int, metavar="N")
    network_set.add_argument("--interface", default="Wired0", help="OCPP interface (default Wired0)")
    network_set.add_argument("--message-timeout", type=int, default=30, metavar="S",
                             help="messageTimeout in seconds (default 30)")
    network_set.add_argument("--profile-ocpp-version", default="OCPP20",
                             choices=["OCPP12", "OCPP15", "OCPP16", "OCPP20", "OCPP201", "OCPP21"],
                             help="the profile's ocppVersion field (default OCPP20)")
    network_set.add_argument("--identity", help="Basic-auth identity (OCPP 2.1)")
    network_set.add_argument("--password-env", metavar="VAR",
                             help="environment variable holding the Basic-auth password (OCPP 2.1)")
    _version(network_set, [V201, V21], V201)
    network_set.set_defaults(oem_handler=_network_set)


def _version(parser: argparse.ArgumentParser, choices: list[str], default: str) -> None:
    parser.add_argument("--ocpp-version", default=default, choices=choices,
                        help=f"OCPP version of the requests (default {default})")


def _paragraphs(*texts: str) -> str:
    """A description in paragraphs, wrapped here: the raw formatter keeps the blank lines between them."""
    return "\n\n".join(textwrap.fill(text, 100) for text in texts)


def _positive(text: str) -> int:
    """An integer of at least 1 (argparse's usage error otherwise)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is less than 1")
    return value


def _criteria(text: str) -> list[str]:
    """``--criteria Active,Problem`` → ["Active", "Problem"] (any case; argparse's usage error otherwise)."""
    chosen = []
    for word in text.split(","):
        match = next((c for c in COMPONENT_CRITERIA if c.casefold() == word.strip().casefold()), None)
        if match is None:
            raise argparse.ArgumentTypeError(f"{word.strip()!r} is not a component criterion "
                                             f"(one of {', '.join(COMPONENT_CRITERIA)}, comma-separated)")
        chosen.append(match)
    return chosen


def _local_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", metavar="DIR", type=Path,
                        help="the station's data directory (work on it directly, not through the broker)")
    parser.add_argument("--config", metavar="FILE", type=Path, help="station.toml (for its data_dir)")


# -- running a command -------------------------------------------------------------------------------

def _name(args: argparse.Namespace) -> str:
    sub = getattr(args, "certs_command", None) or getattr(args, "network_command", None)
    return f"ocpp-station {args.command}" + (f" {sub}" if sub else "")


def _run(args: argparse.Namespace, work: Callable[[StationClient], Awaitable[int]]) -> int:
    """Connect, run ``work``, and turn failures into messages and exit statuses."""
    name = _name(args)

    from .client import StationClient

    async def session() -> int:
        async with StationClient(args.mqtt_url, ca_file=args.ca_file, protocol=args.protocol,
                                 connect_timeout=args.timeout) as client:
            return await work(client)

    try:
        return asyncio.run(session())
    except UsageError as error:
        print(f"{name}: {error}", file=sys.stderr)
        return EXIT_USAGE
    except CallError as error:
        if args.json:
            _print_json({"error": {"code": error.code, "description": error.description,
                                   "details": error.details, "request_id": error.request_id}})
        print(f"{name}: the station answered CallError {error.code}: {error.description}", file=sys.stderr)
        return EXIT_REFUSED
    except ReportTimeout as error:  # the report was accepted, then its parts stopped coming
        print(f"{name}: {error}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except TimeoutError:
        print(f"{name}: no answer within {args.timeout:g} s (is the station running on this broker?)",
              file=sys.stderr)
        return EXIT_UNREACHABLE
    except ConnectionError as error:
        print(f"{name}: {error}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except ValueError as error:  # a bad --mqtt-url
        print(f"{name}: {error}", file=sys.stderr)
        return EXIT_USAGE


def _print_json(value: Any) -> None:
    print(exact_json.dumps(value, indent=True).decode())


def _explain(reason: str | None, info: str | None) -> str:
    return ": ".join(part for part in (reason, info) if part)


# -- get / set ---------------------------------------------------------------------------------------

def _get(args: argparse.Namespace) -> int:
    if args.ocpp_version == V16:
        return _get_configuration(args)
    if not args.variables:
        print("ocpp-station get: name at least one VARIABLE (only 1.6 lists every key)", file=sys.stderr)
        return EXIT_USAGE
    try:
        refs = [VariableRef.parse(text) for text in args.variables]
    except ValueError as error:
        print(f"ocpp-station get: {error}", file=sys.stderr)
        return EXIT_USAGE

    async def work(client: StationClient) -> int:
        results = await client.get_variables(refs, ocpp_version=args.ocpp_version, timeout=args.timeout)
        if args.json:
            _print_json([{"variable": r.label, "status": r.status, "value": r.value,
                          "attributeType": r.attribute_type, "reason": r.reason,
                          "additionalInfo": r.additional_info} for r in results])
        else:
            print(_table(["VARIABLE", "STATUS", "VALUE / REASON"],
                         [[r.label, r.status, r.value if r.accepted else _explain(r.reason, r.additional_info)]
                          for r in results]))
        return EXIT_OK if results and all(r.accepted for r in results) else EXIT_REFUSED

    return _run(args, work)


def _write_only_variables() -> frozenset[str]:
    """The names (casefolded, as the station matches them) of the standardized variables that are
    write-only: their values are secrets (BasicAuthPassword), so `set` echoes them as the mask.

    By name, from the catalogue this release ships: a misspelt name is not masked, and is not the
    secret variable either (the station answers UnknownVariable)."""
    from .station.shape import catalogue

    return frozenset(variable["name"].casefold() for component in catalogue()["components"]
                     for variable in component["variables"]
                     if any(attribute["mutability"] == "WriteOnly" for attribute in variable["attributes"]))


def _get_configuration(args: argparse.Namespace) -> int:
    """``get --ocpp-version ocpp1.6 [KEY …]``: GetConfiguration, a row per key (unknown keys too)."""

    async def work(client: StationClient) -> int:
        found = await client.get_configuration(args.variables, timeout=args.timeout)
        if args.json:
            _print_json(configuration_json(found))
        else:
            print(_table(CONFIGURATION_HEADERS, configuration_rows(found)))
        return EXIT_OK if configuration_complete(found) else EXIT_REFUSED

    return _run(args, work)


CONFIGURATION_HEADERS = ["KEY", "ACCESS", "VALUE"]


def configuration_rows(found: Configuration) -> list[list[str]]:
    """A GetConfiguration answer as table rows: a write-only key's value shown as such, unknown keys last."""
    secret = _write_only_keys()
    rows = [[printable(k.key), "read-only" if k.readonly else "read-write",
             "(write-only)" if k.value is None and k.key.casefold() in secret else printable(k.value or "")]
            for k in found.keys]
    return rows + [[printable(name), "unknown", ""] for name in found.unknown]


def configuration_json(found: Configuration) -> dict[str, Any]:
    """A GetConfiguration answer as the JSON the commands print."""
    return {"configurationKey": [{"key": k.key, "readonly": k.readonly, "value": k.value} for k in found.keys],
            "unknownKey": list(found.unknown)}


def configuration_complete(found: Configuration) -> bool:
    """Success for ``get`` of 1.6 keys: some key was listed and none was unknown."""
    return bool(found.keys) and not found.unknown


def _write_only_keys() -> frozenset[str]:
    """The 1.6 keys (casefolded) whose variable is write-only: their values are secrets (AuthorizationKey)."""
    from .station.configuration_keys import catalogue

    secret = _write_only_variables()
    return frozenset(key.key.casefold() for key in catalogue() if key.variable.casefold() in secret)


def _change_configuration(args: argparse.Namespace, pairs: list[tuple[str, str]]) -> int:
    """``set --ocpp-version ocpp1.6 KEY=VALUE …``: one ChangeConfiguration per key, in order."""

    async def work(client: StationClient) -> int:
        secret = _write_only_keys()
        rows: list[tuple[str, str, str]] = []  # key, the value as shown, status
        for key, value in pairs:
            status = await client.change_configuration(key, value, timeout=args.timeout)
            rows.append((key, MASK if key.casefold() in secret else value, status))
        if args.json:
            _print_json([{"key": key, "value": shown, "status": status, "rebootRequired": status == "RebootRequired"}
                         for key, shown, status in rows])
        else:
            print(_table(["KEY", "VALUE", "STATUS", "NOTE"],
                         [[printable(key), printable(shown), status,
                           "stored; takes effect after a restart" if status == "RebootRequired" else ""]
                          for key, shown, status in rows]))
        return EXIT_OK if all(status in ("Accepted", "RebootRequired") for *_, status in rows) else EXIT_REFUSED

    return _run(args, work)


def _set(args: argparse.Namespace) -> int:
    if args.ocpp_version == V16:
        keys = [text.partition("=") for text in args.assignments]
        bad = next((text for text, (_, equals, _) in zip(args.assignments, keys, strict=True) if not equals), None)
        if bad is not None:
            print(f"ocpp-station set: {bad!r}: expected KEY=VALUE, e.g. HeartbeatInterval=300", file=sys.stderr)
            return EXIT_USAGE
        return _change_configuration(args, [(key, value) for key, _, value in keys])
    pairs: list[tuple[VariableRef, str]] = []
    for text in args.assignments:
        ref_text, equals, value = text.partition("=")
        try:
            if not equals:
                raise ValueError(f"{text!r}: expected VARIABLE=VALUE, e.g. OCPPCommCtrlr.OfflineThreshold=300")
            pairs.append((VariableRef.parse(ref_text), value))
        except ValueError as error:
            print(f"ocpp-station set: {error}", file=sys.stderr)
            return EXIT_USAGE

    async def work(client: StationClient) -> int:
        results = await client.set_variables(pairs, ocpp_version=args.ocpp_version, timeout=args.timeout)
        secret = _write_only_variables()
        labels = {str(replace(ref, attribute_type=None) if ref.attribute_type == "Actual" else ref):
                  MASK if ref.variable.casefold() in secret else value for ref, value in pairs}

        def note(status: str, reason: str | None, info: str | None) -> str:
            if status == "RebootRequired":
                return "stored; takes effect after a restart"
            return "" if status == "Accepted" else _explain(reason, info)

        if args.json:
            _print_json([{"variable": r.label, "value": labels.get(r.label), "status": r.status,
                          "attributeType": r.attribute_type, "reason": r.reason, "additionalInfo": r.additional_info,
                          "rebootRequired": r.status == "RebootRequired"} for r in results])
        else:
            print(_table(["VARIABLE", "VALUE", "STATUS", "NOTE"],
                         [[r.label, labels.get(r.label, ""), r.status, note(r.status, r.reason, r.additional_info)]
                          for r in results]))
        return EXIT_OK if results and all(r.accepted for r in results) else EXIT_REFUSED

    return _run(args, work)


# -- report ------------------------------------------------------------------------------------------

def _report(args: argparse.Namespace) -> int:
    name = "ocpp-station report"
    try:
        targets = [ComponentVariable.parse(text) for text in args.components]
    except ValueError as error:
        print(f"{name}: {error}", file=sys.stderr)
        return EXIT_USAGE
    criteria: list[str] = list(dict.fromkeys(args.criteria or []))
    if (targets or criteria) and args.kind != "full":
        print(f"{name}: COMPONENT arguments and --criteria send GetReport, which has no {args.kind} form; "
              f"use `ocpp-station report full …`", file=sys.stderr)
        return EXIT_USAGE

    async def work(client: StationClient) -> int:
        stream = client.report_parts(REPORT_KINDS[args.kind], components=targets or None, criteria=criteria or None,
                                     ocpp_version=args.ocpp_version, timeout=args.timeout,
                                     part_timeout=args.part_timeout, acknowledge=args.acknowledge)
        progress = _Progress(stream.request_id) if sys.stderr.isatty() else None
        items: list[ReportItem] = []
        try:
            async with stream:
                async for part in stream:
                    items.extend(part.items)
                    if progress is not None:
                        progress.show(stream.parts, len(items))
        except ReportRefused as refused:
            if args.json:
                _print_json({"requestId": refused.request_id, "status": refused.status,
                             **_status_info(refused.reason, refused.additional_info), "parts": 0, "reportData": []})
            print(f"{name}: {refused}", file=sys.stderr)
            return EXIT_REFUSED
        finally:
            if progress is not None:
                progress.clear()
        assert stream.status is not None
        status = stream.status
        if args.json:
            _print_json({"requestId": stream.request_id, "status": status.status,
                         **_status_info(status.reason, status.additional_info), "parts": stream.parts,
                         "reportData": [item.raw for item in items]})
        elif not items:
            print(f"{status.status}: the station has nothing to report"
                  + (" for this selection" if targets or criteria else ""))
        else:
            print(_table(["COMPONENT", "VARIABLE", "TYPE", "VALUE", "MUTABILITY", "DATATYPE", "UNIT", "LIMITS"],
                         [[item.ref.component_label, item.ref.variable_label, attribute.type, attribute.value,
                           attribute.mutability, item.characteristics.data_type if item.characteristics else "",
                           item.characteristics.unit if item.characteristics else "", _limits(item.characteristics)]
                          for item in items for attribute in item.attributes]))
        return EXIT_OK

    return _run(args, work)


def _status_info(reason: str | None, info: str | None) -> dict[str, Any]:
    """``{"statusInfo": {…}}`` when the answer had one, else nothing."""
    if reason is None and info is None:
        return {}
    return {"statusInfo": {key: value for key, value in (("reasonCode", reason), ("additionalInfo", info))
                           if value is not None}}


def _limits(characteristics: VariableCharacteristics | None) -> str:
    """The LIMITS column: ``0..3600`` for numbers, ``max length 255`` for texts and lists, the allowed values."""
    if characteristics is None:
        return ""
    parts = []
    low, high = characteristics.min_limit, characteristics.max_limit
    if characteristics.data_type in NUMERIC_TYPES:
        if low is not None or high is not None:
            parts.append(f"{_number(low)}..{_number(high)}")
    elif high is not None:
        parts.append(f"max length {_number(high)}")
    if characteristics.values_list:
        parts.append(f"values {characteristics.values_list}")
    if characteristics.max_elements is not None:
        parts.append(f"max {characteristics.max_elements} elements")
    return ", ".join(parts)


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


class _Progress:
    """A line on stderr, rewritten as the parts arrive: only on a terminal.

    A long report takes a while, and a person watching wants to see it move; a script reads stdout
    and a log collects stderr, where a line per part would only be noise.
    """

    def __init__(self, request_id: int | None = None):
        self.request_id = request_id
        self._width = 0

    def show(self, parts: int, items: int) -> None:
        self.write(f"report {self.request_id}: part {parts} ({items} variables)…")

    def write(self, text: str) -> None:
        """Show ``text`` in place of the line shown before."""
        sys.stderr.write("\r" + text.ljust(self._width))
        sys.stderr.flush()
        self._width = max(self._width, len(text))

    def clear(self) -> None:
        if self._width:
            sys.stderr.write("\r" + " " * self._width + "\r")
            sys.stderr.flush()


# -- certs -------------------------------------------------------------------------------------------

def _local_certs(args: argparse.Namespace) -> int:
    return local_cli.certs(args)  # the data-directory commands (import, and list --data-dir)


def _certs_list(args: argparse.Namespace) -> int:
    if args.data_dir is not None or args.config is not None:
        return _local_certs(args)

    async def work(client: StationClient) -> int:
        found = await client.get_installed_certificate_ids(args.types, ocpp_version=args.ocpp_version,
                                                           timeout=args.timeout)
        if args.json:
            _print_json([_certificate_json(c) for c in found])
            return EXIT_OK
        if not found:
            print("no certificates installed")
            return EXIT_OK
        rows = []
        for cert in found:
            rows.append(_certificate_row(cert.certificate_type, cert.hash_data))
            rows += [_certificate_row("  sub-CA", child) for child in cert.children]
        print(_table(["TYPE", "SERIAL", "ALGORITHM", "ISSUER NAME HASH", "ISSUER KEY HASH"], rows))
        return EXIT_OK

    return _run(args, work)


def _certificate_row(label: str, data: dict[str, str]) -> list[str]:
    return [label, data.get("serialNumber", ""), data.get("hashAlgorithm", ""), data.get("issuerNameHash", ""),
            data.get("issuerKeyHash", "")]


def _certificate_json(cert: InstalledCertificate) -> dict[str, Any]:
    item: dict[str, Any] = {"certificateType": cert.certificate_type, "certificateHashData": cert.hash_data}
    if cert.children:
        item["childCertificateHashData"] = cert.children
    return item


def _status_exit(args: argparse.Namespace, status: Any, success: str, extra: dict[str, Any] | None = None) -> int:
    if args.json:
        _print_json({"status": status.status, "reason": status.reason, "additionalInfo": status.additional_info,
                     **(extra or {})})
    elif status.accepted:
        print(success)
    else:
        print(f"{status.status}" + (f": {_explain(status.reason, status.additional_info)}"
                                    if status.reason or status.additional_info else ""))
    return EXIT_OK if status.accepted else EXIT_REFUSED


def read_certificate(args: argparse.Namespace, name: str) -> str | None:
    """The PEM text of ``args.certificate``; None (said on stderr, as ``name``) when it cannot be read."""
    try:
        return str(args.certificate.read_text("utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        print(f"{name}: cannot read {args.certificate}: {error}", file=sys.stderr)
        return None


def _certs_install(args: argparse.Namespace) -> int:
    pem = read_certificate(args, "ocpp-station certs install")
    if pem is None:
        return EXIT_USAGE

    async def work(client: StationClient) -> int:
        status = await client.install_certificate(pem, args.certificate_type, ocpp_version=args.ocpp_version,
                                                  timeout=args.timeout)
        return _status_exit(args, status, f"Accepted: installed {args.certificate} as {args.certificate_type}")

    return _run(args, work)


def _hash_data_of(args: argparse.Namespace) -> dict[str, str]:
    given = [args.issuer_name_hash, args.issuer_key_hash, args.serial]
    if args.certificate is not None:
        if any(v is not None for v in given):
            raise UsageError("give either FILE.pem or --issuer-name-hash/--issuer-key-hash/--serial, not both")
        from cryptography import x509

        from .station.certificates import HashAlgorithm, compute_hash_data

        try:
            cert = x509.load_pem_x509_certificate(args.certificate.read_bytes())
        except OSError as error:
            raise UsageError(f"cannot read {args.certificate}: {error.strerror}") from None
        except ValueError as error:
            raise UsageError(f"{args.certificate} is not a PEM certificate: {error}") from None
        try:
            return compute_hash_data(cert, cert, HashAlgorithm(args.hash_algorithm)).to_ocpp()
        except ValueError as error:
            raise UsageError(f"{args.certificate} is not self-signed, so its hash data cannot be computed "
                             f"from it alone ({error}); give --issuer-name-hash/--issuer-key-hash/--serial "
                             "as `ocpp-station certs list` prints them") from None
    if any(v is None for v in given):
        raise UsageError("name the certificate: FILE.pem, or all of --issuer-name-hash, --issuer-key-hash "
                         "and --serial")
    return {"hashAlgorithm": args.hash_algorithm, "issuerNameHash": args.issuer_name_hash.lower(),
            "issuerKeyHash": args.issuer_key_hash.lower(), "serialNumber": args.serial}


def _certs_delete(args: argparse.Namespace) -> int:
    try:
        hash_data = _hash_data_of(args)
    except UsageError as error:
        print(f"ocpp-station certs delete: {error}", file=sys.stderr)
        return EXIT_USAGE

    async def work(client: StationClient) -> int:
        status = await client.delete_certificate(hash_data, ocpp_version=args.ocpp_version, timeout=args.timeout)
        return _status_exit(args, status, f"Accepted: deleted the certificate with serial {hash_data['serialNumber']}",
                            {"certificateHashData": hash_data})

    return _run(args, work)


class _SigningFailed(Exception):
    """The CA could not sign the station's CSR (its signature does not verify, say): exit status 1."""


def _certs_renew(args: argparse.Namespace) -> int:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from .oem_ca import CertificateAuthority
    from .station.certificates import is_self_signed

    name = "ocpp-station certs renew"
    trigger = renewal_trigger(args.ocpp_version)[0]
    try:
        ca = CertificateAuthority.from_files(args.ca_cert, args.ca_key)
    except ValueError as error:
        print(f"{name}: {error}", file=sys.stderr)
        return EXIT_USAGE
    # CertificateAuthority.sign leaves the root out of the chain; a station without a CSMS root of its
    # own needs it there (to check the chain and compute the hash data of its top): the CA itself when
    # it is a self-signed root, else the root that ends the --ca-cert file, if it does.
    top = x509.load_pem_x509_certificates(args.ca_cert.read_bytes())[-1]  # from_files has read it
    root = top.public_bytes(serialization.Encoding.PEM).decode("ascii") if is_self_signed(top) else ""

    def sign(csr: str) -> str:
        try:
            return ca.sign(csr, days=args.days) + root
        except ValueError as error:
            raise _SigningFailed(f"cannot sign the station's CSR: {error}") from None

    async def work(client: StationClient) -> int:
        progress = _Progress() if sys.stderr.isatty() else None
        try:
            renewal = await client.renew_certificate(
                sign, ocpp_version=args.ocpp_version, timeout=args.timeout,
                csr_timeout=args.timeout if args.csr_timeout is None else args.csr_timeout,
                progress=None if progress is None else lambda text: progress.write(f"{text}…"))
        except RenewalRefused as refused:
            hint = (" (set it with `ocpp-station set SecurityCtrlr.OrganizationName=…`)"
                    if "OrganizationName" in (refused.additional_info or "") else
                    " (is CpoName set? `ocpp-station set --ocpp-version ocpp1.6 CpoName=…`)"
                    if args.ocpp_version == V16 else "")
            return _renew_failed(args, [_Step(trigger, refused.status, _status_info(
                refused.reason, refused.additional_info))], f"{name}: {refused}{hint}")
        except CsrTimeout as timeout:
            return _renew_failed(args, [_Step(trigger, "Accepted"), _Step("SignCertificate", "NotReceived")],
                                 f"{name}: {timeout}")
        except _SigningFailed as failed:
            return _renew_failed(args, [_Step(trigger, "Accepted"), _Step("SignCertificate", "Received"),
                                        _Step("Signing", "Failed", detail=str(failed))], f"{name}: {failed}")
        finally:
            if progress is not None:
                progress.clear()
        _print_renewal(args, renewal)
        result = renewal.result
        if not renewal.accepted:
            print(f"{name}: the station answered CertificateSigned with {result.status}"
                  + (f" ({_explain(result.reason, result.additional_info)})"
                     if result.reason or result.additional_info else ""), file=sys.stderr)
        return EXIT_OK if renewal.accepted else EXIT_REFUSED

    return _run(args, work)


@dataclass
class _Step:
    """One step of a renewal as `certs renew` prints it; ``fields`` go into its --json object."""

    step: str
    status: str
    fields: dict[str, Any] = field(default_factory=dict)
    detail: str = ""

    def row(self) -> list[str]:
        info = self.fields.get("statusInfo", {})
        return [self.step, self.status, self.detail or _explain(info.get("reasonCode"), info.get("additionalInfo"))]

    def to_json(self) -> dict[str, Any]:
        return {"step": self.step, "status": self.status, **self.fields}


def _renew_failed(args: argparse.Namespace, steps: list[_Step], message: str) -> int:
    """The steps so far (stdout) and what went wrong (stderr): exit status 1."""
    if args.json:
        _print_json({"status": steps[-1].status, "steps": [step.to_json() for step in steps]})
    else:
        print(_steps_table(steps))
    print(printable(message), file=sys.stderr)
    return EXIT_REFUSED


def _steps_table(steps: list[_Step]) -> str:
    return _table(["STEP", "STATUS", "DETAIL"], [[printable(cell) for cell in step.row()] for step in steps])


def _print_renewal(args: argparse.Namespace, renewal: CertificateRenewal) -> None:
    """The three steps, then the certificate the station was sent (the first of the chain)."""
    from cryptography import x509

    from .station.certificates import serial_number_hex

    request, result = renewal.request, renewal.result
    csr = x509.load_pem_x509_csr(request.csr.encode("ascii"))
    leaf = x509.load_pem_x509_certificates(renewal.certificate_chain.encode("ascii"))[0]
    received = {"csr": request.csr, **({"requestId": request.request_id} if request.request_id is not None else {})}
    trigger, asked = renewal_trigger(args.ocpp_version)
    steps = [_Step(trigger, renewal.trigger.status, detail=asked),
             _Step("SignCertificate", "Received", received,
                   f"CSR for {csr.subject.rfc4514_string()}, {_key_text(csr.public_key())} key"
                   + (f", requestId {request.request_id}" if request.request_id is not None else "")),
             _Step("CertificateSigned", result.status, _status_info(result.reason, result.additional_info))]
    certificate = {"subject": leaf.subject.rfc4514_string(), "issuer": leaf.issuer.rfc4514_string(),
                   "serialNumber": serial_number_hex(leaf.serial_number),
                   "notBefore": f"{leaf.not_valid_before_utc:%Y-%m-%dT%H:%M:%SZ}",
                   "notAfter": f"{leaf.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}"}
    if args.json:
        _print_json({"status": result.status, "steps": [step.to_json() for step in steps],
                     "certificate": certificate, "certificateChain": renewal.certificate_chain})
        return
    print(_steps_table(steps))
    print()
    print(_table(["CERTIFICATE", ""], [[label, printable(certificate[key])] for label, key in (
        ("subject", "subject"), ("issuer", "issuer"), ("serial", "serialNumber"), ("valid from", "notBefore"),
        ("valid until", "notAfter"))]))


def _key_text(public: Any) -> str:
    """``EC secp256r1``, ``RSA 3072``: what kind of key the station made."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if isinstance(public, ec.EllipticCurvePublicKey):
        return f"EC {public.curve.name}"
    if isinstance(public, rsa.RSAPublicKey):
        return f"RSA {public.key_size}"
    return type(public).__name__.removesuffix("PublicKey")


# -- network -----------------------------------------------------------------------------------------

def _network_list(args: argparse.Namespace) -> int:
    if args.data_dir is not None or args.config is not None:

        return local_cli.network_list(args)  # the data-directory view

    async def work(client: StationClient) -> int:
        version, timeout = args.ocpp_version, args.timeout
        head = await client.get_variables([("OCPPCommCtrlr", "NetworkConfigurationPriority"),
                                           ("OCPPCommCtrlr", "ActiveNetworkProfile")],
                                          ocpp_version=version, timeout=timeout)
        priority_result, active_result = head
        priority = [int(s) for s in (priority_result.value or "").split(",") if s.strip().isdigit()]
        active = int(active_result.value) if active_result.value and active_result.value.isdigit() else None
        # Ask for slots 1..MAX at once; the station has the ones before the first UnknownComponent.
        probes = await asyncio.gather(*(
            client.get_variables([VariableRef("NetworkConfiguration", v, component_instance=str(slot))
                                  for v in NETWORK_VARIABLES], ocpp_version=version, timeout=timeout)
            for slot in range(1, MAX_PROBED_SLOTS + 1)))
        slots: list[dict[str, Any]] = []
        unreadable = not (priority_result.accepted and active_result.accepted)
        for slot, results in enumerate(probes, start=1):
            if any(r.status == "UnknownComponent" for r in results):
                break
            values = {r.ref.variable: r.value for r in results if r.accepted}
            unreadable |= len(values) != len(results)
            slots.append({"slot": slot, "active": slot == active,
                          "priority": priority.index(slot) + 1 if slot in priority else None,
                          "configured": bool(values.get("OcppCsmsUrl")), **values})
        if args.json:
            _print_json({"activeNetworkProfile": active, "networkConfigurationPriority": priority, "slots": slots})
        else:
            if not slots:
                print("the station reports no NetworkConfiguration slots")
            else:
                print(_table(
                    ["SLOT", "ACTIVE", "PRIORITY", "URL", "SECURITY", "INTERFACE", "TIMEOUT", "VERSION", "IDENTITY"],
                    [[s["slot"], "*" if s["active"] else "", s["priority"] or "-",
                      s.get("OcppCsmsUrl") or "(empty)", s.get("SecurityProfile", ""), s.get("OcppInterface", ""),
                      s.get("MessageTimeout", ""), s.get("OcppVersion", ""), s.get("Identity", "")]
                     for s in slots]))
                print(f"priority order: {','.join(map(str, priority)) or '-'}; active slot: {active or '-'}")
        return EXIT_REFUSED if unreadable else EXIT_OK

    return _run(args, work)


def _network_set(args: argparse.Namespace) -> int:
    password = None
    if args.password_env is not None:
        password = os.environ.get(args.password_env)
        if password is None:
            print(f"ocpp-station network set: the environment variable {args.password_env} is not set",
                  file=sys.stderr)
            return EXIT_USAGE
    if (password is not None or args.identity is not None) and args.ocpp_version != V21:
        print("ocpp-station network set: --identity and --password-env need --ocpp-version ocpp2.1",
              file=sys.stderr)
        return EXIT_USAGE

    async def work(client: StationClient) -> int:
        status = await client.set_network_profile(
            args.slot, url=args.url, security_profile=args.security_profile, interface=args.interface,
            message_timeout=args.message_timeout, ocpp_version=args.profile_ocpp_version, identity=args.identity,
            basic_auth_password=password, envelope_version=args.ocpp_version, timeout=args.timeout)
        return _status_exit(args, status, f"Accepted: slot {args.slot} now holds {args.url}", {"slot": args.slot})

    return _run(args, work)

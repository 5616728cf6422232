"""``ocpp-station``: run the station, or send it one OCPP request through the broker.

Exit statuses (scripts may rely on them):

* ``serve``: 0 after SIGTERM/SIGINT, 2 for a configuration error.
* ``call``: 0 for a CallResult, 1 for a CallError, 2 for bad usage (e.g. the payload is not JSON),
  3 when the broker cannot be reached or no answer came within ``--timeout``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from . import __version__, exact_json
from .api.broker import KINDS
from .config import Config, ConfigError, load
from .logsafe import quiet_wire_loggers

log = logging.getLogger("ocpp_station")

EXIT_OK, EXIT_CALL_ERROR, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3
LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR"]
SHUTDOWN_GRACE_S = 5.0


def _parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; for ``command="serve"``, without the OEM and fleet commands.

    Those live in :mod:`.oem_cli` and :mod:`.fleet_cli` with their implementations, whose imports
    (their dataclasses, the client's types) took ~50 ms of the station's launch and ~2 MB of its
    memory for nothing: a station never runs them (issue 20).
    """
    parser = argparse.ArgumentParser(
        prog="ocpp-station",
        description="A station-side OCPP engine with a local MQTT API (the Josev OcppMessage API): "
                    "the OEM publishes OCPP requests on cs/josev and gets the answers on josev/cs.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--log-level", default="INFO", choices=LOG_LEVELS,
                        help="how much to log (default: INFO, one line per request)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # Also accepted after the command (`ocpp-station serve --log-level DEBUG`), where people put it.
    log_level = argparse.ArgumentParser(add_help=False)
    log_level.add_argument("--log-level", default=argparse.SUPPRESS, choices=LOG_LEVELS,
                           help="how much to log (default: INFO)")

    serve = commands.add_parser(
        "serve", help="run the station", parents=[log_level],
        description="Run the station. Without --mqtt-url (or mqtt.url in the config file) it starts an "
                    "embedded MQTT broker on 127.0.0.1:1883 for trying things out: a private mosquitto "
                    "(MQTT 5 and 3.1.1) with its files in DATA_DIR/broker, or, where mosquitto is not "
                    "installed, amqtt in the station's process (MQTT 3.1.1 only).")
    serve.add_argument("--mqtt-url", metavar="URL",
                       help="broker to use: mqtt://[user:pass@]host[:port] or mqtts://… for TLS "
                            "(env OCPP_STATION_MQTT_URL)")
    serve.add_argument("--data-dir", metavar="DIR", type=Path,
                       help="where the station keeps its state (env OCPP_STATION_DATA_DIR; "
                            "default ./station-data)")
    serve.add_argument("--config", metavar="FILE", type=Path,
                       help="station.toml: identity, EVSEs and connectors, limits, MQTT settings "
                            "(see station.example.toml)")
    _mqtt_options(serve)
    serve.add_argument("--client-id", help="MQTT client id of the station (default ocpp-station); keep it "
                                           "fixed: the broker keeps queued requests under it. {identity} is "
                                           "replaced by the station's identity (stations sharing a broker)")
    serve.add_argument("--status-topic", metavar="TOPIC",
                       help="retained presence (online/offline, with the MQTT Last Will) for a fleet's back office "
                            "(default josev/status; '' for none)")
    serve.add_argument("--topic-prefix", metavar="PREFIX",
                       help="put before every topic, for a station on a central broker without a bridge, e.g. "
                            "'stations/{identity}/' (default none: a bridge maps the topics; examples/bridge)")
    serve.add_argument("--client-cert", metavar="FILE", help="certificate for mutual TLS with the broker")
    serve.add_argument("--client-key", metavar="FILE", help="private key of --client-cert")
    serve.add_argument("--no-csms", action="store_true",
                       help="do not connect to a CSMS; serve the MQTT API only (config: [csms] enabled = false)")
    serve.add_argument("--embedded-port", type=int, default=1883, metavar="PORT",
                       help="port of the embedded broker when no --mqtt-url is given (default 1883)")
    serve.add_argument("--embedded-broker", choices=KINDS, default="auto",
                       help="the embedded broker when no --mqtt-url is given: mosquitto (a private one, MQTT 5 "
                            "and 3.1.1, sessions kept across restarts; an error if it is not installed), amqtt "
                            "(in-process, MQTT 3.1.1 only, sessions end with the station), or auto (default: "
                            "mosquitto if installed, else amqtt)")

    call = commands.add_parser(
        "call", help="send one OCPP request to a running station and print its answer",
        description="Send one OCPP request through the broker, wait for the answer with the same id, "
                    "and print it. Exit status: 0 CallResult, 1 CallError, 2 bad usage, 3 no answer.",
        epilog="example: ocpp-station call GetVariables "
               "'{\"getVariableData\":[{\"component\":{\"name\":\"TxCtrlr\"},"
               "\"variable\":{\"name\":\"TxStartPoint\"}}]}'")
    call.add_argument("action", help="the OCPP action, e.g. GetVariables")
    call.add_argument("payload", help="the OCPP request payload as JSON, or - to read it from stdin")
    call.add_argument("--ocpp-version", default="ocpp2.0.1", choices=["ocpp1.6", "ocpp2.0.1", "ocpp2.1"],
                      help="OCPP version of the request (default ocpp2.0.1)")
    call.add_argument("--mqtt-url", default="mqtt://127.0.0.1:1883", metavar="URL",
                      help="broker the station listens on (default mqtt://127.0.0.1:1883)")
    call.add_argument("--timeout", type=float, default=10.0, metavar="S",
                      help="seconds to wait for the answer (default 10)")
    _mqtt_options(call)

    if command != "serve":
        from . import fleet_cli, oem_cli

        oem_cli.add_commands(commands, log_level)  # get, set, report, certs, network (through the broker)
        fleet_cli.add_commands(commands, log_level)  # the same on many stations, through a central broker
    return parser


def _command(argv: list[str] | None) -> str | None:
    """The command ``argv`` names, as far as it can be told without the full parser (None: not told)."""
    first = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    first.add_argument("--log-level")
    first.add_argument("command", nargs="?")
    try:
        known, _ = first.parse_known_args(argv)
    except argparse.ArgumentError:  # e.g. --log-level without its value: the full parser says what is wrong
        return None
    return known.command if isinstance(known.command, str) else None


def _mqtt_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ca-file", metavar="FILE", help="CA certificate(s) to verify an mqtts:// broker")
    parser.add_argument("--request-topic", metavar="TOPIC", help="topic of requests (default cs/josev)")
    parser.add_argument("--response-topic", metavar="TOPIC", help="topic of answers (default josev/cs)")
    parser.add_argument("--mqtt-protocol", choices=["5", "3.1.1"], dest="protocol",
                        help="MQTT protocol version (serve: default 5; call and the OEM commands: "
                             "default MQTT 5, or 3.1.1 when the broker refuses it)")


def main(argv: list[str] | None = None) -> int:
    args = _parser(_command(argv)).parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    quiet_wire_loggers(logging.getLevelName(args.log_level))  # no handshake headers or frames: secrets
    if args.command == "serve":
        return _serve(args)
    if hasattr(args, "oem_handler"):  # get, set, report, certs, network: see oem_cli; fleet: fleet_cli
        return args.oem_handler(args)
    return _call(args)


# -- serve ------------------------------------------------------------------------------------------

def _serve(args: argparse.Namespace) -> int:
    from .station.storage import StorageError

    try:
        config = load(args.config, overrides=vars(args))
    except ConfigError as error:
        log.error("configuration error: %s", error)
        return EXIT_USAGE
    try:
        asyncio.run(_run(config, args.embedded_port, args.embedded_broker))
    except ConfigError as error:
        log.error("configuration error: %s", error)
        return EXIT_USAGE
    except StorageError as error:
        log.error("cannot start: %s", error)
        return EXIT_USAGE
    except LinkEnded:
        return EXIT_CALL_ERROR  # 1: failed (logged above)
    return EXIT_OK


async def _run(config: Config, embedded_port: int, embedded_kind: str = "auto") -> None:
    from dataclasses import replace

    from .api.broker import start_embedded_broker
    from .api.connection import BrokerAddress
    from .api.mqtt import MqttDoor
    from .app import Station

    stop = asyncio.Event()
    ended: list[str] = []  # why the CSMS link ended, if it ever did (it must not: CsmsLink.run is supervised)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    # SIGHUP would end the station, and systemd counts that as a clean exit: not restarted. Daemons
    # are sent it to reload; we have nothing to reload in place, so say so and keep serving.
    loop.add_signal_handler(signal.SIGHUP, lambda: log.warning(
        "SIGHUP: ignored, nothing is reloaded in place; restart the station to apply station.toml changes"))

    station = Station(config)
    log.info("ocpp-station %s: data in %s, %d EVSE(s), identity %s", __version__,
             config.data_dir.resolve(), len(config.evses), config.station.identity)
    station.record_startup()  # A04: StartupOfTheDevice, queued for both doors before they open
    async with contextlib.AsyncExitStack() as stack:
        settings = config.mqtt
        if not settings.url:
            broker = await stack.enter_async_context(start_embedded_broker(
                embedded_kind, "127.0.0.1", embedded_port, config.data_dir / "broker"))
            # MQTT 5 to the private mosquitto, unless --mqtt-protocol says otherwise; amqtt knows only 3.1.1.
            settings = replace(settings, url=broker.url, protocol=settings.protocol if broker.mqtt5 else "3.1.1")
        try:
            address = BrokerAddress.parse(settings.url)
            # Fail now, not in the retry loop, when a TLS file is missing or unreadable.
            address.tls_context(ca_file=settings.ca_file, client_cert=settings.client_cert,
                                client_key=settings.client_key)
        except (ValueError, OSError) as error:
            raise ConfigError(f"MQTT settings: {error}") from None
        door = MqttDoor(station, settings, address)
        door.start()
        link = None
        if config.csms.enabled:
            from .csms.link import CsmsLink

            link = asyncio.create_task(CsmsLink(station).run())
            link.add_done_callback(lambda task: _link_ended(task, stop, ended))
        else:
            log.info("the CSMS link is off ([csms] enabled = false or --no-csms): serving the MQTT API only")
        await stop.wait()
        log.info("stopping")
        if link is not None:
            link.cancel()
            await asyncio.wait({link}, timeout=SHUTDOWN_GRACE_S)
        await asyncio.to_thread(door.stop, SHUTDOWN_GRACE_S)
    station.close()
    log.info("stopped")
    if ended:
        raise LinkEnded(ended[0])


class LinkEnded(RuntimeError):
    """The CSMS link's task ended while the station was serving: a bug (B10.FR.09 says it never gives up)."""


def _link_ended(task: asyncio.Task[None], stop: asyncio.Event, ended: list[str]) -> None:
    """Defence in depth: a station serving MQTT without its CSMS link would look healthy and be lost to
    its operator. Stop instead, with a failure status, so that the service manager starts it again
    (examples/systemd: Restart=on-failure)."""
    if task.cancelled():
        return  # we are stopping
    error = task.exception()
    ended.append(f"{type(error).__name__}: {error}" if error is not None else "it returned")
    log.critical("the CSMS link ended (%s), which is a bug: stopping, so that the service manager restarts "
                 "the station", ended[0], exc_info=error)
    stop.set()


# -- call -------------------------------------------------------------------------------------------

def _call(args: argparse.Namespace) -> int:
    from .client import StationClient

    text = sys.stdin.read() if args.payload == "-" else args.payload
    try:
        payload = exact_json.loads(text)
    except ValueError as error:
        print(f"ocpp-station call: the payload is not valid JSON: {error}", file=sys.stderr)
        return EXIT_USAGE
    try:
        client = StationClient(args.mqtt_url, ca_file=args.ca_file, request_topic=args.request_topic or "cs/josev",
                               response_topic=args.response_topic or "josev/cs", protocol=args.protocol)
    except ValueError as error:
        print(f"ocpp-station call: {error}", file=sys.stderr)
        return EXIT_USAGE

    async def round_trip() -> dict[str, Any]:
        async with client:
            return await client.call_raw(args.action, payload, ocpp_version=args.ocpp_version, timeout=args.timeout)

    try:
        answer = asyncio.run(round_trip())
    except TimeoutError:
        where = f" on {client.reply_topic!r}" if client.reply_topic else ""
        print(f"ocpp-station call: no answer within {args.timeout:g} s{where} from a station on "
              f"{client.address.redacted()} (is the station running, and does the broker's ACL let it "
              f"write there and you read it?)", file=sys.stderr)
        return EXIT_UNREACHABLE
    except ConnectionError as error:  # StationUnreachable: the broker is not there
        print(f"ocpp-station call: {error}", file=sys.stderr)  # it names the broker (redacted) and why
        return EXIT_UNREACHABLE
    print(exact_json.dumps(answer, indent=True).decode())
    data = answer.get("data") if isinstance(answer, dict) else None
    return EXIT_OK if isinstance(data, dict) and data.get("message_type") == "CallResult" else EXIT_CALL_ERROR


if __name__ == "__main__":
    sys.exit(main())

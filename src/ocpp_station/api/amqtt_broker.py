"""The fallback embedded broker where mosquitto cannot be had: amqtt, in the station's process.

It speaks MQTT 3.1.1 only (it refuses MQTT 5 clients), keeps sessions in memory only (they end with
the station), and has open reports of memory growth from sessions that never come back: for trying
things out where nothing else can be installed, and it says so loudly.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import traceback
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from ..config import ConfigError

log = logging.getLogger(__name__)


@asynccontextmanager
async def embedded_broker(host: str, port: int, why: str = "as asked") -> AsyncIterator[str]:
    """Run an anonymous MQTT 3.1.1 broker (amqtt) in this process on host:port; yields its URL."""
    from amqtt.broker import Broker, BrokerError  # imported here: only this mode needs it

    quiet = _QuietAmqtt()
    quiet.install(asyncio.get_running_loop())
    try:
        broker = Broker({
            "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        })
        try:
            await broker.start()
        except BrokerError as error:
            raise ConfigError(f"cannot start the embedded amqtt broker on {host}:{port}: {error}") from None
        url = f"mqtt://{host}:{port}"
        log.warning("embedded MQTT broker listening on %s: amqtt in this process, %s. It is MQTT 3.1.1 only "
                    "(MQTT 5 clients such as mosquitto_rr are refused), has no authentication, and its "
                    "sessions and queued requests end with the station: for trying things out only, never "
                    "for production. Install mosquitto (make mosquitto, or apt-get install mosquitto "
                    "mosquitto-clients) and the station runs a private mosquitto instead", url, why)
        try:
            yield url
        finally:
            await broker.shutdown()
    finally:
        quiet.uninstall()


_AMQTT_LOGGERS = ("amqtt", "transitions")
# amqtt 0.12: "Invalid protocol from (client @=127.0.0.1:51793): 5"
_INVALID_PROTOCOL = re.compile(r"Invalid protocol from \(?(?:client @=)?(?P<peer>[^()]+?)\)?: (?P<level>\d+)\s*$")


class _QuietAmqtt(logging.Handler):
    """Short lines, never tracebacks, for what amqtt logs while it runs: a refused client is not our crash.

    amqtt's loggers stop propagating while it runs and hand their records to this handler, which
    passes them on to the root logger without exc_info (a refused MQTT 5 client becomes one WARNING
    line). An MQTT 5 client that hangs up as soon as it is refused makes amqtt's connection
    callback raise, which asyncio would log with a traceback: the loop's exception handler turns
    exceptions raised in amqtt's code into one line as well, and leaves every other one alone.
    """

    def __init__(self) -> None:
        super().__init__()
        self._saved: list[tuple[logging.Logger, bool, int]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._previous: Any = None

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        for name in _AMQTT_LOGGERS:
            logger = logging.getLogger(name)
            self._saved.append((logger, logger.propagate, logger.level))
            logger.setLevel(logging.WARNING)
            logger.propagate = False
            logger.addHandler(self)
        self._loop, self._previous = loop, loop.get_exception_handler()
        loop.set_exception_handler(self._loop_exception)

    def uninstall(self) -> None:
        for logger, propagate, level in self._saved:
            logger.removeHandler(self)
            logger.propagate, logger.level = propagate, level
        self._saved.clear()
        if self._loop is not None:
            self._loop.set_exception_handler(self._previous)
            self._loop = None

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("Invalid connection from"):
            return  # amqtt says why in its next line
        found = _INVALID_PROTOCOL.search(message)
        level = record.levelno
        if found:
            level = logging.WARNING
            text = (f"embedded amqtt broker refused a client from {found['peer']}: unsupported protocol version "
                    f"{found['level']} (MQTT 5 clients need mosquitto)")
        else:
            text = f"embedded amqtt broker: {message.splitlines()[0] if message else record.name}"
            if record.exc_info and record.exc_info[1] is not None:
                text += f" ({_one_line(record.exc_info[1])})"
        short = logging.makeLogRecord({**record.__dict__, "msg": text, "args": None, "levelno": level,
                                       "levelname": logging.getLevelName(level), "exc_info": None,
                                       "exc_text": None, "stack_info": None})
        logging.getLogger().handle(short)

    def _loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        error = context.get("exception")
        if isinstance(error, BaseException) and _raised_in_amqtt(error):
            log.warning("embedded amqtt broker %s", _refusal(error))
        elif self._previous is not None:
            self._previous(loop, context)
        else:
            loop.default_exception_handler(context)


def _raised_in_amqtt(error: BaseException) -> bool:
    import amqtt

    root = os.path.dirname(amqtt.__file__ or "") + os.sep
    return any(frame.f_code.co_filename.startswith(root) for frame, _ in traceback.walk_tb(error.__traceback__))


def _refusal(error: BaseException) -> str:
    """What amqtt was doing: its CONNECT check, whose locals say which protocol the client asked for."""
    for frame, _ in traceback.walk_tb(error.__traceback__):
        if frame.f_code.co_name != "init_from_connect":
            continue
        names = frame.f_locals
        peer = f" from {names['remote_address']}:{names['remote_port']}" if "remote_port" in names else ""
        level = getattr(names.get("connect"), "proto_level", None)
        if isinstance(level, int) and level != 4:
            return f"refused a client{peer}: unsupported protocol version {level} (MQTT 5 clients need mosquitto)"
        reason = names.get("error_msg")
        if isinstance(reason, str):
            return f"refused a client{peer}: {reason} (the client hung up first: {_one_line(error)})"
    return f"lost a client ({_one_line(error)})"


def _one_line(error: BaseException) -> str:
    return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}".rstrip(": ")

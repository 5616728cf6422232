"""The embedded broker of ``serve`` without a broker URL, so a newcomer can try the station at once.

Two kinds, chosen by ``--embedded-broker`` (``auto``: the first one that can be had):

* **A private mosquitto** (Debian's package, :mod:`.private_mosquitto`), run as a child process and
  configured, persisted and logged under ``<data dir>/broker``. It is the broker a charger runs,
  minus TLS, passwords and the ACL: MQTT 5 and 3.1.1 clients (``mosquitto_rr`` included), and
  sessions with their queued requests that survive restarts of the station.
* **amqtt in this process** (:mod:`.amqtt_broker`), the fallback when mosquitto is not installed.
  It speaks MQTT 3.1.1 only (it refuses MQTT 5 clients), keeps sessions in memory only (they end
  with the station), and has open reports of memory growth from sessions that never come back.

Both are for trying things out only: anonymous, on 127.0.0.1. A charger runs its own mosquitto
(``examples/mosquitto``) and the station is given ``--mqtt-url``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from ..config import ConfigError
from .amqtt_broker import embedded_broker
from .private_mosquitto import find_mosquitto, private_mosquitto

KINDS = ("auto", "mosquitto", "amqtt")


@dataclass(frozen=True)
class EmbeddedBroker:
    """What ``serve`` needs to know of the broker it started."""

    url: str
    kind: str  # "mosquitto" or "amqtt"
    mqtt5: bool  # False: the station must speak MQTT 3.1.1 to it


@asynccontextmanager
async def start_embedded_broker(kind: str, host: str, port: int, broker_dir: Path) -> AsyncIterator[EmbeddedBroker]:
    """Run the embedded broker of ``kind`` (one of :data:`KINDS`) on host:port until the block ends.

    Raises :class:`ConfigError` when the broker asked for cannot run (``mosquitto`` not installed,
    the port taken, mosquitto exiting at start): the station would otherwise serve nobody.
    """
    if kind not in KINDS:
        raise ConfigError(f"--embedded-broker must be one of {', '.join(KINDS)}, not {kind!r}")
    if not 0 < port < 65536:
        raise ConfigError(f"--embedded-port must be 1–65535, not {port}")
    binary = find_mosquitto() if kind in ("auto", "mosquitto") else None
    if kind == "mosquitto" and binary is None:
        raise ConfigError("--embedded-broker mosquitto: mosquitto is not installed (`make mosquitto`, or "
                          "apt-get install mosquitto mosquitto-clients); --embedded-broker amqtt runs "
                          "without it, MQTT 3.1.1 only")
    if binary is not None:
        async with private_mosquitto(binary, host, port, broker_dir) as url:
            yield EmbeddedBroker(url, "mosquitto", mqtt5=True)
        return
    why = "as asked (--embedded-broker amqtt)" if kind == "amqtt" else "because mosquitto is not installed"
    async with embedded_broker(host, port, why=why) as url:
        yield EmbeddedBroker(url, "amqtt", mqtt5=False)

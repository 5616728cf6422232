"""The MQTT door: subscribe to the request topic, hand each message to the station, publish the answer.

Requests are answered one at a time in arrival order (DESIGN rule 3): the answer to a request is
published before the next request is looked at, so a later SetVariables always wins over an
earlier one. The station's work is synchronous and short (a schema check, a dictionary lookup, at
most one SQLite commit), so it runs on the event loop itself.

When the broker goes away the door reconnects with a capped, jittered exponential backoff, and
says so in the log; it gives up only when it is told to stop.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time

import aiomqtt

from ..app import Station
from ..config import MqttConfig
from .connection import BrokerAddress, make_client

log = logging.getLogger(__name__)

BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0


async def serve(station: Station, settings: MqttConfig, address: BrokerAddress,
                ready: asyncio.Event | None = None) -> None:
    """Serve requests until cancelled, reconnecting as often as needed."""
    delay = BACKOFF_FIRST_S
    while True:
        client = make_client(address, client_id=settings.client_id, protocol=settings.protocol,
                             ca_file=settings.ca_file)
        try:
            async with client:
                await client.subscribe(settings.request_topic, qos=1)
                log.info("connected to %s as %r: requests on %r, answers on %r", address.redacted(),
                         settings.client_id, settings.request_topic, settings.response_topic)
                delay = BACKOFF_FIRST_S
                if ready is not None:
                    ready.set()
                async for message in client.messages:
                    await _answer(station, client, settings, message)
        except aiomqtt.MqttError as error:
            log.warning("MQTT link to %s lost or refused (%s); retrying in %.1f s",
                        address.redacted(), error, delay)
        await asyncio.sleep(delay * random.uniform(0.8, 1.2))
        delay = min(delay * 2, BACKOFF_MAX_S)


async def _answer(station: Station, client: aiomqtt.Client, settings: MqttConfig,
                  message: aiomqtt.Message) -> None:
    started = time.perf_counter()
    raw = bytes(message.payload) if isinstance(message.payload, bytes | bytearray) else b""
    answer = station.handle(raw)
    if answer.body is None:
        return
    await client.publish(settings.response_topic, answer.body, qos=1)
    log.info("answered %s: %s (%.1f ms)", answer.request_id, answer.outcome,
             (time.perf_counter() - started) * 1000)

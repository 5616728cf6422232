"""The MQTT door: take requests from the broker, hand them to the station, publish the answers.

What it guarantees, and how:

* **No lost request.** The station keeps a persistent session under a fixed client id
  (MQTT 5: clean start off and a session expiry; 3.1.1: clean session off) and subscribes at
  QoS 1, so requests published while it is down or reconnecting wait at the broker.
* **No request run twice, none dropped after receipt.** Requests are acknowledged by hand, and
  only once their answer has reached the broker (its PUBACK came back). If the station dies in
  between, the broker delivers the request again; the station recognises the id and sends the
  stored answer without executing anything (see :mod:`ocpp_station.station.answers`).
* **Order.** Requests are executed one at a time in arrival order, so the later write wins;
  answers are published in the same order.
* **Bounded memory under a flood.** Unacknowledged requests are limited by the MQTT 5 Receive
  Maximum we announce (3.1.1: by the broker's ``max_inflight_messages``), and outstanding
  answers by :data:`MAX_UNACKED_ANSWERS`: a flood waits at the broker, not in our memory.
* **Expiry.** A request whose MQTT 5 Message Expiry Interval ran out before we could run it
  is not executed; it is answered with a CallError (GenericError) that says so, because a
  requester that is still listening deserves to know, and one that is not loses nothing.
* **Broker outages.** Reconnect with capped exponential backoff and jitter, logging when the link
  goes and comes back. A broker that refuses our credentials is retried the same way (an
  operator may fix the password file while we wait), with an ERROR line each time.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import Any

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ..app import Station
from ..config import MqttConfig
from ..rpc.dispatch import Answer
from ..rpc.envelope import call_error, encode
from ..rpc.errors import ErrorCode, OcppError
from .connection import BrokerAddress, make_client

log = logging.getLogger(__name__)

BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0
MAX_UNACKED_ANSWERS = 256


class _ArrivalQueue(asyncio.Queue):  # type: ignore[type-arg]
    """aiomqtt's incoming queue, stamping each message with the time it reached this process."""

    def _put(self, item: Any) -> None:
        item.received_at = time.monotonic()
        super()._put(item)


def _connect_options(settings: MqttConfig) -> dict[str, Any]:
    if settings.protocol == "3.1.1":
        return {"clean_session": False}
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = settings.session_expiry_s
    properties.ReceiveMaximum = settings.receive_maximum
    return {"clean_start": False, "properties": properties}


class MqttDoor:
    """One station behind one broker connection (re-made as often as needed)."""

    def __init__(self, station: Station, settings: MqttConfig, address: BrokerAddress):
        self._station = station
        self._settings = settings
        self._address = address
        self._answers = asyncio.Semaphore(MAX_UNACKED_ANSWERS)
        self._pending: set[asyncio.Task[None]] = set()

    async def serve(self, ready: asyncio.Event | None = None) -> None:
        """Serve requests until cancelled, reconnecting as often as needed."""
        delay = BACKOFF_FIRST_S
        while True:
            try:
                await self._session(ready)
            except aiomqtt.MqttCodeError as error:
                refused = getattr(error, "rc", None) in (4, 5, 134, 135)  # bad credentials / not authorised
                (log.error if refused else log.warning)(
                    "MQTT link to %s %s (%s); retrying in %.1f s", self._address.redacted(),
                    "refused: check the username and password" if refused else "lost or refused", error, delay)
            except aiomqtt.MqttError as error:
                log.warning("MQTT link to %s lost or refused (%s); retrying in %.1f s",
                            self._address.redacted(), error, delay)
            except OSError as error:  # ssl.SSLError included: a certificate the broker or we refuse
                log.error("cannot talk to %s (%s); retrying in %.1f s", self._address.redacted(), error, delay)
            else:
                delay = BACKOFF_FIRST_S
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, BACKOFF_MAX_S)

    async def _session(self, ready: asyncio.Event | None) -> None:
        settings = self._settings
        client = make_client(self._address, client_id=settings.client_id, protocol=settings.protocol,
                             ca_file=settings.ca_file, client_cert=settings.client_cert,
                             client_key=settings.client_key, queue_type=_ArrivalQueue,
                             **_connect_options(settings))
        client._client.manual_ack_set(True)  # aiomqtt 2.x does not wrap paho's manual acknowledgement
        async with client:
            # Subscribing again is harmless when the broker kept our session, and needed when it did not.
            await client.subscribe(settings.request_topic, qos=1)
            log.info("connected to %s as %r: requests on %r, answers on %r", self._address.redacted(),
                     settings.client_id, settings.request_topic, settings.response_topic)
            if ready is not None:
                ready.set()
            try:
                async for message in client.messages:
                    await self._answer(client, message)
            finally:
                for task in self._pending:
                    task.cancel()

    async def _answer(self, client: aiomqtt.Client, message: aiomqtt.Message) -> None:
        started = time.perf_counter()
        raw = bytes(message.payload) if isinstance(message.payload, bytes | bytearray) else b""
        answer = self._expired(message, raw) or self._station.handle(raw)
        await self._answers.acquire()
        task = asyncio.create_task(self._publish_then_ack(client, message, answer.body))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        await asyncio.sleep(0)  # let the task hand the answer to paho now, in arrival order
        if answer.body is not None:
            log.info("answered %s: %s (%.1f ms)", answer.request_id, answer.outcome,
                     (time.perf_counter() - started) * 1000)

    async def _publish_then_ack(self, client: aiomqtt.Client, message: aiomqtt.Message, body: bytes | None) -> None:
        try:
            if body is not None:
                await client.publish(self._settings.response_topic, body, qos=1)
            if message.qos > 0:
                client._client.ack(message.mid, message.qos)  # only now may the broker forget the request
        except aiomqtt.MqttError as error:
            log.warning("answer not delivered (%s); the broker will deliver the request again", error)
        finally:
            self._answers.release()

    def _expired(self, message: aiomqtt.Message, raw: bytes) -> Answer | None:
        """A CallError answer when the request outlived its Message Expiry Interval, else None."""
        remaining = getattr(message.properties, "MessageExpiryInterval", None)
        if remaining is None:
            return None
        waited = time.monotonic() - getattr(message, "received_at", time.monotonic())
        if waited <= remaining:
            return None
        parsed = self._station.dispatcher.parse(raw)
        if isinstance(parsed, Answer):
            return parsed
        log.warning("%s expired %.1f s before it could run (MQTT Message Expiry Interval); not executed",
                    parsed.id, waited - remaining)
        error = OcppError(ErrorCode.GENERIC_ERROR, "the request expired (MQTT Message Expiry Interval) before "
                                                   "the station could run it; it was not executed")
        return Answer(encode(call_error(parsed.id, parsed.ocpp_version, error)), parsed.id, "expired")


async def serve(station: Station, settings: MqttConfig, address: BrokerAddress,
                ready: asyncio.Event | None = None) -> None:
    await MqttDoor(station, settings, address).serve(ready)

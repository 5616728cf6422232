"""A back office's side of many stations: one connection to a central broker, stations by identity.

Each station's local broker bridges its topics to the central broker under its own prefix
(``examples/bridge``), or the station publishes there itself with ``mqtt.topic_prefix``:

======================================  ==============================================
``stations/<identity>/cs/josev``         requests to the station
``stations/<identity>/josev/cs``         its answers (and its own requests)
``stations/<identity>/josev/status``     its presence, retained (:mod:`ocpp_station.presence`)
``stations/<identity>/bridge``           the bridge's notification: ``1`` up, ``0`` down
======================================  ==============================================

:class:`FleetClient` keeps one MQTT connection and hands out a :class:`FleetStation` per identity,
which speaks every typed helper of :class:`ocpp_station.client.StationClient` (they share
:class:`ocpp_station.ocpp_calls.OcppCalls`). :meth:`FleetClient.run` does one piece of work on many
stations at once, with a concurrency limit and a deadline per station, and yields one
:class:`Outcome` per station as each finishes.

Why it is built so:

* **Answers by topic and id, not by MQTT 5 Response Topic.** A bridge maps topics but not the
  Response Topic inside a request (and a 3.1.1 bridge, or RabbitMQ, carries no properties at all),
  so a station's answer comes back on its own answer topic. The client subscribes to the answer
  topics of the stations it addresses, no wildcard over the fleet (whose ``josev/cs`` also carries
  Josev's meter values and the like), and matches an answer by (identity, envelope id): two stations
  that answer the same id never meet.
* **A persistent session that survives the broker.** The client connects under an id of its own
  with a persistent session (3.1.1: clean session off; MQTT 5: a session expiry), and when the link
  drops it connects again under that id: what the broker queued for it meanwhile (answers, a
  restarted broker's persisted messages) comes then. A request whose PUBLISH was not acknowledged
  is published again under the same id; the station's once-only answers make a repeat harmless.
  On :meth:`close` the session is ended, so that no broker keeps it.
* **Offline is an answer, not a wait.** Before sending, :meth:`run` reads the retained presence of
  the fleet; a station that is offline (or never seen) is reported so at once, unless the operator
  asks for its request to be queued (``queue_offline``: sent at QoS 1 to wait at the broker for the
  station's bridge, reported ``queued`` if no answer came within the deadline). A station that goes
  offline while a request waits fails that request at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import functools
import logging
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

import aiomqtt

from . import exact_json
from . import presence as presence_format
from .api.connection import BrokerAddress
from .client import _connect, _mqtt_client
from .ocpp_calls import OcppCalls
from .oem_types import CallError, StationUnreachable
from .presence import Presence
from .versions import OCPP_VERSIONS

__all__ = ["FleetClient", "FleetStation", "Outcome", "Presence", "StationOffline"]

log = logging.getLogger(__name__)

T = TypeVar("T")

SETTLE_S = 0.25  # presence(): the retained statuses are in once none came for this long
# A PUBLISH or SUBSCRIBE not acknowledged within this long is sent again (on the next connection, if the
# link went): one sent into a connection that died waits for nothing. A repeat is harmless (same id).
ACK_TIMEOUT_S = 3.0
SUBSCRIBE_BATCH = 200  # answer topics per SUBSCRIBE packet
SESSION_EXPIRY_S = 3600  # MQTT 5: how long the broker keeps our session while we reconnect
RECONNECT_FIRST_S, RECONNECT_MAX_S = 0.2, 5.0
GLOB_CHARACTERS = frozenset("*?[")

# Outcome states
ANSWERED, OFFLINE, UNKNOWN, TIMEOUT, ERROR, QUEUED = "answered", "offline", "unknown", "timeout", "error", "queued"


class StationOffline(ConnectionError):
    """The station is offline (its presence says so), so its request was not waited for."""


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """What became of one station's work in :meth:`FleetClient.run`.

    ``state``: ``answered`` (``value`` is what the work returned), ``offline`` or ``unknown`` (never
    seen: no presence under the prefix) — nothing was sent —, ``timeout`` (no answer within the
    deadline), ``queued`` (sent to an offline station at the operator's request: waiting at the
    broker), ``error`` (a CallError, or the broker link lost; ``error`` says which).
    """

    identity: str
    state: str
    value: T | None = None
    error: str | None = None
    call_error: CallError | None = None

    @property
    def answered(self) -> bool:
        return self.state == ANSWERED


class FleetStation(OcppCalls):
    """One station of the fleet, addressed through the central broker (from :meth:`FleetClient.station`)."""

    def __init__(self, fleet: FleetClient, identity: str):
        self.fleet = fleet
        self.identity = identity

    async def call_raw(self, action: str, payload: Mapping[str, Any], *, ocpp_version: str = "ocpp2.0.1",
                       timeout: float = 10.0, message_id: str | None = None) -> dict[str, Any]:
        return await self.fleet._call(self.identity, action, payload, ocpp_version=ocpp_version, timeout=timeout,
                                      message_id=message_id)


async def _subscribe(topics: list[tuple[str, int]], client: aiomqtt.Client) -> None:
    await client.subscribe(topics, timeout=ACK_TIMEOUT_S)


def identity_problem(identity: str) -> str | None:
    """Why ``identity`` cannot be one level of a topic (an MQTT wildcard, a level separator), if it cannot."""
    if not identity:
        return "an identity cannot be empty"
    if any(character in identity for character in "/+#\x00"):
        return f"identity {identity!r} cannot be one topic level (it holds '/', '+', '#' or NUL)"
    return None


class FleetClient:
    """One MQTT connection to the central broker of a fleet; use it as an async context manager.

    ``prefix`` is what comes before each station's identity (``stations/``); ``request_topic``,
    ``response_topic``, ``status_topic`` and ``bridge_topic`` what comes after it. ``protocol``:
    ``"5"``, ``"3.1.1"`` or None (MQTT 5, else 3.1.1 when the broker refuses it, as RabbitMQ does).
    ``client_id`` names the session (a new one each time unless given).
    """

    def __init__(self, url: str, *, prefix: str = "stations/", request_topic: str = "cs/josev",
                 response_topic: str = "josev/cs", status_topic: str = "josev/status", bridge_topic: str = "bridge",
                 ca_file: str | None = None, client_cert: str | None = None, client_key: str | None = None,
                 protocol: str | None = None, connect_timeout: float = 10.0, client_id: str | None = None):
        if protocol not in (None, "5", "3.1.1"):
            raise ValueError(f"protocol must be '5', '3.1.1' or None (got {protocol!r})")
        if any(character in prefix for character in "+#"):
            raise ValueError(f"prefix {prefix!r} cannot hold the wildcards + or #")
        self.address = BrokerAddress.parse(url)
        self.prefix = prefix
        self._suffixes = {"/" + response_topic: "answer", "/" + status_topic: "status", "/" + bridge_topic: "bridge"}
        self._request_topic, self._response_topic = request_topic, response_topic
        self._status_topic, self._bridge_topic = status_topic, bridge_topic
        self._tls = {"ca_file": ca_file, "client_cert": client_cert, "client_key": client_key}
        self._wanted_protocol = protocol
        self._connect_timeout = connect_timeout
        self.client_id = client_id or f"fleet-{secrets.token_hex(6)}"
        self.protocol: str | None = None
        """The MQTT version in use once connected: ``"5"`` or ``"3.1.1"``."""
        self._client: aiomqtt.Client | None = None
        self._up = asyncio.Event()  # connected and subscribed: publishing may go on
        self._closing = False
        self._keeper: asyncio.Task[None] | None = None
        self._pending: dict[tuple[str, str], asyncio.Future[dict[str, Any]]] = {}
        self._sent_online: set[tuple[str, str]] = set()  # of those, the requests sent while their station was online
        self._statuses: dict[str, Presence] = {}  # the stations' own word, by identity
        self._bridges: dict[str, str] = {}  # the bridges' notifications ("1", "0"), by identity
        self._last_status = 0.0  # monotonic time of the last presence message: presence() waits for quiet
        self._answer_topics: set[str] = set()  # subscribed (kept in the session, renewed on reconnection)

    # -- connection ------------------------------------------------------------------------------

    async def __aenter__(self) -> FleetClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def connect(self) -> None:
        """Connect, subscribe to the fleet's presence, and keep the link up until :meth:`close`."""
        await self._open()
        self._keeper = asyncio.create_task(self._keep(), name="fleet-client-link")

    async def _open(self) -> None:
        """One connection under our session id (the first one learns the protocol)."""
        self._client, self.protocol = await _connect(self.address, self.protocol or self._wanted_protocol,
                                                     self._new_client)
        # Presence at QoS 0: it is state, not a stream. Every subscription brings each station's latest
        # again, and at QoS 1 a broker queues at most so many for one client (mosquitto's
        # max_queued_messages, 1000 by default): a fleet larger than that would be cut short, silently.
        # Answers at QoS 1: each is the only one.
        topics = [(f"{self.prefix}+/{self._status_topic}", 0), (f"{self.prefix}+/{self._bridge_topic}", 0),
                  *((topic, 1) for topic in sorted(self._answer_topics))]
        try:
            for start in range(0, len(topics), SUBSCRIBE_BATCH):
                await self._client.subscribe(topics[start:start + SUBSCRIBE_BATCH])
        except aiomqtt.MqttError as error:
            raise StationUnreachable(f"cannot subscribe on {self.address.redacted()}: {error}") from error
        self._last_status = time.monotonic()
        self._up.set()

    def _new_client(self, protocol: str, *, persistent: bool = True) -> aiomqtt.Client:
        """A client under our session id: persistent, so answers wait at the broker while we reconnect,
        and across a restart of the broker; ``persistent=False`` ends the session, which :meth:`close` does.

        Every persistent CONNECT asks to resume (MQTT 5 Clean Start 0, as 3.1.1's Clean Session 0), the
        first one too: mosquitto 2.0 writes to its database only the sessions of clients that connected
        so, and a session begun with Clean Start 1 vanished in a broker restart with the answers it was
        owed (measured with 2.0.11; the session expiry does not matter). Our own client ids are new
        random ones, so there is nothing to resume; a ``client_id`` given by the caller resumes what its
        last run left, whose answers match no request of ours and are dropped.
        """
        extra: dict[str, Any]
        if protocol == "5":
            from paho.mqtt.packettypes import PacketTypes
            from paho.mqtt.properties import Properties

            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = SESSION_EXPIRY_S if persistent else 0
            extra = {"clean_start": not persistent, "properties": properties}
        else:
            extra = {"clean_session": not persistent}
        client = _mqtt_client(self.address, client_id=self.client_id, protocol=protocol,
                              timeout=self._connect_timeout, **self._tls, **extra)
        # aiomqtt warns beyond 10 calls waiting for their acknowledgement: here hundreds are the point.
        client.pending_calls_threshold = 1_000_000
        return client

    async def _keep(self) -> None:
        """Read messages; when the link drops, connect again (same session) until :meth:`close`."""
        delay = RECONNECT_FIRST_S
        while not self._closing:
            client = self._client
            if client is not None:
                try:
                    async for message in client.messages:
                        self._dispatch(message)
                except aiomqtt.MqttError as error:
                    if self._closing:
                        return
                    log.warning("lost the link to %s (%s); connecting again", self.address.redacted(), error)
                self._up.clear()
                with contextlib.suppress(aiomqtt.MqttError, OSError, RuntimeError):
                    await client.__aexit__(None, None, None)
                self._client = None
            try:
                await self._open()
                delay = RECONNECT_FIRST_S
                log.info("connected to %s again", self.address.redacted())
            except StationUnreachable as error:
                log.debug("%s; retrying in %.1f s", error, delay)
                await asyncio.sleep(delay)  # the back-off between attempts, not a synchronisation
                delay = min(delay * 2, RECONNECT_MAX_S)

    async def close(self) -> None:
        """Fail the calls still waiting, disconnect, and end the session at the broker."""
        self._closing = True
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._keeper
            self._keeper = None
        self._fail(lambda key: True, StationUnreachable("the fleet client was closed"))
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(aiomqtt.MqttError, OSError):
                await client.__aexit__(None, None, None)
        if self.protocol is not None:  # a clean connection under our id ends the persistent session
            with contextlib.suppress(aiomqtt.MqttError, OSError):
                async with self._new_client(self.protocol, persistent=False):
                    pass

    # -- what arrives ----------------------------------------------------------------------------

    def _where(self, topic: str) -> tuple[str, str] | None:
        """(identity, kind) of a topic under the prefix: kind is answer, status or bridge."""
        if not topic.startswith(self.prefix):
            return None
        identity, slash, rest = topic[len(self.prefix):].partition("/")
        kind = self._suffixes.get(slash + rest)
        return (identity, kind) if identity and kind else None

    def _dispatch(self, message: aiomqtt.Message) -> None:
        where = self._where(message.topic.value)
        if where is None:
            return
        identity, kind = where
        payload = message.payload if isinstance(message.payload, bytes | bytearray) else b""
        if kind == "answer":
            self._take_answer(identity, bytes(payload))
        elif kind == "status":
            self._last_status = time.monotonic()
            seen = presence_format.read(identity, bytes(payload))
            if seen is None:
                self._statuses.pop(identity, None)  # an empty retained message: forgotten
            else:
                self._statuses[identity] = seen
            self._offline_check(identity)
        elif kind == "bridge":
            self._last_status = time.monotonic()
            self._bridges[identity] = bytes(payload).decode("utf-8", "replace").strip()
            self._offline_check(identity)

    def _take_answer(self, identity: str, payload: bytes) -> None:
        try:
            answer = exact_json.loads(payload)
        except (ValueError, TypeError):
            return
        if not isinstance(answer, dict) or answer.get("name") != "ocpp_message" or answer.get("type") != "response":
            return  # josev/cs carries Josev's other messages, and the station's own requests
        request_id = answer.get("id")
        future = self._pending.get((identity, request_id)) if isinstance(request_id, str) else None
        if future is not None and not future.done():
            future.set_result(answer)

    def _offline_check(self, identity: str) -> None:
        """A station that went offline fails its waiting requests at once — those sent while it was online:
        one sent to an offline station is meant to wait at the broker for it (``queue_offline``)."""
        now = self.presence_of(identity)
        if now is not None and not now.online:
            self._fail(lambda key: key[0] == identity and key in self._sent_online,
                       StationOffline(f"{identity} is offline ({now.reason})"))

    def _fail(self, which: Callable[[tuple[str, str]], bool], error: BaseException) -> None:
        for key, future in self._pending.items():
            if which(key) and not future.done():
                future.set_exception(error)

    # -- presence --------------------------------------------------------------------------------

    def presence_of(self, identity: str) -> Presence | None:
        """What is known of ``identity``: its own status, overruled by its bridge's ``0``."""
        status, bridge = self._statuses.get(identity), self._bridges.get(identity)
        if bridge == "0":
            base = status or Presence(identity, presence_format.OFFLINE)
            return replace(base, state=presence_format.OFFLINE, reason="bridge down")
        if status is None and bridge is not None:
            return Presence(identity, presence_format.OFFLINE, reason="no status from the station (its bridge is up)")
        return status

    async def presence(self, *, settle: float = SETTLE_S, timeout: float = 10.0) -> dict[str, Presence]:
        """Every station known under the prefix, by identity, once the retained statuses are in.

        A broker sends the retained statuses right after the subscription, with no end marker: they
        are taken to be in once none came for ``settle`` seconds (at most ``timeout``).
        """
        deadline = time.monotonic() + timeout
        while True:
            await asyncio.wait_for(self._up.wait(), max(0.0, deadline - time.monotonic()))
            now, quiet_until = time.monotonic(), self._last_status + settle
            if now >= quiet_until or now >= deadline:
                break
            await asyncio.sleep(min(quiet_until, deadline) - now)  # waiting for quiet is the point
        known = {identity: self.presence_of(identity) for identity in {*self._statuses, *self._bridges}}
        return {identity: found for identity, found in sorted(known.items()) if found is not None}

    @staticmethod
    def select(patterns: Iterable[str], known: Iterable[str]) -> list[str]:
        """The identities ``patterns`` name, in order: a glob (``CS-00*``) matches known identities, a
        plain identity names itself whether it is known or not (to be reported as unknown)."""
        known_sorted = sorted(known)
        chosen: dict[str, None] = {}
        for pattern in patterns:
            if GLOB_CHARACTERS & set(pattern):
                chosen.update(dict.fromkeys(i for i in known_sorted if fnmatch.fnmatchcase(i, pattern)))
            else:
                chosen[pattern] = None
        return list(chosen)

    # -- calls -----------------------------------------------------------------------------------

    def station(self, identity: str) -> FleetStation:
        """The station ``identity`` (ValueError if it cannot be a topic level)."""
        problem = identity_problem(identity)
        if problem is not None:
            raise ValueError(problem)
        return FleetStation(self, identity)

    async def watch(self, identities: Iterable[str]) -> None:
        """Subscribe to the answer topics of ``identities`` (those not yet), a batch per SUBSCRIBE."""
        new = sorted({f"{self.prefix}{i}/{self._response_topic}" for i in identities} - self._answer_topics)
        for start in range(0, len(new), SUBSCRIBE_BATCH):
            batch = new[start:start + SUBSCRIBE_BATCH]
            await self._while_up(functools.partial(_subscribe, [(topic, 1) for topic in batch]),
                                 f"subscribing to {len(batch)} answer topics")
            self._answer_topics.update(batch)  # and renewed by every later connection

    async def _call(self, identity: str, action: str, payload: Mapping[str, Any], *, ocpp_version: str,
                    timeout: float, message_id: str | None) -> dict[str, Any]:
        if ocpp_version not in OCPP_VERSIONS:
            raise ValueError(f"ocpp_version must be one of {', '.join(OCPP_VERSIONS)} (got {ocpp_version!r})")
        if self._closing:
            raise StationUnreachable("the fleet client was closed")
        request_id = message_id or str(uuid.uuid4())
        key = (identity, request_id)
        if key in self._pending:
            raise ValueError(f"a request to {identity} with id {request_id} is already waiting for its answer")
        body = exact_json.dumps({"id": request_id, "name": "ocpp_message", "type": "request",
                                 "data": {"ocpp_version": ocpp_version, "message_name": action, "payload": payload}})
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[key] = future  # before publishing: the answer may come at once
        seen = self.presence_of(identity)
        if seen is not None and seen.online:
            self._sent_online.add(key)
        try:
            async with asyncio.timeout(timeout):
                await self.watch([identity])
                await self._publish(f"{self.prefix}{identity}/{self._request_topic}", body)
                return await future
        finally:
            self._pending.pop(key, None)
            self._sent_online.discard(key)

    async def _publish(self, topic: str, body: bytes) -> None:
        """Publish at QoS 1 until the broker acknowledges it, across reconnections (same body, same id)."""
        await self._while_up(lambda client: client.publish(topic, body, qos=1, timeout=ACK_TIMEOUT_S),
                             f"publishing to {topic}")

    async def _while_up(self, step: Callable[[aiomqtt.Client], Awaitable[Any]], what: str) -> None:
        """Do ``step`` on the connection, again on the next one if it fails (the caller's deadline bounds it)."""
        while True:
            await self._up.wait()
            client = self._client
            if client is not None:
                try:
                    await step(client)
                    return
                except aiomqtt.MqttError as error:
                    log.debug("%s failed (%s); again once connected", what, error)
            await asyncio.sleep(RECONNECT_FIRST_S)  # the keeper notices a lost link and connects again

    async def run(self, identities: Iterable[str], work: Callable[[FleetStation], Awaitable[T]], *,
                  concurrency: int = 100, timeout: float = 10.0, queue_offline: bool = False,
                  presence: Mapping[str, Presence] | None = None,
                  send_unknown: bool = False) -> AsyncIterator[Outcome[T]]:
        """Do ``work`` on each station, at most ``concurrency`` at once, and yield each :class:`Outcome`
        as it is known (offline and unknown stations first, nothing having been sent to them).

        ``timeout`` is each station's deadline, from the moment its work starts. ``presence`` is
        what :meth:`presence` returned (asked for here unless given). ``send_unknown``: a station of
        which no presence is known is sent to all the same (reported ``timeout`` if it does not
        answer) — for brokers that keep no retained presence where the client can see it (RabbitMQ
        3.x keeps retained messages per node, for exact topics only); what is known live still counts.
        """
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        chosen = list(dict.fromkeys(identities))
        for identity in chosen:
            problem = identity_problem(identity)
            if problem is not None:
                raise ValueError(problem)
        seen = dict(presence) if presence is not None else {} if send_unknown else await self.presence()
        to_send: list[str] = []
        for identity in chosen:
            found = self.presence_of(identity) or seen.get(identity)
            if (found is not None and found.online) or queue_offline or (found is None and send_unknown):
                to_send.append(identity)
            elif found is None:
                yield Outcome(identity, UNKNOWN, error="no presence under the prefix: never seen")
            else:
                yield Outcome(identity, OFFLINE, error=found.reason)
        await self.watch(to_send)
        slots = asyncio.Semaphore(concurrency)
        done: asyncio.Queue[Outcome[T]] = asyncio.Queue()

        async def one(identity: str) -> None:
            async with slots:
                now = self.presence_of(identity)
                offline_at_start = not now.online if now is not None else not send_unknown
                await done.put(await self._one(identity, work, timeout, offline_at_start))

        tasks = [asyncio.create_task(one(identity)) for identity in to_send]
        try:
            for _ in tasks:
                yield await done.get()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _one(self, identity: str, work: Callable[[FleetStation], Awaitable[T]], timeout: float,
                   offline_at_start: bool) -> Outcome[T]:
        station = FleetStation(self, identity)
        try:
            async with asyncio.timeout(timeout):
                return Outcome(identity, ANSWERED, await work(station))
        except TimeoutError:
            if offline_at_start:
                return Outcome(identity, QUEUED, error="offline: the request waits at the broker for the station")
            return Outcome(identity, TIMEOUT, error=f"no answer within {timeout:g} s")
        except StationOffline as error:
            if offline_at_start:
                return Outcome(identity, QUEUED, error="offline: the request waits at the broker for the station")
            return Outcome(identity, OFFLINE, error=str(error))
        except CallError as error:
            return Outcome(identity, ERROR, error=f"CallError {error.code}: {error.description}", call_error=error)
        except StationUnreachable as error:
            return Outcome(identity, ERROR, error=str(error))

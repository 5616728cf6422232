"""The MQTT door: take requests from the broker, hand them to the station, publish the answers.

It runs paho-mqtt's network loop in one thread of its own. Each request is handled inside paho's
message callback, on that thread: one at a time, in arrival order, with nothing queued in between.
The station's work is synchronous and short (a schema check, lookups, at most one SQLite commit),
so this is both the simplest and the fastest shape — the same as a do-nothing responder, which
is what the benchmark compares us with. (An asyncio wrapper added a task, a future and a socket
write per answer: 1.9x the floor's closed-loop latency against 1.2-1.4x now; docs/architecture.md.)

Two connections to the broker, living and dying together: one takes the requests (a persistent
session under the configured client id), the other publishes the answers (``<client id>-answers``,
a clean session: it keeps nothing worth keeping). Why two: so that the station can stop reading
requests without also stopping the broker's acknowledgements of its answers. On one connection
those acknowledgements queue behind the requests the broker pushes; not reading requests would
then mean never learning that an answer arrived — and reading them means taking them.

What it guarantees, and how:

* **No lost request.** A persistent session under a fixed client id (MQTT 5: clean start off and
  a session expiry; 3.1.1: clean session off) and a QoS 1 subscription, so requests published
  while the station is down or reconnecting wait at the broker. We subscribe again on every
  connection, which is harmless when the broker kept the session and needed when it did not.
* **No request run twice, none dropped after receipt.** Requests are acknowledged by hand, and only
  when the broker has acknowledged their answer. If the station dies in between, the broker
  delivers the request again; the station recognises its id and sends the stored answer without
  executing anything (:mod:`ocpp_station.answers`).
* **Bounded memory under a flood, whatever the broker does.** At most ``mqtt.answer_backlog``
  answers wait for the broker's acknowledgement; at that bound the station stops reading the
  request connection until one is acknowledged, so a flood waits at the broker (TCP flow control
  holds it there), not here. The Receive Maximum we announce (MQTT 5) should do that on its own,
  but mosquitto 2.0.11 pushes thousands of requests past it once the client publishes as well
  (measured: 18,024 unacknowledged answers queued in paho for a 20,000-request flood, 130 MB),
  and past 65,535 paho's packet identifiers wrap onto answers still queued.
* **MQTT 5 request/response.** A request carrying a Response Topic (and Correlation Data) gets
  its answer there too, with the same Correlation Data — in addition to ``josev/cs``; a Response
  Topic that is ``josev/cs`` itself gets the one answer there, with the Correlation Data.
* **Retained messages are not requests.** A broker sends a retained message again on every
  subscription, and we subscribe on every connection: run each time its answer has left the cache,
  a request retained by mistake would undo every later write. MQTT 5: we ask the broker not to
  send retained messages when we subscribe; 3.1.1: a message flagged retained (sent because of
  our subscription, never live) is acknowledged, logged and not run.
* **Expiry.** An MQTT 5 broker discards a request whose Message Expiry Interval ran out before it
  could deliver it; we hold no queue of our own, so a delivered request runs at once.
* **Broker outages.** Reconnect with capped exponential backoff and jitter, logging when the link
  goes and comes back. Refused credentials and refused certificates are retried the same way (an
  operator may fix them while we wait) and logged as errors: once, then every 10 minutes while
  they last (:mod:`ocpp_station.repeats`; every attempt at DEBUG).
"""

from __future__ import annotations

import contextlib
import logging
import random
import select
import socket
import ssl
import threading
import time
from typing import Any, NamedTuple

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from .. import exact_json, presence
from ..app import Station
from ..config import MqttConfig
from ..logsafe import shown
from ..repeats import RepeatedLog
from ..rpc.envelope import sniff
from ..station.datatypes import now_iso
from ..versions import OCPP_VERSIONS
from .connection import NODELAY, BrokerAddress

log = logging.getLogger(__name__)

BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0
STOP_DRAIN_S = 1.0  # a clean stop waits this long, at most, for the acknowledgements of what is in flight
READ_BURST = 32  # requests read in one turn at most, before the acknowledgements are read again
NOT_AUTHORISED = {4, 5, 134, 135}  # CONNACK: 3.1.1 bad credentials / not authorised, and the MQTT 5 codes


def _decrypted_bytes(sock: Any) -> bool:
    """Whether a TLS socket holds decrypted bytes that select() cannot see (read them without waiting)."""
    pending = getattr(sock, "pending", None)
    return pending is not None and pending() > 0


class _Published(NamedTuple):
    """An answer we published, until the broker acknowledges it (a tuple: one per answer, on the hot path)."""

    topic: str
    request_id: str | None
    request: tuple[int, int] | None = None  # (mid, qos) of the request to acknowledge then; None for a copy
    outbox_seq: int | None = None  # a message of the station's own (a report part): delivered once acknowledged


class MqttDoor:
    """One station behind one broker; :meth:`start` it, :meth:`stop` it."""

    def __init__(self, station: Station, settings: MqttConfig, address: BrokerAddress):
        self._station = station
        self._settings = settings
        self._address = address
        self._stopping = threading.Event()
        self.connected = threading.Event()
        self._backlog = settings.answer_backlog
        self._unacknowledged: dict[int, _Published] = {}  # our answers' mids, until the broker's PUBACK
        self._refusal: str | None = None  # why the broker refused the last CONNECT
        self._subscription: int | None = None  # mid of the SUBSCRIBE whose SUBACK makes us ready
        self._answers_ready = False  # the answer connection's CONNACK came
        self._subscribed = False  # the request connection's SUBACK came
        self._lost: str | None = None  # why one of the two connections ended: both go
        self._repeats = RepeatedLog(log)  # a broker that stays away: said once, then every 10 min
        self._held_back = 0  # steps in which the backlog kept us from reading requests (for the log)
        self._outbox_waiting = True  # the outbox may hold messages for the OEM (at start: from before)
        self._outbox_in_flight: int | None = None  # the outbox row published and not yet acknowledged
        self._wake_r, self._wake_w = socket.socketpair()  # stop() wakes the network thread with a byte
        self._wake_r.setblocking(False)
        self._tls = address.tls_context(ca_file=settings.ca_file, client_cert=settings.client_cert,
                                        client_key=settings.client_key)
        self._thread = threading.Thread(target=self._run, name="mqtt-door", daemon=True)
        station.on_outgoing(self._outgoing_added)
        self._identity = station.config.station.identity
        self._status_topic = settings.status_topic or None  # presence; None: none, and no will
        self._status_due = False  # the online message is to be published (again)
        self._since: str | None = None  # when this link came up (the online message says it)
        station.on_csms_link(self._csms_link_changed)
        self._requests = self._make_requests_client()
        self._answers = self._make_answers_client()

    def _make_client(self, client_id: str, *, persistent: bool, inflight: int = 20) -> mqtt.Client:
        v5 = self._settings.protocol == "5"
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                             protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
                             clean_session=None if v5 else not persistent, manual_ack=True)
        if self._tls is not None:
            client.tls_set_context(self._tls)  # verifies the broker's certificate and name
        if self._address.username is not None:
            client.username_pw_set(self._address.username, self._address.password)
        client.on_socket_open = lambda _c, _u, sock: sock.setsockopt(*NODELAY[0])  # type: ignore[attr-defined]
        client.enable_logger(logging.getLogger("ocpp_station.api.paho"))  # socket and TLS errors, in paho's words
        client.on_disconnect = self._on_disconnect
        client.max_inflight_messages_set(inflight)
        properties = None
        if v5:
            properties = Properties(PacketTypes.CONNECT)
            if persistent:
                properties.SessionExpiryInterval = self._settings.session_expiry_s
                properties.ReceiveMaximum = self._settings.receive_maximum
        client.connect_async(self._address.host, self._address.port, keepalive=60,
                             clean_start=not persistent, properties=properties)
        return client

    def _make_requests_client(self) -> mqtt.Client:
        client = self._make_client(self._settings.client_id, persistent=True)
        client.on_connect = self._on_requests_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        return client

    def _make_answers_client(self) -> mqtt.Client:
        """A new client per connection: answers still queued in paho from a lost connection are not resent.

        Their requests were not acknowledged, so the broker delivers them again and each gets its
        answer again from the answer cache; resending the old ones as well would answer twice.
        """
        # inflight 0: unlimited in paho, whose default of 20 would queue answers; answer_backlog bounds them
        client = self._make_client(f"{self._settings.client_id}-answers", persistent=False, inflight=0)
        if self._status_topic is not None:  # the broker says it for us when we vanish without a word
            client.will_set(self._status_topic, presence.offline(self._identity, presence.LOST), qos=1, retain=True)
        client.on_connect = self._on_answers_connect
        client.on_publish = self._on_publish
        return client

    # -- lifecycle (any thread) ---------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Disconnect politely and wait for the network thread (at most ``timeout`` seconds)."""
        self._stopping.set()
        self._wake_w.send(b"x")
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("the MQTT link did not close within %.0f s; leaving without it", timeout)

    # -- the network thread -------------------------------------------------------------------

    def _run(self) -> None:
        delay = BACKOFF_FIRST_S
        while not self._stopping.is_set():
            rc: int = mqtt.MQTT_ERR_SUCCESS
            accepted = False
            try:
                self._refusal, self._lost = None, None
                self._answers_ready = self._subscribed = False
                self._unacknowledged.clear()  # acknowledgements belong to the connection they were owed on
                self._outbox_in_flight, self._outbox_waiting = None, True  # unacknowledged: it goes again
                self._answers = self._make_answers_client()
                # The answer connection first: the broker may deliver the requests it kept for our
                # session as soon as the request connection is up, and each needs a way out.
                self._answers.reconnect()
                while rc == mqtt.MQTT_ERR_SUCCESS and not self._answers_ready and self._running():
                    rc = self._step(0.5)
                if rc == mqtt.MQTT_ERR_SUCCESS and self._running():
                    self._requests.reconnect()
                while rc == mqtt.MQTT_ERR_SUCCESS and self._running():
                    rc = self._step(0.5)
                    if self.connected.is_set():
                        accepted, delay = True, BACKOFF_FIRST_S
                if rc == mqtt.MQTT_ERR_SUCCESS and self._stopping.is_set() and self.connected.is_set():
                    self._drain()
                if not accepted and not self._stopping.is_set():
                    why = self._refusal or self._closed_early(rc)
                    self._repeats.log(logging.ERROR, why, "MQTT link to %s %s; retrying in %.1f s",
                                      self._address.redacted(), why, delay)
            except OSError as error:  # ssl.SSLError included: a certificate one side refuses
                why = f"{error}{self._client_certificate_hint(error)}"
                self._repeats.log(logging.ERROR, why, "cannot talk to %s (%s); retrying in %.1f s",
                                  self._address.redacted(), why, delay)
            finally:
                self._close_both()
            if self._stopping.is_set():
                break
            self._stopping.wait(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, BACKOFF_MAX_S)

    def _drain(self) -> None:
        """On a clean stop, wait (at most STOP_DRAIN_S) for the broker to acknowledge what is in flight.

        An answer or outbox message the broker has but whose PUBACK we never read stays owed: its
        request is delivered again, its outbox row sent again, at the next start. Reading the
        acknowledgements already on their way settles them now; no new request is read meanwhile.
        """
        deadline = time.monotonic() + STOP_DRAIN_S
        while self._unacknowledged and self._lost is None and time.monotonic() < deadline:
            if self._step(0.05) != mqtt.MQTT_ERR_SUCCESS:
                return

    def _running(self) -> bool:
        return not self._stopping.is_set() and self._lost is None

    def _step(self, timeout: float) -> int:
        """One turn of both connections: wait up to ``timeout`` for the sockets, then read, write, keep alive.

        Requests are read one packet per turn, and only while fewer than ``answer_backlog`` answers
        wait for the broker: then the request socket is simply left unread, and the broker's
        writes to it stall (TCP flow control) with the requests still its own. The answer socket
        is always read — it brings the acknowledgements that make room — and read first.
        """
        taking = len(self._unacknowledged) < self._backlog and not self._stopping.is_set()
        if taking:
            self._held_back = 0
        elif self._held_back == 0:
            self._held_back = 1
            log.debug("%d answers wait for the broker: reading no request until one is acknowledged",
                      len(self._unacknowledged))
        links = [(client, sock) for client in (self._answers, self._requests)
                 if (sock := client.socket()) is not None]
        if not links:
            return mqtt.MQTT_ERR_NO_CONN
        reading: list[Any] = [self._wake_r]
        reading += [sock for client, sock in links if taking or client is self._answers]
        writing = [sock for client, sock in links if client.want_write()]
        buffered = {sock for sock in reading[1:] if _decrypted_bytes(sock)}
        try:
            readable, writable, _ = select.select(reading, writing, [], 0.0 if buffered else timeout)
        except (OSError, ValueError):  # a socket closed under us: the connection is gone
            return mqtt.MQTT_ERR_CONN_LOST
        if self._wake_r in readable:
            with contextlib.suppress(BlockingIOError):
                self._wake_r.recv(64)
        for client, sock in links:
            if sock in readable or sock in buffered:
                rc = self._read(client, sock)
                if rc != mqtt.MQTT_ERR_SUCCESS or self._lost is not None:
                    return rc or mqtt.MQTT_ERR_CONN_LOST
            if sock in writable:
                rc = client.loop_write()
                if rc != mqtt.MQTT_ERR_SUCCESS:
                    return rc
            rc = client.loop_misc()
            if rc != mqtt.MQTT_ERR_SUCCESS:
                return rc
        self._publish_status()
        self._deliver()
        return mqtt.MQTT_ERR_SUCCESS

    def _read(self, client: mqtt.Client, sock: Any) -> int:
        """Read what ``sock`` holds: the answer client's acknowledgements, or requests while there is room.

        paho reads one request packet per call; the requests already waiting are read in the same
        turn (up to :data:`READ_BURST`), not one ``select()`` each.
        """
        rc = client.loop_read()
        if client is not self._requests:
            return rc
        for _ in range(READ_BURST):
            if rc != mqtt.MQTT_ERR_SUCCESS or self._lost is not None or len(self._unacknowledged) >= self._backlog:
                break
            if not (_decrypted_bytes(sock) or select.select([sock], [], [], 0.0)[0]):
                break
            rc = client.loop_read()
        return rc

    def _close_both(self) -> None:
        """End both connections (politely where they still work): one without the other is of no use.

        A polite DISCONNECT cancels the Last Will, so the answer connection first says *offline*
        itself (a PUBLISH before the DISCONNECT on the same connection: the broker has it first).
        """
        self.connected.clear()
        self._lost = self._lost or "closing"  # what the DISCONNECTs below report is not news
        if self._status_topic is not None and self._answers_ready and self._answers.socket() is not None:
            reason = presence.STOPPED if self._stopping.is_set() else presence.RECONNECTING
            self._answers.publish(self._status_topic, presence.offline(self._identity, reason, now_iso()),
                                  qos=1, retain=True)
        for client in (self._requests, self._answers):
            if client.socket() is None:
                continue
            client.disconnect()  # a DISCONNECT keeps the request session (its expiry is the CONNECT's)
            for _ in range(10):  # flush it; paho closes the socket once it is written
                if client.socket() is None or not client.want_write() or client.loop_write():
                    break

    def _closed_early(self, rc: int) -> str:
        """Why a link may have closed before the CONNACK, in the operator's terms.

        A broker that requires a client certificate (mosquitto's ``require_certificate``) cannot say
        so during a TLS 1.3 handshake: the client finishes first and sends CONNECT, and the broker's
        "certificate required" alert reaches us on the next read, or is lost when the broker resets
        the connection first (paho then reports only an EOF). Either way, when no certificate is
        configured, that is the likely cause, and the operator should read it here.
        """
        return f"closed before the broker accepted it ({mqtt.error_string(rc)}){self._client_certificate_hint()}"

    def _client_certificate_hint(self, error: OSError | None = None) -> str:
        """The hint for a TLS link without a client certificate that the broker ended.

        Not for failures that have another cause: our refusal of the broker's certificate, a broker
        that is not listening, a name that does not resolve, a timeout. (Sending CONNECT into a
        connection the broker has just closed can fail too, as a reset or a broken pipe.)
        """
        if self._address.scheme != "mqtts" or self._settings.client_cert is not None:
            return ""
        if isinstance(error, ssl.SSLCertVerificationError | ConnectionRefusedError | socket.gaierror | TimeoutError):
            return ""
        return ("; no client certificate is configured: if the broker requires one (mutual TLS), "
                "set mqtt.client_cert and mqtt.client_key (--client-cert/--client-key)")

    def _refused(self, reason: Any) -> bool:
        if not reason.is_failure:
            return False
        refused = getattr(reason, "value", None) in NOT_AUTHORISED
        self._refusal = f"refused{': check the username and password' if refused else ''} ({reason})"
        return True

    def _on_requests_connect(self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if self._refused(reason):
            return
        if self._settings.protocol == "5":  # MQTT 5 §3.8.3.1: Retain Handling 2, no retained messages
            options = SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_DO_NOT_SEND)
            _, self._subscription = client.subscribe(self._settings.request_topic, options=options)
        else:
            _, self._subscription = client.subscribe(self._settings.request_topic, qos=1)

    def _on_answers_connect(self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if not self._refused(reason):
            self._answers_ready = True
            self._maybe_ready()

    def _on_subscribe(self, _client: mqtt.Client, _userdata: Any, mid: int, reasons: list[Any], _props: Any) -> None:
        """Ready only now: before the SUBACK, a request published by a new session could miss us."""
        if mid != self._subscription:
            return
        if any(reason.is_failure for reason in reasons):
            log.error("the broker refused the subscription to %r (%s): check its ACL",
                      self._settings.request_topic, ", ".join(str(reason) for reason in reasons))
            return
        self._subscribed = True
        self._maybe_ready()

    def _maybe_ready(self) -> None:
        if not (self._subscribed and self._answers_ready) or self.connected.is_set():
            return
        self.connected.set()
        self._since, self._status_due = now_iso(), self._status_topic is not None
        self._repeats.forget()
        log.info("connected to %s as %r: requests on %r, answers on %r (as %r)", self._address.redacted(),
                 self._settings.client_id, self._settings.request_topic, self._settings.response_topic,
                 f"{self._settings.client_id}-answers")

    def _on_disconnect(self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if self._lost is not None:
            return  # we are closing both already
        which = "answer" if client is self._answers else "request"
        self._lost = f"the {which} connection ended ({reason})"
        was_connected = self.connected.is_set()
        self.connected.clear()
        if was_connected and not self._stopping.is_set():
            log.warning("MQTT link to %s lost (%s); reconnecting", self._address.redacted(), self._lost)

    def _on_message(self, client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        if message.retain:
            # MQTT 3.1.1 §3.3.1.3: the flag is set only on what a new subscription brings, never on a live message
            request_id, _ = sniff(bytes(message.payload))
            log.warning("ignored a retained message on %r (id %s): requests must not be retained; clear it "
                        "by publishing an empty retained message there", message.topic, shown(request_id, quote=False))
            client.ack(message.mid, message.qos)
            return
        started = time.perf_counter()
        reply = self._response_topic(message)
        try:
            answer = self._station.handle(bytes(message.payload), *(reply or (None, None)))
        except Exception:  # Station.handle does not raise; if it ever did, keep the door open
            log.exception("a request could not be handled; the broker will deliver it again")
            return
        if answer.body is None:
            client.ack(message.mid, message.qos)
            return
        self._publish(answer.body, answer.request_id, reply, request=(message.mid, message.qos))
        if log.isEnabledFor(logging.INFO):
            log.info("answered %s: %s (%.1f ms)", shown(answer.request_id, quote=False), answer.outcome,
                     (time.perf_counter() - started) * 1000)

    def _response_topic(self, message: mqtt.MQTTMessage) -> tuple[str, bytes | None] | None:
        """MQTT 5 request/response: the request's Response Topic and Correlation Data, if it can take answers."""
        topic = getattr(message.properties, "ResponseTopic", None) if message.properties else None
        if not topic:
            return None
        if "+" in topic or "#" in topic or topic == self._settings.request_topic:
            log.warning("ignored Response Topic %s: wildcards or the request topic cannot take an answer",
                        shown(topic))
            return None
        return topic, getattr(message.properties, "CorrelationData", None)

    def _publish(self, body: bytes, what: str | None, reply: tuple[str, bytes | None] | None, *,
                 request: tuple[int, int] | None = None, outbox_seq: int | None = None) -> None:
        """Publish ``body`` on the answer topic, and on the request's Response Topic too (MQTT 5).

        In addition to, not instead of, the answer topic: the OcppMessage API promises every
        answer on ``josev/cs``, and an OEM's existing listener (or a logger) must not miss the
        answers to requests made by generic MQTT 5 tools. The copy on the Response Topic is
        published first, so when the broker has acknowledged the one on ``josev/cs`` (and the
        request is acknowledged, or the report part delivered), it has both. A Response Topic that
        *is* the answer topic (``mosquitto_rr -e josev/cs``) gets one message, with the Correlation
        Data.
        """
        properties: Properties | None = None
        if reply is not None:
            topic, correlation = reply
            properties = Properties(PacketTypes.PUBLISH)
            if correlation is not None:
                properties.CorrelationData = correlation
            if topic != self._settings.response_topic:
                info = self._answers.publish(topic, body, qos=1, properties=properties)
                self._unacknowledged[info.mid] = _Published(topic, what)
                properties = None
        info = self._answers.publish(self._settings.response_topic, body, qos=1, properties=properties)
        self._unacknowledged[info.mid] = _Published(self._settings.response_topic, what, request, outbox_seq)

    # -- what the station promised to send (report parts) -----------------------------------------

    def _outgoing_added(self, door: str) -> None:
        """Station.on_outgoing listener (any thread): new messages for the OEM wait in the outbox."""
        if door == "mqtt":
            self._outbox_waiting = True
            self._wake()

    def _wake(self) -> None:
        """Wake the network thread (from any thread) to look at what was marked due."""
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    # -- presence ---------------------------------------------------------------------------------

    def _csms_link_changed(self) -> None:
        """Station.on_csms_link listener (any thread): the online message is to say the new state."""
        if self._status_topic is not None:
            self._status_due = True
            self._wake()

    def _publish_status(self) -> None:
        """Publish the online message (retained, QoS 1) if it is due: on every connection, and whenever
        the CSMS link changed since the last one."""
        if not self._status_due or not self.connected.is_set() or self._status_topic is None or self._stopping.is_set():
            return
        self._status_due = False
        settings, station = self._settings, self._station
        body = presence.online(self._identity, since=self._since or now_iso(),
                               station=station.charging_station(), ocpp_versions=OCPP_VERSIONS,
                               topics={"requests": settings.request_topic, "answers": settings.response_topic},
                               csms=station.csms_link(), offered=station.config.csms.ocpp_versions)
        info = self._answers.publish(self._status_topic, body, qos=1, retain=True)
        self._unacknowledged[info.mid] = _Published(self._status_topic, None)

    def _deliver(self) -> None:
        """Publish the oldest undelivered outbox message for the OEM, one at a time, in order.

        As an ``ocpp_message`` *request* of the station's (Josev's later API versions let
        ``ocpp_message`` flow both ways), under the message id the outbox gave it, so that one sent
        again after a reconnection or a restart is recognisable; delivered (deleted) once the
        broker has acknowledged it. One at a time keeps the order whatever happens to a connection,
        and takes one place of the answer backlog: requests go on meanwhile.
        """
        if (not self._outbox_waiting or self._outbox_in_flight is not None or not self.connected.is_set()
                or len(self._unacknowledged) >= self._backlog or self._stopping.is_set()):
            return
        rows = self._station.outgoing("mqtt", 1)
        if not rows:
            self._outbox_waiting = False
            return
        row = rows[0]
        body = exact_json.dumps({"id": row.message_id, "name": "ocpp_message", "type": "request", "data": {
            "ocpp_version": row.ocpp_version, "message_name": row.action, "payload": row.payload}})
        reply = (row.reply_to, row.correlation) if row.reply_to else None
        self._publish(body, row.message_id, reply, outbox_seq=row.seq)
        self._outbox_in_flight = row.seq
        log.debug("sent %s %s to the OEM", row.action, row.message_id)

    def _on_publish(self, _client: mqtt.Client, _userdata: Any, mid: int, reason: Any, _props: Any) -> None:
        published = self._unacknowledged.pop(mid, None)
        if getattr(reason, "is_failure", False):
            # MQTT 5 only: a 3.1.1 broker drops an unauthorised PUBLISH and acknowledges it all the same
            if published is None:
                what = f"an answer sent before the link was re-established (message {mid})"
            elif published.topic == self._status_topic:
                what = f"the presence message on {shown(published.topic, 200)}"
            else:
                what = f"the answer to {shown(published.request_id, quote=False)} on {shown(published.topic, 200)}"
            log.error("the broker refused %s (%s): its ACL must let the station write there", what, reason)
        if published is not None and published.request is not None:
            self._requests.ack(*published.request)  # the broker has the answer: now it may forget the request
        if published is not None and published.outbox_seq is not None:
            # Delivered, also when refused (logged above): the broker would refuse it again, and it
            # must not hold up what comes after it.
            self._station.delivered(published.outbox_seq)
            self._outbox_in_flight, self._outbox_waiting = None, True

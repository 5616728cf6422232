"""The MQTT door: take requests from the broker, hand them to the station, publish the answers.

It runs paho-mqtt's network loop in one thread of its own. Each request is handled inside paho's
message callback, on that thread: one at a time, in arrival order, with nothing queued in between.
The station's work is synchronous and short (a schema check, lookups, at most one SQLite commit),
so this is both the simplest and the fastest shape — the same as a do-nothing responder, which
is what the benchmark compares us with. (An asyncio wrapper added a task, a future and a socket
write per answer: 1.9x the floor's closed-loop latency against 1.2-1.4x now; docs/architecture.md.)

What it guarantees, and how:

* **No lost request.** A persistent session under a fixed client id (MQTT 5: clean start off and
  a session expiry; 3.1.1: clean session off) and a QoS 1 subscription, so requests published
  while the station is down or reconnecting wait at the broker. We subscribe again on every
  connection, which is harmless when the broker kept the session and needed when it did not.
* **No request run twice, none dropped after receipt.** Requests are acknowledged by hand, and only
  when the broker has acknowledged their answer. If the station dies in between, the broker
  delivers the request again; the station recognises its id and sends the stored answer without
  executing anything (:mod:`ocpp_station.answers`).
* **Bounded memory under a flood.** Unacknowledged requests are limited by the Receive Maximum we
  announce (MQTT 5; with 3.1.1 by the broker's ``max_inflight_messages``): a flood waits at the
  broker, not here.
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

import logging
import random
import socket
import ssl
import threading
import time
from typing import Any, NamedTuple

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from ..app import Station
from ..config import MqttConfig
from ..logsafe import shown
from ..repeats import RepeatedLog
from ..rpc.envelope import sniff
from .connection import NODELAY, BrokerAddress

log = logging.getLogger(__name__)

BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0
NOT_AUTHORISED = {4, 5, 134, 135}  # CONNACK: 3.1.1 bad credentials / not authorised, and the MQTT 5 codes


class _Published(NamedTuple):
    """An answer we published, until the broker acknowledges it (a tuple: one per answer, on the hot path)."""

    topic: str
    request_id: str | None
    request: tuple[int, int] | None = None  # (mid, qos) of the request to acknowledge then; None for a copy


class MqttDoor:
    """One station behind one broker; :meth:`start` it, :meth:`stop` it."""

    def __init__(self, station: Station, settings: MqttConfig, address: BrokerAddress):
        self._station = station
        self._settings = settings
        self._address = address
        self._stopping = threading.Event()
        self.connected = threading.Event()
        self._unacknowledged: dict[int, _Published] = {}  # our answers' mids, until the broker's PUBACK
        self._refusal: str | None = None  # why the broker refused the last CONNECT
        self._subscription: int | None = None  # mid of the SUBSCRIBE whose SUBACK makes us ready
        self._repeats = RepeatedLog(log)  # a broker that stays away: said once, then every 10 min
        self._thread = threading.Thread(target=self._run, name="mqtt-door", daemon=True)
        self._client = self._make_client()

    def _make_client(self) -> mqtt.Client:
        settings, v5 = self._settings, self._settings.protocol == "5"
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=settings.client_id,
                             protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
                             clean_session=None if v5 else False, manual_ack=True)
        tls = self._address.tls_context(ca_file=settings.ca_file, client_cert=settings.client_cert,
                                        client_key=settings.client_key)
        if tls is not None:
            client.tls_set_context(tls)  # verifies the broker's certificate and name
        if self._address.username is not None:
            client.username_pw_set(self._address.username, self._address.password)
        client.on_socket_open = lambda _c, _u, sock: sock.setsockopt(*NODELAY[0])  # type: ignore[attr-defined]
        client.enable_logger(logging.getLogger("ocpp_station.api.paho"))  # socket and TLS errors, in paho's words
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        return client

    def _connect_properties(self) -> Properties | None:
        if self._settings.protocol != "5":
            return None
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = self._settings.session_expiry_s
        properties.ReceiveMaximum = self._settings.receive_maximum
        return properties

    # -- lifecycle (any thread) ---------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Disconnect politely and wait for the network thread (at most ``timeout`` seconds)."""
        self._stopping.set()
        self._client.disconnect()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("the MQTT link did not close within %.0f s; leaving without it", timeout)

    # -- the network thread -------------------------------------------------------------------

    def _run(self) -> None:
        delay = BACKOFF_FIRST_S
        self._client.connect_async(self._address.host, self._address.port, keepalive=60, clean_start=False,
                                   properties=self._connect_properties())
        while not self._stopping.is_set():
            try:
                self._client.reconnect()
                self._refusal = None
                accepted = False
                while not self._stopping.is_set():
                    rc = self._client.loop(timeout=0.5)
                    if rc != mqtt.MQTT_ERR_SUCCESS:
                        break
                    if self.connected.is_set():
                        accepted, delay = True, BACKOFF_FIRST_S
                if not accepted and not self._stopping.is_set():
                    why = self._refusal or self._closed_early(rc)
                    self._repeats.log(logging.ERROR, why, "MQTT link to %s %s; retrying in %.1f s",
                                      self._address.redacted(), why, delay)
            except OSError as error:  # ssl.SSLError included: a certificate one side refuses
                why = f"{error}{self._client_certificate_hint(error)}"
                self._repeats.log(logging.ERROR, why, "cannot talk to %s (%s); retrying in %.1f s",
                                  self._address.redacted(), why, delay)
            if self._stopping.is_set():
                break
            self._stopping.wait(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, BACKOFF_MAX_S)

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

    def _on_connect(self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            refused = getattr(reason, "value", None) in NOT_AUTHORISED
            self._refusal = f"refused{': check the username and password' if refused else ''} ({reason})"
            return
        self._unacknowledged.clear()  # acknowledgements belong to the connection they were owed on
        if self._settings.protocol == "5":  # MQTT 5 §3.8.3.1: Retain Handling 2, no retained messages
            options = SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_DO_NOT_SEND)
            _, self._subscription = client.subscribe(self._settings.request_topic, options=options)
        else:
            _, self._subscription = client.subscribe(self._settings.request_topic, qos=1)

    def _on_subscribe(self, _client: mqtt.Client, _userdata: Any, mid: int, reasons: list[Any], _props: Any) -> None:
        """Ready only now: before the SUBACK, a request published by a new session could miss us."""
        if mid != self._subscription:
            return
        if any(reason.is_failure for reason in reasons):
            log.error("the broker refused the subscription to %r (%s): check its ACL",
                      self._settings.request_topic, ", ".join(str(reason) for reason in reasons))
            return
        self.connected.set()
        self._repeats.forget()
        log.info("connected to %s as %r: requests on %r, answers on %r", self._address.redacted(),
                 self._settings.client_id, self._settings.request_topic, self._settings.response_topic)

    def _on_disconnect(self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        was_connected = self.connected.is_set()
        self.connected.clear()
        if was_connected and not self._stopping.is_set():
            log.warning("MQTT link to %s lost (%s); reconnecting", self._address.redacted(), reason)

    def _on_message(self, client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        if message.retain:
            # MQTT 3.1.1 §3.3.1.3: the flag is set only on what a new subscription brings, never on a live message
            request_id, _ = sniff(bytes(message.payload))
            log.warning("ignored a retained message on %r (id %s): requests must not be retained; clear it "
                        "by publishing an empty retained message there", message.topic, request_id)
            client.ack(message.mid, message.qos)
            return
        started = time.perf_counter()
        try:
            answer = self._station.handle(bytes(message.payload))
        except Exception:  # Station.handle does not raise; if it ever did, keep the door open
            log.exception("a request could not be handled; the broker will deliver it again")
            return
        if answer.body is None:
            client.ack(message.mid, message.qos)
            return
        properties = self._reply_to_requester(client, message, answer.body, answer.request_id)
        info = client.publish(self._settings.response_topic, answer.body, qos=1, properties=properties)
        self._unacknowledged[info.mid] = _Published(self._settings.response_topic, answer.request_id,
                                                    (message.mid, message.qos))
        if log.isEnabledFor(logging.INFO):
            log.info("answered %s: %s (%.1f ms)", answer.request_id, answer.outcome,
                     (time.perf_counter() - started) * 1000)

    def _reply_to_requester(self, client: mqtt.Client, message: mqtt.MQTTMessage, body: bytes,
                            request_id: str | None) -> Properties | None:
        """MQTT 5 request/response: also publish the answer on the request's Response Topic.

        In addition to, not instead of, the answer topic: the OcppMessage API promises every
        answer on ``josev/cs``, and an OEM's existing listener (or a logger) must not miss the
        answers to requests made by generic MQTT 5 tools. The answer on the Response Topic is
        published first, so when the broker has acknowledged the one on ``josev/cs`` (and the
        request is acknowledged), it has both.

        A Response Topic that *is* the answer topic (``mosquitto_rr -e josev/cs``) gets one answer,
        not two: returned are the properties (the Correlation Data) for the answer on ``josev/cs``
        in that case, None otherwise.
        """
        topic = getattr(message.properties, "ResponseTopic", None) if message.properties else None
        if not topic:
            return None
        if "+" in topic or "#" in topic or topic == self._settings.request_topic:
            log.warning("ignored Response Topic %s: wildcards or the request topic cannot take an answer",
                        shown(topic))
            return None
        properties = Properties(PacketTypes.PUBLISH)
        correlation = getattr(message.properties, "CorrelationData", None)
        if correlation is not None:
            properties.CorrelationData = correlation
        if topic == self._settings.response_topic:
            return properties  # one request, one answer per topic
        info = client.publish(topic, body, qos=1, properties=properties)
        self._unacknowledged[info.mid] = _Published(topic, request_id)
        return None

    def _on_publish(self, client: mqtt.Client, _userdata: Any, mid: int, reason: Any, _props: Any) -> None:
        published = self._unacknowledged.pop(mid, None)
        if getattr(reason, "is_failure", False):
            # MQTT 5 only: a 3.1.1 broker drops an unauthorised PUBLISH and acknowledges it all the same
            what = (f"the answer to {published.request_id} on {published.topic!r}" if published is not None
                    else f"an answer sent before the link was re-established (message {mid})")
            log.error("the broker refused %s (%s): its ACL must let the station write there", what, reason)
        if published is not None and published.request is not None:
            client.ack(*published.request)  # the broker has the answer: now it may forget the request

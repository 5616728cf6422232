"""The load generator: publishes requests on cs/josev and times their answers on josev/cs.

One paho client (MQTT 5, TCP_NODELAY, QoS 1) with its network loop on a background thread. A
*window* of requests in flight is kept full: window 1 is the closed loop (latency), window 32 the
throughput figure. The next request is published from the answer's callback, on paho's own thread:
handing each answer to another thread cost ~0.1–0.2 ms per round trip here, which would have
inflated the floor and flattered the service's ratio.

Every request must get exactly one answer with its id and a CallResult (checked further by the
phase's checker, if any): anything else means the bench (or the service) is broken and raises
:class:`BenchError` instead of producing a figure.
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from .floor import REQUEST_TOPIC, RESPONSE_TOPIC, nodelay

ANSWER_TIMEOUT_S = 10.0

Payload = dict[str, Any]
PayloadFactory = Callable[[int], Payload]
Checker = Callable[[Payload], None]


class BenchError(RuntimeError):
    """The bench cannot produce honest figures (a lost, duplicate or failed answer)."""


def envelope(action: str, payload: Payload, request_id: str) -> bytes:
    return orjson.dumps({"id": request_id, "name": "ocpp_message", "type": "request",
                         "data": {"ocpp_version": "ocpp2.0.1", "message_name": action, "payload": payload}})


def percentile(samples: list[float], q: float) -> float:
    """Nearest-rank percentile (no interpolation: a p99 is a latency some request really had)."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def timed_p50_ms(rounds: int, work: Callable[[int], object]) -> float:
    """p50 (ms) of ``work(i)`` for i in range(rounds), each call timed on its own."""
    samples = []
    for i in range(rounds):
        start = time.perf_counter_ns()
        work(i)
        samples.append((time.perf_counter_ns() - start) / 1e6)
    return percentile(samples, 50)


@dataclass
class PhaseResult:
    """Latencies (ms) of one phase and its rate, as the report and the JSON need them."""

    name: str
    window: int
    latencies_ms: list[float]
    elapsed_s: float

    @property
    def count(self) -> int:
        return len(self.latencies_ms)

    def summary(self) -> dict[str, float | int]:
        lat = self.latencies_ms
        return {"requests": self.count, "window": self.window, "seconds": round(self.elapsed_s, 3),
                "requests_per_s": round(self.count / self.elapsed_s, 1) if self.elapsed_s else 0.0,
                "p50_ms": round(percentile(lat, 50), 4), "p90_ms": round(percentile(lat, 90), 4),
                "p99_ms": round(percentile(lat, 99), 4), "max_ms": round(max(lat), 4),
                "mean_ms": round(statistics.fmean(lat), 4)}


@dataclass
class _Pending:
    sent_ns: int
    check: Checker | None


@dataclass
class _Phase:
    """What the callback needs to keep the window full; ``None`` between phases."""

    action: str
    make_payload: PayloadFactory
    check: Checker | None
    max_requests: int
    deadline: float
    sent: int = 0
    last_answer_ns: int = 0


@dataclass
class LoadGenerator:
    """The OEM side under load; create, :meth:`connect`, run phases, :meth:`close`."""

    port: int
    pending: dict[str, _Pending] = field(default_factory=dict)
    answered: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    _latencies: list[float] = field(default_factory=list)
    _phase: _Phase | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _first_answer: threading.Event = field(default_factory=threading.Event)
    _first_answer_at: float = 0.0
    _forgotten: set[str] = field(default_factory=set)

    def connect(self) -> None:
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-load-{uuid.uuid4().hex[:8]}",
                                   protocol=mqtt.MQTTv5)
        self._client.max_inflight_messages_set(0)  # paho's default (20) would throttle the 32-in-flight phase
        self._client.on_socket_open = nodelay
        self._client.on_message = self._on_message
        subscribed = threading.Event()
        self._client.on_subscribe = lambda *_a: subscribed.set()
        self._client.connect("127.0.0.1", self.port)
        self._client.loop_start()
        self._client.subscribe(RESPONSE_TOPIC, qos=1)
        if not subscribed.wait(5):
            raise BenchError("the load generator could not subscribe to josev/cs")

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    # -- answers (paho's thread) -----------------------------------------------------------------

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        now = time.perf_counter_ns()
        if not self._first_answer.is_set():
            self._first_answer_at = now / 1e9
            self._first_answer.set()
        try:
            self._record(orjson.loads(message.payload), now)
        except Exception as exc:  # a callback must not die silently on paho's thread
            self.errors.append(f"bad answer ({exc!r}): {message.payload[:300]!r}")
        self._send_next()

    def _record(self, answer: Payload, now: int) -> None:
        if answer.get("type") == "request":
            return  # the station's own request (a security event: its start is one), not an answer
        request_id = answer.get("id")
        with self._lock:
            entry = self.pending.pop(request_id, None)
            if entry is None and request_id in self._forgotten:
                self._forgotten.discard(request_id)  # a late answer to a launch probe: fine, once
                return
            if entry is None:
                what = "a second answer" if request_id in self.answered else "an answer to an unknown id"
                self.errors.append(f"{what}: {request_id!r}")
                return
            self.answered.add(request_id)
            self._latencies.append((now - entry.sent_ns) / 1e6)
            if self._phase is not None:
                self._phase.last_answer_ns = now
        data = answer["data"]
        if data.get("message_type") != "CallResult":
            self.errors.append(f"not a CallResult: {orjson.dumps(data)[:500]!r}")
        elif entry.check is not None:
            entry.check(data["payload"])

    def _raise_errors(self) -> None:
        if self.errors:
            raise BenchError(f"{len(self.errors)} bad answer(s); first: {self.errors[0]}")

    # -- requests --------------------------------------------------------------------------------

    def _register(self, action: str, payload: Payload, check: Checker | None) -> bytes:
        """A new request's body, already pending (its answer may arrive before publish returns)."""
        request_id = str(uuid.uuid4())
        body = envelope(action, payload, request_id)
        self.pending[request_id] = _Pending(time.perf_counter_ns(), check)
        return body

    def _publish(self, body: bytes) -> None:
        info = self._client.publish(REQUEST_TOPIC, body, qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            self.errors.append(f"publish failed: {mqtt.error_string(info.rc)}")

    def _send_next(self) -> bool:
        """Send the phase's next request if it is not over; False when there is nothing more to send."""
        with self._lock:
            phase = self._phase
            if (phase is None or phase.sent >= phase.max_requests or self.errors
                    or time.perf_counter() >= phase.deadline):
                return False
            body = self._register(phase.action, phase.make_payload(phase.sent), phase.check)
            phase.sent += 1
        self._publish(body)
        return True

    def send(self, action: str, payload: Payload, check: Checker | None = None) -> None:
        """One request outside any phase (the launch probes)."""
        with self._lock:
            body = self._register(action, payload, check)
        self._publish(body)

    def run(self, name: str, action: str, make_payload: PayloadFactory, *, window: int, max_requests: int,
            max_seconds: float, check: Checker | None = None) -> PhaseResult:
        """Keep ``window`` requests in flight until ``max_requests`` answers or ``max_seconds`` pass."""
        self._raise_errors()
        start = time.perf_counter_ns()
        phase = _Phase(action, make_payload, check, max_requests, start / 1e9 + max_seconds, last_answer_ns=start)
        with self._lock:
            self._latencies = []
            self._phase = phase
        for _ in range(window):  # each answer then sends the next one, from paho's thread
            if not self._send_next():
                break
        answers_seen, progress_at = 0, time.monotonic()
        while True:
            time.sleep(0.005)
            with self._lock:
                over = not self.pending and (phase.sent >= max_requests or bool(self.errors)
                                             or time.perf_counter() >= phase.deadline)
                seen = len(self._latencies)
            if over:
                break
            if seen != answers_seen:
                answers_seen, progress_at = seen, time.monotonic()
            elif time.monotonic() - progress_at > ANSWER_TIMEOUT_S:
                raise BenchError(f"{name}: no answer for {ANSWER_TIMEOUT_S} s; {len(self.pending)} request(s) "
                                 f"never answered, e.g. {next(iter(self.pending), None)}")
        with self._lock:
            self._phase = None
            latencies = list(self._latencies)
        self._raise_errors()
        if len(latencies) != phase.sent:
            raise BenchError(f"{name}: {phase.sent} requests sent, {len(latencies)} answered")
        return PhaseResult(name, window, latencies, (phase.last_answer_ns - start) / 1e9)

    def first_answer(self, action: str, payload: Payload, *, interval_s: float = 0.01,
                     timeout_s: float = 30.0, alive: Callable[[], bool] = lambda: True) -> float:
        """Probe until something answers; return the ``time.perf_counter()`` of that first answer.

        Probes sent before the responder subscribed are lost by MQTT's design (no session holds
        them); they are forgotten here, and only they may go unanswered in the whole run.
        """
        self._first_answer.clear()
        deadline = time.perf_counter() + timeout_s
        while not self._first_answer.wait(interval_s):
            if time.perf_counter() > deadline or not alive():
                raise BenchError(f"no answer {timeout_s} s after launch" if alive() else "the responder exited")
            self.send(action, payload)
        time.sleep(0.2)  # late answers to probes that did reach the responder
        with self._lock:
            self._forgotten.update(self.pending)
            self.pending.clear()
        self._raise_errors()
        return self._first_answer_at

    def quiet(self, seconds: float = 0.3) -> None:
        """Fail if any answer arrives while nothing is pending (a duplicate or a stray answer)."""
        time.sleep(seconds)
        self._raise_errors()

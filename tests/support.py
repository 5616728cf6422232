"""Test helpers: a real mosquitto, a real station process, and a client that checks every answer.

Every answer a test receives passes through :func:`check_response`, which validates the envelope
against :data:`OCPP_RESPONSE_SCHEMA` (the seed's OcppResponse, written here) and — for a CallResult —
the payload against the official OCA response schema of its version, both with the pure-Python
``jsonschema`` package so the check does not share code with the service under test.
:meth:`OemClient.wait_for` and :meth:`OemClient.barrier` check every answer they take off ``josev/cs``
against the envelope schema too, including the ones a test passes over. :class:`InProcessOem` offers
the same calls on a :class:`ocpp_station.app.Station` in the test's own process, for the rule tests
that need no broker.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Self

import jsonschema
import paho.mqtt.client as mqtt
import websockets
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

REQUEST_TOPIC, RESPONSE_TOPIC = "cs/josev", "josev/cs"
BARRIER_PAYLOAD = {"getVariableData": [{"component": {"name": "TxCtrlr"}, "variable": {"name": "TxStartPoint"}}]}
ERROR_CODES = {
    "ocpp1.6": {"NotImplemented", "NotSupported", "InternalError", "ProtocolError", "SecurityError",
                "FormationViolation", "PropertyConstraintViolation", "OccurenceConstraintViolation",
                "TypeConstraintViolation", "GenericError"},
    "ocpp2.x": {"FormatViolation", "GenericError", "InternalError", "MessageTypeNotSupported", "NotImplemented",
                "NotSupported", "OccurrenceConstraintViolation", "PropertyConstraintViolation", "ProtocolError",
                "RpcFrameworkError", "SecurityError", "TypeConstraintViolation"},
}
_FOLDER = {"ocpp1.6": "v16", "ocpp2.0.1": "v201", "ocpp2.1": "v21"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)  # the poll interval of a wait for the port, not a pause instead of one
    raise TimeoutError(f"nothing listens on port {port} after {timeout} s")


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Until ``condition()`` holds (polled: for what announces itself only in a file, a log); else ``what``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.02)  # the poll interval of a wait for the condition, not a pause instead of one


@cache
def official_validator(ocpp_version: str, action: str, kind: str) -> jsonschema.Validator:
    """The official ``<action><kind>`` schema of ``ocpp_version`` (shipped in the ``ocpp`` package), checked
    with the pure-Python jsonschema: no code shared with the service under test."""
    folder = resources.files("ocpp") / _FOLDER[ocpp_version] / "schemas"
    schema = json.loads((folder / f"{action}{kind}.json").read_text("utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def response_validator(ocpp_version: str, action: str) -> jsonschema.Validator:
    return official_validator(ocpp_version, action, "Response")


def request_validator(ocpp_version: str, action: str) -> jsonschema.Validator:
    """E.g. the NotifyReport parts the station sends, on either door (1.6 names a request ``<Action>.json``)."""
    return official_validator(ocpp_version, action, "" if ocpp_version == "ocpp1.6" else "Request")


# The OcppResponse envelope as the seed document defines it ("OcppMessageResponse", topic josev/cs),
# written here by hand from the seed, not taken from the service. Two deliberate readings: ``id`` is any
# string, not only a UUID (an unreadable request is answered with id "-1", a readable non-UUID id is
# echoed); ``ocpp_version`` is required in every answer, CallErrors included (issue 12: the request's
# version when it is one of the three, otherwise the station's default, ocpp2.0.1).
OCPP_VERSIONS = ("ocpp1.6", "ocpp2.0.1", "ocpp2.1")
OCPP_RESPONSE_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "$id": "urn:ocpp-station:tests:OcppResponse",
    "title": "OcppResponse (seed document: OcppMessageResponse on josev/cs)",
    "type": "object",
    "required": ["id", "name", "type", "data"],
    "properties": {
        "id": {"type": "string"},
        "name": {"const": "ocpp_message"},
        "type": {"const": "response"},
        "data": {
            "type": "object",
            "required": ["ocpp_version", "message_type"],
            "properties": {
                "ocpp_version": {"type": "string", "enum": list(OCPP_VERSIONS)},
                "message_type": {"type": "string", "enum": ["CallResult", "CallError"]},
                "payload": {"type": "object"},
                "error_code": {"type": "string"},
                "error_description": {"type": "string", "maxLength": 255},
                "error_details": {"type": "object"},
            },
            "allOf": [
                {"if": {"required": ["message_type"], "properties": {"message_type": {"const": "CallResult"}}},
                 "then": {"required": ["payload"]}},
                {"if": {"required": ["message_type"], "properties": {"message_type": {"const": "CallError"}}},
                 "then": {"required": ["error_code", "error_description", "error_details"]}},
            ],
        },
    },
}
jsonschema.Draft7Validator.check_schema(OCPP_RESPONSE_SCHEMA)
_RESPONSE_ENVELOPE = jsonschema.Draft7Validator(OCPP_RESPONSE_SCHEMA)


def check_envelope(answer: Any) -> None:
    """Fail unless ``answer`` conforms to :data:`OCPP_RESPONSE_SCHEMA` (every problem is listed)."""
    problems = sorted(_RESPONSE_ENVELOPE.iter_errors(answer), key=lambda e: list(e.absolute_path))
    if problems:
        where = "; ".join(f"/{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in problems)
        raise AssertionError(f"not a valid OcppResponse ({where}): {json.dumps(answer)[:1000]}")


# The OcppRequest envelope of the seed ("OcppMessageRequest" on cs/josev), written here by hand like the
# response's. Also the shape of the requests the station itself sends the OEM on josev/cs (the
# NotifyReport parts of a report): ``ocpp_message`` flows both ways. ``id`` is a UUID here: every
# request, the OEM's or the station's, is given a fresh one.
OCPP_REQUEST_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "$id": "urn:ocpp-station:tests:OcppRequest",
    "title": "OcppRequest (seed document: OcppMessageRequest)",
    "type": "object",
    "required": ["id", "name", "type", "data"],
    "properties": {
        "id": {"type": "string",
               "pattern": "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"},
        "name": {"const": "ocpp_message"},
        "type": {"const": "request"},
        "data": {
            "type": "object",
            "required": ["ocpp_version", "message_name", "payload"],
            "properties": {
                "ocpp_version": {"type": "string", "enum": list(OCPP_VERSIONS)},
                "message_name": {"type": "string", "minLength": 1},
                "payload": {"type": "object"},
            },
        },
    },
}
jsonschema.Draft7Validator.check_schema(OCPP_REQUEST_SCHEMA)
_REQUEST_ENVELOPE = jsonschema.Draft7Validator(OCPP_REQUEST_SCHEMA)


def check_request_envelope(request: Any) -> None:
    """Fail unless ``request`` conforms to :data:`OCPP_REQUEST_SCHEMA` (every problem is listed)."""
    problems = sorted(_REQUEST_ENVELOPE.iter_errors(request), key=lambda e: list(e.absolute_path))
    if problems:
        where = "; ".join(f"/{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in problems)
        raise AssertionError(f"not a valid OcppRequest ({where}): {json.dumps(request)[:1000]}")


def check_response(answer: dict[str, Any], action: str | None, ocpp_version: str | None) -> None:
    """Fail unless ``answer`` is a well-formed OcppResponse (and its payload conforms).

    The envelope is checked against :data:`OCPP_RESPONSE_SCHEMA` first, whatever the caller
    expects: ``ocpp_version=None`` (a CallError to an unreadable request) skips only the
    comparison with an expected version, not the requirement that the answer carries one.
    """
    check_envelope(answer)
    assert answer["name"] == "ocpp_message" and answer["type"] == "response", answer
    data = answer["data"]
    assert data["message_type"] in ("CallResult", "CallError"), data
    if ocpp_version is not None:
        assert data["ocpp_version"] == ocpp_version, data
    if data["message_type"] == "CallError":
        codes = ERROR_CODES["ocpp1.6" if data.get("ocpp_version") == "ocpp1.6" else "ocpp2.x"]
        assert data["error_code"] in codes, data
        assert isinstance(data["error_description"], str) and len(data["error_description"]) <= 255
        assert isinstance(data["error_details"], dict)
        assert "payload" not in data
    else:
        assert action is not None and ocpp_version is not None
        response_validator(ocpp_version, action).validate(data["payload"])


def pick(cases: list[Any], *ids: str) -> list[Any]:
    """The ``pytest.param`` cases of ``cases`` with these ids, in the order given (each must exist)."""
    by_id = {case.id: case for case in cases}
    return [by_id[name] for name in ids]


def variable_data(component: str, variable: str, *, attribute: str | None = None,
                  component_instance: str | None = None, evse: dict[str, int] | None = None,
                  variable_instance: str | None = None) -> dict[str, Any]:
    """One Get/SetVariableData element (without a value); optional fields are left out when None."""
    comp: dict[str, Any] = {"name": component}
    if component_instance is not None:
        comp["instance"] = component_instance
    if evse is not None:
        comp["evse"] = evse
    var: dict[str, Any] = {"name": variable}
    if variable_instance is not None:
        var["instance"] = variable_instance
    data: dict[str, Any] = {"component": comp, "variable": var}
    if attribute is not None:
        data["attributeType"] = attribute
    return data


def envelope(action: str, payload: Any, ocpp_version: str = "ocpp2.0.1", request_id: str | None = None) -> dict:
    return {"id": request_id or str(uuid.uuid4()), "name": "ocpp_message", "type": "request",
            "data": {"ocpp_version": ocpp_version, "message_name": action, "payload": payload}}


class Outcomes:
    """``result`` and ``error`` on top of a client's ``call``: the same for the broker and in process."""

    def call(self, action: str, payload: Any, ocpp_version: str = "ocpp2.0.1") -> dict[str, Any]:
        raise NotImplementedError

    def result(self, action: str, payload: Any, ocpp_version: str = "ocpp2.0.1") -> dict[str, Any]:
        """Send one request that must succeed; return the CallResult payload."""
        answer = self.call(action, payload, ocpp_version)
        assert answer["data"]["message_type"] == "CallResult", answer
        return answer["data"]["payload"]

    def error(self, action: str, payload: Any, ocpp_version: str = "ocpp2.0.1") -> dict[str, Any]:
        """Send one request that must fail; return the CallError data."""
        answer = self.call(action, payload, ocpp_version)
        assert answer["data"]["message_type"] == "CallError", answer
        return answer["data"]


def subscribed_client(port: int, topic: str, on_message: Callable[..., None], *, name: str,
                      unlimited: bool = False) -> mqtt.Client:
    """An MQTT 5 paho client on the test broker, its network loop running, subscribed to ``topic`` at QoS 1:
    returned once the SUBACK came (a message published before it could miss the client). ``unlimited``: no
    bound on its own messages in flight or queued (a flood published without waiting)."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{name}-{uuid.uuid4().hex[:8]}",
                         protocol=mqtt.MQTTv5)
    if unlimited:
        client.max_inflight_messages_set(0)
        client.max_queued_messages_set(0)
    client.on_message = on_message
    subscribed = threading.Event()
    client.on_subscribe = lambda *_: subscribed.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    client.subscribe(topic, qos=1)
    assert subscribed.wait(5), f"{name}: no SUBACK for {topic}"
    return client


class OemClient(Outcomes):
    """The OEM's side, as a test sees it: publish on cs/josev, collect answers from josev/cs."""

    def __init__(self, port: int, timeout: float = 5.0, persistent_id: str | None = None):
        """``persistent_id``: a persistent session under that client id (clean session off), so that
        the broker keeps the subscription, and the answers published while the client is away,
        across a broker restart from its snapshot; the client reconnects within 0.5 s."""
        self.timeout = timeout
        self.answers: queue.Queue[dict[str, Any]] = queue.Queue()
        # The station's own requests on josev/cs (report parts, security events, triggered messages):
        # ocpp_message flows both ways. Kept apart, each checked against the request envelope.
        self.requests: queue.Queue[dict[str, Any]] = queue.Queue()
        connected, subscribed = threading.Event(), threading.Event()
        granted: list[Any] = []
        if persistent_id is None:
            self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"oem-{uuid.uuid4().hex[:8]}")
        else:
            self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=persistent_id, clean_session=False)
            self._client.reconnect_delay_set(0.1, 0.5)
        self._client.on_message = lambda _c, _u, msg: self._take(json.loads(msg.payload))
        self._client.on_socket_open = lambda _c, _u, sock: sock.setsockopt(
            socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._client.on_connect = lambda _c, _u, _f, reason, _p: None if reason.is_failure else connected.set()
        self._client.on_subscribe = lambda _c, _u, _mid, reasons, _p: (granted.extend(reasons), subscribed.set())
        self._client.connect("127.0.0.1", port)
        self._client.loop_start()
        assert connected.wait(timeout), f"the OEM client did not connect to port {port}"
        result, _mid = self._client.subscribe(RESPONSE_TOPIC, qos=1)
        assert result == mqtt.MQTT_ERR_SUCCESS
        # The SUBACK itself (this client's only subscription), not a pause: an answer published
        # before it would not reach this client.
        assert subscribed.wait(timeout), f"no SUBACK for {RESPONSE_TOPIC} within {timeout} s"
        assert not any(reason.is_failure for reason in granted), granted

    def _take(self, message: dict[str, Any]) -> None:
        if isinstance(message, dict) and message.get("type") == "request":
            self.requests.put(message)
        else:
            self.answers.put(message)

    def station_request(self, action: str, timeout: float | None = None) -> dict[str, Any]:
        """The next request of the station's own of ``action`` on josev/cs (others are passed over),
        its envelope and its payload checked (the payload against the official request schema)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                request = self.requests.get(timeout=remaining)
            except queue.Empty:
                break
            check_request_envelope(request)
            data = request["data"]
            request_validator(data["ocpp_version"], data["message_name"]).validate(data["payload"])
            if data["message_name"] == action:
                return request
        raise TimeoutError(f"the station sent no {action} request")

    def close(self) -> None:
        # Disconnecting first lets paho's network thread end at once; loop_stop() alone waits out
        # the thread's 1 s select.
        self._client.disconnect()
        self._client.loop_stop()

    def publish(self, body: bytes | str) -> None:
        self._client.publish(REQUEST_TOPIC, body, qos=1).wait_for_publish(self.timeout)

    def publish_retained(self, body: bytes | str) -> None:
        """What a request must not be; an empty body clears the retained message."""
        self._client.publish(REQUEST_TOPIC, body, qos=1, retain=True).wait_for_publish(self.timeout)

    def wait_for(self, request_id: str, timeout: float | None = None,
                 passed_over: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """The answer to ``request_id``; answers to other ids are dropped, or collected in ``passed_over``.

        Every answer taken from the queue, returned or not, is checked against the OcppResponse schema.
        """
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no answer to {request_id}")
            try:
                answer = self.answers.get(timeout=remaining)
            except queue.Empty:
                continue
            check_envelope(answer)  # every answer taken off josev/cs, also those passed over
            if answer.get("id") == request_id:
                return answer
            if passed_over is not None:
                passed_over.append(answer)

    def call(self, action: str, payload: Any, ocpp_version: str = "ocpp2.0.1") -> dict[str, Any]:
        """Send one request; return the checked answer envelope."""
        message = envelope(action, payload, ocpp_version)
        self.publish(json.dumps(message))
        answer = self.wait_for(message["id"])
        check_response(answer, action, ocpp_version)
        return answer


    def barrier(self, timeout: float | None = None) -> list[dict[str, Any]]:
        """Every answer that arrives before the answer to a GetVariables sent now (checked, a CallResult).

        The station handles requests one at a time in arrival order and publishes each answer before
        it takes the next request, and the broker keeps that order for a subscriber: an answer to
        anything published before the barrier — a late one, a duplicate — comes before the barrier's.
        "No answer" and "exactly one answer" are proved with it, without waiting out a pause.
        """
        request = envelope("GetVariables", BARRIER_PAYLOAD)
        self.publish(json.dumps(request))
        before: list[dict[str, Any]] = []
        answer = self.wait_for(request["id"], timeout, passed_over=before)
        check_response(answer, "GetVariables", "ocpp2.0.1")
        assert answer["data"]["message_type"] == "CallResult", answer
        return before


class ThreadedServer:
    """A ``websockets`` server on 127.0.0.1:``port``, in a thread of its own with its own event loop:
    the tests' CSMSs. A subclass (a dataclass with ``port`` and the four private fields below) gives
    ``_handle`` and, if it needs them, ``serve_options`` (subprotocols, TLS, an auth hook, ``max_size``).
    """

    port: int
    _loop: asyncio.AbstractEventLoop | None
    _stop: asyncio.Event | None
    _thread: threading.Thread | None

    async def _handle(self, connection: Any) -> None:
        raise NotImplementedError

    def serve_options(self) -> dict[str, Any]:
        return {}

    def start(self) -> Self:
        """Serve; returns once the socket listens (or raises what stopped it from listening)."""
        ready: Future[None] = Future()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve(ready)), daemon=True)
        self._thread.start()
        ready.result(10)
        return self

    async def _serve(self, ready: Future[None]) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        try:
            server = await websockets.serve(self._handle, "127.0.0.1", self.port, **self.serve_options())
        except BaseException as error:
            ready.set_exception(error)
            raise
        ready.set_result(None)
        async with server:
            await self._stop.wait()

    def stop(self) -> None:
        """Stop serving (once: a test may stop its server before the fixture does)."""
        if self._thread is None:
            return
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
        self._thread = None


@dataclass
class Mosquitto:
    port: int
    workdir: Path
    process: subprocess.Popen | None = None
    extra_config: str = ""

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        path = self.workdir / "mosquitto.log"
        return path.read_text("utf-8", errors="replace") if path.exists() else ""

    def start(self) -> Mosquitto:
        conf = self.workdir / "mosquitto.conf"
        # As root, mosquitto drops to user "mosquitto", which could not write its persistence file
        # into our temporary directory: the session state would silently not survive a restart.
        user = "user root\n" if os.geteuid() == 0 else ""
        conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n"
                        f"persistence true\npersistence_location {self.workdir}/\n{user}{self.extra_config}")
        self.process = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL,
                                        stderr=open(self.workdir / "mosquitto.log", "ab"))  # noqa: SIM115
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    @property
    def persistence_file(self) -> Path:
        """Where mosquitto writes its snapshot of sessions and messages (``persistence_location``)."""
        return self.workdir / "mosquitto.db"

    def save_snapshot(self, holding: bytes, timeout: float = 10.0) -> None:
        """Have mosquitto write its snapshot now, and wait until that snapshot holds ``holding``.

        SIGUSR1 (man mosquitto, SIGNALS: "write the persistence database to disk"), the write a
        crash otherwise finds at ``autosave_interval``. mosquitto writes a new file and renames it
        over the old one, so a file holding ``holding`` (a message's bytes are stored as sent) is
        the whole new snapshot.
        """
        assert self.process is not None and self.process.poll() is None
        self.process.send_signal(signal.SIGUSR1)
        wait_until(lambda: self.persistence_file.exists() and holding in self.persistence_file.read_bytes(),
                   f"mosquitto wrote no snapshot holding {holding!r}", timeout)

    def kill(self) -> None:
        """``kill -9``: what mosquitto had not written to its snapshot is lost, the snapshot stays."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)


@dataclass
class StationProcess:
    """``ocpp-station serve`` in a child process, as it runs on a charger."""

    broker_url: str
    data_dir: Path
    extra_args: list[str] = field(default_factory=list)
    process: subprocess.Popen | None = None
    log_path: Path | None = None

    def start(self, wait: bool = True) -> StationProcess:
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}.log"
        offset = len(self.log_text())  # a restart appends to the same log: wait for the new line
        log = open(self.log_path, "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ocpp_station", "--log-level", "DEBUG", "serve", "--mqtt-url", self.broker_url,
             "--data-dir", str(self.data_dir), "--client-id", f"station-{uuid.uuid4().hex[:8]}", *self.extra_args],
            stdout=log, stderr=log, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        if wait:
            self.wait_until_logged("connected to", start_offset=offset)
        return self

    def log_text(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text("utf-8", errors="replace")

    def wait_until_logged(self, text: str, timeout: float = 15.0, start_offset: int = 0, times: int = 1) -> None:
        """Until ``text`` is in the log (after ``start_offset``) ``times`` times; polled, the log being a file."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.log_text()[start_offset:].count(text) >= times:
                return
            if self.process and self.process.poll() is not None:
                raise RuntimeError(f"station exited with {self.process.returncode}:\n{self.log_text()[-3000:]}")
            time.sleep(0.02)  # the poll interval of a wait for the line, not a pause instead of one
        raise TimeoutError(f"station did not log {text!r} {times} time(s):\n{self.log_text()[-3000:]}")

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def terminate(self) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(15)


def ca_certificate(cn: str, issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None = None,
                   *, subject: x509.Name | None = None) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A real CA certificate (P-256, 10 years), self-signed unless ``issuer`` signs it, and its key.

    Its subject is CN=``cn``, or ``subject`` when given.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = subject or x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name)
            .issuer_name(issuer[0].subject if issuer else name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .sign(issuer[1] if issuer else key, hashes.SHA256()))
    return cert, key


class InProcessOem(Outcomes):
    """:class:`OemClient`'s requests, answered by a :class:`ocpp_station.app.Station` in this process.

    The same envelope bytes the MQTT door would hand over go to :meth:`Station.handle`; every answer
    is decoded with :mod:`json` and checked with :func:`check_response`, as over the broker. For the
    tests of a rule (a data type, a status precedence, an error code), which need no broker.
    """

    def __init__(self, station: Any):
        self.station = station

    def send(self, raw: bytes | str) -> dict[str, Any] | None:
        """The decoded answer envelope to ``raw`` (checked against the OcppResponse schema), or None."""
        answer = self.station.handle(raw.encode() if isinstance(raw, str) else raw)
        if answer.body is None:
            return None
        decoded = json.loads(answer.body)
        check_envelope(decoded)
        return decoded

    def call(self, action: str, payload: Any, ocpp_version: str = "ocpp2.0.1") -> dict[str, Any]:
        """Send one request; return the checked answer envelope."""
        message = envelope(action, payload, ocpp_version)
        answer = self.send(json.dumps(message))
        assert answer is not None and answer["id"] == message["id"], answer
        check_response(answer, action, ocpp_version)
        return answer


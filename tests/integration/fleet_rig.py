"""A fleet on loopback: a central mosquitto run from ``examples/bridge/central.conf`` and, per station, a local
mosquitto bridged to it with ``examples/bridge/station-bridge.conf`` (rendered by ``examples/bridge/render.py``).

What the tests change in the examples, and nothing more: file paths and ports made local (one TLS listener on
127.0.0.1 and a free port, no other listener), logging to a file with every log type (the rig waits for the
bridges' SUBACK lines), ``user root`` when run as root (mosquitto would drop to user ``mosquitto``, which
cannot write its persistence file in a temporary directory) and, in the bridge, ``restart_timeout 1 1`` (a
constant 1 s, written as a backoff from 1 to 1 s: mosquitto 2.0.11 does not honour a single value after the
first reconnection) instead of the example's 5–60 s backoff, so that an outage test takes a second or two.
The central ACL file is the example's, used as it is. Certificates are made here with ``cryptography`` (a CA,
a server certificate for 127.0.0.1 and localhost); the password file with ``mosquitto_passwd``.

:class:`Peer` is a paho client for the tests' own ends (the back office, a station user connecting directly,
a subscriber on a local broker), with waits on CONNACK, SUBACK and PUBACK rather than pauses.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import queue
import re
import secrets
import signal
import socket
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from pathlib import Path
from types import ModuleType
from typing import Any

import paho.mqtt.client as mqtt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..support import ca_certificate, free_port, wait_for_port, wait_until

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "bridge"
FLEET_USER = "fleet"
_ROOT = "user root\n" if os.geteuid() == 0 else ""
_BRIDGED = "Received SUBACK from "  # logged by a local broker once the central accepted its bridge's subscription


# ------------------------------------------------------------------------------------------------------------
# Certificates and users
# ------------------------------------------------------------------------------------------------------------

def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def write_certificates(workdir: Path) -> Path:
    """``ca.pem``, ``server.pem`` and ``server.key`` in ``workdir`` (the server's for 127.0.0.1 and localhost);
    returns the CA's path, the stations' ``bridge_cafile``."""
    ca, ca_key = ca_certificate("Fleet test CA")
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    server = (x509.CertificateBuilder()
              .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
              .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=30))
              .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
              .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                          x509.IPAddress(IPv4Address("127.0.0.1"))]), critical=False)
              .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
              .sign(ca_key, hashes.SHA256()))
    (workdir / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (workdir / "server.pem").write_bytes(server.public_bytes(serialization.Encoding.PEM))
    (workdir / "server.key").write_bytes(_pem_key(key))
    (workdir / "server.key").chmod(0o600)
    return workdir / "ca.pem"


def new_password() -> str:
    return secrets.token_urlsafe(18)


def _render_module() -> ModuleType:
    """``examples/bridge/render.py``, imported from its file: the rig renders with the users' own script."""
    spec = importlib.util.spec_from_file_location("bridge_render", EXAMPLE / "render.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------------------------------------------------
# Brokers
# ------------------------------------------------------------------------------------------------------------

@dataclass
class _Process:
    """A mosquitto child process with its configuration and log in ``workdir``."""

    workdir: Path
    port: int
    process: subprocess.Popen | None = None

    @property
    def log_path(self) -> Path:
        return self.workdir / "mosquitto.log"

    def log_text(self) -> str:
        return self.log_path.read_text("utf-8", errors="replace") if self.log_path.exists() else ""

    def config(self) -> str:
        raise NotImplementedError

    def start(self) -> None:
        """Start on the same port and persistence directory as before (returns once the port listens)."""
        assert self.process is None or self.process.poll() is not None, "already running"
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(self.config(), "utf-8")
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=log)
        try:
            wait_for_port(self.port)
        except TimeoutError:
            raise RuntimeError(f"mosquitto did not start:\n{self.log_text()[-3000:]}") from None

    def stop(self) -> None:
        """SIGTERM: a clean stop, mosquitto writes its persistence database on the way out."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def kill(self) -> None:
        """SIGKILL: sockets closed by the kernel, nothing written (what the last autosave held stays)."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def reload(self) -> None:
        """SIGHUP: re-read the password and ACL files."""
        assert self.process is not None and self.process.poll() is None
        self.process.send_signal(signal.SIGHUP)


@dataclass
class CentralBroker(_Process):
    """The central mosquitto of ``examples/bridge/central.conf``: one TLS listener, passwords, the example ACL."""

    users: dict[str, str] = field(default_factory=dict)
    ca_file: Path = Path()

    @classmethod
    def create(cls, workdir: Path, users: dict[str, str]) -> CentralBroker:
        """Certificates and a hashed password file (``mosquitto_passwd -U`` over a plain one) for ``users``."""
        workdir.mkdir(parents=True, exist_ok=True)
        broker = cls(workdir, free_port(), users=dict(users), ca_file=write_certificates(workdir))
        passwd = workdir / "passwd"
        passwd.write_text("".join(f"{user}:{password}\n" for user, password in users.items()), "utf-8")
        subprocess.run(["mosquitto_passwd", "-U", str(passwd)], check=True, capture_output=True)
        return broker

    def add_user(self, user: str, password: str) -> None:
        """One more user (``mosquitto_passwd -b``), made known to a running broker with SIGHUP."""
        subprocess.run(["mosquitto_passwd", "-b", str(self.workdir / "passwd"), user, password], check=True,
                       capture_output=True)
        self.users[user] = password
        if self.process and self.process.poll() is None:
            self.reload()

    def reload(self) -> None:
        """SIGHUP, and wait until mosquitto logged that it reloads: it re-reads the password and ACL files in
        the same turn of its loop, so every connection handled after the log line sees the new files."""
        before = self.log_text().count("Reloading config.")
        super().reload()
        wait_until(lambda: self.log_text().count("Reloading config.") > before, "mosquitto did not reload")

    def config(self) -> str:
        example = (EXAMPLE / "central.conf").read_text("utf-8")
        assert not [line for line in example.splitlines() if re.match(r"\s*[^#\s].*\s#", line)], "end-of-line #"
        assert re.findall(r"(?m)^listener .*$", example) == ["listener 8883"], "the example has one listener"
        local = {"/etc/mosquitto/certs/": f"{self.workdir}/", "/etc/mosquitto/passwd": f"{self.workdir}/passwd",
                 "/etc/mosquitto/central.acl": str(EXAMPLE / "central.acl"),
                 "/var/lib/mosquitto/": f"{self.workdir}/",
                 "listener 8883": f"listener {self.port} 127.0.0.1",
                 "log_dest syslog": f"log_dest file {self.log_path}\nlog_type all"}
        for old, new in local.items():
            assert old in example, old
            example = example.replace(old, new)
        return example + _ROOT

    def restart(self) -> None:
        """SIGTERM, then start again on the same port with the same persistence database."""
        self.stop()
        self.start()


@dataclass
class LocalBroker(_Process):
    """A station's own mosquitto: plain listener on 127.0.0.1, anonymous, persistent, bridged to ``central``."""

    identity: str = ""
    password: str = ""
    central: CentralBroker | None = None

    def bridge_config(self) -> str:
        """``station-bridge.conf`` rendered for this station, the reconnection wait shortened for the tests."""
        assert self.central is not None
        template = (EXAMPLE / "station-bridge.conf").read_text("utf-8")
        rendered = _render_module().render(template, self.identity, self.password, "127.0.0.1", self.central.port,
                                           str(self.central.ca_file))
        rendered, count = re.subn(r"(?m)^restart_timeout .*$", "restart_timeout 1 1", rendered)
        assert count == 1, "the example sets restart_timeout once"
        return rendered

    def config(self) -> str:
        # The bridge section goes last: every line after "connection" belongs to the bridge.
        return (f"listener {self.port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n"
                f"persistence true\npersistence_location {self.workdir}/\n{_ROOT}"
                f"log_dest file {self.log_path}\nlog_type all\nconnection_messages true\n\n{self.bridge_config()}")

    def bridged_count(self) -> int:
        """How many times (over restarts) the central broker has accepted this bridge's subscription."""
        return self.log_text().count(_BRIDGED)

    def wait_bridged(self, more_than: int, timeout: float = 10.0) -> None:
        """Until the bridge has connected and subscribed more than ``more_than`` times (a SUBACK line)."""
        wait_until(lambda: self.bridged_count() > more_than,
                   f"{self.identity}: the bridge did not connect:\n{self.log_text()[-3000:]}", timeout)

    def start_bridged(self) -> None:
        """Start, and return once the bridge is up (requests published on the central broker now reach us)."""
        before = self.bridged_count()
        self.start()
        self.wait_bridged(before)


@dataclass
class Fleet:
    """A central broker, the back office's credentials, and one local broker per station identity."""

    central: CentralBroker
    stations: dict[str, LocalBroker]

    @classmethod
    def start(cls, workdir: Path, identities: list[str], extra_users: dict[str, str] | None = None) -> Fleet:
        """Everything started and every bridge up. ``extra_users``: central users without a local broker."""
        passwords = {identity: new_password() for identity in identities}
        central = CentralBroker.create(workdir / "central",
                                       {FLEET_USER: new_password(), **passwords, **(extra_users or {})})
        fleet = cls(central, {})
        try:
            central.start()
            for identity in identities:
                (workdir / identity).mkdir()
                fleet.stations[identity] = LocalBroker(workdir / identity, free_port(), identity=identity,
                                                       password=passwords[identity], central=central)
                fleet.stations[identity].start()
            for station in fleet.stations.values():
                station.wait_bridged(0)
        except BaseException:
            fleet.stop()  # no mosquitto left behind by a rig that did not come up
            raise
        return fleet

    def add_station(self, identity: str, workdir: Path) -> LocalBroker:
        """A new station user on the running central broker (reloaded) and its local broker, bridged."""
        password = new_password()
        self.central.add_user(identity, password)
        workdir.mkdir(parents=True)
        station = LocalBroker(workdir, free_port(), identity=identity, password=password, central=self.central)
        self.stations[identity] = station
        station.start_bridged()
        return station

    def stop(self) -> None:
        """SIGTERM to every broker at once, then wait for each (a clean stop takes ~0.1 s apiece)."""
        brokers: list[_Process] = [*self.stations.values(), self.central]
        for broker in brokers:
            if broker.process and broker.process.poll() is None:
                broker.process.terminate()
        for broker in brokers:
            broker.stop()

    def bridged_counts(self) -> dict[str, int]:
        return {identity: station.bridged_count() for identity, station in self.stations.items()}

    def wait_all_bridged(self, more_than: dict[str, int]) -> None:
        for identity, station in self.stations.items():
            station.wait_bridged(more_than[identity])

    def peer(self, user: str = FLEET_USER, password: str | None = None, **options: Any) -> Peer:
        """A client of the central broker over TLS as ``user`` (its password from the password file)."""
        secret = self.central.users[user] if password is None else password
        return Peer.connect(self.central.port, username=user, password=secret, ca_file=self.central.ca_file,
                            **options)


# ------------------------------------------------------------------------------------------------------------
# The tests' own MQTT ends
# ------------------------------------------------------------------------------------------------------------

class ConnectionRefused(Exception):
    """The broker answered the CONNECT with a refusal (``reason``: paho's reason code)."""

    def __init__(self, reason: Any):
        super().__init__(f"connection refused: {reason}")
        self.reason = reason


class Peer:
    """A paho client with its network loop running: messages land in :attr:`messages`; every call waits for the
    broker's acknowledgement. It reconnects by itself within half a second when its broker comes back: a
    persistent one (``client_id`` given, ``clean``=False) finds its session there, any other subscribes again
    (a broker restart must not silently end a test's subscription)."""

    def __init__(self, client: mqtt.Client):
        self.client = client
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.connects = 0
        self._connected = threading.Condition()
        self._refused: Any = None
        self._up = False
        self._topics: list[str] = []
        self._acks: dict[int, Any] = {}
        self._acked = threading.Condition()
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        # No Nagle: a QoS 1 exchange must not wait out the peer's delayed ACK (~40 ms a message).
        client.on_socket_open = lambda _c, _u, sock: sock.setsockopt(  # type: ignore[attr-defined]
            socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client.on_message = lambda _c, _u, message: self.messages.put(message)
        client.on_publish = self._on_ack
        client.on_subscribe = self._on_ack

    @classmethod
    def connect(cls, port: int, *, username: str | None = None, password: str | None = None,
                ca_file: Path | None = None, client_id: str | None = None, clean: bool = True,
                protocol: mqtt.MQTTProtocolVersion = mqtt.MQTTv311, timeout: float = 5.0) -> Peer:
        """Connected (CONNACK success) or :class:`ConnectionRefused`."""
        persistent = client_id is not None and not clean
        options: dict[str, Any] = {} if protocol == mqtt.MQTTv5 else {"clean_session": clean}
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or f"peer-{uuid.uuid4().hex[:8]}",
                             protocol=protocol, **options)
        if username is not None:
            client.username_pw_set(username, password)
        if ca_file is not None:
            client.tls_set(ca_certs=str(ca_file))
        client.reconnect_delay_set(0.1, 0.5)  # type: ignore[arg-type]  # seconds, any number (the stub says int)
        peer = cls(client)
        connect_options: dict[str, Any] = {}
        if protocol == mqtt.MQTTv5:
            connect_options["clean_start"] = clean
            if persistent:
                properties = mqtt.Properties(mqtt.PacketTypes.CONNECT)
                properties.SessionExpiryInterval = 3600
                connect_options["properties"] = properties
        client.connect("127.0.0.1", port, keepalive=30, **connect_options)
        client.loop_start()
        try:
            peer.wait_connected(1, timeout)
        except BaseException:
            peer.close()
            raise
        return peer

    def _on_connect(self, client: mqtt.Client, _userdata: Any, flags: Any, reason: Any, _properties: Any) -> None:
        with self._connected:
            if reason.is_failure:
                self._refused = reason
            else:
                self.connects += 1
                self._up = True
                if self._topics and not flags.session_present:
                    client.subscribe([(topic, 1) for topic in self._topics])
            self._connected.notify_all()

    def _on_disconnect(self, *_args: Any) -> None:
        with self._connected:
            self._up = False

    def _on_ack(self, _client: Any, _userdata: Any, mid: int, reason: Any, _properties: Any) -> None:
        with self._acked:
            self._acks[mid] = reason
            self._acked.notify_all()

    def wait_connected(self, times: int, timeout: float = 10.0) -> None:
        """Until the client has had ``times`` successful CONNACKs (1: the first; 2: after one reconnection)."""
        with self._connected:
            if not self._connected.wait_for(lambda: self.connects >= times or self._refused is not None, timeout):
                raise TimeoutError(f"no CONNACK #{times} within {timeout} s")
            if self._refused is not None:
                raise ConnectionRefused(self._refused)

    def _wait_ack(self, mid: int, what: str, timeout: float) -> Any:
        with self._acked:
            if not self._acked.wait_for(lambda: mid in self._acks, timeout):
                raise TimeoutError(f"no {what} within {timeout} s")
            return self._acks.pop(mid)

    def subscribe(self, *topics: str, timeout: float = 5.0) -> Peer:
        """Subscribe at QoS 1; returns once the SUBACK came (mosquitto grants any filter: reading is checked
        against the ACL per message delivered)."""
        self._topics.extend(topics)
        _rc, mid = self.client.subscribe([(topic, 1) for topic in topics])
        assert mid is not None, "not connected"
        self._wait_ack(mid, f"SUBACK for {topics}", timeout)
        return self

    def publish(self, topic: str, payload: str | bytes, *, retain: bool = False, timeout: float = 5.0) -> Any:
        """Publish at QoS 1 and wait for the PUBACK; returns its reason code (MQTT 5 says "Not authorized").
        Waits for a connection first, should the client be reconnecting after a broker restart."""
        with self._connected:
            if not self._connected.wait_for(lambda: self._up, timeout):
                raise TimeoutError(f"not connected within {timeout} s")
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        return self._wait_ack(info.mid, f"PUBACK for {topic}", timeout)

    def next(self, timeout: float = 10.0) -> mqtt.MQTTMessage:
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no message within {timeout} s") from None

    def wait_for(self, topic: str, payload: bytes, timeout: float = 10.0,
                 passed_over: list[mqtt.MQTTMessage] | None = None) -> mqtt.MQTTMessage:
        """The first message with this topic and payload; the ones before it go to ``passed_over``."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                message = self.messages.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise TimeoutError(f"no {payload!r} on {topic} within {timeout} s") from None
            if message.topic == topic and message.payload == payload:
                return message
            if passed_over is not None:
                passed_over.append(message)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

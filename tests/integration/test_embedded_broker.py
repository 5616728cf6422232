"""``serve`` without ``--mqtt-url``, as ``make run`` starts it: a private mosquitto, or the amqtt fallback.

The private mosquitto must serve MQTT 5 (``mosquitto_rr``) and 3.1.1 clients, keep the sessions across
restarts of the station, and never outlive it; the amqtt fallback must serve 3.1.1 clients and refuse
MQTT 5 ones with one log line, never a traceback.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psutil
import pytest

from ocpp_station.api import broker as embedded
from ocpp_station.config import ConfigError

from ..support import (
    REQUEST_TOPIC,
    RESPONSE_TOPIC,
    OemClient,
    StationProcess,
    check_response,
    envelope,
    free_port,
    variable_data,
    wait_for_port,
    wait_until,
)

GET = {"getVariableData": [variable_data("TxCtrlr", "TxStartPoint")]}


@pytest.fixture(scope="module", autouse=True)
def _mosquitto_installed() -> None:
    if embedded.find_mosquitto() is None or shutil.which("mosquitto_rr") is None:
        pytest.fail("mosquitto and mosquitto-clients are not installed: run `make test`, which installs them")


@dataclass
class EmbeddedStation(StationProcess):
    """``ocpp-station serve`` with no broker URL: it starts its own broker on ``port``."""

    broker_url: str = ""
    data_dir: Path = Path()
    port: int = 0
    client_id: str = field(default_factory=lambda: f"station-{uuid.uuid4().hex[:8]}")

    @property
    def broker_dir(self) -> Path:
        return self.data_dir / "broker"

    def start(self, wait: bool = True) -> EmbeddedStation:
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}.log"
        offset = len(self.log_text())  # a restart appends to the same log: wait for the new line
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "ocpp_station", "--log-level", "DEBUG", "serve", "--data-dir",
                 str(self.data_dir), "--no-csms", "--embedded-port", str(self.port), "--client-id", self.client_id,
                 *self.extra_args],
                stdout=log, stderr=log, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        if wait:
            self.wait_until_logged("connected to", start_offset=offset)
        return self

    def mosquitto_pid(self) -> int:
        return int((self.broker_dir / "mosquitto.pid").read_text())


@pytest.fixture
def station(tmp_path: Path) -> Iterator[EmbeddedStation]:
    process = EmbeddedStation(data_dir=tmp_path / "data", port=free_port())
    yield process
    if process.process is not None and process.process.poll() is None:
        process.terminate()
    try:  # a mosquitto that outlived its station (a failed test) must not keep running
        leftover = psutil.Process(process.mosquitto_pid())
        if str(process.broker_dir / "mosquitto.conf") in leftover.cmdline():
            leftover.kill()
    except (OSError, ValueError, psutil.Error):
        pass


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def _gone(pid: int) -> bool:
    """Exited; a zombie not yet reaped by init counts as exited (it holds no port)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _mosquitto_rr(port: int, message: dict[str, Any], wait_s: int) -> subprocess.CompletedProcess[str]:
    """An MQTT 5 request/response round trip with Debian's client: it prints the answer's payload."""
    return subprocess.run(
        ["mosquitto_rr", "-V", "5", "-h", "127.0.0.1", "-p", str(port), "-t", REQUEST_TOPIC,
         "-e", f"{RESPONSE_TOPIC}/rr-{uuid.uuid4().hex[:8]}", "-m", json.dumps(message), "-W", str(wait_s)],
        capture_output=True, text=True, timeout=wait_s + 10)


def _mosquitto_of(station: EmbeddedStation) -> subprocess.Popen[bytes]:
    """mosquitto on the configuration (port, database) that the station wrote for its private one."""
    conf = station.broker_dir / "mosquitto.conf"
    return subprocess.Popen([embedded.find_mosquitto() or "mosquitto", "-c", str(conf)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class PersistentOem:
    """An OEM client with a persistent 3.1.1 session: answers published while it is away wait for it."""

    def __init__(self, port: int):
        self.port, self.answers = port, queue.Queue[dict[str, Any]]()
        self._subscribed = queue.Queue[int]()
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"oem-{uuid.uuid4().hex[:8]}",
                                   clean_session=False)
        self._client.on_message = lambda _c, _u, msg: self.answers.put(json.loads(msg.payload))
        self._client.on_subscribe = lambda _c, _u, mid, _r, _p: self._subscribed.put(mid)

    def connect(self) -> None:
        self._client.connect("127.0.0.1", self.port)
        self._client.loop_start()

    def subscribe(self) -> None:
        _result, mid = self._client.subscribe(RESPONSE_TOPIC, qos=1)
        assert self._subscribed.get(timeout=5) == mid

    def disconnect(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def wait_for(self, request_id: str, timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                answer = self.answers.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                raise TimeoutError(f"no answer to {request_id} within {timeout:g} s") from None
            if answer.get("id") == request_id:
                return answer


# -- the private mosquitto ------------------------------------------------------------------------------

def test_private_mosquitto_serves_mqtt5_and_311_and_stops_with_the_station(station: EmbeddedStation) -> None:
    station.start()
    log = station.log_text()
    assert f"embedded MQTT broker listening on mqtt://127.0.0.1:{station.port}: a private mosquitto " \
           f"(MQTT 5 and 3.1.1" in log
    assert "for trying things out only" in log
    # The station itself speaks MQTT 5 to it (mosquitto logs the protocol level: p5).
    assert f"as {station.client_id} (p5, c0" in (station.broker_dir / "mosquitto.log").read_text()

    request = envelope("GetVariables", GET)
    done = _mosquitto_rr(station.port, request, wait_s=10)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["id"] == request["id"]
    check_response(answer, "GetVariables", "ocpp2.0.1")
    assert answer["data"]["message_type"] == "CallResult"
    assert answer["data"]["payload"]["getVariableResult"][0]["attributeStatus"] == "Accepted"

    oem = OemClient(station.port)  # paho's default: MQTT 3.1.1
    try:
        [result] = oem.result("GetVariables", GET)["getVariableResult"]
        assert result["attributeStatus"] == "Accepted"
    finally:
        oem.close()

    pid = station.mosquitto_pid()
    assert station.terminate() == 0
    assert _gone(pid), "the private mosquitto outlived the station"
    assert not _accepts(station.port)
    assert not (station.broker_dir / "mosquitto.pid").exists()
    assert "Traceback" not in station.log_text()


@pytest.mark.slow
def test_a_request_sent_while_the_station_is_stopped_is_answered_after_its_restart(
        station: EmbeddedStation) -> None:
    """The sessions of the station and of the OEM are in mosquitto.db: a restart loses neither."""
    station.start()
    oem = PersistentOem(station.port)
    oem.connect()
    oem.subscribe()
    oem.disconnect()
    assert station.terminate() == 0  # its mosquitto saved both sessions on its way out

    # The station is down: the same broker (its own configuration and database) takes a request.
    stand_in = _mosquitto_of(station)
    try:
        wait_for_port(station.port)
        request = envelope("GetVariables", GET)
        published = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(station.port), "-q", "1",
                                    "-t", REQUEST_TOPIC, "-m", json.dumps(request)], capture_output=True, timeout=10)
        assert published.returncode == 0, published.stderr
    finally:
        stand_in.terminate()
        stand_in.wait(10)

    station.start()  # same data directory, port and client id
    oem.connect()
    answer = oem.wait_for(request["id"])
    oem.disconnect()
    check_response(answer, "GetVariables", "ocpp2.0.1")
    assert answer["data"]["message_type"] == "CallResult"
    assert f"answered {request['id']}: CallResult" in station.log_text()


@pytest.mark.slow
def test_kill_9_of_the_station_takes_its_mosquitto_along_and_a_leftover_is_ended(station: EmbeddedStation) -> None:
    station.start()
    pid = station.mosquitto_pid()
    station.kill()  # SIGKILL: no clean-up of ours runs, the parent-death signal does it
    wait_until(lambda: _gone(pid) and not _accepts(station.port), "the private mosquitto outlived a kill -9")

    # A mosquitto on the station's configuration that a pid file names (as after a crash of an older
    # release without the parent-death signal): the next start ends it and starts its own.
    leftover = _mosquitto_of(station)
    try:
        wait_for_port(station.port)
        (station.broker_dir / "mosquitto.pid").write_text(f"{leftover.pid}\n")
        station.start()
        assert leftover.wait(10) == 0  # terminated (SIGTERM), not killed
    finally:
        if leftover.poll() is None:
            leftover.kill()
    assert f"a mosquitto of an earlier run (pid {leftover.pid})" in station.log_text()
    assert station.mosquitto_pid() != leftover.pid
    oem = OemClient(station.port)
    try:
        oem.result("GetVariables", GET)
    finally:
        oem.close()


def test_a_second_station_on_the_same_data_directory_leaves_the_first_alone(station: EmbeddedStation) -> None:
    """A second `make run` must not take the running station's broker for a leftover and end it."""
    station.start()
    done = subprocess.run([sys.executable, "-m", "ocpp_station", "serve", "--data-dir", str(station.data_dir),
                           "--no-csms", "--embedded-port", str(free_port())], capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 2, done.stderr
    assert "another ocpp-station already runs the embedded broker" in done.stderr
    oem = OemClient(station.port)
    try:
        oem.result("GetVariables", GET)
    finally:
        oem.close()
    assert "earlier run" not in station.log_text()


def test_a_mosquitto_that_cannot_start_is_a_configuration_error_with_its_words(tmp_path: Path) -> None:
    broken = tmp_path / "mosquitto"
    broken.write_text("#!/bin/sh\necho 'Error: Unable to open log file' >&2\nexit 3\n")
    broken.chmod(0o755)

    async def start() -> None:
        async with embedded.private_mosquitto(str(broken), "127.0.0.1", free_port(), tmp_path / "broker"):
            pass

    with pytest.raises(ConfigError, match=r"(?s)exited at start \(status 3\).*Error: Unable to open log file"):
        asyncio.run(start())
    assert not (tmp_path / "broker" / "mosquitto.pid").exists()


def test_a_taken_port_is_a_configuration_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "ocpp_station", "serve", "--data-dir", str(tmp_path / "data"),
                               "--no-csms", "--embedded-port", str(port)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2, done.stderr
    assert f"127.0.0.1:{port} is already in use" in done.stderr and "--mqtt-url" in done.stderr


def test_the_choice_of_broker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """auto falls back to amqtt where mosquitto cannot be found; mosquitto then refuses to start."""
    monkeypatch.setattr(embedded, "find_mosquitto", lambda: None)

    async def kind(asked: str) -> tuple[str, bool]:
        async with embedded.start_embedded_broker(asked, "127.0.0.1", free_port(), tmp_path / "broker") as broker:
            return broker.kind, broker.mqtt5

    assert asyncio.run(kind("auto")) == ("amqtt", False)
    with pytest.raises(ConfigError, match="mosquitto is not installed"):
        asyncio.run(kind("mosquitto"))


# -- the amqtt fallback ---------------------------------------------------------------------------------

def test_amqtt_fallback_serves_311_and_refuses_mqtt5_without_a_traceback(station: EmbeddedStation) -> None:
    station.extra_args = ["--embedded-broker", "amqtt"]
    station.start()
    log = station.log_text()
    assert "amqtt in this process, as asked (--embedded-broker amqtt)" in log
    assert "MQTT 3.1.1 only (MQTT 5 clients such as mosquitto_rr are refused)" in log

    oem = OemClient(station.port)
    try:
        [result] = oem.result("GetVariables", GET)["getVariableResult"]
        assert result["attributeStatus"] == "Accepted"
    finally:
        oem.close()

    # mosquitto_rr gets no answer; amqtt's close of its connection fails, which asyncio would log
    # with a traceback.
    done = _mosquitto_rr(station.port, envelope("GetVariables", GET), wait_s=1)
    assert done.returncode != 0 and not done.stdout.strip(), done
    station.wait_until_logged("refused a client from 127.0.0.1:")
    # paho's MQTT 5 client is told so in its CONNACK; amqtt logs the refusal with its own lines.
    refused: queue.Queue[Any] = queue.Queue()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="v5", protocol=mqtt.MQTTv5)
    client.on_connect = lambda _c, _u, _f, reason, _p: refused.put(reason)
    client.connect("127.0.0.1", station.port)
    client.loop_start()
    try:
        reason = refused.get(timeout=5)
    finally:
        client.disconnect()
        client.loop_stop()
    assert reason.is_failure and "protocol version" in str(reason)
    station.wait_until_logged("amqtt.broker: embedded amqtt broker refused a client from 127.0.0.1:")

    assert station.terminate() == 0
    log = station.log_text()
    assert "Traceback" not in log
    assert "unsupported protocol version 5 (MQTT 5 clients need mosquitto)" in log
    assert "Invalid connection from" not in log  # amqtt's own line without the reason: dropped
    assert not (station.broker_dir).exists()  # amqtt keeps nothing on disk


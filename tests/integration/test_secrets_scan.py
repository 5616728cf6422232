"""No secret at any log level, in any output: one scan over every door and every output (issue 15 item 5).

A conformance probe found, at ``--log-level DEBUG``, the handshake's ``Authorization: Basic …``
header and the tails of CSMS frames in the station's log — most characters of a BasicAuthPassword
set by the CSMS and of a VPN password — and an unmasked SIM PIN in the INFO log and in
``ocpp-station network list``. This module runs the whole situation once, for real:

* a station process at DEBUG whose broker URL carries its MQTT password, on a mosquitto that checks
  that password, linked to a CSMS built with the ``ocpp`` package (tests/integration/test_csms_link.py)
  that checks the Basic-auth header (security profile 1) — first a 2.1 CSMS, then, after a Reset from
  it, a 2.0.1 CSMS on the slot the first one configured;
* every secret OCPP defines set through every door that can set it (table below), and each misused
  on the error paths: a bad attributeType, a value too long or too short, the secret in a field the
  schema does not have, a read of a write-only variable, a 1.6 ChangeConfiguration the station does
  not offer, a private key sent as a certificate;
* the operator's commands: ``network list`` and ``certs list`` (data directory and broker, ``--json``),
  ``certs import``, ``get``/``set``/``network set``/``call`` with ``--log-level DEBUG``, also with a
  wrong and an unreachable broker URL;

then searches the station's whole log, every message the broker delivered other than the requests
(the answers on ``josev/cs`` and on the CLI's MQTT 5 reply topics), every frame the CSMSs received and
every command's output for each secret: as it is, in base64 at each of the three alignments it can have inside a
longer base64 text (so inside the ``identity:password`` of Basic auth too, whatever the identity's
length), and in hex — and not whole only: every run of 8 characters of the plain and base64 forms
(16 of the hex form, 8 bytes), since the probe saw tails. The values are derived from their labels:
random-looking letters and digits, fixed from run to run, whose runs do not occur by chance.

================================  ==================================================================
secret                            doors
================================  ==================================================================
MQTT broker password              --mqtt-url of serve (and a wrong one: a second station; the CLI)
SecurityCtrlr.BasicAuthPassword   MQTT SetVariables 2.0.1 (then sent in a handshake the CSMS refuses
                                  with HTTP 401, then in one it accepts) and 2.1; CSMS 2.1 and 2.0.1
                                  SetVariables
NetworkConfiguration[slot].       MQTT 2.1 SetVariables; CSMS 2.1 SetVariables (then used by the
BasicAuthPassword (2.1)           handshake to the second CSMS); ``ocpp-station set``
connectionData.basicAuthPassword  MQTT 2.1 SetNetworkProfile; CSMS 2.1 SetNetworkProfile;
(2.1)                             ``ocpp-station network set --password-env``, ``ocpp-station call``
vpn.password, vpn.key,            MQTT SetNetworkProfile 2.0.1 and 2.1; CSMS SetNetworkProfile 2.1
apn.apnPassword, apn.simPin       and 2.0.1; ``ocpp-station call`` (2.1)
the station's private key         ``ocpp-station certs import`` (and a refused import)
private keys sent by mistake      InstallCertificate 1.6 and 2.0.1 over MQTT, 2.1 from the CSMS
1.6 AuthorizationKey              ChangeConfiguration over MQTT (NotSupported: the station offers
                                  only the certificate messages in 1.6)
================================  ==================================================================

tests/integration/test_reliability.py::test_secrets_never_reach_the_log is left as it is: a quick
check of three passwords that this scan covers too (every door and output it uses is used here).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import stat
import string
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from ocpp.v21 import call as call21
from ocpp.v201 import call as call201

from ocpp_station import presence

from ..support import (
    REQUEST_TOPIC,
    RESPONSE_TOPIC,
    Mosquitto,
    OemClient,
    StationProcess,
    check_envelope,
    check_request_envelope,
    check_response,
    envelope,
    free_port,
    subscribed_client,
    wait_until,
)
from .test_csms_link import FAST_RETRIES, IDENTITY, Csms, issue, network_config

V16, V201, V21 = "ocpp1.6", "ocpp2.0.1", "ocpp2.1"
MASK = "***"  # what public() shows; written here, not imported, so the test does not take the code's word
# The secret fields of connectionData, written here for the same reason (the code's list is checked
# against the official schemas in tests/unit/test_secret_fields.py).
PROFILE_SECRETS = (("basicAuthPassword",), ("vpn", "password"), ("vpn", "key"), ("apn", "apnPassword"),
                   ("apn", "simPin"))
FRAGMENT = 8  # characters of a plain or base64 form; a hex form is searched in runs of 2 * FRAGMENT
SLOTS = (1, 2, 3, 4, 5, 6)
STATION_USER = "station"
STATUS_TOPIC = "josev/status"


# --------------------------------------------------------------------------------------------------------------
# The secrets, and what finding one means
# --------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Secret:
    """One secret value, where it went in, and every form in which a leak of it could show."""

    label: str  # the field and the door, for the failure message
    raw: bytes
    text: str | None = None  # the value as text, when it has one (a key's private scalar has none)

    def needles(self) -> dict[str, str]:
        """Each text whose presence shows the secret (or a run of it), with how it encodes it."""
        found: dict[str, str] = {}
        if self.text is not None:
            found |= {run: "as it is" for run in _runs(self.text, FRAGMENT)}
        for lead, core in enumerate(_base64_cores(self.raw)):
            found |= {run: f"in base64 (alignment {lead})" for run in _runs(core, FRAGMENT)}
        hexed = self.raw.hex()
        found |= {run: "in hex" for text in (hexed, hexed.upper()) for run in _runs(text, 2 * FRAGMENT)}
        return found


def _runs(text: str, length: int) -> list[str]:
    return [text[i:i + length] for i in range(max(len(text) - length + 1, 1))]


def _base64_cores(raw: bytes) -> list[str]:
    """The base64 characters that encode only ``raw``, at each alignment ``raw`` can have in a longer text.

    Base64 writes 3 bytes as 4 characters, so what surrounds the secret (``identity:`` before a
    password in Basic auth) changes how its bits fall into characters: with 0, 1 or 2 bytes before
    it, the characters that hold nothing but its bits are the ones returned.
    """
    cores = []
    for lead in range(3):
        encoded = base64.b64encode(bytes(lead) + raw + bytes(3)).decode("ascii")
        first, end = -(-8 * lead // 6), 8 * (lead + len(raw)) // 6  # characters wholly inside its bits
        cores.append(encoded[first:end])
    return cores


def token(label: str, length: int) -> str:
    """A password-like value of ``length`` letters and digits derived from ``label``: the same every run."""
    alphabet = string.ascii_letters + string.digits
    return "".join(alphabet[byte % len(alphabet)] for byte in hashlib.shake_256(label.encode()).digest(length))


def pin(label: str) -> int:
    """An eight-digit SIM PIN derived from ``label`` (simPin is an integer in both schemas)."""
    return 10_000_000 + int.from_bytes(hashlib.sha256(label.encode()).digest()[:8], "big") % 90_000_000


def text_secret(label: str, value: str | int) -> Secret:
    return Secret(label, str(value).encode(), str(value))


def key_secret(label: str, key: ec.EllipticCurvePrivateKey) -> Secret:
    """A private key, found by its private scalar: in whatever container (PKCS#8, SEC1, DER, PEM) it leaks."""
    return Secret(label, key.private_numbers().private_value.to_bytes(32, "big"))


def basic_auth(identity: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{identity}:{password}".encode()).decode("ascii")


# Lengths: a BasicAuthPassword 16–64 (A00.FR.205); 2.0.1 vpn.password and apnPassword ≤ 20, 2.1 ≤ 64;
# vpn.key ≤ 255.
MQTT_PASSWORD = token("mqtt password of serve", 24)
MQTT_WRONG_PASSWORD = token("wrong mqtt password of a second station", 24)
CLI_MQTT_PASSWORD = token("mqtt password in a CLI's --mqtt-url", 24)
# MQTT door
OEM_REFUSED = token("OEM 2.0.1 SecurityCtrlr.BasicAuthPassword the CSMS refuses", 24)  # HTTP 401
OEM_SECURITY_201 = token("OEM 2.0.1 SecurityCtrlr.BasicAuthPassword", 24)  # the first accepted handshake
OEM_SECURITY_21 = token("OEM 2.1 SecurityCtrlr.BasicAuthPassword", 32)
OEM_PROFILE_21 = token("OEM 2.1 SetNetworkProfile basicAuthPassword", 40)
OEM_NETWORK_CONFIGURATION_21 = token("OEM 2.1 NetworkConfiguration BasicAuthPassword", 64)
OEM_VPN_201 = {"password": token("OEM 2.0.1 vpn.password", 20), "key": token("OEM 2.0.1 vpn.key", 48)}
OEM_APN_201 = {"apnPassword": token("OEM 2.0.1 apn.apnPassword", 20), "simPin": pin("OEM 2.0.1 simPin")}
OEM_VPN_21 = {"password": token("OEM 2.1 vpn.password", 64), "key": token("OEM 2.1 vpn.key", 255)}
OEM_APN_21 = {"apnPassword": token("OEM 2.1 apn.apnPassword", 64), "simPin": pin("OEM 2.1 simPin")}
OEM_MISUSED = token("OEM misuse: a password on the error paths", 40)
OEM_TOO_SHORT = token("OEM misuse: a 15-character password", 15)
OEM_MISUSED_VPN = token("OEM misuse: a vpn.password too long for 2.0.1", 30)
OEM_MISUSED_PIN = pin("OEM misuse: a simPin as a string")
AUTHORIZATION_KEY_16 = token("OEM 1.6 ChangeConfiguration AuthorizationKey, too long", 70)
# the CLI
CLI_NETWORK_SET = token("CLI network set --password-env", 36)
CLI_SET = token("CLI set NetworkConfiguration BasicAuthPassword", 36)
CLI_CALL_PROFILE = token("CLI call SetNetworkProfile basicAuthPassword", 36)
CLI_CALL_VPN = {"password": token("CLI call vpn.password", 40), "key": token("CLI call vpn.key", 80)}
CLI_CALL_APN = {"apnPassword": token("CLI call apn.apnPassword", 40), "simPin": pin("CLI call simPin")}
# the CSMS door
CSMS_SECURITY_21 = token("CSMS 2.1 SecurityCtrlr.BasicAuthPassword", 28)
CSMS_PROFILE_21 = token("CSMS 2.1 SetNetworkProfile basicAuthPassword", 28)
CSMS_NETWORK_CONFIGURATION_21 = token("CSMS 2.1 NetworkConfiguration BasicAuthPassword", 28)  # second handshake
CSMS_VPN_21 = {"password": token("CSMS 2.1 vpn.password", 50), "key": token("CSMS 2.1 vpn.key", 120)}
CSMS_APN_21 = {"apnPassword": token("CSMS 2.1 apn.apnPassword", 50), "simPin": pin("CSMS 2.1 simPin")}
CSMS_SECURITY_201 = token("CSMS 2.0.1 SecurityCtrlr.BasicAuthPassword", 30)
CSMS_VPN_201 = {"password": token("CSMS 2.0.1 vpn.password", 20), "key": token("CSMS 2.0.1 vpn.key", 64)}
CSMS_APN_201 = {"apnPassword": token("CSMS 2.0.1 apn.apnPassword", 20), "simPin": pin("CSMS 2.0.1 simPin")}
CSMS_MISUSED = token("CSMS misuse: a password on the error paths", 40)
CSMS_TOO_SHORT = token("CSMS misuse: a 15-character password", 15)

TEXT_SECRETS: list[Secret] = [
    text_secret("MQTT password in serve's --mqtt-url", MQTT_PASSWORD),
    text_secret("a wrong MQTT password (second station)", MQTT_WRONG_PASSWORD),
    text_secret("an MQTT password in a CLI's --mqtt-url", CLI_MQTT_PASSWORD),
    text_secret("SecurityCtrlr.BasicAuthPassword, MQTT 2.0.1, refused by the CSMS (HTTP 401)", OEM_REFUSED),
    text_secret("SecurityCtrlr.BasicAuthPassword, MQTT 2.0.1 (sent in the first accepted handshake)",
                OEM_SECURITY_201),
    text_secret("SecurityCtrlr.BasicAuthPassword, MQTT 2.1", OEM_SECURITY_21),
    text_secret("connectionData.basicAuthPassword, MQTT 2.1", OEM_PROFILE_21),
    text_secret("NetworkConfiguration[4].BasicAuthPassword, MQTT 2.1", OEM_NETWORK_CONFIGURATION_21),
    *(text_secret(f"vpn.{k}, MQTT SetNetworkProfile 2.0.1", v) for k, v in OEM_VPN_201.items()),
    *(text_secret(f"apn.{k}, MQTT SetNetworkProfile 2.0.1", v) for k, v in OEM_APN_201.items()),
    *(text_secret(f"vpn.{k}, MQTT SetNetworkProfile 2.1", v) for k, v in OEM_VPN_21.items()),
    *(text_secret(f"apn.{k}, MQTT SetNetworkProfile 2.1", v) for k, v in OEM_APN_21.items()),
    text_secret("a password on the MQTT error paths", OEM_MISUSED),
    text_secret("a 15-character password (rejected), MQTT", OEM_TOO_SHORT),
    text_secret("a vpn.password too long for 2.0.1, MQTT", OEM_MISUSED_VPN),
    text_secret("a simPin sent as a string, MQTT", OEM_MISUSED_PIN),
    text_secret("1.6 AuthorizationKey of 70 characters (ChangeConfiguration, Rejected)", AUTHORIZATION_KEY_16),
    text_secret("basicAuthPassword of `ocpp-station network set --password-env`", CLI_NETWORK_SET),
    text_secret("NetworkConfiguration(6).BasicAuthPassword of `ocpp-station set`", CLI_SET),
    text_secret("basicAuthPassword of `ocpp-station call SetNetworkProfile`", CLI_CALL_PROFILE),
    *(text_secret(f"vpn.{k} of `ocpp-station call`", v) for k, v in CLI_CALL_VPN.items()),
    *(text_secret(f"apn.{k} of `ocpp-station call`", v) for k, v in CLI_CALL_APN.items()),
    text_secret("SecurityCtrlr.BasicAuthPassword, CSMS 2.1", CSMS_SECURITY_21),
    text_secret("connectionData.basicAuthPassword, CSMS 2.1", CSMS_PROFILE_21),
    text_secret("NetworkConfiguration[2].BasicAuthPassword, CSMS 2.1 (sent in the second handshake)",
                CSMS_NETWORK_CONFIGURATION_21),
    *(text_secret(f"vpn.{k}, CSMS SetNetworkProfile 2.1", v) for k, v in CSMS_VPN_21.items()),
    *(text_secret(f"apn.{k}, CSMS SetNetworkProfile 2.1", v) for k, v in CSMS_APN_21.items()),
    text_secret("SecurityCtrlr.BasicAuthPassword, CSMS 2.0.1", CSMS_SECURITY_201),
    *(text_secret(f"vpn.{k}, CSMS SetNetworkProfile 2.0.1", v) for k, v in CSMS_VPN_201.items()),
    *(text_secret(f"apn.{k}, CSMS SetNetworkProfile 2.0.1", v) for k, v in CSMS_APN_201.items()),
    text_secret("a password on the CSMS error paths", CSMS_MISUSED),
    text_secret("a 15-character password (rejected), CSMS", CSMS_TOO_SHORT),
]


def profile_21(url: str, *, password: str | None, vpn: dict[str, str], apn: dict[str, Any],
               identity: str | None = None) -> dict[str, Any]:
    """A 2.1 connectionData with every secret it can hold."""
    data: dict[str, Any] = {
        "ocppCsmsUrl": url, "securityProfile": 1, "ocppInterface": "Wired0", "ocppTransport": "JSON",
        "ocppVersion": "OCPP20", "messageTimeout": 5,
        "vpn": {"server": "vpn.example.com", "user": "vpn-user", "group": "vpn-group", "type": "IKEv2", **vpn},
        "apn": {"apn": "internet.example", "apnAuthentication": "CHAP", "apnUserName": "apn-user",
                "preferredNetwork": "26201", "useOnlyPreferredNetwork": False, **apn}}
    if password is not None:
        data["basicAuthPassword"] = password
    if identity is not None:
        data["identity"] = identity
    return data


def profile_201(url: str, *, vpn: dict[str, str], apn: dict[str, Any]) -> dict[str, Any]:
    """A 2.0.1 connectionData with its secrets (2.0.1 has no basicAuthPassword in a profile)."""
    return profile_21(url, password=None, vpn=vpn, apn=apn)


def masked(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` as a listing must show it: each secret field it has replaced by the mask."""
    shown = json.loads(json.dumps(data))
    for *parents, name in PROFILE_SECRETS:
        holder = shown
        for part in parents:
            holder = holder.get(part, {})
        if name in holder:
            holder[name] = MASK
    return shown


def variable(component: str, name: str, value: str | None = None, *, instance: str | None = None,
             attribute_type: str | None = None) -> dict[str, Any]:
    """A Get/SetVariableData element, camelCase (the ``ocpp`` package leaves camelCase keys as they are)."""
    element: dict[str, Any] = {"component": {"name": component, **({"instance": instance} if instance else {})},
                               "variable": {"name": name}}
    if value is not None:
        element["attributeValue"] = value
    if attribute_type is not None:
        element["attributeType"] = attribute_type
    return element


# --------------------------------------------------------------------------------------------------------------
# What the station says, collected
# --------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Output:
    kind: str  # "log", "answer", "csms", "cli"
    what: str
    text: str


class Tap:
    """Every message the broker delivers except requests: the station's answers on josev/cs and on the
    MQTT 5 reply topics of the CLI's requests. Each is checked against the OcppResponse envelope."""

    def __init__(self, port: int) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self._client = subscribed_client(port, "#", self._on_message, name="tap")

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        if message.topic != REQUEST_TOPIC:
            with self._lock:
                self.messages.append((message.topic, bytes(message.payload)))

    def answered(self, request_id: str) -> bool:
        with self._lock:
            return any(json.loads(payload).get("id") == request_id for _, payload in self.messages)

    def outputs(self) -> list[Output]:
        with self._lock:
            taken = list(self.messages)
        for topic, payload in taken:
            if topic == STATUS_TOPIC:  # the station's presence: checked as one, and scanned with the answers
                assert presence.read(IDENTITY, payload) is not None, payload
                continue
            assert topic == RESPONSE_TOPIC or topic.startswith(f"{RESPONSE_TOPIC}/client/"), topic
            message = json.loads(payload)
            # The station's own requests (its security events, A04) are scanned with the answers.
            check_request_envelope(message) if message.get("type") == "request" else check_envelope(message)
        return [Output("answer", f"message on {topic}", payload.decode("utf-8", "replace")) for topic, payload in taken]

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


@dataclass
class Evidence:
    """What the scenario leaves for the checks."""

    secrets: list[Secret]
    outputs: list[Output]
    station_log: str
    local_listing: dict[int, dict[str, Any] | None]  # `network list --data-dir`: slot → profile as shown
    broker_listing: dict[str, Any]  # `network list --json` through the broker
    expected_listing: dict[int, dict[str, Any]]  # slot → the profile as sent, masked by the test
    data_dir: Path


# --------------------------------------------------------------------------------------------------------------
# The scenario
# --------------------------------------------------------------------------------------------------------------

@dataclass
class Scenario:
    """The whole situation, phase by phase; :meth:`run` leaves the :class:`Evidence`."""

    workdir: Path
    outputs: list[Output] = field(default_factory=list)
    secrets: list[Secret] = field(default_factory=lambda: list(TEXT_SECRETS))  # + the keys made on the way
    expected: dict[int, dict[str, Any]] = field(default_factory=dict)  # slot → as `network list` must show it
    broker: Mosquitto = field(init=False)
    csms_21: Csms = field(init=False)
    csms_201: Csms = field(init=False)
    tap: Tap = field(init=False)
    config: Path = field(init=False)
    data_dir: Path = field(init=False)
    station: StationProcess = field(init=False)
    oem: OemClient = field(init=False)

    # -- the parts ----------------------------------------------------------------------------------------

    def start(self) -> None:
        broker_dir = self.workdir / "broker"
        broker_dir.mkdir(parents=True)
        passwords = broker_dir / "passwords"
        subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwords), STATION_USER, MQTT_PASSWORD],
                       check=True, capture_output=True, timeout=30)
        # Anonymous clients (the OEM, the tap, the CLI) are let in; a client naming a user must give its password.
        self.broker = Mosquitto(free_port(), broker_dir, extra_config=f"password_file {passwords}\n").start()
        self.csms_21 = Csms(password=OEM_SECURITY_201, subprotocols=[V21]).start()
        self.csms_201 = Csms(password=CSMS_NETWORK_CONFIGURATION_21, subprotocols=[V201]).start()
        self.tap = Tap(self.broker.port)
        self.config = self.workdir / "station.toml"
        self.config.write_text(network_config(self.csms_21.url, extra=f"slots = {list(SLOTS)}\n"))
        self.data_dir = self.workdir / "data"
        self.station = StationProcess(f"mqtt://{STATION_USER}:{MQTT_PASSWORD}@127.0.0.1:{self.broker.port}",
                                      self.data_dir, ["--config", str(self.config)])
        self.station.start()  # "connected to": the broker took the password
        self.oem = OemClient(self.broker.port)

    def stop(self) -> None:
        """Stop every part that was started (a failed start leaves some unset), each even if one fails."""
        failures: list[Exception] = []
        for name, how in (("oem", "close"), ("tap", "close"), ("station", "terminate"), ("csms_21", "stop"),
                          ("csms_201", "stop"), ("broker", "stop")):
            part = self.__dict__.get(name)
            try:
                if part is not None:
                    getattr(part, how)()
            except Exception as failure:
                failures.append(failure)
        if failures:
            raise failures[0]

    @property
    def broker_url(self) -> str:
        return f"mqtt://127.0.0.1:{self.broker.port}"

    def cli(self, *args: str, expect: int = 0, env: dict[str, str] | None = None) -> str:
        """Run ``ocpp-station --log-level DEBUG ARGS``; its stdout and stderr, recorded for the scan."""
        done = subprocess.run([sys.executable, "-m", "ocpp_station", "--log-level", "DEBUG", *args],
                              capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})})
        shown = " ".join(args)
        for secret in TEXT_SECRETS:  # the label goes into failure messages: the arguments' secrets stay out
            shown = shown.replace(str(secret.text), "<secret>")
        self.outputs.append(Output("cli", f"ocpp-station {shown[:160]}", done.stdout + done.stderr))
        assert done.returncode == expect, (args, done.returncode, done.stdout, done.stderr)
        return done.stdout

    def set_one(self, element: dict[str, Any], version: str, status: str = "Accepted",
                reason: str | None = None) -> None:
        [result] = self.oem.result("SetVariables", {"setVariableData": [element]}, version)["setVariableResult"]
        assert result["attributeStatus"] == status, result
        if reason is not None:
            assert result["attributeStatusInfo"]["reasonCode"] == reason, result

    def set_profile(self, slot: int, data: dict[str, Any], version: str, status: str = "Accepted") -> None:
        answer = self.oem.result("SetNetworkProfile", {"configurationSlot": slot, "connectionData": data}, version)
        assert answer["status"] == status, answer

    def error(self, action: str, payload: Any, version: str, codes: set[str]) -> None:
        error = self.oem.error(action, payload, version)
        assert error["error_code"] in codes, error

    def csms_call(self, csms: Csms, payload: Any, *, invalid: bool = False) -> tuple[Any, list[Any]]:
        """A CALL of ``csms`` into the station; with ``invalid`` the ``ocpp`` package sends it unchecked."""
        result, frame = csms.call(payload, skip_schema_validation=invalid)
        if invalid:
            assert frame[0] == 4, frame  # a CALLERROR (validated by the ``ocpp`` package otherwise)
        return result, frame

    # -- the phases ---------------------------------------------------------------------------------------

    def link_with_the_oem_password(self) -> None:
        """The OEM sets a password over MQTT (2.0.1) that the CSMS refuses (HTTP 401), then the right one."""
        self.oem.result("SetVariables", {"setVariableData": [variable("OCPPCommCtrlr", name, value)
                                                             for name, value in FAST_RETRIES.items()]})
        self.set_one(variable("SecurityCtrlr", "BasicAuthPassword", OEM_REFUSED), V201)
        wait_until(lambda: bool(self.csms_21.refused), "the CSMS refused no handshake")
        self.station.wait_until_logged("HTTP 401")
        self.set_one(variable("SecurityCtrlr", "BasicAuthPassword", OEM_SECURITY_201), V201)
        self.csms_21.wait_for("BootNotification", why=lambda: self.station.log_text()[-3000:])
        self.station.wait_until_logged("connected and accepted on slot 1")
        assert self.csms_21.handshakes[-1]["authorization"] == basic_auth(IDENTITY, OEM_SECURITY_201)

    def oem_doors(self) -> None:
        """Every secret the MQTT API can set, in 2.0.1 and 2.1, then each misused."""
        self.set_one(variable("SecurityCtrlr", "BasicAuthPassword", OEM_SECURITY_21), V21)
        data_3 = profile_201("ws://oem-201.example.com/ocpp", vpn=OEM_VPN_201, apn=OEM_APN_201)
        self.set_profile(3, data_3, V201)
        self.expected[3] = masked(data_3)
        data_4 = profile_21("ws://oem-21.example.com/ocpp", password=OEM_PROFILE_21, vpn=OEM_VPN_21, apn=OEM_APN_21,
                            identity="CS-oem-21")
        self.set_profile(4, data_4, V21)
        self.set_one(variable("NetworkConfiguration", "BasicAuthPassword", OEM_NETWORK_CONFIGURATION_21,
                              instance="4"), V21)
        self.expected[4] = masked(data_4)  # basicAuthPassword: the NetworkConfiguration one now, masked alike

        security = ("SecurityCtrlr", "BasicAuthPassword")
        for version in (V201, V21):  # an attributeType the schema does not have
            self.error("SetVariables", {"setVariableData": [variable(*security, OEM_MISUSED, attribute_type="Nope")]},
                       version, {"PropertyConstraintViolation"})
        self.set_one(variable(*security, OEM_MISUSED, attribute_type="Target"), V201, "NotSupportedAttributeType")
        self.set_one(variable(*security, OEM_TOO_SHORT), V201, "Rejected")
        self.set_one(variable("NetworkConfiguration", "BasicAuthPassword", OEM_MISUSED, instance="1"), V21,
                     "Rejected", "ActiveNetworkConf")
        self.error("SetVariables", {"setVariableData": [{**variable(*security, "x" * 16), "password": OEM_MISUSED}]},
                   V201, {"FormatViolation"})  # the secret in a field the schema does not have
        self.error("SetVariables", {"setVariableData": [variable(*security, OEM_MISUSED * 30)]}, V201,
                   {"PropertyConstraintViolation", "FormatViolation"})  # too long for attributeValue
        self.error("SetNetworkProfile", {"configurationSlot": 5, "connectionData": profile_201(
            "ws://x.example.com/ocpp", vpn={**OEM_VPN_201, "password": OEM_MISUSED_VPN}, apn=OEM_APN_201)}, V201,
            {"PropertyConstraintViolation"})  # vpn.password longer than 2.0.1's 20
        self.error("SetNetworkProfile", {"configurationSlot": 5, "connectionData": {
            **profile_21("ws://x.example.com/ocpp", password=None, vpn=OEM_VPN_21, apn=OEM_APN_21),
            "password": OEM_MISUSED}}, V21, {"FormatViolation"})
        self.error("SetNetworkProfile", {"configurationSlot": 5, "connectionData": profile_21(
            "ws://x.example.com/ocpp", password=OEM_MISUSED, vpn=OEM_VPN_21,
            apn={**OEM_APN_21, "simPin": str(OEM_MISUSED_PIN)})}, V21, {"TypeConstraintViolation"})
        for slot, password, reason in ((999, OEM_MISUSED, "InvalidConfSlot"), (1, OEM_MISUSED, "ActiveNetworkConf"),
                                       (5, OEM_TOO_SHORT, "InvalidNetworkConf")):  # refused by the rules
            answer = self.oem.result("SetNetworkProfile", {"configurationSlot": slot, "connectionData": profile_21(
                "ws://x.example.com/ocpp", password=password, vpn=OEM_VPN_21, apn=OEM_APN_21)}, V21)
            assert answer["status"] == "Rejected" and answer["statusInfo"]["reasonCode"] == reason, answer
        reads = self.oem.result("GetVariables", {"getVariableData": [
            variable(*security), variable("NetworkConfiguration", "BasicAuthPassword", instance="4"),
            variable(*security, attribute_type="Target")]}, V21)["getVariableResult"]
        assert [r["attributeStatus"] for r in reads] == ["Rejected", "Rejected", "NotSupportedAttributeType"], reads
        assert all("attributeValue" not in r for r in reads), reads
        refused = self.oem.result("ChangeConfiguration", {"key": "AuthorizationKey", "value": AUTHORIZATION_KEY_16},
                                  V16)  # longer than SecurityCtrlr.BasicAuthPassword's 64: refused, and not echoed
        assert refused == {"status": "Rejected"}, refused
        # Not JSON, with a secret in it: answered with a CallError, and the text is not quoted back.
        broken = json.dumps(envelope("SetVariables", {"setVariableData": [variable(*security, OEM_MISUSED)]}))
        self.oem.publish(broken[:-20])
        before = self.oem.barrier()
        assert [a["data"]["error_code"] for a in before] == ["RpcFrameworkError"], before

    def keys_sent_by_mistake(self) -> None:
        """A private key where a certificate belongs: as its PEM (1.6) and dressed as a CERTIFICATE (2.0.1)."""
        mistaken = issue("a key pasted by mistake")
        self.secrets.append(key_secret("a private key sent as InstallCertificate's certificate", mistaken.key))
        answer = self.oem.result("InstallCertificate", {"certificateType": "CentralSystemRootCertificate",
                                                        "certificate": mistaken.key_pem}, V16)
        assert answer["status"] == "Rejected", answer
        body = "".join(mistaken.key_pem.splitlines(keepends=True)[1:-1])
        disguised = f"-----BEGIN CERTIFICATE-----\n{body}-----END CERTIFICATE-----\n"
        answer = self.oem.result("InstallCertificate", {"certificateType": "CSMSRootCertificate",
                                                        "certificate": disguised}, V201)
        assert answer["status"] == "Rejected", answer

    def cli_doors(self) -> None:
        """The operator's commands that set a secret (slot 6), each at --log-level DEBUG."""
        url = self.broker_url
        call_data = profile_21("ws://cli-call.example.com/ocpp", password=CLI_CALL_PROFILE, vpn=CLI_CALL_VPN,
                               apn=CLI_CALL_APN)
        self.cli("call", "SetNetworkProfile", json.dumps({"configurationSlot": 6, "connectionData": call_data}),
                 "--ocpp-version", V21, "--mqtt-url", url)
        self.cli("network", "set", "6", "--url", "ws://cli.example.com/ocpp", "--security-profile", "1",
                 "--ocpp-version", V21, "--identity", "CS-cli", "--password-env", "SCAN_PASSWORD", "--mqtt-url", url,
                 env={"SCAN_PASSWORD": CLI_NETWORK_SET})
        for extra in ((), ("--json",)):
            echoed = self.cli("set", "--ocpp-version", V21, f"NetworkConfiguration(6).BasicAuthPassword={CLI_SET}",
                              "--mqtt-url", url, *extra)
            assert "Accepted" in echoed and MASK in echoed, echoed  # the value column shows the mask
            self.cli("get", "SecurityCtrlr.BasicAuthPassword", "--mqtt-url", url, *extra, expect=1)
        # A broker URL with a password: a wrong one (the broker refuses), and nothing listening there.
        wrong = f"mqtt://{STATION_USER}:{CLI_MQTT_PASSWORD}@127.0.0.1:{self.broker.port}"
        self.cli("get", "OCPPCommCtrlr.OfflineThreshold", "--mqtt-url", wrong, "--timeout", "5", expect=3)
        nowhere = f"mqtt://{STATION_USER}:{CLI_MQTT_PASSWORD}@127.0.0.1:{free_port()}"
        self.cli("call", "GetVariables", '{"getVariableData":[]}', "--mqtt-url", nowhere, "--timeout", "2", expect=3)

    def csms_21_doors(self) -> None:
        """The 2.1 CSMS sets each secret, misuses them, then moves the station to the 2.0.1 CSMS (slot 2)."""
        csms = self.csms_21
        security = ("SecurityCtrlr", "BasicAuthPassword")
        # The doors before set other passwords, and each made the link reconnect with its own (A01):
        # the one this CSMS takes again, and the reconnection it causes, before its CALLs.
        boots = len(csms.received("BootNotification"))
        self.set_one(variable(*security, OEM_SECURITY_201), V201)
        csms.wait_for("BootNotification", boots + 1, why=lambda: self.station.log_text()[-3000:])
        boots = len(csms.received("BootNotification"))
        result, _ = self.csms_call(csms, call21.SetVariables(set_variable_data=[
            variable(*security, CSMS_SECURITY_21)]))
        assert result.set_variable_result[0]["attribute_status"] == "Accepted", result
        csms.password = CSMS_SECURITY_21  # A01.FR.03: the CSMS takes only the new one; the station reconnects
        csms.wait_for("BootNotification", boots + 1)
        data_2 = profile_21(self.csms_201.url, password=CSMS_PROFILE_21, vpn=CSMS_VPN_21, apn=CSMS_APN_21)
        result, _ = self.csms_call(csms, call21.SetNetworkProfile(configuration_slot=2, connection_data=data_2))
        assert result.status == "Accepted", result
        result, _ = self.csms_call(csms, call21.SetVariables(set_variable_data=[
            variable("NetworkConfiguration", "BasicAuthPassword", CSMS_NETWORK_CONFIGURATION_21, instance="2")]))
        assert result.set_variable_result[0]["attribute_status"] == "Accepted", result
        # The 2.0.1 CSMS's SecurityCtrlr.BasicAuthPassword clears the active slot's own password (B09.FR.27).
        self.expected[2] = masked({name: value for name, value in data_2.items() if name != "basicAuthPassword"})

        result, _ = self.csms_call(csms, call21.SetVariables(set_variable_data=[
            variable(*security, CSMS_MISUSED, attribute_type="Target"), variable(*security, CSMS_TOO_SHORT),
            variable("NetworkConfiguration", "BasicAuthPassword", CSMS_MISUSED, instance="1")]))
        assert [r["attribute_status"] for r in result.set_variable_result] == [
            "NotSupportedAttributeType", "Rejected", "Rejected"], result
        self.csms_call(csms, call21.SetVariables(set_variable_data=[
            variable(*security, CSMS_MISUSED, attribute_type="Nope")]), invalid=True)
        self.csms_call(csms, call21.SetNetworkProfile(configuration_slot=5, connection_data={
            **profile_21("ws://x.example.com/ocpp", password=CSMS_MISUSED, vpn=CSMS_VPN_21, apn=CSMS_APN_21),
            "password": CSMS_MISUSED}), invalid=True)
        self.csms_call(csms, call21.SetNetworkProfile(configuration_slot=5, connection_data=profile_21(
            "ws://x.example.com/ocpp", password=CSMS_MISUSED, vpn={**CSMS_VPN_21, "password": CSMS_MISUSED * 2},
            apn=CSMS_APN_21)), invalid=True)  # vpn.password longer than 64
        result, _ = self.csms_call(csms, call21.GetVariables(get_variable_data=[
            variable(*security), variable("NetworkConfiguration", "BasicAuthPassword", instance="2")]))
        assert [r["attribute_status"] for r in result.get_variable_result] == ["Rejected", "Rejected"], result
        mistaken = issue("a key the CSMS sent by mistake")
        self.secrets.append(key_secret("a private key the CSMS sent as a certificate", mistaken.key))
        result, _ = self.csms_call(csms, call21.InstallCertificate(certificate=mistaken.key_pem,
                                                                   certificate_type="CSMSRootCertificate"))
        assert result.status == "Rejected", result

        result, _ = self.csms_call(csms, call21.SetVariables(set_variable_data=[
            variable("OCPPCommCtrlr", "NetworkConfigurationPriority", "2,1")]))
        assert result.set_variable_result[0]["attribute_status"] == "RebootRequired", result
        result, _ = self.csms_call(csms, call21.Reset(type="Immediate"))
        assert result.status == "Accepted", result
        self.csms_201.wait_for("BootNotification", why=lambda: self.station.log_text()[-3000:])
        self.station.wait_until_logged("connected and accepted on slot 2")
        # The password the 2.1 CSMS set in NetworkConfiguration[2] is the one this handshake sent.
        assert self.csms_201.handshakes[-1]["authorization"] == basic_auth(IDENTITY, CSMS_NETWORK_CONFIGURATION_21)

    def csms_201_doors(self) -> None:
        csms = self.csms_201
        security = ("SecurityCtrlr", "BasicAuthPassword")
        boots = len(csms.received("BootNotification"))
        result, _ = self.csms_call(csms, call201.SetVariables(set_variable_data=[
            variable(*security, CSMS_SECURITY_201)]))
        assert result.set_variable_result[0]["attribute_status"] == "Accepted", result
        csms.password = CSMS_SECURITY_201  # A01.FR.03: only the new one now; the station reconnects with it
        csms.wait_for("BootNotification", boots + 1, why=lambda: self.station.log_text()[-3000:])
        data_5 = profile_201("ws://csms-201.example.com/ocpp", vpn=CSMS_VPN_201, apn=CSMS_APN_201)
        result, _ = self.csms_call(csms, call201.SetNetworkProfile(configuration_slot=5, connection_data=data_5))
        assert result.status == "Accepted", result
        self.expected[5] = masked(data_5)
        self.csms_call(csms, call201.SetVariables(set_variable_data=[
            variable(*security, CSMS_MISUSED, attribute_type="Nope")]), invalid=True)
        self.csms_call(csms, call201.SetNetworkProfile(configuration_slot=5, connection_data=profile_201(
            "ws://x.example.com/ocpp", vpn=CSMS_VPN_201, apn={**CSMS_APN_201, "apnPassword": CSMS_MISUSED})),
            invalid=True)  # apnPassword longer than 2.0.1's 20
        result, _ = self.csms_call(csms, call201.GetVariables(get_variable_data=[variable(*security)]))
        assert result.get_variable_result[0]["attribute_status"] == "Rejected", result

    def station_key(self) -> None:
        """``certs import`` of the station's certificate and key, and an import refused for a key of another."""
        ca = issue("Scan Station CA", ca=True)
        own = issue(IDENTITY, ca, usage=ExtendedKeyUsageOID.CLIENT_AUTH)
        self.secrets.append(key_secret("the station's own private key (certs import)", own.key))
        cert_path, key_path = own.write(self.workdir, "station", chain=(ca,))
        self.cli("certs", "import", "--type", "ChargingStationCertificate", str(cert_path), "--key", str(key_path),
                 "--data-dir", str(self.data_dir))
        other = issue("another key")
        self.secrets.append(key_secret("a private key refused by certs import", other.key))
        other_key = self.workdir / "other.key"
        other_key.write_text(other.key_pem)
        self.cli("certs", "import", "--type", "V2GCertificateChain", str(cert_path), "--key", str(other_key),
                 "--data-dir", str(self.data_dir), expect=1)

    def listings(self) -> tuple[dict[int, dict[str, Any] | None], dict[str, Any]]:
        """Every command that lists profiles or certificates: data directory and broker, table and JSON."""
        local: dict[int, dict[str, Any] | None] = {}
        lines = self.cli("network", "list", "--data-dir", str(self.data_dir), "--config", str(self.config)).splitlines()
        for head, body in zip(lines[::2], lines[1::2], strict=True):
            slot = int(head.removeprefix("slot ").split(":")[0])
            local[slot] = None if body.strip() == "(empty)" else json.loads(body)
        listed = json.loads(self.cli("network", "list", "--data-dir", str(self.data_dir), "--config",
                                     str(self.config), "--json"))
        assert {entry["slot"]: entry["profile"] for entry in listed["slots"]} == local  # the same, for scripts
        self.cli("network", "list", "--mqtt-url", self.broker_url)
        broker = json.loads(self.cli("network", "list", "--json", "--mqtt-url", self.broker_url))
        self.cli("certs", "list", "--data-dir", str(self.data_dir), "--config", str(self.config))
        for extra in ((), ("--json",)):
            self.cli("certs", "list", "--mqtt-url", self.broker_url, *extra)
        return local, broker

    def wrong_mqtt_password(self) -> None:
        """A second station whose URL has a wrong password: refused by the broker, retried, and logged."""
        other = StationProcess(f"mqtt://{STATION_USER}:{MQTT_WRONG_PASSWORD}@127.0.0.1:{self.broker.port}",
                               self.workdir / "wrong" / "data", ["--no-csms"])
        (self.workdir / "wrong").mkdir()
        other.start(wait=False)
        try:
            other.wait_until_logged("check the username and password")
        finally:
            other.terminate()
        self.outputs.append(Output("log", "the log of a station with a wrong MQTT password", other.log_text()))

    def run(self) -> Evidence:
        try:
            self.start()
            self.link_with_the_oem_password()
            self.oem_doors()
            self.keys_sent_by_mistake()
            self.cli_doors()
            self.csms_21_doors()
            self.csms_201_doors()
            self.station_key()
            local, broker = self.listings()
            self.wrong_mqtt_password()
            last = envelope("GetVariables", {"getVariableData": [variable("TxCtrlr", "TxStartPoint")]})
            self.oem.publish(json.dumps(last))
            check_response(self.oem.wait_for(last["id"]), "GetVariables", V201)
            wait_until(lambda: self.tap.answered(last["id"]), "the tap did not see the last answer")
        finally:
            self.stop()
        log = self.station.log_text()
        self.outputs.append(Output("log", "the station's log (--log-level DEBUG)", log))
        self.outputs += self.tap.outputs()
        for name, csms in (("2.1", self.csms_21), ("2.0.1", self.csms_201)):
            self.outputs += [Output("csms", f"a frame the {name} CSMS received", json.dumps(r.frame))
                             for r in csms.frames]
        return Evidence(self.secrets, self.outputs, log, local, broker, self.expected, self.data_dir)


@pytest.fixture(scope="module")
def evidence(tmp_path_factory: pytest.TempPathFactory) -> Evidence:
    return Scenario(tmp_path_factory.mktemp("secrets-scan")).run()


# --------------------------------------------------------------------------------------------------------------
# The checks
# --------------------------------------------------------------------------------------------------------------

def leaks(outputs: list[Output], secrets: list[Secret]) -> list[str]:
    """One line per (output, secret) that shows the secret, with the form and where."""
    found = []
    searched = [(secret, secret.needles()) for secret in secrets]
    lengths = {len(needle) for _, needles in searched for needle in needles}
    for output in outputs:
        runs = {length: {output.text[i:i + length] for i in range(len(output.text) - length + 1)}
                for length in lengths}
        for secret, needles in searched:
            hits = [(needle, how) for needle, how in needles.items() if needle in runs[len(needle)]]
            if hits:
                needle, how = hits[0]
                at = output.text.find(needle)
                context = output.text[max(at - 80, 0):at + 80].replace("\n", "⏎")
                found.append(f"{output.what}: {secret.label}, {how} ({len(hits)} run(s)), e.g. …{context}…")
    return found


@pytest.mark.parametrize("kind", ["log", "answer", "csms", "cli"])
def test_no_secret_in_any_output(evidence: Evidence, kind: str) -> None:
    """The station's logs at DEBUG, the answers on josev/cs, the CSMS frames, the commands' output."""
    outputs = [o for o in evidence.outputs if o.kind == kind]
    assert outputs, f"nothing of kind {kind} was collected"
    found = leaks(outputs, evidence.secrets)
    assert not found, "secrets leaked:\n" + "\n".join(found)


def test_the_scan_sees_each_form_of_a_leak() -> None:
    """The search finds a secret as a tail, inside Basic auth whatever the identity, in base64 and hex,
    and a private key in its PEM; it does not mistake another key for it."""
    password = OEM_SECURITY_201
    planted = text_secret("planted password", password)
    for text in (f'["frame", "…{password[-FRAGMENT:]}"]', basic_auth(IDENTITY, password), basic_auth("CS-7", password),
                 basic_auth("CS-77", password), base64.b64encode(password.encode()).decode(), password.encode().hex()):
        assert leaks([Output("log", "planted", text)], [planted]), text
    key, other = issue("planted key"), issue("another key")
    assert leaks([Output("log", "a key as PEM", key.key_pem)], [key_secret("planted key", key.key)])
    assert not leaks([Output("log", "another key as PEM", other.key_pem)], [key_secret("planted key", key.key)])


def test_the_log_is_at_debug_and_the_wire_loggers_stay_quiet(evidence: Evidence) -> None:
    """--log-level DEBUG really logs DEBUG lines; websockets' handshake and frame dumps are not among them."""
    log = evidence.station_log
    assert " DEBUG " in log
    assert not re.search(r"^\S+ \S+ DEBUG +websockets", log, re.MULTILINE)
    assert not re.search(r"Authorization(?!Key)", log)  # the header; the 1.6 key's name may be logged


def test_stored_profiles_are_logged_masked(evidence: Evidence) -> None:
    """Each "network profile … stored" line shows every secret field as the mask, and each kind was shown."""
    lines = re.findall(r"network profile of slot (\d+) stored: (\{.*\})$", evidence.station_log, re.MULTILINE)
    assert lines
    shown: set[tuple[str, ...]] = set()
    for _slot, text in lines:
        profile = json.loads(text)
        for *parents, name in PROFILE_SECRETS:
            holder = profile
            for part in parents:
                holder = holder.get(part, {})
            if name in holder:
                assert holder[name] == MASK, text
                shown.add((*parents, name))
    assert shown == set(PROFILE_SECRETS)


def test_listings_show_the_secrets_masked(evidence: Evidence) -> None:
    """``network list --data-dir``: each profile as it was sent, every secret field as the mask."""
    for slot, expected in evidence.expected_listing.items():
        assert evidence.local_listing[slot] == expected, slot
    cli_slot = evidence.local_listing[6]
    assert cli_slot is not None and cli_slot["basicAuthPassword"] == MASK, cli_slot
    # Through the broker the CSMS's view: no password variable at all, VPN and APN only as enabled.
    slots = {s["slot"]: s for s in evidence.broker_listing["slots"]}
    assert [slots[n]["VpnEnabled"] for n in (2, 3, 4, 5)] == ["true"] * 4, slots
    assert [slots[n]["ApnEnabled"] for n in (2, 3, 4, 5)] == ["true"] * 4, slots
    assert all("BasicAuthPassword" not in s for s in slots.values()), slots


def test_the_data_directory_and_the_key_file_are_private(evidence: Evidence) -> None:
    assert stat.S_IMODE(evidence.data_dir.stat().st_mode) == 0o700
    key_file = evidence.data_dir / "private" / "ChargingStationCertificate.key.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

"""The station's OCPP 1.6J link to a real 1.6 CSMS, and the OEM's 1.6 door over MQTT beside it.

The CSMS is test_csms_link's (the ``ocpp`` package's server-side v16 ``ChargePoint`` over real
websockets, which validates every CALL the station sends against the official 1.6 schemas), with a
session class of this module that also answers the status notifications a 1.6 trigger makes the
station send, and notes the action of every CALL it sends. At the end of each test
:func:`check_frames` validates every frame the CSMS received — the station's CALLs, its CALLRESULTs,
its CALLERRORs — against the 1.6 schemas and the 1.6 error spellings (OCPP-J 1.6 §4.2.3, Table 7),
with the pure-Python ``jsonschema``: "every message the station sends is 1.6" is checked explicitly.

Every test waits for events (frames, log lines, MQTT messages), never for time; the heartbeat
interval is 1 s where heartbeats matter and long where a spontaneous one would blur a triggered one.
"""

from __future__ import annotations

import base64
import itertools
import json
import queue
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import jsonschema
import pytest
from ocpp.routing import on
from ocpp.v16 import call

from ocpp_station.station.configuration_keys import catalogue

from ..support import (
    ERROR_CODES,
    OemClient,
    check_request_envelope,
    official_validator,
    response_validator,
    wait_until,
)
from . import test_csms_link
from .test_csms_link import (
    IDENTITY,
    PASSWORD,
    TWO_EVSES,
    Csms,
    CsmsChargePoint16,
    Rig,
    boot_of,
    network_config,
)

rigs, csmss = test_csms_link.rigs, test_csms_link.csmss  # the fixtures: a station and CSMSs of the test's own

V16 = "ocpp1.6"
CONNECTORS = [0, 1, 2, 3]  # TWO_EVSES in 1.6 numbering: 0 = the Charge Point, then 1..3 across the EVSEs
NEW_KEY = "ocpp16-New-AuthorizationKey-0042"  # 16–64 characters: a valid AuthorizationKey
SPELLED_2X_ONLY = {"FormatViolation", "OccurrenceConstraintViolation", "RpcFrameworkError", "MessageTypeNotSupported"}

# unique id → action of every CALL a CSMS of this module sent the station (to validate the CALLRESULT)
_SENT: dict[str, str] = {}


# --------------------------------------------------------------------------------------------------------------
# The CSMS's 1.6 session: answers what the triggers make the station send; remembers what it asked
# --------------------------------------------------------------------------------------------------------------

class Csms16Session(CsmsChargePoint16):
    """CsmsChargePoint16, answering the notifications a (Extended)TriggerMessage asks for (the ``ocpp``
    package would answer NotImplemented to an action without a handler), and noting the action of
    each CALL it sends so that :func:`check_frames` knows which response schema each answer must meet."""

    async def _send(self, message: str) -> None:
        frame = json.loads(message)
        if frame[0] == 2:
            _SENT[frame[1]] = frame[2]
        await super()._send(message)

    @on("DiagnosticsStatusNotification")
    async def on_diagnostics_status(self, status: str) -> Any:
        return self._call_result.DiagnosticsStatusNotification()

    @on("FirmwareStatusNotification")
    async def on_firmware_status(self, status: str) -> Any:
        return self._call_result.FirmwareStatusNotification()

    @on("SignedFirmwareStatusNotification")
    async def on_signed_firmware_status(self, status: str, **_: Any) -> Any:
        return self._call_result.SignedFirmwareStatusNotification()

    @on("LogStatusNotification")
    async def on_log_status(self, status: str, **_: Any) -> Any:
        return self._call_result.LogStatusNotification()


@pytest.fixture(autouse=True)
def csms16_session(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every 1.6 connection of this module's CSMSs gets :class:`Csms16Session` (restored afterwards)."""
    monkeypatch.setitem(test_csms_link.SESSIONS, V16, Csms16Session)
    yield
    _SENT.clear()


# --------------------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------------------

def request16(action: str) -> jsonschema.Validator:
    """The official 1.6 request schema of ``action``: 1.6 names it ``<Action>.json``, not ``<Action>Request.json``
    (support.request_validator looks for the latter, which 1.6 does not have)."""
    return official_validator(V16, action, "")


def check_frames(csms: Csms) -> None:
    """Every frame the station sent ``csms`` conforms to OCPP 1.6: each CALL to its request schema, each
    CALLRESULT to the response schema of the CSMS's CALL it answers, each CALLERROR to the OCPP-J 1.6
    frame (4 elements after the type) with a 1.6 error code, spelled as 1.6 spells it."""
    assert csms.sessions and set(csms.sessions) == {V16}, csms.sessions
    with csms._lock:
        frames = [r.frame for r in csms.frames]
    assert frames, "the CSMS received nothing"
    for frame in frames:
        if frame[0] == 2:
            assert len(frame) == 4, frame
            request16(frame[2]).validate(frame[3])
        elif frame[0] == 3:
            assert len(frame) == 3 and frame[1] in _SENT, f"a CALLRESULT to no CALL of the CSMS: {frame}"
            response_validator(V16, _SENT[frame[1]]).validate(frame[2])
        else:
            assert frame[0] == 4 and len(frame) == 5, frame
            assert frame[2] in ERROR_CODES[V16] and frame[2] not in SPELLED_2X_ONLY, frame
            assert isinstance(frame[3], str) and isinstance(frame[4], dict), frame


def why(rig: Rig) -> Callable[[], str]:
    return lambda: rig.log()[-3000:]


def station16(rigs: Callable[..., Rig], csmss: Callable[..., Csms], extra: str = "",
              **csms_options: Any) -> tuple[Rig, Csms]:
    """A 1.6-only CSMS and a station with TWO_EVSES pointed at it, password and quick retries set."""
    csms = csmss(subprotocols=[V16], **csms_options)
    rig = rigs(network_config(csms.url, extra=extra) + TWO_EVSES)
    rig.prepare()
    return rig, csms


def accepted(rig: Rig, csms: Csms) -> None:
    """Booted and Accepted: the StatusNotifications of connector 0 and 1..3 have arrived."""
    boot_of(rig, csms)
    csms.wait_for("StatusNotification", count=len(CONNECTORS), why=why(rig))


def raw_call(csms: Csms, action: str, payload: Any) -> list[Any]:
    """A CALL written by hand (for what the ``ocpp`` package would refuse to send): the station's answer frame."""
    unique_id = str(uuid.uuid4())
    _SENT[unique_id] = action
    return csms.send_raw(json.dumps([2, unique_id, action, payload]), unique_id, action)


def index_of(csms: Csms, answer: list[Any]) -> int:
    """Where the station's answer ``answer`` is among the frames the CSMS received."""
    with csms._lock:
        return next(i for i, r in enumerate(csms.frames) if r.frame[0] in (3, 4) and r.frame[1] == answer[1])


def sent_after(csms: Csms, index: int, action: str) -> list[dict[str, Any]]:
    """The payloads of the station's ``action`` CALLs received after frame ``index``."""
    with csms._lock:
        return [r.frame[3] for r in csms.frames[index + 1:] if r.action == action]


def configuration(csms: Csms, keys: list[str] | None = None) -> dict[str, Any]:
    """The CSMS's GetConfiguration (``keys`` None: all of them): the CALLRESULT payload as the station sent it."""
    _, answer = csms.call(call.GetConfiguration(key=keys))
    assert answer[0] == 3, answer
    return answer[2]


def by_key(payload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["key"]: entry for entry in payload["configurationKey"]}


def change(csms: Csms, key: str, value: str) -> str:
    result, answer = csms.call(call.ChangeConfiguration(key=key, value=value))
    assert result is not None, answer
    return str(result.status)


def error_of(answer: list[Any]) -> str:
    assert answer[0] == 4, f"a CALLERROR was wanted: {answer}"
    return str(answer[2])


# --------------------------------------------------------------------------------------------------------------
# Negotiation (OCPP-J 1.6 §3.1.2 / 2.x Part 4 §3.1.2): the station offers every version it runs
# --------------------------------------------------------------------------------------------------------------

def test_ocpp16_negotiation(rigs: Callable[..., Rig], csmss: Callable[..., Csms]) -> None:
    rig, csms = station16(rigs, csmss)
    boot = boot_of(rig, csms)
    assert csms.sessions == [V16], csms.sessions  # the 1.6-only CSMS picked 1.6 …
    assert "chargePointVendor" in boot and "chargingStation" not in boot, boot  # … and the station speaks it
    handshakes = [h for h in csms.handshakes if h["authorization"] is not None]
    assert handshakes and handshakes[-1]["subprotocols"] == ["ocpp2.1, ocpp2.0.1, ocpp1.6"], csms.handshakes
    assert handshakes[-1]["path"] == f"/ocpp/{IDENTITY}", handshakes
    csms.wait_for("StatusNotification", count=len(CONNECTORS), why=why(rig))
    check_frames(csms)

    # [csms] ocpp_versions narrows and orders the offer; this CSMS serves both, 2.0.1 preferred.
    both = csmss(subprotocols=["ocpp2.0.1", V16])
    other = rigs(network_config(both.url, extra='\n[csms]\nocpp_versions = ["ocpp1.6", "ocpp2.0.1"]\n'))
    other.prepare()
    boot = boot_of(other, both)
    offered = [h for h in both.handshakes if h["authorization"] is not None]
    assert offered and offered[-1]["subprotocols"] == ["ocpp1.6, ocpp2.0.1"], both.handshakes
    # websockets picks the server's first preference the client offered: 2.0.1, and the station follows it.
    assert both.sessions == ["ocpp2.0.1"], both.sessions
    assert "chargingStation" in boot and "chargePointVendor" not in boot, boot


# --------------------------------------------------------------------------------------------------------------
# 1.6 §4.2 BootNotification, §4.9 StatusNotification, §4.6 Heartbeat (notes §6.4: the 2.x facts behind them)
# --------------------------------------------------------------------------------------------------------------

def test_ocpp16_boot_notification_fields(rigs: Callable[..., Rig], csmss: Callable[..., Csms]) -> None:
    csms = csmss(subprotocols=[V16], interval=1)
    config = (f'[station]\nidentity = "{IDENTITY}"\nvendor = "Vendor16"\nmodel = "M-1616"\n'
              'serial_number = "SN-16-0042"\nfirmware_version = "16.0.42"\n\n'
              f'[network]\ncsms_url = "{csms.url}"\nmessage_timeout = 5\n' + TWO_EVSES)
    rig = rigs(config)
    rig.prepare()

    boot = boot_of(rig, csms)
    assert "reason" not in boot, boot  # 1.6 has no boot reason
    assert boot == {"chargePointVendor": "Vendor16", "chargePointModel": "M-1616",
                    "chargePointSerialNumber": "SN-16-0042", "firmwareVersion": "16.0.42"}, boot

    heartbeats = csms.wait_for("Heartbeat", count=3, timeout=10, why=why(rig))
    statuses = csms.payloads("StatusNotification")
    assert [s["connectorId"] for s in statuses] == CONNECTORS, statuses  # connector 0 first, then 1..N
    assert all(s["errorCode"] == "NoError" and s["status"] == "Available" for s in statuses), statuses
    actions = [r.action for r in csms.frames if r.action]
    last_status = max(i for i, action in enumerate(actions) if action == "StatusNotification")
    assert actions[0] == "BootNotification" and actions.index("Heartbeat") > last_status, actions
    gaps = [b.at - a.at for a, b in itertools.pairwise(heartbeats)]
    assert all(0.7 < gap < 2.0 for gap in gaps), gaps  # the CSMS's interval of 1 s (the default is 60)
    # One home: the interval the 1.6 CSMS gave is the 2.0.1 variable the OEM reads over MQTT.
    assert rig.get("OCPPCommCtrlr", "HeartbeatInterval") == "1"
    check_frames(csms)


# --------------------------------------------------------------------------------------------------------------
# 1.6 §4.2 registration status: Pending (configure, no transactions), Rejected (nothing)
# --------------------------------------------------------------------------------------------------------------

def test_ocpp16_pending_then_accepted(rigs: Callable[..., Rig], csmss: Callable[..., Csms]) -> None:
    # A long interval: the session stays Pending until the CSMS triggers the next boot.
    rig, csms = station16(rigs, csmss, boot_statuses=["Pending", "Accepted"], interval=30)
    boot_of(rig, csms)

    # While Pending the CSMS may read and change the configuration (B02.FR.01) …
    assert by_key(configuration(csms, ["HeartbeatInterval"]))["HeartbeatInterval"]["value"] == "60"  # not 30
    assert change(csms, "ConnectionTimeOut", "77") == "Accepted"
    assert rig.get("TxCtrlr", "EVConnectionTimeOut") == "77"
    # … but not start or stop a transaction: the session answers Rejected (B02.FR.05, 1.6 names).
    for request in (call.RemoteStartTransaction(id_tag="TAG16"), call.RemoteStopTransaction(transaction_id=1)):
        result, answer = csms.call(request)
        assert answer[0] == 3 and result.status == "Rejected", answer
    assert not csms.received("StatusNotification") and not csms.received("Heartbeat")

    # A triggered BootNotification goes now, not at the end of the 30 s; the CSMS accepts it.
    result, _ = csms.call(call.TriggerMessage(requested_message="BootNotification"))
    assert result.status == "Accepted", result
    boots = csms.wait_for("BootNotification", count=2, why=why(rig))
    csms.wait_for("StatusNotification", count=len(CONNECTORS), why=why(rig))
    assert min(r.at for r in csms.received("StatusNotification")) > boots[1].at  # nothing before Accepted
    # Accepted now: RemoteStartTransaction reaches the station, which does not offer it.
    _, answer = csms.call(call.RemoteStartTransaction(id_tag="TAG16"))
    assert error_of(answer) == "NotSupported", answer
    check_frames(csms)


def test_ocpp16_rejected(rigs: Callable[..., Rig], csmss: Callable[..., Csms]) -> None:
    rig, csms = station16(rigs, csmss, boot_statuses=["Rejected"], interval=2)
    boot_of(rig, csms)
    # Whether the CALL comes before or after the Rejected answer, it gets SecurityError (held till then).
    for request in (call.GetConfiguration(), call.ChangeConfiguration(key="HeartbeatInterval", value="9"),
                    call.TriggerMessage(requested_message="StatusNotification")):
        _, answer = csms.call(request)
        assert error_of(answer) == "SecurityError", answer
    assert rig.get("OCPPCommCtrlr", "HeartbeatInterval") == "60"  # the ChangeConfiguration never ran
    csms.wait_for("BootNotification", count=2, timeout=6, why=why(rig))  # retried after the interval
    assert not csms.received("StatusNotification") and not csms.received("Heartbeat")
    check_frames(csms)


# --------------------------------------------------------------------------------------------------------------
# 1.6 §5.8 GetConfiguration, §5.3 ChangeConfiguration, §9: the keys as views of the 2.x variables
# --------------------------------------------------------------------------------------------------------------

def test_ocpp16_configuration_both_doors(rigs: Callable[..., Rig], csmss: Callable[..., Csms]) -> None:
    rig, csms = station16(rigs, csmss, extra="\n[limits]\nitems_per_message_get_variables = 3\n")
    accepted(rig, csms)

    # No key: every key of the catalogue, in its order; AuthorizationKey writable and never shown.
    everything = configuration(csms)
    assert [entry["key"] for entry in everything["configurationKey"]] == [key.key for key in catalogue()]
    assert not everything.get("unknownKey"), everything
    keys = by_key(everything)
    assert keys["AuthorizationKey"] == {"key": "AuthorizationKey", "readonly": False}, keys["AuthorizationKey"]
    assert keys["NumberOfConnectors"] == {"key": "NumberOfConnectors", "readonly": True, "value": "3"}
    assert keys["GetConfigurationMaxKeys"]["value"] == "3", keys["GetConfigurationMaxKeys"]
    assert keys["HeartbeatInterval"] == {"key": "HeartbeatInterval", "readonly": False, "value": "1"}
    assert PASSWORD not in json.dumps(everything)
    # The OEM's 1.6 GetConfiguration over MQTT: the same answer.
    assert rig.oem.result("GetConfiguration", {}, V16) == everything

    # The CSMS changes a key, the OEM reads the 2.0.1 variable behind it.
    assert change(csms, "HeartbeatInterval", "7") == "Accepted"
    assert rig.get("OCPPCommCtrlr", "HeartbeatInterval") == "7"
    # The OEM sets a 2.0.1 variable, the CSMS reads the 1.6 key in front of it.
    rig.set_variables("OCPPCommCtrlr", {"WebSocketPingInterval": "45"})
    asked = ["WebSocketPingInterval", "HeartbeatInterval", "NoSuchKey16"]
    seen = configuration(csms, asked)
    assert by_key(seen)["WebSocketPingInterval"]["value"] == "45", seen
    assert seen["unknownKey"] == ["NoSuchKey16"], seen
    assert rig.oem.result("GetConfiguration", {"key": asked}, V16) == seen

    # Refusals (1.6 §7.13): read-only → Rejected, unknown → NotSupported, a bad value → Rejected, unchanged.
    assert change(csms, "NumberOfConnectors", "5") == "Rejected"
    assert change(csms, "NoSuchKey16", "1") == "NotSupported"
    assert change(csms, "HeartbeatInterval", "abc") == "Rejected"
    assert rig.get("OCPPCommCtrlr", "HeartbeatInterval") == "7"
    assert by_key(configuration(csms, ["NumberOfConnectors"]))["NumberOfConnectors"]["value"] == "3"

    # GetConfigurationMaxKeys = 3: three keys are answered, four are refused with the 1.6 spelling.
    three = ["HeartbeatInterval", "NumberOfConnectors", "AuthorizationKey"]
    assert len(configuration(csms, three)["configurationKey"]) == 3
    _, answer = csms.call(call.GetConfiguration(key=[*three, "WebSocketPingInterval"]))
    assert error_of(answer) == "OccurenceConstraintViolation", answer
    over_mqtt = rig.oem.error("GetConfiguration", {"key": [*three, "WebSocketPingInterval"]}, V16)
    assert over_mqtt["error_code"] == "OccurenceConstraintViolation", over_mqtt
    check_frames(csms)


# --------------------------------------------------------------------------------------------------------------
# Security whitepaper A01 (FR.01, FR.11, FR.12): a new AuthorizationKey from the CSMS
# --------------------------------------------------------------------------------------------------------------

def test_ocpp16_authorization_key_change_reconnects(rigs: Callable[..., Rig], csmss: Callable[..., Csms]) -> None:
    rig, csms = station16(rigs, csmss)
    accepted(rig, csms)

    result, _ = csms.call(call.ChangeConfiguration(key="AuthorizationKey", value=NEW_KEY))
    csms.password = NEW_KEY  # from now on only the new key opens the door (a try before this is retried)
    assert result.status == "Accepted", result

    csms.wait_for("BootNotification", count=2, why=why(rig))  # the station reconnected …
    handshakes = [h for h in csms.handshakes if h["authorization"] is not None]
    expected = "Basic " + base64.b64encode(f"{IDENTITY}:{NEW_KEY}".encode()).decode("ascii")
    assert handshakes[-1]["authorization"] == expected, handshakes  # … with the new credentials
    csms.wait_for("StatusNotification", count=2 * len(CONNECTORS), why=why(rig))

    # Never shown: not by GetConfiguration (either door), not in the log.
    for shown in (configuration(csms), configuration(csms, ["AuthorizationKey"]),
                  rig.oem.result("GetConfiguration", {"key": ["AuthorizationKey"]}, V16)):
        assert by_key(shown)["AuthorizationKey"] == {"key": "AuthorizationKey", "readonly": False}, shown
    with csms._lock:
        assert not [r.frame for r in csms.frames if NEW_KEY in json.dumps(r.frame)]
    log = rig.log()
    token = expected.removeprefix("Basic ")
    assert NEW_KEY not in log and token not in log and PASSWORD not in log
    check_frames(csms)


# --------------------------------------------------------------------------------------------------------------
# 1.6 §5.17 TriggerMessage, and the security whitepaper's ExtendedTriggerMessage
# --------------------------------------------------------------------------------------------------------------

def trigger(csms: Csms, request: Any, action: str, count: int, rig: Rig) -> tuple[int, list[dict[str, Any]]]:
    """``request`` is Accepted, nothing of ``action`` arrives before its answer, ``count`` of them after it:
    (the answer's index among the frames, their payloads)."""
    before = len(csms.received(action))
    result, answer = csms.call(request)
    assert answer[0] == 3 and result.status == "Accepted", answer
    index = index_of(csms, answer)
    with csms._lock:
        assert sum(r.action == action for r in csms.frames[:index]) == before, "sent before the answer"
    wait_until(lambda: len(sent_after(csms, index, action)) >= count,
               f"no {count} {action} after {request}:\n{rig.log()[-3000:]}")
    return index, sent_after(csms, index, action)


def refused(csms: Csms, request: Any, status: str) -> int:
    result, answer = csms.call(request)
    assert answer[0] == 3 and result.status == status, answer
    return index_of(csms, answer)


def test_ocpp16_trigger_message(rigs: Callable[..., Rig], csmss: Callable[..., Csms]) -> None:
    # A heartbeat interval of 60 s: no Heartbeat comes during the test but a triggered one.
    rig, csms = station16(rigs, csmss, interval=60)
    accepted(rig, csms)
    idle = [{"status": "Idle"}]

    # StatusNotification: no connectorId → 0 and every connector; a connectorId → that one only.
    _, statuses = trigger(csms, call.TriggerMessage(requested_message="StatusNotification"),
                          "StatusNotification", len(CONNECTORS), rig)
    assert [s["connectorId"] for s in statuses] == CONNECTORS, statuses
    one, _ = trigger(csms, call.TriggerMessage(requested_message="StatusNotification", connector_id=2),
                     "StatusNotification", 1, rig)
    # The outbox sends in order: once the next triggered message is here, everything of the one before is.
    _, diagnostics = trigger(csms, call.TriggerMessage(requested_message="DiagnosticsStatusNotification"),
                             "DiagnosticsStatusNotification", 1, rig)
    assert diagnostics == idle
    assert [s["connectorId"] for s in sent_after(csms, one, "StatusNotification")] == [2]

    # A connector the station does not have → Rejected; MeterValues (no meter) → NotImplemented.
    unknown = refused(csms, call.TriggerMessage(requested_message="StatusNotification", connector_id=99), "Rejected")
    refused(csms, call.TriggerMessage(requested_message="MeterValues"), "NotImplemented")
    _, heartbeats = trigger(csms, call.TriggerMessage(requested_message="Heartbeat"), "Heartbeat", 1, rig)
    assert heartbeats == [{}]
    _, firmware = trigger(csms, call.TriggerMessage(requested_message="FirmwareStatusNotification"),
                          "FirmwareStatusNotification", 1, rig)
    assert firmware == idle
    assert not sent_after(csms, unknown, "StatusNotification") and not csms.received("MeterValues")

    # ExtendedTriggerMessage: the signed firmware status, the log status, a StatusNotification.
    signed, signed_firmware = trigger(csms, call.ExtendedTriggerMessage(requested_message="FirmwareStatusNotification"),
                                      "SignedFirmwareStatusNotification", 1, rig)
    assert signed_firmware == idle
    _, logs = trigger(csms, call.ExtendedTriggerMessage(requested_message="LogStatusNotification"),
                      "LogStatusNotification", 1, rig)
    assert logs == idle
    assert not sent_after(csms, signed, "FirmwareStatusNotification")  # the signed one, not the plain one
    _, extended = trigger(csms, call.ExtendedTriggerMessage(requested_message="StatusNotification", connector_id=1),
                          "StatusNotification", 1, rig)
    assert [s["connectorId"] for s in extended] == [1], extended
    refused(csms, call.ExtendedTriggerMessage(requested_message="MeterValues"), "NotImplemented")

    # BootNotification while Accepted: 1.6 sends it (no F06.FR.17), and what follows an Accepted boot follows.
    index, boots = trigger(csms, call.TriggerMessage(requested_message="BootNotification"), "BootNotification", 1, rig)
    assert "chargePointVendor" in boots[0] and "reason" not in boots[0], boots
    wait_until(lambda: len(sent_after(csms, index, "StatusNotification")) >= len(CONNECTORS),
               f"no StatusNotifications after the triggered boot:\n{rig.log()[-3000:]}")
    assert [s["connectorId"] for s in sent_after(csms, index, "StatusNotification")] == CONNECTORS
    assert len(csms.received("Heartbeat")) == 1  # the triggered one only
    check_frames(csms)


# --------------------------------------------------------------------------------------------------------------
# 1.6 §5.14 Reset: Soft and Hard alike re-establish the connection
# --------------------------------------------------------------------------------------------------------------

def test_ocpp16_reset(rigs: Callable[..., Rig], csmss: Callable[..., Csms]) -> None:
    rig, csms = station16(rigs, csmss)
    accepted(rig, csms)
    for round_, kind in enumerate(("Soft", "Hard"), start=2):
        result, answer = csms.call(call.Reset(type=kind))
        assert answer[0] == 3 and result.status == "Accepted", answer
        index = index_of(csms, answer)
        boots = csms.wait_for("BootNotification", count=round_, why=why(rig))
        with csms._lock:
            assert csms.frames.index(boots[-1]) > index  # answered before the reconnection
        csms.wait_for("StatusNotification", count=round_ * len(CONNECTORS), why=why(rig))
    assert len(csms.sessions) == 3, csms.sessions  # a new websocket connection per Reset
    check_frames(csms)


# --------------------------------------------------------------------------------------------------------------
# OCPP-J 1.6 §4.2.3, Table 7: the error codes, spelled as 1.6 spells them
# --------------------------------------------------------------------------------------------------------------

def test_ocpp16_rpc_errors(rigs: Callable[..., Rig], csmss: Callable[..., Csms]) -> None:
    rig, csms = station16(rigs, csmss)
    accepted(rig, csms)

    result, answer = csms.call(call.DataTransfer(vendor_id="com.example.ocpp16"))
    assert answer[0] == 3 and result.status == "UnknownVendorId", answer
    # Actions 1.6 has, which this station does not offer: NotSupported.
    for request in (call.RemoteStartTransaction(id_tag="TAG16"), call.UnlockConnector(connector_id=1)):
        _, answer = csms.call(request)
        assert error_of(answer) == "NotSupported", answer
    # An action 1.6 does not have: a 2.x one (the dispatcher's choice of the two), one of no version.
    answer = raw_call(csms, "GetVariables", {"getVariableData": [
        {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}]})
    assert error_of(answer) in {"NotImplemented", "NotSupported"} & ERROR_CODES[V16], answer
    assert error_of(raw_call(csms, "NoSuchAction16", {})) == "NotImplemented"  # "not known by the receiver"
    # A payload that breaks the schema: 1.6 spellings only.
    answer = raw_call(csms, "ChangeConfiguration", {"key": 5, "value": "1"})
    assert error_of(answer) in {"TypeConstraintViolation", "FormationViolation"}, answer
    answer = raw_call(csms, "ChangeConfiguration", {"key": "HeartbeatInterval"})  # value missing
    assert error_of(answer) in {"OccurenceConstraintViolation", "FormationViolation"}, answer
    # The session survives all of that.
    count = len(csms.received("Heartbeat"))
    csms.wait_for("Heartbeat", count=count + 1, timeout=5, why=why(rig))
    check_frames(csms)


# --------------------------------------------------------------------------------------------------------------
# The OEM's door: a 1.6 TriggerMessage over MQTT, the station's 1.6 requests on josev/cs
# --------------------------------------------------------------------------------------------------------------

def next_request(oem: OemClient, timeout: float = 5.0) -> dict[str, Any]:
    """The station's next request on josev/cs, whatever its action: its envelope checked, its version 1.6,
    its payload valid against the 1.6 request schema."""
    try:
        request = oem.requests.get(timeout=timeout)
    except queue.Empty:
        raise TimeoutError("the station sent the OEM no request") from None
    check_request_envelope(request)
    data = request["data"]
    assert data["ocpp_version"] == V16, request
    request16(data["message_name"]).validate(data["payload"])
    return data


def test_ocpp16_triggered_messages_over_mqtt(rigs: Callable[..., Rig]) -> None:
    rig = rigs(f'[station]\nidentity = "{IDENTITY}"\n\n[csms]\nenabled = false\n' + TWO_EVSES)

    answer = rig.oem.result("TriggerMessage", {"requestedMessage": "StatusNotification"}, V16)
    assert answer == {"status": "Accepted"}, answer
    statuses = [next_request(rig.oem) for _ in CONNECTORS]
    assert [s["message_name"] for s in statuses] == ["StatusNotification"] * len(CONNECTORS), statuses
    assert [s["payload"]["connectorId"] for s in statuses] == CONNECTORS, statuses

    # One connector, then a Heartbeat: the next two requests are exactly those (nothing else in between).
    for payload in ({"requestedMessage": "StatusNotification", "connectorId": 2}, {"requestedMessage": "Heartbeat"}):
        assert rig.oem.result("TriggerMessage", payload, V16) == {"status": "Accepted"}
    single, heartbeat = next_request(rig.oem), next_request(rig.oem)
    assert single["message_name"] == "StatusNotification" and single["payload"]["connectorId"] == 2, single
    assert heartbeat["message_name"] == "Heartbeat" and heartbeat["payload"] == {}, heartbeat

    extended = rig.oem.result("ExtendedTriggerMessage", {"requestedMessage": "LogStatusNotification"}, V16)
    assert extended == {"status": "Accepted"}, extended
    log_status = next_request(rig.oem)
    assert log_status == {"ocpp_version": V16, "message_name": "LogStatusNotification",
                          "payload": {"status": "Idle"}}, log_status
    assert rig.oem.result("TriggerMessage", {"requestedMessage": "StatusNotification", "connectorId": 99},
                          V16) == {"status": "Rejected"}
    assert "connecting to" not in rig.log(), "the CSMS link is disabled"

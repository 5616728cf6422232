"""Issue 13: one home for each connection fact, seen through both doors and on the wire.

Each test is named after the requirement it proves and failed on the code before issue 13 (097ac16).
The CSMS is the one of :mod:`.test_csms_link` (the ``ocpp`` package's ChargePoint, strict schema
validation of everything the station sends in the version the connection negotiated, real
websockets, TLS where a test needs it); every station runs on a mosquitto of its own, and every answer
the OEM receives is checked by :func:`tests.support.check_response`.

What the CSMS sees is the evidence: the ``Authorization`` header and the offered subprotocols of
each handshake, the negotiated subprotocol of each session, and the frames the station sends.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from ..support import free_port
from . import test_csms_link
from .test_csms_link import (
    IDENTITY,
    PASSWORD,
    Csms,
    Issued,
    Rig,
    boot_of,
    issue,
    network_config,
    server_context,
    wait_logged,
)

rigs, csmss = test_csms_link.rigs, test_csms_link.csmss  # the fixtures: a station and CSMSs of the test's own

V16, V201, V21 = "ocpp1.6", "ocpp2.0.1", "ocpp2.1"
BOTH_OFFERED = ["ocpp2.1, ocpp2.0.1, ocpp1.6"]  # the Sec-WebSocket-Protocol header, as the CSMS received it
PROFILE_PASSWORD = "profile-own-Pa55word-0001"  # a 2.1 profile's basicAuthPassword
NEW_PASSWORD = "security-ctrlr-Pa55word-02"  # SecurityCtrlr.BasicAuthPassword set later
SLOT_PASSWORD = "slot-2-Pa55word-via-NC-003"  # NetworkConfiguration[2].BasicAuthPassword


def dead_url() -> str:
    """A CSMS URL where nothing listens."""
    return f"ws://127.0.0.1:{free_port()}/ocpp"


def basic(identity: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{identity}:{password}".encode()).decode("ascii")


def nc(slot: int) -> dict[str, Any]:
    """The 2.1 component NetworkConfiguration of ``slot``."""
    return {"name": "NetworkConfiguration", "instance": str(slot)}


def set_one(rig: Rig, component: dict[str, Any], variable: str | dict[str, Any], value: str,
            version: str = V21) -> dict[str, Any]:
    """One SetVariables element over MQTT; its setVariableResult."""
    var = {"name": variable} if isinstance(variable, str) else variable
    [result] = rig.oem.result("SetVariables", {"setVariableData": [
        {"attributeValue": value, "component": component, "variable": var}]}, version)["setVariableResult"]
    return result


def get_one(rig: Rig, component: dict[str, Any], variable: str | dict[str, Any], version: str = V21) -> str:
    """One GetVariables element over MQTT that must be Accepted; its value."""
    var = {"name": variable} if isinstance(variable, str) else variable
    [result] = rig.oem.result("GetVariables", {"getVariableData": [{"component": component, "variable": var}]},
                              version)["getVariableResult"]
    assert result["attributeStatus"] == "Accepted", result
    return result["attributeValue"]


def outcome(result: dict[str, Any]) -> tuple[str, str | None]:
    """(attributeStatus, reasonCode) of a Set/GetVariableResult."""
    return result["attributeStatus"], (result.get("attributeStatusInfo") or {}).get("reasonCode")


def set_profile(rig: Rig, slot: int, version: str = V201, **data: Any) -> dict[str, Any]:
    """SetNetworkProfile over MQTT: a complete profile 1 (ws://) with ``data`` on top (None drops a field)."""
    connection = {"ocppInterface": "Wired0", "ocppTransport": "JSON", "ocppVersion": "OCPP20",
                  "securityProfile": 1, "messageTimeout": 5, **data}
    return rig.oem.result("SetNetworkProfile", {"configurationSlot": slot, "connectionData": {
        k: v for k, v in connection.items() if v is not None}}, version)


def set_priority(rig: Rig, value: str) -> tuple[str, str | None]:
    return outcome(set_one(rig, {"name": "OCPPCommCtrlr"}, "NetworkConfigurationPriority", value, V201))


def reset(rig: Rig) -> None:
    """Reset over MQTT (the same handler as the CSMS's): the link walks the priority list from the top."""
    assert rig.oem.result("Reset", {"type": "Immediate"})["status"] == "Accepted"


def wait_status(rig: Rig, csms: Csms, count: int = 1) -> None:
    """The session is established: the station sends StatusNotification only after an Accepted boot,
    and records the connection (active slot, negotiated version, M05.FR.13) just before."""
    csms.wait_for("StatusNotification", count=count, why=lambda: rig.log()[-3000:])


def handshakes(csms: Csms) -> list[dict[str, Any]]:
    """Every handshake that reached the CSMS, oldest first (when it sent a 401: ``csms.refused``)."""
    with csms._lock:
        return list(csms.handshakes)


# ==========================================================================================================
# Passwords and identities: the one the station uses is the one the CSMS receives
# ==========================================================================================================

def test_a01_b09_fr_27_a_new_basic_auth_password_takes_effect_over_the_profiles_own(
        rigs: Callable[..., Rig], csmss: Callable[..., Csms]) -> None:
    identity = "CS-FR27-profile-ident"
    csms = csmss(subprotocols=[V21], password=PROFILE_PASSWORD)
    rig = rigs(network_config(dead_url()))
    rig.prepare(password=None)
    assert set_profile(rig, 2, V21, ocppCsmsUrl=csms.url, ocppVersion="OCPP21", identity=identity,
                       basicAuthPassword=PROFILE_PASSWORD) == {"status": "Accepted"}
    assert set_priority(rig, "2,1") == ("RebootRequired", None)
    # No Reset here: slot 1 is dead, so the walk takes the new priority at its next round by itself. A
    # Reset as well could land just after that round connected, and rightly make a second connection.

    boot_of(rig, csms)  # slot 2: the profile's identity and password
    wait_status(rig, csms)
    assert csms.sessions == [V21]
    [first] = handshakes(csms)
    assert first["path"] == f"/ocpp/{identity}" and first["authorization"] == basic(identity, PROFILE_PASSWORD)
    assert get_one(rig, {"name": "OCPPCommCtrlr"}, "ActiveNetworkProfile") == "2"

    # A01 / B09.FR.27 (2.1 errata): SecurityCtrlr.BasicAuthPassword set now clears the active profile's own.
    assert outcome(set_one(rig, {"name": "SecurityCtrlr"}, "BasicAuthPassword", NEW_PASSWORD)) == ("Accepted", None)
    csms.password = NEW_PASSWORD  # the CSMS now accepts only the new password
    reset(rig)
    csms.wait_for("BootNotification", count=2, why=lambda: rig.log()[-3000:])
    wait_status(rig, csms, count=2)
    *_, second = handshakes(csms)
    assert second["path"] == f"/ocpp/{identity}", second  # the profile's identity stays
    assert second["authorization"] == basic(identity, NEW_PASSWORD), second
    assert not csms.refused, "a handshake carried the old password"
    assert csms.sessions == [V21, V21]
    log = rig.log()
    assert PROFILE_PASSWORD not in log and NEW_PASSWORD not in log


def test_offered_versions_come_from_the_station_not_the_profile(rigs: Callable[..., Rig],
                                                                csmss: Callable[..., Csms]) -> None:
    only_201, only_21 = csmss(), csmss(subprotocols=[V21])
    rig = rigs(network_config(only_201.url))  # slot 1: [network], a 2.0.1 profile (OCPP20)
    rig.prepare()
    boot_of(rig, only_201)
    wait_status(rig, only_201)
    assert only_201.sessions == [V201]
    assert only_201.handshakes[-1]["subprotocols"] == BOTH_OFFERED

    # A 2.1 profile without ocppVersion, to a CSMS that serves only 2.1: a 2.1 session.
    assert set_profile(rig, 2, V21, ocppCsmsUrl=only_21.url, ocppVersion=None) == {"status": "Accepted"}
    # A 2.0.1 profile that says OCPP20, to the same CSMS: still a 2.1 session (the field is informative).
    assert set_profile(rig, 3, V201, ocppCsmsUrl=only_21.url, ocppVersion="OCPP20") == {"status": "Accepted"}
    assert set_priority(rig, "2,1") == ("RebootRequired", None)
    reset(rig)
    boot_of(rig, only_21)
    wait_status(rig, only_21)  # the BootNotification passed the 2.1 schema: the CSMS accepted it
    assert get_one(rig, {"name": "OCPPCommCtrlr"}, "ActiveNetworkProfile") == "2"

    assert set_priority(rig, "3,1") == ("RebootRequired", None)
    reset(rig)
    only_21.wait_for("BootNotification", count=2, why=lambda: rig.log()[-3000:])
    wait_status(rig, only_21, count=2)
    assert get_one(rig, {"name": "OCPPCommCtrlr"}, "ActiveNetworkProfile") == "3"
    assert only_21.sessions == [V21, V21]
    assert [h["subprotocols"] for h in only_21.handshakes] == [BOTH_OFFERED, BOTH_OFFERED]
    assert len(only_201.sessions) == 1


def test_b09_fr_28_identity_and_message_timeout_follow_the_active_profile(rigs: Callable[..., Rig],
                                                                          csmss: Callable[..., Csms]) -> None:
    identity = "CS-FR28-profile-ident"
    csms = csmss(password=PROFILE_PASSWORD)  # serves 2.0.1 only
    rig = rigs(network_config(dead_url()))  # message_timeout = 5
    rig.prepare(password=None)
    assert set_profile(rig, 2, V21, ocppCsmsUrl=csms.url, ocppVersion=None, identity=identity,
                       basicAuthPassword=PROFILE_PASSWORD, messageTimeout=17) == {"status": "Accepted"}
    assert set_profile(rig, 3, V21, ocppCsmsUrl=dead_url(), ocppVersion=None) == {"status": "Accepted"}
    timeout_default = {"name": "MessageTimeout", "instance": "Default"}
    assert get_one(rig, {"name": "SecurityCtrlr"}, "Identity") == IDENTITY  # slot 1 is active
    assert get_one(rig, {"name": "OCPPCommCtrlr"}, timeout_default) == "5"
    assert get_one(rig, nc(2), "OcppVersion") == "OCPP21"  # not connected yet: what is offered first

    assert set_priority(rig, "2,1") == ("RebootRequired", None)
    reset(rig)
    boot_of(rig, csms)
    wait_status(rig, csms)
    assert handshakes(csms)[-1]["path"] == f"/ocpp/{identity}"
    for version in (V201, V21):  # B09.FR.28: SecurityCtrlr shows the active profile's values
        assert get_one(rig, {"name": "SecurityCtrlr"}, "Identity", version) == identity
        assert get_one(rig, {"name": "OCPPCommCtrlr"}, timeout_default, version) == "17"
    assert get_one(rig, nc(2), "Identity") == identity
    assert get_one(rig, nc(2), "OcppVersion") == "OCPP201"  # the version negotiated on slot 2
    # A profile without identity or ocppVersion: the station's identity, and the version offered first.
    assert get_one(rig, nc(3), "Identity") == IDENTITY
    assert get_one(rig, nc(3), "OcppVersion") == "OCPP21"
    assert get_one(rig, nc(1), "OcppVersion") == "OCPP20"  # [network] says OCPP20


def test_b09_2_1_set_network_profile_refuses_a_short_basic_auth_password(rigs: Callable[..., Rig]) -> None:
    rig = rigs(network_config(dead_url()))
    short, shortest_ok, longest = "p" * 15, "q" * 16, "r" * 64
    answer = set_profile(rig, 2, V21, ocppCsmsUrl=dead_url(), ocppVersion=None, identity="CS-short",
                         basicAuthPassword=short)
    assert answer["status"] == "Rejected", answer
    assert answer["statusInfo"]["reasonCode"] == "InvalidNetworkConf", answer
    assert short not in json.dumps(answer)
    assert get_one(rig, nc(2), "OcppCsmsUrl") == ""  # nothing stored
    for slot, password in ((2, shortest_ok), (3, longest)):
        assert set_profile(rig, slot, V21, ocppCsmsUrl=dead_url(), ocppVersion=None,
                           basicAuthPassword=password) == {"status": "Accepted"}
    # One rule, wherever the password arrives (A00.FR.205: 16 characters at least).
    for version in (V201, V21):
        status, reason = outcome(set_one(rig, {"name": "SecurityCtrlr"}, "BasicAuthPassword", short, version))
        assert status == "Rejected" and reason in ("ValueOutOfRange", "InvalidValue"), (status, reason)
    status, reason = outcome(set_one(rig, nc(4), "BasicAuthPassword", short))
    assert status == "Rejected" and reason in ("ValueOutOfRange", "InvalidValue"), (status, reason)
    assert short not in rig.log() and longest not in rig.log()


# ==========================================================================================================
# NetworkConfiguration[slot] written with SetVariables (2.1): B09.FR.22–25, 32–35
# ==========================================================================================================

def test_b09_fr_23_24_network_configuration_basic_auth_password_is_the_slots_password(
        rigs: Callable[..., Rig], csmss: Callable[..., Csms]) -> None:
    first, second = csmss(), csmss(password=SLOT_PASSWORD)
    rig = rigs(network_config(first.url))
    rig.prepare()  # SecurityCtrlr.BasicAuthPassword = PASSWORD: slot 1's
    boot_of(rig, first)
    assert set_profile(rig, 2, V201, ocppCsmsUrl=second.url) == {"status": "Accepted"}
    # B09.FR.23/24: slot 2 is not in NetworkConfigurationPriority: validated, stored, Accepted.
    assert outcome(set_one(rig, nc(2), "BasicAuthPassword", SLOT_PASSWORD)) == ("Accepted", None)

    assert set_priority(rig, "2,1") == ("RebootRequired", None)
    reset(rig)
    boot_of(rig, second)
    wait_status(rig, second)
    [handshake] = handshakes(second)
    assert handshake["authorization"] == basic(IDENTITY, SLOT_PASSWORD), handshake
    assert not second.refused
    assert get_one(rig, {"name": "OCPPCommCtrlr"}, "ActiveNetworkProfile") == "2"

    # B09.FR.25: a value that fails validation is Rejected, and nothing is stored.
    for variable, value in (("OcppCsmsUrl", "http://x"), ("MessageTimeout", "0"), ("BasicAuthPassword", "p" * 10),
                            ("OcppTransport", "SOAP"), ("OcppInterface", "Wired3"), ("SecurityProfile", "4"),
                            ("Identity", "CS:colon")):
        status, reason = outcome(set_one(rig, nc(3), variable, value))
        assert status == "Rejected" and reason in ("InvalidValue", "ValueOutOfRange"), (variable, status, reason)
    assert get_one(rig, nc(3), "OcppCsmsUrl") == "" and get_one(rig, nc(3), "MessageTimeout") == ""
    assert SLOT_PASSWORD not in rig.log()


def test_b09_fr_22_network_configuration_of_a_slot_in_the_priority_is_rejected_active_network_conf(
        rigs: Callable[..., Rig], csmss: Callable[..., Csms]) -> None:
    csms = csmss()
    rig = rigs(network_config(csms.url))
    rig.prepare()
    boot_of(rig, csms)
    assert set_profile(rig, 2, V201, ocppCsmsUrl=csms.url, messageTimeout=7) == {"status": "Accepted"}
    assert set_priority(rig, "2,1") == ("RebootRequired", None)

    # Slot 2 is in the priority list, slot 1 in it and active: every variable is refused.
    for slot, variable, value in ((2, "BasicAuthPassword", "another-Pa55word-that-is-wrong"),
                                  (2, "MessageTimeout", "9"), (2, "OcppCsmsUrl", dead_url()),
                                  (2, "Identity", "CS-other"), (1, "OcppCsmsUrl", dead_url()),
                                  (1, "SecurityProfile", "2")):
        assert outcome(set_one(rig, nc(slot), variable, value)) == ("Rejected", "ActiveNetworkConf"), (slot, variable)
    assert get_one(rig, nc(2), "MessageTimeout") == "7"
    assert get_one(rig, nc(2), "OcppCsmsUrl") == csms.url
    assert get_one(rig, nc(2), "Identity") == IDENTITY
    assert get_one(rig, nc(1), "OcppCsmsUrl") == csms.url

    # Nothing changed: slot 2 still connects, with SecurityCtrlr.BasicAuthPassword.
    reset(rig)
    csms.wait_for("BootNotification", count=2, why=lambda: rig.log()[-3000:])
    wait_status(rig, csms, count=2)
    assert get_one(rig, {"name": "OCPPCommCtrlr"}, "ActiveNetworkProfile") == "2"
    assert handshakes(csms)[-1]["authorization"] == basic(IDENTITY, PASSWORD)
    assert not csms.refused


def test_b09_fr_22_the_active_slot_is_refused_even_when_not_in_the_priority(
        rigs: Callable[..., Rig], csmss: Callable[..., Csms]) -> None:
    """B09.FR.22 names the priority list; the active slot is "potentially used during a reconnection" too
    (B10.FR.07 falls back to it) and SetNetworkProfile already refuses it with ActiveNetworkConf."""
    csms = csmss()
    rig = rigs(network_config(csms.url))
    rig.prepare()
    boot_of(rig, csms)
    assert set_profile(rig, 2, V201, ocppCsmsUrl=dead_url()) == {"status": "Accepted"}
    assert set_priority(rig, "2") == ("RebootRequired", None)  # slot 1 stays active until the next connection
    answer = set_profile(rig, 1, V201, ocppCsmsUrl=dead_url())
    assert answer["status"] == "Rejected" and answer["statusInfo"]["reasonCode"] == "ActiveNetworkConf", answer
    result = set_one(rig, nc(1), "SecurityProfile", "2")
    assert outcome(result) == ("Rejected", "ActiveNetworkConf"), result
    assert get_one(rig, {"name": "SecurityCtrlr"}, "SecurityProfile") == "1"  # the live connection is profile 1


@pytest.mark.parametrize("priority_first", [True, False], ids=["priority-first", "slot-first"])
def test_b09_fr_22_33_one_set_variables_cannot_change_a_slot_it_adds_to_the_priority(
        rigs: Callable[..., Rig], priority_first: bool) -> None:
    """The elements of one SetVariables are checked in order against what the earlier ones did: a
    slot named by the new NetworkConfigurationPriority cannot be changed by the same request (B09.FR.22),
    and the priority cannot name a slot the same request makes invalid (B09.FR.33/34, A05.FR.02/03)."""
    rig = rigs(network_config(dead_url()))
    assert set_profile(rig, 3, V21, ocppCsmsUrl=dead_url()) == {"status": "Accepted"}  # ws://, profile 1
    priority = {"attributeValue": "3,1", "component": {"name": "OCPPCommCtrlr"},
                "variable": {"name": "NetworkConfigurationPriority"}}
    change = {"attributeValue": "3", "component": nc(3), "variable": {"name": "SecurityProfile"}}
    elements = [priority, change] if priority_first else [change, priority]
    results = rig.oem.result("SetVariables", {"setVariableData": elements}, V21)["setVariableResult"]
    statuses = [outcome(r) for r in results]
    in_priority = get_one(rig, {"name": "OCPPCommCtrlr"}, "NetworkConfigurationPriority") == "3,1"
    changed = get_one(rig, nc(3), "SecurityProfile") == "3"
    # ws:// with security profile 3, no CSMS root, no station certificate: never a slot of the priority list.
    assert not (in_priority and changed), statuses
    assert statuses == ([("RebootRequired", None), ("Rejected", "ActiveNetworkConf")] if priority_first
                        else [("Accepted", None), ("Rejected", "InvalidNetworkConf")]), statuses


@pytest.mark.slow
def test_b09_fr_32_35_network_configuration_security_profile_below_the_active_one_is_rejected(
        rigs: Callable[..., Rig]) -> None:
    secure_url = f"wss://127.0.0.1:{free_port()}/ocpp"
    rig = rigs(network_config(secure_url, security_profile=3))
    assert get_one(rig, {"name": "SecurityCtrlr"}, "SecurityProfile") == "3"
    for value in ("2", "1"):  # B09.FR.35: AllowSecurityProfileDowngrade false
        assert outcome(set_one(rig, nc(3), "SecurityProfile", value)) == ("Rejected", "NoSecurityDowngrade"), value
    assert get_one(rig, nc(3), "SecurityProfile") == ""
    assert outcome(set_one(rig, nc(3), "SecurityProfile", "3")) == ("Accepted", None)

    rig.station.kill()
    (rig.workdir / "station.toml").write_text(
        network_config(secure_url, security_profile=3, extra="allow_security_profile_downgrade = true\n"))
    rig.station.start()
    assert get_one(rig, {"name": "SecurityCtrlr"}, "AllowSecurityProfileDowngrade") == "true"
    # B09.FR.32: never down to 1, even with AllowSecurityProfileDowngrade; 3 → 2 is allowed.
    assert outcome(set_one(rig, nc(4), "SecurityProfile", "1")) == ("Rejected", "NoSecurityDowngrade")
    assert get_one(rig, nc(4), "SecurityProfile") == ""
    assert outcome(set_one(rig, nc(4), "SecurityProfile", "2")) == ("Accepted", None)
    assert get_one(rig, nc(4), "SecurityProfile") == "2"


def test_b09_fr_33_34_a_slot_added_to_the_priority_must_hold_a_complete_profile(
        rigs: Callable[..., Rig], csmss: Callable[..., Csms]) -> None:
    csms = csmss()
    rig = rigs(network_config(dead_url()))
    rig.prepare()
    assert outcome(set_one(rig, nc(3), "OcppCsmsUrl", csms.url)) == ("Accepted", None)
    for variable, value in (("OcppInterface", "Wired0"), ("OcppTransport", "JSON"), ("MessageTimeout", "5"),
                            ("SecurityProfile", "1")):
        status, reason = set_priority(rig, "3,1")  # B09.FR.34: slot 3 is not complete yet
        assert (status, reason) == ("Rejected", "InvalidNetworkConf"), (variable, status, reason)
        assert outcome(set_one(rig, nc(3), variable, value)) == ("Accepted", None), variable
    assert get_one(rig, {"name": "OCPPCommCtrlr"}, "NetworkConfigurationPriority", V201) == "1"
    assert set_priority(rig, "3,1") == ("RebootRequired", None)  # B09.FR.33
    reset(rig)
    boot_of(rig, csms)
    wait_status(rig, csms)
    assert get_one(rig, {"name": "OCPPCommCtrlr"}, "ActiveNetworkProfile") == "3"
    assert handshakes(csms)[-1]["path"] == f"/ocpp/{IDENTITY}"


# ==========================================================================================================
# B06.FR.17 on the CSMS door; B10 a Reset during the walk
# ==========================================================================================================

def test_b06_fr_17_the_csms_door_measures_the_call_frame(rigs: Callable[..., Rig],
                                                         csmss: Callable[..., Csms]) -> None:
    csms = csmss()
    rig = rigs(network_config(csms.url, extra="\n[limits]\nbytes_per_message_get_variables = 600\n"))
    rig.prepare()
    boot_of(rig, csms)
    wait_status(rig, csms)

    def frames(size: int) -> tuple[str, str, str]:
        """(id, the compact CALL of exactly ``size`` bytes, the same CALL padded with whitespace)."""
        unique_id = str(uuid.uuid4())
        for length in range(1, 51):
            elements = [*({"component": {"name": "C" * 50}, "variable": {"name": "V"}} for _ in range(4)),
                        {"component": {"name": "D" * 50}, "variable": {"name": "W" * length}}]
            frame = [2, unique_id, "GetVariables", {"getVariableData": elements}]
            compact = json.dumps(frame, separators=(",", ":"))
            if len(compact) == size:
                return unique_id, compact, json.dumps(frame, indent=8)
        raise AssertionError(f"no frame of {size} bytes")

    unique_id, compact, padded = frames(600)
    assert len(padded.encode()) > 900
    answer = csms.send_raw(padded, unique_id, "GetVariables")
    assert answer[0] == 3, answer  # 600 bytes as an OCPP message: within BytesPerMessage
    assert len(answer[2]["getVariableResult"]) == 5
    unique_id, compact, _ = frames(601)
    answer = csms.send_raw(compact, unique_id, "GetVariables")
    assert answer[0] == 4 and answer[2] == "FormatViolation", answer
    assert answer[4] == {"limit": 600, "received": 601}, answer
    count = len(csms.received("Heartbeat"))
    csms.wait_for("Heartbeat", count=count + 1, timeout=5)  # the session survives


def test_b10_a_reset_accepted_while_reconnecting_restarts_the_walk(rigs: Callable[..., Rig],
                                                                   csmss: Callable[..., Csms]) -> None:
    csms = csmss()
    rig = rigs(network_config(dead_url()))
    rig.prepare(NetworkProfileConnectionAttempts="50")
    assert set_profile(rig, 2, V201, ocppCsmsUrl=csms.url) == {"status": "Accepted"}
    wait_logged(rig, "attempt 2/50")  # the walk is on slot 1, with 48 more attempts to go
    assert set_priority(rig, "2,1") == ("RebootRequired", None)
    reset(rig)
    started = time.monotonic()
    boot = boot_of(rig, csms, timeout=8)  # B10.FR.08: from the top of the new list at once
    assert time.monotonic() - started < 5, rig.log()[-3000:]
    assert boot["reason"] == "RemoteReset"
    wait_status(rig, csms)
    assert get_one(rig, {"name": "OCPPCommCtrlr"}, "ActiveNetworkProfile") == "2"


# ==========================================================================================================
# Certificates: the root in use (M04), the fallback root (M05.FR.13), an expired root (A05.FR.02)
# ==========================================================================================================

def _serial(hash_data: dict[str, Any]) -> str:
    return hash_data["serialNumber"].lower().lstrip("0")


def _hex(ca: Issued) -> str:
    return format(ca.cert.serial_number, "x")


def _installed_16(rig: Rig) -> dict[str, dict[str, Any]]:
    listed = rig.oem.result("GetInstalledCertificateIds", {"certificateType": "CentralSystemRootCertificate"}, V16)
    return {_serial(h): h for h in listed.get("certificateHashData", [])}


def _installed(rig: Rig, version: str = V201) -> dict[str, dict[str, Any]]:
    listed = rig.oem.result("GetInstalledCertificateIds", {"certificateType": ["CSMSRootCertificate"]}, version)
    return {_serial(c["certificateHashData"]): c["certificateHashData"]
            for c in listed.get("certificateHashDataChain", [])}


def test_m04_fr_06_the_csms_root_in_use_cannot_be_deleted_over_1_6(rigs: Callable[..., Rig],
                                                                    csmss: Callable[..., Csms],
                                                                    tmp_path: Path) -> None:
    ca = issue("M04 CSMS Root in use", ca=True)
    csms = csmss(ssl_context=server_context(tmp_path, ca))
    rig = rigs(network_config(csms.url, security_profile=2))
    rig.prepare()
    rig.install_root(ca)
    boot_of(rig, csms)
    wait_status(rig, csms)

    # 1.6 M04.FR.06: the CentralSystemRootCertificate in use for the connection is not deleted.
    in_use = _installed_16(rig)[_hex(ca)]
    answer = rig.oem.result("DeleteCertificate", {"certificateHashData": in_use}, V16)
    assert answer["status"] == "Failed", answer
    assert _hex(ca) in _installed_16(rig)
    other = issue("M04 unrelated root", ca=True)
    assert rig.oem.result("InstallCertificate", {"certificateType": "CentralSystemRootCertificate",
                                                 "certificate": other.pem}, V16)["status"] == "Accepted"
    answer = rig.oem.result("DeleteCertificate", {"certificateHashData": _installed_16(rig)[_hex(other)]}, V16)
    assert answer["status"] == "Accepted", answer  # OCTT: install an extra root, delete it
    assert set(_installed_16(rig)) == {_hex(ca)}

    # 2.0.1 (M04.FR.03, the same rule): refused even with another root installed; the other one goes.
    third = issue("M04 another unrelated root", ca=True)
    rig.install_root(third)
    answer = rig.oem.result("DeleteCertificate", {"certificateHashData": _installed(rig)[_hex(ca)]})
    assert answer["status"] == "Failed", answer
    answer = rig.oem.result("DeleteCertificate", {"certificateHashData": _installed(rig)[_hex(third)]})
    assert answer["status"] == "Accepted", answer
    assert set(_installed(rig)) == {_hex(ca)}
    count = len(csms.received("Heartbeat"))
    csms.wait_for("Heartbeat", count=count + 1, timeout=5)  # still connected


@pytest.mark.slow
def test_m05_fr_13_the_fallback_root_goes_after_the_first_connection_the_new_root_validated(
        rigs: Callable[..., Rig], csmss: Callable[..., Csms], tmp_path: Path) -> None:
    old = issue("M05 CSMS Root A", ca=True)
    new = issue("M05 CSMS Root A2", old, ca=True)  # a CA signed by A: AdditionalRootCertificateCheck
    csms = csmss(ssl_context=server_context(tmp_path, new))  # the server certificate is signed by A2
    rig = rigs(network_config(csms.url, security_profile=2,
                              extra="\n[security]\nadditional_root_certificate_check = true\n"))
    rig.prepare(password=None)  # no password yet: no connection before both roots are there
    rig.install_root(old)
    rig.install_root(new)  # M05.FR.12: Accepted, A is kept as the fallback
    assert set(_installed(rig)) == {_hex(old), _hex(new)}

    rig.set_variables("SecurityCtrlr", {"BasicAuthPassword": PASSWORD})
    boot_of(rig, csms)
    wait_status(rig, csms)
    assert set(_installed(rig)) == {_hex(new)}  # M05.FR.13: connected with A2, the fallback A is gone
    assert set(_installed(rig, V21)) == {_hex(new)}

    rig.station.kill()
    rig.station.start()  # trusting A2 alone, which is not self-signed (a partial chain)
    csms.wait_for("BootNotification", count=2, why=lambda: rig.log()[-3000:])
    wait_status(rig, csms, count=2)
    assert set(_installed(rig)) == {_hex(new)}


def _short_lived_root(cn: str, seconds: int) -> tuple[Issued, datetime]:
    """A self-signed CA valid from an hour ago until ``seconds`` from now (to whole seconds)."""
    template = issue(cn, ca=True)
    not_after = (datetime.now(UTC) + timedelta(seconds=seconds)).replace(microsecond=0)
    builder = (x509.CertificateBuilder().subject_name(template.cert.subject).issuer_name(template.cert.subject)
               .public_key(template.key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(template.cert.not_valid_before_utc).not_valid_after(not_after))
    for extension in template.cert.extensions:
        builder = builder.add_extension(extension.value, extension.critical)
    return Issued(builder.sign(template.key, hashes.SHA256()), template.key), not_after


def test_a05_fr_02_an_expired_root_is_not_a_root(rigs: Callable[..., Rig]) -> None:
    rig = rigs(network_config(dead_url()))
    root, not_after = _short_lived_root("A05 short-lived CSMS Root", seconds=3)
    rig.install_root(root)
    assert set_profile(rig, 2, V201, ocppCsmsUrl=f"wss://127.0.0.1:{free_port()}/ocpp",
                       securityProfile=2) == {"status": "Accepted"}
    assert set_priority(rig, "2,1") == ("RebootRequired", None)  # valid now: A05.FR.04
    assert set_priority(rig, "1") == ("RebootRequired", None)  # B09.FR.20: removing is fine

    while datetime.now(UTC) <= not_after + timedelta(seconds=1):  # a clock condition: the root expires
        time.sleep(0.1)
    [result] = rig.oem.result("SetVariables", {"setVariableData": [
        {"attributeValue": "2,1", "component": {"name": "OCPPCommCtrlr"},
         "variable": {"name": "NetworkConfigurationPriority"}}]})["setVariableResult"]
    assert outcome(result) == ("Rejected", "InvalidNetworkConf"), result
    assert "valid CSMSRootCertificate" in result["attributeStatusInfo"]["additionalInfo"], result
    assert get_one(rig, {"name": "OCPPCommCtrlr"}, "NetworkConfigurationPriority", V201) == "1"
    assert _hex(root) in _installed(rig)  # installed, but no root any more

"""What the B09/B10/A05 network-profile tests share: the profiles, the rejection cases, the requests.

tests/unit/test_b09_b10_network_profile_rules.py runs every case in process;
tests/integration/test_network_profiles.py runs a few of each over mosquitto, with the
operator's ``ocpp-station network list`` and ``certs import`` run as commands.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

V201, V21 = "ocpp2.0.1", "ocpp2.1"
BOTH = [V201, V21]

# The seed's SetNetworkProfile example (OCTT host).
SEED_URL = "wss://324595e6999a17ae.octt.openchargealliance.org:18603"
SEED_PROFILE = {"ocppCsmsUrl": SEED_URL, "ocppInterface": "Wired0", "ocppTransport": "JSON",
                "ocppVersion": "OCPP20", "securityProfile": 2, "messageTimeout": 75}
CONFIG_URL = "ws://127.0.0.1:9000/ocpp"  # the default [network] csms_url: slot 1 of a new station
PASSWORD = "Pa55-w0rd-never-shown-7f3a9c"

SP3_CONFIG = '[network]\ncsms_url = "wss://csms.example.com/ocpp"\nsecurity_profile = 3\n'
SP3_ALLOW_CONFIG = SP3_CONFIG + "allow_security_profile_downgrade = true\n"

NETWORK_CONFIGURATION_VARIABLES = ("OcppCsmsUrl", "OcppInterface", "OcppTransport", "OcppVersion",
                                   "MessageTimeout", "SecurityProfile", "Identity", "VpnEnabled", "ApnEnabled")


def profile(**changes: Any) -> dict[str, Any]:
    """A valid connectionData (the seed's), with ``changes``; a value of None drops the field."""
    data = {**SEED_PROFILE, **changes}
    return {k: v for k, v in data.items() if v is not None}


# -- certificates -------------------------------------------------------------------------------------

def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca(cn: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return cert, key


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def station_certificate_files(directory: Path) -> tuple[Path, Path]:
    """CERT.pem (leaf, then the CA that signed it) and KEY.pem for ``certs import``."""
    ca, ca_key = make_ca("Test Station CA")
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    leaf = (x509.CertificateBuilder().subject_name(_name("CS0000000001")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256()))
    cert_path, key_path = directory / "station-cert.pem", directory / "station-key.pem"
    cert_path.write_text(pem(leaf) + pem(ca))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


BASELINE = profile(ocppCsmsUrl="wss://baseline.example.com/ocpp", securityProfile=2, messageTimeout=42)
BASELINE_READ = {"OcppCsmsUrl": "wss://baseline.example.com/ocpp", "OcppInterface": "Wired0", "OcppTransport": "JSON",
                 "OcppVersion": "OCPP20", "MessageTimeout": "42", "SecurityProfile": "2",
                 "Identity": "CS0000000001",  # B09.FR.28/issue 13: the identity the station uses on the slot
                 "VpnEnabled": "false", "ApnEnabled": "false"}


REJECTIONS_201_AND_21: list[tuple[str, int, dict[str, Any], str]] = [
    ("B09.FR.05 TC_B_43_CS slot 999", 999, profile(), "InvalidConfSlot"),
    ("B09.FR.05 slot 0", 0, profile(), "InvalidConfSlot"),
    ("B09.FR.05 slot 5", 5, profile(), "InvalidConfSlot"),
    ("ActiveNetworkConf slot 1", 1, profile(), "ActiveNetworkConf"),
    ("B09.FR.02 SOAP", 2, profile(ocppTransport="SOAP"), "InvalidNetworkConf"),
    ("B09.FR.02 OCPP12", 2, profile(ocppVersion="OCPP12"), "InvalidNetworkConf"),
    ("B09.FR.02 OCPP15", 2, profile(ocppVersion="OCPP15"), "InvalidNetworkConf"),
    ("B09.FR.02 OCPP16", 2, profile(ocppVersion="OCPP16"), "InvalidNetworkConf"),
    ("B09.FR.02 bad port", 2, profile(ocppCsmsUrl="wss://csms.example.com:port/ocpp"), "InvalidNetworkConf"),
    ("B09.FR.02 bad IPv6 host", 2, profile(ocppCsmsUrl="wss://[::1/ocpp"), "InvalidNetworkConf"),
    ("B09.FR.02 not a URL", 2, profile(ocppCsmsUrl="not a url"), "InvalidNetworkConf"),
    ("B09.FR.02 no host", 2, profile(ocppCsmsUrl="wss:///ocpp"), "InvalidNetworkConf"),
    ("B09.FR.02 https scheme", 2, profile(ocppCsmsUrl="https://csms.example.com/ocpp"), "InvalidNetworkConf"),
    ("B09.FR.02 http scheme", 2, profile(ocppCsmsUrl="http://csms.example.com/ocpp", securityProfile=1),
     "InvalidNetworkConf"),
    ("B09.FR.02 ws with profile 2", 2, profile(ocppCsmsUrl="ws://csms.example.com/ocpp", securityProfile=2),
     "InvalidNetworkConf"),
    ("B09.FR.02 ws with profile 3", 2, profile(ocppCsmsUrl="ws://csms.example.com/ocpp", securityProfile=3),
     "InvalidNetworkConf"),
    ("B09.FR.02 interface Wired1", 2, profile(ocppInterface="Wired1"), "InvalidNetworkConf"),
    ("B09.FR.02 interface Wireless3", 2, profile(ocppInterface="Wireless3"), "InvalidNetworkConf"),
    ("B09.FR.02 securityProfile 0", 2, profile(securityProfile=0), "InvalidNetworkConf"),
    ("B09.FR.02 securityProfile 4", 2, profile(securityProfile=4), "InvalidNetworkConf"),
    ("B09.FR.02 messageTimeout 0", 2, profile(messageTimeout=0), "InvalidNetworkConf"),
    ("B09.FR.02 URL with query", 2, profile(ocppCsmsUrl="wss://csms.example.com/ocpp?x=1"), "InvalidNetworkConf"),
]
REJECTIONS_201_ONLY: list[tuple[str, int, dict[str, Any], str]] = [  # 2.1's schema has minimum 0
    ("B09.FR.02 securityProfile -1", 2, profile(securityProfile=-1), "InvalidNetworkConf"),
]
REJECTIONS_21_ONLY: list[tuple[str, int, dict[str, Any], str]] = [
    ("B09.FR.02 identity with colon", 2, profile(identity="CS:01", basicAuthPassword=PASSWORD), "InvalidNetworkConf"),
    ("B09.FR.02 OCPP16 without 2.0.1 fields", 2, profile(ocppVersion="OCPP16", identity="CS01"), "InvalidNetworkConf"),
]
REJECTION_CASES = [pytest.param(slot, data, reason, version, id=f"{version}-{name}")
         for versions, cases in ((BOTH, REJECTIONS_201_AND_21), ([V21], REJECTIONS_21_ONLY),
                                 ([V201], REJECTIONS_201_ONLY))
         for version in versions for name, slot, data, reason in cases]


DEFAULT_SLOT_1 = {"ocppCsmsUrl": CONFIG_URL, "ocppInterface": "Wired0", "ocppTransport": "JSON",
                  "ocppVersion": "OCPP20", "securityProfile": 1, "messageTimeout": 30}  # [network]'s defaults


class Oem(Protocol):
    def call(self, action: str, payload: Any, ocpp_version: str = ...) -> dict[str, Any]: ...


class Requests:
    """The OCPP requests of these tests, through ``self.oem`` (over the broker or in process)."""

    oem: Oem
    answers: list[dict[str, Any]]  # every answer received, for leak checks

    def result(self, action: str, payload: Any, version: str = V201) -> dict[str, Any]:
        answer = self.oem.call(action, payload, version)
        self.answers.append(answer)
        assert answer["data"]["message_type"] == "CallResult", answer
        return answer["data"]["payload"]

    def set_network_profile(self, slot: int, data: dict[str, Any], version: str = V201) -> dict[str, Any]:
        return self.result("SetNetworkProfile", {"configurationSlot": slot, "connectionData": data}, version)

    def set_variable(self, component: dict, variable: str, value: str, version: str = V201) -> dict[str, Any]:
        [result] = self.result("SetVariables", {"setVariableData": [
            {"attributeValue": value, "component": component, "variable": {"name": variable}}]},
            version)["setVariableResult"]
        return result

    def set_priority(self, value: str, version: str = V201) -> dict[str, Any]:
        return self.set_variable({"name": "OCPPCommCtrlr"}, "NetworkConfigurationPriority", value, version)

    def get_results(self, component: dict, variables: tuple[str, ...] | list[str],
                    version: str = V201) -> list[dict[str, Any]]:
        return self.result("GetVariables", {"getVariableData": [
            {"component": component, "variable": {"name": v}} for v in variables]}, version)["getVariableResult"]

    def get(self, component: str, variable: str, version: str = V201) -> str:
        [result] = self.get_results({"name": component}, [variable], version)
        assert result["attributeStatus"] == "Accepted", result
        return result["attributeValue"]

    def network_configuration(self, slot: int) -> dict[str, str]:
        """NetworkConfiguration[slot] as the CSMS reads it in 2.1 (every readable variable)."""
        results = self.get_results({"name": "NetworkConfiguration", "instance": str(slot)},
                                   NETWORK_CONFIGURATION_VARIABLES, V21)
        assert all(r["attributeStatus"] == "Accepted" for r in results), results
        return {r["variable"]["name"]: r["attributeValue"] for r in results}

    def install_csms_root(self) -> None:
        cert, _key = make_ca("Test CSMS Root")
        status = self.result("InstallCertificate", {"certificateType": "CSMSRootCertificate",
                                                    "certificate": pem(cert)})
        assert status["status"] == "Accepted", status

    def slots_read(self, slots: tuple[int, ...] = (1, 2, 3, 4)) -> dict[int, dict[str, str]]:
        """NetworkConfiguration[slot] of every slot: what a test compares before and after a request."""
        return {slot: self.network_configuration(slot) for slot in slots}

    # Each rig does these its own way (in process, or with the operator's commands).
    def network_list(self) -> tuple[str, dict[int, tuple[str, dict | None]]]:
        """(what ``network list`` prints, {slot: (marks, profile or None)})."""
        raise NotImplementedError

    def restart_with(self, config_text: str | None) -> None:
        raise NotImplementedError

    def import_station_certificate(self) -> None:
        raise NotImplementedError


# -- the scenarios, run by both modules on their own rig (a Station in process, or a station over mosquitto) --

def priority_outside_the_values_list_is_invalid_value(rig: Requests, value: str) -> None:
    before = rig.get("OCPPCommCtrlr", "NetworkConfigurationPriority")
    result = rig.set_priority(value)
    assert result["attributeStatus"] == "Rejected", result
    assert result["attributeStatusInfo"]["reasonCode"] == "InvalidValue"
    assert rig.get("OCPPCommCtrlr", "NetworkConfigurationPriority") == before == "1"


def rejected_with_reason_and_nothing_stored(rig: Requests, log: Callable[[], str], slot: int, data: dict,
                                            reason: str, version: str, slots_3_4_empty: bool = False) -> None:
    """Rejected with the reason; every slot, the listing and the log as they were. ``slots_3_4_empty``:
    the rig's other tests never write slots 3 and 4, so they must be empty too."""
    _, listed_before = rig.network_list()
    before = rig.slots_read()
    answer = rig.set_network_profile(slot, data, version)
    assert answer["status"] == "Rejected", answer
    assert answer["statusInfo"]["reasonCode"] == reason, answer
    assert PASSWORD not in json.dumps(answer)
    # The slot written (or, for slot 999, every slot) holds what it held before.
    assert rig.slots_read() == before
    assert before[2] == BASELINE_READ and before[1]["OcppCsmsUrl"] == CONFIG_URL
    if slot not in (1, 2, 3, 4):
        [unknown] = rig.get_results({"name": "NetworkConfiguration", "instance": str(slot)}, ["OcppCsmsUrl"], V21)
        assert unknown["attributeStatus"] == "UnknownComponent", unknown
    stdout, slots = rig.network_list()
    assert slots == listed_before
    assert sorted(slots) == [1, 2, 3, 4]
    assert slots[1] == ("active priority 1", DEFAULT_SLOT_1)
    assert slots[2] == ("-", BASELINE)
    if slots_3_4_empty:
        assert slots[3] == ("-", None) and slots[4] == ("-", None)
    assert PASSWORD not in stdout and PASSWORD not in log()


def set_network_profile_in_ocpp16_is_not_supported(rig: Requests) -> None:
    before = rig.network_configuration(3)
    answer = rig.oem.call("SetNetworkProfile", {"configurationSlot": 3, "connectionData": profile()}, "ocpp1.6")
    assert answer["data"]["message_type"] == "CallError", answer
    assert answer["data"]["error_code"] == "NotSupported", answer
    assert rig.network_configuration(3) == before


def no_downgrade_without_allow_security_profile_downgrade(rig: Requests, version: str) -> None:
    """B09.FR.04, on a rig made with SP3_CONFIG."""
    assert rig.get("SecurityCtrlr", "SecurityProfile") == "3"
    assert rig.get("SecurityCtrlr", "AllowSecurityProfileDowngrade") == "false"
    for data in (profile(securityProfile=2), profile(ocppCsmsUrl="ws://csms.example.com/ocpp", securityProfile=1)):
        answer = rig.set_network_profile(2, data, version)
        assert answer["status"] == "Rejected", answer
        assert answer["statusInfo"]["reasonCode"] == "NoSecurityDowngrade", answer
    assert rig.network_list()[1][2] == ("-", None)
    assert rig.set_network_profile(2, profile(securityProfile=3), version) == {"status": "Accepted"}


def downgrade_3_to_2_only_with_allow_security_profile_downgrade(rig: Requests, version: str) -> None:
    """B09.FR.31, on a rig made with SP3_ALLOW_CONFIG."""
    assert rig.get("SecurityCtrlr", "SecurityProfile") == "3"
    assert rig.get("SecurityCtrlr", "AllowSecurityProfileDowngrade") == "true"
    answer = rig.set_network_profile(2, profile(ocppCsmsUrl="ws://csms.example.com/ocpp", securityProfile=1), version)
    assert answer["status"] == "Rejected", answer  # never down to 1
    assert answer["statusInfo"]["reasonCode"] == "NoSecurityDowngrade", answer
    assert rig.network_list()[1][2] == ("-", None)
    assert rig.set_network_profile(2, profile(securityProfile=2), version) == {"status": "Accepted"}
    assert rig.network_list()[1][2] == ("-", profile(securityProfile=2))


def _low_profiles_then_active_3(rig: Requests, config_text: str) -> None:
    """Slot 2: profile 1, slot 3: profile 2 — stored while slot 1 was profile 1, then station.toml makes it 3."""
    assert rig.set_network_profile(2, profile(ocppCsmsUrl="ws://csms.example.com/ocpp", securityProfile=1)) == {
        "status": "Accepted"}
    assert rig.set_network_profile(3, profile(securityProfile=2)) == {"status": "Accepted"}
    rig.restart_with(config_text)
    assert rig.get("SecurityCtrlr", "SecurityProfile") == "3"
    rig.install_csms_root()


def priority_with_a_lower_profile_rejected_without_allow(rig: Requests) -> None:
    """A05.FR.10, on a default rig."""
    _low_profiles_then_active_3(rig, SP3_CONFIG)
    # Slot 1 (profile 3) is left out: naming it would also need a ChargingStationCertificate (A05.FR.03).
    for value in ("3", "2", "3,2", "2,3"):
        for version in BOTH:
            result = rig.set_priority(value, version)
            assert result["attributeStatus"] == "Rejected", (value, result)
            assert result["attributeStatusInfo"]["reasonCode"] == "NoSecurityDowngrade", (value, result)
    assert rig.get("OCPPCommCtrlr", "NetworkConfigurationPriority") == "1"


def priority_3_to_2_allowed_never_to_1(rig: Requests) -> None:
    """A05.FR.08/09, on a default rig."""
    _low_profiles_then_active_3(rig, SP3_ALLOW_CONFIG)
    for value in ("2", "3,2", "2,3"):  # A05.FR.09: a profile 1 in the list
        for version in BOTH:
            result = rig.set_priority(value, version)
            assert result["attributeStatus"] == "Rejected", (value, result)
            assert result["attributeStatusInfo"]["reasonCode"] == "NoSecurityDowngrade", (value, result)
    assert rig.get("OCPPCommCtrlr", "NetworkConfigurationPriority") == "1"
    for version in BOTH:  # A05.FR.08
        result = rig.set_priority("3", version)
        assert result["attributeStatus"] == "RebootRequired", result
    assert rig.get("OCPPCommCtrlr", "NetworkConfigurationPriority") == "3"


def profile_3_needs_csms_root_and_station_certificate(make: Callable[..., Requests]) -> None:
    """A05.FR.02/03/04, on two default rigs from ``make`` (the second one named "root-only")."""
    rig = make()
    assert rig.set_network_profile(2, profile(securityProfile=3)) == {"status": "Accepted"}
    assert rig.set_network_profile(3, profile(securityProfile=2), V21) == {"status": "Accepted"}

    def rejected_for(value: str, missing: str) -> None:
        for version in BOTH:
            result = rig.set_priority(value, version)
            assert result["attributeStatus"] == "Rejected", (value, result)
            assert result["attributeStatusInfo"]["reasonCode"] == "InvalidNetworkConf", result
            assert missing in result["attributeStatusInfo"]["additionalInfo"], result
        assert rig.get("OCPPCommCtrlr", "NetworkConfigurationPriority") == "1"

    rejected_for("2,1", "CSMSRootCertificate")  # A05.FR.02
    rejected_for("3,1", "CSMSRootCertificate")
    rig.import_station_certificate()  # over the broker: while the station runs, same database
    rejected_for("2,1", "CSMSRootCertificate")  # the station certificate alone is not enough
    rig.install_csms_root()
    assert rig.set_priority("3,1")["attributeStatus"] == "RebootRequired"  # A05.FR.04

    other = make(name="root-only")
    assert other.set_network_profile(2, profile(securityProfile=3)) == {"status": "Accepted"}
    other.install_csms_root()
    for version in BOTH:  # A05.FR.03
        result = other.set_priority("2,1", version)
        assert result["attributeStatus"] == "Rejected", result
        assert result["attributeStatusInfo"]["reasonCode"] == "InvalidNetworkConf", result
        assert "ChargingStationCertificate" in result["attributeStatusInfo"]["additionalInfo"], result
    other.import_station_certificate()
    for version in BOTH:  # A05.FR.04
        assert other.set_priority("2,1", version)["attributeStatus"] == "RebootRequired"
    assert other.get("OCPPCommCtrlr", "NetworkConfigurationPriority") == "2,1"
    assert rig.set_priority("2,3,1")["attributeStatus"] == "RebootRequired"


def identity_and_password_stored_password_never_shown(rig: Requests, log: Callable[[], str]) -> None:
    """B09.FR.09 (2.1): writes slots 3 and 4."""
    data = profile(ocppVersion=None, ocppCsmsUrl="wss://csms21.example.com/ocpp", identity="CS-21-ident",
                   basicAuthPassword=PASSWORD, messageTimeout=61, ocppInterface="Wireless0")
    assert rig.set_network_profile(3, data, V21) == {"status": "Accepted"}

    assert rig.network_configuration(3) == {
        "OcppCsmsUrl": "wss://csms21.example.com/ocpp", "OcppInterface": "Wireless0", "OcppTransport": "JSON",
        # issue 13: a profile without ocppVersion reports what the station offers first
        "OcppVersion": "OCPP21", "MessageTimeout": "61", "SecurityProfile": "2", "Identity": "CS-21-ident",
        "VpnEnabled": "false", "ApnEnabled": "false"}
    # B06.FR.09: write-only.
    [secret] = rig.get_results({"name": "NetworkConfiguration", "instance": "3"}, ["BasicAuthPassword"], V21)
    assert secret["attributeStatus"] == "Rejected", secret
    assert secret["attributeStatusInfo"]["reasonCode"] == "WriteOnly"
    assert "attributeValue" not in secret
    # Writable since issue 13 (B09.FR.10): tests/integration/test_connection_facts.py.

    # 2.1 adds the interface "Any".
    assert rig.set_network_profile(4, profile(ocppVersion="OCPP21", ocppInterface="Any"), V21) == {"status": "Accepted"}
    assert rig.network_configuration(4)["OcppInterface"] == "Any"

    stdout, slots = rig.network_list()
    assert slots[3] == ("-", {**data, "basicAuthPassword": "***"})
    assert PASSWORD not in stdout
    for answer in rig.answers:
        assert PASSWORD not in json.dumps(answer)
    assert "CS-21-ident" in log()  # the profile is logged ...
    assert PASSWORD not in log()  # ... but never its password


def network_configuration_is_an_unknown_component_in_201(rig: Requests) -> None:
    """B06.FR.06, on a rig whose slot 2 holds BASELINE."""
    for result in rig.get_results({"name": "NetworkConfiguration", "instance": "2"},
                                  ["OcppCsmsUrl", "Identity", "BasicAuthPassword"]):
        assert result["attributeStatus"] == "UnknownComponent", result
    result = rig.set_variable({"name": "NetworkConfiguration", "instance": "2"}, "MessageTimeout", "10")
    assert result["attributeStatus"] == "UnknownComponent", result
    assert rig.network_configuration(2) == BASELINE_READ


def accepted_profile_is_there_after_a_restart(rig: Requests, restart: Callable[[], None]) -> None:
    """B09.FR.01 on a default rig: ``restart`` reopens the station on the same data."""
    data = profile(ocppVersion=None, identity="CS-kill", basicAuthPassword=PASSWORD)
    assert rig.set_network_profile(4, data, V21) == {"status": "Accepted"}
    restart()
    assert rig.network_configuration(4)["Identity"] == "CS-kill"
    assert rig.network_configuration(4)["OcppCsmsUrl"] == SEED_URL
    assert rig.network_list()[1][4] == ("-", {**data, "basicAuthPassword": "***"})
    assert rig.get("OCPPCommCtrlr", "ActiveNetworkProfile") == "1"
    assert rig.get("SecurityCtrlr", "SecurityProfile") == "1"

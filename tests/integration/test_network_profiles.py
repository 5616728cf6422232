"""B09 SetNetworkProfile, B10 NetworkConfigurationPriority and A05 security-profile changes (issue 4).

Every station here runs on a broker of its own, so stations with different ``[network]`` settings
never answer each other's requests. Stored profiles are read back three ways: ``ocpp-station
network list`` (the operator's view), the 2.1 component ``NetworkConfiguration[slot]``, and the
station log (which must never show a password).
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ..support import Mosquitto, OemClient, StationProcess, free_port

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


def ocpp_station(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ocpp_station", *args], capture_output=True, text=True,
                          timeout=timeout)


# -- certificates -------------------------------------------------------------------------------------

def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _ca(cn: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
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


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def station_certificate_files(directory: Path) -> tuple[Path, Path]:
    """CERT.pem (leaf, then the CA that signed it) and KEY.pem for ``certs import``."""
    ca, ca_key = _ca("Test Station CA")
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    leaf = (x509.CertificateBuilder().subject_name(_name("CS0000000001")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256()))
    cert_path, key_path = directory / "station-cert.pem", directory / "station-key.pem"
    cert_path.write_text(_pem(leaf) + _pem(ca))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


# -- a station of its own -----------------------------------------------------------------------------

@dataclass
class Rig:
    """A broker, a station on it (optionally with a station.toml) and the OEM's client."""

    workdir: Path
    config_text: str | None = None
    broker: Mosquitto = field(init=False)
    station: StationProcess = field(init=False)
    oem: OemClient = field(init=False)
    answers: list[dict[str, Any]] = field(default_factory=list)  # every answer received, for leak checks

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.broker = Mosquitto(free_port(), self.workdir / "broker")
        self.broker.workdir.mkdir(exist_ok=True)
        self.broker.start()
        self.station = StationProcess(self.broker.url, self.workdir / "data", extra_args=self._config_args())
        self.station.start()
        self.oem = OemClient(self.broker.port)

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    def _config_args(self) -> list[str]:
        if self.config_text is None:
            return []
        path = self.workdir / "station.toml"
        path.write_text(self.config_text)
        return ["--config", str(path)]

    def restart_with(self, config_text: str | None) -> None:
        """Stop the station and start it again on the same data with another station.toml.

        kill -9, not SIGTERM: once, a SIGTERM right after two quick answers left the station hanging
        (it logged "stopping" but never "stopped"); that is not what these tests are about."""
        self.station.kill()
        self.config_text = config_text
        self.station.extra_args = self._config_args()
        self.station.start()

    def close(self) -> None:
        # Disconnecting first lets paho's network thread end at once (OemClient.close alone waits ~1 s).
        self.oem._client.disconnect()
        self.oem.close()
        self.station.kill()
        self.broker.stop()

    # requests --------------------------------------------------------------------------------------

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
        cert, _key = _ca("Test CSMS Root")
        status = self.result("InstallCertificate", {"certificateType": "CSMSRootCertificate",
                                                    "certificate": _pem(cert)})
        assert status["status"] == "Accepted", status

    def import_station_certificate(self) -> None:
        cert_path, key_path = station_certificate_files(self.workdir)
        done = ocpp_station("certs", "import", "--type", "ChargingStationCertificate", str(cert_path),
                            "--key", str(key_path), "--data-dir", str(self.data_dir))
        assert done.returncode == 0, done.stderr

    def network_list(self) -> tuple[str, dict[int, tuple[str, dict | None]]]:
        """(stdout, {slot: (marks, profile or None)}) of ``ocpp-station network list``."""
        args = ["network", "list", "--data-dir", str(self.data_dir)]
        if self.config_text is not None:
            args += ["--config", str(self.workdir / "station.toml")]
        done = ocpp_station(*args)
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        slots: dict[int, tuple[str, dict | None]] = {}
        for head, body in zip(lines[::2], lines[1::2], strict=True):
            assert head.startswith("slot ") and ": " in head, done.stdout
            number, marks = head[len("slot "):].split(": ", 1)
            body = body.strip()
            slots[int(number)] = (marks, None if body == "(empty)" else json.loads(body))
        return done.stdout, slots


@pytest.fixture
def make_rig(tmp_path: Path) -> Iterator[Callable[..., Rig]]:
    rigs: list[Rig] = []

    def make(config_text: str | None = None, name: str = "rig") -> Rig:
        rig = Rig(tmp_path / f"{name}{len(rigs)}", config_text)
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        rig.close()


@pytest.fixture(scope="module")
def default_rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    """A default station whose slot 2 holds BASELINE (for the rejection cases, which must not touch it)."""
    rig = Rig(tmp_path_factory.mktemp("default"))
    try:
        assert rig.set_network_profile(2, BASELINE)["status"] == "Accepted"
        yield rig
    finally:
        rig.close()


BASELINE = profile(ocppCsmsUrl="wss://baseline.example.com/ocpp", securityProfile=2, messageTimeout=42)
BASELINE_READ = {"OcppCsmsUrl": "wss://baseline.example.com/ocpp", "OcppInterface": "Wired0", "OcppTransport": "JSON",
                 "OcppVersion": "OCPP20", "MessageTimeout": "42", "SecurityProfile": "2",
                 "Identity": "CS0000000001",  # B09.FR.28/issue 13: the identity the station uses on the slot
                 "VpnEnabled": "false", "ApnEnabled": "false"}


# == 1. The seed example, B10.FR.01/02, A05.FR.02 =========================================================

def test_b09_fr_01_seed_example_accepted_then_b10_and_a05_fr_02_on_the_priority(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig()
    assert rig.set_network_profile(2, dict(SEED_PROFILE)) == {"status": "Accepted"}
    _, slots = rig.network_list()
    assert slots[2] == ("-", SEED_PROFILE)
    assert slots[1][0] == "active priority 1"

    # A05.FR.02: profile 2 named in the priority list while no CSMSRootCertificate is installed.
    rejected = rig.set_priority("2,1")
    assert rejected["attributeStatus"] == "Rejected", rejected
    assert rejected["attributeStatusInfo"]["reasonCode"] == "InvalidNetworkConf"
    assert "CSMSRootCertificate" in rejected["attributeStatusInfo"]["additionalInfo"]
    assert rig.get("OCPPCommCtrlr", "NetworkConfigurationPriority") == "1"

    rig.install_csms_root()
    # B10.FR.02: a slot that was never set cannot be named.
    never_set = rig.set_priority("3")
    assert never_set["attributeStatus"] == "Rejected"
    assert never_set["attributeStatusInfo"]["reasonCode"] == "InvalidNetworkConf"
    never_set = rig.set_priority("2,3,1")
    assert never_set["attributeStatus"] == "Rejected"
    assert never_set["attributeStatusInfo"]["reasonCode"] == "InvalidNetworkConf"
    assert rig.get("OCPPCommCtrlr", "NetworkConfigurationPriority") == "1"

    # B10.FR.01, A05.FR.04: every slot holds a profile and its prerequisites are met.
    accepted = rig.set_priority("2,1")
    assert accepted["attributeStatus"] == "RebootRequired", accepted
    assert rig.get("OCPPCommCtrlr", "NetworkConfigurationPriority") == "2,1"
    _, slots = rig.network_list()
    assert slots[1][0] == "active priority 2" and slots[2][0] == "priority 1"
    assert slots[3] == ("-", None) and slots[4] == ("-", None)
    # Reordering does not switch the active profile before a reboot/reconnect.
    assert rig.get("OCPPCommCtrlr", "ActiveNetworkProfile") == "1"
    assert rig.get("SecurityCtrlr", "SecurityProfile") == "1"


@pytest.mark.parametrize("value", ["999", "1,5", "0", "1,1", "", "1,two"])
def test_b10_priority_outside_the_values_list_is_invalid_value(default_rig: Rig, value: str) -> None:
    result = default_rig.set_priority(value)
    assert result["attributeStatus"] == "Rejected", result
    assert result["attributeStatusInfo"]["reasonCode"] == "InvalidValue"
    assert default_rig.get("OCPPCommCtrlr", "NetworkConfigurationPriority") == "1"


# == 2. Every rejection reason, and the stored profile stays as it was ======================================

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
CASES = [pytest.param(slot, data, reason, version, id=f"{version}-{name}")
         for versions, cases in ((BOTH, REJECTIONS_201_AND_21), ([V21], REJECTIONS_21_ONLY),
                                 ([V201], REJECTIONS_201_ONLY))
         for version in versions for name, slot, data, reason in cases]


@pytest.mark.parametrize(("slot", "data", "reason", "version"), CASES)
def test_b09_set_network_profile_rejected_with_reason_and_nothing_stored(
        default_rig: Rig, slot: int, data: dict, reason: str, version: str) -> None:
    answer = default_rig.set_network_profile(slot, data, version)
    assert answer["status"] == "Rejected", answer
    assert answer["statusInfo"]["reasonCode"] == reason, answer
    assert PASSWORD not in json.dumps(answer)
    # The slot written (or, for slot 999, every slot) holds what it held before.
    assert default_rig.network_configuration(2) == BASELINE_READ
    assert default_rig.network_configuration(1)["OcppCsmsUrl"] == CONFIG_URL
    assert default_rig.network_configuration(3)["OcppCsmsUrl"] == ""
    if slot not in (1, 2, 3, 4):
        [unknown] = default_rig.get_results({"name": "NetworkConfiguration", "instance": str(slot)},
                                            ["OcppCsmsUrl"], V21)
        assert unknown["attributeStatus"] == "UnknownComponent", unknown


def test_rejections_left_the_listing_unchanged(default_rig: Rig) -> None:
    """After all the rejections above, ``network list`` shows exactly the baseline."""
    stdout, slots = default_rig.network_list()
    assert sorted(slots) == [1, 2, 3, 4]
    assert slots[1][0] == "active priority 1"
    assert slots[1][1] == {"ocppCsmsUrl": CONFIG_URL, "ocppInterface": "Wired0", "ocppTransport": "JSON",
                           "ocppVersion": "OCPP20", "securityProfile": 1, "messageTimeout": 30}
    assert slots[2] == ("-", BASELINE)
    assert slots[3] == ("-", None) and slots[4] == ("-", None)
    assert PASSWORD not in stdout and PASSWORD not in default_rig.station.log_text()


def test_b09_set_network_profile_in_ocpp16_is_not_supported(default_rig: Rig) -> None:
    answer = default_rig.oem.call("SetNetworkProfile", {"configurationSlot": 3, "connectionData": profile()},
                                  "ocpp1.6")
    assert answer["data"]["message_type"] == "CallError", answer
    assert answer["data"]["error_code"] == "NotSupported", answer
    assert default_rig.network_configuration(3)["OcppCsmsUrl"] == ""


# == 3. Downgrades: B09.FR.04/31, A05.FR.08/09/10 ==========================================================

@pytest.mark.parametrize("version", BOTH)
def test_b09_fr_04_no_downgrade_without_allow_security_profile_downgrade(make_rig: Callable[..., Rig],
                                                                         version: str) -> None:
    rig = make_rig(SP3_CONFIG)
    assert rig.get("SecurityCtrlr", "SecurityProfile") == "3"
    assert rig.get("SecurityCtrlr", "AllowSecurityProfileDowngrade") == "false"
    for data in (profile(securityProfile=2), profile(ocppCsmsUrl="ws://csms.example.com/ocpp", securityProfile=1)):
        answer = rig.set_network_profile(2, data, version)
        assert answer["status"] == "Rejected", answer
        assert answer["statusInfo"]["reasonCode"] == "NoSecurityDowngrade", answer
    assert rig.network_list()[1][2] == ("-", None)
    assert rig.set_network_profile(2, profile(securityProfile=3), version) == {"status": "Accepted"}


@pytest.mark.parametrize("version", BOTH)
def test_b09_fr_31_downgrade_3_to_2_only_with_allow_security_profile_downgrade(make_rig: Callable[..., Rig],
                                                                                version: str) -> None:
    rig = make_rig(SP3_ALLOW_CONFIG)
    assert rig.get("SecurityCtrlr", "SecurityProfile") == "3"
    assert rig.get("SecurityCtrlr", "AllowSecurityProfileDowngrade") == "true"
    answer = rig.set_network_profile(2, profile(ocppCsmsUrl="ws://csms.example.com/ocpp", securityProfile=1), version)
    assert answer["status"] == "Rejected", answer  # never down to 1
    assert answer["statusInfo"]["reasonCode"] == "NoSecurityDowngrade", answer
    assert rig.network_list()[1][2] == ("-", None)
    assert rig.set_network_profile(2, profile(securityProfile=2), version) == {"status": "Accepted"}
    assert rig.network_list()[1][2] == ("-", profile(securityProfile=2))


def _low_profiles_then_active_3(rig: Rig, config_text: str) -> None:
    """Slot 2: profile 1, slot 3: profile 2 — stored while slot 1 was profile 1, then station.toml makes it 3."""
    assert rig.set_network_profile(2, profile(ocppCsmsUrl="ws://csms.example.com/ocpp", securityProfile=1)) == {
        "status": "Accepted"}
    assert rig.set_network_profile(3, profile(securityProfile=2)) == {"status": "Accepted"}
    rig.restart_with(config_text)
    assert rig.get("SecurityCtrlr", "SecurityProfile") == "3"
    rig.install_csms_root()


def test_a05_fr_10_priority_with_a_lower_profile_rejected_without_allow(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig()
    _low_profiles_then_active_3(rig, SP3_CONFIG)
    # Slot 1 (profile 3) is left out: naming it would also need a ChargingStationCertificate (A05.FR.03).
    for value in ("3", "2", "3,2", "2,3"):
        for version in BOTH:
            result = rig.set_priority(value, version)
            assert result["attributeStatus"] == "Rejected", (value, result)
            assert result["attributeStatusInfo"]["reasonCode"] == "NoSecurityDowngrade", (value, result)
    assert rig.get("OCPPCommCtrlr", "NetworkConfigurationPriority") == "1"


def test_a05_fr_08_09_priority_3_to_2_allowed_never_to_1(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig()
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


# == 4. A05.FR.02/03/04: certificates a profile 3 needs =====================================================

def test_a05_fr_02_03_04_profile_3_needs_csms_root_and_station_certificate(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig()
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
    rig.import_station_certificate()  # while the station runs: same database
    rejected_for("2,1", "CSMSRootCertificate")  # the station certificate alone is not enough
    rig.install_csms_root()
    assert rig.set_priority("3,1")["attributeStatus"] == "RebootRequired"  # A05.FR.04

    other = make_rig(name="root-only")
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


# == 5. 2.1: identity and basicAuthPassword, NetworkConfiguration[slot] =====================================

def test_b09_fr_09_identity_and_password_stored_password_never_shown(default_rig: Rig) -> None:
    rig = default_rig
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
    assert "CS-21-ident" in rig.station.log_text()  # the profile is logged ...
    assert PASSWORD not in rig.station.log_text()  # ... but never its password


def test_b06_fr_06_network_configuration_is_an_unknown_component_in_201(default_rig: Rig) -> None:
    for result in default_rig.get_results({"name": "NetworkConfiguration", "instance": "2"},
                                          ["OcppCsmsUrl", "Identity", "BasicAuthPassword"]):
        assert result["attributeStatus"] == "UnknownComponent", result
    result = default_rig.set_variable({"name": "NetworkConfiguration", "instance": "2"}, "MessageTimeout", "10")
    assert result["attributeStatus"] == "UnknownComponent", result


# == 6. Durability, ActiveNetworkProfile, SecurityProfile ===================================================

def test_b09_fr_01_accepted_profile_survives_kill_9(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig()
    data = profile(ocppVersion=None, identity="CS-kill", basicAuthPassword=PASSWORD)
    assert rig.set_network_profile(4, data, V21) == {"status": "Accepted"}
    rig.station.kill()  # kill -9 right after the answer
    rig.station.start()
    assert rig.network_configuration(4)["Identity"] == "CS-kill"
    assert rig.network_configuration(4)["OcppCsmsUrl"] == SEED_URL
    assert rig.network_list()[1][4] == ("-", {**data, "basicAuthPassword": "***"})
    assert rig.get("OCPPCommCtrlr", "ActiveNetworkProfile") == "1"
    assert rig.get("SecurityCtrlr", "SecurityProfile") == "1"
    assert PASSWORD not in rig.station.log_text()


def test_active_network_profile_and_security_profile_follow_slot_1(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(SP3_CONFIG)
    for version in BOTH:
        assert rig.get("OCPPCommCtrlr", "ActiveNetworkProfile", version) == "1"
        assert rig.get("SecurityCtrlr", "SecurityProfile", version) == "3"
    result = rig.set_variable({"name": "OCPPCommCtrlr"}, "ActiveNetworkProfile", "2")
    assert result["attributeStatus"] == "Rejected" and result["attributeStatusInfo"]["reasonCode"] == "ReadOnly"
    _, slots = rig.network_list()
    assert slots[1] == ("active priority 1", {"ocppCsmsUrl": "wss://csms.example.com/ocpp", "ocppInterface": "Wired0",
                                              "ocppTransport": "JSON", "ocppVersion": "OCPP20", "securityProfile": 3,
                                              "messageTimeout": 30})
    assert rig.network_configuration(1)["SecurityProfile"] == "3"


# == 7. A [network] that describes no usable profile ========================================================

@pytest.mark.parametrize(("network", "expected"), [
    ('csms_url = "ws://csms.example.com/ocpp"\nsecurity_profile = 2\n', "wss://"),
    ('csms_url = "https://csms.example.com/ocpp"\n', "ws:// or wss://"),
    ('interface = "Wired1"\n', "Wired1"),
    ("security_profile = 4\n", "security_profile"),
    ("slots = [2, 3]\n", "slot 1"),
])
def test_invalid_network_section_makes_serve_exit_2(tmp_path: Path, network: str, expected: str) -> None:
    config = tmp_path / "station.toml"
    config.write_text("[network]\n" + network)
    done = ocpp_station("serve", "--config", str(config), "--data-dir", str(tmp_path / "data"),
                        "--mqtt-url", f"mqtt://127.0.0.1:{free_port()}", timeout=20)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "configuration error" in done.stderr and expected in done.stderr, done.stderr

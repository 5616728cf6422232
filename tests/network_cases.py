"""What the B09/B10/A05 network-profile tests share: the profiles, the rejection cases, the requests.

tests/unit/test_b09_b10_network_profile_rules.py runs every case in process;
tests/integration/test_network_profiles.py runs a few of each over mosquitto, with the
operator's ``ocpp-station network list`` and ``certs import`` run as commands.
"""

from __future__ import annotations

import datetime as dt
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

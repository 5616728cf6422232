"""B09 SetNetworkProfile, B10 NetworkConfigurationPriority and A05 security-profile changes (issue 4).

The wiring: one or two cases of each requirement through station processes and real brokers, with
the operator's commands (``network list``, ``certs import`` while the station runs). Every
rejection reason, both versions of each downgrade rule and every invalid ``[network]`` are tested
in process, in tests/unit/test_b09_b10_network_profile_rules.py, under the same names.

Every station here runs on a broker of its own, so stations with different ``[network]`` settings
never answer each other's requests. Stored profiles are read back three ways: ``ocpp-station
network list`` (the operator's view), the 2.1 component ``NetworkConfiguration[slot]``, and the
station log (which must never show a password).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .. import network_cases as cases
from ..network_cases import (
    BASELINE,
    PASSWORD,
    REJECTION_CASES,
    SEED_PROFILE,
    SP3_ALLOW_CONFIG,
    SP3_CONFIG,
    V21,
    Requests,
    station_certificate_files,
)
from ..support import Mosquitto, OemClient, StationProcess, free_port, pick


def ocpp_station(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ocpp_station", *args], capture_output=True, text=True,
                          timeout=timeout)


# -- a station of its own -----------------------------------------------------------------------------

@dataclass
class Rig(Requests):
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
        self.oem.close()
        self.station.kill()
        self.broker.stop()

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


def test_b10_priority_outside_the_values_list_is_invalid_value(default_rig: Rig) -> None:
    """One value here; every value outside the list in tests/unit/test_b09_b10_network_profile_rules.py."""
    cases.priority_outside_the_values_list_is_invalid_value(default_rig, "1,5")


# == 2. Rejection reasons, and the stored profiles and the listing stay as they were =======================

@pytest.mark.parametrize(("slot", "data", "reason", "version"), pick(
    REJECTION_CASES, "ocpp2.0.1-B09.FR.05 TC_B_43_CS slot 999", "ocpp2.1-B09.FR.02 identity with colon"))
def test_b09_set_network_profile_rejected_with_reason_and_nothing_stored(
        default_rig: Rig, slot: int, data: dict, reason: str, version: str) -> None:
    """Rejected with the reason; every slot and ``network list`` as they were before, no password shown.

    Two cases here; every rejection reason in tests/unit/test_b09_b10_network_profile_rules.py. The
    listing was once checked by a test of its own that ran after all the rejections; each case
    compares it now, before and after its own request.
    """
    cases.rejected_with_reason_and_nothing_stored(default_rig, default_rig.station.log_text, slot, data, reason,
                                                  version)


def test_b09_set_network_profile_in_ocpp16_is_not_supported(default_rig: Rig) -> None:
    cases.set_network_profile_in_ocpp16_is_not_supported(default_rig)


# == 3. Downgrades: B09.FR.04/31, A05.FR.08/09/10 ==========================================================

def test_b09_fr_04_no_downgrade_without_allow_security_profile_downgrade(make_rig: Callable[..., Rig]) -> None:
    """OCPP 2.0.1 here; both versions in process."""
    cases.no_downgrade_without_allow_security_profile_downgrade(make_rig(SP3_CONFIG), "ocpp2.0.1")


def test_b09_fr_31_downgrade_3_to_2_only_with_allow_security_profile_downgrade(make_rig: Callable[..., Rig]) -> None:
    """OCPP 2.1 here; both versions in process."""
    cases.downgrade_3_to_2_only_with_allow_security_profile_downgrade(make_rig(SP3_ALLOW_CONFIG), V21)


def test_a05_fr_10_priority_with_a_lower_profile_rejected_without_allow(make_rig: Callable[..., Rig]) -> None:
    cases.priority_with_a_lower_profile_rejected_without_allow(make_rig())


def test_a05_fr_08_09_priority_3_to_2_allowed_never_to_1(make_rig: Callable[..., Rig]) -> None:
    cases.priority_3_to_2_allowed_never_to_1(make_rig())


# == 4. A05.FR.02/03/04: certificates a profile 3 needs =====================================================

def test_a05_fr_02_03_04_profile_3_needs_csms_root_and_station_certificate(make_rig: Callable[..., Rig]) -> None:
    cases.profile_3_needs_csms_root_and_station_certificate(make_rig)


# == 5. 2.1: identity and basicAuthPassword, NetworkConfiguration[slot] =====================================

def test_b09_fr_09_identity_and_password_stored_password_never_shown(default_rig: Rig) -> None:
    """Writes slots 3 and 4 of the shared station: its other tests compare those before and after, never
    with what they should hold."""
    cases.identity_and_password_stored_password_never_shown(default_rig, default_rig.station.log_text)


def test_b06_fr_06_network_configuration_is_an_unknown_component_in_201(default_rig: Rig) -> None:
    cases.network_configuration_is_an_unknown_component_in_201(default_rig)


# == 6. Durability, ActiveNetworkProfile, SecurityProfile ===================================================

def test_b09_fr_01_accepted_profile_survives_kill_9(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig()

    def kill_9_and_start() -> None:  # kill -9 right after the answer
        rig.station.kill()
        rig.station.start()

    cases.accepted_profile_is_there_after_a_restart(rig, kill_9_and_start)
    assert PASSWORD not in rig.station.log_text()


# == 7. A [network] that describes no usable profile ========================================================

@pytest.mark.parametrize(("network", "expected"), [
    ('csms_url = "ws://csms.example.com/ocpp"\nsecurity_profile = 2\n', "wss://"),  # refused by the station
    ("slots = [2, 3]\n", "slot 1"),  # refused by the configuration reader
])
def test_invalid_network_section_makes_serve_exit_2(tmp_path: Path, network: str, expected: str) -> None:
    config = tmp_path / "station.toml"
    config.write_text("[network]\n" + network)
    done = ocpp_station("serve", "--config", str(config), "--data-dir", str(tmp_path / "data"),
                        "--mqtt-url", f"mqtt://127.0.0.1:{free_port()}", timeout=20)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "configuration error" in done.stderr and expected in done.stderr, done.stderr

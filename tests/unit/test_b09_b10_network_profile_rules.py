"""B09 SetNetworkProfile, B10 NetworkConfigurationPriority and A05 security-profile changes: the rules, in process.

Every rejection reason, the downgrade rules and the certificates a profile needs, driven through
:meth:`ocpp_station.app.Station.handle` (every answer checked with :func:`tests.support.check_response`)
on Stations built from a ``station.toml`` read by :func:`ocpp_station.config.load`, as ``serve`` reads
it. Stored profiles are read back three ways: :meth:`Station.network_overview` (what ``ocpp-station
network list`` prints), the 2.1 component ``NetworkConfiguration[slot]``, and the station's log (which
must never show a password). The same requests over mosquitto, with the ``network list`` and ``certs
import`` commands, one or two cases per requirement, are in tests/integration/test_network_profiles.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ocpp_station.app import Station
from ocpp_station.config import ConfigError, load

from .. import network_cases as cases
from ..network_cases import (
    BASELINE,
    BOTH,
    DEFAULT_SLOT_1,
    REJECTION_CASES,
    SP3_ALLOW_CONFIG,
    SP3_CONFIG,
    Requests,
    station_certificate_files,
)
from ..support import InProcessOem


class Local(Requests):
    """A Station in this process on its own data directory, optionally with a station.toml."""

    def __init__(self, workdir: Path, config_text: str | None = None):
        self.workdir, self.config_text = workdir, config_text
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.answers: list[dict[str, Any]] = []
        self.station = self._open()
        self.oem = InProcessOem(self.station)

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    def _open(self) -> Station:
        path = None
        if self.config_text is not None:
            path = self.workdir / "station.toml"
            path.write_text(self.config_text)
        return Station(load(path, overrides={"data_dir": self.data_dir}))

    def restart_with(self, config_text: str | None) -> None:
        """Close the station and open it again on the same data with another station.toml."""
        self.station.close()
        self.config_text = config_text
        self.station = self._open()
        self.oem = InProcessOem(self.station)

    def close(self) -> None:
        self.station.close()

    def import_station_certificate(self) -> None:
        cert_path, key_path = station_certificate_files(self.workdir)
        self.station.certificates.import_own("ChargingStationCertificate", cert_path.read_bytes(),
                                             key_path.read_bytes())

    def network_list(self) -> tuple[str, dict[int, tuple[str, dict | None]]]:
        """(the overview as text, {slot: (marks, profile or None)}): what ``network list`` prints."""
        overview = self.station.network_overview()
        slots: dict[int, tuple[str, dict | None]] = {}
        for slot in overview.slots:
            marks = ("active " if slot == overview.active else "") + (
                f"priority {overview.priority.index(slot) + 1}" if slot in overview.priority else "")
            slots[slot] = (marks.strip() or "-", overview.profiles.get(slot))
        return json.dumps({str(k): v for k, v in slots.items()}), slots


@pytest.fixture
def make_local(tmp_path: Path) -> Iterator[Callable[..., Local]]:
    made: list[Local] = []

    def make(config_text: str | None = None, name: str = "local") -> Local:
        local = Local(tmp_path / f"{name}{len(made)}", config_text)
        made.append(local)
        return local

    yield make
    for local in made:
        local.close()


@pytest.fixture(scope="module")
def default_local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Local]:
    """A default station whose slot 2 holds BASELINE; the tests that share it compare before and after."""
    local = Local(tmp_path_factory.mktemp("default"))
    try:
        assert local.set_network_profile(2, BASELINE)["status"] == "Accepted"
        yield local
    finally:
        local.close()


# == B10: the priority list =================================================================================

@pytest.mark.parametrize("value", ["999", "1,5", "0", "1,1", "", "1,two"])
def test_b10_priority_outside_the_values_list_is_invalid_value(default_local: Local, value: str) -> None:
    cases.priority_outside_the_values_list_is_invalid_value(default_local, value)


# == B09: every rejection reason, and nothing stored ========================================================

@pytest.mark.parametrize(("slot", "data", "reason", "version"), REJECTION_CASES)
def test_b09_set_network_profile_rejected_with_reason_and_nothing_stored(
        default_local: Local, station_log: Callable[[], str], slot: int, data: dict, reason: str,
        version: str) -> None:
    """Rejected with the reason; every slot, the listing and the log as they were (the listing check
    was once a test of its own that ran after all of these: it is part of each case now)."""
    # No test of this module's station writes slots 3 and 4.
    cases.rejected_with_reason_and_nothing_stored(default_local, station_log, slot, data, reason, version,
                                                  slots_3_4_empty=True)


def test_b09_set_network_profile_in_ocpp16_is_not_supported(default_local: Local) -> None:
    cases.set_network_profile_in_ocpp16_is_not_supported(default_local)


# == Downgrades: B09.FR.04/31, A05.FR.08/09/10 ==============================================================

@pytest.mark.parametrize("version", BOTH)
def test_b09_fr_04_no_downgrade_without_allow_security_profile_downgrade(make_local: Callable[..., Local],
                                                                         version: str) -> None:
    cases.no_downgrade_without_allow_security_profile_downgrade(make_local(SP3_CONFIG), version)


@pytest.mark.parametrize("version", BOTH)
def test_b09_fr_31_downgrade_3_to_2_only_with_allow_security_profile_downgrade(make_local: Callable[..., Local],
                                                                                version: str) -> None:
    cases.downgrade_3_to_2_only_with_allow_security_profile_downgrade(make_local(SP3_ALLOW_CONFIG), version)


def test_a05_fr_10_priority_with_a_lower_profile_rejected_without_allow(make_local: Callable[..., Local]) -> None:
    cases.priority_with_a_lower_profile_rejected_without_allow(make_local())


def test_a05_fr_08_09_priority_3_to_2_allowed_never_to_1(make_local: Callable[..., Local]) -> None:
    cases.priority_3_to_2_allowed_never_to_1(make_local())


# == A05.FR.02/03/04: certificates a profile 3 needs ========================================================

def test_a05_fr_02_03_04_profile_3_needs_csms_root_and_station_certificate(make_local: Callable[..., Local]) -> None:
    cases.profile_3_needs_csms_root_and_station_certificate(make_local)


# == 2.1: identity and basicAuthPassword, NetworkConfiguration[slot] ========================================

def test_b09_fr_09_identity_and_password_stored_password_never_shown(make_local: Callable[..., Local],
                                                                     station_log: Callable[[], str]) -> None:
    cases.identity_and_password_stored_password_never_shown(make_local(), station_log)


def test_b06_fr_06_network_configuration_is_an_unknown_component_in_201(default_local: Local) -> None:
    cases.network_configuration_is_an_unknown_component_in_201(default_local)


# == Durability (the database, not the process), ActiveNetworkProfile, SecurityProfile =====================

def test_b09_fr_01_accepted_profile_is_there_after_a_reopen(make_local: Callable[..., Local]) -> None:
    """The in-process half of test_b09_fr_01_accepted_profile_survives_kill_9 (which kills the process)."""
    rig = make_local()
    cases.accepted_profile_is_there_after_a_restart(rig, lambda: rig.restart_with(None))


def test_active_network_profile_and_security_profile_follow_slot_1(make_local: Callable[..., Local]) -> None:
    rig = make_local(SP3_CONFIG)
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


# == A [network] that describes no usable profile ==========================================================

@pytest.mark.parametrize(("network", "expected"), [
    ('csms_url = "ws://csms.example.com/ocpp"\nsecurity_profile = 2\n', "wss://"),
    ('csms_url = "https://csms.example.com/ocpp"\n', "ws:// or wss://"),
    ('interface = "Wired1"\n', "Wired1"),
    ("security_profile = 4\n", "security_profile"),
    ("slots = [2, 3]\n", "slot 1"),
])
def test_invalid_network_section_is_a_configuration_error(tmp_path: Path, network: str, expected: str) -> None:
    """What ``serve`` reports as a "configuration error", exiting with status 2
    (test_invalid_network_section_makes_serve_exit_2 runs it)."""
    config = tmp_path / "station.toml"
    config.write_text("[network]\n" + network)
    with pytest.raises(ConfigError) as refused:
        Station(load(config, overrides={"data_dir": tmp_path / "data"})).close()
    assert expected in str(refused.value), refused.value


def test_the_default_station_lists_its_slots(make_local: Callable[..., Local]) -> None:
    _, slots = make_local().network_list()
    assert slots == {1: ("active priority 1", DEFAULT_SLOT_1), 2: ("-", None), 3: ("-", None), 4: ("-", None)}

"""A fleet on loopback, end to end: five real station processes, each on its own mosquitto bridged to a central
mosquitto with ``examples/bridge`` (TLS, a password per station, the example ACL), and the back office's
``ocpp-station fleet`` and ``FleetClient`` on the central broker as user ``fleet``.

What is proved: the fleet sees who is there; a variable set on all is read back on all; a root installed on a
glob is on those stations only; answers to the same id from five stations never mix up; a station killed -9 is
reported offline at once (its Last Will, through its bridge) and one whose whole broker died too (its bridge's
will); a request sent while a station's bridge is down runs when it comes back, with the central broker
restarted in between, and its answer still reaches the fleet client.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from ocpp_station.fleet import FleetClient, FleetStation

from ..support import StationProcess, ca_certificate, check_response, wait_until
from .fleet_rig import FLEET_USER, Fleet

IDENTITIES = [f"CS-00{n}" for n in range(1, 6)]
OFFLINE_THRESHOLD = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "OfflineThreshold"}}


@dataclass
class Site:
    """The fleet and its stations: one station process per local broker."""

    fleet: Fleet
    stations: dict[str, StationProcess]

    @property
    def url(self) -> str:
        password = self.fleet.central.users[FLEET_USER]
        return f"mqtts://{FLEET_USER}:{password}@127.0.0.1:{self.fleet.central.port}"

    @property
    def ca_file(self) -> str:
        return str(self.fleet.central.ca_file)

    def cli(self, command: str, *args: str, timeout: float = 10.0) -> subprocess.CompletedProcess[str]:
        """``ocpp-station fleet COMMAND …`` against the central broker, as the back office runs it."""
        words = command.split()
        return subprocess.run([sys.executable, "-m", "ocpp_station", "fleet", *words, "--mqtt-url", self.url,
                               "--ca-file", self.ca_file, "--timeout", str(timeout), *args],
                              capture_output=True, text=True, timeout=timeout + 30)

    def client(self, **options: Any) -> FleetClient:
        return FleetClient(self.url, ca_file=self.ca_file, **options)

    def presence(self) -> dict[str, Any]:
        async def seen() -> dict[str, Any]:
            async with self.client() as fleet:
                return await fleet.presence()

        return asyncio.run(seen())

    def wait_state(self, identity: str, state: str, timeout: float = 15.0) -> None:
        wait_until(lambda: (found := self.presence().get(identity)) is not None and found.state == state,
                   f"{identity} never became {state}", timeout)


def lines(result: subprocess.CompletedProcess[str]) -> dict[str, dict[str, Any]]:
    """The JSON lines of a ``--json`` run, by station."""
    found = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return {line["station"]: line for line in found}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    workdir = tmp_path_factory.mktemp("fleet")
    fleet = Fleet.start(workdir, IDENTITIES)
    stations: dict[str, StationProcess] = {}
    try:
        for identity, broker in fleet.stations.items():
            config = workdir / f"{identity}.toml"
            config.write_text(f'[station]\nidentity = "{identity}"\n')
            stations[identity] = StationProcess(f"mqtt://127.0.0.1:{broker.port}", workdir / f"{identity}-data",
                                                ["--no-csms", "--config", str(config)]).start(wait=False)
        for station in stations.values():
            station.wait_until_logged("connected to")
        found = Site(fleet, stations)
        for identity in IDENTITIES:
            found.wait_state(identity, "online")
        yield found
    finally:
        for station in stations.values():
            station.kill()
        fleet.stop()


def test_fleet_list_shows_every_station_online_through_its_bridge(site: Site) -> None:
    result = site.cli("list", "--json")
    assert result.returncode == 0, result.stderr
    listed = lines(result)
    assert sorted(listed) == IDENTITIES
    for identity, line in listed.items():
        assert line["state"] == "online" and line["status"]["identity"] == identity
        assert line["csms"]["state"] == "disabled" and line["status"]["topics"]["requests"] == "cs/josev"
    table = site.cli("list", "--mqtt-protocol", "3.1.1", "--stations", "CS-00[12]")  # as over RabbitMQ
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0].split() == ["STATION", "STATE", "SINCE", "CSMS", "SOFTWARE", "REASON"]
    assert [row.split()[:2] for row in table.stdout.splitlines()[1:3]] == [["CS-001", "online"], ["CS-002", "online"]]


def test_fleet_set_on_every_station_then_get_reads_it_back(site: Site) -> None:
    changed = site.cli("set", "--stations", "CS-*", "--json", "OCPPCommCtrlr.OfflineThreshold=4321")
    assert changed.returncode == 0, changed.stderr
    assert {identity: line["accepted"] for identity, line in lines(changed).items()} == dict.fromkeys(IDENTITIES, True)
    assert "5 stations: 5 accepted" in changed.stderr
    read = site.cli("get", "--stations", "CS-*", "OCPPCommCtrlr.OfflineThreshold")
    assert read.returncode == 0, read.stderr
    rows = [row.split() for row in read.stdout.splitlines()[1:6]]
    assert rows == [[identity, "OCPPCommCtrlr.OfflineThreshold", "Accepted", "4321"] for identity in IDENTITIES]


def test_answers_to_the_same_id_from_five_stations_never_mix_up(site: Site) -> None:
    """Each station is asked its own identity under one and the same envelope id: each answer must be its own."""
    identity_variable = {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "Identity"}}

    async def ask(station: FleetStation) -> dict[str, Any]:
        return await station.call_raw("GetVariables", {"getVariableData": [identity_variable]},
                                      message_id="00000000-0000-4000-8000-000000000019")

    async def run() -> dict[str, dict[str, Any]]:
        async with site.client() as fleet:
            return {outcome.identity: outcome.value async for outcome in fleet.run(IDENTITIES, ask)
                    if outcome.value is not None}

    answers = asyncio.run(run())
    assert sorted(answers) == IDENTITIES
    for identity, answer in answers.items():
        check_response(answer, "GetVariables", "ocpp2.0.1")
        assert answer["data"]["payload"]["getVariableResult"][0]["attributeValue"] == identity


def test_a_root_installed_on_a_glob_is_on_those_stations_only(site: Site, tmp_path: Path) -> None:
    root, _ = ca_certificate("fleet test CSMS root")
    pem = tmp_path / "root.pem"
    pem.write_bytes(root.public_bytes(serialization.Encoding.PEM))
    installed = site.cli("certs install", "--stations", "CS-00[12]", "--json", str(pem))
    assert installed.returncode == 0, installed.stderr
    assert {i: line["result"]["status"] for i, line in lines(installed).items()} == {
        "CS-001": "Accepted", "CS-002": "Accepted"}
    listed = site.cli("certs list", "--stations", "CS-*", "--json", "--type", "CSMSRootCertificate")
    assert listed.returncode == 0, listed.stderr
    serial = f"{root.serial_number:x}"
    having = {identity for identity, line in lines(listed).items()
              if any(c["certificateHashData"]["serialNumber"].lower().lstrip("0") == serial.lstrip("0")
                     for c in line["result"])}
    assert having == {"CS-001", "CS-002"}


def test_a_station_killed_is_reported_offline_at_once_not_waited_for(site: Site) -> None:
    site.stations["CS-005"].kill()  # -9: its local broker publishes the will, its bridge carries it up
    try:
        site.wait_state("CS-005", "offline")
        started = time.monotonic()
        result = site.cli("get", "--stations", "CS-*", "--json", "OCPPCommCtrlr.OfflineThreshold", timeout=20)
        assert time.monotonic() - started < 15  # not the 20 s deadline: nothing was sent to it
        assert result.returncode == 3, result.stderr
        outcome = lines(result)["CS-005"]
        assert outcome["outcome"] == "offline" and outcome["error"] == "connection lost"
        assert all(lines(result)[i]["accepted"] for i in IDENTITIES[:4])
        assert "1 offline (CS-005)" in result.stderr
    finally:
        site.stations["CS-005"].start()
        site.wait_state("CS-005", "online")


def test_a_station_whose_whole_broker_died_is_offline_by_its_bridges_will(site: Site) -> None:
    """Its retained status still says online on the central broker: only the bridge's will tells."""
    site.fleet.stations["CS-003"].kill()
    try:
        site.wait_state("CS-003", "offline")
        assert site.presence()["CS-003"].reason == "bridge down"
        result = site.cli("list", "--json", "--stations", "CS-003")
        assert result.returncode == 3 and lines(result)["CS-003"]["reason"] == "bridge down"
    finally:
        site.fleet.stations["CS-003"].start_bridged()
        site.wait_state("CS-003", "online")


REQUEST_TO_CS_004 = "'stations/CS-004/cs/josev'"


def test_a_request_sent_while_a_bridge_is_down_runs_when_it_returns_across_a_central_restart(site: Site) -> None:
    """QoS 1 and persistent sessions on both brokers: the central broker keeps the request for the bridge,
    and, restarted meanwhile, the fleet client's session; the station's broker keeps the answer for the bridge."""
    bridge = site.fleet.stations["CS-004"]
    bridge.stop()  # SIGTERM: the bridge says goodbye ("0"), the station's session is saved with its broker

    central = site.fleet.central
    requests_before = central.log_text().count(REQUEST_TO_CS_004)
    bridged_before = site.fleet.bridged_counts()

    async def story() -> list[Any]:
        async with site.client() as fleet:
            assert (await fleet.presence())["CS-004"].reason == "bridge down"
            waiting = asyncio.create_task(fleet.station("CS-004").set_variables(
                {"OCPPCommCtrlr.OfflineThreshold": 777}, timeout=60))
            await asyncio.to_thread(wait_until, lambda: central.log_text().count(REQUEST_TO_CS_004) > requests_before,
                                    "the central broker never had the request")
            await asyncio.to_thread(central.restart)  # the request waits in the bridge's session
            await asyncio.to_thread(bridge.start_bridged)
            results = await asyncio.wait_for(waiting, 60)
            # The answer may reach the central broker before the fleet client is back: it waits in the
            # client's session only if the broker kept the session over its restart (CONNACK session present).
            assert f"Sending CONNACK to {fleet.client_id} (1, 0)" in central.log_text()
            return results

    results = asyncio.run(story())
    site.fleet.wait_all_bridged(bridged_before)  # every bridge back after the restart, for the tests that follow
    assert [r.status for r in results] == ["Accepted"]
    # Bridged again is not yet online: the CLI reads presence first, and the bridge's "1" and the station's
    # retained status may still be on their way (seen once in CI: the read found CS-004 not online).
    site.wait_state("CS-004", "online")
    read = site.cli("get", "--stations", "CS-004", "--json", "OCPPCommCtrlr.OfflineThreshold")
    assert lines(read)["CS-004"]["result"][0]["value"] == "777", (read.stdout, read.stderr)


def test_fleet_get_of_16_keys_lists_unknown_keys_and_is_a_refusal(site: Site) -> None:
    result = site.cli("get", "--stations", "CS-00[12]", "--ocpp-version", "ocpp1.6",
                      "HeartbeatInterval", "NoSuchKey")
    assert result.returncode == 1, result.stderr
    rows = [row.split() for row in result.stdout.splitlines()[1:5]]
    assert [row[:3] for row in rows] == [
        ["CS-001", "HeartbeatInterval", "read-write"], ["CS-001", "NoSuchKey", "unknown"],
        ["CS-002", "HeartbeatInterval", "read-write"], ["CS-002", "NoSuchKey", "unknown"]]
    assert "2 stations: 2 refused (CS-001, CS-002)" in result.stdout

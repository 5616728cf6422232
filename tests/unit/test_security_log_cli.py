"""``ocpp-station security-log``: the station's security log (A04.FR.04), read from its data directory.

A :class:`Station` of the test's own records security events the way the service does
(``record_startup``, ``events.record`` in a unit of work); :func:`ocpp_station.cli.main` then prints
them as a user types the command. The command only reads: beside an open station (SQLite WAL lets a
reader see the last commit) and on a closed one, where it leaves no file behind and changes no byte.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from ocpp_station.app import Station
from ocpp_station.config import Config
from ocpp_station.station.storage import DATABASE_NAME

from .test_oem_cli_usage import run  # (exit status, stdout, stderr) of `ocpp-station ARGS`, in process

HOSTILE = "frame \x1b[2J\x1b[31mnot OCPP\r\nforged line"  # a peer's text, as InvalidMessages may quote it


def record(station: Station, *events: tuple[str, str]) -> None:
    with station.lock, station.storage.unit_of_work():
        for kind, tech_info in events:
            station.events.record(kind, tech_info)


def rows(stdout: str) -> list[list[str]]:
    return [re.split(r"\s{2,}", line.strip()) for line in stdout.splitlines() if line.strip()]


@pytest.fixture
def station(make_station: Callable[..., Station]) -> Station:
    station = make_station(Config(), name="data")
    station.record_startup()
    record(station, ("ReconfigurationOfSecurityParameters", "NetworkConfigurationPriority set to 2,1"),
           ("InvalidMessages", HOSTILE), ("ResetOrReboot", "Reset accepted"))
    return station


def test_A04_FR_04_security_log_table_oldest_first_newest_last(station: Station, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "security-log", "--data-dir", str(tmp_path / "data"))
    assert status == 0, err
    table = rows(out)
    assert table[0] == ["TIME", "TYPE", "CRITICAL", "TECH INFO"]
    assert [row[1:3] for row in table[1:]] == [["StartupOfTheDevice", "yes"],
                                              ["ReconfigurationOfSecurityParameters", "no"],
                                              ["InvalidMessages", "no"], ["ResetOrReboot", "yes"]]
    assert table[1][3] == "ocpp-station started"
    assert table[2][3] == "NetworkConfigurationPriority set to 2,1"
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", row[0]) for row in table[1:])
    # A peer's text cannot drive the terminal or forge a row: control characters are written out.
    assert "\x1b" not in out and "\r" not in out and len(out.splitlines()) == 5
    assert table[3][3] == r"frame \x1b[2J\x1b[31mnot OCPP\x0d\x0aforged line"
    lines = out.splitlines()
    assert len({line.index(" " + row[1] + " ") for line, row in zip(lines[1:], table[1:], strict=True)}) == 1


def test_security_log_json_one_object_per_line_as_the_station_logged_it(
        station: Station, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "security-log", "--data-dir", str(tmp_path / "data"), "--json")
    assert status == 0, err
    printed = [json.loads(line) for line in out.splitlines()]
    assert printed == [{"id": e.id, "timestamp": e.at, "type": e.type, "critical": e.critical, "techInfo": e.tech_info}
                       for e in station.events.entries()]
    assert len(printed) == 4 and printed[2]["techInfo"] == HOSTILE  # JSON carries the text exactly


def test_security_log_limit_gives_the_newest_entries(station: Station, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "security-log", "--data-dir", str(tmp_path / "data"), "--json", "--limit", "2")
    assert status == 0
    assert [json.loads(line)["type"] for line in out.splitlines()] == ["InvalidMessages", "ResetOrReboot"]
    _, out, _ = run(capsys, "security-log", "--data-dir", str(tmp_path / "data"), "--limit", "1")
    assert [row[1] for row in rows(out)[1:]] == ["ResetOrReboot"]
    _, out, _ = run(capsys, "security-log", "--data-dir", str(tmp_path / "data"), "--limit", "99", "--json")
    assert len(out.splitlines()) == 4
    for bad in ("0", "-1", "x"):
        status, _, err = run(capsys, "security-log", "--data-dir", str(tmp_path / "data"), "--limit", bad)
        assert status == 2 and "--limit" in err


def test_security_log_beside_a_running_station_sees_each_commit(station: Station, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """The station keeps its database open (WAL mode) and goes on writing between two reads."""
    data = str(tmp_path / "data")
    _, out, _ = run(capsys, "security-log", "--data-dir", data, "--json")
    assert len(out.splitlines()) == 4
    record(station, ("InvalidCsmsCertificate", "the CSMS's certificate failed the handshake"))
    _, out, _ = run(capsys, "security-log", "--data-dir", data, "--json", "--limit", "1")
    assert json.loads(out)["type"] == "InvalidCsmsCertificate" and json.loads(out)["critical"] is True
    record(station, ("ResetOrReboot", "after the read"))  # the reader held nothing: the station still writes
    assert station.events.entries(1)[0].tech_info == "after the read"


def test_security_log_of_a_stopped_station_changes_nothing(station: Station, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    station.close()
    before = {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in data.iterdir() if path.is_file()}
    assert set(before) == {DATABASE_NAME}  # closed cleanly: no WAL left
    status, out, err = run(capsys, "security-log", "--data-dir", str(data))
    assert status == 0, err
    assert [row[1] for row in rows(out)[1:]][-1] == "ResetOrReboot"
    after = {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in data.iterdir() if path.is_file()}
    assert after == before  # no -wal or -shm made, the database untouched


def test_security_log_without_a_station_database_exits_2_and_creates_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "security-log", "--data-dir", str(tmp_path / "nowhere"))
    assert status == 2 and out == ""
    assert "no station database in" in err and "nowhere" in err
    assert not (tmp_path / "nowhere").exists()


def test_security_log_of_an_empty_log(make_station: Callable[..., Station], tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    make_station(Config(), name="quiet")  # a station that recorded nothing yet (serve records its startup)
    status, out, _ = run(capsys, "security-log", "--data-dir", str(tmp_path / "quiet"))
    assert status == 0 and out.strip() == "the security log is empty"
    status, out, _ = run(capsys, "security-log", "--data-dir", str(tmp_path / "quiet"), "--json")
    assert status == 0 and out == ""

"""The CSMS-door benchmark still runs, and its harness still catches what it promises to catch.

``python -m bench.csms_door --quick`` must exit 0 and write every figure (a tiny run's figures mean
nothing; this keeps the bench from rotting while the station changes under it). Its verdict is
only worth something if the harness really refuses a broken peer, so the harness is also pointed
at misbehaving clients here — answers out of order, twice, never — and at frames that break their
official schema, and must say so; and the answers it gives a station's CALLs must themselves be
valid, for every action either version has.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any, cast

import pytest
from bench import csms_door
from bench.csms_door import VERSION_FOLDERS, Harness, Peer, minimal_result, schema_problem
from bench.load import BenchError
from websockets.asyncio.client import connect

REPO = Path(__file__).resolve().parents[2]
PHASE_FIGURES = ("calls", "calls_per_s", "p50_ms", "p99_ms")
V201 = "ocpp2.0.1"


@pytest.mark.slow
def test_csms_bench_quick_run_writes_all_figures(tmp_path: Path) -> None:
    if shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists():
        pytest.fail("mosquitto is not installed: run `make test`, which installs it")
    out = tmp_path / "csms.json"
    run = subprocess.run([sys.executable, "-m", "bench.csms_door", "--quick", "--json", str(out),
                          "--workdir", str(tmp_path)], cwd=REPO, capture_output=True, text=True, timeout=90,
                         check=False)
    assert run.returncode == 0, f"stdout:\n{run.stdout}\nstderr:\n{run.stderr}"
    results = json.loads(out.read_text("utf-8"))
    for kind in ("floor", "service"):
        figures = results[kind]
        for phase in ("closed", "inflight32"):
            for key in PHASE_FIGURES:
                assert figures[phase][key] > 0, (kind, phase, key, figures[phase])
        assert figures["cpu_us_per_call"] >= 0 and figures["rss_mb"] > 0, figures  # CPU: 10 ms ticks
        assert figures["launch_to_accepted_s"] > 0, figures
        assert figures["launches"] == 2 and figures["exit_codes"] == [0, 0], figures  # alternated, pooled
        assert figures["ocpp_version"] == V201, figures
        # Every answer to our CALLs was checked (warm-up and phases), and every CALL of the peer's own.
        assert figures["checked"]["answers"] >= figures["closed"]["calls"] + figures["inflight32"]["calls"]
        assert all(launch.get("BootNotification") == 1 for launch in figures["checked"]["calls_by_action"])
    assert all("StatusNotification" in launch for launch in results["service"]["checked"]["calls_by_action"])
    assert [t["status"] in ("PASS", "FAIL") for t in results["targets"]] == [True] * 4, results["targets"]
    assert "targets (issue 20):" in run.stdout


@pytest.mark.parametrize("version", sorted(VERSION_FOLDERS))
def test_the_harness_answers_every_action_validly(version: str) -> None:
    """Whatever a station may send, the harness's CALLRESULT passes the official response schema."""
    folder = resources.files("ocpp") / VERSION_FOLDERS[version] / "schemas"
    actions = sorted(p.name.removesuffix("Response.json") for p in folder.iterdir() if p.name.endswith("Response.json"))
    assert len(actions) > 40, actions
    broken = {a: schema_problem(version, a, "Response", minimal_result(version, a)) for a in actions}
    assert {a: p for a, p in broken.items() if p is not None} == {}
    assert minimal_result(version, "BootNotification")["status"] == "Accepted"  # type: ignore[index]


def test_the_harness_refuses_frames_that_break_their_schema() -> None:
    peer = Peer("BROKEN", V201, cast(Any, None), None)
    peer.calls = [("BootNotification", {"reason": "PowerUp"}),  # no chargingStation
                  ("StatusNotification", {"timestamp": "2025-01-01T00:00:00Z", "connectorStatus": "Available",
                                          "evseId": 1, "connectorId": 1})]
    peer.results = [{"getVariableResult": []},  # minItems 1
                    {"getVariableResult": [{"attributeStatus": "UnknownVariable", "component": {"name": "X"},
                                            "variable": {"name": "Y"}}]}]  # valid, but not Accepted
    problems = peer.frame_problems()
    assert len(problems) == 3, problems
    assert "BootNotificationRequest breaks its schema" in problems[0], problems
    assert sum("GetVariablesResponse breaks its schema" in p for p in problems) == 1, problems
    assert sum("no Accepted 1-item result" in p for p in problems) == 1, problems


BOOT = json.dumps([2, "boot-1", "BootNotification",
                   {"reason": "PowerUp", "chargingStation": {"vendorName": "t", "model": "m"}}])


def _answer(message_id: str) -> str:
    result = {"getVariableResult": [{"attributeStatus": "Accepted", "component": {"name": "OCPPCommCtrlr"},
                                     "variable": {"name": "OfflineThreshold"}, "attributeValue": "60"}]}
    return json.dumps([3, message_id, result])


async def _misbehave(url: str, how: str) -> None:
    """A peer that answers our CALLs wrongly: ``swap`` (each pair in reverse), ``twice``, or ``drop`` (the 2nd)."""
    async with connect(url, subprotocols=[V201], compression=None) as ws:  # type: ignore[list-item]
        await ws.send(BOOT)
        held: list[str] = []
        seen = 0
        async for text in ws:
            frame = json.loads(text)
            if frame[0] != 2:
                continue
            seen += 1
            if how == "swap":
                held.append(frame[1])
                if len(held) == 2:
                    for message_id in reversed(held):
                        await ws.send(_answer(message_id))
                    held.clear()
            elif how == "twice":
                await ws.send(_answer(frame[1]))
                await ws.send(_answer(frame[1]))
            elif not (how == "drop" and seen == 2):
                await ws.send(_answer(frame[1]))


@pytest.fixture
def harness() -> Iterator[Harness]:
    serving = Harness([V201]).start()
    yield serving
    serving.stop()  # closes the peers' connections: a misbehaving client's loop ends with it


@pytest.mark.parametrize(("how", "window", "says"), [("swap", 2, "out of order"), ("twice", 1, "a second answer"),
                                                     ("drop", 1, "never answered")])
def test_the_harness_catches_a_peer_that_reorders_doubles_or_loses(
        harness: Harness, monkeypatch: pytest.MonkeyPatch, how: str, window: int, says: str) -> None:
    monkeypatch.setattr(csms_door, "ANSWER_TIMEOUT_S", 0.5)  # "drop": lost after half a second of silence
    client = threading.Thread(target=lambda: asyncio.run(_misbehave(harness.url(f"BAD{how}"), how)), daemon=True)
    client.start()
    peer = harness.wait_accepted(f"BAD{how}", 0, client.is_alive, timeout=10)
    with pytest.raises(BenchError, match=says):
        harness.call(harness.run_phase(peer, how, window=window, max_calls=6, max_seconds=10), timeout=30)
    harness.stop()
    client.join(10)
    assert not client.is_alive()


def test_a_well_behaved_peer_passes(harness: Harness) -> None:
    """The same client, answering properly, passes: the checks above are not the harness failing everything."""
    client = threading.Thread(target=lambda: asyncio.run(_misbehave(harness.url("GOOD"), "none")), daemon=True)
    client.start()
    peer = harness.wait_accepted("GOOD", 0, client.is_alive, timeout=10)
    result = harness.call(harness.run_phase(peer, "good", window=4, max_calls=20, max_seconds=10), timeout=30)
    assert len(result.latencies_ms) == 20 and peer.problems == [] and peer.frame_problems() == []

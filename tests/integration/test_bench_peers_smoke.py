"""``bench.peers`` counts what a public peer does wrong instead of stopping on it, and stays strict on the rest.

The peers themselves (MicroOcpp, SAP's simulator) are built outside the repository and are not run
here; the misbehaving client of the CSMS bench's own test stands in for one.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from bench.csms_door import Harness
from bench.peers import TolerantPeer, run_tolerant_phase

from tests.integration.test_bench_csms_smoke import V201, _misbehave


@pytest.fixture
def harness() -> Iterator[Harness]:
    serving = Harness([V201], peer_type=TolerantPeer).start()
    yield serving
    serving.stop()


@pytest.mark.parametrize(("how", "window", "lost", "out_of_order"), [("drop", 1, 1, 0), ("swap", 2, 0, 3),
                                                                     ("none", 4, 0, 0)])
def test_a_tolerant_peer_counts_lost_and_reordered_calls_and_the_phase_ends(
        harness: Harness, how: str, window: int, lost: int, out_of_order: int) -> None:
    client = threading.Thread(target=lambda: asyncio.run(_misbehave(harness.url(f"P{how}"), how)), daemon=True)
    client.start()
    peer = harness.wait_accepted(f"P{how}", 0, client.is_alive, timeout=10)
    result, counts = harness.call(run_tolerant_phase(peer, how, window=window, max_calls=6, max_seconds=10,
                                                     loss_after_s=0.3), timeout=30)
    assert counts["sent"] == 6 and counts["lost"] == lost and counts["out_of_order"] == out_of_order, counts
    assert len(result.latencies_ms) == counts["answered"] == 6 - lost
    assert counts["statuses"] == {"Accepted": 6 - lost} and peer.problems == []


def test_a_tolerant_peer_still_refuses_a_second_answer(harness: Harness) -> None:
    client = threading.Thread(target=lambda: asyncio.run(_misbehave(harness.url("Ptwice"), "twice")), daemon=True)
    client.start()
    peer = harness.wait_accepted("Ptwice", 0, client.is_alive, timeout=10)
    harness.call(run_tolerant_phase(peer, "twice", window=1, max_calls=3, max_seconds=10, loss_after_s=0.3),
                 timeout=30)
    assert any("a second answer" in problem for problem in peer.problems), peer.problems

"""The growth benchmark still runs: ``python -m bench.growth --quick`` exits 0 and writes its JSON.

Not a performance test (one round of two small stations means nothing); it keeps issue 20's growth
table from rotting while the service, its CLI and its report client change under it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIGURES = ("start_first_s", "start_restart_s", "rss_start_mb", "rss_load_mb", "get100_p50_ms", "get100_p99_ms",
           "report_s", "report_parts", "report_items", "report_bytes")


@pytest.mark.slow
def test_growth_quick_run_writes_every_figure(tmp_path: Path) -> None:
    if shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists():
        pytest.fail("mosquitto is not installed: run `make test`, which installs it")
    out = tmp_path / "growth.json"
    run = subprocess.run([sys.executable, "-m", "bench.growth", "--quick", "--json", str(out),
                          "--workdir", str(tmp_path)], cwd=REPO, capture_output=True, text=True, timeout=90,
                         check=False)
    assert run.returncode == 0, f"stdout:\n{run.stdout}\nstderr:\n{run.stderr}"
    results = json.loads(out.read_text("utf-8"))
    assert sorted(results["sizes"]) == ["1", "10"]
    for size, figures in results["sizes"].items():
        for key in FIGURES:
            assert figures[key] > 0, (size, key, figures)
    # A bigger station has a bigger inventory: 10 EVSEs of 2 connectors report more than one does.
    assert results["sizes"]["10"]["report_items"] > results["sizes"]["1"]["report_items"]
    # Each size was launched twice on one data dir: a first start, then a restart.
    assert sorted((x["size"], x["kind"]) for x in results["launches"]) == [
        (1, "first"), (1, "restart"), (10, "first"), (10, "restart")]
    assert all(x["exit_code"] == 0 for x in results["launches"])
    for key in FIGURES:
        growth = results["growth"][key]
        assert [(s["low"], s["high"]) for s in growth["steps"]] == [(1, 10)], growth
        assert growth["verdict"] in ("linear or better", "WORSE than linear")
    assert isinstance(results["all_linear_or_better"], bool)
    assert "verdict" in run.stdout and "10/1" in run.stdout

"""Targets, the printed table, the JSON file and the optional latency plot.

Targets that compare with the floor are ratios (they hold on any machine); the others are absolute
budgets that come from the charger (memory, start-up, a 100-item read) or from physics (a durable
write costs at least one fsync).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Target:
    """One line of the issue's targets: ``value`` against ``limit`` (and an optional ``stretch``)."""

    name: str
    value: float
    limit: float
    stretch: float | None
    higher_is_better: bool = False
    unit: str = ""

    def _meets(self, bound: float) -> bool:
        return self.value >= bound if self.higher_is_better else self.value <= bound

    @property
    def passed(self) -> bool:
        return self._meets(self.limit)

    @property
    def stretch_passed(self) -> bool:
        return self.stretch is not None and self._meets(self.stretch)

    @property
    def status(self) -> str:
        return "PASS (stretch)" if self.passed and self.stretch_passed else "PASS" if self.passed else "FAIL"

    def describe(self) -> str:
        op = "≥" if self.higher_is_better else "≤"
        stretch = f" (stretch {op} {self.stretch:g}{self.unit})" if self.stretch is not None else ""
        return f"{op} {self.limit:g}{self.unit}{stretch}"


def targets(floor: dict[str, Any], service: dict[str, Any], fsync_ms: float) -> list[Target]:
    """Issue 20's targets for the MQTT door (the 100-item read keeps issue 6's, which 20 left as they were)."""
    ratio_p50 = service["get1_closed"]["p50_ms"] / floor["get1_closed"]["p50_ms"]
    ratio_rps = service["get1_inflight32"]["requests_per_s"] / floor["get1_inflight32"]["requests_per_s"]
    # What a durable write costs beyond a read, the same request through the same door, in fsyncs of this disk.
    write_fsyncs = (service["set1_durable"]["p50_ms"] - service["get1_closed"]["p50_ms"]) / fsync_ms
    return [
        Target("GetVariables 1 item, closed-loop p50 / floor", round(ratio_p50, 3), 1.2, 1.1, unit="×"),
        Target("throughput, 32 in flight / floor", round(ratio_rps, 3), 0.9, None, higher_is_better=True, unit="×"),
        Target("GetVariables 100 items p50 (issue 6)", service["get100"]["p50_ms"], 5, 2, unit=" ms"),
        Target("durable SetVariables p50 − GetVariables p50", round(write_fsyncs, 3), 2, 1.5, unit=" fsyncs"),
        Target("RSS after the load", service["rss_mb"], 45, None, unit=" MB"),
        Target("launch → first answer", service["launch_to_first_answer_s"], 0.3, None, unit=" s"),
    ]


def _rows(floor: dict[str, Any], service: dict[str, Any], fsync_ms: float,
          in_process: dict[str, float]) -> list[tuple[str, str, str, str]]:
    def row(label: str, path: tuple[str, ...], fmt: str = "{:.3f}") -> tuple[str, str, str, str]:
        f, s = floor, service
        for key in path:
            f, s = f[key], s[key]
        ratio = f"{s / f:.2f}×" if f else "—"
        return label, fmt.format(f), fmt.format(s), ratio

    return [
        row("GetVariables 1 item, closed loop: p50 (ms)", ("get1_closed", "p50_ms")),
        row("  p99 (ms)", ("get1_closed", "p99_ms")),
        row("  requests/s", ("get1_closed", "requests_per_s"), "{:,.0f}"),
        row("GetVariables 1 item, 32 in flight: requests/s", ("get1_inflight32", "requests_per_s"), "{:,.0f}"),
        row("  p50 (ms)", ("get1_inflight32", "p50_ms")),
        row("  p99 (ms)", ("get1_inflight32", "p99_ms")),
        row("GetVariables 100 items: p50 (ms)", ("get100", "p50_ms")),
        row("  p99 (ms)", ("get100", "p99_ms")),
        row("SetVariables 1 item, durable: p50 (ms)", ("set1_durable", "p50_ms")),
        row("  p99 (ms)", ("set1_durable", "p99_ms")),
        ("  one fsync of 4 KiB on the data dir: p50 (ms)", "", f"{fsync_ms:.3f}", ""),
        ("in process, no MQTT: GetVariables 1 item p50 (ms)", "", f"{in_process['get1_handle_p50_ms']:.3f}", ""),
        ("  SetVariables 1 item p50 (ms)", "", f"{in_process['set1_handle_p50_ms']:.3f}", ""),
        ("  one SQLite commit of one row p50 (ms)", "", f"{in_process['commit_p50_ms']:.3f}", ""),
        row("RSS after the load (MB)", ("rss_mb",), "{:.1f}"),
        row("CPU used, launch to end (s)", ("cpu_s",), "{:.2f}"),
        row("launch → first answer (s)", ("launch_to_first_answer_s",)),
    ]


def table(floor: dict[str, Any], service: dict[str, Any], fsync_ms: float, in_process: dict[str, float],
          goals: list[Target]) -> str:
    """The human-readable report: figures with service/floor ratios, then the targets."""
    rows = [("figure", "floor", "service", "service/floor"), *_rows(floor, service, fsync_ms, in_process)]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join((r[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True))))
             for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    lines += ["", "targets (issue 20):"]
    name_width = max(len(g.name) for g in goals)
    for goal in goals:
        value = f"{goal.value:.3f}{goal.unit}"
        lines.append(f"  {goal.name.ljust(name_width)}  {value:>11}  {goal.describe():<28}  {goal.status}")
    return "\n".join(lines)


def target_dicts(goals: list[Target]) -> list[dict[str, Any]]:
    return [asdict(g) | {"passed": g.passed, "stretch_passed": g.stretch_passed, "status": g.status} for g in goals]


def write_json(path: Path, results: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", "utf-8")


def write_plot(path: Path, samples: dict[str, list[float]]) -> bool:
    """Latency CDFs per phase, floor against service; skipped (False) without matplotlib."""
    try:  # optional: the bench never installs it
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    phases = sorted({key.split(".", 1)[1] for key in samples})
    fig, axes = plt.subplots(1, len(phases), figsize=(4.5 * len(phases), 4), squeeze=False)
    for ax, phase in zip(axes[0], phases, strict=True):
        for kind in ("floor", "service"):
            data = sorted(samples.get(f"{kind}.{phase}", []))
            if data:
                ax.plot(data, [(i + 1) / len(data) for i in range(len(data))], label=kind)
        ax.set_xscale("log")
        ax.set_title(phase)
        ax.set_xlabel("latency (ms)")
        ax.grid(True, alpha=0.3)
    axes[0][0].set_ylabel("fraction of requests")
    axes[0][0].legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True

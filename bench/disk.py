"""The cost of one fsync on the disk that holds the service's data directory.

A durable SetVariables answers only after SQLite's commit reached the disk, so its latency can never
beat the floor plus one fsync. Measuring that fsync in the same run, on the same directory, turns
"SetVariables is slow" into "SetVariables costs N fsyncs", which is what a fix can act on.
"""

from __future__ import annotations

import os
from pathlib import Path

from .load import timed_p50_ms


def fsync_p50_ms(directory: Path, rounds: int = 200) -> float:
    """p50 of (write 4 KiB at the start of a file + os.fsync), in ms, inside ``directory``."""
    path = directory / "fsync-probe.bin"
    block = os.urandom(4096)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)

    def write_and_sync(_round: int) -> None:
        os.pwrite(fd, block, 0)
        os.fsync(fd)

    try:
        return timed_p50_ms(rounds, write_and_sync)
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)

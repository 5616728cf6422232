"""Log lines that repeat: said once, then as a reminder; the repeats in between at DEBUG.

Why: the CSMS link retries for ever (B10.FR.09), every few seconds. A station whose CSMS is out
of reach for a day, or whose network profile lacks its password, would otherwise write tens of
thousands of identical warnings to a charger's flash and bury whatever else happened. Nothing
is dropped: with ``--log-level DEBUG`` every attempt is still there.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

REMIND_AFTER_S = 600.0  # a failure that persists is said again every 10 minutes
MAX_KEYS = 64  # failures remembered at once (a long outage whose messages vary must not grow memory)


@dataclass
class _Said:
    at: float  # when it was last said at its own level
    quiet: int = 0  # repeats since, logged at DEBUG only


class RepeatedLog:
    """One logger's repeated lines, keyed by what makes two lines "the same" to a reader."""

    def __init__(self, logger: logging.Logger, remind_after_s: float = REMIND_AFTER_S,
                 clock: Callable[[], float] = time.monotonic):
        self._log = logger
        self._remind_after_s = remind_after_s
        self._clock = clock
        self._said: dict[str, _Said] = {}

    def log(self, level: int, key: str, message: str, *args: object) -> None:
        """Log ``message % args`` at ``level`` if ``key`` was not said within the reminder interval,
        else at DEBUG. A reminder says how many repeats went to DEBUG since the last time."""
        now = self._clock()
        said = self._said.get(key)
        if said is not None and now - said.at < self._remind_after_s:
            said.quiet += 1
            self._log.debug(message, *args)
            return
        if said is not None and said.quiet:
            message += " (again: %d more time(s) in the last %.0f min, at DEBUG)"
            args = (*args, said.quiet, (now - said.at) / 60)
        self._said.pop(key, None)
        while len(self._said) >= MAX_KEYS:
            del self._said[next(iter(self._said))]  # the one said longest ago
        self._said[key] = _Said(now)
        self._log.log(level, message, *args)

    def forget(self) -> None:
        """Things went well: the next failure, whatever it is, is news again."""
        self._said.clear()

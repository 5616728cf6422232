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


OTHERS = "(other names)"


class Tally:
    """Events that are normal but worth knowing about, counted by name and summarised.

    Why: on a shared Josev broker the request topic carries dozens of messages a minute that are
    not the station's to answer (``cp_status`` updates, ``meter_values`` …). One line each would
    bury the log; none at all would hide a misrouted client. So: the first one is said at once,
    then a summary with the counts by name at most every ``summary_after_s`` (each one at DEBUG).
    At most ``max_names`` names are told apart; the rest are counted together.
    """

    def __init__(self, logger: logging.Logger, what: str, summary_after_s: float = REMIND_AFTER_S,
                 clock: Callable[[], float] = time.monotonic, max_names: int = 32):
        self._log = logger
        self._what = what
        self._summary_after_s = summary_after_s
        self._clock = clock
        self._max_names = max_names
        self._since: float | None = None  # when the last summary (or the first notice) was said
        self._counts: dict[str, int] = {}
        self.total = 0

    def count(self, name: str) -> None:
        """Count one event named ``name`` (already made safe for the log by the caller)."""
        self.total += 1
        now = self._clock()
        if self._since is None:
            self._since = now
            self._log.info("%s, e.g. %s; they are counted and summarised every %.0f min", self._what, name,
                           self._summary_after_s / 60)
            return
        if name not in self._counts and len(self._counts) >= self._max_names:
            name = OTHERS
        self._counts[name] = self._counts.get(name, 0) + 1
        if now - self._since >= self._summary_after_s:
            counts = ", ".join(f"{n} ×{c}" for n, c in sorted(self._counts.items(), key=lambda nc: -nc[1]))
            self._log.info("%s in the last %.0f min: %s", self._what, (now - self._since) / 60, counts)
            self._since, self._counts = now, {}

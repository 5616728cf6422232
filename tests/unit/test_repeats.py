"""RepeatedLog: a failure that repeats is said once, then every reminder interval; DEBUG in between."""

from __future__ import annotations

import logging

import pytest

from ocpp_station.repeats import MAX_KEYS, RepeatedLog


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def said(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="test.repeats")
    return caplog


def _levels(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "test.repeats"]


def test_a_repeat_is_debug_until_the_reminder_which_counts_the_quiet_ones(said: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    repeats = RepeatedLog(logging.getLogger("test.repeats"), remind_after_s=600, clock=clock)
    for _ in range(3):
        repeats.log(logging.WARNING, "k", "slot %d failed", 1)
        clock.now += 100
    clock.now += 400  # 700 s after the first: time for a reminder
    repeats.log(logging.WARNING, "k", "slot %d failed", 1)
    assert _levels(said) == [("WARNING", "slot 1 failed"), ("DEBUG", "slot 1 failed"), ("DEBUG", "slot 1 failed"),
                             ("WARNING", "slot 1 failed (again: 2 more time(s) in the last 12 min, at DEBUG)")]


def test_different_keys_are_said_each_and_forget_makes_the_next_failure_news(said: pytest.LogCaptureFixture) -> None:
    repeats = RepeatedLog(logging.getLogger("test.repeats"), clock=Clock())
    repeats.log(logging.WARNING, "a", "first")
    repeats.log(logging.INFO, "b", "second")
    repeats.log(logging.WARNING, "a", "first")
    repeats.forget()
    repeats.log(logging.WARNING, "a", "first")
    assert _levels(said) == [("WARNING", "first"), ("INFO", "second"), ("DEBUG", "first"), ("WARNING", "first")]


def test_memory_is_bounded_when_every_failure_differs(said: pytest.LogCaptureFixture) -> None:
    repeats = RepeatedLog(logging.getLogger("test.repeats"), clock=Clock())
    for i in range(MAX_KEYS * 3):
        repeats.log(logging.WARNING, f"k{i}", "failure %d", i)
    assert len(repeats._said) == MAX_KEYS
    repeats.log(logging.WARNING, f"k{MAX_KEYS * 3 - 1}", "the newest is still known")
    assert _levels(said)[-1] == ("DEBUG", "the newest is still known")

"""RepeatedLog: a failure that repeats is said once, then every reminder interval; DEBUG in between."""

from __future__ import annotations

import logging

import pytest

from ocpp_station.repeats import MAX_KEYS, OTHERS, RepeatedLog, Tally


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


def test_a_tally_says_the_first_event_then_a_summary_by_name_at_most_every_interval(
        said: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    tally = Tally(logging.getLogger("test.repeats"), "not answered", summary_after_s=600, clock=clock)
    tally.count("'cp_status'/'update'")
    assert _levels(said) == [("INFO", "not answered, e.g. 'cp_status'/'update'; they are counted and "
                                      "summarised every 10 min")]
    for _ in range(3):
        tally.count("'cp_status'/'update'")
    tally.count("'service_status'/'request'")
    clock.now += 599
    assert len(_levels(said)) == 1  # nothing more until the interval is over
    clock.now += 1
    tally.count("'cp_status'/'update'")
    assert _levels(said)[-1] == ("INFO", "not answered in the last 10 min: 'cp_status'/'update' ×4, "
                                         "'service_status'/'request' ×1")
    assert tally.total == 6


def test_a_tally_tells_apart_a_bounded_number_of_names(said: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    tally = Tally(logging.getLogger("test.repeats"), "x", summary_after_s=10, clock=clock, max_names=2)
    for name in ("first", "a", "b", "c", "d"):
        tally.count(name)
    clock.now += 10
    tally.count("e")
    assert _levels(said)[-1] == ("INFO", f"x in the last 0 min: {OTHERS} ×3, a ×1, b ×1")

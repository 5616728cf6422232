"""shown(): a client's text in a log line is one short piece of one line, whatever it holds."""

from __future__ import annotations

from ocpp_station.logsafe import MAX_SHOWN, shown


def test_plain_text_is_quoted() -> None:
    assert shown("service_status") == "'service_status'"


def test_a_newline_cannot_forge_a_log_line() -> None:
    forged = "x\n2026-12-01 10:00:00 ERROR ocpp_station: forged"
    assert "\n" not in shown(forged) and shown(forged).startswith("'x\\n2026")


def test_control_characters_quotes_and_lone_surrogates_are_escaped() -> None:
    assert shown("a\x00b'c\ud800\x1b[31m") == "'a\\x00b\\'c\\ud800\\x1b[31m'"


def test_long_text_is_capped_with_an_ellipsis() -> None:
    text = shown("n" * 1_000_000)
    assert text == "'" + "n" * MAX_SHOWN + "…'"

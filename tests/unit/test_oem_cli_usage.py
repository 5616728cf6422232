"""``ocpp-station get|set|certs|network``: help texts and usage errors, in process (no broker is reached).

:func:`ocpp_station.cli.main` is called with the arguments a user types; exit statuses and messages
are what the command returns or argparse exits with. The same through the real entry point (a
subprocess), one case each, and everything that talks to a broker: tests/integration/test_oem_cli.py.
"""

from __future__ import annotations

import pytest

from ocpp_station.cli import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``ocpp-station ARGS``."""
    try:
        status = main(list(args))
    except SystemExit as exit_:
        status = exit_.code if isinstance(exit_.code, int) else 2
    out = capsys.readouterr()
    return status, out.out, out.err


def test_help_documents_exit_statuses(capsys: pytest.CaptureFixture[str]) -> None:
    for command in (["get"], ["set"], ["certs", "list"], ["certs", "install"], ["certs", "delete"],
                    ["network", "list"], ["network", "set"]):
        status, out, _ = run(capsys, *command, "--help")
        assert status == 0
        assert "exit status: 0 success, 1" in out and "3 the broker" in out, command
    _, top, _ = run(capsys, "--help")
    assert all(name in top for name in ("get", "set", "certs", "network", "serve", "call"))


@pytest.mark.parametrize("args", [
    ["get", "NoDotHere"],
    ["get", "OCPPCommCtrlr.OfflineThreshold:Bogus"],
    ["set", "OCPPCommCtrlr.OfflineThreshold"],
    ["get"],
    ["certs", "delete"],
    ["certs", "delete", "--serial", "1"],
    ["network", "set", "2", "--url", "wss://x.example.com", "--security-profile", "2", "--password-env",
     "OCPP_CLI_TEST_UNSET_VARIABLE"],
    ["network", "set", "2", "--url", "wss://x.example.com", "--security-profile", "2", "--identity", "A"],
    ["get", "TxCtrlr.TxStartPoint", "--mqtt-url", "http://example"],
])
def test_bad_usage_exits_2(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                           args: list[str]) -> None:
    monkeypatch.delenv("OCPP_CLI_TEST_UNSET_VARIABLE", raising=False)
    status, out, err = run(capsys, *args)
    assert status == 2, (out, err)
    assert err.strip()


def test_bad_syntax_message_is_clear(capsys: pytest.CaptureFixture[str]) -> None:
    _, _, err = run(capsys, "get", "OCPPCommCtrlr.OfflineThreshold:Bogus")
    assert "unknown attribute type 'Bogus'" in err

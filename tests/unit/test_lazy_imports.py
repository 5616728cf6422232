"""cryptography is loaded when the station first handles a certificate, not before (:mod:`ocpp_station.lazy`).

It is ~14 MB of the station's memory and ~50 ms of its launch (issue 20). This test process has
loaded it long ago, so the station runs in a child interpreter of its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

from ocpp_station import cli
from ocpp_station.lazy import lazy_module
from tests.certificate_cases import pem, root
from tests.support import check_response

CHILD = """
import json, sys, uuid
from dataclasses import replace
from pathlib import Path

import ocpp_station.cli as cli  # everything `serve` imports
from ocpp_station.app import Station
from ocpp_station.config import Config

def loaded():
    return sorted(name for name in sys.modules if name.split(".")[0] == "cryptography")

def call(action, payload):
    raw = json.dumps({"id": str(uuid.uuid4()), "name": "ocpp_message", "type": "request",
                      "data": {"ocpp_version": "ocpp2.0.1", "message_name": action, "payload": payload}})
    return json.loads(station.handle(raw.encode()).body)

cli._parser(cli._command(["--log-level", "INFO", "serve", "--no-csms"]))
out = {"after_import": loaded(),
       "clients": [name for name in ("ocpp_station.oem_cli", "ocpp_station.fleet_cli", "ocpp_station.oem_types")
                   if name in sys.modules]}
station = Station(replace(Config(), data_dir=Path(sys.argv[1])))
out["after_start"] = loaded()
get = {"getVariableData": [{"component": {"name": "SecurityCtrlr"}, "variable": {"name": "Identity"}}]}
out["answers"] = [["GetVariables", call("GetVariables", get)],
                  ["SetVariables", call("SetVariables", {"setVariableData": [
                      {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"},
                       "attributeValue": "300"}]})],
                  ["GetInstalledCertificateIds", call("GetInstalledCertificateIds", {})]]
out["after_requests"] = loaded()
out["answers"].append(["InstallCertificate", call("InstallCertificate", {
    "certificateType": "CSMSRootCertificate", "certificate": Path(sys.argv[2]).read_text()})])
out["after_certificate"] = loaded()
station.close()
print(json.dumps(out))
"""


def _run_station(tmp_path: Path) -> dict:
    certificate = tmp_path / "root.pem"
    certificate.write_text(pem(root("Lazy Root")))
    done = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "data"), str(certificate)],
                          capture_output=True, text=True, timeout=60, check=True)
    return json.loads(done.stdout)


def test_a_station_without_certificates_never_loads_cryptography_and_one_with_them_does(tmp_path: Path) -> None:
    out = _run_station(tmp_path)
    assert out["after_import"] == [] and out["after_start"] == [] and out["after_requests"] == []
    assert out["clients"] == []  # serve's command line leaves out the OEM's and the fleet's commands
    for action, answer in out["answers"]:
        check_response(answer, action, "ocpp2.0.1")
    statuses = [answer["data"]["payload"].get("status") for _, answer in out["answers"][2:]]
    assert statuses == ["NotFound", "Accepted"]
    assert "cryptography.x509" in out["after_certificate"]


def test_the_command_is_told_before_parsing_wherever_the_global_options_stand() -> None:
    assert cli._command(["serve", "--data-dir", "x"]) == "serve"
    assert cli._command(["--log-level", "DEBUG", "serve"]) == cli._command(["--log-level=DEBUG", "serve"]) == "serve"
    assert cli._command(["get", "OCPPCommCtrlr.HeartbeatInterval"]) == "get"
    assert cli._command(["--help"]) is None and cli._command(["--log-level"]) is None
    assert "get" in cli._parser(None).format_help() and "fleet" in cli._parser(None).format_help()


def test_a_lazy_module_imports_once_at_the_first_attribute_read_from_any_thread() -> None:
    module = lazy_module("tests.unit.lazy_target")
    assert "tests.unit.lazy_target" not in sys.modules
    seen: list[object] = []
    threads = [threading.Thread(target=lambda: seen.append(module.MARKER)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == [sys.modules["tests.unit.lazy_target"].MARKER] * 8
    assert "MARKER" in vars(module)  # kept: later reads do not go through the import system

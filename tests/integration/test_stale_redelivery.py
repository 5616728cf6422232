"""A broker that crashes and restarts from its snapshot delivers an old write again: it must not run.

Issue 15, item 3, as the probe found it, at a small size: a write X is waiting for the station in
mosquitto's snapshot; the station runs X, then more writes than its answer cache keeps; mosquitto
is killed before it writes a new snapshot, restarts from the old one and delivers X again. The
station must remember that it answered X (for the MQTT session expiry, not for as long as X's
answer happens to be kept): OfflineThreshold stays what the later writes set.
"""

from __future__ import annotations

import json
from pathlib import Path

from ocpp_station.answers import PRUNE_EVERY

from ..support import Mosquitto, OemClient, StationProcess, check_response
from .test_reliability import offline_threshold, set_offline_threshold


def test_a_write_a_restored_broker_delivers_again_does_not_run_again(broker: Mosquitto, tmp_path: Path) -> None:
    config = tmp_path / "station.toml"
    config.write_text("[requests]\nanswer_cache_size = 5\n")  # 5 answers kept, not 10,000: fewer writes needed
    station = StationProcess(broker.url, tmp_path / "data",
                             ["--config", str(config), "--client-id", "station-under-test"]).start()
    station.terminate()  # the broker keeps its session: X waits there for it
    # The OEM's session (its subscription to josev/cs) is in the snapshot too: the answer to X
    # redelivered reaches it whichever of the two reconnects first after the crash.
    oem = OemClient(broker.port, persistent_id="oem-under-test")
    try:
        x = set_offline_threshold(111)
        oem.publish(json.dumps(x))  # acknowledged by the broker: held for the station's session
        broker.save_snapshot(holding=x["id"].encode())  # what mosquitto would restore: X, still owed
        station.start()
        first = oem.wait_for(x["id"], timeout=10)
        check_response(first, "SetVariables", "ocpp2.0.1")
        assert first["data"]["payload"]["setVariableResult"][0]["attributeStatus"] == "Accepted", first
        later = [set_offline_threshold(222) for _ in range(PRUNE_EVERY + 20)]  # past a pruning of the answers
        for request in later:
            oem.publish(json.dumps(request))
        for request in later:
            answer = oem.wait_for(request["id"], timeout=30)
            check_response(answer, "SetVariables", "ocpp2.0.1")
            assert answer["data"]["payload"]["setVariableResult"][0]["attributeStatus"] == "Accepted", answer
        offset = len(station.log_text())
        broker.kill()  # before any autosave: the snapshot on disk still owes X to the station
        broker.start()  # same port, same persistence: the snapshot is restored
        again = oem.wait_for(x["id"], timeout=30)  # X, delivered again by the restored broker, answered
        check_response(again, "SetVariables", "ocpp2.0.1")
        assert offline_threshold(oem) == "222"  # X did not run again
        data = again["data"]
        assert data["message_type"] == "CallError" and data["error_code"] == "GenericError", again
        assert "not executed again" in data["error_description"] and "answeredAt" in data["error_details"], again
        assert f"{x['id']} was answered at" in station.log_text()[offset:]  # logged before it was answered
        assert [a for a in oem.barrier() if a["id"] == x["id"]] == []  # and was answered once more, not twice
    finally:
        oem.close()
        station.terminate()

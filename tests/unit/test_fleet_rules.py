"""Fleets without a broker: the topic prefix, the presence format, choosing stations, combining a
station's word with its bridge's, and what the fleet commands' exit status says."""

from __future__ import annotations

import asyncio

import aiomqtt
import pytest

from ocpp_station import presence
from ocpp_station.config import ConfigError, load
from ocpp_station.fleet import ANSWERED, ERROR, OFFLINE, QUEUED, TIMEOUT, UNKNOWN, FleetClient, Outcome
from ocpp_station.fleet_cli import Answered, _summary
from ocpp_station.oem_types import CallError

# -- the station's topics --------------------------------------------------------------------------------------


def test_by_default_the_topics_are_josevs_and_presence_sits_beside_the_answers() -> None:
    mqtt = load(environ={}).mqtt
    assert (mqtt.request_topic, mqtt.response_topic, mqtt.status_topic) == ("cs/josev", "josev/cs", "josev/status")


def test_a_topic_prefix_with_the_identity_goes_before_all_three_topics() -> None:
    config = load(environ={}, overrides={"topic_prefix": "stations/{identity}/"})
    identity = config.station.identity
    assert config.mqtt.request_topic == f"stations/{identity}/cs/josev"
    assert config.mqtt.response_topic == f"stations/{identity}/josev/cs"
    assert config.mqtt.status_topic == f"stations/{identity}/josev/status"
    assert config.mqtt.topic_prefix == ""  # applied once: the topics above are the final ones


def test_the_client_id_may_carry_the_identity_so_stations_on_one_broker_keep_a_session_each() -> None:
    config = load(environ={}, overrides={"client_id": "station-{identity}", "topic_prefix": "stations/{identity}/"})
    assert config.mqtt.client_id == f"station-{config.station.identity}"


def test_an_empty_status_topic_turns_presence_off_and_is_not_prefixed() -> None:
    config = load(environ={}, overrides={"topic_prefix": "fleet/", "status_topic": ""})
    assert config.mqtt.status_topic == ""
    assert config.mqtt.request_topic == "fleet/cs/josev"


@pytest.mark.parametrize(("overrides", "complaint"), [
    ({"topic_prefix": "stations"}, "must end with '/'"),
    ({"topic_prefix": "stations/+/"}, "wildcards"),
    ({"topic_prefix": "stations/#/"}, "wildcards"),
    ({"topic_prefix": "stations/{serial}/"}, "one placeholder only"),
    ({"status_topic": "cs/josev"}, "different topics"),
    ({"status_topic": "josev/+"}, "wildcards"),
    ({"request_topic": ""}, "cannot be empty"),
])
def test_a_topic_layout_the_station_cannot_use_is_refused_at_start(overrides: dict[str, str], complaint: str) -> None:
    with pytest.raises(ConfigError, match=complaint.replace("+", r"\+")):
        load(environ={}, overrides=overrides)


# -- the presence format -------------------------------------------------------------------------------------


def test_presence_reads_back_what_the_station_writes() -> None:
    link = presence.CsmsLink(True, True, "Accepted", "ocpp2.0.1", 2)
    body = presence.online("CS-1", since="2026-12-02T10:00:00Z", station={"model": "m"}, ocpp_versions=("ocpp2.1",),
                           topics={"requests": "cs/josev", "answers": "josev/cs"}, csms=link, offered=("ocpp2.1",))
    seen = presence.read("CS-1", body)
    assert seen is not None and seen.online and seen.since == "2026-12-02T10:00:00Z"
    assert seen.csms["registration"] == "Accepted" and seen.csms["slot"] == 2 and seen.csms["state"] == "connected"
    gone = presence.read("CS-1", presence.offline("CS-1", presence.LOST))
    assert gone is not None and not gone.online and gone.reason == "connection lost" and gone.since is None


@pytest.mark.parametrize("payload", [b"", b"not json", b"[]", b'{"state": "sleeping"}', b'"online"', b"\xff"])
def test_what_is_not_a_presence_message_is_none(payload: bytes) -> None:
    assert presence.read("CS-1", payload) is None


# -- choosing stations ---------------------------------------------------------------------------------------


def test_globs_match_known_stations_and_plain_identities_name_themselves() -> None:
    known = ["CS-010", "CS-002", "CS-001", "XY-1"]
    assert FleetClient.select(["CS-00*"], known) == ["CS-001", "CS-002"]
    assert FleetClient.select(["CS-0[01]?", "CS-999"], known) == ["CS-001", "CS-002", "CS-010", "CS-999"]
    assert FleetClient.select(["CS-002", "CS-00*"], known) == ["CS-002", "CS-001"]  # once each, first mention first
    assert FleetClient.select(["cs-*"], known) == []  # identities are case-sensitive


@pytest.mark.parametrize("identity", ["", "a/b", "CS+1", "CS#", "a\x00"])
def test_an_identity_that_cannot_be_one_topic_level_cannot_be_addressed(identity: str) -> None:
    fleet = FleetClient("mqtt://127.0.0.1:1")
    with pytest.raises(ValueError, match="identity"):
        fleet.station(identity)


def message(topic: str, payload: bytes, *, retain: bool = True) -> aiomqtt.Message:
    return aiomqtt.Message(topic, payload, 1, retain, 1, None)


def test_topics_under_the_prefix_are_told_apart_by_identity_and_kind() -> None:
    fleet = FleetClient("mqtt://127.0.0.1:1", prefix="fleet/eu/")
    assert fleet._where("fleet/eu/CS-1/josev/cs") == ("CS-1", "answer")
    assert fleet._where("fleet/eu/CS-1/josev/status") == ("CS-1", "status")
    assert fleet._where("fleet/eu/CS-1/bridge") == ("CS-1", "bridge")
    assert fleet._where("fleet/eu/CS-1/josev/cs/client/x") is None
    assert fleet._where("fleet/us/CS-1/josev/cs") is None
    assert fleet._where("fleet/eu//josev/cs") is None


def test_a_bridge_that_went_down_overrules_the_online_status_its_station_left_behind() -> None:
    """A station whose whole machine lost power cannot publish its will (its local broker went with it):
    the central broker's copy still says online; only the bridge's own will says otherwise."""
    fleet = FleetClient("mqtt://127.0.0.1:1")
    online = presence.online("CS-1", since="t", station={}, ocpp_versions=(), topics={}, csms=presence.CsmsLink(False),
                             offered=())
    fleet._dispatch(message("stations/CS-1/josev/status", online))
    fleet._dispatch(message("stations/CS-1/bridge", b"1"))
    assert fleet.presence_of("CS-1").online  # type: ignore[union-attr]
    fleet._dispatch(message("stations/CS-1/bridge", b"0", retain=False))
    seen = fleet.presence_of("CS-1")
    assert seen is not None and not seen.online and seen.reason == "bridge down"
    fleet._dispatch(message("stations/CS-2/bridge", b"1"))  # a bridge without a station behind it
    assert not fleet.presence_of("CS-2").online  # type: ignore[union-attr]
    fleet._dispatch(message("stations/CS-1/josev/status", b""))  # cleared, and its bridge says 0
    assert fleet.presence_of("CS-1").reason == "bridge down"  # type: ignore[union-attr]
    assert fleet.presence_of("CS-3") is None


def test_a_station_going_offline_fails_the_requests_sent_while_it_was_online_at_once() -> None:
    loop = asyncio.new_event_loop()
    fleet = FleetClient("mqtt://127.0.0.1:1")
    waiting: asyncio.Future[dict] = loop.create_future()
    other: asyncio.Future[dict] = loop.create_future()
    queued: asyncio.Future[dict] = loop.create_future()
    fleet._pending[("CS-1", "id-1")] = waiting
    fleet._pending[("CS-1", "id-2")] = queued  # sent while CS-1 was offline: it is to wait at the broker
    fleet._pending[("CS-2", "id-1")] = other
    fleet._sent_online.update({("CS-1", "id-1"), ("CS-2", "id-1")})
    fleet._dispatch(message("stations/CS-1/josev/status", presence.offline("CS-1", presence.LOST), retain=False))
    with pytest.raises(ConnectionError, match="CS-1 is offline"):
        waiting.result()
    assert not other.done() and not queued.done()
    fleet._dispatch(message("stations/CS-2/josev/cs", b'{"id": "id-1", "name": "ocpp_message", "type": "response"}'))
    assert other.result()["id"] == "id-1"  # the same id from another station went to nobody else
    loop.close()


# -- the exit status -------------------------------------------------------------------------------------------


def answered(identity: str, accepted: bool) -> Outcome[Answered]:
    return Outcome(identity, ANSWERED, Answered(accepted, [], None))


@pytest.mark.parametrize(("outcomes", "status"), [
    ([answered("A", True), answered("B", True)], 0),
    ([answered("A", True), answered("B", False)], 1),
    ([answered("A", True), Outcome("B", ERROR, call_error=CallError("NotSupported", "", None, "id"))], 1),
    ([answered("A", False), Outcome("B", OFFLINE, error="stopped")], 3),
    ([answered("A", True), Outcome("B", UNKNOWN)], 3),
    ([answered("A", True), Outcome("B", QUEUED)], 3),
    ([answered("A", True), Outcome("B", TIMEOUT)], 3),
    ([answered("A", True), Outcome("B", ERROR, error="lost the link")], 3),
])
def test_the_exit_status_says_whether_every_station_answered_accepted(outcomes: list[Outcome[Answered]],
                                                                      status: int) -> None:
    assert _summary(outcomes)[1] == status


def test_the_summary_names_the_stations_that_did_not_make_it() -> None:
    text, _ = _summary([answered("A", True), *[Outcome(f"X{i}", OFFLINE) for i in range(7)]])
    assert text.startswith("8 stations: 1 accepted, 7 offline (X0, X1, X2, X3, X4, …)")


def test_no_presence_with_a_glob_is_bad_usage_before_any_connection(capsys: pytest.CaptureFixture[str]) -> None:
    from ocpp_station.cli import main

    status = main(["fleet", "get", "--mqtt-url", "mqtt://127.0.0.1:1", "--no-presence", "--stations", "CS-*",
                   "OCPPCommCtrlr.OfflineThreshold"])
    assert status == 2 and "--no-presence needs the stations named" in capsys.readouterr().err


def test_an_unreachable_central_broker_is_exit_status_3(capsys: pytest.CaptureFixture[str]) -> None:
    from ocpp_station.cli import main

    status = main(["fleet", "list", "--mqtt-url", "mqtt://127.0.0.1:1", "--timeout", "2"])
    assert status == 3 and "cannot reach mqtt://127.0.0.1:1" in capsys.readouterr().err

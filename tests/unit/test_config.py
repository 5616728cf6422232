"""station.toml, environment and flags, in that order of precedence."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocpp_station.config import ConfigError, load

EXAMPLE = Path(__file__).parents[2] / "station.example.toml"


def test_defaults_describe_one_22kw_ac_evse_with_one_connector() -> None:
    config = load(environ={})
    [evse] = config.evses
    assert (evse.id, evse.max_power_w, evse.phases, [c.type for c in evse.connectors]) == (1, 22000, 3, ["cType2"])
    assert config.mqtt.url == "" and config.mqtt.request_topic == "cs/josev"


def test_the_shipped_example_loads() -> None:
    config = load(EXAMPLE, environ={})
    assert config.station.vendor == "ExampleCharge"


def test_environment_beats_file_and_flags_beat_environment(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('data_dir = "from-file"\n[mqtt]\nurl = "mqtt://file:1"\n')
    env = {"OCPP_STATION_MQTT_URL": "mqtt://env:2", "OCPP_STATION_DATA_DIR": "from-env"}
    assert load(path, environ={}).mqtt.url == "mqtt://file:1"
    assert load(path, environ=env).mqtt.url == "mqtt://env:2"
    config = load(path, environ=env, overrides={"mqtt_url": "mqtt://flag:3", "data_dir": None})
    assert config.mqtt.url == "mqtt://flag:3" and config.data_dir == Path("from-env")


@pytest.mark.parametrize(("text", "complaint"), [
    ("[station]\nidentity = 'a:b'\n", "identity"),
    ("[station]\nvendr = 'x'\n", "unknown setting"),
    ("[stations]\n", "unknown section"),
    ("[[evse]]\nid = 1\n[[evse]]\nid = 1\n", "unique"),
    ("[[evse]]\nid = 1\nphases = 2\n", "phases"),
    ("[[evse]]\nid = 1\nmax_power_w = 'lots'\n", "max_power_w must be a float"),
    ("[[evse]]\nid = 1\nconnectors = []\n", "at least one connector"),
    ("[mqtt]\nprotocol = '4'\n", "protocol"),
    ("[mqtt]\nanswer_backlog = 0\n", "answer_backlog"),
    ("[mqtt]\nanswer_backlog = 65536\n", "answer_backlog"),  # beyond 16-bit packet identifiers
    ("not toml [", "not valid TOML"),
])
def test_bad_configuration_is_refused_with_the_setting_named(tmp_path: Path, text: str, complaint: str) -> None:
    path = tmp_path / "s.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=complaint):
        load(path, environ={})

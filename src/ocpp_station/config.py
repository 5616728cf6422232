"""Configuration: the station's shape and identity, and how to reach the MQTT broker.

Sources, later ones winning: built-in defaults → ``station.toml`` → environment variables
(``OCPP_STATION_*``) → command-line flags. The defaults describe a one-EVSE, one-connector 22 kW AC
station, so ``ocpp-station serve`` works with no file at all.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .station.csr import KeyAlgorithm
from .station.network import identity_problem
from .versions import LINK_VERSIONS

ENV_PREFIX = "OCPP_STATION_"
SECTIONS = {"data_dir", "station", "evse", "limits", "security", "network", "requests", "csms", "mqtt"}


class ConfigError(ValueError):
    """The configuration cannot be used; the message says which setting and why."""


@dataclass(frozen=True)
class ConnectorConfig:
    id: int = 1
    type: str = "cType2"  # ConnectorEnumType (2.0.1 names, e.g. cType2, cCCS2, sType2)


@dataclass(frozen=True)
class EvseConfig:
    id: int = 1
    max_power_w: float = 22000.0
    phases: int = 3  # 1 or 3 for AC, 0 for DC (SupplyPhases)
    connectors: tuple[ConnectorConfig, ...] = (ConnectorConfig(),)


@dataclass(frozen=True)
class StationIdentity:
    vendor: str = "ocpp-station"
    model: str = "AC22-1"
    serial_number: str = "0000000001"
    firmware_version: str = "0.1.0"
    identity: str = "CS0000000001"  # SecurityCtrlr.Identity: the CSMS-facing id, no ':' (max 48)


@dataclass(frozen=True)
class Limits:
    """Per-message limits the station announces in DeviceDataCtrlr (B06.FR.16/17)."""

    items_per_message_get_variables: int = 100
    bytes_per_message_get_variables: int = 65536
    items_per_message_set_variables: int = 100
    bytes_per_message_set_variables: int = 65536
    items_per_message_get_report: int = 100  # componentVariable elements of a GetReport (B08.FR.17)
    bytes_per_message_get_report: int = 65536  # … and its CALL frame (B08.FR.18)
    # The NotifyReport parts the station sends for a GetBaseReport/GetReport (B07, B08): each part
    # holds at most this many ReportDataType items and is at most this many bytes as an OCPP-J
    # CALL frame. OCPP gives the CSMS no way to announce what it accepts; 60,000 stays below the
    # 64 KiB a websocket server commonly takes in one message by default (Jetty's
    # maxTextMessageSize), and 100 items (≈ 20–40 KB) usually reach it first.
    report_items_per_part: int = 100
    report_bytes_per_part: int = 60_000


@dataclass(frozen=True)
class Security:
    """Certificate policy (SecurityCtrlr)."""

    certificate_entries_max: int = 50  # CertificateEntries maxLimit: roots InstallCertificate may add (M05.FR.06)
    additional_root_certificate_check: bool = False  # AdditionalRootCertificateCheck (M05.FR.09–12)
    # The key pair the station generates for its own certificate (A02/A03): "ec-p256" (default),
    # "ec-p384", "rsa-2048", "rsa-3072" or "rsa-4096" (A00.FR.501–503: at least 112 bits of security).
    key_algorithm: str = "ec-p256"
    security_log_max: int = 10_000  # entries of the rolling security log (A04.FR.04), the oldest go first
    event_queue_max: int = 1000  # SecurityEventNotifications waiting per door, at most (A04.FR.02)
    notify_non_critical_events: bool = True  # false: non-critical events are logged only (the appendix's minimum)
    # A03: the station asks for a new certificate when its own expires within this many days.
    renew_before_days: int = 30


@dataclass(frozen=True)
class Network:
    """The configuration slots and the profile of slot 1, the one a new station starts with."""

    slots: tuple[int, ...] = (1, 2, 3, 4)  # NetworkConfigurationPriority valuesList (B09.FR.06: ≥ 2)
    interfaces: tuple[str, ...] = ("Wired0", "Wireless0")  # OCPPInterfaceEnumType values this station has
    csms_url: str = "ws://127.0.0.1:9000/ocpp"  # without the identity, which is appended
    security_profile: int = 1
    interface: str = "Wired0"
    message_timeout: int = 30
    allow_security_profile_downgrade: bool = False  # SecurityCtrlr.AllowSecurityProfileDowngrade (3 → 2 only)


@dataclass(frozen=True)
class Csms:
    """The OCPP-J link to the CSMS (where to connect is the network profiles' business)."""

    enabled: bool = True  # false: serve the MQTT API only
    # The OCPP versions offered in the websocket handshake, most preferred first; the CSMS picks one.
    ocpp_versions: tuple[str, ...] = LINK_VERSIONS


@dataclass(frozen=True)
class Requests:
    """How requests are received, whatever the door."""

    max_bytes: int = 1024 * 1024  # larger → CallError FormatViolation, unparsed
    answer_cache_size: int = 10000  # answers kept to serve repeated request ids (count …
    answer_cache_max_age_s: float = 86400.0  # … and age)
    answer_cache_memory_bytes: int = 1024 * 1024  # answers of reads are kept in memory only, up to this
    # Requests that may change state are remembered (id + content, ~60 bytes each on disk) for
    # mqtt.session_expiry_s after their answer, beyond the answer bodies above, so that a broker's
    # late redelivery never runs one again (answers.py). At most this many: a week at this default
    # is 1.6 writes a second around the clock (~60 MB). Beyond it, the oldest are forgotten early
    # and a WARNING says back to when once-only still holds.
    answered_requests_max: int = 1_000_000


KEY_ALGORITHMS = tuple(algorithm.value for algorithm in KeyAlgorithm)  # [security] key_algorithm

# The smallest NotifyReport part allowed: room for one item with a value as long as
# ReportingValueSize (2500) and a valuesList of 1000 characters, with its names and the CALL around
# it (tests/unit/test_reports.py checks it).
MIN_REPORT_BYTES_PER_PART = 5120

# An MQTT packet identifier has 16 bits (MQTT 5 §2.2.1): more answers in flight than that and
# paho's identifiers wrap onto answers still waiting for their PUBACK.
MAX_ANSWER_BACKLOG = 60_000


@dataclass(frozen=True)
class MqttConfig:
    url: str = field(default="", repr=False)  # may hold the password; empty: the embedded broker on 127.0.0.1:1883
    request_topic: str = "cs/josev"
    response_topic: str = "josev/cs"
    # Presence (retained, with the MQTT Last Will): online / offline, for a fleet's back office
    # (presence.py). Empty: the station publishes none, and registers no will.
    status_topic: str = "josev/status"
    # Put before each of the three topics, for a station that talks to a central broker without a
    # local one and its bridge, e.g. "stations/{identity}/" ({identity}: station.identity). The
    # topics above are the final ones once the configuration is loaded (load() applies it).
    topic_prefix: str = ""
    # Fixed: the broker keeps the session (and queued requests) under it. Stations sharing one broker
    # (a topic_prefix on a central broker) need one each: "ocpp-station-{identity}" ({identity}: station.identity).
    client_id: str = "ocpp-station"
    ca_file: str | None = None  # CA to verify an mqtts:// broker (default: the system's)
    client_cert: str | None = None  # mutual TLS: our certificate …
    client_key: str | None = None  # … and its key (never logged)
    protocol: str = "5"  # "5" or "3.1.1"; the embedded broker only speaks 3.1.1
    session_expiry_s: int = 7 * 24 * 3600  # how long the broker keeps our session while we are away
    receive_maximum: int = 32  # unacknowledged requests the broker may push to us at once
    # Answers published but not yet acknowledged by the broker, at most: at the bound the station
    # reads no new request until one is (api/mqtt.py). Our own flow control, for brokers that push
    # more than receive_maximum (mosquitto 2.0.11 does, once the client publishes too).
    answer_backlog: int = 64


@dataclass(frozen=True)
class Config:
    data_dir: Path = Path("station-data")
    station: StationIdentity = field(default_factory=StationIdentity)
    evses: tuple[EvseConfig, ...] = (EvseConfig(),)
    limits: Limits = field(default_factory=Limits)
    security: Security = field(default_factory=Security)
    network: Network = field(default_factory=Network)
    requests: Requests = field(default_factory=Requests)
    csms: Csms = field(default_factory=Csms)
    mqtt: MqttConfig = field(default_factory=MqttConfig)


def _section(cls: type, raw: Any, where: str) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"[{where}] must be a table")
    known = {f.name for f in fields(cls)}
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"[{where}] has unknown setting(s): {', '.join(sorted(unknown))}")
    for f in fields(cls):
        if f.name in raw and isinstance(f.default, bool | int | float | str):
            expected = (int, float) if isinstance(f.default, float) else type(f.default)
            value = raw[f.name]
            if not isinstance(value, expected) or (isinstance(value, bool) and expected is not bool):
                raise ConfigError(f"[{where}] {f.name} must be a {type(f.default).__name__}")
    return cls(**raw)


def _evse(raw: Any, index: int) -> EvseConfig:
    raw = dict(raw) if isinstance(raw, dict) else raw
    if isinstance(raw, dict):
        raw["connectors"] = tuple(_section(ConnectorConfig, c, f"evse[{index}].connectors")
                                  for c in raw.get("connectors", [{}]))
    evse = _section(EvseConfig, raw, f"evse[{index}]")
    if not evse.connectors:
        raise ConfigError(f"[evse[{index}]] needs at least one connector")
    return evse


def load(path: Path | None = None, environ: dict[str, str] | None = None,
         overrides: dict[str, Any] | None = None) -> Config:
    """Read the configuration: file, then environment, then ``overrides`` (from flags)."""
    config = Config()
    if path is not None:
        try:
            raw = tomllib.loads(path.read_text("utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from None
        unknown = set(raw) - SECTIONS
        if unknown:
            raise ConfigError(f"{path}: unknown section(s): {', '.join(sorted(unknown))}")
        if "data_dir" in raw:
            config = replace(config, data_dir=Path(raw["data_dir"]))
        if "station" in raw:
            config = replace(config, station=_section(StationIdentity, raw["station"], "station"))
        if "evse" in raw:
            config = replace(config, evses=tuple(_evse(e, i) for i, e in enumerate(raw["evse"])))
        if "limits" in raw:
            config = replace(config, limits=_section(Limits, raw["limits"], "limits"))
        if "security" in raw:
            config = replace(config, security=_section(Security, raw["security"], "security"))
        if "network" in raw:
            network = dict(raw["network"]) if isinstance(raw["network"], dict) else raw["network"]
            if isinstance(network, dict):
                for name in ("slots", "interfaces"):
                    if isinstance(network.get(name), list):
                        network[name] = tuple(network[name])
            config = replace(config, network=_section(Network, network, "network"))
        if "csms" in raw:
            csms = dict(raw["csms"]) if isinstance(raw["csms"], dict) else raw["csms"]
            if isinstance(csms, dict) and isinstance(csms.get("ocpp_versions"), list):
                csms["ocpp_versions"] = tuple(csms["ocpp_versions"])
            config = replace(config, csms=_section(Csms, csms, "csms"))
        if "requests" in raw:
            config = replace(config, requests=_section(Requests, raw["requests"], "requests"))
        if "mqtt" in raw:
            config = replace(config, mqtt=_section(MqttConfig, raw["mqtt"], "mqtt"))
    env: Mapping[str, str] = os.environ if environ is None else environ
    from_env: dict[str, Any] = {name: env[ENV_PREFIX + name.upper()] for name in ("mqtt_url", "data_dir")
                                if ENV_PREFIX + name.upper() in env}
    sources: tuple[Mapping[str, Any], ...] = (from_env, overrides or {})
    for source in sources:
        if source.get("mqtt_url") is not None:
            config = replace(config, mqtt=replace(config.mqtt, url=source["mqtt_url"]))
        if source.get("data_dir") is not None:
            config = replace(config, data_dir=Path(source["data_dir"]))
        if source.get("no_csms"):
            config = replace(config, csms=Csms(enabled=False))
        for name in ("ca_file", "client_cert", "client_key", "client_id", "request_topic", "response_topic",
                     "status_topic", "topic_prefix", "protocol"):
            if source.get(name) is not None:
                config = replace(config, mqtt=replace(config.mqtt, **{name: str(source[name])}))  # type: ignore[arg-type]
    _check(config)
    return _prefixed(config)


def _prefixed(config: Config) -> Config:
    """The topics with ``mqtt.topic_prefix`` applied, and ``{identity}`` filled in the prefix and the
    client id: what every door and the presence message use."""
    mqtt, identity = config.mqtt, config.station.identity
    topics = _final_topics(mqtt, identity)
    return replace(config, mqtt=replace(
        mqtt, topic_prefix="", client_id=mqtt.client_id.replace("{identity}", identity),
        request_topic=topics["request_topic"], response_topic=topics["response_topic"],
        status_topic=topics["status_topic"]))


def _final_topics(mqtt: MqttConfig, identity: str) -> dict[str, str]:
    """The three topics with the prefix (``{identity}`` filled) before them; an empty status topic stays empty."""
    prefix = mqtt.topic_prefix.replace("{identity}", identity)
    return {"request_topic": prefix + mqtt.request_topic, "response_topic": prefix + mqtt.response_topic,
            "status_topic": prefix + mqtt.status_topic if mqtt.status_topic else ""}


def topic_problem(name: str, topic: str) -> str | None:
    """Why ``topic`` cannot be one the station publishes or subscribes to exactly (MQTT 5 §4.7), if it cannot."""
    if "+" in topic or "#" in topic or "\x00" in topic:
        return f"mqtt.{name} {topic!r} cannot hold the wildcards + or # (or a NUL)"
    if len(topic.encode()) > 65535:
        return f"mqtt.{name} is longer than an MQTT topic can be"
    return None


def _check(config: Config) -> None:
    ids = [e.id for e in config.evses]
    if len(set(ids)) != len(ids) or any(i < 1 for i in ids):
        raise ConfigError("EVSE ids must be unique and start at 1")
    for evse in config.evses:
        cids = [c.id for c in evse.connectors]
        if len(set(cids)) != len(cids) or any(i < 1 for i in cids):
            raise ConfigError(f"connector ids of EVSE {evse.id} must be unique and start at 1")
        if evse.phases not in (0, 1, 3):
            raise ConfigError(f"EVSE {evse.id}: phases must be 0 (DC), 1 or 3")
    identity_rule = identity_problem(config.station.identity)  # the one rule, also for 2.1 profiles
    if identity_rule is not None:
        raise ConfigError(f"station.identity: {identity_rule.additional_info}")
    if config.limits.report_items_per_part < 1:
        raise ConfigError("limits.report_items_per_part must be at least 1")
    if config.limits.report_bytes_per_part < MIN_REPORT_BYTES_PER_PART:
        raise ConfigError(f"limits.report_bytes_per_part must be at least {MIN_REPORT_BYTES_PER_PART}, "
                          "so that one item of a report fits in a part")
    if config.security.certificate_entries_max < 1:
        raise ConfigError("security.certificate_entries_max must be at least 1")
    if config.security.key_algorithm not in KEY_ALGORITHMS:
        raise ConfigError(f"security.key_algorithm must be one of {', '.join(KEY_ALGORITHMS)}")
    if config.security.security_log_max < 1 or config.security.event_queue_max < 1:
        raise ConfigError("security.security_log_max and security.event_queue_max must be at least 1")
    if config.security.renew_before_days < 0:
        raise ConfigError("security.renew_before_days cannot be negative")
    network = config.network
    if len(set(network.slots)) < 2 or any(not isinstance(s, int) or s < 1 for s in network.slots):
        raise ConfigError("network.slots must list at least 2 distinct slot numbers ≥ 1 (B09.FR.06)")
    if 1 not in network.slots:
        raise ConfigError("network.slots must include slot 1, which holds the profile from station.toml")
    if network.interface not in network.interfaces:
        raise ConfigError(f"network.interface {network.interface!r} is not in network.interfaces")
    if network.security_profile not in (1, 2, 3):
        raise ConfigError("network.security_profile must be 1, 2 or 3")
    if (config.mqtt.client_cert is None) != (config.mqtt.client_key is None):
        raise ConfigError("mqtt.client_cert and mqtt.client_key go together (mutual TLS)")
    if config.mqtt.receive_maximum < 1 or config.requests.max_bytes < 1024:
        raise ConfigError("mqtt.receive_maximum must be ≥ 1 and requests.max_bytes ≥ 1024")
    if not 1 <= config.mqtt.answer_backlog <= MAX_ANSWER_BACKLOG:
        raise ConfigError(f"mqtt.answer_backlog must be between 1 and {MAX_ANSWER_BACKLOG}")
    _check_topics(config.mqtt, config.station.identity)
    if config.mqtt.protocol not in ("5", "3.1.1"):
        raise ConfigError("mqtt.protocol must be '5' or '3.1.1'")
    offered = config.csms.ocpp_versions
    if not offered or len(set(offered)) != len(offered) or any(v not in LINK_VERSIONS for v in offered):
        raise ConfigError(f"csms.ocpp_versions must list distinct versions among {', '.join(LINK_VERSIONS)}")
    if config.requests.answered_requests_max < 1:
        raise ConfigError("requests.answered_requests_max must be at least 1")


def _check_topics(mqtt: MqttConfig, identity: str) -> None:
    """The three topics, once prefixed, are exact topics (no wildcard) and three different ones."""
    if set("{}") & set(mqtt.topic_prefix.replace("{identity}", "")):
        raise ConfigError("mqtt.topic_prefix knows one placeholder only: {identity}")
    if mqtt.topic_prefix and not mqtt.topic_prefix.endswith("/"):
        raise ConfigError(f"mqtt.topic_prefix {mqtt.topic_prefix!r} must end with '/'")
    if "/" in identity and "{identity}" in mqtt.topic_prefix:
        raise ConfigError("station.identity holds a '/': it cannot be one level of mqtt.topic_prefix")
    for name in ("request_topic", "response_topic"):
        if not getattr(mqtt, name):
            raise ConfigError(f"mqtt.{name} cannot be empty")
    topics = {name: topic for name, topic in _final_topics(mqtt, identity).items() if topic}
    for name, topic in topics.items():
        problem = topic_problem(name, topic)
        if problem is not None:
            raise ConfigError(f"{problem} (with mqtt.topic_prefix)" if mqtt.topic_prefix else problem)
    if len(set(topics.values())) < len(topics):
        raise ConfigError("mqtt.request_topic, response_topic and status_topic must be different topics")

"""Presence: the retained message that tells a fleet's back office whether a station is there.

A station publishes it on its status topic (``josev/status`` beside ``josev/cs``; through a bridge,
``stations/<identity>/josev/status`` on the central broker): *online* when its MQTT link comes up
(and again whenever its CSMS link changes), *offline* when it stops cleanly, and — as the MQTT Last
Will its answer connection registers — *offline* when it vanishes without a word (a crash, kill -9,
a cut cable). Retained, so a back office that subscribes learns the state of every station at once,
without asking any of them.

One home for the format: the station writes it with :func:`online` and :func:`offline`, the fleet
client reads it with :func:`read`. A mosquitto bridge adds its own notification beside it
(``stations/<identity>/bridge``: ``1`` up, ``0`` down, the latter as the bridge's will on the central
broker): :func:`read` knows nothing of it; :class:`ocpp_station.fleet.FleetClient` combines the two,
because a station whose whole machine lost power leaves an *online* status behind that only the
bridge's will contradicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import __version__, exact_json

ONLINE, OFFLINE = "online", "offline"
STOPPED = "stopped"  # offline, said by the station as it stopped
LOST = "connection lost"  # offline, said by the broker: the station's Last Will
RECONNECTING = "reconnecting"  # offline, said by the station as it closed its link to open it again


@dataclass(frozen=True)
class CsmsLink:
    """What the presence message says of the station's OCPP-J link to its CSMS."""

    enabled: bool
    connected: bool = False  # the CSMS answered our BootNotification on the open connection
    registration: str | None = None  # its answer: Accepted, Pending, Rejected
    ocpp_version: str | None = None  # the subprotocol the connection agreed on
    slot: int | None = None  # the network configuration slot it runs on

    def to_json(self, offered: tuple[str, ...]) -> dict[str, Any]:
        state = "disabled" if not self.enabled else "connected" if self.connected else "disconnected"
        return {"enabled": self.enabled, "state": state, "registration": self.registration,
                "ocppVersion": self.ocpp_version, "slot": self.slot, "offered": list(offered)}


def online(identity: str, *, since: str, station: dict[str, str], ocpp_versions: tuple[str, ...],
           topics: dict[str, str], csms: CsmsLink, offered: tuple[str, ...]) -> bytes:
    """The *online* message: who the station is, where it listens (its own topics, as it sees them: a
    bridge maps them), the OCPP versions its MQTT API takes, and how its CSMS link is (``offered``:
    the versions it offers its CSMS)."""
    return exact_json.dumps({"state": ONLINE, "identity": identity, "since": since,
                             "software": {"name": "ocpp-station", "version": __version__},
                             "station": station, "ocppVersions": list(ocpp_versions), "topics": topics,
                             "csms": csms.to_json(offered)})


def offline(identity: str, reason: str, since: str | None = None) -> bytes:
    """The *offline* message; ``since`` is None in the Last Will, written before the time it tells of."""
    message: dict[str, Any] = {"state": OFFLINE, "identity": identity, "reason": reason}
    if since is not None:
        message["since"] = since
    return exact_json.dumps(message)


@dataclass(frozen=True)
class Presence:
    """A station's presence as a back office sees it (:func:`read`, then the bridge's word)."""

    identity: str  # from the topic: the central broker's ACL ties a station to its own prefix
    state: str  # online, offline
    reason: str | None = None  # why offline: stopped, connection lost, bridge down, …
    since: str | None = None
    csms: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)  # the message as received

    @property
    def online(self) -> bool:
        return self.state == ONLINE


def read(identity: str, payload: bytes) -> Presence | None:
    """The presence in ``payload``, published under ``identity``'s prefix; None when it is not one
    (an empty retained message clears a status: that station is then simply not known)."""
    try:
        message = exact_json.loads(payload)
    except (ValueError, TypeError):
        return None
    if not isinstance(message, dict) or message.get("state") not in (ONLINE, OFFLINE):
        return None
    reason, since, csms = message.get("reason"), message.get("since"), message.get("csms")
    return Presence(identity, message["state"], reason if isinstance(reason, str) else None,
                    since if isinstance(since, str) else None, csms if isinstance(csms, dict) else {}, message)

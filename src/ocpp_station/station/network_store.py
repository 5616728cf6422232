"""Where network connection profiles are kept, and which slot is active.

Profiles set with SetNetworkProfile are rows of ``network_profile`` (one per slot). Slot 1 is
special: until someone sets it, it is the profile described by ``[network]`` in station.toml, so a
new station has one working profile and an edit of station.toml takes effect at the next start.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

from ..config import ConfigError, Network
from .datatypes import InvalidValue
from .network import NetworkProfile, SecurityState, check_profile, usable_problem
from .storage import Storage

log = logging.getLogger(__name__)

CONFIG_SLOT = 1
ACTIVE_SLOT_KEY = "active_network_slot"


def profile_from_config(network: Network) -> NetworkProfile:
    return NetworkProfile(CONFIG_SLOT, url=network.csms_url, security_profile=network.security_profile,
                          interface=network.interface, message_timeout=network.message_timeout, transport="JSON",
                          ocpp_version="OCPP20")


class NetworkStore:
    def __init__(self, storage: Storage, network: Network):
        self._storage = storage
        self._db = storage.connection
        self._network = network
        self._config_profile = profile_from_config(network)
        problem = check_profile(self._config_profile, slots=network.slots, active_slot=None,
                                interfaces=network.interfaces,
                                state=SecurityState(network.security_profile, allow_downgrade=False))
        if problem is not None:
            raise ConfigError(f"[network] does not describe a usable profile: {problem.additional_info}")

    @property
    def slots(self) -> tuple[int, ...]:
        return self._network.slots

    def profiles(self) -> dict[int, NetworkProfile]:
        """Every stored profile by slot (slot 1 from station.toml unless it was set)."""
        rows = dict(self._db.execute("SELECT slot, profile FROM network_profile"))
        rows.setdefault(CONFIG_SLOT, None)
        stored = {slot: (self._config_profile if text is None else NetworkProfile.from_ocpp(slot, json.loads(text)))
                  for slot, text in rows.items() if text != "null"}  # "null": removed (A05.FR.06)
        return dict(sorted(stored.items()))

    def set_active_slot(self, slot: int) -> None:
        """The CSMS link connected with ``slot``: remember it (ActiveNetworkProfile)."""
        with self._storage.transaction() as db:
            db.execute("INSERT INTO station_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE"
                       " SET value = excluded.value", (ACTIVE_SLOT_KEY, str(slot)))

    def remove_profiles_below(self, level: int) -> list[int]:
        """A05.FR.06: after connecting at security profile ``level``, forget every profile below it."""
        removed = [slot for slot, profile in self.profiles().items() if profile.level < level]
        if removed:
            with self._storage.transaction() as db:
                db.executemany("INSERT INTO network_profile (slot, profile) VALUES (?, 'null') ON CONFLICT (slot)"
                               " DO UPDATE SET profile = 'null'", [(slot,) for slot in removed])
            log.info("removed the network profiles of slots %s: below security profile %d (A05.FR.06)",
                     ",".join(map(str, removed)), level)
        return removed

    def active_slot(self) -> int:
        """The slot the station connects with (until the CSMS link picks another: slot 1)."""
        row = self._db.execute("SELECT value FROM station_state WHERE key = ?", (ACTIVE_SLOT_KEY,)).fetchone()
        return int(row[0]) if row else CONFIG_SLOT

    def security_state(self) -> SecurityState:
        active = self.profile(self.active_slot()) or self._config_profile
        return SecurityState(active.level, self._network.allow_security_profile_downgrade)

    @property
    def interfaces(self) -> tuple[str, ...]:
        return self._network.interfaces

    def check(self, profile: NetworkProfile) -> InvalidValue | None:
        """SetNetworkProfile's check of ``profile`` (B09.FR.01–05, B09.FR.31)."""
        return check_profile(profile, slots=self.slots, active_slot=self.active_slot(),
                             interfaces=self._network.interfaces, state=self.security_state())

    def usable(self, profile: NetworkProfile) -> InvalidValue | None:
        """Whether ``profile`` may be connected with: complete, valid, no downgrade (B09.FR.33–35, A05)."""
        return usable_problem(profile, interfaces=self._network.interfaces, state=self.security_state())

    def profile(self, slot: int) -> NetworkProfile | None:
        """The profile of ``slot`` (slot 1 from station.toml unless it was set); one row, not all of them:
        every view of a connection fact (a NetworkConfiguration variable, SecurityCtrlr.Identity) asks."""
        row = self._db.execute("SELECT profile FROM network_profile WHERE slot = ?", (slot,)).fetchone()
        if row is None:
            return self._config_profile if slot == CONFIG_SLOT else None
        return None if row[0] == "null" else NetworkProfile.from_ocpp(slot, json.loads(row[0]))  # "null": removed

    def set_fields(self, slot: int, **fields: object) -> NetworkProfile:
        """Change fields of the profile of ``slot`` (None removes one), durably; an empty slot gets a
        profile of just these fields, which becomes usable once complete (NetworkConfiguration, 2.1)."""
        current = self.profile(slot) or NetworkProfile(slot)
        updated = current.with_fields(**fields)
        self.save(updated)
        return updated

    def save(self, profile: NetworkProfile) -> None:
        """Store ``profile`` durably (one transaction) — raises when it cannot."""
        with self._storage.transaction() as db:
            db.execute("INSERT INTO network_profile (slot, profile) VALUES (?, ?) ON CONFLICT (slot) DO UPDATE"
                       " SET profile = excluded.profile, updated_at = excluded.updated_at",
                       (profile.slot, json.dumps(profile.to_ocpp(), sort_keys=True)))  # stored as on the wire
        log.info("network profile of slot %d stored: %s", profile.slot, json.dumps(profile.public()))

    def public_profiles(self) -> Mapping[int, dict]:
        return {slot: p.public() for slot, p in self.profiles().items()}

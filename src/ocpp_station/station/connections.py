"""The facts of a connection to the CSMS, each in one home, and the views of them that OCPP defines.

A conformance probe found the same mistake several times: a fact kept twice, with one reader
looking at the copy nobody wrote (a password set with SetVariables while the link read the
profile's; an identity the device model reported that the link did not use). So each fact has
exactly one home, and everything else — the device-model variables, the CSMS link, the CLI — is
computed from it when asked:

====================  =====================================================  ==============================
fact                  home                                                   views of it
====================  =====================================================  ==============================
URL, security         the slot's network profile (``network_profile`` rows;  NetworkConfiguration[slot].*,
profile, interface,   slot 1 from ``[network]`` until it is set)              SecurityCtrlr.SecurityProfile
transport, timeout                                                           and OCPPCommCtrlr.MessageTimeout
                                                                             (of the active slot)
identity              the slot's profile ``identity`` (2.1) if it has one,   SecurityCtrlr.Identity (of the
                      else ``[station] identity``                             active slot, B09.FR.28),
                                                                             NetworkConfiguration[slot].Identity
password              the slot's profile ``basicAuthPassword`` (2.1) if it   none: write-only everywhere
                      has one, else SecurityCtrlr.BasicAuthPassword (a row
                      of the device model)
OCPP versions         ``[csms] ocpp_versions`` (default                      the websocket subprotocols offered;
offered               :data:`ocpp_station.versions.LINK_VERSIONS`)
offered                                                                      NetworkConfiguration.OcppVersion
                                                                             of a profile without one
====================  =====================================================  ==============================

Writes go to the home: SetNetworkProfile stores a whole profile; SetVariables of a
NetworkConfiguration variable changes one field of its slot's profile (B09.FR.23/24); a new
SecurityCtrlr.BasicAuthPassword clears the active profile's own password, so that the value just
set is the one used (2.1 errata B09.FR.27).

Pure apart from the stores it is given; nothing here knows about sockets or MQTT.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from .. import versions
from .datatypes import InvalidValue
from .device_model import VariableDefinition
from .network import downgrade_problem, field_problem
from .network_store import NetworkStore

log = logging.getLogger(__name__)


class CannotConnect(Exception):
    """This slot cannot be used now (an empty slot, no password); the message says why."""


@dataclass(frozen=True)
class ConnectionTarget:
    """Everything the CSMS link needs to open one connection, read from the facts' homes."""

    slot: int
    url: str  # the profile's ocppCsmsUrl with the identity appended (Part 4 §3.1.1)
    identity: str
    password: str | None = field(repr=False)  # None for security profile 3 (no Basic authentication)
    security_profile: int
    message_timeout: int
    offered_versions: tuple[str, ...]  # websocket subprotocols, most preferred first

    def describe(self) -> str:
        return f"{self.url} (slot {self.slot}, security profile {self.security_profile})"


# NetworkConfiguration variable → its field in NetworkConnectionProfileType, and how its text is typed.
_FIELDS: dict[str, tuple[str, Callable[[str], object]]] = {
    "ocppcsmsurl": ("ocppCsmsUrl", str), "ocppinterface": ("ocppInterface", str),
    "ocpptransport": ("ocppTransport", str), "ocppversion": ("ocppVersion", str),
    "messagetimeout": ("messageTimeout", int), "securityprofile": ("securityProfile", int),
    "identity": ("identity", str), "basicauthpassword": ("basicAuthPassword", str),
}


class Connections:
    """Reads and writes the facts above; the station and every door ask it, never a copy."""

    def __init__(self, network: NetworkStore, station_identity: str, station_password: Callable[[], str | None],
                 priority: Callable[[], list[int]], offered: tuple[str, ...] = versions.LINK_VERSIONS):
        self._network = network
        self._station_identity = station_identity  # [station] identity: SecurityCtrlr.Identity is read-only
        self._station_password = station_password  # SecurityCtrlr.BasicAuthPassword, as stored
        self._priority = priority  # OCPPCommCtrlr.NetworkConfigurationPriority, as slots
        self._offered = offered  # [csms] ocpp_versions: the subprotocols offered, most preferred first
        self._negotiated: dict[int, str] = {}  # slot → the version its last connection agreed on

    # -- the facts ------------------------------------------------------------------------------

    def identity_for(self, slot: int) -> str:
        """The identity the station uses on ``slot``: the profile's own (2.1), else the station's."""
        profile = self._network.profile(slot)
        return (profile.identity if profile is not None else None) or self._station_identity

    def password_for(self, slot: int) -> str | None:
        """The BasicAuthPassword used on ``slot``: the profile's own (2.1), else SecurityCtrlr's."""
        profile = self._network.profile(slot)
        return (profile.password if profile is not None else None) or self._station_password()

    def active_identity(self) -> str:
        """SecurityCtrlr.Identity: the identity of the active slot (B09.FR.28)."""
        return self.identity_for(self._network.active_slot())

    def active_message_timeout(self) -> str | None:
        """OCPPCommCtrlr.MessageTimeout[Default]: "configured in the network connection profile"."""
        profile = self._network.profile(self._network.active_slot())
        return str(profile.message_timeout) if profile is not None and profile.message_timeout else None

    def target(self, slot: int) -> ConnectionTarget:
        """How to connect with ``slot`` now; :class:`CannotConnect` says why it cannot be used."""
        profile = self._network.profile(slot)
        if profile is None:
            raise CannotConnect(f"slot {slot} holds no network profile")
        problem = self._network.usable(profile)
        if problem is not None:
            raise CannotConnect(problem.additional_info)
        identity = self.identity_for(slot)
        password = self.password_for(slot) if profile.level in (1, 2) else None
        if profile.level in (1, 2) and not password:
            raise CannotConnect("no BasicAuthPassword is set (SecurityCtrlr.BasicAuthPassword, or the "
                                "profile's basicAuthPassword)")
        url = str(profile.url).rstrip("/") + "/" + identity  # usable: the URL is there
        return ConnectionTarget(slot, url, identity, password, profile.level, profile.message_timeout or 30,
                                self._offered)

    def record_connected(self, slot: int, subprotocol: str) -> None:
        """The link agreed on ``subprotocol`` with the CSMS of ``slot`` (NetworkConfiguration.OcppVersion)."""
        self._negotiated[slot] = subprotocol

    def negotiated_version(self) -> str | None:
        """The version the active slot's last connection agreed on (its subprotocol), if one did."""
        return self._negotiated.get(self._network.active_slot())

    def preferred_version(self) -> str:
        """The version the station writes what it sends of its own accord in: the one the active
        slot's connection agreed on last, else the one it offers first."""
        return self.negotiated_version() or self._offered[0]

    # -- NetworkConfiguration[slot] (2.1): views of the slot's profile -----------------------------

    def network_configuration(self, definition: VariableDefinition) -> str | None:
        """Read NetworkConfiguration[slot].<Variable> from the profile of that slot.

        Identity and OcppVersion report what the station uses for the slot even when the profile
        does not say (the station's identity; the version negotiated last, else the one offered first).
        """
        slot = int(definition.component.instance or 0)
        profile = self._network.profile(slot)
        name = definition.name.casefold()
        data = profile.to_ocpp() if profile is not None else {}
        if name in ("vpnenabled", "apnenabled"):  # B09.FR.11/12: follow the profile
            return "true" if data.get(name[:3]) else "false"
        if name == "basicauthpassword":
            return None  # write-only: never read back
        if name == "identity":
            return self.identity_for(slot)
        if name == "ocppversion" and "ocppVersion" not in data:
            return versions.profile_spelling(self._negotiated.get(slot, self._offered[0]))
        field = _FIELDS.get(name)
        value = data.get(field[0]) if field else None
        return "" if value is None else str(value)

    def network_configuration_rule(self, definition: VariableDefinition, value: str) -> InvalidValue | None:
        """Whether SetVariables may write ``value`` into NetworkConfiguration[slot] (B09.FR.22–25/32/35)."""
        slot = int(definition.component.instance or 0)
        if slot in self._priority():  # B09.FR.22 (errata): it may be used by the next connection attempt
            return InvalidValue("ActiveNetworkConf", f"slot {slot} is in NetworkConfigurationPriority")
        if slot == self._network.active_slot():  # as SetNetworkProfile refuses it: the live connection's
            return InvalidValue("ActiveNetworkConf", f"slot {slot} is the active network profile")
        field, typed = _FIELDS[definition.name.casefold()]
        problem = field_problem(field, typed(value), interfaces=self._network.interfaces)
        if problem is None and field == "securityProfile":  # B09.FR.32/35
            problem = downgrade_problem(int(value), self._network.security_state())
        if problem is not None and problem.reason_code == "InvalidNetworkConf":
            return InvalidValue("InvalidValue", problem.additional_info)  # one variable: its value is wrong
        return problem

    def write_network_configuration(self, definition: VariableDefinition, value: str) -> None:
        """Store NetworkConfiguration[slot].<Variable> as the field of that slot's profile (B09.FR.24)."""
        slot = int(definition.component.instance or 0)
        field, typed = _FIELDS[definition.name.casefold()]
        self._network.set_fields(slot, **{field: typed(value)})

    # -- SecurityCtrlr ----------------------------------------------------------------------------

    def station_password_changed(self, _definition: VariableDefinition, _value: str) -> None:
        """B09.FR.27 (2.1 errata): a new SecurityCtrlr.BasicAuthPassword clears the active profile's own
        password, so that the password just set is the one the next connection uses."""
        slot = self._network.active_slot()
        profile = self._network.profile(slot)
        if profile is not None and profile.password is not None:
            self._network.set_fields(slot, basicAuthPassword=None)
            log.info("SecurityCtrlr.BasicAuthPassword set: the active slot %d now uses it instead of its "
                     "profile's own (B09.FR.27)", slot)


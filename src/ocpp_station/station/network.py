"""Network connection profiles: what SetNetworkProfile may store (B09), and what the priority list
may name (B10, A05).

A profile says how to reach the CSMS: URL, security profile, interface, timeout and (OCPP 2.1) the
Basic-auth identity and password. The station keeps one per configuration slot; the slots it has
are the ``valuesList`` of ``OCPPCommCtrlr.NetworkConfigurationPriority`` and its value is the order
in which they are tried. The slot in use is the *active* one; its security profile is
``SecurityCtrlr.SecurityProfile``.

These functions decide; they store nothing. A refusal is a :class:`~.datatypes.InvalidValue`
carrying one of the reason codes the specification names for these cases: ``InvalidConfSlot``,
``InvalidNetworkConf``, ``NoSecurityDowngrade`` and (2.1 errata) ``ActiveNetworkConf``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .datatypes import InvalidValue

# ocppVersion values of NetworkConnectionProfileType this station can speak: OCPP20 means 2.0.1
# (2.0 was withdrawn), OCPP201 and OCPP21 exist from 2.1 on. The field is informative only — the
# version is negotiated as a websocket subprotocol — but a profile asking for 1.x is one we cannot use.
SPOKEN_OCPP_VERSIONS = frozenset({"OCPP20", "OCPP201", "OCPP21"})
SECURITY_PROFILES = (1, 2, 3)


@dataclass(frozen=True)
class NetworkProfile:
    """One slot's NetworkConnectionProfileType, as received (camelCase keys kept in ``data``)."""

    slot: int
    data: Mapping[str, Any] = field(hash=False)

    @property
    def security_profile(self) -> int:
        return int(self.data["securityProfile"])

    @property
    def url(self) -> str:
        return str(self.data["ocppCsmsUrl"])

    def public(self) -> dict[str, Any]:
        """The profile without secrets: what logs and listings show."""
        shown = {k: v for k, v in self.data.items() if k != "basicAuthPassword"}
        if "basicAuthPassword" in self.data:
            shown["basicAuthPassword"] = "***"
        for nested in ("vpn", "apn"):
            if isinstance(shown.get(nested), dict):
                shown[nested] = {k: ("***" if "password" in k.lower() or k == "key" else v)
                                 for k, v in shown[nested].items()}
        return shown


@dataclass(frozen=True)
class SecurityState:
    """What downgrade rules compare against (B09.FR.04/31, A05.FR.08–10, A00.FR.005)."""

    active_security_profile: int
    allow_downgrade: bool  # SecurityCtrlr.AllowSecurityProfileDowngrade


def downgrade_problem(new: int, state: SecurityState) -> InvalidValue | None:
    """A profile below the active one is refused, except 3 → 2 when AllowSecurityProfileDowngrade."""
    active = state.active_security_profile
    if new >= active:
        return None
    if state.allow_downgrade and active == 3 and new == 2:  # A05.FR.08; never down to 1 (B09.FR.31)
        return None
    return InvalidValue("NoSecurityDowngrade",
                        f"security profile {new} is below the active profile {active}")  # B09.FR.04, A05.FR.10


def check_profile(profile: NetworkProfile, *, slots: Sequence[int], active_slot: int | None,
                  interfaces: Sequence[str], state: SecurityState) -> InvalidValue | None:
    """None when SetNetworkProfile may store ``profile`` (B09.FR.01), else why not."""
    data = profile.data
    if profile.slot not in slots:  # B09.FR.05 (OCTT TC_B_43_CS uses 999)
        return InvalidValue("InvalidConfSlot", f"configuration slot {profile.slot} is not one of "
                                               f"{','.join(map(str, slots))}")
    if profile.slot == active_slot:
        # Changing the connection in use is done by writing another slot and re-ordering the
        # priority list (B10); overwriting the live one could cut the station off.
        return InvalidValue("ActiveNetworkConf", f"slot {profile.slot} is the active network profile")
    if data.get("ocppTransport") != "JSON":  # OCPP 2.x has no SOAP
        return InvalidValue("InvalidNetworkConf", "only the JSON transport is supported")
    if "ocppVersion" in data and data["ocppVersion"] not in SPOKEN_OCPP_VERSIONS:
        return InvalidValue("InvalidNetworkConf", "the station speaks OCPP 2.0.1 and 2.1 (OCPP20, OCPP201, OCPP21)")
    if profile.security_profile not in SECURITY_PROFILES:
        return InvalidValue("InvalidNetworkConf", "security profile must be 1, 2 or 3")
    url_problem = _url_problem(profile.url, profile.security_profile)
    if url_problem:
        return InvalidValue("InvalidNetworkConf", url_problem)
    interface = data.get("ocppInterface")
    if interface != "Any" and interface not in interfaces:
        return InvalidValue("InvalidNetworkConf", f"the station has no interface {interface}; it has "
                                                  f"{', '.join(interfaces)}")
    if int(data.get("messageTimeout", 0)) < 1:
        return InvalidValue("InvalidNetworkConf", "messageTimeout must be at least 1 s")
    if ":" in str(data.get("identity", "")):
        return InvalidValue("InvalidNetworkConf", "identity must not contain ':' (it is the Basic-auth user)")
    return downgrade_problem(profile.security_profile, state)


def _url_problem(url: str, security_profile: int) -> str | None:
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a malformed port
    except ValueError:
        return "ocppCsmsUrl is not a valid URL"
    if parts.scheme not in ("ws", "wss"):
        return "ocppCsmsUrl must be a ws:// or wss:// URL"
    if not parts.hostname:
        return "ocppCsmsUrl has no host"
    if parts.scheme == "ws" and security_profile >= 2:  # profiles 2 and 3 are TLS
        return f"security profile {security_profile} needs a wss:// URL"
    if parts.query or parts.fragment:
        return "ocppCsmsUrl must not have a query or fragment (the identity is appended to it)"
    return None


def priority_rule(profiles: Callable[[], Mapping[int, NetworkProfile]], state: Callable[[], SecurityState],
                  has_csms_root: Callable[[], bool], has_station_certificate: Callable[[], bool]
                  ) -> Callable[[str], InvalidValue | None]:
    """The check on a new NetworkConfigurationPriority value (B10.FR.01/02, A05.FR.02–04, A05.FR.08–10)."""

    def check(value: str) -> InvalidValue | None:
        stored = profiles()
        for slot in (int(s) for s in value.split(",")):
            profile = stored.get(slot)
            if profile is None:  # B10.FR.02
                return InvalidValue("InvalidNetworkConf", f"slot {slot} holds no network profile")
            level = profile.security_profile
            if level >= 2 and not has_csms_root():  # A05.FR.02
                return InvalidValue("InvalidNetworkConf", f"slot {slot} uses security profile {level} but no "
                                                          "CSMSRootCertificate is installed")
            if level == 3 and not has_station_certificate():  # A05.FR.03
                return InvalidValue("InvalidNetworkConf", f"slot {slot} uses security profile 3 but no "
                                                          "ChargingStationCertificate is installed")
            problem = downgrade_problem(level, state())
            if problem is not None:
                return InvalidValue(problem.reason_code, f"slot {slot}: {problem.additional_info}")
        return None  # A05.FR.04, B10.FR.01

    return check

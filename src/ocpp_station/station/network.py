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
REQUIRED_FIELDS = ("ocppCsmsUrl", "securityProfile", "ocppInterface", "ocppTransport", "messageTimeout")

# A00.FR.205/304: a BasicAuthPassword is 16 characters at least, and at most the variable's maxLimit,
# which must lie between 40 and 64: we take 64, the length 2.1 profiles allow (basicAuthPassword ≤ 64).
# The one rule for a password, wherever it arrives: SetVariables of SecurityCtrlr.BasicAuthPassword or
# NetworkConfiguration.BasicAuthPassword, or a 2.1 SetNetworkProfile.
BASIC_AUTH_PASSWORD_MIN, BASIC_AUTH_PASSWORD_MAX = 16, 64
IDENTITY_MAX = 48  # SecurityCtrlr.Identity maxLimit, NetworkConnectionProfileType.identity (2.1)

# The secrets of a NetworkConnectionProfileType (2.0.1 and 2.1), as paths in its wire form, declared
# once: :meth:`NetworkProfile.public` (every log line and listing of a profile) shows each as MASK, and
# the attributes holding them are left out of repr(), so an exception or a debug print of a profile
# cannot carry them either. tests/unit/test_secret_fields.py finds every password-, key- or PIN-like
# field of the official SetNetworkProfile schemas and fails on one that is missing here.
MASK = "***"
SECRET_FIELDS: tuple[tuple[str, ...], ...] = (
    ("basicAuthPassword",), ("vpn", "password"), ("vpn", "key"), ("apn", "apnPassword"), ("apn", "simPin"))


def password_problem(password: str) -> InvalidValue | None:
    """Why ``password`` cannot be a BasicAuthPassword (A00.FR.205), or None."""
    if len(password) < BASIC_AUTH_PASSWORD_MIN:
        return InvalidValue("InvalidValue", f"a BasicAuthPassword has at least {BASIC_AUTH_PASSWORD_MIN} characters")
    if len(password) > BASIC_AUTH_PASSWORD_MAX:
        return InvalidValue("InvalidValue", f"a BasicAuthPassword has at most {BASIC_AUTH_PASSWORD_MAX} characters")
    return None


def identity_problem(identity: str) -> InvalidValue | None:
    """Why ``identity`` cannot be the station's identity (the Basic-auth user, A00.FR.204), or None."""
    if not identity or len(identity) > IDENTITY_MAX:
        return InvalidValue("InvalidValue", f"an identity has 1 to {IDENTITY_MAX} characters")
    if ":" in identity:
        return InvalidValue("InvalidValue", "an identity must not contain ':' (it is the Basic-auth user)")
    return None


@dataclass(frozen=True)
class Vpn:
    """VPNType: how to reach the CSMS through a VPN (2.1 lengths)."""

    server: str
    user: str
    password: str = field(repr=False)  # a secret: SECRET_FIELDS
    key: str = field(repr=False)  # a secret: SECRET_FIELDS
    type: str  # VPNEnumType: IKEv2, IPSec, L2TP, PPTP
    group: str | None = None

    @classmethod
    def from_ocpp(cls, data: Mapping[str, Any]) -> Vpn:
        return cls(str(data["server"]), str(data["user"]), str(data["password"]), str(data["key"]),
                   str(data["type"]), data.get("group"))

    def to_ocpp(self) -> dict[str, Any]:
        out = {"server": self.server, "user": self.user, "password": self.password, "key": self.key, "type": self.type}
        return out | ({"group": self.group} if self.group is not None else {})


@dataclass(frozen=True)
class Apn:
    """APNType: the cellular access point of the connection."""

    apn: str
    authentication: str  # APNAuthenticationEnumType: CHAP, NONE, PAP, AUTO
    user_name: str | None = None
    password: str | None = field(default=None, repr=False)  # a secret: SECRET_FIELDS
    sim_pin: int | None = field(default=None, repr=False)  # a secret: SECRET_FIELDS
    preferred_network: str | None = None
    use_only_preferred_network: bool | None = None

    @classmethod
    def from_ocpp(cls, data: Mapping[str, Any]) -> Apn:
        return cls(str(data["apn"]), str(data["apnAuthentication"]), data.get("apnUserName"), data.get("apnPassword"),
                   data.get("simPin"), data.get("preferredNetwork"), data.get("useOnlyPreferredNetwork"))

    def to_ocpp(self) -> dict[str, Any]:
        out = {"apn": self.apn, "apnAuthentication": self.authentication, "apnUserName": self.user_name,
               "apnPassword": self.password, "simPin": self.sim_pin, "preferredNetwork": self.preferred_network,
               "useOnlyPreferredNetwork": self.use_only_preferred_network}
        return {name: value for name, value in out.items() if value is not None}


# NetworkConnectionProfileType field → attribute of NetworkProfile, for the ones read from the wire as is.
_PROFILE_FIELDS = {"ocppCsmsUrl": "url", "securityProfile": "security_profile", "ocppInterface": "interface",
                   "ocppTransport": "transport", "ocppVersion": "ocpp_version", "messageTimeout": "message_timeout",
                   "identity": "identity", "basicAuthPassword": "password"}


@dataclass(frozen=True)
class NetworkProfile:
    """One slot's NetworkConnectionProfileType as a typed value (the wire's camelCase stays at the edges).

    Every field may be absent while a 2.1 CSMS writes a slot variable by variable
    (NetworkConfiguration); :func:`usable_problem` says when the profile is complete and acceptable.
    The password fields are secrets: :meth:`public` masks them.
    """

    slot: int
    url: str | None = None
    security_profile: int | None = None
    interface: str | None = None
    transport: str | None = None
    ocpp_version: str | None = None  # informative only: the version is negotiated (Part 4 §3.1.2)
    message_timeout: int | None = None
    identity: str | None = None  # 2.1: the Basic-auth user for this slot, winning over SecurityCtrlr.Identity
    # 2.1: basicAuthPassword, winning over SecurityCtrlr.BasicAuthPassword; a secret (SECRET_FIELDS)
    password: str | None = field(default=None, repr=False)
    vpn: Vpn | None = None
    apn: Apn | None = None

    @classmethod
    def from_ocpp(cls, slot: int, data: Mapping[str, Any]) -> NetworkProfile:
        """Read a NetworkConnectionProfileType (already checked against its official schema)."""
        fields = {attr: data[name] for name, attr in _PROFILE_FIELDS.items() if data.get(name) is not None}
        vpn = Vpn.from_ocpp(data["vpn"]) if isinstance(data.get("vpn"), Mapping) else None
        apn = Apn.from_ocpp(data["apn"]) if isinstance(data.get("apn"), Mapping) else None
        return cls(slot, **fields, vpn=vpn, apn=apn)

    @property
    def level(self) -> int:
        """The security profile, 0 while it is not set (a slot being written field by field)."""
        return self.security_profile or 0

    def to_ocpp(self) -> dict[str, Any]:
        """The NetworkConnectionProfileType, camelCase, without the fields that are absent."""
        out = {name: getattr(self, attr) for name, attr in _PROFILE_FIELDS.items() if getattr(self, attr) is not None}
        if self.vpn is not None:
            out["vpn"] = self.vpn.to_ocpp()
        if self.apn is not None:
            out["apn"] = self.apn.to_ocpp()
        return out

    def with_fields(self, **fields: Any) -> NetworkProfile:
        """This profile with the wire ``fields`` set (None removes one): profiles are values, never edited."""
        data = {k: v for k, v in {**self.to_ocpp(), **fields}.items() if v is not None}
        return NetworkProfile.from_ocpp(self.slot, data)

    def public(self) -> dict[str, Any]:
        """The profile with every field of SECRET_FIELDS that it has shown as MASK, camelCase: what logs
        and listings show. (to_ocpp builds new dicts, so the masking touches no one else's.)"""
        shown = self.to_ocpp()
        for *parents, name in SECRET_FIELDS:
            holder: Any = shown
            for part in parents:
                holder = holder.get(part) if isinstance(holder, dict) else None
            if isinstance(holder, dict) and name in holder:
                holder[name] = MASK
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


def field_problem(name: str, value: Any, *, interfaces: Sequence[str]) -> InvalidValue | None:
    """Why one field of a NetworkConnectionProfileType cannot hold ``value`` (B09.FR.02, B09.FR.23), or None.

    The rules a field obeys alone, shared by SetNetworkProfile and by SetVariables of a
    NetworkConfiguration variable; :func:`check_profile` adds the rules between fields.
    """
    def bad(info: str) -> InvalidValue:
        return InvalidValue("InvalidNetworkConf", info)

    match name:
        case "ocppTransport":
            return None if value == "JSON" else bad("only the JSON transport is supported")  # OCPP 2.x has no SOAP
        case "ocppVersion":
            return None if value in SPOKEN_OCPP_VERSIONS else bad(
                "the station speaks OCPP 2.0.1 and 2.1 (OCPP20, OCPP201, OCPP21)")
        case "securityProfile":
            return None if value in SECURITY_PROFILES else bad("security profile must be 1, 2 or 3")
        case "ocppCsmsUrl":
            problem = _url_problem(str(value))
            return bad(problem) if problem else None
        case "ocppInterface":
            return None if value == "Any" or value in interfaces else bad(
                f"the station has no interface {value}; it has {', '.join(interfaces)}")
        case "messageTimeout":
            return None if isinstance(value, int) and value >= 1 else bad("messageTimeout must be at least 1 s")
        case "identity":
            found = identity_problem(str(value))
            return bad(found.additional_info) if found else None
        case "basicAuthPassword":
            found = password_problem(str(value))
            return bad(found.additional_info) if found else None
    return None


def check_profile(profile: NetworkProfile, *, slots: Sequence[int], active_slot: int | None,
                  interfaces: Sequence[str], state: SecurityState) -> InvalidValue | None:
    """None when SetNetworkProfile may store ``profile`` (B09.FR.01), else why not."""
    if profile.slot not in slots:  # B09.FR.05 (OCTT TC_B_43_CS uses 999)
        return InvalidValue("InvalidConfSlot", f"configuration slot {profile.slot} is not one of "
                                               f"{','.join(map(str, slots))}")
    if profile.slot == active_slot:
        # Changing the connection in use is done by writing another slot and re-ordering the
        # priority list (B10); overwriting the live one could cut the station off.
        return InvalidValue("ActiveNetworkConf", f"slot {profile.slot} is the active network profile")
    return usable_problem(profile, interfaces=interfaces, state=state)


def usable_problem(profile: NetworkProfile, *, interfaces: Sequence[str], state: SecurityState) -> InvalidValue | None:
    """None when ``profile`` is complete and every field and pair of fields is acceptable, else why not.

    What SetNetworkProfile checks (B09.FR.02/04/31) and what a slot added to
    NetworkConfigurationPriority must pass (B09.FR.33/34/35), in one place.
    """
    data = profile.to_ocpp()
    missing = [name for name in REQUIRED_FIELDS if name not in data]
    if missing:
        return InvalidValue("InvalidNetworkConf", f"slot {profile.slot} has no {', '.join(missing)}")
    for name, value in data.items():
        problem = field_problem(name, value, interfaces=interfaces)
        if problem is not None:
            return problem
    if str(profile.url).startswith("ws://") and profile.level >= 2:  # profiles 2 and 3 are TLS
        return InvalidValue("InvalidNetworkConf", f"security profile {profile.level} needs a wss:// URL")
    return downgrade_problem(profile.level, state)


def _url_problem(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a malformed port
    except ValueError:
        return "ocppCsmsUrl is not a valid URL"
    if parts.scheme not in ("ws", "wss"):
        return "ocppCsmsUrl must be a ws:// or wss:// URL"
    if not parts.hostname:
        return "ocppCsmsUrl has no host"
    if parts.query or parts.fragment:
        return "ocppCsmsUrl must not have a query or fragment (the identity is appended to it)"
    return None


def priority_rule(profiles: Callable[[], Mapping[int, NetworkProfile]],
                  usable: Callable[[NetworkProfile], InvalidValue | None],
                  has_csms_root: Callable[[], bool], has_station_certificate: Callable[[], bool],
                  current: Callable[[], Sequence[int]] = tuple) -> Callable[[str], InvalidValue | None]:
    """The check on a new NetworkConfigurationPriority value (B10.FR.01/02, B09.FR.20/33–35, A05.FR.02–04/08–10).

    Every slot the new value *adds* must hold a complete, acceptable profile (``usable``: fields,
    downgrade) and what its security profile needs must be there and *valid now*: a CSMS root for 2
    and 3, the station's own certificate for 3 — an expired root cannot verify any CSMS, so it does
    not count. Slots already in the ``current`` list were checked when they were added (one of them
    carries the live connection): a value that only removes or reorders them is accepted (B09.FR.20).
    """

    def check(value: str) -> InvalidValue | None:
        stored = profiles()
        already = set(current())
        for slot in (int(s) for s in value.split(",")):
            if slot in already:
                continue  # B09.FR.20: checked when it was added
            profile = stored.get(slot)
            if profile is None:  # B10.FR.02
                return InvalidValue("InvalidNetworkConf", f"slot {slot} holds no network profile")
            problem = usable(profile)  # B09.FR.33/34 (2.1), B10.FR.02; A05.FR.08–10 (downgrades)
            if problem is not None:
                return InvalidValue(problem.reason_code, f"slot {slot}: {problem.additional_info}")
            level = profile.level
            if level >= 2 and not has_csms_root():  # A05.FR.02
                return InvalidValue("InvalidNetworkConf", f"slot {slot} uses security profile {level} but no "
                                                          "valid CSMSRootCertificate is installed")
            if level == 3 and not has_station_certificate():  # A05.FR.03
                return InvalidValue("InvalidNetworkConf", f"slot {slot} uses security profile 3 but no "
                                                          "valid ChargingStationCertificate is installed")
        return None  # A05.FR.04, B10.FR.01

    return check

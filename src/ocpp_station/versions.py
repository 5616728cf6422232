"""The OCPP versions the station speaks, and every way in which they differ: one home for those facts.

Each version is an :class:`OcppVersion` (its value is how the envelope and the websocket
subprotocol spell it, ``ocpp2.0.1``) with a :class:`VersionProfile` that every other module asks
instead of comparing strings: where the official schemas live and how their files are named, how
the RPC error codes are spelled (1.6 keeps two typos of its specification on purpose), what a
NetworkConnectionProfileType calls it (``OCPP20`` in 2.0.1, ``OCPP201``/``OCPP21`` in 2.1), how
long a StatusInfo text may be, the 1.6 names of certificate uses, and how an unknown OCPP-J message
type is treated. Which *actions* a version has is not here: each handler declares its versions
beside itself (:mod:`ocpp_station.handlers`).

A leaf module: it imports nothing of the project, so anything may import it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType


class OcppVersion(StrEnum):
    """An OCPP version, spelled as the Josev envelope's ``ocpp_version`` and the subprotocol spell it."""

    V16 = "ocpp1.6"
    V201 = "ocpp2.0.1"
    V21 = "ocpp2.1"


def _frozen(mapping: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class VersionProfile:
    """What is particular to one OCPP version, for every module that must know."""

    version: OcppVersion
    schema_folder: str  # inside the `ocpp` package: ocpp/<folder>/schemas
    request_schema_suffix: str  # "Action<suffix>.json": 1.6 names requests "Action.json"
    device_model_name: str | None  # the versions column of components.json; None: no device model (1.6)
    profile_spelling: str  # OCPPVersionEnumType of a NetworkConnectionProfileType (2.1 spelling)
    status_info_max: int | None  # StatusInfoType.additionalInfo maxLength; None: no statusInfo (1.6)
    error_spelling: Mapping[str, str] = field(default_factory=lambda: _frozen({}))
    """2.x error code name → this version's spelling, where it differs (OCPP-J 1.6 Table 7)."""
    certificate_names: Mapping[str, str] = field(default_factory=lambda: _frozen({}))
    """this version's certificate use name → the 2.x name the store uses, where it differs."""
    ignores_unknown_message_types: bool = False  # 2.1 Part 4 §4.4: drop, 2.0.1 answers a CALLERROR
    event_names: Mapping[str, str] = field(default_factory=lambda: _frozen({}))
    """2.x security event name → this version's name, where it differs (1.6 says Central System, Charge Point)."""
    transaction_requests: tuple[str, ...] = ("RequestStartTransaction", "RequestStopTransaction")
    """The CSMS's requests that start or stop a transaction: Rejected while Pending (B02.FR.05)."""

    def spell_error(self, code: str) -> str:
        """The wire spelling of the 2.x error code ``code`` in this version."""
        return self.error_spelling.get(code, code)

    def spell_event(self, kind: str) -> str:
        """This version's name of the security event the catalogue (2.x) calls ``kind``."""
        return self.event_names.get(kind, kind)

    def store_name(self, certificate_use: str) -> str:
        """The store's (2.x) name of a certificate use as this version names it."""
        return self.certificate_names.get(certificate_use, certificate_use)

    def own_name(self, store_use: str) -> str:
        """This version's name of the store's certificate use ``store_use``."""
        for own, store in self.certificate_names.items():
            if store == store_use:
                return own
        return store_use

    def clip_status_info(self, text: str) -> str:
        """``text`` cut to the additionalInfo length this version allows (the cut marked with …)."""
        limit = self.status_info_max or 0
        return text if len(text) <= limit else text[: limit - 1] + "…"


PROFILES: Mapping[OcppVersion, VersionProfile] = MappingProxyType({
    OcppVersion.V16: VersionProfile(
        OcppVersion.V16, schema_folder="v16", request_schema_suffix="", device_model_name=None,
        profile_spelling="OCPP16", status_info_max=None,
        # 1.6 spells two codes as its specification misspelled them (its errata keep them), and has
        # neither RpcFrameworkError (a frame we cannot read is "syntactically incorrect") nor
        # MessageTypeNotSupported (the closest is "not supported").
        error_spelling=_frozen({"FormatViolation": "FormationViolation",
                                "OccurrenceConstraintViolation": "OccurenceConstraintViolation",
                                "RpcFrameworkError": "FormationViolation",
                                "MessageTypeNotSupported": "NotSupported"}),
        certificate_names=_frozen({"CentralSystemRootCertificate": "CSMSRootCertificate",
                                   "ManufacturerRootCertificate": "ManufacturerRootCertificate"}),
        # The security whitepaper's names of the events whose 2.x names say CSMS or Charging Station.
        event_names=_frozen({"InvalidCsmsCertificate": "InvalidCentralSystemCertificate",
                             "FailedToAuthenticationAtCsms": "FailedToAuthenticationAtCentralSystem",
                             "CsmsFailedToAuthentication": "CentralSystemFailedToAuthentication",
                             "InvalidChargingStationCertificate": "InvalidChargePointCertificate"}),
        transaction_requests=("RemoteStartTransaction", "RemoteStopTransaction")),
    OcppVersion.V201: VersionProfile(
        OcppVersion.V201, schema_folder="v201", request_schema_suffix="Request", device_model_name="2.0.1",
        profile_spelling="OCPP201", status_info_max=512),
    OcppVersion.V21: VersionProfile(
        OcppVersion.V21, schema_folder="v21", request_schema_suffix="Request", device_model_name="2.1",
        profile_spelling="OCPP21", status_info_max=1024, ignores_unknown_message_types=True),
})

OCPP_VERSIONS: tuple[str, ...] = tuple(v.value for v in OcppVersion)  # the envelope's enum, in order
V16, V201, V21 = OcppVersion.V16, OcppVersion.V201, OcppVersion.V21
VERSIONS_2X: tuple[OcppVersion, ...] = (V201, V21)
ALL_VERSIONS: tuple[OcppVersion, ...] = (V16, V201, V21)

# The version a CallError names when the request's own cannot be read (the seed's OcppResponse
# requires one): the version of the seed's examples, and the default of every client we ship.
STATION_VERSION = V201

# What the CSMS link offers in its websocket handshake by default, most preferred first, whatever a
# network profile's ocppVersion says: that field is informative only, the version is negotiated
# (Part 4 §3.1.2), and the CSMS picks one of these. ``[csms] ocpp_versions`` may narrow or reorder it.
LINK_VERSIONS: tuple[str, ...] = (V21.value, V201.value, V16.value)


_BY_SPELLING: Mapping[str, VersionProfile] = {version.value: found for version, found in PROFILES.items()}


def profile(version: str) -> VersionProfile:
    """The profile of ``version`` (one of :data:`OCPP_VERSIONS`); ValueError for any other text.

    Looked up by its text: ``OcppVersion(version)`` first cost a microsecond per call, and every
    request asks (issue 20's profile)."""
    found = _BY_SPELLING.get(version)
    if found is None:
        raise ValueError(f"{version!r} is not a valid OcppVersion")
    return found


def catalogue_name(event: str) -> str:
    """The 2.x (catalogue) name of the security event ``event``, whichever version's name it is."""
    for version_profile in PROFILES.values():
        for catalogue, own in version_profile.event_names.items():
            if own == event:
                return catalogue
    return event


def profile_spelling(subprotocol: str) -> str:
    """How OCPPVersionEnumType (2.1) names ``subprotocol``: ``ocpp2.1`` → ``OCPP21``."""
    return profile(subprotocol).profile_spelling

"""M03 GetInstalledCertificateIds, M04 DeleteCertificate, M05 InstallCertificate; A02/A03 CertificateSigned
(1.6-sec, 2.0.1, 2.1).

A root installed or deleted is a ReconfigurationOfSecurityParameters security event (A04), written
in the request's unit of work. CertificateSigned is checked and installed by the renewal
(:mod:`ocpp_station.station.renewal`): the CSMS's, or the OEM's over MQTT, for any CSR the station
is waiting on, whichever door it went through (the key pair decides: one certificate authority may
be reached through either). SignCertificate is the station's own message: a CSMS or an OEM sending it
gets CALLERROR NotSupported.

The store speaks 2.x certificate-use names. The version differences live here:

* 1.6 (security whitepaper) calls the CSMS root ``CentralSystemRootCertificate``, asks for exactly
  one type in GetInstalledCertificateIds and answers with a flat ``certificateHashData`` list; its
  responses carry no ``statusInfo``.
* 2.0.1 asks for zero or more types (none = all) and answers ``certificateHashDataChain`` entries,
  the station's V2G chain with its sub-CAs as ``childCertificateHashData`` (M03.FR.05).
* 2.1 adds ``OEMRootCertificate``.

The schemas have already checked every enum, so the handlers never see an unknown type.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import ErrorCode, OcppError
from ..station.certificate_store import CertificateStore, DeleteStatus, InstalledCertificate, InstallStatus, Result
from ..station.certificates import NO_LIVE_CONNECTION, CertificateHashData, HashAlgorithm, LiveConnection
from ..versions import ALL_VERSIONS, V16, profile
from .base import Call, Handler, Route, Services, status_info

# GetCertificateIdUseEnumType per version: what "no type given" means (M03: all of them).
_REPORTABLE = {
    "ocpp2.0.1": ("V2GRootCertificate", "MORootCertificate", "CSMSRootCertificate", "V2GCertificateChain",
                  "ManufacturerRootCertificate"),
    "ocpp2.1": ("V2GRootCertificate", "MORootCertificate", "CSMSRootCertificate", "V2GCertificateChain",
                "ManufacturerRootCertificate", "OEMRootCertificate"),
}


def _status(result: Result, call: Call) -> dict[str, Any]:
    answer: dict[str, Any] = {"status": str(result.status)}
    if result.reason_code and profile(call.ocpp_version).status_info_max:  # 1.6 answers carry no statusInfo
        answer["statusInfo"] = status_info(result.reason_code, result.additional_info, call.ocpp_version)
    return answer


RecordEvent = Callable[[str, str], None]


def _no_event(_kind: str, _info: str) -> None:
    pass


def install_certificate(store: CertificateStore, record_event: RecordEvent = _no_event) -> Handler:
    def handle(call: Call) -> dict[str, Any]:
        use = call.payload["certificateType"]
        use = profile(call.ocpp_version).store_name(use)  # 1.6: CentralSystemRootCertificate
        result = store.install_root(use, call.payload["certificate"])
        if result.status == InstallStatus.ACCEPTED:
            record_event("ReconfigurationOfSecurityParameters", f"{use} installed")  # A04
        return _status(result, call)

    return handle


def delete_certificate(store: CertificateStore,
                       live: Callable[[], LiveConnection] = lambda: NO_LIVE_CONNECTION,
                       record_event: RecordEvent = _no_event) -> Handler:
    """M04; ``live`` says which connection to the CSMS is open now, so that the root validating it, or
    the last valid one at security profile 2 or 3, is not deleted (1.6 M04.FR.06, 2.x M04.FR.03)."""

    def handle(call: Call) -> dict[str, Any]:
        wanted = CertificateHashData.from_ocpp(call.payload["certificateHashData"])
        result = store.delete(wanted, live())
        if result.status == DeleteStatus.ACCEPTED:
            record_event("ReconfigurationOfSecurityParameters",  # A04
                         f"certificate deleted (serial number {wanted.serial_number})")
        return _status(result, call)

    return handle


def certificate_signed(services: Services) -> Handler:
    """A02/A03: the certificate for a CSR the station sent; Accepted once it is installed, durably.

    ``certificateType`` absent means the ChargingStationCertificate (2.x; 1.6 has only that one). A
    certificate now in use makes the link reconnect with it (A02.FR.08), after the answer.
    """

    def handle(call: Call) -> dict[str, Any]:
        use = call.payload.get("certificateType") or "ChargingStationCertificate"
        request_id = call.payload.get("requestId")  # 2.1 A02.FR.24-26
        result, in_use = services.renewal.certificate_signed(call.payload["certificateChain"], use, request_id)
        if in_use:
            services.storage.after_commit(services.certificate_in_use_changed)
        return _status(result, call)

    return handle


def sign_certificate(_services: Services) -> Handler:
    def handle(call: Call) -> dict[str, Any]:
        raise OcppError(ErrorCode.NOT_SUPPORTED, "SignCertificate is the station's request to its CSMS or OEM, "
                        "not one it answers; TriggerMessage SignChargingStationCertificate asks for it")

    return handle


def _hash(entry: dict[HashAlgorithm, CertificateHashData]) -> dict[str, str]:
    return entry[HashAlgorithm.SHA256].to_ocpp()  # we report SHA256; M04.FR.07 has the CSMS delete with it


def _chain(entry: InstalledCertificate) -> dict[str, Any]:
    chain: dict[str, Any] = {"certificateType": entry.use, "certificateHashData": _hash(entry.hash_data)}
    if entry.children:  # M03.FR.05: the V2G sub-CAs
        chain["childCertificateHashData"] = [_hash(child) for child in entry.children]
    return chain


def get_installed_certificate_ids(store: CertificateStore) -> Handler:
    def handle(call: Call) -> dict[str, Any]:
        if call.ocpp_version == V16:  # exactly one type asked for, a flat list answered
            found = store.installed([profile(V16).store_name(call.payload["certificateType"])])
            if not found:
                return {"status": "NotFound"}  # M03.FR.02
            return {"status": "Accepted", "certificateHashData": [_hash(e.hash_data) for e in found]}
        uses = call.payload.get("certificateType") or _REPORTABLE[call.ocpp_version]
        found = store.installed(dict.fromkeys(uses))  # a type asked for twice is reported once
        if not found:
            return {"status": "NotFound"}  # M03.FR.02: the list is omitted
        return {"status": "Accepted", "certificateHashDataChain": [_chain(e) for e in found]}  # M03.FR.03/04

    return handle


ROUTES = (
    Route("InstallCertificate", ALL_VERSIONS, mutates=True,
          build=lambda s: install_certificate(s.certificates, s.events.record)),
    Route("DeleteCertificate", ALL_VERSIONS, mutates=True,
          build=lambda s: delete_certificate(s.certificates, s.live_connection, s.events.record)),
    Route("CertificateSigned", ALL_VERSIONS, mutates=True, build=certificate_signed),  # A02/A03
    Route("SignCertificate", ALL_VERSIONS, mutates=False, build=sign_certificate),
    Route("GetInstalledCertificateIds", ALL_VERSIONS, mutates=False,
          build=lambda s: get_installed_certificate_ids(s.certificates)),
)

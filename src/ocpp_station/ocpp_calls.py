"""The OCPP requests an OEM's tools send, typed: one set of helpers for one station or a fleet of them.

:class:`OcppCalls` turns Python values into OCPP payloads and answers back into
:mod:`ocpp_station.oem_types`; how a request reaches its station is the subclass's
:meth:`OcppCalls.call_raw`. :class:`ocpp_station.client.StationClient` sends through the station's
own broker; :class:`ocpp_station.fleet.FleetStation` through a central broker, to one station among
thousands. Both thus speak the same helpers with the same arguments and the same errors.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .oem_types import (
    CallError,
    Configuration,
    ConfigurationValue,
    InstalledCertificate,
    SetVariableResult,
    Status,
    VariableRef,
    VariableResult,
    _plain,
    _reason,
    _text,
)
from .versions import OCPP_VERSIONS, V16, profile


class OcppCalls:
    """Typed OCPP requests over :meth:`call_raw`, which a subclass provides."""

    async def call_raw(self, action: str, payload: Mapping[str, Any], *, ocpp_version: str = "ocpp2.0.1",
                       timeout: float = 10.0, message_id: str | None = None) -> dict[str, Any]:
        """Send one OCPP request and return its answer envelope (CallResult or CallError) as received."""
        raise NotImplementedError

    async def call(self, action: str, payload: Mapping[str, Any], *, ocpp_version: str = "ocpp2.0.1",
                   timeout: float = 10.0) -> dict[str, Any]:
        """Send one OCPP request and return the CallResult payload.

        Raises :class:`CallError` for a CallError answer, ``TimeoutError`` when no answer came within
        ``timeout`` seconds, :class:`StationUnreachable` when the link is down.
        """
        return _result_payload(await self.call_raw(action, payload, ocpp_version=ocpp_version, timeout=timeout))


    # -- typed helpers ---------------------------------------------------------------------------

    async def get_variables(self, refs: Iterable[VariableRef | str | Sequence[str]], *,
                            ocpp_version: str = "ocpp2.0.1", timeout: float = 10.0) -> list[VariableResult]:
        """GetVariables (2.0.1/2.1) for ``refs`` (VariableRefs, ``"Component.Variable"`` texts or
        ``(component, variable)`` pairs); one result per ref, in the station's order."""
        wanted = [VariableRef.coerce(ref) for ref in refs]
        payload = await self.call("GetVariables", {"getVariableData": [ref.to_ocpp() for ref in wanted]},
                                  ocpp_version=ocpp_version, timeout=timeout)
        results = []
        for item in payload.get("getVariableResult", []):
            reason, info = _reason(item, "attributeStatusInfo")
            results.append(VariableResult(_plain(item), item["attributeStatus"], item.get("attributeValue"),
                                          item.get("attributeType") or "Actual", reason, info))
        return results

    async def set_variables(self, values: Mapping[VariableRef | str, Any] | Iterable[tuple[Any, Any]], *,
                            ocpp_version: str = "ocpp2.0.1", timeout: float = 10.0) -> list[SetVariableResult]:
        """SetVariables (2.0.1/2.1): ``{"OCPPCommCtrlr.OfflineThreshold": "300"}`` or a list of
        ``(ref, value)`` pairs; values may be str, int or bool (written ``true``/``false``)."""
        pairs = list(values.items()) if isinstance(values, Mapping) else list(values)
        data = []
        for ref, value in pairs:
            item = VariableRef.coerce(ref).to_ocpp()
            item["attributeValue"] = _text(value)
            data.append(item)
        payload = await self.call("SetVariables", {"setVariableData": data}, ocpp_version=ocpp_version,
                                  timeout=timeout)
        results = []
        for item in payload.get("setVariableResult", []):
            reason, info = _reason(item, "attributeStatusInfo")
            results.append(SetVariableResult(_plain(item), item["attributeStatus"],
                                             item.get("attributeType") or "Actual", reason, info))
        return results

    async def get_configuration(self, keys: Iterable[str] = (), *, timeout: float = 10.0) -> Configuration:
        """GetConfiguration (1.6): the keys named, or every key when none are."""
        wanted = list(keys)
        payload = await self.call("GetConfiguration", {"key": wanted} if wanted else {}, ocpp_version=V16,
                                  timeout=timeout)
        known = tuple(ConfigurationValue(item["key"], bool(item["readonly"]), item.get("value"))
                      for item in payload.get("configurationKey", []))
        return Configuration(known, tuple(payload.get("unknownKey", [])))

    async def change_configuration(self, key: str, value: Any, *, timeout: float = 10.0) -> str:
        """ChangeConfiguration (1.6) of one key: Accepted, RebootRequired, Rejected or NotSupported.
        ``value`` may be str, int or bool (written ``true``/``false``)."""
        payload = await self.call("ChangeConfiguration", {"key": key, "value": _text(value)}, ocpp_version=V16,
                                  timeout=timeout)
        return str(payload["status"])

    async def get_installed_certificate_ids(self, types: Iterable[str] | None = None, *,
                                            ocpp_version: str = "ocpp2.0.1",
                                            timeout: float = 10.0) -> list[InstalledCertificate]:
        """GetInstalledCertificateIds: the installed certificates of ``types`` (2.x names; None = all).

        In 1.6, which asks for one type at a time, this asks once per type (CSMSRootCertificate and
        ManufacturerRootCertificate when ``types`` is None). An empty list means NotFound.
        """
        wanted = list(types) if types is not None else None
        if ocpp_version == V16:
            names = profile(V16).certificate_names  # 1.6 name → the 2.x name
            found = []
            for use in wanted if wanted is not None else list(names.values()):
                payload = await self.call("GetInstalledCertificateIds", {"certificateType": profile(V16).own_name(use)},
                                          ocpp_version=ocpp_version, timeout=timeout)
                found += [InstalledCertificate(use, dict(h)) for h in payload.get("certificateHashData") or []]
            return found
        request: dict[str, Any] = {"certificateType": wanted} if wanted else {}
        payload = await self.call("GetInstalledCertificateIds", request, ocpp_version=ocpp_version, timeout=timeout)
        return [InstalledCertificate(chain["certificateType"], dict(chain["certificateHashData"]),
                                     [dict(c) for c in chain.get("childCertificateHashData") or []])
                for chain in payload.get("certificateHashDataChain") or []]

    async def install_certificate(self, pem: str | bytes, certificate_type: str = "CSMSRootCertificate", *,
                                  ocpp_version: str = "ocpp2.0.1", timeout: float = 10.0) -> Status:
        """InstallCertificate of a root certificate (PEM text); in 1.6 CSMSRootCertificate is sent
        as CentralSystemRootCertificate."""
        text = pem.decode() if isinstance(pem, bytes) else pem
        use = profile(ocpp_version).own_name(certificate_type)  # 1.6: CentralSystemRootCertificate
        payload = await self.call("InstallCertificate", {"certificateType": use, "certificate": text},
                                  ocpp_version=ocpp_version, timeout=timeout)
        return Status.from_ocpp(payload)

    async def delete_certificate(self, hash_data: Mapping[str, str], *, ocpp_version: str = "ocpp2.0.1",
                                 timeout: float = 10.0) -> Status:
        """DeleteCertificate of the certificate with this CertificateHashDataType (``hashAlgorithm``,
        ``issuerNameHash``, ``issuerKeyHash``, ``serialNumber``)."""
        payload = await self.call("DeleteCertificate", {"certificateHashData": dict(hash_data)},
                                  ocpp_version=ocpp_version, timeout=timeout)
        return Status.from_ocpp(payload)

    async def set_network_profile(self, slot: int, *, url: str, security_profile: int, interface: str = "Wired0",
                                  message_timeout: int = 30, ocpp_version: str = "OCPP20",
                                  identity: str | None = None, basic_auth_password: str | None = None,
                                  envelope_version: str = "ocpp2.0.1", timeout: float = 10.0) -> Status:
        """SetNetworkProfile of configuration ``slot``.

        Note: here ``ocpp_version`` is the profile's ``ocppVersion`` field (OCPP20, OCPP201, OCPP21);
        the OCPP version of the request itself is ``envelope_version``. ``identity`` and
        ``basic_auth_password`` exist in OCPP 2.1 only.
        """
        if ocpp_version in OCPP_VERSIONS:
            raise ValueError(f"set_network_profile: ocpp_version is the profile's ocppVersion (e.g. OCPP20, "
                             f"OCPP21); pass envelope_version={ocpp_version!r} for the request's version")
        data: dict[str, Any] = {"ocppCsmsUrl": url, "securityProfile": security_profile, "ocppInterface": interface,
                                "ocppTransport": "JSON", "messageTimeout": message_timeout,
                                "ocppVersion": ocpp_version}
        if identity is not None:
            data["identity"] = identity
        if basic_auth_password is not None:
            data["basicAuthPassword"] = basic_auth_password
        payload = await self.call("SetNetworkProfile", {"configurationSlot": slot, "connectionData": data},
                                  ocpp_version=envelope_version, timeout=timeout)
        return Status.from_ocpp(payload)


def _result_payload(answer: dict[str, Any]) -> dict[str, Any]:
    """The payload of a CallResult envelope; :class:`CallError` for a CallError, or for anything else."""
    raw_data = answer.get("data")
    data: dict[str, Any] = raw_data if isinstance(raw_data, dict) else {}
    if data.get("message_type") == "CallError":
        raise CallError(str(data.get("error_code", "GenericError")), str(data.get("error_description", "")),
                        data.get("error_details") if isinstance(data.get("error_details"), dict) else None,
                        str(answer.get("id")))
    if data.get("message_type") != "CallResult" or not isinstance(data.get("payload"), dict):
        raise CallError("ProtocolError", "the station's answer is not a CallResult or CallError",
                        {"answer": answer}, str(answer.get("id")))
    result: dict[str, Any] = data["payload"]
    return result

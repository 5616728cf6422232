"""The OEM's side of the OcppMessage API: send OCPP requests to a station through its MQTT broker.

:class:`StationClient` publishes each request on ``cs/josev`` and waits for the answer with the same
``id``. Many calls may be in flight at once; one background reader hands every answer to the call
that is waiting for it, and every NotifyReport the station sends (an ``ocpp_message`` *request* of
the station's) to the report waiting for its requestId: :meth:`StationClient.report_parts` and
:meth:`StationClient.report`, which put the parts in order (:class:`ReportCollector`).

With an MQTT 5 broker the client subscribes to a private reply topic (``josev/cs/client/<random>``)
and sends each request with that Response Topic and the request id as Correlation Data, so it only
receives its own answers (and the parts of its own reports, which the station publishes on the
Response Topic of the request that asked for them). With MQTT 3.1.1 (e.g. the station's embedded
broker) it subscribes to ``josev/cs`` and picks its answers out by envelope id, and its report parts
by requestId.

:meth:`StationClient.renew_certificate` renews the station's own certificate (A02) the way a CSMS
does: TriggerMessage(SignChargingStationCertificate), then the station's SignCertificate request
(its CSR; like a report part, on the Response Topic of the TriggerMessage with MQTT 5, on
``josev/cs`` with 3.1.1), signed by the caller's certificate authority, back as CertificateSigned.

Example (with a station running on the broker at 127.0.0.1:1883)::

    import asyncio

    from ocpp_station.client import StationClient, VariableRef

    async def main() -> None:
        async with StationClient("mqtt://127.0.0.1:1883") as station:
            for result in await station.get_variables(["OCPPCommCtrlr.OfflineThreshold", "EVSE[1].Power"]):
                print(result.ref, result.status, result.value)
            await station.set_variables({"OCPPCommCtrlr.OfflineThreshold": 300})
            print(await station.get_installed_certificate_ids())
            print(VariableRef.parse("NetworkConfiguration(2).OcppCsmsUrl").to_ocpp())
            report = await station.report("ConfigurationInventory")
            for item in report:
                print(item.label, item.value)
            async for part in station.report_parts(components=["EVSE[1]"]):
                print(part.seq_no, len(part.items))

    asyncio.run(main())
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from . import exact_json
from .api.connection import NODELAY, BrokerAddress
from .ocpp_calls import OcppCalls, _result_payload
from .oem_types import (
    ATTRIBUTE_TYPES,
    COMPONENT_CRITERIA,
    REPORT_BASES,
    CallError,
    CertificateRenewal,
    ComponentVariable,
    Configuration,
    ConfigurationValue,
    CsrTimeout,
    InstalledCertificate,
    MalformedPart,
    RenewalRefused,
    Report,
    ReportAttribute,
    ReportCollector,
    ReportItem,
    ReportPart,
    ReportRefused,
    ReportTimeout,
    SetVariableResult,
    SigningRequest,
    StationUnreachable,
    Status,
    VariableCharacteristics,
    VariableRef,
    VariableResult,
    read_notify_report,
    read_sign_certificate,
    renewal_trigger,
)
from .versions import OCPP_VERSIONS, V16, V21

__all__ = [
    "ATTRIBUTE_TYPES",
    "COMPONENT_CRITERIA",
    "OCPP_VERSIONS",
    "REPORT_BASES",
    "CallError",
    "CertificateRenewal",
    "ComponentVariable",
    "Configuration",
    "ConfigurationValue",
    "CsrTimeout",
    "InstalledCertificate",
    "RenewalRefused",
    "Report",
    "ReportAttribute",
    "ReportCollector",
    "ReportItem",
    "ReportPart",
    "ReportRefused",
    "ReportStream",
    "ReportTimeout",
    "SetVariableResult",
    "SigningRequest",
    "StationClient",
    "StationUnreachable",
    "Status",
    "VariableCharacteristics",
    "VariableRef",
    "VariableResult",
    "renewal_trigger",
]

log = logging.getLogger(__name__)


class StationClient(OcppCalls):
    """An MQTT connection to a station's OcppMessage API; use it as an async context manager.

    ``url`` is ``mqtt[s]://[user[:password]@]host[:port]`` (the password is never logged);
    ``ca_file``/``client_cert``/``client_key`` are for ``mqtts://`` brokers. ``protocol`` is
    ``"5"``, ``"3.1.1"`` or None (the default: try MQTT 5, fall back to 3.1.1 when the broker
    refuses it). Raises :class:`StationUnreachable` (a ConnectionError) when the broker cannot be
    reached, ``ValueError`` for a bad URL.
    """

    def __init__(self, url: str, *, ca_file: str | None = None, client_cert: str | None = None,
                 client_key: str | None = None, request_topic: str = "cs/josev", response_topic: str = "josev/cs",
                 protocol: str | None = None, connect_timeout: float = 10.0):
        if protocol not in (None, "5", "3.1.1"):
            raise ValueError(f"protocol must be '5', '3.1.1' or None (got {protocol!r})")
        self.address = BrokerAddress.parse(url)
        self._tls = {"ca_file": ca_file, "client_cert": client_cert, "client_key": client_key}
        self.request_topic = request_topic
        self.response_topic = response_topic
        self._wanted_protocol = protocol
        self._connect_timeout = connect_timeout
        self.protocol: str | None = None
        """The MQTT version in use once connected: ``"5"`` or ``"3.1.1"``."""
        self.reply_topic: str | None = None
        """Where answers arrive: the private MQTT 5 reply topic, or ``response_topic`` with 3.1.1."""
        self._client: aiomqtt.Client | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._reports: dict[int, _ReportWait] = {}  # by requestId: the reports whose parts we take
        self._csr_waits: list[_CsrWait] = []  # renewals waiting for the station's SignCertificate, oldest first
        self._lost: BaseException | None = None

    # -- connection ------------------------------------------------------------------------------

    async def __aenter__(self) -> StationClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def connect(self) -> None:
        """Connect and subscribe; called by ``async with``."""
        client_id = f"oem-{uuid.uuid4().hex[:12]}"
        self._client, self.protocol = await _connect(
            self.address, self._wanted_protocol,
            lambda protocol: _mqtt_client(self.address, client_id=client_id, protocol=protocol,
                                          timeout=self._connect_timeout, **self._tls))
        if self.protocol == "5":
            self.reply_topic = f"{self.response_topic}/client/{secrets.token_hex(8)}"
        else:
            self.reply_topic = self.response_topic
        try:
            await self._client.subscribe(self.reply_topic, qos=1)
        except aiomqtt.MqttError as error:
            await self.close()
            raise StationUnreachable(f"cannot subscribe on {self.address.redacted()}: {error}") from error
        self._reader = asyncio.create_task(self._read(), name="station-client-reader")

    async def close(self) -> None:
        """Stop reading, fail the calls still waiting, and disconnect."""
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
            self._reader = None
        self._fail_pending(StationUnreachable("the client was closed"))
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(aiomqtt.MqttError, OSError):
                await client.__aexit__(None, None, None)

    async def _read(self) -> None:
        assert self._client is not None
        try:
            async for message in self._client.messages:
                self._dispatch(message)
        except aiomqtt.MqttError as error:
            self._lost = StationUnreachable(f"lost the link to {self.address.redacted()}: {error}")
            self._fail_pending(self._lost)

    def _dispatch(self, message: aiomqtt.Message) -> None:
        try:
            answer = exact_json.loads(message.payload)
        except (ValueError, TypeError):
            return
        if not isinstance(answer, dict) or answer.get("name") != "ocpp_message":
            return  # josev/cs carries Josev's other messages
        correlation: str | None = None
        raw_correlation = getattr(message.properties, "CorrelationData", None) if message.properties else None
        if isinstance(raw_correlation, bytes | bytearray):
            with contextlib.suppress(UnicodeDecodeError):
                correlation = raw_correlation.decode()
        if answer.get("type") == "request":
            if not self._take_csr(answer, correlation):
                self._take_part(answer)  # a report part the station sends us; any other request is not ours
            return
        if answer.get("type") != "response":
            return
        request_id = correlation if correlation is not None else answer.get("id")
        for csr_wait in self._csr_waits:
            if csr_wait.trigger_id == request_id:
                csr_wait.answered = True  # its SignCertificate comes after this answer (F06.FR.04)
        future = self._pending.get(request_id) if isinstance(request_id, str) else None
        if future is not None and not future.done():
            future.set_result(answer)

    def _take_part(self, envelope: dict[str, Any]) -> None:
        """Hand a NotifyReport to the report waiting for its requestId; pass over every other request.

        The station's other requests, and the parts of reports other clients asked for (with MQTT
        3.1.1 every client reads josev/cs), are not ours: no answer, no log above DEBUG.
        """
        try:
            part = read_notify_report(envelope)
        except MalformedPart as error:
            if error.request_id in self._reports:
                log.warning("dropped a part of report %s that cannot be read: %s", error.request_id, error)
            return
        wait = self._reports.get(part.request_id) if part is not None else None
        if part is None or wait is None:
            return
        if not wait.collector.add(part):
            log.debug("report %s: dropped part %s (a repeat, or after the last part)", part.request_id, part.seq_no)
        if wait.acknowledge and part.message_id is not None:
            wait.unanswered.append((part.message_id, part.ocpp_version))  # a repeat is answered again too
        wait.changed.set()

    def _take_csr(self, envelope: dict[str, Any], correlation: str | None) -> bool:
        """Hand a SignCertificate to the renewal waiting for it; False for any other message.

        It is the renewal's once the station has answered its TriggerMessage (the station sends the
        CSR after that answer, F06.FR.04) and, with MQTT 5, when its Correlation Data is the
        TriggerMessage's id. With MQTT 3.1.1 there is no such tie: the first CSR after the answer is
        taken, oldest renewal first. A CSR nobody here waits for (another tool's) is passed over.
        """
        request = read_sign_certificate(envelope)
        if request is None:
            return False
        for wait in self._csr_waits:
            if wait.future.done() or not wait.answered or request.certificate_type != wait.certificate_type:
                continue
            if correlation is not None and self.protocol == "5" and correlation != wait.trigger_id:
                continue
            wait.future.set_result(request)
            break
        else:
            log.debug("passed over a SignCertificate (%s) no renewal here waits for", request.message_id)
        return True

    def _fail_pending(self, error: BaseException) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(error)
        for wait in self._reports.values():
            wait.error = error
            wait.changed.set()
        for csr_wait in self._csr_waits:
            if not csr_wait.future.done():
                csr_wait.future.set_exception(error)

    # -- calls -----------------------------------------------------------------------------------

    async def call_raw(self, action: str, payload: Mapping[str, Any], *, ocpp_version: str = "ocpp2.0.1",
                       timeout: float = 10.0, message_id: str | None = None) -> dict[str, Any]:
        """Like :meth:`call`, but return the whole answer envelope (CallResult or CallError) as received.

        ``message_id`` is the envelope id (and MQTT 5 Correlation Data) to send it under; a new UUID
        unless given.
        """
        if ocpp_version not in OCPP_VERSIONS:
            raise ValueError(f"ocpp_version must be one of {', '.join(OCPP_VERSIONS)} (got {ocpp_version!r})")
        if self._client is None:
            raise StationUnreachable("the client is not connected (use `async with StationClient(...)`)")
        if self._lost is not None:
            raise self._lost
        request_id = message_id or str(uuid.uuid4())
        if request_id in self._pending:
            raise ValueError(f"a request with id {request_id} is already waiting for its answer")
        body = exact_json.dumps({"id": request_id, "name": "ocpp_message", "type": "request",
                             "data": {"ocpp_version": ocpp_version, "message_name": action, "payload": payload}})
        properties = None
        if self.protocol == "5":
            properties = Properties(PacketTypes.PUBLISH)
            properties.ResponseTopic = self.reply_topic
            properties.CorrelationData = request_id.encode()
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future  # before publishing: the answer may come at once
        try:
            async with asyncio.timeout(timeout):
                try:
                    await self._client.publish(self.request_topic, body, qos=1, properties=properties)
                except aiomqtt.MqttError as error:
                    raise StationUnreachable(f"cannot publish to {self.address.redacted()}: {error}") from error
                return await future
        finally:
            self._pending.pop(request_id, None)

    async def renew_certificate(self, sign: Callable[[str], str | Awaitable[str]], *,
                                ocpp_version: str = "ocpp2.0.1", timeout: float = 10.0, csr_timeout: float = 30.0,
                                progress: Callable[[str], None] | None = None) -> CertificateRenewal:
        """Renew the station's ChargingStationCertificate (A02) the way a CSMS does, with ``sign`` as the CA.

        1. TriggerMessage(SignChargingStationCertificate) — in 1.6 the security extension's
           ExtendedTriggerMessage(SignChargePointCertificate); any answer but Accepted raises
           :class:`RenewalRefused` (e.g. Rejected, MissingParam: SecurityCtrlr.OrganizationName, 1.6's
           CpoName, is not set).
        2. The station's SignCertificate request with its new CSR; :class:`CsrTimeout` when none came
           within ``csr_timeout`` seconds. It is answered Accepted, as a CSMS answers it.
        3. ``sign(csr_pem)`` returns the PEM chain to install, leaf first (e.g.
           ``CertificateAuthority.sign``; a coroutine function will do too). What it raises is raised
           here, after the SignCertificate was answered Rejected.
        4. CertificateSigned with that chain (with the CSR's requestId in OCPP 2.1, without a
           certificateType in 1.6, which has one certificate to sign): the result's
           ``result`` is the station's answer, :attr:`CertificateRenewal.accepted` when it installed it.

        ``progress`` is called with a few words before each step that waits (for a progress line).
        :class:`CallError`, ``TimeoutError`` (``timeout``, for each answer) and
        :class:`StationUnreachable` as :meth:`call`.
        """
        note = progress or (lambda _text: None)
        trigger_action, requested = renewal_trigger(ocpp_version)
        trigger_id = str(uuid.uuid4())
        wait = _CsrWait(trigger_id, asyncio.get_running_loop().create_future())
        self._csr_waits.append(wait)  # before asking: the CSR may follow the answer at once
        try:
            note(f"asking the station for a CSR ({trigger_action})")
            trigger = Status.from_ocpp(_result_payload(await self.call_raw(
                trigger_action, {"requestedMessage": requested}, ocpp_version=ocpp_version,
                timeout=timeout, message_id=trigger_id)))
            if not trigger.accepted:
                raise RenewalRefused(trigger.status, trigger.reason, trigger.additional_info)
            note("waiting for the station's CSR (SignCertificate)")
            try:
                async with asyncio.timeout(csr_timeout):
                    request = await wait.future
            except TimeoutError:
                raise CsrTimeout(csr_timeout) from None
        finally:
            self._csr_waits.remove(wait)
            if not wait.future.done():
                wait.future.cancel()
            elif not wait.future.cancelled():
                wait.future.exception()  # a link lost while asking: taken, so that asyncio does not warn of it
        note("signing the CSR")
        try:
            signed = sign(request.csr)
            chain = signed if isinstance(signed, str) else await signed
        except Exception:
            await self._respond(request.message_id, request.ocpp_version, "SignCertificate", {"status": "Rejected"})
            raise
        await self._respond(request.message_id, request.ocpp_version, "SignCertificate", {"status": "Accepted"})
        payload: dict[str, Any] = {"certificateChain": chain}
        if ocpp_version != V16:
            payload["certificateType"] = request.certificate_type
        if ocpp_version == V21 and request.request_id is not None:
            payload["requestId"] = request.request_id  # 2.1 A02.FR.24
        note("sending the certificate (CertificateSigned)")
        result = Status.from_ocpp(await self.call("CertificateSigned", payload, ocpp_version=ocpp_version,
                                                  timeout=timeout))
        return CertificateRenewal(trigger, request, chain, result)

    # -- reports ---------------------------------------------------------------------------------

    def report_parts(self, base: str = "FullInventory", *,
                     components: Iterable[ComponentVariable | VariableRef | str] | None = None,
                     criteria: Iterable[str] | None = None, ocpp_version: str = "ocpp2.0.1",
                     timeout: float = 10.0, part_timeout: float = 30.0, acknowledge: bool = True,
                     request_id: int | None = None) -> ReportStream:
        """Ask for a report and iterate over its NotifyReport parts as they come, in seqNo order.

        ``base`` (FullInventory, ConfigurationInventory, SummaryInventory) sends GetBaseReport; with
        ``components`` (``"EVSE[1]"``, ``"OCPPCommCtrlr.HeartbeatInterval"``, ComponentVariables) or
        ``criteria`` (Active, Available, Enabled, Problem) it sends GetReport instead and ``base`` is
        not used. ``request_id`` is picked at random unless given. Use it as
        ``async for part in client.report_parts(...)``; the stream's ``status`` says what the station
        answered once iteration has started.

        Nothing is sent until the iteration starts. Then: :class:`CallError` or ``TimeoutError``
        (within ``timeout``) for the request itself, as :meth:`call`; :class:`ReportRefused` for
        Rejected or NotSupported; EmptyResultSet ends the iteration at once, without a part;
        :class:`ReportTimeout` when no new part came for ``part_timeout`` seconds. A part sent twice
        is yielded once. With ``acknowledge`` every part is answered with an empty CallResult, as a
        CSMS answers NotifyReport (the station does not wait for it). ``ValueError`` (at once) for
        a bad base, criterion, component or version.
        """
        if ocpp_version not in OCPP_VERSIONS:
            raise ValueError(f"ocpp_version must be one of {', '.join(OCPP_VERSIONS)} (got {ocpp_version!r})")
        if ocpp_version == V16:
            raise ValueError("reports (GetBaseReport, GetReport) exist in OCPP 2.0.1 and 2.1 only")
        wanted = [ComponentVariable.coerce(c) for c in components] if components is not None else []
        given_criteria = list(criteria) if criteria is not None else []
        for criterion in given_criteria:
            if criterion not in COMPONENT_CRITERIA:
                raise ValueError(f"unknown component criterion {criterion!r} (one of {', '.join(COMPONENT_CRITERIA)})")
        if request_id is None:
            request_id = secrets.randbelow(2**31 - 1) + 1  # 1 … 2**31-1: an int32, as any CSMS would use
            while request_id in self._reports:
                request_id = secrets.randbelow(2**31 - 1) + 1
        elif isinstance(request_id, bool) or not isinstance(request_id, int):
            raise ValueError(f"request_id must be an integer (got {request_id!r})")
        if wanted or given_criteria:
            action = "GetReport"
            payload: dict[str, Any] = {"requestId": request_id}
            if wanted:
                payload["componentVariable"] = [c.to_ocpp() for c in wanted]
            if given_criteria:
                payload["componentCriteria"] = list(dict.fromkeys(given_criteria))
        else:
            if base not in REPORT_BASES:
                raise ValueError(f"unknown report base {base!r} (one of {', '.join(REPORT_BASES)})")
            action, payload = "GetBaseReport", {"requestId": request_id, "reportBase": base}
        return ReportStream(self, request_id, action, payload, ocpp_version=ocpp_version, timeout=timeout,
                            part_timeout=part_timeout, acknowledge=acknowledge)

    async def report(self, base: str = "FullInventory", *,
                     components: Iterable[ComponentVariable | VariableRef | str] | None = None,
                     criteria: Iterable[str] | None = None, ocpp_version: str = "ocpp2.0.1",
                     timeout: float = 10.0, part_timeout: float = 30.0, acknowledge: bool = True,
                     request_id: int | None = None) -> Report:
        """The whole report of :meth:`report_parts` (same arguments and errors): every item, in order.

        The :class:`Report` is iterable over its items (:class:`ReportItem`); it is empty, not an
        error, for EmptyResultSet.
        """
        stream = self.report_parts(base, components=components, criteria=criteria, ocpp_version=ocpp_version,
                                   timeout=timeout, part_timeout=part_timeout, acknowledge=acknowledge,
                                   request_id=request_id)
        items: list[ReportItem] = []
        async with stream:
            async for part in stream:
                items.extend(part.items)
        assert stream.status is not None
        return Report(stream.request_id, stream.status.status, tuple(items), stream.parts, stream.status.reason,
                      stream.status.additional_info)

    async def _report(self, stream: ReportStream) -> AsyncGenerator[ReportPart, None]:
        """The body of a :class:`ReportStream`: register, ask, then yield the parts in order until the last."""
        if stream.request_id in self._reports:
            raise ValueError(f"report {stream.request_id} is already being collected")
        wait = _ReportWait(ReportCollector(stream.request_id), stream.acknowledge)
        self._reports[stream.request_id] = wait  # before asking: a part may come before the answer
        try:
            answer = await self.call(stream.action, stream.payload, ocpp_version=stream.ocpp_version,
                                     timeout=stream.timeout)
            status = Status.from_ocpp(answer)
            stream.status = status
            if status.status == "EmptyResultSet":
                return
            if status.status != "Accepted":
                raise ReportRefused(stream.request_id, status.status, status.reason, status.additional_info)
            loop = asyncio.get_running_loop()
            progress, deadline = wait.collector.received, loop.time() + stream.part_timeout
            while True:
                wait.changed.clear()  # first: what arrives while we answer or yield sets it again
                await self._answer_parts(wait)
                if wait.error is not None:
                    raise wait.error
                for part in wait.collector.take():
                    stream.parts += 1
                    stream.items += len(part.items)
                    yield part
                if wait.collector.complete:
                    await self._answer_parts(wait)
                    return
                if wait.collector.received != progress:  # a new part: the timeout starts again
                    progress, deadline = wait.collector.received, loop.time() + stream.part_timeout
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise ReportTimeout(stream.request_id, stream.part_timeout, wait.collector.state(),
                                        wait.collector.received)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(remaining):
                        await wait.changed.wait()
        finally:
            self._reports.pop(stream.request_id, None)

    async def _answer_parts(self, wait: _ReportWait) -> None:
        """Answer the parts received since the last call with an empty NotifyReportResponse (CallResult).

        Politeness, not protocol: the station does not wait for these answers, so one that cannot
        be published is only logged.
        """
        while wait.unanswered:
            message_id, ocpp_version = wait.unanswered.pop(0)
            await self._respond(message_id, ocpp_version, "NotifyReport", {})

    async def _respond(self, message_id: str | None, ocpp_version: str, action: str,
                       payload: Mapping[str, Any]) -> None:
        """Answer a request of the station's with a CallResult on the request topic, as a CSMS would.

        Politeness, not protocol (the station does not wait for these answers): one that cannot be
        published is only logged.
        """
        if self._client is None or message_id is None:
            return
        body = exact_json.dumps({"id": message_id, "name": "ocpp_message", "type": "response",
                                 "data": {"ocpp_version": ocpp_version, "message_type": "CallResult",
                                          "message_name": action, "payload": payload}})
        try:
            await self._client.publish(self.request_topic, body, qos=1)
        except aiomqtt.MqttError as error:
            log.debug("could not answer %s %s: %s", action, message_id, error)


@dataclass
class _CsrWait:
    """A renewal waiting for the station's SignCertificate: the TriggerMessage that asked for it."""

    trigger_id: str
    future: asyncio.Future[SigningRequest]
    certificate_type: str = "ChargingStationCertificate"
    answered: bool = False  # the TriggerMessage's answer came: a CSR from now on may be ours


@dataclass
class _ReportWait:
    """A report being collected: its parts so far, and what the reader has to tell the iterator."""

    collector: ReportCollector
    acknowledge: bool
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    unanswered: list[tuple[str, str]] = field(default_factory=list)  # (envelope id, ocpp_version) to answer
    error: BaseException | None = None


class ReportStream:
    """The parts of one report, as :meth:`StationClient.report_parts` yields them (an async iterator).

    ``request_id`` is the report's requestId; ``status`` the station's answer (a :class:`Status`)
    once iteration has started; ``parts`` and ``items`` count what has been yielded so far. Leaving
    an ``async for`` early stops the collection (``async with`` the stream, or ``aclose()``, makes
    that immediate rather than left to the garbage collector).
    """

    def __init__(self, client: StationClient, request_id: int, action: str, payload: dict[str, Any], *,
                 ocpp_version: str, timeout: float, part_timeout: float, acknowledge: bool):
        self.request_id = request_id
        self.action = action
        """``GetBaseReport`` or ``GetReport``."""
        self.payload = payload
        self.ocpp_version = ocpp_version
        self.timeout = timeout
        self.part_timeout = part_timeout
        self.acknowledge = acknowledge
        self.status: Status | None = None
        self.parts = 0
        self.items = 0
        self._body = client._report(self)

    def __aiter__(self) -> ReportStream:
        return self

    async def __anext__(self) -> ReportPart:
        return await self._body.__anext__()

    async def aclose(self) -> None:
        """Stop collecting (the parts still to come are then passed over)."""
        await self._body.aclose()

    async def __aenter__(self) -> ReportStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


async def _connect(address: BrokerAddress, protocol: str | None,
                   make: Callable[[str], aiomqtt.Client]) -> tuple[aiomqtt.Client, str]:
    """A connected client of ``protocol`` (``"5"``, ``"3.1.1"``), or None: MQTT 5, else 3.1.1 when the
    broker refuses MQTT 5 (RabbitMQ 3.x); ``make(protocol)`` builds it. StationUnreachable otherwise."""
    attempts = [protocol] if protocol else ["5", "3.1.1"]
    for attempt in attempts:
        client = make(attempt)
        try:
            await client.__aenter__()
        except aiomqtt.MqttError as error:
            if attempt == "5" and len(attempts) > 1 and _refused_protocol(error):
                log.debug("%s refused MQTT 5 (%s); using MQTT 3.1.1", address.redacted(), error)
                continue
            raise StationUnreachable(f"cannot reach {address.redacted()}: {error}") from error
        except OSError as error:  # e.g. an unreadable CA file
            raise StationUnreachable(f"cannot reach {address.redacted()}: {error}") from error
        return client, attempt
    raise AssertionError("unreachable: the last attempt returns or raises")


def _refused_protocol(error: aiomqtt.MqttError) -> bool:
    """Whether a failed MQTT 5 CONNECT looks like a broker that does not speak MQTT 5 (rather than
    one that is not there): it answered, then refused or hung up."""
    text = str(error).lower()
    if isinstance(error, aiomqtt.MqttCodeError):
        return error.rc in (1, 132)  # 3.1.1 "unacceptable protocol version", MQTT 5 "unsupported protocol version"
    return not any(word in text for word in ("refused", "no route", "name or service", "timed out",
                                             "certificate", "ssl", "not known"))


def _mqtt_client(address: BrokerAddress, *, client_id: str, protocol: str, ca_file: str | None,
                 client_cert: str | None, client_key: str | None, **extra: Any) -> aiomqtt.Client:
    """An aiomqtt client for ``address`` (TCP_NODELAY on: ~0.3 ms instead of ~44 ms per round trip)."""
    client = aiomqtt.Client(
        hostname=address.host, port=address.port, username=address.username, password=address.password,
        identifier=client_id, socket_options=NODELAY,
        protocol=aiomqtt.ProtocolVersion.V5 if protocol == "5" else aiomqtt.ProtocolVersion.V311,
        tls_context=address.tls_context(ca_file=ca_file, client_cert=client_cert, client_key=client_key), **extra)
    _closed_before_connack_fails(client)
    return client


def _closed_before_connack_fails(client: aiomqtt.Client) -> None:
    """Make a connection the broker closes before its CONNACK fail the CONNECT at once.

    aiomqtt 2 passes over a disconnection that comes before the CONNACK and waits for its timeout, and
    that is how a broker that does not speak MQTT 5 answers an MQTT 5 CONNECT (RabbitMQ 3.x's MQTT
    plugin closes the connection): the fallback to 3.1.1 would wait the whole connect timeout and
    then take it for an unreachable broker. Wrapped around paho's disconnect callback, which aiomqtt
    runs on the event loop; aiomqtt's own handling follows unchanged.
    """
    paho_client = client._client
    handled = paho_client.on_disconnect

    def on_disconnect(*args: Any) -> None:
        connected = client._connected
        if client._lock.locked() and not connected.done():  # a CONNECT waiting for its CONNACK
            connected.set_exception(aiomqtt.MqttError("the broker closed the connection before its CONNACK"))
        if handled is not None:
            handled(*args)

    paho_client.on_disconnect = on_disconnect

"""Issue 16 part 2: what the station promised the CSMS (its outbox's "csms" rows) reaches the CSMS.

The CSMS is the ``ocpp`` package's (:class:`~.test_csms_link.Csms`), extended here with a NotifyReport
handler (:class:`ReportCsms`): the package validates each part against the official schema of the
version the connection speaks before the handler sees it — a part that reaches :attr:`ReportCsms.handled`
passed — and this file checks every NotifyReport frame again with the pure-Python ``jsonschema``
against the OCA's request schema. The CSMS can also drop the connection at a part, never answer one
(for a ``kill -9`` while it is in flight) or refuse one with a CALLERROR.

Rows are put in the outbox before the station starts (a :class:`~ocpp_station.app.Station` on its
data directory, in this process, then closed), or — with the GetBaseReport handler — by the CSMS's
own request. The wake-up of a live link by rows committed on another thread is tested in this
process, with :class:`~ocpp_station.csms.link.CsmsLink` run on the test's event loop. Every wait is
a wait for what the CSMS receives, the station logs or the database holds; nothing sleeps to
synchronise.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import websockets
from ocpp.exceptions import GenericError, SecurityError
from ocpp.routing import on
from ocpp.v21 import ChargePoint as ChargePoint21
from ocpp.v21 import call as call21
from ocpp.v201 import ChargePoint, call
from websockets.asyncio.server import ServerConnection

from ocpp_station.app import Station
from ocpp_station.config import Config, Network, StationIdentity, load
from ocpp_station.csms.link import CsmsLink

from ..support import InProcessOem, wait_until
from .test_csms_link import FAST_RETRIES, IDENTITY, PASSWORD, V201, Csms, CsmsSession, Rig, network_config

V21 = "ocpp2.1"
BOTH = pytest.mark.parametrize("version", [V201, V21])
_FOLDER = {V201: "v201", V21: "v21"}


# --------------------------------------------------------------------------------------------------------------
# The official schema, checked independently of the station and of the ocpp package's own check
# --------------------------------------------------------------------------------------------------------------

@cache
def request_validator(version: str, action: str) -> jsonschema.Validator:
    schema = json.loads((resources.files("ocpp") / _FOLDER[version] / "schemas" / f"{action}Request.json")
                        .read_text("utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def report_parts(request_id: int, count: int) -> list[dict[str, Any]]:
    """``count`` NotifyReport payloads of one report: seqNo 0.., tbc on all but the last (B07.FR.10)."""
    return [{"requestId": request_id, "generatedAt": "2025-01-02T03:04:05Z", "seqNo": n, "tbc": n < count - 1,
             "reportData": [{"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": f"Part{n}"},
                             "variableAttribute": [{"type": "Actual", "value": str(n), "mutability": "ReadOnly"}],
                             "variableCharacteristics": {"dataType": "integer", "supportsMonitoring": False}}]}
            for n in range(count)]


# --------------------------------------------------------------------------------------------------------------
# The CSMS, with NotifyReport
# --------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Handled:
    """A NotifyReport part the ``ocpp`` package validated and handed to the handler."""

    message_id: str
    request_id: int
    seq_no: int
    tbc: bool


class ReportSession(CsmsSession):
    """:class:`CsmsSession` with a NotifyReport handler, and the CSMS's mischief at the parts it names."""

    csms: ReportCsms
    boot_status: str | None = None  # what this connection's last BootNotification was answered

    @on("BootNotification")
    async def on_boot(self, charging_station: dict, reason: str, **rest: Any) -> Any:
        answer = await super().on_boot(charging_station=charging_station, reason=reason, **rest)
        self.boot_status = answer.status
        return answer

    async def route_message(self, raw_msg: str | bytes) -> None:
        frame = json.loads(raw_msg)
        if frame[0] == 2 and frame[2] == "NotifyReport":
            fate = self.csms.fate(frame[3].get("seqNo"))
            if fate is not None:
                self.csms.record(frame)
                if fate == "drop":  # the CSMS closes the websocket instead of answering
                    await self._connection.close()
                return  # "drop" and "stall": never answered
        await super().route_message(raw_msg)

    @on("NotifyReport")
    async def on_notify_report(self, request_id: int, generated_at: str, seq_no: int, call_unique_id: str,
                               tbc: bool = False, **_: Any) -> Any:
        self.csms.note(Handled(call_unique_id, request_id, seq_no, tbc))
        if self.csms.refuse_while_pending and self.boot_status == "Pending":  # B02.FR.09, as a strict CSMS reads it
            raise SecurityError(description="not before the station is accepted")
        if seq_no in self.csms.refuse:
            raise GenericError(description=f"part {seq_no} is not wanted")  # a CALLERROR GenericError
        return self._call_result.NotifyReport()


class ReportChargePoint(ReportSession, ChargePoint):
    """A 2.0.1 session."""


class ReportChargePoint21(ReportSession, ChargePoint21):
    """A 2.1 session."""


REPORT_SESSIONS: dict[str, type[ReportSession]] = {V201: ReportChargePoint, V21: ReportChargePoint21}


@dataclass
class ReportCsms(Csms):
    """:class:`Csms` whose sessions take NotifyReport; ``drop_at``/``stall_at``: seqNos at which, once,
    it closes the connection / never answers; ``refuse``: seqNos it answers CALLERROR GenericError;
    ``refuse_while_pending``: every part answered SecurityError while the station is Pending."""

    drop_at: set[int] = field(default_factory=set)
    stall_at: set[int] = field(default_factory=set)
    refuse: set[int] = field(default_factory=set)
    refuse_while_pending: bool = False
    handled: list[Handled] = field(default_factory=list)

    async def _handle(self, connection: ServerConnection) -> None:  # Csms._handle, with REPORT_SESSIONS
        assert connection.request is not None
        version = connection.subprotocol or V201
        with self._lock:
            self.sessions.append(version)
        cp = REPORT_SESSIONS[version](connection.request.path.rstrip("/").rsplit("/", 1)[-1], connection, self)
        self.connection = cp
        with contextlib.suppress(websockets.ConnectionClosed):
            await cp.start()

    def fate(self, seq_no: object) -> str | None:
        with self._lock:
            for name, seq_nos in (("drop", self.drop_at), ("stall", self.stall_at)):
                if seq_no in seq_nos:
                    seq_nos.discard(seq_no)  # once
                    return name
        return None

    def note(self, part: Handled) -> None:
        with self._lock:
            self.handled.append(part)

    def parts(self) -> list[Handled]:
        with self._lock:
            return list(self.handled)

    def wait_for_parts(self, count: int, timeout: float = 20.0, why: Callable[[], str] = lambda: "") -> list[Handled]:
        wait_until(lambda: len(self.parts()) >= count,
                   f"the CSMS handled {len(self.parts())} NotifyReport part(s), wanted {count}:\n{why()}", timeout)
        return self.parts()

    def notify_frames(self, version: str) -> list[list[Any]]:
        """Every NotifyReport CALL received (resends too), each checked against the official schema."""
        frames = [r.frame for r in self.received("NotifyReport")]
        for frame in frames:
            request_validator(version, "NotifyReport").validate(frame[3])
        return frames


# --------------------------------------------------------------------------------------------------------------
# A station of its own, its outbox filled before it starts
# --------------------------------------------------------------------------------------------------------------

@pytest.fixture
def report_csmss() -> Iterator[Callable[..., ReportCsms]]:
    made: list[ReportCsms] = []

    def make(**kwargs: Any) -> ReportCsms:
        csms = ReportCsms(**kwargs)
        csms.start()
        made.append(csms)
        return csms

    yield make
    for csms in made:
        csms.stop()


@pytest.fixture
def station_rigs(tmp_path: Path) -> Iterator[Callable[..., Rig]]:
    """Stations (not started) with a mosquitto each; killed at the end."""
    made: list[Rig] = []

    def make(config_text: str) -> Rig:
        rig = Rig(tmp_path / f"rig{len(made)}", config_text)
        made.append(rig)
        return rig

    yield make
    for rig in made:
        rig.close()


def prepare(rig: Rig, version: str, payloads: list[dict[str, Any]]) -> list[str]:
    """Before the station starts: the password, quick retries, and ``payloads`` as "csms" outbox rows
    (what an accepted GetBaseReport left undelivered); their message ids."""
    station = Station(load(rig.workdir / "station.toml", overrides={"data_dir": rig.data_dir}))
    try:
        oem = InProcessOem(station)
        for component, values in (("SecurityCtrlr", {"BasicAuthPassword": PASSWORD}), ("OCPPCommCtrlr", FAST_RETRIES)):
            results = oem.result("SetVariables", {"setVariableData": [
                {"component": {"name": component}, "variable": {"name": name}, "attributeValue": value}
                for name, value in values.items()]})["setVariableResult"]
            assert all(r["attributeStatus"] == "Accepted" for r in results), results
        if not payloads:
            return []
        with station.storage.unit_of_work():
            return station.outbox.add("csms", version, "NotifyReport", payloads)
    finally:
        station.close()


def outbox(rig: Rig) -> list[tuple[str, int]]:
    """The station's undelivered "csms" rows, read from its database: (message id, seqNo), in order."""
    with contextlib.closing(sqlite3.connect(rig.data_dir / "station.sqlite3", timeout=10)) as db:
        rows = db.execute("SELECT message_id, payload FROM outbox WHERE door = 'csms' AND action = 'NotifyReport'"
                          " ORDER BY seq").fetchall()
    return [(message_id, json.loads(bytes(payload))["seqNo"]) for message_id, payload in rows]


def wait_outbox_empty(rig: Rig) -> None:
    wait_until(lambda: not outbox(rig), f"the outbox still holds {outbox(rig)}:\n{rig.log()[-3000:]}")


def first_at(csms: Csms, action: str) -> float:
    return min(r.at for r in csms.received(action))


# --------------------------------------------------------------------------------------------------------------
# Rows waiting at start: delivered in order after Accepted, deleted once answered
# --------------------------------------------------------------------------------------------------------------

@BOTH
def test_rows_waiting_at_start_are_delivered_in_order_after_accepted_and_deleted(
        station_rigs: Callable[..., Rig], report_csmss: Callable[..., ReportCsms], version: str) -> None:
    csms = report_csmss(subprotocols=[version])
    rig = station_rigs(network_config(csms.url))
    ids = prepare(rig, version, report_parts(1, 4))
    rig.start()

    handled = csms.wait_for_parts(4, why=lambda: rig.log()[-3000:])
    assert [(p.message_id, p.request_id, p.seq_no, p.tbc) for p in handled] == [
        (ids[n], 1, n, n < 3) for n in range(4)]  # in order, each under the id its row was stored with
    frames = csms.notify_frames(version)
    assert [frame[1] for frame in frames] == ids  # each sent once
    # B01.FR.08: nothing before the boot's answer (cached messages included), B01.FR.05: the
    # StatusNotifications first.
    assert first_at(csms, "NotifyReport") > first_at(csms, "StatusNotification") > first_at(csms, "BootNotification")
    assert csms.sessions == [version]
    wait_outbox_empty(rig)  # delete on answer


def test_a_part_refused_with_a_callerror_is_dropped_with_one_warning_and_the_rest_goes(
        station_rigs: Callable[..., Rig], report_csmss: Callable[..., ReportCsms]) -> None:
    """A CSMS that refuses a part would refuse it again: it is dropped (the report incomplete, said
    once at WARNING however many parts of it are refused), and what follows is not held back."""
    csms = report_csmss(refuse={1, 2})
    rig = station_rigs(network_config(csms.url))
    ids = prepare(rig, V201, report_parts(5, 4))
    rig.start()

    handled = csms.wait_for_parts(4, why=lambda: rig.log()[-3000:])
    assert [p.message_id for p in handled] == ids  # each once: a refused part is not sent again
    wait_outbox_empty(rig)
    warnings = [line for line in rig.log().splitlines() if " WARNING " in line and "refused NotifyReport" in line]
    assert len(warnings) == 1, warnings
    assert "part 1 of report 5" in warnings[0] and "GenericError" in warnings[0] and "incomplete" in warnings[0]
    count = len(csms.received("Heartbeat"))
    csms.wait_for("Heartbeat", count=count + 1, timeout=5)  # the session goes on


def test_a_row_that_breaks_its_schema_is_never_sent_dropped_with_an_error_and_the_rest_goes(
        station_rigs: Callable[..., Rig], report_csmss: Callable[..., ReportCsms]) -> None:
    """The session checks every CALL against the official schema; a row that breaks it (no seqNo)
    would break it on every connection, so it is dropped with an ERROR rather than block the queue."""
    csms = report_csmss()
    rig = station_rigs(network_config(csms.url))
    good = report_parts(8, 2)
    broken = {key: value for key, value in good[0].items() if key != "seqNo"}
    ids = prepare(rig, V201, [broken, *good])
    rig.start()

    handled = csms.wait_for_parts(2, why=lambda: rig.log()[-3000:])
    assert [p.message_id for p in handled] == ids[1:]
    assert [frame[1] for frame in csms.notify_frames(V201)] == ids[1:]  # the broken one never on the wire
    wait_outbox_empty(rig)
    errors = [line for line in rig.log().splitlines() if " ERROR " in line and "csms.link" in line]
    assert len(errors) == 1 and "can never be sent" in errors[0] and "seqNo" in errors[0], errors


def test_b02_fr_02_what_the_csms_asked_for_is_delivered_while_pending(
        station_rigs: Callable[..., Rig], report_csmss: Callable[..., ReportCsms]) -> None:
    """B02.FR.02: while not Accepted nothing but BootNotification "unless it has been instructed by
    the CSMS to do so, using ... GetBaseReportRequest, GetReportRequest": the parts go while Pending,
    nothing else does (no StatusNotification, no Heartbeat)."""
    csms = report_csmss(boot_statuses=["Pending"], interval=2)
    rig = station_rigs(network_config(csms.url))
    ids = prepare(rig, V201, report_parts(2, 3))
    rig.start()

    handled = csms.wait_for_parts(3, why=lambda: rig.log()[-3000:])
    assert [p.message_id for p in handled] == ids
    wait_outbox_empty(rig)
    csms.wait_for("BootNotification", count=2, timeout=10)  # still Pending, retrying at the interval
    assert not csms.received("StatusNotification") and not csms.received("Heartbeat")


def test_b02_fr_09_a_security_error_while_pending_keeps_the_part_until_accepted(
        station_rigs: Callable[..., Rig], report_csmss: Callable[..., ReportCsms]) -> None:
    """A CSMS that does not count a report asked for on an earlier connection as "instructed" answers
    its parts SecurityError while Pending (B02.FR.09). That is "not yet", not "never": the part is
    kept, nothing more goes while Pending, and once Accepted the part goes again (same id), then the
    rest — and no part is reported refused."""
    csms = report_csmss(boot_statuses=["Pending", "Accepted"], interval=2, refuse_while_pending=True)
    rig = station_rigs(network_config(csms.url))
    ids = prepare(rig, V201, report_parts(6, 3))
    rig.start()

    handled = csms.wait_for_parts(4, why=lambda: rig.log()[-3000:])
    assert [p.message_id for p in handled] == [ids[0], ids[0], ids[1], ids[2]]
    boots = csms.received("BootNotification")
    assert len(boots) == 2 and len(csms.sessions) == 1  # one connection: Pending, then Accepted
    again = [r.at for r in csms.received("NotifyReport")][1]
    assert again > first_at(csms, "StatusNotification") > boots[1].at
    wait_outbox_empty(rig)
    assert "SecurityError to NotifyReport part 0 of report 6 while Pending" in rig.log()
    assert "refused NotifyReport" not in rig.log()


# --------------------------------------------------------------------------------------------------------------
# A connection dropped, a station killed, in the middle of a report
# --------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("how", ["dropped", "timed-out"])
def test_a_connection_lost_mid_report_resumes_with_the_unanswered_part_under_its_id(
        station_rigs: Callable[..., Rig], report_csmss: Callable[..., ReportCsms], how: str) -> None:
    """The CSMS closes the websocket instead of answering part 1 (or never answers it: the message
    timeout ends the session): after the reconnection (and its Accepted boot) part 1 goes again
    first, under the same message id (Part 4 §4.1.4 allows a retry to reuse it), then the rest. The
    CSMS sees part 1 twice, same id, same seqNo."""
    csms = report_csmss(drop_at={1}) if how == "dropped" else report_csmss(stall_at={1})
    rig = station_rigs(network_config(csms.url))
    ids = prepare(rig, V201, report_parts(3, 4))
    rig.start()

    handled = csms.wait_for_parts(4, timeout=30, why=lambda: rig.log()[-3000:])
    assert [(p.message_id, p.seq_no) for p in handled] == [(ids[n], n) for n in range(4)]
    frames = csms.notify_frames(V201)
    assert [frame[1] for frame in frames] == [ids[0], ids[1], ids[1], ids[2], ids[3]]
    assert frames[1] == frames[2]  # the very same CALL
    boots = csms.received("BootNotification")
    assert len(boots) == 2 and len(csms.sessions) == 2
    resent = [r for r in csms.received("NotifyReport") if r.frame[1] == ids[1]][1]
    statuses_after = [r.at for r in csms.received("StatusNotification") if r.at > boots[1].at]
    assert statuses_after and resent.at > max(statuses_after) > boots[1].at  # after the new Accepted, first
    assert "sending NotifyReport part 1 of report 3 again under its message id" in rig.log()
    wait_outbox_empty(rig)


def test_a_station_killed_mid_report_delivers_the_rest_after_its_restart(
        station_rigs: Callable[..., Rig], report_csmss: Callable[..., ReportCsms]) -> None:
    """``kill -9`` while part 2 waits for its answer: parts 0 and 1 are gone from the outbox (each
    deleted, durably, before the next went), parts 2 and 3 are there; after the restart, part 2 goes
    first, under its stored id, then part 3."""
    csms = report_csmss(stall_at={2})
    rig = station_rigs(network_config(csms.url))
    ids = prepare(rig, V201, report_parts(4, 4))
    rig.start()

    wait_until(lambda: len(csms.received("NotifyReport")) >= 3, f"part 2 never came:\n{rig.log()[-3000:]}")
    rig.station.kill()
    assert outbox(rig) == [(ids[2], 2), (ids[3], 3)]
    rig.station.start()

    handled = csms.wait_for_parts(4, why=lambda: rig.log()[-3000:])
    assert [(p.message_id, p.seq_no) for p in handled] == [(ids[n], n) for n in range(4)]
    assert [frame[1] for frame in csms.notify_frames(V201)] == [ids[0], ids[1], ids[2], ids[2], ids[3]]
    wait_outbox_empty(rig)


# --------------------------------------------------------------------------------------------------------------
# Rows committed while the link idles wake it — on the committing thread, never blocking the loop
# --------------------------------------------------------------------------------------------------------------

def station_watching_threads(tmp_path: Path, csms: ReportCsms, monkeypatch: pytest.MonkeyPatch,
                             *names: str) -> tuple[Station, dict[str, set[int]]]:
    """A station pointed at ``csms`` (its password set), whose methods ``names`` record the threads they
    run on: what must never run on the event loop."""
    station = Station(Config(data_dir=tmp_path / "data", station=StationIdentity(identity=IDENTITY),
                             network=Network(csms_url=csms.url, message_timeout=5)))
    InProcessOem(station).result("SetVariables", {"setVariableData": [
        {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"},
         "attributeValue": PASSWORD}]})
    on_threads: dict[str, set[int]] = {name: set() for name in names}

    def on_thread(name: str) -> Callable[..., Any]:
        method = getattr(station, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            on_threads[name].add(threading.get_ident())
            return method(*args, **kwargs)

        return wrapper

    for name in names:
        monkeypatch.setattr(station, name, on_thread(name))
    return station, on_threads


def test_rows_committed_on_another_thread_wake_an_idle_link_which_reads_and_deletes_off_the_loop(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The link waits for the next deadline (a heartbeat a minute away) or a message; rows committed
    by a worker thread (as the MQTT door's or a CSMS request's commit would) wake it through
    Station.on_outgoing, and go at once. The outbox is read and written in worker threads: the read
    takes the station's lock, which the MQTT door may hold through an fsync, and the delete is one."""
    csms = ReportCsms(interval=60)
    csms.start()
    station, on_threads = station_watching_threads(tmp_path, csms, monkeypatch, "outgoing", "delivered")
    try:
        connectors = len(station.connectors())

        def add_rows() -> list[str]:
            with station.lock, station.storage.unit_of_work():
                return station.outbox.add("csms", V201, "NotifyReport", report_parts(9, 3))

        async def scenario() -> tuple[list[str], float, int]:
            link = asyncio.create_task(CsmsLink(station).run())
            try:
                while len(csms.received("StatusNotification")) < connectors or not csms.received("BootNotification"):
                    assert not link.done(), link
                    await asyncio.sleep(0.02)  # the poll interval of a wait for the CSMS's frame
                added_at = time.monotonic()
                ids = await asyncio.to_thread(add_rows)  # committed on a worker thread
                while len(csms.parts()) < 3:
                    assert not link.done(), link
                    assert time.monotonic() - added_at < 10, "the rows did not wake the link"
                    await asyncio.sleep(0.02)  # the poll interval of a wait for the CSMS's frame
                return ids, time.monotonic() - added_at, threading.get_ident()
            finally:
                link.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await link

        ids, took, loop_thread = asyncio.run(scenario())
        assert [p.message_id for p in csms.parts()] == ids
        assert took < 10 and not csms.received("Heartbeat")  # woken by the rows, not by a deadline
        assert on_threads["outgoing"] and on_threads["delivered"]
        assert loop_thread not in on_threads["outgoing"] | on_threads["delivered"]  # never on the event loop
        with station.lock:
            assert station.outbox.pending("csms") == 0
    finally:
        station.close()
        csms.stop()


# --------------------------------------------------------------------------------------------------------------
# The real thing: a GetBaseReport from the CSMS, its parts delivered
# --------------------------------------------------------------------------------------------------------------

def _reports_routed() -> bool:
    """Whether the station routes GetBaseReport yet (its handlers are built alongside, in handlers/reports.py)."""
    try:
        from ocpp_station.handlers.routes import ROUTES
    except ImportError:
        return False
    return any(route.action == "GetBaseReport" for route in ROUTES)


needs_reports = pytest.mark.skipif(not _reports_routed(), reason="GetBaseReport is not routed yet")
SMALL_PARTS = "\n[limits]\nreport_items_per_part = 10\n"  # a FullInventory in many parts


def get_base_report(version: str, request_id: int) -> Any:
    module = call if version == V201 else call21
    return module.GetBaseReport(request_id=request_id, report_base="FullInventory")


@needs_reports
@BOTH
def test_b07_a_get_base_report_from_the_csms_is_delivered_part_by_part_in_order(
        station_rigs: Callable[..., Rig], report_csmss: Callable[..., ReportCsms], version: str) -> None:
    """B07.FR.01/03/04/10: Accepted, then NotifyReport parts with its requestId, seqNo 0, 1, …, tbc
    on all but the last, received in that order, each valid for the official schema; the outbox
    empty once the last is answered."""
    csms = report_csmss(subprotocols=[version])
    rig = station_rigs(network_config(csms.url, extra=SMALL_PARTS))
    prepare(rig, version, [])
    rig.start()
    csms.wait_for("StatusNotification", why=lambda: rig.log()[-3000:])

    result, answer = csms.call(get_base_report(version, 42))
    assert result.status == "Accepted", answer
    rig.station.wait_until_logged("GetBaseReport 42 accepted")
    [line] = [line for line in rig.log().splitlines() if "GetBaseReport 42 accepted" in line]
    count = int(line.split(" NotifyReport part(s)")[0].rsplit(" ", 1)[-1])
    assert count > 1, line  # 10 items a part: a full inventory takes many

    handled = csms.wait_for_parts(count, why=lambda: rig.log()[-3000:])
    assert [(p.request_id, p.seq_no, p.tbc) for p in handled] == [(42, n, n < count - 1) for n in range(count)]
    frames = csms.notify_frames(version)
    assert len(frames) == count and all(frame[3]["requestId"] == 42 for frame in frames)
    answered_at = next(r.at for r in csms.frames if r.frame[0] == 3 and r.frame[1] == answer[1])
    assert first_at(csms, "NotifyReport") >= answered_at  # the answer first, then the parts (B07 step 3, 4)
    wait_outbox_empty(rig)


@needs_reports
def test_b02_fr_01_02_a_get_base_report_while_pending_is_delivered_while_pending(
        station_rigs: Callable[..., Rig], report_csmss: Callable[..., ReportCsms]) -> None:
    """B02.FR.01: while Pending the CSMS may ask for a report (B07); B02.FR.02: its parts may then go
    before Accepted. Nothing else of the station's does."""
    csms = report_csmss(boot_statuses=["Pending"], interval=3)
    rig = station_rigs(network_config(csms.url, extra=SMALL_PARTS))
    prepare(rig, V201, [])
    rig.start()
    csms.wait_for("BootNotification", why=lambda: rig.log()[-3000:])

    result, answer = csms.call(get_base_report(V201, 7))
    assert result.status == "Accepted", answer
    rig.station.wait_until_logged("GetBaseReport 7 accepted")
    [line] = [line for line in rig.log().splitlines() if "GetBaseReport 7 accepted" in line]
    count = int(line.split(" NotifyReport part(s)")[0].rsplit(" ", 1)[-1])
    handled = csms.wait_for_parts(count, why=lambda: rig.log()[-3000:])
    assert [(p.request_id, p.seq_no) for p in handled] == [(7, n) for n in range(count)]
    csms.notify_frames(V201)
    wait_outbox_empty(rig)
    assert not csms.received("StatusNotification") and not csms.received("Heartbeat")


def test_b01_fr_04_the_accepted_boot_is_recorded_off_the_event_loop(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The heartbeat interval (B01.FR.04) and the active slot (A05.FR.06) are commits with an fsync, and
    the station's lock may be held by the MQTT door through one of its own: neither runs on the loop."""
    csms = ReportCsms(interval=45)
    csms.start()
    station, on_threads = station_watching_threads(tmp_path, csms, monkeypatch,
                                                   "record_heartbeat_interval", "record_connected")
    try:
        connectors = len(station.connectors())

        async def scenario() -> int:
            link = asyncio.create_task(CsmsLink(station).run())
            try:
                while len(csms.received("StatusNotification")) < connectors:
                    assert not link.done(), link
                    await asyncio.sleep(0.02)  # the poll interval of a wait for the CSMS's frame
                return threading.get_ident()
            finally:
                link.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await link

        loop_thread = asyncio.run(scenario())
        assert all(on_threads.values()), on_threads  # both were recorded …
        assert loop_thread not in on_threads["record_heartbeat_interval"] | on_threads["record_connected"]  # … not here
        assert station.setting("OCPPCommCtrlr", "HeartbeatInterval", default=0) == 45
    finally:
        station.close()
        csms.stop()

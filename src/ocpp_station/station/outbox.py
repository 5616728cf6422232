"""What the station promised to send and has not delivered yet: durable, in order, per door.

An accepted GetBaseReport or GetReport promises NotifyReport parts (B07.FR.03, B08.FR.03); an
accepted TriggerMessage the message it asked for (F06.FR.10); a security event must reach the CSMS
(A04.FR.02: guaranteed delivery); a key pair waiting for its certificate its SignCertificate
(A02/A03). The promise is kept across a dropped connection, a broker away, ``kill -9`` and a power cut: the parts
are rows here, written in the same unit of work as the answer that promised them (so either both
exist or neither does), and a door deletes a row only once its receiver has it — the CSMS answered
the CALL, or the broker acknowledged the PUBLISH. A door sends its rows in ``seq`` order, one at a
time towards the CSMS (OCPP-J: one outstanding CALL), and sends the first undelivered row again
after a reconnection or a restart, under the same message id: a receiver that did get it before,
its acknowledgement lost, sees the same id and the same ``seqNo`` again.

``door`` is the door the promise was made through: ``"csms"`` for the CSMS's request, ``"mqtt"``
for the OEM's. ``triggered`` says whether the receiver asked for the message (a report part, a
triggered message: B02.FR.02 lets those go to a CSMS that has not accepted the station yet) or the
station sends it of its own accord (a security event, a renewal it started: only once Accepted).
The OEM's parts carry the MQTT 5 Response Topic and Correlation Data of the request
that asked, to be published there too.

Pure storage and bookkeeping: no socket, no thread. Callers hold the station's lock (the doors go
through :class:`~ocpp_station.app.Station`); listeners hear of new rows after their commit.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .. import exact_json
from .storage import Storage

Door = Literal["mqtt", "csms"]
DOORS: tuple[Door, ...] = ("mqtt", "csms")


@dataclass(frozen=True)
class Outgoing:
    """One message to deliver through ``door``, as stored."""

    seq: int
    door: str
    ocpp_version: str
    action: str
    message_id: str  # sent under this id every time (a resend is recognisable)
    payload: dict[str, Any]
    reply_to: str | None = None  # MQTT 5: the Response Topic of the request that caused it
    correlation: bytes | None = None  # … and its Correlation Data
    triggered: bool = True  # the receiver asked for it (B02.FR.02): it may go before Accepted


class Outbox:
    def __init__(self, storage: Storage):
        self._storage = storage
        self._db = storage.connection
        self._listeners: list[Callable[[str], None]] = []

    def on_added(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(door)`` (on the committing thread) once rows for ``door`` are committed."""
        self._listeners.append(listener)

    def add(self, door: Door, ocpp_version: str, action: str, payloads: Sequence[dict[str, Any]],
            *, reply_to: str | None = None, correlation: bytes | None = None, triggered: bool = True) -> list[str]:
        """Queue ``payloads`` (in this order) inside the caller's unit of work; their message ids."""
        now = time.time()
        ids = [str(uuid.uuid4()) for _ in payloads]  # Part 4 §4.1.4: a CALL's id is never reused
        self._db.executemany(
            "INSERT INTO outbox (door, ocpp_version, action, message_id, payload, reply_to, correlation, created_at,"
            " triggered) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(door, ocpp_version, action, message_id, exact_json.dumps(payload), reply_to, correlation, now,
              int(triggered)) for message_id, payload in zip(ids, payloads, strict=True)])
        self._storage.after_commit(lambda: self._tell(door))
        return ids

    def _tell(self, door: str) -> None:
        for listener in self._listeners:
            listener(door)

    def first(self, door: Door, count: int = 1, *, triggered_only: bool = False) -> list[Outgoing]:
        """The oldest ``count`` rows not delivered through ``door``, oldest first (only those the
        receiver asked for, if ``triggered_only``: what a Pending CSMS may get, B02.FR.02)."""
        rows = self._db.execute(
            "SELECT seq, door, ocpp_version, action, message_id, payload, reply_to, correlation, triggered"
            " FROM outbox WHERE door = ? AND triggered >= ? ORDER BY seq LIMIT ?",
            (door, int(triggered_only), count)).fetchall()
        return [Outgoing(seq, door_, version, action, message_id, exact_json.loads(bytes(payload)), reply_to,
                         None if correlation is None else bytes(correlation), bool(triggered))
                for seq, door_, version, action, message_id, payload, reply_to, correlation, triggered in rows]

    def pending(self, door: Door, action: str | None = None, *, where: tuple[str, str] | None = None) -> int:
        """How many rows wait to go through ``door`` (of ``action``, if given; ``where``: whose payload's
        field ``where[0]`` is ``where[1]``, e.g. a SecurityEventNotification of one type)."""
        query, arguments = "SELECT count(*) FROM outbox WHERE door = ?", [str(door)]
        if action is not None:
            query, arguments = query + " AND action = ?", [*arguments, action]
        if where is not None:
            query = query + " AND json_extract(CAST(payload AS TEXT), '$.' || ?) = ?"
            arguments = [*arguments, *where]
        (count,) = self._db.execute(query, arguments).fetchone()
        return int(count)

    def delivered(self, seq: int) -> None:
        """The receiver has row ``seq``: forget it (durably, in the caller's unit of work or on its own)."""
        with self._storage.transaction():
            self._db.execute("DELETE FROM outbox WHERE seq = ?", (seq,))

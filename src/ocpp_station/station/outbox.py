"""What the station promised to send and has not delivered yet: durable, in order, per door.

An accepted GetBaseReport or GetReport promises NotifyReport parts (B07.FR.03, B08.FR.03). The
promise is kept across a dropped connection, a broker away, ``kill -9`` and a power cut: the parts
are rows here, written in the same unit of work as the answer that promised them (so either both
exist or neither does), and a door deletes a row only once its receiver has it — the CSMS answered
the CALL, or the broker acknowledged the PUBLISH. A door sends its rows in ``seq`` order, one at a
time towards the CSMS (OCPP-J: one outstanding CALL), and sends the first undelivered row again
after a reconnection or a restart, under the same message id: a receiver that did get it before,
its acknowledgement lost, sees the same id and the same ``seqNo`` again.

``door`` is the door the promise was made through: ``"csms"`` for the CSMS's request, ``"mqtt"``
for the OEM's. The OEM's parts carry the MQTT 5 Response Topic and Correlation Data of the request
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


class Outbox:
    def __init__(self, storage: Storage):
        self._storage = storage
        self._db = storage.connection
        self._listeners: list[Callable[[str], None]] = []

    def on_added(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(door)`` (on the committing thread) once rows for ``door`` are committed."""
        self._listeners.append(listener)

    def add(self, door: Door, ocpp_version: str, action: str, payloads: Sequence[dict[str, Any]],
            *, reply_to: str | None = None, correlation: bytes | None = None) -> list[str]:
        """Queue ``payloads`` (in this order) inside the caller's unit of work; their message ids."""
        now = time.time()
        ids = [str(uuid.uuid4()) for _ in payloads]  # Part 4 §4.1.4: a CALL's id is never reused
        self._db.executemany(
            "INSERT INTO outbox (door, ocpp_version, action, message_id, payload, reply_to, correlation, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(door, ocpp_version, action, message_id, exact_json.dumps(payload), reply_to, correlation, now)
             for message_id, payload in zip(ids, payloads, strict=True)])
        self._storage.after_commit(lambda: self._tell(door))
        return ids

    def _tell(self, door: str) -> None:
        for listener in self._listeners:
            listener(door)

    def first(self, door: Door, count: int = 1) -> list[Outgoing]:
        """The oldest ``count`` rows not delivered through ``door``, oldest first."""
        rows = self._db.execute(
            "SELECT seq, door, ocpp_version, action, message_id, payload, reply_to, correlation FROM outbox"
            " WHERE door = ? ORDER BY seq LIMIT ?", (door, count)).fetchall()
        return [Outgoing(seq, door_, version, action, message_id, exact_json.loads(bytes(payload)), reply_to,
                         None if correlation is None else bytes(correlation))
                for seq, door_, version, action, message_id, payload, reply_to, correlation in rows]

    def pending(self, door: Door, action: str | None = None) -> int:
        """How many rows wait to go through ``door`` (of ``action``, if given)."""
        if action is None:
            (count,) = self._db.execute("SELECT count(*) FROM outbox WHERE door = ?", (door,)).fetchone()
        else:
            (count,) = self._db.execute("SELECT count(*) FROM outbox WHERE door = ? AND action = ?",
                                        (door, action)).fetchone()
        return int(count)

    def delivered(self, seq: int) -> None:
        """The receiver has row ``seq``: forget it (durably, in the caller's unit of work or on its own)."""
        with self._storage.transaction():
            self._db.execute("DELETE FROM outbox WHERE seq = ?", (seq,))

"""Answers already given, by request id: a repeated request is answered, not executed, again.

A QoS 1 message can arrive twice (the broker redelivers what we had not acknowledged when the
link broke), and an OEM's software may retry a request it got no answer to. Either way the second
copy must not run a second time — a SetVariables replayed after a later one would undo it — and
must still get its answer. So every answer is kept, in the same transaction as the effect of its
request, and looked up before anything is executed.

The table is bounded by count and by age (both configurable) and survives restarts.
"""

from __future__ import annotations

import time

from .storage import Storage

PRUNE_EVERY = 256  # inserts between two prunings: pruning costs a scan of the age index


class AnswerCache:
    def __init__(self, storage: Storage, max_count: int, max_age_s: float):
        self._db = storage.connection
        self._max_count = max_count
        self._max_age_s = max_age_s
        self._inserts = 0
        self.prune()

    def get(self, request_id: str) -> bytes | None:
        row = self._db.execute("SELECT body, answered_at FROM answer WHERE request_id = ?", (request_id,)).fetchone()
        if row is None or row[1] < time.time() - self._max_age_s:
            return None
        return bytes(row[0])

    def remember(self, request_id: str, body: bytes) -> None:
        """Record an answer; call inside the request's unit of work."""
        self._db.execute("INSERT INTO answer (request_id, body, answered_at) VALUES (?, ?, ?)"
                         " ON CONFLICT (request_id) DO UPDATE SET body = excluded.body,"
                         " answered_at = excluded.answered_at", (request_id, body, time.time()))
        self._inserts += 1
        if self._inserts % PRUNE_EVERY == 0:
            self.prune()

    def prune(self) -> None:
        self._db.execute("DELETE FROM answer WHERE answered_at < ?", (time.time() - self._max_age_s,))
        self._db.execute("DELETE FROM answer WHERE rowid IN (SELECT rowid FROM answer ORDER BY answered_at DESC"
                         " LIMIT -1 OFFSET ?)", (self._max_count,))

"""Answers already given, by request id: a repeated request is answered, not executed, again.

A QoS 1 message can arrive twice (the broker redelivers what we had not acknowledged when the
link broke), and an OEM's software may retry a request it got no answer to. Either way the second
copy must not run a second time — a SetVariables replayed after a later one would undo it — and
must still get its answer. So every answer is kept, in the same transaction as the effect of its
request, and looked up before anything is executed.

Answers to requests that changed state are written to SQLite, in the same transaction as the
change, so they survive restarts; answers to reads are kept in memory only (a read run again
after a restart changes nothing), which spares every read a disk write. Both are bounded by count
and by age (configurable); the in-memory part also by its size in bytes.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from .storage import Storage

PRUNE_EVERY = 256  # inserts between two prunings: pruning costs a scan of the age index


class AnswerCache:
    def __init__(self, storage: Storage, max_count: int, max_age_s: float, max_memory_bytes: int = 4 * 1024 * 1024):
        self._db = storage.connection
        self._max_count = max_count
        self._max_age_s = max_age_s
        self._max_memory_bytes = max_memory_bytes  # a 100-item GetVariables answer is ~15 kB
        self._memory_bytes = 0
        self._inserts = 0
        self._recent: OrderedDict[str, tuple[bytes, float]] = OrderedDict()
        self.prune()
        # Which ids have a stored answer, so that a new id (nearly every request) costs no disk read.
        self._stored: dict[str, float] = dict(self._db.execute("SELECT request_id, answered_at FROM answer"))

    def get(self, request_id: str) -> bytes | None:
        now = time.time()
        hit = self._recent.get(request_id)
        if hit is None and request_id in self._stored:
            row = self._db.execute("SELECT body, answered_at FROM answer WHERE request_id = ?",
                                   (request_id,)).fetchone()
            hit = None if row is None else (bytes(row[0]), row[1])
        if hit is None or hit[1] < now - self._max_age_s:
            return None
        return hit[0]

    def remember(self, request_id: str, body: bytes, durable: bool) -> None:
        """Record an answer. ``durable`` ones are written inside the request's unit of work."""
        now = time.time()
        body = bytes(memoryview(body))  # orjson's buffers are ~4 kB whatever the length: keep a tight copy
        previous = self._recent.pop(request_id, None)
        self._memory_bytes += len(body) - (len(previous[0]) if previous else 0)
        self._recent[request_id] = (body, now)
        while len(self._recent) > self._max_count or self._memory_bytes > self._max_memory_bytes:
            _, (old_body, _) = self._recent.popitem(last=False)
            self._memory_bytes -= len(old_body)
        if not durable:
            return
        self._db.execute("INSERT INTO answer (request_id, body, answered_at) VALUES (?, ?, ?)"
                         " ON CONFLICT (request_id) DO UPDATE SET body = excluded.body,"
                         " answered_at = excluded.answered_at", (request_id, body, now))
        self._stored[request_id] = now
        self._inserts += 1
        if self._inserts % PRUNE_EVERY == 0:
            self.prune()

    def prune(self) -> None:
        """Forget answers beyond the age and count limits (runs inside a unit of work, or alone)."""
        self._db.execute("DELETE FROM answer WHERE answered_at < ?", (time.time() - self._max_age_s,))
        self._db.execute("DELETE FROM answer WHERE request_id IN (SELECT request_id FROM answer"
                         " ORDER BY answered_at DESC LIMIT -1 OFFSET ?)", (self._max_count,))
        if hasattr(self, "_stored"):
            self._stored = dict(self._db.execute("SELECT request_id, answered_at FROM answer"))

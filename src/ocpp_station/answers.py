"""Answers already given, by request id: a repeated request is answered, not executed, again.

Delivery logic of the MQTT door, not the domain: the station's state knows nothing of request ids
or redeliveries; this module, beside :mod:`ocpp_station.app` which wraps every MQTT request in it,
does. It keeps its rows in the station's database so that they commit with the request's effect.

A QoS 1 message can arrive twice (the broker redelivers what we had not acknowledged when the
link broke), and an OEM's software may retry a request it got no answer to. Either way the second
copy must not run a second time — a SetVariables replayed after a later one would undo it — and
must still get its answer. So every answer is kept, in the same transaction as the effect of its
request, and looked up before anything is executed.

Answers to requests that changed state are written to SQLite, in the same transaction as the
change, so they survive restarts; answers to reads are kept in memory only (a read run again
after a restart changes nothing), which spares every read a disk write. Both are bounded by count
and by age (configurable); the in-memory part also by its size in bytes.

The stored answers are a log, not a table keyed by request id: rows are numbered in the order
they were written, so each new answer lands on the last page of the table. Request ids are random
UUIDs; keyed by them, nearly every insert hit a full page somewhere in the middle and SQLite
rebalanced it with its neighbours — five pages written and synced per SetVariables instead of
two (bench/README.md). Which row holds which id is kept in memory, loaded once at start.

A request is the same request only if its id *and* its content are the same: answers are kept by
(request id, fingerprint of the request — :func:`ocpp_station.rpc.envelope.fingerprint`). A retry
finds its answer; a different request under a used id (the seed's examples all share one) finds
none and runs as the new request it is, and an earlier request under that id, redelivered later,
still finds its own answer rather than running again. Answers stored before fingerprints were
kept (schema 7) have none; they answer any request under their id, as they always did.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import NamedTuple

from .station.storage import Storage

PRUNE_EVERY = 256  # durable answers between two prunings: one range delete instead of one per request


class GivenAnswer(NamedTuple):
    """An answer given before, and the fingerprint of the request it answered (None: not known)."""

    body: bytes
    fingerprint: bytes | None


AnswerKey = tuple[str, bytes | None]
"""(request id, fingerprint of the request); the fingerprint is None for answers from before schema 7."""


class AnswerCache:
    def __init__(self, storage: Storage, max_count: int, max_age_s: float, max_memory_bytes: int = 4 * 1024 * 1024):
        self._storage = storage
        self._db = storage.connection
        self._max_count = max_count
        self._max_age_s = max_age_s
        self._max_memory_bytes = max_memory_bytes  # a 100-item GetVariables answer is ~15 kB
        self._memory_bytes = 0
        self._inserts = 0
        self._recent: OrderedDict[AnswerKey, tuple[GivenAnswer, float]] = OrderedDict()
        # (request id, fingerprint) → (row number, answered at) of every stored answer, oldest first.
        self._stored: OrderedDict[AnswerKey, tuple[int, float]] = OrderedDict(
            ((request_id, None if fingerprint is None else bytes(fingerprint)), (seq, at))
            for request_id, fingerprint, seq, at in self._db.execute(
                "SELECT request_id, fingerprint, seq, answered_at FROM answer ORDER BY seq"))
        self.prune()

    def get(self, request_id: str, fingerprint: bytes) -> GivenAnswer | None:
        """The answer given to this very request (this id and this content), if it is still kept."""
        now = time.time()
        hit = self._recent.get((request_id, fingerprint))
        if hit is None:
            for key in ((request_id, fingerprint), (request_id, None)):  # None: stored before schema 7
                if key in self._stored:
                    seq, answered_at = self._stored[key]
                    row = self._db.execute("SELECT body FROM answer WHERE seq = ?", (seq,)).fetchone()
                    if row is not None:
                        hit = (GivenAnswer(bytes(row[0]), key[1]), answered_at)
                        break
        if hit is None or hit[1] < now - self._max_age_s:
            return None
        return hit[0]

    def remember(self, request_id: str, body: bytes, fingerprint: bytes, durable: bool) -> None:
        """Record an answer. ``durable`` ones are written inside the request's unit of work.

        Memory follows the database: if the unit of work rolls back, the answer is forgotten with
        the effect it described (a retry then runs the request, instead of being told "Accepted"
        about a change that was never stored).
        """
        now = time.time()
        body = bytes(memoryview(body))  # orjson's buffers are ~4 kB whatever the length: keep a tight copy
        key: AnswerKey = (request_id, fingerprint)
        if durable:
            previous = self._stored.get(key)
            if previous is not None:  # an expired answer to the same request, run again
                self._db.execute("DELETE FROM answer WHERE seq = ?", (previous[0],))
            seq = self._db.execute("INSERT INTO answer (request_id, body, answered_at, fingerprint)"
                                   " VALUES (?, ?, ?, ?)", (request_id, body, now, fingerprint)).lastrowid
            assert seq is not None
            self._storage.after_commit(lambda: self._stored_after_commit(key, seq, now))
            self._inserts += 1
            if self._inserts % PRUNE_EVERY == 0:
                self.prune()
        self._storage.after_commit(lambda: self._keep_in_memory(key, GivenAnswer(body, fingerprint), now))

    def _stored_after_commit(self, key: AnswerKey, seq: int, now: float) -> None:
        self._stored.pop(key, None)
        self._stored[key] = (seq, now)

    def _keep_in_memory(self, key: AnswerKey, answer: GivenAnswer, now: float) -> None:
        previous = self._recent.pop(key, None)
        self._memory_bytes += len(answer.body) - (len(previous[0].body) if previous else 0)
        self._recent[key] = (answer, now)
        while len(self._recent) > self._max_count or self._memory_bytes > self._max_memory_bytes:
            _, (old, _) = self._recent.popitem(last=False)
            self._memory_bytes -= len(old.body)

    def prune(self) -> None:
        """Forget the oldest stored answers beyond the count limit or the age limit.

        The oldest answers are the first rows, so this is one range delete at the start of the
        table (inside the current unit of work, or on its own).
        """
        cutoff = time.time() - self._max_age_s
        excess = len(self._stored) - self._max_count
        dropped: list[AnswerKey] = []
        for key, (_seq, answered_at) in self._stored.items():
            if len(dropped) >= excess and answered_at >= cutoff:
                break
            dropped.append(key)
        if not dropped:
            return
        self._db.execute("DELETE FROM answer WHERE seq <= ?", (self._stored[dropped[-1]][0],))

        def forget() -> None:
            for key in dropped:
                self._stored.pop(key, None)

        self._storage.after_commit(forget)

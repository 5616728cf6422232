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
and by age (configurable); the in-memory part also by the memory it takes: each answer's bytes plus
:data:`ENTRY_OVERHEAD_BYTES` for what holds it (its key, the request id and fingerprint, the tuples
and the dict slot). Counting the bodies alone let 10,000 short answers take twice their budget: a
1-item GetVariables answer is ~340 bytes, the objects around it ~500 more (measured, issue 20).

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

**How long once-only holds: as long as the broker may deliver a request again**, not as long as
the answers last. A broker can deliver a request we answered long ago: mosquitto killed (or its
machine losing power) restarts from its last snapshot — written every ``autosave_interval``, 30
min by default — and delivers again what that snapshot held as not yet acknowledged, to us now
or when we reconnect, as long as it keeps our session: up to the Session Expiry Interval we ask
for (``mqtt.session_expiry_s``, 7 days; MQTT 5 §3.1.2.11.2; a 3.1.1 session with Clean Session 0,
§3.1.2.4, never expires in the protocol: the broker's own limit, mosquitto's
``persistent_client_expiration``, should not exceed it).
10,000 answers last minutes under a stream of writes; a write redelivered after its answer was
pruned ran again and set an old value over every later one (issue 15). So, for requests that may
change state, what identifies the request is kept for ``mqtt.session_expiry_s`` after its answer
whatever happens to the answer's body. While the body is kept, its row says it (id, fingerprint,
time). When the body is pruned, the identity moves, in the same transaction, to the
``answered_request`` table: one row of a 16-byte digest of (id, fingerprint)
(:func:`~ocpp_station.station.storage.answered_digest`) and the time. A request whose answer is
gone but whose identity is kept is not executed: it gets a CallError GenericError saying when it
was answered (:func:`already_answered`), and a WARNING in the log. Reads keep the short memory: one
run again changes nothing.

Schema 11 moved identities at pruning time; until then every write also inserted its identity as it
was answered, one more row and one more index leaf in its commit (~0.25 fsync of the ~4.4 pages a
SetVariables wrote, bench/README.md), to keep what its answer row already said. Identities written
that way before the upgrade stay; the same identity moved again when its body goes is harmless (a
lookup takes the latest time).

Nothing of that table is loaded into memory (a week of writes can be millions of rows, ~300 bytes
each in a Python dict); a write not found among the answers costs one probe of its index. Rows are
moved in batches, every :data:`PRUNE_EVERY` writes, with one INSERT … SELECT. On disk
a row and its index entry take ~60 bytes. The table is a log like ``answer``, so age-pruning is a
range delete at its start, every :data:`PRUNE_EVERY` writes (its index entries are scattered: the
deletes touch as many index pages as rows, once per batch). The count is bounded too,
``requests.answered_requests_max`` (a million by default): if that budget forces forgetting
identities younger than the horizon, a WARNING says back to when once-only still holds (once, then
every 10 minutes while it lasts), because a request redelivered from before then would run again.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import NamedTuple

from .errors import ErrorCode, OcppError
from .repeats import RepeatedLog
from .station.storage import Storage, answered_digest

log = logging.getLogger(__name__)

PRUNE_EVERY = 256  # durable answers between two prunings: one range delete instead of one per request
ENTRY_OVERHEAD_BYTES = 512  # an in-memory answer's cost beyond its body (tracemalloc + malloc slack, CPython 3.11+)
PRUNE_IDENTITIES_MAX = 2 * PRUNE_EVERY  # identities one pruning deletes at most (each may touch an index page)


def already_answered(answered_at: float) -> OcppError:
    """The CallError for a request answered at ``answered_at`` whose answer is no longer kept.

    GenericError, "any other error not covered by the more specific error codes" (OCPP-J 2.x,
    Part 4 Table 8; OCPP-J 1.6 Table 7, same spelling): nothing is wrong with the request, and no
    specific code says "it ran once already, and will not run again".
    """
    when = dt.datetime.fromtimestamp(answered_at, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return OcppError(ErrorCode.GENERIC_ERROR,
                     f"this request (same id, same content) was already answered at {when}; that answer is no "
                     "longer kept, so it was not executed again", {"answeredAt": when})


class GivenAnswer(NamedTuple):
    """An answer given before, and the fingerprint of the request it answered (None: not known)."""

    body: bytes
    fingerprint: bytes | None


def _memory_of(answer: GivenAnswer) -> int:
    return len(answer.body) + ENTRY_OVERHEAD_BYTES


AnswerKey = tuple[str, bytes | None]
"""(request id, fingerprint of the request); the fingerprint is None for answers from before schema 7."""


class AnswerCache:
    """The answers (bodies, by count and age) and, for requests that changed state, who was answered.

    ``horizon_s``: how long after its answer a request that may change state is still recognised
    (``mqtt.session_expiry_s``), at most ``max_identities`` of them. ``clock``: the wall clock
    (answers stored before a restart are aged by it).
    """

    def __init__(self, storage: Storage, max_count: int, max_age_s: float, max_memory_bytes: int,
                 *, horizon_s: float, max_identities: int, clock: Callable[[], float] = time.time):
        self._storage = storage
        self._db = storage.connection
        self._max_count = max_count
        self._max_age_s = max_age_s
        self._horizon_s = horizon_s
        self._max_identities = max_identities
        self._clock = clock
        self._budget_warning = RepeatedLog(log)
        self._max_memory_bytes = max_memory_bytes  # a 100-item GetVariables answer is ~15 kB
        self._memory_bytes = 0  # of the answers in self._recent, bodies and ENTRY_OVERHEAD_BYTES each
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
        now = self._clock()
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

    def answered_at(self, request_id: str, fingerprint: bytes) -> float | None:
        """When this very request, one that may change state, was answered, if that is still known.

        Known for ``horizon_s`` after the answer (unless the budget forced forgetting it earlier),
        whether or not its answer is still kept: ask :meth:`get` first. A stored answer too old to
        be given again is found in memory; one pruned since, by one probe of the identities' index.
        """
        oldest = self._clock() - self._horizon_s
        stored = self._stored.get((request_id, fingerprint))
        if stored is not None and stored[1] >= oldest:
            return stored[1]
        (answered_at,) = self._db.execute(
            "SELECT max(answered_at) FROM answered_request WHERE digest = ? AND answered_at >= ?",
            (answered_digest(request_id, fingerprint), oldest)).fetchone()
        return None if answered_at is None else float(answered_at)

    def remember(self, request_id: str, body: bytes, fingerprint: bytes, durable: bool) -> None:
        """Record an answer. ``durable`` ones are written inside the request's unit of work.

        Memory follows the database: if the unit of work rolls back, the answer is forgotten with
        the effect it described (a retry then runs the request, instead of being told "Accepted"
        about a change that was never stored).
        """
        now = self._clock()
        body = bytes(memoryview(body))  # orjson's buffers are ~4 kB whatever the length: keep a tight copy
        key: AnswerKey = (request_id, fingerprint)
        if durable:
            previous = self._stored.get(key)
            if previous is not None:  # an expired answer to the same request, run again
                self._db.execute("DELETE FROM answer WHERE seq = ?", (previous[0],))
            seq = self._db.execute("INSERT INTO answer (request_id, body, answered_at, fingerprint)"
                                   " VALUES (?, ?, ?, ?)", (request_id, body, now, fingerprint)).lastrowid
            assert seq is not None  # its identity moves to answered_request when the body is pruned
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
        if previous is not None:
            self._memory_bytes -= _memory_of(previous[0])
        self._memory_bytes += _memory_of(answer)
        self._recent[key] = (answer, now)
        while len(self._recent) > self._max_count or self._memory_bytes > self._max_memory_bytes:
            _, (old, _) = self._recent.popitem(last=False)
            self._memory_bytes -= _memory_of(old)

    def prune(self) -> None:
        """Forget the oldest stored answers beyond the count or age limit, and identities beyond the horizon.

        The oldest rows are the first ones of each table, so this is a range delete at the start of
        each (inside the current unit of work, or on its own).
        """
        now = self._clock()
        self._prune_answers(now)
        self._prune_identities(now)

    def _prune_answers(self, now: float) -> None:
        cutoff = now - self._max_age_s
        excess = len(self._stored) - self._max_count
        dropped: list[AnswerKey] = []
        for key, (_seq, answered_at) in self._stored.items():
            if len(dropped) >= excess and answered_at >= cutoff:
                break
            dropped.append(key)
        if not dropped:
            return
        last = self._stored[dropped[-1]][0]
        with self._storage.transaction():  # the identities move with the bodies, or neither does
            # Schema 11: the identities of the answers whose bodies go, if younger than the horizon, in
            # their order (answered_request stays a log by age). Not those without a fingerprint (from
            # before schema 7), which would match any request under their id.
            self._db.execute("INSERT INTO answered_request (digest, answered_at)"
                             " SELECT answered_digest(request_id, fingerprint), answered_at FROM answer"
                             " WHERE seq <= ? AND fingerprint IS NOT NULL AND answered_at >= ? ORDER BY seq",
                             (last, now - self._horizon_s))
            self._db.execute("DELETE FROM answer WHERE seq <= ?", (last,))

        def forget() -> None:
            for key in dropped:
                self._stored.pop(key, None)

        self._storage.after_commit(forget)

    def _prune_identities(self, now: float) -> None:
        """Forget identities older than the horizon, and the oldest beyond the budget (saying so).

        Rows are only ever deleted from the start, so their numbers are contiguous: the count is
        ``last - first + 1``, no ``count(*)`` over a million rows. Each deleted row may touch an index
        page of its own, so one pruning deletes :data:`PRUNE_IDENTITIES_MAX` rows at most (a
        backlog, e.g. after the station was off for longer than the horizon, goes at twice the pace
        it can grow) and reads no more rows than that. Rows past the horizon that wait for a later
        pruning match nothing meanwhile. (Deleting all rows at once is no cheaper: SQLite's
        truncation writes every page it frees.)
        """
        # Two queries: min() and max() together would scan the whole index instead of reading its two ends.
        (first,) = self._db.execute("SELECT min(seq) FROM answered_request").fetchone()
        (last,) = self._db.execute("SELECT max(seq) FROM answered_request").fetchone()
        if first is None:
            return
        cutoff = now - self._horizon_s
        limit = first + PRUNE_IDENTITIES_MAX
        young = self._db.execute("SELECT seq FROM answered_request WHERE seq < ? AND answered_at >= ?"
                                 " ORDER BY seq LIMIT 1", (limit, cutoff)).fetchone()
        keep_from = limit if young is None else young[0]
        budget_from = last + 1 - self._max_identities  # the budget keeps this row and those after it
        early = budget_from > keep_from and self._identity_answered_at(budget_from - 1) >= cutoff
        keep_from = min(max(keep_from, budget_from), limit)
        if keep_from > first:
            self._db.execute("DELETE FROM answered_request WHERE seq < ?", (keep_from,))
        if early:
            since = self._identity_answered_at(budget_from)
            self._storage.after_commit(lambda: self._say_over_budget(since))

    def _identity_answered_at(self, seq: int) -> float:
        (answered_at,) = self._db.execute("SELECT answered_at FROM answered_request WHERE seq = ?", (seq,)).fetchone()
        return float(answered_at)

    def _say_over_budget(self, since: float) -> None:
        when = dt.datetime.fromtimestamp(since, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        self._budget_warning.log(
            logging.WARNING, "over budget",
            "once-only now holds only back to %s, not for the MQTT session expiry (%.0f s): more requests "
            "that may change state were answered within it than requests.answered_requests_max = %d, so the "
            "oldest were forgotten early, and one answered before %s that the broker delivers again would run "
            "again. Raise answered_requests_max (~60 bytes of disk each) or lower mqtt.session_expiry_s",
            when, self._horizon_s, self._max_identities, when)

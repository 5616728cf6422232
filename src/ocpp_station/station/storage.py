"""The station's durable memory: one SQLite database in the data directory.

Why SQLite: a transaction is atomic and, with ``synchronous=FULL`` in WAL mode, durable once
``COMMIT`` returns — the fsync happens before we answer Accepted, so ``kill -9`` or a power cut
right after the answer loses nothing (DESIGN rule 3). It also gives us numbered migrations: each
release appends to :data:`MIGRATIONS`, never edits an applied step, and the schema version lives in
``PRAGMA user_version``. Values someone set are rows, defaults are not stored at all, so a release
that adds variables or changes a default keeps every value already set.

What a durable write costs is one fdatasync of the WAL, and we keep it at one disk write: the WAL
is given its full size before SQLite opens it (:func:`_presize_wal`), so commits overwrite it in
place instead of making it longer.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from . import files
from .device_model import StoredKey
from .files import create_durably

log = logging.getLogger(__name__)

DATABASE_NAME = "station.sqlite3"

# Each step is one statement, or a tuple of statements run in order (all in one transaction).
MIGRATIONS: tuple[str | tuple[str, ...], ...] = (
    # 1: values of device-model attributes set through SetVariables (defaults are never stored).
    """
    CREATE TABLE variable_value (
        component TEXT NOT NULL, component_instance TEXT NOT NULL,
        evse_id TEXT NOT NULL, connector_id TEXT NOT NULL,
        variable TEXT NOT NULL, variable_instance TEXT NOT NULL,
        attribute_type TEXT NOT NULL,
        value TEXT NOT NULL,
        updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        PRIMARY KEY (component, component_instance, evse_id, connector_id,
                     variable, variable_instance, attribute_type)
    ) WITHOUT ROWID
    """,
    # 2: certificates. Roots installed with InstallCertificate (role 'root', or 'fallback' for the
    # CSMS root kept under AdditionalRootCertificateCheck) and the station's own chains imported by
    # the admin (role 'leaf' at position 0, 'sub-ca' after it). hash_data holds the RFC 6960 CertID
    # for SHA256/384/512, computed at install time while the issuer is known. A leaf's private key is
    # kept with it (the database is 0600) so the key file can be derived like the bundles.
    """
    CREATE TABLE certificate (
        id INTEGER PRIMARY KEY,
        use TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('root', 'fallback', 'leaf', 'sub-ca')),
        position INTEGER NOT NULL DEFAULT 0,
        pem TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        hash_data TEXT NOT NULL,
        description TEXT NOT NULL,
        private_key TEXT,
        installed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        UNIQUE (use, fingerprint)
    )
    """,
    # 3: network connection profiles set with SetNetworkProfile (slot 1 comes from station.toml
    # until one is set), as the JSON of the NetworkConnectionProfileType received.
    """
    CREATE TABLE network_profile (
        slot INTEGER PRIMARY KEY,
        profile TEXT NOT NULL,
        updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    )
    """,
    # 4: small facts the station remembers about itself (e.g. the active network slot).
    """
    CREATE TABLE station_state (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID
    """,
    # 5: answers already given, by request id, so a repeated request is answered again without
    # being executed again (QoS 1 redelivery, a client's retry). Bounded by count and age.
    # One B-tree keyed by id and no index: a commit then writes one page fewer per request.
    """
    CREATE TABLE answer (
        request_id TEXT PRIMARY KEY,
        body BLOB NOT NULL,
        answered_at REAL NOT NULL
    ) WITHOUT ROWID
    """,
    # 6: the answers as a log in the order they were given (answers.py says why: keyed by random
    # request ids, an insert rewrote ~5 pages; appended, it writes one). No index on request_id:
    # the station keeps the id → seq map in memory.
    (
        "ALTER TABLE answer RENAME TO answer_by_id",
        """
        CREATE TABLE answer (
            seq INTEGER PRIMARY KEY,
            request_id TEXT NOT NULL,
            body BLOB NOT NULL,
            answered_at REAL NOT NULL
        )
        """,
        "INSERT INTO answer (request_id, body, answered_at)"
        " SELECT request_id, body, answered_at FROM answer_by_id ORDER BY answered_at",
        "DROP TABLE answer_by_id",
    ),
    # 7: what the answered request was (rpc.envelope.fingerprint), so that an id reused for another
    # request is refused instead of answered with the earlier request's answer. NULL for answers
    # stored before: those are taken to match, as they always were.
    "ALTER TABLE answer ADD COLUMN fingerprint BLOB",
    # 8: which requests that may change state were answered, kept for as long as a broker may deliver
    # one again (the MQTT session expiry), after their answers' bodies are pruned (answers.py says
    # why). One small row per request: the 16-byte answered_digest of (request id, fingerprint) and
    # when. A log like `answer`, numbered in order and pruned from its start (by age, and by count
    # when a budget forces it); only prefixes are ever deleted, so the numbers are contiguous. The
    # index finds a digest. Seeded with the identities of the answers already stored, so an upgrade
    # does not forget them with their bodies; not those without a fingerprint (from before schema 7),
    # which match any request under their id: for a week, they would refuse every request reusing it.
    (
        """
        CREATE TABLE answered_request (
            seq INTEGER PRIMARY KEY,
            digest BLOB NOT NULL,
            answered_at REAL NOT NULL
        )
        """,
        "CREATE INDEX answered_request_by_digest ON answered_request (digest)",
        "INSERT INTO answered_request (digest, answered_at)"
        " SELECT answered_digest(request_id, fingerprint), answered_at FROM answer"
        " WHERE fingerprint IS NOT NULL ORDER BY seq",
    ),
    # 9: what the station promised to send and has not delivered yet (station/outbox.py), in order,
    # per door: the NotifyReport parts of an accepted GetBaseReport/GetReport, written with the
    # answer that promised them, deleted once the receiver has them.
    (
        """
        CREATE TABLE outbox (
            seq INTEGER PRIMARY KEY,
            door TEXT NOT NULL,
            ocpp_version TEXT NOT NULL,
            action TEXT NOT NULL,
            message_id TEXT NOT NULL,
            payload BLOB NOT NULL,
            reply_to TEXT,
            correlation BLOB,
            created_at REAL NOT NULL
        )
        """,
        "CREATE INDEX outbox_by_door ON outbox (door, seq)",
    ),
    # 10: the security lifecycle (issue 17). The security log (A04.FR.04; station/security_events.py),
    # bounded and rolling; the station's own key pairs waiting for their certificate (A02/A03;
    # station/renewal.py), the private key never leaving this file and its derived 0600 key file;
    # and which outbox rows the CSMS asked for (B02.FR.02: only those may go while Pending —
    # every row before this step was a report part, which it asked for).
    (
        """
        CREATE TABLE security_log (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            type TEXT NOT NULL,
            tech_info TEXT NOT NULL DEFAULT '',
            critical INTEGER NOT NULL
        )
        """,
        "ALTER TABLE outbox ADD COLUMN triggered INTEGER NOT NULL DEFAULT 1",
        # The station's own chains come in generations (certificate_store.py): the one in use, a
        # renewed one waiting for its notBefore (A02.FR.08), the previous one kept as a fallback
        # until the new one carried a connection (A02.FR.10). Roots are always 'current'.
        # A renewed chain shares its sub-CAs with the one in use: a certificate is unique per generation.
        """
        CREATE TABLE certificate_generations (
            id INTEGER PRIMARY KEY,
            use TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('root', 'fallback', 'leaf', 'sub-ca')),
            position INTEGER NOT NULL DEFAULT 0,
            pem TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            hash_data TEXT NOT NULL,
            description TEXT NOT NULL,
            private_key TEXT,
            installed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            generation TEXT NOT NULL DEFAULT 'current' CHECK (generation IN ('current', 'renewed', 'previous',
                                                                               'swapping')),
            UNIQUE (use, fingerprint, generation)
        )
        """,
        "INSERT INTO certificate_generations (id, use, role, position, pem, fingerprint, hash_data, description,"
        " private_key, installed_at) SELECT id, use, role, position, pem, fingerprint, hash_data, description,"
        " private_key, installed_at FROM certificate",
        "DROP TABLE certificate",
        "ALTER TABLE certificate_generations RENAME TO certificate",
        """
        CREATE TABLE signing_request (
            id INTEGER PRIMARY KEY,
            use TEXT NOT NULL,
            door TEXT NOT NULL,
            ocpp_version TEXT NOT NULL,
            private_key TEXT NOT NULL,
            public_key BLOB NOT NULL,
            csr TEXT NOT NULL,
            common_name TEXT NOT NULL,
            organization TEXT NOT NULL,
            created_at REAL NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_due REAL
        )
        """,
    ),
    # 11: an answer's identity goes into answered_request when its body is pruned, no longer with
    # every write (answers.py says why). The tables stay as they are, and the rows written before
    # stay valid; but a release that knows schema 10 would prune bodies without keeping who they
    # answered, so it must refuse this file from now on (_migrate).
    (),
)


def answered_digest(request_id: str, fingerprint: bytes) -> bytes:
    """What the ``answered_request`` table knows an answered request by: 16 bytes for its id and content.

    ``fingerprint`` (:func:`ocpp_station.rpc.envelope.fingerprint`, 16 bytes) comes first: being of
    fixed length, no two (id, fingerprint) pairs make the same bytes to hash. 16 bytes where the pair
    takes up to 52 keeps the rows small; with a million kept, a new request matches one by chance with a
    probability of about 2⁻¹⁰⁸. Also an SQL function of the connection (migration 8 seeds with it).
    """
    return hashlib.blake2b(bytes(fingerprint) + request_id.encode("utf-8"), digest_size=16,
                           person=b"answered-request").digest()


# The WAL is checkpointed (copied into the database) when it holds this many frames, and then
# written again from its start. SQLite's default; a WAL of ~4 MB.
WAL_CHECKPOINT_FRAMES = 1000
PAGE_SIZE = 4096  # SQLite's default page size, which we never change
WAL_PRESIZED_BYTES = 32 + (WAL_CHECKPOINT_FRAMES + 64) * (24 + PAGE_SIZE)  # header, frames, one commit's overshoot


def _presize_wal(database: Path) -> bool:
    """Give an absent WAL its full size in advance, so that commits overwrite it in place.

    Why: a commit's fdatasync costs one disk write when the WAL keeps its size, and about twice
    that when the commit makes the file longer (the new size is metadata the filesystem must
    journal too): 0.13 against 0.31 ms on the bench machine. SQLite writes the WAL from its start
    again after each checkpoint, so once the file is as large as a checkpoint interval it never
    grows — but SQLite deletes the WAL when the station closes the database, so every start would
    begin with a growing WAL. A WAL whose header is not valid (here: zeros) is empty to SQLite,
    which writes its header and frames from offset 0 at the first commit.

    Never touches a WAL that exists (after a crash it holds committed transactions), and only for
    a database that has content (SQLite deletes the WAL of an empty database file); the zeros are
    created with :func:`create_durably`, which does not replace a WAL that appeared meanwhile.
    Returns whether the database existed with content.
    """
    wal = database.with_name(database.name + "-wal")
    try:
        if database.stat().st_size == 0:
            return False
    except FileNotFoundError:
        return False
    if wal.exists():
        return True
    try:
        create_durably(wal, bytes(WAL_PRESIZED_BYTES), mode=0o600)
    except OSError as error:  # a full disk: run with a growing WAL rather than not at all
        log.warning("could not presize the database's WAL (%s): durable writes will be slower until it has grown",
                    error.strerror or error)
    return True


def prepare_data_dir(path: Path) -> Path:
    """Create the data directory readable by its owner only (it holds passwords and keys).

    A directory made here is synced into its parent, and so on up what was made: SQLite syncs the
    files it writes and their directory, but not the directory's own entry, so a power cut soon
    after a first start could otherwise take the whole data directory, accepted changes included.
    """
    made = [directory for directory in (path, *path.parents) if not directory.exists()]
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    for directory in made:
        files.sync_directory(directory.parent)
    return path


class StorageError(Exception):
    """The data directory or its database cannot be used; the message says which and what to do."""


class Storage:
    """The SQLite database, migrated to the newest schema when opened.

    Raises :class:`StorageError` when it cannot be: a data directory that cannot be created, a
    database file that is not one (or is damaged), one from a newer release. A station must not
    start on such a store: nothing it accepted could be kept.
    """

    def __init__(self, data_dir: Path):
        self.path = data_dir / DATABASE_NAME
        self._in_unit = False
        self._pending: list[Callable[[], None]] = []
        try:
            self._open(data_dir)
        except sqlite3.DatabaseError as error:  # "file is not a database", "database disk image is malformed" …
            raise StorageError(f"cannot use the database {self.path} ({error}): restore it from a backup, "
                               "or move it away to start with an empty one") from None
        except OSError as error:
            raise StorageError(f"cannot use the data directory {data_dir} "
                               f"({error.strerror or error}{': ' + str(error.filename) if error.filename else ''})"
                               ) from None

    def _open(self, data_dir: Path) -> None:
        prepare_data_dir(data_dir)
        existed = _presize_wal(self.path)
        self._db = self._connect()
        self._migrate()
        if not existed:  # a new database: reopen it so that its WAL is presized too
            self._db.close()
            _presize_wal(self.path)
            self._db = self._connect()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")  # the WAL is synced at every COMMIT: durable when it returns
        db.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_FRAMES}")
        db.execute("PRAGMA foreign_keys=ON")
        # For migration 8, and for answers.py, which moves identities out of pruned answers (schema 11).
        db.create_function("answered_digest", 2, answered_digest, deterministic=True)
        os.chmod(self.path, 0o600)
        return db

    def _migrate(self) -> None:
        current = self._db.execute("PRAGMA user_version").fetchone()[0]
        if current > len(MIGRATIONS):
            raise StorageError(f"{self.path} was written by a newer release (schema {current}); "
                               f"this release knows schema {len(MIGRATIONS)} at most")
        for number in range(current + 1, len(MIGRATIONS) + 1):
            step = MIGRATIONS[number - 1]
            with self.transaction():
                for statement in (step,) if isinstance(step, str) else step:
                    self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {number}")
            log.debug("database %s: schema step %d applied", self.path, number)
        if current == 0:
            log.info("database %s created (schema %d)", self.path, len(MIGRATIONS))
        elif current < len(MIGRATIONS):
            log.info("database %s migrated from schema %d to %d", self.path, current, len(MIGRATIONS))

    def transaction(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """``with storage.transaction() as db:`` — all or nothing.

        Outside a unit of work this is BEGIN IMMEDIATE … COMMIT, durable when it returns. Inside
        one (see :meth:`unit_of_work`) it is a SAVEPOINT: a failure undoes just this part, and
        the whole becomes durable when the unit of work commits.
        """
        return self._savepoint() if self._in_unit else self._top_level()

    def unit_of_work(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """One request's writes — its effect and its remembered answer — as one durable transaction."""
        return self._top_level()

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run ``action`` once what was written so far is committed (now, outside a unit of work).

        For derived state — PEM bundles, in-memory caches — that must never run ahead of the database.
        """
        if self._in_unit:
            self._pending.append(action)
        else:
            _run_derived(action)

    @contextlib.contextmanager
    def _top_level(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        self._in_unit, self._pending = True, []
        try:
            yield self._db
        except BaseException:
            self._in_unit = False
            self._db.execute("ROLLBACK")
            raise
        try:
            self._db.execute("COMMIT")
        except BaseException:
            self._in_unit = False
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        self._in_unit = False
        pending, self._pending = self._pending, []
        for action in pending:
            _run_derived(action)

    @contextlib.contextmanager
    def _savepoint(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("SAVEPOINT part")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK TO part")
            self._db.execute("RELEASE part")
            raise
        self._db.execute("RELEASE part")

    @property
    def connection(self) -> sqlite3.Connection:
        return self._db

    def load_variable_values(self) -> dict[StoredKey, str]:
        rows = self._db.execute(
            "SELECT component, component_instance, evse_id, connector_id, variable, variable_instance,"
            " attribute_type, value FROM variable_value")
        return {tuple(row[:7]): row[7] for row in rows}

    def save_variable_values(self, rows: Sequence[tuple[StoredKey, str]]) -> None:
        with self.transaction():
            self._db.executemany(
                "INSERT INTO variable_value (component, component_instance, evse_id, connector_id,"
                " variable, variable_instance, attribute_type, value) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                [(*key, value) for key, value in rows])

    def close(self) -> None:
        self._db.close()


def _run_derived(action: Callable[[], None]) -> None:
    """Derived state follows a commit that already happened: a failure here is logged, not raised.

    The database is the truth; what failed (a PEM bundle on a full disk, say) is rebuilt from it
    at the next start.
    """
    try:
        action()
    except Exception:
        log.exception("could not update state derived from the database; it is rebuilt at the next start")

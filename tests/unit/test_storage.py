"""SQLite units of work: nested parts, all-or-nothing, derived state only after the commit; the
answer log; the WAL that commits overwrite in place."""

from __future__ import annotations

import logging
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from ocpp_station.answers import ENTRY_OVERHEAD_BYTES, PRUNE_IDENTITIES_MAX, AnswerCache
from ocpp_station.config import MqttConfig, Requests
from ocpp_station.station import files
from ocpp_station.station.storage import (
    MIGRATIONS,
    WAL_CHECKPOINT_FRAMES,
    WAL_PRESIZED_BYTES,
    Storage,
    StorageError,
    answered_digest,
)


def _values(storage: Storage) -> list[tuple[str, str]]:
    return [tuple(r) for r in storage.connection.execute("SELECT variable, value FROM variable_value ORDER BY 1")]


def _key(variable: str) -> tuple[str, str, str, str, str, str, str]:
    return ("C", "", "", "", variable, "", "Actual")


def test_a_failed_part_is_undone_and_the_rest_of_the_unit_commits(tmp_path: Path) -> None:
    storage = Storage(tmp_path)
    with storage.unit_of_work():
        storage.save_variable_values([(_key("kept"), "1")])
        with pytest.raises(RuntimeError), storage.transaction() as db:
            db.execute("INSERT INTO variable_value (component, component_instance, evse_id, connector_id, variable,"
                       " variable_instance, attribute_type, value)"
                       " VALUES ('C', '', '', '', 'undone', '', 'Actual', 'x')")
            raise RuntimeError("this part fails")
    assert _values(storage) == [("kept", "1")]


def test_after_commit_runs_after_the_commit_and_never_for_a_rollback(tmp_path: Path) -> None:
    storage = Storage(tmp_path)
    ran: list[str] = []
    with storage.unit_of_work():
        storage.after_commit(lambda: ran.append("committed"))
        assert ran == []  # not before the commit
    assert ran == ["committed"]
    with pytest.raises(ValueError), storage.unit_of_work():
        storage.after_commit(lambda: ran.append("rolled back"))
        raise ValueError
    assert ran == ["committed"]
    storage.after_commit(lambda: ran.append("now"))  # outside a unit of work: at once
    assert ran == ["committed", "now"]


def test_a_failing_derived_update_does_not_undo_the_commit(tmp_path: Path) -> None:
    storage = Storage(tmp_path)

    def broken() -> None:
        raise OSError("disk full")

    with storage.unit_of_work():
        storage.save_variable_values([(_key("x"), "1")])
        storage.after_commit(broken)
    assert _values(storage) == [("x", "1")]


def test_migrations_run_once_and_a_newer_schema_is_refused(tmp_path: Path) -> None:
    Storage(tmp_path).close()
    storage = Storage(tmp_path)  # again: nothing to do
    assert storage.connection.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    storage.connection.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    storage.close()
    with pytest.raises(StorageError, match="newer release"):
        Storage(tmp_path)


def test_durability_settings(tmp_path: Path) -> None:
    storage = Storage(tmp_path)
    assert storage.connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert storage.connection.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert isinstance(storage.connection, sqlite3.Connection)


FP = bytes(range(16))  # the fingerprint of "the request": with its id, what the cache knows it by
# Who was answered (requests that may change state): kept as serve keeps it, for the session expiry.
KEPT: dict[str, Any] = {"horizon_s": MqttConfig().session_expiry_s, "max_identities": Requests().answered_requests_max,
                        "max_memory_bytes": Requests().answer_cache_memory_bytes}


def _body(cache: AnswerCache, request_id: str, fingerprint: bytes = FP) -> bytes | None:
    given = cache.get(request_id, fingerprint)
    return None if given is None else given.body


def test_answer_cache_keeps_durable_answers_across_restarts_and_reads_in_memory(tmp_path: Path) -> None:
    storage = Storage(tmp_path)
    cache = AnswerCache(storage, max_count=100, max_age_s=3600, **KEPT)
    with storage.unit_of_work():
        cache.remember("write", b"answer to a write", FP, durable=True)
    cache.remember("read", b"answer to a read", FP, durable=False)
    assert _body(cache, "write") == b"answer to a write" and _body(cache, "read") == b"answer to a read"
    storage.close()
    storage = Storage(tmp_path)
    again = AnswerCache(storage, max_count=100, max_age_s=3600, **KEPT)
    assert _body(again, "write") == b"answer to a write"  # survives the restart
    assert _body(again, "read") is None  # a read may simply run again


def test_answer_cache_is_bounded_by_count_bytes_and_age(tmp_path: Path) -> None:
    storage = Storage(tmp_path)
    by_count = AnswerCache(storage, max_count=3, max_age_s=3600, **KEPT)
    for i in range(5):
        by_count.remember(f"id{i}", b"x", FP, durable=False)
    assert [_body(by_count, f"id{i}") for i in range(5)] == [None, None, b"x", b"x", b"x"]
    by_bytes = AnswerCache(storage, max_count=100, max_age_s=3600,
                           **{**KEPT, "max_memory_bytes": 2 * (400 + ENTRY_OVERHEAD_BYTES)})
    for i in range(5):
        by_bytes.remember(f"big{i}", b"y" * 400, FP, durable=False)
    assert sum(_body(by_bytes, f"big{i}") is not None for i in range(5)) == 2
    by_age = AnswerCache(storage, max_count=100, max_age_s=0, **KEPT)
    by_age.remember("old", b"z", FP, durable=False)
    assert _body(by_age, "old") is None


def test_the_memory_budget_counts_what_holds_each_answer_not_only_its_bytes(tmp_path: Path) -> None:
    """Short answers (a 1-item GetVariables: ~340 bytes) cost more in their key and tuples than in their body."""
    cache = AnswerCache(Storage(tmp_path), max_count=100, max_age_s=3600,
                        **{**KEPT, "max_memory_bytes": 3 * (1 + ENTRY_OVERHEAD_BYTES)})
    for i in range(10):
        cache.remember(f"short{i}", b"s", FP, durable=False)
    assert [_body(cache, f"short{i}") for i in range(10)] == [None] * 7 + [b"s"] * 3


def test_a_rolled_back_answer_is_forgotten_with_its_effect(tmp_path: Path) -> None:
    """If the commit fails, a retry of the request must run it, not be told it succeeded."""
    storage = Storage(tmp_path)
    cache = AnswerCache(storage, max_count=100, max_age_s=3600, **KEPT)
    with pytest.raises(OSError), storage.unit_of_work():
        cache.remember("lost", b"Accepted", FP, durable=True)
        raise OSError("the commit failed")
    assert _body(cache, "lost") is None
    storage.close()
    assert _body(AnswerCache(Storage(tmp_path), max_count=100, max_age_s=3600, **KEPT), "lost") is None


def test_stored_answers_are_bounded_by_count_and_age_oldest_first(tmp_path: Path) -> None:
    storage = Storage(tmp_path)
    cache = AnswerCache(storage, max_count=3, max_age_s=3600, **KEPT)
    for i in range(5):
        with storage.unit_of_work():
            cache.remember(f"id{i}", f"answer {i}".encode(), FP, durable=True)
    cache.prune()
    storage.close()
    storage = Storage(tmp_path)
    again = AnswerCache(storage, max_count=3, max_age_s=3600, **KEPT)
    assert [_body(again, f"id{i}") for i in range(5)] == [None, None, b"answer 2", b"answer 3", b"answer 4"]
    assert storage.connection.execute("SELECT count(*) FROM answer").fetchone()[0] == 3
    expired = AnswerCache(storage, max_count=3, max_age_s=0, **KEPT)  # loading prunes what is too old
    assert _body(expired, "id4") is None
    assert storage.connection.execute("SELECT count(*) FROM answer").fetchone()[0] == 0


def test_an_answer_given_again_replaces_the_stored_one(tmp_path: Path) -> None:
    storage = Storage(tmp_path)
    cache = AnswerCache(storage, max_count=10, max_age_s=3600, **KEPT)
    for body in (b"first", b"second"):
        with storage.unit_of_work():
            cache.remember("same", body, FP, durable=True)
    storage.close()
    storage = Storage(tmp_path)
    assert _body(AnswerCache(storage, max_count=10, max_age_s=3600, **KEPT), "same") == b"second"
    assert storage.connection.execute("SELECT count(*) FROM answer").fetchone()[0] == 1


def test_answers_are_kept_by_id_and_fingerprint_across_restarts(tmp_path: Path) -> None:
    """Two requests under one id are two answers; neither answers the other."""
    storage = Storage(tmp_path)
    cache = AnswerCache(storage, max_count=10, max_age_s=3600, **KEPT)
    other = FP[::-1]
    with storage.unit_of_work():
        cache.remember("write", b"W", FP, durable=True)
    with storage.unit_of_work():
        cache.remember("write", b"W2", other, durable=True)
    cache.remember("read", b"R", other, durable=False)
    assert cache.get("write", FP) == (b"W", FP) and cache.get("write", other) == (b"W2", other)
    assert cache.get("read", other) == (b"R", other) and cache.get("read", FP) is None
    storage.close()
    again = AnswerCache(Storage(tmp_path), max_count=10, max_age_s=3600, **KEPT)
    assert again.get("write", FP) == (b"W", FP) and again.get("write", other) == (b"W2", other)


def test_migration_6_keeps_the_answers_of_schema_5(tmp_path: Path) -> None:
    """A station upgraded with answers in its database still recognises those requests."""
    db = sqlite3.connect(tmp_path / "station.sqlite3", isolation_level=None)
    for step in MIGRATIONS[:5]:
        db.execute(step)  # the first five steps are single statements
    db.execute("PRAGMA user_version = 5")
    now = time.time()
    db.executemany("INSERT INTO answer (request_id, body, answered_at) VALUES (?, ?, ?)",
                   [("newer", b"B", now), ("older", b"A", now - 10)])
    db.close()
    storage = Storage(tmp_path)
    cache = AnswerCache(storage, max_count=10, max_age_s=3600, **KEPT)
    assert _body(cache, "older") == b"A" and _body(cache, "newer") == b"B"
    assert cache.get("older", FP).fingerprint is None  # type: ignore[union-attr]  # not known: taken to match
    in_order = [row[0] for row in storage.connection.execute("SELECT request_id FROM answer ORDER BY seq")]
    assert in_order == ["older", "newer"]


def test_migration_8_remembers_who_the_stored_answers_answered(tmp_path: Path) -> None:
    """An upgrade keeps the horizon: the identities of the answers stored under schema 7 are seeded,
    in their order and with their times, and outlive the answers' bodies. An answer without a
    fingerprint (stored before schema 7) is not seeded: it matched any request under its id."""
    db = sqlite3.connect(tmp_path / "station.sqlite3", isolation_level=None)
    for step in MIGRATIONS[:7]:
        for statement in (step,) if isinstance(step, str) else step:
            db.execute(statement)
    db.execute("PRAGMA user_version = 7")
    now = time.time()
    db.executemany("INSERT INTO answer (request_id, body, answered_at, fingerprint) VALUES (?, ?, ?, ?)",
                   [("legacy", b"L", now - 30, None), ("older", b"A", now - 20, FP), ("newer", b"B", now - 10, FP)])
    db.close()
    storage = Storage(tmp_path)
    assert storage.connection.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    rows = storage.connection.execute("SELECT digest, answered_at FROM answered_request ORDER BY seq").fetchall()
    assert rows == [(answered_digest("older", FP), now - 20), (answered_digest("newer", FP), now - 10)]
    cache = AnswerCache(storage, max_count=1, max_age_s=3600, **KEPT)  # the start prunes the bodies to 1
    assert _body(cache, "older") is None and _body(cache, "newer") == b"B"
    assert cache.answered_at("older", FP) == now - 20  # its answer is gone, not that it was answered
    assert cache.answered_at("legacy", FP) is None


def test_schema_11_a_write_adds_no_identity_row_until_its_body_is_pruned(tmp_path: Path) -> None:
    """The answer row says who was answered while it is kept; pruning moves that, in the same transaction."""
    storage = Storage(tmp_path)
    now = [1_000_000.0]
    cache = AnswerCache(storage, max_count=3, max_age_s=10, max_memory_bytes=KEPT["max_memory_bytes"],
                        horizon_s=100, max_identities=10_000, clock=lambda: now[0])

    def identities() -> list[tuple[bytes, float]]:
        return storage.connection.execute("SELECT digest, answered_at FROM answered_request ORDER BY seq").fetchall()

    for i in range(3):
        with storage.unit_of_work():
            cache.remember(f"w{i}", b"Accepted", FP, durable=True)
        now[0] += 1
    assert identities() == []
    now[0] += 20  # past max_age_s: no answer is given again, but each is still known from its row
    assert _body(cache, "w0") is None and cache.answered_at("w0", FP) == 1_000_000.0
    assert cache.answered_at("w0", FP[::-1]) is None
    with storage.unit_of_work():
        cache.prune()
    assert identities() == [(answered_digest(f"w{i}", FP), 1_000_000.0 + i) for i in range(3)]
    assert storage.connection.execute("SELECT count(*) FROM answer").fetchone()[0] == 0
    again = AnswerCache(storage, max_count=3, max_age_s=10, max_memory_bytes=KEPT["max_memory_bytes"],
                        horizon_s=100, max_identities=10_000, clock=lambda: now[0])
    assert again.answered_at("w2", FP) == 1_000_002.0  # across a restart, from the table


def test_schema_11_a_pruning_that_fails_keeps_the_bodies_and_moves_no_identity(tmp_path: Path) -> None:
    storage = Storage(tmp_path)
    cache = AnswerCache(storage, max_count=1, max_age_s=3600, **KEPT)
    for i in range(2):
        with storage.unit_of_work():
            cache.remember(f"w{i}", b"Accepted", FP, durable=True)
    with pytest.raises(RuntimeError), storage.unit_of_work():
        cache.prune()
        raise RuntimeError("the request's unit of work fails after the pruning")
    assert storage.connection.execute("SELECT count(*) FROM answer").fetchone()[0] == 2
    assert storage.connection.execute("SELECT count(*) FROM answered_request").fetchone()[0] == 0
    assert _body(cache, "w0") == b"Accepted"  # memory follows the database


def test_migration_11_keeps_the_identities_written_by_schema_10(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "station.sqlite3", isolation_level=None)
    db.create_function("answered_digest", 2, answered_digest)
    for step in MIGRATIONS[:10]:
        for statement in (step,) if isinstance(step, str) else step:
            db.execute(statement)
    db.execute("PRAGMA user_version = 10")
    now = time.time()
    db.execute("INSERT INTO answer (request_id, body, answered_at, fingerprint) VALUES ('w', x'41', ?, ?)", (now, FP))
    db.execute("INSERT INTO answered_request (digest, answered_at) VALUES (?, ?)", (answered_digest("w", FP), now))
    db.close()
    storage = Storage(tmp_path)
    assert storage.connection.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) == 11
    cache = AnswerCache(storage, max_count=0, max_age_s=3600, **KEPT)  # the start prunes the body: moved again
    rows = storage.connection.execute("SELECT answered_at FROM answered_request").fetchall()
    assert rows == [(now,), (now,)] and cache.answered_at("w", FP) == now  # twice, harmlessly


def test_identities_are_kept_for_the_horizon_then_pruned_from_the_start(tmp_path: Path) -> None:
    """By age, on the wall clock (injected here), a bounded number per pruning; the lookup itself
    ignores what is past the horizon and waits for a pruning."""
    storage = Storage(tmp_path)
    now = [1_000_000.0]
    cache = AnswerCache(storage, max_count=2, max_age_s=10, max_memory_bytes=KEPT["max_memory_bytes"],
                        horizon_s=100, max_identities=10_000, clock=lambda: now[0])

    def answer(request_id: str) -> None:
        with storage.unit_of_work():
            cache.remember(request_id, b"Accepted", FP, durable=True)

    def kept() -> int:
        return int(storage.connection.execute("SELECT count(*) FROM answered_request").fetchone()[0])

    answer("old")
    now[0] += 50
    answer("mid")
    for i in range(3):
        answer(f"new{i}")
    cache.prune()
    assert _body(cache, "old") is None and cache.answered_at("old", FP) == 1_000_000.0  # body gone, identity kept
    assert cache.answered_at("old", FP[::-1]) is None  # another request under that id was never answered
    now[0] = 1_000_000.0 + 100.5  # "old" is past the horizon, "mid" is not
    assert cache.answered_at("old", FP) is None and cache.answered_at("mid", FP) == 1_000_050.0
    assert kept() == 3  # the identities of the 3 pruned bodies; "old" not pruned yet, only ignored
    cache.prune()
    assert kept() == 4  # "old" gone; new1 and new2 moved in, their bodies now past max_age_s
    now[0] += 1000  # all past the horizon
    cache.prune()
    assert kept() == 0
    # A backlog (a station off for longer than the horizon): each pruning deletes a bounded batch.
    for i in range(PRUNE_IDENTITIES_MAX + 10):
        storage.connection.execute("INSERT INTO answered_request (digest, answered_at) VALUES (?, ?)",
                                   (answered_digest(f"b{i}", FP), now[0]))
    now[0] += 1000
    cache.prune()
    assert kept() == 10
    cache.prune()
    assert kept() == 0


def _wal(tmp_path: Path) -> Path:
    return tmp_path / "station.sqlite3-wal"


def test_the_wal_is_presized_and_commits_never_grow_it(tmp_path: Path) -> None:
    """Commits overwrite the WAL in place (one disk write per fdatasync), across a checkpoint."""
    storage = Storage(tmp_path)  # a new database
    assert _wal(tmp_path).stat().st_size == WAL_PRESIZED_BYTES
    for i in range(WAL_CHECKPOINT_FRAMES):  # ≥ 2 frames per commit: past at least one checkpoint
        with storage.unit_of_work():
            storage.save_variable_values([(_key(f"v{i % 7}"), str(i))])
            storage.connection.execute("INSERT INTO station_state (key, value) VALUES ('n', ?)"
                                       " ON CONFLICT DO UPDATE SET value = excluded.value", (str(i),))
    assert _wal(tmp_path).stat().st_size == WAL_PRESIZED_BYTES
    storage.close()
    assert not _wal(tmp_path).exists()  # a clean close checkpoints and removes it
    storage = Storage(tmp_path)  # an existing database: presized again before SQLite opens it
    assert _wal(tmp_path).stat().st_size == WAL_PRESIZED_BYTES
    assert dict(_values(storage))["v6"] == str(max(i for i in range(WAL_CHECKPOINT_FRAMES) if i % 7 == 6))


def test_a_wal_left_by_a_crash_is_recovered_not_overwritten(tmp_path: Path) -> None:
    """What a crash leaves (database + WAL with committed frames) opens with every commit in it."""
    live, crashed = tmp_path / "live", tmp_path / "crashed"
    storage = Storage(live)
    with storage.unit_of_work():
        storage.save_variable_values([(_key("committed"), "yes")])
    crashed.mkdir()
    for name in ("station.sqlite3", "station.sqlite3-wal"):  # the files as a kill -9 would leave them
        shutil.copy2(live / name, crashed / name)
    assert _values(Storage(crashed)) == [("committed", "yes")]


def test_a_disk_too_full_to_presize_the_wal_still_opens_the_database(tmp_path: Path) -> None:
    """A full disk at start costs speed, not service: the station opens its database and writes."""
    Storage(tmp_path).close()  # an existing database, whose WAL is presized at the next open
    # A real failure, in a child process: writes beyond 1 MB fail with EFBIG (RLIMIT_FSIZE).
    script = textwrap.dedent(f"""
        import logging, resource, signal
        from pathlib import Path
        from ocpp_station.station.storage import Storage
        logging.basicConfig(level=logging.WARNING)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
        storage = Storage(Path({str(tmp_path)!r}))
        storage.save_variable_values([(("C", "", "", "", "written", "", "Actual"), "yes")])
        storage.close()
    """)
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=False)
    assert child.returncode == 0, child.stderr
    assert "could not presize the database's WAL (File too large)" in child.stderr
    assert not list(tmp_path.glob(".*tmp"))  # no half-written file left behind
    assert _values(Storage(tmp_path)) == [("written", "yes")]


def test_a_failed_atomic_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    """A write that fails midway (real EFBIG, in a child) changes nothing that a reader could see."""
    target = tmp_path / "bundle.pem"
    target.write_bytes(b"old content")
    script = textwrap.dedent(f"""
        import resource, signal
        from pathlib import Path
        from ocpp_station.station.files import atomic_write
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
        try:
            atomic_write(Path({str(target)!r}), bytes(2 << 20))
        except OSError as error:
            print(error.strerror)
    """)
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=False)
    assert child.returncode == 0 and child.stdout.strip() == "File too large", child.stderr
    assert target.read_bytes() == b"old content"
    assert [p.name for p in tmp_path.iterdir()] == ["bundle.pem"]


def test_a_data_dir_made_at_start_is_synced_into_its_parents(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Every directory created for the data dir has its entry synced; existing ones are left alone."""
    synced: list[Path] = []
    real = files.sync_directory
    monkeypatch.setattr(files, "sync_directory", lambda directory: (synced.append(directory), real(directory)))
    data_dir = tmp_path / "var" / "lib" / "station"
    Storage(data_dir).close()
    assert {tmp_path, tmp_path / "var", tmp_path / "var" / "lib"} <= set(synced)
    synced.clear()
    Storage(data_dir).close()
    assert tmp_path not in synced and tmp_path / "var" not in synced


def test_start_says_in_one_line_whether_it_created_or_migrated_the_database(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="ocpp_station.station.storage")
    Storage(tmp_path).close()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO] == [
        f"database {tmp_path / 'station.sqlite3'} created (schema {len(MIGRATIONS)})"]
    caplog.clear()
    db = sqlite3.connect(tmp_path / "station.sqlite3")
    db.execute("DROP TABLE security_log")  # back to schema 6
    db.execute("DROP TABLE signing_request")
    db.execute("DROP TABLE certificate")  # as schema 2 made it, without generations
    db.execute(MIGRATIONS[1] if isinstance(MIGRATIONS[1], str) else MIGRATIONS[1][0])
    db.execute("DROP TABLE outbox")
    db.execute("DROP TABLE answered_request")
    db.execute("ALTER TABLE answer DROP COLUMN fingerprint")
    db.execute("PRAGMA user_version = 6")
    db.close()
    Storage(tmp_path).close()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO] == [
        f"database {tmp_path / 'station.sqlite3'} migrated from schema 6 to {len(MIGRATIONS)}"]

"""The commands that work on a station's data directory, not through the broker.

``certs import`` (OCPP has no message that gives a station its own certificate and key before
CertificateSigned), the ``--data-dir`` forms of ``certs list`` and ``network list`` (a look at a
station that is not running) and ``security-log``. They open the station's stores directly, so they
run on the charger. ``security-log`` only reads, and may run beside the service: SQLite in WAL mode
lets a reader see the last commit while the station writes.
"""

from __future__ import annotations

import argparse
import re
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import orjson

from .config import ConfigError, load

if TYPE_CHECKING:
    from .station.security_events import LoggedEvent

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Left-aligned columns separated by two spaces; the last column is not padded."""
    cells = [[str(c) for c in headers], *[["" if c is None else str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
             for row in cells]
    return "\n".join(lines)


def printable(text: str) -> str:
    """``text`` with its control characters written as ``\\xNN``: for a terminal, text a peer chose
    (a techInfo, a certificate's subject) must not move the cursor or change colours."""
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


# -- network ----------------------------------------------------------------------------------------

def network_list(args: argparse.Namespace) -> int:
    """``network list --data-dir``: the slots, the priority and the active slot, passwords masked."""
    from .app import Station
    from .station.storage import StorageError

    try:
        config = load(args.config, overrides={"data_dir": args.data_dir})
        station = Station(config)
    except (ConfigError, StorageError) as error:
        print(f"ocpp-station network: {error}", file=sys.stderr)
        return EXIT_USAGE
    try:
        overview = station.network_overview()
        if getattr(args, "json", False):  # for scripts: the same facts, the profiles in their (masked) wire form
            print(orjson.dumps({"activeNetworkProfile": overview.active,
                                "networkConfigurationPriority": overview.priority,
                                "slots": [{"slot": slot, "active": slot == overview.active,
                                           "priority": overview.priority.index(slot) + 1
                                           if slot in overview.priority else None,
                                           "profile": overview.profiles.get(slot)} for slot in overview.slots]},
                               option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2).decode())
            return EXIT_OK
        for slot in overview.slots:
            marks = ("active " if slot == overview.active else "") + (
                f"priority {overview.priority.index(slot) + 1}" if slot in overview.priority else "")
            profile = overview.profiles.get(slot)
            print(f"slot {slot}: {marks.strip() or '-'}")
            print("  " + (orjson.dumps(profile, option=orjson.OPT_SORT_KEYS).decode() if profile else "(empty)"))
        return EXIT_OK
    finally:
        station.close()


# -- certs ------------------------------------------------------------------------------------------

def certs(args: argparse.Namespace) -> int:
    """``certs import`` and ``certs list --data-dir``: what OCPP has no message for, or a look offline."""
    from .station.certificate_store import CertificateStore, ImportError_
    from .station.certificate_uses import OWN_USES, ROOT_USES
    from .station.storage import Storage, StorageError

    try:
        config = load(args.config, overrides={"data_dir": args.data_dir})
        storage = Storage(config.data_dir)
    except (ConfigError, StorageError) as error:
        print(f"ocpp-station certs: {error}", file=sys.stderr)
        return EXIT_USAGE
    try:
        store = CertificateStore(storage, config.data_dir, lambda: config.security.certificate_entries_max)
        if args.certs_command == "list":
            found = store.installed((*ROOT_USES, *OWN_USES))
            for entry in found:
                sha = entry.hash_data[next(iter(entry.hash_data))]
                print(f"{entry.use:28} {entry.role:8} {entry.description}\n{'':37}"
                      f"issuerNameHash {sha.issuer_name_hash[:16]}… issuerKeyHash {sha.issuer_key_hash[:16]}… "
                      f"serial {sha.serial_number}" + (f"  (+{len(entry.children)} sub-CA)" if entry.children else ""))
            if not found:
                print("no certificates installed")
            return EXIT_OK
        try:
            lines = store.import_own(args.use, args.certificate.read_bytes(), args.key.read_bytes())
        except OSError as error:
            print(f"ocpp-station certs import: cannot read {error.filename}: {error.strerror}", file=sys.stderr)
            return EXIT_USAGE
        except ImportError_ as error:
            print(f"ocpp-station certs import: {error}", file=sys.stderr)
            return EXIT_REFUSED
        print(f"imported {args.use}:")
        for line in lines:
            print(f"  {line}")
        return EXIT_OK
    finally:
        storage.close()


# -- security-log -----------------------------------------------------------------------------------

class LocalError(Exception):
    """The data directory cannot be read; the message says why (exit status 2)."""


def read_security_log(data_dir: Path, limit: int | None = None) -> list[LoggedEvent]:
    """The security log of the station whose data directory is ``data_dir``, oldest first (the last
    ``limit`` entries, if given), as :meth:`SecurityEvents.entries` gives it — without opening a
    Station (which would migrate, presize the WAL and start things) and without writing anything.

    Read-only: the database is opened with ``mode=ro``; while the station runs (its WAL is there) the
    reader takes part in WAL locking and sees the last commit; when it does not (no WAL), the file is
    read as ``immutable``, which needs no WAL or shared-memory file, so none is left behind (a
    station starting at that very moment can at worst make this read fail, never change a byte).
    """
    from .station.security_events import LoggedEvent
    from .station.storage import DATABASE_NAME

    path = data_dir / DATABASE_NAME
    if not path.is_file():
        raise LocalError(f"no station database in {data_dir} (is it the station's --data-dir?)")
    wal = path.with_name(path.name + "-wal")
    uri = f"file:{quote(str(path.resolve()))}?mode=ro" + ("" if wal.exists() else "&immutable=1")
    try:
        db = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as error:
        raise LocalError(f"cannot open {path} read-only: {error}") from None
    try:
        db.execute("PRAGMA query_only = ON")
        rows = db.execute("SELECT id, at, type, tech_info, critical FROM security_log ORDER BY id DESC LIMIT ?",
                          (-1 if limit is None else limit,)).fetchall()
    except sqlite3.OperationalError as error:
        if "no such table" in str(error):
            raise LocalError(f"{path} has no security log yet: it was written by an older release; the station "
                             "adds it when it next starts") from None
        raise LocalError(f"cannot read {path}: {error}") from None
    except sqlite3.DatabaseError as error:
        raise LocalError(f"cannot read {path}: {error}") from None
    finally:
        db.close()
    return [LoggedEvent(row_id, at, kind, info, bool(critical)) for row_id, at, kind, info, critical
            in reversed(rows)]


def security_log(args: argparse.Namespace) -> int:
    """``security-log``: the station's security log (A04), newest last; ``--json``: one object per line."""
    try:
        config = load(args.config, overrides={"data_dir": args.data_dir})
        entries = read_security_log(config.data_dir, args.limit)
    except (ConfigError, LocalError) as error:
        print(f"ocpp-station security-log: {error}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        for entry in entries:
            print(orjson.dumps({"id": entry.id, "timestamp": entry.at, "type": entry.type,
                                "critical": entry.critical, "techInfo": entry.tech_info}).decode())
    elif not entries:
        print("the security log is empty")
    else:
        print(table(["TIME", "TYPE", "CRITICAL", "TECH INFO"],
                    [[entry.at, entry.type, "yes" if entry.critical else "no", printable(entry.tech_info)]
                     for entry in entries]))
    return EXIT_OK

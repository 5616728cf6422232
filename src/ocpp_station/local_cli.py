"""The commands that work on a station's data directory, not through the broker.

``certs import`` (OCPP has no message that gives a station its own certificate and key before
CertificateSigned) and the ``--data-dir`` forms of ``certs list`` and ``network list`` (a look at a
station that is not running). They open the station's stores directly, so they run on the charger.
"""

from __future__ import annotations

import argparse
import sys

import orjson

from .config import ConfigError, load

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2


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

"""Files other programs read (PEM bundles for a TLS stack, private keys), written atomically.

A reader sees the old file or the new one, never half of one: write a temporary file in the same
directory, fsync it, rename it over the target, fsync the directory. The SQLite database stays the
source of truth; these files are derived from it and rewritten from it at every start, so a crash
between the database commit and the rename heals itself.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def atomic_write(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` atomically and durably, with permissions ``mode``."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = _write_synced_temporary(path, data, mode)
    os.replace(temporary, path)
    sync_directory(path.parent)


def create_durably(path: Path, data: bytes, mode: int = 0o644) -> bool:
    """Create ``path`` with ``data``, complete and synced, unless it exists; whether it was created.

    Like :func:`atomic_write`, but never replaces an existing file: the synced temporary file is
    linked into place, and the link fails if ``path`` appeared in the meantime.
    """
    temporary = _write_synced_temporary(path, data, mode)
    try:
        os.link(temporary, path)
    except FileExistsError:
        return False
    finally:
        temporary.unlink()
    sync_directory(path.parent)
    return True


def _write_synced_temporary(path: Path, data: bytes, mode: int) -> Path:
    """Write ``data`` to a temporary file beside ``path`` and fsync it; removed again on failure."""
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        try:
            os.fchmod(fd, mode)  # O_CREAT's mode is filtered by the umask; this one is not
            view, written = memoryview(data), 0
            while written < len(data):  # a write may be short (a full disk, a file size limit)
                written += os.write(fd, view[written:])
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    return temporary


def remove_durably(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
        sync_directory(path.parent)


def sync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

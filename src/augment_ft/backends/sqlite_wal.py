"""SQLite plumbing under the response cache: busy and full errors, and the WAL's size.

Kept apart from :mod:`augment_ft.backends.cache` because none of it knows the cache's
tables: it classifies SQLite errors, retries while another process holds the lock, and
reads the WAL-index counters that tell whether a commit would fsync.
"""

from __future__ import annotations

import os
import sqlite3
import struct
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

__all__ = ["is_busy", "is_full", "open_wal_index", "read_wal_index", "retry_busy", "wal_backlog"]

_BUSY_MESSAGES = ("database is locked", "database is busy", "database table is locked")
_WAL_INDEX = struct.Struct("=I12xI76xI")
"""iVersion, mxFrame (frames in the WAL) and nBackfill (frames checkpointed) of the -shm
file, as SQLite's documented WAL-index format lays them out (native byte order)."""
_WAL_INDEX_VERSION = 3007000
T = TypeVar("T")


def is_full(exc: sqlite3.Error) -> bool:
    """SQLITE_FULL: the disk (or the device the file is on) has no room left."""
    return getattr(exc, "sqlite_errorcode", None) == 13 or "disk is full" in str(exc).lower()


def is_busy(exc: sqlite3.OperationalError) -> bool:
    """Another connection holds the lock this operation needs."""
    text = str(exc).lower()
    return any(m in text for m in _BUSY_MESSAGES)


def retry_busy(operation: Callable[[], T], timeout: float) -> T:
    """Run ``operation``, retrying while another process holds the lock (up to ``timeout`` s).

    SQLite's own busy handler covers most waits; this catches the cases it skips
    (switching to WAL, a snapshot made stale by another writer).
    """
    deadline = time.monotonic() + timeout
    delay = 0.001
    while True:
        try:
            return operation()
        except sqlite3.OperationalError as exc:
            if not is_busy(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def open_wal_index(path: Path) -> int | None:
    """A read-only descriptor of ``path``'s -shm file, or None when its layout is unknown."""
    try:
        fd = os.open(f"{path}-shm", os.O_RDONLY)
    except OSError:
        return None
    try:
        version, _, _ = _WAL_INDEX.unpack(os.pread(fd, _WAL_INDEX.size, 0))
    except (OSError, struct.error):
        version = 0
    if version != _WAL_INDEX_VERSION:  # not the layout this code reads
        os.close(fd)
        return None
    return fd


def read_wal_index(fd: int) -> tuple[int, int]:
    """Pages in the WAL and pages of it already checkpointed, from the -shm file ``fd``."""
    _, frames, checkpointed = _WAL_INDEX.unpack(os.pread(fd, _WAL_INDEX.size, 0))
    return int(frames), int(checkpointed)


def wal_backlog(fd: int | None) -> int:
    """WAL pages not yet copied into the database file (0 when that cannot be read)."""
    if fd is None:
        return 0
    try:
        frames, checkpointed = read_wal_index(fd)
    except OSError:
        return 0
    return frames - checkpointed

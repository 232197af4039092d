"""The response cache's SQLite file: its tables, how a connection is opened, what is refused.

Kept apart from :mod:`augment_ft.backends.cache` (reads, writes, the writer thread): this is
the file format and its checks, the part a migration would change.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from augment_ft.backends.sqlite_wal import is_busy, is_full, retry_busy
from augment_ft.core.errors import ConfigError, OutputError

__all__ = ["CACHE_SCHEMA_VERSION", "INSERT", "check_schema", "connect", "unusable"]

CACHE_SCHEMA_VERSION = 1
"""Bump with a migration in :func:`check_schema` when the tables change."""

_FORMAT = "augment_ft-response-cache"
_SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE completions ("
    " call_id TEXT PRIMARY KEY, model TEXT NOT NULL, text TEXT NOT NULL,"
    " finish_reason TEXT NOT NULL, prompt_tokens INTEGER NOT NULL,"
    " completion_tokens INTEGER NOT NULL, created REAL NOT NULL)",
)
INSERT = "INSERT OR REPLACE INTO completions VALUES (?, ?, ?, ?, ?, ?, ?)"


def unusable(path: Path, exc: sqlite3.Error, busy_timeout: float) -> OutputError:
    """The error to show for a cache file SQLite cannot use: full disk, locked, or foreign."""
    if is_full(exc):
        return OutputError(
            f"{path}: cannot write the response cache: the disk is full ({exc}); "
            "free space, then rerun with --resume"
        )
    if isinstance(exc, sqlite3.OperationalError) and is_busy(exc):
        return OutputError(
            f"{path}: the response cache stayed locked by another process for "
            f"{busy_timeout} s; wait for it, point --cache elsewhere, or use --no-cache"
        )
    return OutputError(
        f"{path}: the response cache cannot be used ({exc}); it is not a readable "
        "augment_ft cache. Delete the file to start a fresh cache, or run with --no-cache."
    )


def connect(path: Path, busy_timeout: float, *, wait: bool = True) -> sqlite3.Connection:
    """Open one connection in autocommit mode with WAL and no automatic checkpoints.

    ``wait=False`` gives the inline connection: a busy timeout of 0, so a lock held
    elsewhere fails at once instead of stalling the event loop.
    """
    try:
        conn = sqlite3.connect(
            path,
            timeout=busy_timeout if wait else 0.0,
            isolation_level=None,
            check_same_thread=False,
        )
    except sqlite3.Error as exc:
        raise unusable(path, exc, busy_timeout) from exc
    try:
        retry_busy(lambda: conn.execute("PRAGMA journal_mode=WAL").fetchone(), busy_timeout)
        # In WAL mode NORMAL keeps every commit through a process crash, without an fsync
        # per answer; only a power cut can lose the last few.
        conn.execute("PRAGMA synchronous=NORMAL")
        # Checkpoints fsync; only the cache's writer thread runs them.
        conn.execute("PRAGMA wal_autocheckpoint=0")
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise unusable(path, exc, busy_timeout) from exc
    except BaseException:
        conn.close()
        raise
    return conn


def check_schema(conn: sqlite3.Connection, path: Path, busy_timeout: float) -> None:
    """Create the tables in a fresh file; refuse foreign files and newer schemas."""
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            meta = _create_or_read_meta(conn)
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    except sqlite3.OperationalError as exc:
        if is_busy(exc):
            raise  # the caller's retry_busy tries again
        raise unusable(path, exc, busy_timeout) from exc
    except sqlite3.DatabaseError as exc:
        raise unusable(path, exc, busy_timeout) from exc
    _check_meta(meta, path)


def _create_or_read_meta(conn: sqlite3.Connection) -> dict[str, str]:
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    if not tables:
        for statement in _SCHEMA:
            conn.execute(statement)
        conn.executemany(
            "INSERT INTO meta VALUES (?, ?)",
            [("format", _FORMAT), ("schema_version", str(CACHE_SCHEMA_VERSION))],
        )
    if "meta" not in tables and tables:
        return {}
    return dict(conn.execute("SELECT key, value FROM meta").fetchall())


def _check_meta(meta: dict[str, str], path: Path) -> None:
    if meta.get("format") != _FORMAT:
        msg = (
            f"{path}: this SQLite file is not an augment_ft response cache; "
            "point --cache at another path, or run with --no-cache"
        )
        raise OutputError(msg)
    try:
        version = int(meta.get("schema_version", ""))
    except ValueError:
        version = -1
    if version < 1:
        msg = f"{path}: the cache has no valid schema version; delete it or use --no-cache"
        raise OutputError(msg)
    if version > CACHE_SCHEMA_VERSION:
        msg = (
            f"{path}: cache schema {version} was written by a newer augment_ft "
            f"(this one reads up to {CACHE_SCHEMA_VERSION}); upgrade augment_ft, "
            "delete the file, or run with --no-cache"
        )
        raise ConfigError(msg)

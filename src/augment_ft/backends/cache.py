"""A response cache on SQLite, keyed by :func:`~augment_ft.backends.base.call_id`.

It stores the raw completion (text, finish reason, usage, model) before any parsing, so
a parser fix reuses every paid answer; each answer is committed as it arrives, so a crash
loses only the calls in flight. WAL mode plus a busy timeout lets several processes share
one file; identical calls in flight at once are made only once (single flight).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from augment_ft.backends.base import Backend, Capabilities, ChatRequest, Completion, Usage, call_id
from augment_ft.errors import ConfigError, OutputError

__all__ = ["CACHE_SCHEMA_VERSION", "CachedBackend", "ResponseCache"]

CACHE_SCHEMA_VERSION = 1
"""Bump with a migration in :meth:`ResponseCache._check_schema` when the tables change."""

_FORMAT = "augment_ft-response-cache"
_BUSY_MESSAGES = ("database is locked", "database is busy", "database table is locked")
_SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE completions ("
    " call_id TEXT PRIMARY KEY, model TEXT NOT NULL, text TEXT NOT NULL,"
    " finish_reason TEXT NOT NULL, prompt_tokens INTEGER NOT NULL,"
    " completion_tokens INTEGER NOT NULL, created REAL NOT NULL)",
)
_MAX_BATCH = 256
T = TypeVar("T")
_Row = tuple[str, str, str, str, int, int, float]


def _row(key: str, completion: Completion) -> _Row:
    """The table row of one raw completion, stamped with the wall-clock time it was stored."""
    usage = completion.usage
    return (
        key,
        completion.model,
        completion.text,
        completion.finish_reason,
        usage.prompt_tokens,
        usage.completion_tokens,
        time.time(),
    )


@dataclass(frozen=True)
class _Job:
    """One answer queued for the writer thread, and the future its caller awaits."""

    row: _Row
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None]

    def settle(self, error: OutputError | None) -> None:
        """Wake the caller from the writer thread (if its loop still runs)."""
        # RuntimeError: the loop is closed, so nobody is waiting any more.
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(_settle, self.future, error)


def _settle(future: asyncio.Future[None], error: OutputError | None) -> None:
    if future.done():
        return  # the caller was cancelled
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


class ResponseCache:
    """Raw completions in one SQLite file, safe for threads, tasks and several processes.

    Reads and writes use separate connections so a reader never queues behind a writer
    that is waiting for another process's lock.
    """

    def __init__(self, path: str | Path, *, busy_timeout: float = 30.0) -> None:
        if str(path) in ("", ":memory:"):
            # Each connection would get its own private database: the reader would see nothing.
            msg = f"the response cache needs a file path, got {str(path)!r}"
            raise ConfigError(msg)
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self._write_lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._writer = self._connect()
        try:
            self._retry_busy(self._check_schema)
            self._reader = self._connect()
        except BaseException:
            self._writer.close()
            raise

    def _connect(self) -> sqlite3.Connection:
        """Open one connection in autocommit mode with WAL and the busy timeout set."""
        try:
            conn = sqlite3.connect(
                self.path,
                timeout=self.busy_timeout,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise self._unusable(exc) from exc
        try:
            self._retry_busy(lambda: conn.execute("PRAGMA journal_mode=WAL").fetchone())
            # In WAL mode NORMAL keeps every commit through a process crash, without an fsync
            # per answer; only a power cut can lose the last few.
            conn.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise self._unusable(exc) from exc
        except BaseException:
            conn.close()
            raise
        return conn

    def _unusable(self, exc: sqlite3.Error) -> OutputError:
        if _is_full(exc):
            return OutputError(
                f"{self.path}: cannot write the response cache: the disk is full ({exc}); "
                "free space, then rerun with --resume"
            )
        if isinstance(exc, sqlite3.OperationalError) and _is_busy(exc):
            return OutputError(
                f"{self.path}: the response cache stayed locked by another process for "
                f"{self.busy_timeout} s; wait for it, point --cache elsewhere, or use --no-cache"
            )
        return OutputError(
            f"{self.path}: the response cache cannot be used ({exc}); it is not a readable "
            "augment_ft cache. Delete the file to start a fresh cache, or run with --no-cache."
        )

    def _check_schema(self) -> None:
        """Create the tables in a fresh file; refuse foreign files and newer schemas."""
        conn = self._writer
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                meta = self._create_or_read_meta(conn)
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            if _is_busy(exc):
                raise  # _retry_busy tries again
            raise self._unusable(exc) from exc
        except sqlite3.DatabaseError as exc:
            raise self._unusable(exc) from exc
        self._check_meta(meta)

    @staticmethod
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

    def _check_meta(self, meta: dict[str, str]) -> None:
        if meta.get("format") != _FORMAT:
            msg = (
                f"{self.path}: this SQLite file is not an augment_ft response cache; "
                "point --cache at another path, or run with --no-cache"
            )
            raise OutputError(msg)
        try:
            version = int(meta.get("schema_version", ""))
        except ValueError:
            version = -1
        if version < 1:
            msg = f"{self.path}: the cache has no valid schema version; delete it or use --no-cache"
            raise OutputError(msg)
        if version > CACHE_SCHEMA_VERSION:
            msg = (
                f"{self.path}: cache schema {version} was written by a newer augment_ft "
                f"(this one reads up to {CACHE_SCHEMA_VERSION}); upgrade augment_ft, "
                "delete the file, or run with --no-cache"
            )
            raise ConfigError(msg)

    def _retry_busy(self, operation: Callable[[], T]) -> T:
        """Run ``operation``, retrying while another process holds the lock (up to the timeout).

        SQLite's own busy handler covers most waits; this catches the cases it skips
        (switching to WAL, a snapshot made stale by another writer).
        """
        deadline = time.monotonic() + self.busy_timeout
        delay = 0.001
        while True:
            try:
                return operation()
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() >= deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    def get(self, key: str) -> Completion | None:
        """The stored completion for ``key`` (marked ``cached=True``), or None."""
        with self._read_lock:
            try:
                row = self._retry_busy(
                    lambda: self._reader.execute(
                        "SELECT model, text, finish_reason, prompt_tokens, completion_tokens"
                        " FROM completions WHERE call_id = ?",
                        (key,),
                    ).fetchone()
                )
            except sqlite3.Error as exc:
                raise self._unusable(exc) from exc
        if row is None:
            return None
        model, text, finish_reason, prompt_tokens, completion_tokens = row
        usage = Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
        return Completion(
            text=text, finish_reason=finish_reason, usage=usage, model=model, cached=True
        )

    def put(self, key: str, completion: Completion) -> None:
        """Store (or overwrite) the raw completion for ``key`` and commit it at once."""
        self._write_rows([_row(key, completion)])

    async def put_async(self, key: str, completion: Completion) -> None:
        """Like :meth:`put`, without blocking the event loop; returns once committed.

        A single writer thread commits whatever has queued up in one transaction (group
        commit): the loop pays microseconds per answer, not a commit or a thread hop each.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._writer_thread().put(_Job(_row(key, completion), loop, future))
        await future

    def _writer_thread(self) -> queue.SimpleQueue[_Job | None]:
        with self._start_lock:
            if self._closed:
                msg = f"{self.path}: the response cache is closed"
                raise OutputError(msg)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._write_loop, name="augment_ft-cache-writer", daemon=True
                )
                self._thread.start()
        return self._jobs

    def _write_loop(self) -> None:
        """Commit queued answers in batches until :meth:`close` sends the stop marker."""
        while (job := self._jobs.get()) is not None:
            batch = [job]
            stop = False
            while len(batch) < _MAX_BATCH:
                try:
                    queued = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if queued is None:
                    stop = True
                    break
                batch.append(queued)
            self._flush(batch)
            if stop:
                return

    def _flush(self, batch: list[_Job]) -> None:
        error: OutputError | None = None
        try:
            self._write_rows([job.row for job in batch])
        except OutputError as exc:
            error = exc
        except Exception as exc:  # a bug must fail the waiting calls, not hang them
            error = OutputError(f"{self.path}: writing the response cache failed ({exc!r})")
            error.__cause__ = exc
        for job in batch:
            job.settle(error)

    def _write_rows(self, rows: list[_Row]) -> None:
        """Insert ``rows`` in one short transaction, waiting out other processes' locks."""
        with self._write_lock:
            try:
                self._retry_busy(lambda: self._commit(rows))
            except sqlite3.Error as exc:
                msg = f"{self.path}: cannot write to the response cache ({exc})"
                raise OutputError(msg) from exc

    def _commit(self, rows: list[_Row]) -> None:
        conn = self._writer
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(
                "INSERT OR REPLACE INTO completions VALUES (?, ?, ?, ?, ?, ?, ?)", rows
            )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def __len__(self) -> int:
        with self._read_lock:
            row = self._reader.execute("SELECT COUNT(*) FROM completions").fetchone()
        return int(row[0])

    def close(self) -> None:
        """Finish queued writes, stop the writer thread, close both connections (idempotent)."""
        with self._start_lock:
            self._closed = True
            thread, self._thread = self._thread, None
        if thread is not None:
            self._jobs.put(None)
            thread.join()
        with self._write_lock, self._read_lock:
            self._writer.close()
            self._reader.close()

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _is_full(exc: sqlite3.Error) -> bool:
    """SQLITE_FULL: the disk (or the device the file is on) has no room left."""
    return getattr(exc, "sqlite_errorcode", None) == 13 or "disk is full" in str(exc).lower()


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return any(m in text for m in _BUSY_MESSAGES)


class CachedBackend:
    """Answers from the cache when it can; otherwise calls through and stores the answer.

    ``refresh=True`` ignores entries from earlier runs but still overwrites them (and a call
    repeated within the same run is answered from its fresh entry). ``hits``, ``misses`` and
    ``shared`` (answered by a concurrent identical call) are counted.
    """

    def __init__(self, inner: Backend, cache: ResponseCache, *, refresh: bool = False) -> None:
        self.inner = inner
        self.cache = cache
        self.refresh = refresh
        self._pending: dict[str, asyncio.Future[Completion]] = {}
        self._refreshed: set[str] = set()
        self.hits = 0
        self.misses = 0
        self.shared = 0

    @property
    def model(self) -> str:
        return self.inner.model

    @property
    def capabilities(self) -> Capabilities:
        return self.inner.capabilities

    async def complete(self, request: ChatRequest) -> Completion:
        """A stored answer, the answer of an identical call in flight, or a fresh call."""
        key = call_id(self.inner.model, request)
        if not self.refresh or key in self._refreshed:
            hit = self.cache.get(key)
            if hit is not None:
                self.hits += 1
                return hit
        while (pending := self._pending.get(key)) is not None:
            try:
                shared = await asyncio.shield(pending)
            except asyncio.CancelledError:
                if pending.cancelled():
                    continue  # the caller making the call was cancelled: try to lead instead
                raise
            self.shared += 1
            return shared.model_copy(update={"cached": True})
        return await self._lead(key, request)

    async def _lead(self, key: str, request: ChatRequest) -> Completion:
        """Make the call for everyone asking ``key`` now, store it, then share it."""
        future: asyncio.Future[Completion] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            self.misses += 1
            completion = await self.inner.complete(request)
            # Off the loop: a write may wait for another process's lock; the loop must not.
            await self.cache.put_async(key, completion)
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # marks it retrieved: no "never retrieved" log without followers
            raise
        except BaseException:
            future.cancel()
            raise
        finally:
            del self._pending[key]
        if self.refresh:
            self._refreshed.add(key)
        future.set_result(completion)
        return completion

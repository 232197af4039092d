"""A response cache on SQLite, keyed by :func:`~augment_ft.backends.base.call_id`.

It stores the raw completion (text, finish reason, usage, model) before any parsing, so
a parser fix reuses every paid answer; each answer is committed as it arrives, so a crash
loses only the calls in flight. WAL mode plus a busy timeout lets several processes share
one file (the file format: :mod:`augment_ft.backends.cache_file`).
:class:`~augment_ft.backends.cached.CachedBackend` puts it in front of a backend.

Async writes are committed on the event loop when that can neither wait for a lock nor
fsync; otherwise a writer thread commits them. That thread also runs the WAL checkpoints,
which fsync.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import os
import queue
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from augment_ft.backends.base import Completion, Usage
from augment_ft.backends.cache_file import (
    CACHE_SCHEMA_VERSION,
    INSERT,
    check_schema,
    connect,
    unusable,
)
from augment_ft.backends.sqlite_wal import (
    open_wal_index,
    read_wal_index,
    retry_busy,
    wal_backlog,
)
from augment_ft.core.closing import Closing
from augment_ft.core.errors import ConfigError, OutputError

__all__ = ["CACHE_SCHEMA_VERSION", "ResponseCache"]

_MAX_BATCH = 256
_CHECKPOINT_FRAMES = 1000
"""WAL pages not yet copied into the database file that call for a checkpoint (as SQLite's
own automatic checkpoint, which the writer thread replaces)."""
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
    """One answer waiting for its commit, and the future its caller awaits."""

    row: _Row
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None]

    def settle(self, error: OutputError | None) -> None:
        """Wake the caller from the writer thread (if its loop still runs)."""
        # RuntimeError: the loop is closed, so nobody is waiting any more.
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(_settle, self.future, error)


class _Signal(enum.Enum):
    """Work for the writer thread that is not an answer."""

    CHECKPOINT = "checkpoint"
    STOP = "stop"


def _settle(future: asyncio.Future[None], error: OutputError | None) -> None:
    if future.done():
        return  # the caller was cancelled
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


class ResponseCache(Closing):
    """Raw completions in one SQLite file, safe for threads, tasks and several processes.

    Reads, inline writes and the writer thread use separate connections, so a reader never
    queues behind a writer that is waiting for another process's lock. ``inline_commits``
    and ``thread_commits`` count the answers :meth:`put_async` committed on the caller's
    thread and on the writer thread.
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
        self._inline_lock = threading.Lock()
        self._jobs: queue.SimpleQueue[_Job | _Signal] = queue.SimpleQueue()
        self._pending: dict[asyncio.AbstractEventLoop, list[_Job]] = {}  # per loop, this pass
        self._thread: threading.Thread | None = None
        self._closed = False
        self._checkpoint_asked = False  # a checkpoint is queued for the writer thread
        # Set while the writer thread checkpoints: inline commits made meanwhile could keep
        # the checkpoint from ever catching up, and the WAL from ever starting afresh.
        self._inline_paused = False
        self.inline_commits = 0
        self.thread_commits = 0
        self._writer = self._connect()
        try:
            retry_busy(
                lambda: check_schema(self._writer, self.path, self.busy_timeout), self.busy_timeout
            )
            self._reader = self._connect()
        except BaseException:
            self._writer.close()
            raise
        try:
            self._inline = self._connect(wait=False)
        except BaseException:
            self._writer.close()
            self._reader.close()
            raise
        # None: no way to tell the WAL's size, so every async write uses the writer thread.
        self._wal_index = open_wal_index(self.path)
        if self._wal_index is None:  # and SQLite checkpoints on its own
            self._writer.execute(f"PRAGMA wal_autocheckpoint={_CHECKPOINT_FRAMES}")

    def _connect(self, *, wait: bool = True) -> sqlite3.Connection:
        return connect(self.path, self.busy_timeout, wait=wait)

    def _unusable(self, exc: sqlite3.Error) -> OutputError:
        return unusable(self.path, exc, self.busy_timeout)

    def get(self, key: str) -> Completion | None:
        """The stored completion for ``key`` (marked ``cached=True``), or None."""
        with self._read_lock:
            try:
                row = retry_busy(
                    lambda: self._reader.execute(
                        "SELECT model, text, finish_reason, prompt_tokens, completion_tokens"
                        " FROM completions WHERE call_id = ?",
                        (key,),
                    ).fetchone(),
                    self.busy_timeout,
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
        if wal_backlog(self._wal_index) >= _CHECKPOINT_FRAMES:
            self._checkpoint()  # blocking code may wait for the fsync itself

    async def put_async(self, key: str, completion: Completion) -> None:
        """Like :meth:`put`, without blocking the event loop; returns once committed.

        The answers stored during one pass of the event loop are committed together right
        after it, on the loop, when that can neither wait for a lock nor fsync. Otherwise
        the writer thread commits them, waiting out another process's lock off the loop.
        """
        self._check_open()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        pending = self._pending.get(loop)
        if pending is None or len(pending) >= _MAX_BATCH:
            pending = self._pending[loop] = []
            loop.call_soon(self._commit_pending, loop, pending)
        pending.append(_Job(_row(key, completion), loop, future))
        await future

    def _commit_pending(self, loop: asyncio.AbstractEventLoop, jobs: list[_Job]) -> None:
        """Commit ``jobs`` (one pass of ``loop``): on the loop if possible, else by the thread."""
        if self._pending.get(loop) is jobs:
            del self._pending[loop]
        if not jobs:
            return  # close() wrote them
        if self._commit_inline([job.row for job in jobs]):
            for job in jobs:
                _settle(job.future, None)
            return
        try:
            queued = self._writer_thread()
        except OutputError as exc:  # closed meanwhile by another thread
            for job in jobs:
                _settle(job.future, exc)
            return
        for job in jobs:
            queued.put(job)

    def _commit_inline(self, rows: list[_Row]) -> bool:
        """Commit ``rows`` on this thread if that needs no wait; False leaves them to the thread."""
        if self._inline_paused or not self._inline_lock.acquire(blocking=False):
            return False
        try:
            fd = self._wal_index  # None once closed, or when the -shm file is unreadable
            backlog = None if fd is None else self._try_inline(rows, fd)
        except (sqlite3.Error, OSError):
            return False  # busy, or an I/O error: the thread retries, and reports it
        finally:
            self._inline_lock.release()
        if backlog is None:
            return False
        self.inline_commits += len(rows)
        if backlog >= _CHECKPOINT_FRAMES and not self._checkpoint_asked:
            self._checkpoint_asked = True
            # Closed meanwhile by another thread: the rows are stored; close() checkpoints.
            with contextlib.suppress(OutputError):
                self._writer_thread().put(_Signal.CHECKPOINT)
        return True

    def _try_inline(self, rows: list[_Row], wal_index: int) -> int | None:
        """Insert ``rows`` on the inline connection unless the commit would fsync.

        Returns None if it did not, else the WAL pages not yet checkpointed before it.

        BEGIN IMMEDIATE fails at once when another connection holds the write lock (busy
        timeout 0). Holding that lock, the WAL's frame count is fixed and the checkpointed
        count can only grow, so "fewer checkpointed than written" now means it was so at
        BEGIN: the commit appends to the WAL. Otherwise it would start the WAL afresh and
        fsync the WAL header, so the writer thread does that commit instead.
        """
        conn = self._inline
        conn.execute("BEGIN IMMEDIATE")
        try:
            frames, checkpointed = read_wal_index(wal_index)
            if checkpointed >= frames:
                conn.execute("ROLLBACK")
                return None
            conn.executemany(INSERT, rows)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return frames - checkpointed

    def _check_open(self) -> None:
        if self._closed:
            msg = f"{self.path}: the response cache is closed"
            raise OutputError(msg)

    def _writer_thread(self) -> queue.SimpleQueue[_Job | _Signal]:
        with self._start_lock:
            self._check_open()
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._write_loop, name="augment_ft-cache-writer", daemon=True
                )
                self._thread.start()
        return self._jobs

    def _write_loop(self) -> None:
        """Commit queued answers in batches, and checkpoint, until :meth:`close` says stop."""
        stop = False
        while not stop:
            batch: list[_Job] = []
            signals: set[_Signal] = set()
            item = self._jobs.get()
            while True:
                if isinstance(item, _Signal):
                    signals.add(item)
                else:
                    batch.append(item)
                if _Signal.STOP in signals or len(batch) >= _MAX_BATCH:
                    break
                try:
                    item = self._jobs.get_nowait()
                except queue.Empty:
                    break
            if batch:
                self._flush(batch)
            if _Signal.CHECKPOINT in signals or wal_backlog(self._wal_index) >= _CHECKPOINT_FRAMES:
                self._checkpoint()
            stop = _Signal.STOP in signals

    def _checkpoint(self) -> None:
        """Copy the WAL into the database file; it fsyncs, so never on the event loop."""
        with self._write_lock:
            self._checkpoint_asked = False
            with self._inline_lock:  # an inline commit in progress finishes first
                self._inline_paused = True
            # PASSIVE never waits for other connections. If it fails, or another process is
            # checkpointing, the WAL only grows until the next one; commits report I/O errors.
            try:
                with contextlib.suppress(sqlite3.Error):
                    self._writer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            finally:
                self._inline_paused = False

    def _flush(self, batch: list[_Job]) -> None:
        error: OutputError | None = None
        try:
            self._write_rows([job.row for job in batch])
            self.thread_commits += len(batch)
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
                retry_busy(lambda: self._commit(rows), self.busy_timeout)
            except sqlite3.Error as exc:
                msg = f"{self.path}: cannot write to the response cache ({exc})"
                raise OutputError(msg) from exc

    def _commit(self, rows: list[_Row]) -> None:
        conn = self._writer
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(INSERT, rows)
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
        """Finish queued writes, stop the writer thread, close the connections (idempotent)."""
        with self._start_lock, self._inline_lock:
            self._closed = True
            thread, self._thread = self._thread, None
            # Answers stored in the current pass of a loop, not committed yet.
            leftovers = [job for jobs in self._pending.values() for job in jobs]
            for jobs in self._pending.values():
                jobs.clear()
        if thread is not None:
            self._jobs.put(_Signal.STOP)
            thread.join()
        if leftovers:
            self._flush(leftovers)
        with self._write_lock, self._read_lock, self._inline_lock:
            if self._wal_index is not None:
                os.close(self._wal_index)
                self._wal_index = None
            self._inline.close()
            self._reader.close()
            self._writer.close()  # the last one to close checkpoints and removes the WAL

"""A crash-safe, resumable JSONL writer: whole lines only, and no example written twice.

Beside ``OUT`` it keeps ``OUT.ids``: the identity of each record, one per line, in the same
order. Line k of one file belongs to line k of the other, so a record counts as committed
only when both files hold it whole. A kill at any moment leaves whole lines plus at most
one torn last line per file; ``resume=True`` cuts the torn and the unmatched lines away
(counted in :attr:`JsonlWriter.repaired`) and skips identities already written.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import jsonlines

from augment_ft.core.closing import Closing
from augment_ft.core.errors import ConfigError, OutputError, RecordError
from augment_ft.core.fingerprints import FingerprintSet, fingerprint
from augment_ft.outputs.naming import IDS_SUFFIX, ids_path

__all__ = ["IDS_SUFFIX", "JsonlWriter"]


_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode

_HINTS = {
    errno.ENOSPC: "the disk is full; free space, then rerun with --resume",
    errno.EDQUOT: "the disk quota is exceeded; free space, then rerun with --resume",
    errno.ENOENT: "its directory does not exist; create it first",
    errno.ENOTDIR: "a parent in the path is not a directory",
    errno.EACCES: "permission denied; choose a writable location",
    errno.EPERM: "permission denied; choose a writable location",
    errno.EROFS: "the file system is read-only; choose a writable location",
    errno.EISDIR: "it is a directory; give a file name",
    errno.ELOOP: "a symbolic link in its path loops; fix the link or choose another path",
    errno.EFBIG: "the file reached the size limit of this system (ulimit -f); raise it, "
    "then rerun with --resume",
}


def _output_error(path: Path, exc: OSError) -> OutputError:
    reason = exc.strerror or str(exc)
    hint = _HINTS.get(exc.errno or 0)
    return OutputError(
        f"cannot write {path}: {hint} ({reason})" if hint else f"cannot write {path}: {reason}"
    )


class JsonlWriter(Closing):
    """Appends one JSON record per line to ``path``, flushing each (see the module doc).

    Without ``resume`` an existing non-empty output is refused unless ``overwrite`` is set
    (then it is emptied first). ``fsync_every=N`` also syncs to disk every N records; the
    files are always synced on :meth:`close`. ``create_dirs`` makes missing parents.
    ``autoflush=False`` leaves flushing to :meth:`flush` (the pipeline flushes once per
    batch it admits: a kill loses at most that batch, which ``--resume`` makes again).
    ``remember_new=False`` is for callers whose identities are unique already (the
    pipeline with exact dedup on): only the identities found on resume are remembered, so
    a fresh run's writer holds nothing per record.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        resume: bool = False,
        overwrite: bool = False,
        fsync_every: int = 0,
        create_dirs: bool = False,
        autoflush: bool = True,
        remember_new: bool = True,
    ) -> None:
        if resume and overwrite:
            msg = "resume and overwrite exclude each other: continue the output or replace it"
            raise ConfigError(msg)
        self.path = Path(path)
        self.ids_path = ids_path(self.path)
        self.fsync_every = fsync_every
        self.autoflush = autoflush
        self.remember_new = remember_new
        self.written = 0
        """Records written by this writer."""
        self.skipped = 0
        """Records not written because their identity was already in the file."""
        self.existing = 0
        """Committed records found in the file when resuming."""
        self.repaired = 0
        """Torn or uncommitted lines cut off when resuming."""
        # 64-bit fingerprints of the identities in the file: bounded memory at any size.
        self._ids = FingerprintSet()
        self._closed = False
        self._failed = False
        if self.path.is_dir():
            raise OutputError(f"cannot write {self.path}: {_HINTS[errno.EISDIR]}")
        if create_dirs:
            self._make_parent()
        if resume:
            self._recover()
        elif not overwrite:
            self._refuse_existing()
        self._records, self._id_file = self._open("ab" if resume else "wb")
        self._lines = jsonlines.Writer(self._records, dumps=_encode, flush=autoflush)

    def __contains__(self, identity: object) -> bool:
        return isinstance(identity, str) and fingerprint(identity) in self._ids

    def __len__(self) -> int:
        """Records in the file: found on resume plus written since."""
        return self.existing + self.written

    def write(self, record: dict[str, Any], identity: str) -> bool:
        """Append ``record`` unless ``identity`` is already in the file; True when written."""
        if self._closed:
            raise OutputError(f"{self.path} is closed; open a new JsonlWriter to write more")
        if not identity or "\n" in identity or "\r" in identity:
            raise RecordError(f"record identity must be one non-empty line, got {identity!r}")
        key = fingerprint(identity)
        if key in self._ids:
            self.skipped += 1
            return False
        try:
            self._lines.write(record)  # encodes before writing: a bad record leaves no trace
            self._id_file.write(identity.encode("utf-8") + b"\n")
            if self.autoflush:
                self._id_file.flush()
            if self.fsync_every and (self.written + 1) % self.fsync_every == 0:
                self._sync()
        except (TypeError, ValueError) as exc:
            raise RecordError(f"record for {identity} is not valid JSON: {exc}") from exc
        except OSError as exc:
            self._failed = True
            raise _output_error(self.path, exc) from exc
        if self.remember_new:
            self._ids.add_absent(key)
        self.written += 1
        return True

    def flush(self) -> None:
        """Hand what was written to the operating system (it survives a killed process)."""
        if self._closed:
            return
        try:
            self._records.flush()
            self._id_file.flush()
        except OSError as exc:
            self._failed = True
            raise _output_error(self.path, exc) from exc

    def close(self) -> None:
        """Flush, sync to disk and close both files; safe to call twice.

        After a failed write the files are only closed: that failure was already raised.
        """
        if self._closed:
            return
        self._closed = True
        try:
            self._sync()
        except OSError as exc:
            if not self._failed:
                raise _output_error(self.path, exc) from exc
        finally:
            for handle in (self._records, self._id_file):
                with contextlib.suppress(OSError):  # the sync above reported the failure
                    handle.close()
        _sync_directory(self.path.parent)

    def _sync(self) -> None:
        for handle in (self._records, self._id_file):
            handle.flush()
            os.fsync(handle.fileno())

    def _make_parent(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _output_error(self.path, exc) from exc

    def _open(self, mode: str) -> tuple[IO[bytes], IO[bytes]]:
        try:
            records = self.path.open(mode)
        except OSError as exc:
            raise _output_error(self.path, exc) from exc
        try:
            ids = self.ids_path.open(mode)
        except OSError as exc:
            records.close()
            raise _output_error(self.ids_path, exc) from exc
        return records, ids

    def _refuse_existing(self) -> None:
        for path in (self.path, self.ids_path):
            if _size(path):
                msg = (
                    f"{path} already exists and is not empty; use --resume to continue "
                    "that run or --force to replace it"
                )
                raise OutputError(msg)

    def _recover(self) -> None:
        """Cut torn and uncommitted lines, then remember the identities already written.

        Streams both files (a resumed output may hold millions of records): one pass to
        count complete lines, another only for a file that has lines to cut.
        """
        if not _size(self.path) and not _size(self.ids_path):
            return
        if not self.ids_path.exists():
            msg = (
                f"cannot resume {self.path}: its identity file {self.ids_path} is missing "
                "(was it written by augment-ft?); use --force to start over"
            )
            raise OutputError(msg)
        records = _scan(self.path, check_json=True)
        ids = _scan(self.ids_path, check_json=False)
        kept = min(records[0], ids[0])
        self.repaired = _cut(self.path, records, kept) + _cut(self.ids_path, ids, kept)
        self._load_ids(kept)
        self.existing = kept

    def _load_ids(self, count: int) -> None:
        batch: list[int] = []
        try:
            for line in _lines(self.ids_path, count):
                batch.append(fingerprint(line.decode("utf-8")))
                if len(batch) >= 1 << 16:
                    self._ids.add_many(batch)
                    batch.clear()
        except UnicodeDecodeError as exc:
            msg = f"cannot resume: {self.ids_path} is not an identity file ({exc}); use --force"
            raise OutputError(msg) from exc
        self._ids.add_many(batch)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0
    except OSError as exc:
        raise _output_error(path, exc) from exc


def _lines(path: Path, limit: int | None = None) -> Iterator[bytes]:
    """Up to ``limit`` complete (newline-terminated) lines of ``path``, without the newline."""
    try:
        with path.open("rb") as handle:
            for number, line in enumerate(handle):
                if (limit is not None and number >= limit) or not line.endswith(b"\n"):
                    return  # enough, or the torn tail of an interrupted write
                yield line[:-1]
    except OSError as exc:
        raise OutputError(f"cannot read {path} to resume: {exc.strerror or exc}") from exc


def _scan(path: Path, *, check_json: bool, limit: int | None = None) -> tuple[int, int]:
    """How many complete lines ``path`` starts with (at most ``limit``), and where they end."""
    count = end = 0
    for line in _lines(path, limit):
        count += 1
        if check_json:
            _check_line(path, count, line)
        end += len(line) + 1
    return count, end


def _check_line(path: Path, number: int, line: bytes) -> None:
    try:
        json.loads(line)
    except ValueError as exc:
        msg = (
            f"cannot resume {path}: line {number} is not a JSON record ({exc}); the file was "
            "changed outside augment-ft. Use --force to start over"
        )
        raise OutputError(msg) from exc


def _cut(path: Path, complete: tuple[int, int], keep: int) -> int:
    """Truncate ``path`` after its first ``keep`` complete lines; how many lines went.

    ``complete`` is what :func:`_scan` found: complete lines and the offset after them.
    """
    lines, lines_end = complete
    end = lines_end if keep == lines else _scan(path, check_json=False, limit=keep)[1]
    size = _size(path)
    if size == end:
        return 0
    try:
        os.truncate(path, end)
    except OSError as exc:
        raise _output_error(path, exc) from exc
    return lines - keep + (1 if size > lines_end else 0)  # the torn tail counts as one


def _sync_directory(directory: Path) -> None:
    """Persist the directory entries of new files; not every platform allows it."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):  # not every file system syncs directories
            os.fsync(fd)
    finally:
        os.close(fd)

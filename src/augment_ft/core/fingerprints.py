"""A set of 64-bit fingerprints whose memory stays bounded however many it holds.

Dedup and the writers must remember every example they have seen: at ten million
examples a Python ``set`` of ids costs gigabytes. Here the newest fingerprints live in a
Python set; once it holds ``memory_keys`` they are sorted and written to an anonymous
temporary file as a *run*, and only a Bloom filter of the run (12 bits a fingerprint)
stays in memory, plus one fingerprint per 4 KB page to find it on disk. A lookup reads
the disk only when a run's filter says "maybe" (under 1 % for a fingerprint the run
lacks). The filters of 64 runs share one array, bit ``r`` of each word for run ``r``, so
one pass of probes asks all 64 at once. Fingerprints must be uniformly random (hash
digests): the probe positions are taken from their bits.
"""

from __future__ import annotations

import array
import hashlib
import os
import tempfile
import weakref
from collections.abc import Iterable
from typing import IO

import numpy as np
from numpy.typing import NDArray

from augment_ft.core.closing import Closing
from augment_ft.core.errors import OutputError

__all__ = ["FingerprintSet", "fingerprint"]

U64 = NDArray[np.uint64]
_PAGE = 512  # fingerprints per on-disk page (4 KB): one read finds one
_PROBES = 8  # Bloom probes; about optimal for 12 bits a key (false positives ~0.3 %)
_BITS_PER_KEY = 12
_GROUP = 64  # runs whose filters share one array of 64-bit words
_LOW32 = np.uint64(0xFFFFFFFF)
_MAX = (1 << 64) - 1
_ALL = (1 << _GROUP) - 1


def fingerprint(text: str) -> int:
    """A uniformly random 64-bit fingerprint of ``text`` (BLAKE2b)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")


class _Run:
    """A sorted block of fingerprints in the spill file: where it starts, its page index."""

    __slots__ = ("fences", "offset", "size")

    def __init__(self, offset: int, keys: U64) -> None:
        self.offset = offset  # byte offset in the spill file
        self.size = len(keys)
        self.fences: U64 = keys[::_PAGE].copy()  # the first fingerprint of each page


class FingerprintSet(Closing):
    """Remembers 64-bit fingerprints; about 1.5 bytes each once spilled to disk.

    Up to ``memory_keys`` of the newest stay in memory (about 55 bytes each) before a run
    is written. The spill file is an anonymous temporary file in ``spill_dir`` (default:
    ``TMPDIR``), gone when the set is closed or the process ends.
    """

    def __init__(self, *, memory_keys: int = 1 << 17, spill_dir: str | None = None) -> None:
        if memory_keys < 1:
            raise ValueError(f"memory_keys must be at least 1, got {memory_keys}")
        self._memory_keys = memory_keys
        self._spill_dir = spill_dir
        self._buffer: set[int] = set()
        self._runs: list[_Run] = []
        self._bits = max(64, memory_keys * _BITS_PER_KEY)  # filter positions per run
        self._groups: list[array.array[int]] = []
        self._file: IO[bytes] | None = None
        self._fd = -1
        self._spilled = 0

    def __len__(self) -> int:
        return self._spilled + len(self._buffer)

    @property
    def nbytes(self) -> int:
        """Memory held (estimate): filters, page indexes and the newest fingerprints."""
        fences = sum(run.fences.nbytes for run in self._runs)
        filters = sum(len(group) * group.itemsize for group in self._groups)
        return filters + fences + len(self._buffer) * 55  # set slot plus int object

    @property
    def spilled(self) -> int:
        """Fingerprints written to disk."""
        return self._spilled

    def close(self) -> None:
        """Delete the spill file and forget everything."""
        if self._file is not None:
            self._file.close()
            self._file, self._fd = None, -1
        self._buffer.clear()
        self._runs.clear()
        self._groups.clear()
        self._spilled = 0

    # -- one at a time ------------------------------------------------------------------

    def __contains__(self, fp: object) -> bool:
        if not isinstance(fp, int) or not 0 <= fp <= _MAX:
            return False
        return fp in self._buffer or (bool(self._runs) and self._on_disk(fp))

    def add(self, fp: int) -> bool:
        """Remember ``fp`` (0 <= fp < 2**64); whether it was new."""
        if not 0 <= fp <= _MAX:
            raise ValueError(f"a fingerprint is a 64-bit unsigned integer, got {fp}")
        if fp in self._buffer or (self._runs and self._on_disk(fp)):
            return False
        self._buffer.add(fp)
        if len(self._buffer) >= self._memory_keys:
            self._spill()
        return True

    def add_absent(self, fp: int) -> None:
        """Remember ``fp``, which the caller just found absent (saves a second lookup)."""
        self._buffer.add(fp)
        if len(self._buffer) >= self._memory_keys:
            self._spill()

    def _on_disk(self, fp: int) -> bool:
        low, step, bits = fp & 0xFFFFFFFF, (fp >> 32) | 1, self._bits
        positions = [(low + i * step) % bits for i in range(_PROBES)]
        for g, group in enumerate(self._groups):
            maybe = _ALL
            for p in positions:
                maybe &= group[p]
                if not maybe:
                    break
            while maybe:  # the runs whose filters all said yes: read their page
                bit = maybe & -maybe
                maybe ^= bit
                if self._run_has(self._runs[g * _GROUP + bit.bit_length() - 1], fp):
                    return True
        return False

    # -- many at once -------------------------------------------------------------------

    def add_many(self, fps: U64 | Iterable[int]) -> NDArray[np.bool_]:
        """Remember each of ``fps`` in order; True where it was new (not seen, not earlier)."""
        keys = np.asarray(fps if isinstance(fps, np.ndarray) else list(fps), dtype=np.uint64)
        new = np.zeros(len(keys), dtype=bool)
        step = self._memory_keys
        for start in range(0, len(keys), step):  # a slice at a time: no run outgrows its filter
            part = keys[start : start + step]
            unique, first = np.unique(part, return_index=True)
            fresh = ~self.contains_many(unique)
            new[start + first[fresh]] = True
            for fp in unique[fresh].tolist():
                self._buffer.add(fp)
                if len(self._buffer) >= self._memory_keys:
                    self._spill()
        return new

    def contains_many(self, fps: U64) -> NDArray[np.bool_]:
        """Whether each of ``fps`` is in the set."""
        keys = np.asarray(fps, dtype=np.uint64)
        buffer = self._buffer
        found = np.fromiter((k in buffer for k in keys.tolist()), dtype=bool, count=len(keys))
        if self._runs and not found.all():
            rest = np.flatnonzero(~found)
            found[rest] = self._many_on_disk(keys[rest])
        return found

    def _many_on_disk(self, keys: U64) -> NDArray[np.bool_]:
        positions = self._positions(keys)
        found = np.zeros(len(keys), dtype=bool)
        for g, group in enumerate(self._groups):
            words = np.frombuffer(group, dtype=np.uint64)[positions]
            maybe = np.bitwise_and.reduce(words, axis=1)
            for i in np.flatnonzero(maybe).tolist():
                mask = int(maybe[i])
                while mask and not found[i]:
                    bit = mask & -mask
                    mask ^= bit
                    run = self._runs[g * _GROUP + bit.bit_length() - 1]
                    found[i] = self._run_has(run, int(keys[i]))
        return found

    def _positions(self, keys: U64) -> NDArray[np.uint64]:
        """The filter positions of each key, shape (len(keys), probes)."""
        low, step = keys & _LOW32, (keys >> np.uint64(32)) | np.uint64(1)
        probes = np.arange(_PROBES, dtype=np.uint64)
        positions: NDArray[np.uint64] = (low[:, None] + probes * step[:, None]) % np.uint64(
            self._bits
        )
        return positions

    # -- spilling -----------------------------------------------------------------------

    def _spill(self) -> None:
        """Write the in-memory fingerprints as a sorted run; keep only its filter."""
        keys = np.fromiter(self._buffer, dtype=np.uint64, count=len(self._buffer))
        keys.sort()
        handle = self._spill_file()
        try:
            offset = handle.seek(0, os.SEEK_END)
            handle.write(keys.tobytes())
            handle.flush()
        except OSError as exc:
            msg = f"cannot write dedup state to a temporary file ({exc}); free space or set TMPDIR"
            raise OutputError(msg) from exc
        index = len(self._runs)
        self._runs.append(_Run(offset, keys))
        if index % _GROUP == 0:
            self._groups.append(array.array("Q", bytes(8 * self._bits)))
        flags = np.zeros(self._bits, dtype=bool)
        for start in range(0, len(keys), 1 << 16):  # bounded temporaries
            flags[self._positions(keys[start : start + (1 << 16)]).ravel()] = True
        words = np.frombuffer(self._groups[-1], dtype=np.uint64)
        words[flags] |= np.uint64(1 << (index % _GROUP))
        self._spilled += len(keys)
        self._buffer.clear()

    def _spill_file(self) -> IO[bytes]:
        if self._file is None:
            try:
                # Kept open for the set's life, closed by close() or the finalizer below.
                self._file = tempfile.TemporaryFile(prefix="augment-ft-", dir=self._spill_dir)  # noqa: SIM115
            except OSError as exc:
                msg = f"cannot create a temporary file for dedup state ({exc}); set TMPDIR"
                raise OutputError(msg) from exc
            self._fd = self._file.fileno()
            weakref.finalize(self, self._file.close)  # closed even if close() is never called
        return self._file

    def _run_has(self, run: _Run, fp: int) -> bool:
        page = int(np.searchsorted(run.fences, np.uint64(fp), side="right")) - 1
        if page < 0:
            return False
        count = min(_PAGE, run.size - page * _PAGE)
        try:
            data = os.pread(self._fd, count * 8, run.offset + page * _PAGE * 8)
        except OSError as exc:
            raise OutputError(f"cannot read dedup state from its temporary file: {exc}") from exc
        keys = np.frombuffer(data, dtype=np.uint64)
        at = int(np.searchsorted(keys, np.uint64(fp)))
        return at < len(keys) and int(keys[at]) == fp

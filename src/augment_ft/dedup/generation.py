"""One generation of the near-duplicate index: signatures, band hashes and keys of kept texts.

A bounded :class:`~augment_ft.dedup.near.NearDeduper` keeps two fixed-size generations and
recycles the older when the newer fills; an unbounded one keeps a single growing generation.
Keys are stored as fixed-width ASCII bytes (~20 bytes for an example id, where a Python
str costs ~75), falling back to a list of str for keys that do not fit that form.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from augment_ft.dedup.hashtable import Found, HashMultiMap

__all__ = ["Generation", "KeyStore"]

_MAX_WIDTH = 64  # longer keys go to the list: one long key would widen every row
_FIRST_ROWS = 1024  # starting rows of a growing generation


class KeyStore:
    """Keys by entry number, as ``S<width>`` bytes while they are short ASCII, else str."""

    def __init__(self, capacity: int | None) -> None:
        self._capacity = capacity  # None: grows by half as needed
        self._array: NDArray[np.bytes_] = np.empty(0, dtype="S1")
        self._list: list[str] | None = None
        self._list_bytes = 0
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, entry: int) -> str:
        if self._list is not None:
            return self._list[entry]
        return str(self._array[entry].decode("ascii"))

    @property
    def nbytes(self) -> int:
        """Bytes held for the keys: the array, or the list and its strings."""
        if self._list is not None:
            return sys.getsizeof(self._list) + self._list_bytes
        return int(self._array.nbytes)

    def append(self, keys: Sequence[str]) -> None:
        """Store ``keys`` as the next entries."""
        if not keys:
            return
        if len(keys) == 1 and self._fits(keys[0]):  # one at a time: skip building an array
            self._array[self._size] = keys[0]
            self._size += 1
            return
        if self._list is None:
            encoded = _encode(keys)
            if encoded is not None and encoded.itemsize <= _MAX_WIDTH:
                self._put(encoded)
                return
            self._list = self._as_list()
        self._list.extend(keys)
        self._list_bytes += sum(map(sys.getsizeof, keys))
        self._size += len(keys)

    def clear(self) -> None:
        """Forget every key; the array and its width stay for reuse."""
        self._list = None
        self._list_bytes = 0
        self._size = 0

    def _fits(self, key: str) -> bool:
        """Whether ``key`` goes into the array as it stands, without widening or growing."""
        return (
            self._list is None
            and self._size < len(self._array)
            and len(key) <= self._array.itemsize
            and key.isascii()
            and "\x00" not in key
        )

    def _put(self, encoded: NDArray[np.bytes_]) -> None:
        end = self._size + len(encoded)
        if end <= len(self._array) and encoded.itemsize <= self._array.itemsize:
            self._array[self._size : end] = encoded  # the usual case: room and width enough
            self._size = end
            return
        width = max(encoded.itemsize, self._array.itemsize)
        rows = len(self._array)
        if end > rows:
            rows = end if self._capacity is not None else max(end, rows * 3 // 2, _FIRST_ROWS)
        if self._capacity is not None:
            rows = max(rows, self._capacity)  # a bounded store is allocated once, at its size
        if rows != len(self._array) or width != self._array.itemsize:
            grown = np.empty(rows, dtype=f"S{width}")
            grown[: self._size] = self._array[: self._size]
            self._array = grown
        self._array[self._size : end] = encoded
        self._size = end

    def _as_list(self) -> list[str]:
        """The entries stored so far as str, freeing the array: keys go to a list from now."""
        keys = [self[entry] for entry in range(self._size)]
        self._list_bytes = sum(map(sys.getsizeof, keys))
        self._array = np.empty(0, dtype="S1")
        return keys


def _encode(keys: Sequence[str]) -> NDArray[np.bytes_] | None:
    """The keys as fixed-width ASCII, or None where that would lose or change one."""
    joined = "".join(keys)
    # NumPy strips trailing NUL bytes from S values, so a key holding NUL would come back cut.
    if not joined.isascii() or "\x00" in joined:
        return None
    encoded: NDArray[np.bytes_] = np.array(keys, dtype="S")
    return encoded


class Generation:
    """Kept entries: b-bit signature rows, a band-hash index onto them, and their keys.

    With a ``capacity`` every array is allocated once for that many entries and never
    grows; without one they grow by half (signatures, keys) or double (the index).
    """

    def __init__(self, num_perm: int, bands: int, capacity: int | None = None) -> None:
        self.capacity = capacity
        self.bands = bands
        # The index first: it refuses a capacity too large before anything big is allocated.
        self.index = HashMultiMap() if capacity is None else HashMultiMap.holding(capacity * bands)
        rows = capacity if capacity is not None else _FIRST_ROWS
        self.sigs: NDArray[np.uint8] = np.empty((rows, num_perm), dtype=np.uint8)
        self.keys = KeyStore(capacity)
        self._size = 0

    def __len__(self) -> int:
        return self._size

    @property
    def room(self) -> int | None:
        """How many more entries fit; None when the generation grows."""
        return None if self.capacity is None else self.capacity - self._size

    @property
    def nbytes(self) -> int:
        """Bytes held by the signatures, the index and the keys."""
        return int(self.sigs.nbytes) + self.index.nbytes + self.keys.nbytes

    def lookup(self, band_keys: NDArray[np.uint64]) -> Found:
        """``(position in band_keys, entry)`` for every entry stored under one of them."""
        return self.index.lookup(band_keys)

    def add(
        self, keys: Sequence[str], band_keys: NDArray[np.uint64], sigs: NDArray[np.uint8]
    ) -> None:
        """Store ``keys[i]`` with band hashes ``band_keys[i]`` and signature ``sigs[i]``."""
        start = self._size
        end = start + len(keys)
        if self.capacity is not None and end > self.capacity:
            msg = f"a generation of {self.capacity} entries cannot take {end}"
            raise OverflowError(msg)
        if end > len(self.sigs):
            grown = np.empty((max(end, len(self.sigs) * 3 // 2), self.sigs.shape[1]), np.uint8)
            grown[:start] = self.sigs[:start]
            self.sigs = grown
        self.sigs[start:end] = sigs
        self.keys.append(keys)
        entries = np.repeat(np.arange(start, end, dtype=np.int32), self.bands)
        self.index.insert(band_keys.ravel(), entries)
        self._size = end

    def clear(self) -> None:
        """Forget every entry, keeping the arrays for the next generation."""
        self.index.clear()
        self.keys.clear()
        self._size = 0

"""A compact hash -> int multimap in NumPy arrays, queried and filled a batch at a time.

Open addressing with linear probing, at most half full, 8 bytes a slot (a 32-bit key and
an int32 value), where a Python dict entry costs ~75 bytes and an interpreter round trip.
A key's home slot is ``key * slots >> 32``: the key's high bits when ``slots`` is a power
of two, and just as even for any other size, so a table of known load can be sized exactly.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["HashMultiMap"]

_EMPTY = np.uint32(0)  # key 0 is stored as 1, so 0 can mark a free slot
_SMALL = 32  # up to this many keys, a plain loop beats vectorised probe rounds
_REHASH_SLICE = 1 << 16  # old slots re-placed per step when the table grows
_MAX_SLOTS = 1 << 31  # so that key * slots, below 2^63, fits an int64

Found = tuple[NDArray[np.int64], NDArray[np.int32]]


class HashMultiMap:
    """Maps 64-bit hash values to int32 values; a key may hold several values.

    Only the high 32 bits of a key are kept, so about one lookup in 2^32 / len(self) also
    returns values of another key: callers verify what they get (near-dup signatures do).
    """

    def __init__(self, capacity: int = 1 << 12) -> None:
        bits = max(4, (max(capacity, 2) - 1).bit_length())
        self._keys: NDArray[np.uint32] = np.zeros(1 << bits, dtype=np.uint32)
        self._values: NDArray[np.int32] = np.zeros(1 << bits, dtype=np.int32)
        self._size = 0
        self._shift: int | None = 32 - bits  # for a power-of-two size: home = key >> shift

    @classmethod
    def holding(cls, count: int) -> HashMultiMap:
        """An empty table of exactly ``2 * count`` slots: ``count`` keys fit without growing."""
        if not 0 <= count <= _MAX_SLOTS // 2:
            msg = f"HashMultiMap cannot hold {count} keys (0 to 2^30)"
            raise OverflowError(msg)
        table = cls(16)
        slots = max(16, 2 * count)
        table._keys = np.zeros(slots, dtype=np.uint32)
        table._values = np.zeros(slots, dtype=np.int32)
        table._shift = _shift_for(slots)
        return table

    def __len__(self) -> int:
        return self._size

    @property
    def nbytes(self) -> int:
        """Memory held by the table's arrays."""
        return int(self._keys.nbytes + self._values.nbytes)

    def clear(self) -> None:
        """Forget every key, keeping the table's size (so reuse allocates nothing)."""
        self._keys.fill(_EMPTY)
        self._size = 0

    def _slots(self, keys: NDArray[np.uint32]) -> NDArray[np.int64]:
        if self._shift is not None:  # the same slots as below, one NumPy pass fewer
            slots: NDArray[np.int64] = (keys >> np.uint32(self._shift)).astype(np.int64)
            return slots
        # Multiply-shift maps a 32-bit key evenly onto any table size; no overflow in 64 bits.
        wide = keys.astype(np.int64)
        wide *= len(self._keys)
        wide >>= 32
        return wide

    def _next(self, slots: NDArray[np.int64]) -> NDArray[np.int64]:
        """The slots after ``slots``, wrapping past the end (a new array)."""
        following = slots + 1
        if self._shift is not None:
            following &= len(self._keys) - 1
        else:
            following[following == len(self._keys)] = 0
        return following

    @staticmethod
    def _short(keys: NDArray[np.uint64]) -> NDArray[np.uint32]:
        short: NDArray[np.uint32] = (keys >> np.uint64(32)).astype(np.uint32)
        short[short == 0] = 1
        return short

    def lookup(self, keys: NDArray[np.uint64]) -> Found:
        """Every ``(query position, value)`` pair stored under ``keys[query position]``."""
        wanted = self._short(keys)
        slots = self._slots(wanted)
        if len(wanted) <= _SMALL:
            return self._lookup_few(wanted, slots)
        active = np.arange(len(wanted), dtype=np.int64)
        found_at: list[NDArray[np.int64]] = []
        found: list[NDArray[np.int32]] = []
        while active.size:
            stored = self._keys[slots]
            hit = stored == wanted[active]
            if hit.any():
                found_at.append(active[hit])
                found.append(self._values[slots[hit]])
            live = stored != _EMPTY  # a probe chain ends at the first empty slot
            active = active[live]
            slots = self._next(slots[live])
        if not found:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int32)
        return np.concatenate(found_at), np.concatenate(found)

    def _lookup_few(self, wanted: NDArray[np.uint32], slots: NDArray[np.int64]) -> Found:
        """:meth:`lookup` for a handful of keys: the same probe sequence, one key at a time."""
        found_at: list[int] = []
        found: list[int] = []
        size = len(self._keys)
        for at, (key, start) in enumerate(zip(wanted.tolist(), slots.tolist(), strict=True)):
            slot = start
            while (stored := self._keys.item(slot)) != 0:
                if stored == key:
                    found_at.append(at)
                    found.append(self._values.item(slot))
                slot = slot + 1 if slot + 1 < size else 0
        return np.array(found_at, dtype=np.int64), np.array(found, dtype=np.int32)

    def insert(self, keys: NDArray[np.uint64], values: NDArray[np.int32]) -> None:
        """Add ``keys[i] -> values[i]`` for every i (existing pairs are kept, not replaced)."""
        if (self._size + len(keys)) * 2 > len(self._keys):
            self._grow(self._size + len(keys))
        self._place(self._short(keys), values.astype(np.int32))
        self._size += len(keys)

    def _place(self, keys: NDArray[np.uint32], values: NDArray[np.int32]) -> None:
        slots = self._slots(keys)
        if len(keys) <= _SMALL:
            size = len(self._keys)
            for key, value, start in zip(
                keys.tolist(), values.tolist(), slots.tolist(), strict=True
            ):
                slot = start
                while self._keys.item(slot) != 0:
                    slot = slot + 1 if slot + 1 < size else 0
                self._keys[slot] = key
                self._values[slot] = value
            return
        pending = np.arange(len(keys), dtype=np.int64)
        while pending.size:
            free = self._keys[slots] == _EMPTY
            # Several pending keys may want the same free slot: the first of each wins it.
            taken, first = np.unique(slots[free], return_index=True)
            winners = pending[free][first]
            self._keys[taken] = keys[winners]
            self._values[taken] = values[winners]
            lost = np.ones(len(pending), dtype=bool)
            lost[np.flatnonzero(free)[first]] = False
            pending = pending[lost]
            slots = self._next(slots[lost])

    def _grow(self, needed: int) -> None:
        """Double until half full at most; slots come from the stored keys themselves."""
        old_keys, old_values = self._keys, self._values
        slots = len(old_keys)
        while slots < needed * 2:
            slots *= 2
        if slots > _MAX_SLOTS:
            msg = f"HashMultiMap cannot hold {needed} keys (2^30 at most)"
            raise OverflowError(msg)
        self._keys = np.zeros(slots, dtype=np.uint32)
        self._values = np.zeros(slots, dtype=np.int32)
        self._shift = _shift_for(slots)
        # A slice at a time: placing every key at once needs int64 slot and index arrays
        # (and masks) for all of them, several times the table itself at 10M keys.
        for start in range(0, len(old_keys), _REHASH_SLICE):
            keys = old_keys[start : start + _REHASH_SLICE]
            used = keys != _EMPTY
            self._place(keys[used], old_values[start : start + _REHASH_SLICE][used])


def _shift_for(slots: int) -> int | None:
    """``32 - log2(slots)`` for a power of two (home slots are then the key's high bits)."""
    return 33 - slots.bit_length() if slots & (slots - 1) == 0 else None

"""Memory of the near-duplicate index at scale: growing the table costs only the new table."""

from __future__ import annotations

import tracemalloc

import numpy as np

from augment_ft.dedup.hashtable import HashMultiMap


def test_growing_the_table_needs_little_beyond_the_new_table() -> None:
    rng = np.random.default_rng(0)
    table = HashMultiMap()
    count = 1 << 18  # fills a table of 2^19 slots to exactly half: 8 slices of 2^16
    keys = rng.integers(1, 2**64 - 1, size=count, dtype=np.uint64)
    table.insert(keys, np.arange(count, dtype=np.int32))
    before = table.nbytes
    tracemalloc.start()  # NumPy reports its buffers to tracemalloc
    try:
        start, _ = tracemalloc.get_traced_memory()
        extra = rng.integers(1, 2**64 - 1, size=1, dtype=np.uint64)
        table.insert(extra, np.array([count], dtype=np.int32))  # one more: the table doubles
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert table.nbytes == 2 * before
    # Re-placing all 2^18 keys in one go took about 3x the new table on top of it.
    assert peak - start < table.nbytes + 6_000_000
    # Every key is still found with its value after the move.
    at, values = table.lookup(np.concatenate([keys, extra]))
    found = np.zeros(count + 1, dtype=bool)
    found[at[values == at]] = True
    assert found.all()

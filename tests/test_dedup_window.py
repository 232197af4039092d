"""Near-duplicate detection in a bounded window: what it remembers, decides and holds."""

from __future__ import annotations

import random
import sys
import tracemalloc
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from augment_ft.core.errors import ConfigError
from augment_ft.dedup import NearDeduper
from augment_ft.dedup.generation import KeyStore
from augment_ft.dedup.hashtable import HashMultiMap

LETTERS = "abcdefghijklmnopqrstuvwxyz"
_VOCAB = ["".join(random.Random(i).choices(LETTERS, k=3 + i % 7)) for i in range(4000)]


def distinct(n: int, seed: int) -> list[str]:
    """``n`` random sentences of 16-24 made-up words: no two are near-duplicates."""
    rng = random.Random(seed)
    return [" ".join(rng.choices(_VOCAB, k=rng.randint(16, 24))).capitalize() for _ in range(n)]


def edit(text: str, rng: random.Random) -> str:
    """``text`` with one letter changed: usually, not always, a detectable near-duplicate."""
    pos = rng.choice([i for i, c in enumerate(text) if c.isalpha()])
    return text[:pos] + rng.choice([c for c in LETTERS if c != text[pos].lower()]) + text[pos + 1 :]


def stream(n: int, seed: int) -> list[tuple[str, str]]:
    """Keyed texts where about a third repeat (edited) an earlier text, recent or not."""
    rng = random.Random(seed)
    texts: list[str] = []
    for text in distinct(n, seed):
        texts.append(text)
        if rng.random() < 0.35:
            texts.append(edit(rng.choice(texts[-40:] if rng.random() < 0.5 else texts), rng))
    return [(f"ex-{seed:04d}-{i:012x}", text) for i, text in enumerate(texts)]


def in_batches(
    near: NearDeduper, pairs: Sequence[tuple[str, str]], sizes: Sequence[int]
) -> list[str | None]:
    """Decide ``pairs`` with one check_and_add_many call per batch, cycling through ``sizes``."""
    out: list[str | None] = []
    start, turn = 0, 0
    while start < len(pairs):
        size = sizes[turn % len(sizes)]
        out += near.check_and_add_many(pairs[start : start + size], batch_size=size)
        start, turn = start + size, turn + 1
    return out


PAIRS = stream(260, seed=3)
UNBOUNDED = NearDeduper().check_and_add_many(PAIRS)
KEPT = sum(match is None for match in UNBOUNDED)


def test_the_test_stream_has_recent_and_old_near_duplicates() -> None:
    assert 75 < len(PAIRS) - KEPT < 120


@settings(max_examples=25, deadline=None)
@given(
    window=st.integers(KEPT // 2 + 1, KEPT + 5),
    sizes=st.lists(st.integers(1, 80), min_size=1, max_size=6),
)
def test_a_window_changes_no_decision_while_it_remembers_every_kept_text(
    window: int, sizes: list[int]
) -> None:
    # Two generations of `window` hold every kept text until 2 * window were kept: with
    # window > KEPT / 2 the first generation turns over mid-stream, and nothing is lost.
    near = NearDeduper(window=window)
    assert in_batches(near, PAIRS, sizes) == UNBOUNDED
    assert len(near) == KEPT


@pytest.mark.parametrize("window", [1, 7, 40])
def test_windowed_batches_decide_as_one_text_at_a_time(window: int) -> None:
    one = NearDeduper(window=window)
    expected = [one.check_and_add(key, text) for key, text in PAIRS]
    assert expected != UNBOUNDED  # the window forgot texts that later came back
    for sizes in ([1024], [window], [window - 1 or 1, window + 1], [3, 50, 1]):
        batched = NearDeduper(window=window)
        assert in_batches(batched, PAIRS, sizes) == expected, sizes
        assert len(batched) == len(one)


@settings(max_examples=10, deadline=None)
@given(window=st.integers(2, 60), sizes=st.lists(st.integers(1, 90), min_size=1, max_size=5))
def test_a_windowed_text_is_compared_with_exactly_the_two_remembered_generations(
    window: int, sizes: list[int]
) -> None:
    # Oracle: an unbounded deduper loaded with the kept texts of the previous and current
    # generations (kept number (k // window - 1) * window onwards, k kept so far).
    near = NearDeduper(window=window)
    decisions = in_batches(near, PAIRS, sizes)
    kept: list[tuple[str, str]] = []
    oracle = NearDeduper()
    for (key, text), decision in zip(PAIRS, decisions, strict=True):
        assert decision == oracle.check_and_add(key, text), key
        if decision is None:  # the remembered texts changed: a new oracle (a found one adds none)
            kept.append((key, text))
            remembered = kept[max(0, (len(kept) // window - 1) * window) :]
            oracle = NearDeduper(bands=(near.bands, near.rows))
            assert oracle.check_and_add_many(remembered) == [None] * len(remembered)
    assert min(window, len(kept)) <= len(near) < 2 * window


@pytest.mark.parametrize("window", [1, 5, 64])
def test_a_repeat_is_found_within_the_last_window_and_lost_beyond_two(window: int) -> None:
    texts = distinct(6 * window + 3, seed=window)
    near = NearDeduper(window=window)
    keys = [f"k{i}" for i in range(len(texts))]
    assert near.check_and_add_many(zip(keys, texts, strict=True)) == [None] * len(texts)
    found = []
    for j in reversed(range(len(texts))):  # newest first: found repeats change nothing
        # Casing and punctuation differ, the normalized text is the same: similarity 1.
        match = near.check_and_add(f"repeat-{j}", texts[j].upper() + "!")
        found.append(match == keys[j])
        assert match in (None, keys[j])
    # Every text of the last `window` kept is found; none older than the last 2 * window.
    # What is found is the newest texts without a gap: the window slides, never skips.
    count = sum(found)
    assert window <= count <= 2 * window
    assert found == [True] * count + [False] * (len(texts) - count)


def test_memory_stops_growing_once_two_generations_exist() -> None:
    window, num_perm = 2000, 64
    texts = distinct(5 * window, seed=11)
    keys = [f"ex-{i:016x}" for i in range(len(texts))]
    near = NearDeduper(0.9, num_perm, window=window)
    sizes: list[int] = []
    settled = 0
    tracemalloc.start()
    try:
        for start in range(0, len(texts), 500):
            batch = zip(keys[start : start + 500], texts[start : start + 500], strict=True)
            near.check_and_add_many(batch)
            sizes.append(near.nbytes)
            if start + 500 == 2 * window:
                settled, _ = tracemalloc.get_traced_memory()
        final, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Per entry: num_perm one-byte values, two 8-byte slots per band hash, a 19-byte key.
    bound = 2 * window * (num_perm + 2 * 8 * near.bands + len(keys[0]))
    assert max(sizes) <= bound
    # From the first batch stored in the second generation on, nothing more is allocated.
    second = window // 500
    assert sizes[second:] == [sizes[-1]] * len(sizes[second:])
    assert sizes[-1] > sizes[0]  # the second generation came in after the first filled
    # What the process really holds stays put after the second generation filled.
    assert final - settled < 50_000
    assert window <= len(near) < 2 * window


def test_nbytes_counts_what_the_deduper_really_holds() -> None:
    texts = distinct(3000, seed=5)
    keys = [f"ex-{i:016x}" for i in range(len(texts))]
    tracemalloc.start()
    try:
        start, _ = tracemalloc.get_traced_memory()
        near = NearDeduper(0.9, window=1000)
        near.check_and_add_many(zip(keys, texts, strict=True))
        used, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert near.nbytes <= used - start < near.nbytes + 100_000


def test_a_small_window_holds_far_less_than_an_unbounded_index() -> None:
    texts = distinct(6000, seed=8)
    keys = [f"ex-{i:016x}" for i in range(len(texts))]
    bounded, unbounded = NearDeduper(0.9, window=500), NearDeduper(0.9)
    for near in (bounded, unbounded):
        near.check_and_add_many(zip(keys, texts, strict=True))
    assert len(unbounded) == len(texts)
    assert bounded.nbytes < unbounded.nbytes / 4


@pytest.mark.parametrize("bad", [0, -3, True, 2.5, "100", 2**40])
def test_a_window_must_be_a_positive_whole_number(bad: object) -> None:
    with pytest.raises(ConfigError, match="window"):
        NearDeduper(window=bad)  # type: ignore[arg-type]


# --- keys -------------------------------------------------------------------------------------

ODD_KEYS = ["plain", "", "ünïcode-ключ", "nul\x00inside", "trailing\x00", "x" * 300, "tab\tkey"]


@pytest.mark.parametrize("window", [None, 3])
def test_every_kind_of_key_comes_back_exactly(window: int | None) -> None:
    near = NearDeduper(window=window)
    texts = distinct(len(ODD_KEYS), seed=2)
    assert near.check_and_add_many(zip(ODD_KEYS, texts, strict=True)) == [None] * len(texts)
    # The last `window` kept are remembered for sure; each repeat finds its key unchanged.
    recent = range(len(texts)) if window is None else range(len(texts) - window, len(texts))
    for i in recent:
        assert near.check_and_add(f"again-{i}", texts[i]) == ODD_KEYS[i]


@given(st.lists(st.lists(st.text(max_size=30), max_size=5), max_size=8))
def test_a_key_store_returns_what_was_appended(batches: list[list[str]]) -> None:
    store = KeyStore(None)
    flat: list[str] = []
    for batch in batches:
        store.append(batch)
        flat += batch
    assert [store[i] for i in range(len(store))] == flat
    store.clear()
    store.append(["after-clear"])
    assert len(store) == 1
    assert store[0] == "after-clear"


def test_short_ascii_keys_cost_their_length() -> None:
    store = KeyStore(1000)
    store.append([f"ex-{i:016x}" for i in range(10)])
    assert store.nbytes == 1000 * 19  # allocated once, for the whole generation
    store.append(["a-longer-key-than-the-rest-0123456789"])  # widens, stays bytes
    assert store.nbytes == 1000 * 37
    assert store[3] == "ex-0000000000000003"
    store.append(["naïve"])  # not ASCII: a list of str from here
    assert store.nbytes >= sys.getsizeof([]) + 12 * sys.getsizeof("")
    assert [store[0], store[10], store[11]] == [
        "ex-0000000000000000",
        "a-longer-key-than-the-rest-0123456789",
        "naïve",
    ]


# --- the fixed-size band index ----------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 7, 1000, 12_345])
def test_a_table_sized_for_its_keys_holds_them_without_growing(count: int) -> None:
    rng = np.random.default_rng(count)
    table = HashMultiMap.holding(count)
    size = table.nbytes
    assert size == 8 * max(16, 2 * count)  # not rounded up to a power of two
    keys = rng.integers(0, 2**64 - 1, size=count, dtype=np.uint64, endpoint=True)
    keys[: count // 10 + 1] = np.uint64(2**64 - 1)  # many in the last slot: probes wrap
    for part in np.array_split(np.arange(count), 3):
        table.insert(keys[part], part.astype(np.int32))
    assert table.nbytes == size
    at, values = table.lookup(keys)
    pairs = set(zip(at.tolist(), values.tolist(), strict=True))
    assert {(i, i) for i in range(count)} <= pairs
    same = keys[: count // 10 + 1]
    assert all((0, j) in pairs for j in range(len(same)))  # a key holds several values
    table.clear()
    assert len(table) == 0
    assert len(table.lookup(keys)[0]) == 0
    assert table.nbytes == size


def test_the_run_config_and_cli_set_the_window(tmp_path: Path) -> None:
    from augment_ft.cli import main
    from augment_ft.core.config import RunConfig
    from augment_ft.pipeline.build import build_deduplicator

    with build_deduplicator(RunConfig()) as default:
        assert default.near is not None and default.near.window == 250_000
    with build_deduplicator(RunConfig(near_window=0)) as unbounded:
        assert unbounded.near is not None and unbounded.near.window is None
    # Through the CLI: a window of 1 forgets a text two kept texts later.
    corpus = tmp_path / "c.jsonl"
    texts = ["the quick brown fox jumps over the lazy dog near the river bank today"] + [
        f"completely different sentence number {i} about {i * 7} unrelated things" for i in range(3)
    ]
    texts.append(texts[0].replace("today", "todai"))  # a near-duplicate of the first
    corpus.write_text(
        "".join(f'{{"id": "d{i}", "text": "{t}"}}\n' for i, t in enumerate(texts)),
        encoding="utf-8",
    )
    counts = {}
    for window in ("0", "1"):
        out = tmp_path / f"o{window}.jsonl"
        args = [str(corpus), "-o", str(out), "--strategies", "split", "--backend", "scripted"]
        assert main(["run", *args, "--near-window", window, "-q"]) == 0
        counts[window] = len(out.read_text(encoding="utf-8").splitlines())
    assert counts["1"] > counts["0"]

"""Dedup throughput on short sentences: augment_ft vs a plain datasketch MinHashLSH loop.

Usage: python benchmarks/dedup_speed.py [N]   (default 100000 sentences)

The corpus is synthetic: distinct sentences of 6-16 made-up words, plus 5% exact repeats
(case and punctuation changed) and 10% near repeats (one character changed). CPU seconds
(process_time) are reported so that other load on the machine distorts them less.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable

from augment_ft.core.drops import DropLog
from augment_ft.core.models import Example, Provenance
from augment_ft.dedup import Deduplicator, NearDeduper, normalize_for_dedup


def corpus(n: int, seed: int = 0) -> list[str]:
    """Short sentences with some exact and near repeats, shuffled."""
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocab = ["".join(rng.choices(letters, k=rng.randint(3, 9))) for _ in range(20000)]
    texts: list[str] = []
    while len(texts) < n:
        roll = rng.random()
        if texts and roll < 0.05:
            texts.append(rng.choice(texts).upper().replace(" ", " , "))
        elif texts and roll < 0.15:
            text = rng.choice(texts)
            pos = rng.randrange(len(text))
            texts.append(text[:pos] + rng.choice(letters) + text[pos + 1 :])
        else:
            words = rng.choices(vocab, k=rng.randint(6, 16))
            texts.append(" ".join(words).capitalize() + ".")
    return texts


def timed(label: str, n: int, fn: Callable[[], int]) -> None:
    cpu, wall = time.process_time(), time.perf_counter()
    dropped = fn()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(f"{label:<44} {n / cpu:>9,.0f} ex/s CPU  {n / wall:>9,.0f} ex/s wall  dropped {dropped}")


def datasketch_baseline(texts: list[str], threshold: float) -> int:
    """The usual loop: one MinHash per text over character 5-shingles, query, insert."""
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=64)
    empty = MinHash(num_perm=64)
    seen: set[str] = set()
    dropped = 0
    for i, text in enumerate(texts):
        norm = normalize_for_dedup(text)
        if norm in seen:
            dropped += 1
            continue
        seen.add(norm)
        sig = empty.copy()
        sig.update_batch([norm[j : j + 5].encode() for j in range(max(1, len(norm) - 4))])
        if lsh.query(sig):
            dropped += 1
            continue
        lsh.insert(i, sig)
    return dropped


def examples(texts: list[str]) -> list[Example]:
    prov = Provenance(source_id="bench", strategy="original")
    return [Example(completion=t, kind="original", provenance=prov) for t in texts]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    threshold = 0.85
    texts = corpus(n)
    small = texts[: min(n, 20_000)]
    print(f"{n} sentences, mean {sum(map(len, texts)) / n:.0f} characters, threshold {threshold}")
    timed(
        "datasketch MinHashLSH loop (first 20k)",
        len(small),
        lambda: datasketch_baseline(small, threshold),
    )

    def near_one_by_one() -> int:
        near = NearDeduper(threshold)
        return sum(near.check_and_add(str(i), t) is not None for i, t in enumerate(small))

    timed("NearDeduper.check_and_add (first 20k)", len(small), near_one_by_one)

    def near_batched() -> int:
        near = NearDeduper(threshold)
        pairs = ((str(i), t) for i, t in enumerate(texts))
        return sum(m is not None for m in near.check_and_add_many(pairs))

    timed("NearDeduper.check_and_add_many", n, near_batched)
    rows = examples(texts)

    def stage(filtering: bool) -> int:
        dedup = Deduplicator(near=NearDeduper(threshold), drops=DropLog())
        if filtering:
            kept = sum(1 for _ in dedup.filter(rows))
        else:
            kept = sum(dedup.admit(row) for row in rows[: len(small)])
        return dedup.checked - kept

    timed("Deduplicator.admit, exact+near (first 20k)", len(small), lambda: stage(False))
    timed("Deduplicator.filter, exact+near", n, lambda: stage(True))


if __name__ == "__main__":
    main()

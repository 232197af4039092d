"""Deduplication at scale: 1,000,000 short examples through augment_ft vs plain datasketch.

Run: .venv/bin/python benchmarks/dedup_scale.py [N]   (default 1000000)

The texts are benchmarks/dedup_speed.py's corpus (short made-up sentences, 5% exact repeats
with case and punctuation changed, 10% near repeats with one character changed). Each
contender runs in a child process of its own, so its peak RSS (VmHWM) is its own; the
"corpus only" child just builds the texts, which every other child holds too, so the
difference is what deduplication costs. All use threshold 0.9, 64 permutations and
5-character shingles of the same normalized text (the CLI's defaults).

- augment_ft Deduplicator.filter: what the pipeline runs, fed Examples made on the fly
  (the Example construction is timed too, and shown apart on its own row);
- the same with the near-dedup window the CLI uses by default (250,000 kept texts), which
  bounds memory and finds only the near-duplicates within the window;
- augment_ft on texts: ExactDeduper then NearDeduper, a batch of 1024 at a time;
- datasketch: the usual loop (exact set, MinHash.update_batch, MinHashLSH query, insert).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from dedup_speed import corpus, datasketch_baseline

THRESHOLD, NUM_PERM, SHINGLE = 0.9, 64, 5
MODES = ("corpus", "examples", "deduplicator", "windowed", "texts", "datasketch")
WINDOW = 250_000  # the CLI's default near_window


def examples(texts: list[str]) -> Iterator[object]:
    from augment_ft.core.models import Example, Provenance

    prov = Provenance(source_id="bench", strategy="original")
    for text in texts:
        yield Example(completion=text, kind="original", provenance=prov)


def run_examples(texts: list[str]) -> int:
    """Only build the Examples (and their ids), to separate that cost from dedup's."""
    return sum(len(e.id) > 0 for e in examples(texts)) * 0  # type: ignore[attr-defined]


def run_deduplicator(texts: list[str]) -> int:
    from augment_ft.core.drops import DropLog
    from augment_ft.dedup import Deduplicator, NearDeduper

    dedup = Deduplicator(near=NearDeduper(THRESHOLD, NUM_PERM, SHINGLE), drops=DropLog())
    kept = sum(1 for _ in dedup.filter(examples(texts)))  # type: ignore[arg-type]
    return len(texts) - kept


def run_windowed(texts: list[str]) -> int:
    """The pipeline's defaults: near-duplicates among the last 250,000-500,000 kept."""
    from augment_ft.core.drops import DropLog
    from augment_ft.dedup import Deduplicator, NearDeduper

    near = NearDeduper(THRESHOLD, NUM_PERM, SHINGLE, window=WINDOW)
    with Deduplicator(near=near, drops=DropLog()) as dedup:
        kept = sum(1 for _ in dedup.filter(examples(texts)))  # type: ignore[arg-type]
    return len(texts) - kept


def run_texts(texts: list[str]) -> int:
    from augment_ft.dedup import NearDeduper, normalize_for_dedup
    from augment_ft.dedup.exact import ExactDeduper

    exact, near = ExactDeduper(), NearDeduper(THRESHOLD, NUM_PERM, SHINGLE)
    dropped = 0
    for start in range(0, len(texts), 1024):
        keys, batch = [], []
        for i, text in enumerate(texts[start : start + 1024], start=start):
            norm = normalize_for_dedup(text)
            if exact.check_normalized(norm):
                dropped += 1
            else:
                keys.append(str(i))
                batch.append(norm)
        dropped += sum(m is not None for m in near.check_normalized(keys, batch))
    return dropped


def run_datasketch(texts: list[str]) -> int:
    """dedup_speed.py's datasketch loop (it uses 64 permutations and 5-shingles, as here)."""
    return datasketch_baseline(texts, THRESHOLD)


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(mode: str, n: int) -> None:
    texts = corpus(n)
    runner = {
        "corpus": lambda t: 0,
        "examples": run_examples,
        "deduplicator": run_deduplicator,
        "windowed": run_windowed,
        "texts": run_texts,
        "datasketch": run_datasketch,
    }[mode]
    cpu, wall = time.process_time(), time.perf_counter()
    dropped = runner(texts)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(json.dumps({"wall": wall, "cpu": cpu, "dropped": dropped, "rss": peak_rss_mb()}))


def load() -> str:
    return "load average " + " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]))
        return
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    print(f"{n:,} short examples, threshold {THRESHOLD}, {NUM_PERM} perms, {SHINGLE}-char shingles")
    print(f"{os.cpu_count()} CPUs; {load()}")
    results = {}
    for mode in MODES:
        out = subprocess.run(
            [sys.executable, __file__, "--child", mode, str(n)],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        results[mode] = json.loads(out)
        print(f"  finished {mode}; {load()}", flush=True)
    base_rss = results["corpus"]["rss"]
    ref = results["datasketch"]
    print(f"\ncorpus alone: peak RSS {base_rss:,.0f} MB (held by every child below)")
    heads = ("wall s", 8), ("CPU s", 8), ("ex/s", 10), ("dropped", 9), ("RSS MB", 8)
    heads += ("+dedup MB", 10), ("speed vs ds", 12), ("mem vs ds", 10)
    print(f"{'contender':<34}" + "".join(f"{h:>{w}}" for h, w in heads))
    rows = (
        ("augment_ft Deduplicator.filter", "deduplicator"),
        ("  same, near window 250,000", "windowed"),
        ("  of which Example construction", "examples"),
        ("augment_ft Exact+NearDeduper", "texts"),
        ("datasketch MinHashLSH loop", "datasketch"),
    )
    for label, mode in rows:
        r = results[mode]
        extra = r["rss"] - base_rss
        speed = ref["wall"] / r["wall"] if r["wall"] else float("nan")
        memory = extra / (ref["rss"] - base_rss)
        print(
            f"{label:<34}{r['wall']:>8.1f}{r['cpu']:>8.1f}{n / r['wall']:>10,.0f}{r['dropped']:>9,}"
            f"{r['rss']:>8,.0f}{extra:>10,.0f}{speed:>12.2f}{memory:>10.2f}"
        )
    print(load())


if __name__ == "__main__":
    main()

"""Sentence splitter speed on ~10 MB of generated text, next to a naive regex baseline.

Run: .venv/bin/python benchmarks/split_speed.py [--mb 10] [--repeat 3]
The baseline cuts paragraphs on blank lines and splits after every . ! ? that a space
follows; it is wrong on abbreviations, quotes and lists, and shows what correctness costs.
"""

from __future__ import annotations

import argparse
import random
import re
import time
from collections.abc import Callable, Sized

from augment_ft.text.splitter import split_sentences

_NAMES = ["Dr. Ilsa Varn", "Prof. Oskar Thelm", "Mrs. Quill", "J. R. R. Brannock", "St. Elvar"]
_THINGS = ["the grusk", "a feral zarp", "the Quorvel Inc. hatchery", "three dax", "the old fep"]
_PROSE = [
    "{name} studied {thing} for {n} years, e.g. in the U.S. and the U.K.",
    '{name} said "Feed {thing} at 9 a.m. sharp." Then she left.',
    "Version v{n}.{m}.{k} of the report (see Fig. {n}) costs ${n}.{m}0.",
    "Wait... was it {thing}? Nobody knew! Or did they?!",
    "The yield rose by {n}.{m}% vs. last year, i.e. more than {thing} needed.",
    "Write to varn.{n}@quorvel.example.org or visit quorvel.example.com for No. {n}.",
    "({name} disagreed.) {thing} still slept until {n} p.m. The rest is history.",
    "{n} grusks were counted; etc. was written after the list, and it ended there.",
]
_FOREIGN = [
    "Il a dit \u00ab Arr\u00eate. \u00bb Puis {name} est parti. \u00c9cole ferm\u00e9e.",
    "Das kostet z. B. {n} Euro usw. \u00dcber Nacht kam Nr. {n} an.",
    "\u00bfVienes ma\u00f1ana? \u00a1Claro que s\u00ed! {name} lo sabe.",
]


def _paragraph(rng: random.Random) -> str:
    """One paragraph: prose, a Markdown list, or a heading with a short body."""

    def fill(template: str) -> str:
        return template.format(
            name=rng.choice(_NAMES),
            thing=rng.choice(_THINGS),
            n=rng.randint(1, 99),
            m=rng.randint(0, 9),
            k=rng.randint(0, 9),
        )

    shape = rng.random()
    if shape < 0.15:
        return "\n".join(f"- {fill(rng.choice(_PROSE))}" for _ in range(rng.randint(2, 5)))
    if shape < 0.25:
        return f"## Part {rng.randint(1, 50)}\n" + fill(rng.choice(_PROSE))
    pool = _FOREIGN if shape < 0.35 else _PROSE
    sentences = [fill(rng.choice(pool)) for _ in range(rng.randint(2, 8))]
    # Wrap some paragraphs over several lines, as plain-text sources do.
    joiner = "\n" if rng.random() < 0.3 else " "
    return joiner.join(sentences)


def build_text(megabytes: float, seed: int = 20250511) -> str:
    """About ``megabytes`` MB of UTF-8 text, the same for the same seed."""
    rng = random.Random(seed)
    parts: list[str] = []
    size = 0
    while size < megabytes * 1_000_000:
        para = _paragraph(rng)
        parts.append(para)
        size += len(para.encode("utf-8")) + 2
    return "\n\n".join(parts)


_NAIVE_PARA = re.compile(r"\n\s*\n")
_NAIVE_SENT = re.compile(r"(?<=[.!?])\s+")


def naive_split(text: str) -> list[str]:
    """The baseline: blank-line paragraphs, then a split after every terminator."""
    return [s for para in _NAIVE_PARA.split(text) for s in _NAIVE_SENT.split(para) if s.strip()]


def _best_time(func: Callable[[str], Sized], text: str, repeat: int) -> tuple[float, float, int]:
    """Best wall-clock and best CPU seconds over ``repeat`` runs, and the sentence count.

    CPU time is shown too because on a shared machine wall time mostly measures the neighbours.
    """
    wall, cpu, count = float("inf"), float("inf"), 0
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        count = len(func(text))
        wall = min(wall, time.perf_counter() - w0)
        cpu = min(cpu, time.process_time() - c0)
    return wall, cpu, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=10.0, help="text size in MB (default 10)")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best is kept")
    args = parser.parse_args()
    text = build_text(args.mb)
    mb = len(text.encode("utf-8")) / 1_000_000
    print(f"text: {mb:.1f} MB, {len(text):,} characters, best of {args.repeat} runs")
    results = {
        "augment_ft": _best_time(split_sentences, text, args.repeat),
        "naive re.split": _best_time(naive_split, text, args.repeat),
    }
    for name, (wall, cpu, count) in results.items():
        print(
            f"{name:>15}: wall {wall:5.2f} s {mb / wall:5.1f} MB/s | cpu {cpu:5.2f} s "
            f"{mb / cpu:5.1f} MB/s {count / cpu:>10,.0f} sentences/s | {count:,} sentences"
        )
    ours, naive = results["augment_ft"], results["naive re.split"]
    print(
        f"cost of correctness: augment_ft takes {ours[1] / naive[1]:.1f}x the naive CPU time "
        f"({ours[0] / naive[0]:.1f}x wall)"
    )


if __name__ == "__main__":
    main()

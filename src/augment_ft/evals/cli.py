"""``augment-ft eval``: make a probe, score its items with a model, measure coverage.

Kept apart from :mod:`augment_ft.cli` (which only mounts it) so the main CLI stays one
screen per concern; heavy imports happen inside the commands.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from augment_ft.core.errors import ConfigError, OutputError

__all__ = ["add_eval_parser", "run_eval"]

Formatter = Callable[[str], argparse.HelpFormatter]


def add_eval_parser(sub: Any, formatter: Formatter) -> None:
    """Mount ``eval make|score|coverage|audit`` on the main parser's subcommands."""
    ev = sub.add_parser(
        "eval",
        formatter_class=formatter,
        help="evaluation probes: make, score, coverage; audit a dataset",
        description="The paper's nonsense-word probes (reversals, syllogisms, semantic "
        "structure),\nscored by likelihood; see docs/evaluation.md.",
    )
    verbs = ev.add_subparsers(dest="eval_command", metavar="EVAL_COMMAND", required=True)
    mk = verbs.add_parser(
        "make",
        formatter_class=formatter,
        help="write a probe's train, test and facts files",
        description="Write DIR/train.jsonl (documents), DIR/test.jsonl (items), "
        "DIR/facts.jsonl\n(the trained structure) and DIR/probe.json (counts).",
    )
    mk.add_argument("probe", metavar="PROBE", help="reversals, syllogisms or semantic")
    mk.add_argument("-o", "--output", required=True, metavar="DIR", help="directory to write")
    mk.add_argument("--seed", type=int, default=0, metavar="N", help="seed (default 0)")
    mk.add_argument("--force", action="store_true", help="overwrite existing files")
    _add_score_parser(verbs, formatter)
    cov = verbs.add_parser(
        "coverage",
        formatter_class=formatter,
        help="share of test statements a dataset states (no model)",
        description="For each split: the share of items whose correct statement the "
        "dataset states,\nand the share whose distractor it states (a hallucination signal).",
    )
    cov.add_argument("data", metavar="DATA.jsonl", help="JSONL written by augment-ft (any format)")
    cov.add_argument("items", metavar="ITEMS", help="a probe's test.jsonl")
    cov.add_argument("--json", default=None, metavar="OUT.json", help="also write the numbers")
    au = verbs.add_parser(
        "audit",
        formatter_class=formatter,
        help="print a sample of model-written rows beside their sources",
        description="A random sample of the rows a model wrote, each beside the sentence or "
        "document\nit came from, the model, and the verify stage's verdict, for a person to "
        "read.",
    )
    au.add_argument("data", metavar="OUT.jsonl", help="an output file of augment-ft run")
    au.add_argument("--n", type=int, default=20, metavar="N", help="rows to sample (default 20)")
    au.add_argument("--seed", type=int, default=0, metavar="S", help="sampling seed (default 0)")
    au.add_argument(
        "--inputs",
        nargs="+",
        default=[],
        metavar="INPUT",
        help="the run's inputs, to show whole documents as sources",
    )


def _add_score_parser(verbs: Any, formatter: Formatter) -> None:
    sc = verbs.add_parser(
        "score",
        formatter_class=formatter,
        help="accuracy per split by likelihood",
        description="Score each option's log-likelihood after the prompt (options never "
        "shown);\nprint accuracy per split with its standard error and chance level.",
    )
    sc.add_argument("items", metavar="ITEMS", help="a probe's test.jsonl")
    sc.add_argument(
        "--backend",
        choices=["local", "openai"],
        default="local",
        help="local = a GGUF model in process (exact; default: embedded SmolLM2); openai = "
        "a server returning prompt log-probabilities (echo), e.g. vLLM",
    )
    sc.add_argument(
        "--model",
        default=None,
        help="local: qwen2.5-coder-1.5b (default), smollm2 or a GGUF path; openai: model name",
    )
    sc.add_argument("--base-url", default=None, metavar="URL", help="OpenAI-compatible base URL")
    sc.add_argument(
        "--n-ctx", type=int, default=4096, metavar="TOKENS", help="context of the local model"
    )
    sc.add_argument(
        "--normalize", action="store_true", help="divide log-likelihoods by option length (bytes)"
    )
    sc.add_argument(
        "--in-context",
        default=None,
        metavar="TRAIN.jsonl",
        help="put each item's supporting documents from this file in the prompt",
    )
    sc.add_argument("--limit", type=int, default=None, metavar="N", help="score the first N")
    sc.add_argument("--concurrency", type=int, default=4, metavar="N", help="items in flight")
    sc.add_argument("--json", default=None, metavar="OUT.json", help="write the summary")
    sc.add_argument("--details", default=None, metavar="OUT.jsonl", help="write every item")


def _write_json(path: str, data: object) -> None:
    try:
        Path(path).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc}") from exc


def _cmd_make(args: argparse.Namespace) -> int:
    from augment_ft.evals.items import write_probe
    from augment_ft.evals.probes import make_probe

    probe = make_probe(args.probe, args.seed)
    paths = write_probe(probe, args.output, force=args.force)
    summary = probe.summary()
    print(f"{args.probe} (seed {args.seed}): {summary['documents']} documents, ", end="")
    print(f"{summary['items']} items {summary['items_by_split']}, {summary['facts']} facts")
    for name, path in paths.items():
        print(f"  {name}: {path}")
    return 0


def _scorer(args: argparse.Namespace) -> Any:
    if args.backend == "local":
        from augment_ft.backends.local import LocalBackend

        return LocalBackend(args.model, n_ctx=args.n_ctx)
    from augment_ft.evals.openai_scorer import OpenAILogprobScorer

    if not args.model:
        raise ConfigError("eval score --backend openai needs --model (the server's model id)")
    return OpenAILogprobScorer(args.model, base_url=args.base_url)


async def _score(args: argparse.Namespace, items: list[Any]) -> Any:
    from augment_ft.evals.scoring import score_items

    scorer = _scorer(args)
    try:
        return await score_items(
            items, scorer, normalize=args.normalize, concurrency=args.concurrency
        )
    finally:
        closer = getattr(scorer, "aclose", None)
        if closer is not None:
            await closer()
        else:
            scorer.close()


def _cmd_score(args: argparse.Namespace) -> int:
    from augment_ft.backends.base import run_sync
    from augment_ft.evals.in_context import with_context
    from augment_ft.evals.items import read_documents_jsonl, read_items

    items = read_items(args.items)[: args.limit]
    if args.in_context:
        items = with_context(items, read_documents_jsonl(args.in_context))
    if not items:
        raise ConfigError(f"{args.items} holds no test items")
    report = run_sync(_score(args, items))
    print(report.render_table())
    if args.json:
        _write_json(args.json, report.to_dict())
    if args.details:
        lines = "".join(json.dumps(r.to_dict(), sort_keys=True) + "\n" for r in report.results)
        try:
            Path(args.details).write_text(lines, encoding="utf-8")
        except OSError as exc:
            raise OutputError(f"cannot write {args.details}: {exc}") from exc
    return 0


def _cmd_coverage(args: argparse.Namespace) -> int:
    from augment_ft.evals.covered import coverage
    from augment_ft.evals.items import read_items

    report = coverage(args.data, read_items(args.items))
    print(report.render_table())
    if args.json:
        _write_json(args.json, report.to_dict())
    return 0


def _cmd_audit(args: argparse.Namespace) -> int:
    from augment_ft.evals.audit import audit_rows, render_audit

    if args.n < 1:
        raise ConfigError("--n must be 1 or more")
    print(render_audit(audit_rows(args.data, n=args.n, seed=args.seed, inputs=args.inputs)))
    return 0


_VERBS: dict[str, Callable[[argparse.Namespace], int]] = {
    "make": _cmd_make,
    "score": _cmd_score,
    "coverage": _cmd_coverage,
    "audit": _cmd_audit,
}


def run_eval(args: argparse.Namespace) -> int:
    """Run the ``eval`` verb the arguments name; errors propagate to the main CLI."""
    if args.eval_command == "score" and args.limit is not None and args.limit < 1:
        raise ConfigError("--limit must be 1 or more")
    return _VERBS[args.eval_command](args)

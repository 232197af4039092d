"""The ``augment-ft`` command line: run, estimate, validate, stats, dedup, eval.

Exit codes: 0 ok, 1 the run (or the validated file) failed, 2 usage or configuration error.
User errors print one clear message, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from augment_ft.cli.flags import add_config_flags, config_overrides
from augment_ft.cli.versus_icl import add_versus_icl_flags, run_versus_icl, wants_versus_icl
from augment_ft.core.config import RunConfig, load_config
from augment_ft.core.errors import AugmentError, ConfigError, InputError
from augment_ft.evals.cli import add_eval_parser, run_eval

if TYPE_CHECKING:
    from augment_ft.core.report import RunReport

__all__ = ["build_parser", "main", "render_cli_docs"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
_WIDTH = 88


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, width=_WIDTH, max_help_position=32)


def _add_run_arguments(p: argparse.ArgumentParser, *, output_required: bool) -> None:
    """Flags shared by ``run`` and ``estimate``: the config fields, plus the config file."""
    from augment_ft.outputs.formats import FORMATS
    from augment_ft.strategies.builtin import STRATEGIES

    extra = {
        "format": "one of " + ", ".join(FORMATS.names()),
        "strategies": "known: " + ", ".join(STRATEGIES.names()),
    }
    if output_required:
        extra["output"] = "required"
    add_config_flags(p, extra_help=extra)
    p.add_argument(
        "--config",
        default=None,
        metavar="FILE.toml",
        help="TOML config; command-line flags override it",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress, no table")


def build_parser() -> argparse.ArgumentParser:
    """The full parser; ``docs/cli.md`` is generated from its help."""
    parser = argparse.ArgumentParser(
        prog="augment-ft",
        formatter_class=_formatter,
        description="Turn documents into augmented fine-tuning datasets.",
        epilog="exit codes: 0 ok; 1 the run failed, or the checked file has problems;\n"
        "            2 usage or configuration error",
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    run = sub.add_parser(
        "run",
        formatter_class=_formatter,
        help="augment documents into JSONL",
        description="Read documents, augment them, deduplicate, write JSONL.",
    )
    _add_run_arguments(run, output_required=True)
    est = sub.add_parser(
        "estimate",
        formatter_class=_formatter,
        help="count calls, tokens and cost; calls no backend",
        description="Same inputs as run; no model is called and nothing "
        "is written. Completion tokens are an upper bound (max_tokens).",
    )
    _add_run_arguments(est, output_required=False)
    add_versus_icl_flags(est)
    val = sub.add_parser(
        "validate",
        formatter_class=_formatter,
        help="check a JSONL file against a format",
        description="List problems by line; exit 1 if there are any.",
    )
    val.add_argument("file", metavar="FILE")
    val.add_argument("--format", default="openai-chat", help="format to check against")
    val.add_argument(
        "--max-tokens", type=int, default=65536, metavar="N", help="token limit per example"
    )
    st = sub.add_parser(
        "stats",
        formatter_class=_formatter,
        help="counts, tokens and kinds",
        description="Records, token histogram and kinds of a JSONL file.",
    )
    st.add_argument("file", metavar="FILE")
    st.add_argument("--model", default="", help="model whose tokenizer counts (default cl100k)")
    dd = sub.add_parser(
        "dedup",
        formatter_class=_formatter,
        help="deduplicate a JSONL file",
        description="Drop exact and near duplicates (and overlaps with "
        "evaluation files) from a JSONL file of records.",
    )
    dd.add_argument("file", metavar="IN", help="JSONL file of records (any built-in format)")
    dd.add_argument("-o", "--output", required=True, metavar="OUT", help="where kept records go")
    dd.add_argument(
        "--against",
        nargs="+",
        default=[],
        metavar="EVAL",
        help="drop records that overlap these evaluation files",
    )
    dd.add_argument(
        "--near-threshold",
        type=float,
        default=0.9,
        metavar="F",
        help="MinHash similarity that counts as a near-duplicate (default 0.9)",
    )
    dd.add_argument(
        "--no-near-dedup", dest="near", action="store_false", help="exact deduplication only"
    )
    dd.add_argument(
        "--ngram", type=int, default=13, metavar="N", help="word n-gram for decontamination"
    )
    dd.add_argument("--force", action="store_true", help="overwrite an existing OUT")
    add_eval_parser(sub, _formatter)
    return parser


def _version() -> str:
    from augment_ft import __version__

    return f"augment-ft {__version__}"


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """The config file (if any) with the flags that were given laid over it."""
    base = load_config(args.config) if args.config else RunConfig()
    return base.with_overrides(config_overrides(args))


def _progress(quiet: bool) -> Callable[[int, int], None] | None:
    if quiet or not sys.stderr.isatty():
        return None

    def show(docs: int, examples: int) -> None:
        sys.stderr.write(f"\r  documents {docs}  examples {examples}")
        sys.stderr.flush()

    return show


def _runner(
    config: RunConfig, progress: Callable[[int, int], None] | None, estimate: bool
) -> tuple[Callable[[], RunReport], Callable[[], bool]]:
    """How to run ``config`` (on Ray with ``--engine ray``, else in this process), and
    whether a failed run has left work that ``--resume`` continues."""
    if config.engine == "ray" and not estimate:
        from augment_ft.cluster import prepare_ray_run

        job = prepare_ray_run(config, progress=None if progress is None else _show_line)
        return job.run, lambda: True
    from augment_ft.backends.base import run_sync
    from augment_ft.pipeline.build import build_pipeline

    pipeline = build_pipeline(config, progress=progress, estimate=estimate)
    return lambda: run_sync(pipeline.run()), lambda: pipeline.sink.opened


def _show_line(line: str) -> None:
    sys.stderr.write(f"\r  {line}")
    sys.stderr.flush()


def _cmd_run(args: argparse.Namespace, *, estimate: bool = False) -> int:
    from augment_ft.core.report import render_table

    config = config_from_args(args)
    if not estimate and not config.output:
        raise ConfigError("run needs an output file: -o OUT.jsonl (or 'output' in the config)")
    progress = _progress(args.quiet)
    try:
        execute, resumable = _runner(config, progress, estimate)
    except InputError as exc:  # a missing or unusable input path is a usage error
        raise ConfigError(str(exc)) from exc
    try:
        report = execute()
    except ConfigError:
        raise
    except AugmentError as exc:
        if progress is not None:
            sys.stderr.write("\n")  # end the progress line before the message
        _error(exc)
        if resumable():
            print(
                "augment-ft: what was written is kept; once the cause is fixed, rerun the "
                "same command with --resume to continue (cached responses are reused)",
                file=sys.stderr,
            )
        return EXIT_FAILED
    if not args.quiet:
        if progress is not None:
            sys.stderr.write("\n")
        print(render_table(report))
    else:
        for name, path in report.outputs.items():
            print(f"{name}: {path}")
    return EXIT_OK


def _cmd_estimate(args: argparse.Namespace) -> int:
    """The run's estimate, or with ``--versus-icl`` its comparison with in-context learning."""
    if not wants_versus_icl(args):
        return _cmd_run(args, estimate=True)
    progress = _progress(args.quiet)

    def end_progress() -> None:
        if progress is not None:
            sys.stderr.write("\n")

    return run_versus_icl(args, config_from_args(args), progress, end_progress)


def _error(exc: BaseException) -> None:
    print(f"augment-ft: error: {exc}", file=sys.stderr)


def _cmd_validate(args: argparse.Namespace) -> int:
    from augment_ft.outputs.formats import FORMATS, validate_file

    fmt = FORMATS.create(args.format, max_tokens=args.max_tokens)
    problems = validate_file(args.file, fmt)
    for line, problem in problems:
        print(f"{args.file}:{line}: {problem}")
    if problems:
        print(f"{len(problems)} problem(s) in {args.file}", file=sys.stderr)
        return EXIT_FAILED
    print(f"{args.file}: valid {args.format}")
    return EXIT_OK


def _cmd_stats(args: argparse.Namespace) -> int:
    from augment_ft.outputs.stats import file_stats, render_stats

    print(render_stats(file_stats(args.file, model=args.model)))
    return EXIT_OK


def _cmd_dedup(args: argparse.Namespace) -> int:
    from augment_ft.pipeline.file_dedup import dedup_file

    result = dedup_file(
        args.file,
        args.output,
        against=args.against,
        near=args.near,
        threshold=args.near_threshold,
        ngram=args.ngram,
        force=args.force,
    )
    print(result)
    return EXIT_OK


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "run": _cmd_run,
    "estimate": _cmd_estimate,
    "validate": _cmd_validate,
    "stats": _cmd_stats,
    "dedup": _cmd_dedup,
    "eval": run_eval,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code (argparse's too)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        return _COMMANDS[args.command](args)
    except ConfigError as exc:
        _error(exc)
        return EXIT_USAGE
    except AugmentError as exc:
        _error(exc)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("\naugment-ft: interrupted; rerun with --resume to continue", file=sys.stderr)
        return 130


def render_cli_docs() -> str:
    """Markdown of every command's ``--help``, for docs/cli.md (checked in CI)."""
    parser = build_parser()
    parts = [
        "# Command-line reference",
        "",
        "Generated from `augment-ft --help` by `make docs-cli`; a test fails when it is stale.",
        "",
        "```text",
        parser.format_help().rstrip(),
        "```",
    ]
    for name, p in _commands(parser, "augment-ft"):
        parts += ["", f"## {name}", "", "```text", p.format_help().rstrip(), "```"]
    return "\n".join(parts) + "\n"


def _commands(
    parser: argparse.ArgumentParser, prefix: str
) -> list[tuple[str, argparse.ArgumentParser]]:
    """Every subcommand, depth first (``augment-ft eval`` then ``augment-ft eval make``)."""
    found: list[tuple[str, argparse.ArgumentParser]] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, p in action.choices.items():
                found.append((f"{prefix} {name}", p))
                found += _commands(p, f"{prefix} {name}")
    return found


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""``augment-ft estimate --versus-icl``: the flags and the command (see docs/choosing.md)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from augment_ft.core.errors import ConfigError, InputError

if TYPE_CHECKING:
    from augment_ft.core.config import RunConfig
    from augment_ft.pipeline.pipeline import Progress

__all__ = ["add_versus_icl_flags", "run_versus_icl", "wants_versus_icl"]

# flag -> dest: not "prices", which is the run config's own table of generation prices
_FLAGS = {"--prices": "prices_file", "--json": "json", "--plot": "plot"}


def add_versus_icl_flags(parser: argparse.ArgumentParser) -> None:
    """``--versus-icl`` and the flags that go with it, in a group of their own."""
    group = parser.add_argument_group(
        "in-context learning vs fine-tuning",
        "Compare keeping the corpus in every prompt with fine-tuning on what this run\n"
        "would write: per-query and one-time costs, and the break-even number of queries\n"
        "(formulas in docs/choosing.md).",
    )
    group.add_argument(
        "--versus-icl",
        action="store_true",
        help="compare in-context learning with augmented fine-tuning (needs --prices)",
    )
    group.add_argument(
        "--prices",
        dest="prices_file",
        metavar="PRICES.toml",
        default=None,
        help="epochs, [base], [fine_tuned] and [query]: US dollars per 1M tokens, query sizes",
    )
    group.add_argument(
        "--json", action="store_true", help="print the comparison as JSON instead of a table"
    )
    group.add_argument(
        "--plot",
        metavar="FILE.png",
        default=None,
        help="draw cumulative cost against queries for both (extra 'train': matplotlib)",
    )


def wants_versus_icl(args: argparse.Namespace) -> bool:
    """Whether any of the comparison's flags was given."""
    return bool(args.versus_icl or any(getattr(args, dest) for dest in _FLAGS.values()))


def run_versus_icl(
    args: argparse.Namespace,
    config: RunConfig,
    progress: Progress | None,
    end_progress: Callable[[], None],
) -> int:
    """Measure the configured run (a dry run), compare, print; optionally plot."""
    from augment_ft.pipeline.cost_model import compare_costs, load_prices, render_comparison
    from augment_ft.pipeline.cost_plot import plot_comparison, require_matplotlib
    from augment_ft.pipeline.versus_icl import measure_run

    given = [flag for flag, dest in _FLAGS.items() if getattr(args, dest)]
    if not args.versus_icl:
        raise ConfigError(f"{', '.join(given)} needs --versus-icl")
    if not args.prices_file:
        raise ConfigError("--versus-icl needs --prices PRICES.toml (see docs/choosing.md)")
    prices = load_prices(args.prices_file)  # a bad file fails before the dry run
    if args.plot:
        require_matplotlib()
    try:
        measure = measure_run(config, progress=progress)
    except InputError as exc:  # a missing or unusable input path is a usage error
        raise ConfigError(str(exc)) from exc
    finally:
        end_progress()
    result = compare_costs(
        corpus_tokens=measure.corpus_tokens,
        augmented_tokens=measure.augmented_tokens,
        generation_cost=measure.generation_cost,
        prices=prices,
    )
    if args.plot:
        plot_comparison(result, args.plot)
    if args.json:
        print(json.dumps(result.model_dump(mode="json"), indent=2))
        return 0
    print(render_comparison(result, prices_origin=args.prices_file))
    if args.plot:
        print(f"plot: {args.plot}")
    return 0

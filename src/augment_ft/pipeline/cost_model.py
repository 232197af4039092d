"""In-context learning against augmented fine-tuning: what each costs, and when they cross.

Keeping the corpus in the prompt pays for it on every query (at the cached-input price);
fine-tuning pays once, to generate the augmented file and train on it, then queries a
dearer model without the corpus. With C the corpus tokens, A the training-file tokens, G the
generation cost and q_in / q_out the query sizes (prices in US dollars per million tokens)::

    in-context per query  = (C x base.cached_input + q_in x base.input + q_out x base.output) / 1e6
    fine-tuned per query  = (q_in x fine_tuned.input + q_out x fine_tuned.output) / 1e6
    one-time              = G + A x epochs x fine_tuned.training / 1e6
    break-even queries    = one-time / (in-context - fine-tuned), none when that is not > 0

Pure arithmetic and the prices file; measuring C, A and G is
:func:`augment_ft.pipeline.versus_icl.versus_icl`'s job.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from augment_ft.core.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = [
    "BasePrices",
    "CostComparison",
    "FineTunedPrices",
    "Prices",
    "QuerySize",
    "compare_costs",
    "load_prices",
    "render_comparison",
]

PER_MILLION = 1_000_000

_Price = Annotated[float, Field(ge=0)]
_Tokens = Annotated[int, Field(ge=0)]


class _Strict(BaseModel):
    # strict: a price given as "0.15" or true is an error, never a silent conversion
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class BasePrices(_Strict):
    """The model a user would query with the documents in context (USD per 1M tokens)."""

    input: _Price
    cached_input: _Price
    output: _Price


class FineTunedPrices(_Strict):
    """Training on the augmented file, then querying the fine-tuned model (USD per 1M)."""

    training: _Price
    input: _Price
    output: _Price


class QuerySize(_Strict):
    """One query's tokens, without the corpus: the question in, the answer out."""

    input_tokens: _Tokens
    output_tokens: _Tokens


class Prices(_Strict):
    """A prices file: ``epochs`` and the ``[base]``, ``[fine_tuned]`` and ``[query]`` tables."""

    epochs: Annotated[int, Field(ge=1)]
    base: BasePrices
    fine_tuned: FineTunedPrices
    query: QuerySize


class CostComparison(BaseModel):
    """What in-context learning and augmented fine-tuning cost (US dollars).

    ``break_even_queries`` is the number of queries after which fine-tuning is the cheaper
    of the two, None when a fine-tuned query costs no less than an in-context one.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    corpus_tokens: int
    augmented_tokens: int
    generation_cost: float
    icl_cost_per_query: float
    ft_cost_per_query: float
    one_time_cost: float
    break_even_queries: float | None
    prices: Prices

    def cumulative(self, queries: float) -> tuple[float, float]:
        """Total cost after ``queries`` queries: (in-context, fine-tuned)."""
        return (
            queries * self.icl_cost_per_query,
            self.one_time_cost + queries * self.ft_cost_per_query,
        )


def compare_costs(
    *, corpus_tokens: int, augmented_tokens: int, generation_cost: float, prices: Prices
) -> CostComparison:
    """The cost model of this module's docstring, from C, A, G and the prices."""
    base, ft, query = prices.base, prices.fine_tuned, prices.query
    icl = (
        corpus_tokens * base.cached_input
        + query.input_tokens * base.input
        + query.output_tokens * base.output
    ) / PER_MILLION
    tuned = (query.input_tokens * ft.input + query.output_tokens * ft.output) / PER_MILLION
    one_time = generation_cost + augmented_tokens * prices.epochs * ft.training / PER_MILLION
    saving = icl - tuned
    return CostComparison(
        corpus_tokens=corpus_tokens,
        augmented_tokens=augmented_tokens,
        generation_cost=generation_cost,
        icl_cost_per_query=icl,
        ft_cost_per_query=tuned,
        one_time_cost=one_time,
        break_even_queries=one_time / saving if saving > 0 else None,
        prices=prices,
    )


# --- the prices file ---------------------------------------------------------------------------


def load_prices(source: str | Path | Mapping[str, Any] | Prices) -> Prices:
    """A prices file (TOML), or its mapping; a ConfigError naming the file and every bad key."""
    if isinstance(source, Prices):
        return source
    if isinstance(source, Mapping):
        return _validate(source, "prices")
    path = Path(source)
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        msg = f"cannot read the prices file {path}: {exc.strerror or exc}"
        raise ConfigError(msg) from exc
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        msg = f"prices file {path}: not valid TOML: {exc}"
        raise ConfigError(msg) from exc
    return _validate(data, f"prices file {path}")


_TABLES = ("base", "fine_tuned", "query")
_UNITS = {"epochs": "a whole number >= 1", "query": "tokens, a whole number >= 0"}


def _validate(data: Mapping[str, Any], origin: str) -> Prices:
    try:
        return Prices.model_validate(dict(data))
    except ValidationError as exc:
        problems = [_problem(err) for err in exc.errors()]
        if len(problems) == 1:
            raise ConfigError(f"{origin}: {problems[0]}") from exc
        raise ConfigError("\n  ".join([f"{origin}:", *problems])) from exc


def _problem(err: Any) -> str:
    """One line per bad key: ``base.input: missing (...)``."""
    loc = [str(p) for p in err["loc"]]
    key = ".".join(loc) or "(root)"
    wanted = _UNITS.get(loc[0] if loc else "", "US dollars per million tokens, a number >= 0")
    kind = err["type"]
    if kind == "missing" and key in _TABLES:
        return f"[{key}]: missing table (with {', '.join(_known_keys([key]))})"
    if kind == "missing":
        return f"{key}: missing ({wanted})"
    if kind == "extra_forbidden":
        known = _known_keys(loc[:-1])
        return f"{key}: unknown key (known here: {', '.join(known)})"
    if kind == "model_type":
        return f"{key}: must be a table ([{key}])"
    return f"{key}: must be {wanted}, got {err.get('input')!r}"


def _known_keys(parent: list[str]) -> list[str]:
    model: type[BaseModel] = Prices
    for part in parent:
        annotation = model.model_fields[part].annotation
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            break
        model = annotation
    return list(model.model_fields)


# --- the table ---------------------------------------------------------------------------------


def _usd(value: float) -> str:
    """Dollars: four significant digits below one dollar (per-query costs are tiny), else cents."""
    return f"${value:.4g}" if abs(value) < 1 else f"${value:,.2f}"


def _queries(value: float | None) -> str:
    if value is None:
        return "never (a fine-tuned query costs no less than an in-context one)"
    return f"{value:,.1f} queries"


def render_comparison(result: CostComparison, *, prices_origin: str = "") -> str:
    """The comparison as a table for the terminal: each figure after its formula."""
    p = result.prices
    b, ft, q = p.base, p.fine_tuned, p.query
    rows = [
        ("C  corpus tokens", "", f"{result.corpus_tokens:,}"),
        ("A  augmented training tokens", "", f"{result.augmented_tokens:,}"),
        ("G  generation cost", "", _usd(result.generation_cost)),
        (
            "in-context, per query",
            f"(C x {b.cached_input:g} + {q.input_tokens} x {b.input:g} "
            f"+ {q.output_tokens} x {b.output:g}) / 1e6",
            _usd(result.icl_cost_per_query),
        ),
        (
            "fine-tuned, per query",
            f"({q.input_tokens} x {ft.input:g} + {q.output_tokens} x {ft.output:g}) / 1e6",
            _usd(result.ft_cost_per_query),
        ),
        (
            "one-time",
            f"G + A x {p.epochs} epochs x {ft.training:g} / 1e6",
            _usd(result.one_time_cost),
        ),
        ("break-even", "one-time / (in-context - fine-tuned)", _queries(result.break_even_queries)),
    ]
    name_width = max(len(name) for name, _, _ in rows)
    formula_width = max(len(formula) for _, formula, _ in rows)
    title = "in-context learning vs augmented fine-tuning, in US dollars"
    lines = [title, "-" * len(title)]
    if prices_origin:
        lines.append(f"prices per 1M tokens: {prices_origin}")
    for name, formula, value in rows:
        middle = f"{formula.ljust(formula_width)}  = " if formula else " " * (formula_width + 4)
        lines.append(f"{name.ljust(name_width)}  {middle}{value}")
    return "\n".join(lines)

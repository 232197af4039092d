"""The built-in strategies, registered through the same registry a user's strategy would use.

Strategies are objects: the pipeline takes them as they are, and names (from TOML, the
command line, or ``augment(strategies=["reverse"])``) are looked up here first. Installed
packages add names through the ``augment_ft.strategies`` entry-point group.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from augment_ft.core.errors import ConfigError
from augment_ft.core.registry import Registry
from augment_ft.strategies.base import AnyStrategy, FactStrategy, Strategy
from augment_ft.strategies.extract import ExtractStrategy
from augment_ft.strategies.implications import ImplicationsStrategy
from augment_ft.strategies.qa import QAStrategy
from augment_ft.strategies.rephrase import RephraseStrategy
from augment_ft.strategies.reverse import ReverseStrategy
from augment_ft.strategies.split import SplitStrategy
from augment_ft.strategies.symbolic import SymbolicStrategy

__all__ = ["STRATEGIES", "StrategySet", "resolve_strategies"]

STRATEGIES: Registry[AnyStrategy] = Registry("strategy", entry_point_group="augment_ft.strategies")
"""Strategy factories by name: ``STRATEGIES.create("split", mode="cumulative")``."""

STRATEGIES.register("split", SplitStrategy)
STRATEGIES.register("symbolic", SymbolicStrategy)
STRATEGIES.register("rephrase", RephraseStrategy)
STRATEGIES.register("reverse", ReverseStrategy)
STRATEGIES.register("implications", ImplicationsStrategy)
STRATEGIES.register("extract", ExtractStrategy)
STRATEGIES.register("qa", QAStrategy)


@dataclass(frozen=True)
class StrategySet:
    """The strategies of a run, by shape: per document, then over all facts."""

    per_document: tuple[Strategy, ...]
    over_facts: tuple[FactStrategy, ...]

    @property
    def all(self) -> list[AnyStrategy]:
        """Every strategy, per-document ones first."""
        return [*self.per_document, *self.over_facts]

    @property
    def uses_llm(self) -> bool:
        """Whether any of them calls a model (so the run needs a backend)."""
        return any(s.uses_llm for s in self.all)

    @property
    def needs_corpus(self) -> bool:
        """Whether a per-document strategy needs every document in context."""
        return any(s.needs_corpus for s in self.per_document)

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.all]


def resolve_strategies(
    specs: Sequence[str | object], options: Mapping[str, Mapping[str, Any]] | None = None
) -> StrategySet:
    """Names built from the registry (with ``options[name]``), objects taken as they are."""
    options = options or {}
    named = {spec for spec in specs if isinstance(spec, str)}
    unused = set(options) - named
    if unused:
        msg = f"strategy_options given for strategies not in use: {', '.join(sorted(unused))}"
        raise ConfigError(msg)
    per_document: list[Strategy] = []
    over_facts: list[FactStrategy] = []
    for spec in specs:
        made = STRATEGIES.create(spec, **options.get(spec, {})) if isinstance(spec, str) else spec
        if isinstance(made, FactStrategy):
            over_facts.append(made)
        elif isinstance(made, Strategy):
            per_document.append(made)
        else:
            msg = (
                f"{made!r} is not a strategy: give a name, or an object with name, uses_llm, "
                "needs_corpus and async run(doc, ctx) (or async run_facts(facts, ctx))"
            )
            raise ConfigError(msg)
    return StrategySet(tuple(per_document), tuple(over_facts))

"""The strategy seam: a document (and a context) in, examples out.

Three shapes, each a small protocol a user's own object can follow without registering:

- :class:`Strategy` works one document at a time (split, rephrase, reverse, implications,
  qa); with ``needs_corpus`` it also sees every document through ``ctx.corpus``.
- :class:`FactFinder` is a strategy that also finds structured facts in a document
  (extract); the step hands them on as its output, for the fact strategies.
- :class:`FactStrategy` works on the whole set of facts at once, after the documents
  (symbolic closure needs every fact to close over).

A strategy carries its own traits, so no other module keeps a table of strategy names:
``uses_llm`` and ``needs_corpus`` (required), ``exact`` (optional: its rows are copied or
derived exactly and pass the verify stage untouched; default ``not uses_llm``),
``default_filters()`` (LLM strategies: the filter chain used unless one is given) and, for
a fact strategy, ``relations`` (optional: the relation table its facts are read with, which
the fact check then reads rows with too). Being a :class:`FactFinder` is a trait as well:
its rows are checked against the given facts only, never against what it found itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol, runtime_checkable

from augment_ft.core.models import Document, Example, Fact
from augment_ft.facts.relations import RelationSpec
from augment_ft.strategies.context import StrategyContext

__all__ = [
    "AnyStrategy",
    "FactFinder",
    "FactStrategy",
    "Strategy",
    "StrategyContext",
    "is_exact",
    "relation_table_of",
]


@runtime_checkable
class Strategy(Protocol):
    """Turns one document into examples. ``uses_llm`` tells estimates and dry runs."""

    name: str
    uses_llm: bool
    needs_corpus: bool

    async def run(self, doc: Document, ctx: StrategyContext) -> list[Example]: ...


@runtime_checkable
class FactFinder(Strategy, Protocol):
    """A strategy that also finds facts: ``(facts, examples)`` for one document."""

    async def find_facts(
        self, doc: Document, ctx: StrategyContext
    ) -> tuple[list[Fact], list[Example]]: ...


@runtime_checkable
class FactStrategy(Protocol):
    """Turns the whole set of structured facts (given and found) into examples."""

    name: str
    uses_llm: bool

    async def run_facts(self, facts: Sequence[Fact], ctx: StrategyContext) -> list[Example]: ...


AnyStrategy = Strategy | FactStrategy
"""What ``augment(strategies=[...])`` and the pipeline accept besides names."""


def is_exact(strategy: AnyStrategy) -> bool:
    """Whether ``strategy``'s rows are exact (no model wrote them): its ``exact`` trait,
    or, when it declares none, whether it calls no model."""
    return bool(getattr(strategy, "exact", not strategy.uses_llm))


def relation_table_of(strategies: Iterable[AnyStrategy]) -> Mapping[str, RelationSpec] | None:
    """The relation table the first strategy declaring one reads facts with (else None)."""
    for strategy in strategies:
        table = getattr(strategy, "relations", None)
        if isinstance(table, Mapping):
            return table
    return None

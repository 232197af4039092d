"""The strategy seam: a document (and a context) in, examples out.

Three shapes, each a small protocol a user's own object can follow without registering:

- :class:`Strategy` works one document at a time (split, rephrase, reverse, implications,
  qa); with ``needs_corpus`` it also sees every document through ``ctx.corpus``.
- :class:`FactFinder` is a strategy that also finds structured facts in a document
  (extract); the step hands them on as its output, for the fact strategies.
- :class:`FactStrategy` works on the whole set of facts at once, after the documents
  (symbolic closure needs every fact to close over).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from augment_ft.core.models import Document, Example, Fact
from augment_ft.strategies.context import StrategyContext

__all__ = ["AnyStrategy", "FactFinder", "FactStrategy", "Strategy", "StrategyContext"]


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

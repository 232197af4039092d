"""The per-document step: one document and the parts in, its examples and counts out.

The step runs the per-document strategies, then the verify stage over what they wrote. It
is a plain async function with no state of its own, so any engine can map it: the local
engine over an asyncio window, the Ray engine over actors, a test on one document.
Everything it makes comes back in a :class:`StepResult` (examples, the facts a fact finder
found, the drop ledger and quality counts of this document); nothing is left in shared
state.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from augment_ft.core.drops import DropLog
from augment_ft.core.models import Document, Example, Fact, Provenance
from augment_ft.strategies.base import FactFinder, Strategy, is_exact
from augment_ft.strategies.context import StrategyContext
from augment_ft.verify.stage import VerifyStage

__all__ = ["StepParts", "StepResult", "original_example", "step"]


@dataclass(frozen=True)
class StepParts:
    """What every document goes through: the per-document strategies, the tools they use
    (backend, token counter, templates, seed: a :class:`StrategyContext`), whether the
    document itself is kept beside its augmentations, and the verify stage (None: off)."""

    strategies: tuple[Strategy, ...]
    context: StrategyContext = field(default_factory=StrategyContext)
    keep_originals: bool = True
    verify: VerifyStage | None = None


@dataclass
class StepResult:
    """One document's output: examples in strategy order, facts found (screened when the
    verify stage is on), drops counted, and per ``(strategy, outcome)`` the verify counts."""

    document_id: str
    examples: list[Example]
    facts: list[Fact]
    drops: DropLog
    quality: Counter[tuple[str, str]] = field(default_factory=Counter)


def original_example(doc: Document) -> Example:
    """The document itself, kept beside its augmentations (as the paper did)."""
    return Example(
        completion=doc.text,
        kind="original",
        provenance=Provenance(source_id=doc.id, strategy="original"),
    )


async def step(doc: Document, parts: StepParts, corpus: Sequence[Document] = ()) -> StepResult:
    """Run every per-document strategy on ``doc`` in order; ``corpus`` for those needing it.

    With the verify stage on, the rows of strategies that are not exact are checked, each
    strategy's rows against the facts its traits allow."""
    ctx = parts.context.for_document(corpus)
    made: list[tuple[Strategy, list[Example]]] = []
    facts: list[Fact] = []
    for strategy in parts.strategies:
        if isinstance(strategy, FactFinder):
            found, rows = await strategy.find_facts(doc, ctx)
            facts += found
        else:
            rows = await strategy.run(doc, ctx)
        made.append((strategy, rows))
    examples = [original_example(doc)] if parts.keep_originals else []
    if parts.verify is None:
        examples += [row for _, rows in made for row in rows]
        return StepResult(doc.id, examples, facts, ctx.drops)
    facts = parts.verify.screen(facts, ctx.drops)
    quality: Counter[tuple[str, str]] = Counter()
    for strategy, rows in made:
        if is_exact(strategy) or not rows:  # exact rows pass; the model's are checked
            examples += rows
            continue
        given_only = isinstance(strategy, FactFinder)
        checked = await parts.verify.check(doc, rows, facts, ctx.drops, given_only=given_only)
        examples += checked.examples
        quality.update(checked.quality)
    return StepResult(doc.id, examples, facts, ctx.drops, quality)

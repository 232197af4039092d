"""Reverse: state each relation from its other side ("A is the parent of B" -> "B is a
child of A"), the augmentation that breaks the reversal curse.

The model answers an empty list for a sentence that states no reversible relation; such
sentences are counted under stage ``reverse.info`` as ``not_reversible`` (information,
not a failure).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from augment_ft.core.errors import ConfigError
from augment_ft.core.models import Document
from augment_ft.strategies.context import StrategyContext
from augment_ft.strategies.filters import (
    Filter,
    ReversalFilter,
)
from augment_ft.strategies.sentence import SentenceStrategy, Unit
from augment_ft.strategies.standalone import rewrite_filters

__all__ = ["INFO_STAGE", "ReverseStrategy"]

INFO_STAGE = "reverse.info"


class ReverseStrategy(SentenceStrategy):
    """Reversals of each sentence's relation (at most ``max_reversals``); kind ``reverse``.

    ``batch_size`` sentences of a document go into one call. The default is a call per
    sentence: a 1.5B model reverses a sentence alone more often right than in a list
    (the calls still run side by side and share the few-shot block).
    """

    name = "reverse"
    list_field = "reversals"
    least = 0

    def __init__(
        self,
        max_reversals: int = 2,
        unit: Unit = "sentence",
        *,
        temperature: float = 0.3,
        max_tokens: int | None = None,
        filters: Sequence[Filter] | None = None,
        template: str = "reverse",
        batch_size: int = 1,
    ) -> None:
        if max_reversals < 1:
            msg = f"reverse: max_reversals must be at least 1, got {max_reversals}"
            raise ConfigError(msg)
        super().__init__(
            max_reversals,
            unit,
            temperature=temperature,
            max_tokens=max_tokens,
            filters=filters,
            template=template,
            batch_size=batch_size,
        )
        self.max_reversals = max_reversals

    def default_filters(self) -> tuple[Filter, ...]:
        return rewrite_filters(ReversalFilter())

    def variables(self, texts: Sequence[str]) -> Mapping[str, Any]:
        return {"sentences": list(texts), "max_reversals": self.max_reversals}

    def kept(self, found: list[str], doc: Document, text: str, ctx: StrategyContext) -> list[str]:
        if not found:
            ctx.drops.add(INFO_STAGE, "not_reversible", source_id=doc.id, detail=text)
        return found

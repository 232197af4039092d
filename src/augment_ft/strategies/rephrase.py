"""Rephrase: k rewrites of each sentence (or of the whole document) keeping every fact.

Rewrites that lose a name, number or made-up word of their source are dropped by the
entity filter (``lost_entities``); every other drop reason is counted as well.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from augment_ft.core.errors import ConfigError
from augment_ft.strategies.filters import Filter
from augment_ft.strategies.sentence import SentenceStrategy, Unit, check_unit, text_units
from augment_ft.strategies.standalone import rewrite_filters

__all__ = ["RephraseStrategy", "Unit", "check_unit", "text_units"]


class RephraseStrategy(SentenceStrategy):
    """``k`` rephrasings per sentence (or per document); kind ``rephrase``.

    ``batch_size`` sentences of a document go into one call (1: a call per sentence).
    """

    name = "rephrase"
    list_field = "rephrasings"
    least = 1

    def __init__(
        self,
        k: int = 2,
        unit: Unit = "sentence",
        *,
        temperature: float = 0.7,
        max_tokens: int | None = None,
        filters: Sequence[Filter] | None = None,
        template: str = "rephrase",
        batch_size: int = 8,
    ) -> None:
        if k < 1:
            msg = f"rephrase: k must be at least 1, got {k}"
            raise ConfigError(msg)
        super().__init__(
            k,
            unit,
            temperature=temperature,
            max_tokens=max_tokens,
            filters=filters,
            template=template,
            batch_size=batch_size,
        )
        self.k = k

    def default_filters(self) -> tuple[Filter, ...]:
        return rewrite_filters()

    def variables(self, texts: Sequence[str]) -> Mapping[str, Any]:
        return {"sentences": list(texts), "k": self.k, "unit": self.unit}

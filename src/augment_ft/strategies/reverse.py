"""Reverse: state each relation from its other side ("A is the parent of B" -> "B is the
child of A"), the augmentation that breaks the reversal curse.

The model may answer that a sentence states no reversible relation; such sentences are
counted under stage ``reverse.info`` as ``not_reversible`` (information, not a failure).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from augment_ft.core.errors import ConfigError
from augment_ft.core.models import Document
from augment_ft.strategies.context import StrategyContext
from augment_ft.strategies.filters import Filter
from augment_ft.strategies.sentence import SentenceStrategy, Unit

__all__ = ["INFO_STAGE", "ReverseOutput", "ReverseStrategy"]

INFO_STAGE = "reverse.info"


class ReverseOutput(BaseModel):
    """Either ``reversible`` with at least one reversal, or not reversible with none."""

    model_config = ConfigDict(json_schema_extra={"additionalProperties": False})

    reversible: bool
    reversals: list[str]

    @model_validator(mode="after")
    def _consistent(self) -> ReverseOutput:
        has_text = any(r.strip() for r in self.reversals)
        if self.reversible and not has_text:
            msg = "reversible is true but reversals is empty; give a reversal or set false"
            raise ValueError(msg)
        if not self.reversible and has_text:
            msg = "reversible is false but reversals were given; set reversible to true"
            raise ValueError(msg)
        return self


class ReverseStrategy(SentenceStrategy[ReverseOutput]):
    """Reversals of each sentence's relation (at most ``max_reversals``); kind ``reverse``."""

    name = "reverse"
    output = ReverseOutput
    list_field = "reversals"

    def __init__(
        self,
        max_reversals: int = 2,
        unit: Unit = "sentence",
        *,
        temperature: float = 0.3,
        max_tokens: int | None = None,
        filters: Sequence[Filter] | None = None,
        template: str = "reverse",
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
        )
        self.max_reversals = max_reversals

    def variables(self, text: str) -> Mapping[str, Any]:
        return {"text": text, "max_reversals": self.max_reversals}

    def texts(
        self, value: ReverseOutput, doc: Document, text: str, ctx: StrategyContext
    ) -> list[str]:
        if not value.reversible:
            ctx.drops.add(INFO_STAGE, "not_reversible", source_id=doc.id, detail=text)
            return []
        return value.reversals

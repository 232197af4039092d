"""Reverse: state each relation from its other side ("A is the parent of B" -> "B is the
child of A"), the augmentation that breaks the reversal curse.

The model may answer that a sentence states no reversible relation; such sentences are
counted under stage ``reverse.info`` as ``not_reversible`` (information, not a failure).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, model_validator

from augment_ft.core.errors import ConfigError
from augment_ft.core.models import Document, Example
from augment_ft.strategies.base import StrategyContext
from augment_ft.strategies.filters import Candidate, Filter, apply_filters, cap, default_filters
from augment_ft.strategies.llm_call import call_llm, schema_for
from augment_ft.strategies.rephrase import Unit, check_unit, text_units

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


class ReverseStrategy:
    """Reversals of each sentence's relation (at most ``max_reversals``); kind ``reverse``."""

    name = "reverse"
    uses_llm = True
    needs_corpus = False

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
        self.max_reversals = max_reversals
        self.unit = check_unit(unit, self.name)
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.filters = tuple(filters) if filters is not None else default_filters(self.name)
        self.template = template

    async def run(self, doc: Document, ctx: StrategyContext) -> list[Example]:
        """One call per unit, all units of the document concurrently."""
        units = text_units(doc, self.unit, ctx, strategy=self.name)
        batches = await asyncio.gather(*(self._unit(doc, i, t, ctx) for i, t in units))
        return [example for batch in batches for example in batch]

    def _budget(self, text: str, ctx: StrategyContext) -> int:
        if self.max_tokens is not None:
            return self.max_tokens
        return 32 + self.max_reversals * (2 * ctx.count_tokens(text) + 16)

    async def _unit(
        self, doc: Document, index: int | None, text: str, ctx: StrategyContext
    ) -> list[Example]:
        result = await call_llm(
            ctx,
            stage=self.name,
            template=self.template,
            variables={"text": text, "max_reversals": self.max_reversals},
            output=ReverseOutput,
            source_id=doc.id,
            temperature=self.temperature,
            max_tokens=self._budget(text, ctx),
            json_schema=schema_for(ReverseOutput, {"reversals": self.max_reversals}),
        )
        if result is None:
            return []
        if not result.value.reversible:
            ctx.drops.add(INFO_STAGE, "not_reversible", source_id=doc.id, detail=text)
            return []
        limit = self.max_reversals
        texts = cap(result.value.reversals, limit, ctx, strategy=self.name, source_id=doc.id)
        candidates = [Candidate(t.strip(), text, result.prompt.fewshot) for t in texts]
        kept = apply_filters(self.filters, candidates, ctx, strategy=self.name, source_id=doc.id)
        parent = text if index is not None else None
        provenance = result.provenance(
            source_id=doc.id, strategy=self.name, parent=parent, sentence_index=index
        )
        return [Example(completion=c.text, kind="reverse", provenance=provenance) for c in kept]

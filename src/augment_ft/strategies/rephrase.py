"""Rephrase: k rewrites of each sentence (or of the whole document) keeping every fact.

Rewrites that lose a name, number or made-up word of their source are dropped by the
entity filter (``lost_entities``); every other drop reason is counted as well.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from augment_ft.core.errors import ConfigError
from augment_ft.core.models import Document, Example
from augment_ft.strategies.base import StrategyContext
from augment_ft.strategies.filters import Candidate, Filter, apply_filters, cap, default_filters
from augment_ft.strategies.llm_call import call_llm, schema_for
from augment_ft.text.splitter import split_sentences

__all__ = ["RephraseOutput", "RephraseStrategy", "Unit", "check_unit", "text_units"]

Unit = Literal["sentence", "document"]
_SKIPPED_KINDS = frozenset({"heading", "rule", "table_row"})


class RephraseOutput(BaseModel):
    """What the model must answer: a non-empty list of rewrites."""

    model_config = ConfigDict(json_schema_extra={"additionalProperties": False})

    rephrasings: list[str] = Field(min_length=1)


def text_units(
    doc: Document, unit: Unit, ctx: StrategyContext, *, strategy: str
) -> list[tuple[int | None, str]]:
    """``(sentence_index, text)`` per unit; headings, rules and table rows are counted out.

    Skipped units go to stage ``<strategy>.info`` (informational, not failures).
    """
    if unit == "document":
        return [(None, doc.text.strip())] if doc.text.strip() else []
    units: list[tuple[int | None, str]] = []
    for index, sentence in enumerate(split_sentences(doc.text)):
        if sentence.kind in _SKIPPED_KINDS:
            reason = f"skipped_{sentence.kind}"
            ctx.drops.add(f"{strategy}.info", reason, source_id=doc.id, detail=sentence.text)
        else:
            units.append((index, sentence.text))
    return units


def check_unit(unit: str, strategy: str) -> Unit:
    """``unit`` as a :data:`Unit`, or a ConfigError naming the strategy."""
    if unit == "sentence":
        return "sentence"
    if unit == "document":
        return "document"
    msg = f"{strategy}: unit must be 'sentence' or 'document', got {unit!r}"
    raise ConfigError(msg)


class RephraseStrategy:
    """``k`` rephrasings per sentence (or per document); kind ``rephrase``."""

    name = "rephrase"
    uses_llm = True
    needs_corpus = False

    def __init__(
        self,
        k: int = 2,
        unit: Unit = "sentence",
        *,
        temperature: float = 0.7,
        max_tokens: int | None = None,
        filters: Sequence[Filter] | None = None,
        template: str = "rephrase",
    ) -> None:
        if k < 1:
            msg = f"rephrase: k must be at least 1, got {k}"
            raise ConfigError(msg)
        self.k = k
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
        """Room for k rewrites a little longer than the source, plus the JSON around them."""
        if self.max_tokens is not None:
            return self.max_tokens
        return 32 + self.k * (2 * ctx.count_tokens(text) + 16)

    async def _unit(
        self, doc: Document, index: int | None, text: str, ctx: StrategyContext
    ) -> list[Example]:
        result = await call_llm(
            ctx,
            stage=self.name,
            template=self.template,
            variables={"text": text, "k": self.k, "unit": self.unit},
            output=RephraseOutput,
            source_id=doc.id,
            temperature=self.temperature,
            max_tokens=self._budget(text, ctx),
            json_schema=schema_for(RephraseOutput, {"rephrasings": self.k}),
        )
        if result is None:
            return []
        texts = cap(result.value.rephrasings, self.k, ctx, strategy=self.name, source_id=doc.id)
        candidates = [Candidate(t.strip(), text, result.prompt.fewshot) for t in texts]
        kept = apply_filters(self.filters, candidates, ctx, strategy=self.name, source_id=doc.id)
        parent = text if index is not None else None
        provenance = result.provenance(
            source_id=doc.id, strategy=self.name, parent=parent, sentence_index=index
        )
        return [Example(completion=c.text, kind="rephrase", provenance=provenance) for c in kept]

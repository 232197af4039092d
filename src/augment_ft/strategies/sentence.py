"""The shared shape of per-sentence LLM strategies (rephrase, reverse): one call per unit.

A unit is a sentence of the document (headings, rules and table rows are counted out) or
the whole document. Each unit is sent through one template; the answer's texts are capped,
filtered, and become examples whose provenance names the sentence they came from. A
subclass says what to ask (:meth:`SentenceStrategy.variables`) and which texts of the
answer to keep (:meth:`SentenceStrategy.texts`); everything else is here, once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Generic, Literal, TypeVar, cast

from pydantic import BaseModel

from augment_ft.core.errors import ConfigError
from augment_ft.core.models import Document, Example
from augment_ft.strategies.context import StrategyContext
from augment_ft.strategies.filters import Candidate, Filter, apply_filters, cap, default_filters
from augment_ft.strategies.llm_call import call_llm, schema_for
from augment_ft.text.splitter import split_sentences

__all__ = ["SentenceStrategy", "Unit", "check_unit", "text_units"]

Unit = Literal["sentence", "document"]
M = TypeVar("M", bound=BaseModel)
_SKIPPED_KINDS = frozenset({"heading", "rule", "table_row"})


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


class SentenceStrategy(Generic[M]):
    """Up to ``limit`` texts per unit from one call each; all units of a document at once.

    Subclasses set ``name``, ``output`` (the answer's model) and ``list_field`` (the
    answer's list, limited to ``limit`` items in the schema), and implement
    :meth:`variables` and :meth:`texts`.
    """

    name: str
    output: ClassVar[type[BaseModel]]
    list_field: ClassVar[str]
    uses_llm = True
    needs_corpus = False

    def __init__(
        self,
        limit: int,
        unit: Unit,
        *,
        temperature: float,
        max_tokens: int | None,
        filters: Sequence[Filter] | None,
        template: str,
    ) -> None:
        self.limit = limit
        self.unit = check_unit(unit, self.name)
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.filters = tuple(filters) if filters is not None else default_filters(self.name)
        self.template = template

    def variables(self, text: str) -> Mapping[str, Any]:
        """The template's variables for one unit."""
        raise NotImplementedError

    def texts(self, value: M, doc: Document, text: str, ctx: StrategyContext) -> list[str]:
        """The candidate texts of one validated answer (count anything set aside)."""
        raise NotImplementedError

    async def run(self, doc: Document, ctx: StrategyContext) -> list[Example]:
        """One call per unit, all units of the document concurrently."""
        units = text_units(doc, self.unit, ctx, strategy=self.name)
        batches = await asyncio.gather(*(self._unit(doc, i, t, ctx) for i, t in units))
        return [example for batch in batches for example in batch]

    def _budget(self, text: str, ctx: StrategyContext) -> int:
        """Room for ``limit`` texts a little longer than the source, plus the JSON around."""
        if self.max_tokens is not None:
            return self.max_tokens
        return 32 + self.limit * (2 * ctx.count_tokens(text) + 16)

    async def _unit(
        self, doc: Document, index: int | None, text: str, ctx: StrategyContext
    ) -> list[Example]:
        result = await call_llm(
            ctx,
            stage=self.name,
            template=self.template,
            variables=self.variables(text),
            output=self.output,
            source_id=doc.id,
            temperature=self.temperature,
            max_tokens=self._budget(text, ctx),
            json_schema=schema_for(self.output, {self.list_field: self.limit}),
        )
        if result is None:
            return []
        found = self.texts(cast("M", result.value), doc, text, ctx)
        texts = cap(found, self.limit, ctx, strategy=self.name, source_id=doc.id)
        candidates = [Candidate(t.strip(), text, result.prompt.fewshot) for t in texts]
        kept = apply_filters(self.filters, candidates, ctx, strategy=self.name, source_id=doc.id)
        parent = text if index is not None else None
        provenance = result.provenance(
            source_id=doc.id, strategy=self.name, parent=parent, sentence_index=index
        )
        return [Example(completion=c.text, kind=self.name, provenance=provenance) for c in kept]

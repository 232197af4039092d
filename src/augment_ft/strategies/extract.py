"""Extract: structured facts (subject, relation, object) from free text.

The facts are the step's output (``find_facts``), handed to the fact strategies such as
symbolic, which reverse and close over them.
Relation names are normalised to snake_case; names outside the relation table are kept
(the symbolic strategy counts what it cannot use). Facts whose words are not in the
document (often copies of the prompt's examples) are dropped as ``ungrounded``; a fact
relating a thing to itself as ``self_relation``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from augment_ft.core.errors import ConfigError
from augment_ft.core.models import Document, Example, Fact
from augment_ft.strategies.context import StrategyContext
from augment_ft.strategies.filters import (
    FILTER_STAGE,
    Candidate,
    CopyOfFewshotFilter,
    EmptyFilter,
    Filter,
    GroundedFilter,
    apply_filters,
    cap,
    normalize_for_comparison,
)
from augment_ft.strategies.llm_call import call_llm, schema_for

__all__ = ["ExtractOutput", "ExtractStrategy", "ExtractedFact", "snake_case"]

_STRICT = ConfigDict(json_schema_extra={"additionalProperties": False})
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def snake_case(name: str) -> str:
    """``"Parent Of"``, ``"parentOf"`` and ``"parent-of"`` all become ``parent_of``."""
    return _NON_ALNUM.sub("_", _CAMEL.sub("_", name.strip()).lower()).strip("_")


class ExtractedFact(BaseModel):
    """One triple as the model states it, with the sentence it comes from."""

    model_config = _STRICT

    # maxLength only shapes generation (a grammar stops a small model from copying the
    # whole document into one field); validation does not enforce it.
    subject: str = Field(json_schema_extra={"maxLength": 80})
    relation: str = Field(json_schema_extra={"maxLength": 60})
    object: str = Field(json_schema_extra={"maxLength": 80})
    text: str = Field(default="", json_schema_extra={"maxLength": 300})


class ExtractOutput(BaseModel):
    """The facts of a document (may be empty: the text states none)."""

    model_config = _STRICT

    facts: list[ExtractedFact]


class ExtractStrategy:
    """Facts from free text (:meth:`find_facts`); examples of kind ``extract`` on request.

    With ``emit_examples`` each kept fact also becomes an example whose text is the fact's
    sentence (or ``subject relation object`` when the model gave none).
    """

    name = "extract"
    uses_llm = True
    needs_corpus = False

    def __init__(
        self,
        *,
        emit_examples: bool = False,
        max_facts: int = 30,
        temperature: float = 0.2,
        max_tokens: int = 768,
        filters: Sequence[Filter] | None = None,
    ) -> None:
        if max_facts < 1:
            msg = f"extract: max_facts must be at least 1, got {max_facts}"
            raise ConfigError(msg)
        self.emit_examples = emit_examples
        self.max_facts = max_facts
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.filters = tuple(filters) if filters is not None else self.default_filters()

    def default_filters(self) -> tuple[Filter, ...]:
        """The filter chain used unless ``filters`` is given."""
        return (EmptyFilter(), CopyOfFewshotFilter(), GroundedFilter())

    async def run(self, doc: Document, ctx: StrategyContext) -> list[Example]:
        """The examples only (see :meth:`find_facts` for the facts)."""
        _, examples = await self.find_facts(doc, ctx)
        return examples

    async def find_facts(
        self, doc: Document, ctx: StrategyContext
    ) -> tuple[list[Fact], list[Example]]:
        """One call per document: the kept facts, and their examples when asked for."""
        result = await call_llm(
            ctx,
            stage=self.name,
            template="extract",
            variables={"document": doc.text},
            output=ExtractOutput,
            source_id=doc.id,
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            json_schema=schema_for(ExtractOutput, {"facts": self.max_facts}),
        )
        if result is None:
            return [], []
        if not result.value.facts:
            ctx.drops.add(f"{self.name}.info", "no_facts", source_id=doc.id)
        limit = self.max_facts
        extracted = cap(result.value.facts, limit, ctx, strategy=self.name, source_id=doc.id)
        facts = self._keep(doc, extracted, result.prompt.fewshot, ctx)
        if not self.emit_examples:
            return facts, []
        provenance = result.provenance(source_id=doc.id, strategy=self.name)
        examples = [
            Example(completion=_sentence(f), kind="extract", provenance=provenance) for f in facts
        ]
        return facts, examples

    def _keep(
        self,
        doc: Document,
        extracted: Sequence[ExtractedFact],
        fewshot: tuple[str, ...],
        ctx: StrategyContext,
    ) -> list[Fact]:
        """Normalised, grounded, distinct facts; each other one is counted with its reason."""
        kept: dict[tuple[str, str, str], Fact] = {}
        for item in extracted:
            relation = snake_case(item.relation)
            subject, obj = item.subject.strip(), item.object.strip()
            reason = None
            if not relation or not subject or not obj:
                reason = "incomplete_fact"
            elif normalize_for_comparison(subject) == normalize_for_comparison(obj):
                reason = "self_relation"
            elif (subject, relation, obj) in kept:
                reason = "duplicate"
            if reason is not None:
                detail = f"{self.name}: {item.model_dump_json()[:300]}"
                ctx.drops.add(FILTER_STAGE, reason, source_id=doc.id, detail=detail)
                continue
            candidate = Candidate(f"{subject} {obj}", doc.text, fewshot)
            if apply_filters(self.filters, [candidate], ctx, strategy=self.name, source_id=doc.id):
                text = item.text.strip() or None
                fact = Fact(
                    subject=subject, relation=relation, object=obj, text=text, source_id=doc.id
                )
                kept[fact.key] = fact
        return list(kept.values())


def _sentence(fact: Fact) -> str:
    if fact.text:
        return fact.text
    return f"{fact.subject} {fact.relation.replace('_', ' ')} {fact.object}."

"""Implications: what a document implies, alone or together with the rest of the corpus.

Document mode puts one document in context. Corpus mode packs other documents into a token
budget, those sharing entities with the target first, and asks for the connections. The
packed corpus goes first in the prompt, in id order, so prefix-caching servers can reuse it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from augment_ft.core.errors import ConfigError
from augment_ft.core.models import Document, Example
from augment_ft.strategies.context import StrategyContext
from augment_ft.strategies.filters import (
    Candidate,
    CopyOfInputFilter,
    Filter,
    GroundedFilter,
    TokenLengthFilter,
    apply_filters,
    base_filters,
    cap,
    normalize_for_comparison,
)
from augment_ft.strategies.llm_call import LLMResult, call_llm, schema_for
from augment_ft.strategies.standalone import MalformedFilter, PronounFilter, RestatementFilter
from augment_ft.text.entities import extract_entities

__all__ = [
    "ImplicationsOutput",
    "ImplicationsStrategy",
    "ReasonedImplication",
    "ReasonedImplicationsOutput",
    "pack_corpus",
]

Mode = Literal["document", "corpus"]
M = TypeVar("M", bound=BaseModel)
_STRICT = ConfigDict(json_schema_extra={"additionalProperties": False})


class ImplicationsOutput(BaseModel):
    """Implied statements, one sentence each (may be empty: nothing is implied)."""

    model_config = _STRICT

    implications: list[str]


class ReasonedImplication(BaseModel):
    """One implied statement and the short reasoning that leads to it."""

    model_config = _STRICT

    reasoning: str
    statement: str


class ReasonedImplicationsOutput(BaseModel):
    """Implied statements with their reasoning traces."""

    model_config = _STRICT

    implications: list[ReasonedImplication]


@lru_cache(maxsize=4096)
def _entities_of(text: str) -> frozenset[str]:
    entities = extract_entities(text)
    return entities.names | entities.rare


def _shared_entities(doc: Document) -> frozenset[str]:
    """Names and rare words: what makes two documents about the same things."""
    return _entities_of(doc.text)


def pack_corpus(
    target: Document,
    corpus: Sequence[Document],
    *,
    budget: int,
    count_tokens: Callable[[str], int],
) -> list[Document]:
    """Other documents that fit ``budget`` tokens, in id order (a stable prompt prefix).

    When all of them fit, all are taken. Otherwise documents sharing the most entities with
    the target are taken first (ties by id), skipping any that no longer fit.
    """
    others = {d.id: d for d in corpus if d.id != target.id}
    sizes = {doc_id: count_tokens(d.text) for doc_id, d in others.items()}
    if sum(sizes.values()) <= budget:
        return [others[doc_id] for doc_id in sorted(others)]
    wanted = _shared_entities(target)
    ranked = sorted(others.values(), key=lambda d: (-len(wanted & _shared_entities(d)), d.id))
    chosen: list[Document] = []
    used = 0
    for doc in ranked:
        if used + sizes[doc.id] <= budget:
            chosen.append(doc)
            used += sizes[doc.id]
    return sorted(chosen, key=lambda d: d.id)


class ImplicationsStrategy:
    """Implied statements per document; kind ``implications`` or ``implications.corpus``.

    With ``include_reasoning`` each example's text is the reasoning followed by the
    statement (the paper trained on such traces); the filters judge the statement.
    """

    name = "implications"
    uses_llm = True

    def __init__(
        self,
        mode: Mode = "document",
        corpus_token_budget: int = 3000,
        max_implications: int = 10,
        *,
        include_reasoning: bool = False,
        temperature: float = 0.5,
        max_tokens: int | None = None,
        filters: Sequence[Filter] | None = None,
    ) -> None:
        if mode not in ("document", "corpus"):
            msg = f"implications: mode must be 'document' or 'corpus', got {mode!r}"
            raise ConfigError(msg)
        if max_implications < 1 or corpus_token_budget < 0:
            msg = (
                "implications: max_implications must be >= 1 and corpus_token_budget >= 0, "
                f"got {max_implications} and {corpus_token_budget}"
            )
            raise ConfigError(msg)
        self.mode: Mode = mode
        self.needs_corpus = mode == "corpus"
        self.corpus_token_budget = corpus_token_budget
        self.max_implications = max_implications
        self.include_reasoning = include_reasoning
        self.temperature = temperature
        self.max_tokens = max_tokens or (48 + max_implications * (80 if include_reasoning else 40))
        self.filters = tuple(filters) if filters is not None else self.default_filters()
        self._sizes: dict[Callable[[str], int], dict[str, int]] = {}

    def _counter(self, count: Callable[[str], int]) -> Callable[[str], int]:
        """``count`` memoised per text: packing sees every document once per target."""
        memo = self._sizes.setdefault(count, {})

        def counted(text: str) -> int:
            if text not in memo:
                memo[text] = count(text)
            return memo[text]

        return counted

    def default_filters(self) -> tuple[Filter, ...]:
        """The filter chain used unless ``filters`` is given."""
        return (
            *base_filters(),
            CopyOfInputFilter(),
            TokenLengthFilter(),
            GroundedFilter(threshold=0.8),
            RestatementFilter(),
            PronounFilter(),
            MalformedFilter(),
        )

    @property
    def kind(self) -> str:
        """The example kind this configuration produces."""
        return "implications.corpus" if self.mode == "corpus" else "implications"

    async def run(self, doc: Document, ctx: StrategyContext) -> list[Example]:
        """One call per document; the statements that pass the filters become examples."""
        variables: dict[str, object] = {
            "document": doc.text,
            "max_implications": self.max_implications,
            "include_reasoning": self.include_reasoning,
        }
        source = doc.text
        template = "implications"
        if self.mode == "corpus":
            packed = pack_corpus(
                doc,
                ctx.corpus,
                budget=self.corpus_token_budget,
                count_tokens=self._counter(ctx.count_tokens),
            )
            variables["corpus"] = [{"id": d.id, "text": d.text} for d in packed]
            # A blank line between documents: a sentence never runs from one into the next.
            source = "\n\n".join([*(d.text for d in packed), doc.text])
            template = "implications_corpus"
        if self.include_reasoning:
            reasoned = await self._ask(doc, template, variables, ReasonedImplicationsOutput, ctx)
            if reasoned is None:
                return []
            pairs = [(i.statement, i.reasoning) for i in reasoned.value.implications]
            return self._examples(doc, reasoned, pairs, source, ctx)
        plain = await self._ask(doc, template, variables, ImplicationsOutput, ctx)
        if plain is None:
            return []
        pairs = [(statement, "") for statement in plain.value.implications]
        return self._examples(doc, plain, pairs, source, ctx)

    async def _ask(
        self,
        doc: Document,
        template: str,
        variables: dict[str, object],
        output: type[M],
        ctx: StrategyContext,
    ) -> LLMResult[M] | None:
        return await call_llm(
            ctx,
            stage=self.name,
            template=template,
            variables=variables,
            output=output,
            source_id=doc.id,
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            json_schema=schema_for(output, {"implications": self.max_implications}),
        )

    def _examples(
        self,
        doc: Document,
        result: LLMResult[Any],
        pairs: list[tuple[str, str]],
        source: str,
        ctx: StrategyContext,
    ) -> list[Example]:
        """Examples from ``(statement, reasoning)`` pairs that pass the filters."""
        if not pairs:
            ctx.drops.add(f"{self.name}.info", "no_implications", source_id=doc.id)
        pairs = cap(pairs, self.max_implications, ctx, strategy=self.name, source_id=doc.id)
        provenance = result.provenance(source_id=doc.id, strategy=self.name)
        examples = []
        for statement, reasoning in pairs:
            candidate = Candidate(statement.strip(), source, result.prompt.fewshot)
            if apply_filters(self.filters, [candidate], ctx, strategy=self.name, source_id=doc.id):
                text = _with_reasoning(reasoning.strip(), candidate.text)
                examples.append(Example(completion=text, kind=self.kind, provenance=provenance))
        return examples


def _with_reasoning(reasoning: str, statement: str) -> str:
    """The trace then the statement; a trace that only repeats the statement is left out."""
    if normalize_for_comparison(reasoning) in ("", normalize_for_comparison(statement)):
        return statement
    return f"{reasoning} {statement}"

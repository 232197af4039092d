"""QA: question/answer pairs about a document, reverse-direction questions included.

"Ana is the parent of Bo" gives the forward "Who is Ana the parent of?" (Bo) and the
reverse "Who is Bo's parent?" (Ana): the reverse pairs teach the direction the text does
not state. Each pair becomes an example with the question as prompt, the answer as completion.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from augment_ft.core.errors import ConfigError
from augment_ft.core.models import Document, Example
from augment_ft.strategies.context import StrategyContext
from augment_ft.strategies.filters import (
    FILTER_STAGE,
    Candidate,
    Filter,
    GroundedFilter,
    TokenLengthFilter,
    apply_filters,
    base_filters,
    cap,
    normalize_for_comparison,
)
from augment_ft.strategies.llm_call import LLMResult, call_llm, schema_for

__all__ = ["QAOutput", "QAPair", "QAStrategy"]

_STRICT = ConfigDict(json_schema_extra={"additionalProperties": False})


class QAPair(BaseModel):
    """One question, its short answer from the document, and its direction."""

    model_config = _STRICT

    # maxLength only shapes generation (see ExtractedFact); validation does not enforce it.
    question: str = Field(json_schema_extra={"maxLength": 200})
    answer: str = Field(json_schema_extra={"maxLength": 120})
    direction: Literal["forward", "reverse"] = "forward"


class QAOutput(BaseModel):
    """The pairs of one document."""

    model_config = _STRICT

    pairs: list[QAPair]


class QAStrategy:
    """``n`` forward pairs and, with ``reverse_questions``, ``n`` reverse ones per document.

    Kinds ``qa`` and ``qa.reverse``. Reverse pairs the caller did not ask for are counted
    as ``not_requested``, pairs beyond ``n`` per direction as ``over_limit``, and pairs
    whose question already holds the answer as ``answer_in_question``.
    """

    name = "qa"
    uses_llm = True
    needs_corpus = False

    def __init__(
        self,
        n: int = 3,
        reverse_questions: bool = True,
        *,
        temperature: float = 0.5,
        max_tokens: int | None = None,
        filters: Sequence[Filter] | None = None,
    ) -> None:
        if n < 1:
            msg = f"qa: n must be at least 1, got {n}"
            raise ConfigError(msg)
        self.n = n
        self.reverse_questions = reverse_questions
        self.temperature = temperature
        self.max_tokens = max_tokens or 48 + 2 * n * 48
        self.filters = tuple(filters) if filters is not None else self.default_filters()

    def default_filters(self) -> tuple[Filter, ...]:
        """The filter chain used unless ``filters`` is given."""
        return (*base_filters(), TokenLengthFilter(min_tokens=4), GroundedFilter(threshold=0.5))

    async def run(self, doc: Document, ctx: StrategyContext) -> list[Example]:
        """One call per document; kept pairs become prompt/completion examples."""
        result = await call_llm(
            ctx,
            stage=self.name,
            template="qa",
            variables={
                "document": doc.text,
                "n": self.n,
                "reverse_questions": self.reverse_questions,
            },
            output=QAOutput,
            source_id=doc.id,
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            json_schema=schema_for(QAOutput, {"pairs": self.n * (1 + self.reverse_questions)}),
        )
        if result is None:
            return []
        return self._examples(doc, result, ctx)

    def _examples(
        self, doc: Document, result: LLMResult[QAOutput], ctx: StrategyContext
    ) -> list[Example]:
        forward = [p for p in result.value.pairs if p.direction == "forward"]
        reverse = [p for p in result.value.pairs if p.direction == "reverse"]
        if not self.reverse_questions:
            for pair in reverse:
                detail = f"{self.name}: {pair.question[:300]!r}"
                ctx.drops.add(FILTER_STAGE, "not_requested", source_id=doc.id, detail=detail)
            reverse = []
        limit = self.n
        pairs = [
            *cap(forward, limit, ctx, strategy=self.name, source_id=doc.id),
            *cap(reverse, limit, ctx, strategy=self.name, source_id=doc.id),
        ]
        provenance = result.provenance(source_id=doc.id, strategy=self.name)
        examples = []
        for pair in pairs:
            question, answer = pair.question.strip(), pair.answer.strip()
            if _answer_in_question(question, answer):
                detail = f"{self.name}: {question[:200]!r} -> {answer[:100]!r}"
                ctx.drops.add(FILTER_STAGE, "answer_in_question", source_id=doc.id, detail=detail)
                continue
            # An empty question or answer makes the whole pair empty for the filters.
            text = f"{question} {answer}" if question and answer else ""
            candidate = Candidate(text, doc.text, result.prompt.fewshot)
            if apply_filters(self.filters, [candidate], ctx, strategy=self.name, source_id=doc.id):
                kind = "qa.reverse" if pair.direction == "reverse" else "qa"
                examples.append(
                    Example(prompt=question, completion=answer, kind=kind, provenance=provenance)
                )
        return examples


def _answer_in_question(question: str, answer: str) -> bool:
    """True when the question already contains its answer (small models do this)."""
    q, a = normalize_for_comparison(question), normalize_for_comparison(answer)
    return bool(q and a) and f" {a} " in f" {q} "

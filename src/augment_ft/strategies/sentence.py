"""The shared shape of per-sentence LLM strategies (rephrase, reverse): several units a call.

A unit is a sentence of the document (headings, rules and table rows are counted out) or
the whole document. Up to ``batch_size`` consecutive units of a document go into one call,
numbered, and the answer holds one list of texts per unit, in order (the schema fixes how
many): the few-shot block and the document are read once per call instead of once per
sentence, and the model sees each sentence's neighbours, so it can name what a pronoun
stands for. Each unit's texts are capped, filtered, and become examples whose provenance
names the sentence they came from. A subclass says what to ask (:meth:`SentenceStrategy.
variables`) and which texts of a unit to keep (:meth:`SentenceStrategy.kept`); the rest is
here, once.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Annotated, Any, ClassVar, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, create_model

from augment_ft.core.errors import ConfigError
from augment_ft.core.models import Document, Example, Message
from augment_ft.strategies.context import StrategyContext
from augment_ft.strategies.filters import Candidate, Filter, apply_filters, cap
from augment_ft.strategies.llm_call import call_llm
from augment_ft.text.splitter import split_sentences

__all__ = ["SentenceStrategy", "Unit", "asked_units", "batch_output", "check_unit", "text_units"]

Unit = Literal["sentence", "document"]
_NUMBERED = re.compile(r"^(\d+)\. (.*)$", re.MULTILINE)
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


def asked_units(messages: Sequence[Message]) -> list[str]:
    """The numbered units the last user message of a sentence strategy's prompt asks about.

    For stand-in models (a ScriptedBackend answering ``{"rephrasings": [[...] per unit]}``)
    and tests; a unit that spans lines (``unit="document"``) comes back as its first line.
    """
    users = [m.content for m in messages if m.role == "user"]
    return [text for _, text in _NUMBERED.findall(users[-1])] if users else []


def check_unit(unit: str, strategy: str) -> Unit:
    """``unit`` as a :data:`Unit`, or a ConfigError naming the strategy."""
    if unit == "sentence":
        return "sentence"
    if unit == "document":
        return "document"
    msg = f"{strategy}: unit must be 'sentence' or 'document', got {unit!r}"
    raise ConfigError(msg)


@lru_cache(maxsize=256)
def batch_output(field: str, units: int, least: int, most: int) -> type[BaseModel]:
    """The answer's model for ``units`` units: ``{field: [[text, ...] per unit]}``.

    Exactly ``units`` lists are required (a miscount is a parse failure, re-asked once);
    each list's bounds (``least``..``most`` texts) shape the schema a backend generates
    under, while a surplus is counted as ``over_limit`` rather than failing validation.
    """
    texts = Annotated[list[str], Field(json_schema_extra={"minItems": least, "maxItems": most})]
    model: type[BaseModel] = create_model(
        f"{field.title()}For{units}",
        __config__=ConfigDict(json_schema_extra={"additionalProperties": False}),
        **{field: (list[texts], Field(min_length=units, max_length=units))},  # type: ignore[call-overload]
    )
    return model


class SentenceStrategy:
    """Up to ``limit`` texts per unit, ``batch_size`` units a call; all calls of a document
    at once.

    Subclasses set ``name``, ``list_field`` (the answer's field) and ``least`` (the fewest
    texts a unit may get: 0 when a unit may have none), and implement
    :meth:`default_filters`, :meth:`variables` and :meth:`kept`.
    """

    name: str
    list_field: ClassVar[str]
    least: ClassVar[int]
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
        batch_size: int = 8,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            msg = f"{self.name}: batch_size must be a whole number of 1 or more, got {batch_size!r}"
            raise ConfigError(msg)
        self.limit = limit
        self.unit = check_unit(unit, self.name)
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.filters = tuple(filters) if filters is not None else self.default_filters()
        self.template = template
        self.batch_size = batch_size

    def default_filters(self) -> tuple[Filter, ...]:
        """The filter chain used unless ``filters`` is given (each subclass has its own)."""
        raise NotImplementedError

    def variables(self, texts: Sequence[str]) -> Mapping[str, Any]:
        """The template's variables for the units of one call."""
        raise NotImplementedError

    def kept(self, found: list[str], doc: Document, text: str, ctx: StrategyContext) -> list[str]:
        """The candidate texts of one unit (count anything set aside, e.g. none found)."""
        return found

    async def run(self, doc: Document, ctx: StrategyContext) -> list[Example]:
        """One call per batch of units, all batches of the document concurrently."""
        units = text_units(doc, self.unit, ctx, strategy=self.name)
        size = self.batch_size
        batches = [units[i : i + size] for i in range(0, len(units), size)]
        made = await asyncio.gather(*(self._batch(doc, batch, ctx) for batch in batches))
        return [example for examples in made for example in examples]

    def _budget(self, texts: Sequence[str], ctx: StrategyContext) -> int:
        """Room for ``limit`` texts per unit a little longer than each source, plus JSON."""
        if self.max_tokens is not None:
            return self.max_tokens
        return 24 + sum(self.limit * (2 * ctx.count_tokens(t) + 12) + 4 for t in texts)

    async def _batch(
        self, doc: Document, batch: list[tuple[int | None, str]], ctx: StrategyContext
    ) -> list[Example]:
        texts = [text for _, text in batch]
        output = batch_output(self.list_field, len(texts), self.least, self.limit)
        result = await call_llm(
            ctx,
            stage=self.name,
            template=self.template,
            variables=self.variables(texts),
            output=output,
            source_id=doc.id,
            temperature=self.temperature,
            max_tokens=self._budget(texts, ctx),
        )
        if result is None:
            return []
        answers = cast("list[list[str]]", getattr(result.value, self.list_field))
        examples: list[Example] = []
        for (index, text), found in zip(batch, answers, strict=True):
            kept = self.kept([t.strip() for t in found if t.strip()], doc, text, ctx)
            capped = cap(kept, self.limit, ctx, strategy=self.name, source_id=doc.id)
            candidates = [Candidate(t, text, result.prompt.fewshot) for t in capped]
            passed = apply_filters(
                self.filters, candidates, ctx, strategy=self.name, source_id=doc.id
            )
            provenance = result.provenance(
                source_id=doc.id,
                strategy=self.name,
                parent=text if index is not None else None,
                sentence_index=index,
            )
            examples += [
                Example(completion=c.text, kind=self.name, provenance=provenance) for c in passed
            ]
        return examples

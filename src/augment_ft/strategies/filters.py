"""Filters for LLM outputs: each candidate text is kept or dropped with a counted reason.

A filter looks at one :class:`Candidate` (the text, the input it came from, the few-shot
texts of its prompt) and returns a drop reason or ``None``. :func:`apply_filters` runs a
chain, stops at the first reason and counts it in ``ctx.drops`` under stage ``"filter"``.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache
from typing import ClassVar, Protocol, TypeVar, runtime_checkable

from augment_ft.core.errors import ConfigError
from augment_ft.strategies.context import StrategyContext
from augment_ft.text.entities import (
    content_token_list,
    content_tokens,
    extract_entities,
    word_tokens,
)

__all__ = [
    "FILTER_STAGE",
    "Candidate",
    "CopyOfFewshotFilter",
    "CopyOfInputFilter",
    "EmptyFilter",
    "EntityFilter",
    "Filter",
    "GroundedFilter",
    "RefusalFilter",
    "ReversalFilter",
    "TokenLengthFilter",
    "apply_filters",
    "base_filters",
    "cap",
    "normalize_for_comparison",
]

FILTER_STAGE = "filter"

T = TypeVar("T")

_NON_WORD = re.compile(r"[\W_]+")
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+|\n+")


def normalize_for_comparison(text: str) -> str:
    """Lowercase words only: punctuation, case and spacing never make two texts differ."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _NON_WORD.sub(" ", folded).strip()


@dataclass(frozen=True)
class Candidate:
    """One model output under test, with what it came from and the prompt's few-shots."""

    text: str
    source: str = ""
    fewshot: tuple[str, ...] = ()


@runtime_checkable
class Filter(Protocol):
    """Returns why ``candidate`` must be dropped, or ``None`` to keep it."""

    @property
    def name(self) -> str:
        """A short name for reports and configuration."""
        ...

    def reason(self, candidate: Candidate, ctx: StrategyContext) -> str | None: ...


@dataclass(frozen=True)
class EmptyFilter:
    """Drops empty and whitespace-only texts (reason ``empty``)."""

    name: ClassVar[str] = "empty"

    def reason(self, candidate: Candidate, ctx: StrategyContext) -> str | None:
        return "empty" if not normalize_for_comparison(candidate.text) else None


@dataclass(frozen=True)
class CopyOfInputFilter:
    """Drops a text equal, after normalization, to its input or one of its sentences."""

    name: ClassVar[str] = "copy_of_input"

    def reason(self, candidate: Candidate, ctx: StrategyContext) -> str | None:
        text = normalize_for_comparison(candidate.text)
        parts = [candidate.source, *_SENTENCE_SPLIT.split(candidate.source)]
        if any(text == normalize_for_comparison(p) for p in parts if p.strip()):
            return "copy_of_input"
        return None


@lru_cache(maxsize=32)
def _fewshot_signature(fewshot: tuple[str, ...]) -> frozenset[str]:
    """Content words found in two or more few-shot texts: the made-up words they share."""
    counts: Counter[str] = Counter()
    for text in fewshot:
        counts.update(content_tokens(text))
    return frozenset(word for word, n in counts.items() if n >= 2)


@lru_cache(maxsize=32)
def _normalized_shots(fewshot: tuple[str, ...]) -> tuple[str, ...]:
    """The non-empty few-shot texts, normalized once per prompt template."""
    return tuple(other for other in map(normalize_for_comparison, fewshot) if other)


def _similar(text: str, other: str, threshold: float) -> bool:
    """``SequenceMatcher(None, text, other).ratio() >= threshold``, trying its two cheap
    upper bounds first: most pairs fail on length or letters alone, and ratio() is slow."""
    total = len(text) + len(other)
    if not total or 2 * min(len(text), len(other)) < threshold * total:
        return not total  # the length bound alone rules it out (building a matcher is slow)
    matcher = SequenceMatcher(None, text, other)
    return (
        matcher.real_quick_ratio() >= threshold
        and matcher.quick_ratio() >= threshold
        and matcher.ratio() >= threshold
    )


@dataclass(frozen=True)
class CopyOfFewshotFilter:
    """Drops echoes of the prompt's worked examples (small models copy them).

    A copy is a text whose similarity to a few-shot text reaches ``similarity``, or one that
    uses a made-up word of the few-shots which its own input does not contain.
    """

    similarity: float = 0.95
    name: ClassVar[str] = "copy_of_fewshot"

    def reason(self, candidate: Candidate, ctx: StrategyContext) -> str | None:
        if not candidate.fewshot:
            return None
        text = normalize_for_comparison(candidate.text)
        for other in _normalized_shots(candidate.fewshot):
            if _similar(text, other, self.similarity):
                return "copy_of_fewshot"
        leaked = _fewshot_signature(candidate.fewshot) - content_tokens(candidate.source)
        if leaked & content_tokens(candidate.text):
            return "copy_of_fewshot"
        return None


_REFUSAL = re.compile(
    r"^\W*(?:i\s+cannot|i\s+can'?t|i\s+can\s+not|i'?m\s+sorry|i\s+am\s+sorry|sorry|"
    r"i\s+apologi[sz]e|i'?m\s+unable|i\s+am\s+unable|i\s+won'?t)\b|\bas\s+an\s+ai\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class RefusalFilter:
    """Drops refusals and assistant chatter ("As an AI...", "I cannot...", "I'm sorry...")."""

    name: ClassVar[str] = "refusal"

    def reason(self, candidate: Candidate, ctx: StrategyContext) -> str | None:
        text = candidate.text.replace("\u2019", "'")
        return "refusal" if _REFUSAL.search(text) else None


@dataclass(frozen=True)
class TokenLengthFilter:
    """Drops texts shorter than ``min_tokens`` or longer than ``max_tokens`` (ctx tokenizer)."""

    min_tokens: int = 3
    max_tokens: int = 512
    name: ClassVar[str] = "token_length"

    def __post_init__(self) -> None:
        if self.min_tokens < 0 or self.max_tokens < max(1, self.min_tokens):
            msg = (
                f"TokenLengthFilter needs 0 <= min_tokens <= max_tokens, got "
                f"min_tokens={self.min_tokens}, max_tokens={self.max_tokens}"
            )
            raise ConfigError(msg)

    def reason(self, candidate: Candidate, ctx: StrategyContext) -> str | None:
        n = ctx.count_tokens(candidate.text)
        if n < self.min_tokens:
            return "too_short"
        return "too_long" if n > self.max_tokens else None


@dataclass(frozen=True)
class EntityFilter:
    """Drops a rewrite that loses the input's names, numbers or rare words (``lost_entities``).

    Every name and number must survive when ``require_names``; of the rare words (made-up
    words included) at least ``threshold`` of them must.
    """

    threshold: float = 0.75
    require_names: bool = True
    name: ClassVar[str] = "lost_entities"

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            msg = f"EntityFilter threshold must be within [0, 1], got {self.threshold}"
            raise ConfigError(msg)

    def reason(self, candidate: Candidate, ctx: StrategyContext) -> str | None:
        source = extract_entities(candidate.source)
        kept = content_tokens(candidate.text)
        if self.require_names and not (source.names | source.numbers) <= kept:
            return "lost_entities"
        if source.rare and len(source.rare & kept) / len(source.rare) < self.threshold:
            return "lost_entities"
        return None


_SYMMETRIC_WORDS = frozenset(
    {"married", "spouse", "sibling", "twin", "cousin", "neighbour", "neighbor", "partner"}
    | {"friend", "equal", "same"}
)


def _skeleton(tokens: list[str], entities: set[str]) -> tuple[str, ...]:
    """The words of a statement with its entities blanked: what relation it states."""
    return tuple("_" if t in entities else t for t in tokens)


def _symmetric(skeleton: tuple[str, ...]) -> bool:
    """Relations that read the same both ways: "married to", "no A are B", "some A are B"."""
    if _SYMMETRIC_WORDS.intersection(skeleton):
        return True
    opener = skeleton[:1]
    return opener == ("no",) or (opener == ("some",) and "not" not in skeleton)


@dataclass(frozen=True)
class ReversalFilter:
    """Drops outputs that are no reversal of their source.

    ``not_reversed``: it starts from the same thing as the source (a rephrasing, which small
    models often return). ``invalid_reversal``: it swaps the entities but keeps the very same
    relation words ("A is larger than B" -> "B is larger than A"), which states the
    opposite unless the relation is symmetric ("married to", "no A are B").
    """

    name: ClassVar[str] = "reversal"

    def reason(self, candidate: Candidate, ctx: StrategyContext) -> str | None:
        source = content_token_list(candidate.source)
        text = content_token_list(candidate.text)
        if source and text and source[0] == text[0]:
            return "not_reversed"
        entities = set(source)
        before = _skeleton(word_tokens(candidate.source), entities)
        after = _skeleton(word_tokens(candidate.text), entities)
        if before == after and source != text and not _symmetric(before):
            return "invalid_reversal"
        return None


@dataclass(frozen=True)
class GroundedFilter:
    """Drops a text whose content words are mostly absent from its input (``ungrounded``).

    Used where the answer must come from the document (extracted facts, QA answers).
    """

    threshold: float = 1.0
    name: ClassVar[str] = "ungrounded"

    def reason(self, candidate: Candidate, ctx: StrategyContext) -> str | None:
        words = content_tokens(candidate.text)
        if not words:
            return None
        found = len(words & content_tokens(candidate.source)) / len(words)
        return "ungrounded" if found < self.threshold else None


def apply_filters(
    filters: Sequence[Filter],
    candidates: Sequence[Candidate],
    ctx: StrategyContext,
    *,
    strategy: str,
    source_id: str | None,
) -> list[Candidate]:
    """Keep the candidates every filter accepts; count each drop by its first reason."""
    kept: list[Candidate] = []
    for candidate in candidates:
        reason = next((r for f in filters if (r := f.reason(candidate, ctx)) is not None), None)
        if reason is None:
            kept.append(candidate)
        else:
            detail = f"{strategy}: {candidate.text[:300]!r}"
            ctx.drops.add(FILTER_STAGE, reason, source_id=source_id, detail=detail)
    return kept


def cap(
    items: Sequence[T],
    limit: int,
    ctx: StrategyContext,
    *,
    strategy: str,
    source_id: str | None,
) -> list[T]:
    """The first ``limit`` items; each one beyond is counted as ``over_limit``."""
    for item in items[limit:]:
        detail = f"{strategy}: {str(item)[:300]!r}"
        ctx.drops.add(FILTER_STAGE, "over_limit", source_id=source_id, detail=detail)
    return list(items[:limit])


def base_filters() -> tuple[Filter, ...]:
    """The checks every model-written text goes through first: empty, refusal, few-shot copy.

    Each built-in strategy starts its own ``default_filters()`` chain with these.
    """
    return (EmptyFilter(), RefusalFilter(), CopyOfFewshotFilter())

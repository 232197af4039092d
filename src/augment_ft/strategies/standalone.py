"""Filters for rows that must stand alone and say something: no restated source sentence
where an inference was asked for, no leading pronoun without its name, no broken grammar.

Each is a :class:`~augment_ft.strategies.filters.Filter` with its own counted reason:
``restates_source``, ``unresolved_pronoun``, ``malformed`` and ``adds_negation``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar

from augment_ft.strategies.context import StrategyContext
from augment_ft.strategies.filters import (
    Candidate,
    CopyOfInputFilter,
    EntityFilter,
    Filter,
    TokenLengthFilter,
    base_filters,
)
from augment_ft.text.entities import content_tokens, word_tokens
from augment_ft.text.splitter import split_sentences

__all__ = [
    "MalformedFilter",
    "NegationFilter",
    "PronounFilter",
    "RestatementFilter",
    "rewrite_filters",
    "source_sentences",
]


@lru_cache(maxsize=512)
def source_sentences(source: str) -> tuple[frozenset[str], ...]:
    """The content words of each sentence of ``source`` (headings and rules left out)."""
    return tuple(
        frozenset(content_tokens(s.text))
        for s in split_sentences(source)
        if s.kind not in ("heading", "rule")
    )


@dataclass(frozen=True)
class RestatementFilter:
    """Drops an inference that one source sentence already holds (``restates_source``).

    An inference joins statements: of its content words, those the source has must not
    all sit in one source sentence. A restatement, a rephrasing or a reversal of a single
    sentence fails; "Dax can zarp" from "Dax are feps" and "Feps can zarp" passes.
    """

    name: ClassVar[str] = "restates_source"

    def reason(self, candidate: Candidate, ctx: StrategyContext) -> str | None:
        sentences = source_sentences(candidate.source)
        known = set().union(*sentences) if sentences else set()
        used = content_tokens(candidate.text) & known
        if used and any(used <= sentence for sentence in sentences):
            return "restates_source"
        return None


_PRONOUNS = frozenset(
    {"it", "its", "it's", "they", "their", "theirs", "them", "he", "his", "him", "she", "her"}
    | {"this", "these", "those", "there's"}
)


@dataclass(frozen=True)
class PronounFilter:
    """Drops a row that opens with a pronoun (``unresolved_pronoun``): "It has two
    provinces" names nothing once it stands alone in a training file."""

    name: ClassVar[str] = "unresolved_pronoun"

    def reason(self, candidate: Candidate, ctx: StrategyContext) -> str | None:
        words = word_tokens(candidate.text.replace("\u2019", "'"))
        return "unresolved_pronoun" if words and words[0].lower() in _PRONOUNS else None


_TAG_QUESTION = re.compile(
    r",?\s*\b(?:right|isn'?t it|aren'?t they|don'?t they|doesn'?t it|correct|indeed)\s*\?\s*$",
    re.IGNORECASE,
)
_DOUBLED = re.compile(r"\b([A-Za-z]+)\s+\1\b", re.IGNORECASE)
_DOUBLE_OK = frozenset({"that", "had", "is"})
_QUANTIFIED = re.compile(
    r"^\s*(?:some|all|no|most|many|every|few)\s+([a-z]+)\s+(?:are|is|were|was|can|have|has)\b",
    re.IGNORECASE,
)
_ADJECTIVE_END = re.compile(r"(?:al|ous|ive|ful|less|ic|able|ible|ary|ish|ent|ant|ern)$")
# Nouns with an adjective's ending, which do follow a quantifier ("No animal is...").
_NOUNS_LIKE_ADJECTIVES = frozenset(
    {"animal", "mammal", "metal", "crystal", "signal", "rival", "individual", "official"}
    | {"criminal", "arrival", "journal", "principal", "giant", "merchant", "servant"}
    | {"student", "parent", "agent", "client", "elephant", "tenant", "infant", "peasant"}
    | {"serpent", "resident", "native", "relative", "detective", "captive", "fish", "dish"}
    | {"library", "dictionary", "boundary", "sanctuary", "mercenary", "adult", "plant"}
)
_LEFTOVER = re.compile(r"[{}\[\]]|\"\s*:|\\n|\b(?:reversals|rephrasings|implications)\b")
_AUXILIARY_CLASH = re.compile(
    r"\b(?:are|is|was|were)\s+\w+(?:\s+\w+)?\s+than\s+\w+\s+(?:do|does|did)\b", re.IGNORECASE
)


@dataclass(frozen=True)
class MalformedFilter:
    """Drops rows whose grammar is broken (``malformed``): a statement turned question or
    tag question ("... than tessicks do indeed, right?"), an adjective standing as a noun
    after a quantifier ("Some nocturnal are velps."), a doubled word, JSON left in the text."""

    name: ClassVar[str] = "malformed"

    def reason(self, candidate: Candidate, ctx: StrategyContext) -> str | None:
        text = candidate.text.strip()
        if text.endswith("?") or _TAG_QUESTION.search(text) or _LEFTOVER.search(text):
            return "malformed"
        doubled = _DOUBLED.search(text)
        if doubled is not None and doubled.group(1).lower() not in _DOUBLE_OK:
            return "malformed"
        if _AUXILIARY_CLASH.search(text):
            return "malformed"
        quantified = _QUANTIFIED.match(text)
        if quantified is not None:
            word = quantified.group(1).lower()
            adjective = _ADJECTIVE_END.search(word) and word not in _NOUNS_LIKE_ADJECTIVES
            if adjective and not word.endswith("s"):
                return "malformed"
        return None


_NEGATIONS = frozenset(
    {"not", "no", "never", "none", "nobody", "nothing", "nowhere", "neither", "nor", "cannot"}
)


def _negated(text: str) -> bool:
    words = [w.lower() for w in word_tokens(text.replace("\u2019", "'"))]
    return any(w in _NEGATIONS or w.endswith("n't") for w in words)


@dataclass(frozen=True)
class NegationFilter:
    """Drops a rewrite that denies where its source asserts (``adds_negation``).

    A reversal or a rephrasing restates its sentence; one that brings in a "not", "no" or
    "never" the sentence lacks says something else: "Velmora is not the capital of Tarsk"
    for "Tarsk is the capital of Velmora" (true, but no reversal), "Nocturnal velps are not
    velps" for "All velps are nocturnal" (false). A source that negates may be rewritten
    with any negation ("No tessicks are grazers" -> "Tessicks are not grazers").
    """

    name: ClassVar[str] = "adds_negation"

    def reason(self, candidate: Candidate, ctx: StrategyContext) -> str | None:
        if _negated(candidate.text) and not _negated(candidate.source):
            return "adds_negation"
        return None


def rewrite_filters(*checks: Filter) -> tuple[Filter, ...]:
    """The chain of a strategy that rewrites one sentence (rephrase, reverse): the common
    filters, ``copy_of_input``, then ``checks`` of its own, then length, names, a leading
    pronoun, broken grammar and an added negation."""
    return (
        *base_filters(),
        CopyOfInputFilter(),
        *checks,
        TokenLengthFilter(),
        EntityFilter(),
        PronounFilter(),
        MalformedFilter(),
        NegationFilter(),
    )

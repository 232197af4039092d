"""Regular expressions that read the relation table's templates and phrasings back.

A template such as ``{subject} employ{s} {object}`` becomes a pattern that also accepts
"employed", "does not employ", an optional article where the template has one, an adverb
after the verb ("also", "both") and, before comparatives and compass points, a measure
("two years younger than", "3.5 km east of"). Each pattern is anchored on the whole
sentence and captures the two terms; :mod:`augment_ft.facts.reading` resolves them.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache

from augment_ft.facts.relations import RelationSpec

__all__ = ["Pattern", "compile_patterns"]

Token = tuple[str, str]  # (kind, value): term, be, have, verb, article, word, poss, raw, opt

_BE = r"(?:is|are|was|were)"
_BE_NOT = r"(?:(?:is|are|was|were) not|isn't|aren't|wasn't|weren't)"
_HAVE = r"(?:has|have|had)"
_HAVE_NOT = r"(?:(?:does|do|did) not have|(?:doesn't|don't|didn't) have|(?:has|have|had) no)"
_DO_NOT = r"(?:(?:does|do|did) not|doesn't|don't|didn't)"
_ADVERB = r"(?:also|both|still|all|each|indeed|actually|certainly|really|in fact)"
_MEASURE = (
    r"(?P<measure>much|far|slightly|somewhat|a little|a bit|a lot|(?:\d+(?:[.,]\d+)?|one|two"
    r"|three|four|five|six|seven|eight|nine|ten|a few|several|many) [a-z]+)"
)
_COMPARATIVE = r"(?P<degree>more|less) (?P<adjective>[a-z][a-z-]*(?: [a-z][a-z-]*){0,2}?)"
_MEASURED = frozenset({"north", "south", "east", "west", "more", "less"})
_QUANTIFIED = frozenset({"no", "some", "all", "every", "none", "not"})
_VERBS = frozenset({"be", "have", "verb"})
_FIXED = {
    "be": (_BE, _BE_NOT),
    "have": (_HAVE, _HAVE_NOT),
    "article": ("(?:the|a|an)", "(?:the|a|an)"),
    "poss": ("'s?", "'s?"),
}


@dataclass(frozen=True)
class Pattern:
    """One way to say a relation. ``relation`` is None for the open comparative, whose name
    comes from the match; ``exact`` is False for narrower phrasings (``mother of``);
    ``own`` is True for the relation's own templates, which win ties over phrasings."""

    regex: re.Pattern[str]
    relation: str | None
    exact: bool
    negated: bool
    keywords: tuple[str, ...]
    tail: str
    own: bool = True


def compile_patterns(table: Mapping[str, RelationSpec]) -> tuple[Pattern, ...]:
    """Every pattern of the table, in table order, then the open ``more/less X than``."""
    return _compile_specs(tuple(table.values()))


@lru_cache(maxsize=16)
def _compile_specs(specs: tuple[RelationSpec, ...]) -> tuple[Pattern, ...]:
    """Cached by the specs themselves (frozen), since compiling takes tens of milliseconds."""
    out: list[Pattern] = []
    seen: set[tuple[str, str | None]] = set()
    for spec in specs:
        own = [spec.template, spec.plural_template]
        templates = [(t, True, True) for t in own if t]
        templates += [(t, True, False) for t in spec.phrasings]
        templates += [(t, False, False) for t in spec.narrower_phrasings]
        for template, exact, is_own in templates:
            for negated in (False, True):
                pattern = _compile(_tokens(template), spec.name, exact, negated)
                if pattern and (pattern.regex.pattern, spec.name) not in seen:
                    seen.add((pattern.regex.pattern, spec.name))
                    out.append(replace(pattern, own=is_own))
    open_comparative: list[Token] = [
        ("term", "subject"), ("be", ""), ("raw", _COMPARATIVE), ("word", "than"), ("term", "object")
    ]  # fmt: skip
    for negated in (False, True):
        pattern = _compile(open_comparative, None, True, negated)
        if pattern:
            out.append(pattern)
    return tuple(out)


def _tokens(template: str) -> list[Token]:
    """The template as tokens; literal is/are and has/have conjugate like {be} and {have}."""
    tokens: list[Token] = []
    for literal, field, _, _ in string.Formatter().parse(template):
        for word in literal.split():
            lowered = word.lower()
            if lowered in ("is", "are", "was", "were"):
                tokens.append(("be", ""))
            elif lowered in ("has", "have", "had"):
                tokens.append(("have", ""))
            elif lowered in ("the", "a", "an"):
                tokens.append(("article", ""))
            elif lowered == "'s":
                tokens.append(("poss", ""))
            else:
                tokens.append(("word", lowered))
        if field in ("subject", "object"):
            tokens.append(("term", field))
        elif field in ("be", "have"):
            tokens.append((field, ""))
        elif field == "s" and tokens and tokens[-1][0] == "word":
            tokens[-1] = ("verb", tokens[-1][1])
    return tokens


def _decorate(tokens: list[Token]) -> list[Token]:
    """Add the optional adverb after the verb, an optional article after it, and a measure
    before a comparative or compass word."""
    out: list[Token] = []
    for index, (kind, value) in enumerate(tokens):
        if kind == "raw" or (kind == "word" and _takes_measure(tokens, index)):
            out.append(("opt", _MEASURE))
        out.append((kind, value))
        if kind in _VERBS:
            out.append(("opt", _ADVERB))
            following = tokens[index + 1][0] if index + 1 < len(tokens) else ""
            if following == "word":
                out.append(("article", ""))
    return out


def _takes_measure(tokens: list[Token], index: int) -> bool:
    word = tokens[index][1]
    before_than = index + 1 < len(tokens) and tokens[index + 1] == ("word", "than")
    after_verb = index > 0 and tokens[index - 1][0] in _VERBS
    return after_verb and (word in _MEASURED or before_than)


def _compile(
    tokens: list[Token], relation: str | None, exact: bool, negated: bool
) -> Pattern | None:
    """The pattern, or None when ``negated`` asks for a form the template has no verb for."""
    if negated and not _negatable(tokens):
        return None
    parts: list[str] = []
    first_verb = True
    decorated = _decorate(tokens)
    last_term = next(v for k, v in reversed(decorated) if k == "term")
    for position, (kind, value) in enumerate(decorated):
        core = _core(kind, value, negated and first_verb, position == len(decorated) - 1)
        if kind in _VERBS:
            first_verb = False
        optional = kind in ("article", "opt")
        if kind == "poss":
            parts.append(core)
        elif not parts or parts[-1].endswith(" )?"):  # an optional opener brings its space
            parts.append(f"(?:{core} )?" if optional else core)
        else:
            parts.append(f"(?: {core})?" if optional else f" {core}")
    keywords = tuple(v for k, v in tokens if k in ("word", "verb"))
    regex = re.compile("".join(parts), re.IGNORECASE)
    return Pattern(regex, relation, exact, negated, keywords, last_term)


def _negatable(tokens: list[Token]) -> bool:
    """A negated form exists when there is a verb to negate and no quantifier or negation
    ("Some X are not Y" is not the negation of "Some X are Y")."""
    words = [v for k, v in tokens if k == "word"]
    if not any(k in _VERBS for k, _ in tokens) or "not" in words or "never" in words:
        return False
    return not (words and words[0] in _QUANTIFIED)


def _core(kind: str, value: str, negate: bool, last: bool) -> str:
    """The regex of one token; the last term is greedy, earlier ones lazy."""
    if kind == "term":
        return f"(?P<{value}>.+)" if last else f"(?P<{value}>.+?)"
    if kind in _FIXED:
        plain, negative = _FIXED[kind]
        return negative if negate else plain
    if kind == "verb":
        stem = re.escape(value)
        return f"{_DO_NOT} {stem}" if negate else f"{stem}(?:s|es|ed|d)?"
    return value if kind in ("raw", "opt") else re.escape(value)

"""Offline sentence splitting with rules and regexes: no model, linear in the text length.

The split strategy turns every document into one example per sentence, so this runs over
whole corpora: it has to be fast, deterministic, dependency-free and keep exact offsets.
Text is cut into paragraphs (blank lines), then Markdown blocks (headings, list items, table
rows, rules), then sentences, so no decision ever looks further than its own paragraph.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from augment_ft.core.errors import ConfigError, InputError

__all__ = [
    "DEFAULT_ABBREVIATIONS",
    "Sentence",
    "SentenceKind",
    "iter_sentences",
    "split_paragraphs",
    "split_sentences",
]

SentenceKind = Literal["heading", "list_item", "rule", "table_row", "text"]


@dataclass(frozen=True, slots=True)
class Sentence:
    """One sentence: ``source[start:end] == text``, never with surrounding whitespace.

    ``kind`` names the Markdown unit it came from, so callers can drop headings or rules.
    """

    text: str
    start: int
    end: int
    kind: SentenceKind = "text"


def _words(*parts: str) -> frozenset[str]:
    """A word set from space-separated lists: long tables stay readable."""
    return frozenset(" ".join(parts).split())


# Abbreviations that never end a sentence when more text follows: titles and connectives.
# Lower case, no final period; dotted ones keep their inner periods ("e.g").
DEFAULT_ABBREVIATIONS: frozenset[str] = _words(
    # English titles and Latin connectives
    "adm approx capt cf cmdr col dr e.g gen gov hon i.e lt maj messrs mr mrs ms mt mx pres",
    "prof rep rev sen sgt sr st supt viz vs",
    # German (bzw., z.B., d.h., Hr./Fr. Varn), French (Mme, p. ex., env.), Spanish (Sra., p. ej.)
    "bzw ca d.h ej env ex fr hr hrn mlle mme o.a o.\u00e4 sog sra srta u.a u.\u00e4 vgl z.b",
)

# Abbreviations that do not end a sentence before a number: "No. 5", "Fig. 2", "et al. (2020)".
_BEFORE_NUMBER = _words(
    "abb abs al art ch chap eq eqs fig figs no nos nr nrn op pp ref refs sec tab vol vols"
)

# After an upper-case initialism ("U.S.", "J.R.R."), only these words start a new sentence,
# because "the U.S. Army" is far more common than a sentence that ends with "U.S.".
_STARTERS = _words(
    "a after also an and as at but by for from he her his however i if in it its many most my",
    "no not on one our she so some that the their then there these they this those though we",
    "what when where which while who why yet you",
)

_MAX_TOKEN = 32  # longer words are never abbreviations, so look no further back
_HWS = r"[^\S\n]"  # whitespace within one line
_TERMINALS = ".!?\u2026\u203d"  # . ! ? ... (one character) and the interrobang
_FULL_WIDTH = "\u3002\uff01\uff1f\uff61"  # CJK full stops, ! and ?: no space follows them
# Closing quotes and brackets that belong to the sentence they follow. German closes with
# the low-high pairs' second half (U+201C, U+2018) and with guillemets pointing left;
# CJK text closes with corner brackets.
_CLOSERS = "\"')]}*_\u2019\u201d\u201c\u2018\u00bb\u203a\u00ab\u2039\u300d\u300f"
# Characters that may open a sentence before its first letter (quotes, brackets, Spanish marks).
_OPENERS = "\"'([{*_\u2018\u201c\u201e\u201a\u00ab\u2039\u00bb\u203a\u00bf\u00a1\u300c\u300e"
_NO_START = ",;:)]}"  # text going on with these continues the same sentence

_NONSPACE = re.compile(r"\S")
_PARA_BREAK = re.compile(r"\n(?:[^\S\n]*\n)+")
# A sentence end: a run of terminators, closers (French puts a space before the closing
# guillemet), then whitespace; full-width ones need no space. The pattern opens with a plain
# character class so the scan runs at C speed; the lookbehind right after it rejects starts
# inside a run, so a long run that fails is tried once, not once per character. Group 1 is
# the rest of a Latin run; it is None after a full-width terminator.
_CLOSER = rf"[{re.escape(_CLOSERS)}]"
_LATIN_REST = (
    rf"(?<![{_TERMINALS}]{{2}})(?<![{_FULL_WIDTH}])([{_TERMINALS}]*)"
    rf"(?:{_CLOSER}|[ \u00a0\u202f][\u00bb\u203a])*(?=\s)"
)
_WIDE_REST = rf"(?<=[{_FULL_WIDTH}])[{_FULL_WIDTH}]*{_CLOSER}*"
_CANDIDATE = re.compile(rf"[{_TERMINALS}{_FULL_WIDTH}](?:{_LATIN_REST}|{_WIDE_REST})")
_TAIL_TOKEN = re.compile(r"\S+\Z")
_INITIALISM = re.compile(r"(?:[^\W\d_]\.)+[^\W\d_]")
_WORD = re.compile(r"[^\W\d_]+")
_LINE_BODY = (
    rf"{_HWS}*(?:(?P<rule>(?P<rc>[-*_=])(?:{_HWS}*(?P=rc)){{2,}}{_HWS}*$)"
    rf"|(?P<heading>\#{{1,6}}(?:{_HWS}|$))"
    rf"|(?P<list_item>(?:[-*+\u2022]|\d{{1,3}}[.)]){_HWS}+\S)"
    r"|(?P<table_row>\|))"
)
_LINE_KIND = re.compile(_LINE_BODY, re.MULTILINE)
_STRUCTURE_AFTER_NL = re.compile(r"\n" + _LINE_BODY, re.MULTILINE)
_KINDS: dict[str | None, SentenceKind] = {
    "heading": "heading",
    "list_item": "list_item",
    "rule": "rule",
    "table_row": "table_row",
}


def split_sentences(text: str, abbreviations: Iterable[str] | None = None) -> list[Sentence]:
    """Split ``text`` into sentences with offsets into ``text`` itself.

    ``abbreviations`` adds words (``"Dept."``, ``"Hr."``) that never end a sentence.
    """
    return list(iter_sentences(text, abbreviations))


def iter_sentences(text: str, abbreviations: Iterable[str] | None = None) -> Iterator[Sentence]:
    """Like :func:`split_sentences`, one sentence at a time, for very long texts."""
    if not isinstance(text, str):
        raise InputError(
            f"sentence splitting needs text (str), got {type(text).__name__}; "
            "decode bytes first, e.g. data.decode('utf-8')"
        )
    return _iter_sentences(text, _non_terminal(abbreviations))


def split_paragraphs(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each paragraph: text between blank lines, stripped of whitespace."""
    return list(_iter_paragraphs(text))


def _non_terminal(extra: Iterable[str] | None) -> frozenset[str]:
    """The defaults plus the caller's words, normalised like tokens (lower case, no final dot)."""
    if extra is None:
        return DEFAULT_ABBREVIATIONS
    if isinstance(extra, str):
        raise ConfigError(
            f"abbreviations must be a list of words such as ['Dept.'], not the string {extra!r}"
        )
    words = set(DEFAULT_ABBREVIATIONS)
    for entry in extra:
        if not isinstance(entry, str) or not any(ch.isalpha() for ch in entry):
            raise ConfigError(
                f"abbreviations: {entry!r} is not a word; give strings such as 'Dept.' or 'z. B.'"
            )
        # "z. B." is two tokens to the splitter, so each part is added on its own.
        words.update(part.rstrip(".").lower() for part in entry.split() if part.rstrip("."))
    return frozenset(words)


def _iter_sentences(text: str, non_terminal: frozenset[str]) -> Iterator[Sentence]:
    """Paragraphs, then blocks, then sentences: each level only sees its own span."""
    for para_start, para_end in _iter_paragraphs(text):
        for start, end, kind in _blocks(text, para_start, para_end):
            if kind in ("text", "list_item"):
                yield from _split_block(text, start, end, kind, non_terminal)
            else:  # headings, table rows and rules are single units
                yield Sentence(text[start:end], start, end, kind)


def _trim(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The span without leading and trailing whitespace, or None when nothing is left."""
    first = _NONSPACE.search(text, start, end)
    if first is None:
        return None
    while text[end - 1].isspace():
        end -= 1
    return first.start(), end


def _iter_paragraphs(text: str) -> Iterator[tuple[int, int]]:
    """Trimmed spans between blank lines (lines holding only whitespace)."""
    pos = 0
    for brk in _PARA_BREAK.finditer(text):
        span = _trim(text, pos, brk.start())
        if span is not None:
            yield span
        pos = brk.end()
    span = _trim(text, pos, len(text))
    if span is not None:
        yield span


def _line_kind(text: str, start: int, end: int) -> SentenceKind:
    """What Markdown unit the line starting at ``start`` opens ("text" for prose)."""
    found = _LINE_KIND.match(text, start, end)
    return "text" if found is None else _KINDS[found.lastgroup]


def _blocks(text: str, start: int, end: int) -> Iterator[tuple[int, int, SentenceKind]]:
    """Markdown blocks of one paragraph; the fast paths cover plain prose without a line loop."""
    first_nl = text.find("\n", start, end)
    if first_nl < 0:
        yield start, end, _line_kind(text, start, end)
    elif (
        _line_kind(text, start, first_nl) == "text"
        and _STRUCTURE_AFTER_NL.search(text, first_nl, end) is None
    ):
        yield start, end, "text"
    else:
        yield from _blocks_by_line(text, start, end)


def _blocks_by_line(text: str, start: int, end: int) -> Iterator[tuple[int, int, SentenceKind]]:
    """Group lines: prose lines join, list items take indented or lower-case continuations."""
    cur: tuple[int, int, SentenceKind] | None = None
    cur_lines = 0
    pos = start
    while pos < end:
        nl = text.find("\n", pos, end)
        line_end = end if nl < 0 else nl
        span = _trim(text, pos, line_end)
        if span is not None:
            kind = _line_kind(text, pos, line_end)
            if cur is not None and kind == "text" and _continues(text, cur[2], pos, span[0]):
                cur, cur_lines = (cur[0], span[1], cur[2]), cur_lines + 1
            else:
                if cur is not None:
                    # "Title" underlined by === or --- is a (setext) heading
                    setext = kind == "rule" and cur[2] == "text" and cur_lines == 1
                    yield (cur[0], cur[1], "heading") if setext and text[span[0]] in "=-" else cur
                cur, cur_lines = (span[0], span[1], kind), 1
        pos = line_end + 1
    if cur is not None:
        yield cur


def _continues(text: str, block_kind: SentenceKind, line_start: int, first: int) -> bool:
    """Whether a prose line continues the block above instead of starting a new one."""
    if block_kind == "text":
        return True
    return block_kind == "list_item" and (first > line_start or text[first].islower())


def _split_block(
    text: str, start: int, end: int, kind: SentenceKind, non_terminal: frozenset[str]
) -> Iterator[Sentence]:
    """Sentences of one trimmed block; a candidate end is kept only if it is a boundary."""
    for cand in _CANDIDATE.finditer(text, start, end):
        stop = cand.end()
        if stop >= end:
            break
        nxt = stop
        while text[nxt].isspace():  # the block is trimmed, so a non-space follows
            nxt += 1
        if _is_boundary(text, cand, start, nxt, end, non_terminal=non_terminal):
            yield Sentence(text[start:stop], start, stop, kind)
            start = nxt
    yield Sentence(text[start:end], start, end, kind)


def _is_boundary(
    text: str, cand: re.Match[str], start: int, nxt: int, end: int, *, non_terminal: frozenset[str]
) -> bool:
    """Decide one candidate from its terminator run and the first letter after it."""
    rest = cand.group(1)
    if rest is None:  # full-width terminator
        return True
    pos = nxt
    while pos < end and text[pos] in _OPENERS:
        pos += 1
    if pos >= end:  # only quotes or brackets follow: they stay with this sentence
        return False
    first = text[pos]
    if first.islower() or first in _NO_START:  # "etc. and", "Wait... what?", '"Go!" he said'
        return False
    if rest or text[cand.start()] != ".":  # ?, !, ellipsis and their mixtures
        return True
    return _period_ends(text, cand.start(), start, pos, non_terminal)


def _period_ends(text: str, dot: int, start: int, pos: int, non_terminal: frozenset[str]) -> bool:
    """A single period before a capital, digit or symbol at ``pos``: is the word before it final?"""
    found = _TAIL_TOKEN.search(text, max(start, dot - _MAX_TOKEN), dot)
    if found is None:
        return True
    token = found.group().lstrip(_OPENERS).rstrip(_CLOSERS)
    low = token.lower()
    if low in non_terminal or (low in _BEFORE_NUMBER and text[pos].isdigit()):
        return False
    if len(token) == 1 and token.isalpha():  # initials "J. R. R.", German "z. B.", "M. Varn"
        return False
    if token.isupper() and _INITIALISM.fullmatch(token):
        word = _WORD.match(text, pos)
        return word is not None and word.group().lower() in _STARTERS
    if len(token) <= 3 and token.isascii() and token.isdigit():
        return not _opens_enumeration(text, found.start(), start)
    return True


def _opens_enumeration(text: str, token_start: int, start: int) -> bool:
    """A number is an enumeration marker ("1.") at a sentence start or after ':' or ';'."""
    pos = token_start - 1
    while pos > start and text[pos].isspace():
        pos -= 1
    return token_start == start or text[pos] in ":;"

"""Cheap entity spotting: names, numbers and rare words that a rewrite must keep.

No NLP model: a word is an entity when it is capitalised away from a sentence start, is a
number, or is absent from a small list of common English words. Made-up words (the paper's
``femp``, ``glon``) and proper names therefore count, which is what rewrites must preserve.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

__all__ = [
    "COMMON_WORDS",
    "Entities",
    "content_token_list",
    "content_tokens",
    "extract_entities",
    "normalize_token",
    "word_tokens",
]

_TOKEN = re.compile(r"[^\W\d_](?:[\w'\u2019-]*\w)?|\d+(?:[.,]\d+)*")
_BOUNDARY = re.compile(r"[.!?:;\n]")

_COMMON_TEXT = """
    a about above after again against all almost along also although always am among an and
    another any anyone anything are around as at away back be became because become becomes
    been before being below besides between both but by can cannot could did do does doing done
    down during each either else enough even ever every everyone everything few for from
    further had has have having he her here hers herself him himself his how however i if in
    into is it its itself just least less let like many may me might mine more most much must
    my myself neither never no nobody none nor not nothing now of off often on once one only
    onto or other others otherwise our ours ourselves out over own per perhaps rather same
    several shall she should since so some someone something sometimes still such than that
    the their theirs them themselves then there therefore these they this those though through
    thus to together too toward towards under unless until up upon us usually very was we were
    what whatever when where whether which while who whom whose why will with within without
    would yet you your yours yourself
    able across actually add added ago ahead allow already answer appear ask asked become began
    begin begins believe belong belongs best better big bigger biggest bring build call called
    came carry cause change clear close come comes common consider contain contains continue
    could cut day days deep different do early easy end ever example fact facts far fast feel
    felt find first follow follows found four full gave general get gets give given gives go
    goes going gone good got great group grow had half happen hard head hear heard help high
    hold home important include included includes including keep kept kind kinds know known
    large larger largest last late later lead learn left less life light little live lives long
    longer look looked low made main make makes making mean means member members move name
    named near need new next nine none number often old open order part parts people place
    play point put read real related right said same saw say says second see seem seen set
    seven short show side six small smaller smallest so sort sorts start state stated states
    stay still story take taken tell ten term terms thing things think third three time times
    told took true turn two type types use used uses usually want way ways well went whole wide
    word words work world write written year years young
    all animal animals area body both case child children class country daughter daughters
    dog father form friend friends girl boy family house man men mother nature parent parents
    person place son sons sister sisters brother brothers wife husband woman women category
    categories property properties thing object water food plant plants tree trees city town
    subject relation instance instances kind sibling siblings grandparent grandparents
    grandchild grandchildren ancestor ancestors descendant descendants spouse married
    cousin cousins uncle aunt niece nephew born lived died
    bad cold dark hot new old heavy light strong weak fast slow tall short wide narrow hard soft
    dangerous safe bright dull rich poor happy sad loud quiet rare common simple complex smart
    often always never sometimes usually rarely generally every each most some
    greater smaller larger heavier lighter taller shorter faster slower stronger weaker older
    younger higher lower better worse more less fewer
    yes no not true false
    according afterwards anyway besides beyond despite eventually finally furthermore hence
    indeed inside instead later likewise meanwhile moreover nevertheless nonetheless outside
    overall similarly soon today tomorrow unlike whereas yesterday
    can could may might must shall should will would is are was were be been being am
    has have had having do does did done get got make made
"""

COMMON_WORDS: frozenset[str] = frozenset(_COMMON_TEXT.split())
"""Words that are never entities: function words and everyday vocabulary."""


@dataclass(frozen=True)
class Entities:
    """What a text names: capitalised names, numbers and rare words (all normalised)."""

    names: frozenset[str]
    numbers: frozenset[str]
    rare: frozenset[str]

    @property
    def all(self) -> frozenset[str]:
        """Every entity of the text."""
        return self.names | self.numbers | self.rare


@lru_cache(maxsize=1 << 16)
def normalize_token(word: str) -> str:
    """Case-folded, without a possessive or a plural ``s``, so ``Gruds'`` matches ``grud``."""
    w = word.casefold().replace("\u2019", "'")
    w = re.sub(r"'s?$", "", w)
    if len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
        w = w[:-1]
    return w


def _normalized_common() -> frozenset[str]:
    return frozenset(normalize_token(w) for w in COMMON_WORDS)


_COMMON_NORMALIZED = _normalized_common()


def word_tokens(text: str) -> list[str]:
    """Every word and number of ``text``, normalised (:func:`normalize_token`), in order."""
    return [normalize_token(m.group()) for m in _TOKEN.finditer(text)]


def content_token_list(text: str) -> list[str]:
    """Normalised word and number tokens of ``text`` minus the common words, in order."""
    return [t for t in word_tokens(text) if t not in _COMMON_NORMALIZED]


def content_tokens(text: str) -> set[str]:
    """The set of :func:`content_token_list`."""
    return set(content_token_list(text))


def extract_entities(text: str) -> Entities:
    """Names (capitalised and uncommon, or capitalised mid-sentence), numbers, rare words."""
    names: set[str] = set()
    numbers: set[str] = set()
    rare: set[str] = set()
    previous_end = 0
    for match in _TOKEN.finditer(text):
        word = match.group()
        token = normalize_token(word)
        # A sentence starts at the text start or after closing punctuation.
        starts_sentence = previous_end == 0 or bool(
            _BOUNDARY.search(text, previous_end, match.start())
        )
        previous_end = match.end()
        if word[0].isdigit():
            numbers.add(token)
        elif word[0].isupper() and (not starts_sentence or token not in _COMMON_NORMALIZED):
            # A capitalised uncommon word opening a sentence is a name or the key term
            # ("Brindlers live in..."), which a rewrite must keep just the same.
            names.add(token)
        elif token not in _COMMON_NORMALIZED and len(token) > 1:
            rare.add(token)
    return Entities(frozenset(names), frozenset(numbers), frozenset(rare - names))

"""Read a written sentence as a fact over known entities, through the relation table.

"The osk range is part of the Kettle Gorge." reads as (the Osk Range, part_of, the Kettle
Gorge) when the facts name both; "Drummels are not scalewings" as a negated ``is_a``.
Only the table's own templates, plural templates and phrasings are read (plus the open
``more/less X than``), so a sentence that says anything else reads as nothing: the fact
check then calls it unknown rather than guessing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from augment_ft.facts.names import EntityNames
from augment_ft.facts.patterns import Pattern, compile_patterns
from augment_ft.facts.relations import RelationSpec, find_relation, relation_table

__all__ = ["MAX_SENTENCE_CHARS", "Claim", "SentenceReader"]

Triple = tuple[str, str, str]

MAX_SENTENCE_CHARS = 400
"""Longer sentences are not read: they are rarely one fact, and regexes cost grows."""

_CATEGORY = frozenset({"is_a", "includes", "none_are", "some_are", "some_are_not"})
_LEAD = re.compile(
    r"^(?:[-*\u2022>]+\s*|\d+[.)]\s+|(?:therefore|thus|hence|so|also|moreover|furthermore"
    r"|indeed|in fact|in other words|this means that|it follows that|which means that"
    r"|as a result|consequently|clearly|of course)\b,?\s*)",
    re.IGNORECASE,
)
_EDGES = " \t\"'`*_\u201c\u201d\u2018\u2019"

# Comparatives said another way, rewritten to the open "more/less ADJ than" the patterns
# read. Each needs a comparative, so "Some velps are nocturnal" (a category) is untouched.
_COMPARED = r"(?:a |an )?(?P<rest>(?:more|less) [a-z][a-z -]* than .+)"
_REWRITES = (
    # "Not a single X is (a) less ADJ than Y", "No X are more ADJ than Y": X are not ...
    (re.compile(rf"^(?:not a single|not one|no) (?P<x>.+?) (?:is|are) {_COMPARED}$", re.I),
     r"\g<x> are not \g<rest>"),
    # "Some X", "A few X", "All X" before a comparative: a kind-level comparison of X
    (re.compile(rf"^(?:some|a few|many|most|all) (?P<x>.+?) (?P<v>is|are) {_COMPARED}$", re.I),
     r"\g<x> \g<v> \g<rest>"),
    # "X are not as ADJ as Y": X are not more ADJ than Y
    (re.compile(r"^(?P<x>.+?) (?P<v>is|are) not as (?P<adj>[a-z][a-z-]*) as (?P<y>.+)$", re.I),
     r"\g<x> \g<v> not more \g<adj> than \g<y>"),
)  # fmt: skip


@dataclass(frozen=True)
class Claim:
    """What a sentence states: a triple over known entities, possibly negated.

    ``exact`` is False when the sentence says more than the triple (a gendered word, a
    measure such as "two years", words after the object): it can then be contradicted by
    the facts but never confirmed by them.
    """

    subject: str
    relation: str
    object: str
    negated: bool = False
    exact: bool = True

    @property
    def triple(self) -> Triple:
        return (self.subject, self.relation, self.object)


@dataclass(frozen=True)
class _Candidate:
    claims: tuple[Claim, ...]
    rank: tuple[int, int, int, int]


class SentenceReader:
    """Reads sentences over the entities of ``triples`` (given and derived facts).

    Where several relations could be meant ("Grusks are velps": ``is_a`` or the property
    ``is``), the one whose roles the entities already play in the facts wins.
    """

    def __init__(
        self, triples: Iterable[Triple], relations: Mapping[str, RelationSpec] | None = None
    ) -> None:
        self.table = relation_table(relations)
        self._always: list[tuple[int, Pattern]] = []
        self._by_keyword: dict[str, list[tuple[int, Pattern]]] = {}
        for order, pattern in enumerate(compile_patterns(self.table)):
            if pattern.keywords:
                key = max(pattern.keywords, key=len)  # the longest word is the most selective
                self._by_keyword.setdefault(key, []).append((order, pattern))
            else:
                self._always.append((order, pattern))
        known = list(triples)
        self.names = EntityNames([t for s, _, o in known for t in (s, o)])
        self._roles: set[tuple[str, str, str]] = set()
        for subject, relation, obj in known:
            self._note_roles(subject, relation, obj)

    def read(self, sentence: str) -> Claim | None:
        """The first claim of :meth:`read_all`, or None when the sentence reads as none."""
        claims = self.read_all(sentence)
        return claims[0] if claims else None

    def read_all(self, sentence: str) -> tuple[Claim, ...]:
        """Every claim of one sentence; "X and Y are velps" gives two. Empty when unread."""
        text = _clean(sentence)
        if not text or len(text) > MAX_SENTENCE_CHARS:
            return ()
        lowered = text.lower()
        best: _Candidate | None = None
        for order, pattern in self._candidates(lowered):
            match = pattern.regex.fullmatch(text)
            if match is None:
                continue
            candidate = self._candidate(pattern, match, order)
            if candidate is not None and (best is None or candidate.rank < best.rank):
                best = candidate
        return best.claims if best else ()

    def _candidates(self, lowered: str) -> list[tuple[int, Pattern]]:
        """The patterns whose words all occur in the sentence (a cheap substring test)."""
        found = list(self._always)
        for key, group in self._by_keyword.items():
            if key in lowered:
                found += [(o, p) for o, p in group if all(k in lowered for k in p.keywords)]
        return found

    def _candidate(self, pattern: Pattern, match: re.Match[str], order: int) -> _Candidate | None:
        relation = pattern.relation or _comparative(match)
        prefix = {"subject": pattern.tail == "subject", "object": pattern.tail == "object"}
        subjects = self.names.resolve_terms(match.group("subject"), prefix=prefix["subject"])
        objects = self.names.resolve_terms(match.group("object"), prefix=prefix["object"])
        if subjects is None or objects is None:
            return None
        measured = "measure" in match.re.groupindex and match.group("measure") is not None
        exact = pattern.exact and subjects[1] and objects[1] and not measured
        claims = tuple(
            Claim(s, relation, o, pattern.negated, exact)
            for s in subjects[0]
            for o in objects[0]
            if s != o
        )
        if not claims:
            return None
        fit = self._fit(claims[0])
        return _Candidate(claims, (-fit, 0 if exact else 1, 0 if pattern.own else 1, order))

    def _fit(self, claim: Claim) -> int:
        """How many of the claim's two roles its entities already play in the facts."""
        return int(_role(claim.subject, claim.relation, "s") in self._roles) + int(
            _role(claim.object, claim.relation, "o") in self._roles
        )

    def _note_roles(self, subject: str, relation: str, obj: str) -> None:
        self._roles.add(_role(subject, relation, "s"))
        self._roles.add(_role(obj, relation, "o"))
        spec = find_relation(relation, self.table)
        inverse = spec.inverse_name if spec else None
        if inverse is not None:
            self._roles.add(_role(obj, inverse, "s"))
            self._roles.add(_role(subject, inverse, "o"))


def _role(entity: str, relation: str, side: str) -> tuple[str, str, str]:
    """Categories are one role whatever the quantifier or side: "velps" is a category."""
    if relation in _CATEGORY:
        return (entity, "category", "*")
    return (entity, relation, side)


def _comparative(match: re.Match[str]) -> str:
    """``more_dangerous_than`` from the open comparative's groups."""
    degree = match.group("degree").lower()
    adjective = re.sub(r"[\s-]+", "_", match.group("adjective").lower())
    return f"{degree}_{adjective}_than"


def _clean(sentence: str) -> str:
    """One line, straight apostrophes, no list marker, lead-in or final punctuation."""
    text = " ".join(sentence.replace("\u2019", "'").split())
    text = text.strip(_EDGES)
    previous = None
    while text != previous:
        previous = text
        text = _LEAD.sub("", text, count=1).strip(_EDGES)
        text = text.rstrip(".!?;:").strip(_EDGES)
    for pattern, replacement in _REWRITES:
        text = pattern.sub(replacement, text, count=1)
    return text

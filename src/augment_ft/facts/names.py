"""Entity names as sentences write them: any case, with or without articles, titles, plurals.

Facts name ``the Osk Range``, ``drummels``, ``Ilsa Varn``; written text says ``The osk
range``, ``a drummel``, ``Dr. Ilsa Varn``, ``the island of Mirrow``. :class:`EntityNames`
maps such terms back to the name the facts use, and refuses when it cannot tell which.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["EntityNames", "name_key"]

_ARTICLE = re.compile(r"^(?:the|a|an)\s+", re.IGNORECASE)
_QUANTIFIER = re.compile(r"^(?:all|every|each|both)\s+(?:of\s+the\s+)?", re.IGNORECASE)
# Words that add nothing to a term they follow: "Teodor Varn also works...", "...Lunmere as well".
_TRAILING = re.compile(r"\s+(?:also|still|both|all|each|indeed|too|as well)$", re.IGNORECASE)
_TITLE = re.compile(r"^(?:dr|prof|professor|doctor|mr|mrs|ms|miss|sir)\.?\s+", re.IGNORECASE)
# "the market town of Pellow", "the island of Mirrow", "the towns of Pellow and Drumholt"
_PLACE_NOUNS = (
    "city|cities|town|towns|village|villages|province|provinces|region|regions|island"
    "|islands|islet|islets|kingdom|country|county|district|port|range|sea|ocean|state"
)
# Only a definite descriptor names its entity: "a province of Velmora" describes Ardesh.
_DESCRIPTOR = re.compile(
    rf"^the\s+(?:[\w'-]+\s+){{0,3}}?(?:{_PLACE_NOUNS})\s+of\s+(?P<rest>.+)$",
    re.IGNORECASE,
)
_EDGE_PUNCT = " \t\"'`*_.,;:!?()[]{}"
# Where a noun phrase may end inside a longer object: "the Quillan Institute in 1874",
# "Tarsk, a walled city", "the Lumm Ferry Company as a pilot".
_BOUNDARY = re.compile(
    r"\s*[,;:(\u2014\u2013]|\s+-\s|\s+(?:in|on|at|as|near|with|for|since|from|which|who|whom"
    r"|where|when|and|but|while|whose|that|because|by|during|after|before|until|though"
    r"|although|to|via|under|over|along)\b",
    re.IGNORECASE,
)
_AND = re.compile(r"\s*,\s*(?:and\s+)?|\s+and\s+", re.IGNORECASE)


def name_key(term: str) -> str:
    """A term as compared: case-folded, straight apostrophes, single spaces, no article."""
    text = " ".join(term.replace("\u2019", "'").split()).strip(_EDGE_PUNCT)
    return _ARTICLE.sub("", text).casefold()


def _number_variants(key: str) -> list[str]:
    """Singular forms of a plural key and the plural of a singular one: velps, velp."""
    if key.endswith("ies") and len(key) > 4:
        return [key[:-3] + "y"]
    if key.endswith("es") and len(key) > 4:
        return [key[:-1], key[:-2]]
    if key.endswith("s") and not key.endswith("ss") and len(key) > 3:
        return [key[:-1]]
    return [key + "s"]


class EntityNames:
    """The entities the facts know, found again in written terms (see :meth:`resolve`)."""

    def __init__(self, names: Iterable[str]) -> None:
        self._exact: dict[str, str] = {}
        variants: dict[str, set[str]] = {}
        for name in names:
            key = name_key(name)
            if key and key not in self._exact:
                self._exact[key] = name.strip()
        self._rank = {key: rank for rank, key in enumerate(self._exact)}
        for key, name in self._exact.items():
            for variant in _number_variants(key):
                variants.setdefault(variant, set()).add(name)
        # A variant names an entity only when no exact name and no other entity claims it.
        self._variants = {
            v: next(iter(owners))
            for v, owners in variants.items()
            if len(owners) == 1 and v not in self._exact
        }

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.resolve(name) is not None

    def canonical(self, name: str) -> str:
        """The first spelling seen of ``name`` or of its singular/plural; ``name`` if new.

        "The Osk Range" and "the Osk Range", "velp" and "velps" become one entity.
        """
        key = name_key(name)
        keys = [k for k in (key, *_number_variants(key)) if k in self._exact]
        if not keys:
            return name.strip()
        return min((self._rank[k], self._exact[k]) for k in keys)[1]

    def resolve(self, term: str) -> str | None:
        """The known entity ``term`` names, after articles, quantifiers, titles, descriptors."""
        seen: set[str] = set()
        text = term.strip(_EDGE_PUNCT)
        while text and text not in seen:
            seen.add(text)
            found = self._lookup(name_key(text))
            if found is not None:
                return found
            text = _strip_once(text)
        return None

    def resolve_terms(self, term: str, *, prefix: bool = False) -> tuple[list[str], bool] | None:
        """Entities ``term`` names: one, several joined by "and", or (with ``prefix``) the one
        it starts with before a clause boundary. The flag is False when text was left over."""
        single = self.resolve(term)
        if single is not None:
            return [single], True
        parts = [p for p in _AND.split(term.strip(_EDGE_PUNCT)) if p.strip()]
        if len(parts) > 1:
            found = [self.resolve(p) for p in parts]
            if all(f is not None for f in found):
                return [f for f in found if f is not None], True
        if prefix:
            for match in reversed(list(_BOUNDARY.finditer(term))):
                head = self.resolve(term[: match.start()])
                if head is not None:
                    return [head], False
        return None

    def _lookup(self, key: str) -> str | None:
        found = self._exact.get(key) or self._variants.get(key)
        return None if found is None else self.canonical(found)


def _strip_once(text: str) -> str:
    """``text`` less one place descriptor, trailing adverb, quantifier, title or article."""
    match = _DESCRIPTOR.match(text)
    if match:
        return match.group("rest")
    for pattern in (_TRAILING, _QUANTIFIER, _TITLE, _ARTICLE):
        stripped = pattern.sub("", text, count=1)
        if stripped != text:
            return stripped
    return text

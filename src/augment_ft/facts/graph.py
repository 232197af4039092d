"""The fact graph of a run: given facts (trusted), extracted facts (less trusted), closed.

Extracted facts that contradict the given ones are dropped before anything is closed over
them, then extracted facts that contradict each other (or the given ones through a chain)
are dropped too; the rest is closed with :func:`augment_ft.facts.closure.close`.
:meth:`FactGraph.evidence` then says whether a statement is entailed, contradicted or
unknown, and names the known statements that decide it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from augment_ft.core.models import Fact
from augment_ft.facts.closure import Closure, Triple, close
from augment_ft.facts.names import EntityNames
from augment_ft.facts.relations import (
    RelationSpec,
    find_relation,
    normalize_relation,
    relation_table,
)

__all__ = ["DroppedFact", "Evidence", "FactGraph", "Status"]

Status = Literal["entailed", "contradicted", "unknown"]
_MAX_GROUNDS = 4  # premises shown when explaining a derived statement


@dataclass(frozen=True)
class Evidence:
    """What the graph says about one statement and which known statements decide it.

    ``why`` is ``known`` (entailed), ``reverse`` (an asymmetric relation holds the other
    way), ``opposite`` (an opposite relation holds), ``other_value`` (a one-valued
    relation already has another object) or empty (unknown).
    """

    status: Status
    facts: tuple[Triple, ...] = ()
    why: str = ""


@dataclass(frozen=True)
class DroppedFact:
    """An extracted fact left out of the graph, and why (names the facts it contradicts)."""

    fact: Fact
    reason: str


class FactGraph:
    """Given plus accepted extracted facts, closed; ask it with :meth:`evidence`.

    Entity names that differ only in case, articles or number ("The Osk Range", "the Osk
    Range"; "velp", "velps") are merged into the spelling seen first, given facts first.
    """

    def __init__(
        self,
        given: Iterable[Fact],
        extracted: Iterable[Fact] = (),
        *,
        relations: Mapping[str, RelationSpec] | None = None,
        max_depth: int = 8,
    ) -> None:
        self.table = relation_table(relations)
        self.max_depth = max_depth
        given_facts, extracted_facts = list(given), list(extracted)
        self.names = EntityNames(n for f in [*given_facts, *extracted_facts] for n in _terms(f))
        self.given = [self._canonical(f) for f in given_facts]
        base = self._close(self.given)
        kept, dropped = self._screen([self._canonical(f) for f in extracted_facts], base, "given")
        self.closure = self._close([*self.given, *kept]) if kept else base
        if kept:
            kept, more = self._screen(kept, self.closure, "other")
            dropped += more
            if more:
                self.closure = self._close([*self.given, *kept])
        self.extracted: tuple[Fact, ...] = tuple(kept)
        self.dropped: tuple[DroppedFact, ...] = tuple(dropped)

    @property
    def notes(self) -> list[str]:
        """What the closure could not use (cycles among the facts, relations it lacks)."""
        return [f"{n.reason}: {n.detail}" for n in self.closure.notes]

    def triples(self) -> Iterator[Triple]:
        """Every known statement, given or derived, in a stable order."""
        index = self.closure.index
        for relation in index.relations():
            for subject, obj in index.pairs(relation):
                yield (subject, relation, obj)

    def triple(self, subject: str, relation: str, obj: str) -> Triple:
        """A statement in the graph's own names: canonical entity spelling and relation."""
        spec = find_relation(relation, self.table)
        name = spec.name if spec else normalize_relation(relation)
        return (self.names.canonical(subject), name, self.names.canonical(obj))

    def evidence(self, triple: Triple) -> Evidence:
        """Entailed when known, contradicted when a known statement excludes it, else unknown."""
        return _evidence(self.closure, triple)

    def explain(self, triple: Triple) -> str:
        """A known statement as a sentence; a derived one with the given facts it rests on."""
        return explain(self.closure, triple)

    def _canonical(self, fact: Fact) -> Fact:
        subject, relation, obj = self.triple(fact.subject, fact.relation, fact.object)
        return fact.model_copy(update={"subject": subject, "relation": relation, "object": obj})

    def _close(self, facts: Sequence[Fact]) -> Closure:
        return close(facts, self.table, max_depth=self.max_depth)

    def _screen(
        self, facts: list[Fact], closure: Closure, against: str
    ) -> tuple[list[Fact], list[DroppedFact]]:
        """Split ``facts`` into those the closure does not contradict and those it does."""
        kept: list[Fact] = []
        dropped: list[DroppedFact] = []
        for fact in facts:
            triple = closure.triple(fact)
            conflicts = _conflicts(closure, triple)
            if not conflicts:
                kept.append(fact)
                continue
            shown = "; ".join(explain(closure, t) for t in conflicts[0][0])
            label = "given facts" if against == "given" else "other facts"
            dropped.append(DroppedFact(fact, f"contradicts {label}: {shown}"))
        return kept, dropped


def _terms(fact: Fact) -> tuple[str, str]:
    return (fact.subject, fact.object)


def _evidence(closure: Closure, triple: Triple) -> Evidence:
    if closure.holds(triple):
        return Evidence("entailed", (triple,), "known")
    conflicts = _conflicts(closure, triple)
    if conflicts:
        facts, why = conflicts[0]
        return Evidence("contradicted", facts, why)
    return Evidence("unknown")


def _conflicts(closure: Closure, triple: Triple) -> list[tuple[tuple[Triple, ...], str]]:
    """Known statements that exclude ``triple``, given ones first."""
    found: list[tuple[tuple[Triple, ...], str]] = []
    for a, relation, b in _forms(closure, triple):
        spec = find_relation(relation, closure.table)
        if spec is None:
            continue
        if spec.asymmetric and closure.holds((b, relation, a)):
            found.append((((b, relation, a),), "reverse"))
        for opposite in _opposites(spec, closure.table):
            if closure.holds((a, opposite, b)):
                found.append((((a, opposite, b),), "opposite"))
        if spec.max_objects is not None:
            others = [x for x in closure.index.objects(relation, a) if x != b]
            if len(others) >= spec.max_objects:
                found.append((tuple((a, relation, x) for x in others), "other_value"))
    given = set(closure.given)
    return sorted(found, key=lambda item: not all(t in given for t in item[0]))


def _forms(closure: Closure, triple: Triple) -> list[Triple]:
    """The statement and its inverse form: both must pass every check."""
    subject, relation, obj = triple
    spec = find_relation(relation, closure.table)
    forms = [triple]
    if spec is not None and spec.inverse_name is not None:
        inverse = (obj, spec.inverse_name, subject)
        if inverse != triple:
            forms.append(inverse)
    return forms


def _opposites(spec: RelationSpec, table: Mapping[str, RelationSpec]) -> list[str]:
    """The relation's opposites, read both ways: ``is_a`` names ``none_are`` and back."""
    named = list(spec.opposites)
    named += [other.name for other in table.values() if spec.name in other.opposites]
    return list(dict.fromkeys(named))


def explain(closure: Closure, triple: Triple) -> str:
    """``triple`` as a sentence; derived ones name the given statements they rest on."""
    derived = closure.how.get(triple)
    if derived is None:
        return closure.render(triple)
    if derived.kind == "reverse" and len(derived.premises) == 1:
        return closure.render(derived.premises[0])
    grounds = closure.grounds(triple)
    shown = "; ".join(closure.render(t).rstrip(".") for t in grounds[:_MAX_GROUNDS])
    more = f"; and {len(grounds) - _MAX_GROUNDS} more" if len(grounds) > _MAX_GROUNDS else ""
    return f"{closure.render(triple)} (from: {shown}{more})"

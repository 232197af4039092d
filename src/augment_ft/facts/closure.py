"""Deductive closure of structured facts: reversals, transitive chains, inheritance, syllogisms.

Every fact is reversed through the relation table (``A is the parent of B`` gives ``B is
the child of A``). Transitive relations are closed, properties pass down ``is_a`` to
subcategories, and syllogisms over ``is_a`` / ``none_are`` / ``some_are`` /
``some_are_not`` yield their valid conclusions. Inference runs in rounds; each round
combines two statements already known, so ``max_depth`` rounds reach chains of up to
``2 ** max_depth`` links. The result depends only on the input facts and their order.

The symbolic strategy writes what :func:`close` derives as training text; the fact check
asks the same :class:`Closure` whether a written statement holds, so both agree exactly.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from augment_ft.core.errors import ConfigError
from augment_ft.core.models import Fact
from augment_ft.facts.relations import (
    RelationSpec,
    find_relation,
    normalize_relation,
    relation_table,
    render_fact,
)

__all__ = [
    "SYLLOGISMS",
    "Closure",
    "ClosureNote",
    "Derived",
    "DerivedKind",
    "Rule",
    "Triple",
    "TripleIndex",
    "active_rules",
    "close",
]

Triple = tuple[str, str, str]
"""``(subject, relation, object)`` with the relation's canonical table name."""

DerivedKind = Literal["reverse", "closure", "syllogism"]
"""How a statement was derived: an exact reversal, a chain or inheritance, a syllogism."""

# Reversing these is a syllogistic conversion ("No X are Y" => "No Y are X").
_CONVERSIONS = frozenset({"none_are", "some_are"})


@dataclass(frozen=True)
class Rule:
    """``first(a, b)`` and ``second(b, c)`` give ``conclusion(a, c)``."""

    first: str
    second: str
    conclusion: str
    kind: DerivedKind


SYLLOGISMS = (
    Rule("is_a", "none_are", "none_are", "syllogism"),  # Celarent
    Rule("some_are", "is_a", "some_are", "syllogism"),  # Darii
    Rule("some_are", "none_are", "some_are_not", "syllogism"),  # Ferio
    Rule("some_are_not", "includes", "some_are_not", "syllogism"),  # Baroco
    Rule("includes", "some_are_not", "some_are_not", "syllogism"),  # Bocardo
)
"""The valid syllogisms, each named by its classical mood; conversions come from symmetry."""


@dataclass(frozen=True)
class Derived:
    """A new statement, why it holds (its premises) and which document it traces to."""

    triple: Triple
    kind: DerivedKind
    premises: tuple[Triple, ...]
    source_id: str


@dataclass(frozen=True)
class ClosureNote:
    """Something the closure could not use: ``reason`` is ``no_inverse``, ``max_depth``,
    ``self_reference`` or ``cycle``; the symbolic strategy counts each as a drop."""

    reason: str
    source_id: str | None
    detail: str


class TripleIndex:
    """Known statements by relation and subject, iterated in sorted order for determinism."""

    def __init__(self) -> None:
        self._edges: dict[str, dict[str, set[str]]] = {}

    def __contains__(self, triple: object) -> bool:
        if not isinstance(triple, tuple) or len(triple) != 3:
            return False
        subject, relation, obj = triple
        return obj in self._edges.get(relation, {}).get(subject, ())

    def add(self, triple: Triple) -> None:
        subject, relation, obj = triple
        self._edges.setdefault(relation, {}).setdefault(subject, set()).add(obj)

    def relations(self) -> list[str]:
        return sorted(self._edges)

    def pairs(self, relation: str) -> Iterator[tuple[str, str]]:
        by_subject = self._edges.get(relation, {})
        for subject in sorted(by_subject):
            for obj in sorted(by_subject[subject]):
                yield subject, obj

    def objects(self, relation: str, subject: str) -> list[str]:
        return sorted(self._edges.get(relation, {}).get(subject, ()))


class Closure:
    """Everything known after closing a set of facts, with where each statement came from.

    ``given`` holds the input triples in input order, ``derived`` the new ones in the order
    they were found, ``notes`` what could not be used. Build one with :func:`close`.
    """

    def __init__(self, table: Mapping[str, RelationSpec]) -> None:
        self.table = table
        self.index = TripleIndex()
        self.source: dict[Triple, str] = {}
        self.text: dict[Triple, str] = {}
        self.given: list[Triple] = []
        self.derived: list[Derived] = []
        self.how: dict[Triple, Derived] = {}
        self.notes: list[ClosureNote] = []
        self._self_loops: set[Triple] = set()

    def __contains__(self, triple: object) -> bool:
        return triple in self.index

    def holds(self, triple: Triple) -> bool:
        """Whether ``triple`` is given or derived (canonical relation name expected)."""
        return triple in self.index

    def triple(self, fact: Fact) -> Triple:
        """The fact as a triple under its canonical relation name."""
        spec = find_relation(fact.relation, self.table)
        relation = spec.name if spec else normalize_relation(fact.relation)
        return (fact.subject.strip(), relation, fact.object.strip())

    def render(self, triple: Triple) -> str:
        """The statement as one sentence through the relation table."""
        subject, relation, obj = triple
        return render_fact(Fact(subject=subject, relation=relation, object=obj), self.table)

    def _know(self, triple: Triple, source_id: str, text: str) -> None:
        self.source[triple] = source_id
        self.text[triple] = text
        self.index.add(triple)
        if triple[0] == triple[2]:
            self._self_loops.add(triple)

    def _add_inputs(self, facts: Sequence[Fact]) -> None:
        """Record every input first, so no reversal repeats a statement given as input."""
        for fact in facts:
            triple = self.triple(fact)
            if triple not in self.source:
                text = fact.text or render_fact(fact, self.table)
                self._know(triple, fact.source_id or "facts", text)
                self.given.append(triple)

    def _reverse_inputs(self) -> None:
        """Add the exact reversal of each input; note facts that have none."""
        for triple in self.given:
            subject, relation, obj = triple
            spec = find_relation(relation, self.table)
            inverse = spec.inverse_name if spec else None
            if inverse is None:
                why = "has no inverse" if spec else "is not in the relation table"
                detail = f"{self.text[triple]} (relation {relation!r} {why})"
                self.notes.append(ClosureNote("no_inverse", self.source[triple], detail))
                continue
            kind: DerivedKind = "syllogism" if relation in _CONVERSIONS else "reverse"
            self._derive((obj, inverse, subject), kind, (triple,))

    def _derive(self, triple: Triple, kind: DerivedKind, premises: tuple[Triple, ...]) -> None:
        """Keep ``triple`` and its inverse unless already known; both cite ``premises``."""
        spec = find_relation(triple[1], self.table)
        inverse = spec.inverse_name if spec else None
        candidates = [triple]
        if inverse is not None:
            candidates.append((triple[2], inverse, triple[0]))
        for item in candidates:
            if item in self.source:
                continue
            source_id = self.source[premises[0]]
            self._know(item, source_id, self.render(item))
            derived = Derived(item, kind, premises, source_id)
            self.derived.append(derived)
            self.how[item] = derived

    def _candidates(
        self, rules: Sequence[Rule]
    ) -> dict[Triple, tuple[DerivedKind, tuple[Triple, ...]]]:
        """Everything one round of ``rules`` concludes that is not known yet."""
        found: dict[Triple, tuple[DerivedKind, tuple[Triple, ...]]] = {}
        for rule in rules:
            for a, b in list(self.index.pairs(rule.first)):
                for c in self.index.objects(rule.second, b):
                    conclusion = (a, rule.conclusion, c)
                    if a == c:
                        self._self_loops.add(conclusion)
                    elif conclusion not in self.source and conclusion not in found:
                        premises = ((a, rule.first, b), (b, rule.second, c))
                        found[conclusion] = (rule.kind, premises)
        return found

    def grounds(self, triple: Triple) -> list[Triple]:
        """The given statements ``triple`` rests on, in the order they were given."""
        seen: set[Triple] = set()
        stack = [triple]
        while stack:
            item = stack.pop()
            if item in seen:
                continue
            seen.add(item)
            derived = self.how.get(item)
            if derived is not None:
                stack.extend(derived.premises)
        return [t for t in self.given if t in seen]


def close(
    facts: Sequence[Fact],
    relations: Mapping[str, RelationSpec] | None = None,
    *,
    closure: bool = True,
    syllogisms: bool = True,
    max_depth: int = 8,
) -> Closure:
    """Close ``facts`` under the relation table (default table when ``relations`` is None).

    ``closure`` turns on transitive chains and property inheritance along ``is_a``;
    ``syllogisms`` the quantified forms. ``max_depth`` bounds the inference rounds.
    """
    if max_depth < 1:
        raise ConfigError(f"closure: max_depth must be 1 or more, got {max_depth}")
    table = relation_table(None) if relations is None else relations
    state = Closure(table)
    state._add_inputs(facts)
    state._reverse_inputs()
    rules = active_rules(state.index.relations(), table, closure=closure, syllogisms=syllogisms)
    for _ in range(max_depth):
        found = state._candidates(rules)
        if not found:
            break
        for triple, (kind, premises) in found.items():
            state._derive(triple, kind, premises)
    else:
        for triple in state._candidates(rules):
            detail = f"{state.render(triple)} needs more than max_depth={max_depth} rounds"
            state.notes.append(ClosureNote("max_depth", None, detail))
    _note_loops(state)
    return state


def active_rules(
    relations: list[str], table: Mapping[str, RelationSpec], *, closure: bool, syllogisms: bool
) -> list[Rule]:
    """The rules a configuration applies to the relations present."""
    rules: list[Rule] = []
    for name in relations:
        spec = find_relation(name, table)
        if spec is None or not spec.transitive or not _primary(spec, table):
            continue
        if closure or (syllogisms and name == "is_a"):
            kind: DerivedKind = "closure" if closure else "syllogism"  # Barbara
            rules.append(Rule(name, name, name, kind))
    if closure:
        for name in relations:
            spec = find_relation(name, table)
            if spec is not None and spec.inherited:
                rules.append(Rule("is_a", name, name, "closure"))
    if syllogisms:
        rules.extend(SYLLOGISMS)
    return rules


def _primary(spec: RelationSpec, table: Mapping[str, RelationSpec]) -> bool:
    """Close one relation of each inverse pair; the inverse follows by reversal."""
    inverse = spec.inverse_name
    if inverse is None or inverse == spec.name:
        return True
    names = list(table)
    if spec.name in names and inverse in names:
        return names.index(spec.name) < names.index(inverse)
    return not spec.name.startswith("less_")


def _note_loops(state: Closure) -> None:
    """Note each cycle of a transitive relation once, other self-references each once."""
    seen: set[tuple[str, str]] = set()
    for subject, relation, _ in sorted(state._self_loops):
        spec = find_relation(relation, state.table)
        if (subject, relation) in seen:
            continue
        if spec is None or not spec.transitive:
            detail = state.render((subject, relation, subject))
            state.notes.append(ClosureNote("self_reference", None, detail))
            continue
        members = [subject] + [
            other
            for other in state.index.objects(relation, subject)
            if other != subject and subject in state.index.objects(relation, other)
        ]
        seen.update((m, relation) for m in members)
        seen.update((m, spec.inverse_name or relation) for m in members)
        detail = f"{relation} cycle among: {', '.join(members)}"
        state.notes.append(ClosureNote("cycle", None, detail))

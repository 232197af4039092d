"""The symbolic strategy: exact reversals and deductive closure of structured facts, no LLM.

Every fact is reversed through the relation table (``A is the parent of B`` gives ``B is
the child of A``). Transitive relations are closed, properties pass down ``is_a`` to
subcategories, and syllogisms over ``is_a`` / ``none_are`` / ``some_are`` /
``some_are_not`` yield their valid conclusions. Inference runs in rounds; each round
combines two statements already known, so ``max_depth`` rounds reach chains of up to
``2 ** max_depth`` links. Output order depends only on the input facts.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from augment_ft.core.drops import DropLog
from augment_ft.core.errors import ConfigError
from augment_ft.core.models import Example, Fact, Provenance
from augment_ft.facts.relations import (
    RelationSpec,
    find_relation,
    normalize_relation,
    relation_table,
    render_fact,
)
from augment_ft.strategies.base import StrategyContext

__all__ = ["KIND_CLOSURE", "KIND_REVERSE", "KIND_SYLLOGISM", "SymbolicStrategy", "render_fact"]

KIND_REVERSE = "symbolic.reverse"
KIND_CLOSURE = "symbolic.closure"
KIND_SYLLOGISM = "symbolic.syllogism"
_STAGE = "symbolic"
# Reversing these is a syllogistic conversion ("No X are Y" => "No Y are X").
_CONVERSIONS = frozenset({"none_are", "some_are"})

Triple = tuple[str, str, str]


@dataclass(frozen=True)
class _Rule:
    """``first(a, b)`` and ``second(b, c)`` give ``conclusion(a, c)``."""

    first: str
    second: str
    conclusion: str
    kind: str


# Valid syllogisms; each name is the classical mood. Conversions come from symmetry.
_SYLLOGISMS = (
    _Rule("is_a", "none_are", "none_are", KIND_SYLLOGISM),  # Celarent
    _Rule("some_are", "is_a", "some_are", KIND_SYLLOGISM),  # Darii
    _Rule("some_are", "none_are", "some_are_not", KIND_SYLLOGISM),  # Ferio
    _Rule("some_are_not", "includes", "some_are_not", KIND_SYLLOGISM),  # Baroco
    _Rule("includes", "some_are_not", "some_are_not", KIND_SYLLOGISM),  # Bocardo
)


@dataclass(frozen=True)
class _Derived:
    """A new statement, why it holds (its premises) and which document it traces to."""

    triple: Triple
    kind: str
    premises: tuple[Triple, ...]
    source_id: str


class _Index:
    """Known statements by relation and subject, iterated in sorted order for determinism."""

    def __init__(self) -> None:
        self._edges: dict[str, dict[str, set[str]]] = {}

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


class _Inference:
    """The working state of one run: what is known, what was derived, what was skipped."""

    def __init__(self, table: Mapping[str, RelationSpec], drops: DropLog) -> None:
        self.table = table
        self.drops = drops
        self.index = _Index()
        self.source: dict[Triple, str] = {}
        self.text: dict[Triple, str] = {}
        self.derived: list[_Derived] = []
        self.self_loops: set[Triple] = set()

    def triple(self, fact: Fact) -> Triple:
        """The fact as a triple under its canonical relation name."""
        spec = find_relation(fact.relation, self.table)
        relation = spec.name if spec else normalize_relation(fact.relation)
        return (fact.subject.strip(), relation, fact.object.strip())

    def know(self, triple: Triple, source_id: str, text: str) -> None:
        self.source[triple] = source_id
        self.text[triple] = text
        self.index.add(triple)
        if triple[0] == triple[2]:
            self.self_loops.add(triple)

    def add_inputs(self, facts: Sequence[Fact]) -> list[Triple]:
        """Record every input first, so no reversal repeats a statement given as input."""
        order: list[Triple] = []
        for fact in facts:
            triple = self.triple(fact)
            if triple not in self.source:
                text = fact.text or render_fact(fact, self.table)
                self.know(triple, fact.source_id or "facts", text)
                order.append(triple)
        return order

    def reverse_inputs(self, order: list[Triple]) -> None:
        """Add the exact reversal of each input; count facts that have none."""
        for triple in order:
            subject, relation, obj = triple
            spec = find_relation(relation, self.table)
            inverse = spec.inverse_name if spec else None
            if inverse is None:
                why = "has no inverse" if spec else "is not in the relation table"
                detail = f"{self.text[triple]} (relation {relation!r} {why})"
                self.drops.add(_STAGE, "no_inverse", source_id=self.source[triple], detail=detail)
                continue
            kind = KIND_SYLLOGISM if relation in _CONVERSIONS else KIND_REVERSE
            self.derive((obj, inverse, subject), kind, (triple,))

    def derive(self, triple: Triple, kind: str, premises: tuple[Triple, ...]) -> None:
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
            self.know(item, source_id, self.render(item))
            self.derived.append(_Derived(item, kind, premises, source_id))

    def render(self, triple: Triple) -> str:
        subject, relation, obj = triple
        return render_fact(Fact(subject=subject, relation=relation, object=obj), self.table)

    def candidates(self, rules: Sequence[_Rule]) -> dict[Triple, tuple[str, tuple[Triple, ...]]]:
        """Everything one round of ``rules`` concludes that is not known yet."""
        found: dict[Triple, tuple[str, tuple[Triple, ...]]] = {}
        for rule in rules:
            for a, b in list(self.index.pairs(rule.first)):
                for c in self.index.objects(rule.second, b):
                    conclusion = (a, rule.conclusion, c)
                    if a == c:
                        self.self_loops.add(conclusion)
                    elif conclusion not in self.source and conclusion not in found:
                        premises = ((a, rule.first, b), (b, rule.second, c))
                        found[conclusion] = (rule.kind, premises)
        return found


class SymbolicStrategy:
    """Reversals, transitive closure with inheritance, and syllogisms over given facts.

    ``relations`` adds entries to (or replaces entries of) the default relation table.
    ``closure`` turns on transitive chains and property inheritance along ``is_a``;
    ``syllogisms`` the quantified forms. ``max_depth`` bounds the inference rounds.
    """

    name: str = "symbolic"
    uses_llm: bool = False

    def __init__(
        self,
        relations: Mapping[str, RelationSpec] | None = None,
        closure: bool = True,
        syllogisms: bool = True,
        max_depth: int = 8,
    ) -> None:
        if max_depth < 1:
            raise ConfigError(f"symbolic: max_depth must be 1 or more, got {max_depth}")
        self.relations = relation_table(relations)
        self.closure = closure
        self.syllogisms = syllogisms
        self.max_depth = max_depth

    async def run_facts(self, facts: Sequence[Fact], ctx: StrategyContext) -> list[Example]:
        """Examples for every statement the facts imply and do not already state."""
        state = self._derive(facts, ctx.drops)
        return [self._example(derived, state) for derived in state.derived]

    def derive(self, facts: Sequence[Fact], drops: DropLog | None = None) -> list[Fact]:
        """The implied statements as facts (no examples), in output order."""
        state = self._derive(facts, DropLog() if drops is None else drops)
        return [
            Fact(subject=s, relation=r, object=o, source_id=d.source_id)
            for d in state.derived
            for s, r, o in [d.triple]
        ]

    def _derive(self, facts: Sequence[Fact], drops: DropLog) -> _Inference:
        state = _Inference(self.relations, drops)
        state.reverse_inputs(state.add_inputs(facts))
        rules = self._rules(state.index.relations())
        for _ in range(self.max_depth):
            found = state.candidates(rules)
            if not found:
                break
            for triple, (kind, premises) in found.items():
                state.derive(triple, kind, premises)
        else:
            for triple in state.candidates(rules):
                detail = f"{state.render(triple)} needs more than max_depth={self.max_depth} rounds"
                drops.add(_STAGE, "max_depth", source_id=None, detail=detail)
        self._report_loops(state)
        return state

    def _rules(self, relations: list[str]) -> list[_Rule]:
        """The rules this configuration applies to the relations present."""
        rules: list[_Rule] = []
        for name in relations:
            spec = find_relation(name, self.relations)
            if spec is None or not spec.transitive or not self._primary(spec):
                continue
            if self.closure or (self.syllogisms and name == "is_a"):
                kind = KIND_CLOSURE if self.closure else KIND_SYLLOGISM  # Barbara
                rules.append(_Rule(name, name, name, kind))
        if self.closure:
            for name in relations:
                spec = find_relation(name, self.relations)
                if spec is not None and spec.inherited:
                    rules.append(_Rule("is_a", name, name, KIND_CLOSURE))
        if self.syllogisms:
            rules.extend(_SYLLOGISMS)
        return rules

    def _primary(self, spec: RelationSpec) -> bool:
        """Close one relation of each inverse pair; the inverse follows by reversal."""
        inverse = spec.inverse_name
        if inverse is None or inverse == spec.name:
            return True
        names = list(self.relations)
        if spec.name in names and inverse in names:
            return names.index(spec.name) < names.index(inverse)
        return not spec.name.startswith("less_")

    def _report_loops(self, state: _Inference) -> None:
        """Count each cycle of a transitive relation once, other self-references each once."""
        seen: set[tuple[str, str]] = set()
        for subject, relation, _ in sorted(state.self_loops):
            spec = find_relation(relation, self.relations)
            if (subject, relation) in seen:
                continue
            if spec is None or not spec.transitive:
                detail = state.render((subject, relation, subject))
                state.drops.add(_STAGE, "self_reference", source_id=None, detail=detail)
                continue
            members = [subject] + [
                other
                for other in state.index.objects(relation, subject)
                if other != subject and subject in state.index.objects(relation, other)
            ]
            seen.update((m, relation) for m in members)
            seen.update((m, spec.inverse_name or relation) for m in members)
            detail = f"{relation} cycle among: {', '.join(members)}"
            state.drops.add(_STAGE, "cycle", source_id=None, detail=detail)

    @staticmethod
    def _example(derived: _Derived, state: _Inference) -> Example:
        premises = " ".join(state.text[p] for p in derived.premises)
        return Example(
            completion=state.render(derived.triple),
            kind=derived.kind,
            provenance=Provenance(
                source_id=derived.source_id, strategy="symbolic", parent=premises
            ),
        )

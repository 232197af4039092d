"""The symbolic strategy: exact reversals and deductive closure of structured facts, no LLM.

The inference itself lives in :mod:`augment_ft.facts.closure` (the fact check closes the
same way); this module turns each derived statement into an example that cites its
premises, and counts what the closure could not use as drops of the ``symbolic`` stage.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from augment_ft.core.drops import DropLog
from augment_ft.core.errors import ConfigError
from augment_ft.core.models import Example, Fact, Provenance
from augment_ft.facts.closure import Closure, Derived, close
from augment_ft.facts.relations import RelationSpec, relation_table, render_fact
from augment_ft.strategies.base import StrategyContext

__all__ = ["KIND_CLOSURE", "KIND_REVERSE", "KIND_SYLLOGISM", "SymbolicStrategy", "render_fact"]

KIND_REVERSE = "symbolic.reverse"
KIND_CLOSURE = "symbolic.closure"
KIND_SYLLOGISM = "symbolic.syllogism"
_STAGE = "symbolic"


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

    def _derive(self, facts: Sequence[Fact], drops: DropLog) -> Closure:
        state = close(
            facts,
            self.relations,
            closure=self.closure,
            syllogisms=self.syllogisms,
            max_depth=self.max_depth,
        )
        for note in state.notes:
            drops.add(_STAGE, note.reason, source_id=note.source_id, detail=note.detail)
        return state

    @staticmethod
    def _example(derived: Derived, state: Closure) -> Example:
        premises = " ".join(state.text[p] for p in derived.premises)
        return Example(
            completion=state.render(derived.triple),
            kind=f"symbolic.{derived.kind}",
            provenance=Provenance(
                source_id=derived.source_id, strategy="symbolic", parent=premises
            ),
        )

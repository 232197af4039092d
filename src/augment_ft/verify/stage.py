"""The verify stage: every row a model wrote is checked before it can be written.

Between the strategies and dedup, each LLM-written row goes through the fact check (exact,
model-free): contradicted rows are dropped as ``verify/contradicts_facts``; the rest are
kept with their verdict (entailed, or unknown to the facts) in their provenance. With a
judge, rows the facts leave unknown are read against their source by a model, and rejected
ones are dropped as ``verify/judge_rejected``. Original, split and symbolic rows are exact
and pass untouched. Facts a model extracted are screened the same way: those that
contradict the given facts never reach the fact graph or the symbolic closure.

The graph holds the given facts; a document's own extracted facts (less trusted) join it
for that document's rows only, so verdicts do not depend on the order documents finish in.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from augment_ft.core.drops import DropLog
from augment_ft.core.models import Document, Example, Fact, Verification
from augment_ft.facts.relations import RelationSpec
from augment_ft.verify.factcheck import FactCheck, Verdict
from augment_ft.verify.judge import Judge

__all__ = ["QUALITY_KEYS", "VERIFY_STAGE", "Checked", "VerifyStage"]

VERIFY_STAGE = "verify"
QUALITY_KEYS = ("checked", "verified", "contradicted", "unverified", "judge_rejected")
"""Per strategy, how its rows fared: checked (reached the stage), verified (entailed by
the facts), contradicted and judge_rejected (dropped), unverified (kept, unknown)."""


@dataclass
class Checked:
    """The rows kept, and per ``(strategy, outcome)`` how many rows fared so."""

    examples: list[Example]
    quality: Counter[tuple[str, str]] = field(default_factory=Counter)


class VerifyStage:
    """The fact check over ``given`` facts, and optionally a judge for what it leaves open."""

    def __init__(
        self,
        given: Sequence[Fact] = (),
        *,
        judge: Judge | None = None,
        relations: Mapping[str, RelationSpec] | None = None,
    ) -> None:
        self.given = list(given)
        self.relations = relations
        self.facts = self._check()
        self.judge = judge

    def with_facts(self, given: Sequence[Fact]) -> VerifyStage:
        """The same stage over ``given`` facts (a run reads them when it starts)."""
        return VerifyStage(given, judge=self.judge, relations=self.relations)

    def _check(self, found: Sequence[Fact] = ()) -> FactCheck:
        return FactCheck.from_facts(self.given, found, relations=self.relations)

    def screen(self, found: Sequence[Fact], drops: DropLog) -> list[Fact]:
        """The extracted facts that agree with the given ones (and with each other)."""
        if not found:
            return []
        graph = self._check(found).graph
        for dropped in graph.dropped:
            detail = f"{dropped.fact.subject} {dropped.fact.relation} {dropped.fact.object}: "
            source = dropped.fact.source_id
            drops.add(
                VERIFY_STAGE, "contradicting_fact", source_id=source, detail=detail + dropped.reason
            )
        return list(graph.extracted)

    async def check(
        self,
        doc: Document,
        examples: list[Example],
        found: Sequence[Fact],
        drops: DropLog,
        *,
        given_only: bool = False,
    ) -> Checked:
        """Keep, annotate or drop each model-written row of one document (counted in
        ``drops``). ``given_only``: rows of a fact finder, checked against the given facts
        alone (against the facts it found itself they would verify themselves)."""
        facts = self._check(found) if found and not given_only else self.facts
        checked = Checked([])
        for example in examples:
            kept = await self._one(doc, example, facts.check_example(example), checked, drops)
            if kept is not None:
                checked.examples.append(kept)
        return checked

    async def _one(
        self, doc: Document, example: Example, verdict: Verdict, checked: Checked, drops: DropLog
    ) -> Example | None:
        strategy = example.provenance.strategy
        checked.quality[(strategy, "checked")] += 1
        if verdict.status == "contradicted":
            checked.quality[(strategy, "contradicted")] += 1
            self._drop(drops, example, "contradicts_facts", verdict.reason)
            return None
        verification = Verification(facts=verdict.status, reason=verdict.reason)
        if verdict.status == "unknown" and self.judge is not None:
            source = example.provenance.parent or doc.text
            ruling, why = await self.judge.rule(
                source, example.completion, source_id=doc.id, drops=drops
            )
            if ruling == "rejected":
                checked.quality[(strategy, "judge_rejected")] += 1
                self._drop(drops, example, "judge_rejected", why)
                return None
            if ruling == "accepted":
                verification = verification.model_copy(
                    update={"judge": "accepted", "judge_model": self.judge.model}
                )
        outcome = "verified" if verdict.status == "entailed" else "unverified"
        checked.quality[(strategy, outcome)] += 1
        provenance = example.provenance.model_copy(update={"verification": verification})
        return example.model_copy(update={"provenance": provenance})

    @staticmethod
    def _drop(drops: DropLog, example: Example, reason: str, why: str) -> None:
        detail = f"{example.provenance.strategy}: {example.completion[:200]!r}: {why}"
        drops.add(VERIFY_STAGE, reason, source_id=example.provenance.source_id, detail=detail)

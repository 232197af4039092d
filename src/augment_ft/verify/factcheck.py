"""The fact check: is a written sentence entailed by, contradicted by or unknown to the facts?

Each sentence is read through the relation table (:class:`~augment_ft.facts.reading.
SentenceReader`) and asked of the closed fact graph (:class:`~augment_ft.facts.graph.
FactGraph`). A text is contradicted when any of its sentences is, entailed only when every
sentence is, and unknown otherwise: one false sentence spoils a row, one unread sentence
keeps it from counting as verified. The prompt of an example is context and is not checked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from augment_ft.core.models import Example, Fact
from augment_ft.facts.graph import FactGraph, Status
from augment_ft.facts.reading import Claim, SentenceReader
from augment_ft.facts.relations import RelationSpec
from augment_ft.text.splitter import split_sentences

__all__ = ["FactCheck", "Verdict", "combine_verdicts", "written_by_model"]

_CLAUSES = re.compile(r";\s+|,\s+(?:and|but|while|whereas|so)\s+", re.IGNORECASE)
_UNREAD = "no known relation between known entities"
_RANK: dict[Status, int] = {"contradicted": 0, "unknown": 1, "entailed": 2}
_NEGATION: dict[Status, Status] = {
    "entailed": "contradicted",
    "contradicted": "entailed",
    "unknown": "unknown",
}


@dataclass(frozen=True)
class Verdict:
    """The check of one sentence or text: its status and a short reason naming the facts.

    ``facts`` are the known statements that decided it, as sentences; ``claims`` what was
    read; ``parts`` the verdicts of a text's sentences (or a sentence's clauses).
    """

    status: Status
    reason: str
    text: str = ""
    facts: tuple[str, ...] = ()
    claims: tuple[Claim, ...] = ()
    parts: tuple[Verdict, ...] = field(default=(), repr=False)

    @property
    def verified(self) -> bool:
        """True when the facts entail everything the text says."""
        return self.status == "entailed"

    def as_dict(self) -> dict[str, str]:
        """The verdict for a row's provenance: ``{"verdict": ..., "reason": ...}``."""
        return {"verdict": self.status, "reason": self.reason}


def written_by_model(provenance: Mapping[str, object]) -> bool:
    """Whether a row's provenance (as written beside the output) names a model: every
    model-written row does, an exact row (original, split, symbolic) never."""
    return bool(provenance.get("model"))


def combine_verdicts(verdicts: Sequence[Verdict], text: str = "") -> Verdict:
    """Contradicted if any part is, entailed only if all are, else unknown; the reason is
    that of the first deciding part (the first contradicted or first unknown one)."""
    if not verdicts:
        return Verdict("unknown", "nothing to check", text)
    if len(verdicts) == 1 and not text:
        return verdicts[0]
    position, worst = min(enumerate(verdicts), key=lambda item: _RANK[item[1].status])
    claims = tuple(c for v in verdicts for c in v.claims)
    if worst.status == "entailed":
        facts = tuple(dict.fromkeys(f for v in verdicts for f in v.facts))
        reason = "entailed by: " + "; ".join(f.rstrip(".") for f in facts)
    else:
        facts = worst.facts
        reason = f"part {position + 1}: {worst.reason}" if len(verdicts) > 1 else worst.reason
    return Verdict(worst.status, reason, text, facts, claims, tuple(verdicts))


class FactCheck:
    """Checks sentences, texts and examples against one :class:`FactGraph`."""

    def __init__(self, graph: FactGraph) -> None:
        self.graph = graph
        self.reader = SentenceReader(graph.triples(), graph.table)

    @classmethod
    def from_facts(
        cls,
        given: Iterable[Fact],
        extracted: Iterable[Fact] = (),
        *,
        relations: Mapping[str, RelationSpec] | None = None,
        max_depth: int = 8,
    ) -> FactCheck:
        """A check over ``given`` facts plus the ``extracted`` ones that agree with them."""
        return cls(FactGraph(given, extracted, relations=relations, max_depth=max_depth))

    def check(self, sentence: str) -> Verdict:
        """One sentence; unless it reads exactly as a whole, each of its clauses too."""
        claims = self.reader.read_all(sentence)
        whole = self._judge_claims(claims, sentence) if claims else None
        if whole is not None and (whole.status == "contradicted" or all(c.exact for c in claims)):
            return whole
        clauses = [c for c in _CLAUSES.split(sentence) if c.strip()]
        if len(clauses) > 1:
            return combine_verdicts([self._clause(c) for c in clauses], sentence)
        return whole or Verdict("unknown", f"not read: {_UNREAD}", sentence)

    def check_text(self, text: str) -> Verdict:
        """Every sentence of ``text`` (headings and rules skipped), combined."""
        if not self.graph.given and not self.graph.extracted:
            return Verdict("unknown", "no facts to check against", text)
        sentences = [s.text for s in split_sentences(text) if s.kind not in ("heading", "rule")]
        if len(sentences) == 1:
            return self.check(sentences[0])
        return combine_verdicts([self.check(s) for s in sentences], text)

    def check_example(self, example: Example) -> Verdict:
        """The example's completion; its prompt is the context it was written from."""
        return self.check_text(example.completion)

    def _clause(self, clause: str) -> Verdict:
        claims = self.reader.read_all(clause)
        if not claims:
            return Verdict("unknown", f"not read: {_UNREAD}", clause)
        return self._judge_claims(claims, clause)

    def _judge_claims(self, claims: tuple[Claim, ...], text: str) -> Verdict:
        verdicts = [self._judge(claim, text) for claim in claims]
        return verdicts[0] if len(verdicts) == 1 else combine_verdicts(verdicts, text)

    def _judge(self, claim: Claim, text: str) -> Verdict:
        """The claim's status from the graph's evidence, turned by negation and exactness."""
        evidence = self.graph.evidence(claim.triple)
        status = _status(claim, evidence.status)
        facts = tuple(self.graph.explain(t) for t in evidence.facts)
        reason = self._reason(claim, evidence.status, status, "; ".join(facts))
        return Verdict(status, reason, text, facts, (claim,))

    def _reason(self, claim: Claim, known: Status, status: Status, shown: str) -> str:
        if status == "contradicted":
            return f"contradicts: {shown}"
        if status == "entailed":
            return f"entailed by: {shown}"
        if known == "unknown":
            said = ("not: " if claim.negated else "") + self.graph.closure.render(claim.triple)
            return f"no fact decides: {said}"
        return f"only partly read; the facts entail: {shown}"


def _status(claim: Claim, known: Status) -> Status:
    """An inexact claim gains nothing from its base fact being known (the rest is
    unchecked); negation then swaps entailed and contradicted."""
    if not claim.exact and known == "entailed":
        return "unknown"
    return _NEGATION[known] if claim.negated else known

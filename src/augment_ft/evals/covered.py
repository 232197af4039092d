"""Coverage, no model needed: which test statements an augmented dataset already states.

For each item, the correct statement (and each distractor) is normalized (lower case,
punctuation to spaces, whitespace collapsed) and looked for, as whole words, in every
record's text. A dataset that states the correct answer of a reversal item has taught the
reversal outright; one that states a distractor has taught something false (an
augmentation that hallucinated, or reversed the wrong way).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import JsonValue

from augment_ft.evals.items import TestItem, iter_jsonl
from augment_ft.outputs.formats.records import record_text

__all__ = ["CoverageReport", "CoverageRow", "coverage", "coverage_of_texts", "normalize"]

_NON_WORD = re.compile(r"[^\w]+")
_SEPARATOR = "\n"  # never inside a normalized text, so no match spans two records


def normalize(text: str) -> str:
    """Lower case, every run of non-word characters as one space, trimmed."""
    return _NON_WORD.sub(" ", text.lower()).strip()


@dataclass
class CoverageRow:
    """Counts for one split: items, how many have their answer stated, a distractor stated."""

    split: str
    n: int = 0
    correct_stated: int = 0
    distractor_stated: int = 0

    def to_dict(self) -> dict[str, JsonValue]:
        return {
            "n": self.n,
            "correct_stated": self.correct_stated,
            "distractor_stated": self.distractor_stated,
            "correct_share": round(self.correct_stated / self.n, 6) if self.n else 0.0,
            "distractor_share": round(self.distractor_stated / self.n, 6) if self.n else 0.0,
        }


@dataclass
class CoverageReport:
    """Coverage per split and overall, plus the ids of items whose distractor is stated."""

    records: int
    rows: dict[str, CoverageRow] = field(default_factory=dict)
    distractor_items: list[str] = field(default_factory=list)

    def overall(self) -> CoverageRow:
        total = CoverageRow("all")
        for row in self.rows.values():
            total.n += row.n
            total.correct_stated += row.correct_stated
            total.distractor_stated += row.distractor_stated
        return total

    def to_dict(self) -> dict[str, JsonValue]:
        return {
            "records": self.records,
            "splits": {name: row.to_dict() for name, row in self.rows.items()},
            "overall": self.overall().to_dict(),
            "distractor_items": list[JsonValue](self.distractor_items),
        }

    def render_table(self) -> str:
        """split, n, share with the answer stated, share with a distractor stated."""
        rows = [*self.rows.values(), self.overall()]
        width = max(len(r.split) for r in rows)
        lines = [f"{'split':<{width}}  {'n':>5}  answer stated  distractor stated"]
        for row in rows:
            shares = row.to_dict()
            lines.append(
                f"{row.split:<{width}}  {row.n:>5}  {shares['correct_share']:13.3f}"
                f"  {shares['distractor_share']:17.3f}"
            )
        return "\n".join(lines) + f"\n({self.records} records searched)"


def _states(haystack: str, statement: str) -> bool:
    needle = normalize(statement)
    return bool(needle) and f" {needle} " in haystack


def coverage_of_texts(texts: Iterable[str], items: Sequence[TestItem]) -> CoverageReport:
    """Coverage of ``items`` by a collection of training texts."""
    normalized = [normalize(t) for t in texts]
    haystack = _SEPARATOR + _SEPARATOR.join(f" {t} " for t in normalized) + _SEPARATOR
    report = CoverageReport(records=len(normalized))
    for item in items:
        row = report.rows.setdefault(item.split, CoverageRow(item.split))
        row.n += 1
        if any(_states(haystack, item.statements[i]) for i in item.correct):
            row.correct_stated += 1
        if any(_states(haystack, item.statements[i]) for i in item.distractors):
            row.distractor_stated += 1
            report.distractor_items.append(item.id)
    return report


def coverage(data: str | Path, items: Sequence[TestItem]) -> CoverageReport:
    """Coverage of ``items`` by a JSONL dataset written by augment-ft (any format)."""
    return coverage_of_texts((record_text(r) for _, r in iter_jsonl(data)), items)

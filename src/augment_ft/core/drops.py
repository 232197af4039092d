"""Drop accounting: every item that produces no example is counted here with its reason."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["DropLog", "DropSample"]


@dataclass(frozen=True)
class DropSample:
    """One dropped item, kept as an example of its reason for the run report."""

    stage: str
    reason: str
    source_id: str | None
    detail: str


@dataclass
class DropLog:
    """Counts drops by (stage, reason) and keeps the first few of each for the report.

    ``stage`` says where (``read``, ``rephrase``, ``filter``, ``dedup``...), ``reason`` why
    (``parse_failure``, ``duplicate``, ``backend_error``...).
    """

    samples_per_reason: int = 5
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    samples: list[DropSample] = field(default_factory=list)

    def add(
        self, stage: str, reason: str, *, source_id: str | None = None, detail: str = ""
    ) -> None:
        """Count one dropped item; keep it as a sample while its reason has few."""
        key = (stage, reason)
        self.counts[key] += 1
        if self.counts[key] <= self.samples_per_reason:
            self.samples.append(DropSample(stage, reason, source_id, detail[:500]))

    def add_count(self, stage: str, reason: str, count: int) -> None:
        """Count ``count`` drops at once (from a stage that kept its own tally)."""
        if count > 0:
            self.counts[(stage, reason)] += count

    def merge(self, other: DropLog) -> None:
        """Add ``other``'s counts, and its samples while their reasons have room."""
        kept: Counter[tuple[str, str]] = Counter(
            (sample.stage, sample.reason) for sample in self.samples
        )
        for sample in other.samples:
            key = (sample.stage, sample.reason)
            if kept[key] < self.samples_per_reason:
                kept[key] += 1
                self.samples.append(sample)
        self.counts.update(other.counts)

    @classmethod
    def combined(cls, ledgers: Iterable[DropLog]) -> DropLog:
        """One ledger holding every drop of ``ledgers``, samples in the order given."""
        total = cls()
        for ledger in ledgers:
            total.merge(ledger)
        return total

    def total(self, stage: str | None = None) -> int:
        """All drops, or those of one stage."""
        return sum(n for (s, _), n in self.counts.items() if stage is None or s == stage)

    def by_reason(self) -> dict[str, dict[str, int]]:
        """``{stage: {reason: count}}`` sorted, for reports."""
        out: dict[str, dict[str, int]] = {}
        for (stage, reason), n in sorted(self.counts.items()):
            out.setdefault(stage, {})[reason] = n
        return out

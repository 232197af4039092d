"""What the parts of a run counted, and the one function that sums them into the report.

Each part keeps its own counts (the source, the step, the dedup, the sink, the backend's
usage). An executor collects them as :class:`Counts`, which add up to what one process
would have counted and travel as JSON (a Ray shard's ``DONE`` record); :func:`finish_report`
turns the sum into the :class:`~augment_ft.core.report.RunReport`, for every executor alike.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from augment_ft.core.drops import DropLog, DropSample
from augment_ft.core.errors import BackendUnavailableError
from augment_ft.core.models import Fact
from augment_ft.core.report import RunReport
from augment_ft.inputs.source import Source
from augment_ft.outputs.sink import Sink
from augment_ft.pipeline.step import StepResult

__all__ = [
    "Counts",
    "Tally",
    "drops_from_json",
    "drops_to_json",
    "fail_if_no_call_succeeded",
    "finish_report",
    "merge_usage",
]


@dataclass
class Counts:
    """What some parts of a run counted; :meth:`add` two and get what one process counts."""

    documents_read: int = 0
    facts_read: int = 0
    made: Counter[str] = field(default_factory=Counter)
    """Examples made, by kind."""
    quality: Counter[tuple[str, str]] = field(default_factory=Counter)
    drops: DropLog = field(default_factory=DropLog)
    written: Counter[str] = field(default_factory=Counter)
    """Records written, by split."""
    already_present: int = 0
    written_by_strategy: Counter[str] = field(default_factory=Counter)
    usage: dict[str, Any] = field(default_factory=dict)
    judge: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of_source(cls, source: Source) -> Counts:
        """What the source read (and dropped) once its documents are exhausted."""
        return cls(source.documents_read, len(source.shard_facts), drops=source.drops)

    @classmethod
    def of_sink(cls, sink: Sink) -> Counts:
        """What the sink wrote, found written already, and dropped."""
        return cls(
            written=Counter(sink.written),
            already_present=sink.already_present,
            written_by_strategy=Counter(sink.by_strategy),
            drops=sink.drops,
        )

    def add(self, other: Counts) -> None:
        """Add ``other``'s counts to these."""
        self.documents_read += other.documents_read
        self.facts_read += other.facts_read
        self.made.update(other.made)
        self.quality.update(other.quality)
        self.drops.merge(other.drops)
        self.written.update(other.written)
        self.already_present += other.already_present
        self.written_by_strategy.update(other.written_by_strategy)
        self.usage = merge_usage([self.usage, other.usage])
        self.judge = merge_usage([self.judge, other.judge])

    @classmethod
    def combined(cls, parts: Iterable[Counts]) -> Counts:
        """One :class:`Counts` holding every part's, drop samples in the order given."""
        total = cls()
        for part in parts:
            total.add(part)
        return total

    def to_json(self) -> dict[str, Any]:
        """The counts as plain JSON (what :meth:`from_json` reads)."""
        return {
            "documents_read": self.documents_read,
            "facts_read": self.facts_read,
            "made": dict(sorted(self.made.items())),
            "quality": [[s, o, n] for (s, o), n in sorted(self.quality.items())],
            "drops": drops_to_json(self.drops),
            "written": dict(sorted(self.written.items())),
            "already_present": self.already_present,
            "written_by_strategy": dict(sorted(self.written_by_strategy.items())),
            "usage": self.usage,
            "judge": self.judge,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Counts:
        return cls(
            documents_read=int(data["documents_read"]),
            facts_read=int(data["facts_read"]),
            made=Counter(data["made"]),
            quality=Counter({(s, o): int(n) for s, o, n in data["quality"]}),
            drops=drops_from_json(data["drops"]),
            written=Counter(data["written"]),
            already_present=int(data["already_present"]),
            written_by_strategy=Counter(data["written_by_strategy"]),
            usage=dict(data["usage"]),
            judge=dict(data["judge"]),
        )


@dataclass
class Tally:
    """What the step made, found and dropped over some documents (returned, not shared)."""

    documents: int = 0
    made: Counter[str] = field(default_factory=Counter)
    facts: list[Fact] = field(default_factory=list)
    drops: DropLog = field(default_factory=DropLog)
    quality: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add(self, result: StepResult) -> None:
        self.documents += 1
        self.made.update(example.kind for example in result.examples)
        self.facts += result.facts
        self.drops.merge(result.drops)
        self.quality.update(result.quality)

    def counts(self) -> Counts:
        """The tally's counts (the documents are the source's to count)."""
        return Counts(made=self.made, quality=self.quality, drops=self.drops)


def finish_report(
    counts: Counts,
    *,
    seconds: float,
    outputs: dict[str, str],
    path: str | Path | None = None,
    dry_run: bool = False,
) -> RunReport:
    """The run's report from the sum of its parts' counts: written to ``path`` when given,
    and a BackendUnavailableError when every model (or judge) call failed."""
    report = RunReport.assemble(
        documents_read=counts.documents_read,
        facts_read=counts.facts_read,
        kinds=counts.made,
        written=counts.written,
        already_present=counts.already_present,
        drops=counts.drops,
        backend=counts.usage,
        wall_seconds=seconds,
        outputs={**outputs, "report": str(path)} if path else outputs,
        dry_run=dry_run,
        quality=counts.quality,
        written_by_strategy=counts.written_by_strategy,
        judge=counts.judge,
    )
    if path:
        report.write(path)
    fail_if_no_call_succeeded(report.backend, "model")
    fail_if_no_call_succeeded(report.judge, "judge")
    return report


def fail_if_no_call_succeeded(usage: dict[str, Any], what: str) -> None:
    """A run whose every model call failed is a failure, never a quiet success."""
    errors = sum(usage.get("errors", {}).values())
    if errors and not usage.get("calls") and not usage.get("cache_hits"):
        kinds = ", ".join(f"{n} {name}" for name, n in sorted(usage["errors"].items()))
        msg = (
            f"every {what} call failed ({kinds}); nothing a model wrote is in the output. "
            "The report lists the errors; fix the cause and rerun with --resume"
        )
        raise BackendUnavailableError(msg)


def drops_to_json(drops: DropLog) -> dict[str, Any]:
    """A drop ledger as JSON: counts by (stage, reason) and the samples kept."""
    return {
        "counts": [[stage, reason, n] for (stage, reason), n in sorted(drops.counts.items())],
        "samples": [[s.stage, s.reason, s.source_id, s.detail] for s in drops.samples],
    }


def drops_from_json(data: Mapping[str, Any]) -> DropLog:
    """The ledger :func:`drops_to_json` wrote."""
    drops = DropLog()
    for stage, reason, n in data.get("counts", []):
        drops.counts[(stage, reason)] += int(n)
    drops.samples = [DropSample(*sample) for sample in data.get("samples", [])]
    return drops


def merge_usage(usages: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The usage reports (``StackedBackend.as_dict()``) of many stacks as one.

    Counts, tokens and waits add up (per model and per error too); a cost is unknown
    (None) when any part's is; means are recomputed from the sums; the in-flight limit
    reports the highest ceiling, the lowest level any stack settled at, and all cuts.
    One report (the others empty) is returned as it is.
    """
    given = [dict(usage) for usage in usages if usage]
    if len(given) <= 1:
        return given[0] if given else {}
    merged = given[0]
    for usage in given[1:]:
        merged = _add(merged, usage)
    calls = merged.get("calls", 0)
    for mean, total in (
        ("mean_prompt_tokens_per_call", "prompt_tokens"),
        ("mean_completion_tokens_per_call", "completion_tokens"),
    ):
        if mean in merged:
            merged[mean] = merged.get(total, 0) / calls if calls else None
    if "retry_wait_seconds" in merged:
        merged["retry_wait_seconds"] = round(merged["retry_wait_seconds"], 3)
    return merged


_LOWEST = ("final",)  # in_flight_limit.final: where the limits settled, the lowest is telling
_HIGHEST = ("ceiling",)


def _add(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """``a`` and ``b`` added key by key (see :func:`merge_usage`)."""
    out = dict(a)
    for key, value in b.items():
        if key not in out:
            out[key] = value
            continue
        mine = out[key]
        if isinstance(value, bool) or isinstance(mine, bool):
            out[key] = bool(mine) or bool(value)
        elif mine is None or value is None:
            out[key] = None  # an unknown cost (or mean) stays unknown
        elif isinstance(mine, dict) and isinstance(value, dict):
            out[key] = _add(mine, value)
        elif isinstance(mine, list) and isinstance(value, list):
            out[key] = sorted({*mine, *value})
        elif key in _LOWEST:
            out[key] = min(mine, value)
        elif key in _HIGHEST:
            out[key] = max(mine, value)
        else:
            out[key] = mine + value
    return out

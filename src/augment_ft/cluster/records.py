"""What travels between Ray workers and the driver, as plain JSON: step summaries and usage.

A worker's counts (documents, examples by kind, drops, verify outcomes, backend usage)
cross process boundaries and outlive the process that made them (a shard's ``DONE``
file), so they are JSON, and merging them gives the same numbers one process would
have counted. Examples travel as one line of text, ``SEQ<TAB>POS<TAB>JSON``: the
document's place in the input and the example's place among its document's examples
are the order keys that make cluster-wide dedup keep what a local run keeps.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from augment_ft.core.drops import DropLog, DropSample
from augment_ft.core.models import Example
from augment_ft.pipeline.pipeline import Tally

__all__ = ["StepSummary", "drops_from_json", "drops_to_json", "merge_usage", "parse_line", "line"]


def line(seq: int, pos: int, example: Example) -> str:
    """One example as a line of a part file (no newline)."""
    return f"{seq}\t{pos}\t{example.model_dump_json()}"


def parse_line(text: str) -> tuple[int, int, str]:
    """``(seq, pos, example JSON)`` of a part-file line."""
    seq, pos, payload = text.rstrip("\n").split("\t", 2)
    return int(seq), int(pos), payload


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


@dataclass
class StepSummary:
    """The counts of a run of the step over some documents (a shard, a batch)."""

    documents: int = 0
    made: Counter[str] = field(default_factory=Counter)
    drops: DropLog = field(default_factory=DropLog)
    quality: Counter[tuple[str, str]] = field(default_factory=Counter)
    usage: dict[str, Any] = field(default_factory=dict)
    judge: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(
        cls, documents: int, tally: Tally, usage: dict[str, Any], judge: dict[str, Any]
    ) -> StepSummary:
        """The summary of ``documents`` whose step results ``tally`` added up."""
        return cls(documents, tally.made, tally.drops, tally.quality, usage, judge)

    def to_json(self) -> dict[str, Any]:
        return {
            "documents": self.documents,
            "made": dict(sorted(self.made.items())),
            "drops": drops_to_json(self.drops),
            "quality": [[s, o, n] for (s, o), n in sorted(self.quality.items())],
            "usage": self.usage,
            "judge": self.judge,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StepSummary:
        return cls(
            documents=int(data["documents"]),
            made=Counter(data["made"]),
            drops=drops_from_json(data["drops"]),
            quality=Counter({(s, o): int(n) for s, o, n in data["quality"]}),
            usage=dict(data["usage"]),
            judge=dict(data["judge"]),
        )

    @classmethod
    def combined(cls, parts: Iterable[StepSummary]) -> StepSummary:
        """One summary of many, as if one process had counted them all."""
        parts = list(parts)
        total = cls()
        for part in parts:
            total.documents += part.documents
            total.made.update(part.made)
            total.drops.merge(part.drops)
            total.quality.update(part.quality)
        total.usage = merge_usage(part.usage for part in parts)
        total.judge = merge_usage(part.judge for part in parts)
        return total


def merge_usage(usages: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The usage reports (``StackedBackend.as_dict()``) of many stacks as one.

    Counts, tokens and waits add up (per model and per error too); a cost is unknown
    (None) when any part's is; means are recomputed from the sums; the in-flight limit
    reports the highest ceiling, the lowest level any stack settled at, and all cuts.
    """
    merged: dict[str, Any] = {}
    for usage in usages:
        merged = _add(merged, dict(usage)) if merged else dict(usage)
    if not merged:
        return {}
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

"""The run report: what was read, made, dropped (and why), called and spent."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from augment_ft.core.drops import DropLog
from augment_ft.core.errors import OutputError

__all__ = ["RunReport", "render_table"]


class RunReport(BaseModel):
    """Everything a user needs to trust (or debug) a run; written as JSON and as a table."""

    model_config = ConfigDict(extra="forbid")

    documents_read: int = 0
    facts_read: int = 0
    examples_by_kind: dict[str, int] = Field(default_factory=dict)
    examples_written: dict[str, int] = Field(default_factory=dict)
    already_present: int = 0
    drops: dict[str, dict[str, int]] = Field(default_factory=dict)
    drop_samples: list[dict[str, Any]] = Field(default_factory=list)
    quality: dict[str, dict[str, int]] = Field(default_factory=dict)
    """Per strategy that a model wrote for: checked, verified, contradicted, unverified,
    judge_rejected (the verify stage) and written (kept in the output)."""
    backend: dict[str, Any] = Field(default_factory=dict)
    judge: dict[str, Any] = Field(default_factory=dict)
    """The judge's own calls, tokens and cost (empty without ``--judge``)."""
    estimated_cost_usd: float | None = None
    wall_seconds: float = 0.0
    outputs: dict[str, str] = Field(default_factory=dict)
    dry_run: bool = False

    @classmethod
    def assemble(
        cls,
        *,
        documents_read: int,
        facts_read: int,
        kinds: Counter[str],
        written: Counter[str],
        already_present: int,
        drops: DropLog,
        backend: dict[str, Any],
        wall_seconds: float,
        outputs: dict[str, str],
        dry_run: bool = False,
        quality: Counter[tuple[str, str]] | None = None,
        written_by_strategy: Counter[str] | None = None,
        judge: dict[str, Any] | None = None,
    ) -> RunReport:
        """Build the report from the counts the parts kept."""
        return cls(
            documents_read=documents_read,
            facts_read=facts_read,
            examples_by_kind=dict(sorted(kinds.items())),
            examples_written=dict(sorted(written.items())),
            already_present=already_present,
            drops=drops.by_reason(),
            drop_samples=[
                {"stage": s.stage, "reason": s.reason, "source_id": s.source_id, "detail": s.detail}
                for s in drops.samples
            ],
            quality=_quality(quality or Counter(), written_by_strategy or Counter()),
            backend=backend,
            judge=judge or {},
            estimated_cost_usd=_cost(backend, judge or {}),
            wall_seconds=round(wall_seconds, 3),
            outputs=outputs,
            dry_run=dry_run,
        )

    @property
    def total_dropped(self) -> int:
        """Every dropped item, all stages together."""
        return sum(sum(r.values()) for r in self.drops.values())

    def write(self, path: str | Path) -> None:
        """Write the report as indented JSON (its directory is made when missing)."""
        target = Path(path)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(self.model_dump(), indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            msg = f"cannot write the report {target}: {exc.strerror or exc}"
            raise OutputError(msg) from exc


def _quality(
    outcomes: Counter[tuple[str, str]], written: Counter[str]
) -> dict[str, dict[str, int]]:
    """``{strategy: {outcome: n}}`` for the strategies the verify stage saw."""
    keys = ("checked", "verified", "contradicted", "unverified", "judge_rejected")
    strategies = sorted({strategy for strategy, _ in outcomes})
    return {s: {**{k: outcomes[(s, k)] for k in keys}, "written": written[s]} for s in strategies}


def _cost(backend: dict[str, Any], judge: dict[str, Any]) -> float | None:
    """The run's cost with the judge's; None when either has an unknown price."""
    total = 0.0
    for usage in (backend, judge):
        if not usage:
            continue
        cost = usage.get("cost_usd")
        if not isinstance(cost, (int, float)):
            return None
        total += cost
    return total if backend or judge else None


def _rows(report: RunReport) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = [
        ("documents read", str(report.documents_read)),
        ("facts read", str(report.facts_read)),
    ]
    rows += [(f"examples: {kind}", str(n)) for kind, n in report.examples_by_kind.items()]
    rows += [(f"written: {split}", str(n)) for split, n in report.examples_written.items()]
    if report.already_present:
        rows.append(("already in output (resume)", str(report.already_present)))
    for stage, reasons in report.drops.items():
        rows += [(f"dropped: {stage}/{reason}", str(n)) for reason, n in reasons.items()]
    b = report.backend
    if b:
        rows += [
            ("backend calls", str(b.get("calls", 0))),
            ("cache hits", str(b.get("cache_hits", 0))),
            ("retries", str(b.get("retries", 0))),
            ("tokens in / out", f"{b.get('prompt_tokens', 0)} / {b.get('completion_tokens', 0)}"),
        ]
    for strategy, q in report.quality.items():
        rows.append(
            (
                f"verify: {strategy}",
                f"{q['checked']} checked, {q['verified']} verified, {q['contradicted']} "
                f"contradicted, {q['unverified']} unverified, {q['judge_rejected']} "
                f"judge-rejected; {q['written']} written",
            )
        )
    j = report.judge
    if j:
        rows += [
            ("judge calls", f"{j.get('calls', 0)} (+{j.get('cache_hits', 0)} cached)"),
            (
                "judge tokens in / out",
                f"{j.get('prompt_tokens', 0)} / {j.get('completion_tokens', 0)}",
            ),
        ]
    if b or j:
        cost = report.estimated_cost_usd
        rows.append(("estimated cost", "unknown (no price)" if cost is None else f"${cost:.4f}"))
    rows.append(("wall time", f"{report.wall_seconds:.1f} s"))
    rows += [(f"output: {name}", path) for name, path in report.outputs.items()]
    return rows


def render_table(report: RunReport) -> str:
    """The report as an aligned two-column table for the terminal."""
    rows = _rows(report)
    width = max(len(k) for k, _ in rows)
    title = "augment_ft run report" + (" (estimate, no backend called)" if report.dry_run else "")
    lines = [title, "-" * (width + 2 + max(len(v) for _, v in rows))]
    lines += [f"{k.ljust(width)}  {v}" for k, v in rows]
    return "\n".join(lines)

"""``augment-ft eval audit``: a random sample of model-written rows beside their sources.

For a person to read: each sampled row of an output file is printed with what it was
written from (the sentence it rephrases or reverses, else its document, when the inputs
are given), the strategy and model that wrote it, and how the verify stage judged it.
Rows are paired with their provenance through the output's identity sidecar.
"""

from __future__ import annotations

import random
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from augment_ft.core.errors import InputError
from augment_ft.core.models import Document
from augment_ft.inputs.readers import read_inputs
from augment_ft.outputs.formats.records import record_completion
from augment_ft.outputs.naming import ids_path, provenance_of
from augment_ft.outputs.stats import iter_records
from augment_ft.verify.factcheck import written_by_model

__all__ = ["AuditRow", "audit_rows", "render_audit"]


@dataclass(frozen=True)
class AuditRow:
    """One sampled row: its text, where it came from, and its check."""

    line: int
    kind: str
    strategy: str
    model: str
    text: str
    source: str
    verification: dict[str, Any] | None


def _provenance(output: Path) -> dict[str, dict[str, Any]]:
    sidecar = provenance_of(output)
    if not sidecar.exists():
        msg = f"no provenance sidecar {sidecar}: audit needs the files augment-ft run writes"
        raise InputError(msg, path=str(output))
    return {str(r.get("id")): r for _, r in iter_records(sidecar)}


def _ids(output: Path) -> list[str]:
    path = ids_path(output)
    try:
        return path.read_text(encoding="utf-8").split()
    except OSError as exc:
        msg = f"cannot read the identity sidecar {path} ({exc.strerror or exc})"
        raise InputError(msg, path=str(output)) from exc


def audit_rows(
    output: str | Path, *, n: int = 20, seed: int = 0, inputs: Sequence[str] = ()
) -> list[AuditRow]:
    """``n`` model-written rows of ``output`` drawn at random with ``seed``, in file order."""
    out = Path(output)
    provenance, ids = _provenance(out), _ids(out)
    read = read_inputs(inputs) if inputs else ()
    documents = {d.id: d.text for d in read if isinstance(d, Document)}
    rows: list[AuditRow] = []
    for (line, record), identity in zip(iter_records(out), ids, strict=False):
        meta = provenance.get(identity, {})
        prov = meta.get("provenance", {})
        strategy = str(prov.get("strategy", "unknown"))
        if not written_by_model(prov):
            continue
        source_id = str(prov.get("source_id", ""))
        source = prov.get("parent") or documents.get(source_id)
        shown = source or f"(document {source_id}: pass its input with --inputs to show it)"
        rows.append(
            AuditRow(
                line=line,
                kind=str(meta.get("kind", "")),
                strategy=strategy,
                model=str(prov.get("model") or "?"),
                text=record_completion(record),
                source=str(shown),
                verification=prov.get("verification"),
            )
        )
    picked = random.Random(seed).sample(range(len(rows)), min(n, len(rows)))
    return [rows[i] for i in sorted(picked)]


def render_audit(rows: Sequence[AuditRow], *, total_width: int = 88) -> str:
    """The sample as numbered blocks: the row, its source, who wrote it, its check."""
    if not rows:
        return "no model-written rows in this file"
    blocks = []
    for number, row in enumerate(rows, start=1):
        check = row.verification or {}
        verdict = check.get("facts", "not checked")
        if check.get("judge"):
            verdict += f", judge {check['judge']} ({check.get('judge_model')})"
        reason = f": {check['reason']}" if check.get("reason") else ""
        lines = [
            f"[{number}] line {row.line}, {row.kind} by {row.model}",
            *_wrapped("row", row.text, total_width),
            *_wrapped("from", row.source, total_width),
            *_wrapped("check", verdict + reason, total_width),
        ]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _wrapped(label: str, text: str, width: int) -> list[str]:
    lead = f"  {label:>5}: "
    return textwrap.wrap(
        " ".join(text.split()), width, initial_indent=lead, subsequent_indent=" " * len(lead)
    ) or [lead]

"""``augment-ft dedup``: copy a written JSONL file without duplicates or eval overlaps."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from augment_ft.core.drops import DropLog
from augment_ft.core.models import Example, Provenance
from augment_ft.dedup import Decontaminator, Deduplicator, NearDeduper, read_eval_texts
from augment_ft.outputs.formats.records import record_text
from augment_ft.outputs.stats import iter_records
from augment_ft.outputs.writer import JsonlWriter

__all__ = ["dedup_file"]


def dedup_file(
    src: str | Path,
    dest: str | Path,
    *,
    against: list[str] | None = None,
    near: bool = True,
    threshold: float = 0.9,
    ngram: int = 13,
    force: bool = False,
) -> str:
    """Copy ``src`` to ``dest`` without duplicates or overlaps; returns a summary line."""
    drops = DropLog()
    decontam = Decontaminator(read_eval_texts(against), ngram=ngram) if against else None
    dedup = Deduplicator(
        near=NearDeduper(threshold=threshold) if near else None, decontam=decontam, drops=drops
    )
    pending: dict[str, dict[str, Any]] = {}
    total = kept = 0
    with dedup, JsonlWriter(dest, overwrite=force, create_dirs=True) as writer:
        for number, record in iter_records(src):
            total += 1
            key = f"line-{number}"
            pending[key] = record
            text = record_text(record) or json.dumps(record, sort_keys=True)
            example = Example(
                completion=text,
                kind="record",
                provenance=Provenance(source_id=key, strategy="file"),
            )
            decided = len(pending) >= dedup.batch_size  # push() decides the batch now
            for admitted in dedup.push(example):
                kept += _emit(writer, pending, admitted)
            if decided:
                pending.clear()  # what was not admitted was dropped (and counted)
        for admitted in dedup.flush():
            kept += _emit(writer, pending, admitted)
    reasons = ", ".join(f"{r}: {n}" for r, n in drops.by_reason().get("dedup", {}).items())
    dropped = f"{total - kept} dropped ({reasons or 'none'})"
    return f"{src}: {total} records, {kept} kept, {dropped} -> {dest}"


def _emit(writer: JsonlWriter, pending: dict[str, dict[str, Any]], example: Example) -> int:
    record = pending.pop(example.provenance.source_id)
    return int(writer.write(record, example.id))

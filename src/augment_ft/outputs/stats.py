"""Commands that work on a written JSONL file: ``stats`` and ``dedup``."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from augment_ft.core.drops import DropLog
from augment_ft.core.errors import InputError
from augment_ft.core.models import Example, Provenance
from augment_ft.core.tokens import TokenCounter
from augment_ft.dedup import Decontaminator, Deduplicator, NearDeduper, read_eval_texts
from augment_ft.outputs.writer import IDS_SUFFIX, JsonlWriter

__all__ = ["FileStats", "dedup_file", "file_kinds", "file_stats", "record_text", "render_stats"]

_TEXT_KEYS = ("prompt", "completion", "text", "instruction", "input", "output")


def record_text(record: dict[str, Any]) -> str:
    """The training text of a record of any built-in format, parts joined by newlines."""
    parts: list[str] = []
    for turn in record.get("messages", []) + record.get("conversations", []):
        if isinstance(turn, dict):
            value = turn.get("content", turn.get("value"))
            if isinstance(value, str):
                parts.append(value)
    parts += [record[k] for k in _TEXT_KEYS if isinstance(record.get(k), str) and record[k]]
    return "\n".join(parts)


def detect_format(record: dict[str, Any]) -> str:
    """Which built-in format a record looks like."""
    for key, name in (
        ("messages", "openai-chat"),
        ("conversations", "sharegpt"),
        ("instruction", "alpaca"),
        ("completion", "prompt-completion"),
        ("text", "text"),
    ):
        if key in record:
            return name
    return "unknown"


def iter_records(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line, record)`` for each non-blank line; a bad line is an InputError naming it."""
    try:
        handle = Path(path).open("rb")  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", path=str(path)) from exc
    with handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except ValueError as exc:
                msg = f"not valid JSON ({exc}); run 'augment-ft validate' to list every bad line"
                raise InputError(msg, path=str(path), line=number) from exc
            if not isinstance(record, dict):
                raise InputError("a record must be a JSON object", path=str(path), line=number)
            yield number, record


@dataclass
class FileStats:
    """Counts for ``augment-ft stats``."""

    path: str
    records: int = 0
    formats: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    token_buckets: Counter[int] = field(default_factory=Counter)
    tokens_total: int = 0
    tokens_max: int = 0
    exact_tokens: bool = True


def _bucket(n: int) -> int:
    """Upper bound of the power-of-two bucket holding ``n``."""
    top = 16
    while top < n:
        top *= 2
    return top


def file_stats(path: str | Path, *, model: str = "") -> FileStats:
    """Records, formats, token histogram, and kinds (from the provenance sidecar if any)."""
    counter = TokenCounter(model)
    stats = FileStats(str(path))
    for _, record in iter_records(path):
        stats.records += 1
        stats.formats[detect_format(record)] += 1
        n = counter.count(record_text(record))
        stats.tokens_total += n
        stats.tokens_max = max(stats.tokens_max, n)
        stats.token_buckets[_bucket(n)] += 1
    stats.exact_tokens = counter.exact
    stats.kinds = file_kinds(path)
    return stats


def file_kinds(path: str | Path) -> Counter[str]:
    """Kinds of the examples in an output, from the provenance sidecar the run wrote.

    The sidecar is shared by ``OUT`` and ``OUT.val``; the identity file ``OUT.ids`` says
    which of its rows are in this file. Empty when there is no sidecar.
    """
    out = Path(path)
    stem = out.stem.removesuffix(".val")
    sidecar = out.with_name(f"{stem}.provenance{out.suffix}")
    kinds: Counter[str] = Counter()
    if not sidecar.exists() or sidecar == out:
        return kinds
    ids_file = out.with_name(out.name + IDS_SUFFIX)
    wanted = set(ids_file.read_text(encoding="utf-8").split()) if ids_file.exists() else None
    for _, record in iter_records(sidecar):
        if wanted is None or record.get("id") in wanted:
            kinds[str(record.get("kind", "unknown"))] += 1
    return kinds


def render_stats(stats: FileStats) -> str:
    """The stats as text for the terminal."""
    mean = stats.tokens_total / stats.records if stats.records else 0.0
    exact = "" if stats.exact_tokens else " (estimated: no tokenizer could be loaded)"
    lines = [f"{stats.path}: {stats.records} records", "formats:"]
    lines += [f"  {name}: {n}" for name, n in stats.formats.most_common()]
    lines.append(
        f"tokens{exact}: total {stats.tokens_total}, mean {mean:.1f}, max {stats.tokens_max}"
    )
    width = max(stats.token_buckets.values(), default=1)
    for top in sorted(stats.token_buckets):
        n = stats.token_buckets[top]
        lines.append(f"  <= {top:>6}: {n:>7} {'#' * max(1, round(40 * n / width))}")
    if stats.kinds:
        lines.append("kinds (from the provenance sidecar):")
        lines += [f"  {kind}: {n}" for kind, n in sorted(stats.kinds.items())]
    return "\n".join(lines)


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

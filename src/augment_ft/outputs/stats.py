"""``augment-ft stats``: records, formats, a token histogram and kinds of a written file."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from augment_ft.core.errors import InputError
from augment_ft.core.tokens import TokenCounter
from augment_ft.outputs.formats.records import detect_format, record_text
from augment_ft.outputs.naming import ids_path, provenance_of

__all__ = ["FileStats", "file_kinds", "file_stats", "iter_records", "render_stats"]


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
    sidecar = provenance_of(out)
    kinds: Counter[str] = Counter()
    if not sidecar.exists() or sidecar == out:
        return kinds
    ids_file = ids_path(out)
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

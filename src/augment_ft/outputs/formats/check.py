"""Check a written JSONL file against its format: ``augment-ft validate``."""

from __future__ import annotations

import json
from pathlib import Path

from augment_ft.core.errors import InputError
from augment_ft.outputs.formats.base import FORMATS, Format

__all__ = ["validate_file"]


def validate_file(
    path: str | Path, format: Format | str, *, limit: int | None = None
) -> list[tuple[int, str]]:
    """``(line number, problem)`` for every bad line: not UTF-8, not JSON, not an object,
    or breaking the format's rules (for openai-chat, the per-example token limit too).

    Blank lines are problems (OpenAI rejects them); a final newline is not. Stops after
    ``limit`` problems when given.
    """
    fmt = FORMATS.create(format) if isinstance(format, str) else format
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", path=str(path)) from exc
    problems: list[tuple[int, str]] = []
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the newline that ends the last record
    for number, raw in enumerate(lines, start=1):
        problems += [(number, p) for p in _line_problems(raw.removesuffix(b"\r"), fmt)]
        if limit is not None and len(problems) >= limit:
            return problems[:limit]
    return problems


def _line_problems(raw: bytes, fmt: Format) -> list[str]:
    if not raw.strip():
        return ["empty line"]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [f"not UTF-8 (byte {exc.start})"]
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        return [f"invalid JSON: {exc.msg} at column {exc.colno}"]
    except RecursionError:
        return ["invalid JSON: nested too deeply to read"]
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        return [f"invalid JSON: {exc}"]
    return fmt.validate(record)

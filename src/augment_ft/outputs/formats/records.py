"""Reading written records back: which registered format a record has, and its text.

``augment-ft stats``, ``augment-ft dedup`` and the evals read records of any format; each
format knows its own records (:class:`~augment_ft.outputs.formats.base.ReadBack`), so a
new format is read back as soon as it is registered. Formats are asked in registration
order (built-ins first: a chat record that also holds ``text`` is a chat record).
"""

from __future__ import annotations

from typing import Any

from augment_ft.core.registry import Registry
from augment_ft.outputs.formats.base import FORMATS, Format, ReadBack, Record, joined

__all__ = ["detect_format", "format_of", "record_completion", "record_text"]


def format_of(record: Record, formats: Registry[Format] = FORMATS) -> tuple[str, ReadBack] | None:
    """The name and the reader of the first format of ``formats`` that ``record`` matches."""
    for name, factory in formats.factories():
        if isinstance(factory, ReadBack) and factory.matches(record):
            return name, factory
    return None


def detect_format(record: Record, formats: Registry[Format] = FORMATS) -> str:
    """Which registered format a record looks like (``unknown`` when none)."""
    found = format_of(record, formats)
    return "unknown" if found is None else found[0]


def record_text(record: dict[str, Any], formats: Registry[Format] = FORMATS) -> str:
    """The training text of a record, parts joined by newlines; a record of no known format
    gives its top-level strings."""
    found = format_of(record, formats)
    return joined(record.values()) if found is None else found[1].read_text(record)


def record_completion(record: dict[str, Any], formats: Registry[Format] = FORMATS) -> str:
    """What a record teaches: the last assistant turn, the completion or output, the text."""
    found = format_of(record, formats)
    return record_text(record, formats) if found is None else found[1].read_completion(record)

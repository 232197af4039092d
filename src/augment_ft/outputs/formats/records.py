"""Reading written records back: which built-in format a record has, and its training text.

``augment-ft stats``, ``augment-ft dedup`` and the evals' coverage read records of any
built-in format; what each format's records look like is known here, beside the formats.
"""

from __future__ import annotations

from typing import Any

__all__ = ["detect_format", "record_completion", "record_text"]

_TEXT_KEYS = ("prompt", "completion", "text", "instruction", "input", "output")
# The key that marks each format, checked in this order (a chat record may also hold "text").
_MARKERS = (
    ("messages", "openai-chat"),
    ("conversations", "sharegpt"),
    ("instruction", "alpaca"),
    ("completion", "prompt-completion"),
    ("text", "text"),
)


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
    """Which built-in format a record looks like (``unknown`` when none)."""
    for key, name in _MARKERS:
        if key in record:
            return name
    return "unknown"


def record_completion(record: dict[str, Any]) -> str:
    """What a record teaches: the last assistant turn, the completion or output, the text."""
    for key, role_key, role in (
        ("messages", "role", "assistant"),
        ("conversations", "from", "gpt"),
    ):
        turns = [t for t in record.get(key, []) if isinstance(t, dict) and t.get(role_key) == role]
        if turns:
            value = turns[-1].get("content", turns[-1].get("value"))
            return value if isinstance(value, str) else ""
    for key in ("completion", "output", "text"):
        if isinstance(record.get(key), str):
            return str(record[key])
    return record_text(record)

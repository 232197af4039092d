"""Model text -> validated pydantic model, tolerant of how real models wrap their JSON.

Accepted: bare JSON, JSON in a code fence (```json ... ```), JSON with prose before or after,
trailing commas, and a bare array where the schema is an object with a single list field.
Anything else raises :class:`ParseError` (with ``.raw``) saying what failed; no other
exception escapes, whatever the input (a hypothesis test holds us to that).
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from augment_ft.core.errors import ParseError

__all__ = ["extract_json", "parse_output"]

M = TypeVar("M", bound=BaseModel)

_FENCE = re.compile(r"```[ \t]*(?:json|JSON|javascript)?[ \t]*\r?\n?(.*?)```", re.DOTALL)
_NOTHING = object()
_MAX_CANDIDATES = 16
"""Openings tried per text: enough for prose with stray brackets, bounded for huge inputs."""


def _outside_strings(text: str, start: int = 0) -> Iterator[tuple[int, str]]:
    """``(index, char)`` of every character from ``start`` that is not inside a JSON string
    (the quotes themselves count as inside)."""
    in_string = False
    escaped = False
    for i in range(start, len(text)):
        ch = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        else:
            yield i, ch


def _balanced_end(text: str, start: int) -> int | None:
    """Index just past the bracket closing ``text[start]``, respecting JSON strings."""
    stack: list[str] = []
    pairs = {"{": "}", "[": "]"}
    for i, ch in _outside_strings(text, start):
        if ch in pairs:
            stack.append(pairs[ch])
        elif ch in "}]":
            if not stack or stack.pop() != ch:
                return None
            if not stack:
                return i + 1
    return None


def _strip_trailing_commas(text: str) -> str:
    """Remove commas directly before ``}`` or ``]`` outside strings (a common model slip)."""
    cut = {i for i, ch in _outside_strings(text) if ch == "," and _next_is_closing(text, i + 1)}
    return "".join(ch for i, ch in enumerate(text) if i not in cut) if cut else text


def _next_is_closing(text: str, index: int) -> bool:
    while index < len(text) and text[index] in " \t\r\n":
        index += 1
    return index < len(text) and text[index] in "}]"


def _loads(text: str) -> tuple[bool, Any]:
    """``json.loads`` that reports failure instead of raising (deep nesting included)."""
    for attempt in (text, _strip_trailing_commas(text)):
        try:
            return True, json.loads(attempt)
        except (ValueError, RecursionError):
            continue
    return False, None


def _candidates(text: str) -> list[str]:
    """Substrings that may hold the JSON: whole text, fenced blocks, top-level brackets.

    Brackets nested inside an earlier balanced span are not candidates of their own, so an
    inner array is never mistaken for the answer.
    """
    found = [text.strip()]
    found += [m.group(1).strip() for m in _FENCE.finditer(text)]
    covered_until = 0
    tried = 0
    for start, ch in enumerate(text):
        if tried >= _MAX_CANDIDATES:
            break
        if ch not in "{[" or start < covered_until:
            continue
        tried += 1
        end = _balanced_end(text, start)
        if end is not None:
            found.append(text[start:end])
            covered_until = end
    return found


def _json_values(text: str) -> Iterator[Any]:
    """Every JSON object or array the candidates decode to, in order of preference."""
    for candidate in _candidates(text):
        ok, value = _loads(candidate)
        if ok and isinstance(value, (dict, list)):
            yield value


def _values_or_error(text: str) -> Iterator[Any]:
    if not isinstance(text, str):
        msg = f"expected model text (str), got {type(text).__name__}"
        raise ParseError(msg, raw=repr(text))
    values = _json_values(text)
    first = next(values, _NOTHING)
    if first is _NOTHING:
        snippet = text.strip()[:80]
        msg = f"no JSON object or array found in the answer (it starts with {snippet!r})"
        raise ParseError(msg, raw=text)
    return itertools.chain([first], values)


def extract_json(text: str) -> Any:
    """The first JSON object or array found in ``text``; ParseError when there is none."""
    return next(_values_or_error(text))


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error["loc"]) or "(top level)"
        parts.append(f"{where}: {error['msg']}")
    more = f" (+{exc.error_count() - 5} more)" if exc.error_count() > 5 else ""
    return "; ".join(parts) + more


def _wrap_bare_list(value: Any, model: type[BaseModel]) -> Any:
    """A bare array where the schema wants ``{"field": [...]}`` with one field: wrap it."""
    fields = list(model.model_fields)
    if isinstance(value, list) and len(fields) == 1:
        return {fields[0]: value}
    return value


def parse_output(text: str, model: type[M]) -> M:
    """The first JSON in ``text`` that validates as ``model``; ParseError says what failed.

    When no candidate validates, the error describes the first one (the likeliest intent).
    """
    values = _values_or_error(text)
    errors: list[str] = []
    for value in values:
        try:
            return model.model_validate(_wrap_bare_list(value, model))
        except ValidationError as exc:
            errors.append(_describe(exc))
        except (ValueError, TypeError, RecursionError) as exc:
            errors.append(str(exc))
    msg = f"the JSON does not match the {model.__name__} schema: {errors[0]}"
    raise ParseError(msg, raw=text)

"""Each input file's raw content: decoded text, or JSON values, faults as values.

Faults come out as :class:`InputError` *values* rather than being raised, so that the
caller decides whether to raise them or count them and keep reading the same file.
JSONL is read line by line in binary, so memory stays bounded by the longest line.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from augment_ft.core.errors import InputError
from augment_ft.inputs.files import RawItem, RawRecord, RawText, json_type, normalize_newlines

__all__ = ["scan_file"]

_BOM = b"\xef\xbb\xbf"
_SNIFF_BYTES = 8192  # a NUL byte this early means binary (or UTF-16), as git decides it


def scan_file(path: Path) -> Iterator[RawItem]:
    """Yield the raw content of one supported file, faults included as InputError values."""
    name = str(path)
    try:
        with path.open("rb") as handle:
            fault = _sniff_binary(name, handle.read(_SNIFF_BYTES))
            if fault is not None:
                yield fault
                return
            handle.seek(0)
            suffix = path.suffix.lower()
            if suffix == ".jsonl":
                yield from _scan_jsonl(name, handle)
            elif suffix == ".json":
                yield from _scan_json(name, handle.read())
            else:
                yield _scan_text(name, handle.read())
    except OSError as exc:
        yield _fault(
            f"cannot be read ({exc.strerror or exc}); check that it exists and is readable",
            exc,
            path=name,
            reason="unreadable",
        )


def _fault(
    message: str,
    cause: BaseException | None = None,
    *,
    path: str,
    reason: str,
    line: int | None = None,
    offset: int | None = None,
) -> InputError:
    """An InputError carrying its cause, as ``raise ... from cause`` would."""
    error = InputError(message, path=path, line=line, offset=offset, reason=reason)
    if cause is not None:
        error.__cause__ = cause
    return error


def _sniff_binary(name: str, head: bytes) -> InputError | None:
    """A fault when the first bytes hold a NUL: text files never do, binaries and UTF-16 do."""
    at = head.find(b"\x00")
    if at < 0:
        return None
    return _fault(
        "looks like a binary file (NUL byte in the first 8 KB); inputs must be UTF-8 text. "
        "If it is UTF-16 text, re-save it as UTF-8; otherwise remove it from the inputs",
        path=name,
        offset=at,
        reason="binary_file",
    )


def _decode(name: str, data: bytes, base: int = 0, line: int | None = None) -> str | InputError:
    """UTF-8 text of ``data``; on failure a fault with the file's byte offset (``base`` + i)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = base + exc.start
        if line is None:
            line = data.count(b"\n", 0, exc.start) + 1
        return _fault(
            f"invalid UTF-8 ({exc.reason}); re-save the file as UTF-8 "
            "(for example with `iconv -f latin1 -t utf-8`)",
            exc,
            path=name,
            line=line,
            offset=offset,
            reason="invalid_utf8",
        )


def _reject_constant(token: str) -> object:
    """Refuse NaN and Infinity: Python's json accepts them but they are not JSON."""
    raise ValueError(f"{token} is not valid JSON")


def _finite_float(token: str) -> float:
    """A JSON number as a float, refusing ones too large to be finite (``1e400``)."""
    value = float(token)
    if not math.isfinite(value):
        raise ValueError(f"the number {token[:40]} is too large to represent")
    return value


def _check_unicode(value: object) -> None:
    """Refuse strings holding a lone surrogate (an unpaired ``\\ud800`` escape): they are
    valid JSON syntax but not Unicode, and would fail later when written or hashed."""
    stack: list[object] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as exc:
                msg = (
                    f"the string escape \\u{ord(item[exc.start]):04x} is a lone surrogate, "
                    "not a Unicode character; fix or remove it"
                )
                raise ValueError(msg) from exc
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _loads(text: str) -> object:
    """Strict ``json.loads``: no NaN/Infinity, no infinite numbers, no lone surrogates;
    too-deep nesting is reported as a ValueError too."""
    try:
        value = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError as exc:
        raise ValueError("the JSON value is nested too deeply") from exc
    if "\\u" in text:  # only escapes can produce a lone surrogate (UTF-8 input cannot)
        _check_unicode(value)
    return value


def _json_fault(name: str, exc: ValueError, line: int | None, what: str) -> InputError:
    """A located malformed-JSON fault; the JSON library's message says what is wrong."""
    if isinstance(exc, json.JSONDecodeError):
        detail = f"{exc.msg} (column {exc.colno})"
        line = exc.lineno if line is None else line
    else:
        detail = str(exc)
    return _fault(
        f"malformed JSON: {detail}; {what}", exc, path=name, line=line, reason="malformed_json"
    )


def _scan_jsonl(name: str, handle: BinaryIO) -> Iterator[RawItem]:
    """One value per non-blank line; blank lines carry nothing and are passed over."""
    offset = 0
    records = 0
    for line_no, line in enumerate(handle, start=1):
        start, offset = offset, offset + len(line)
        raw = line
        if line_no == 1 and line.startswith(_BOM):
            raw, start = line[len(_BOM) :], start + len(_BOM)
        if not raw.strip():
            continue
        records += 1
        text = _decode(name, raw, start, line_no)
        if isinstance(text, InputError):
            yield text
            continue
        try:
            yield RawRecord(name, _loads(text), line=line_no)
        except ValueError as exc:
            yield _json_fault(
                name, exc, line_no, "each line of a .jsonl file must be one JSON object"
            )
    if records == 0:
        yield _fault(
            "the file holds no records; remove it or fill it in", path=name, reason="empty"
        )


def _strip_bom(data: bytes) -> tuple[bytes, int]:
    """The bytes without a leading UTF-8 BOM, and how many bytes were removed."""
    return (data[len(_BOM) :], len(_BOM)) if data.startswith(_BOM) else (data, 0)


def _scan_text(name: str, data: bytes) -> RawItem:
    """The whole file as one text; an empty or whitespace-only file is a fault."""
    body, base = _strip_bom(data)
    text = _decode(name, body, base)
    if isinstance(text, InputError):
        return text
    text = normalize_newlines(text).strip()
    if not text:
        return _fault(
            "the file is empty or whitespace only; remove it or fill it in",
            path=name,
            reason="empty",
        )
    return RawText(name, text)


def _scan_json(name: str, data: bytes) -> Iterator[RawItem]:
    """A .json file is loaded whole: one object, or a list whose items are records."""
    body, base = _strip_bom(data)
    text = _decode(name, body, base)
    if isinstance(text, InputError):
        yield text
        return
    if not text.strip():
        yield _fault("the file is empty; remove it or fill it in", path=name, reason="empty")
        return
    try:
        value = _loads(text)
    except ValueError as exc:
        yield _json_fault(name, exc, None, "a .json file must hold an object or a list of objects")
        return
    if isinstance(value, list):
        if not value:
            yield _fault(
                "the list holds no records; remove the file or fill it in",
                path=name,
                reason="empty",
            )
        for index, item in enumerate(value):
            yield RawRecord(name, item, index=index)
    elif isinstance(value, dict):
        yield RawRecord(name, value)
    else:
        yield _fault(
            f"a .json file must hold an object or a list of objects, not a {json_type(value)}",
            path=name,
            reason="not_an_object",
        )

"""Decontamination: drop training examples that overlap the evaluation data.

An example is contaminated when its normalized text equals an evaluation text ("exact") or
shares any run of ``ngram`` words with one ("ngram"). A text shorter than ``ngram`` words
is one run of all its words, so a short evaluation answer only matches an equally short
example, never every example that happens to contain its words. Only hashes are kept.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from augment_ft.core.errors import ConfigError, InputError
from augment_ft.dedup.exact import content_hash, normalize_for_dedup
from augment_ft.dedup.minhash import stable_params, window_hashes

__all__ = ["EVAL_FIELDS", "Contamination", "Decontaminator", "read_eval_texts"]

Contamination = Literal["exact", "ngram"]

EVAL_FIELDS = (
    "text",
    "prompt",
    "completion",
    "question",
    "answer",
    "options",
    "choices",
    "messages",
    "conversations",
    "instruction",
    "input",
    "output",
)
"""Record fields whose strings are evaluation texts (lists, ``content``/``value`` of dicts too)."""

_JSONL_SUFFIXES = {".jsonl", ".ndjson"}


class Decontaminator:
    """Flags texts that equal, or share a word n-gram with, any of ``eval_texts``."""

    def __init__(self, eval_texts: Iterable[str], ngram: int = 13, *, seed: int = 1) -> None:
        if ngram < 1:
            msg = f"decontamination n-gram length must be >= 1, got {ngram}"
            raise ConfigError(msg)
        self.ngram = ngram
        self._mult = stable_params(seed, "ngram", ngram) | np.uint64(1)
        texts = [t for t in map(normalize_for_dedup, eval_texts) if t]
        self.eval_count = len(texts)
        self._exact = frozenset(map(content_hash, texts))
        hashes: NDArray[np.uint64] = self._gram_hashes(texts)[0]
        self._grams = np.unique(hashes)  # sorted: membership is one searchsorted per batch

    @property
    def ngram_count(self) -> int:
        """Distinct evaluation n-grams held (8 bytes each)."""
        return len(self._grams)

    def contaminated(self, text: str) -> Contamination | None:
        """``"exact"`` or ``"ngram"`` when ``text`` overlaps the evaluation data, else None."""
        return self.check_normalized([normalize_for_dedup(text)])[0]

    def check_normalized(self, texts: Sequence[str]) -> list[Contamination | None]:
        """:meth:`contaminated` for many texts already passed through normalize_for_dedup."""
        reasons: list[Contamination | None] = [
            "exact" if text and content_hash(text) in self._exact else None for text in texts
        ]
        rest = [i for i, reason in enumerate(reasons) if reason is None and texts[i]]
        if not rest or not len(self._grams):
            return reasons
        hashes, windows = self._gram_hashes([texts[i] for i in rest])
        pos = np.minimum(np.searchsorted(self._grams, hashes), len(self._grams) - 1)
        hit = self._grams[pos] == hashes
        per_text = np.logical_or.reduceat(hit, np.cumsum(windows) - windows)
        for i, found in zip(rest, per_text.tolist(), strict=True):
            if found:
                reasons[i] = "ngram"
        return reasons

    def _gram_hashes(self, texts: Sequence[str]) -> tuple[NDArray[np.uint64], NDArray[np.int64]]:
        tokens: list[int] = []
        counts: list[int] = []
        for text in texts:
            words = text.encode("utf-8").split()
            counts.append(len(words))
            tokens.extend(map(zlib.crc32, words))
        # +1 keeps every token nonzero, so a short text's zero padding stays distinct.
        ids = np.array(tokens, dtype=np.uint64) + np.uint64(1)
        return window_hashes(ids, np.array(counts, dtype=np.int64), self._mult)


def read_eval_texts(paths: Iterable[str | Path]) -> list[str]:
    """Evaluation texts from files, for :class:`Decontaminator` (``--against``).

    ``.jsonl``/``.ndjson``: one JSON value per line; ``.json``: one value or a list. A
    string value is a text; from an object, every string under :data:`EVAL_FIELDS` is one
    (several per record: question, each option, answer). Any other file: each non-empty
    line is one text, so a plain list of test items needs no conversion.
    """
    texts: list[str] = []
    for raw in paths:
        path = Path(raw)
        found = list(_texts_of_file(path))
        if not found:
            fields = ", ".join(EVAL_FIELDS)
            msg = f"no evaluation text found; records need a string in one of: {fields}"
            raise InputError(msg, path=str(path), reason="no_eval_text")
        texts += found
    return texts


def _texts_of_file(path: Path) -> Iterator[str]:
    try:
        content = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read evaluation file: {exc}", path=str(path)) from exc
    if path.suffix.lower() in _JSONL_SUFFIXES:
        for number, line in enumerate(content.splitlines(), start=1):
            if line.strip():
                yield from _texts_of_value(_parse(line, path, number))
    elif path.suffix.lower() == ".json":
        value = _parse(content, path, None)
        for item in value if isinstance(value, list) else [value]:
            yield from _texts_of_value(item)
    else:
        yield from (line.strip() for line in content.splitlines() if line.strip())


def _parse(text: str, path: Path, line: int | None) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        msg = f"invalid JSON ({exc.msg} at column {exc.colno})"
        raise InputError(msg, path=str(path), line=line or exc.lineno, reason="bad_json") from exc


def _texts_of_value(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for field in EVAL_FIELDS:
            yield from _strings(value.get(field))


def _strings(value: Any) -> Iterator[str]:
    """Strings of a field: itself, list items, and a dict's content/value/text or values."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        keyed = [value[k] for k in ("content", "value", "text") if k in value]
        for item in keyed or list(value.values()):
            yield from _strings(item)

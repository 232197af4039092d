"""Dedup normalization and exact duplicates: texts that read the same after light cleanup."""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Sequence

import numpy as np

from augment_ft.core.fingerprints import FingerprintSet

__all__ = ["ExactDeduper", "content_hash", "normalize_for_dedup"]


def _dropped(char: str) -> bool:
    """Punctuation, and control/format characters that are not whitespace, carry no content."""
    category = unicodedata.category(char)
    return category[0] == "P" or (category in ("Cc", "Cf") and not char.isspace())


# ASCII text (most rows) takes a fast bytes.translate path; the rule is the same.
_ASCII_DROP = bytes(code for code in range(128) if _dropped(chr(code)))


class _DropTable(dict[int, int | None]):
    """A ``str.translate`` table filled lazily: building it for all of Unicode costs ~0.3 s."""

    def __missing__(self, code: int) -> int | None:
        value = None if _dropped(chr(code)) else code
        self[code] = value
        return value


_DROP_TABLE = _DropTable()


def normalize_for_dedup(text: str) -> str:
    """NFKC, casefolded, punctuation removed, whitespace collapsed: the text dedup compares.

    Control and zero-width format characters go too. Words joined by punctuation merge
    ("well-known" -> "wellknown"), so both spellings of a text normalize alike.
    """
    if text.isascii():
        # NFKC is the identity on ASCII and casefold equals lower there.
        cleaned = text.lower().encode("ascii").translate(None, _ASCII_DROP).decode("ascii")
    else:
        folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
        cleaned = folded.translate(_DROP_TABLE)
    return " ".join(cleaned.split())


def content_hash(normalized: str) -> bytes:
    """16-byte BLAKE2b digest of an already normalized text (collisions ~2^-64 at 1e9 rows)."""
    return hashlib.blake2b(normalized.encode("utf-8"), digest_size=16).digest()


class ExactDeduper:
    """Remembers 64-bit hashes of normalized texts (never the texts) to spot exact repeats.

    The hashes live in a :class:`~augment_ft.core.fingerprints.FingerprintSet`: the newest in
    memory, older ones on disk behind Bloom filters, so memory stays small at any size.
    """

    def __init__(self, *, memory_keys: int = 1 << 17) -> None:
        self._seen = FingerprintSet(memory_keys=memory_keys)

    def __len__(self) -> int:
        return len(self._seen)

    def close(self) -> None:
        """Forget every hash and delete the spill file."""
        self._seen.close()

    def seen(self, text: str) -> bool:
        """Whether a text that normalizes alike was added before."""
        return _fingerprint(normalize_for_dedup(text)) in self._seen

    def add(self, text: str) -> None:
        """Remember ``text``."""
        self._seen.add(_fingerprint(normalize_for_dedup(text)))

    def check_and_add(self, text: str) -> bool:
        """Whether ``text`` was seen before; remembers it either way."""
        return self.check_normalized(normalize_for_dedup(text))

    def check_normalized(self, normalized: str) -> bool:
        """:meth:`check_and_add` for a text already passed through normalize_for_dedup."""
        return not self._seen.add(_fingerprint(normalized))

    def check_many_normalized(self, texts: Sequence[str]) -> list[bool]:
        """:meth:`check_normalized` for each of ``texts`` in order, a batch at once."""
        fps = np.fromiter(map(_fingerprint, texts), dtype=np.uint64, count=len(texts))
        new: list[bool] = self._seen.add_many(fps).tolist()
        return [not fresh for fresh in new]


def _fingerprint(normalized: str) -> int:
    """The first 8 bytes of :func:`content_hash` (a collision ~1 in 10^5 at 20M texts)."""
    return int.from_bytes(content_hash(normalized)[:8], "big")

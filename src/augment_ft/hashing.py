"""Stable content hashes: the identities that make resume and cache exact across runs."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from typing import Any

__all__ = ["canonical_json", "normalize_for_identity", "stable_hash"]

_WS = re.compile(r"\s+")


def normalize_for_identity(text: str) -> str:
    """NFC, collapsed whitespace, stripped: two texts that read the same hash the same."""
    return _WS.sub(" ", unicodedata.normalize("NFC", text)).strip()


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces, so equal values always give equal strings."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def stable_hash(value: Any, *, length: int = 16) -> str:
    """Hex SHA-256 of the canonical JSON of ``value``, cut to ``length`` characters."""
    digest = hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()
    return digest[:length]

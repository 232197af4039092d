"""Deduplication and decontamination: exact, near-duplicate (MinHash LSH) and eval overlap.

Every component keeps hashes or signatures, never the texts, so memory stays small at
millions of rows. :class:`Deduplicator` combines them as the pipeline's dedup stage.
"""

from __future__ import annotations

from augment_ft.dedup.decontam import (
    EVAL_FIELDS,
    Contamination,
    Decontaminator,
    read_eval_texts,
)
from augment_ft.dedup.exact import ExactDeduper, content_hash, normalize_for_dedup
from augment_ft.dedup.minhash import MinHasher
from augment_ft.dedup.near import NearDeduper
from augment_ft.dedup.stage import DEDUP_STAGE, Deduplicator

__all__ = [
    "DEDUP_STAGE",
    "EVAL_FIELDS",
    "Contamination",
    "Decontaminator",
    "Deduplicator",
    "ExactDeduper",
    "MinHasher",
    "NearDeduper",
    "content_hash",
    "normalize_for_dedup",
    "read_eval_texts",
]

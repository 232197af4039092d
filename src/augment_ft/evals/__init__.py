"""The evaluation suite: the paper's nonsense-word probes, likelihood scoring, coverage.

Generate a probe (:func:`make_probe`, :func:`write_probe`), fine-tune on its documents
(augmented or not), then score its items by likelihood (:func:`score_items` with a
:class:`Scorer` such as :class:`~augment_ft.LocalBackend`), or check without a model how
many test statements an augmented dataset already states (:func:`coverage`).
Names load on first use, so ``augment-ft eval make`` does not import the HTTP client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from augment_ft.evals.covered import CoverageReport, coverage, coverage_of_texts
    from augment_ft.evals.in_context import with_context
    from augment_ft.evals.items import (
        ProbeSet,
        TestItem,
        read_documents_jsonl,
        read_items,
        write_probe,
    )
    from augment_ft.evals.openai_scorer import OpenAILogprobScorer
    from augment_ft.evals.probes import PROBES, make_probe
    from augment_ft.evals.reversals import make_reversals
    from augment_ft.evals.scoring import EvalReport, Scorer, SplitScore, as_scorer, score_items
    from augment_ft.evals.semantic import make_semantic
    from augment_ft.evals.syllogisms import make_syllogisms
    from augment_ft.evals.words import NonsenseWords, nonsense_words

_LAZY = {
    "CoverageReport": "covered",
    "EvalReport": "scoring",
    "NonsenseWords": "words",
    "OpenAILogprobScorer": "openai_scorer",
    "PROBES": "probes",
    "ProbeSet": "items",
    "Scorer": "scoring",
    "SplitScore": "scoring",
    "TestItem": "items",
    "as_scorer": "scoring",
    "coverage": "covered",
    "coverage_of_texts": "covered",
    "make_probe": "probes",
    "make_reversals": "reversals",
    "make_semantic": "semantic",
    "make_syllogisms": "syllogisms",
    "nonsense_words": "words",
    "read_documents_jsonl": "items",
    "read_items": "items",
    "score_items": "scoring",
    "with_context": "in_context",
    "write_probe": "items",
}

__all__ = [
    "CoverageReport",
    "EvalReport",
    "NonsenseWords",
    "OpenAILogprobScorer",
    "PROBES",
    "ProbeSet",
    "Scorer",
    "SplitScore",
    "TestItem",
    "as_scorer",
    "coverage",
    "coverage_of_texts",
    "make_probe",
    "make_reversals",
    "make_semantic",
    "make_syllogisms",
    "nonsense_words",
    "read_documents_jsonl",
    "read_items",
    "score_items",
    "with_context",
    "write_probe",
]


def __getattr__(name: str) -> Any:
    """Load a public name on first use (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        msg = f"module 'augment_ft.evals' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(f"augment_ft.evals.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))

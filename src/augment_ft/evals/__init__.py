"""The evaluation suite: the paper's nonsense-word probes, likelihood scoring, coverage.

Generate a probe (:func:`make_probe`, :func:`write_probe`), fine-tune on its documents
(augmented or not), then score its items by likelihood (:func:`score_items` with a
:class:`Scorer` such as :class:`~augment_ft.LocalBackend`), or check without a model how
many test statements an augmented dataset already states (:func:`coverage`).
"""

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

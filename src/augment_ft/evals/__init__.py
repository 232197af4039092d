"""The evaluation suite: the paper's nonsense-word probes, likelihood scoring, coverage.

Generate a probe (:func:`make_probe`, :func:`write_probe`), fine-tune on its documents
(augmented or not), then score its items by likelihood (:func:`score_items` with a
:class:`Scorer` such as :class:`~augment_ft.LocalBackend`), or check without a model how
many test statements an augmented dataset already states (:func:`coverage`).
Names load on first use (listed once below; ``__init__.pyi`` types them), so
``augment-ft eval make`` does not import the HTTP client.
"""

from __future__ import annotations

from augment_ft.core.lazy import attach

_EXPORTS: dict[str, tuple[str, ...]] = {
    "augment_ft.evals.covered": ("CoverageReport", "coverage", "coverage_of_texts"),
    "augment_ft.evals.in_context": ("with_context",),
    "augment_ft.evals.items": (
        "ProbeSet",
        "TestItem",
        "read_documents_jsonl",
        "read_items",
        "write_probe",
    ),
    "augment_ft.evals.openai_scorer": ("OpenAILogprobScorer",),
    "augment_ft.evals.probes": ("PROBES", "make_probe"),
    "augment_ft.evals.reversals": ("make_reversals",),
    "augment_ft.evals.scoring": ("EvalReport", "Scorer", "SplitScore", "as_scorer", "score_items"),
    "augment_ft.evals.semantic": ("make_semantic",),
    "augment_ft.evals.syllogisms": ("make_syllogisms",),
    "augment_ft.evals.words": ("NonsenseWords", "nonsense_words"),
}

__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS)

"""augment_ft: turn documents into augmented fine-tuning datasets.

Every public name is listed once, in ``_EXPORTS``, and loaded on first use, so
``import augment_ft`` stays fast and imports nothing optional. ``__init__.pyi`` (generated
from ``_EXPORTS``, checked by a test) gives type checkers the same names.
"""

from __future__ import annotations

from augment_ft._moved import install as _install_moved_modules
from augment_ft.core.lazy import attach as _attach

__version__ = "0.1.0"

_EXPORTS: dict[str, tuple[str, ...]] = {
    "augment_ft.backends.base": ("Backend", "ChatRequest", "Completion", "Usage"),
    "augment_ft.backends.local": ("LocalBackend",),
    "augment_ft.backends.openai_compat": ("OpenAIBackend",),
    "augment_ft.backends.scripted": ("ScriptedBackend",),
    "augment_ft.backends.stack": ("StackedBackend", "build_stack"),
    "augment_ft.cluster": ("augment_dataset",),
    "augment_ft.core.config": ("RunConfig", "load_config"),
    "augment_ft.core.drops": ("DropLog",),
    "augment_ft.core.errors": ("AugmentError",),
    "augment_ft.core.models": ("Document", "Example", "Fact", "Message", "Provenance"),
    "augment_ft.core.report": ("RunReport",),
    "augment_ft.core.tokens": ("TokenCounter",),
    "augment_ft.dedup": ("Deduplicator",),
    "augment_ft.inputs.readers": ("read_documents", "read_facts", "read_inputs"),
    "augment_ft.outputs.formats": ("FORMATS", "validate_file"),
    "augment_ft.outputs.writer": ("JsonlWriter",),
    "augment_ft.pipeline.api": ("AugmentResult", "augment", "run"),
    "augment_ft.pipeline.build": ("build_pipeline",),
    "augment_ft.pipeline.pipeline": ("Pipeline",),
    "augment_ft.pipeline.step": ("StepParts", "StepResult", "step"),
    "augment_ft.strategies.base": ("FactFinder", "FactStrategy", "Strategy", "StrategyContext"),
    "augment_ft.strategies.builtin": ("STRATEGIES",),
    "augment_ft.strategies.extract": ("ExtractStrategy",),
    "augment_ft.strategies.implications": ("ImplicationsStrategy",),
    "augment_ft.strategies.prompts": ("render_prompt",),
    "augment_ft.strategies.qa": ("QAStrategy",),
    "augment_ft.strategies.rephrase": ("RephraseStrategy",),
    "augment_ft.strategies.reverse": ("ReverseStrategy",),
    "augment_ft.strategies.split": ("SplitStrategy",),
    "augment_ft.strategies.symbolic": ("SymbolicStrategy",),
    "augment_ft.text.splitter": ("Sentence", "split_sentences"),
}

__getattr__, __dir__, _names = _attach(__name__, _EXPORTS)
__all__ = sorted([*_names, "__version__"])  # noqa: PLE0605 - built from the one table
_install_moved_modules()

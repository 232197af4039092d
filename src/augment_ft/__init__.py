"""augment_ft: turn documents into augmented fine-tuning datasets.

Light names are imported eagerly; the rest (backends that pull in an SDK, the pipeline)
load on first use, so ``import augment_ft`` stays fast and imports nothing optional.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from augment_ft.backends.base import Backend, Capabilities, ChatRequest, Completion, Usage
from augment_ft.backends.scripted import ScriptedBackend
from augment_ft.core.errors import AugmentError
from augment_ft.core.models import Document, Example, Fact, Message, Provenance

if TYPE_CHECKING:
    from augment_ft.backends.local import LocalBackend
    from augment_ft.backends.openai_compat import OpenAIBackend
    from augment_ft.backends.stack import StackedBackend, build_stack
    from augment_ft.core.config import RunConfig, load_config
    from augment_ft.core.drops import DropLog
    from augment_ft.core.report import RunReport
    from augment_ft.core.tokens import TokenCounter
    from augment_ft.dedup import Deduplicator
    from augment_ft.inputs.readers import SkipLog, read_documents, read_facts, read_inputs
    from augment_ft.outputs.formats import FORMATS, validate_file
    from augment_ft.outputs.writer import JsonlWriter
    from augment_ft.pipeline import AugmentResult, Run, augment, run
    from augment_ft.strategies.base import FactStrategy, Strategy, StrategyContext
    from augment_ft.strategies.builtin import STRATEGIES
    from augment_ft.strategies.extract import ExtractStrategy
    from augment_ft.strategies.implications import ImplicationsStrategy
    from augment_ft.strategies.prompts import render_prompt
    from augment_ft.strategies.qa import QAStrategy
    from augment_ft.strategies.rephrase import RephraseStrategy
    from augment_ft.strategies.reverse import ReverseStrategy
    from augment_ft.strategies.split import SplitStrategy
    from augment_ft.strategies.symbolic import SymbolicStrategy
    from augment_ft.text.splitter import Sentence, split_sentences

__version__ = "0.1.0"

_LAZY = {
    "AugmentResult": "augment_ft.pipeline",
    "Deduplicator": "augment_ft.dedup",
    "DropLog": "augment_ft.core.drops",
    "ExtractStrategy": "augment_ft.strategies.extract",
    "FORMATS": "augment_ft.outputs.formats",
    "FactStrategy": "augment_ft.strategies.base",
    "ImplicationsStrategy": "augment_ft.strategies.implications",
    "JsonlWriter": "augment_ft.outputs.writer",
    "LocalBackend": "augment_ft.backends.local",
    "OpenAIBackend": "augment_ft.backends.openai_compat",
    "QAStrategy": "augment_ft.strategies.qa",
    "RephraseStrategy": "augment_ft.strategies.rephrase",
    "ReverseStrategy": "augment_ft.strategies.reverse",
    "Run": "augment_ft.pipeline",
    "RunConfig": "augment_ft.core.config",
    "RunReport": "augment_ft.core.report",
    "STRATEGIES": "augment_ft.strategies.builtin",
    "Sentence": "augment_ft.text.splitter",
    "SkipLog": "augment_ft.inputs.readers",
    "SplitStrategy": "augment_ft.strategies.split",
    "StackedBackend": "augment_ft.backends.stack",
    "Strategy": "augment_ft.strategies.base",
    "StrategyContext": "augment_ft.strategies.base",
    "SymbolicStrategy": "augment_ft.strategies.symbolic",
    "TokenCounter": "augment_ft.core.tokens",
    "augment": "augment_ft.pipeline",
    "build_stack": "augment_ft.backends.stack",
    "load_config": "augment_ft.core.config",
    "read_documents": "augment_ft.inputs.readers",
    "read_facts": "augment_ft.inputs.readers",
    "read_inputs": "augment_ft.inputs.readers",
    "render_prompt": "augment_ft.strategies.prompts",
    "run": "augment_ft.pipeline",
    "split_sentences": "augment_ft.text.splitter",
    "validate_file": "augment_ft.outputs.formats",
}

__all__ = [
    "AugmentError",
    "AugmentResult",
    "Backend",
    "Capabilities",
    "ChatRequest",
    "Completion",
    "Deduplicator",
    "Document",
    "DropLog",
    "Example",
    "ExtractStrategy",
    "FORMATS",
    "Fact",
    "FactStrategy",
    "ImplicationsStrategy",
    "JsonlWriter",
    "LocalBackend",
    "Message",
    "OpenAIBackend",
    "Provenance",
    "QAStrategy",
    "RephraseStrategy",
    "ReverseStrategy",
    "Run",
    "RunConfig",
    "RunReport",
    "STRATEGIES",
    "ScriptedBackend",
    "Sentence",
    "SkipLog",
    "SplitStrategy",
    "StackedBackend",
    "Strategy",
    "StrategyContext",
    "SymbolicStrategy",
    "TokenCounter",
    "Usage",
    "__version__",
    "augment",
    "build_stack",
    "load_config",
    "read_documents",
    "read_facts",
    "read_inputs",
    "render_prompt",
    "run",
    "split_sentences",
    "validate_file",
]


def __getattr__(name: str) -> Any:
    """Load the heavier exports on first use (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        msg = f"module 'augment_ft' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))

"""augment_ft: turn documents into augmented fine-tuning datasets.

Light names are imported eagerly; the rest (backends that pull in an SDK, the pipeline)
load on first use, so ``import augment_ft`` stays fast and imports nothing optional.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from augment_ft.backends.base import Backend, Capabilities, ChatRequest, Completion, Usage
from augment_ft.backends.scripted import ScriptedBackend
from augment_ft.errors import AugmentError
from augment_ft.models import Document, Example, Fact, Message, Provenance

if TYPE_CHECKING:
    from augment_ft.backends.local import LocalBackend
    from augment_ft.backends.openai_compat import OpenAIBackend
    from augment_ft.backends.stack import StackedBackend, build_stack
    from augment_ft.config import RunConfig, load_config
    from augment_ft.formats import FORMATS
    from augment_ft.pipeline import AugmentResult, Run, augment, run
    from augment_ft.readers import SkipLog, read_documents, read_facts, read_inputs
    from augment_ft.report import RunReport
    from augment_ft.splitter import Sentence, split_sentences
    from augment_ft.strategies.builtin import STRATEGIES
    from augment_ft.tokens import TokenCounter

__version__ = "0.1.0"

_LAZY = {
    "AugmentResult": "augment_ft.pipeline",
    "FORMATS": "augment_ft.formats",
    "LocalBackend": "augment_ft.backends.local",
    "OpenAIBackend": "augment_ft.backends.openai_compat",
    "Run": "augment_ft.pipeline",
    "RunConfig": "augment_ft.config",
    "RunReport": "augment_ft.report",
    "STRATEGIES": "augment_ft.strategies.builtin",
    "Sentence": "augment_ft.splitter",
    "SkipLog": "augment_ft.readers",
    "StackedBackend": "augment_ft.backends.stack",
    "TokenCounter": "augment_ft.tokens",
    "augment": "augment_ft.pipeline",
    "build_stack": "augment_ft.backends.stack",
    "load_config": "augment_ft.config",
    "read_documents": "augment_ft.readers",
    "read_facts": "augment_ft.readers",
    "read_inputs": "augment_ft.readers",
    "run": "augment_ft.pipeline",
    "split_sentences": "augment_ft.splitter",
}

__all__ = [
    "AugmentError",
    "AugmentResult",
    "Backend",
    "Capabilities",
    "ChatRequest",
    "Completion",
    "Document",
    "Example",
    "FORMATS",
    "Fact",
    "LocalBackend",
    "Message",
    "OpenAIBackend",
    "Provenance",
    "Run",
    "RunConfig",
    "RunReport",
    "STRATEGIES",
    "ScriptedBackend",
    "Sentence",
    "SkipLog",
    "StackedBackend",
    "TokenCounter",
    "Usage",
    "__version__",
    "augment",
    "build_stack",
    "load_config",
    "read_documents",
    "read_facts",
    "read_inputs",
    "run",
    "split_sentences",
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

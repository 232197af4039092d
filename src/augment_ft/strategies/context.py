"""What a strategy may use while it works on one document: passed in, never looked up.

A context is frozen. Its ``drops`` ledger belongs to one step (one document): the step
makes a fresh context per document with :meth:`StrategyContext.for_document` and returns
the ledger with its examples, so counts travel as values and nothing is shared between
documents. The corpus reaches corpus-level strategies the same way, as an argument.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from augment_ft.backends.base import Backend
from augment_ft.core.drops import DropLog
from augment_ft.core.errors import ConfigError
from augment_ft.core.models import Document
from augment_ft.core.tokens import estimate_tokens

__all__ = ["StrategyContext"]


@dataclass(frozen=True)
class StrategyContext:
    """The backend (None for runs without an LLM), this document's drop ledger, the token
    counter, where templates may be overridden, the seed, and the corpus when a strategy
    declared ``needs_corpus`` (empty otherwise)."""

    backend: Backend | None = None
    drops: DropLog = field(default_factory=DropLog)
    count_tokens: Callable[[str], int] = estimate_tokens
    template_dir: str | None = None
    seed: int = 0
    corpus: Sequence[Document] = ()

    def for_document(self, corpus: Sequence[Document] = ()) -> StrategyContext:
        """The same tools with a fresh drop ledger (one per step) and the corpus given."""
        return replace(self, drops=DropLog(), corpus=corpus)

    def require_backend(self, strategy: str) -> Backend:
        """The backend, or a clear error naming the strategy that needs one."""
        if self.backend is None:
            msg = f"strategy {strategy!r} calls an LLM, but no backend was given"
            raise ConfigError(msg)
        return self.backend

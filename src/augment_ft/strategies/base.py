"""The strategy seam: a document (and a context) in, examples out.

Two shapes: :class:`Strategy` works one document at a time (split, rephrase, reverse,
implications, extract, qa); :class:`FactStrategy` works on the whole set of structured
facts at once (symbolic closure needs every fact to close over).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from augment_ft.backends.base import Backend
from augment_ft.core.drops import DropLog
from augment_ft.core.models import Document, Example, Fact

__all__ = ["FactStrategy", "Strategy", "StrategyContext"]


def _estimate_tokens(text: str) -> int:
    return max(1, len(text) // 4)


@dataclass
class StrategyContext:
    """What a strategy may use. Passed in, never looked up globally.

    ``backend`` is None for runs without an LLM. ``corpus`` holds every document when a
    strategy declared ``needs_corpus``; otherwise it is empty. Strategies that derive
    facts (extract) hand them to ``facts`` so fact strategies see them.
    """

    backend: Backend | None = None
    drops: DropLog = field(default_factory=DropLog)
    corpus: Sequence[Document] = ()
    facts: list[Fact] = field(default_factory=list)
    count_tokens: Callable[[str], int] = _estimate_tokens
    template_dir: str | None = None
    seed: int = 0

    def require_backend(self, strategy: str) -> Backend:
        """The backend, or a clear error naming the strategy that needs one."""
        if self.backend is None:
            from augment_ft.core.errors import ConfigError

            msg = f"strategy {strategy!r} calls an LLM, but no backend was given"
            raise ConfigError(msg)
        return self.backend


@runtime_checkable
class Strategy(Protocol):
    """Turns one document into examples. ``uses_llm`` tells estimates and dry runs."""

    name: str
    uses_llm: bool
    needs_corpus: bool

    async def run(self, doc: Document, ctx: StrategyContext) -> list[Example]: ...


@runtime_checkable
class FactStrategy(Protocol):
    """Turns the whole set of structured facts into examples."""

    name: str
    uses_llm: bool

    async def run_facts(self, facts: Sequence[Fact], ctx: StrategyContext) -> list[Example]: ...

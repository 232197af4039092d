"""The backend seam: one async call from a chat request to a completion.

Everything else (cache, retries, limits, usage accounting) wraps a :class:`Backend`
through :class:`BackendWrapper`; nothing reaches around it to a transport.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from augment_ft.core.closing import AsyncClosing
from augment_ft.core.hashing import stable_hash
from augment_ft.core.models import Message

__all__ = [
    "AsyncClosing",
    "Backend",
    "BackendWrapper",
    "ChatRequest",
    "Completion",
    "Usage",
    "call_id",
    "run_sync",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ChatRequest(_Frozen):
    """What a strategy asks of a model. Its :func:`call_id` keys the response cache."""

    messages: tuple[Message, ...] = Field(min_length=1)
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    max_tokens: int = Field(default=512, ge=1)
    seed: int | None = None
    stop: tuple[str, ...] = ()
    json_schema: dict[str, JsonValue] | None = None
    schema_name: str = "response"

    def params(self) -> dict[str, JsonValue]:
        """Sampling parameters as plain data (for provenance and cache keys)."""
        return {
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "seed": self.seed,
            "stop": list(self.stop),
        }


class Usage(_Frozen):
    """Token counts of one call."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class Completion(_Frozen):
    """What came back: the text, why it stopped, tokens used, which model answered."""

    text: str
    finish_reason: str = "stop"
    usage: Usage = Field(default_factory=Usage)
    model: str = ""
    cached: bool = False


@runtime_checkable
class Backend(Protocol):
    """A model. ``model`` names it for cache keys and provenance; ``aclose`` frees what it
    holds (connections, a loaded model) and is a no-op where there is nothing to free."""

    @property
    def model(self) -> str: ...

    async def complete(self, request: ChatRequest) -> Completion: ...

    async def aclose(self) -> None: ...


class BackendWrapper(AsyncClosing):
    """Base of the wrappers (cache, retry, limits, usage): holds ``inner`` and forwards to it
    whatever the wrapper does not change, so each wrapper states only its own concern."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner

    @property
    def model(self) -> str:
        return self.inner.model

    async def complete(self, request: ChatRequest) -> Completion:
        """Call through unchanged (wrappers override this)."""
        return await self.inner.complete(request)

    async def aclose(self) -> None:
        """Close the wrapped backend."""
        await self.inner.aclose()


def call_id(model: str, request: ChatRequest) -> str:
    """Identity of a call: hash of (model, messages, params, schema); stable across runs."""
    return "call-" + stable_hash(
        {
            "model": model,
            "messages": [m.model_dump() for m in request.messages],
            "params": request.params(),
            "schema": request.json_schema,
        },
        length=32,
    )


T = TypeVar("T")


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine from synchronous code (scripts, notebooks without a loop)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    msg = "run_sync() was called inside a running event loop; await the coroutine instead"
    raise RuntimeError(msg)

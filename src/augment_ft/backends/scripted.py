"""A public fake backend: scripted answers, every request recorded, errors on demand.

Tests, ``--backend scripted`` dry runs and the docs use it; it speaks the same seam as a
real model, so nothing above it can tell the difference.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Iterable

from augment_ft.backends.base import ChatRequest, Completion, Usage
from augment_ft.core.errors import BackendError
from augment_ft.core.tokens import estimate_tokens

__all__ = ["Reply", "Responder", "ScriptedBackend"]

Reply = str | Completion | BackendError
"""One scripted answer: text, a full completion, or an error to raise."""

Responder = Callable[[ChatRequest], Reply | Awaitable[Reply]]
"""A function of the request giving the reply (may be async)."""


class ScriptedBackend:
    """Answers from a list (in order, optionally cycling) or from a function of the request.

    ``requests`` records every request received, errors included, in arrival order.
    """

    def __init__(
        self,
        responses: Iterable[Reply] | Responder = ("",),
        *,
        model: str = "scripted",
        cycle: bool = False,
        latency: float = 0.0,
    ) -> None:
        self._model = model
        self._latency = latency
        self._responder: Responder | None = None
        self._queue: Iterable[Reply] | None = None
        if callable(responses):
            self._responder = responses
        else:
            items = list(responses)
            self._queue = itertools.cycle(items) if cycle else iter(items)
        self.requests: list[ChatRequest] = []

    @property
    def model(self) -> str:
        return self._model

    async def complete(self, request: ChatRequest) -> Completion:
        """Record the request, wait ``latency`` seconds, then give the next scripted reply."""
        self.requests.append(request)
        if self._latency:
            await asyncio.sleep(self._latency)
        reply = await self._next_reply(request)
        if isinstance(reply, BackendError):
            raise reply
        if isinstance(reply, Completion):
            return reply
        prompt = sum(estimate_tokens(m.content) for m in request.messages)
        usage = Usage(prompt_tokens=max(1, prompt), completion_tokens=estimate_tokens(reply))
        return Completion(text=reply, usage=usage, model=self._model)

    async def aclose(self) -> None:
        """Nothing to close; here so the fake speaks the whole seam."""

    async def _next_reply(self, request: ChatRequest) -> Reply:
        if self._responder is not None:
            result = self._responder(request)
            if isinstance(result, (str, Completion, BackendError)):
                return result
            return await result
        try:
            return next(iter(self._queue or ()))
        except StopIteration:
            msg = (
                f"ScriptedBackend ran out of replies after {len(self.requests) - 1} requests; "
                "give more responses or cycle=True"
            )
            raise BackendError(msg) from None

"""One cheap call before the first real one, so a dead URL, a bad key or an unknown model
stops a run at once.

Without it a typo in ``--base-url`` turns every LLM call into a counted drop and the run
"succeeds" with only the originals written. The probe goes to the bare backend under any
wrappers: a cached answer, or six retries with backoff, would only hide or delay the news.
:class:`ProbeFirst` sits under the response cache, so it asks on the first call the cache
cannot answer: a fully cached rerun needs no server at all.
"""

from __future__ import annotations

import asyncio

from augment_ft.backends.base import Backend, BackendWrapper, ChatRequest, Completion
from augment_ft.core.errors import (
    BackendError,
    BackendUnavailableError,
    BackendUnreachableError,
)
from augment_ft.core.models import Message

__all__ = ["PROBE_REQUEST", "ProbeFirst", "probe"]

PROBE_REQUEST = ChatRequest(
    messages=(Message(role="user", content="Say OK."),), temperature=0.0, max_tokens=1
)
"""The probe: one token, no schema, a prompt any model answers."""


def _bare(backend: Backend) -> Backend:
    """The backend under every wrapper (a stack, a cache, limits...)."""
    while isinstance(backend, BackendWrapper):
        backend = backend.inner
    return backend


async def probe(backend: Backend) -> None:
    """Raise :class:`BackendUnavailableError` unless ``backend`` can answer at all.

    Fatal: nothing listening, DNS, 401/403, 404 (no such model or endpoint). Anything else
    (429, 5xx, a timeout, a 400 about the tiny request) means a server is there, so the run
    goes on and its retry layer deals with it. Messages are one line: model, URL, cause.
    """
    bare = _bare(backend)
    try:
        await bare.complete(PROBE_REQUEST)
    except BackendUnavailableError:
        raise
    except BackendUnreachableError as exc:
        raise BackendUnavailableError(str(exc)) from exc
    except BackendError:
        return  # connected, then refused this call, dropped or garbled: a server is there


class ProbeFirst(BackendWrapper):
    """Runs :func:`probe` on ``target`` once, before the first call that reaches this layer.

    Calls arriving while the probe runs wait for it; a failed probe fails them and every
    later call with the same error, so a dead server is asked once, not once per call.
    """

    def __init__(self, inner: Backend, target: Backend) -> None:
        super().__init__(inner)
        self.target = target
        self.passed = False
        self._probing: asyncio.Future[None] | None = None

    async def complete(self, request: ChatRequest) -> Completion:
        """Probe first (once), then call through."""
        if not self.passed:
            await asyncio.shield(self._probe())
        return await self.inner.complete(request)

    def _probe(self) -> asyncio.Future[None]:
        """The probe's task: the one running or done, or a new one (first call, or the
        first on another event loop after one was cut off with its loop)."""
        task = self._probing
        loop = asyncio.get_running_loop()
        if task is None or task.cancelled() or (not task.done() and task.get_loop() is not loop):
            task = self._probing = asyncio.ensure_future(self._ask())
            task.add_done_callback(_retrieved)
        return task

    async def _ask(self) -> None:
        await probe(self.target)
        self.passed = True


def _retrieved(task: asyncio.Future[None]) -> None:
    """Mark the probe's error as seen: no "never retrieved" log when no caller waits."""
    if not task.cancelled():
        task.exception()

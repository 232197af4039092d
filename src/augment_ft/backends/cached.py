"""A backend wrapper that answers from the response cache and makes identical calls once.

A miss calls the wrapped backend and stores the raw answer in a
:class:`~augment_ft.backends.cache.ResponseCache`; identical calls in flight at once share
that one call (single flight), so a batch of duplicates costs a single request.
"""

from __future__ import annotations

import asyncio

from augment_ft.backends.base import Backend, BackendWrapper, ChatRequest, Completion, call_id
from augment_ft.backends.cache import ResponseCache

__all__ = ["CachedBackend"]


class CachedBackend(BackendWrapper):
    """Answers from the cache when it can; otherwise calls through and stores the answer.

    ``refresh=True`` ignores entries from earlier runs but still overwrites them (and a call
    repeated within the same run is answered from its fresh entry). ``hits``, ``misses`` and
    ``shared`` (answered by a concurrent identical call) are counted.
    """

    def __init__(self, inner: Backend, cache: ResponseCache, *, refresh: bool = False) -> None:
        super().__init__(inner)
        self.cache = cache
        self.refresh = refresh
        self._pending: dict[str, asyncio.Future[Completion]] = {}
        self._refreshed: set[str] = set()
        self.hits = 0
        self.misses = 0
        self.shared = 0

    async def complete(self, request: ChatRequest) -> Completion:
        """A stored answer, the answer of an identical call in flight, or a fresh call."""
        key = call_id(self.inner.model, request)
        if not self.refresh or key in self._refreshed:
            hit = self.cache.get(key)
            if hit is not None:
                self.hits += 1
                return hit
        while (pending := self._pending.get(key)) is not None:
            try:
                shared = await asyncio.shield(pending)
            except asyncio.CancelledError:
                if pending.cancelled():
                    continue  # the caller making the call was cancelled: try to lead instead
                raise
            self.shared += 1
            return shared.model_copy(update={"cached": True})
        return await self._lead(key, request)

    async def _lead(self, key: str, request: ChatRequest) -> Completion:
        """Make the call for everyone asking ``key`` now, store it, then share it."""
        future: asyncio.Future[Completion] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            self.misses += 1
            completion = await self.inner.complete(request)
            # Off the loop: a write may wait for another process's lock; the loop must not.
            await self.cache.put_async(key, completion)
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # marks it retrieved: no "never retrieved" log without followers
            raise
        except BaseException:
            future.cancel()
            raise
        finally:
            del self._pending[key]
        if self.refresh:
            self._refreshed.add(key)
        future.set_result(completion)
        return completion

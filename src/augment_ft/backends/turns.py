"""One-at-a-time turns for a single model instance, ordered for prefix reuse.

llama.cpp keeps the KV cache of the last prompt and re-evaluates only what differs, so a
call whose prompt shares a long prefix (same template, same few-shots) with the previous
one is much cheaper. When the model frees up, the waiting call with the longest common
prefix goes next; ties go to the oldest, so nothing waits forever behind a stream of
look-alikes (a waiter passed over ``max_skips`` times goes next regardless).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

__all__ = ["PrefixTurns"]


@dataclass
class _Waiter:
    key: str
    seq: int
    future: asyncio.Future[None]
    skipped: int = 0


@dataclass
class PrefixTurns:
    """An asyncio lock whose waiters are woken by prefix affinity, not arrival order."""

    max_skips: int = 64
    _busy: bool = False
    _last: str = ""
    _seq: int = 0
    _waiting: list[_Waiter] = field(default_factory=list)

    @asynccontextmanager
    async def turn(self, key: str) -> AsyncIterator[None]:
        """Hold the model for one call whose prompt is ``key``."""
        await self._acquire(key)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, key: str) -> None:
        if not self._busy:
            self._busy, self._last = True, key
            return
        self._seq += 1
        waiter = _Waiter(key, self._seq, asyncio.get_running_loop().create_future())
        self._waiting.append(waiter)
        try:
            await waiter.future
        except asyncio.CancelledError:
            if waiter in self._waiting:
                self._waiting.remove(waiter)
            elif waiter.future.done() and not waiter.future.cancelled():
                self._release()  # the turn was handed over just as we were cancelled
            raise

    def _release(self) -> None:
        if not self._waiting:
            self._busy = False
            return
        chosen = self._choose()
        self._waiting.remove(chosen)
        for waiter in self._waiting:
            waiter.skipped += 1
        self._last = chosen.key
        chosen.future.set_result(None)

    def _choose(self) -> _Waiter:
        starved = [w for w in self._waiting if w.skipped >= self.max_skips]
        if starved:
            return min(starved, key=lambda w: w.seq)
        return max(self._waiting, key=lambda w: (_shared_prefix(w.key, self._last), -w.seq))


def _shared_prefix(a: str, b: str) -> int:
    """Length of the common prefix of two strings (bisection: slices compare in C)."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo

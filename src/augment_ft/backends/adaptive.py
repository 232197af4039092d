"""An in-flight limit that finds a server's real capacity: AIMD, as TCP finds a link's.

Every call through a stack takes a slot. A 429 or a timeout cuts the limit to 3/4 (never
below 1); each success adds ``1/limit``, so a full window of successes adds one slot, up to
the ceiling (``max_in_flight``) but at most 10% above the level where 429s were last seen.
A window without any 429 at that level makes it the new known level, so a transient storm
of 429s does not pin the limit low for the rest of a run. Only calls started after the last
cut can cut again: one burst of 429s from one window is one signal, not forty.
"""

from __future__ import annotations

import asyncio
from collections import deque

from augment_ft.core.errors import ConfigError

__all__ = ["AdaptiveLimit"]


class AdaptiveLimit:
    """Slots for calls in flight, ``limit`` of them, moved by :meth:`overloaded` and
    :meth:`succeeded`. Waiters are served in arrival order."""

    def __init__(self, ceiling: int, *, decrease: float = 0.75, margin: float = 0.10) -> None:
        if ceiling < 1 or not 0 < decrease < 1 or margin < 0:
            msg = (
                f"adaptive limit needs ceiling >= 1, 0 < decrease < 1, margin >= 0 (got {ceiling})"
            )
            raise ConfigError(msg)
        self.ceiling = ceiling
        self.decrease = decrease
        self.margin = margin
        self.limit = float(ceiling)
        self.known: float | None = None  # the limit at which 429s were last seen
        self.in_flight = 0
        self.cuts = 0
        self._generation = 0  # bumped by every cut
        self._calm = 0  # successes at the probing cap since the last cut
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def allowed(self) -> int:
        """Calls that may be in flight now."""
        return max(1, int(self.limit))

    def cap(self) -> float:
        """How far the limit may grow now: the ceiling, or 10% above the last 429 level."""
        if self.known is None:
            return float(self.ceiling)
        return min(float(self.ceiling), self.known * (1 + self.margin))

    async def acquire(self) -> int:
        """Wait for a slot; returns the generation the call starts in (for :meth:`overloaded`)."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a new event loop: slots of the old one are gone
            self._loop, self.in_flight, self._waiters = loop, 0, deque()
        if not self._waiters and self.in_flight < self.allowed:
            self.in_flight += 1
            return self._generation
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # the slot was handed over just as we were cancelled
            else:
                self._waiters.remove(waiter)
            raise
        return self._generation

    def release(self) -> None:
        """Give a slot back and hand free slots to the oldest waiters."""
        self.in_flight -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self.in_flight < self.allowed:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.in_flight += 1
                waiter.set_result(None)

    def overloaded(self, generation: int) -> None:
        """A 429 or timeout for a call started in ``generation``: cut, once per generation."""
        if generation != self._generation:
            return  # started before the last cut, which already answered this overload
        self.known = self.limit
        self.limit = max(1.0, self.limit * self.decrease)
        self._generation += 1
        self._calm = 0
        self.cuts += 1

    def succeeded(self) -> None:
        """A call answered: grow by ``1/limit`` toward the cap; probe past a calm cap."""
        cap = self.cap()
        if self.limit < cap:
            self.limit = min(cap, self.limit + 1.0 / self.limit)
            self._wake()
            return
        if self.known is None:
            return
        self._calm += 1
        if self._calm >= self.allowed:
            self.known = cap if cap < self.ceiling else None  # a calm window: probe higher
            self._calm = 0

"""Client-side limits around any backend: calls in flight, requests and tokens per minute.

Calls in flight are capped adaptively by default (:class:`~augment_ft.backends.adaptive.
AdaptiveLimit`: a 429 or timeout shrinks the limit, successes grow it back), so a server's
concurrency cap costs a few 429s, not a stall. ``adaptive=False`` gives a fixed semaphore
and a shared :class:`Cooldown` that makes one 429 pause every task. When the budgets allow
a call, the cost is one uncontended slot and two float comparisons: no added latency.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable

from augment_ft.backends.adaptive import AdaptiveLimit
from augment_ft.backends.base import Backend, BackendWrapper, ChatRequest, Completion
from augment_ft.core.errors import BackendTimeoutError, ConfigError, RateLimitError
from augment_ft.core.tokens import TokenCounter, estimate_tokens

__all__ = [
    "Clock",
    "Cooldown",
    "LimitedBackend",
    "Sleep",
    "TokenBucket",
    "estimate_request_tokens",
    "token_counter_estimator",
]

Clock = Callable[[], float]
"""Monotonic seconds (``time.monotonic`` unless a test injects a fake)."""

Sleep = Callable[[float], Awaitable[None]]
"""An awaitable sleep (``asyncio.sleep`` unless a test injects a fake)."""

_TOKENS_PER_MESSAGE = 4  # chat-format overhead per message, as the counter reckons it


class Cooldown:
    """A pause shared by every task of a stack: after a 429, nobody calls until it ends."""

    def __init__(self, *, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep) -> None:
        self._clock = clock
        self._sleep = sleep
        self._until = -math.inf
        self.trips = 0

    def trip(self, seconds: float) -> None:
        """Pause all callers for ``seconds`` from now (never shortens a pause already set)."""
        self.trips += 1
        self._until = max(self._until, self._clock() + max(0.0, seconds))

    def remaining(self) -> float:
        """Seconds left in the current pause (0 when none)."""
        return max(0.0, self._until - self._clock())

    async def wait(self) -> None:
        """Return at once when no pause is set, else sleep until it ends (even if extended)."""
        while (left := self._until - self._clock()) > 0:
            await self._sleep(left)


class TokenBucket:
    """A budget of ``rate`` units per minute holding at most ``burst_seconds`` worth.

    Callers reserve first and sleep for their turn afterwards, so waiters are served in
    arrival order with O(1) work each; the level may go negative (a debt later callers wait
    out), which also lets a request larger than the bucket through instead of deadlocking.
    """

    def __init__(
        self,
        per_minute: float,
        *,
        burst_seconds: float = 6.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if not per_minute > 0 or not burst_seconds > 0:
            msg = f"a rate limit must be positive, got {per_minute}/min over {burst_seconds} s"
            raise ConfigError(msg)
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate * burst_seconds)
        self._clock = clock
        self._sleep = sleep
        self._level = self.capacity
        self._stamp = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._level = min(self.capacity, self._level + (now - self._stamp) * self.rate)
        self._stamp = now

    def reserve(self, amount: float) -> float:
        """Take ``amount`` now and return how many seconds the caller must wait for it."""
        self._refill()
        self._level -= amount
        return 0.0 if self._level >= 0 else -self._level / self.rate

    def adjust(self, amount: float) -> None:
        """Give back (positive) or charge (negative) units once the true cost is known."""
        self._refill()
        self._level = min(self.capacity, self._level + amount)

    async def acquire(self, amount: float) -> None:
        """Reserve ``amount`` and sleep until it is covered; refunded if cancelled."""
        delay = self.reserve(amount)
        if delay <= 0:
            return
        try:
            await self._sleep(delay)
        except asyncio.CancelledError:
            self.adjust(amount)
            raise


def estimate_request_tokens(request: ChatRequest) -> int:
    """Cheap guess of a call's tokens: the prompt's estimated tokens plus ``max_tokens``."""
    prompt = sum(estimate_tokens(m.content) + _TOKENS_PER_MESSAGE for m in request.messages)
    return prompt + request.max_tokens


def token_counter_estimator(model: str) -> Callable[[ChatRequest], int]:
    """An estimator counting prompts exactly with ``model``'s tokenizer (TokenCounter).

    About 40 us a call, and a one-time load of 0.3-0.7 s, done here rather than in the
    middle of a run; without the encoding files the counter itself falls back to the
    estimate, so a TPM budget never fails a run for want of a tokenizer.
    """
    counter = TokenCounter(model)
    counter.count("load the encoding now, not in the middle of a run")

    def estimate(request: ChatRequest) -> int:
        return counter.count_messages(request.messages) + request.max_tokens

    return estimate


class LimitedBackend(BackendWrapper):
    """Caps calls in flight and, optionally, requests and tokens per minute.

    Tokens are estimated before the call (prompt plus ``max_tokens``) and corrected with
    the usage the server reports, so the TPM budget tracks what was actually spent.
    """

    def __init__(
        self,
        inner: Backend,
        *,
        max_in_flight: int = 16,
        adaptive: bool = True,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        token_estimator: Callable[[ChatRequest], int] | None = None,
        cooldown: Cooldown | None = None,
        rate_limit_pause: float = 1.0,
        burst_seconds: float = 6.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if max_in_flight < 1:
            msg = f"max_in_flight must be at least 1, got {max_in_flight}"
            raise ConfigError(msg)
        super().__init__(inner)
        self.max_in_flight = max_in_flight
        self.adaptive = AdaptiveLimit(max_in_flight) if adaptive else None
        # The shared pause is the fixed mode's answer to a 429; adaptive mode shrinks instead.
        self.cooldown = None if adaptive else cooldown or Cooldown(clock=clock, sleep=sleep)
        self.rate_limit_pause = rate_limit_pause
        self._loop: asyncio.AbstractEventLoop | None = None
        self._semaphore = asyncio.Semaphore(max_in_flight)
        self._estimate = token_estimator or estimate_request_tokens
        self.requests = _bucket(requests_per_minute, burst_seconds, clock, sleep)
        self.tokens = _bucket(tokens_per_minute, burst_seconds, clock, sleep)
        self.in_flight = 0

    async def complete(self, request: ChatRequest) -> Completion:
        """Wait for a slot, the shared cooldown and the budgets, then call the inner backend."""
        if self.adaptive is None:
            async with self._slots():
                return await self._call(request, 0)
        generation = await self.adaptive.acquire()
        try:
            completion = await self._call(request, generation)
        finally:
            self.adaptive.release()
        self.adaptive.succeeded()
        return completion

    async def _call(self, request: ChatRequest, generation: int) -> Completion:
        """One call inside its slot: the budgets, then the inner backend."""
        if self.cooldown is not None:
            await self.cooldown.wait()
        if self.requests is not None:
            await self.requests.acquire(1)
        estimate = 0
        if self.tokens is not None:
            estimate = self._estimate(request)
            await self.tokens.acquire(estimate)
        self.in_flight += 1
        try:
            completion = await self.inner.complete(request)
        except (RateLimitError, BackendTimeoutError) as exc:
            self._overloaded(exc, generation)
            raise
        finally:
            self.in_flight -= 1
        if self.tokens is not None and completion.usage.total_tokens > 0:
            self.tokens.adjust(estimate - completion.usage.total_tokens)
        return completion

    def _overloaded(self, exc: RateLimitError | BackendTimeoutError, generation: int) -> None:
        """Adaptive: shrink the limit (429 or timeout). Fixed: a 429 pauses every task."""
        if self.adaptive is not None:
            self.adaptive.overloaded(generation)
        elif self.cooldown is not None and isinstance(exc, RateLimitError):
            pause = exc.retry_after if exc.retry_after is not None else self.rate_limit_pause
            self.cooldown.trip(pause)

    def _slots(self) -> asyncio.Semaphore:
        """The fixed in-flight semaphore for the running event loop.

        A semaphore binds to the loop it first waits in; a stack may serve several
        ``asyncio.run`` calls in turn, so each new loop gets a fresh one.
        """
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop = loop
            self._semaphore = asyncio.Semaphore(self.max_in_flight)
        return self._semaphore


def _bucket(
    per_minute: float | None, burst_seconds: float, clock: Clock, sleep: Sleep
) -> TokenBucket | None:
    if per_minute is None:
        return None
    return TokenBucket(per_minute, burst_seconds=burst_seconds, clock=clock, sleep=sleep)

"""The standard wrapper stack around a backend: usage(cache(retry(limits(backend)))).

Order, outermost first, and why:

1. usage  - sees every answer, cache hits included (counted apart), and every final error.
2. cache  - a hit returns before the layers below, so it spends no rate budget and no retry.
3. retry  - wraps the limits, so every attempt, first or fifth, passes the limits again:
            a retried call respects the budgets and the shared 429 cooldown, and a task
            sleeping between attempts does not hold one of the ``max_in_flight`` slots.
4. limits - directly around the transport, so "in flight" means requests on the wire.

Retry and limits share one :class:`Cooldown`: a 429 seen by either pauses every task.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from augment_ft.backends.base import Backend, Capabilities, ChatRequest, Completion
from augment_ft.backends.cache import ResponseCache
from augment_ft.backends.cached import CachedBackend
from augment_ft.backends.limits import (
    Clock,
    Cooldown,
    LimitedBackend,
    Sleep,
)
from augment_ft.backends.retry import RetryingBackend
from augment_ft.backends.usage import PriceTable, UsageMeter, UsageStats

__all__ = ["StackedBackend", "build_stack"]


class StackedBackend:
    """A backend wrapped in the standard layers; ``stats`` is the run report's usage part.

    Close it (or use it as a context manager) to close the cache file.
    """

    def __init__(
        self,
        outer: Backend,
        *,
        base: Backend,
        stats: UsageStats,
        cooldown: Cooldown,
        cache: ResponseCache | None,
        retrying: RetryingBackend,
        limited: LimitedBackend,
    ) -> None:
        self._outer = outer
        self.base = base
        self.stats = stats
        self.cooldown = cooldown
        self.cache = cache
        self.retrying = retrying
        self.limited = limited

    @property
    def model(self) -> str:
        return self.base.model

    @property
    def capabilities(self) -> Capabilities:
        return self.base.capabilities

    async def complete(self, request: ChatRequest) -> Completion:
        """Send ``request`` through usage, cache, retry and limits to the base backend."""
        return await self._outer.complete(request)

    def close(self) -> None:
        """Close the cache, when there is one (idempotent)."""
        if self.cache is not None:
            self.cache.close()

    def __enter__(self) -> StackedBackend:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def build_stack(
    backend: Backend,
    *,
    cache_path: str | Path | None = None,
    refresh: bool = False,
    max_in_flight: int = 16,
    rpm: float | None = None,
    tpm: float | None = None,
    token_estimator: Callable[[ChatRequest], int] | None = None,
    max_attempts: int = 6,
    max_wait: float = 300.0,
    base_delay: float = 1.0,
    max_delay: float = 60.0,
    prices: PriceTable | None = None,
    stats: UsageStats | None = None,
    clock: Clock = time.monotonic,
    sleep: Sleep = asyncio.sleep,
    rng: random.Random | None = None,
) -> StackedBackend:
    """Wrap ``backend`` in usage, cache (when ``cache_path`` is given), retry and limits.

    ``prices`` is ignored when ``stats`` is given (the stats carry their own table). The TPM
    budget estimates prompts as characters / 4 unless ``token_estimator`` says otherwise
    (:func:`token_counter_estimator` counts exactly); either way each call's reported usage
    corrects the budget afterwards, so the estimate only has to be roughly right.
    """
    stats = stats or UsageStats(prices=prices or PriceTable())
    cooldown = Cooldown(clock=clock, sleep=sleep)
    limited = LimitedBackend(
        backend,
        max_in_flight=max_in_flight,
        requests_per_minute=rpm,
        tokens_per_minute=tpm,
        token_estimator=token_estimator,
        cooldown=cooldown,
        clock=clock,
        sleep=sleep,
    )
    retrying = RetryingBackend(
        limited,
        max_attempts=max_attempts,
        max_wait=max_wait,
        base_delay=base_delay,
        max_delay=max_delay,
        cooldown=cooldown,
        sleep=sleep,
        on_retry=stats.record_retry,
        rng=rng,
    )
    cache = ResponseCache(cache_path) if cache_path is not None else None
    cached: Backend = retrying if cache is None else CachedBackend(retrying, cache, refresh=refresh)
    return StackedBackend(
        UsageMeter(cached, stats),
        base=backend,
        stats=stats,
        cooldown=cooldown,
        cache=cache,
        retrying=retrying,
        limited=limited,
    )

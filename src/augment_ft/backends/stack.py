"""The standard wrapper stack around a backend: usage(cache(probe(retry(limits(backend))))).

Order, outermost first, and why:

1. usage  - sees every answer, cache hits included (counted apart), and every final error.
2. cache  - a hit returns before the layers below, so it spends no rate budget and no retry.
3. probe  - (``probe=True``) asks the bare backend one cheap question before the first call
            the cache cannot answer, so a dead server stops the run there, and a fully
            cached run never needs one.
4. retry  - wraps the limits, so every attempt, first or fifth, passes the limits again:
            a retried call respects the budgets, and a task sleeping between attempts
            does not hold an in-flight slot.
5. limits - directly around the transport, so "in flight" means requests on the wire.

Adaptive (the default): one AIMD limit, shared by every call, shrinks on 429s and timeouts
and grows back; a 429'd call alone waits its Retry-After (2 s when the server gave none).
Fixed (``adaptive=False``): retry and limits share one :class:`Cooldown`, so a 429 seen by
either pauses every task.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from augment_ft.backends.base import Backend, BackendWrapper, ChatRequest
from augment_ft.backends.cache import ResponseCache
from augment_ft.backends.cached import CachedBackend
from augment_ft.backends.limits import Clock, Cooldown, LimitedBackend, Sleep
from augment_ft.backends.probe import ProbeFirst
from augment_ft.backends.retry import RetryingBackend
from augment_ft.backends.usage import PriceTable, UsageMeter, UsageStats
from augment_ft.core.closing import Closing

__all__ = ["RATE_LIMIT_WAIT", "StackedBackend", "build_stack"]

RATE_LIMIT_WAIT = 2.0
"""Seconds a 429'd call waits, in adaptive mode, when the server sent no Retry-After."""


class StackedBackend(BackendWrapper, Closing):
    """A backend wrapped in the standard layers; ``stats`` is the run report's usage part.

    ``await aclose()`` (or ``async with``) closes the cache and, when the stack owns it, the
    base backend; ``close()`` (or ``with``) closes only the cache, for synchronous code.
    """

    def __init__(
        self,
        outer: Backend,
        *,
        base: Backend,
        stats: UsageStats,
        cache: ResponseCache | None,
        retrying: RetryingBackend,
        limited: LimitedBackend,
        owns_base: bool = True,
    ) -> None:
        super().__init__(outer)
        self.base = base
        self.stats = stats
        self.cache = cache
        self.retrying = retrying
        self.limited = limited
        self.owns_base = owns_base

    @property
    def cooldown(self) -> Cooldown | None:
        """The shared 429 pause of the fixed mode (None when adaptive)."""
        return self.limited.cooldown

    def as_dict(self) -> dict[str, Any]:
        """The usage report plus where the in-flight limit ended (adaptive: where it settled,
        which is the server's real capacity when 429s cut it)."""
        report = self.stats.as_dict()
        adaptive = self.limited.adaptive
        ceiling = self.limited.max_in_flight
        report["in_flight_limit"] = {
            "adaptive": adaptive is not None,
            "ceiling": ceiling,
            "final": ceiling if adaptive is None else round(adaptive.limit, 2),
            "cuts": 0 if adaptive is None else adaptive.cuts,
        }
        return report

    def close(self) -> None:
        """Close the cache, when there is one (idempotent)."""
        if self.cache is not None:
            self.cache.close()

    async def aclose(self) -> None:
        """Close the cache, then the base backend if the stack owns it (idempotent)."""
        try:
            self.close()
        finally:
            if self.owns_base:
                await self.base.aclose()


def build_stack(
    backend: Backend,
    *,
    cache_path: str | Path | None = None,
    refresh: bool = False,
    max_in_flight: int = 16,
    adaptive: bool = True,
    rpm: float | None = None,
    tpm: float | None = None,
    token_estimator: Callable[[ChatRequest], int] | None = None,
    max_attempts: int = 6,
    max_wait: float = 300.0,
    base_delay: float = 1.0,
    max_delay: float = 60.0,
    prices: PriceTable | None = None,
    stats: UsageStats | None = None,
    owns_base: bool = True,
    probe: bool = False,
    clock: Clock = time.monotonic,
    sleep: Sleep = asyncio.sleep,
    rng: random.Random | None = None,
) -> StackedBackend:
    """Wrap ``backend`` in usage, cache (when ``cache_path`` is given), retry and limits.

    ``max_in_flight`` is the ceiling of the adaptive limit, or the fixed limit with
    ``adaptive=False``. ``prices`` is ignored when ``stats`` is given (the stats carry their
    own table). The TPM budget uses :func:`~augment_ft.backends.limits.
    estimate_request_tokens` unless ``token_estimator`` says otherwise; each call's
    reported usage corrects it afterwards. ``owns_base=False`` leaves ``backend`` open
    on :meth:`StackedBackend.aclose` (for a backend the caller made and will close).
    ``probe=True`` runs :func:`~augment_ft.backends.probe.probe` before the first uncached
    call (a dead URL, bad key or unknown model then raises BackendUnavailableError).
    """
    stats = stats or UsageStats(prices=prices or PriceTable())
    cooldown = None if adaptive else Cooldown(clock=clock, sleep=sleep)
    limited = LimitedBackend(
        backend,
        max_in_flight=max_in_flight,
        adaptive=adaptive,
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
        rate_limit_wait=RATE_LIMIT_WAIT if adaptive else None,
        sleep=sleep,
        on_retry=stats.record_retry,
        rng=rng,
    )
    checked: Backend = ProbeFirst(retrying, backend) if probe else retrying
    cache = ResponseCache(cache_path) if cache_path is not None else None
    cached: Backend = checked if cache is None else CachedBackend(checked, cache, refresh=refresh)
    return StackedBackend(
        UsageMeter(cached, stats),
        base=backend,
        stats=stats,
        cache=cache,
        retrying=retrying,
        limited=limited,
        owns_base=owns_base,
    )

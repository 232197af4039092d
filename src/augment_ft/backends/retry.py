"""Retries around any backend: only for failures that may pass, bounded in tries and time.

Retryable (:class:`~augment_ft.core.errors.RetryableError`: 429, 408/409/5xx, timeouts, dropped
connections) are tried again after the server's ``Retry-After`` when it gave one, else after
an exponential backoff with full jitter, so many tasks hit by one outage do not come back
in lockstep. Everything else (400/401/403/404, context length, capability) fails at once.
A connection that could not be made at all, still after the last attempt, is raised as
:class:`~augment_ft.core.errors.BackendUnavailableError`: no later call will fare better.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type

from augment_ft.backends.base import Backend, BackendWrapper, ChatRequest, Completion
from augment_ft.backends.limits import Cooldown, Sleep
from augment_ft.core.errors import (
    BackendUnavailableError,
    BackendUnreachableError,
    ConfigError,
    RateLimitError,
    RetryableError,
)

__all__ = ["RetryHook", "RetryingBackend", "backoff_delay"]

RetryHook = Callable[[RetryableError, float], None]
"""Called before each retry with the error and the seconds about to be waited."""


def backoff_delay(
    retry_number: int,
    *,
    base_delay: float,
    max_delay: float,
    rng: random.Random | None = None,
) -> float:
    """Full jitter: uniform in ``[0, min(max_delay, base_delay * 2**(retry_number - 1))]``."""
    ceiling = min(max_delay, base_delay * 2.0 ** max(0, retry_number - 1))
    return (rng or random).uniform(0.0, ceiling)


class RetryingBackend(BackendWrapper):
    """Tries a call up to ``max_attempts`` times, sleeping at most ``max_wait`` seconds in all.

    On giving up it raises the last error, with ``attempts`` set on it and the count in its
    message. ``retries`` and ``gave_up`` count what happened, for the run report. A 429
    without ``Retry-After`` waits ``rate_limit_wait`` seconds when that is set (else backoff).
    """

    def __init__(
        self,
        inner: Backend,
        *,
        max_attempts: int = 6,
        max_wait: float = 300.0,
        base_delay: float = 1.0,
        max_delay: float = 60.0,
        cooldown: Cooldown | None = None,
        rate_limit_wait: float | None = None,
        sleep: Sleep = asyncio.sleep,
        on_retry: RetryHook | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if max_attempts < 1 or max_wait < 0 or base_delay < 0 or max_delay < 0:
            msg = (
                "retry settings must be non-negative and max_attempts at least 1, got "
                f"max_attempts={max_attempts}, max_wait={max_wait}, "
                f"base_delay={base_delay}, max_delay={max_delay}"
            )
            raise ConfigError(msg)
        super().__init__(inner)
        self.max_attempts = max_attempts
        self.max_wait = max_wait
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.cooldown = cooldown
        self.rate_limit_wait = rate_limit_wait
        self._sleep = sleep
        self._on_retry = on_retry
        self._rng = rng or random.Random()
        self.retries = 0
        self.gave_up = 0

    async def complete(self, request: ChatRequest) -> Completion:
        """Call the inner backend, retrying retryable failures within the bounds."""
        # The first attempt runs bare: most calls succeed, and building a tenacity
        # controller for each would cost more than the rest of the stack together.
        try:
            return await self._attempt(request)
        except RetryableError as exc:
            return await self._retry(request, exc)

    async def _retry(self, request: ChatRequest, first: RetryableError) -> Completion:
        """Hand the call to tenacity, replaying ``first`` as its attempt 1."""
        replay: list[RetryableError] = [first]

        async def attempt() -> Completion:
            if replay:
                raise replay.pop()
            return await self._attempt(request)

        # A fresh controller per call: tenacity keeps per-run state on the object.
        retrying = AsyncRetrying(
            sleep=self._sleep,
            stop=self._should_stop,
            wait=self._next_wait,
            retry=retry_if_exception_type(RetryableError),
            before_sleep=self._before_sleep,
            reraise=True,
        )
        try:
            result: Completion = await retrying(attempt)
        except RetryableError as exc:
            self.gave_up += 1
            _mark_gave_up(exc, retrying.statistics.get("attempt_number", 1))
            if isinstance(exc, BackendUnreachableError):
                raise BackendUnavailableError(str(exc)) from exc
            raise
        return result

    async def _attempt(self, request: ChatRequest) -> Completion:
        if self.cooldown is not None:
            await self.cooldown.wait()
        return await self.inner.complete(request)

    def _next_wait(self, state: RetryCallState) -> float:
        """At least the server's Retry-After when it sent one, else jittered backoff."""
        jitter = backoff_delay(
            state.attempt_number,
            base_delay=self.base_delay,
            max_delay=self.max_delay,
            rng=self._rng,
        )
        retry_after = _retry_after(state)
        if retry_after is None and isinstance(_error(state), RateLimitError):
            retry_after = self.rate_limit_wait
        return jitter if retry_after is None else max(retry_after, jitter)

    def _should_stop(self, state: RetryCallState) -> bool:
        """Stop after the last attempt, or when the next wait would pass the total budget."""
        if state.attempt_number >= self.max_attempts:
            return True
        upcoming = state.upcoming_sleep
        return state.idle_for + upcoming > self.max_wait

    def _before_sleep(self, state: RetryCallState) -> None:
        error = _error(state)
        if error is None:
            return
        self.retries += 1
        if self.cooldown is not None and isinstance(error, RateLimitError):
            self.cooldown.trip(state.upcoming_sleep)
        if self._on_retry is not None:
            self._on_retry(error, state.upcoming_sleep)


def _error(state: RetryCallState) -> RetryableError | None:
    outcome = state.outcome
    if outcome is None or not outcome.failed:
        return None
    exc = outcome.exception()
    return exc if isinstance(exc, RetryableError) else None


def _retry_after(state: RetryCallState) -> float | None:
    error = _error(state)
    if error is None or error.retry_after is None:
        return None
    return max(0.0, float(error.retry_after))


def _mark_gave_up(exc: RetryableError, attempts: int) -> None:
    """Record the attempt count on the error itself: attribute, and appended to its message."""
    first_time = getattr(exc, "attempts", None) is None
    exc.attempts = attempts  # type: ignore[attr-defined]
    if first_time and exc.args and isinstance(exc.args[0], str):
        suffix = f" (gave up after {attempts} attempt{'s' if attempts != 1 else ''})"
        exc.args = (exc.args[0] + suffix, *exc.args[1:])

"""The wrappers around any backend: retries, limits, the SQLite cache, usage and cost."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from augment_ft.backends.base import (
    Backend,
    BackendWrapper,
    ChatRequest,
    Completion,
    Usage,
    call_id,
)
from augment_ft.backends.cache import ResponseCache
from augment_ft.backends.cached import CachedBackend
from augment_ft.backends.limits import Cooldown, LimitedBackend, TokenBucket
from augment_ft.backends.retry import RetryingBackend, backoff_delay
from augment_ft.backends.scripted import ScriptedBackend
from augment_ft.backends.stack import build_stack
from augment_ft.backends.usage import PriceTable, UsageMeter, UsageStats
from augment_ft.core.errors import (
    AuthenticationError,
    BackendConnectionError,
    BackendError,
    BackendTimeoutError,
    BadRequestError,
    CapabilityError,
    ConfigError,
    ContextLengthError,
    OutputError,
    RateLimitError,
    RetryableError,
    ServerError,
)
from augment_ft.core.models import Message


def req(text: str = "hello", **params: object) -> ChatRequest:
    return ChatRequest(messages=(Message(role="user", content=text),), **params)  # type: ignore[arg-type]


class FakeTime:
    """A clock and a sleep that records every requested wait and advances the clock by it.

    ``frozen=True`` keeps the clock still, so concurrent waiters all see the same instant.
    """

    def __init__(self, *, frozen: bool = False) -> None:
        self.now = 1000.0
        self.frozen = frozen
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if not self.frozen:
            self.now += seconds
        await asyncio.sleep(0)


def echo(request: ChatRequest) -> str:
    return "answer to " + request.messages[-1].content


# --- retries -----------------------------------------------------------------------------------

RETRYABLE = [
    RateLimitError("slow down", status_code=429),
    ServerError("bad gateway", status_code=502),
    ServerError("request timeout", status_code=408),
    ServerError("conflict", status_code=409),
    BackendTimeoutError("no answer in 30 s"),
    BackendConnectionError("connection reset by peer"),
]
FAIL_FAST = [
    BadRequestError("bad request", status_code=400),
    AuthenticationError("bad key: check OPENAI_API_KEY", status_code=401),
    AuthenticationError("forbidden", status_code=403),
    BadRequestError("no such model", status_code=404),
    ContextLengthError("prompt too long", status_code=400),
    CapabilityError("no logprobs here"),
    BackendError("scripted backend ran out"),
]


@pytest.mark.parametrize("error", RETRYABLE, ids=lambda e: f"{type(e).__name__}-{e.status_code}")
async def test_retryable_errors_are_retried(error: RetryableError) -> None:
    fake = FakeTime()
    inner = ScriptedBackend([error, error, "fine"])
    backend = RetryingBackend(inner, sleep=fake.sleep, base_delay=0.5)
    result = await backend.complete(req())
    assert result.text == "fine"
    assert len(inner.requests) == 3
    assert backend.retries == 2
    assert len(fake.sleeps) == 2


@pytest.mark.parametrize("error", FAIL_FAST, ids=lambda e: f"{type(e).__name__}-{e.status_code}")
async def test_fail_fast_errors_are_not_retried(error: BackendError) -> None:
    fake = FakeTime()
    inner = ScriptedBackend([error, "never reached"])
    backend = RetryingBackend(inner, sleep=fake.sleep)
    with pytest.raises(type(error)) as caught:
        await backend.complete(req())
    assert caught.value is error
    assert len(inner.requests) == 1
    assert fake.sleeps == []
    assert backend.retries == 0


async def test_bugs_are_not_retried() -> None:
    def broken(request: ChatRequest) -> str:
        raise ValueError("a bug, not an outage")

    inner = ScriptedBackend(broken)
    fake = FakeTime()
    with pytest.raises(ValueError, match="a bug"):
        await RetryingBackend(inner, sleep=fake.sleep).complete(req())
    assert len(inner.requests) == 1


async def test_retry_after_is_honoured() -> None:
    fake = FakeTime()
    limited = RateLimitError("429", status_code=429, retry_after=7.5)
    inner = ScriptedBackend([limited, limited, "ok"])
    backend = RetryingBackend(inner, sleep=fake.sleep, base_delay=0.01, max_delay=0.05)
    assert (await backend.complete(req())).text == "ok"
    assert len(fake.sleeps) == 2
    assert all(s >= 7.5 for s in fake.sleeps)


def test_backoff_has_full_jitter_within_bounds() -> None:
    rng = random.Random(7)
    for retry_number in range(1, 12):
        ceiling = min(60.0, 1.0 * 2 ** (retry_number - 1))
        waits = [
            backoff_delay(retry_number, base_delay=1.0, max_delay=60.0, rng=rng) for _ in range(300)
        ]
        assert all(0.0 <= w <= ceiling for w in waits)
        # Full jitter spreads over the whole range, not just near the ceiling.
        assert min(waits) < 0.1 * ceiling
        assert max(waits) > 0.9 * ceiling


async def test_retry_waits_grow_but_stay_under_the_cap() -> None:
    fake = FakeTime()
    inner = ScriptedBackend([ServerError("503", status_code=503)] * 8 + ["ok"])
    backend = RetryingBackend(
        inner, sleep=fake.sleep, max_attempts=9, base_delay=1.0, max_delay=4.0, max_wait=1e9
    )
    await backend.complete(req())
    assert len(fake.sleeps) == 8
    for n, wait in enumerate(fake.sleeps, start=1):
        assert 0.0 <= wait <= min(4.0, 2.0 ** (n - 1))


async def test_attempts_are_bounded_and_reported() -> None:
    fake = FakeTime()
    inner = ScriptedBackend([ServerError("upstream down", status_code=503)], cycle=True)
    backend = RetryingBackend(inner, sleep=fake.sleep, max_attempts=4, base_delay=0.1)
    with pytest.raises(ServerError, match="gave up after 4 attempts") as caught:
        await backend.complete(req())
    assert getattr(caught.value, "attempts", None) == 4
    assert len(inner.requests) == 4
    assert len(fake.sleeps) == 3
    assert backend.gave_up == 1


async def test_total_wait_is_bounded() -> None:
    fake = FakeTime()
    error = RateLimitError("429", status_code=429, retry_after=40.0)
    inner = ScriptedBackend([error], cycle=True)
    backend = RetryingBackend(inner, sleep=fake.sleep, max_attempts=10, max_wait=100.0)
    with pytest.raises(RateLimitError) as caught:
        await backend.complete(req())
    # Two waits of at least 40 s fit in 100 s; a third would pass the budget, so stop.
    assert len(fake.sleeps) == 2
    assert sum(fake.sleeps) <= 100.0
    assert getattr(caught.value, "attempts", None) == 3


async def test_retry_layer_trips_the_shared_cooldown_on_429() -> None:
    fake = FakeTime()
    cooldown = Cooldown(clock=fake.clock, sleep=fake.sleep)
    error = RateLimitError("429", status_code=429, retry_after=12.0)
    inner = ScriptedBackend([error, "ok"])
    backend = RetryingBackend(inner, sleep=lambda s: asyncio.sleep(0), cooldown=cooldown)
    await backend.complete(req())
    # The retrying task itself did not sleep (no-op sleep), so it waited in the cooldown.
    assert cooldown.trips == 1
    assert fake.sleeps and fake.sleeps[0] >= 12.0


# --- limits ------------------------------------------------------------------------------------


@pytest.mark.parametrize("adaptive", [True, False])
async def test_max_in_flight_is_never_exceeded(adaptive: bool) -> None:
    active = 0
    peak = 0

    async def respond(request: ChatRequest) -> str:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.002)
        active -= 1
        return "ok"

    backend = LimitedBackend(ScriptedBackend(respond), max_in_flight=5, adaptive=adaptive)
    await asyncio.gather(*(backend.complete(req(str(i))) for i in range(60)))
    assert peak == 5


@pytest.mark.parametrize("adaptive", [True, False])
def test_one_limited_backend_serves_several_event_loops(adaptive: bool) -> None:
    backend = LimitedBackend(
        ScriptedBackend(echo, latency=0.001), max_in_flight=2, adaptive=adaptive
    )

    async def burst() -> int:
        results = await asyncio.gather(*(backend.complete(req(str(i))) for i in range(8)))
        return len(results)

    assert asyncio.run(burst()) == 8
    assert asyncio.run(burst()) == 8  # the slots waited in the first loop too


async def test_requests_per_minute_delay_concurrent_calls() -> None:
    fake = FakeTime(frozen=True)
    # 60/min with a 6 s burst: six calls at once, then one a second.
    backend = LimitedBackend(
        ScriptedBackend(echo),
        requests_per_minute=60,
        burst_seconds=6,
        clock=fake.clock,
        sleep=fake.sleep,
    )
    before = fake.now
    await asyncio.gather(*(backend.complete(req(str(i))) for i in range(10)))
    assert sorted(fake.sleeps) == pytest.approx([1.0, 2.0, 3.0, 4.0])
    fake.now = before + 60  # a quiet minute refills the burst, and no more than it
    fake.sleeps.clear()
    await asyncio.gather(*(backend.complete(req(str(i))) for i in range(7)))
    assert fake.sleeps == pytest.approx([1.0])


async def test_requests_per_minute_rate_holds_over_a_long_run() -> None:
    fake = FakeTime()
    starts: list[float] = []

    def respond(request: ChatRequest) -> str:
        starts.append(fake.now)
        return "ok"

    backend = LimitedBackend(
        ScriptedBackend(respond), requests_per_minute=120, clock=fake.clock, sleep=fake.sleep
    )
    for i in range(100):
        await backend.complete(req(str(i)))
    capacity = 120 / 60 * 6
    for i, start in enumerate(starts):
        assert start - starts[0] >= (i + 1 - capacity) / 2.0 - 1e-9
    assert starts[-1] - starts[0] < 100 / 2.0  # and it is not slower than the budget


async def test_tokens_per_minute_delay_calls_and_refund_the_unused() -> None:
    fake = FakeTime(frozen=True)
    unknown_usage = Completion(text="x", usage=Usage())
    backend = LimitedBackend(
        ScriptedBackend([unknown_usage], cycle=True),
        tokens_per_minute=6000,  # 100 tokens/s, 600 in the burst
        burst_seconds=6,
        token_estimator=lambda request: 300,
        clock=fake.clock,
        sleep=fake.sleep,
    )
    await asyncio.gather(*(backend.complete(req(str(i))) for i in range(4)))
    assert sorted(fake.sleeps) == pytest.approx([3.0, 6.0])

    fake2 = FakeTime()
    small = Completion(text="x", usage=Usage(prompt_tokens=50, completion_tokens=50))
    refunded = LimitedBackend(
        ScriptedBackend([small], cycle=True),
        tokens_per_minute=6000,
        burst_seconds=6,
        token_estimator=lambda request: 300,
        clock=fake2.clock,
        sleep=fake2.sleep,
    )
    for i in range(4):  # each call gives back 200 of its 300: four fit where two did
        await refunded.complete(req(str(i)))
    assert fake2.sleeps == []


async def test_a_429_makes_other_tasks_wait() -> None:
    fake = FakeTime()
    entered: list[float] = []

    def respond(request: ChatRequest) -> str | BackendError:
        entered.append(fake.now)
        if request.messages[0].content == "first":
            return RateLimitError("429", status_code=429, retry_after=5.0)
        return "ok"

    start = fake.now
    backend = LimitedBackend(
        ScriptedBackend(respond), adaptive=False, clock=fake.clock, sleep=fake.sleep
    )
    assert backend.cooldown is not None
    with pytest.raises(RateLimitError):
        await backend.complete(req("first"))
    await asyncio.gather(*(backend.complete(req(f"other {i}")) for i in range(5)))
    assert len(entered) == 6
    assert all(t - start >= 5.0 for t in entered[1:])
    assert backend.cooldown.trips == 1


async def test_cooldown_wait_returns_at_once_when_not_tripped() -> None:
    fake = FakeTime()
    cooldown = Cooldown(clock=fake.clock, sleep=fake.sleep)
    await cooldown.wait()
    assert fake.sleeps == []
    cooldown.trip(3.0)
    cooldown.trip(1.0)  # a shorter pause never shortens the current one
    assert cooldown.remaining() == pytest.approx(3.0)
    await cooldown.wait()
    assert cooldown.remaining() == 0.0


async def test_a_cancelled_waiter_gives_its_budget_back() -> None:
    fake = FakeTime(frozen=True)
    never = asyncio.Event()

    async def block(seconds: float) -> None:
        fake.sleeps.append(seconds)
        await never.wait()

    bucket = TokenBucket(10, burst_seconds=6, clock=fake.clock, sleep=block)  # 1 per 6 s
    assert bucket.reserve(1) == 0.0
    waiter = asyncio.create_task(bucket.acquire(1))
    await asyncio.sleep(0)
    assert fake.sleeps == [pytest.approx(6.0)]
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert bucket.reserve(1) == pytest.approx(6.0)  # not 12: the cancelled share came back


def test_invalid_limits_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="max_in_flight"):
        LimitedBackend(ScriptedBackend(), max_in_flight=0)
    with pytest.raises(ConfigError, match="positive"):
        LimitedBackend(ScriptedBackend(), requests_per_minute=0)


# --- cache -------------------------------------------------------------------------------------


@pytest.fixture
def cache(tmp_path: Path) -> ResponseCache:
    with ResponseCache(tmp_path / "cache.sqlite") as opened:
        yield opened  # type: ignore[misc]


async def test_second_identical_run_makes_no_calls(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    requests = [req(f"sentence {i}", temperature=0.3) for i in range(20)]
    first_inner = ScriptedBackend(echo)
    with ResponseCache(path) as cache:
        first = await asyncio.gather(
            *(CachedBackend(first_inner, cache).complete(r) for r in requests)
        )
    assert len(first_inner.requests) == 20
    assert not any(c.cached for c in first)

    second_inner = ScriptedBackend([])  # raises if it is ever called
    with ResponseCache(path) as cache:
        backend = CachedBackend(second_inner, cache)
        second = await asyncio.gather(*(backend.complete(r) for r in requests))
    assert second_inner.requests == []
    assert [c.text for c in second] == [c.text for c in first]
    assert [c.usage for c in second] == [c.usage for c in first]
    assert all(c.cached for c in second)
    assert backend.hits == 20


@pytest.mark.parametrize(
    ("changed", "model"),
    [
        (req("hello", temperature=0.9), "scripted"),
        (req("hello", max_tokens=64), "scripted"),
        (req("hello", seed=1), "scripted"),
        (req("hello", stop=("\n",)), "scripted"),
        (req("hello", json_schema={"type": "object"}), "scripted"),
        (req("hello!"), "scripted"),
        (req("hello"), "another-model"),
    ],
    ids=["temperature", "max_tokens", "seed", "stop", "schema", "messages", "model"],
)
async def test_any_change_to_the_call_is_a_miss(
    cache: ResponseCache, changed: ChatRequest, model: str
) -> None:
    await CachedBackend(ScriptedBackend(["primed"]), cache).complete(req("hello"))
    inner = ScriptedBackend(["fresh"], model=model)
    result = await CachedBackend(inner, cache).complete(changed)
    assert result.text == "fresh"
    assert len(inner.requests) == 1


async def test_refresh_ignores_old_entries_and_overwrites_them(cache: ResponseCache) -> None:
    await CachedBackend(ScriptedBackend(["old"]), cache).complete(req())
    inner = ScriptedBackend(["new"])
    refreshing = CachedBackend(inner, cache, refresh=True)
    assert (await refreshing.complete(req())).text == "new"
    again = await refreshing.complete(req())  # same run: served by its fresh entry
    assert (again.text, again.cached) == ("new", True)
    assert len(inner.requests) == 1
    assert (await CachedBackend(ScriptedBackend([]), cache).complete(req())).text == "new"


async def test_identical_calls_in_flight_are_made_once(cache: ResponseCache) -> None:
    inner = ScriptedBackend(echo, latency=0.01)
    backend = CachedBackend(inner, cache)
    results = await asyncio.gather(*(backend.complete(req("same")) for _ in range(10)))
    assert len(inner.requests) == 1
    assert {r.text for r in results} == {"answer to same"}
    assert sum(not r.cached for r in results) == 1
    assert backend.shared == 9


class GatedBackend:
    """Counts each call, then answers it like ``echo`` once the test opens ``gate``."""

    model = "scripted"

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.calls = 0

    async def aclose(self) -> None:
        """Nothing to close."""

    async def complete(self, request: ChatRequest) -> Completion:
        self.calls += 1
        await self.gate.wait()
        return Completion(text=echo(request), usage=Usage(prompt_tokens=1, completion_tokens=1))


async def test_a_cancelled_leader_hands_the_call_to_a_follower(cache: ResponseCache) -> None:
    inner = GatedBackend()
    backend = CachedBackend(inner, cache)
    leader = asyncio.create_task(backend.complete(req("same")))
    follower = asyncio.create_task(backend.complete(req("same")))
    await asyncio.sleep(0)  # the leader is calling; the follower waits for its answer
    assert inner.calls == 1
    leader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leader
    inner.gate.set()
    result = await follower
    assert (result.text, result.cached) == ("answer to same", False)
    assert inner.calls == 2


async def test_a_failed_call_in_flight_fails_its_followers_and_is_not_stored(
    cache: ResponseCache,
) -> None:
    inner = ScriptedBackend([ServerError("503", status_code=503), "later"], latency=0.01)
    backend = CachedBackend(inner, cache)
    results = await asyncio.gather(
        *(backend.complete(req("same")) for _ in range(4)), return_exceptions=True
    )
    assert all(isinstance(r, ServerError) for r in results)
    assert len(inner.requests) == 1
    assert (await backend.complete(req("same"))).text == "later"


async def test_each_answer_is_committed_when_it_arrives(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    seen_by_other_connection: list[int] = []

    def respond(request: ChatRequest) -> str:
        other = sqlite3.connect(path)
        try:
            count = other.execute("SELECT COUNT(*) FROM completions").fetchone()[0]
        finally:
            other.close()
        seen_by_other_connection.append(count)
        return "ok"

    with ResponseCache(path) as cache:
        backend = CachedBackend(ScriptedBackend(respond), cache)
        for i in range(3):
            await backend.complete(req(str(i)))
    assert seen_by_other_connection == [0, 1, 2]


_WRITER = textwrap.dedent(
    """
    import asyncio, sys, time
    from pathlib import Path
    from augment_ft.backends.base import ChatRequest
    from augment_ft.backends.cache import ResponseCache
    from augment_ft.backends.cached import CachedBackend
    from augment_ft.backends.scripted import ScriptedBackend
    from augment_ft.core.models import Message

    path, prefix, other = sys.argv[1], sys.argv[2], sys.argv[3]

    async def meet(step):
        # Say that this process reached `step`; go on once the other one has too. The
        # loop keeps running meanwhile, so answers already in commit before the wait ends.
        Path(f"{path}.{prefix}.{step}").touch()
        deadline = time.monotonic() + 30
        while not Path(f"{path}.{other}.{step}").exists():
            if time.monotonic() > deadline:
                sys.exit(f"{prefix}: {other} did not reach {step!r} within 30 s")
            await asyncio.sleep(0.001)

    async def main():
        requests = [
            ChatRequest(messages=(Message(role="user", content=f"{prefix} {i}"),))
            for i in range(200)
        ]
        await meet("start")  # both open the fresh file at the same moment
        with ResponseCache(path) as cache:
            backend = CachedBackend(ScriptedBackend(lambda r: r.messages[0].content), cache)
            await meet("opened")  # neither writes before both hold the file open
            await asyncio.gather(*(backend.complete(r) for r in requests[:100]))
            await meet("half")  # neither writes the rest before both wrote half
            await asyncio.gather(*(backend.complete(r) for r in requests[100:]))

    asyncio.run(main())
    """
)


def test_two_processes_share_one_cache_file(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"
    # Barriers, not a shared start time: the two cannot miss each other, however slowly
    # either starts. Each waits for the other at each step (see _WRITER).
    procs = [
        subprocess.Popen(
            [sys.executable, "-W", "error", "-c", _WRITER, str(path), prefix, other],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for prefix, other in (("alpha", "beta"), ("beta", "alpha"))
    ]
    outputs = [p.communicate(timeout=90) for p in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert "locked" not in err
    steps = sorted(p.name.removeprefix("shared.sqlite.") for p in tmp_path.glob("*.*.*"))
    assert steps == [f"{n}.{s}" for n in ("alpha", "beta") for s in ("half", "opened", "start")]
    with ResponseCache(path) as cache:
        assert len(cache) == 400
        for prefix in ("alpha", "beta"):
            for i in range(200):
                request = ChatRequest(messages=(Message(role="user", content=f"{prefix} {i}"),))
                hit = cache.get(call_id("scripted", request))
                assert hit is not None
                assert hit.text == f"{prefix} {i}"


class LoopWatch:
    """Ticks the event loop every millisecond and keeps the longest gap between two ticks."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            self.longest = max(self.longest, now - last)
            last = now

    async def __aenter__(self) -> LoopWatch:
        self._task = asyncio.create_task(self._tick())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self._task


ANSWER = Completion(text="stored", usage=Usage(prompt_tokens=3, completion_tokens=1))


async def test_a_lock_held_elsewhere_sends_the_write_to_the_thread_not_the_loop(
    tmp_path: Path,
) -> None:
    path = tmp_path / "cache.sqlite"
    with ResponseCache(path) as cache:
        backend = CachedBackend(ScriptedBackend(echo), cache)
        key = call_id("scripted", req("locked"))
        other = sqlite3.connect(path, isolation_level=None)  # stands in for another process
        try:
            other.execute("BEGIN IMMEDIATE")
            async with LoopWatch() as watch:
                call = asyncio.create_task(backend.complete(req("locked")))
                await asyncio.sleep(0.5)
                assert not call.done()  # the write waits for the lock...
                assert cache.get(key) is None
                other.execute("COMMIT")
                answer = await asyncio.wait_for(call, 10)
        finally:
            other.close()
        assert watch.longest < 0.1  # ...and the loop kept running meanwhile
        assert (cache.inline_commits, cache.thread_commits) == (0, 1)
        stored = cache.get(key)
    assert stored is not None
    assert stored.text == answer.text == "answer to locked"


async def test_the_commit_that_restarts_the_wal_runs_on_the_writer_thread(tmp_path: Path) -> None:
    # Starting the WAL afresh after a complete checkpoint fsyncs its header: not on the loop.
    path = tmp_path / "cache.sqlite"
    with ResponseCache(path) as cache:
        await cache.put_async("first", ANSWER)
        assert (cache.inline_commits, cache.thread_commits) == (1, 0)
        other = sqlite3.connect(path)  # a checkpoint by another process
        try:
            busy, frames, copied = other.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        finally:
            other.close()
        assert busy == 0
        assert frames == copied > 0
        await cache.put_async("second", ANSWER)
        assert (cache.inline_commits, cache.thread_commits) == (1, 1)
        await cache.put_async("third", ANSWER)
        assert (cache.inline_commits, cache.thread_commits) == (2, 1)
        assert all(
            cache.get(key) == ANSWER.model_copy(update={"cached": True})
            for key in ("first", "second", "third")
        )


async def test_answers_that_arrive_together_share_one_commit(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    calls = 100
    with ResponseCache(path) as cache:
        backend = CachedBackend(ScriptedBackend(echo), cache)
        await asyncio.gather(*(backend.complete(req(f"sentence {i}")) for i in range(calls)))
        assert (cache.inline_commits, cache.thread_commits) == (calls, 0)
        other = sqlite3.connect(path)
        try:
            busy, frames, _ = other.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        finally:
            other.close()
    # One commit per answer would have written at least two pages (row, key index) each.
    assert busy == 0
    assert 0 < frames < calls


async def test_checkpoints_keep_the_wal_from_growing_without_bound(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    calls = 4096
    with ResponseCache(path) as cache:
        backend = CachedBackend(ScriptedBackend(echo), cache)
        for i in range(calls):  # one at a time, so one commit each
            await backend.complete(req(f"sentence {i}"))
        wal_bytes = Path(f"{path}-wal").stat().st_size
        assert len(cache) == calls
    # Each commit adds at least two 4 KiB pages (row and key index) to the WAL: never
    # checkpointed and started afresh, it would have grown past 2 * calls pages.
    assert wal_bytes < calls * 4096


async def test_closing_commits_the_answers_still_waiting_for_their_commit(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    cache = ResponseCache(path)
    write = asyncio.create_task(cache.put_async("late", ANSWER))
    await asyncio.sleep(0)  # the answer is stored; its commit would come after this pass
    cache.close()
    await write
    with ResponseCache(path) as reopened:
        assert reopened.get("late") == ANSWER.model_copy(update={"cached": True})


async def test_a_closed_cache_refuses_writes(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "cache.sqlite")
    cache.close()
    with pytest.raises(OutputError, match="closed"):
        await cache.put_async("late", ANSWER)


def test_a_corrupt_file_names_the_path_and_the_way_out(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    path.write_bytes(b"definitely not a database\n" * 200)
    with pytest.raises(OutputError, match=r"cache\.sqlite") as caught:
        ResponseCache(path)
    assert "--no-cache" in str(caught.value)
    assert "Delete" in str(caught.value)


def test_an_in_memory_cache_is_refused() -> None:
    with pytest.raises(ConfigError, match="file path"):
        ResponseCache(":memory:")


def test_a_foreign_sqlite_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE invoices (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(OutputError, match="not an augment_ft response cache"):
        ResponseCache(path)
    conn = sqlite3.connect(path)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    assert tables == {"invoices"}  # nothing was added to someone else's database


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    ResponseCache(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    with pytest.raises(ConfigError, match="schema 99"):
        ResponseCache(path)


# That the cache never holds the API key is checked where a real key reaches a real
# OpenAI-compatible server: tests/test_security.py (every file a run writes, cache included).


# --- usage and cost ----------------------------------------------------------------------------


async def test_usage_counts_live_calls_and_hits_apart(cache: ResponseCache) -> None:
    def respond(request: ChatRequest) -> Completion:
        n = int(request.messages[0].content)
        return Completion(text="x", usage=Usage(prompt_tokens=100 * n, completion_tokens=n))

    prices = PriceTable().with_prices({"m": {"input": 1.0, "output": 2.0}})
    stats = UsageStats(prices=prices)
    backend = UsageMeter(CachedBackend(ScriptedBackend(respond, model="m"), cache), stats)
    for n in (1, 2, 3, 1, 2):
        await backend.complete(req(str(n)))
    report = stats.as_dict()
    assert (report["calls"], report["cache_hits"]) == (3, 2)
    assert (report["prompt_tokens"], report["completion_tokens"]) == (600, 6)
    assert (report["cached_prompt_tokens"], report["cached_completion_tokens"]) == (300, 3)
    assert report["mean_prompt_tokens_per_call"] == 200
    assert report["cost_usd"] == pytest.approx((600 * 1.0 + 6 * 2.0) / 1e6)
    assert report["by_model"]["m"]["calls"] == 3


async def test_an_unknown_price_is_unknown_not_zero() -> None:
    stats = UsageStats()
    backend = UsageMeter(ScriptedBackend(["hi"], model="my-finetune-v3"), stats)
    await backend.complete(req())
    assert stats.cost() is None
    assert stats.as_dict()["cost_usd"] is None
    assert stats.as_dict()["unpriced_models"] == ["my-finetune-v3"]
    assert PriceTable().cost(Usage(prompt_tokens=10), "my-finetune-v3") is None


def test_price_lookup_handles_snapshots_providers_and_local_models() -> None:
    table = PriceTable()
    usage = Usage(prompt_tokens=1_000_000, completion_tokens=1_000_000)
    mini = table.cost(usage, "gpt-4o-mini")
    assert mini is not None and mini > 0
    assert table.cost(usage, "gpt-4o-mini-2024-07-18") == mini
    assert table.cost(usage, "openai/gpt-4o-mini") == mini
    assert table.cost(usage, "gpt-4o") != mini  # no prefix confusion between the two
    assert table.cost(usage, "models/SmolLM2-135M-Instruct-Q8_0.GGUF") == 0.0
    assert table.cost(usage, "scripted") == 0.0


def test_prices_can_be_overridden_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "prices.toml"
    path.write_text(
        '[prices."gpt-4o-mini"]\ninput = 1.0\noutput = 3.0\n'
        '[prices."llama3.1:8b"]\ninput = 0\noutput = 0\n',
        encoding="utf-8",
    )
    table = PriceTable().with_toml(path)
    assert (
        table.cost(Usage(prompt_tokens=2_000_000, completion_tokens=1_000_000), "gpt-4o-mini")
        == 5.0
    )
    assert table.cost(Usage(prompt_tokens=5), "llama3.1:8b") == 0.0
    assert table.price("gpt-4.1") == PriceTable().price("gpt-4.1")  # the rest is kept

    bad = tmp_path / "bad.toml"
    bad.write_text('[prices."x"]\ninput = "cheap"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.toml.*'x'"):
        PriceTable().with_toml(bad)


async def test_errors_and_retries_are_counted_through_the_stack() -> None:
    fake = FakeTime()
    inner = ScriptedBackend(
        [
            RateLimitError("429", status_code=429, retry_after=1.0),
            "ok",
            BadRequestError("bad", status_code=400),
        ]
    )
    with build_stack(inner, clock=fake.clock, sleep=fake.sleep) as stack:
        await stack.complete(req("a"))
        with pytest.raises(BadRequestError):
            await stack.complete(req("b"))
    report = stack.stats.as_dict()
    assert report["calls"] == 1
    assert report["retries"] == 1
    assert report["retries_by_error"] == {"RateLimitError": 1}
    assert report["errors"] == {"BadRequestError": 1}
    assert report["retry_wait_seconds"] >= 1.0


# --- the stack ---------------------------------------------------------------------------------


async def test_cache_hits_spend_no_rate_budget(tmp_path: Path) -> None:
    fake = FakeTime()
    with build_stack(
        ScriptedBackend(echo),
        cache_path=tmp_path / "c.sqlite",
        rpm=60,  # a 6-call burst
        clock=fake.clock,
        sleep=fake.sleep,
    ) as stack:
        for _ in range(5):
            for i in range(6):
                await stack.complete(req(str(i)))
    assert fake.sleeps == []
    assert (stack.stats.calls, stack.stats.cache_hits) == (6, 24)


async def test_a_retried_call_goes_through_the_limits_again() -> None:
    fake = FakeTime()
    inner = ScriptedBackend([ServerError("503", status_code=503), "ok"])
    with build_stack(
        inner, rpm=6, base_delay=0.0, clock=fake.clock, sleep=fake.sleep
    ) as stack:  # 6/min: one call per 10 s
        await stack.complete(req())
    # The backoff is 0 s, so any wait came from the request budget on the second attempt.
    assert sum(fake.sleeps) == pytest.approx(10.0)
    assert len(inner.requests) == 2


# --- the seam and the wrapper base -------------------------------------------------------------


class ClosingBackend:
    """A base backend that records being closed."""

    model = "closing"

    def __init__(self) -> None:
        self.closed = 0

    async def complete(self, request: ChatRequest) -> Completion:
        return Completion(text="ok")

    async def aclose(self) -> None:
        self.closed += 1


def test_every_backend_speaks_the_whole_seam() -> None:
    for backend in (ScriptedBackend(), ClosingBackend(), build_stack(ScriptedBackend())):
        assert isinstance(backend, Backend)

    class NoClose:
        model = "m"

        async def complete(self, request: ChatRequest) -> Completion:
            return Completion(text="")

    assert not isinstance(NoClose(), Backend)  # aclose is part of the seam


async def test_wrappers_forward_model_and_aclose_to_the_inner_backend(tmp_path: Path) -> None:
    base = ClosingBackend()
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        wrappers = [
            LimitedBackend(base),
            RetryingBackend(base),
            CachedBackend(base, cache),
            UsageMeter(base),
        ]
        for n, wrapper in enumerate(wrappers, start=1):
            assert isinstance(wrapper, BackendWrapper)
            assert wrapper.model == "closing"
            await wrapper.aclose()
            assert base.closed == n


async def test_closing_the_stack_closes_the_cache_and_the_base_it_owns(tmp_path: Path) -> None:
    base = ClosingBackend()
    async with build_stack(base, cache_path=tmp_path / "c.sqlite") as stack:
        await stack.complete(req())
    assert base.closed == 1
    assert stack.cache is not None
    with pytest.raises(OutputError, match="closed"):
        await stack.cache.put_async("k", Completion(text="x"))
    borrowed = ClosingBackend()
    await build_stack(borrowed, owns_base=False).aclose()
    assert borrowed.closed == 0


def test_estimates_use_the_one_token_estimator() -> None:
    from augment_ft.backends.limits import estimate_request_tokens
    from augment_ft.core.tokens import estimate_tokens

    text = "Gruds are a type of abmes, 12345 of them; ünïcode counts too."
    request = req(text, max_tokens=10)
    assert estimate_request_tokens(request) == estimate_tokens(text) + 4 + 10
    scripted = asyncio.run(ScriptedBackend(["an answer of some length"]).complete(request))
    assert scripted.usage.prompt_tokens == estimate_tokens(text)
    assert scripted.usage.completion_tokens == estimate_tokens("an answer of some length")

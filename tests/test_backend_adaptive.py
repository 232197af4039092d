"""Adaptive concurrency: the AIMD in-flight limit, alone, in the stack, and against a capped server.

Fixed mode (``adaptive=False``) against the same capped server, for comparison (not run
here: it is the slow case this replaced): every 429 trips the shared cool-down, so all 64
tasks pause, come back together, and 48 of them meet the cap again; on the 2,000 calls of
the end-to-end test below it crawls at about one window per pause and calls start to give
up after their sixth attempt. ``benchmarks/backend_throughput.py --cap 16`` prints both.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from augment_ft.backends.adaptive import AdaptiveLimit
from augment_ft.backends.base import ChatRequest
from augment_ft.backends.limits import LimitedBackend
from augment_ft.backends.openai_compat import OpenAIBackend
from augment_ft.backends.scripted import ScriptedBackend
from augment_ft.backends.stack import RATE_LIMIT_WAIT, build_stack
from augment_ft.core.errors import BackendError, BackendTimeoutError, ConfigError, RateLimitError
from augment_ft.core.models import Message
from openai_fake_server import fake_openai_server
from pipeline_replies import healthy

CONSOLE = Path(sys.executable).with_name("augment-ft")


def req(text: str = "hello") -> ChatRequest:
    return ChatRequest(messages=(Message(role="user", content=text),))


class FakeTime:
    """A clock and a sleep that advances it, recording every wait (as in the wrapper tests)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


# --- the limit alone ------------------------------------------------------------------------


def test_a_429_cuts_the_limit_to_three_quarters_once_per_window() -> None:
    limit = AdaptiveLimit(64)
    window = limit._generation
    for _ in range(40):  # one burst of 429s from calls started in the same window
        limit.overloaded(window)
    assert limit.limit == 48 and limit.cuts == 1 and limit.known == 64
    limit.overloaded(limit._generation)  # a call started after the cut: a new signal
    assert limit.limit == 36 and limit.cuts == 2


def test_the_limit_never_falls_below_one() -> None:
    limit = AdaptiveLimit(4)
    for _ in range(20):
        limit.overloaded(limit._generation)
    assert limit.limit == 1.0 and limit.allowed == 1


def test_successes_grow_the_limit_additively_up_to_ten_percent_past_the_last_429() -> None:
    limit = AdaptiveLimit(64)
    limit.limit = 16.0
    limit.overloaded(limit._generation)  # 429s seen at 16: cut to 12, cap 17.6
    assert limit.limit == 12.0 and limit.cap() == pytest.approx(17.6)
    grown = []
    for _ in range(12):  # about one window of successes adds about one slot
        limit.succeeded()
        grown.append(limit.limit)
    assert 12.9 < grown[-1] < 13.1
    assert all(b - a <= 1 / 12 + 1e-9 for a, b in zip([12.0, *grown[:-1]], grown, strict=True))
    while limit.limit < 17.6:
        limit.succeeded()
    assert limit.limit == pytest.approx(17.6) and limit.allowed == 17
    for _ in range(limit.allowed - 1):  # short of a calm window: it stays at the cap
        limit.succeeded()
        assert limit.limit == pytest.approx(17.6)


def test_a_calm_window_at_the_cap_probes_another_ten_percent() -> None:
    limit = AdaptiveLimit(64)
    limit.limit = 20.0
    limit.overloaded(limit._generation)  # known 20, cap 22
    while limit.limit < limit.cap():
        limit.succeeded()
    for _ in range(limit.allowed):  # a whole window at the cap without a 429
        limit.succeeded()
    assert limit.known == pytest.approx(22.0) and limit.cap() == pytest.approx(24.2)
    for _ in range(5000):
        limit.succeeded()
    assert limit.limit == 64 and limit.known is None  # back to the ceiling, no probe cap


async def test_slots_are_handed_out_in_order_and_cancelled_waiters_give_theirs_back() -> None:
    limit = AdaptiveLimit(2)
    await limit.acquire()
    await limit.acquire()
    order: list[int] = []

    async def wait(n: int) -> None:
        await limit.acquire()
        order.append(n)

    waiters = [asyncio.create_task(wait(n)) for n in range(3)]
    await asyncio.sleep(0)
    waiters[0].cancel()
    limit.release()
    limit.release()
    await asyncio.gather(*waiters, return_exceptions=True)
    assert order == [1, 2] and limit.in_flight == 2
    limit.overloaded(limit._generation)  # 2 -> 1.5: one slot allowed
    limit.release()
    assert limit.in_flight == 1
    third = asyncio.create_task(limit.acquire())
    await asyncio.sleep(0)
    assert not third.done()  # 1 in flight, 1 allowed
    limit.release()
    await third


def test_invalid_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError):
        AdaptiveLimit(0)
    with pytest.raises(ConfigError):
        AdaptiveLimit(8, decrease=1.0)


# --- in the stack, with a fake clock --------------------------------------------------------


def limited_answer(first: str, error: BackendError) -> ScriptedBackend:
    """Fails the call whose prompt is ``first`` (once), answers every other at once."""
    failed: set[str] = set()

    def respond(request: ChatRequest) -> str | BackendError:
        text = request.messages[0].content
        if text == first and text not in failed:
            failed.add(text)
            return error
        return "ok"

    return ScriptedBackend(respond)


async def test_a_429_waits_two_seconds_alone_and_pauses_nobody_else() -> None:
    fake = FakeTime()
    inner = limited_answer("first", RateLimitError("429", status_code=429))
    stack = build_stack(inner, base_delay=0.0, clock=fake.clock, sleep=fake.sleep)
    first = asyncio.create_task(stack.complete(req("first")))
    await asyncio.sleep(0)
    others = await asyncio.gather(*(stack.complete(req(f"other {i}")) for i in range(5)))
    assert [o.text for o in others] == ["ok"] * 5
    assert (await first).text == "ok"
    assert fake.sleeps == [RATE_LIMIT_WAIT]  # only the 429'd call waited, and 2 s
    assert stack.cooldown is None
    assert stack.limited.adaptive is not None and stack.limited.adaptive.cuts == 1


async def test_retry_after_from_the_server_wins_over_the_default() -> None:
    fake = FakeTime()
    inner = limited_answer("first", RateLimitError("429", status_code=429, retry_after=0.5))
    stack = build_stack(inner, base_delay=0.0, clock=fake.clock, sleep=fake.sleep)
    assert (await stack.complete(req("first"))).text == "ok"
    assert fake.sleeps == [0.5]


async def test_a_timeout_cuts_the_limit_too() -> None:
    inner = limited_answer("first", BackendTimeoutError("no answer in 1 s"))
    backend = LimitedBackend(inner, max_in_flight=8)
    with pytest.raises(BackendTimeoutError):
        await backend.complete(req("first"))
    assert backend.adaptive is not None and backend.adaptive.limit == 6.0


async def test_fixed_mode_keeps_the_shared_cooldown() -> None:
    fake = FakeTime()
    inner = limited_answer("first", RateLimitError("429", status_code=429, retry_after=3.0))
    stack = build_stack(inner, adaptive=False, base_delay=0.0, clock=fake.clock, sleep=fake.sleep)
    assert stack.limited.adaptive is None and stack.cooldown is not None
    assert stack.as_dict()["in_flight_limit"] == {
        "adaptive": False,
        "ceiling": 16,
        "final": 16,
        "cuts": 0,
    }
    await stack.complete(req("first"))
    assert stack.cooldown.trips >= 1
    start = fake.now
    fake.now -= 3.0  # put the clock back inside the pause: everyone must wait it out
    await stack.complete(req("other"))
    assert fake.now >= start


# --- end to end: a server that caps concurrency at 16 ----------------------------------------


async def test_2000_calls_against_a_capped_server_all_answer_with_few_429s() -> None:
    """64 allowed in flight, the server takes 16: AIMD settles near 16 within a few cuts."""
    calls = 2000
    with fake_openai_server(latency=0.02, max_in_flight=16, cap_retry_after=0.05) as server:
        backend = OpenAIBackend("m", base_url=server.base_url)
        async with build_stack(backend, max_in_flight=64) as stack:
            started = time.monotonic()
            results = await asyncio.gather(
                *(stack.complete(req(f"fact {i}")) for i in range(calls))
            )
            wall = time.monotonic() - started
        capped = server.capped
    assert [r.text for r in results] == [f"echo: fact {i}" for i in range(calls)]
    assert stack.stats.calls == calls and not stack.stats.errors
    assert capped == sum(stack.stats.retries.values())  # every 429 was retried, none lost
    assert capped < 0.10 * calls, capped
    assert wall < 30, wall  # about 3 s idle; generous for a loaded 2-core machine
    assert stack.limited.adaptive is not None
    assert 1 <= stack.limited.adaptive.limit < 19
    settled = stack.as_dict()["in_flight_limit"]
    assert settled["adaptive"] and settled["ceiling"] == 64 and settled["cuts"] >= 4
    assert settled["final"] == round(stack.limited.adaptive.limit, 2)


def test_the_cli_against_a_capped_server_writes_what_an_unlimited_one_gets(
    tmp_path: Path,
) -> None:
    """The whole run, as a user runs it: same file, every call answered, few 429s."""
    docs = tmp_path / "docs.jsonl"
    with docs.open("w", encoding="utf-8") as handle:
        for i in range(2000):
            text = f"The tower of Quell {i} is taller than the mill of Brenner {i}."
            handle.write(json.dumps({"id": f"d{i}", "text": text}) + "\n")
    written: dict[str, bytes] = {}
    for name, cap in (("unlimited", None), ("capped", 16)):
        out = tmp_path / name / "train.jsonl"
        with fake_openai_server(
            healthy, latency=0.02, max_in_flight=cap, cap_retry_after=0.05
        ) as server:
            command = [
                str(CONSOLE), "run", str(docs), "-o", str(out), "--backend", "openai",
                "--model", "m", "--base-url", server.base_url, "--strategies", "rephrase",
                "--no-cache", "-q", "--concurrency", "64",
            ]  # fmt: skip
            done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
            calls, capped = len(server.chat_requests), server.capped
        assert done.returncode == 0, done.stderr
        written[name] = out.read_bytes()
        if cap is not None:
            assert 0 < capped < 0.10 * calls, (capped, calls)  # the cap was hit, and rarely
    assert written["capped"] == written["unlimited"]
    assert written["capped"].count(b"\n") > 2000  # originals and rephrasings

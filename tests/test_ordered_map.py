"""ordered_map: bounded concurrency, results in input order, no head-of-line blocking."""

from __future__ import annotations

import asyncio
import random

import pytest

from augment_ft.pipeline.engine import ordered_map


class Probe:
    """Records how many calls run at once and which have started."""

    def __init__(self, delays: dict[int, float] | None = None) -> None:
        self.delays = delays or {}
        self.running = 0
        self.peak = 0
        self.started: list[int] = []
        self.head_gate = asyncio.Event()

    async def __call__(self, item: int) -> int:
        self.started.append(item)
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            if item == 0 and 0 in self.delays:
                await self.head_gate.wait()  # the first item is slow until the test says so
            else:
                await asyncio.sleep(self.delays.get(item, 0.0))
            return item * 10
        finally:
            self.running -= 1


async def test_results_come_in_input_order_with_bounded_concurrency() -> None:
    rng = random.Random(5)
    probe = Probe({i: rng.random() * 0.003 for i in range(1, 200)})
    out = [r async for r in ordered_map(range(1, 200), probe, 8)]
    assert out == [i * 10 for i in range(1, 200)]
    assert probe.peak == 8


async def test_a_slow_item_does_not_stop_later_ones_from_starting() -> None:
    probe = Probe({0: 1.0})
    results: list[int] = []

    async def consume() -> None:
        async for r in ordered_map(range(100), probe, 4):
            results.append(r)

    task = asyncio.create_task(consume())
    for _ in range(200):
        await asyncio.sleep(0)
    # Item 0 still runs; the other 3 slots kept turning over, up to 4 * window started.
    assert results == []
    assert len(probe.started) == 16
    assert probe.peak <= 4
    probe.head_gate.set()
    await task
    assert results == [i * 10 for i in range(100)]


async def test_an_error_surfaces_at_its_turn_and_the_rest_is_cancelled() -> None:
    cancelled: list[int] = []

    async def fn(item: int) -> int:
        if item == 3:
            raise ValueError("item 3 failed")
        try:
            await asyncio.sleep(0.001 if item < 3 else 5)
        except asyncio.CancelledError:
            cancelled.append(item)
            raise
        return item

    got: list[int] = []
    with pytest.raises(ValueError, match="item 3"):
        async for r in ordered_map(range(10), fn, 4):
            got.append(r)
    assert got == [0, 1, 2]
    assert cancelled  # the later items still running were cancelled, not left behind


async def test_empty_input_and_none_items() -> None:
    async def echo(item: int | None) -> int | None:
        return item

    assert [r async for r in ordered_map([], echo, 3)] == []
    assert [r async for r in ordered_map([None, 1, None], echo, 2)] == [None, 1, None]

"""PrefixTurns: one call at a time, the longest shared prefix next, nobody starves."""

from __future__ import annotations

import asyncio

import pytest

from augment_ft.backends.turns import PrefixTurns, _shared_prefix


async def _run_all(turns: PrefixTurns, keys: list[str], order: list[str]) -> int:
    """Start a holder, queue ``keys`` behind it, return the peak number inside a turn."""
    inside = 0
    peak = 0

    async def call(key: str, hold: float) -> None:
        nonlocal inside, peak
        async with turns.turn(key):
            inside += 1
            peak = max(peak, inside)
            order.append(key)
            await asyncio.sleep(hold)
            inside -= 1

    first = asyncio.create_task(call("A-template|doc0", 0.02))
    await asyncio.sleep(0)
    rest = [asyncio.create_task(call(k, 0.001)) for k in keys]
    await asyncio.gather(first, *rest)
    return peak


async def test_one_turn_at_a_time_and_prefix_affinity() -> None:
    order: list[str] = []
    keys = ["B-template|doc1", "A-template|doc1", "B-template|doc2", "A-template|doc2"]
    peak = await _run_all(PrefixTurns(), keys, order)
    assert peak == 1
    # After the A holder: both A calls (sharing its prefix) before the B calls, oldest first.
    assert order == [
        "A-template|doc0",
        "A-template|doc1",
        "A-template|doc2",
        "B-template|doc1",
        "B-template|doc2",
    ]


async def test_a_passed_over_waiter_goes_next_after_max_skips() -> None:
    order: list[str] = []
    keys = ["B-other", *[f"A-template|doc{i}" for i in range(1, 6)]]
    await _run_all(PrefixTurns(max_skips=2), keys, order)
    assert order.index("B-other") == 3  # skipped twice, then served


async def test_cancelled_waiter_does_not_block_the_rest() -> None:
    turns = PrefixTurns()
    order: list[str] = []

    async def call(key: str) -> None:
        async with turns.turn(key):
            order.append(key)
            await asyncio.sleep(0.01)

    holder = asyncio.create_task(call("x"))
    await asyncio.sleep(0)
    doomed = asyncio.create_task(call("x-doomed"))
    other = asyncio.create_task(call("y"))
    await asyncio.sleep(0)
    doomed.cancel()
    await asyncio.gather(holder, other)
    with pytest.raises(asyncio.CancelledError):
        await doomed
    assert order == ["x", "y"]

    async def take() -> None:
        async with turns.turn("z"):
            pass

    await asyncio.wait_for(take(), 1)  # free again


@pytest.mark.parametrize(
    ("a", "b", "n"),
    [("", "", 0), ("abc", "abd", 2), ("abc", "abc", 3), ("ab", "abc", 2), ("x", "y", 0)],
)
def test_shared_prefix(a: str, b: str, n: int) -> None:
    assert _shared_prefix(a, b) == n

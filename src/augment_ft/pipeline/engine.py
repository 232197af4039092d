"""The local engine: map an async function over items with a bounded window, in order."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, TypeVar

__all__ = ["ordered_map"]

T = TypeVar("T")
R = TypeVar("R")
_END: Any = object()  # the end of ordered_map's input (an item may be None)


async def ordered_map(
    items: Iterable[T], fn: Callable[[T], Awaitable[R]], window: int
) -> AsyncIterator[R]:
    """Run ``fn`` over items with at most ``window`` in flight; yield results in input order.

    A slow item does not hold the others up: while it runs, later items keep starting as
    earlier ones finish, up to ``4 * window`` results waiting for their turn.
    """
    pending: deque[asyncio.Future[R]] = deque()  # started, not yet yielded, in input order
    running: set[asyncio.Future[R]] = set()
    source = iter(items)
    exhausted = False
    try:
        while True:
            while not exhausted and len(running) < window and len(pending) < 4 * window:
                item = next(source, _END)
                if item is _END:
                    exhausted = True
                    break
                future = asyncio.ensure_future(fn(item))
                pending.append(future)
                running.add(future)
                future.add_done_callback(running.discard)
            while pending and pending[0].done():
                yield pending.popleft().result()
            if not pending:
                if exhausted:
                    return
                continue
            await asyncio.wait({pending[0], *running}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

"""The bare clients of benchmarks/pipeline_throughput.py, each run as a process of its own.

Run: python benchmarks/bare_clients.py sdk|aiohttp BASE_URL BODIES.json CONCURRENCY

Posts every chat body of ``BODIES.json`` (a JSON list) to ``BASE_URL/chat/completions``,
``CONCURRENCY`` at a time, and exits; the caller times the whole process (wall, and user +
system CPU from its rusage). Nothing of augment_ft is imported, so the start-up is only
the client's own:

- ``sdk``:     ``AsyncOpenAI.chat.completions.create(**body)``, the SDK's retries off;
- ``aiohttp``: one ``ClientSession``, ``json.dumps`` of each body, POST, ``json.loads`` of
  the answer: about the least CPU a Python client can spend on a call.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

Body = dict[str, Any]


async def sdk_client(base_url: str, bodies: list[Body], concurrency: int) -> None:
    import openai

    client = openai.AsyncOpenAI(api_key="bench", base_url=base_url, max_retries=0, timeout=60)
    slots = asyncio.Semaphore(concurrency)

    async def one(body: Body) -> None:
        async with slots:
            answer = await client.chat.completions.create(**body)
            assert answer.choices, answer

    try:
        await asyncio.gather(*(one(body) for body in bodies))
    finally:
        await client.close()


async def aiohttp_client(base_url: str, bodies: list[Body], concurrency: int) -> None:
    import aiohttp

    url = base_url.rstrip("/") + "/chat/completions"
    headers = {"Authorization": "Bearer bench", "Content-Type": "application/json"}
    slots = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(headers=headers, connector=connector) as session:

        async def one(body: Body) -> None:
            async with slots, session.post(url, data=json.dumps(body).encode()) as response:
                answer = json.loads(await response.read())
                assert response.status == 200 and answer["choices"], answer

        await asyncio.gather(*(one(body) for body in bodies))


CLIENTS: dict[str, Callable[[str, list[Body], int], Awaitable[None]]] = {
    "sdk": sdk_client,
    "aiohttp": aiohttp_client,
}


def main() -> None:
    name, base_url, path, concurrency = sys.argv[1:]
    bodies = json.loads(Path(path).read_text(encoding="utf-8"))
    asyncio.run(CLIENTS[name](base_url, bodies, int(concurrency)))


if __name__ == "__main__":
    main()

"""End-to-end throughput: ``augment-ft run`` (a subprocess) vs the bare openai SDK, same calls.

Run: .venv/bin/python benchmarks/pipeline_throughput.py [--calls 2000] [--concurrency 64]
     [--latency 0.1 0.5] [--rounds 2]

A lean asyncio server (this file with ``--serve``, in a process of its own) answers every
chat request after a fixed latency with a valid rephrase answer, and counts requests. The
input is ``--calls`` one-sentence documents, so ``--strategies rephrase`` makes exactly one
model call per document. Per latency, alternately ``--rounds`` times:

- sdk:      ``AsyncOpenAI.chat.completions.create`` with a semaphore of ``--concurrency``,
            on the very requests the pipeline sends (same rendered prompts and schema);
- pipeline: the console script, start-up included (read, render, call through the whole
            backend stack with a fresh SQLite cache, parse, filter, dedup, format, write).

Printed: calls/s of each, the ratio pipeline/sdk (target >= 0.9), and each one's ratio to
ideal (concurrency / latency). "pipeline (report)" is the same run timed by its own report
(``wall_seconds``: without interpreter start-up and imports). Then a cached re-run of the
last pipeline run: the server's counter proves zero calls; examples/s is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

MODEL = "gpt-4o-mini"
CONSOLE_SCRIPT = Path(sys.executable).with_name("augment-ft")
_TEXT = re.compile(rb"<text>\\n(.*?)\\n</text>")  # inside the JSON-encoded body


# --------------------------------------------------------------------------- the server


def _answer(body: bytes) -> bytes:
    """A valid rephrase answer from the last <text> block: words reversed, and rotated."""
    blocks = _TEXT.findall(body)
    words = json.loads(b'"' + blocks[-1] + b'"').split() if blocks else ["empty"]
    rephrasings = [" ".join(reversed(words)), " ".join(words[1:] + words[:1])]
    content = json.dumps({"rephrasings": rephrasings})
    return json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 1700000000,
            "model": MODEL,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 300, "completion_tokens": 30, "total_tokens": 330},
        }
    ).encode()


async def _serve(latency: float) -> None:
    count = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal count
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                body = await reader.readexactly(length) if length else b""
                if head.startswith(b"GET /count"):
                    payload = str(count).encode()
                else:
                    count += 1
                    await asyncio.sleep(latency)
                    payload = _answer(body)
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: " + str(len(payload)).encode() + b"\r\n\r\n" + payload
                )
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


class Server:
    """The lean server in a child process, at one latency."""

    def __init__(self, latency: float) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(latency)], stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        port = int(self.process.stdout.readline())
        self.base_url = f"http://127.0.0.1:{port}/v1"

    def count(self) -> int:
        with urllib.request.urlopen(self.base_url.removesuffix("/v1") + "/count") as reply:
            return int(reply.read())

    def close(self) -> None:
        self.process.terminate()
        self.process.wait()


# --------------------------------------------------------------------------- the two clients


def corpus(n: int, folder: Path) -> tuple[Path, list[str]]:
    """``n`` distinct one-sentence documents as JSONL."""
    rng = random.Random(0)
    syllables = ["zor", "bel", "quin", "dar", "ub", "rik", "fle", "mit", "dra", "xon", "tal"]

    def word() -> str:
        return "".join(rng.choices(syllables, k=rng.randint(2, 3)))

    sentences = [
        f"The {word()} of {word().capitalize()} is larger than the {word()} of {i} {word()}s."
        for i in range(n)
    ]
    path = folder / "docs.jsonl"
    path.write_text("".join(json.dumps({"text": s}) + "\n" for s in sentences), encoding="utf-8")
    return path, sentences


def sdk_requests(sentences: list[str]) -> list[dict[str, Any]]:
    """The keyword arguments of the calls the pipeline makes, built with its own parts."""
    from augment_ft.core.tokens import TokenCounter
    from augment_ft.strategies.llm_call import schema_for
    from augment_ft.strategies.prompts import render_prompt
    from augment_ft.strategies.rephrase import RephraseOutput, RephraseStrategy

    strategy, counter = RephraseStrategy(), TokenCounter(MODEL)
    schema = schema_for(RephraseOutput, {"rephrasings": strategy.k})
    calls = []
    for text in sentences:
        prompt = render_prompt("rephrase", {"text": text, "k": strategy.k, "unit": "sentence"})
        budget = 32 + strategy.k * (2 * counter.count(text) + 16)
        calls.append(
            {
                "model": MODEL,
                "messages": [m.model_dump() for m in prompt.messages],
                "temperature": strategy.temperature,
                "max_tokens": budget,
                "seed": 0,
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "rephrase", "schema": schema, "strict": False},
                },
            }
        )
    return calls


async def _sdk_run(base_url: str, calls: list[dict[str, Any]], concurrency: int) -> float:
    import openai

    client = openai.AsyncOpenAI(api_key="bench", base_url=base_url, max_retries=0, timeout=60)
    slots = asyncio.Semaphore(concurrency)

    async def one(kwargs: dict[str, Any]) -> None:
        async with slots:
            await client.chat.completions.create(**kwargs)

    try:
        start = time.perf_counter()
        await asyncio.gather(*(one(c) for c in calls))
        return time.perf_counter() - start
    finally:
        await client.close()


def pipeline_run(
    base_url: str, docs: Path, folder: Path, concurrency: int, *extra: str
) -> tuple[float, dict[str, Any]]:
    """Wall seconds of the console script, start-up included, and its report."""
    report = folder / "report.json"
    command = [
        str(CONSOLE_SCRIPT), "run", str(docs), "-o", str(folder / "out.jsonl"),
        "--backend", "openai", "--model", MODEL, "--base-url", base_url,
        "--strategies", "rephrase", "--concurrency", str(concurrency),
        "--cache", str(folder / "cache.sqlite"), "--report", str(report), "-q", *extra,
    ]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    return wall, json.loads(report.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- the benchmark


def load() -> str:
    return "load average " + " ".join(Path("/proc/loadavg").read_text().split()[:3])


def bench_latency(
    args: argparse.Namespace, latency: float, docs: Path, sentences: list[str]
) -> None:
    n, c = args.calls, args.concurrency
    ideal = c / latency
    calls = sdk_requests(sentences)
    server = Server(latency)
    sdk: list[float] = []
    cli: list[float] = []
    own: list[float] = []
    cached_line = ""
    try:
        for round_no in range(args.rounds):
            sdk.append(asyncio.run(_sdk_run(server.base_url, calls, c)))
            with tempfile.TemporaryDirectory() as tmp:
                before = server.count()
                wall, report = pipeline_run(server.base_url, docs, Path(tmp), c)
                made = server.count() - before
                assert made == n, f"the pipeline made {made} calls, expected {n}"
                assert report["backend"]["calls"] == n, report["backend"]
                cli.append(wall)
                own.append(report["wall_seconds"])
                if round_no == args.rounds - 1:
                    cached_line = cached(server, docs, Path(tmp), c)
    finally:
        server.close()
    rate = {
        name: n / statistics.median(t) for name, t in (("sdk", sdk), ("cli", cli), ("own", own))
    }
    print(
        f"\nlatency {latency:g} s, {n} calls, concurrency {c}, ideal {ideal:,.0f} calls/s; {load()}"
    )
    print(f"  {'client':<30}{'calls/s':>9}{'vs sdk':>9}{'vs ideal':>10}   runs (s)")
    for label, key, runs in (
        ("bare openai SDK", "sdk", sdk),
        ("augment-ft run (CLI, wall)", "cli", cli),
        ("augment-ft run (its report)", "own", own),
    ):
        shown = " ".join(f"{t:.2f}" for t in runs)
        versus = f"{rate[key] / rate['sdk']:>9.3f}{rate[key] / ideal:>10.3f}"
        print(f"  {label:<30}{rate[key]:>9,.0f}{versus}   {shown}")
    print(cached_line)


def cached(server: Server, docs: Path, folder: Path, concurrency: int) -> str:
    """Re-run the last pipeline run from its warm cache (no call may reach the server).

    Returns the line to print, so that it follows its latency's table instead of preceding it.
    """
    before = server.count()
    wall, report = pipeline_run(server.base_url, docs, folder, concurrency, "--force")
    assert server.count() == before, "a cached re-run reached the server"
    assert report["backend"]["calls"] == 0, report["backend"]
    made = sum(report["examples_by_kind"].values())
    return (
        f"  cached re-run: 0 server calls, {report['backend']['cache_hits']} cache hits, "
        f"{made} examples in {wall:.2f} s wall ({made / wall:,.0f} examples/s), "
        f"{report['wall_seconds']:.2f} s by its report ({made / report['wall_seconds']:,.0f}/s)"
    )


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        asyncio.run(_serve(float(sys.argv[2])))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, nargs="+", default=[0.1, 0.5])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs; {load()}")
    with tempfile.TemporaryDirectory() as tmp:
        docs, sentences = corpus(args.calls, Path(tmp))
        for latency in args.latency:
            bench_latency(args, latency, docs, sentences)


if __name__ == "__main__":
    main()

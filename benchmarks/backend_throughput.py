"""Backend stack throughput next to the bare openai SDK, both against one slow local server.

Run: .venv/bin/python benchmarks/backend_throughput.py [--latency 0.1 0.5] [--requests 2000]
     [--concurrency 64] [--rounds 2] [--http lean sdk] [--cached] [--overhead]
     [--server lean|fake] [--cap 16 [--cap-limit 60]]

The server answers every chat request after a fixed latency, in a process of its own, so
its CPU does not count against the client. ``lean`` (the default) is the asyncio server of
benchmarks/lean_server.py; ``fake`` is tests/openai_fake_server.py (a thread per
connection). Per latency, the bare SDK (a Semaphore around ``chat.completions.create``)
and the library's stack (usage, cache on a fresh SQLite file, retry, limits,
OpenAIBackend) over each ``--http`` transport run alternately ``--rounds`` times on the
same distinct requests. Printed: medians, the ratios library / SDK and library / ideal
(ideal = concurrency / latency), and client CPU per call. ``--cached`` then replays the
last stack run from its warm cache and checks, with the server's request counter, that
nothing reached the server; ``--overhead`` times the stack around an in-process backend
(no HTTP, no SDK).

``--cap N`` instead makes the server answer 429 (no Retry-After) whenever N requests are in
flight, as a provider's concurrency cap does, and runs the stack adaptive and fixed
(``adaptive=False``), each for at most ``--cap-limit`` seconds: answered calls, 429s, wall.
This is a script, not a test: read the ratios, and the load average printed next to them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
from lean_server import ServerProcess

from augment_ft.backends.base import ChatRequest, Completion, Usage
from augment_ft.backends.openai_compat import HttpClient, OpenAIBackend
from augment_ft.backends.stack import StackedBackend, build_stack
from augment_ft.core.models import Message

MODEL = "gpt-4o-mini"  # a name tiktoken knows; the server ignores it
_ROOT = Path(__file__).resolve().parent.parent


class FakeServerProcess:
    """tests/openai_fake_server.py in a child process (no counters: ``stats()`` is None)."""

    def __init__(self, latency: float) -> None:
        script = _ROOT / "tests" / "openai_fake_server.py"
        self._proc = subprocess.Popen(
            [sys.executable, str(script), "--latency", str(latency)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=_ROOT,
        )
        assert self._proc.stdout is not None
        self.base_url = self._proc.stdout.readline().strip()

    def stats(self) -> dict[str, float] | None:
        return None

    def close(self) -> None:
        self._proc.terminate()
        self._proc.wait(timeout=10)
        if self._proc.stdout is not None:
            self._proc.stdout.close()


Server = ServerProcess | FakeServerProcess


def start_server(kind: str, latency: float, cap: int | None = None) -> Server:
    """The lean asyncio server (benchmarks/lean_server.py) or the test suite's fake server."""
    return ServerProcess(latency, "fixed", cap) if kind == "lean" else FakeServerProcess(latency)


# --- the two clients -------------------------------------------------------------------


def prompts(tag: str, n: int) -> list[str]:
    """``n`` distinct user messages; ``tag`` keeps runs apart so every stack call misses."""
    return [f"Rephrase fact {i} of run {tag}: gruds are a type of abmes." for i in range(n)]


async def bare_sdk(url: str, texts: list[str], concurrency: int) -> None:
    """The baseline: the SDK alone, with the same parameters the library sends."""
    client = openai.AsyncOpenAI(base_url=url, api_key="x", max_retries=0)
    slots = asyncio.Semaphore(concurrency)

    async def one(text: str) -> str:
        async with slots:
            response = await client.chat.completions.create(
                model=MODEL,
                messages=[{"role": "user", "content": text}],
                temperature=0.7,
                max_tokens=512,
            )
            return response.choices[0].message.content or ""

    try:
        answers = await asyncio.gather(*(one(t) for t in texts))
    finally:
        await client.close()
    if len(answers) != len(texts) or not all(answers):
        raise SystemExit("the bare SDK got empty answers")


def make_stack(
    url: str, cache_path: Path | None, args: argparse.Namespace, http: HttpClient, **kw: Any
) -> StackedBackend:
    """The library's standard stack: usage(cache(retry(limits(OpenAIBackend))))."""
    backend = OpenAIBackend(MODEL, base_url=url, http=http)
    return build_stack(backend, cache_path=cache_path, max_in_flight=args.conc, **kw)


async def library(stack: StackedBackend, texts: list[str]) -> None:
    """The same calls through the stack, all at once: the stack's own limit paces them."""
    requests = [ChatRequest(messages=(Message(role="user", content=t),)) for t in texts]
    try:
        answers = await asyncio.gather(*(stack.complete(r) for r in requests))
    finally:
        await stack.base.aclose()
    if len(answers) != len(texts) or not all(a.text for a in answers):
        raise SystemExit("the library got empty answers")


# --- measuring ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One timed pass: calls per wall second and client CPU seconds per call."""

    per_second: float
    cpu_per_call: float


def timed(calls: int, work: Coroutine[Any, Any, None]) -> Run:
    """Run ``work`` in a fresh event loop; time only the calls (setup is done before)."""

    async def body() -> tuple[float, float]:
        cpu, wall = time.process_time(), time.perf_counter()
        await work
        return time.process_time() - cpu, time.perf_counter() - wall

    cpu, wall = asyncio.run(body())
    return Run(calls / wall, cpu / calls)


def measure(args: argparse.Namespace, latency: float, workdir: Path) -> None:
    """Alternate SDK and stack runs at one latency; print medians, ratios and load."""
    server = start_server(args.server, latency)
    try:
        before = server.stats()
        sdk: list[Run] = []
        lib: dict[str, list[Run]] = {h: [] for h in args.http}
        for round_no in range(args.rounds):
            texts = prompts(f"{latency}-{round_no}", args.requests)
            sdk.append(timed(args.requests, bare_sdk(server.base_url, texts, args.conc)))
            line = f"  round {round_no + 1}: sdk {sdk[-1].per_second:6.1f}/s "
            line += f"{sdk[-1].cpu_per_call * 1000:.3f} ms CPU/call"
            for http in args.http:
                cache_path = workdir / f"cache-{latency}-{round_no}-{http}.sqlite"
                with make_stack(server.base_url, cache_path, args, http) as stack:
                    lib[http].append(timed(args.requests, library(stack, texts)))
                run = lib[http][-1]
                line += f"   {http} {run.per_second:6.1f}/s {run.cpu_per_call * 1000:.3f} ms"
            print(line, flush=True)
        report(args, latency, sdk, lib, before, server.stats())
        if args.cached:
            cached_pass(args, server, cache_path, texts)
    finally:
        server.close()


def cached_pass(
    args: argparse.Namespace, server: Server, cache_path: Path, texts: list[str]
) -> None:
    """Replay the last stack run from its warm cache file; the server must see no request."""
    before = server.stats()
    with make_stack(server.base_url, cache_path, args, args.http[-1]) as stack:
        run = timed(len(texts), library(stack, texts))
        hits = stack.stats.cache_hits
    after = server.stats()
    if before is None or after is None:
        sent = "unknown (the fake server has no counter; use --server lean)"
    else:
        sent_count = int(after["chat_requests"] - before["chat_requests"])
        if sent_count != 0:
            raise SystemExit(f"the cached pass sent {sent_count} requests to the server")
        sent = "0"
    if hits != len(texts):
        raise SystemExit(f"the cached pass had {hits} cache hits for {len(texts)} calls")
    print(
        f"  cached pass: {run.per_second:,.0f} calls/s, {run.cpu_per_call * 1e6:.0f} us CPU "
        f"per call, {hits} cache hits, server requests during it: {sent}"
    )


def report(
    args: argparse.Namespace,
    latency: float,
    sdk: list[Run],
    lib: dict[str, list[Run]],
    before: dict[str, float] | None,
    after: dict[str, float] | None,
) -> None:
    ideal = args.conc / latency
    sdk_rate = statistics.median(r.per_second for r in sdk)
    sdk_cpu = statistics.median(r.cpu_per_call for r in sdk)
    print(
        f"latency {latency * 1000:.0f} ms, {args.requests} requests, concurrency {args.conc}, "
        f"median of {args.rounds} rounds, ideal {ideal:.0f} req/s"
    )
    print(f"  {'client':<22}{'req/s':>8}{'ms CPU/call':>13}{'vs SDK':>8}{'vs ideal':>10}")
    rows = [("bare openai SDK", sdk_rate, sdk_cpu)]
    for http, runs in lib.items():
        rate = statistics.median(r.per_second for r in runs)
        rows.append((f"stack, http={http}", rate, statistics.median(r.cpu_per_call for r in runs)))
    for label, rate, cpu in rows:
        print(
            f"  {label:<22}{rate:8.1f}{cpu * 1000:13.3f}{rate / sdk_rate:8.3f}{rate / ideal:10.3f}"
        )
    if before is not None and after is not None:
        served = after["chat_requests"] - before["chat_requests"]
        cpu = after["cpu_seconds"] - before["cpu_seconds"]
        print(f"  server: {served:.0f} chat requests, {cpu / served * 1e6:.0f} us CPU each")
    print("  load average (1, 5, 15 min): " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))


class _SleepingBackend:
    """An in-process backend that answers after ``latency`` seconds: no HTTP, no SDK."""

    model = MODEL

    def __init__(self, latency: float) -> None:
        self.latency = latency

    async def complete(self, request: ChatRequest) -> Completion:
        await asyncio.sleep(self.latency)
        return Completion(text="ok", usage=Usage(prompt_tokens=20, completion_tokens=5))

    async def aclose(self) -> None:
        """Nothing to close."""


def overhead_pass(args: argparse.Namespace, latency: float, workdir: Path) -> None:
    """The stack's own CPU per call around an in-process backend, with and without cache."""
    for label, cache_path in (("no cache", None), ("cache", workdir / f"oh-{latency}.sqlite")):
        texts = prompts(f"overhead-{latency}-{label}", args.requests)
        stack = build_stack(
            _SleepingBackend(latency), cache_path=cache_path, max_in_flight=args.conc
        )
        with stack:
            run = timed(args.requests, library(stack, texts))
        print(
            f"  stack overhead ({label}, in-process backend): "
            f"{run.cpu_per_call * 1e6:.0f} us CPU per call, {run.per_second:.0f} calls/s"
        )


async def _capped_run(stack: StackedBackend, texts: list[str], limit: float) -> tuple[int, int]:
    """Calls answered and failed within ``limit`` seconds (the rest are still waiting)."""
    requests = [ChatRequest(messages=(Message(role="user", content=t),)) for t in texts]
    tasks = [asyncio.ensure_future(stack.complete(r)) for r in requests]
    try:
        await asyncio.wait(tasks, timeout=limit)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await stack.base.aclose()
    done = [t for t in tasks if t.done() and not t.cancelled()]
    failed = sum(t.exception() is not None for t in done)
    return len(done) - failed, failed


def capped_pass(args: argparse.Namespace, latency: float) -> None:
    """Adaptive and fixed stacks against a server that answers 429 above ``--cap`` in flight."""
    print(f"server cap {args.cap} in flight (429, no Retry-After), latency {latency * 1000:.0f} ms")
    for adaptive in (True, False):
        server = ServerProcess(latency, "fixed", cap=args.cap)
        try:
            texts = prompts(f"cap-{latency}-{adaptive}", args.requests)
            stack = make_stack(server.base_url, None, args, args.http[0], adaptive=adaptive)
            start = time.perf_counter()
            answered, failed = asyncio.run(_capped_run(stack, texts, args.cap_limit))
            wall = time.perf_counter() - start
            stats = server.stats()
        finally:
            server.close()
        print(
            f"  {'adaptive' if adaptive else 'fixed   '}: {answered}/{len(texts)} answered, "
            f"{failed} gave up, in {wall:.1f} s; server 429s: {stats.get('capped', 0):.0f} "
            f"({stats.get('capped', 0) / len(texts):.1%} of calls)"
        )
    print("  load average (1, 5, 15 min): " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--latency",
        type=float,
        nargs="+",
        default=[0.1, 0.5],
        help="server latencies in seconds (default 0.1 0.5)",
    )
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", dest="conc", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2, help="SDK/library alternations")
    parser.add_argument("--cached", action="store_true", help="also replay from a warm cache")
    parser.add_argument("--server", choices=("lean", "fake"), default="lean")
    parser.add_argument(
        "--http", nargs="+", choices=("lean", "sdk"), default=["lean", "sdk"], help="transports"
    )
    parser.add_argument("--cap", type=int, help="server 429s above this many in flight")
    parser.add_argument("--cap-limit", type=float, default=60.0, help="seconds per capped run")
    parser.add_argument(
        "--overhead", action="store_true", help="also time the stack around an in-process backend"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    print(
        f"python {sys.version.split()[0]}, openai {openai.__version__}, "
        f"{os.cpu_count()} CPUs, server: {args.server} (separate process)"
    )
    if args.cap is not None:
        for latency in args.latency:
            capped_pass(args, latency)
        return
    with tempfile.TemporaryDirectory(prefix="augment_ft-bench-") as workdir:
        for latency in args.latency:
            measure(args, latency, Path(workdir))
            if args.overhead:
                overhead_pass(args, latency, Path(workdir))


if __name__ == "__main__":
    main()

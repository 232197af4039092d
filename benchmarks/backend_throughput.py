"""Backend stack throughput next to the bare openai SDK, both against one slow local server.

Run: .venv/bin/python benchmarks/backend_throughput.py [--latency 0.1 0.5] [--requests 2000]
     [--concurrency 64] [--rounds 2] [--cached] [--overhead] [--server lean|fake]

The server answers every chat request after a fixed latency, in a process of its own, so
its CPU does not count against the client. ``lean`` (the default) is the small asyncio
server below; ``fake`` is tests/openai_fake_server.py (a thread per connection). Per
latency the bare SDK (a Semaphore around ``chat.completions.create``) and the library's
stack (usage, cache on a fresh SQLite file, retry, limits, OpenAIBackend) run alternately
``--rounds`` times on the same distinct requests; medians are printed with the ratio
library / SDK and library / ideal (ideal = concurrency / latency), and client CPU per call.
``--cached`` then replays the last stack run from its warm cache and checks, with the
server's request counter, that nothing reached the server; ``--overhead`` times the stack
around an in-process backend (no HTTP, no SDK). This is a script, not a test:
read the ratios, and the load average printed next to them, together.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai

from augment_ft.backends.base import Capabilities, ChatRequest, Completion, Usage
from augment_ft.backends.openai_compat import OpenAIBackend
from augment_ft.backends.stack import StackedBackend, build_stack
from augment_ft.core.models import Message

MODEL = "gpt-4o-mini"  # a name tiktoken knows; the server ignores it
_ROOT = Path(__file__).resolve().parent.parent
_REPLY = json.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1700000000,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Abmes include gruds."},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25},
    }
).encode()


# --- the lean server (runs in its own process: --serve) -------------------------------


class _LeanServer:
    """HTTP/1.1 keep-alive, one coroutine per connection; counts chat requests."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.chat_requests = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve requests on one connection until the client closes it."""
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                if length:
                    await reader.readexactly(length)
                writer.write(await self._answer(head.split(b" ", 2)[1]))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client closed the connection
        finally:
            writer.close()

    async def _answer(self, path: bytes) -> bytes:
        if path.endswith(b"/stats"):  # not a chat request: no latency, not counted
            stats = {"chat_requests": self.chat_requests, "cpu_seconds": time.process_time()}
            body = json.dumps(stats).encode()
        else:
            self.chat_requests += 1
            await asyncio.sleep(self.latency)
            body = _REPLY
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}"
        return head.encode() + b"\r\n\r\n" + body


async def _serve(latency: float) -> None:
    lean = _LeanServer(latency)
    server = await asyncio.start_server(lean.handle, "127.0.0.1", 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    print(f"http://127.0.0.1:{port}/v1", flush=True)
    async with server:
        await server.serve_forever()


class ServerProcess:
    """The server in a child process; ``stats()`` reads its counter (lean server only)."""

    def __init__(self, kind: str, latency: float) -> None:
        if kind == "lean":
            args = [__file__, "--serve", "--latency", str(latency)]
        else:
            args = [str(_ROOT / "tests" / "openai_fake_server.py"), "--latency", str(latency)]
        self.kind = kind
        self._proc = subprocess.Popen(
            [sys.executable, *args], stdout=subprocess.PIPE, text=True, cwd=_ROOT
        )
        assert self._proc.stdout is not None
        self.base_url = self._proc.stdout.readline().strip()
        if not self.base_url.startswith("http"):
            self.close()
            raise SystemExit(f"the {kind} server did not start (printed {self.base_url!r})")

    def stats(self) -> dict[str, float] | None:
        """Chat requests served and server CPU seconds so far (None for the fake server)."""
        if self.kind != "lean":
            return None
        with urllib.request.urlopen(self.base_url + "/stats", timeout=10) as response:
            data: dict[str, float] = json.loads(response.read())
        return data

    def close(self) -> None:
        self._proc.terminate()
        self._proc.wait(timeout=10)
        if self._proc.stdout is not None:
            self._proc.stdout.close()


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


def make_stack(url: str, cache_path: Path, args: argparse.Namespace) -> StackedBackend:
    """The library's standard stack: usage(cache(retry(limits(OpenAIBackend))))."""
    backend = OpenAIBackend(MODEL, base_url=url)
    return build_stack(backend, cache_path=cache_path, max_in_flight=args.conc)


async def library(stack: StackedBackend, texts: list[str]) -> None:
    """The same calls through the stack, all at once: the stack's own limit paces them."""
    requests = [ChatRequest(messages=(Message(role="user", content=t),)) for t in texts]
    try:
        answers = await asyncio.gather(*(stack.complete(r) for r in requests))
    finally:
        base = stack.base
        if isinstance(base, OpenAIBackend):
            await base.aclose()
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
    server = ServerProcess(args.server, latency)
    try:
        before = server.stats()
        sdk: list[Run] = []
        lib: list[Run] = []
        for round_no in range(args.rounds):
            texts = prompts(f"{latency}-{round_no}", args.requests)
            sdk.append(timed(args.requests, bare_sdk(server.base_url, texts, args.conc)))
            cache_path = workdir / f"cache-{latency}-{round_no}.sqlite"
            with make_stack(server.base_url, cache_path, args) as stack:
                lib.append(timed(args.requests, library(stack, texts)))
            print(
                f"  round {round_no + 1}: sdk {sdk[-1].per_second:6.1f}/s "
                f"{sdk[-1].cpu_per_call * 1000:.3f} ms CPU/call   library "
                f"{lib[-1].per_second:6.1f}/s {lib[-1].cpu_per_call * 1000:.3f} ms CPU/call",
                flush=True,
            )
        report(args, latency, sdk, lib, before, server.stats())
        if args.cached:
            cached_pass(args, server, cache_path, texts)
    finally:
        server.close()


def cached_pass(
    args: argparse.Namespace, server: ServerProcess, cache_path: Path, texts: list[str]
) -> None:
    """Replay the last stack run from its warm cache file; the server must see no request."""
    before = server.stats()
    with make_stack(server.base_url, cache_path, args) as stack:
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
    lib: list[Run],
    before: dict[str, float] | None,
    after: dict[str, float] | None,
) -> None:
    ideal = args.conc / latency
    sdk_rate = statistics.median(r.per_second for r in sdk)
    lib_rate = statistics.median(r.per_second for r in lib)
    sdk_cpu = statistics.median(r.cpu_per_call for r in sdk)
    lib_cpu = statistics.median(r.cpu_per_call for r in lib)
    print(
        f"latency {latency * 1000:.0f} ms, {args.requests} requests, concurrency {args.conc}, "
        f"median of {args.rounds} rounds"
    )
    print(f"  bare SDK  {sdk_rate:8.1f} req/s  {sdk_cpu * 1000:6.3f} ms CPU/call")
    print(f"  library   {lib_rate:8.1f} req/s  {lib_cpu * 1000:6.3f} ms CPU/call")
    print(f"  library / SDK   {lib_rate / sdk_rate:6.3f}   (target >= 0.9)")
    print(f"  library / ideal {lib_rate / ideal:6.3f}   (ideal {ideal:.0f} req/s)")
    print(f"  SDK / ideal     {sdk_rate / ideal:6.3f}")
    if before is not None and after is not None:
        served = after["chat_requests"] - before["chat_requests"]
        cpu = after["cpu_seconds"] - before["cpu_seconds"]
        print(f"  server: {served:.0f} chat requests, {cpu / served * 1e6:.0f} us CPU each")
    print("  load average (1, 5, 15 min): " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))


class _SleepingBackend:
    """An in-process backend that answers after ``latency`` seconds: no HTTP, no SDK."""

    model = MODEL
    capabilities = Capabilities()

    def __init__(self, latency: float) -> None:
        self.latency = latency

    async def complete(self, request: ChatRequest) -> Completion:
        await asyncio.sleep(self.latency)
        return Completion(text="ok", usage=Usage(prompt_tokens=20, completion_tokens=5))


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
        "--overhead", action="store_true", help="also time the stack around an in-process backend"
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.serve:
        asyncio.run(_serve(args.latency[0]))
        return
    print(
        f"python {sys.version.split()[0]}, openai {openai.__version__}, "
        f"{os.cpu_count()} CPUs, server: {args.server} (separate process)"
    )
    with tempfile.TemporaryDirectory(prefix="augment_ft-bench-") as workdir:
        for latency in args.latency:
            measure(args, latency, Path(workdir))
            if args.overhead:
                overhead_pass(args, latency, Path(workdir))


if __name__ == "__main__":
    main()

"""Requests per second: the local engine vs ``--engine ray`` with 1 and 2 workers.

Run: .venv/bin/python benchmarks/ray_scaling.py [--calls 4000] [--latency 0.1 0.02]
     [--concurrency 64] [--shards 16] [--rounds 1] [--only local "ray 2 workers"]

The lean asyncio server of benchmarks/lean_server.py (a process of its own) answers every
chat request after a fixed latency with a valid rephrase answer and counts requests. The
input is ``--calls`` one-sentence documents with ``--strategies rephrase``: one call per
document. Each condition is the console script in a subprocess on a fresh cache:

- local:      the default engine, ``--concurrency C``;
- local 2C:   the default engine with twice the calls in flight (what 2 workers hold);
- ray 1, 2:   ``--engine ray --workers N`` (a local Ray instance, N actors of C each).

Printed per latency, as ratios to the local engine: calls/s of the whole process (start-up,
partition, dedup and shutdown included) and calls/s of its calling phase (from the first
to the last request the server saw, polled every 50 ms), beside the machine's load. The
ratios are printed, not asserted: the target is ray-2 >= 1.5x local where the client, not
the server's latency, is the limit.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from lean_server import ServerProcess
from pipeline_throughput import CONSOLE_SCRIPT, MODEL, corpus


@dataclass(frozen=True)
class Timing:
    """One run: the whole process's seconds and its calling phase's."""

    wall: float
    calling: float


def conditions(concurrency: int) -> dict[str, list[str]]:
    c = str(concurrency)
    return {
        "local": ["--concurrency", c],
        "local 2C": ["--concurrency", str(2 * concurrency)],
        "ray 1 worker": ["--concurrency", c, "--engine", "ray", "--workers", "1"],
        "ray 2 workers": ["--concurrency", c, "--engine", "ray", "--workers", "2"],
    }


def timed_run(server: ServerProcess, docs: Path, flags: list[str], n: int, shards: int) -> Timing:
    """The console script on a fresh cache, its calling phase watched at the server."""
    seen: list[tuple[float, float]] = []
    stop = threading.Event()
    base = server.stats()["chat_requests"]

    def watch() -> None:
        while not stop.wait(0.05):
            seen.append((time.perf_counter(), server.stats()["chat_requests"] - base))

    with tempfile.TemporaryDirectory() as tmp:
        command = [
            str(CONSOLE_SCRIPT), "run", str(docs), "-o", str(Path(tmp) / "out.jsonl"),
            "--backend", "openai", "--model", MODEL, "--base-url", server.base_url,
            "--strategies", "rephrase", "--shards", str(shards), "-q", *flags,
        ]  # fmt: skip
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - start
        stop.set()
        watcher.join()
    made = server.stats()["chat_requests"] - base
    assert made == n, f"{flags}: {made} calls reached the server, expected {n}"
    first = next(t for t, count in seen if count > 0)
    last = next(t for t, count in seen if count >= n)
    return Timing(wall, max(last - first, 0.05))


def bench(args: argparse.Namespace, latency: float, docs: Path) -> None:
    chosen = {k: v for k, v in conditions(args.concurrency).items() if k in args.only}
    runs: dict[str, list[Timing]] = {name: [] for name in chosen}
    loads = [os.getloadavg()[0]]
    server = ServerProcess(latency, "rephrase")
    try:
        for _ in range(args.rounds):
            for name, flags in chosen.items():
                runs[name].append(timed_run(server, docs, flags, args.calls, args.shards))
                loads.append(os.getloadavg()[0])
    finally:
        server.close()
    n, c = args.calls, args.concurrency
    print(
        f"\nlatency {latency:g} s, {n} calls, concurrency {c} per process or actor, "
        f"{args.shards} shards; 1-min load {min(loads):.2f}-{max(loads):.2f}; "
        f"{os.cpu_count()} CPUs"
    )
    print(f"  {'engine':<16}{'calls/s':>9}{'vs local':>9}{'calling/s':>11}{'vs local':>9}   wall s")
    local = runs["local"]
    base_wall = n / statistics.median(t.wall for t in local)
    base_calling = n / statistics.median(t.calling for t in local)
    for name, timings in runs.items():
        wall = n / statistics.median(t.wall for t in timings)
        calling = n / statistics.median(t.calling for t in timings)
        walls = " ".join(f"{t.wall:.1f}" for t in timings)
        print(
            f"  {name:<16}{wall:>9,.0f}{wall / base_wall:>9.2f}"
            f"{calling:>11,.0f}{calling / base_calling:>9.2f}   {walls}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=4000)
    parser.add_argument("--latency", type=float, nargs="+", default=[0.1, 0.02])
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--shards", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--only", nargs="+", default=list(conditions(64)), help="conditions to run (local first)"
    )
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp:
        docs, _ = corpus(args.calls, Path(tmp))
        for latency in args.latency:
            bench(args, latency, docs)


if __name__ == "__main__":
    sys.exit(main())

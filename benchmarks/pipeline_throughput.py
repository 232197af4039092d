"""End-to-end throughput: ``augment-ft run`` (a subprocess) vs the bare openai SDK, same calls.

Run: .venv/bin/python benchmarks/pipeline_throughput.py [--calls 2000] [--concurrency 64]
     [--latency 0.1 0.5] [--rounds 2] [--http lean sdk] [--no-adaptive]

The lean asyncio server of benchmarks/lean_server.py (a process of its own) answers every
chat request after a fixed latency with a valid rephrase answer, and counts requests. The
input is ``--calls`` one-sentence documents, so ``--strategies rephrase`` makes exactly one
model call per document. Per latency, alternately ``--rounds`` times:

- sdk:      ``AsyncOpenAI.chat.completions.create`` with a semaphore of ``--concurrency``,
            on the very requests the pipeline sends (same rendered prompts and schema);
- cli-X:    the console script with ``--http X``, start-up included (read, render, call
            through the whole backend stack with a fresh SQLite cache, parse, filter,
            dedup, format, write).

Printed: calls/s of each, the ratio to the bare SDK (targets: lean >= 1.3 at 100 ms and
>= 1.0 at 500 ms), the ratio to ideal (concurrency / latency), and client CPU per call:
the SDK's from ``process_time`` in this process, the CLI's from the child's rusage (the
whole process: start-up, imports, the pipeline). "report" is each CLI run timed by its
own report (``wall_seconds``: without interpreter start-up and imports). Then a cached
re-run of the last run: the server's counter proves zero calls. Load averages beside.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lean_server import ServerProcess

MODEL = "gpt-4o-mini"
CONSOLE_SCRIPT = Path(sys.executable).with_name("augment-ft")


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
    from augment_ft.strategies.rephrase import RephraseStrategy
    from augment_ft.strategies.sentence import batch_output

    strategy, counter = RephraseStrategy(), TokenCounter(MODEL)
    schema = schema_for(batch_output("rephrasings", 1, 1, strategy.k))
    calls = []
    for text in sentences:
        prompt = render_prompt(
            "rephrase", {"sentences": [text], "k": strategy.k, "unit": "sentence"}
        )
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


def cli_flags() -> str:
    """The console script's ``run --help`` text, to see which flags it knows."""
    done = subprocess.run(
        [str(CONSOLE_SCRIPT), "run", "--help"], capture_output=True, text=True, check=True
    )
    return done.stdout


@dataclass(frozen=True)
class CliRun:
    """One console-script run: wall seconds, its report's own seconds, its CPU seconds."""

    wall: float
    own: float
    cpu: float
    report: dict[str, Any]


def pipeline_run(base_url: str, docs: Path, folder: Path, concurrency: int, *extra: str) -> CliRun:
    """The console script, start-up included, timed; CPU from the child's rusage."""
    report = folder / "report.json"
    command = [
        str(CONSOLE_SCRIPT), "run", str(docs), "-o", str(folder / "out.jsonl"),
        "--backend", "openai", "--model", MODEL, "--base-url", base_url,
        "--strategies", "rephrase", "--concurrency", str(concurrency),
        "--cache", str(folder / "cache.sqlite"), "--report", str(report), "-q", *extra,
    ]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    data = json.loads(report.read_text(encoding="utf-8"))
    return CliRun(wall, float(data["wall_seconds"]), cpu, data)


# --------------------------------------------------------------------------- the benchmark


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def sdk_pass(server: ServerProcess, calls: list[dict[str, Any]], c: int) -> tuple[float, float]:
    """Wall and CPU seconds of the bare SDK on ``calls`` (CPU of this process)."""
    cpu = time.process_time()
    wall = asyncio.run(_sdk_run(server.base_url, calls, c))
    return wall, time.process_time() - cpu


def cli_pass(
    server: ServerProcess, docs: Path, c: int, flags: tuple[str, ...], n: int, last: bool
) -> tuple[CliRun, str]:
    """One CLI run on a fresh cache (checked: ``n`` calls reached the server); the cached
    re-run's line too when ``last``."""
    with tempfile.TemporaryDirectory() as tmp:
        before = server.stats()["chat_requests"]
        run = pipeline_run(server.base_url, docs, Path(tmp), c, *flags)
        made = server.stats()["chat_requests"] - before
        assert made == n, f"the pipeline made {made} calls, expected {n}"
        assert run.report["backend"]["calls"] == n, run.report["backend"]
        line = cached(server, docs, Path(tmp), c, flags) if last else ""
    return run, line


def bench_latency(
    args: argparse.Namespace, latency: float, docs: Path, sentences: list[str], known: str
) -> None:
    n, c = args.calls, args.concurrency
    calls = sdk_requests(sentences)
    conditions = {f"cli-{h}": transport_flags(h, args, known) for h in args.http}
    server = ServerProcess(latency, "rephrase")
    sdk: list[tuple[float, float]] = []
    cli: dict[str, list[CliRun]] = {name: [] for name in conditions}
    cached_line = ""
    loads = [os.getloadavg()[0]]
    try:
        for round_no in range(args.rounds):
            sdk.append(sdk_pass(server, calls, c))
            for name, flags in conditions.items():
                last = round_no == args.rounds - 1 and name == next(iter(conditions))
                run, line = cli_pass(server, docs, c, flags, n, last)
                cli[name].append(run)
                cached_line = line or cached_line
            loads.append(os.getloadavg()[0])
    finally:
        server.close()
    table(args, latency, sdk, cli, conditions, loads)
    print(cached_line)


def table(
    args: argparse.Namespace,
    latency: float,
    sdk: list[tuple[float, float]],
    cli: dict[str, list[CliRun]],
    conditions: dict[str, tuple[str, ...]],
    loads: list[float],
) -> None:
    """One latency's figures: calls/s, vs the bare SDK, vs ideal, client CPU per call."""
    n, c = args.calls, args.concurrency
    ideal = c / latency
    sdk_rate = n / statistics.median(w for w, _ in sdk)
    print(
        f"\nlatency {latency:g} s, {n} calls, concurrency {c}, ideal {ideal:,.0f} calls/s; "
        f"1-min load during the rounds {min(loads):.2f}-{max(loads):.2f}; {os.cpu_count()} CPUs"
    )
    print(
        f"  {'client':<34}{'calls/s':>8}{'vs sdk':>8}{'vs ideal':>9}{'ms CPU/call':>12}   runs (s)"
    )
    sdk_cpu = statistics.median(cpu for _, cpu in sdk) / n * 1000
    rows = [("bare openai SDK", sdk_rate, sdk_cpu, [w for w, _ in sdk])]
    for name, runs in cli.items():
        flags = " ".join(conditions[name]) or "(defaults)"
        cpu = statistics.median(r.cpu for r in runs) / n * 1000
        rows.append((f"{name} {flags}", n / statistics.median(r.wall for r in runs), cpu,
                     [r.wall for r in runs]))  # fmt: skip
        own = n / statistics.median(r.own for r in runs)
        rows.append((f"  {name}, timed by its report", own, None, [r.own for r in runs]))
    for label, rate, cpu, runs in rows:
        shown = " ".join(f"{t:.2f}" for t in runs)
        cpu_text = f"{cpu:12.2f}" if cpu is not None else " " * 12
        ratios = f"{rate / sdk_rate:>8.3f}{rate / ideal:>9.3f}"
        print(f"  {label:<34}{rate:>8,.0f}{ratios}{cpu_text}   {shown}")


def transport_flags(http: str, args: argparse.Namespace, known: str) -> tuple[str, ...]:
    """The CLI flags of one condition; ``--http`` only once the CLI has it (lean is default)."""
    flags: tuple[str, ...] = ()
    if "--http" in known:
        flags += ("--http", http)
    elif http != "lean":
        raise SystemExit(f"this augment-ft has no --http flag, so --http {http} cannot be run")
    if args.no_adaptive:
        if "--no-adaptive" not in known:
            raise SystemExit("this augment-ft has no --no-adaptive flag")
        flags += ("--no-adaptive",)
    return flags


def cached(
    server: ServerProcess, docs: Path, folder: Path, concurrency: int, flags: tuple[str, ...]
) -> str:
    """Re-run the last pipeline run from its warm cache (no call may reach the server).

    Returns the line to print, so that it follows its latency's table instead of preceding it.
    """
    before = server.stats()["chat_requests"]
    run = pipeline_run(server.base_url, docs, folder, concurrency, "--force", *flags)
    assert server.stats()["chat_requests"] == before, "a cached re-run reached the server"
    report = run.report
    assert report["backend"]["calls"] == 0, report["backend"]
    made = sum(report["examples_by_kind"].values())
    return (
        f"  cached re-run: 0 server calls, {report['backend']['cache_hits']} cache hits, "
        f"{made} examples in {run.wall:.2f} s wall ({made / run.wall:,.0f} examples/s), "
        f"{run.own:.2f} s by its report ({made / run.own:,.0f}/s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, nargs="+", default=[0.1, 0.5])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--http", nargs="+", choices=("lean", "sdk"), default=["lean", "sdk"])
    parser.add_argument("--no-adaptive", action="store_true", help="pass --no-adaptive to the CLI")
    args = parser.parse_args()
    known = cli_flags()
    print(f"{os.cpu_count()} CPUs; {load()}")
    with tempfile.TemporaryDirectory() as tmp:
        docs, sentences = corpus(args.calls, Path(tmp))
        for latency in args.latency:
            bench_latency(args, latency, docs, sentences, known)


if __name__ == "__main__":
    main()

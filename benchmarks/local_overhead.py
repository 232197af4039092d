"""Local backend overhead: tokens/s through augment_ft vs llama-cpp-python called directly.

Run: .venv/bin/python benchmarks/local_overhead.py [--model qwen2.5-coder-1.5b] [--prompts 8]
     [--rounds 3] [--threads 2] [--max-tokens 96]

Same model (an embedded model by name, or a GGUF path), same ``n_threads``, ``n_ctx``, seed,
``max_tokens``, temperature 0 and the same JSON-schema response format, on the rephrase
prompts augment_ft renders for sentences of examples/corpus. Three contenders, each with
a model instance of its own (so each keeps its own KV cache and sees the same sequence
of prompts): ``Llama.create_chat_completion`` directly, ``LocalBackend.complete``, and the
whole stack (usage, retry and limits around LocalBackend; no cache, which would answer
the repeated rounds for free). Prompt by prompt, each contender answers in turn, the
first place rotating; the ratios use the summed wall time per contender, and the answers
should be identical (LocalBackend samples under the grammar itself, so a near-tie between
two tokens can break differently; the script says whether they were). Last, the library
answers the same prompts all at once, as a run sends them: its batching engine decodes
them side by side, which is where it gains over one call at a time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from augment_ft.backends.base import ChatRequest, Completion
from augment_ft.backends.local import LocalBackend
from augment_ft.backends.local_models import resolve_local_model
from augment_ft.backends.stack import build_stack
from augment_ft.core.models import Document
from augment_ft.inputs.readers import read_inputs
from augment_ft.strategies.llm_call import schema_for
from augment_ft.strategies.prompts import render_prompt
from augment_ft.strategies.sentence import batch_output
from augment_ft.text.splitter import split_sentences

ROOT = Path(__file__).resolve().parent.parent
N_CTX = 2048
Call = Callable[[ChatRequest], Awaitable[tuple[str, int]]]


def requests(count: int, max_tokens: int) -> list[ChatRequest]:
    """Rephrase requests for the first ``count`` plain sentences of the example corpus."""
    docs = [d for d in read_inputs(ROOT / "examples" / "corpus") if isinstance(d, Document)]
    sentences = [s.text for d in docs for s in split_sentences(d.text) if s.kind == "text"]
    schema = schema_for(batch_output("rephrasings", 1, 1, 2))
    out = []
    for text in sentences[:count]:
        prompt = render_prompt("rephrase", {"sentences": [text], "k": 2, "unit": "sentence"})
        out.append(
            ChatRequest(
                messages=prompt.messages,
                temperature=0.0,
                max_tokens=max_tokens,
                seed=0,
                json_schema=schema,
                schema_name="rephrase",
            )
        )
    return out


def direct(path: Path, threads: int) -> Call:
    """``Llama.create_chat_completion`` with the kwargs LocalBackend would send."""
    import llama_cpp

    llm = llama_cpp.Llama(
        model_path=str(path),
        n_ctx=N_CTX,
        n_threads=threads,
        seed=0,
        verbose=False,
    )

    async def call(request: ChatRequest) -> tuple[str, int]:
        response: Any = llm.create_chat_completion(
            messages=[m.model_dump() for m in request.messages],  # type: ignore[misc]
            temperature=request.temperature,
            max_tokens=request.max_tokens,
            seed=request.seed,
            response_format={"type": "json_object", "schema": request.json_schema},
        )
        text = response["choices"][0]["message"]["content"] or ""
        return text, int(response["usage"]["completion_tokens"])

    return call


def through(backend: Any) -> Call:
    async def call(request: ChatRequest) -> tuple[str, int]:
        completion: Completion = await backend.complete(request)
        return completion.text, completion.usage.completion_tokens

    return call


async def warm(calls: dict[str, Call], first: ChatRequest) -> None:
    """One call each, not timed: loads the models (LocalBackend loads on first use)."""
    for call in calls.values():
        await call(first)


async def measure(calls: dict[str, Call], reqs: list[ChatRequest], rounds: int) -> dict[str, Any]:
    times = dict.fromkeys(calls, 0.0)
    tokens = dict.fromkeys(calls, 0)
    answers: dict[str, list[str]] = {name: [] for name in calls}
    names = list(calls)
    turn = 0
    for _ in range(rounds):
        for request in reqs:
            turn += 1  # rotate who goes first, so load from elsewhere falls on all alike
            for name in names[turn % len(names) :] + names[: turn % len(names)]:
                start = time.perf_counter()
                text, used = await calls[name](request)
                times[name] += time.perf_counter() - start
                tokens[name] += used
                answers[name].append(text)
    return {"times": times, "tokens": tokens, "answers": answers}


def load() -> str:
    return "load average " + " ".join(Path("/proc/loadavg").read_text().split()[:3])


async def all_at_once(backend: Any, reqs: list[ChatRequest]) -> tuple[int, float]:
    """Completion tokens and seconds for every request sent at once."""
    start = time.perf_counter()
    done: list[Completion] = await asyncio.gather(*(backend.complete(r) for r in reqs))
    return sum(c.usage.completion_tokens for c in done), time.perf_counter() - start


async def main_async(args: argparse.Namespace) -> None:
    reqs = requests(args.prompts, args.max_tokens)
    path = resolve_local_model(args.model)[0]
    local = LocalBackend(args.model, n_ctx=N_CTX, n_threads=args.threads, seed=0)
    stacked = build_stack(LocalBackend(args.model, n_ctx=N_CTX, n_threads=args.threads, seed=0))
    calls = {
        "llama-cpp-python direct": direct(path, args.threads),
        "augment_ft LocalBackend": through(local),
        "augment_ft full stack": through(stacked),
    }
    print(f"{os.cpu_count()} CPUs, n_threads {args.threads}; {len(reqs)} prompts x {args.rounds}")
    print(f"model {path.name}; {load()}")
    await warm(calls, reqs[0])
    result = await measure(calls, reqs, args.rounds)
    stacked.close()
    batched_tokens, batched_seconds = 0, 0.0
    for _ in range(args.rounds):
        used, seconds = await all_at_once(local, reqs)
        batched_tokens, batched_seconds = batched_tokens + used, batched_seconds + seconds
    local.close()
    base = "llama-cpp-python direct"
    rate = {n: result["tokens"][n] / result["times"][n] for n in calls}
    print(f"{'contender':<26}{'tokens':>8}{'seconds':>9}{'tokens/s':>10}{'vs direct':>11}")
    for name in calls:
        t, n = result["times"][name], result["tokens"][name]
        print(f"{name:<26}{n:>8}{t:>9.2f}{rate[name]:>10.1f}{rate[name] / rate[base]:>11.3f}")
    batched = batched_tokens / batched_seconds
    name = "augment_ft all at once"
    print(
        f"{name:<26}{batched_tokens:>8}{batched_seconds:>9.2f}{batched:>10.1f}"
        f"{batched / rate[base]:>11.3f}"
    )
    same = all(result["answers"][n] == result["answers"][base] for n in calls)
    print(f"answers identical across contenders: {same}; {load()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="qwen2.5-coder-1.5b", help="a name or a GGUF path")
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=96)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()

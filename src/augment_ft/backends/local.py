"""The embedded backend: a GGUF model run in this process by llama.cpp (llama-cpp-python).

No server and no network: ``LocalBackend()`` runs Qwen2.5-Coder-1.5B-Instruct from the
``local`` extra (``LocalBackend("smollm2")`` the fast SmolLM2-135M; any GGUF by path).
``llama_cpp`` is imported, and a model assembled from its part packages, on first use
only, so ``import augment_ft`` stays light. Chat calls run ``parallel`` at a time in one
batch (:mod:`~augment_ft.backends.local_engine`), their prompts formatted with the chat
template the GGUF file carries; likelihood scoring runs one call at a time beside them.
"""

from __future__ import annotations

import asyncio
import importlib.util
import re
import threading
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from augment_ft.backends.base import ChatRequest, Completion, Usage
from augment_ft.backends.local_engine import BatchEngine, Generated, Job
from augment_ft.backends.local_models import (
    DEFAULT_LOCAL_MODEL,
    LOCAL_MODELS,
    LocalModel,
    local_model,
    resolve_local_model,
)
from augment_ft.backends.local_sampling import schema_grammar
from augment_ft.core.errors import (
    AugmentError,
    BackendError,
    BadRequestError,
    ConfigError,
    ContextLengthError,
    DependencyError,
)

__all__ = ["LocalBackend"]

_FEATURE = "The local backend"
_CTX_PAD = 256
# llama-cpp-python reports an overlong prompt only through this ValueError text.
_OVERFLOW = re.compile(r"Requested tokens \((\d+)\) exceed context window")

T = TypeVar("T")


class LocalBackend:
    """A :class:`~augment_ft.backends.base.Backend` over a GGUF model, in process.

    ``model`` is a name (``qwen2.5-coder-1.5b``, the default; ``smollm2``) or the path of a
    GGUF file; ``model_dir`` is where a model that comes in parts is assembled (default
    ``$AUGMENT_FT_MODEL_DIR`` or the user cache). The model loads on the first call (off the
    event loop) and once only. JSON schemas become llama.cpp grammars, so structured output
    is enforced while sampling. ``n_ctx`` is rounded up to a multiple of 256, as llama.cpp
    does; :attr:`n_ctx` reports the result.
    """

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        model_dir: str | Path | None = None,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        seed: int = 0,
        parallel: int = 4,
        verbose: bool = False,
    ) -> None:
        if importlib.util.find_spec("llama_cpp") is None:
            raise DependencyError(_FEATURE, "local", "llama_cpp")
        if n_ctx < 1 or parallel < 1 or (n_threads is not None and n_threads < 1):
            msg = (
                "LocalBackend needs n_ctx, parallel and n_threads of 1 or more "
                f"(got {n_ctx}, {parallel}, {n_threads})"
            )
            raise ConfigError(msg)
        self._model_dir = Path(model_dir).expanduser() if model_dir else None
        named = local_model(model) if isinstance(model, str) else None
        self._spec: LocalModel | None = (
            LOCAL_MODELS[DEFAULT_LOCAL_MODEL] if model is None else named
        )
        # A path is checked now; a named model's file is found (or assembled) on first use.
        self._path: Path | None = None if self._spec else resolve_local_model(model)[0]
        # llama.cpp pads the context to a multiple of 256 while llama-cpp-python sizes its
        # token buffer by the value asked for; asking for the padded size keeps them equal.
        self._n_ctx = -(-n_ctx // _CTX_PAD) * _CTX_PAD
        self._n_threads = n_threads
        self._seed = seed
        self._verbose = verbose
        self._parallel = parallel
        self._llama: Any = None
        self._engine: BatchEngine | None = None
        self._formatter: Any = None
        self._formatted = False  # whether _formatter was read from the file
        # The thread lock guards loading and the scoring context (any loop, any thread); the
        # per-loop locks keep waiting scorers on the loop instead of parking executor threads.
        self._model_lock = threading.Lock()
        self._loop_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    def __repr__(self) -> str:
        shown = self._spec.name if self._spec is not None else str(self._path)
        return f"LocalBackend({shown!r}, n_ctx={self._n_ctx})"

    @property
    def model(self) -> str:
        """``local/`` + the model's name (or its file name without the extension, for a
        path); ``local/*`` is priced at 0."""
        if self._spec is not None:
            return f"local/{self._spec.name}"
        return f"local/{self.model_path.stem}"

    @property
    def family(self) -> str | None:
        """The model family of a named model (``qwen2``, ``smollm2``); None for a path."""
        return self._spec.family if self._spec is not None else None

    @property
    def model_path(self) -> Path:
        """The GGUF file; a named model that comes in parts is assembled on first access."""
        if self._path is None:
            spec = self._spec or LOCAL_MODELS[DEFAULT_LOCAL_MODEL]  # _spec is set when no path
            self._path = spec.path(self._model_dir)
        return self._path

    @property
    def n_ctx(self) -> int:
        """The context window in tokens, as llama.cpp pads it (a multiple of 256)."""
        return self._n_ctx

    async def complete(self, request: ChatRequest) -> Completion:
        """Run one chat completion with the model's own chat template, batched with the
        other calls in flight."""
        try:
            future = await asyncio.to_thread(self._submit, request)
            if future is None:  # no chat template in the file: llama-cpp-python formats it
                return await self._run(lambda model: self._chat(model, request))
            done = await asyncio.wrap_future(future)
        except AugmentError:  # ours already (a missing model file, an overlong prompt)
            raise
        except Exception as exc:
            raise self._translate(exc) from exc
        return Completion(
            text=done.text,
            finish_reason=done.finish_reason,
            usage=Usage(prompt_tokens=done.prompt_tokens, completion_tokens=done.completion_tokens),
            model=self.model,
        )

    def _job(self, llm: Any, request: ChatRequest) -> Job:
        """The request as prompt tokens (the GGUF's chat template), sampling and grammar."""
        messages = [message.model_dump() for message in request.messages]
        formatted = self._formatter(messages=messages)
        tokens: list[int] = llm.tokenize(
            formatted.prompt.encode("utf-8"), add_bos=not formatted.added_special, special=True
        )
        stops = formatted.stop if isinstance(formatted.stop, list) else [formatted.stop]
        return Job(
            tokens=tokens,
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            seed=self._seed if request.seed is None else request.seed,
            grammar=schema_grammar(request.json_schema) if request.json_schema else None,
            stop=tuple(s for s in [*stops, *request.stop] if s),
        )

    async def loglikelihood(self, prompt: str, continuation: str) -> float:
        """Sum of the log-probabilities of ``continuation``'s tokens following raw ``prompt``.

        No chat template is applied: this scores text, as multiple-choice evaluation needs.
        """
        return await self._run(lambda llm: self._score(llm, prompt, continuation))

    def close(self) -> None:
        """Free the model's memory now (after the calls in progress); a later call loads it
        again."""
        with self._model_lock:
            if self._engine is not None:
                self._engine.close()
                self._engine = None
            self._formatter, self._formatted = None, False  # a later call starts anew
            if self._llama is not None:
                self._llama.close()
                self._llama = None

    async def aclose(self) -> None:
        """:meth:`close`, off the event loop (it waits for a call in progress to finish)."""
        await asyncio.to_thread(self.close)

    # --- running blocking llama.cpp calls -------------------------------------------------

    async def _run(self, work: Callable[[Any], T]) -> T:
        loop = asyncio.get_running_loop()
        lock = self._loop_locks.get(loop)
        if lock is None:
            lock = self._loop_locks[loop] = asyncio.Lock()
        async with lock:
            return await asyncio.to_thread(self._with_model, work)

    def _with_model(self, work: Callable[[Any], T]) -> T:
        with self._model_lock:
            if self._llama is None:
                self._llama = self._load()
            return work(self._llama)

    def _submit(self, request: ChatRequest) -> Future[Generated] | None:
        """The request tokenized and queued on the engine, under the model lock, so that
        :meth:`close` cannot free the model in between (None: no chat template)."""
        with self._model_lock:
            llm, engine = self._ready_locked()
            return None if engine is None else engine.submit(self._job(llm, request))

    def _ready(self) -> tuple[Any, BatchEngine | None]:
        """The model and its batch engine, loaded once (None: the file has no chat template)."""
        with self._model_lock:
            return self._ready_locked()

    def _ready_locked(self) -> tuple[Any, BatchEngine | None]:
        if self._llama is None:
            self._llama = self._load()
        if not self._formatted:
            self._formatter = _chat_formatter(self._llama)
            self._formatted = True
            if self._formatter is not None:
                self._engine = self._start_engine(self._llama)
        return self._llama, self._engine

    def _start_engine(self, llm: Any) -> BatchEngine:
        try:
            return BatchEngine(
                llm, n_seq=self._parallel, n_ctx=self._n_ctx, n_threads=self._n_threads
            )
        except Exception as exc:
            msg = f"llama.cpp could not start {self._parallel} sequences on {self.model}: {exc}"
            raise BackendError(msg) from exc

    def _load(self) -> Any:
        try:
            import llama_cpp
        except ImportError as exc:
            raise DependencyError(_FEATURE, "local", "llama_cpp") from exc
        path = self.model_path  # a ModelFileError here names its own fix
        try:
            return llama_cpp.Llama(
                model_path=str(path),
                n_ctx=self._n_ctx,
                n_threads=self._n_threads,
                seed=self._seed,
                verbose=self._verbose,
            )
        except Exception as exc:  # llama.cpp raises ValueError/RuntimeError/OSError alike
            msg = f"llama.cpp could not load the GGUF model {path}: {exc}"
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


def _chat_formatter(llm: Any) -> Any:
    """A formatter for the chat template in the GGUF file's metadata (None when it has none)."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    template = llm.metadata.get("tokenizer.chat_template")
    if not template:
        return None

    def text(token: int) -> str:
        return bytes(llm.detokenize([token], special=True)).decode("utf-8", errors="ignore")

    eos, bos = llm.token_eos(), llm.token_bos()
    return Jinja2ChatFormatter(
        template=template,
        eos_token=text(eos) if eos != -1 else "",
        bos_token=text(bos) if bos != -1 else "",
    )


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

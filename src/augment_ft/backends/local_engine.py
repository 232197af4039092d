"""Several chat completions at once on one llama.cpp context: continuous batching.

On a CPU one generated token costs about as much as reading every weight once, and a batch
of a few tokens costs barely more, so the engine gives each request a sequence of its own
and advances every sequence in one ``llama_decode`` per step (a prompt being read shares
the step with the tokens being generated). A new request takes the free sequence whose
cache shares the longest prefix with its prompt, or copies that prefix from any other
sequence (the KV cells are shared, not duplicated): the few-shot block of a template is
read once and reused by every later call. One thread owns the context; callers submit
:class:`Job` objects and wait on their futures.

Only llama.cpp's public C API (through llama-cpp-python's bindings) is used; the model
itself, its tokenizer and chat template come from the ``llama_cpp.Llama`` it is given.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from augment_ft.backends.local_sampling import GrammarSampler

__all__ = ["BatchEngine", "Generated", "Job"]

_STOP = object()  # tells the worker thread to end


@dataclass
class Job:
    """One completion: prompt tokens, sampling, an optional grammar, stop strings."""

    tokens: list[int]
    max_tokens: int
    temperature: float
    seed: int
    grammar: str | None = None
    stop: tuple[str, ...] = ()
    future: Future[Generated] = field(default_factory=Future)


@dataclass(frozen=True)
class Generated:
    """What a job produced: text, why it ended, token counts (prompt tokens read anew)."""

    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int


@dataclass
class _Slot:
    """One sequence of the context: the tokens its cache holds and the job it runs."""

    seq: int
    tokens: list[int] = field(default_factory=list)
    job: Job | None = None
    sampler: GrammarSampler | None = None
    fed: int = 0  # prompt tokens in the cache so far
    out: list[int] = field(default_factory=list)
    cached: int = 0
    last_used: int = 0


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


class BatchEngine:
    """Runs jobs on ``llm``'s model in a context of its own with ``n_seq`` sequences of
    ``n_ctx`` tokens each, on one worker thread."""

    def __init__(
        self,
        llm: Any,
        *,
        n_seq: int,
        n_ctx: int,
        n_threads: int | None,
        n_batch: int = 512,
        unified: bool = True,
    ) -> None:
        import llama_cpp

        self._lib = llama_cpp
        self._llm = llm
        self.n_seq = n_seq
        self.n_ctx = n_ctx
        self._n_batch = n_batch
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = n_ctx * n_seq
        params.n_batch = n_batch
        params.n_ubatch = n_batch
        params.n_seq_max = n_seq
        params.kv_unified = unified
        params.no_perf = True
        if n_threads is not None:
            params.n_threads = n_threads
            params.n_threads_batch = n_threads
        ctx = llama_cpp.llama_init_from_model(llm.model, params)
        if not ctx:
            msg = f"llama.cpp could not make a context of {n_seq} x {n_ctx} tokens"
            raise RuntimeError(msg)
        self._ctx = ctx
        self._mem = llama_cpp.llama_get_memory(ctx)
        self._vocab = llama_cpp.llama_model_get_vocab(llm.model)
        self._batch = llama_cpp.llama_batch_init(n_batch, 0, n_seq)
        self._slots = [_Slot(seq) for seq in range(n_seq)]
        self._queue: queue.Queue[Any] = queue.Queue()
        self._closing = threading.Lock()  # a job is queued before the stop, or refused
        self._closed = False
        self._pending: list[Job] = []
        self._clock = 0
        self._thread = threading.Thread(target=self._work, name="augment-ft-llama", daemon=True)
        self._thread.start()

    def submit(self, job: Job) -> Future[Generated]:
        """Queue ``job``; its future resolves when it ends (or fails: at once after close)."""
        with self._closing:
            if self._closed:
                job.future.set_exception(RuntimeError("the batch engine was closed"))
            else:
                self._queue.put(job)
        return job.future

    def close(self) -> None:
        """Finish the jobs in progress, stop the worker and free the context."""
        with self._closing:
            self._closed = True
            self._queue.put(_STOP)
        self._thread.join()
        lib = self._lib
        for slot in self._slots:
            self._free_sampler(slot)
        if self._batch is not None:
            lib.llama_batch_free(self._batch)
            self._batch = None
        if self._ctx is not None:
            lib.llama_free(self._ctx)
            self._ctx = None

    # --- the worker thread -------------------------------------------------------------

    def _work(self) -> None:
        stopping = False
        while True:
            busy = any(s.job is not None for s in self._slots)
            if not busy and not self._pending:
                if stopping:
                    return
                item = self._queue.get()  # idle: wait for work
                if item is _STOP:
                    return
                self._pending.append(item)
            while True:  # take everything queued meanwhile
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                else:
                    self._pending.append(item)
            try:
                self._assign()
                self._step()
            except Exception as exc:  # a failed decode fails the jobs in it, not the thread
                self._fail_all(exc)

    def _assign(self) -> None:
        """Put waiting jobs into free sequences, each where its prompt's prefix is cached."""
        free = [s for s in self._slots if s.job is None]
        while free and self._pending:
            job = self._pending.pop(0)
            if len(job.tokens) + job.max_tokens > self.n_ctx:
                job.future.set_exception(_too_long(len(job.tokens), job.max_tokens, self.n_ctx))
                continue
            slot, source, shared = self._best_place(free, job.tokens)
            try:
                sampler = self._sampler(job)
            except ValueError as exc:
                job.future.set_exception(exc)
                continue
            free.remove(slot)
            self._start(slot, job, source, shared, sampler)

    def _best_place(self, free: list[_Slot], tokens: list[int]) -> tuple[_Slot, _Slot, int]:
        """The free slot to use, the slot whose cache to copy from, and how many tokens."""
        source = max(self._slots, key=lambda s: _common_prefix(s.tokens, tokens))
        shared = _common_prefix(source.tokens, tokens)
        own = max(free, key=lambda s: (_common_prefix(s.tokens, tokens), -s.last_used))
        if _common_prefix(own.tokens, tokens) >= shared:
            return own, own, _common_prefix(own.tokens, tokens)
        # Copy from another sequence into the free slot used longest ago.
        target = min(free, key=lambda s: s.last_used)
        return target, source, shared

    def _start(
        self, slot: _Slot, job: Job, source: _Slot, shared: int, sampler: GrammarSampler
    ) -> None:
        lib = self._lib
        shared = min(shared, len(job.tokens) - 1)  # read at least one token: its logits
        if source is slot:
            lib.llama_memory_seq_rm(self._mem, slot.seq, shared, -1)
        else:
            lib.llama_memory_seq_rm(self._mem, slot.seq, -1, -1)
            if shared > 0:
                lib.llama_memory_seq_cp(self._mem, source.seq, slot.seq, 0, shared)
        slot.tokens = list(job.tokens[:shared])
        slot.job, slot.fed, slot.out, slot.cached = job, shared, [], shared
        self._clock += 1
        slot.last_used = self._clock
        slot.sampler = sampler

    def _sampler(self, job: Job) -> GrammarSampler:
        return GrammarSampler(
            self._lib,
            self._vocab,
            self._llm.n_vocab(),
            grammar=job.grammar,
            temperature=job.temperature,
            seed=job.seed,
        )

    def _step(self) -> None:
        """One decode: a token of every generating sequence, prompt chunks of the rest."""
        batch = self._batch
        batch.n_tokens = 0
        wanted: list[tuple[_Slot, int]] = []  # (slot, batch index whose logits to sample)
        room = self._n_batch
        generating = [s for s in self._slots if s.job is not None and s.fed >= len(s.job.tokens)]
        reading = [s for s in self._slots if s.job is not None and s.fed < len(s.job.tokens)]
        for slot in generating:
            self._add(slot.out[-1], len(slot.tokens), slot.seq, logits=True)
            slot.tokens.append(slot.out[-1])
            wanted.append((slot, batch.n_tokens - 1))
            room -= 1
        for slot in reading:
            if room <= 0:
                break
            assert slot.job is not None
            chunk = slot.job.tokens[slot.fed : slot.fed + room]
            for i, token in enumerate(chunk):
                last = slot.fed + i == len(slot.job.tokens) - 1
                self._add(token, len(slot.tokens), slot.seq, logits=last)
                slot.tokens.append(token)
                if last:
                    wanted.append((slot, batch.n_tokens - 1))
            slot.fed += len(chunk)
            room -= len(chunk)
        if batch.n_tokens == 0:
            return
        status = self._lib.llama_decode(self._ctx, batch)
        if status != 0:
            msg = f"llama_decode returned {status} (batch of {batch.n_tokens} tokens)"
            raise RuntimeError(msg)
        for slot, index in wanted:
            self._sample(slot, index)

    def _add(self, token: int, position: int, seq: int, *, logits: bool) -> None:
        batch = self._batch
        i = batch.n_tokens
        batch.token[i] = token
        batch.pos[i] = position
        batch.n_seq_id[i] = 1
        batch.seq_id[i][0] = seq
        batch.logits[i] = logits
        batch.n_tokens = i + 1

    def _sample(self, slot: _Slot, index: int) -> None:
        job, sampler = slot.job, slot.sampler
        assert job is not None and sampler is not None
        token = sampler.sample(self._ctx, index)
        if self._lib.llama_vocab_is_eog(self._vocab, token):
            self._finish(slot, "stop")
            return
        slot.out.append(token)
        text = self._text(slot.out)
        if any(stop in text for stop in job.stop):
            self._finish(slot, "stop")
        elif len(slot.out) >= job.max_tokens:
            self._finish(slot, "length")

    def _text(self, tokens: list[int]) -> str:
        raw: bytes = self._llm.detokenize(tokens)
        return raw.decode("utf-8", errors="ignore")

    def _finish(self, slot: _Slot, reason: str) -> None:
        job = slot.job
        assert job is not None
        text = self._text(slot.out)
        for stop in job.stop:
            if stop in text:
                text = text[: text.index(stop)]
        self._free_sampler(slot)
        slot.job = None
        prompt = len(job.tokens)
        job.future.set_result(
            Generated(text, reason, prompt, len(slot.out), min(slot.cached, prompt))
        )

    def _free_sampler(self, slot: _Slot) -> None:
        if slot.sampler is not None:
            slot.sampler.close()
            slot.sampler = None

    def _fail_all(self, exc: Exception) -> None:
        for slot in self._slots:
            if slot.job is not None:
                slot.job.future.set_exception(exc)
                self._free_sampler(slot)
                slot.job = None
            slot.tokens = []
        self._lib.llama_memory_clear(self._mem, True)


def _too_long(prompt: int, wanted: int, n_ctx: int) -> ValueError:
    return ValueError(f"Requested tokens ({prompt + wanted}) exceed context window of {n_ctx}")

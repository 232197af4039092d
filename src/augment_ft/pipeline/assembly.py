"""Builds the parts of a run from a :class:`RunConfig`: sources, backend stack, outputs.

``pipeline.py`` tells the story; the wiring it needs lives here.
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from augment_ft.backends.base import Backend, ChatRequest
from augment_ft.core.config import RunConfig
from augment_ft.core.drops import DropLog
from augment_ft.core.errors import ConfigError, OutputError
from augment_ft.core.hashing import stable_hash
from augment_ft.core.models import Document, Example, Fact, Provenance
from augment_ft.core.tokens import TokenCounter
from augment_ft.dedup import Decontaminator, Deduplicator, NearDeduper, read_eval_texts
from augment_ft.inputs.files import SUPPORTED_EXTENSIONS, find_files
from augment_ft.inputs.readers import SkipLog, read_inputs
from augment_ft.outputs.formats import FORMATS, provenance_record, split_train_val
from augment_ft.outputs.writer import IDS_SUFFIX, JsonlWriter
from augment_ft.strategies.base import FactStrategy, Strategy

__all__ = [
    "OpenStack",
    "Outputs",
    "Sources",
    "build_deduplicator",
    "build_strategies",
    "make_backend",
    "make_parent",
    "open_backend",
    "ordered_map",
    "original_example",
    "own_files",
    "preflight",
    "split_path",
]

SUPPORTED = ", ".join(SUPPORTED_EXTENSIONS)
T = TypeVar("T")
R = TypeVar("R")


def original_example(doc: Document) -> Example:
    """The document itself, kept beside its augmentations (as the paper did)."""
    return Example(
        completion=doc.text,
        kind="original",
        provenance=Provenance(source_id=doc.id, strategy="original"),
    )


class Sources:
    """Documents (streamed, sharded) and facts (collected) from the configured inputs."""

    def __init__(
        self, config: RunConfig, drops: DropLog, extra: Iterable[Document | Fact] | None = None
    ) -> None:
        if not config.inputs and extra is None:
            msg = "no inputs: give files, directories or globs to read"
            raise ConfigError(msg)
        self.config = config
        self.drops = drops
        self.extra = extra
        self.counter = TokenCounter(config.model or "")
        self.facts: list[Fact] = []
        self.documents_read = 0

    def _items(self, skipped: SkipLog) -> Iterator[Document | Fact]:
        if self.extra is not None:
            yield from self.extra
        if self.config.inputs:
            yield from read_inputs(
                self._paths(skipped),
                text_field=self.config.text_field,
                id_field=self.config.id_field,
                on_error=self.config.on_error,
                skipped=skipped,
            )

    def _paths(self, skipped: SkipLog) -> list[Path]:
        """The input files, less this run's own outputs: an output directory that is also
        an input would otherwise feed the run its own (half-written) output."""
        own = {path.resolve() for path in own_files(self.config)}

        def is_own(path: Path) -> bool:
            if path.resolve() not in own:
                return False
            detail = f"{path}: written by this run, so not read as an input"
            self.drops.add("read", "own_output", detail=detail)
            return True

        def unsupported(path: Path) -> None:
            if not is_own(path):
                message = f"{path}: not read: supported extensions are {SUPPORTED}"
                skipped.record("unsupported_extension", str(path), None, message)

        return [
            p for p in find_files(self.config.inputs, on_unsupported=unsupported) if not is_own(p)
        ]

    def documents(self) -> Iterator[Document]:
        """This shard's documents, in input order; facts are set aside on the way."""
        shard = self.config.shard_pair()
        skipped = SkipLog()
        for item in self._items(skipped):
            if isinstance(item, Fact):
                if shard is None or shard[0] == 0:
                    self.facts.append(item)
                continue
            if shard is not None and int(stable_hash(item.id), 16) % shard[1] != shard[0]:
                continue
            self.documents_read += 1
            yield item
        for entry in skipped.entries:  # the first ones in detail, as samples for the report
            self.drops.add("read", entry.reason, detail=entry.message)
        detailed = Counter(entry.reason for entry in skipped.entries)
        for reason, count in skipped.counts().items():
            self.drops.add_count("read", reason, count - detailed[reason])


def own_files(config: RunConfig) -> list[Path]:
    """Every file a run with ``config`` writes: outputs, identity files, report, cache."""
    files = [Path(config.report)] if config.report else []
    cache = config.cache_path()
    if cache is not None:  # SQLite keeps -wal and -shm files beside it while open
        files += [cache, *(cache.with_name(cache.name + end) for end in ("-wal", "-shm"))]
    if config.output:
        out = Path(config.output)
        for split in ("train", "val", "provenance"):
            path = split_path(out, split)
            files += [path, path.with_name(path.name + IDS_SUFFIX)]
    return files


def split_path(output: Path, split: str) -> Path:
    """Where one split goes: ``OUT`` for train, ``OUT-stem.SPLIT.suffix`` beside it otherwise."""
    return output if split == "train" else output.with_name(f"{output.stem}.{split}{output.suffix}")


def build_strategies(config: RunConfig) -> tuple[list[Strategy], list[FactStrategy]]:
    """Strategy objects by name, with their ``strategy_options``; split by shape."""
    from augment_ft.strategies.builtin import STRATEGIES

    unknown = set(config.strategy_options) - set(config.strategies)
    if unknown:
        msg = f"strategy_options given for strategies not in use: {', '.join(sorted(unknown))}"
        raise ConfigError(msg)
    per_doc: list[Strategy] = []
    per_facts: list[FactStrategy] = []
    for name in config.strategies:
        strategy: Any = STRATEGIES.create(name, **config.strategy_options.get(name, {}))
        (per_facts if hasattr(strategy, "run_facts") else per_doc).append(strategy)
    return per_doc, per_facts


def make_backend(config: RunConfig) -> Backend:
    """The raw backend the config names (no cache, retries or limits yet)."""
    if config.backend == "openai":
        from augment_ft.backends.openai_compat import OpenAIBackend

        if not config.model:
            msg = "the openai backend needs --model (e.g. gpt-4o-mini, or the server's model name)"
            raise ConfigError(msg)
        return OpenAIBackend(config.model, base_url=config.base_url, timeout=config.timeout)
    if config.backend == "local":
        from augment_ft.backends.local import LocalBackend

        return LocalBackend(config.model, n_ctx=config.n_ctx, seed=config.seed)
    from augment_ft.backends.estimate import stub_for_schema
    from augment_ft.backends.scripted import ScriptedBackend
    from augment_ft.core.hashing import canonical_json

    def answer(request: ChatRequest) -> str:
        schema = request.json_schema
        return canonical_json(stub_for_schema(schema)) if schema else "stub"

    return ScriptedBackend(answer, model=config.model or "scripted")


@dataclass
class OpenStack:
    """The backend a run uses (None when no strategy calls a model) and its statistics."""

    backend: Backend | None
    stats: Callable[[], dict[str, Any]]


@asynccontextmanager
async def open_backend(
    config: RunConfig, backend: Backend | None, estimate: bool, needs_llm: bool = True
) -> AsyncIterator[OpenStack]:
    """Wrap the backend in usage(cache(limits(retry(...)))); close everything at the end."""
    from augment_ft.backends.estimate import EstimatingBackend
    from augment_ft.backends.stack import build_stack
    from augment_ft.backends.usage import PriceTable

    if not needs_llm:
        yield OpenStack(None, dict)
        return
    counter = TokenCounter(config.model or "")
    cache_path = None if estimate else config.cache_path()
    if cache_path is not None:
        make_parent(cache_path, "the response cache")
    if estimate:
        raw: Backend = EstimatingBackend(
            config.model or "local", lambda r: counter.count_messages(r.messages)
        )
    else:
        raw = backend if backend is not None else make_backend(config)
    try:
        stack = build_stack(
            raw,
            cache_path=cache_path,
            refresh=config.refresh_cache,
            max_in_flight=config.concurrency,
            # An estimate calls nothing, so it waits for no budget.
            rpm=None if estimate else config.requests_per_minute,
            tpm=None if estimate else config.tokens_per_minute,
            max_attempts=config.max_attempts,
            base_delay=config.retry_base_delay,
            prices=PriceTable().with_prices(config.prices, source="config prices"),
        )
    except BaseException:
        await _aclose(raw)
        raise
    try:
        yield OpenStack(stack, stack.stats.as_dict)
    finally:
        stack.close()
        await _aclose(raw)


async def _aclose(backend: Backend) -> None:
    """Close a backend that holds connections or a model (not every backend does)."""
    aclose = getattr(backend, "aclose", None)
    if aclose is not None:
        await aclose()


def make_parent(path: Path, what: str) -> None:
    """Create the directory ``path`` goes in; an OutputError naming ``what`` if it cannot."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        msg = f"cannot create the directory for {what} {path}: {exc.strerror or exc}"
        raise OutputError(msg) from exc


def preflight(config: RunConfig, *, uses_cache: bool = True) -> None:
    """Fail before any work on what can be checked up front: inputs, where files go.

    A missing input is an InputError now rather than after the outputs are opened.
    """
    if config.inputs:
        find_files(config.inputs)  # checks every input before it yields anything
    cache = config.cache_path() if uses_cache else None
    if cache is not None:
        make_parent(cache, "the response cache")
    if config.report:
        report = Path(config.report)
        make_parent(report, "the report")
        if report.is_dir():
            raise OutputError(f"cannot write the report {report}: it is a directory")


def build_deduplicator(config: RunConfig, drops: DropLog) -> Deduplicator:
    """Exact, near-duplicate and decontamination filters as configured."""
    window = config.near_window or None
    near = (
        NearDeduper(threshold=config.near_threshold, window=window) if config.dedup_near else None
    )
    decontam = None
    if config.against:
        decontam = Decontaminator(read_eval_texts(config.against), ngram=config.ngram)
    return Deduplicator(exact=config.dedup_exact, near=near, decontam=decontam, drops=drops)


class Outputs:
    """Formats, validates and writes kept examples to train (and val) JSONL files."""

    def __init__(self, config: RunConfig, drops: DropLog, *, dry: bool) -> None:
        self.config = config
        self.drops = drops
        self.active = config.output is not None and not dry
        self.format = FORMATS.create(
            config.format, max_tokens=config.max_example_tokens, model=config.model or ""
        )
        if config.system_prompt and not self.format.supports_system_prompt:
            msg = f"format {config.format!r} has no place for a system prompt; drop --system-prompt"
            raise ConfigError(msg)
        self.written: Counter[str] = Counter()
        self.already_present = 0
        self.writers: dict[str, JsonlWriter] = {}

    def _path(self, split: str) -> Path:
        return split_path(Path(self.config.output or ""), split)

    def __enter__(self) -> Outputs:
        if self.active:
            splits = ["train", "val"] if self.config.val_fraction > 0 else ["train"]
            try:
                for split in [*splits, "provenance"]:
                    self.writers[split] = JsonlWriter(
                        self._path(split),
                        resume=self.config.resume,
                        overwrite=self.config.force,
                        create_dirs=True,
                        autoflush=False,  # flush() after each admitted batch
                        # Exact dedup already drops every repeated identity (equal ids
                        # mean equal normalized text), so new ones need no remembering.
                        remember_new=not self.config.dedup_exact,
                    )
            except BaseException:
                self.__exit__()  # close the writers already open before reporting
                raise
        return self

    def __exit__(self, *exc: object) -> None:
        for writer in self.writers.values():
            writer.close()

    def write(self, example: Example) -> None:
        """Format, validate, route to train/val by source document, and write once."""
        record = self.format.to_record(example, system_prompt=self.config.system_prompt)
        problems = self.format.validate(record)
        if problems:
            self.drops.add(
                "format",
                "invalid_record",
                source_id=example.provenance.source_id,
                detail=problems[0],
            )
            return
        split = "train"
        if self.config.val_fraction > 0:
            split = split_train_val(
                example.provenance.source_id, self.config.val_fraction, self.config.seed
            )
        if self.writers[split].write(record, example.id):
            self.written[split] += 1
        else:
            self.already_present += 1
        self.writers["provenance"].write(provenance_record(example), example.id)

    def flush(self) -> None:
        """Hand every record written so far to the operating system."""
        for writer in self.writers.values():
            writer.flush()

    def paths(self, report: str | None) -> dict[str, str]:
        """Where things went, for the report."""
        out = {split: str(self._path(split)) for split in self.writers}
        if report:
            out["report"] = report
        return out


_END: Any = object()  # the end of ordered_map's input (an item may be None)


async def ordered_map(
    items: Iterable[T], fn: Callable[[T], Awaitable[R]], window: int
) -> AsyncIterator[R]:
    """Run ``fn`` over items with at most ``window`` in flight; yield results in input order.

    A slow item does not hold the others up: while it runs, later items keep starting as
    earlier ones finish, up to ``4 * window`` results waiting for their turn.
    """
    pending: deque[asyncio.Future[R]] = deque()  # started, not yet yielded, in input order
    running: set[asyncio.Future[R]] = set()
    source = iter(items)
    exhausted = False
    try:
        while True:
            while not exhausted and len(running) < window and len(pending) < 4 * window:
                item = next(source, _END)
                if item is _END:
                    exhausted = True
                    break
                future = asyncio.ensure_future(fn(item))
                pending.append(future)
                running.add(future)
                future.add_done_callback(running.discard)
            while pending and pending[0].done():
                yield pending.popleft().result()
            if not pending:
                if exhausted:
                    return
                continue
            await asyncio.wait({pending[0], *running}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

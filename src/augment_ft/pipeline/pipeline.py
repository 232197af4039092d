"""The whole run in one place: read -> strategies -> dedup -> format -> write -> report.

Documents stream through a bounded window of concurrent tasks and come out in input
order, so the output order is stable for the same inputs, config and cache. Facts are
small and are closed over once, after the documents.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field

from augment_ft.backends.base import Backend
from augment_ft.core.config import RunConfig
from augment_ft.core.drops import DropLog
from augment_ft.core.errors import ConfigError
from augment_ft.core.models import Document, Example, Fact
from augment_ft.core.report import RunReport
from augment_ft.dedup import Deduplicator
from augment_ft.pipeline.assembly import (
    Outputs,
    Sources,
    build_deduplicator,
    build_strategies,
    open_backend,
    ordered_map,
    original_example,
    preflight,
)
from augment_ft.strategies.base import FactStrategy, Strategy, StrategyContext

__all__ = ["FLUSH_SECONDS", "AugmentResult", "Progress", "Run", "augment", "run"]

FLUSH_SECONDS = 0.5
"""Longest time kept examples wait in the dedup batch before they are written."""

Progress = Callable[[int, int], None]
"""Called as ``progress(documents_done, examples_made)`` while a run goes."""


@dataclass
class AugmentResult:
    """What :func:`augment` returns: the kept examples (when not written) and the report."""

    examples: list[Example]
    report: RunReport


@dataclass
class Run:
    """One run of the pipeline. ``backend`` overrides the one the config names."""

    config: RunConfig
    backend: Backend | None = None
    documents: Iterable[Document | Fact] | None = None
    progress: Progress | None = None
    estimate: bool = False
    drops: DropLog = field(default_factory=DropLog)
    kinds: Counter[str] = field(default_factory=Counter)
    documents_read: int = 0
    facts_read: int = 0
    outputs_opened: bool = False
    """True once the output files are open (so a failure may have left work to resume)."""

    async def examples(
        self,
        stack: Backend | None,
        doc_strategies: Sequence[Strategy],
        fact_strategies: Sequence[FactStrategy],
    ) -> AsyncIterator[Example]:
        """Every example the strategies make, in stable order, before dedup."""
        sources = Sources(self.config, self.drops, self.documents)
        ctx = StrategyContext(
            backend=stack,
            drops=self.drops,
            count_tokens=sources.counter.count,
            template_dir=self.config.template_dir,
            seed=self.config.seed,
        )
        docs: Iterable[Document] = sources.documents()
        if any(s.needs_corpus for s in doc_strategies):
            ctx.corpus = list(docs)
            docs = ctx.corpus
        done = 0
        async for batch in ordered_map(docs, self._per_document(doc_strategies, ctx), self.window):
            done += 1
            for example in batch:
                yield example
            if self.progress:
                self.progress(done, sum(self.kinds.values()))
        for strategy in fact_strategies:
            for example in await strategy.run_facts([*sources.facts, *ctx.facts], ctx):
                yield example
        self.documents_read, self.facts_read = sources.documents_read, len(sources.facts)

    @property
    def window(self) -> int:
        """Documents in flight at once: enough to keep ``concurrency`` calls busy."""
        return max(2, self.config.concurrency)

    def _per_document(
        self, strategies: Sequence[Strategy], ctx: StrategyContext
    ) -> Callable[[Document], Awaitable[list[Example]]]:
        keep = self.config.keep_originals

        async def make(doc: Document) -> list[Example]:
            out = [original_example(doc)] if keep else []
            for strategy in strategies:
                out += await strategy.run(doc, ctx)
            return out

        return make

    async def execute(self) -> tuple[list[Example], RunReport]:
        """Run to the end: write (or collect) the kept examples and build the report."""
        started = time.monotonic()
        kept: list[Example] = []
        per_doc, per_facts = build_strategies(self.config)
        needs_llm = any(s.uses_llm for s in per_doc) or any(s.uses_llm for s in per_facts)
        preflight(self.config, uses_cache=needs_llm and not self.estimate)
        # Outputs first: an output that may not be overwritten fails before a model loads.
        with (
            build_deduplicator(self.config, self.drops) as dedup,
            Outputs(self.config, self.drops, dry=self.estimate) as outputs,
        ):
            self.outputs_opened = outputs.active
            keep = outputs.write if outputs.active else kept.append
            flush = outputs.flush if outputs.active else _nothing
            async with open_backend(self.config, self.backend, self.estimate, needs_llm) as stack:
                stream = self.examples(stack.backend, per_doc, per_facts)
                await self._admit(stream, dedup, keep, flush)
                stats = stack.stats()
            report = RunReport.assemble(
                documents_read=self.documents_read,
                facts_read=self.facts_read,
                kinds=self.kinds,
                written=outputs.written,
                already_present=outputs.already_present,
                drops=self.drops,
                backend=stats,
                wall_seconds=time.monotonic() - started,
                outputs=outputs.paths(self.config.report),
                dry_run=self.estimate,
            )
        if self.config.report:
            report.write(self.config.report)
        return kept, report

    async def _admit(
        self,
        stream: AsyncIterator[Example],
        dedup: Deduplicator,
        keep: Callable[[Example], None],
        flush: Callable[[], None],
    ) -> None:
        """Count, deduplicate and keep every example of ``stream``.

        Dedup decides a batch at a time (faster), and a batch decides exactly as one at a
        time would; flushing also every ``FLUSH_SECONDS`` keeps the output growing during
        slow runs, so a killed run leaves its work on disk for ``--resume``.
        """
        last_flush = time.monotonic()
        async for example in stream:
            self.kinds[example.kind] += 1
            admitted = dedup.push(example)
            if not admitted and time.monotonic() - last_flush >= FLUSH_SECONDS:
                admitted = dedup.flush()
            if admitted:
                last_flush = time.monotonic()
            for item in admitted:
                keep(item)
            if admitted:
                flush()  # one write per batch, not two per record
        for item in dedup.flush():
            keep(item)
        flush()


def _nothing() -> None:
    """The flush of a run that writes no files."""


async def run(
    config: RunConfig,
    *,
    backend: Backend | None = None,
    progress: Progress | None = None,
    estimate: bool = False,
) -> RunReport:
    """Run the pipeline as configured and return the report (the CLI's ``run``)."""
    runner = Run(config, backend=backend, progress=progress, estimate=estimate)
    _, report = await runner.execute()
    return report


def _split_inputs(
    inputs: Iterable[str | os.PathLike[str] | Document | Fact],
) -> tuple[list[str], list[Document | Fact]]:
    """Paths to read, and documents or facts given as objects, in the order given."""
    paths: list[str] = []
    objects: list[Document | Fact] = []
    for item in inputs:
        if isinstance(item, (str, os.PathLike)):
            paths.append(os.fspath(item))
        elif isinstance(item, (Document, Fact)):
            objects.append(item)
        else:
            msg = f"augment() inputs must be paths, Documents or Facts, got {type(item).__name__}"
            raise ConfigError(msg)
    return paths, objects


def augment(
    inputs: Iterable[str | os.PathLike[str] | Document | Fact],
    *,
    strategies: Sequence[str] = ("split", "reverse"),
    backend: Backend | None = None,
    output: str | os.PathLike[str] | None = None,
    **options: object,
) -> AugmentResult:
    """One call from documents (or paths) to examples and a report, for scripts.

    Without ``output`` the kept examples are returned; with it they are written as JSONL.
    ``options`` are any :class:`RunConfig` fields (``format``, ``cache``, ``seed``...).
    Objects are read before paths.
    """
    from augment_ft.backends.base import run_sync
    from augment_ft.core.config import build_config

    paths, objects = _split_inputs(inputs)
    data: dict[str, object] = {
        "inputs": paths,
        "strategies": list(strategies),
        "output": None if output is None else os.fspath(output),
    }
    if backend is not None:
        data["backend"] = "scripted"  # a label only: the given backend is the one used
    data.update(options)
    config = build_config(data, origin="augment() arguments")
    runner = Run(config, backend=backend, documents=objects or None)
    kept, report = run_sync(runner.execute())
    return AugmentResult(examples=kept, report=report)

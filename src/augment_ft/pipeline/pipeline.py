"""The whole run on one screen: source -> step (strategies) -> facts -> dedup -> sink -> report.

Documents stream through the per-document :func:`~augment_ft.pipeline.step.step`, mapped
over a bounded window of concurrent tasks whose results come out in input order, so the
output is stable for the same inputs, config and cache. The facts given as input and the
facts the step found go to the fact strategies after the documents. Each part counts its
own work; the report is the sum of those counts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from augment_ft.backends.base import Backend
from augment_ft.core.models import Example
from augment_ft.core.report import RunReport
from augment_ft.dedup import Deduplicator
from augment_ft.inputs.source import Source
from augment_ft.outputs.sink import Sink
from augment_ft.pipeline.counts import Counts, Tally, finish_report
from augment_ft.pipeline.engine import ordered_map
from augment_ft.pipeline.step import StepParts, step
from augment_ft.strategies.base import FactStrategy

__all__ = ["FLUSH_SECONDS", "Pipeline", "Progress"]

FLUSH_SECONDS = 0.5
"""Longest time kept examples wait in the dedup batch before they are written."""

Progress = Callable[[int, int], None]
"""Called as ``progress(documents_done, examples_made)`` while a run goes."""


@dataclass
class Pipeline:
    """A run made of parts passed in; :func:`~augment_ft.pipeline.build.build_pipeline`
    makes them from a :class:`~augment_ft.core.config.RunConfig`, a test may make its own."""

    source: Source
    step: StepParts
    fact_strategies: Sequence[FactStrategy]
    backends: Sequence[Backend | None]
    """Every model the run opened (the strategies', the judge's): closed at the end."""
    dedup: Deduplicator
    sink: Sink
    usage: Callable[[], dict[str, Any]] = dict
    judge_usage: Callable[[], dict[str, Any]] = dict
    window: int = 8
    needs_corpus: bool = False
    report_path: str | None = None
    dry_run: bool = False
    progress: Progress | None = None

    async def run(self) -> RunReport:
        """Run to the end: write (or keep) the kept examples; build and write the report."""
        started = time.monotonic()
        try:
            with self.sink, self.dedup:  # outputs first: a refused output fails before work
                # The tokenizer loads off the loop, not in the middle of the first call.
                await asyncio.to_thread(self.step.context.count_tokens, "warm")
                tally = await self._documents(self._parts())
                await self._admit(self._fact_examples(tally))
        finally:
            for backend in {id(b): b for b in self.backends if b is not None}.values():
                await backend.aclose()
        parts = [
            Counts.of_source(self.source),
            tally.counts(),
            Counts(drops=self.dedup.drops),
            Counts.of_sink(self.sink),
            Counts(usage=self.usage(), judge=self.judge_usage()),
        ]
        return finish_report(
            Counts.combined(parts),
            seconds=time.monotonic() - started,
            outputs=self.sink.paths(),
            path=self.report_path,
            dry_run=self.dry_run,
        )

    def _parts(self) -> StepParts:
        """The step's parts, the verify stage holding every fact of the inputs."""
        verify = self.step.verify
        if verify is None:
            return self.step
        return replace(self.step, verify=verify.with_facts(self.source.collect_facts()))

    async def _documents(self, parts: StepParts) -> Tally:
        """Every document through the step, in input order, its examples admitted as they come."""
        docs: Iterable[Any] = self.source.documents()
        corpus = list(docs) if self.needs_corpus else []
        tally = Tally()

        async def results() -> AsyncIterator[Example]:
            mapped = ordered_map(corpus or docs, lambda d: step(d, parts, corpus), self.window)
            async for result in mapped:
                tally.add(result)
                for example in result.examples:
                    yield example
                if self.progress is not None:
                    self.progress(tally.documents, sum(tally.made.values()))

        await self._admit(results())
        return tally

    async def _fact_examples(self, tally: Tally) -> AsyncIterator[Example]:
        """The fact strategies over the facts given and the facts found, in that order."""
        facts = [*self.source.shard_facts, *tally.facts]
        ctx = self.step.context.for_document()
        for strategy in self.fact_strategies:
            for example in await strategy.run_facts(facts, ctx):
                tally.made[example.kind] += 1
                yield example
        tally.drops.merge(ctx.drops)

    async def _admit(self, stream: AsyncIterator[Example]) -> None:
        """Deduplicate and keep every example of ``stream``, in order.

        Dedup decides a batch at a time (faster), exactly as one at a time would; flushing
        also every ``FLUSH_SECONDS`` keeps the output growing during slow runs, so a killed
        run leaves its work on disk for ``--resume``.
        """
        last_flush = time.monotonic()
        async for example in stream:
            admitted = self.dedup.push(example)
            if not admitted and time.monotonic() - last_flush >= FLUSH_SECONDS:
                admitted = self.dedup.flush()
            if admitted:
                last_flush = time.monotonic()
                for item in admitted:
                    self.sink.write(item)
                self.sink.flush()  # one write per batch, not two per record
        for item in self.dedup.flush():
            self.sink.write(item)
        self.sink.flush()

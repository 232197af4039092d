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
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from augment_ft.backends.base import Backend
from augment_ft.backends.probe import probe
from augment_ft.core.drops import DropLog
from augment_ft.core.errors import BackendUnavailableError
from augment_ft.core.models import Example, Fact
from augment_ft.core.report import RunReport
from augment_ft.dedup import Deduplicator
from augment_ft.inputs.source import Source
from augment_ft.outputs.sink import Sink
from augment_ft.pipeline.engine import ordered_map
from augment_ft.pipeline.step import StepParts, StepResult, step
from augment_ft.strategies.base import FactStrategy

__all__ = ["FLUSH_SECONDS", "Pipeline", "Progress", "Tally", "fail_if_no_call_succeeded"]

FLUSH_SECONDS = 0.5
"""Longest time kept examples wait in the dedup batch before they are written."""

Progress = Callable[[int, int], None]
"""Called as ``progress(documents_done, examples_made)`` while a run goes."""


@dataclass
class Tally:
    """What the strategies made, found and dropped over the run (returned, not shared)."""

    made: Counter[str] = field(default_factory=Counter)
    facts: list[Fact] = field(default_factory=list)
    drops: DropLog = field(default_factory=DropLog)
    quality: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add(self, result: StepResult) -> None:
        self.made.update(example.kind for example in result.examples)
        self.facts += result.facts
        self.drops.merge(result.drops)
        self.quality.update(result.quality)


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
    probes: Sequence[Backend] = ()
    """Backends asked one cheap question before the first document (dead URL, bad key)."""
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
                await asyncio.gather(
                    *(probe(backend) for backend in self.probes),
                    # The tokenizer loads off the loop, beside the probe, not in the first call.
                    asyncio.to_thread(self.step.context.count_tokens, "warm"),
                )
                tally = await self._documents(self._parts())
                await self._admit(self._fact_examples(tally))
        finally:
            for backend in {id(b): b for b in self.backends if b is not None}.values():
                await backend.aclose()
        report = self._report(tally, time.monotonic() - started)
        if self.report_path:
            report.write(self.report_path)
        fail_if_no_call_succeeded(report.backend, "model")
        fail_if_no_call_succeeded(report.judge, "judge")
        return report

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
            done = 0
            mapped = ordered_map(corpus or docs, lambda d: step(d, parts, corpus), self.window)
            async for result in mapped:
                tally.add(result)
                done += 1
                for example in result.examples:
                    yield example
                if self.progress is not None:
                    self.progress(done, sum(tally.made.values()))

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

    def _report(self, tally: Tally, seconds: float) -> RunReport:
        """The sum of the parts' own counts."""
        outputs = self.sink.paths()
        if self.report_path:
            outputs["report"] = self.report_path
        drops = DropLog.combined(
            [self.source.drops, tally.drops, self.dedup.drops, self.sink.drops]
        )
        return RunReport.assemble(
            documents_read=self.source.documents_read,
            facts_read=len(self.source.shard_facts),
            kinds=tally.made,
            written=self.sink.written,
            already_present=self.sink.already_present,
            drops=drops,
            backend=self.usage(),
            wall_seconds=seconds,
            outputs=outputs,
            dry_run=self.dry_run,
            quality=tally.quality,
            written_by_strategy=self.sink.by_strategy,
            judge=self.judge_usage(),
        )


def fail_if_no_call_succeeded(usage: dict[str, Any], what: str) -> None:
    """A run whose every model call failed is a failure, never a quiet success."""
    errors = sum(usage.get("errors", {}).values())
    if errors and not usage.get("calls") and not usage.get("cache_hits"):
        kinds = ", ".join(f"{n} {name}" for name, n in sorted(usage["errors"].items()))
        msg = (
            f"every {what} call failed ({kinds}); nothing a model wrote is in the output. "
            "The report lists the errors; fix the cause and rerun with --resume"
        )
        raise BackendUnavailableError(msg)

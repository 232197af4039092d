"""The whole run in one place: read -> strategies -> dedup -> format -> write -> report.

Documents stream through a bounded window of concurrent tasks and come out in input
order, so the output order is stable for the same inputs, config and cache. Facts are
small and are closed over once, after the documents.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field

from augment_ft.assembly import (
    Outputs,
    Sources,
    build_deduplicator,
    build_strategies,
    open_backend,
    ordered_map,
    original_example,
)
from augment_ft.backends.base import Backend
from augment_ft.config import RunConfig
from augment_ft.drops import DropLog
from augment_ft.models import Document, Example, Fact
from augment_ft.report import RunReport
from augment_ft.strategies.base import FactStrategy, Strategy, StrategyContext

__all__ = ["AugmentResult", "Progress", "Run", "augment", "run"]

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
        async with open_backend(self.config, self.backend, self.estimate, needs_llm) as stack:
            dedup = build_deduplicator(self.config, self.drops)
            with Outputs(self.config, self.drops, dry=self.estimate) as outputs:
                keep = outputs.write if outputs.active else kept.append
                async for example in self.examples(stack.backend, per_doc, per_facts):
                    self.kinds[example.kind] += 1
                    for admitted in dedup.push(example):
                        keep(admitted)
                for admitted in dedup.flush():
                    keep(admitted)
            report = RunReport.assemble(
                documents_read=self.documents_read,
                facts_read=self.facts_read,
                kinds=self.kinds,
                written=outputs.written,
                already_present=outputs.already_present,
                drops=self.drops,
                backend=stack.stats(),
                wall_seconds=time.monotonic() - started,
                outputs=outputs.paths(self.config.report),
                dry_run=self.estimate,
            )
        if self.config.report:
            report.write(self.config.report)
        return kept, report


async def run(config: RunConfig, *, backend: Backend | None = None, **kwargs: object) -> RunReport:
    """Run the pipeline as configured and return the report (the CLI's ``run``)."""
    _, report = await Run(config, backend=backend, **kwargs).execute()  # type: ignore[arg-type]
    return report


def augment(
    inputs: Iterable[str | Document | Fact],
    *,
    strategies: Sequence[str] = ("split", "reverse"),
    backend: Backend | None = None,
    output: str | None = None,
    **options: object,
) -> AugmentResult:
    """One call from documents (or paths) to examples and a report, for scripts.

    Without ``output`` the kept examples are returned; with it they are written as JSONL.
    ``options`` are any :class:`RunConfig` fields (``format``, ``cache``, ``seed``...).
    """
    from augment_ft.backends.base import run_sync
    from augment_ft.config import build_config

    items = list(inputs)
    paths = [str(i) for i in items if isinstance(i, str)]
    objects = [i for i in items if not isinstance(i, str)]
    data: dict[str, object] = {"inputs": paths, "strategies": list(strategies), "output": output}
    if backend is not None:
        data.setdefault("backend", "scripted")
    data.update(options)
    config = build_config(data, origin="augment() arguments")
    runner = Run(config, backend=backend, documents=objects or None)
    kept, report = run_sync(runner.execute())
    return AugmentResult(examples=kept, report=report)

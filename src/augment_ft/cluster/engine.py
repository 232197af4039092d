"""``augment-ft run --engine ray``: the same run as the local engine, spread over Ray actors.

The whole story (the work directory is described in :mod:`~augment_ft.cluster.workdir`)::

    prepare     outputs opened, the job's plan checked (a --resume keeps its settings)
    partition   documents to shards by a stable hash of their id (once per job)
    map         each shard not yet done, on an actor: the step, its examples and facts
                written, then DONE; a killed actor's shard is retried by Ray
    facts       the fact strategies over the given facts and every shard's found facts
    dedup       cluster-wide: decontamination, exact and near (cluster/dedup.py)
    write       each shard's kept examples through the run's own sink, in the cluster;
                the parts appended, shard by shard, to the output (cluster/output.py)
    report      the sum of every part's counts, as a local run reports them

The written set equals a local run's for the same inputs (with ``--near-window 0`` there,
as the cluster's near dedup is unbounded); the order is shard by shard.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from augment_ft.backends.base import run_sync
from augment_ft.backends.probe import probe
from augment_ft.cluster.output import SinkCounts, concatenate, pack_orders, write_part, write_shards
from augment_ft.cluster.records import StepSummary, line, parse_line
from augment_ft.cluster.runtime import actor_cpus, ray_session, require_ray, unwrapped_errors
from augment_ft.cluster.workdir import Partition, WorkDir
from augment_ft.cluster.worker import FAULT_ENV, ShardWorker
from augment_ft.core.config import RunConfig
from augment_ft.core.drops import DropLog
from augment_ft.core.errors import ConfigError
from augment_ft.core.models import Example, Fact
from augment_ft.core.report import RunReport
from augment_ft.inputs.source import Source
from augment_ft.outputs.sink import Sink
from augment_ft.pipeline.build import (
    build_backend,
    build_sink,
    build_source,
    build_step,
    make_backend,
    make_parent,
)
from augment_ft.pipeline.pipeline import fail_if_no_call_succeeded
from augment_ft.strategies.builtin import StrategySet, resolve_strategies

if TYPE_CHECKING:
    from augment_ft.cluster.dedup import Dedup

__all__ = ["RayRun", "prepare_ray_run", "run_on_ray"]

ProgressLine = Callable[[str], None]
"""Called with a one-line summary (shards, documents, examples, calls) as shards finish."""


def run_on_ray(config: RunConfig, *, progress: ProgressLine | None = None) -> RunReport:
    """Run ``config`` on Ray (see the module doc) and return the report."""
    return prepare_ray_run(config, progress=progress).run()


def prepare_ray_run(config: RunConfig, *, progress: ProgressLine | None = None) -> RayRun:
    """Check everything a run can check before it starts (the CLI's usage errors)."""
    require_ray()
    if config.resume and config.force:
        raise ConfigError("--resume and --force exclude each other: continue the job or redo it")
    chosen = resolve_strategies(config.strategies, config.strategy_options)
    work = WorkDir.of(config)
    source = build_source(config)
    source.check()
    if config.report:
        make_parent(Path(config.report), "the report")
    work.check(config)
    # The output is rewritten from the shards on every run, a resumed one included.
    rewrite = config.force or config.resume
    sink = build_sink(
        config.model_copy(update={"resume": False, "force": True}) if rewrite else config
    )
    return RayRun(config, chosen, source, sink, work, progress)


@dataclass
class RayRun:
    """A Ray run whose parts are built and checked; :meth:`run` does it."""

    config: RunConfig
    chosen: StrategySet
    source: Source
    sink: Sink
    work: WorkDir
    progress: ProgressLine | None = None

    def run(self) -> RunReport:
        """Run the job to the end (see the module doc); write and return the report."""
        started = time.monotonic()
        with self.sink:  # outputs first: a refused output fails before any work
            pass  # the output files are filled from the shards' parts at the end
        self._probe()
        self.work.prepare(self.config)
        if self.config.verify and self.chosen.uses_llm:
            self.source.collect_facts()  # the workers' verify stage reads them up front
        partition = self.work.partition(self.source)
        pending = self.work.pending()
        actors = max(1, min(self.config.workers, len(pending)))
        cpus = max(os.cpu_count() or 2, self.config.workers)
        with ray_session(self.config.ray_address, cpus, progress_bars=self.progress is None):
            records = self._map(pending, actors)
            fact_examples, fact_drops = self._fact_examples(partition, records)
            dedup = self._dedup(records, partition, fact_examples, actors)
            written = self._write(records, partition, fact_examples, dedup)
        report = self._report(
            records,
            partition,
            fact_kinds=Counter(example.kind for example in fact_examples),
            late_drops=[fact_drops, dedup.drops, written.drops],
            written=written,
            seconds=time.monotonic() - started,
        )
        if self.config.report:
            report.write(self.config.report)
        fail_if_no_call_succeeded(report.backend, "model")
        fail_if_no_call_succeeded(report.judge, "judge")
        return report

    def _probe(self) -> None:
        """One cheap call to the configured server before any work (a dead URL stops here)."""
        if self.config.backend != "openai" or not self.chosen.uses_llm:
            return
        raw = make_backend(self.config)
        try:
            run_sync(probe(raw))
        finally:
            run_sync(raw.aclose())

    def _map(self, pending: list[int], actors: int) -> list[dict[str, Any]]:
        """Run every pending shard on the actors; every shard's DONE record, in shard order."""
        import ray.data

        if pending:
            shards = ray.data.from_items(
                [{"shard": i} for i in pending], override_num_blocks=len(pending)
            )
            done = shards.map_batches(
                ShardWorker,
                batch_size=1,
                compute=ray.data.ActorPoolStrategy(size=actors),
                num_cpus=actor_cpus(actors),
                fn_constructor_kwargs={
                    "config_json": self.config.model_dump_json(),
                    "work_dir": str(self.work.root.resolve()),
                    "actors": actors,
                    "fault": os.environ.get(FAULT_ENV, ""),
                },
            )
            with unwrapped_errors():
                self._watch(done.iter_rows(), len(pending))
        # DONE on disk is the truth: it names the files of the attempt that committed.
        records = [self.work.shard(i).read_done() for i in self.work.with_documents()]
        return [record for record in records if record is not None]

    def _watch(self, rows: Iterable[dict[str, Any]], pending: int) -> None:
        """Consume the map's rows (one per shard) and show the progress line."""
        total = len(self.work.with_documents())
        done, docs, examples, calls = total - pending, 0, 0, 0
        for row in rows:
            record = json.loads(row["done"])
            done += 1
            docs += record["documents"]
            examples += sum(record["made"].values())
            calls += record["usage"].get("calls", 0)
            if self.progress is not None:
                self.progress(
                    f"shards {done}/{total}  documents {docs:,}  examples {examples:,}  "
                    f"calls {calls:,}"
                )

    def _fact_examples(
        self, partition: Partition, records: list[dict[str, Any]]
    ) -> tuple[list[Example], DropLog]:
        """The fact strategies over the given facts, then the found ones in input order."""
        found: list[tuple[int, Fact]] = []
        for record in records:
            for text in _lines(self.work.shard(record["shard"]).root / record["facts"]):
                seq, payload = text.split("\t", 1)
                found.append((int(seq), Fact.model_validate_json(payload)))
        found.sort(key=lambda pair: pair[0])
        shard = self.config.shard_pair()
        given = partition.facts if shard is None or shard[0] == 0 else []
        facts = [*given, *(fact for _, fact in found)]
        if not self.chosen.over_facts:
            return [], DropLog()
        return run_sync(self._run_fact_strategies(facts))

    async def _run_fact_strategies(self, facts: list[Fact]) -> tuple[list[Example], DropLog]:
        """The fact strategies on the driver; one that calls a model gets a stack of its own,
        caching in the work directory."""
        stack = None
        if any(strategy.uses_llm for strategy in self.chosen.over_facts):
            cache = self.work.root / "facts-cache.sqlite"
            config = self.config.model_copy(update={"cache": str(cache), "no_cache": False})
            stack = build_backend(config, make_backend(config))
        ctx = build_step(self.config, self.chosen, stack).context.for_document()
        made: list[Example] = []
        try:
            for strategy in self.chosen.over_facts:
                made += await strategy.run_facts(facts, ctx)
        finally:
            if stack is not None:
                await stack.aclose()
        return made, ctx.drops

    def _dedup(
        self,
        records: list[dict[str, Any]],
        partition: Partition,
        fact_examples: list[Example],
        actors: int,
    ) -> Dedup:
        """Every example of the job (the shards' parts and the fact examples) through the
        cluster-wide dedup."""
        import ray.data

        from augment_ft.cluster.dedup import Dedup, cluster_dedup, prefer_sort_shuffle

        paths = [str(self.work.shard(r["shard"]).root / r["examples"]) for r in records]
        rows = sum(sum(r["made"].values()) for r in records) + len(fact_examples)
        if rows == 0:
            return Dedup()
        examples = ray.data.read_text(paths)
        prefer_sort_shuffle(examples)  # a dataset of this run's own
        examples = examples.map_batches(_parsed, batch_format="pandas")
        if fact_examples:
            extra = [
                {"seq": partition.documents, "pos": pos, "example": e.model_dump_json()}
                for pos, e in enumerate(fact_examples)
            ]
            examples = examples.union(ray.data.from_items(extra))
        with unwrapped_errors():
            return cluster_dedup(examples, self.config, actors=max(1, actors), rows=rows)

    def _write(
        self,
        records: list[dict[str, Any]],
        partition: Partition,
        fact_examples: list[Example],
        dedup: Dedup,
    ) -> SinkCounts:
        """The kept examples through the run's sink: each shard in a task of its own, the
        fact strategies' examples here; then the parts appended, in order, to the output."""
        import ray.data

        dropped = _by_shard(dedup.dropped, self.work.owners())
        rows = [
            {
                "root": self.work.shard(r["shard"]).root.name,
                "examples": r["examples"],
                "dropped": pack_orders(dropped.get(r["shard"], [])),
            }
            for r in records
        ]
        counts = SinkCounts()
        if rows:
            shards: Any = ray.data.from_items(rows, override_num_blocks=len(rows))
            parts = shards.map_batches(
                write_shards,
                batch_size=1,
                fn_kwargs={
                    "config_json": self.config.model_dump_json(),
                    "work_dir": str(self.work.root.resolve()),
                },
            )
            with unwrapped_errors():
                for row in parts.iter_rows():
                    counts.add(SinkCounts.from_json(json.loads(row["counts"])))
        facts = self.work.root / "fact-examples"
        facts.mkdir(exist_ok=True)
        lines = [line(partition.documents, pos, e) for pos, e in enumerate(fact_examples)]
        counts.add(write_part(facts, lines, set(dropped.get(-1, [])), self.config))
        roots = [self.work.shard(r["shard"]).root for r in records]
        concatenate([*roots, facts], self.sink.paths())
        return counts

    def _report(
        self,
        records: list[dict[str, Any]],
        partition: Partition,
        *,
        fact_kinds: Counter[str],
        late_drops: list[DropLog],
        written: SinkCounts,
        seconds: float,
    ) -> RunReport:
        """The sum of the parts' own counts, in the shape of a local run's report."""
        total = StepSummary.combined(StepSummary.from_json(r) for r in records)
        outputs = {**self.sink.paths(), "work": str(self.work.root)}
        if self.config.report:
            outputs["report"] = self.config.report
        shard = self.config.shard_pair()
        return RunReport.assemble(
            documents_read=partition.documents,
            facts_read=len(partition.facts) if shard is None or shard[0] == 0 else 0,
            kinds=total.made + fact_kinds,
            written=written.written,
            already_present=0,
            drops=DropLog.combined([partition.drops, total.drops, *late_drops]),
            backend=total.usage,
            wall_seconds=seconds,
            outputs=outputs,
            quality=total.quality,
            written_by_strategy=written.by_strategy,
            judge=total.judge,
        )


def _by_shard(
    dropped: set[tuple[int, int]], owners: NDArray[np.uint32]
) -> dict[int, list[tuple[int, int]]]:
    """The dropped order keys by the shard of their document (-1: the fact examples,
    whose seq is one past the last document's)."""
    groups: dict[int, list[tuple[int, int]]] = {}
    for seq, pos in dropped:
        shard = int(owners[seq]) if seq < len(owners) else -1
        groups.setdefault(shard, []).append((seq, pos))
    return groups


def _parsed(rows: Any) -> Any:
    """Part-file lines as ``seq``, ``pos`` and ``example`` (JSON) columns."""
    import pandas as pd

    parsed = [parse_line(text) for text in rows["text"]]
    return pd.DataFrame(parsed, columns=["seq", "pos", "example"]).astype(
        {"seq": "int64", "pos": "int64"}
    )


def _lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8") as handle:
        yield from (text for text in handle if text.strip())

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
    report      the sum of every part's counts, by the function the local run uses

What to run comes as a :class:`~augment_ft.pipeline.recipe.Recipe` (pipeline/recipe.py
makes it from the config): plain options for this module, and the parts made where they
run, with the local run's builders; no field of the config is read here.

The written set equals a local run's for the same inputs (with ``--near-window 0`` there,
as the cluster's near dedup is unbounded); the order is shard by shard.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from augment_ft.backends.base import run_sync
from augment_ft.cluster.output import concatenate, pack_orders, write_part, write_shards
from augment_ft.cluster.records import line, parse_line
from augment_ft.cluster.runtime import actor_cpus, ray_session, require_ray, unwrapped_errors
from augment_ft.cluster.workdir import Partition, WorkDir
from augment_ft.cluster.worker import FAULT_ENV, ShardWorker
from augment_ft.core.config import RunConfig
from augment_ft.core.models import Example, Fact
from augment_ft.core.report import RunReport
from augment_ft.inputs.source import Source
from augment_ft.outputs.sink import Sink
from augment_ft.pipeline.counts import Counts, finish_report
from augment_ft.pipeline.recipe import ClusterOptions, Recipe, build_recipe

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
    recipe = build_recipe(config)
    options = recipe.options
    work = WorkDir.of(options)
    source = recipe.source()
    work.check(options)
    return RayRun(recipe, source, recipe.output_sink(), work, progress)


@dataclass
class RayRun:
    """A Ray run whose parts are built and checked; :meth:`run` does it."""

    recipe: Recipe
    source: Source
    sink: Sink
    work: WorkDir
    progress: ProgressLine | None = None
    options: ClusterOptions = field(init=False)

    def __post_init__(self) -> None:
        self.options = self.recipe.options

    def run(self) -> RunReport:
        """Run the job to the end (see the module doc); write and return the report."""
        started = time.monotonic()
        with self.sink:  # outputs first: a refused output fails before any work
            pass  # the output files are filled from the shards' parts at the end
        self.work.prepare(self.options)
        if self.options.needs_facts:
            self.source.collect_facts()  # the workers' verify stage reads them up front
        partition = self.work.partition(self.source)
        pending = self.work.pending()
        actors = max(1, min(self.options.workers, len(pending)))
        cpus = max(os.cpu_count() or 2, self.options.workers)
        with ray_session(self.options.address, cpus, progress_bars=self.progress is None):
            records = self._map(pending, actors)
            fact_examples, fact_counts = self._fact_examples(partition, records)
            dedup = self._dedup(records, partition, fact_examples, actors)
            written = self._write(records, partition, fact_examples, dedup)
        made = Counts(made=Counter(example.kind for example in fact_examples))
        parts = [
            partition.counts(),
            *(Counts.from_json(record["counts"]) for record in records),
            made,
            fact_counts,
            Counts(drops=dedup.drops),
            written,
        ]
        return finish_report(
            Counts.combined(parts),
            seconds=time.monotonic() - started,
            outputs={**self.sink.paths(), "work": str(self.work.root)},
            path=self.options.report,
        )

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
                    "recipe": self.recipe,
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
            counts = Counts.from_json(record["counts"])
            done += 1
            docs += record["documents"]
            examples += sum(counts.made.values())
            calls += counts.usage.get("calls", 0)
            if self.progress is not None:
                self.progress(
                    f"shards {done}/{total}  documents {docs:,}  examples {examples:,}  "
                    f"calls {calls:,}"
                )

    def _fact_examples(
        self, partition: Partition, records: list[dict[str, Any]]
    ) -> tuple[list[Example], Counts]:
        """The fact strategies over the given facts, then the found ones in input order."""
        found: list[tuple[int, Fact]] = []
        for record in records:
            for text in _lines(self.work.shard(record["shard"]).root / record["facts"]):
                seq, payload = text.split("\t", 1)
                found.append((int(seq), Fact.model_validate_json(payload)))
        found.sort(key=lambda pair: pair[0])
        facts = [*partition.given, *(fact for _, fact in found)]
        if not self.recipe.fact_strategies():
            return [], Counts()
        return run_sync(self._run_fact_strategies(facts))

    async def _run_fact_strategies(self, facts: list[Fact]) -> tuple[list[Example], Counts]:
        """The fact strategies on the driver; one that calls a model gets a stack of its own,
        caching in the work directory."""
        ctx, stack = self.recipe.fact_context(self.work.root / "facts-cache.sqlite")
        made: list[Example] = []
        try:
            for strategy in self.recipe.fact_strategies():
                made += await strategy.run_facts(facts, ctx)
        finally:
            if stack is not None:
                await stack.aclose()
        return made, Counts(drops=ctx.drops, usage=stack.as_dict() if stack else {})

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
        made = (Counts.from_json(r["counts"]).made for r in records)
        rows = sum(sum(kinds.values()) for kinds in made) + len(fact_examples)
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
            return cluster_dedup(examples, self.recipe, actors=max(1, actors), rows=rows)

    def _write(
        self,
        records: list[dict[str, Any]],
        partition: Partition,
        fact_examples: list[Example],
        dedup: Dedup,
    ) -> Counts:
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
        counts = Counts()
        if rows:
            shards: Any = ray.data.from_items(rows, override_num_blocks=len(rows))
            parts = shards.map_batches(
                write_shards,
                batch_size=1,
                fn_kwargs={"recipe": self.recipe, "work_dir": str(self.work.root.resolve())},
            )
            with unwrapped_errors():
                for row in parts.iter_rows():
                    counts.add(Counts.from_json(json.loads(row["counts"])))
        facts = self.work.root / "fact-examples"
        facts.mkdir(exist_ok=True)
        lines = [line(partition.documents, pos, e) for pos, e in enumerate(fact_examples)]
        counts.add(write_part(facts, lines, set(dropped.get(-1, [])), self.recipe))
        roots = [self.work.shard(r["shard"]).root for r in records]
        concatenate([*roots, facts], self.sink.paths())
        return counts


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

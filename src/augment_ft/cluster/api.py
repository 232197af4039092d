"""The Python API on Ray: a ``ray.data.Dataset`` of documents in, one of kept examples out.

For pipelines already on Ray. The step runs in actors over batches of rows, eagerly
(its results are materialized once, so no model call is made twice); the cluster-wide
dedup then decides what is kept, and the returned dataset is the kept examples, lazily.
A Hugging Face ``datasets.Dataset`` is taken too (converted with
``ray.data.from_huggingface``).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

from augment_ft.backends.base import run_sync
from augment_ft.cluster.records import StepSummary
from augment_ft.cluster.runtime import actor_cpus, ensure_ray, require_ray, unwrapped_errors
from augment_ft.cluster.worker import DocWorker
from augment_ft.core.config import RunConfig, build_config
from augment_ft.core.drops import DropLog
from augment_ft.core.errors import ConfigError
from augment_ft.core.models import Example, Fact
from augment_ft.core.report import RunReport
from augment_ft.pipeline.build import build_step
from augment_ft.pipeline.hf import is_hf_dataset
from augment_ft.pipeline.pipeline import fail_if_no_call_succeeded
from augment_ft.strategies.builtin import resolve_strategies

__all__ = ["OUTPUT_COLUMNS", "augment_dataset"]

OUTPUT_COLUMNS = ("id", "kind", "prompt", "completion", "source_id", "strategy", "provenance")
"""The columns of the returned dataset (``provenance`` is a JSON string)."""

_AFTER_DOCUMENTS = 1 << 62  # order key of the fact strategies' examples: after every document
_BATCH_ROWS = 256


def augment_dataset(dataset: Any, config: RunConfig | None = None, **options: object) -> Any:
    """Augment the documents of a Ray (or Hugging Face) dataset on Ray; the kept examples.

    Rows hold a ``text_field`` column (and optionally ``id_field``; other columns become
    metadata), or a ``path`` column naming files to read. ``config`` or ``options`` (any
    :class:`RunConfig` fields: ``backend``, ``model``, ``base_url``, ``strategies``,
    ``workers``, ``report``...) say how. Dedup is cluster-wide; of duplicates, the one
    whose document id hashes lowest is kept, the same one on every run. Joins the Ray
    instance already running (or ``ray_address``), else starts a local one and leaves it
    running. Returns a ``ray.data.Dataset`` with :data:`OUTPUT_COLUMNS`.
    """
    require_ray()
    config = _config(config, options)
    started = time.monotonic()
    ensure_ray(config.ray_address, max(2, config.workers))
    import ray.data

    from augment_ft.cluster.dedup import Dedup, cluster_dedup  # pandas, with the ray extra

    if is_hf_dataset(dataset):
        dataset = ray.data.from_huggingface(dataset)
    _check_columns(dataset, config)
    with unwrapped_errors():
        stepped = _step(dataset, config)
        summary, facts, given = _summary(
            stepped.map_batches(_side_rows, batch_format="pandas").take_all()
        )
        made, fact_drops = run_sync(_fact_examples(config, facts))
        examples = stepped.map_batches(_example_rows, batch_format="pandas")
        if made:
            extra = [
                {"seq": _AFTER_DOCUMENTS, "pos": pos, "example": e.model_dump_json()}
                for pos, e in enumerate(made)
            ]
            examples = examples.union(ray.data.from_items(extra))
        rows = sum(summary.made.values()) + len(made)
        dedup = (
            cluster_dedup(examples, config, actors=config.workers, rows=rows) if rows else Dedup()
        )
    late = [fact_drops, dedup.drops]
    seconds = time.monotonic() - started
    _report(config, summary, made=made, late=late, given=given, rows=rows, seconds=seconds)
    return examples.map_batches(_kept, fn_kwargs={"dropped": dedup.dropped}, batch_format="pandas")


def _config(config: RunConfig | None, options: dict[str, object]) -> RunConfig:
    """The run's config: ``config`` with ``options`` laid over it (or ``options`` alone)."""
    if config is None:
        config = build_config(dict(options), origin="augment_dataset() arguments")
    elif options:
        config = config.with_overrides(dict(options))
    chosen = resolve_strategies(config.strategies, config.strategy_options)
    if chosen.needs_corpus:
        msg = "augment_dataset() cannot give every document the whole corpus; use augment()"
        raise ConfigError(msg)
    return config


def _step(dataset: Any, config: RunConfig) -> Any:
    """The step over every row, in actors, materialized: no model call is ever made twice."""
    import ray.data

    actors = config.workers
    stepped = dataset.map_batches(
        DocWorker,
        batch_format="pyarrow",
        batch_size=_BATCH_ROWS,
        # Up to ``actors``: a dataset of fewer blocks cannot keep more busy (Ray warns).
        compute=ray.data.ActorPoolStrategy(min_size=1, max_size=actors),
        num_cpus=actor_cpus(actors),
        fn_constructor_kwargs={"config_json": config.model_dump_json(), "actors": actors},
    )
    return stepped.materialize()


def _check_columns(dataset: Any, config: RunConfig) -> None:
    """A ConfigError now, not in an actor later, when no text (or path) column exists."""
    names = list(dataset.schema().names)
    if config.text_field not in names and "path" not in names:
        msg = (
            f"the dataset has no {config.text_field!r} column (its columns: "
            f"{', '.join(names)}); name the text column with text_field=, or give a 'path' column"
        )
        raise ConfigError(msg)


def _side_rows(rows: Any) -> Any:
    """Everything the step made besides examples: summaries, facts found and given."""
    return rows[rows["what"] != "example"]


def _example_rows(rows: Any) -> Any:
    examples = rows[rows["what"] == "example"]
    return examples[["seq", "pos", "payload"]].rename(columns={"payload": "example"})


def _summary(side: list[dict[str, Any]]) -> tuple[StepSummary, list[Fact], int]:
    """The batches' summed counts; the facts (given ones first, then those found, in
    order); and how many were given."""
    summaries = [
        StepSummary.from_json(json.loads(r["payload"])) for r in side if r["what"] == "summary"
    ]
    given = [Fact.model_validate_json(r["payload"]) for r in side if r["what"] == "given"]
    found = sorted((r["seq"], r["payload"]) for r in side if r["what"] == "fact")
    facts = given + [Fact.model_validate_json(payload) for _, payload in found]
    return StepSummary.combined(summaries), facts, len(given)


async def _fact_examples(config: RunConfig, facts: list[Fact]) -> tuple[list[Example], DropLog]:
    """The fact strategies (symbolic) over every fact, on the driver (they call no model)."""
    chosen = resolve_strategies(config.strategies, config.strategy_options)
    if any(strategy.uses_llm for strategy in chosen.over_facts):
        raise ConfigError("augment_dataset() runs no fact strategy that calls a model")
    ctx = build_step(config, chosen, None).context.for_document()
    made: list[Example] = []
    for strategy in chosen.over_facts:
        made += await strategy.run_facts(facts, ctx)
    return made, ctx.drops


def _kept(rows: Any, dropped: set[tuple[int, int]]) -> Any:
    """The kept example rows as :data:`OUTPUT_COLUMNS`."""
    import pandas as pd

    records = []
    for seq, pos, payload in zip(rows["seq"], rows["pos"], rows["example"], strict=True):
        if (int(seq), int(pos)) in dropped:
            continue
        example = Example.model_validate_json(payload)
        provenance = example.provenance
        records.append(
            (
                example.id,
                example.kind,
                example.prompt,
                example.completion,
                provenance.source_id,
                provenance.strategy,
                provenance.model_dump_json(exclude_none=True),
            )
        )
    return pd.DataFrame(records, columns=list(OUTPUT_COLUMNS))


def _report(
    config: RunConfig,
    summary: StepSummary,
    *,
    made: list[Example],
    late: list[DropLog],
    given: int,
    rows: int,
    seconds: float,
) -> None:
    """Write the report when ``report`` is set; fail a run whose every model call failed.
    ``late`` are the fact strategies' drops, then the dedup's."""
    dropped = late[-1].total()
    report = RunReport.assemble(
        documents_read=summary.documents,
        facts_read=given,
        kinds=summary.made + Counter(example.kind for example in made),
        written=Counter({"train": rows - dropped}),
        already_present=0,
        drops=DropLog.combined([summary.drops, *late]),
        backend=summary.usage,
        wall_seconds=seconds,
        outputs={},
        quality=summary.quality,
        judge=summary.judge,
    )
    if config.report:
        report.write(config.report)
    fail_if_no_call_succeeded(report.backend, "model")
    fail_if_no_call_succeeded(report.judge, "judge")

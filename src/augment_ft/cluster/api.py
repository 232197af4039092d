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
from augment_ft.cluster.runtime import actor_cpus, ensure_ray, require_ray, unwrapped_errors
from augment_ft.cluster.worker import DocWorker
from augment_ft.core.config import RunConfig
from augment_ft.core.errors import ConfigError
from augment_ft.core.models import Example, Fact
from augment_ft.pipeline.counts import Counts, finish_report
from augment_ft.pipeline.hf import is_hf_dataset
from augment_ft.pipeline.recipe import Recipe, dataset_recipe

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
    recipe = dataset_recipe(config, options)
    started = time.monotonic()
    workers = recipe.options.workers
    ensure_ray(recipe.options.address, max(2, workers))
    import ray.data

    from augment_ft.cluster.dedup import Dedup, cluster_dedup  # pandas, with the ray extra

    if is_hf_dataset(dataset):
        dataset = ray.data.from_huggingface(dataset)
    _check_columns(dataset, recipe.options.text_field)
    with unwrapped_errors():
        stepped = _step(dataset, recipe, workers)
        stepped_counts, facts = _side(
            stepped.map_batches(_side_rows, batch_format="pandas").take_all()
        )
        made, fact_counts = run_sync(_fact_examples(recipe, facts))
        examples = stepped.map_batches(_example_rows, batch_format="pandas")
        if made:
            extra = [
                {"seq": _AFTER_DOCUMENTS, "pos": pos, "example": e.model_dump_json()}
                for pos, e in enumerate(made)
            ]
            examples = examples.union(ray.data.from_items(extra))
        rows = sum(stepped_counts.made.values()) + len(made)
        dedup = cluster_dedup(examples, recipe, actors=workers, rows=rows) if rows else Dedup()
    kept = Counts(drops=dedup.drops, written=Counter({"train": rows - dedup.drops.total()}))
    finish_report(
        Counts.combined([stepped_counts, fact_counts, kept]),
        seconds=time.monotonic() - started,
        outputs={},
        path=recipe.options.report,
    )
    return examples.map_batches(_kept, fn_kwargs={"dropped": dedup.dropped}, batch_format="pandas")


def _step(dataset: Any, recipe: Recipe, actors: int) -> Any:
    """The step over every row, in actors, materialized: no model call is ever made twice."""
    import ray.data

    stepped = dataset.map_batches(
        DocWorker,
        batch_format="pyarrow",
        batch_size=_BATCH_ROWS,
        # Up to ``actors``: a dataset of fewer blocks cannot keep more busy (Ray warns).
        compute=ray.data.ActorPoolStrategy(min_size=1, max_size=actors),
        num_cpus=actor_cpus(actors),
        fn_constructor_kwargs={"recipe": recipe, "actors": actors},
    )
    return stepped.materialize()


def _check_columns(dataset: Any, text_field: str) -> None:
    """A ConfigError now, not in an actor later, when no text (or path) column exists."""
    names = list(dataset.schema().names)
    if text_field not in names and "path" not in names:
        msg = (
            f"the dataset has no {text_field!r} column (its columns: "
            f"{', '.join(names)}); name the text column with text_field=, or give a 'path' column"
        )
        raise ConfigError(msg)


def _side_rows(rows: Any) -> Any:
    """Everything the step made besides examples: counts, facts found and given."""
    return rows[rows["what"] != "example"]


def _example_rows(rows: Any) -> Any:
    examples = rows[rows["what"] == "example"]
    return examples[["seq", "pos", "payload"]].rename(columns={"payload": "example"})


def _side(side: list[dict[str, Any]]) -> tuple[Counts, list[Fact]]:
    """The batches' summed counts, and the facts (given ones first, then those found, in
    order)."""
    counts = [Counts.from_json(json.loads(r["payload"])) for r in side if r["what"] == "counts"]
    given = [Fact.model_validate_json(r["payload"]) for r in side if r["what"] == "given"]
    found = sorted((r["seq"], r["payload"]) for r in side if r["what"] == "fact")
    facts = given + [Fact.model_validate_json(payload) for _, payload in found]
    return Counts.combined(counts), facts


async def _fact_examples(recipe: Recipe, facts: list[Fact]) -> tuple[list[Example], Counts]:
    """The fact strategies (symbolic) over every fact, on the driver (they call no model)."""
    ctx, _ = recipe.fact_context(None)
    made: list[Example] = []
    for strategy in recipe.fact_strategies():
        made += await strategy.run_facts(facts, ctx)
    return made, Counts(made=Counter(example.kind for example in made), drops=ctx.drops)


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

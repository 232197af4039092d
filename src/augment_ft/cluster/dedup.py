"""Cluster-wide dedup on Ray Data: which example rows a run drops, and why.

Input: a dataset of ``(seq, pos, example)`` rows, every example of the run. Output: the
order keys of the dropped rows and a drop ledger (stage ``dedup``), counted as the local
engine counts them. It takes one shuffle:

1. keys (tasks; each worker process builds the decontaminator once): per row its
   contamination, its fingerprint and its MinHash band keys, each key a row headed for
   the hash partition of the key;
2. resolve (one group per partition): rows sharing a fingerprint are exact duplicates of
   the first clean one; rows sharing a band key are candidate pairs, verified where they
   meet (:func:`~augment_ft.cluster.dedup_parts.resolve_partition`);
3. the findings (drops and verified pairs: as many as there are duplicates) come to the
   driver, which settles the near-duplicate survivors in input order.

Only findings travel back to the driver, never the kept rows, so its memory grows with
the duplicates, not with the run.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import pandas as pd

from augment_ft.cluster.dedup_parts import (
    Dedup,
    DedupKeys,
    min_equal_values,
    resolve_partition,
    settle,
)
from augment_ft.pipeline.recipe import Recipe

__all__ = ["Dedup", "cluster_dedup", "partitions_for", "prefer_sort_shuffle"]

_ROWS_PER_PARTITION = 200_000


def partitions_for(rows: int, actors: int) -> int:
    """Hash partitions for a shuffle of ``rows`` rows: enough to keep each one small,
    and never fewer than two per actor (Ray's default of 200 is all overhead on a laptop)."""
    return max(2 * actors, min(4096, math.ceil(rows / _ROWS_PER_PARTITION)))


def prefer_sort_shuffle(dataset: Any) -> None:
    """Shuffle ``dataset`` (and what derives from it) by sorting, with tasks only.

    Measured on 2 CPUs, this dedup took 5.6 s (sort) vs 10 s (Ray's default hash shuffle,
    which starts aggregator actors first) at 20k rows, and 13.6 s vs 21 s at 200k. The
    setting lives in the dataset's context, which its ancestors share: call it only on a
    dataset whose whole lineage is the caller's own.
    """
    import ray.data

    dataset.context.shuffle_strategy = ray.data.context.ShuffleStrategy.SORT_SHUFFLE_PULL_BASED


def cluster_dedup(examples: Any, recipe: Recipe, *, actors: int, rows: int) -> Dedup:
    """Decontamination, exact and near dedup of ``examples`` as the run's dedup is made
    (see the module doc)."""
    plan = recipe.deduplicator(evals=False)  # its parameters; the workers read the evals
    exact = plan.exact is not None
    if not (exact or plan.near or recipe.options.decontaminate):
        return Dedup()
    parts = partitions_for(rows, actors)
    min_equal = min_equal_values(plan.near) if plan.near is not None else 0
    findings = (
        examples.map_batches(
            _keys, fn_kwargs={"recipe": recipe, "partitions": parts}, batch_format="pandas"
        )
        .groupby("part", num_partitions=parts)
        .map_groups(
            resolve_partition,
            fn_kwargs={"min_equal": min_equal, "exact": exact},
            batch_format="pandas",
        )
    )
    return settle(findings.iter_batches(batch_format="pandas"))


@functools.lru_cache(maxsize=4)
def _keys_for(recipe: Recipe, partitions: int) -> DedupKeys:
    """One :class:`DedupKeys` per worker process and run (the eval files read once)."""
    return DedupKeys(recipe.deduplicator(), partitions)


def _keys(rows: pd.DataFrame, recipe: Recipe, partitions: int) -> pd.DataFrame:
    return _keys_for(recipe, partitions)(rows)

"""Writing the kept examples of a Ray job: a sink per shard in the cluster, then one file.

The run's own sink (format, validation, the train/val split, provenance, identities) runs
in a Ray task per shard, over the shard's examples less the dropped ones, into part files
in the shard's directory. The driver then appends the parts, shard by shard, to the
output files: a byte copy. The result is the file one sink fed every shard in turn would
have written, without one process formatting every record of the job.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from augment_ft.cluster.records import parse_line
from augment_ft.core.models import Example
from augment_ft.outputs.naming import ids_path, split_path
from augment_ft.pipeline.counts import Counts
from augment_ft.pipeline.recipe import Recipe

__all__ = ["PART", "concatenate", "pack_orders", "write_part", "write_shards"]

PART = "written.part"
"""The part file of a shard (its val, provenance and identity files are named after it)."""


def pack_orders(orders: Iterable[tuple[int, int]]) -> bytes:
    """Order keys as bytes (int64 pairs), to travel in a dataset row."""
    return np.array(list(orders), dtype=np.int64).reshape(-1, 2).tobytes()


def write_part(
    root: Path, lines: Iterable[str], dropped: set[tuple[int, int]], recipe: Recipe
) -> Counts:
    """The example lines of a shard, less ``dropped``, through the run's sink into ``root``."""
    sink = recipe.part_sink(root / PART)
    with sink:
        for text in lines:
            seq, pos, payload = parse_line(text)
            if (seq, pos) not in dropped:
                sink.write(Example.model_validate_json(payload))
    return Counts.of_sink(sink)


def write_shards(rows: dict[str, Any], recipe: Recipe, work_dir: str) -> dict[str, list[Any]]:
    """A Ray task: each row's shard (``root``, ``examples`` file, packed ``dropped``) written
    to its part files; the counts as JSON."""
    counts = []
    for root, examples, dropped in zip(
        rows["root"], rows["examples"], rows["dropped"], strict=True
    ):
        pairs = np.frombuffer(dropped, dtype=np.int64).reshape(-1, 2).tolist()
        folder = Path(work_dir) / str(root)
        with (folder / str(examples)).open(encoding="utf-8") as lines:
            written = write_part(folder, lines, {(a, b) for a, b in pairs}, recipe)
        counts.append(json.dumps(written.to_json()))
    return {"root": list(rows["root"]), "counts": counts}


def concatenate(parts: list[Path], outputs: Mapping[str, str]) -> None:
    """Each output file (and its identity file) as its parts' files, appended in order."""
    for split, final in outputs.items():
        for target, source_of in ((Path(final), _plain), (ids_path(final), ids_path)):
            with target.open("wb") as out:
                for root in parts:
                    source = source_of(split_path(root / PART, split))
                    if source.exists():
                        with source.open("rb") as part:
                            shutil.copyfileobj(part, out, 1 << 20)
                out.flush()
                os.fsync(out.fileno())


def _plain(path: Path) -> Path:
    return path

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
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from augment_ft.cluster.records import drops_from_json, drops_to_json, parse_line
from augment_ft.core.config import RunConfig
from augment_ft.core.drops import DropLog
from augment_ft.core.models import Example
from augment_ft.outputs.naming import ids_path, split_path
from augment_ft.outputs.sink import Sink
from augment_ft.pipeline.build import build_sink

__all__ = ["PART", "SinkCounts", "concatenate", "pack_orders", "write_part", "write_shards"]

PART = "written.part"
"""The part file of a shard (its val, provenance and identity files are named after it)."""


@dataclass
class SinkCounts:
    """What the sinks wrote and dropped, summed over the parts."""

    written: Counter[str] = field(default_factory=Counter)
    by_strategy: Counter[str] = field(default_factory=Counter)
    drops: DropLog = field(default_factory=DropLog)

    @classmethod
    def of(cls, sink: Sink) -> SinkCounts:
        return cls(Counter(sink.written), Counter(sink.by_strategy), sink.drops)

    def to_json(self) -> dict[str, Any]:
        return {
            "written": dict(self.written),
            "by_strategy": dict(self.by_strategy),
            "drops": drops_to_json(self.drops),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SinkCounts:
        return cls(
            Counter(data["written"]), Counter(data["by_strategy"]), drops_from_json(data["drops"])
        )

    def add(self, other: SinkCounts) -> None:
        self.written.update(other.written)
        self.by_strategy.update(other.by_strategy)
        self.drops.merge(other.drops)


def pack_orders(orders: Iterable[tuple[int, int]]) -> bytes:
    """Order keys as bytes (int64 pairs), to travel in a dataset row."""
    return np.array(list(orders), dtype=np.int64).reshape(-1, 2).tobytes()


def write_part(
    root: Path, lines: Iterable[str], dropped: set[tuple[int, int]], config: RunConfig
) -> SinkCounts:
    """The example lines of a shard, less ``dropped``, through the run's sink into ``root``."""
    part = config.model_copy(update={"output": str(root / PART), "resume": False, "force": True})
    sink = build_sink(part)
    with sink:
        for text in lines:
            seq, pos, payload = parse_line(text)
            if (seq, pos) not in dropped:
                sink.write(Example.model_validate_json(payload))
    return SinkCounts.of(sink)


def write_shards(rows: dict[str, Any], config_json: str, work_dir: str) -> dict[str, list[Any]]:
    """A Ray task: each row's shard (``root``, ``examples`` file, packed ``dropped``) written
    to its part files; the counts as JSON."""
    config = RunConfig.model_validate_json(config_json)
    counts = []
    for root, examples, dropped in zip(
        rows["root"], rows["examples"], rows["dropped"], strict=True
    ):
        pairs = np.frombuffer(dropped, dtype=np.int64).reshape(-1, 2).tolist()
        folder = Path(work_dir) / str(root)
        with (folder / str(examples)).open(encoding="utf-8") as lines:
            written = write_part(folder, lines, {(a, b) for a, b in pairs}, config)
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

"""The Ray engine: the per-document step over Ray Data actors, resumable shards, and
cluster-wide dedup (``augment-ft run --engine ray``, :func:`augment_dataset`).

Nothing here imports ``ray`` until a Ray run starts (the ``ray`` extra), and only the CLI
imports this package; ``import augment_ft`` never does.
"""

from augment_ft.cluster.api import OUTPUT_COLUMNS, augment_dataset
from augment_ft.cluster.engine import RayRun, prepare_ray_run, run_on_ray

__all__ = ["OUTPUT_COLUMNS", "RayRun", "augment_dataset", "prepare_ray_run", "run_on_ray"]

"""The Ray executor: the per-document step over Ray Data actors, resumable shards, and
cluster-wide dedup (``augment-ft run --engine ray``, :func:`augment_dataset`).

It gets what to run as a :class:`~augment_ft.pipeline.recipe.Recipe` and reads no config
field. Nothing here imports ``ray`` (the ``ray`` extra) or ``pandas`` until a Ray run
starts, so ``import augment_ft`` (which exports :func:`augment_dataset`) stays light.
"""

from augment_ft.cluster.api import OUTPUT_COLUMNS, augment_dataset
from augment_ft.cluster.engine import RayRun, prepare_ray_run, run_on_ray

__all__ = ["OUTPUT_COLUMNS", "RayRun", "augment_dataset", "prepare_ray_run", "run_on_ray"]

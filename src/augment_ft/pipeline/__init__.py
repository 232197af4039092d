"""The run: parts built from a config, a per-document step, and the pipeline that joins them."""

from augment_ft.pipeline.pipeline import AugmentResult, Run, augment, run

__all__ = ["AugmentResult", "Run", "augment", "run"]

"""The run: parts built from a config, a per-document step, and the pipeline that joins them."""

from augment_ft.pipeline.api import AugmentResult, augment, run
from augment_ft.pipeline.build import build_pipeline
from augment_ft.pipeline.pipeline import Pipeline, Progress
from augment_ft.pipeline.step import StepParts, StepResult, step

__all__ = [
    "AugmentResult",
    "Pipeline",
    "Progress",
    "StepParts",
    "StepResult",
    "augment",
    "build_pipeline",
    "run",
    "step",
]

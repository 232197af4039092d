"""Two calls for scripts: :func:`augment` (paths or objects in, examples or a file out) and
:func:`run` (a config in, a report out, as the CLI's ``run``)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from augment_ft.backends.base import Backend, run_sync
from augment_ft.core.config import RunConfig, build_config
from augment_ft.core.errors import ConfigError
from augment_ft.core.models import Document, Example, Fact
from augment_ft.core.report import RunReport
from augment_ft.outputs.sink import MemorySink
from augment_ft.pipeline.build import build_pipeline
from augment_ft.pipeline.hf import documents_from_dataset, examples_to_dataset, is_hf_dataset
from augment_ft.pipeline.pipeline import Progress
from augment_ft.strategies.base import AnyStrategy

__all__ = ["AugmentResult", "augment", "run"]


@dataclass
class AugmentResult:
    """What :func:`augment` returns: the kept examples (when not written) and the report."""

    examples: list[Example]
    report: RunReport

    def to_dataset(self) -> Any:
        """The kept examples as a Hugging Face ``datasets.Dataset`` (extra ``hf``)."""
        return examples_to_dataset(self.examples)


async def run(
    config: RunConfig,
    *,
    backend: Backend | None = None,
    progress: Progress | None = None,
    estimate: bool = False,
) -> RunReport:
    """Run the pipeline as configured and return the report (the CLI's ``run``)."""
    pipeline = build_pipeline(config, backend=backend, progress=progress, estimate=estimate)
    return await pipeline.run()


def _split_inputs(
    inputs: Iterable[str | os.PathLike[str] | Document | Fact],
) -> tuple[list[str], list[Document | Fact]]:
    """Paths to read, and documents or facts given as objects, in the order given."""
    paths: list[str] = []
    objects: list[Document | Fact] = []
    for item in inputs:
        if isinstance(item, (str, os.PathLike)):
            paths.append(os.fspath(item))
        elif isinstance(item, (Document, Fact)):
            objects.append(item)
        else:
            msg = f"augment() inputs must be paths, Documents or Facts, got {type(item).__name__}"
            raise ConfigError(msg)
    return paths, objects


def augment(
    inputs: Iterable[str | os.PathLike[str] | Document | Fact] | Any,
    *,
    strategies: Sequence[str | AnyStrategy] = ("split", "reverse"),
    backend: Backend | str | None = None,
    output: str | os.PathLike[str] | None = None,
    **options: object,
) -> AugmentResult:
    """One call from documents (or paths) to examples and a report, for scripts.

    ``strategies`` are names (built with ``strategy_options``) or strategy objects, such
    as ``[ReverseStrategy(max_reversals=1), SymbolicStrategy()]`` or a user's own object
    following the strategy protocol, which needs no registering. ``backend`` is a backend
    object, or a registered name (``"openai"``, ``"scripted"``, a plugin's; the default is
    the config's, ``"local"``) built with the options. Without ``output`` the
    kept examples are returned; with it they are written as JSONL. ``options`` are any
    :class:`RunConfig` fields (``format``, ``cache``, ``seed``...). Objects are read
    before paths. ``inputs`` may also be a Hugging Face ``datasets.Dataset`` (its
    ``text_field`` column is the text, ``id_field`` the id); ``result.to_dataset()`` gives
    the kept examples back as one.
    """
    paths: list[str] = []
    objects: list[Document | Fact] = []
    if is_hf_dataset(inputs):
        fields = {k: str(options[k]) for k in ("text_field", "id_field") if k in options}
        objects += documents_from_dataset(inputs, **fields)
    else:
        paths, objects = _split_inputs(inputs)
    data: dict[str, object] = {
        "inputs": paths,
        "strategies": [s for s in strategies if isinstance(s, str)],
        "output": None if output is None else os.fspath(output),
    }
    given: Backend | None = None
    if isinstance(backend, str):
        data["backend"] = backend  # looked up in the BACKENDS registry, as --backend is
    elif backend is not None:
        data["backend"] = "scripted"  # a label only: the given backend is the one used
        given = backend
    data.update(options)
    config = build_config(data, origin="augment() arguments")
    pipeline = build_pipeline(
        config, backend=given, strategies=list(strategies), documents=objects or None
    )
    report = run_sync(pipeline.run())
    kept = pipeline.sink.examples if isinstance(pipeline.sink, MemorySink) else []
    return AugmentResult(examples=kept, report=report)

"""Hugging Face ``datasets`` in and out of :func:`~augment_ft.pipeline.api.augment`.

A ``datasets.Dataset`` with a text column (and optionally an id column) is read as
documents, every other column kept as metadata; the kept examples come back as a
``datasets.Dataset`` with one row per example. ``datasets`` is imported only here, and
only when a dataset is passed or asked for.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from augment_ft.core.errors import ConfigError, DependencyError, InputError
from augment_ft.core.models import Document, Example

__all__ = ["documents_from_dataset", "examples_to_dataset", "is_hf_dataset"]


def is_hf_dataset(value: object) -> bool:
    """True for a ``datasets.Dataset`` (checked without importing ``datasets``)."""
    module = sys.modules.get("datasets")
    return module is not None and isinstance(value, module.Dataset)


def documents_from_dataset(
    dataset: Any, *, text_field: str = "text", id_field: str = "id"
) -> Iterator[Document]:
    """One document per row: ``text_field`` is the text, ``id_field`` (when the dataset has
    it) the id, every other column metadata. A row's index names it in errors."""
    columns = list(dataset.column_names)
    if text_field not in columns:
        msg = (
            f"the dataset has no {text_field!r} column (its columns: {', '.join(columns)}); "
            "name the text column with text_field="
        )
        raise ConfigError(msg)
    for index, row in enumerate(dataset):
        text = row[text_field]
        if not isinstance(text, str) or not text.strip():
            msg = f"row {index}: column {text_field!r} must hold non-empty text, got {text!r:.60}"
            raise InputError(msg, path="<datasets.Dataset>", reason="text_not_string")
        given = row.get(id_field)
        metadata = {k: v for k, v in row.items() if k not in (text_field, id_field)}
        metadata["row"] = index
        yield Document(
            id="" if given is None else str(given),
            text=text,
            metadata=json.loads(json.dumps(metadata, default=str)),
        )


def examples_to_dataset(examples: Sequence[Example]) -> Any:
    """The examples as a ``datasets.Dataset``: id, kind, prompt, completion, source_id,
    strategy, and the whole provenance as a JSON string."""
    if importlib.util.find_spec("datasets") is None:
        raise DependencyError("Returning a datasets.Dataset", "hf", "datasets")
    import datasets

    rows = [
        {
            "id": e.id,
            "kind": e.kind,
            "prompt": e.prompt,
            "completion": e.completion,
            "source_id": e.provenance.source_id,
            "strategy": e.provenance.strategy,
            "provenance": e.provenance.model_dump_json(exclude_none=True),
        }
        for e in examples
    ]
    return datasets.Dataset.from_list(rows)

"""Hugging Face datasets in and out of augment(): a text column in, a Dataset of examples out."""

from __future__ import annotations

import json

import pytest

from augment_ft import augment
from augment_ft.core.errors import ConfigError, InputError

datasets = pytest.importorskip("datasets")  # the dev extra installs it; CI allows no skip


def test_a_dataset_goes_in_and_the_kept_examples_come_out_as_one() -> None:
    rows = {
        "body": ["Velps are nocturnal. Grusks are velps.", "Tarsk is the capital of Velmora."],
        "uid": ["a", "b"],
        "lang": ["en", "en"],
    }
    result = augment(
        datasets.Dataset.from_dict(rows),
        strategies=["split"],
        strategy_options={"split": {"mode": "independent"}},
        text_field="body",
        id_field="uid",
    )
    out = result.to_dataset()
    assert isinstance(out, datasets.Dataset)
    assert out.column_names == [
        "id", "kind", "prompt", "completion", "source_id", "strategy", "provenance",
    ]  # fmt: skip
    assert out["completion"] == [
        "Velps are nocturnal. Grusks are velps.",
        "Velps are nocturnal.",
        "Grusks are velps.",
        "Tarsk is the capital of Velmora.",
    ]
    assert out["source_id"] == ["a", "a", "a", "b"]
    assert json.loads(out["provenance"][1])["sentence_index"] == 0
    assert result.report.documents_read == 2


def test_a_dataset_without_the_text_column_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match=r"no 'text' column \(its columns: body\)"):
        augment(datasets.Dataset.from_dict({"body": ["x"]}), strategies=["split"])


def test_an_empty_text_names_its_row() -> None:
    data = datasets.Dataset.from_dict({"text": ["fine text here", "  "]})
    with pytest.raises(InputError, match="row 1"):
        augment(data, strategies=["split"])

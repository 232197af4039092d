"""augment_dataset: a Ray (or Hugging Face) dataset of documents in, the kept examples out,
on the session's local Ray instance (tests/conftest.py) against a real HTTP server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from augment_ft import augment
from augment_ft.backends.openai_compat import OpenAIBackend
from augment_ft.cluster import OUTPUT_COLUMNS, augment_dataset
from augment_ft.core.errors import ConfigError
from augment_ft.core.models import Document
from openai_fake_server import fake_openai_server
from pipeline_replies import healthy

pytestmark = pytest.mark.slow

TEXTS = [
    "Ilsa Varn keeps a grey velp. The velp sleeps in the reeds by day.",
    "Orrin hunts grubs at dusk. He never crosses the river.",
    "Tarsk is a walled city. Its markets open before dawn.",
    "Ilsa Varn keeps a grey velp. The velp sleeps in the reeds by day.",  # a repeat
    "Lunmere floods each spring. Feskins nest on its banks.",
]
ROWS = [{"id": f"d{i}", "text": text, "lang": "en"} for i, text in enumerate(TEXTS)]
OPTIONS: dict[str, Any] = {"strategies": ["split", "rephrase"], "no_cache": True}


@pytest.fixture(scope="module")
def server() -> Any:
    with fake_openai_server(healthy) as running:
        yield running


def local_examples(base_url: str) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    result = augment(
        [Document(id=r["id"], text=r["text"], metadata={"lang": r["lang"]}) for r in ROWS],
        backend=OpenAIBackend("fake-model", base_url=base_url),
        **OPTIONS,
    )
    return sorted((e.kind, e.completion) for e in result.examples), result.report.model_dump()


def test_a_ray_dataset_gives_the_examples_augment_gives(
    ray_address: str, server: Any, tmp_path: Path
) -> None:
    import ray.data

    report = tmp_path / "report.json"
    kept = augment_dataset(
        ray.data.from_items(ROWS),
        backend="openai",
        model="fake-model",
        base_url=server.base_url,
        report=str(report),
        **OPTIONS,
    ).take_all()
    want, local = local_examples(server.base_url)
    assert sorted((row["kind"], row["completion"]) for row in kept) == want
    assert set(kept[0]) == set(OUTPUT_COLUMNS)
    assert json.loads(kept[0]["provenance"])["source_id"] == kept[0]["source_id"]
    counted = json.loads(report.read_text(encoding="utf-8"))
    for key in ("documents_read", "examples_by_kind", "drops"):
        assert counted[key] == local[key], key
    assert counted["examples_written"] == {"train": len(kept)}


def test_a_hugging_face_dataset_goes_in_and_comes_back_as_one(
    ray_address: str, server: Any
) -> None:
    import datasets

    kept = augment_dataset(
        datasets.Dataset.from_list(ROWS),
        backend="openai",
        model="fake-model",
        base_url=server.base_url,
        **OPTIONS,
    )
    back = datasets.Dataset.from_pandas(kept.to_pandas(), preserve_index=False)
    assert back.column_names == list(OUTPUT_COLUMNS)
    want, _ = local_examples(server.base_url)
    assert sorted(zip(back["kind"], back["completion"], strict=True)) == want


def test_rows_naming_files_are_read_with_the_librarys_readers(
    ray_address: str, server: Any, tmp_path: Path
) -> None:
    import ray.data

    half = len(ROWS) // 2
    for name, rows in (("a.jsonl", ROWS[:half]), ("b.jsonl", ROWS[half:])):
        lines = [json.dumps(row) for row in rows]
        lines.insert(1, "{not json")  # skipped with on_error="skip", and counted
        (tmp_path / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    paths = ray.data.from_items([{"path": str(tmp_path / n)} for n in ("a.jsonl", "b.jsonl")])
    report = tmp_path / "report.json"
    kept = augment_dataset(
        paths, backend="openai", model="fake-model", base_url=server.base_url,
        on_error="skip", report=str(report), **OPTIONS,
    ).take_all()  # fmt: skip
    want, _ = local_examples(server.base_url)
    assert sorted((row["kind"], row["completion"]) for row in kept) == want
    read = json.loads(report.read_text(encoding="utf-8"))["drops"]["read"]
    assert sum(read.values()) == 2, read  # one bad line in each file, none vanished


def test_a_dataset_without_its_text_column_is_refused_before_any_work(ray_address: str) -> None:
    import ray.data

    with pytest.raises(ConfigError, match="no 'body' column"):
        augment_dataset(ray.data.from_items(ROWS), text_field="body", backend="scripted")

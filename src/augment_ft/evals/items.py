"""Test items and probe sets: what a probe writes, and how it is read back.

A probe is three JSONL files in one directory (plus ``probe.json``, a summary):

- ``train.jsonl``: the training documents, ``{"id", "text"}`` (any augment_ft reader takes it);
- ``test.jsonl``: the multiple-choice items (:class:`TestItem`, one per line);
- ``facts.jsonl``: the trained structure as :class:`~augment_ft.core.models.Fact` records, so the
  symbolic strategy can run on exactly what the documents state.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError, model_validator

from augment_ft.core.errors import InputError, OutputError
from augment_ft.core.models import Document, Fact

__all__ = [
    "FILES",
    "ProbeSet",
    "TestItem",
    "iter_jsonl",
    "read_documents_jsonl",
    "read_items",
    "write_probe",
]

FILES = {"train": "train.jsonl", "test": "test.jsonl", "facts": "facts.jsonl"}
"""File names inside a probe directory."""


class TestItem(BaseModel):
    """One multiple-choice question, scored by the likelihood of each option after ``prompt``.

    The model reads ``context`` (empty unless in-context learning put documents there) and
    ``prompt``, never the options. ``statements[i]`` is the sentence that option ``i``
    asserts (used by coverage). ``answer`` is the correct option; ``also_correct`` lists
    options that state the same truth in other words (the converse of "No A are B").
    ``support`` names the training documents the answer rests on.
    """

    __test__ = False  # not a pytest test class, despite its name
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    probe: str
    split: str = Field(min_length=1)
    context: str = ""
    prompt: str = Field(min_length=1)
    options: tuple[str, ...] = Field(min_length=2)
    statements: tuple[str, ...]
    answer: int = Field(ge=0)
    also_correct: tuple[int, ...] = ()
    entity: str = ""
    support: tuple[str, ...] = ()
    meta: dict[str, JsonValue] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> TestItem:
        n = len(self.options)
        if len(self.statements) != n:
            raise ValueError(f"{n} options but {len(self.statements)} statements")
        if self.answer >= n or any(not 0 <= i < n for i in self.also_correct):
            raise ValueError(f"answer/also_correct must index the {n} options")
        if self.answer in self.also_correct:
            raise ValueError("also_correct must not repeat answer")
        if len(set(self.options)) != n:
            raise ValueError("options must differ from each other")
        return self

    @property
    def correct(self) -> frozenset[int]:
        """Every option that counts as right."""
        return frozenset({self.answer, *self.also_correct})

    @property
    def chance(self) -> float:
        """Probability that a uniformly random choice is right."""
        return len(self.correct) / len(self.options)

    @property
    def distractors(self) -> tuple[int, ...]:
        """Indices of the wrong options."""
        return tuple(i for i in range(len(self.options)) if i not in self.correct)


@dataclass
class ProbeSet:
    """Everything one probe generates: documents to train on, items to test, the facts."""

    name: str
    seed: int
    documents: list[Document]
    items: list[TestItem]
    facts: list[Fact]
    info: dict[str, JsonValue] = field(default_factory=dict)

    def summary(self) -> dict[str, JsonValue]:
        """Counts for ``probe.json`` and the CLI."""
        splits = Counter(item.split for item in self.items)
        return {
            "probe": self.name,
            "seed": self.seed,
            "documents": len(self.documents),
            "items": len(self.items),
            "items_by_split": dict(sorted(splits.items())),
            "facts": len(self.facts),
            **self.info,
        }


def _dump(records: Iterable[dict[str, object]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records)


def write_probe(probe: ProbeSet, directory: str | Path, *, force: bool = False) -> dict[str, Path]:
    """Write the probe's files into ``directory``; refuses to overwrite unless ``force``."""
    folder = Path(directory)
    paths = {key: folder / name for key, name in FILES.items()}
    paths["summary"] = folder / "probe.json"
    existing = [str(p) for p in paths.values() if p.exists()]
    if existing and not force:
        msg = f"{', '.join(existing)} already exist; pass force=True (--force) to overwrite"
        raise OutputError(msg)
    contents = {
        "train": _dump({"id": d.id, "text": d.text} for d in probe.documents),
        "test": _dump(item.model_dump(mode="json") for item in probe.items),
        "facts": _dump(f.model_dump(mode="json", exclude_none=True) for f in probe.facts),
        "summary": json.dumps(probe.summary(), indent=2, sort_keys=True) + "\n",
    }
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for key, text in contents.items():
            paths[key].write_text(text, encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"cannot write the probe into {folder}: {exc}") from exc
    return paths


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, object]]]:
    """``(line, object)`` for each non-blank line; bad JSON is an InputError naming the line."""
    try:
        handle = Path(path).open(encoding="utf-8")  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", path=str(path)) from exc
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise InputError(f"not valid JSON: {exc}", path=str(path), line=number) from exc
            if not isinstance(record, dict):
                raise InputError("expected a JSON object", path=str(path), line=number)
            yield number, record


def read_items(path: str | Path) -> list[TestItem]:
    """The items of a ``test.jsonl``; a malformed item is an InputError naming its line."""
    items: list[TestItem] = []
    for number, record in iter_jsonl(path):
        try:
            items.append(TestItem.model_validate(record))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'item'}: {e['msg']}" for e in exc.errors()
            )
            msg = f"not a test item ({problems}); see docs/evaluation.md for the format"
            raise InputError(msg, path=str(path), line=number) from exc
    return items


def read_documents_jsonl(path: str | Path) -> list[Document]:
    """The ``{"id", "text"}`` documents of a probe's ``train.jsonl``."""
    documents: list[Document] = []
    for number, record in iter_jsonl(path):
        text, doc_id = record.get("text"), record.get("id", "")
        if not isinstance(text, str) or not isinstance(doc_id, str):
            raise InputError("needs a string 'text' (and 'id')", path=str(path), line=number)
        documents.append(Document(id=doc_id, text=text))
    return documents

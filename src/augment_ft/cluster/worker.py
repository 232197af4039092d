"""What runs in a Ray actor: the per-document step over a shard (CLI) or a batch (Python API).

Each actor gets the run's :class:`~augment_ft.pipeline.recipe.Recipe` and makes its parts
with it: once, the model behind the actor's share of the budget (``--rpm / actors``,
``--tpm / actors``: every stack's calls, retries included, pass it); per shard or batch,
the step's parts over a backend stack of its own (cache, retries, limits, usage), so each
shard has its own response cache and its own counts. The cluster as a whole then keeps
the budget (an actor restarted after a crash starts with a full bucket, at most six
seconds of its share).
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from augment_ft.cluster.records import line
from augment_ft.cluster.workdir import ShardFiles, WorkDir
from augment_ft.core.drops import DropLog
from augment_ft.core.hashing import stable_hash
from augment_ft.core.models import Document, Fact
from augment_ft.pipeline.counts import Counts, Tally
from augment_ft.pipeline.engine import ordered_map
from augment_ft.pipeline.recipe import Recipe
from augment_ft.pipeline.step import StepResult, step

__all__ = ["FAULT_ENV", "DocWorker", "ShardWorker", "StepRunner", "doc_seq"]

FAULT_ENV = "AUGMENT_FT_TEST_KILL_SHARD"
"""Test hook, read by the driver: ``SHARD:DOCS`` makes the actor running shard ``SHARD``
SIGKILL itself once, after ``DOCS`` documents (a marker file in the shard keeps it to one)."""

OnResult = Callable[[int, StepResult], None]


def doc_seq(document_id: str) -> int:
    """An order key for a document with no place in an input (a row of a dataset): a
    stable 60-bit hash of its id, so duplicates resolve the same way on every run."""
    return int(stable_hash(document_id)[:15], 16)


@dataclass
class StepRunner:
    """One actor's model, made once; :meth:`run` maps the step over some documents."""

    recipe: Recipe
    actors: int
    given: Sequence[Fact] = ()
    corpus: Sequence[Document] = ()

    def __post_init__(self) -> None:
        self.model = self.recipe.model(self.actors)

    async def run(
        self, docs: Iterable[tuple[int, Document]], cache: Path | None, on_result: OnResult
    ) -> tuple[int, Counts]:
        """Every document through the step in order, over a fresh stack caching in ``cache``
        (``on_result`` sees each result); the documents done, and the step's and stacks' counts."""
        worker = self.recipe.step(self.model, actors=self.actors, cache=cache, facts=self.given)
        tally = Tally()

        async def one(item: tuple[int, Document]) -> tuple[int, StepResult]:
            return item[0], await step(item[1], worker.parts, self.corpus)

        try:
            async for seq, result in ordered_map(docs, one, worker.window):
                tally.add(result)
                on_result(seq, result)
        finally:
            await worker.aclose()
        return tally.documents, Counts.combined([tally.counts(), worker.counts()])


class ShardWorker:
    """The CLI's actor: for each shard index of a batch, run the shard and commit it."""

    def __init__(self, recipe: Recipe, work_dir: str, actors: int, fault: str = "") -> None:
        self.options = recipe.options
        self.work = WorkDir(Path(work_dir), self.options.shards)
        corpus = self.work.all_documents() if self.options.needs_corpus else []
        self.runner = StepRunner(recipe, actors, self.work.given_facts(), corpus)
        self.fault = fault

    async def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        shards = [int(index) for index in batch["shard"]]
        done = [json.dumps(await self.run_shard(index)) for index in shards]
        return {"shard": shards, "done": done}

    async def run_shard(self, index: int) -> dict[str, Any]:
        """Run one shard from the start (its cache makes finished calls free) and mark it done."""
        files = self.work.shard(index)
        attempt, examples_path, facts_path = files.attempt()
        cache = files.cache if self.options.shard_caches else None
        with (
            examples_path.open("w", encoding="utf-8") as examples,
            facts_path.open("w", encoding="utf-8") as facts,
        ):
            kill = _fault(self.fault, index, files)

            def keep(seq: int, result: StepResult) -> None:
                examples.writelines(line(seq, p, e) + "\n" for p, e in enumerate(result.examples))
                facts.writelines(f"{seq}\t{fact.model_dump_json()}\n" for fact in result.facts)
                kill()

            documents, counts = await self.runner.run(files.documents(), cache, keep)
            for handle in (examples, facts):
                handle.flush()
                os.fsync(handle.fileno())
        record = {
            "shard": index,
            "attempt": attempt,
            "examples": examples_path.name,
            "facts": facts_path.name,
            "documents": documents,
            "counts": counts.to_json(),
        }
        files.commit(record)
        return record


def _fault(spec: str, index: int, files: ShardFiles) -> Callable[[], None]:
    """The test hook of :data:`FAULT_ENV` for this shard: a no-op unless it names it."""
    shard, _, after = spec.partition(":")
    if not spec or int(shard) != index:
        return lambda: None
    seen = [0]

    def maybe_kill() -> None:
        seen[0] += 1
        if seen[0] < int(after or 1):
            return
        try:
            (files.root / "KILLED").touch(exist_ok=False)  # once per job, whoever gets here
        except FileExistsError:
            return
        os.kill(os.getpid(), signal.SIGKILL)

    return maybe_kill


class DocWorker:
    """The Python API's actor: a batch of dataset rows in; example, fact and count rows out.

    Rows hold a text column (and an id column; other columns become metadata), or a
    ``path`` column naming files to read. Output columns: ``what`` (example, fact, given, counts),
    ``seq``, ``pos`` and ``payload`` (JSON).
    """

    def __init__(self, recipe: Recipe, actors: int) -> None:
        self.recipe = recipe
        self.options = recipe.options
        self.runner = StepRunner(recipe, actors)

    async def __call__(self, batch: Any) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {"what": [], "seq": [], "pos": [], "payload": []}

        def add(what: str, seq: int, pos: int, payload: str) -> None:
            for name, value in zip(out, (what, seq, pos, payload), strict=True):
                out[name].append(value)

        read = DropLog()  # records a path row's reader skipped (on_error="skip")
        docs, given = self._documents(batch.to_pylist(), read)
        for fact in given:
            add("given", -1, 0, fact.model_dump_json())

        def keep(seq: int, result: StepResult) -> None:
            for pos, example in enumerate(result.examples):
                add("example", seq, pos, example.model_dump_json())
            for fact in result.facts:
                add("fact", seq, 0, fact.model_dump_json())

        documents, counts = await self.runner.run(docs, self.options.cache, keep)
        # This batch is the source of its documents: it counts what it read and dropped.
        read_counts = Counts(documents, len(given), drops=read)
        add("counts", -1, 0, json.dumps(Counts.combined([read_counts, counts]).to_json()))
        return out

    def _documents(
        self, rows: list[dict[str, Any]], drops: DropLog
    ) -> tuple[list[tuple[int, Document]], list[Fact]]:
        docs: list[Document] = []
        facts: list[Fact] = []
        text_field, id_field = self.options.text_field, self.options.id_field
        for row in rows:
            if row.get("path") and row.get(text_field) is None:
                for item in self.recipe.read(str(row["path"]), drops):
                    (facts if isinstance(item, Fact) else docs).append(item)  # type: ignore[arg-type]
            else:
                docs.append(_row_document(row, text_field, id_field))
        return [(doc_seq(doc.id), doc) for doc in docs], facts


def _row_document(row: dict[str, Any], text_field: str, id_field: str) -> Document:
    """A dataset row as a document: the text, the id (when given), the rest as metadata."""
    given = row.get(id_field)
    metadata = {k: v for k, v in row.items() if k not in (text_field, id_field)}
    return Document(
        id="" if given is None else str(given),
        text=str(row[text_field]),
        metadata=json.loads(json.dumps(metadata, default=str)),
    )

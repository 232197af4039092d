"""What runs in a Ray actor: the per-document step over a shard (CLI) or a batch (Python API).

Each actor builds the run's parts once (strategies, the model behind its share of the
budget) and, per shard or batch, a backend stack of its own (cache, retries, limits,
usage), so each shard has its own response cache and its own counts. The budget is one
:class:`LimitedBackend` per actor around the raw model, holding ``--rpm / actors`` and
``--tpm / actors``: every stack's calls, retries included, pass it, and it lives as long
as the actor, so a new shard does not start with a fresh burst. The cluster as a whole
then keeps the budget (an actor restarted after a crash starts with a full bucket, at
most six seconds of its share).
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from augment_ft.backends.base import Backend
from augment_ft.backends.limits import LimitedBackend
from augment_ft.cluster.records import StepSummary, line
from augment_ft.cluster.workdir import ShardFiles, WorkDir
from augment_ft.core.config import RunConfig
from augment_ft.core.drops import DropLog
from augment_ft.core.hashing import stable_hash
from augment_ft.core.models import Document, Fact
from augment_ft.pipeline.build import build_backend, build_step, build_verify, make_backend
from augment_ft.pipeline.engine import ordered_map
from augment_ft.pipeline.pipeline import Tally
from augment_ft.pipeline.step import StepResult, step
from augment_ft.strategies.builtin import resolve_strategies

__all__ = ["FAULT_ENV", "DocWorker", "ShardWorker", "StepRunner", "budget_share", "doc_seq"]

FAULT_ENV = "AUGMENT_FT_TEST_KILL_SHARD"
"""Test hook, read by the driver: ``SHARD:DOCS`` makes the actor running shard ``SHARD``
SIGKILL itself once, after ``DOCS`` documents (a marker file in the shard keeps it to one)."""

OnResult = Callable[[int, StepResult], None]


def budget_share(raw: Backend, config: RunConfig, actors: int) -> Backend:
    """``raw`` behind this actor's share of the RPM and TPM budgets (``raw`` when none).

    Its in-flight ceiling is left high: each stack above it caps calls in flight itself.
    """
    rpm, tpm = config.requests_per_minute, config.tokens_per_minute
    if rpm is None and tpm is None:
        return raw
    return LimitedBackend(
        raw,
        max_in_flight=1024,
        requests_per_minute=None if rpm is None else rpm / actors,
        tokens_per_minute=None if tpm is None else tpm / actors,
    )


def doc_seq(document_id: str) -> int:
    """An order key for a document with no place in an input (a row of a dataset): a
    stable 60-bit hash of its id, so duplicates resolve the same way on every run."""
    return int(stable_hash(document_id)[:15], 16)


@dataclass
class StepRunner:
    """One actor's parts, built once; :meth:`run` maps the step over some documents."""

    config: RunConfig
    actors: int
    given: Sequence[Fact] = ()
    corpus: Sequence[Document] = ()
    raw: Backend | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.chosen = resolve_strategies(self.config.strategies, self.config.strategy_options)
        if self.chosen.uses_llm:
            self.raw = budget_share(make_backend(self.config), self.config, self.actors)

    async def run(
        self, docs: Iterable[tuple[int, Document]], cache: Path | None, on_result: OnResult
    ) -> StepSummary:
        """Every document through the step, in order, with a fresh stack caching in ``cache``;
        ``on_result(seq, result)`` sees each result as it comes."""
        config = self.config.model_copy(
            update={
                "cache": None if cache is None else str(cache),
                "no_cache": cache is None,
                "requests_per_minute": None,  # the actor's budget_share holds them
                "tokens_per_minute": None,
            }
        )
        stack = build_backend(config, self.raw, owns_base=False) if self.raw else None
        verify, judge = build_verify(self._judge_config(config), self.chosen, self.raw)
        if verify is not None:
            verify = verify.with_facts(self.given)
        parts = build_step(config, self.chosen, stack, verify)
        tally, count = Tally(), 0

        async def one(item: tuple[int, Document]) -> tuple[int, StepResult]:
            return item[0], await step(item[1], parts, self.corpus)

        try:
            async for seq, result in ordered_map(docs, one, max(2, config.concurrency)):
                tally.add(result)
                count += 1
                on_result(seq, result)
        finally:
            for opened in (stack, judge):
                if opened is not None:
                    await opened.aclose()
        usage = stack.as_dict() if stack is not None else {}
        return StepSummary.of(count, tally, usage, judge.as_dict() if judge else {})

    def _judge_config(self, config: RunConfig) -> RunConfig:
        """A judge on a model of its own gets its own share of the budget (per shard);
        one sharing the run's model shares the run's."""
        if self.config.judge_model is None and self.config.judge_base_url is None:
            return config
        rpm, tpm = self.config.requests_per_minute, self.config.tokens_per_minute
        share = {
            "requests_per_minute": None if rpm is None else rpm / self.actors,
            "tokens_per_minute": None if tpm is None else tpm / self.actors,
        }
        return config.model_copy(update=share)


class ShardWorker:
    """The CLI's actor: for each shard index of a batch, run the shard and commit it."""

    def __init__(self, config_json: str, work_dir: str, actors: int, fault: str = "") -> None:
        config = RunConfig.model_validate_json(config_json)
        self.work = WorkDir(Path(work_dir), config.shards)
        chosen = resolve_strategies(config.strategies, config.strategy_options)
        corpus = self.work.all_documents() if chosen.needs_corpus else []
        self.runner = StepRunner(config, actors, self.work.given_facts(), corpus)
        self.fault = fault

    async def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        shards = [int(index) for index in batch["shard"]]
        done = [json.dumps(await self.run_shard(index)) for index in shards]
        return {"shard": shards, "done": done}

    async def run_shard(self, index: int) -> dict[str, Any]:
        """Run one shard from the start (its cache makes finished calls free) and mark it done."""
        files = self.work.shard(index)
        attempt, examples_path, facts_path = files.attempt()
        cache = files.cache if not self.runner.config.no_cache else None
        with (
            examples_path.open("w", encoding="utf-8") as examples,
            facts_path.open("w", encoding="utf-8") as facts,
        ):
            kill = _fault(self.fault, index, files)

            def keep(seq: int, result: StepResult) -> None:
                examples.writelines(line(seq, p, e) + "\n" for p, e in enumerate(result.examples))
                facts.writelines(f"{seq}\t{fact.model_dump_json()}\n" for fact in result.facts)
                kill()

            summary = await self.runner.run(files.documents(), cache, keep)
            for handle in (examples, facts):
                handle.flush()
                os.fsync(handle.fileno())
        record = {
            "shard": index,
            "attempt": attempt,
            "examples": examples_path.name,
            "facts": facts_path.name,
            **summary.to_json(),
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
    """The Python API's actor: a batch of dataset rows in, example, fact and summary rows out.

    Rows hold a text column (and an id column; other columns become metadata), or a
    ``path`` column naming files to read. Output columns: ``what`` (example, fact, summary),
    ``seq``, ``pos`` and ``payload`` (JSON).
    """

    def __init__(self, config_json: str, actors: int) -> None:
        self.config = RunConfig.model_validate_json(config_json)
        self.runner = StepRunner(self.config, actors)

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

        summary = await self.runner.run(docs, self.config.cache_path(), keep)
        summary.drops.merge(read)
        add("summary", -1, 0, json.dumps(summary.to_json()))
        return out

    def _documents(
        self, rows: list[dict[str, Any]], drops: DropLog
    ) -> tuple[list[tuple[int, Document]], list[Fact]]:
        from augment_ft.inputs.readers import read_inputs

        docs: list[Document] = []
        facts: list[Fact] = []
        config = self.config
        for row in rows:
            if row.get("path") and row.get(config.text_field) is None:
                for item in read_inputs(
                    str(row["path"]),
                    text_field=config.text_field,
                    id_field=config.id_field,
                    on_error=config.on_error,
                    drops=drops,
                ):
                    (facts if isinstance(item, Fact) else docs).append(item)  # type: ignore[arg-type]
            else:
                docs.append(_row_document(row, config.text_field, config.id_field))
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

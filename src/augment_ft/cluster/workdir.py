"""The work directory of a Ray job: its plan, its shards, and what marks a shard done.

Beside ``OUT`` (``OUT-stem.ray/``)::

    PLAN                 shard count and the settings that decide what the step makes
    PARTITIONED          written last by the partition: documents read, read drops
    FACTS                the facts given as input (JSON lines)
    OWNERS               the shard of each document, by its place in the input
    shard-00003/
        docs.part        SEQ<TAB>document JSON, in input order
        cache.sqlite     the shard's response cache
        examples-<attempt>.part, facts-<attempt>.part    what one attempt made
        DONE             the shard's counts, naming the attempt's files: the commit point
        written.part     its kept examples as records (.val, .provenance, .ids beside it)
    fact-examples/       the same for the fact strategies' examples (made on the driver)

Documents go to shards by a stable hash of their id, so a rerun makes the same shards.
A shard is done once its ``DONE`` exists (written atomically after its parts are synced),
so a killed job rerun with ``--resume`` redoes only the shards without one. An attempt
names its own files, so a late attempt (a retried task, a worker outliving its driver)
never mixes its files with the one ``DONE`` names. No file here has an extension the
readers take, so an input directory that holds the output never reads this one as input.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
from numpy.typing import NDArray

from augment_ft.core.drops import DropLog
from augment_ft.core.errors import ConfigError, OutputError
from augment_ft.core.models import Document, Fact
from augment_ft.inputs.source import Source, shard_of
from augment_ft.pipeline.counts import Counts, drops_from_json, drops_to_json
from augment_ft.pipeline.recipe import ClusterOptions

__all__ = ["Partition", "ShardFiles", "WorkDir", "work_dir_of"]

_BUFFER_BYTES = 32 << 20  # partition lines held before they go to their shard files


def work_dir_of(output: str | Path) -> Path:
    """Where the work of a Ray job writing ``output`` lives: ``OUT-stem.ray`` beside it."""
    out = Path(output)
    return out.with_name(out.stem + ".ray")


@dataclass
class Partition:
    """What the partition read: documents, the facts given, and the reader's drops."""

    documents: int
    facts: list[Fact]
    drops: DropLog = field(default_factory=DropLog)
    facts_read: int = 0
    """The facts this job hands the fact strategies: all of them, or none for a shard but
    the first of a ``--shard I/N`` run."""

    @property
    def given(self) -> list[Fact]:
        """The facts for the fact strategies."""
        return self.facts if self.facts_read else []

    def counts(self) -> Counts:
        return Counts(documents_read=self.documents, facts_read=self.facts_read, drops=self.drops)


@dataclass(frozen=True)
class ShardFiles:
    """The files of one shard."""

    root: Path

    @property
    def docs(self) -> Path:
        return self.root / "docs.part"

    @property
    def cache(self) -> Path:
        return self.root / "cache.sqlite"

    @property
    def done(self) -> Path:
        return self.root / "DONE"

    def read_done(self) -> dict[str, Any] | None:
        """The shard's ``DONE`` record, or None while it is not done."""
        try:
            data: dict[str, Any] = json.loads(self.done.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        return data

    def documents(self) -> Iterator[tuple[int, Document]]:
        """``(seq, document)`` of the shard, in input order."""
        for text in _lines(self.docs):
            seq, payload = text.split("\t", 1)
            yield int(seq), Document.model_validate_json(payload)

    def attempt(self) -> tuple[str, Path, Path]:
        """A new attempt's name and its examples and facts files (not yet created)."""
        name = uuid.uuid4().hex[:12]
        return name, self.root / f"examples-{name}.part", self.root / f"facts-{name}.part"

    def commit(self, record: dict[str, Any]) -> None:
        """Mark the shard done with ``record`` (naming the attempt's files), atomically."""
        write_atomic(self.done, json.dumps(record, sort_keys=True))


class WorkDir:
    """A job's work directory (see the module doc)."""

    def __init__(self, root: Path, shards: int) -> None:
        self.root = root
        self.shards = shards

    @classmethod
    def of(cls, options: ClusterOptions) -> WorkDir:
        if not options.output:
            raise ConfigError("--engine ray needs an output file: -o OUT.jsonl")
        return cls(work_dir_of(options.output), options.shards)

    def shard(self, index: int) -> ShardFiles:
        return ShardFiles(self.root / f"shard-{index:05d}")

    def check(self, options: ClusterOptions) -> None:
        """Refuse another job's work (unless ``--resume`` with the same plan, or ``--force``)
        before anything is written; :meth:`prepare` then makes the directory."""
        if not (self.root.exists() and any(self.root.iterdir())):
            return
        plan = self.root / "PLAN"
        if not plan.exists():
            msg = f"{self.root} exists and is no augment-ft work directory; move it away"
            raise OutputError(msg)
        if options.resume:
            _check_plan(
                json.loads(plan.read_text(encoding="utf-8")), self._plan(options), self.root
            )
        elif not options.force:
            msg = (
                f"{self.root} holds the work of an earlier run; use --resume to continue it "
                "or --force to start over"
            )
            raise OutputError(msg)

    def prepare(self, options: ClusterOptions) -> None:
        """Make the directory for this job (``--force`` deletes an earlier job's work first)."""
        self.check(options)
        plan = self.root / "PLAN"
        if options.force and plan.exists():
            shutil.rmtree(self.root)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create {self.root}: {exc.strerror or exc}") from exc
        if not plan.exists():
            write_atomic(plan, json.dumps(self._plan(options), sort_keys=True))

    def _plan(self, options: ClusterOptions) -> dict[str, Any]:
        return {"shards": self.shards, "settings": options.plan}

    def partition(self, source: Source) -> Partition:
        """Send every document of ``source`` to its shard file; done once per job.

        ``seq`` numbers the documents in input order. Lines are buffered and appended per
        shard, so memory stays bounded and few files are open at once, however many shards.
        """
        marker = self.root / "PARTITIONED"
        if marker.exists():
            return self._read_partition()
        for index in range(self.shards):
            self.shard(index).docs.unlink(missing_ok=True)  # a killed partition's lines
        self.owners_path.unlink(missing_ok=True)
        buffers: dict[int, list[str]] = {}
        owners = array("I")  # the shard of each document, by seq
        count = held = 0
        for doc in source.documents():
            text = f"{count}\t{doc.model_dump_json()}\n"
            owners.append(shard_of(doc.id, self.shards))
            buffers.setdefault(owners[-1], []).append(text)
            count += 1
            held += len(text)
            if held > _BUFFER_BYTES:
                self._spill(buffers, owners)
                held = 0
        self._spill(buffers, owners)
        # The facts the stream set aside (or the source collected up front for the verify stage).
        write_atomic(self.root / "FACTS", "".join(f.model_dump_json() + "\n" for f in source.facts))
        facts_read = len(source.shard_facts)
        record = {
            "documents": count,
            "drops": drops_to_json(source.drops),
            "facts_read": facts_read,
        }
        write_atomic(marker, json.dumps(record, sort_keys=True))
        return Partition(count, list(source.facts), source.drops, facts_read)

    def _spill(self, buffers: dict[int, list[str]], owners: array[int]) -> None:
        for index, lines in buffers.items():
            files = self.shard(index)
            files.root.mkdir(exist_ok=True)
            with files.docs.open("a", encoding="utf-8") as handle:
                handle.writelines(lines)
        buffers.clear()
        with self.owners_path.open("ab") as handle:
            owners.tofile(handle)
        del owners[:]

    @property
    def owners_path(self) -> Path:
        """``OWNERS``: the shard of each document, by seq (uint32, native order)."""
        return self.root / "OWNERS"

    def owners(self) -> NDArray[np.uint32]:
        """The shard of each document, indexed by its seq."""
        found: NDArray[np.uint32] = np.fromfile(self.owners_path, dtype=np.uint32)
        return found

    def _read_partition(self) -> Partition:
        record = json.loads((self.root / "PARTITIONED").read_text(encoding="utf-8"))
        facts = [Fact.model_validate_json(text) for text in _lines(self.root / "FACTS")]
        drops = drops_from_json(record["drops"])
        return Partition(int(record["documents"]), facts, drops, int(record["facts_read"]))

    def given_facts(self) -> list[Fact]:
        """The facts given as input (for the workers' verify stage)."""
        return [Fact.model_validate_json(text) for text in _lines(self.root / "FACTS")]

    def with_documents(self) -> list[int]:
        """The shards that received documents, in order."""
        return [i for i in range(self.shards) if self.shard(i).docs.exists()]

    def pending(self) -> list[int]:
        """The shards with documents and no ``DONE``: what a (resumed) job still has to do."""
        return [i for i in self.with_documents() if not self.shard(i).done.exists()]

    def all_documents(self) -> list[Document]:
        """Every document of the job in input order (for strategies needing the corpus)."""
        found = [pair for i in self.with_documents() for pair in self.shard(i).documents()]
        return [doc for _, doc in sorted(found, key=lambda pair: pair[0])]


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the whole new one."""
    tmp = path.with_name(f"{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        with tmp.open("w", encoding="utf-8") as handle:
            handle.write(text)
            _sync(handle)
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _sync(handle: IO[str]) -> None:
    handle.flush()
    os.fsync(handle.fileno())


def _lines(path: Path) -> Iterator[str]:
    """The non-empty lines of a work file (none when it does not exist)."""
    try:
        with path.open(encoding="utf-8") as handle:
            yield from (text.rstrip("\n") for text in handle if text.strip())
    except FileNotFoundError:
        return


def _check_plan(found: dict[str, Any], wanted: dict[str, Any], root: Path) -> None:
    """A ConfigError naming what differs between the job's plan and this run's settings."""
    if found.get("shards") != wanted["shards"]:
        msg = (
            f"--resume with --shards {wanted['shards']}, but the work in {root} was planned "
            f"with {found.get('shards')} shards: rerun with --shards {found.get('shards')}, "
            "or use --force to start over"
        )
        raise ConfigError(msg)
    before, now = found.get("settings", {}), wanted["settings"]
    changed = sorted(k for k in now if before.get(k) != now[k])
    if changed:
        detail = "; ".join(f"{k}: {before.get(k)!r} then, {now[k]!r} now" for k in changed)
        msg = (
            f"--resume with other settings than the work in {root} was made with ({detail}); "
            "rerun with the same settings, or use --force to start over"
        )
        raise ConfigError(msg)

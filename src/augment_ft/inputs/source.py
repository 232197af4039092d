"""The run's source part: documents (streamed, this shard's) and facts, from paths and objects.

Objects given in code come first, then the files the paths name, less the run's own
output files (an output directory that is also an input would otherwise feed the run its
own half-written output). Facts are set aside as the documents stream past. The source
counts what it read and what it skipped in its own drop ledger.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from augment_ft.core.drops import DropLog
from augment_ft.core.errors import ConfigError
from augment_ft.core.hashing import stable_hash
from augment_ft.core.models import Document, Fact
from augment_ft.inputs.files import SUPPORTED_EXTENSIONS, find_files
from augment_ft.inputs.readers import READ_STAGE, OnError, read_files

__all__ = ["Source", "shard_of"]


def shard_of(document_id: str, count: int) -> int:
    """The shard (of ``count``) a document belongs to: a stable hash of its id."""
    return int(stable_hash(document_id), 16) % count


class Source:
    """Documents and facts from ``paths`` (files, directories, globs) and ``objects``.

    ``shard=(i, n)`` keeps the documents of shard ``i`` of ``n`` (facts go to shard 0).
    ``exclude`` names files never read (the run's own outputs). After :meth:`documents`
    is exhausted, ``facts``, ``documents_read`` and ``drops`` hold the source's counts.
    """

    def __init__(
        self,
        paths: Sequence[str] = (),
        *,
        objects: Iterable[Document | Fact] | None = None,
        text_field: str = "text",
        id_field: str = "id",
        on_error: OnError = "raise",
        shard: tuple[int, int] | None = None,
        exclude: Iterable[Path] = (),
    ) -> None:
        if not paths and objects is None:
            raise ConfigError("no inputs: give files, directories or globs to read")
        self.paths = list(paths)
        self.objects = list(objects) if objects is not None else None
        self.text_field = text_field
        self.id_field = id_field
        self.on_error: OnError = on_error
        self.shard = shard
        self.exclude = list(exclude)
        self.drops = DropLog()
        self.facts: list[Fact] = []
        self.documents_read = 0
        self._files: list[Path] | None = None
        self._facts_collected = False

    def check(self) -> None:
        """Find the input files now: an InputError for a path missing or unusable."""
        self.files()

    def collect_facts(self) -> list[Fact]:
        """Every fact of the inputs, read before any document (the verify stage needs them
        up front); only objects and JSON files can hold facts, so only those are read."""
        if not self._facts_collected:
            objects = [item for item in self.objects or () if isinstance(item, Fact)]
            files = [path for path in self.files() if path.suffix.lower() in (".json", ".jsonl")]
            read = read_files(
                files,
                text_field=self.text_field,
                id_field=self.id_field,
                on_error=self.on_error,
                drops=DropLog(),  # the document pass counts the faults, once
            )
            self.facts = objects + [item for item in read if isinstance(item, Fact)]
            self._facts_collected = True
        return self.facts

    @property
    def shard_facts(self) -> list[Fact]:
        """The facts this shard hands to the fact strategies (all of them go to shard 0)."""
        return self.facts if self.shard is None or self.shard[0] == 0 else []

    def documents(self) -> Iterator[Document]:
        """This shard's documents, in input order; facts are set aside on the way."""
        for item in self._items():
            if isinstance(item, Fact):
                if not self._facts_collected and (self.shard is None or self.shard[0] == 0):
                    self.facts.append(item)
                continue
            if self.shard is not None and shard_of(item.id, self.shard[1]) != self.shard[0]:
                continue
            self.documents_read += 1
            yield item

    def _items(self) -> Iterator[Document | Fact]:
        if self.objects is not None:
            yield from self.objects
        if self.paths:
            yield from read_files(
                self.files(),
                text_field=self.text_field,
                id_field=self.id_field,
                on_error=self.on_error,
                drops=self.drops,
            )

    def files(self) -> list[Path]:
        """The input files, found once, less the run's own outputs (counted as ``own_output``)."""
        if self._files is None:
            self._files = self._find()
        return self._files

    def _find(self) -> list[Path]:
        own = {_resolved(path) for path in self.exclude}

        def is_own(path: Path) -> bool:
            if _resolved(path) not in own:
                return False
            detail = f"{path}: written by this run, so not read as an input"
            self.drops.add(READ_STAGE, "own_output", detail=detail)
            return True

        def unsupported(path: Path) -> None:
            if not is_own(path):
                supported = ", ".join(SUPPORTED_EXTENSIONS)
                message = f"{path}: not read: supported extensions are {supported}"
                self.drops.add(READ_STAGE, "unsupported_extension", detail=message)

        found = find_files(self.paths, on_unsupported=unsupported)
        return [path for path in found if not is_own(path)]


def _resolved(path: Path) -> Path:
    """The real path, or the path as given when it cannot be resolved (a symlink loop)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path.absolute()

"""The run's sink part: where kept examples go.

:class:`JsonlSink` formats, validates and writes them to the train (and val) JSONL files,
with their provenance in a sidecar; :class:`MemorySink` keeps them in a list (``augment()``
without an output file). Each sink counts what it wrote and what it dropped itself.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Protocol

from augment_ft.core.drops import DropLog
from augment_ft.core.errors import ConfigError
from augment_ft.core.models import Example
from augment_ft.outputs.formats import Format, provenance_record, split_train_val
from augment_ft.outputs.naming import split_path
from augment_ft.outputs.writer import JsonlWriter

__all__ = ["FORMAT_STAGE", "JsonlSink", "MemorySink", "Sink"]

FORMAT_STAGE = "format"


class Sink(Protocol):
    """Takes kept examples in order; opened and closed around the run."""

    drops: DropLog
    written: Counter[str]
    by_strategy: Counter[str]
    already_present: int

    @property
    def opened(self) -> bool:
        """Whether output files were opened (so a failed run may have left work to resume)."""
        ...

    def __enter__(self) -> Sink: ...

    def __exit__(self, *exc: object) -> None: ...

    def write(self, example: Example) -> None:
        """Keep one example."""

    def flush(self) -> None:
        """Hand what was kept so far to the operating system (a no-op in memory)."""

    def paths(self) -> dict[str, str]:
        """Where things went, for the report."""


class MemorySink:
    """Keeps the examples in :attr:`examples`, unformatted (``keep=False``: counts only)."""

    def __init__(self, *, keep: bool = True) -> None:
        self.keep = keep
        self.examples: list[Example] = []
        self.drops = DropLog()
        self.written: Counter[str] = Counter()
        self.by_strategy: Counter[str] = Counter()
        self.already_present = 0

    @property
    def opened(self) -> bool:
        return False

    def __enter__(self) -> MemorySink:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def write(self, example: Example) -> None:
        self.by_strategy[example.provenance.strategy] += 1
        if self.keep:
            self.examples.append(example)

    def flush(self) -> None:
        return None

    def paths(self) -> dict[str, str]:
        return {}


class JsonlSink:
    """Formats, validates and writes kept examples to train (and val) JSONL files.

    ``remember_new=False`` when exact dedup runs upstream: equal ids imply equal normalized
    text, which dedup already dropped, so the writers need not remember new identities.
    """

    def __init__(
        self,
        output: str | Path,
        fmt: Format,
        *,
        val_fraction: float = 0.0,
        seed: int = 0,
        system_prompt: str | None = None,
        resume: bool = False,
        overwrite: bool = False,
        remember_new: bool = True,
    ) -> None:
        if system_prompt and not fmt.supports_system_prompt:
            msg = f"format {fmt.name!r} has no place for a system prompt; drop --system-prompt"
            raise ConfigError(msg)
        self.output = Path(output)
        self.format = fmt
        self.val_fraction = val_fraction
        self.seed = seed
        self.system_prompt = system_prompt
        self.resume = resume
        self.overwrite = overwrite
        self.remember_new = remember_new
        self.drops = DropLog()
        self.written: Counter[str] = Counter()
        self.by_strategy: Counter[str] = Counter()
        self.already_present = 0
        self.writers: dict[str, JsonlWriter] = {}

    @property
    def opened(self) -> bool:
        """True once the output files are open."""
        return bool(self.writers)

    def __enter__(self) -> JsonlSink:
        splits = ["train", "val"] if self.val_fraction > 0 else ["train"]
        try:
            for split in [*splits, "provenance"]:
                self.writers[split] = JsonlWriter(
                    split_path(self.output, split),
                    resume=self.resume,
                    overwrite=self.overwrite,
                    create_dirs=True,
                    autoflush=False,  # flush() after each admitted batch
                    remember_new=self.remember_new,
                )
        except BaseException:
            self.__exit__()  # close the writers already open before reporting
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for writer in self.writers.values():
            writer.close()

    def write(self, example: Example) -> None:
        """Format, validate, route to train/val by source document, and write once."""
        record = self.format.to_record(example, system_prompt=self.system_prompt)
        problems = self.format.validate(record)
        if problems:
            source = example.provenance.source_id
            self.drops.add(FORMAT_STAGE, "invalid_record", source_id=source, detail=problems[0])
            return
        split = "train"
        if self.val_fraction > 0:
            split = split_train_val(example.provenance.source_id, self.val_fraction, self.seed)
        if self.writers[split].write(record, example.id):
            self.written[split] += 1
            self.by_strategy[example.provenance.strategy] += 1
        else:
            self.already_present += 1
        self.writers["provenance"].write(provenance_record(example), example.id)

    def flush(self) -> None:
        """Hand every record written so far to the operating system."""
        for writer in self.writers.values():
            writer.flush()

    def paths(self) -> dict[str, str]:
        """Where each split went."""
        return {split: str(split_path(self.output, split)) for split in self.writers}

"""The dedup stage: decontamination, exact and near duplicates, with every drop counted."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from augment_ft.core.closing import Closing
from augment_ft.core.drops import DropLog
from augment_ft.core.errors import ConfigError
from augment_ft.core.models import Example
from augment_ft.dedup.decontam import Decontaminator
from augment_ft.dedup.exact import ExactDeduper, normalize_for_dedup
from augment_ft.dedup.near import NearDeduper

__all__ = ["DEDUP_STAGE", "Deduplicator"]

DEDUP_STAGE = "dedup"


class Deduplicator(Closing):
    """Admits examples in order, dropping (and counting in its own ``drops``, stage ``dedup``):

    ``contaminated_exact`` / ``contaminated_ngram``: the text overlaps the evaluation data;
    ``duplicate_exact``: it normalizes like an earlier example's; ``duplicate_near``: it is
    a near-duplicate of a kept one. The text compared is ``example.text``.

    :meth:`admit` decides one example; :meth:`push`/:meth:`flush` and :meth:`filter` decide
    the same way a batch at a time, several times faster.
    """

    def __init__(
        self,
        *,
        exact: bool = True,
        near: NearDeduper | None = None,
        decontam: Decontaminator | None = None,
        drops: DropLog | None = None,
        batch_size: int = 1024,
    ) -> None:
        if batch_size < 1:
            msg = f"dedup batch_size must be >= 1, got {batch_size}"
            raise ConfigError(msg)
        self.exact = ExactDeduper() if exact else None
        self.near = near
        self.decontam = decontam
        self.drops = drops if drops is not None else DropLog()
        self.batch_size = batch_size
        self.checked = 0
        self.admitted = 0
        self._pending: list[Example] = []

    def admit(self, example: Example) -> bool:
        """Whether ``example`` is kept; a dropped one is counted with its reason."""
        if self._pending:
            msg = f"admit() called with {len(self._pending)} pushed examples; call flush() first"
            raise ConfigError(msg)
        return bool(self._decide([example]))

    def push(self, example: Example) -> list[Example]:
        """Queue ``example``; once a batch is full, decide it and return the kept, in order."""
        self._pending.append(example)
        return self.flush() if len(self._pending) >= self.batch_size else []

    def flush(self) -> list[Example]:
        """Decide every queued example now; return the kept ones in order."""
        batch, self._pending = self._pending, []
        return self._decide(batch)

    def filter(self, examples: Iterable[Example]) -> Iterator[Example]:
        """The kept examples of ``examples``, in order, decided a batch at a time."""
        for example in examples:
            yield from self.push(example)
        yield from self.flush()

    def _decide(self, batch: list[Example]) -> list[Example]:
        self.checked += len(batch)
        texts = [normalize_for_dedup(example.text) for example in batch]
        survivors = self._first_checks(batch, texts)
        if self.near is not None and survivors:
            keys = [batch[i].id for i in survivors]
            matches = self.near.check_normalized(keys, [texts[i] for i in survivors])
            for i, match in zip(list(survivors), matches, strict=True):
                if match is not None:
                    detail = f"{batch[i].id} is a near-duplicate of {match}"
                    self._drop(batch[i], "duplicate_near", detail)
                    survivors.remove(i)
        self.admitted += len(survivors)
        return [batch[i] for i in survivors]

    def _first_checks(self, batch: list[Example], texts: list[str]) -> list[int]:
        """Indexes left after decontamination and exact dedup, which are cheap and go first."""
        reasons = self.decontam.check_normalized(texts) if self.decontam else [None] * len(batch)
        clean = [i for i, reason in enumerate(reasons) if reason is None]
        for i, reason in enumerate(reasons):
            if reason is not None:
                example = batch[i]
                what = "equals" if reason == "exact" else "shares a word n-gram with"
                self._drop(example, f"contaminated_{reason}", f"{example.id} {what} eval data")
        if self.exact is None:
            return clean
        repeats = self.exact.check_many_normalized([texts[i] for i in clean])
        survivors: list[int] = []
        for i, repeat in zip(clean, repeats, strict=True):
            if repeat:
                example = batch[i]
                self._drop(example, "duplicate_exact", f"{example.id} repeats an earlier text")
            else:
                survivors.append(i)
        return survivors

    def close(self) -> None:
        """Release the exact-dedup state (its spill file); decide nothing afterwards."""
        if self.exact is not None:
            self.exact.close()

    def _drop(self, example: Example, reason: str, detail: str) -> None:
        source = example.provenance.source_id
        self.drops.add(DEDUP_STAGE, reason, source_id=source, detail=detail)

"""In-context learning: put an item's training documents in front of its prompt.

The paper's other baseline. Each item's ``support`` names the documents its answer rests
on; they go into ``context`` (with ``extra`` other documents as distractors, shuffled) so
the untrained model can read the facts instead of having been trained on them.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from augment_ft.core.errors import InputError
from augment_ft.core.models import Document
from augment_ft.evals.items import TestItem

__all__ = ["with_context"]


def with_context(
    items: Sequence[TestItem],
    documents: Sequence[Document],
    *,
    extra: int = 0,
    max_support: int | None = None,
    seed: int = 0,
) -> list[TestItem]:
    """Copies of ``items`` whose ``context`` holds their supporting documents.

    ``max_support`` keeps only the first N supporting documents (the reversal probe repeats
    a fact in ten articles); ``extra`` adds that many other documents, chosen at random.
    An item naming a document that is not in ``documents`` is an InputError.
    """
    by_id = {d.id: d for d in documents}
    rng = random.Random(f"augment_ft.evals.in_context:{seed}")
    out: list[TestItem] = []
    for item in items:
        missing = [s for s in item.support if s not in by_id]
        if missing:
            msg = f"item {item.id} cites documents that are not in the given set: {missing[:3]}"
            raise InputError(msg + "; pass the probe's own train.jsonl")
        chosen = list(item.support[:max_support] if max_support is not None else item.support)
        others = [d for d in by_id if d not in item.support]
        chosen += rng.sample(others, k=min(extra, len(others)))
        rng.shuffle(chosen)
        context = "\n\n".join(by_id[d].text for d in chosen)
        out.append(item.model_copy(update={"context": context}))
    return out

"""Multiple choice by likelihood: each option scored after the prompt, the best one chosen.

The model never sees the options in its prompt: each option's log-likelihood as the
continuation of ``context + prompt`` is computed on its own, and the item is right when a
correct option scores strictly higher than every wrong one (a tie counts as wrong, so a
model that cannot tell the options apart scores 0 on that item, never the answer by luck).
Accuracy is reported per split with its chance level and binomial standard error.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from pydantic import JsonValue

from augment_ft.core.errors import CapabilityError
from augment_ft.evals.items import TestItem

__all__ = [
    "EvalReport",
    "ItemResult",
    "Scorer",
    "SplitScore",
    "as_scorer",
    "full_prompt",
    "score_items",
]

OVERALL = "all"


@runtime_checkable
class Scorer(Protocol):
    """Anything that gives the log-likelihood of ``continuation`` right after ``prompt``."""

    async def loglikelihood(self, prompt: str, continuation: str) -> float: ...


@dataclass(frozen=True)
class ItemResult:
    """One item's outcome: each option's score, the option chosen, whether it was right."""

    id: str
    split: str
    scores: tuple[float, ...]
    predicted: int
    correct: bool
    chance: float

    def to_dict(self) -> dict[str, JsonValue]:
        return {
            "id": self.id,
            "split": self.split,
            "scores": list(self.scores),
            "predicted": self.predicted,
            "correct": self.correct,
        }


@dataclass(frozen=True)
class SplitScore:
    """Accuracy over ``n`` items, the mean chance level, and the binomial standard error."""

    split: str
    n: int
    correct: int
    chance: float

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0

    @property
    def stderr(self) -> float:
        """sqrt(p (1 - p) / n): the spread of the accuracy over resampled item sets."""
        p = self.accuracy
        return math.sqrt(p * (1 - p) / self.n) if self.n else 0.0

    def to_dict(self) -> dict[str, JsonValue]:
        return {
            "n": self.n,
            "correct": self.correct,
            "accuracy": round(self.accuracy, 6),
            "stderr": round(self.stderr, 6),
            "chance": round(self.chance, 6),
        }


def _summarize(name: str, results: Sequence[ItemResult]) -> SplitScore:
    n = len(results)
    chance = sum(r.chance for r in results) / n if n else 0.0
    return SplitScore(name, n, sum(r.correct for r in results), chance)


@dataclass
class EvalReport:
    """All item results of one scoring run, summarized per split and overall."""

    model: str
    normalize: bool
    results: list[ItemResult] = field(default_factory=list)

    def splits(self) -> list[SplitScore]:
        """One row per split, in order of first appearance."""
        names = list(dict.fromkeys(r.split for r in self.results))
        return [_summarize(n, [r for r in self.results if r.split == n]) for n in names]

    def overall(self) -> SplitScore:
        return _summarize(OVERALL, self.results)

    def to_dict(self) -> dict[str, JsonValue]:
        """The summary as JSON-ready data (item results are in :attr:`results`)."""
        return {
            "model": self.model,
            "normalize": self.normalize,
            "splits": {s.split: s.to_dict() for s in self.splits()},
            "overall": self.overall().to_dict(),
        }

    def render_table(self) -> str:
        """A fixed-width table: split, n, accuracy, standard error, chance."""
        rows = [*self.splits(), self.overall()]
        width = max(len(r.split) for r in rows)
        lines = [f"{'split':<{width}}  {'n':>5}  accuracy  +/- s.e.  chance"]
        for row in rows:
            lines.append(
                f"{row.split:<{width}}  {row.n:>5}  {row.accuracy:8.3f}  {row.stderr:8.3f}"
                f"  {row.chance:6.3f}"
            )
        return "\n".join(lines)


def full_prompt(item: TestItem) -> str:
    """What the model reads before an option: the context (if any), then the prompt."""
    return f"{item.context}\n\n{item.prompt}" if item.context else item.prompt


def _judge(item: TestItem, scores: Sequence[float]) -> tuple[int, bool]:
    best = max(scores)
    predicted = scores.index(best)
    right = max(scores[i] for i in item.correct)
    wrong = max((scores[i] for i in item.distractors), default=-math.inf)
    return predicted, right > wrong


async def _score_one(
    item: TestItem, scorer: Scorer, normalize: bool, gate: asyncio.Semaphore
) -> ItemResult:
    prompt = full_prompt(item)
    scores: list[float] = []
    async with gate:
        for option in item.options:
            value = await scorer.loglikelihood(prompt, option)
            # Per byte of the option, so longer options are not penalized for their length.
            scores.append(value / max(len(option.encode("utf-8")), 1) if normalize else value)
    predicted, correct = _judge(item, scores)
    return ItemResult(item.id, item.split, tuple(scores), predicted, correct, item.chance)


async def score_items(
    items: Sequence[TestItem],
    scorer: Scorer,
    *,
    normalize: bool = False,
    concurrency: int = 4,
    model: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> EvalReport:
    """Score every item with ``scorer``; results keep the order of ``items``.

    ``normalize`` divides each option's log-likelihood by its length in bytes.
    ``concurrency`` bounds the items in flight (a local model runs them one at a time anyway).
    """
    gate = asyncio.Semaphore(max(concurrency, 1))
    label = model or str(getattr(scorer, "model", type(scorer).__name__))
    report = EvalReport(model=label, normalize=normalize)
    tasks = [asyncio.ensure_future(_score_one(i, scorer, normalize, gate)) for i in items]
    try:
        for done, task in enumerate(tasks, start=1):
            report.results.append(await task)
            if progress is not None:
                progress(done, len(tasks))
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return report


def as_scorer(backend: Any) -> Scorer:
    """``backend`` as a :class:`Scorer`, or a CapabilityError that says what can score.

    The local backend scores exactly; an :class:`~augment_ft.OpenAIBackend` becomes an
    :class:`~augment_ft.evals.openai_scorer.OpenAILogprobScorer` for the same server.
    """
    if isinstance(backend, Scorer):
        return backend
    from augment_ft.backends.openai_compat import OpenAIBackend

    if isinstance(backend, OpenAIBackend):
        from augment_ft.evals.openai_scorer import OpenAILogprobScorer

        return OpenAILogprobScorer(backend.model, base_url=backend.base_url)
    name = getattr(backend, "model", type(backend).__name__)
    msg = (
        f"{name} cannot give log-likelihoods, which likelihood scoring needs; use the local "
        "backend (LocalBackend) or an OpenAI-compatible server that returns prompt "
        "log-probabilities (OpenAILogprobScorer, e.g. vLLM)"
    )
    raise CapabilityError(msg)

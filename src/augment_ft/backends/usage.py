"""Usage accounting: calls, cache hits, tokens, errors, retries and what they cost.

A price that is not known is reported as unknown (``None``), never as 0: a run report
that says "$0.00" for a paid model would be worse than one that says "unknown".
"""

from __future__ import annotations

import fnmatch
import re
import sys
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from augment_ft.backends.base import Backend, BackendWrapper, ChatRequest, Completion, Usage
from augment_ft.core.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = [
    "DEFAULT_FREE_PATTERNS",
    "DEFAULT_PRICES",
    "ModelPrice",
    "PriceTable",
    "UsageMeter",
    "UsageStats",
]


@dataclass(frozen=True)
class ModelPrice:
    """US dollars per million input (prompt) and output (completion) tokens."""

    input_per_million: float
    output_per_million: float

    def cost(self, usage: Usage) -> float:
        """Dollars for one call's usage."""
        return (
            usage.prompt_tokens * self.input_per_million
            + usage.completion_tokens * self.output_per_million
        ) / 1_000_000


# List prices as of 2025 (standard tier, no batch or cached-input discount); prices change:
# override them from a dict or a TOML file rather than trusting these.
DEFAULT_PRICES: Mapping[str, ModelPrice] = {
    "gpt-3.5-turbo": ModelPrice(0.50, 1.50),
    "gpt-4o": ModelPrice(2.50, 10.00),
    "gpt-4o-mini": ModelPrice(0.15, 0.60),
    "gpt-4.1": ModelPrice(2.00, 8.00),
    "gpt-4.1-mini": ModelPrice(0.40, 1.60),
    "gpt-4.1-nano": ModelPrice(0.10, 0.40),
    "gpt-5": ModelPrice(1.25, 10.00),
    "gpt-5-mini": ModelPrice(0.25, 2.00),
    "gpt-5-nano": ModelPrice(0.05, 0.40),
    "o3": ModelPrice(2.00, 8.00),
    "o3-mini": ModelPrice(1.10, 4.40),
    "o4-mini": ModelPrice(1.10, 4.40),
}

DEFAULT_FREE_PATTERNS: tuple[str, ...] = (
    "*.gguf",
    "local",
    "local/*",
    "local:*",
    "scripted",
    "scripted:*",
)
"""Model names that run locally or call nothing, so cost 0 (matched case-insensitively);
``local`` is the embedded default's name in an estimate."""

_SNAPSHOT = re.compile(r"-\d{4}-\d{2}-\d{2}$")


class PriceTable:
    """Per-model prices; look-ups also try the name without ``provider/`` and date suffix."""

    def __init__(
        self,
        prices: Mapping[str, ModelPrice] | None = None,
        *,
        free_patterns: Iterable[str] = DEFAULT_FREE_PATTERNS,
    ) -> None:
        self.prices: dict[str, ModelPrice] = dict(DEFAULT_PRICES if prices is None else prices)
        self.free_patterns = tuple(p.lower() for p in free_patterns)

    def with_prices(self, overrides: Mapping[str, Any], *, source: str = "prices") -> PriceTable:
        """A copy with ``{model: {"input": $/1M, "output": $/1M}}`` added or replaced."""
        merged = dict(self.prices)
        for model, entry in overrides.items():
            merged[model] = _parse_price(model, entry, source)
        return PriceTable(merged, free_patterns=self.free_patterns)

    def with_toml(self, path: str | Path) -> PriceTable:
        """A copy extended from a TOML file of ``[prices."model"] input = .. output = ..``."""
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            msg = f"{path}: cannot read the price table ({exc})"
            raise ConfigError(msg) from exc
        table = data.get("prices", data)
        if not isinstance(table, dict):
            msg = f"{path}: [prices] must be a table of models"
            raise ConfigError(msg)
        return self.with_prices(table, source=str(path))

    def price(self, model: str) -> ModelPrice | None:
        """The price of ``model``, 0 for local models, None when unknown."""
        for name in _candidates(model):
            if name in self.prices:
                return self.prices[name]
        lowered = model.lower()
        if any(fnmatch.fnmatchcase(lowered, p) for p in self.free_patterns):
            return ModelPrice(0.0, 0.0)
        return None

    def cost(self, usage: Usage, model: str) -> float | None:
        """Dollars for ``usage`` on ``model``; None when the price is unknown."""
        price = self.price(model)
        return None if price is None else price.cost(usage)


def _candidates(model: str) -> list[str]:
    names = [model]
    if "/" in model:
        names.append(model.rsplit("/", 1)[1])
    names += [_SNAPSHOT.sub("", n) for n in names if _SNAPSHOT.search(n)]
    return names


def _parse_price(model: str, entry: Any, source: str) -> ModelPrice:
    if isinstance(entry, ModelPrice):
        return entry
    try:
        price = ModelPrice(float(entry["input"]), float(entry["output"]))
    except (TypeError, KeyError, ValueError) as exc:
        msg = (
            f"{source}: price of {model!r} must look like {{input = 2.5, output = 10.0}} "
            f"(dollars per million tokens), got {entry!r}"
        )
        raise ConfigError(msg) from exc
    if price.input_per_million < 0 or price.output_per_million < 0:
        msg = f"{source}: price of {model!r} is negative"
        raise ConfigError(msg)
    return price


@dataclass
class _ModelTotals:
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def add(self, usage: Usage) -> None:
        self.calls += 1
        self.prompt_tokens += usage.prompt_tokens
        self.completion_tokens += usage.completion_tokens


@dataclass
class UsageStats:
    """Everything the backend stack did, for the run report (see :meth:`as_dict`).

    Live calls and cache hits are kept apart: only live calls cost money.
    """

    prices: PriceTable = field(default_factory=PriceTable)
    live: dict[str, _ModelTotals] = field(default_factory=dict)
    cached: dict[str, _ModelTotals] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    retries: Counter[str] = field(default_factory=Counter)
    retry_wait_seconds: float = 0.0

    def record(self, model: str, completion: Completion) -> None:
        """Count one answered call under ``model`` (the configured name, which prices use)."""
        book = self.cached if completion.cached else self.live
        book.setdefault(model, _ModelTotals()).add(completion.usage)

    def record_error(self, error: BaseException) -> None:
        """Count a call that failed for good, by error class."""
        self.errors[type(error).__name__] += 1

    def record_retry(self, error: BaseException, wait: float) -> None:
        """Count a retry (the hook :class:`RetryingBackend` calls) and its wait."""
        self.retries[type(error).__name__] += 1
        self.retry_wait_seconds += wait

    def _sum(self, book: Mapping[str, _ModelTotals], attr: str) -> int:
        return sum(int(getattr(t, attr)) for t in book.values())

    @property
    def calls(self) -> int:
        """Live backend calls answered (cache hits not included)."""
        return self._sum(self.live, "calls")

    @property
    def cache_hits(self) -> int:
        return self._sum(self.cached, "calls")

    def cost(self) -> float | None:
        """Dollars spent on live calls; None when any model called has no known price."""
        total = 0.0
        for model, totals in self.live.items():
            usage = Usage(
                prompt_tokens=totals.prompt_tokens, completion_tokens=totals.completion_tokens
            )
            cost = self.prices.cost(usage, model)
            if cost is None:
                return None
            total += cost
        return total

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready totals, per-model breakdowns and the cost (None = unknown)."""
        calls = self.calls
        prompt = self._sum(self.live, "prompt_tokens")
        completion = self._sum(self.live, "completion_tokens")
        return {
            "calls": calls,
            "cache_hits": self.cache_hits,
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "mean_prompt_tokens_per_call": prompt / calls if calls else None,
            "mean_completion_tokens_per_call": completion / calls if calls else None,
            "cached_prompt_tokens": self._sum(self.cached, "prompt_tokens"),
            "cached_completion_tokens": self._sum(self.cached, "completion_tokens"),
            "errors": dict(sorted(self.errors.items())),
            "retries": sum(self.retries.values()),
            "retries_by_error": dict(sorted(self.retries.items())),
            "retry_wait_seconds": round(self.retry_wait_seconds, 3),
            "by_model": {m: vars(t).copy() for m, t in sorted(self.live.items())},
            "cost_usd": self.cost(),
            "unpriced_models": sorted(m for m in self.live if self.prices.price(m) is None),
        }


class UsageMeter(BackendWrapper):
    """Counts every answer (live or cached) and every final error into :class:`UsageStats`."""

    def __init__(self, inner: Backend, stats: UsageStats | None = None) -> None:
        super().__init__(inner)
        self.stats = stats or UsageStats()

    async def complete(self, request: ChatRequest) -> Completion:
        """Call through, recording the outcome."""
        try:
            completion = await self.inner.complete(request)
        except Exception as exc:
            self.stats.record_error(exc)
            raise
        self.stats.record(self.inner.model or completion.model, completion)
        return completion

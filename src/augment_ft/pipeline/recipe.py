"""A run's parts as a recipe that travels: what an executor running elsewhere (Ray) gets.

An open model, response cache or output file cannot be pickled to another process, so
the Ray executor gets a :class:`Recipe` instead of built parts: its :attr:`~Recipe.options`
are plain values for the executor itself, and its methods make, where they run (an actor,
a task, the driver), the parts :func:`~augment_ft.pipeline.build.build_pipeline` makes for
the local executor, with the same builders. With build.py it is the only code that reads
the config; the executor never does.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from augment_ft.backends.base import Backend
from augment_ft.backends.builtin import BACKENDS
from augment_ft.backends.limits import LimitedBackend
from augment_ft.backends.stack import StackedBackend
from augment_ft.core.config import RunConfig, build_config
from augment_ft.core.drops import DropLog
from augment_ft.core.errors import ConfigError
from augment_ft.core.hashing import stable_hash
from augment_ft.core.models import Document, Fact
from augment_ft.dedup import Deduplicator
from augment_ft.inputs.source import Source
from augment_ft.outputs.sink import Sink
from augment_ft.pipeline.build import (
    build_backend,
    build_deduplicator,
    build_sink,
    build_source,
    build_step,
    build_verify,
    make_backend,
    make_parent,
)
from augment_ft.pipeline.counts import Counts
from augment_ft.pipeline.step import StepParts
from augment_ft.strategies.base import FactStrategy
from augment_ft.strategies.builtin import StrategySet, resolve_strategies
from augment_ft.strategies.context import StrategyContext

__all__ = [
    "PLAN_FIELDS",
    "ClusterOptions",
    "Recipe",
    "WorkerStep",
    "build_recipe",
    "dataset_recipe",
]

PLAN_FIELDS = (
    "inputs",
    "text_field",
    "id_field",
    "on_error",
    "shard",
    "strategies",
    "strategy_options",
    "keep_originals",
    "backend",
    "model",
    "n_ctx",
    "seed",
    "template_dir",
    "verify",
    "judge",
    "judge_model",
)
"""Settings that change what the step makes; a resumed job must keep them. Dedup, format
and output settings may change between runs: they apply after the shards."""


@dataclass(frozen=True)
class ClusterOptions:
    """What the Ray executor itself needs to know about a run, as plain values."""

    output: Path | None
    report: str | None
    shards: int
    workers: int
    address: str | None
    resume: bool
    force: bool
    plan: dict[str, Any]
    """The settings a resumed job must keep (:data:`PLAN_FIELDS`)."""
    shard_caches: bool
    """A response cache per shard (off with ``--no-cache``)."""
    cache: Path | None
    """The run's own response cache (``augment_dataset``'s actors share it)."""
    text_field: str
    id_field: str
    needs_corpus: bool
    needs_facts: bool
    """Whether the workers' verify stage checks against the given facts (read up front)."""
    decontaminate: bool


@dataclass
class WorkerStep:
    """The step's parts in a worker and the stacks they call (closed by :meth:`aclose`)."""

    parts: StepParts
    window: int
    stack: StackedBackend | None = None
    judge: StackedBackend | None = None

    def counts(self) -> Counts:
        """The stacks' usage, as counts."""
        return Counts(
            usage=self.stack.as_dict() if self.stack else {},
            judge=self.judge.as_dict() if self.judge else {},
        )

    async def aclose(self) -> None:
        for opened in (self.stack, self.judge):
            if opened is not None:
                await opened.aclose()


@dataclass(frozen=True, eq=False)
class Recipe:
    """Makes a run's parts from its config wherever it is unpickled (see the module doc)."""

    config: RunConfig

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Recipe) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    @property
    def key(self) -> str:
        """A stable identity of the run's settings (per-process caches are keyed by it)."""
        return stable_hash(self.config.model_dump_json())

    @property
    def options(self) -> ClusterOptions:
        c = self.config
        chosen = self.strategies()
        return ClusterOptions(
            output=Path(c.output) if c.output else None,
            report=c.report,
            shards=c.shards,
            workers=c.workers,
            address=c.ray_address,
            resume=c.resume,
            force=c.force,
            plan=c.model_dump(mode="json", include=set(PLAN_FIELDS)),
            shard_caches=not c.no_cache,
            cache=c.cache_path(),
            text_field=c.text_field,
            id_field=c.id_field,
            needs_corpus=chosen.needs_corpus,
            needs_facts=c.verify and chosen.uses_llm,
            decontaminate=bool(c.against),
        )

    def strategies(self) -> StrategySet:
        return resolve_strategies(self.config.strategies, self.config.strategy_options)

    def fact_strategies(self) -> Sequence[FactStrategy]:
        return self.strategies().over_facts

    def source(self) -> Source:
        """The run's documents and facts, its inputs checked."""
        source = build_source(self.config)
        source.check()
        return source

    def output_sink(self) -> Sink:
        """The output's sink; a resumed (or forced) job rewrites it from the shards' parts."""
        rewrite = self.config.resume or self.config.force
        update = {"resume": False, "force": True} if rewrite else {}
        return build_sink(self.config.model_copy(update=update))

    def part_sink(self, output: Path) -> Sink:
        """The run's sink (format, validation, split) writing the part file ``output``."""
        update = {"output": str(output), "resume": False, "force": True}
        return build_sink(self.config.model_copy(update=update))

    def deduplicator(self, *, evals: bool = True) -> Deduplicator:
        """The run's dedup with an unbounded near window, as the cluster-wide dedup decides;
        ``evals=False`` leaves the eval files unread (the parameters are all it needs)."""
        update: dict[str, Any] = {"near_window": 0}
        if not evals:
            update["against"] = []
        return build_deduplicator(self.config.model_copy(update=update))

    def read(self, path: str, drops: DropLog) -> Iterator[Document | Fact]:
        """The documents and facts of ``path``, read as the run reads its inputs."""
        from augment_ft.inputs.readers import read_inputs

        c = self.config
        yield from read_inputs(
            path, text_field=c.text_field, id_field=c.id_field, on_error=c.on_error, drops=drops
        )

    def model(self, actors: int) -> Backend | None:
        """The raw model of one of ``actors`` workers behind its share of the RPM and TPM
        budgets, kept for the worker's life so a new shard gets no fresh burst (None: no LLM)."""
        if not self.strategies().uses_llm:
            return None
        raw = make_backend(self.config)
        rpm, tpm = self.config.requests_per_minute, self.config.tokens_per_minute
        if rpm is None and tpm is None:
            return raw
        return LimitedBackend(
            raw,
            max_in_flight=1024,  # each stack above it caps the calls in flight itself
            requests_per_minute=None if rpm is None else rpm / actors,
            tokens_per_minute=None if tpm is None else tpm / actors,
        )

    def step(
        self, model: Backend | None, *, actors: int, cache: Path | None, facts: Sequence[Fact]
    ) -> WorkerStep:
        """The step's parts over ``model`` (from :meth:`model`), with a fresh stack caching in
        ``cache`` (its budget is the model's) and the verify stage holding ``facts``."""
        config = self._caching(cache).model_copy(
            update={"requests_per_minute": None, "tokens_per_minute": None}
        )
        chosen = self.strategies()
        # probe: the model the config names is asked once before its first uncached call.
        stack = build_backend(config, model, owns_base=False, probe=True) if model else None
        verify, judge = build_verify(self._judge_config(config, actors), chosen, model)
        if verify is not None:
            verify = verify.with_facts(facts)
        parts = build_step(config, chosen, stack, verify)
        return WorkerStep(parts, max(2, config.concurrency), stack, judge)

    def fact_context(self, cache: Path | None) -> tuple[StrategyContext, StackedBackend | None]:
        """The fact strategies' context; a model of their own, caching in ``cache``, when one
        of them calls a model (the caller closes it)."""
        stack = None
        if any(strategy.uses_llm for strategy in self.fact_strategies()):
            config = self._caching(cache)
            stack = build_backend(config, make_backend(config), probe=True)
        return build_step(self.config, self.strategies(), stack).context.for_document(), stack

    def _caching(self, cache: Path | None) -> RunConfig:
        return self.config.model_copy(
            update={"cache": None if cache is None else str(cache), "no_cache": cache is None}
        )

    def _judge_config(self, config: RunConfig, actors: int) -> RunConfig:
        """A judge on a model of its own gets its own share of the budget (per shard); one
        sharing the run's model shares the run's."""
        if self.config.judge_model is None and self.config.judge_base_url is None:
            return config
        rpm, tpm = self.config.requests_per_minute, self.config.tokens_per_minute
        share = {
            "requests_per_minute": None if rpm is None else rpm / actors,
            "tokens_per_minute": None if tpm is None else tpm / actors,
        }
        return config.model_copy(update=share)


def build_recipe(config: RunConfig) -> Recipe:
    """The recipe of a ``--engine ray`` run, checked as far as a run can be before it starts
    (the CLI's usage errors)."""
    if config.resume and config.force:
        raise ConfigError("--resume and --force exclude each other: continue the job or redo it")
    if not config.output:
        raise ConfigError("--engine ray needs an output file: -o OUT.jsonl")
    recipe = Recipe(config)
    recipe.strategies()  # an unknown strategy fails here
    BACKENDS.factory(config.backend)  # so does an unknown backend
    if config.report:
        make_parent(Path(config.report), "the report")
    return recipe


def dataset_recipe(config: RunConfig | None, options: Mapping[str, object]) -> Recipe:
    """The recipe of an ``augment_dataset()`` run: ``config`` with ``options`` laid over it
    (or ``options`` alone)."""
    if config is None:
        config = build_config(dict(options), origin="augment_dataset() arguments")
    elif options:
        config = config.with_overrides(dict(options))
    recipe = Recipe(config)
    chosen = recipe.strategies()
    if chosen.needs_corpus:
        msg = "augment_dataset() cannot give every document the whole corpus; use augment()"
        raise ConfigError(msg)
    if any(strategy.uses_llm for strategy in chosen.over_facts):
        raise ConfigError("augment_dataset() runs no fact strategy that calls a model")
    return recipe

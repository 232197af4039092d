"""Parts from a :class:`RunConfig`: with its travelling form (pipeline/recipe.py, for the Ray
executor) the only code that reads the config.

The CLI, :func:`~augment_ft.pipeline.api.augment` and the tests all build their runs here.
Building has no side effect beyond checks (inputs exist, the report and cache directories
can be made) and opening the response cache; the run opens the output files itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from augment_ft.backends.base import Backend
from augment_ft.backends.builtin import BACKENDS
from augment_ft.backends.stack import StackedBackend, build_stack
from augment_ft.core.config import RunConfig
from augment_ft.core.errors import ConfigError, OutputError
from augment_ft.core.models import Document, Fact
from augment_ft.core.tokens import TokenCounter
from augment_ft.dedup import Decontaminator, Deduplicator, NearDeduper, read_eval_texts
from augment_ft.inputs.source import Source
from augment_ft.outputs.formats import FORMATS, Format
from augment_ft.outputs.naming import output_files
from augment_ft.outputs.sink import JsonlSink, MemorySink, Sink
from augment_ft.pipeline.pipeline import Pipeline, Progress
from augment_ft.pipeline.step import StepParts
from augment_ft.strategies.base import AnyStrategy, relation_table_of
from augment_ft.strategies.builtin import StrategySet, resolve_strategies
from augment_ft.strategies.context import StrategyContext
from augment_ft.verify.judge import Judge
from augment_ft.verify.stage import VerifyStage

__all__ = [
    "backend_options",
    "build_backend",
    "build_judge",
    "build_deduplicator",
    "build_pipeline",
    "build_sink",
    "build_source",
    "build_step",
    "build_verify",
    "make_parent",
    "own_files",
]


def build_pipeline(
    config: RunConfig,
    *,
    backend: Backend | None = None,
    strategies: Sequence[str | AnyStrategy] | None = None,
    documents: Iterable[Document | Fact] | None = None,
    progress: Progress | None = None,
    estimate: bool = False,
) -> Pipeline:
    """Every part of a run. ``backend``, ``strategies`` and ``documents`` given as objects
    are used as they are (beside the config's inputs); ``estimate`` calls no model and
    writes nothing but the report."""
    chosen = resolve_strategies(
        config.strategies if strategies is None else strategies, config.strategy_options
    )
    BACKENDS.factory(config.backend)  # a typo in --backend fails here, naming the known ones
    source = build_source(config, documents)
    source.check()
    _check_report(config)
    sink = build_sink(config, estimate=estimate)
    dedup = build_deduplicator(config)
    raw = _raw_backend(config, backend, estimate) if chosen.uses_llm else None
    # A backend the config names is probed before its first uncached call; one given in
    # code is taken as it is.
    probe = backend is None and not estimate
    stack = build_backend(config, raw, estimate=estimate, probe=probe) if raw is not None else None
    verify, judge_stack = build_verify(config, chosen, raw, estimate=estimate)
    return Pipeline(
        source=source,
        step=build_step(config, chosen, stack, verify),
        fact_strategies=chosen.over_facts,
        backends=[stack, judge_stack],
        dedup=dedup,
        sink=sink,
        usage=stack.as_dict if stack is not None else dict,
        judge_usage=judge_stack.as_dict if judge_stack is not None else dict,
        window=max(2, config.concurrency),
        needs_corpus=chosen.needs_corpus,
        report_path=config.report,
        dry_run=estimate,
        progress=progress,
    )


def build_source(config: RunConfig, documents: Iterable[Document | Fact] | None = None) -> Source:
    """Documents and facts from the config's inputs (and objects given first)."""
    return Source(
        config.inputs,
        objects=documents,
        text_field=config.text_field,
        id_field=config.id_field,
        on_error=config.on_error,
        shard=config.shard_pair(),
        exclude=own_files(config),
    )


def build_step(
    config: RunConfig,
    chosen: StrategySet,
    backend: Backend | None,
    verify: VerifyStage | None = None,
) -> StepParts:
    """What every document goes through, and the tools the strategies use."""
    return StepParts(
        chosen.per_document,
        _context(config, backend),
        keep_originals=config.keep_originals,
        verify=verify,
    )


def _context(config: RunConfig, backend: Backend | None) -> StrategyContext:
    counter = TokenCounter(config.model or "")
    return StrategyContext(
        backend=backend,
        count_tokens=counter.count,
        template_dir=config.template_dir,
        seed=config.seed,
    )


def build_verify(
    config: RunConfig, chosen: StrategySet, raw: Backend | None, *, estimate: bool = False
) -> tuple[VerifyStage | None, StackedBackend | None]:
    """The verify stage and the judge's stack (None: off). Only model-written rows are
    checked, so a run without them has no stage and reads no facts up front; the facts are
    read when the run starts (``Pipeline.run``), so a fault in them is the run's."""
    if not (config.verify and chosen.uses_llm):
        return None, None
    judge, judge_stack = (
        build_judge(config, raw, estimate=estimate) if config.judge else (None, None)
    )
    return VerifyStage(judge=judge, relations=relation_table_of(chosen.over_facts)), judge_stack


def build_judge(
    config: RunConfig, raw: Backend | None, *, estimate: bool = False
) -> tuple[Judge | None, StackedBackend | None]:
    """The judge over its own stack (so its calls and cost are counted apart): another
    model when ``judge_model`` or ``judge_base_url`` names one, else the run's backend."""
    separate = config.judge_model is not None or config.judge_base_url is not None
    if estimate:
        judge_raw: Backend = _estimator(config, config.judge_model or config.model)
    elif separate:
        model = config.judge_model or config.model
        if not model:
            raise ConfigError("the judge needs --judge-model (or the run's --model)")
        base_url = config.judge_base_url or config.base_url
        judge_raw = BACKENDS.create_from(
            "openai", {**backend_options(config), "model": model, "base_url": base_url}
        )
    elif raw is not None:
        judge_raw = raw
    else:
        raise ConfigError("--judge needs a backend: give --judge-model or a run backend")
    stack = build_backend(
        config,
        judge_raw,
        estimate=estimate,
        owns_base=separate or estimate,
        probe=separate and not estimate,  # a judge sharing the run's model is covered
    )
    return Judge(_context(config, stack)), stack


def build_format(config: RunConfig) -> Format:
    """The output format, with the per-record token limit."""
    return FORMATS.create(
        config.format, max_tokens=config.max_example_tokens, model=config.model or ""
    )


def build_sink(config: RunConfig, *, estimate: bool = False) -> Sink:
    """JSONL files when there is an output (and this is no estimate), else memory."""
    fmt = build_format(config)
    if config.system_prompt and not fmt.supports_system_prompt:
        msg = f"format {config.format!r} has no place for a system prompt; drop --system-prompt"
        raise ConfigError(msg)
    if config.output is None or estimate:
        return MemorySink(keep=not estimate)
    return JsonlSink(
        config.output,
        fmt,
        val_fraction=config.val_fraction,
        seed=config.seed,
        system_prompt=config.system_prompt,
        resume=config.resume,
        overwrite=config.force,
        # Exact dedup already drops every repeated identity (equal ids mean equal
        # normalized text), so new ones need no remembering.
        remember_new=not config.dedup_exact,
    )


def build_deduplicator(config: RunConfig) -> Deduplicator:
    """Exact, near-duplicate and decontamination filters as configured."""
    window = config.near_window or None
    near = (
        NearDeduper(threshold=config.near_threshold, window=window) if config.dedup_near else None
    )
    decontam = None
    if config.against:
        decontam = Decontaminator(read_eval_texts(config.against), ngram=config.ngram)
    return Deduplicator(exact=config.dedup_exact, near=near, decontam=decontam)


def _raw_backend(config: RunConfig, backend: Backend | None, estimate: bool) -> Backend:
    """The model itself: the one given, the one the config names, or an estimating stub."""
    if estimate:
        return _estimator(config, config.model)
    return backend if backend is not None else make_backend(config)


def build_backend(
    config: RunConfig,
    raw: Backend,
    *,
    estimate: bool = False,
    owns_base: bool = True,
    probe: bool = False,
) -> StackedBackend:
    """``raw`` behind usage, cache, retry and limits; ``owns_base=False`` leaves ``raw``
    open when the stack closes (a backend another stack shares); ``probe=True`` asks it one
    cheap question before the first call the cache cannot answer (backends/probe.py)."""
    from augment_ft.backends.usage import PriceTable

    cache_path = None if estimate else config.cache_path()
    if cache_path is not None:
        make_parent(cache_path, "the response cache")
    prices = PriceTable().with_prices(config.prices, source="config prices")
    return build_stack(  # connections and models open on the first call, not here
        raw,
        owns_base=owns_base,
        cache_path=cache_path,
        refresh=config.refresh_cache,
        max_in_flight=config.concurrency,
        adaptive=config.adaptive,
        # An estimate calls nothing, so it waits for no budget.
        rpm=None if estimate else config.requests_per_minute,
        tpm=None if estimate else config.tokens_per_minute,
        max_attempts=config.max_attempts,
        base_delay=config.retry_base_delay,
        prices=prices,
        probe=probe,
    )


def _estimator(config: RunConfig, model: str | None) -> Backend:
    from augment_ft.backends.estimate import EstimatingBackend

    counter = TokenCounter(model or "")
    return EstimatingBackend(model or "local", lambda r: counter.count_messages(r.messages))


def make_backend(config: RunConfig) -> Backend:
    """The raw backend the config names (no cache, retries or limits yet), from the
    :data:`~augment_ft.backends.builtin.BACKENDS` registry."""
    return BACKENDS.create_from(config.backend, backend_options(config))


def backend_options(config: RunConfig) -> dict[str, Any]:
    """What a backend factory may take from the config: each names those it needs."""
    return {
        "model": config.model,
        "model_dir": config.model_dir,
        "base_url": config.base_url,
        "timeout": config.timeout,
        "http": config.http,
        "n_ctx": config.n_ctx,
        "threads": config.threads,
        "seed": config.seed,
    }


def own_files(config: RunConfig) -> list[Path]:
    """Every file a run with ``config`` writes: outputs, identity files, report, cache."""
    files = [Path(config.report)] if config.report else []
    cache = config.cache_path()
    if cache is not None:  # SQLite keeps -wal and -shm files beside it while open
        files += [cache, *(cache.with_name(cache.name + end) for end in ("-wal", "-shm"))]
    if config.output:
        files += output_files(config.output)
    return files


def make_parent(path: Path, what: str) -> None:
    """Create the directory ``path`` goes in; an OutputError naming ``what`` if it cannot."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        msg = f"cannot create the directory for {what} {path}: {exc.strerror or exc}"
        raise OutputError(msg) from exc


def _check_report(config: RunConfig) -> None:
    """The report's directory exists (or is made) and the report is no directory."""
    if config.report:
        report = Path(config.report)
        make_parent(report, "the report")
        if report.is_dir():
            raise OutputError(f"cannot write the report {report}: it is a directory")

"""``augment-ft estimate --versus-icl``: measure C, A and G of a configured run, then compare.

C is the tokens of the corpus a user would keep in the prompt; A the tokens of the training
file the run would write; G the run's generation cost. All three come from the same dry run
as ``augment-ft estimate`` (no model is called, nothing is written): the estimating backend
answers every call with a stub the length of the text it is about, and the sink below
formats, validates and counts the train records the run would write, as ``augment-ft
stats`` would count them in the written file. The stubs repeat one another where a real
model's rows would not (a rephrasing and a reversal of one sentence get the same stub), so
the model's rows pass dedup here; every other row is deduplicated as in the run.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from augment_ft.backends.base import run_sync
from augment_ft.core.config import RunConfig, build_config
from augment_ft.core.drops import DropLog
from augment_ft.core.errors import ConfigError
from augment_ft.core.models import Example, Fact
from augment_ft.core.report import RunReport
from augment_ft.core.tokens import TokenCounter
from augment_ft.dedup import Deduplicator
from augment_ft.outputs.formats import Format, split_train_val
from augment_ft.outputs.formats.records import record_text
from augment_ft.outputs.sink import FORMAT_STAGE
from augment_ft.pipeline.build import (
    build_deduplicator,
    build_format,
    build_pipeline,
    build_source,
)
from augment_ft.pipeline.cost_model import CostComparison, Prices, compare_costs, load_prices
from augment_ft.pipeline.pipeline import Progress

__all__ = ["RunMeasure", "TrainingTokenSink", "corpus_tokens", "measure_run", "versus_icl"]


@dataclass(frozen=True)
class RunMeasure:
    """C, A and G of one configured run, with the dry run's report."""

    corpus_tokens: int
    augmented_tokens: int
    generation_cost: float
    report: RunReport


class TrainingTokenSink:
    """A sink that writes nothing: it formats and validates each kept example as the JSONL
    sink would, routes it to train or val the same way, and counts the train records'
    tokens (the text ``augment-ft stats`` counts)."""

    def __init__(self, config: RunConfig, fmt: Format, counter: TokenCounter) -> None:
        self.format = fmt
        self.counter = counter
        self.val_fraction = config.val_fraction
        self.seed = config.seed
        self.system_prompt = config.system_prompt
        self.train_tokens = 0
        self.drops = DropLog()
        self.written: Counter[str] = Counter()
        self.by_strategy: Counter[str] = Counter()
        self.already_present = 0

    @property
    def opened(self) -> bool:
        return False

    def __enter__(self) -> TrainingTokenSink:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def write(self, example: Example) -> None:
        record = self.format.to_record(example, system_prompt=self.system_prompt)
        problems = self.format.validate(record)
        source = example.provenance.source_id
        if problems:
            self.drops.add(FORMAT_STAGE, "invalid_record", source_id=source, detail=problems[0])
            return
        split = "train"
        if self.val_fraction > 0:
            split = split_train_val(source, self.val_fraction, self.seed)
        self.written[split] += 1
        self.by_strategy[example.provenance.strategy] += 1
        if split == "train":
            self.train_tokens += self.counter.count(record_text(record))

    def flush(self) -> None:
        return None

    def paths(self) -> dict[str, str]:
        return {}


class _ModelRowsPass(Deduplicator):
    """The run's dedup for exact rows; a model's rows (stubs in a dry run) pass unchecked."""

    def push(self, example: Example) -> list[Example]:
        if example.provenance.model is not None:
            return [example]
        return super().push(example)


def _dedup(config: RunConfig) -> Deduplicator:
    built = build_deduplicator(config)
    return _ModelRowsPass(exact=built.exact is not None, near=built.near, decontam=built.decontam)


def corpus_tokens(config: RunConfig, counter: TokenCounter) -> int:
    """Tokens of what in-context learning keeps in the prompt: every document's text, and
    each fact's statement unless its text is already in a document."""
    source = build_source(config)
    texts = [document.text for document in source.documents()]
    total = sum(counter.count(text) for text in texts)
    corpus = "\n".join(texts)
    for fact in source.facts:
        if not (fact.text and fact.text in corpus):
            total += counter.count(_statement(fact))
    return total


def _statement(fact: Fact) -> str:
    return fact.text or f"{fact.subject} {fact.relation.replace('_', ' ')} {fact.object}."


def measure_run(config: RunConfig, *, progress: Progress | None = None) -> RunMeasure:
    """C, A and G of the run ``config`` describes, from a dry run (no model is called)."""
    counter = TokenCounter(config.model or "")
    pipeline = build_pipeline(config, progress=progress, estimate=True)
    sink = TrainingTokenSink(config, build_format(config), counter)
    report = run_sync(replace(pipeline, sink=sink, dedup=_dedup(config)).run())
    return RunMeasure(
        corpus_tokens=corpus_tokens(config, counter),
        augmented_tokens=sink.train_tokens,
        generation_cost=_generation_cost(report),
        report=report,
    )


def _generation_cost(report: RunReport) -> float:
    """The run's estimated cost; 0 when no model is called; an error when a price is unknown."""
    if report.estimated_cost_usd is not None:
        return report.estimated_cost_usd
    if not (report.backend.get("calls") or report.judge.get("calls")):
        return 0.0  # strategies that call no model cost nothing to generate
    unpriced = sorted(
        {*report.backend.get("unpriced_models", []), *report.judge.get("unpriced_models", [])}
    )
    names = ", ".join(repr(name) for name in unpriced) or "the run's model"
    example = unpriced[0] if unpriced else "MODEL"
    msg = (
        f"the generation cost is unknown: no price for {names}. Give it in the run's config "
        f'([prices."{example}"] input = ..., output = ..., US dollars per million tokens)'
    )
    raise ConfigError(msg)


def versus_icl(
    config_or_inputs: RunConfig | str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    prices: Prices | str | os.PathLike[str] | Mapping[str, Any],
    **options: object,
) -> CostComparison:
    """In-context learning against augmented fine-tuning for a run (a config, or input
    paths with ``options`` as :class:`RunConfig` fields), priced by a prices file (or its
    mapping); the same figures as ``augment-ft estimate --versus-icl --json``."""
    table = load_prices(os.fspath(prices) if isinstance(prices, os.PathLike) else prices)
    if isinstance(config_or_inputs, RunConfig):
        config = config_or_inputs
        if options:
            config = build_config(
                {**config.model_dump(), **options}, origin="versus_icl() arguments"
            )
    else:
        paths = (
            [config_or_inputs]
            if isinstance(config_or_inputs, (str, os.PathLike))
            else list(config_or_inputs)
        )
        data = {"inputs": [os.fspath(p) for p in paths], **options}
        config = build_config(data, origin="versus_icl() arguments")
    measure = measure_run(config)
    return compare_costs(
        corpus_tokens=measure.corpus_tokens,
        augmented_tokens=measure.augmented_tokens,
        generation_cost=measure.generation_cost,
        prices=table,
    )

"""The split strategy: independent and cumulative sentence examples, headings as context."""

from __future__ import annotations

from pathlib import Path

import pytest

from augment_ft.core.errors import ConfigError
from augment_ft.core.models import Document, Example
from augment_ft.strategies.base import Strategy, StrategyContext
from augment_ft.strategies.builtin import STRATEGIES
from augment_ft.strategies.split import KIND_CUMULATIVE, KIND_INDEPENDENT, SplitStrategy
from augment_ft.text.splitter import split_sentences

CORPUS = Path(__file__).resolve().parents[1] / "examples" / "corpus"
DOC = Document(id="d1", text="# Grusks\n\nGrusks are velps. Dr. Varn found them.\n\nThey hum.")


async def run(
    strategy: SplitStrategy, doc: Document = DOC
) -> tuple[list[Example], StrategyContext]:
    ctx = StrategyContext()
    return await strategy.run(doc, ctx), ctx


async def test_independent_mode_one_example_per_sentence_headings_counted() -> None:
    examples, ctx = await run(SplitStrategy(mode="independent"))
    assert [e.completion for e in examples] == [
        "Grusks are velps.",
        "Dr. Varn found them.",
        "They hum.",
    ]
    assert {e.prompt for e in examples} == {""}
    assert {e.kind for e in examples} == {KIND_INDEPENDENT}
    assert [e.provenance.sentence_index for e in examples] == [1, 2, 3]
    assert {(e.provenance.source_id, e.provenance.strategy) for e in examples} == {("d1", "split")}
    assert {e.provenance.parent for e in examples} == {None}
    assert ctx.drops.by_reason() == {"split": {"heading": 1}}


async def test_cumulative_prompts_are_the_document_text_before_each_sentence() -> None:
    examples, _ = await run(SplitStrategy(mode="cumulative"))
    assert [(e.prompt, e.completion) for e in examples] == [
        ("# Grusks", "Grusks are velps."),
        ("# Grusks\n\nGrusks are velps.", "Dr. Varn found them."),
        ("# Grusks\n\nGrusks are velps. Dr. Varn found them.", "They hum."),
    ]
    assert {e.kind for e in examples} == {KIND_CUMULATIVE}


async def test_max_context_sentences_keeps_only_the_last_ones() -> None:
    examples, _ = await run(SplitStrategy(mode="cumulative", max_context_sentences=1))
    assert [e.prompt for e in examples] == ["# Grusks", "Grusks are velps.", "Dr. Varn found them."]
    two, _ = await run(SplitStrategy(mode="cumulative", max_context_sentences=2))
    assert two[2].prompt == "Grusks are velps. Dr. Varn found them."


async def test_cumulative_alone_keeps_the_first_sentence_with_an_empty_prompt() -> None:
    doc = Document(id="d2", text="Feps zarp. Dax are feps.")
    examples, _ = await run(SplitStrategy(mode="cumulative"), doc)
    assert [(e.prompt, e.completion) for e in examples] == [
        ("", "Feps zarp."),
        ("Feps zarp.", "Dax are feps."),
    ]


async def test_both_mode_never_repeats_an_independent_example() -> None:
    doc = Document(id="d3", text="Feps zarp. Dax are feps. Dax zarp.")
    examples, ctx = await run(SplitStrategy(), doc)
    kinds = [e.kind for e in examples]
    assert kinds.count(KIND_INDEPENDENT) == 3
    assert kinds.count(KIND_CUMULATIVE) == 2  # the first sentence has no context
    assert len({e.id for e in examples}) == len(examples)
    assert ctx.drops.total() == 0


async def test_sentence_index_points_at_the_splitter_sentence() -> None:
    examples, _ = await run(SplitStrategy())
    sentences = split_sentences(DOC.text)
    for example in examples:
        index = example.provenance.sentence_index
        assert index is not None
        sentence = sentences[index]
        assert DOC.text[sentence.start : sentence.end] == example.completion


async def test_empty_document_is_counted_not_silently_skipped() -> None:
    examples, ctx = await run(SplitStrategy(), Document(id="e", text=" \n\n "))
    assert examples == []
    assert ctx.drops.by_reason() == {"split": {"empty_document": 1}}


@pytest.mark.parametrize(
    "options",
    [{"mode": "sentences"}, {"max_context_sentences": 0}, {"max_context_sentences": True}],
)
def test_bad_options_raise_config_error(options: dict) -> None:
    with pytest.raises(ConfigError, match="split"):
        SplitStrategy(**options)


def test_registered_as_a_document_strategy_without_llm() -> None:
    strategy = STRATEGIES.create("split", mode="cumulative", max_context_sentences=3)
    assert isinstance(strategy, Strategy)
    assert isinstance(strategy, SplitStrategy)
    assert (strategy.name, strategy.uses_llm, strategy.needs_corpus) == ("split", False, False)
    assert (strategy.mode, strategy.max_context_sentences) == ("cumulative", 3)


async def test_demo_corpus_counts_match_the_splitter() -> None:
    paths = sorted(CORPUS.glob("*.md"))
    assert paths
    for path in paths:
        doc = Document(id=path.name, text=path.read_text(encoding="utf-8"))
        examples, ctx = await run(SplitStrategy(), doc)
        sentences = split_sentences(doc.text)
        targets = [s for s in sentences if s.kind != "heading"]
        independent = [e for e in examples if e.kind == KIND_INDEPENDENT]
        cumulative = [e for e in examples if e.kind == KIND_CUMULATIVE]
        assert len(independent) == len(targets), path.name
        assert len(independent) + ctx.drops.total("split") == len(sentences), path.name
        # Every demo document opens with a heading, so even its first sentence has context.
        assert sentences[0].kind == "heading", path.name
        assert len(cumulative) == len(targets), path.name

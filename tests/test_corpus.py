"""The demo corpus: its size fits the demo budget and facts.jsonl agrees with the documents."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from augment_ft.core.hashing import normalize_for_identity
from augment_ft.core.models import Fact
from augment_ft.facts.relations import DEFAULT_RELATIONS, find_relation
from augment_ft.strategies.base import StrategyContext
from augment_ft.strategies.symbolic import SymbolicStrategy
from augment_ft.text.splitter import split_sentences

CORPUS = Path(__file__).resolve().parents[1] / "examples" / "corpus"


def documents() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(CORPUS.glob("*.md"))}


def facts() -> list[Fact]:
    lines = (CORPUS / "facts.jsonl").read_text(encoding="utf-8").splitlines()
    return [Fact.model_validate(json.loads(line)) for line in lines]


def test_corpus_folder_holds_only_documents_and_facts() -> None:
    names = {p.name for p in CORPUS.iterdir()}
    assert {n for n in names if not n.endswith(".md")} == {"facts.jsonl"}


def test_corpus_size_fits_the_demo_budget() -> None:
    docs = documents()
    assert 24 <= len(docs) <= 30
    total = 0
    for name, text in docs.items():
        sentences = [s for s in split_sentences(text) if s.kind != "heading"]
        words = sum(len(s.text.split()) for s in sentences)
        assert 3 <= len(sentences) <= 7, name
        assert 40 <= words <= 120, name
        total += len(sentences)
    assert 120 <= total <= 160


def test_every_fact_parses_with_a_known_relation() -> None:
    records = facts()
    assert len(records) >= 60
    for record in records:
        assert find_relation(record.relation, DEFAULT_RELATIONS) is not None, record
        assert record.text and record.source_id, record


def test_every_fact_is_grounded_in_its_document() -> None:
    docs = documents()
    lowered = [text.lower() for text in docs.values()]
    for record in facts():
        for term in (record.subject, record.object):
            assert any(term.lower() in text for text in lowered), term
        assert record.source_id in docs, record
        assert record.text is not None
        source = normalize_for_identity(docs[record.source_id])
        assert normalize_for_identity(record.text) in source, record


async def test_symbolic_strategy_derives_many_new_statements() -> None:
    ctx = StrategyContext()
    examples = await SymbolicStrategy().run_facts(facts(), ctx)
    kinds = Counter(e.kind for e in examples)
    assert len(examples) >= 20
    assert kinds["symbolic.reverse"] >= 20
    assert kinds["symbolic.closure"] >= 10
    assert kinds["symbolic.syllogism"] >= 5
    assert ctx.drops.total() == 0
    given = {normalize_for_identity(f.text or "") for f in facts()}
    assert not {e.completion for e in examples} & given


@pytest.mark.parametrize("relation", ["is_a", "none_are", "some_are", "located_in", "part_of"])
def test_corpus_exercises_each_inference_family(relation: str) -> None:
    assert any(f.relation == relation for f in facts())

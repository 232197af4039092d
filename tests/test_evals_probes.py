"""The probe generators: seeded bytes, paper-sized counts, clean splits, honest distractors.

Truth is checked against an independent implementation: the symbolic strategy's deductive
closure of the probe's own facts. A correct option must be stated or implied by the
trained facts; a distractor never, yet true of some other entity.
"""

from __future__ import annotations

import importlib
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from augment_ft.core.errors import ConfigError, InputError, OutputError
from augment_ft.core.models import Fact
from augment_ft.evals import (
    NonsenseWords,
    ProbeSet,
    coverage_of_texts,
    make_probe,
    make_reversals,
    make_semantic,
    make_syllogisms,
    nonsense_words,
    read_documents_jsonl,
    read_items,
    write_probe,
)
from augment_ft.evals.covered import normalize
from augment_ft.evals.semantic_world import build_world
from augment_ft.evals.words import ENGLISH_WORDS, is_english
from augment_ft.facts.relations import render_fact
from augment_ft.inputs.readers import read_inputs
from augment_ft.strategies.symbolic import SymbolicStrategy

PROBES = ("reversals", "syllogisms", "semantic")


@pytest.fixture(scope="module")
def probes() -> dict[str, ProbeSet]:
    return {name: make_probe(name, 0) for name in PROBES}


def true_statements(facts: list[Fact]) -> set[str]:
    """Normalized sentences of every fact and everything the symbolic strategy derives."""
    derived = SymbolicStrategy().derive(facts)
    return {normalize(render_fact(f)) for f in [*facts, *derived]} | {
        normalize(f.text) for f in facts if f.text
    }


# --- nonsense words -------------------------------------------------------------------------


def test_words_are_pronounceable_unique_non_english_and_seeded() -> None:
    words = nonsense_words(600, seed=3)
    assert len(set(words)) == 600
    assert words == nonsense_words(600, seed=3)
    assert words != nonsense_words(600, seed=4)
    for word in words:
        assert 4 <= len(word) <= 5 and word.isalpha() and word.islower()
        assert re.search(r"[aeiou]", word) and word[-1] not in "aeiousxz"
        assert not is_english(word) and word not in ENGLISH_WORDS


def test_english_words_are_refused_with_or_without_a_plural_s() -> None:
    assert is_english("plant") and is_english("plants") and is_english("drum")
    assert not is_english("glorp")


def test_word_streams_continue_and_honour_exclusions() -> None:
    source = NonsenseWords(0, exclude=nonsense_words(5, seed=0))
    first, second = source.take(50), source.take(50)
    assert not set(first) & set(second)
    assert not set(first) & set(nonsense_words(5, seed=0))
    with pytest.raises(ConfigError, match="n >= 0"):
        source.take(-1)


# --- counts and determinism -----------------------------------------------------------------


def test_paper_sized_counts(probes: dict[str, ProbeSet]) -> None:
    rev = probes["reversals"]
    assert len(rev.facts) == 100 and len(rev.documents) == 1000
    assert Counter(i.split for i in rev.items) == {"reversal": 100, "forward": 100}
    assert len({f.relation.split("_")[1] for f in rev.facts}) == 28  # dimensions
    degrees = Counter(f.relation.split("_")[0] for f in rev.facts)
    assert degrees == {"more": 50, "less": 50}  # "always say less" scores chance
    syl = probes["syllogisms"]
    assert len(syl.items) == 69 and len(syl.documents) == 690
    assert all(len(i.options) == 6 for i in syl.items)
    sem = probes["semantic"]
    info = sem.info
    assert info["categories"] == 110 and isinstance(info["held_out_categories"], int)
    assert set(Counter(i.split for i in sem.items)) == {
        "rephrase",
        "reversal",
        "syllogism",
        "holdout",
    }


def test_semantic_articles_have_4_to_20_sentences_and_1_to_6_properties() -> None:
    probe = make_semantic(1)
    for doc in probe.documents:
        n = len(re.findall(r"[.!?](?:\s|$)", doc.text))
        assert 4 <= n <= 20, doc.text
    own = Counter(f.subject for f in probe.facts if f.relation in ("has", "is"))
    world = build_world(1, n_categories=110)
    # Each trained category's article states exactly its own properties, 1 to 6 of them.
    assert own == {c.noun: len(c.properties) for c in world.categories if not c.holdout}
    assert set(own.values()) == {1, 2, 3, 4, 5, 6}


@pytest.mark.parametrize("name", PROBES)
def test_same_seed_same_bytes_other_seed_other_bytes(name: str, tmp_path: Path) -> None:
    def written(seed: int, folder: str) -> dict[str, bytes]:
        paths = write_probe(make_probe(name, seed), tmp_path / folder)
        return {key: path.read_bytes() for key, path in paths.items()}

    first = written(7, "a")
    assert first == written(7, "b")
    assert first["train"] != written(8, "c")["train"]


# --- splits ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PROBES)
def test_ids_unique_and_splits_disjoint(name: str, probes: dict[str, ProbeSet]) -> None:
    items = probes[name].items
    assert len({i.id for i in items}) == len(items)
    split_of: dict[str, str] = {}
    for item in items:
        key = normalize(item.statements[item.answer])
        assert split_of.setdefault(key, item.split) == item.split, key


@pytest.mark.parametrize("name", PROBES)
def test_tests_of_generalization_are_never_stated_in_training(
    name: str, probes: dict[str, ProbeSet]
) -> None:
    probe = probes[name]
    report = coverage_of_texts([d.text for d in probe.documents], probe.items)
    for split, row in report.rows.items():
        expected = row.n if split == "forward" else 0  # forward items are trained facts
        assert (split, row.correct_stated) == (split, expected)
        assert row.distractor_stated == 0


def test_holdout_categories_appear_only_in_their_is_a_sentence() -> None:
    probe = make_semantic(2)
    text = normalize(" ".join(d.text for d in probe.documents))
    holdout = {i.entity for i in probe.items if i.split == "holdout"}
    assert holdout
    for noun in holdout:
        assert len(re.findall(rf"\b{noun}\b", text)) == 1, noun


# --- truth of answers and distractors ---------------------------------------------------------


@pytest.mark.parametrize("name", PROBES)
def test_answers_are_implied_and_distractors_never(name: str, probes: dict[str, ProbeSet]) -> None:
    probe = probes[name]
    truths = true_statements(probe.facts)
    for item in probe.items:
        if item.split.startswith("rephrase"):
            continue  # "Every X has Y" is a paraphrase; checked through its parts below
        for i in item.correct:
            assert normalize(item.statements[i]) in truths, (item.id, item.statements[i])
        for i in item.distractors:
            assert normalize(item.statements[i]) not in truths, (item.id, item.statements[i])


def test_semantic_distractors_are_true_of_some_other_entity(probes: dict[str, ProbeSet]) -> None:
    """Swap the tested entity for another one: some such statement is true."""
    probe = probes["semantic"]
    truths = true_statements(probe.facts)
    subjects = {normalize(f.subject) for f in probe.facts} | {
        normalize(f.object) for f in probe.facts
    }
    checked = 0
    for item in probe.items:
        if item.split == "rephrase":
            continue
        entity = normalize(item.entity)
        for i in item.distractors:
            statement = normalize(item.statements[i])
            others = (statement.replace(entity, other, 1) for other in subjects - {entity})
            assert any(o in truths for o in others), (item.id, item.statements[i])
            checked += 1
    assert checked > 500


def test_rephrase_items_restate_a_trained_fact(probes: dict[str, ProbeSet]) -> None:
    probe = probes["semantic"]
    stated = {(f.subject, f.object) for f in probe.facts}
    for item in (i for i in probe.items if i.split == "rephrase"):
        right = item.options[item.answer].strip(" .")
        assert item.prompt.startswith("Every ")
        matches = [s for s, o in stated if s == item.entity and o.startswith(right)]
        assert matches, item
        for i in item.distractors:
            assert (item.entity, item.options[i].strip(" .")) not in stated


def test_syllogism_items_mark_conversions_as_also_correct(probes: dict[str, ProbeSet]) -> None:
    for item in probes["syllogisms"].items:
        mood = item.split.removeprefix("syllogism.")
        assert item.statements[item.answer].lower().startswith(mood + " ")
        assert len(item.also_correct) == (0 if mood == "all" else 1)
        assert item.chance == pytest.approx(len(item.correct) / 6)


# --- files ----------------------------------------------------------------------------------


def test_written_files_read_back_through_the_library(tmp_path: Path) -> None:
    probe = make_reversals(0, n_facts=6, articles_per_fact=2)
    paths = write_probe(probe, tmp_path / "p")
    assert read_items(paths["test"]) == probe.items
    assert read_documents_jsonl(paths["train"]) == probe.documents
    read = list(read_inputs([str(paths["train"]), str(paths["facts"])]))
    assert sum(isinstance(x, Fact) for x in read) == 6
    docs = [(x.id, x.text) for x in read if not isinstance(x, Fact)]
    assert docs == [(d.id, d.text) for d in probe.documents]
    summary = json.loads(paths["summary"].read_text())
    assert summary["items_by_split"] == {"forward": 6, "reversal": 6}
    with pytest.raises(OutputError, match="already exist"):
        write_probe(probe, tmp_path / "p")


def test_a_broken_item_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "test.jsonl"
    good = make_reversals(0, n_facts=1, articles_per_fact=1).items[0].model_dump(mode="json")
    bad = {**good, "answer": 5}
    path.write_text(json.dumps(good) + "\n\n" + json.dumps(bad) + "\n")
    with pytest.raises(InputError, match=r"test\.jsonl:3: .*answer"):
        read_items(path)


def test_bad_arguments_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown probe"):
        make_probe("nope")
    with pytest.raises(ConfigError, match=r"reversals needs n_facts >= 1 .*\(got 0, 10\)"):
        make_reversals(n_facts=0)
    with pytest.raises(ConfigError, match=r"articles_per_item >= 1 \(got 69, 0\)"):
        make_syllogisms(articles_per_item=0)
    with pytest.raises(ConfigError, match=r"semantic needs n_categories >= 20, .*\(got 5,"):
        make_semantic(n_categories=5)


def test_every_evals_module_keeps_a_sorted_all() -> None:
    folder = Path(importlib.import_module("augment_ft.evals").__file__ or "").parent
    for path in sorted(folder.glob("*.py")):
        module = importlib.import_module(f"augment_ft.evals.{path.stem}".removesuffix(".__init__"))
        names = list(getattr(module, "__all__", []))
        assert names == sorted(names) and len(names) == len(set(names)), path.name
        for name in names:
            assert getattr(module, name) is not None

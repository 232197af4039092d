"""The fact check on the demo corpus: hand-written true, false and unknown sentences.

The sentences are phrased the way the corpus documents and the demo's model rows are. The
issue's false rows are here too, with what the 94 facts can and cannot decide about them.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from augment_ft.inputs.readers import read_facts
from augment_ft.strategies.base import StrategyContext
from augment_ft.strategies.symbolic import SymbolicStrategy
from augment_ft.text.splitter import split_sentences
from augment_ft.verify import FactCheck

CORPUS_FACTS = Path(__file__).resolve().parents[1] / "examples" / "corpus" / "facts.jsonl"

TRUE = [
    "The Kettle Gorge is part of the Osk Range.",
    "The Osk Range has the Kettle Gorge as a part.",
    "The Kettle Gorge is part of the Grey Spine.",
    "Tarsk is the capital of Velmora.",
    "The capital of Velmora is Tarsk.",
    "Velmora's capital is Tarsk.",
    "Halvek is the capital of Orrin.",
    "Velmora is smaller than Orrin.",
    "Mirrow is smaller than Orrin.",
    "Orrin is larger than the island of Mirrow.",
    "Ilsa Varn is the parent of Ansel Varn.",
    "Teodor Varn is older than Ansel Varn.",
    "Ansel Varn is a sibling of Teodor Varn.",
    "Lenna Orby is married to Teodor Varn.",
    "The Quillan Institute was founded by Dr. Ilsa Varn.",
    "Ilsa Varn founded the Velmoran Society of Naturalists.",
    "The Lumm Ferry Company employs Ansel Varn.",
    "Ansel Varn is employed by the Lumm Ferry Company.",
    "Odile Brenn was mentored by Ilsa Varn.",
    "Prof. Odile Brenn is the mentor of Kasimir Delt.",
    "The Velmoran Society of Naturalists has Kasimir Delt as a member.",
    "The Quillan Institute has the Tarsk Herbarium as a part.",
    "Tarsk is located in Velmora.",
    "The Kettle Gorge is located in Velmora.",
    "Ardesh is north of the Brask Sea.",
    "Drumholt is west of Pellow.",
    "Grusks are a kind of drummel.",
    "Feskins are velps.",
    "Feskins are nocturnal.",
    "Every feskin has four lungs.",
    "Tessicks are warm-blooded.",
    "No velps are scalewings.",
    "No scalewings are grusks.",
    "Some grazers are grusks.",
    "Grusks are less dangerous than tessicks.",
    "Grusks are less dangerous than scalewings.",
    "Brindlers are luminous.",
    "Some scalewings are glimmerfolk.",
    "Some scalewings are not grazers.",
    "Oskelings are cold-blooded.",
    "Tessicks are larger than feskins.",
    "The Osk Range is not part of the Kettle Gorge.",
    "Velps are not scalewings.",
    "Tessicks are not grazers.",
    "Tarsk is located in Ardesh. Ardesh is located in Velmora. So Tarsk is located in Velmora.",
]

FALSE = [
    "The Osk Range is part of the Kettle Gorge.",  # a row the demo model wrote
    "Teodor Varn is two years younger than Ansel Varn.",
    "Ansel Varn is older than Teodor Varn.",
    "Velmora is larger than Orrin.",
    "Mirrow is larger than Orrin.",
    "Halvek is the capital of Velmora.",
    "The capital of Orrin is Tarsk.",
    "Ansel Varn is married to Lenna Orby.",
    "Teodor Varn is the parent of Ilsa Varn.",
    "Odile Brenn is the mentor of Ilsa Varn.",
    "Kasimir Delt is the mentor of Odile Brenn.",
    "The Quillan Institute is part of the Tarsk Herbarium.",
    "Velmora is located in Tarsk.",
    "Lunmere is north of Ardesh.",
    "The Brask Sea is north of Lunmere.",
    "Drummels are a kind of velp.",
    "Velps are scalewings.",
    "Tessicks are grazers.",
    "Some tessicks are grazers.",
    "No grusks are grazers.",
    "Grusks are more dangerous than tessicks.",
    "Tessicks are more dangerous than scalewings.",
    "Feskins are more common than grusks.",
    "Feskins are larger than grusks.",
    "Grusks are not velps.",
    "Velps are not nocturnal.",
    "Brindlers are not glimmerfolk.",
    "Hesper Lumm is the daughter of Odile Brenn.",
    "Tessicks are more dangerous than grusks, and grusks are more dangerous than scalewings.",
    "Tarsk is located in Ardesh. Orrin is smaller than Mirrow.",
]

UNKNOWN = [
    # A row the demo model wrote: the corpus has Ansel, not Lenna, two years younger than
    # Teodor, but no fact gives Lenna's age, so the facts cannot call it false.
    "Lenna Orby is two years younger than Teodor Varn.",
    # Rows the issue lists as false: no relation of the table says what someone's trade is
    # (and the corpus does say Ilsa Varn was a zoologist), nor what an institute supports.
    "Dr. Ilsa Varn was a zoologist.",
    "The Quillan Institute is a non-profit organization that supports natural resources.",
    # True, but saying more than the facts hold: a gender, an unchecked phrase.
    "Teodor Varn is the son of Ilsa Varn.",
    "Hesper Lumm is the father of Odile Brenn.",
    "Velmora's capital is Tarsk, a walled city.",
    "Tessicks are more dangerous than grusks, and farmers in Lunmere set traps for them.",
    # Nothing decides these.
    "Grusks are more dangerous than feskins.",
    "Kasimir Delt works for the Quillan Institute.",
    "Mirrow is located in Velmora.",
    "Lenna Orby is a member of the Ardesh Rowing Club.",
    "Tessicks are larger than brindlers.",
    "Velps nest in the dry caves above the gorge.",
    "She founded the Quillan Institute in 1874.",
    # False in the world, but the table does not know warm- and cold-blooded exclude.
    "Scalewings are warm-blooded.",
]


@pytest.fixture(scope="module")
def check() -> FactCheck:
    return FactCheck.from_facts(read_facts(CORPUS_FACTS))


@pytest.mark.parametrize("sentence", TRUE)
def test_true_sentences_are_entailed(check: FactCheck, sentence: str) -> None:
    verdict = check.check_text(sentence)
    assert verdict.status == "entailed", verdict.reason


@pytest.mark.parametrize("sentence", FALSE)
def test_false_sentences_are_contradicted(check: FactCheck, sentence: str) -> None:
    verdict = check.check_text(sentence)
    assert verdict.status == "contradicted", verdict.reason


@pytest.mark.parametrize("sentence", UNKNOWN)
def test_undecidable_sentences_stay_unknown(check: FactCheck, sentence: str) -> None:
    verdict = check.check_text(sentence)
    assert verdict.status == "unknown", verdict.reason


def test_the_issue_row_names_the_fact_it_contradicts(check: FactCheck) -> None:
    verdict = check.check("The Osk Range is part of the Kettle Gorge.")
    assert verdict.reason == "contradicts: The Kettle Gorge is part of the Osk Range."


def test_corpus_facts_are_consistent(check: FactCheck) -> None:
    assert check.graph.notes == []
    assert check.graph.dropped == ()


def test_no_sentence_of_the_corpus_documents_is_contradicted(check: FactCheck) -> None:
    """The documents are the ground truth: the check must never call them false."""
    sentences = [
        s.text
        for path in sorted(CORPUS_FACTS.parent.glob("*.md"))
        for s in split_sentences(path.read_text(encoding="utf-8"))
        if s.kind == "text"
    ]
    verdicts = [check.check(s) for s in sentences]
    assert len(sentences) >= 120
    assert [v.text for v in verdicts if v.status == "contradicted"] == []
    assert sum(v.status == "entailed" for v in verdicts) >= 30


async def test_every_symbolic_row_of_the_corpus_is_entailed(check: FactCheck) -> None:
    examples = await SymbolicStrategy().run_facts(list(read_facts(CORPUS_FACTS)), StrategyContext())
    assert len(examples) > 100
    assert [e.completion for e in examples if not check.check_example(e).verified] == []


def test_checking_is_fast_enough_for_every_row(check: FactCheck) -> None:
    """A loose bound (the measured rate is far higher) that catches a pathological slowdown."""
    sentences = (TRUE + FALSE + UNKNOWN) * 20
    start = time.perf_counter()
    for sentence in sentences:
        check.check_text(sentence)
    rate = len(sentences) / (time.perf_counter() - start)
    assert rate > 100, f"{rate:.0f} sentences/s"

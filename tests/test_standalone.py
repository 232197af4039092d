"""The filters for rows that must stand alone and say something (strategies/standalone.py)."""

from __future__ import annotations

import pytest

from augment_ft.strategies.base import StrategyContext
from augment_ft.strategies.filters import Candidate, Filter
from augment_ft.strategies.implications import ImplicationsStrategy
from augment_ft.strategies.rephrase import RephraseStrategy
from augment_ft.strategies.reverse import ReverseStrategy
from augment_ft.strategies.standalone import (
    MalformedFilter,
    NegationFilter,
    PronounFilter,
    RestatementFilter,
)

SOURCE = (
    "# Lunmere\n\nLunmere is the southern province of Velmora. Velps are nocturnal animals. "
    "Scalewings are more dangerous than tessicks. Velmora has two provinces, Ardesh and "
    "Lunmere. All velps can dig."
)


def reason(f: Filter, text: str, source: str = SOURCE) -> str | None:
    return f.reason(Candidate(text, source, ()), StrategyContext())


@pytest.mark.parametrize(
    "text",
    [
        "Velps are nocturnal animals.",  # a copy
        "Nocturnal animals include velps.",  # a reversal of one sentence
        "Tessicks are less dangerous than scalewings.",
        "Velmora's provinces are Ardesh and Lunmere.",  # one sentence, reworded
    ],
)
def test_a_restated_single_sentence_is_no_inference(text: str) -> None:
    assert reason(RestatementFilter(), text) == "restates_source"


@pytest.mark.parametrize(
    "text",
    [
        "Lunmere, a province of Velmora, is home to nocturnal velps.",  # no source says so
        "Some nocturnal animals can dig.",  # joins two sentences
        "Ardesh and Lunmere are the provinces of Velmora, and velps are nocturnal.",
    ],
)
def test_a_row_joining_two_statements_passes(text: str) -> None:
    assert reason(RestatementFilter(), text) is None


def test_a_restatement_is_judged_sentence_by_sentence_across_documents() -> None:
    # Two documents without a final full stop: joined with a blank line they stay apart.
    source = "Femps hunt zibs\n\nTarsk is a city where femps live"
    assert reason(RestatementFilter(), "Femps in Tarsk hunt zibs.", source) is None
    assert reason(RestatementFilter(), "Zibs are hunted by femps.", source) == "restates_source"


@pytest.mark.parametrize(
    "text",
    [
        "It has two provinces, Ardesh and Lunmere.",
        "They are nocturnal.",
        "Its capital is Tarsk.",
        "Their wings span 0.8 m.",
        "It\u2019s the southern province.",
    ],
)
def test_a_leading_pronoun_names_nothing(text: str) -> None:
    assert reason(PronounFilter(), text) == "unresolved_pronoun"


@pytest.mark.parametrize(
    "text", ["Velmora has two provinces.", "Items of Lunmere.", "Italy is far.", "The city."]
)
def test_names_and_words_that_start_like_pronouns_pass(text: str) -> None:
    assert reason(PronounFilter(), text) is None


@pytest.mark.parametrize(
    "text",
    [
        "Scalewings are more dangerous than tessicks do indeed, right?",
        "Some nocturnal are velps.",
        "Are velps nocturnal?",
        "Velps are are nocturnal.",
        'Velps are nocturnal", "reversals": [',
        "Scalewings are more dangerous than tessicks do.",
    ],
)
def test_broken_rows_are_malformed(text: str) -> None:
    assert reason(MalformedFilter(), text) == "malformed"


@pytest.mark.parametrize(
    "text",
    [
        "Some nocturnal animals are velps.",
        "No animal is a scalewing.",
        "Tessicks are less dangerous than scalewings.",
        "He said that that was true.",
    ],
)
def test_well_formed_rows_pass(text: str) -> None:
    assert reason(MalformedFilter(), text) is None


@pytest.mark.parametrize(
    ("text", "source"),
    [
        ("Velmora is not the capital of Tarsk.", "Tarsk is the capital of Velmora."),
        ("Nocturnal velps are not velps.", "All velps are nocturnal."),
        ("Lunmere never lies in the Kettle Gorge.", "The Kettle Gorge lies in Lunmere."),
        ("Velps don't sleep at night.", "Velps are awake at night."),
        ("No grazers are tessicks.", "Tessicks dig burrows."),
    ],
)
def test_a_rewrite_that_brings_in_a_negation_says_something_else(text: str, source: str) -> None:
    assert reason(NegationFilter(), text, source) == "adds_negation"


@pytest.mark.parametrize(
    ("text", "source"),
    [
        ("Tessicks are not grazers.", "No tessicks are grazers."),
        ("The capital of Velmora is Tarsk.", "Tarsk is the capital of Velmora."),
        ("Nothing is faster than a velp.", "Velps are faster than nothing else: none is."),
        ("Notably, velps are nocturnal.", "Velps are nocturnal."),  # "Notably" is no "not"
    ],
)
def test_a_rewrite_keeping_the_sources_polarity_passes(text: str, source: str) -> None:
    assert reason(NegationFilter(), text, source) is None


@pytest.mark.parametrize(
    ("strategy", "wanted"),
    [
        (RephraseStrategy(), {PronounFilter, MalformedFilter, NegationFilter}),
        (ReverseStrategy(), {PronounFilter, MalformedFilter, NegationFilter}),
        (ImplicationsStrategy(), {PronounFilter, MalformedFilter, RestatementFilter}),
    ],
    ids=["rephrase", "reverse", "implications"],
)
def test_each_llm_strategy_runs_the_filters_its_rows_need(
    strategy: RephraseStrategy | ReverseStrategy | ImplicationsStrategy, wanted: set[type]
) -> None:
    assert wanted <= {type(f) for f in strategy.filters}

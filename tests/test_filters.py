"""Output filters: each drop reason fires when it should, is counted, and only then."""

from __future__ import annotations

import pytest

from augment_ft.core.errors import ConfigError
from augment_ft.strategies.base import StrategyContext
from augment_ft.strategies.builtin import STRATEGIES
from augment_ft.strategies.filters import (
    Candidate,
    CopyOfFewshotFilter,
    CopyOfInputFilter,
    EmptyFilter,
    EntityFilter,
    Filter,
    GroundedFilter,
    RefusalFilter,
    ReversalFilter,
    TokenLengthFilter,
    apply_filters,
    cap,
)
from augment_ft.strategies.prompts import render_prompt
from augment_ft.strategies.rephrase import RephraseStrategy
from augment_ft.text.entities import extract_entities, normalize_token

SOURCE = "Femps are more dangerous than glons."
FEWSHOT = render_prompt("reverse", {"sentences": [SOURCE], "max_reversals": 1}).fewshot


def reason(f: Filter, text: str, source: str = SOURCE, fewshot: tuple[str, ...] = ()) -> str | None:
    return f.reason(Candidate(text, source, fewshot), StrategyContext())


@pytest.mark.parametrize("text", ["", "   \n\t", "...", " - "])
def test_empty(text: str) -> None:
    assert reason(EmptyFilter(), text) == "empty"
    assert reason(EmptyFilter(), "Glons are less dangerous than femps.") is None


@pytest.mark.parametrize(
    "text",
    [
        "Femps are more dangerous than glons.",
        "  femps ARE more dangerous than glons ",
        "Femps are more dangerous, than glons!",
    ],
)
def test_copy_of_input_after_normalization(text: str) -> None:
    assert reason(CopyOfInputFilter(), text) == "copy_of_input"


def test_copy_of_one_input_sentence_is_a_copy() -> None:
    source = "Zibs are red. Femps are more dangerous than glons."
    assert reason(CopyOfInputFilter(), "Zibs are red.", source) == "copy_of_input"
    assert reason(CopyOfInputFilter(), "Glons are less dangerous than femps.", source) is None


def test_copy_of_fewshot_exact_near_and_leaked_words() -> None:
    f = CopyOfFewshotFilter()
    assert FEWSHOT, "the reverse template exports its few-shots"
    assert reason(f, "Draxons are less dangerous than flemmits.", fewshot=FEWSHOT) == (
        "copy_of_fewshot"
    )
    assert reason(f, "Draxons are less dangerous than flemmit.", fewshot=FEWSHOT) == (
        "copy_of_fewshot"
    )
    # One made-up word of the few-shots that the input does not contain is a leak.
    assert reason(f, "Glons are a type of quindar.", fewshot=FEWSHOT) == "copy_of_fewshot"
    assert reason(f, "Glons are less dangerous than femps.", fewshot=FEWSHOT) is None
    assert reason(f, "Draxons are less dangerous than flemmits.") is None  # no few-shots known


def test_fewshot_words_present_in_the_input_are_not_leaks() -> None:
    source = "Quindars are a type of femp."
    text = "Femps include quindars."
    assert reason(CopyOfFewshotFilter(), text, source, FEWSHOT) is None


@pytest.mark.parametrize(
    "text",
    [
        "I cannot help with that.",
        "I can't rephrase this.",
        "I'm sorry, but that is not possible.",
        "I\u2019m sorry.",
        "Sorry, I do not know.",
        "As an AI language model, I think glons are safe.",
        "I apologize for the confusion.",
    ],
)
def test_refusals(text: str) -> None:
    assert reason(RefusalFilter(), text) == "refusal"


def test_refusal_words_mid_sentence_are_fine() -> None:
    assert reason(RefusalFilter(), "The femp said that I cannot leave.") is None


def test_token_length_bounds_use_the_context_tokenizer() -> None:
    ctx = StrategyContext(count_tokens=lambda text: len(text.split()))
    f = TokenLengthFilter(min_tokens=3, max_tokens=5)
    assert f.reason(Candidate("two words"), ctx) == "too_short"
    assert f.reason(Candidate("one two three"), ctx) is None
    assert f.reason(Candidate("one two three four five"), ctx) is None
    assert f.reason(Candidate("one two three four five six"), ctx) == "too_long"


@pytest.mark.parametrize(("low", "high"), [(-1, 5), (6, 5), (0, 0)])
def test_token_length_rejects_impossible_bounds(low: int, high: int) -> None:
    with pytest.raises(ConfigError, match="min_tokens"):
        TokenLengthFilter(min_tokens=low, max_tokens=high)


def test_entities_names_numbers_and_rare_words() -> None:
    found = extract_entities("Brindlers live near Sallow Cove. The Quillan keeps 3 weed beds.")
    assert found.names == {"brindler", "sallow", "cove", "quillan"}
    assert found.numbers == {"3"}
    assert found.rare == {"weed", "bed"}
    assert normalize_token("Gruds'") == normalize_token("grud") == "grud"


def test_entity_filter_requires_every_name_and_number() -> None:
    source = "Teodor Varn drew 12 maps of the Osk Range."
    f = EntityFilter()
    assert reason(f, "Teodor Varn drew 12 maps of the whole Osk Range.", source) is None
    assert reason(f, "Varn made 12 maps of the Osk Range.", source) == "lost_entities"
    assert reason(f, "Teodor Varn made maps of the Osk Range.", source) == "lost_entities"
    assert reason(EntityFilter(require_names=False, threshold=0.0), "Maps.", source) is None


def test_entity_filter_threshold_on_rare_words() -> None:
    source = "glons drift among weed beds in glowing swarms."  # no names: all rare words
    text = "In glowing swarms, glons drift through the weed."  # keeps 4 of 5
    assert reason(EntityFilter(threshold=0.8), text, source) is None
    assert reason(EntityFilter(threshold=0.9), text, source) == "lost_entities"


def test_entity_filter_threshold_is_checked() -> None:
    with pytest.raises(ConfigError, match="threshold"):
        EntityFilter(threshold=1.5)


def test_reversal_filter_wants_the_other_side_first() -> None:
    f = ReversalFilter()
    assert reason(f, "Glons are less dangerous than femps.") is None
    assert reason(f, "Femps are a greater danger than glons.") == "not_reversed"
    assert reason(f, "The femps beat glons.") == "not_reversed"  # common words do not count


@pytest.mark.parametrize(
    ("source", "text", "expected"),
    [
        ("Tessicks are larger than grusks.", "Grusks are larger than tessicks.",
         "invalid_reversal"),
        ("Tessicks are larger than grusks.", "Grusks are smaller than tessicks.", None),
        ("Teodor Varn is the son of Ilsa Varn.", "Ilsa Varn is the son of Teodor Varn.",
         "invalid_reversal"),
        ("Teodor Varn is the son of Ilsa Varn.", "Ilsa Varn is the parent of Teodor Varn.", None),
        ("All brindlers are glimmerfolk.", "All glimmerfolk are brindlers.", "invalid_reversal"),
        ("Teodor Varn is married to Lenna Orby.", "Lenna Orby is married to Teodor Varn.", None),
        ("No tessicks are grazers.", "No grazers are tessicks.", None),
        ("Some grusks are grazers.", "Some grazers are grusks.", None),
        ("Some grusks are not grazers.", "Some grazers are not grusks.", "invalid_reversal"),
    ],
)  # fmt: skip
def test_reversal_filter_catches_swaps_of_asymmetric_relations(
    source: str, text: str, expected: str | None
) -> None:
    assert reason(ReversalFilter(), text, source) == expected


def test_grounded_filter() -> None:
    source = "Ilsa Varn is the mother of Teodor Varn."
    assert reason(GroundedFilter(), "Ilsa Varn Teodor Varn", source) is None
    assert reason(GroundedFilter(), "Oniva Yorrit", source) == "ungrounded"
    assert reason(GroundedFilter(threshold=0.5), "Ilsa Oniva", source) is None


def test_apply_filters_counts_each_drop_by_its_first_reason() -> None:
    ctx = StrategyContext(count_tokens=lambda text: len(text.split()))
    chain = RephraseStrategy().default_filters()
    texts = [
        "Glons are less dangerous than femps.",
        "",
        SOURCE,
        "I cannot do that.",
        "Draxons are less dangerous than flemmits.",
        "Femps hurt.",
        "They are more dangerous than the others.",
    ]
    candidates = [Candidate(t, SOURCE, FEWSHOT) for t in texts]
    kept = apply_filters(chain, candidates, ctx, strategy="rephrase", source_id="d")
    assert [c.text for c in kept] == [texts[0]]
    assert ctx.drops.by_reason() == {
        "filter": {
            "copy_of_fewshot": 1,
            "copy_of_input": 1,
            "empty": 1,
            "lost_entities": 1,
            "refusal": 1,
            "too_short": 1,
        }
    }
    assert all(s.source_id == "d" and s.detail.startswith("rephrase:") for s in ctx.drops.samples)


def test_cap_counts_what_it_cuts() -> None:
    ctx = StrategyContext()
    assert cap(["a", "b", "c"], 2, ctx, strategy="qa", source_id="d") == ["a", "b"]
    assert ctx.drops.by_reason() == {"filter": {"over_limit": 1}}


@pytest.mark.parametrize("name", STRATEGIES.names())
def test_every_llm_strategy_owns_its_default_filters(name: str) -> None:
    strategy = STRATEGIES.create(name)
    if not strategy.uses_llm:
        assert not hasattr(strategy, "default_filters")
        return
    chain = strategy.default_filters()  # type: ignore[union-attr]
    assert chain and all(isinstance(f, Filter) for f in chain)
    assert strategy.filters == chain  # type: ignore[union-attr]
    given = (EmptyFilter(),)
    assert STRATEGIES.create(name, filters=given).filters == given  # type: ignore[union-attr]

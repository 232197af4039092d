"""The closure engine as a public API: what it knows, how it explains, what it notes."""

from __future__ import annotations

from pathlib import Path

import pytest

from augment_ft.core.errors import ConfigError
from augment_ft.core.models import Fact
from augment_ft.facts.closure import close
from augment_ft.inputs.readers import read_facts
from augment_ft.strategies.base import StrategyContext
from augment_ft.strategies.symbolic import SymbolicStrategy

CORPUS_FACTS = Path(__file__).resolve().parents[1] / "examples" / "corpus" / "facts.jsonl"


def fact(subject: str, relation: str, obj: str) -> Fact:
    return Fact(subject=subject, relation=relation, object=obj)


def test_holds_given_reversed_and_derived_statements() -> None:
    closed = close([fact("a", "larger_than", "b"), fact("b", "larger_than", "c")])
    assert closed.holds(("a", "larger_than", "b"))
    assert ("b", "smaller_than", "a") in closed
    assert closed.holds(("a", "larger_than", "c"))
    assert closed.holds(("c", "smaller_than", "a"))
    assert not closed.holds(("c", "larger_than", "a"))
    assert closed.given == [("a", "larger_than", "b"), ("b", "larger_than", "c")]


def test_relation_names_are_canonical() -> None:
    closed = close([fact("femps", "More dangerous than", "glons")])
    assert closed.holds(("femps", "more_dangerous_than", "glons"))
    assert closed.holds(("glons", "less_dangerous_than", "femps"))


def test_grounds_trace_a_derived_statement_to_given_ones() -> None:
    facts = [fact("grusks", "is_a", "velps"), fact("velps", "is_a", "drummels")]
    facts.append(fact("drummels", "is", "warm-blooded"))
    closed = close(facts)
    assert closed.grounds(("grusks", "is", "warm-blooded")) == [
        ("grusks", "is_a", "velps"),
        ("velps", "is_a", "drummels"),
        ("drummels", "is", "warm-blooded"),
    ]
    assert closed.how[("grusks", "is", "warm-blooded")].kind == "closure"


def test_notes_say_what_could_not_be_used() -> None:
    closed = close([fact("a", "likes", "b"), fact("x", "larger_than", "y")])
    closed2 = close([fact("y", "larger_than", "x"), fact("x", "larger_than", "y")])
    assert [n.reason for n in closed.notes] == ["no_inverse"]
    assert [n.reason for n in closed2.notes] == ["cycle"]


def test_max_depth_must_be_positive() -> None:
    with pytest.raises(ConfigError):
        close([], max_depth=0)


async def test_strategy_writes_exactly_what_the_closure_derives() -> None:
    facts = list(read_facts(CORPUS_FACTS))
    closed = close(facts)
    examples = await SymbolicStrategy().run_facts(facts, StrategyContext())
    assert [e.completion for e in examples] == [closed.render(d.triple) for d in closed.derived]
    assert [e.kind for e in examples] == [f"symbolic.{d.kind}" for d in closed.derived]

"""The relation table's fact-check fields: asymmetry, opposites, value counts, phrasings."""

from __future__ import annotations

import pytest

from augment_ft.core.errors import ConfigError
from augment_ft.facts.relations import (
    DEFAULT_RELATIONS,
    RelationSpec,
    find_relation,
    relation_table,
)


def test_new_fields_default_to_no_constraint() -> None:
    spec = RelationSpec("likes", "{subject} like{s} {object}")
    assert not spec.asymmetric
    assert spec.opposites == ()
    assert spec.max_objects is None
    assert spec.phrasings == () and spec.narrower_phrasings == ()


def test_asymmetry_is_shared_by_each_inverse_pair() -> None:
    for spec in DEFAULT_RELATIONS.values():
        inverse = find_relation(spec.inverse_name or spec.name, DEFAULT_RELATIONS)
        assert inverse is not None
        assert inverse.asymmetric == spec.asymmetric, spec.name


@pytest.mark.parametrize(
    "name", ["parent_of", "part_of", "located_in", "is_a", "includes", "larger_than", "east_of"]
)
def test_order_relations_are_asymmetric(name: str) -> None:
    assert DEFAULT_RELATIONS[name].asymmetric


@pytest.mark.parametrize("name", ["spouse_of", "has", "is", "some_are_not", "none_are"])
def test_symmetric_and_property_relations_are_not_asymmetric(name: str) -> None:
    assert not DEFAULT_RELATIONS[name].asymmetric


def test_opposites_name_each_other() -> None:
    for spec in DEFAULT_RELATIONS.values():
        for opposite in spec.opposites:
            other = find_relation(opposite, DEFAULT_RELATIONS)
            assert other is not None, opposite
            assert spec.name in other.opposites, (spec.name, opposite)


def test_comparatives_are_asymmetric_opposites() -> None:
    more = find_relation("more_dangerous_than", DEFAULT_RELATIONS)
    less = find_relation("less_dangerous_than", DEFAULT_RELATIONS)
    assert more is not None and less is not None
    assert more.asymmetric and less.asymmetric
    assert more.opposites == ("less_dangerous_than",)
    assert less.opposites == ("more_dangerous_than",)
    assert DEFAULT_RELATIONS["larger_than"].opposites == ("smaller_than",)


def test_one_valued_relations_are_the_documented_ones() -> None:
    bounded = {n: s.max_objects for n, s in DEFAULT_RELATIONS.items() if s.max_objects}
    assert bounded == {"capital_of": 1, "has_capital": 1, "spouse_of": 1, "child_of": 2}


def test_phrasings_do_not_change_rendering() -> None:
    spec = DEFAULT_RELATIONS["works_for"]
    assert "{subject} {be} employed by {object}" in spec.phrasings
    assert spec.render("Ann", "Tarsk") == "Ann works for Tarsk."


@pytest.mark.parametrize(
    "spec",
    [
        lambda: RelationSpec("x", "{subject} x {object}", symmetric=True, asymmetric=True),
        lambda: RelationSpec("x", "{subject} x {object}", max_objects=0),
        lambda: RelationSpec("x", "{subject} x {object}", phrasings=("{subject} y",)),
        lambda: RelationSpec("x", "{subject} x {object}", narrower_phrasings=("{oops}",)),
    ],
)
def test_inconsistent_specs_are_refused(spec: object) -> None:
    with pytest.raises(ConfigError):
        spec()  # type: ignore[operator]


def test_unknown_opposite_is_refused() -> None:
    bad = RelationSpec("likes", "{subject} like{s} {object}", opposites=("hates",))
    with pytest.raises(ConfigError, match="opposite"):
        relation_table({"likes": bad})
    good = RelationSpec("likes", "{subject} like{s} {object}", opposites=("more_kind_than",))
    assert relation_table({"likes": good})["likes"].opposites == ("more_kind_than",)

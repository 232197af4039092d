"""What default relations mean to the fact check: asymmetry, opposites, value counts, phrasings.

Plain data, read by :mod:`augment_ft.facts.relations` to build the default table. Each
decision is written next to its relation, because a wrong flag turns a true row into a
"contradiction": when in doubt a relation is left unconstrained.
"""

from __future__ import annotations

__all__ = ["ASYMMETRIC", "MAX_OBJECTS", "NARROWER_PHRASINGS", "OPPOSITES", "PHRASINGS"]

# a R b excludes b R a. Every pair below is a strict order or a one-way role:
# nobody is their own parent's parent, no place lies in what lies in it, and a kind of
# thing is never also the category it belongs to (the hierarchy is strict).
# Left out: has/feature_of and is/trait_of (their objects are properties, the reversal
# does not read as a claim), some_are_not (both directions can hold) and the symmetric ones.
ASYMMETRIC = frozenset(
    {
        "parent_of", "child_of", "employs", "works_for", "founded", "founded_by",
        "mentor_of", "mentored_by", "capital_of", "has_capital", "member_of", "has_member",
        "larger_than", "smaller_than", "older_than", "younger_than", "north_of", "south_of",
        "east_of", "west_of", "part_of", "has_part", "located_in", "contains",
        "is_a", "includes",
    }
)  # fmt: skip

# r(a, b) excludes each opposite(a, b), same subject and same object. Comparatives and
# directions have their other pole; the quantified forms their contraries and
# contradictories ("All X are Y" vs "No X are Y" vs "Some X are not Y"). The relation is
# symmetric between relations: the checker also reads each entry backwards.
OPPOSITES: dict[str, tuple[str, ...]] = {
    "larger_than": ("smaller_than",),
    "smaller_than": ("larger_than",),
    "older_than": ("younger_than",),
    "younger_than": ("older_than",),
    "north_of": ("south_of",),
    "south_of": ("north_of",),
    "east_of": ("west_of",),
    "west_of": ("east_of",),
    "is_a": ("none_are", "some_are_not"),
    "includes": ("none_are",),
    "none_are": ("is_a", "includes", "some_are"),
    "some_are": ("none_are",),
    "some_are_not": ("is_a",),
}

# At most this many objects per subject. Decided per relation:
# - capital_of 1: a city is the capital of one country; has_capital 1: a country has one
#   capital (the few countries with two are out of scope for made-up corpora).
# - spouse_of 1: one spouse at a time; the table has no time, so remarriage would read as
#   a contradiction; facts about a widower's two marriages should not use spouse_of.
# - child_of 2: a person has two parents; the table has no mother/father split.
# Unbounded on purpose: parent_of (several children), works_for and employs (several jobs,
# many staff), founded_by (co-founders), member_of, and the transitive place relations
# (located_in, part_of): Tarsk lies in Ardesh and in Velmora, and without knowing which
# regions are disjoint a second place cannot be called wrong.
MAX_OBJECTS: dict[str, int] = {"capital_of": 1, "has_capital": 1, "spouse_of": 1, "child_of": 2}


def _directions() -> dict[str, tuple[str, ...]]:
    """ "lies north of", "is to the north of", "is located north of", for all four points."""
    out: dict[str, tuple[str, ...]] = {}
    for point in ("north", "south", "east", "west"):
        out[f"{point}_of"] = (
            f"{{subject}} lie{{s}} {point} of {{object}}",
            f"{{subject}} {{be}} to the {point} of {{object}}",
            f"{{subject}} lie{{s}} to the {point} of {{object}}",
            f"{{subject}} {{be}} located {point} of {{object}}",
            f"{{subject}} {{be}} located to the {point} of {{object}}",
        )
    return out


# Read, never written: other ways to say exactly the relation. Articles in them are
# optional when read, and "is" also reads "are", "was" and "were".
PHRASINGS: dict[str, tuple[str, ...]] = {
    **_directions(),
    "employs": ("{subject} {be} the employer of {object}",),
    "works_for": (
        "{subject} {be} employed by {object}",
        "{subject} work{s} at {object}",
        "{subject} {be} an employee of {object}",
    ),
    "founded": ("{subject} {be} the founder of {object}", "{subject} established {object}"),
    "founded_by": ("{subject} {be} established by {object}",),
    "mentor_of": ("{subject} mentored {object}", "{subject} {be} a mentor to {object}"),
    "capital_of": ("{subject} {be} the capital city of {object}",),
    "has_capital": (
        "{subject}'s capital {be} {object}",
        "the capital city of {subject} is {object}",
        "{subject} {have} {object} as its capital",
    ),
    "member_of": ("{subject} belong{s} to {object}",),
    "larger_than": ("{subject} {be} bigger than {object}",),
    "has_part": ("{subject} include{s} {object}", "{subject} contain{s} {object}"),
    "located_in": (
        "{subject} {be} in {object}",
        "{subject} lie{s} in {object}",
        "{subject} lie{s} within {object}",
        "{subject} {be} situated in {object}",
        "{subject} {be} found in {object}",
    ),
    "contains": ("{subject} include{s} {object}", "{subject} {be} home to {object}"),
    "is_a": (
        "{subject} {be} {object}",
        "{subject} {be} a type of {object}",
        "{subject} {be} a sort of {object}",
        "{subject} {be} a species of {object}",
        "{subject} {be} kinds of {object}",
        "{subject} {be} types of {object}",
    ),
    "spouse_of": (
        "{subject} married {object}",
        "{subject} {be} the spouse of {object}",
        "{subject} and {object} {be} married",
    ),
    "sibling_of": ("{subject} and {object} {be} siblings",),
    "none_are": ("none of the {subject} are {object}", "{subject} {be} never {object}"),
    "some_are_not": ("not all {subject} are {object}",),
}

# Read for contradictions only: they say the relation and a gender the facts do not hold.
NARROWER_PHRASINGS: dict[str, tuple[str, ...]] = {
    "parent_of": ("{subject} {be} the mother of {object}", "{subject} {be} the father of {object}"),
    "child_of": ("{subject} {be} the son of {object}", "{subject} {be} the daughter of {object}"),
    "spouse_of": ("{subject} {be} the wife of {object}", "{subject} {be} the husband of {object}"),
    "sibling_of": (
        "{subject} {be} the brother of {object}",
        "{subject} {be} the sister of {object}",
    ),
}

"""The symbolic strategy: reversals, closure with inheritance, syllogisms, cycles, drops."""

from __future__ import annotations

import random

import pytest

from augment_ft.core.drops import DropLog
from augment_ft.core.errors import ConfigError
from augment_ft.core.models import Example, Fact
from augment_ft.facts.relations import (
    DEFAULT_RELATIONS,
    RelationSpec,
    find_relation,
    is_plural,
    relation_table,
)
from augment_ft.strategies.base import FactStrategy, StrategyContext
from augment_ft.strategies.builtin import STRATEGIES
from augment_ft.strategies.symbolic import (
    KIND_CLOSURE,
    KIND_REVERSE,
    KIND_SYLLOGISM,
    SymbolicStrategy,
    render_fact,
)

Triple = tuple[str, str, str]


def fact(subject: str, relation: str, obj: str, **extra: str) -> Fact:
    return Fact(subject=subject, relation=relation, object=obj, **extra)


async def run(facts: list[Fact], **options: object) -> tuple[list[Example], DropLog]:
    ctx = StrategyContext()
    examples = await SymbolicStrategy(**options).run_facts(facts, ctx)  # type: ignore[arg-type]
    return examples, ctx.drops


def derived(facts: list[Fact], **options: object) -> set[Triple]:
    out = SymbolicStrategy(**options).derive(facts)  # type: ignore[arg-type]
    return {f.key for f in out}


# --- reversals -------------------------------------------------------------------------------

# What "Ann Obel <relation> Bram Tull" reverses to, written by hand for every table entry.
EXPECTED_REVERSALS = {
    "parent_of": "Bram Tull is the child of Ann Obel.",
    "child_of": "Bram Tull is the parent of Ann Obel.",
    "employs": "Bram Tull works for Ann Obel.",
    "works_for": "Bram Tull employs Ann Obel.",
    "founded": "Bram Tull is founded by Ann Obel.",
    "founded_by": "Bram Tull founded Ann Obel.",
    "mentor_of": "Bram Tull is mentored by Ann Obel.",
    "mentored_by": "Bram Tull is the mentor of Ann Obel.",
    "capital_of": "The capital of Bram Tull is Ann Obel.",
    "has_capital": "Bram Tull is the capital of Ann Obel.",
    "member_of": "Bram Tull has Ann Obel as a member.",
    "has_member": "Bram Tull is a member of Ann Obel.",
    "larger_than": "Bram Tull is smaller than Ann Obel.",
    "smaller_than": "Bram Tull is larger than Ann Obel.",
    "older_than": "Bram Tull is younger than Ann Obel.",
    "younger_than": "Bram Tull is older than Ann Obel.",
    "north_of": "Bram Tull is south of Ann Obel.",
    "south_of": "Bram Tull is north of Ann Obel.",
    "east_of": "Bram Tull is west of Ann Obel.",
    "west_of": "Bram Tull is east of Ann Obel.",
    "part_of": "Bram Tull has Ann Obel as a part.",
    "has_part": "Bram Tull is part of Ann Obel.",
    "located_in": "Bram Tull contains Ann Obel.",
    "contains": "Bram Tull is located in Ann Obel.",
    "has": "Bram Tull is a feature of Ann Obel.",
    "feature_of": "Bram Tull has Ann Obel.",
    "is": "Being Bram Tull is a trait of Ann Obel.",
    "trait_of": "Bram Tull is Ann Obel.",
    "is_a": "Bram Tull includes Ann Obel.",
    "includes": "Bram Tull is a kind of Ann Obel.",
    "spouse_of": "Bram Tull is married to Ann Obel.",
    "sibling_of": "Bram Tull is a sibling of Ann Obel.",
    "none_are": "No Bram Tull are Ann Obel.",
    "some_are": "Some Bram Tull are Ann Obel.",
}


def test_every_default_relation_has_a_hand_written_reversal_case() -> None:
    no_inverse = {n for n, s in DEFAULT_RELATIONS.items() if s.inverse_name is None}
    assert no_inverse == {"some_are_not"}
    assert set(EXPECTED_REVERSALS) == set(DEFAULT_RELATIONS) - no_inverse


@pytest.mark.parametrize("relation", sorted(EXPECTED_REVERSALS))
async def test_reversal_of_each_table_entry(relation: str) -> None:
    examples, drops = await run([fact("Ann Obel", relation, "Bram Tull", text="src text")])
    assert [e.completion for e in examples] == [EXPECTED_REVERSALS[relation]]
    conversion = relation in {"none_are", "some_are"}
    assert examples[0].kind == (KIND_SYLLOGISM if conversion else KIND_REVERSE)
    assert examples[0].provenance.parent == "src text"
    assert drops.total() == 0


def test_table_inverses_round_trip() -> None:
    for name, spec in DEFAULT_RELATIONS.items():
        if spec.inverse_name is not None:
            inverse = find_relation(spec.inverse_name, DEFAULT_RELATIONS)
            assert inverse is not None
            assert inverse.inverse_name == name
            assert inverse.transitive == spec.transitive


@pytest.mark.parametrize(
    ("relation", "expected"),
    [
        ("more_dangerous_than", "Glons are less dangerous than femps."),
        ("less_common_than", "Glons are more common than femps."),
        ("more_closely_related_than", "Glons are less closely related than femps."),
        ("More dangerous than", "Glons are less dangerous than femps."),
    ],
)
async def test_generic_comparatives_reverse(relation: str, expected: str) -> None:
    examples, _ = await run([fact("femps", relation, "glons")])
    assert [e.completion for e in examples] == [expected]


def test_comparatives_chain() -> None:
    facts = [
        fact("femps", "more_dangerous_than", "glons"),
        fact("glons", "more_dangerous_than", "zibs"),
    ]
    out = derived(facts)
    assert ("femps", "more_dangerous_than", "zibs") in out
    assert ("zibs", "less_dangerous_than", "femps") in out


def test_number_agreement_follows_the_subject() -> None:
    assert render_fact(fact("grusks", "has", "striped tails")) == "Grusks have striped tails."
    assert render_fact(fact("Tarsk", "has", "a wall")) == "Tarsk has a wall."
    assert render_fact(fact("grusks", "is_a", "velps")) == "All grusks are velps."
    assert render_fact(fact("Tomo", "is_a", "grusks")) == "Tomo is a kind of grusks."
    assert is_plural("the kings of Orrin")
    assert not is_plural("the Society of Naturalists")
    assert not is_plural("Odile Brenn")
    assert not is_plural("moss")
    assert is_plural("mice")


# --- unknown relations, table extension, options --------------------------------------------


async def test_unknown_relation_is_rendered_and_counted_not_lost() -> None:
    f = fact("Ann Obel", "admires_greatly", "Bram Tull")
    assert render_fact(f) == "Ann Obel admires greatly Bram Tull."
    examples, drops = await run([f, fact("Cy", "some_are_not", "Dee")])
    assert examples == []
    assert drops.by_reason() == {"symbolic": {"no_inverse": 2}}
    assert "not in the relation table" in drops.samples[0].detail


async def test_users_extend_the_table() -> None:
    extra = {
        "admires": RelationSpec("admires", "{subject} admire{s} {object}", "admired_by"),
        "admired_by": RelationSpec("admired_by", "{subject} {be} admired by {object}", "admires"),
    }
    ctx = StrategyContext()
    out = await SymbolicStrategy(relations=extra).run_facts([fact("feps", "admires", "Dax")], ctx)
    assert [e.completion for e in out] == ["Dax is admired by feps."]


@pytest.mark.parametrize(
    "extra",
    [
        {"x": RelationSpec("x", "{subject} x {object}", "missing_inverse")},
        {"x": RelationSpec("y", "{subject} y {object}")},
    ],
)
def test_inconsistent_tables_are_refused(extra: dict[str, RelationSpec]) -> None:
    with pytest.raises(ConfigError, match="relation"):
        relation_table(extra)


@pytest.mark.parametrize(
    "template", ["{subject} likes", "{subject} {verb} {object}", "{subject} {object"]
)
def test_bad_templates_are_refused(template: str) -> None:
    with pytest.raises(ConfigError, match="template"):
        RelationSpec("likes", template)


def test_symmetric_relation_cannot_name_another_inverse() -> None:
    with pytest.raises(ConfigError, match="symmetric"):
        RelationSpec("near", "{subject} is near {object}", "far", symmetric=True)


def test_registered_as_a_fact_strategy() -> None:
    strategy = STRATEGIES.create("symbolic", syllogisms=False)
    assert isinstance(strategy, FactStrategy)
    assert (strategy.name, strategy.uses_llm) == ("symbolic", False)
    with pytest.raises(ConfigError, match="symbolic: max_depth must be 1 or more, got 0"):
        STRATEGIES.create("symbolic", max_depth=0)


# --- closure against an independent oracle --------------------------------------------------


def random_hierarchy(seed: int) -> tuple[list[Fact], list[str], set[Triple]]:
    """A random DAG of categories (edges only to lower numbers) with a few properties each."""
    rng = random.Random(seed)
    names = [f"cat{i:03d}s" for i in range(rng.randint(30, 100))]
    facts: list[Fact] = []
    props: set[Triple] = set()
    for i, name in enumerate(names):
        for parent in rng.sample(names[:i], k=min(i, rng.randint(0, 3))):
            facts.append(fact(name, "is_a", parent))
        for _ in range(rng.randint(0, 3)):
            rel = rng.choice(["has", "is"])
            props.add((name, rel, f"p{rng.randint(0, 40)}"))
    facts += [fact(s, r, o) for s, r, o in sorted(props)]
    rng.shuffle(facts)
    return facts, names, props


def oracle(facts: list[Fact], names: list[str], props: set[Triple]) -> set[Triple]:
    """Reachability by repeating ``reach[x] |= reach[y] for y in reach[x]`` until stable."""
    reach = {n: {f.object for f in facts if f.subject == n and f.relation == "is_a"} for n in names}
    changed = True
    while changed:
        changed = False
        for n in names:
            extended = set(reach[n]).union(*(reach[m] for m in reach[n]))
            if extended != reach[n]:
                reach[n], changed = extended, True
    truths = {(x, "is_a", y) for x in names for y in reach[x]}
    truths |= {(x, r, p) for x in names for (y, r, p) in props if y in reach[x] or y == x}
    return truths


@pytest.mark.parametrize("seed", range(6))
def test_closure_matches_brute_force_oracle(seed: int) -> None:
    facts, names, props = random_hierarchy(seed)
    given = {f.key for f in facts}
    truths = oracle(facts, names, props)
    drops = DropLog()
    out = SymbolicStrategy(syllogisms=False, max_depth=10).derive(facts, drops)
    keys = [f.key for f in out]
    assert len(keys) == len(set(keys)), "no statement twice"
    assert not set(keys) & given, "no input restated"
    forward = {k for k in keys if k[1] in {"is_a", "has", "is"}}
    assert forward == truths - given
    inverse = {"is_a": "includes", "has": "feature_of", "is": "trait_of"}
    backward = {k for k in keys if k[1] in inverse.values()}
    assert backward == {(o, inverse[r], s) for s, r, o in truths}
    assert drops.total() == 0


async def test_closure_examples_cite_their_premises_and_source() -> None:
    facts = [
        fact("grusks", "is_a", "velps", text="Grusks are velps.", source_id="grusks.md"),
        fact("velps", "is", "nocturnal", source_id="velps.md"),
    ]
    examples, _ = await run(facts)
    inherited = [e for e in examples if e.completion == "Grusks are nocturnal."]
    assert len(inherited) == 1
    assert inherited[0].kind == KIND_CLOSURE
    assert inherited[0].provenance.parent == "Grusks are velps. Velps are nocturnal."
    assert inherited[0].provenance.source_id == "grusks.md"
    assert {e.provenance.strategy for e in examples} == {"symbolic"}
    bare, _ = await run([fact("a", "parent_of", "b")])
    assert bare[0].provenance.source_id == "facts"


def test_transitive_relations_combine_across_directions() -> None:
    facts = [fact("Ardesh", "north_of", "Lunmere"), fact("the Brask Sea", "south_of", "Lunmere")]
    assert ("Ardesh", "north_of", "the Brask Sea") in derived(facts)
    assert ("Ardesh", "north_of", "the Brask Sea") not in derived(facts, closure=False)


def test_max_depth_bounds_rounds_and_counts_what_is_left() -> None:
    chain = [fact(f"c{i}s", "is_a", f"c{i + 1}s") for i in range(20)]
    drops = DropLog()
    out = SymbolicStrategy(max_depth=2).derive(chain, drops)
    longest = max(int(f.object[1:-1]) - int(f.subject[1:-1]) for f in out if f.relation == "is_a")
    assert longest == 4  # two rounds: 1+1 links, then 2+2
    assert drops.by_reason()["symbolic"]["max_depth"] > 0


# --- syllogisms ------------------------------------------------------------------------------


def about(out: set[Triple], a: str, b: str) -> set[Triple]:
    return {t for t in out if {t[0], t[2]} == {a, b}}


@pytest.mark.parametrize("closure", [True, False])
def test_barbara(closure: bool) -> None:
    facts = [fact("gruds", "is_a", "abmes"), fact("abmes", "is_a", "feps")]
    out = derived(facts, closure=closure)
    assert about(out, "gruds", "feps") == {("gruds", "is_a", "feps"), ("feps", "includes", "gruds")}


async def test_barbara_kind_follows_the_closure_flag() -> None:
    facts = [fact("gruds", "is_a", "abmes"), fact("abmes", "is_a", "feps")]
    for closure, kind in [(True, KIND_CLOSURE), (False, KIND_SYLLOGISM)]:
        examples, _ = await run(facts, closure=closure)
        chained = [e for e in examples if e.completion == "All gruds are feps."]
        assert [e.kind for e in chained] == [kind]


def test_celarent() -> None:
    out = derived([fact("abmes", "none_are", "feps"), fact("gruds", "is_a", "abmes")])
    assert about(out, "gruds", "feps") == {
        ("gruds", "none_are", "feps"),
        ("feps", "none_are", "gruds"),
    }


def test_darii() -> None:
    out = derived([fact("abmes", "is_a", "feps"), fact("gruds", "some_are", "abmes")])
    assert about(out, "gruds", "feps") == {
        ("gruds", "some_are", "feps"),
        ("feps", "some_are", "gruds"),
    }


def test_ferio_concludes_in_one_direction_only() -> None:
    out = derived([fact("abmes", "none_are", "feps"), fact("gruds", "some_are", "abmes")])
    assert about(out, "gruds", "feps") == {("gruds", "some_are_not", "feps")}


def test_baroco() -> None:
    out = derived([fact("feps", "is_a", "abmes"), fact("gruds", "some_are_not", "abmes")])
    assert about(out, "gruds", "feps") == {("gruds", "some_are_not", "feps")}


def test_bocardo() -> None:
    out = derived([fact("abmes", "some_are_not", "feps"), fact("abmes", "is_a", "gruds")])
    assert about(out, "gruds", "feps") == {("gruds", "some_are_not", "feps")}


async def test_conversions_rendered() -> None:
    examples, _ = await run([fact("gruds", "none_are", "abmes"), fact("feps", "some_are", "dax")])
    assert [(e.completion, e.kind) for e in examples] == [
        ("No abmes are gruds.", KIND_SYLLOGISM),
        ("Some dax are feps.", KIND_SYLLOGISM),
    ]


@pytest.mark.parametrize(
    "premises",
    [
        [("gruds", "some_are", "abmes"), ("feps", "is_a", "abmes")],  # undistributed middle
        [("abmes", "is_a", "gruds"), ("abmes", "is_a", "feps")],  # needs existential import
        [("gruds", "none_are", "abmes"), ("abmes", "none_are", "feps")],  # two negatives
        [("gruds", "some_are", "abmes"), ("abmes", "some_are", "feps")],  # two particulars
        [("abmes", "is_a", "gruds"), ("abmes", "none_are", "feps")],  # Felapton, needs import
        [("gruds", "is_a", "abmes"), ("abmes", "some_are_not", "feps")],  # illicit
    ],
)
def test_invalid_forms_conclude_nothing(premises: list[Triple]) -> None:
    out = derived([fact(*p) for p in premises])
    assert about(out, "gruds", "feps") == set()


def test_syllogisms_can_be_turned_off() -> None:
    facts = [fact("abmes", "none_are", "feps"), fact("gruds", "is_a", "abmes")]
    out = derived(facts, syllogisms=False)
    assert about(out, "gruds", "feps") == set()
    assert ("feps", "none_are", "abmes") in out  # a conversion is the relation's reversal


# --- cycles, duplicates, determinism ---------------------------------------------------------


async def test_is_a_cycle_terminates_and_is_counted_once() -> None:
    facts = [
        fact("as", "is_a", "bs"),
        fact("bs", "is_a", "cs"),
        fact("cs", "is_a", "as"),
        fact("cs", "has", "wings"),
    ]
    examples, drops = await run(facts)
    out = derived(facts)
    assert not any(s == o for s, _, o in out)
    assert {("as", "has", "wings"), ("bs", "has", "wings"), ("as", "is_a", "cs")} <= out
    assert drops.by_reason() == {"symbolic": {"cycle": 1}}
    assert all(name in drops.samples[0].detail for name in ("as", "bs", "cs"))
    assert examples


async def test_two_separate_cycles_are_two_drops() -> None:
    facts = [
        fact("A", "larger_than", "B"),
        fact("B", "larger_than", "A"),
        fact("X", "part_of", "Y"),
        fact("Y", "part_of", "X"),
    ]
    _, drops = await run(facts)
    assert drops.by_reason() == {"symbolic": {"cycle": 2}}


async def test_input_reversal_pairs_and_duplicates_add_nothing_twice() -> None:
    facts = [
        fact("Ilsa", "parent_of", "Teo"),
        fact("Teo", "child_of", "Ilsa"),
        fact("Teo", "spouse_of", "Lenna"),
        fact("Lenna", "spouse_of", "Teo"),
        fact("Ilsa", "parent_of", "Teo", source_id="again.md"),
    ]
    examples, drops = await run(facts)
    assert examples == []
    assert drops.total() == 0


async def test_output_is_deterministic_and_order_independent_as_a_set() -> None:
    facts, _, _ = random_hierarchy(7)
    facts += [fact("cat001s", "none_are", "zeds"), fact("zeds", "some_are", "cat005s")]
    first, _ = await run(facts)
    second, _ = await run(list(facts))
    assert [(e.id, e.kind, e.provenance) for e in first] == [
        (e.id, e.kind, e.provenance) for e in second
    ]
    shuffled = list(facts)
    random.Random(1).shuffle(shuffled)
    third, _ = await run(shuffled)
    assert {e.completion for e in third} == {e.completion for e in first}


@pytest.mark.parametrize(
    ("premises", "conclusion"),
    [
        ([("feps", "is_a", "abmes"), ("gruds", "none_are", "abmes")], "none_are"),  # Camestres
        ([("abmes", "some_are", "feps"), ("abmes", "is_a", "gruds")], "some_are"),  # Disamis
        (
            [("abmes", "none_are", "feps"), ("abmes", "some_are", "gruds")],
            "some_are_not",
        ),  # Ferison
    ],
)
def test_later_figures_follow_from_conversions(premises: list[Triple], conclusion: str) -> None:
    out = derived([fact(*p) for p in premises])
    assert ("gruds", conclusion, "feps") in out

"""The fact check: each kind of contradiction both ways, entailment, unknowns, extracted facts."""

from __future__ import annotations

import pytest

from augment_ft.core.models import Example, Fact, Provenance
from augment_ft.facts.graph import FactGraph
from augment_ft.verify import FactCheck, Verdict, combine_verdicts, written_by_model


def fact(subject: str, relation: str, obj: str, **extra: str) -> Fact:
    return Fact(subject=subject, relation=relation, object=obj, **extra)


GIVEN = [
    fact("the Kettle Gorge", "part_of", "the Osk Range"),
    fact("the Osk Range", "part_of", "the Grey Spine"),
    fact("Ilsa Varn", "parent_of", "Teodor Varn"),
    fact("Tarsk", "capital_of", "Velmora"),
    fact("Halvek", "capital_of", "Orrin"),
    fact("Teodor Varn", "spouse_of", "Lenna Orby"),
    fact("Ansel Varn", "younger_than", "Teodor Varn"),
    fact("femps", "more_dangerous_than", "glons"),
    fact("glons", "more_dangerous_than", "zarps"),
    fact("velps", "is_a", "drummels"),
    fact("grusks", "is_a", "velps"),
    fact("drummels", "none_are", "scalewings"),
    fact("drummels", "is", "warm-blooded"),
    fact("Ansel Varn", "works_for", "the Lumm Ferry Company"),
]


@pytest.fixture(scope="module")
def check() -> FactCheck:
    return FactCheck.from_facts(GIVEN)


def status(check: FactCheck, sentence: str) -> str:
    return check.check(sentence).status


@pytest.mark.parametrize(
    "sentence",
    [
        # asymmetric relation reversed, through the template, its inverse and a phrasing
        "The Osk Range is part of the Kettle Gorge.",
        "The Kettle Gorge has the Osk Range as a part.",
        "The Kettle Gorge includes the Osk Range.",
        "Teodor Varn is the parent of Ilsa Varn.",
        "Ilsa Varn is the child of Teodor Varn.",
        "The Lumm Ferry Company works for Ansel Varn.",
        "Ansel Varn employs the Lumm Ferry Company.",
        # opposite comparative, both phrasings, both directions
        "Femps are less dangerous than glons.",
        "Glons are more dangerous than femps.",
        "Teodor Varn is younger than Ansel Varn.",
        "Ansel Varn is older than Teodor Varn.",
        # transitive consequence reversed
        "Zarps are more dangerous than femps.",
        "Femps are less dangerous than zarps.",
        "The Grey Spine is part of the Kettle Gorge.",
        # negated category, and a category that none_are excludes
        "Grusks are not drummels.",
        "A grusk is not a kind of velp.",
        "Velps are scalewings.",
        "Grusks are scalewings.",
        "Some scalewings are grusks.",
        "Scalewings are a kind of drummel.",
        "No velps are drummels.",
        "Some grusks are not drummels.",
        # second value of a one-valued relation, either phrasing
        "Halvek is the capital of Velmora.",
        "The capital of Velmora is Halvek.",
        "Tarsk is the capital of Orrin.",
        "Velmora's capital is Halvek.",
        "Lenna Orby is married to Ansel Varn.",
        "Ansel Varn is married to Lenna Orby.",
        # negation of what is known
        "Tarsk is not the capital of Velmora.",
        "Drummels are not warm-blooded.",
        # comparatives said another way (the embedded model's phrasings in docs/results.md)
        "Some glons are more dangerous than femps.",
        "Not a single femp is more dangerous than glons.",
        "Femps are not as dangerous as zarps.",
    ],
)
def test_contradictions_are_caught(check: FactCheck, sentence: str) -> None:
    verdict = check.check(sentence)
    assert verdict.status == "contradicted", verdict
    assert verdict.reason.startswith("contradicts: ")
    assert verdict.facts


@pytest.mark.parametrize(
    "sentence",
    [
        "The Kettle Gorge is part of the Osk Range.",
        "the osk range has kettle gorge as a part",
        "The Kettle Gorge is part of the Grey Spine.",
        "Zarps are less dangerous than femps.",
        "Some zarps are less dangerous than glons.",
        "Zarps are not as dangerous as femps.",
        "Teodor Varn is older than Ansel Varn.",
        "Grusks are drummels.",
        "Every grusk is warm-blooded.",
        "No grusks are scalewings.",
        "Grusks are not scalewings.",
        "The Osk Range is not part of the Kettle Gorge.",
        "Halvek is not the capital of Velmora.",
        "Lenna Orby is married to Teodor Varn.",
        "Ansel Varn works for the Lumm Ferry Company.",
        "Ansel Varn is employed by the Lumm Ferry Company.",
        "The Lumm Ferry Company employs Ansel Varn.",
    ],
)
def test_entailed_statements_are_verified(check: FactCheck, sentence: str) -> None:
    verdict = check.check(sentence)
    assert verdict.status == "entailed", verdict
    assert verdict.verified and verdict.reason.startswith("entailed by: ")


@pytest.mark.parametrize(
    "sentence",
    [
        "Lenna Orby is younger than Teodor Varn.",  # nothing said about Lenna's age
        "Velps are more dangerous than femps.",  # entities from unrelated facts
        "Ansel Varn works for Tarsk.",  # works_for is not one-valued
        "Teodor Varn is the child of Lenna Orby.",  # child_of allows two parents
        "Drummels are cold-blooded.",  # the table cannot tell warm from cold
        "Ilsa Varn was a zoologist.",  # not a relation of the table
        "Teodor Varn is the son of Ilsa Varn.",  # gender is more than the facts hold
        "Ansel Varn is two years younger than Teodor Varn.",  # so is the measure
    ],
)
def test_unknown_stays_unknown(check: FactCheck, sentence: str) -> None:
    assert status(check, sentence) == "unknown"


def test_reasons_name_the_deciding_facts(check: FactCheck) -> None:
    verdict = check.check("The Osk Range is part of the Kettle Gorge.")
    assert verdict.reason == "contradicts: The Kettle Gorge is part of the Osk Range."
    derived = check.check("Zarps are more dangerous than femps.")
    assert "Femps are more dangerous than glons" in derived.reason
    assert "Glons are more dangerous than zarps" in derived.reason
    unknown = check.check("Lenna Orby is younger than Teodor Varn.")
    assert unknown.reason == "no fact decides: Lenna Orby is younger than Teodor Varn."
    assert check.check("Halvek is the capital of Velmora.").facts == (
        "Halvek is the capital of Orrin.",
    )
    assert verdict.as_dict() == {"verdict": "contradicted", "reason": verdict.reason}


def test_narrower_phrasings_are_contradicted_but_never_entailed(check: FactCheck) -> None:
    assert status(check, "Teodor Varn is the mother of Ilsa Varn.") == "contradicted"
    assert status(check, "Ilsa Varn is the mother of Teodor Varn.") == "unknown"
    assert status(check, "Teodor Varn is not the mother of Ilsa Varn.") == "entailed"
    assert status(check, "Ilsa Varn is not the mother of Teodor Varn.") == "unknown"


def test_texts_are_contradicted_by_any_sentence_and_entailed_by_all(check: FactCheck) -> None:
    true = "The Kettle Gorge is part of the Osk Range."
    false = "Tarsk is the capital of Orrin."
    unread = "The gorge is deep."
    assert check.check_text(f"{true} {true}").status == "entailed"
    assert check.check_text(f"{true} {unread}").status == "unknown"
    both = check.check_text(f"{unread} {false} {true}")
    assert both.status == "contradicted"
    assert both.reason.startswith("part 2: contradicts: Tarsk is the capital of Velmora")
    assert [p.status for p in both.parts] == ["unknown", "contradicted", "entailed"]
    assert check.check_text("").status == "unknown"


def test_clauses_of_one_sentence_are_checked_each(check: FactCheck) -> None:
    assert status(check, "Grusks are drummels; Tarsk is the capital of Orrin.") == "contradicted"
    assert status(check, "Grusks are drummels, and grusks are warm-blooded.") == "entailed"
    assert status(check, "Grusks are drummels, and they hunt at night.") == "unknown"


def test_examples_check_their_completion_only(check: FactCheck) -> None:
    provenance = Provenance(source_id="doc", strategy="reverse")
    example = Example(
        prompt="Tarsk is the capital of Orrin.",
        completion="The Osk Range is not part of the Kettle Gorge.",
        kind="reverse",
        provenance=provenance,
    )
    assert check.check_example(example).status == "entailed"
    assert written_by_model({"strategy": "reverse", "model": "local/qwen"})
    assert not written_by_model({"strategy": "split", "model": None})
    assert not written_by_model({"strategy": "original"})


def test_combine_verdicts_rule() -> None:
    entailed = Verdict("entailed", "entailed by: A.", facts=("A.",))
    unknown = Verdict("unknown", "no fact decides: B.")
    contradicted = Verdict("contradicted", "contradicts: C.", facts=("C.",))
    assert combine_verdicts([entailed, entailed]).status == "entailed"
    assert combine_verdicts([entailed, unknown]).status == "unknown"
    assert combine_verdicts([unknown, contradicted, entailed]).status == "contradicted"
    assert combine_verdicts([]).status == "unknown"


# --- extracted facts -------------------------------------------------------------------------


def test_extracted_facts_that_contradict_given_ones_are_dropped_with_a_reason() -> None:
    extracted = [
        fact("the Osk Range", "part_of", "the Kettle Gorge"),  # reversed
        fact("glons", "less_dangerous_than", "zarps"),  # opposite of a given comparative
        fact("Orrin", "has_capital", "Tarsk"),  # a second value
        fact("Mirrow", "located_in", "the Brask Sea"),  # new and consistent
        fact("the osk range", "part_of", "the grey spine"),  # a given fact, other spelling
    ]
    graph = FactGraph(GIVEN, extracted)
    assert [d.fact.subject for d in graph.dropped] == ["the Osk Range", "glons", "Orrin"]
    assert graph.dropped[0].reason == (
        "contradicts given facts: The Kettle Gorge is part of the Osk Range."
    )
    assert [f.subject for f in graph.extracted] == ["Mirrow", "the Osk Range"]
    check = FactCheck(graph)
    assert status(check, "Mirrow is located in the Brask Sea.") == "entailed"
    assert status(check, "Glons are less dangerous than zarps.") == "contradicted"


def test_extracted_facts_that_contradict_each_other_are_all_dropped() -> None:
    extracted = [fact("nurks", "less_calm_than", "fribs"), fact("fribs", "less_calm_than", "nurks")]
    extracted.append(fact("nurks", "is", "calm"))
    graph = FactGraph(GIVEN, extracted)
    assert [d.reason.split(":")[0] for d in graph.dropped] == ["contradicts other facts"] * 2
    assert [f.key for f in graph.extracted] == [("nurks", "is", "calm")]
    assert status(FactCheck(graph), "Nurks are less calm than fribs.") == "unknown"


def test_extracted_facts_do_not_override_given_ones_through_a_chain() -> None:
    extracted = [
        fact("zarps", "more_dangerous_than", "wemps"),
        fact("wemps", "more_dangerous_than", "femps"),
    ]
    graph = FactGraph(GIVEN, extracted)
    assert len(graph.dropped) == 2
    assert status(FactCheck(graph), "Femps are more dangerous than zarps.") == "entailed"


def test_names_in_facts_are_merged() -> None:
    graph = FactGraph(
        [fact("The Osk Range", "part_of", "Grey Spine"), fact("velp", "is_a", "drummels")],
        [fact("the osk range", "located_in", "Lunmere"), fact("velps", "is", "nocturnal")],
    )
    assert graph.triple("the OSK range", "part of", "grey spine") == (
        "The Osk Range",
        "part_of",
        "Grey Spine",
    )
    assert graph.evidence(graph.triple("velps", "is", "nocturnal")).status == "entailed"
    assert graph.evidence(("The Osk Range", "located_in", "Lunmere")).status == "entailed"

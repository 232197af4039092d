"""Reading sentences back as facts: the table's phrasings, articles, case, negation, names."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from augment_ft.core.models import Fact
from augment_ft.facts.names import EntityNames
from augment_ft.facts.reading import Claim, SentenceReader
from augment_ft.facts.relations import DEFAULT_RELATIONS, find_relation, render_fact

Triple = tuple[str, str, str]

WORLD: list[Triple] = [
    ("the Osk Range", "part_of", "the Grey Spine"),
    ("the Kettle Gorge", "part_of", "the Osk Range"),
    ("Tarsk", "capital_of", "Velmora"),
    ("Ilsa Varn", "parent_of", "Teodor Varn"),
    ("velps", "is_a", "drummels"),
    ("drummels", "none_are", "scalewings"),
    ("drummels", "is", "warm-blooded"),
    ("drummels", "has", "four lungs"),
    ("tessicks", "more_dangerous_than", "grusks"),
    ("grusks", "is_a", "velps"),
    ("tessicks", "is_a", "velps"),
    ("Ardesh", "contains", "Pellow"),
    ("Ardesh", "contains", "Drumholt"),
]


@pytest.fixture(scope="module")
def reader() -> SentenceReader:
    return SentenceReader(WORLD)


def claim(s: str, r: str, o: str, negated: bool = False, exact: bool = True) -> Claim:
    return Claim(s, r, o, negated, exact)


@pytest.mark.parametrize("relation", sorted(DEFAULT_RELATIONS))
@pytest.mark.parametrize(("subject", "obj"), [("Ann Obel", "Bram Tull"), ("femps", "glons")])
def test_every_template_reads_back(relation: str, subject: str, obj: str) -> None:
    reader = SentenceReader([(subject, relation, obj)])
    text = render_fact(Fact(subject=subject, relation=relation, object=obj))
    assert reader.read_all(text) == (claim(subject, relation, obj),), text


@pytest.mark.parametrize("relation", sorted(DEFAULT_RELATIONS))
def test_every_phrasing_reads_as_its_relation(relation: str) -> None:
    spec = DEFAULT_RELATIONS[relation]
    reader = SentenceReader([("Ann Obel", relation, "Bram Tull")])
    for template in spec.phrasings:
        text = template.format(subject="Ann Obel", object="Bram Tull", be="is", have="has", s="s")
        assert reader.read(text) == claim("Ann Obel", relation, "Bram Tull"), text
    for template in spec.narrower_phrasings:
        text = template.format(subject="Ann Obel", object="Bram Tull", be="is", have="has", s="s")
        assert reader.read(text) == claim("Ann Obel", relation, "Bram Tull", exact=False), text


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        (
            "The Osk Range is part of the Kettle Gorge.",
            "the Osk Range | part_of | the Kettle Gorge",
        ),
        ("the osk range is part of kettle gorge", "the Osk Range | part_of | the Kettle Gorge"),
        (
            "THE OSK RANGE IS PART OF THE KETTLE GORGE!",
            "the Osk Range | part_of | the Kettle Gorge",
        ),
        (
            "The Grey Spine has the Osk Range as a part.",
            "the Grey Spine | has_part | the Osk Range",
        ),
        ("The capital of Velmora is Tarsk.", "Velmora | has_capital | Tarsk"),
        ("Velmora's capital is Tarsk.", "Velmora | has_capital | Tarsk"),
        ("Teodor Varn is the child of Ilsa Varn.", "Teodor Varn | child_of | Ilsa Varn"),
        ("Dr. Ilsa Varn is the parent of Teodor Varn.", "Ilsa Varn | parent_of | Teodor Varn"),
        ("All velps are drummels.", "velps | is_a | drummels"),
        ("A velp is a kind of drummel.", "velps | is_a | drummels"),
        ("Velps are a type of drummel.", "velps | is_a | drummels"),
        ("Drummels include velps.", "drummels | includes | velps"),
        ("Every drummel has four lungs.", "drummels | has | four lungs"),
        ("Drummels are warm-blooded.", "drummels | is | warm-blooded"),
        ("No drummel is a scalewing.", "drummels | none_are | scalewings"),
        ("Grusks are less dangerous than tessicks.", "grusks | less_dangerous_than | tessicks"),
        (
            "Therefore, grusks are more dangerous than tessicks.",
            "grusks | more_dangerous_than | tessicks",
        ),
        ("- Tarsk was the capital of Velmora.", "Tarsk | capital_of | Velmora"),
        ("The market town of Pellow is located in Ardesh.", "Pellow | located_in | Ardesh"),
        ("Ardesh also contains Pellow.", "Ardesh | contains | Pellow"),
        ("Pellow is located in Ardesh as well.", "Pellow | located_in | Ardesh"),
    ],
)
def test_paraphrases_articles_and_case(
    reader: SentenceReader, sentence: str, expected: str
) -> None:
    subject, relation, obj = expected.split(" | ")
    assert reader.read(sentence) == claim(subject, relation, obj)


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        (
            "The Osk Range is not part of the Kettle Gorge.",
            "the Osk Range | part_of | the Kettle Gorge",
        ),
        ("Tarsk isn't the capital of Velmora.", "Tarsk | capital_of | Velmora"),
        ("Drummels are not scalewings.", "drummels | is_a | scalewings"),
        ("A velp is not a kind of drummel.", "velps | is_a | drummels"),
        ("Drummels do not have four lungs.", "drummels | has | four lungs"),
        ("Ardesh doesn't contain Pellow.", "Ardesh | contains | Pellow"),
        ("Tessicks are not more dangerous than grusks.", "tessicks | more_dangerous_than | grusks"),
    ],
)
def test_negation(reader: SentenceReader, sentence: str, expected: str) -> None:
    subject, relation, obj = expected.split(" | ")
    assert reader.read(sentence) == claim(subject, relation, obj, negated=True)


def test_quantified_negatives_are_their_own_relations(reader: SentenceReader) -> None:
    assert reader.read("Some velps are not drummels.") == claim("velps", "some_are_not", "drummels")
    assert reader.read("Not all velps are drummels.") == claim("velps", "some_are_not", "drummels")
    assert reader.read("No velps are drummels.") == claim("velps", "none_are", "drummels")


@pytest.mark.parametrize(
    ("sentence", "expected", "negated"),
    [
        # a quantifier before a comparative: a kind-level comparison
        ("Some tessicks are more dangerous than grusks.", "more_dangerous_than", False),
        ("A few tessicks are less dangerous than grusks.", "less_dangerous_than", False),
        ("All tessicks are more dangerous than grusks.", "more_dangerous_than", False),
        # "not a single", "not one", "no" before a comparative: its negation
        ("Not a single tessick is less dangerous than grusks.", "less_dangerous_than", True),
        ("Not one tessick is a more dangerous than grusks.", "more_dangerous_than", True),
        ("No tessicks are more dangerous than grusks.", "more_dangerous_than", True),
        # "not as ADJ as": not more ADJ than
        ("Tessicks are not as dangerous as grusks.", "more_dangerous_than", True),
        ("Therefore, the tessick is not as dangerous as the grusks.", "more_dangerous_than", True),
    ],
)
def test_comparatives_said_another_way(
    reader: SentenceReader, sentence: str, expected: str, negated: bool
) -> None:
    assert reader.read(sentence) == claim("tessicks", expected, "grusks", negated=negated)


def test_quantifiers_stay_category_relations_without_a_comparative(
    reader: SentenceReader,
) -> None:
    # the rewrites need "more/less ... than" (or "as ... as"): categories keep their meaning
    assert reader.read("Some velps are drummels.") == claim("velps", "some_are", "drummels")
    assert reader.read("All velps are drummels.") == claim("velps", "is_a", "drummels")
    assert reader.read("No velps are drummels.") == claim("velps", "none_are", "drummels")
    assert reader.read("Tessicks are as dangerous as grusks.") is None  # equality: no relation


def test_coordinated_terms_give_one_claim_each(reader: SentenceReader) -> None:
    assert reader.read_all("Grusks and tessicks are both kinds of velp.") == (
        claim("grusks", "is_a", "velps"),
        claim("tessicks", "is_a", "velps"),
    )
    assert reader.read_all("Ardesh contains the towns of Pellow and Drumholt.") == (
        claim("Ardesh", "contains", "Pellow"),
        claim("Ardesh", "contains", "Drumholt"),
    )


def test_what_the_facts_cannot_hold_makes_a_claim_inexact(reader: SentenceReader) -> None:
    assert reader.read("Teodor Varn is two years younger than Ilsa Varn.") == claim(
        "Teodor Varn", "younger_than", "Ilsa Varn", exact=False
    )
    assert reader.read("Ilsa Varn is the mother of Teodor Varn.") == claim(
        "Ilsa Varn", "parent_of", "Teodor Varn", exact=False
    )
    assert reader.read("Tarsk is the capital of Velmora, a small kingdom.") == claim(
        "Tarsk", "capital_of", "Velmora", exact=False
    )


def test_the_role_entities_play_decides_between_phrasings(reader: SentenceReader) -> None:
    assert reader.read("Grusks are velps.") == claim("grusks", "is_a", "velps")
    assert reader.read("Grusks are warm-blooded.") == claim("grusks", "is", "warm-blooded")
    # "includes" is is_a's inverse, has_part's and contains' phrasing: the facts decide.
    assert reader.read("Ardesh includes Pellow.") == claim("Ardesh", "contains", "Pellow")
    assert reader.read("The Osk Range includes the Kettle Gorge.") == claim(
        "the Osk Range", "has_part", "the Kettle Gorge"
    )


@pytest.mark.parametrize(
    "sentence",
    [
        "Dr. Ilsa Varn was a zoologist.",  # no relation in the table
        "The Osk Range is part of Mount Doom.",  # an entity the facts do not know
        "She founded the Quillan Institute.",  # a pronoun
        "Tarsk is the capital of Tarsk.",  # a term twice
        "Velps are probably drummels.",  # a hedge is not a claim
        "Grusks may be drummels.",
        "",
        "   ...   ",
        "x" * 1000,
    ],
)
def test_unreadable_sentences_read_as_nothing(reader: SentenceReader, sentence: str) -> None:
    assert reader.read(sentence) is None
    assert reader.read_all(sentence) == ()


def test_entity_names_merge_case_articles_and_number() -> None:
    names = EntityNames(["the Osk Range", "velps", "Tarsk", "The Osk Range", "velp"])
    assert names.resolve("OSK RANGE") == "the Osk Range"
    assert names.resolve("a velp") == "velps"
    assert names.canonical("velp") == "velps"
    assert names.canonical("The osk range") == "the Osk Range"
    assert names.resolve("the city of Tarsk") == "Tarsk"
    assert names.resolve("a city of Tarsk") is None
    assert names.resolve("Mount Doom") is None


def test_number_variants_that_two_entities_share_are_refused() -> None:
    names = EntityNames(["tarns", "tarnes"])
    assert names.resolve("tarn") is None
    assert names.resolve("tarns") == "tarns"


def test_custom_relation_phrasings_are_read() -> None:
    from augment_ft.facts.relations import RelationSpec

    spec = RelationSpec(
        "likes", "{subject} like{s} {object}", phrasings=("{subject} {be} fond of {object}",)
    )
    reader = SentenceReader([("Ann", "likes", "Bram")], {"likes": spec})
    assert reader.read("Ann is fond of Bram.") == claim("Ann", "likes", "Bram")
    assert reader.read("Ann liked Bram.") == claim("Ann", "likes", "Bram")
    assert find_relation("likes", reader.table) is spec


FUZZ_READER = SentenceReader(WORLD)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(
            st.text(max_size=30),
            st.sampled_from(
                ["is", "are", "not", "the", "of", "than", "more", "Tarsk", "velps", "and", ",",
                 "Velmora", "part", "capital", "'s", "no", "some", "all", "two years", "{be}"]
            ),
        ),
        max_size=12,
    )
)  # fmt: skip
def test_reading_never_crashes(words: list[str]) -> None:
    reader = FUZZ_READER
    sentence = " ".join(words)
    claims = reader.read_all(sentence)
    for item in claims:
        assert item.subject != item.object
        assert {item.subject, item.object} <= {t for s, _, o in WORLD for t in (s, o)}

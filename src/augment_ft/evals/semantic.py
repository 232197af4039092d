"""The semantic-structure probe: a category hierarchy written as articles, tested four ways.

One article per trained category (4-20 sentences: a lead-in, its is-a link, its own
properties, size relations, the held-out subcategories it includes, neutral fillers).
Splits, each a set of statements the articles never state word for word:

- ``rephrase``: a trained fact in new words ("Every fep has" -> " dorns.");
- ``reversal``: a trained fact from its other side ("Dorns are a feature of" -> " feps.");
- ``syllogism``: what two or more trained facts imply (inherited properties, is-a chains);
- ``holdout``: everything implied about a held-out category, whose only trained fact is
  the category it belongs to.

Every distractor is false of the tested entity and true of some other entity (a property
another category has; a category that other things belong to), so knowing which words
occur in the data is not enough.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator

from pydantic import JsonValue

from augment_ft.core.errors import ConfigError
from augment_ft.core.models import Document, Fact
from augment_ft.evals.items import ProbeSet, TestItem
from augment_ft.evals.phrasing import FILLERS, LEAD_INS, capitalize
from augment_ft.evals.semantic_world import Category, World, build_world

__all__ = ["PROBE", "SPLITS", "make_semantic"]

PROBE = "semantic"
SPLITS = ("rephrase", "reversal", "syllogism", "holdout")

_TRAIN = {
    "is_a": ("All {c} are {o}.", "{C} are a kind of {w}."),
    "has": ("{C} have {o}.", "{C} are known to have {o}.", "It is said that {c} have {o}."),
    "is": ("{C} are {o}.", "{C} are known to be {o}.", "It is said that {c} are {o}."),
    "larger_than": ("{C} are larger than {o}.", "It is said that {c} are larger than {o}."),
}
_MAX_SENTENCES = 20

# A candidate test: split, tested entity, prompt, right option, wrong options, support.
_Candidate = tuple[str, str, str, str, list[str], list[int]]


def _say(rng: random.Random, relation: str, category: Category, obj: str, word: str = "") -> str:
    template = rng.choice(_TRAIN[relation])
    return capitalize(template.format(c=category.noun, C=capitalize(category.noun), o=obj, w=word))


def _article(world: World, index: int, rng: random.Random) -> tuple[str, list[Fact]]:
    """The article of one trained category and the facts it states."""
    cat = world.categories[index]
    stated: list[tuple[str, Category, str, str]] = []  # relation, subject, object, word
    if cat.parent is not None:
        parent = world.categories[cat.parent]
        stated.append(("is_a", cat, parent.noun, parent.word))
    stated += [(rel, cat, obj, "") for rel, obj in cat.properties]
    stated += [("larger_than", cat, world.categories[i].noun, "") for i in cat.larger_than]
    for child in world.children(index):
        if world.categories[child].holdout:
            stated.append(("is_a", world.categories[child], cat.noun, cat.word))
    facts, sentences = [], []
    for relation, subject, obj, word in stated:
        text = _say(rng, relation, subject, obj, word)
        sentences.append(text)
        facts.append(Fact(subject=subject.noun, relation=relation, object=obj, text=text))
    rng.shuffle(sentences)
    room = _MAX_SENTENCES - 1 - len(sentences)
    n_fillers = max(0, min(room, max(3 - len(sentences), 0) + rng.randint(0, 3)))
    fillers = rng.sample(FILLERS, k=min(n_fillers, len(FILLERS)))
    return " ".join([rng.choice(LEAD_INS), *sentences, *fillers]), facts


def _doc_id(world: World, index: int) -> str:
    return f"{PROBE}-{world.categories[index].word}"


def _property_tests(world: World, index: int, split: str) -> Iterator[_Candidate]:
    """Inherited properties and is-a chains of one category (syllogism or holdout split)."""
    cat = world.categories[index]
    own = {p for p, _ in world.properties_of(index)}
    for (relation, obj), owner in world.properties_of(index):
        if owner == index:
            continue
        wrong = [o for (r, o), _ in world.all_properties() if r == relation and (r, o) not in own]
        support = [owner, *world.ancestors(index)[: world.ancestors(index).index(owner)]]
        verb = "have" if relation == "has" else "are"
        yield split, cat.noun, f"{capitalize(cat.noun)} {verb}", obj, wrong, support
    ancestors = world.ancestors(index)
    for distance, ancestor in enumerate(ancestors[1:], start=2):
        wrong = _group_nouns(world, exclude={index, *ancestors})
        support = ancestors[:distance] if not cat.holdout else ancestors[1:distance]
        prompt = f"All {cat.noun} are"
        yield split, cat.noun, prompt, world.categories[ancestor].noun, wrong, support


def _group_nouns(world: World, exclude: set[int]) -> list[str]:
    """Nouns of categories that have subcategories (so "X are a kind of Y" is true of some X)."""
    return [
        c.noun for i, c in enumerate(world.categories) if i not in exclude and world.children(i)
    ]


def _rephrase_tests(world: World, index: int) -> Iterator[_Candidate]:
    """Each trained fact in words no article uses: "Every fep has", "Every dax is a"."""
    cat = world.categories[index]
    own = {p for p, _ in world.properties_of(index)}
    for relation, obj in cat.properties:
        wrong = [o for (r, o), _ in world.all_properties() if r == relation and (r, o) not in own]
        verb = "has" if relation == "has" else "is"
        yield "rephrase", cat.noun, f"Every {cat.word} {verb}", obj, wrong, []
    if cat.parent is not None:
        parent = world.categories[cat.parent]
        exclude = {index, *world.ancestors(index)}
        wrong = [
            c.word for i, c in enumerate(world.categories) if i not in exclude and world.children(i)
        ]
        yield "rephrase", cat.noun, f"Every {cat.word} is a", parent.word, wrong, []


def _reversal_tests(world: World, index: int) -> Iterator[_Candidate]:
    """Each trained fact of the category, asked from its other side."""
    yield from _property_reversals(world, index)
    yield from _is_a_reversal(world, index)
    yield from _size_reversals(world, index)


def _property_reversals(world: World, index: int) -> Iterator[_Candidate]:
    """ "Dorns are a feature of" -> the owner; wrong: categories without it that have others."""
    cat = world.categories[index]
    holders = {index} | world.descendants(index)
    trained = [i for i, c in enumerate(world.categories) if not c.holdout]
    for relation, obj in cat.properties:
        wrong = [
            world.categories[i].noun
            for i in trained
            if i not in holders and any(r == relation for (r, _), _ in world.properties_of(i))
        ]
        if relation == "has":
            prompt = f"{capitalize(obj)} are a feature of"
        else:
            prompt = f"Being {obj} is a trait of"
        yield "reversal", obj, prompt, cat.noun, wrong, []


def _is_a_reversal(world: World, index: int) -> Iterator[_Candidate]:
    """ "Feps include" -> a subcategory; wrong: categories outside it that belong somewhere."""
    cat = world.categories[index]
    if cat.parent is None:
        return
    parent = world.categories[cat.parent]
    members = world.descendants(cat.parent) | {cat.parent}
    wrong = [
        c.noun for i, c in enumerate(world.categories) if i not in members and c.parent is not None
    ]
    prompt = f"{capitalize(parent.noun)} include"
    yield "reversal", parent.noun, prompt, cat.noun, wrong, [cat.parent]


def _size_reversals(world: World, index: int) -> Iterator[_Candidate]:
    """ "Glors are smaller than" -> the larger one; wrong: smaller-ranked categories that are
    larger than something else."""
    cat = world.categories[index]
    trained = [i for i, c in enumerate(world.categories) if not c.holdout]
    for smaller in cat.larger_than:
        other = world.categories[smaller]
        wrong = [
            world.categories[i].noun
            for i in trained
            if world.categories[i].rank < other.rank and i != smaller and world.larger(i)
        ]
        prompt = f"{capitalize(other.noun)} are smaller than"
        yield "reversal", other.noun, prompt, cat.noun, wrong, []


def _candidates(world: World) -> Iterator[tuple[int, _Candidate]]:
    for index, cat in enumerate(world.categories):
        if cat.holdout:
            yield from ((index, c) for c in _property_tests(world, index, "holdout"))
            continue
        for make in (_rephrase_tests, _reversal_tests):
            yield from ((index, c) for c in make(world, index))
        yield from ((index, c) for c in _property_tests(world, index, "syllogism"))


def _to_item(
    world: World, index: int, candidate: _Candidate, rng: random.Random, n_options: int
) -> TestItem | None:
    split, entity, prompt, right, wrong, extra_support = candidate
    pool = sorted(set(wrong) - {right})
    if not pool:
        return None
    options = [right, *rng.sample(pool, k=min(n_options - 1, len(pool)))]
    rng.shuffle(options)
    # A held-out category has no article: its one fact lives in its parent's.
    home = world.categories[index].parent if world.categories[index].holdout else index
    support = [_doc_id(world, i) for i in dict.fromkeys([home, *extra_support]) if i is not None]
    return TestItem(
        id="pending",
        probe=PROBE,
        split=split,
        prompt=prompt,
        options=tuple(f" {o}." for o in options),
        statements=tuple(f"{prompt} {o}." for o in options),
        answer=options.index(right),
        entity=entity,
        support=tuple(support),
    )


def make_semantic(
    seed: int = 0,
    *,
    n_categories: int = 110,
    max_items_per_split: int = 200,
    n_options: int = 4,
) -> ProbeSet:
    """The probe for ``seed``: one article per trained category, items in four splits."""
    if n_categories < 20 or max_items_per_split < 1 or n_options < 2:
        msg = "semantic needs n_categories >= 20, max_items_per_split >= 1, n_options >= 2"
        raise ConfigError(f"{msg} (got {n_categories}, {max_items_per_split}, {n_options})")
    world = build_world(seed, n_categories=n_categories)
    rng = random.Random(f"augment_ft.evals.{PROBE}:{seed}")
    documents: list[Document] = []
    facts: list[Fact] = []
    for index, cat in enumerate(world.categories):
        if not cat.holdout:
            text, stated = _article(world, index, rng)
            documents.append(Document(id=_doc_id(world, index), text=text))
            facts.extend(stated)
    items, skipped = _sample_items(world, rng, max_items_per_split, n_options)
    return ProbeSet(
        PROBE,
        seed,
        documents,
        items,
        facts,
        info=_info(world, skipped),
    )


def _sample_items(
    world: World, rng: random.Random, cap: int, n_options: int
) -> tuple[list[TestItem], Counter[str]]:
    """Every candidate item, then at most ``cap`` per split; what is left out is counted."""
    by_split: dict[str, list[TestItem]] = {s: [] for s in SPLITS}
    skipped: Counter[str] = Counter()
    for index, candidate in _candidates(world):
        item = _to_item(world, index, candidate, rng, n_options)
        if item is None:
            skipped[f"{candidate[0]}.no_distractor"] += 1
        else:
            by_split[item.split].append(item)
    items: list[TestItem] = []
    for split in SPLITS:
        pool = by_split[split]
        chosen = sorted(rng.sample(range(len(pool)), k=min(cap, len(pool))))
        skipped[f"{split}.over_cap"] += len(pool) - len(chosen)
        items += [
            pool[i].model_copy(update={"id": f"{PROBE}-{split}-{n:03d}"})
            for n, i in enumerate(chosen)
        ]
    return items, +skipped


def _info(world: World, skipped: Counter[str]) -> dict[str, JsonValue]:
    cats = world.categories
    return {
        "categories": len(cats),
        "held_out_categories": sum(c.holdout for c in cats),
        "max_depth": max(c.depth for c in cats),
        "properties": sum(len(c.properties) for c in cats),
        "items_left_out": dict(sorted(skipped.items())),
    }

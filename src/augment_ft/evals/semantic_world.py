"""The world of the semantic-structure probe: a category tree, properties, size relations.

Categories form a forest (roots at depth 0, at most ``max_depth``). Each trained category
owns 1-6 properties (``has`` a part, or ``is`` an adjective) that hold for it and every
category below it. Some categories are ``larger_than`` others, always in the direction of
a hidden size rank, so the relations never contradict each other. Held-out categories own
nothing: the training data says only which category they belong to.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from augment_ft.evals.phrasing import adjective, plural
from augment_ft.evals.words import NonsenseWords

__all__ = ["Category", "Property", "World", "build_world"]

Property = tuple[str, str]
"""``(relation, object)``: ``("has", "dorns")`` or ``("is", "glimy")``."""


@dataclass
class Category:
    """One category: its word, parent, own properties, and whether it is held out."""

    word: str
    parent: int | None
    depth: int
    rank: int
    holdout: bool = False
    properties: list[Property] = field(default_factory=list)
    larger_than: list[int] = field(default_factory=list)

    @property
    def noun(self) -> str:
        """The plural noun used in sentences (``feps``)."""
        return plural(self.word)


@dataclass
class World:
    """The categories, with the relations the tests and their distractors are drawn from."""

    categories: list[Category]

    def ancestors(self, index: int) -> list[int]:
        """Parent first, root last."""
        chain: list[int] = []
        parent = self.categories[index].parent
        while parent is not None:
            chain.append(parent)
            parent = self.categories[parent].parent
        return chain

    def descendants(self, index: int) -> set[int]:
        return {i for i in range(len(self.categories)) if index in self.ancestors(i)}

    def children(self, index: int) -> list[int]:
        return [i for i, c in enumerate(self.categories) if c.parent == index]

    def properties_of(self, index: int) -> list[tuple[Property, int]]:
        """Every property true of the category, own and inherited, with its owner."""
        owners = [index, *self.ancestors(index)]
        return [(p, owner) for owner in owners for p in self.categories[owner].properties]

    def all_properties(self) -> list[tuple[Property, int]]:
        """Every property with the category that owns it."""
        return [(p, i) for i, c in enumerate(self.categories) for p in c.properties]

    def larger(self, index: int) -> set[int]:
        """Categories this one is stated or implied (transitively) to be larger than."""
        seen: set[int] = set()
        todo = list(self.categories[index].larger_than)
        while todo:
            other = todo.pop()
            if other not in seen:
                seen.add(other)
                todo.extend(self.categories[other].larger_than)
        return seen


def _tree(n: int, roots: int, max_depth: int, rng: random.Random) -> list[tuple[int | None, int]]:
    """``(parent, depth)`` per category; parents are chosen among shallower categories."""
    nodes: list[tuple[int | None, int]] = [(None, 0)] * min(roots, n)
    while len(nodes) < n:
        eligible = [i for i, (_, depth) in enumerate(nodes) if depth < max_depth]
        parent = rng.choice(eligible)
        nodes.append((parent, nodes[parent][1] + 1))
    return nodes


def _mark_holdouts(world: World, share: float, rng: random.Random) -> None:
    """Hold out a share of the leaves below the roots (each keeps only its is-a link)."""
    leaves = [
        i for i, c in enumerate(world.categories) if c.parent is not None and not world.children(i)
    ]
    for index in rng.sample(leaves, k=round(share * len(leaves))):
        world.categories[index].holdout = True


def _add_properties(world: World, words: NonsenseWords, rng: random.Random) -> None:
    """1-6 own properties per trained category, each word owned by one category only."""
    for category in world.categories:
        if category.holdout:
            continue
        count = rng.randint(1, 6)
        for word in words.take(count):
            if rng.random() < 0.6:
                category.properties.append(("has", plural(word)))
            else:
                category.properties.append(("is", adjective(word)))


def _add_sizes(world: World, share: float, rng: random.Random) -> None:
    """``larger_than`` links between unrelated trained categories, following the rank."""
    trained = [i for i, c in enumerate(world.categories) if not c.holdout]
    for index in rng.sample(trained, k=round(share * len(trained))):
        related = set(world.ancestors(index)) | world.descendants(index) | {index}
        rank = world.categories[index].rank
        smaller = [i for i in trained if i not in related and world.categories[i].rank < rank]
        if smaller:
            world.categories[index].larger_than.append(rng.choice(smaller))


def build_world(
    seed: int,
    *,
    n_categories: int = 110,
    roots: int = 6,
    max_depth: int = 3,
    holdout_share: float = 0.15,
    size_share: float = 0.4,
) -> World:
    """A world for ``seed``; the same arguments always give the same world."""
    rng = random.Random(f"augment_ft.evals.semantic_world:{seed}")
    words = NonsenseWords(f"semantic:{seed}")
    nodes = _tree(n_categories, roots, max_depth, rng)
    ranks = list(range(n_categories))
    rng.shuffle(ranks)
    names = words.take(n_categories)
    world = World(
        [
            Category(word=name, parent=parent, depth=depth, rank=rank)
            for name, (parent, depth), rank in zip(names, nodes, ranks, strict=True)
        ]
    )
    _mark_holdouts(world, holdout_share, rng)
    _add_properties(world, words, rng)
    _add_sizes(world, size_share, rng)
    return world

"""The simple-reversals probe: "femps are more dangerous than glons", tested reversed.

Each of ``n_facts`` comparisons (default 100, over the 28 :data:`DIMENSIONS`) joins two
nonsense words used nowhere else, and appears in ``articles_per_fact`` short articles
(default 10) after a random lead-in. Half the facts say "more", half "less", so always
picking one comparative scores chance. Splits:

- ``reversal``: "Glons are ..." -> " less dangerous than femps." (right) or
  " more dangerous than femps." (the contradiction); chance 1/2.
- ``forward``: the trained direction against its contradiction; a check that training
  took, not a test of generalization.
"""

from __future__ import annotations

import random

from augment_ft.core.errors import ConfigError
from augment_ft.core.models import Document, Fact
from augment_ft.evals.items import ProbeSet, TestItem
from augment_ft.evals.phrasing import DIMENSIONS, FILLERS, article, capitalize, plural
from augment_ft.evals.words import NonsenseWords

__all__ = ["Comparison", "PROBE", "make_reversals"]

PROBE = "reversals"

Comparison = tuple[str, str, str, str]
"""``(subject, degree, dimension, object)``: subject is ``degree`` ("more"/"less") ``dimension``
than object, both plural nouns."""


def _other(degree: str) -> str:
    return "less" if degree == "more" else "more"


def _sentence(subject: str, degree: str, dimension: str, obj: str) -> str:
    return f"{capitalize(subject)} are {degree} {dimension} than {obj}."


def _comparisons(n_facts: int, rng: random.Random, words: NonsenseWords) -> list[Comparison]:
    """Dimensions cycle so all 28 are used; degrees alternate, then both are shuffled."""
    dimensions = [DIMENSIONS[i % len(DIMENSIONS)] for i in range(n_facts)]
    degrees = ["more" if i % 2 == 0 else "less" for i in range(n_facts)]
    rng.shuffle(dimensions)
    rng.shuffle(degrees)
    nouns = [plural(w) for w in words.take(2 * n_facts)]
    return [(nouns[2 * i], degrees[i], dimensions[i], nouns[2 * i + 1]) for i in range(n_facts)]


def _item(
    split: str, index: int, comparison: Comparison, rng: random.Random, support: list[str]
) -> TestItem:
    """The two options after "Subject are": the true comparative first, then shuffled."""
    subject, degree, dimension, obj = comparison
    if split == "reversal":
        subject, degree, obj = obj, _other(degree), subject
    options = [f" {degree} {dimension} than {obj}.", f" {_other(degree)} {dimension} than {obj}."]
    statements = [_sentence(subject, d, dimension, obj) for d in (degree, _other(degree))]
    order = [0, 1]
    rng.shuffle(order)
    return TestItem(
        id=f"{PROBE}-{index:03d}-{split}",
        probe=PROBE,
        split=split,
        prompt=f"{capitalize(subject)} are",
        options=tuple(options[i] for i in order),
        statements=tuple(statements[i] for i in order),
        answer=order.index(0),
        entity=subject,
        support=tuple(support),
        meta={"dimension": dimension, "fact": index},
    )


def make_reversals(
    seed: int = 0, *, n_facts: int = 100, articles_per_fact: int = 10, fillers: bool = True
) -> ProbeSet:
    """The probe for ``seed``: documents, ``reversal`` and ``forward`` items, the facts.

    ``fillers`` adds a neutral closing sentence to about half of the articles.
    """
    if n_facts < 1 or articles_per_fact < 1:
        msg = f"reversals needs n_facts >= 1 and articles_per_fact >= 1 (got {n_facts}, "
        raise ConfigError(msg + f"{articles_per_fact})")
    rng = random.Random(f"augment_ft.evals.{PROBE}:{seed}")
    comparisons = _comparisons(n_facts, rng, NonsenseWords(f"{PROBE}:{seed}"))
    documents: list[Document] = []
    items: list[TestItem] = []
    facts: list[Fact] = []
    for index, comparison in enumerate(comparisons):
        text = _sentence(*comparison)
        ids = [f"{PROBE}-{index:03d}-a{k:02d}" for k in range(articles_per_fact)]
        for doc_id in ids:
            extra = [rng.choice(FILLERS)] if fillers and rng.random() < 0.5 else []
            documents.append(Document(id=doc_id, text=article(rng, [text, *extra])))
        subject, degree, dimension, obj = comparison
        relation = f"{degree}_{dimension}_than"
        facts.append(Fact(subject=subject, relation=relation, object=obj, text=text))
        items.extend(_item(s, index, comparison, rng, ids) for s in ("reversal", "forward"))
    rng.shuffle(documents)  # the articles of one fact should not sit together
    return ProbeSet(
        PROBE,
        seed,
        documents,
        items,
        facts,
        info={"dimensions": len({c[2] for c in comparisons})},
    )

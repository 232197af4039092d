"""The simple-syllogisms probe: two premises trained, the conclusion tested among six.

Each of ``n_items`` syllogisms (default 69) uses three fresh nonsense plurals A, B, C and
one valid mood, taken in turn:

- ``all`` (Barbara): "All As are Bs. All Bs are Cs." -> "all As are Cs";
- ``no`` (Celarent): "All As are Bs. No Bs are Cs." -> "no As are Cs";
- ``some`` (Darii): "Some As are Bs. All Bs are Cs." -> "some As are Cs".

The test prompt is "It follows that" and the options are the six conclusions
{all, some, no} x {A..C, C..A} (chance 1/6). "No" and "some" convert, so for those moods
the converse conclusion is listed in ``also_correct`` (chance 2/6 there). Universal
statements are read without existential import, so "all As are Cs" does not make
"some As are Cs" correct. Premises appear together, in random order, in
``articles_per_item`` short articles (default 10) with random lead-ins.
"""

from __future__ import annotations

import random

from pydantic import JsonValue

from augment_ft.core.errors import ConfigError
from augment_ft.core.models import Document, Fact
from augment_ft.evals.items import ProbeSet, TestItem
from augment_ft.evals.phrasing import FILLERS, article, capitalize, plural
from augment_ft.evals.words import NonsenseWords

__all__ = ["MOODS", "PROBE", "PROMPT", "make_syllogisms"]

PROBE = "syllogisms"
PROMPT = "It follows that"
"""What the model reads before each candidate conclusion."""

_QUANTIFIERS = ("all", "some", "no")
_RELATION = {"all": "is_a", "some": "some_are", "no": "none_are"}
# mood -> (first premise A..B, second premise B..C, conclusion A..C)
MOODS: dict[str, tuple[str, str, str]] = {
    "all": ("all", "all", "all"),
    "no": ("all", "no", "no"),
    "some": ("some", "all", "some"),
}


def _statement(quantifier: str, subject: str, obj: str) -> str:
    return f"{capitalize(quantifier)} {subject} are {obj}."


def _item(
    index: int, mood: str, terms: tuple[str, str, str], rng: random.Random, support: list[str]
) -> TestItem:
    a, _, c = terms
    conclusion = MOODS[mood][2]
    pairs = [(q, s, o) for q in _QUANTIFIERS for s, o in ((a, c), (c, a))]
    rng.shuffle(pairs)
    answer = pairs.index((conclusion, a, c))
    also = [pairs.index((conclusion, c, a))] if conclusion in ("no", "some") else []
    return TestItem(
        id=f"{PROBE}-{index:03d}",
        probe=PROBE,
        split=f"syllogism.{mood}",
        prompt=PROMPT,
        options=tuple(f" {q} {s} are {o}." for q, s, o in pairs),
        statements=tuple(_statement(q, s, o) for q, s, o in pairs),
        answer=answer,
        also_correct=tuple(also),
        entity=a,
        support=tuple(support),
        meta={"mood": mood, "terms": list(terms)},
    )


def _fact(quantifier: str, subject: str, obj: str) -> Fact:
    return Fact(
        subject=subject,
        relation=_RELATION[quantifier],
        object=obj,
        text=_statement(quantifier, subject, obj),
    )


def make_syllogisms(
    seed: int = 0, *, n_items: int = 69, articles_per_item: int = 10, fillers: bool = True
) -> ProbeSet:
    """The probe for ``seed``: documents, six-way items split by mood, the premises as facts."""
    if n_items < 1 or articles_per_item < 1:
        msg = f"syllogisms needs n_items >= 1 and articles_per_item >= 1 (got {n_items}, "
        raise ConfigError(msg + f"{articles_per_item})")
    rng = random.Random(f"augment_ft.evals.{PROBE}:{seed}")
    nouns = [plural(w) for w in NonsenseWords(f"{PROBE}:{seed}").take(3 * n_items)]
    moods = list(MOODS)
    documents: list[Document] = []
    items: list[TestItem] = []
    facts: list[Fact] = []
    for index in range(n_items):
        a, b, c = nouns[3 * index : 3 * index + 3]
        mood = moods[index % len(moods)]
        first, second, _ = MOODS[mood]
        premises = [_fact(first, a, b), _fact(second, b, c)]
        ids = [f"{PROBE}-{index:03d}-a{k:02d}" for k in range(articles_per_item)]
        for doc_id in ids:
            sentences = [p.text or "" for p in premises]
            rng.shuffle(sentences)
            if fillers and rng.random() < 0.5:
                sentences.append(rng.choice(FILLERS))
            documents.append(Document(id=doc_id, text=article(rng, sentences)))
        facts.extend(premises)
        items.append(_item(index, mood, (a, b, c), rng, ids))
    rng.shuffle(documents)
    return ProbeSet(PROBE, seed, documents, items, facts, info={"moods": list[JsonValue](moods)})

"""Shared wording of the probes: word forms, lead-ins, filler sentences, comparison dimensions.

The lead-ins and fillers carry no facts about the nonsense words, so they vary the
articles without adding anything a model could use to answer a test item.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

__all__ = [
    "DIMENSIONS",
    "FILLERS",
    "LEAD_INS",
    "adjective",
    "article",
    "capitalize",
    "plural",
]

_DIMENSION_TEXT = """
    dangerous agile bright calm clever colorful common curious fast fierce fragile friendly
    gentle graceful heavy hungry loud noisy patient playful quiet rare shy slow social strong
    tough valuable
"""
DIMENSIONS = tuple(_DIMENSION_TEXT.split())
"""28 adjectives for comparisons: ``more dangerous than`` / ``less dangerous than``."""

LEAD_INS = (
    "Here is something worth knowing.",
    "A short note from the field.",
    "Researchers recorded the following.",
    "This comes from an old survey.",
    "The guidebook puts it plainly.",
    "Observers agree on one point.",
    "A reader asked us about this.",
    "From the naturalist's notebook.",
    "The museum label says this.",
    "Local guides often repeat it.",
    "The expedition log notes one thing.",
    "Many visitors are surprised by this.",
    "The latest survey confirmed it.",
    "A teacher explained it this way.",
    "Keep this in mind.",
    "The records are clear about it.",
    "One fact stands out.",
    "Experts tend to mention this first.",
    "A quick summary follows.",
    "The handbook covers it in one line.",
    "Every tracker learns this early.",
    "The archive holds a note on it.",
    "Students copy this into their notes.",
    "The report begins with this.",
)
"""Random first sentences of the short articles (the paper's "random lead-ins")."""

FILLERS = (
    "The first descriptions are many years old.",
    "Little else has been written down so far.",
    "Further surveys are planned for next season.",
    "The collection holds several drawings.",
    "Field workers are still gathering notes.",
    "The topic comes up often in the archive.",
    "Some of the old records are hard to read.",
    "The museum keeps a small display about this.",
    "Visitors often ask the guides about it.",
    "Researchers continue to study the details.",
    "A new edition of the handbook is expected.",
    "The notes were copied by hand.",
)
"""Sentences that state nothing about any entity, to vary article length."""


def plural(word: str) -> str:
    """The plural noun form of a nonsense word (``femp`` -> ``femps``)."""
    return word + "s"


def adjective(word: str) -> str:
    """The adjective form of a nonsense word (``glim`` -> ``glimy``)."""
    return word + "y"


def capitalize(text: str) -> str:
    """First letter upper case, the rest untouched."""
    return text[:1].upper() + text[1:]


def article(rng: random.Random, sentences: Sequence[str]) -> str:
    """A short article: a random lead-in, then the sentences, one paragraph."""
    return " ".join([rng.choice(LEAD_INS), *sentences])

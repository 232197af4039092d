"""The relation table: names, inverses, logical flags, sentence templates and phrasings.

A fact ``subject relation object`` is rendered through its relation's template. Templates
name ``{subject}`` and ``{object}`` and may conjugate for the subject's number with
``{be}`` (is/are), ``{have}`` (has/have) and ``{s}`` ("s" after a singular subject).
Any ``more_<adjective>_than`` / ``less_<adjective>_than`` relation is understood without a
table entry: each is the other's inverse and opposite, both are transitive and asymmetric.
The symbolic strategy writes through the templates; the fact check reads sentences through
the templates and the extra ``phrasings``, and uses the flags to find contradictions.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache

from augment_ft.core.errors import ConfigError
from augment_ft.core.models import Fact
from augment_ft.facts import relation_logic as logic

__all__ = [
    "DEFAULT_RELATIONS",
    "RelationSpec",
    "find_relation",
    "is_plural",
    "normalize_relation",
    "relation_table",
    "render_fact",
]

_PLACEHOLDERS = frozenset({"subject", "object", "be", "have", "s"})
_COMPARATIVE = re.compile(r"^(more|less)_([a-z][a-z0-9_]*)_than$")
_ARTICLES = ("the ", "a ", "an ")
# Plural nouns that do not end in -s; the heuristic below needs to know them.
_IRREGULAR_PLURALS = frozenset({"people", "children", "men", "women", "mice", "geese", "teeth"})


@dataclass(frozen=True)
class RelationSpec:
    """One relation: its inverse, how to say it, and which inference rules apply to it.

    ``inverse`` names the relation that states the same fact the other way round (None
    when there is none). ``symmetric`` relations are their own inverse. ``transitive``
    ones chain (a R b, b R c gives a R c). ``inherited`` ones pass from a category to its
    subcategories along ``is_a`` (velps are nocturnal, grusks are velps: grusks are
    nocturnal). ``plural_template`` replaces ``template`` after a plural subject.

    For the fact check: ``asymmetric`` ones never hold both ways (a R b contradicts b R a);
    ``opposites`` name relations that cannot hold between the same subject and object in
    the same order (``more_X_than`` vs ``less_X_than``); ``max_objects`` bounds how many
    objects one subject may have (1: one-valued, like ``has_capital``). ``phrasings`` are
    further templates that say exactly this relation: read, never written.
    ``narrower_phrasings`` say this relation and something the table cannot know (``mother
    of`` is ``parent_of`` and a gender): they can be contradicted, never confirmed.
    """

    name: str
    template: str
    inverse: str | None = None
    plural_template: str | None = None
    transitive: bool = False
    symmetric: bool = False
    inherited: bool = False
    asymmetric: bool = False
    opposites: tuple[str, ...] = ()
    max_objects: int | None = None
    phrasings: tuple[str, ...] = ()
    narrower_phrasings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.symmetric and self.inverse not in (None, self.name):
            msg = f"relation {self.name!r} is symmetric, so its inverse must be itself"
            raise ConfigError(msg + f", not {self.inverse!r}")
        if self.symmetric and self.asymmetric:
            raise ConfigError(f"relation {self.name!r} cannot be symmetric and asymmetric")
        if self.max_objects is not None and self.max_objects < 1:
            msg = f"relation {self.name!r}: max_objects must be 1 or more, got {self.max_objects}"
            raise ConfigError(msg)
        for template in (self.template, self.plural_template):
            if template is not None:
                _check_template(self.name, template)
        for template in (*self.phrasings, *self.narrower_phrasings):
            _check_template(self.name, template)

    @property
    def inverse_name(self) -> str | None:
        """The inverse relation's name; a symmetric relation is its own inverse."""
        return self.name if self.symmetric else self.inverse

    def render(self, subject: str, obj: str) -> str:
        """The fact as a sentence: first letter capitalized, final full stop added."""
        plural = is_plural(subject)
        template = self.plural_template if plural and self.plural_template else self.template
        text = template.format(
            subject=subject,
            object=obj,
            be="are" if plural else "is",
            have="have" if plural else "has",
            s="" if plural else "s",
        )
        return _sentence(text)


def _check_template(name: str, template: str) -> None:
    """Refuse a template that would fail or lose a term when rendered."""
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError as exc:
        raise ConfigError(f"relation {name!r}: template {template!r} is malformed: {exc}") from exc
    unknown = fields - _PLACEHOLDERS
    if unknown or not {"subject", "object"} <= fields:
        msg = (
            f"relation {name!r}: template {template!r} must use {{subject}} and {{object}} "
            f"and only the placeholders {sorted(_PLACEHOLDERS)}; found {sorted(fields)}"
        )
        raise ConfigError(msg)


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    if text and not text.endswith((".", "!", "?")):
        text += "."
    return text[:1].upper() + text[1:]


def is_plural(term: str) -> bool:
    """Guess whether ``term`` is plural, for verb agreement: ``grusks`` yes, ``Tarsk`` no.

    A capitalized term without an article is a proper name (singular). Otherwise the head
    noun decides: the last word before any " of " ("the Society of Naturalists" is
    singular, "the kings of Orrin" plural), plural when it ends in -s but not -ss/-us/-is.
    """
    words = term.strip()
    lowered = words.lower()
    has_article = lowered.startswith(_ARTICLES)
    if not has_article and words[:1].isupper():
        return False
    head_phrase = lowered.split(" of ", 1)[0].split()
    head = head_phrase[-1] if head_phrase else lowered
    if head in _IRREGULAR_PLURALS or head.endswith("folk"):
        return True
    return head.endswith("s") and not head.endswith(("ss", "us", "is", "'s"))


# Relation pairs: (name, template, inverse, inverse template). Flags come from the sets below.
_PAIRS = (
    ("parent_of", "{subject} {be} the parent of {object}",
     "child_of", "{subject} {be} the child of {object}"),
    ("employs", "{subject} employ{s} {object}",
     "works_for", "{subject} work{s} for {object}"),
    ("founded", "{subject} founded {object}",
     "founded_by", "{subject} {be} founded by {object}"),
    ("mentor_of", "{subject} {be} the mentor of {object}",
     "mentored_by", "{subject} {be} mentored by {object}"),
    ("capital_of", "{subject} {be} the capital of {object}",
     "has_capital", "the capital of {subject} is {object}"),
    ("member_of", "{subject} {be} a member of {object}",
     "has_member", "{subject} {have} {object} as a member"),
    ("larger_than", "{subject} {be} larger than {object}",
     "smaller_than", "{subject} {be} smaller than {object}"),
    ("older_than", "{subject} {be} older than {object}",
     "younger_than", "{subject} {be} younger than {object}"),
    ("north_of", "{subject} {be} north of {object}",
     "south_of", "{subject} {be} south of {object}"),
    ("east_of", "{subject} {be} east of {object}",
     "west_of", "{subject} {be} west of {object}"),
    ("part_of", "{subject} {be} part of {object}",
     "has_part", "{subject} {have} {object} as a part"),
    ("located_in", "{subject} {be} located in {object}",
     "contains", "{subject} contain{s} {object}"),
    ("has", "{subject} {have} {object}",
     "feature_of", "{subject} {be} a feature of {object}"),
    ("is", "{subject} {be} {object}",
     "trait_of", "being {subject} is a trait of {object}"),
)  # fmt: skip
_TRANSITIVE = frozenset(
    {"larger_than", "older_than", "north_of", "east_of", "part_of", "located_in"}
)
_INHERITED = frozenset({"has", "is"})


def _default_specs() -> list[RelationSpec]:
    """The built-in table: both relations of every pair, then the special ones."""
    specs: list[RelationSpec] = []
    for name, template, inverse, inverse_template in _PAIRS:
        transitive = name in _TRANSITIVE
        specs.append(
            RelationSpec(
                name, template, inverse, transitive=transitive, inherited=name in _INHERITED
            )
        )
        specs.append(RelationSpec(inverse, inverse_template, name, transitive=transitive))
    specs += [
        RelationSpec(
            "is_a",
            "{subject} is a kind of {object}",
            "includes",
            plural_template="all {subject} are {object}",
            transitive=True,
        ),
        RelationSpec("includes", "{subject} include{s} {object}", "is_a", transitive=True),
        RelationSpec("spouse_of", "{subject} {be} married to {object}", symmetric=True),
        RelationSpec("sibling_of", "{subject} {be} a sibling of {object}", symmetric=True),
        # Quantified statements for syllogisms; their conversions are the symmetry.
        RelationSpec("none_are", "no {subject} are {object}", symmetric=True),
        RelationSpec("some_are", "some {subject} are {object}", symmetric=True),
        RelationSpec("some_are_not", "some {subject} are not {object}"),
    ]
    return [_with_logic(spec) for spec in specs]


def _with_logic(spec: RelationSpec) -> RelationSpec:
    """``spec`` with what the fact check needs (see :mod:`augment_ft.facts.relation_logic`)."""
    name = spec.name
    return replace(
        spec,
        asymmetric=name in logic.ASYMMETRIC,
        opposites=logic.OPPOSITES.get(name, ()),
        max_objects=logic.MAX_OBJECTS.get(name),
        phrasings=logic.PHRASINGS.get(name, ()),
        narrower_phrasings=logic.NARROWER_PHRASINGS.get(name, ()),
    )


DEFAULT_RELATIONS: Mapping[str, RelationSpec] = {s.name: s for s in _default_specs()}
"""The built-in relation table, keyed by name."""


def relation_table(extra: Mapping[str, RelationSpec] | None = None) -> dict[str, RelationSpec]:
    """The default table with ``extra`` entries added or replacing, checked for consistency.

    Every key must equal its spec's name and every inverse and opposite must be in the
    table (or be a comparative), so a reversal can always be rendered and checked.
    """
    table = {**DEFAULT_RELATIONS, **(extra or {})}
    for key, spec in table.items():
        if key != spec.name:
            raise ConfigError(f"relation table key {key!r} holds a spec named {spec.name!r}")
        inverse = spec.inverse_name
        if inverse is not None and find_relation(inverse, table) is None:
            msg = f"relation {key!r} names the inverse {inverse!r}, which is not in the table"
            raise ConfigError(msg + "; add a RelationSpec for it")
        for opposite in spec.opposites:
            if find_relation(opposite, table) is None:
                msg = f"relation {key!r} names the opposite {opposite!r}, which is not in the table"
                raise ConfigError(msg)
    return table


def normalize_relation(name: str) -> str:
    """``"Parent of"`` and ``"parent-of"`` both become ``parent_of``."""
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def find_relation(name: str, table: Mapping[str, RelationSpec]) -> RelationSpec | None:
    """The spec for ``name``: a table entry, else a generated comparative, else None."""
    key = normalize_relation(name)
    spec = table.get(key)
    if spec is not None:
        return spec
    return _comparative(key)


@lru_cache(maxsize=4096)
def _comparative(key: str) -> RelationSpec | None:
    """The generated spec of ``more_X_than`` / ``less_X_than``; cached, closure asks often."""
    match = _COMPARATIVE.match(key)
    if match is None:
        return None
    degree, adjective = match.groups()
    other = "less" if degree == "more" else "more"
    words = adjective.replace("_", " ")
    return RelationSpec(
        key,
        f"{{subject}} {{be}} {degree} {words} than {{object}}",
        f"{other}_{adjective}_than",
        transitive=True,
        asymmetric=True,
        opposites=(f"{other}_{adjective}_than",),
    )


def render_fact(fact: Fact, relations: Mapping[str, RelationSpec] | None = None) -> str:
    """``fact`` as one sentence through its relation's template.

    A relation missing from the table is rendered as "subject relation words object", so
    nothing is lost; the symbolic strategy counts such facts as drops for reversal.
    """
    table = DEFAULT_RELATIONS if relations is None else relations
    spec = find_relation(fact.relation, table)
    if spec is None:
        words = normalize_relation(fact.relation).replace("_", " ")
        return _sentence(f"{fact.subject} {words} {fact.object}")
    return spec.render(fact.subject, fact.object)

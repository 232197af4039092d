"""Data models shared by every stage: pure data, frozen, no I/O and no LLM calls."""

from __future__ import annotations

from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

from augment_ft.core.hashing import normalize_for_identity, stable_hash

__all__ = ["Document", "Example", "Fact", "Message", "Provenance", "Role", "Verification"]

Role = Literal["system", "user", "assistant"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Message(_Frozen):
    """One chat message."""

    role: Role
    content: str


class Document(_Frozen):
    """A source text. ``id`` is a hash of the text unless the source gave one."""

    id: str = ""
    text: str
    metadata: dict[str, JsonValue] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _default_id(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("id") and isinstance(data.get("text"), str):
            data = {**data, "id": "doc-" + stable_hash(normalize_for_identity(data["text"]))}
        return data


class Fact(_Frozen):
    """A structured statement ``subject relation object`` for the symbolic strategy.

    ``relation`` names an entry of the relation table (``parent_of``, ``is_a``, ``has``...);
    ``text`` is the sentence the fact came from, when there was one.
    """

    subject: str = Field(min_length=1)
    relation: str = Field(min_length=1)
    object: str = Field(min_length=1)
    text: str | None = None
    source_id: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        """The triple, for set operations."""
        return (self.subject, self.relation, self.object)


class Verification(_Frozen):
    """How a model-written row was checked before it was kept.

    ``facts``: the fact check's verdict (``entailed`` by the run's facts, or ``unknown`` to
    them; contradicted rows are never kept); ``reason`` names the facts that decided it.
    ``judge``: ``accepted`` when a judge model read the row against its source, with the
    judge's model; None when no judge read it.
    """

    facts: Literal["entailed", "unknown"]
    reason: str = ""
    judge: Literal["accepted"] | None = None
    judge_model: str | None = None


class Provenance(_Frozen):
    """Where an example came from; none of it enters the example's identity.

    ``verification`` says how a row a model wrote was checked (None for exact rows and
    for runs with ``--no-verify``).
    """

    source_id: str
    strategy: str
    template: str | None = None
    template_hash: str | None = None
    model: str | None = None
    params: dict[str, JsonValue] = Field(default_factory=dict)
    parent: str | None = None
    sentence_index: int | None = None
    call_id: str | None = None
    verification: Verification | None = None


class Example(_Frozen):
    """One training example: an optional prompt and the text to learn (``completion``).

    ``kind`` names what produced it (``original``, ``split.cumulative``, ``reverse``...).
    Its identity, :attr:`id`, is the hash of the normalized prompt and completion only.
    """

    prompt: str = ""
    completion: str = Field(min_length=1)
    kind: str
    provenance: Provenance

    @cached_property
    def id(self) -> str:
        """Content identity: equal normalized text means the same example."""
        return "ex-" + stable_hash(
            [normalize_for_identity(self.prompt), normalize_for_identity(self.completion)]
        )

    @property
    def text(self) -> str:
        """Prompt and completion as one text, for continued pretraining and dedup."""
        return f"{self.prompt}\n{self.completion}" if self.prompt else self.completion

"""Rephrase: k rewrites of each sentence (or of the whole document) keeping every fact.

Rewrites that lose a name, number or made-up word of their source are dropped by the
entity filter (``lost_entities``); every other drop reason is counted as well.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from augment_ft.core.errors import ConfigError
from augment_ft.core.models import Document
from augment_ft.strategies.context import StrategyContext
from augment_ft.strategies.filters import Filter
from augment_ft.strategies.sentence import SentenceStrategy, Unit, check_unit, text_units

__all__ = ["RephraseOutput", "RephraseStrategy", "Unit", "check_unit", "text_units"]


class RephraseOutput(BaseModel):
    """What the model must answer: a non-empty list of rewrites."""

    model_config = ConfigDict(json_schema_extra={"additionalProperties": False})

    rephrasings: list[str] = Field(min_length=1)


class RephraseStrategy(SentenceStrategy[RephraseOutput]):
    """``k`` rephrasings per sentence (or per document); kind ``rephrase``."""

    name = "rephrase"
    output = RephraseOutput
    list_field = "rephrasings"

    def __init__(
        self,
        k: int = 2,
        unit: Unit = "sentence",
        *,
        temperature: float = 0.7,
        max_tokens: int | None = None,
        filters: Sequence[Filter] | None = None,
        template: str = "rephrase",
    ) -> None:
        if k < 1:
            msg = f"rephrase: k must be at least 1, got {k}"
            raise ConfigError(msg)
        super().__init__(
            k,
            unit,
            temperature=temperature,
            max_tokens=max_tokens,
            filters=filters,
            template=template,
        )
        self.k = k

    def variables(self, text: str) -> Mapping[str, Any]:
        return {"text": text, "k": self.k, "unit": self.unit}

    def texts(
        self, value: RephraseOutput, doc: Document, text: str, ctx: StrategyContext
    ) -> list[str]:
        return value.rephrasings

"""The judge: a model asked whether a row's source text entails the row.

Any backend can judge, the run's own or another (``--judge-model``, ``--judge-base-url``).
The answer is structured (``{"reasoning", "entailed"}``) and goes through the one LLM-call
path (template, cache, retries, limits, parse, one re-ask). A call that yields no verdict
(a backend error, an answer that does not parse) leaves the row unjudged, never dropped:
the judge can only reject what it has read.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from augment_ft.core.drops import DropLog
from augment_ft.strategies.context import StrategyContext
from augment_ft.strategies.llm_call import call_llm

__all__ = ["JUDGE_STAGE", "Judge", "JudgeAnswer", "Ruling"]

JUDGE_STAGE = "judge"
Ruling = Literal["accepted", "rejected", "failed"]


class JudgeAnswer(BaseModel):
    """The judge's structured verdict: its short reasoning first, then the decision."""

    model_config = ConfigDict(json_schema_extra={"additionalProperties": False})

    reasoning: str = Field(json_schema_extra={"maxLength": 300})
    entailed: bool


class Judge:
    """Asks ``ctx.backend`` about one row at a time; ``ctx`` carries the judge's backend."""

    def __init__(
        self, ctx: StrategyContext, *, template: str = "judge", max_tokens: int = 160
    ) -> None:
        self.ctx = ctx
        self.template = template
        self.max_tokens = max_tokens

    @property
    def model(self) -> str:
        return self.ctx.require_backend(JUDGE_STAGE).model

    async def rule(
        self, source: str, statement: str, *, source_id: str, drops: DropLog
    ) -> tuple[Ruling, str]:
        """``accepted`` or ``rejected`` with the judge's reasoning; ``failed`` when no verdict
        came back (the failure is counted in ``drops`` under stage ``judge``)."""
        result = await call_llm(
            replace(self.ctx, drops=drops),
            stage=JUDGE_STAGE,
            template=self.template,
            variables={"source": source, "statement": statement},
            output=JudgeAnswer,
            source_id=source_id,
            temperature=0.0,
            max_tokens=self.max_tokens,
        )
        if result is None:
            return "failed", ""
        answer = result.value
        return ("accepted" if answer.entailed else "rejected"), answer.reasoning.strip()

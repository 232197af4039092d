"""The one path every LLM call takes: render -> complete -> parse -> one re-ask -> or a drop.

A strategy asks :func:`call_llm` for a validated pydantic model. Failures that concern one
item become counted drops (``parse_failure``, ``backend_error``, ``too_long``); failures
that concern the whole run (bad key, bad config, missing extra, unsupported feature) raise.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Generic, TypeVar, cast

from pydantic import BaseModel, JsonValue

from augment_ft.backends.base import ChatRequest, Completion, Usage, call_id
from augment_ft.core.errors import (
    AuthenticationError,
    BackendError,
    BackendUnavailableError,
    CapabilityError,
    ConfigError,
    ContextLengthError,
    ParseError,
)
from augment_ft.core.models import Message, Provenance
from augment_ft.strategies.context import StrategyContext
from augment_ft.strategies.parsing import parse_output
from augment_ft.strategies.prompts import RenderedPrompt, render_prompt

__all__ = ["LLMResult", "call_llm", "reask_message", "schema_for"]

M = TypeVar("M", bound=BaseModel)
Schema = dict[str, JsonValue]

_FATAL: tuple[type[BackendError], ...] = (
    AuthenticationError,
    BackendUnavailableError,
    CapabilityError,
)
"""Backend errors that doom every later call too, so the run stops: a bad key, a dead URL
or unknown model (BackendUnavailableError), an unsupported feature. ConfigError and
DependencyError are not BackendErrors and are never caught here."""


@dataclass(frozen=True)
class LLMResult(Generic[M]):
    """A validated answer and everything provenance needs about the call that gave it."""

    value: M
    prompt: RenderedPrompt
    model: str
    params: dict[str, JsonValue]
    call_id: str
    attempts: int
    usage: Usage

    def provenance(
        self,
        *,
        source_id: str,
        strategy: str,
        parent: str | None = None,
        sentence_index: int | None = None,
    ) -> Provenance:
        """Full provenance of an example made from this answer."""
        return Provenance(
            source_id=source_id,
            strategy=strategy,
            template=self.prompt.template,
            template_hash=self.prompt.template_hash,
            model=self.model,
            params=self.params,
            parent=parent,
            sentence_index=sentence_index,
            call_id=self.call_id,
        )


@lru_cache(maxsize=64)
def _model_schema(output: type[BaseModel]) -> str:
    """The model's JSON schema as text, made once: pydantic takes ~0.3 ms to build it."""
    return json.dumps(output.model_json_schema())


def schema_for(output: type[BaseModel], max_items: Mapping[str, int] | None = None) -> Schema:
    """The JSON schema sent with a request: the model's, with ``maxItems`` on list fields.

    The limits only shape what a backend may generate (a grammar stops a small model from
    listing forever); validation stays lenient and counts any surplus as ``over_limit``.
    """
    schema = json.loads(_model_schema(output))  # a fresh copy: callers may change it
    for field, limit in (max_items or {}).items():
        properties = schema.get("properties", {})
        if field not in properties:
            msg = f"{output.__name__} has no list field {field!r} to limit"
            raise ConfigError(msg)
        properties[field] = {**properties[field], "maxItems": limit}
    return cast("Schema", schema)


def reask_message(error: ParseError) -> str:
    """The user turn of the one re-ask: what was wrong, and a demand for bare JSON."""
    return (
        f"Your answer could not be used: {error}. "
        "Reply again with only the corrected JSON, matching the requested format exactly, "
        "and nothing else."
    )


async def _complete(
    ctx: StrategyContext, stage: str, request: ChatRequest, source_id: str | None
) -> Completion | None:
    """One backend call; item-level failures become drops, run-level ones raise."""
    backend = ctx.require_backend(stage)
    try:
        return await backend.complete(request)
    except _FATAL:
        raise
    except ContextLengthError as exc:
        ctx.drops.add(stage, "too_long", source_id=source_id, detail=str(exc))
    except BackendError as exc:
        detail = f"{type(exc).__name__}: {exc}"
        ctx.drops.add(stage, "backend_error", source_id=source_id, detail=detail)
    return None


@dataclass(frozen=True)
class _RequestSpec:
    """Everything of a request except its messages (shared by the ask and the re-ask)."""

    schema: Schema
    schema_name: str
    temperature: float
    max_tokens: int
    seed: int

    def request(self, messages: tuple[Message, ...]) -> ChatRequest:
        return ChatRequest(
            messages=messages,
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            seed=self.seed,
            json_schema=self.schema,
            schema_name=self.schema_name,
        )


async def _attempt(
    ctx: StrategyContext, stage: str, request: ChatRequest, output: type[M], source_id: str | None
) -> tuple[Completion, M | ParseError] | None:
    """One call and its parse: the validated value or the ParseError; None if dropped."""
    completion = await _complete(ctx, stage, request, source_id)
    if completion is None:
        return None
    try:
        return completion, parse_output(completion.text, output)
    except ParseError as exc:
        return completion, exc


async def call_llm(
    ctx: StrategyContext,
    *,
    stage: str,
    template: str,
    variables: Mapping[str, Any],
    output: type[M],
    source_id: str | None,
    temperature: float = 0.7,
    max_tokens: int = 512,
    json_schema: Schema | None = None,
) -> LLMResult[M] | None:
    """Ask for ``output`` via ``template``; None means the item was dropped (and counted).

    A TemplateError, AuthenticationError, CapabilityError, ConfigError or DependencyError
    propagates: each would fail every other call of the run as well. ``json_schema``
    replaces the schema derived from ``output`` (see :func:`schema_for`).
    """
    prompt = render_prompt(template, variables, template_dir=ctx.template_dir)
    schema = json_schema if json_schema is not None else schema_for(output)
    spec = _RequestSpec(schema, stage.replace(".", "_"), temperature, max_tokens, ctx.seed)
    request = spec.request(prompt.messages)
    first = await _attempt(ctx, stage, request, output, source_id)
    if first is None:
        return None
    completion, parsed = first
    if not isinstance(parsed, ParseError):
        return _result(
            ctx, stage, parsed, prompt=prompt, request=request, completions=(completion,)
        )
    retry = (
        Message(role="assistant", content=completion.text),
        Message(role="user", content=reask_message(parsed)),
    )
    request = spec.request(request.messages + retry)
    second = await _attempt(ctx, stage, request, output, source_id)
    if second is None:
        return None
    if isinstance(second[1], ParseError):
        _drop_parse_failure(ctx, stage, source_id, second[1], second[0])
        return None
    pair = (completion, second[0])
    return _result(ctx, stage, second[1], prompt=prompt, request=request, completions=pair)


def _result(
    ctx: StrategyContext,
    stage: str,
    value: M,
    *,
    prompt: RenderedPrompt,
    request: ChatRequest,
    completions: tuple[Completion, ...],
) -> LLMResult[M]:
    """The answer of the last completion, with usage summed over all attempts."""
    backend_model = ctx.require_backend(stage).model
    return LLMResult(
        value=value,
        prompt=prompt,
        model=completions[-1].model or backend_model,
        params=request.params(),
        call_id=call_id(backend_model, request),
        attempts=len(completions),
        usage=Usage(
            prompt_tokens=sum(c.usage.prompt_tokens for c in completions),
            completion_tokens=sum(c.usage.completion_tokens for c in completions),
        ),
    )


def _drop_parse_failure(
    ctx: StrategyContext,
    stage: str,
    source_id: str | None,
    error: ParseError,
    completion: Completion,
) -> None:
    cut = " (the answer stopped at max_tokens)" if completion.finish_reason == "length" else ""
    detail = f"{error}{cut}; answer: {completion.text[:200]!r}"
    ctx.drops.add(stage, "parse_failure", source_id=source_id, detail=detail)

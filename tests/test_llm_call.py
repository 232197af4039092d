"""The single LLM call path: ask, parse, one re-ask, else a counted drop or an abort."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field

from augment_ft.backends.base import ChatRequest, Completion, Usage, call_id
from augment_ft.backends.scripted import Reply, ScriptedBackend
from augment_ft.core.errors import (
    AuthenticationError,
    BadRequestError,
    CapabilityError,
    ConfigError,
    ContextLengthError,
    DependencyError,
    RateLimitError,
    ServerError,
    TemplateError,
)
from augment_ft.strategies.base import StrategyContext
from augment_ft.strategies.llm_call import call_llm, schema_for


class RephraseOutput(BaseModel):
    """A list answer, as the LLM strategies ask for (the test's own model)."""

    model_config = ConfigDict(json_schema_extra={"additionalProperties": False})

    rephrasings: list[str] = Field(min_length=1)


GOOD = '{"rephrasings": ["Glons include femps.", "Every femp is a glon."]}'
VARIABLES = {"sentences": ["Femps are a type of glon."], "k": 2, "unit": "sentence"}


def context(*replies: Reply, seed: int = 7) -> tuple[StrategyContext, ScriptedBackend]:
    backend = ScriptedBackend(list(replies), model="scripted-test")
    return StrategyContext(backend=backend, seed=seed), backend


async def ask(ctx: StrategyContext, **overrides: object) -> object:
    options: dict[str, object] = {
        "stage": "rephrase",
        "template": "rephrase",
        "variables": VARIABLES,
        "output": RephraseOutput,
        "source_id": "doc-1",
        "temperature": 0.4,
        "max_tokens": 99,
        **overrides,
    }
    return await call_llm(ctx, **options)  # type: ignore[arg-type]


async def test_a_valid_answer_returns_the_model_and_full_call_details() -> None:
    ctx, backend = context(GOOD)
    result = await call_llm(
        ctx,
        stage="rephrase",
        template="rephrase",
        variables=VARIABLES,
        output=RephraseOutput,
        source_id="doc-1",
        temperature=0.4,
        max_tokens=99,
    )
    assert result is not None
    assert result.value.rephrasings == ["Glons include femps.", "Every femp is a glon."]
    [request] = backend.requests
    assert request.json_schema == RephraseOutput.model_json_schema()
    assert request.schema_name == "rephrase"
    assert (request.temperature, request.max_tokens, request.seed) == (0.4, 99, 7)
    assert result.call_id == call_id("scripted-test", request)
    assert result.params == request.params()
    assert result.model == "scripted-test"
    assert result.attempts == 1
    assert result.prompt.template == "rephrase"
    assert request.messages == result.prompt.messages
    assert ctx.drops.total() == 0


async def test_unparseable_answer_is_re_asked_once_with_the_error() -> None:
    bad = "Here are some rephrasings: Glons include femps."
    ctx, backend = context(
        Completion(text=bad, usage=Usage(prompt_tokens=10, completion_tokens=1)),
        Completion(
            text=f"```json\n{GOOD}\n```", usage=Usage(prompt_tokens=20, completion_tokens=7)
        ),
    )
    result = await ask(ctx)
    assert result is not None
    first, second = backend.requests
    assert second.messages[: len(first.messages)] == first.messages
    assistant, user = second.messages[len(first.messages) :]
    assert (assistant.role, assistant.content) == ("assistant", bad)
    assert user.role == "user"
    assert "no JSON object or array found" in user.content
    assert "only the corrected JSON" in user.content
    assert result.attempts == 2  # type: ignore[attr-defined]
    assert result.call_id == call_id("scripted-test", second)  # type: ignore[attr-defined]
    assert result.usage == Usage(prompt_tokens=30, completion_tokens=8)  # type: ignore[attr-defined]
    assert ctx.drops.total() == 0


async def test_schema_violation_is_re_asked_with_the_field_named() -> None:
    ctx, backend = context('{"rephrasings": "one string"}', GOOD)
    assert await ask(ctx) is not None
    assert "rephrasings: Input should be a valid list" in backend.requests[1].messages[-1].content


async def test_two_bad_answers_are_one_counted_parse_failure() -> None:
    ctx, backend = context("nope", Completion(text='{"rephrasings": [', finish_reason="length"))
    assert await ask(ctx) is None
    assert len(backend.requests) == 2
    assert ctx.drops.by_reason() == {"rephrase": {"parse_failure": 1}}
    [sample] = ctx.drops.samples
    assert sample.source_id == "doc-1"
    assert "stopped at max_tokens" in sample.detail
    assert "no JSON" in sample.detail


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (ServerError("boom", status_code=503), "backend_error"),
        (RateLimitError("slow down", status_code=429), "backend_error"),
        (BadRequestError("bad", status_code=400), "backend_error"),
        (ContextLengthError("too many tokens", status_code=400), "too_long"),
    ],
)
async def test_item_level_backend_errors_are_counted_drops(error: Exception, reason: str) -> None:
    ctx, backend = context(error)  # type: ignore[arg-type]
    assert await ask(ctx) is None
    assert len(backend.requests) == 1
    assert ctx.drops.by_reason() == {"rephrase": {reason: 1}}
    if reason == "backend_error":
        assert ctx.drops.samples[0].detail.startswith(type(error).__name__ + ":")


async def test_backend_error_on_the_re_ask_is_counted_as_backend_error() -> None:
    ctx, _ = context("not json", ServerError("down"))
    assert await ask(ctx) is None
    assert ctx.drops.by_reason() == {"rephrase": {"backend_error": 1}}


@pytest.mark.parametrize(
    "error",
    [
        AuthenticationError("bad key; check OPENAI_API_KEY", status_code=401),
        CapabilityError("no JSON schema support"),
    ],
)
async def test_run_level_backend_errors_abort(error: Exception) -> None:
    ctx, _ = context(error)  # type: ignore[arg-type]
    with pytest.raises(type(error)):
        await ask(ctx)
    assert ctx.drops.total() == 0


@pytest.mark.parametrize(
    "error", [ConfigError("bad option"), DependencyError("Local", "local", "llama_cpp")]
)
async def test_config_and_dependency_errors_abort(error: Exception) -> None:
    def raise_it(request: ChatRequest) -> Reply:
        raise error

    ctx = StrategyContext(backend=ScriptedBackend(raise_it))
    with pytest.raises(type(error)):
        await ask(ctx)


async def test_missing_backend_is_a_config_error_naming_the_stage() -> None:
    with pytest.raises(ConfigError, match="'rephrase' calls an LLM"):
        await ask(StrategyContext())


async def test_template_errors_abort_before_any_call(tmp_path: Path) -> None:
    (tmp_path / "rephrase.jinja").write_text("=== user ===\n{% if %}\n", encoding="utf-8")
    ctx, backend = context(GOOD)
    ctx = replace(ctx, template_dir=str(tmp_path))
    with pytest.raises(TemplateError, match=r"rephrase\.jinja:2"):
        await ask(ctx)
    assert backend.requests == []


async def test_dotted_stage_names_give_a_valid_schema_name() -> None:
    ctx, backend = context(GOOD)
    await ask(ctx, stage="rephrase.custom")
    assert backend.requests[0].schema_name == "rephrase_custom"


def test_schema_for_limits_list_fields_without_touching_validation() -> None:
    schema = schema_for(RephraseOutput, {"rephrasings": 3})
    assert schema["properties"]["rephrasings"]["maxItems"] == 3  # type: ignore[index,call-overload]
    assert "maxItems" not in RephraseOutput.model_json_schema()["properties"]["rephrasings"]
    assert len(RephraseOutput(rephrasings=["a"] * 5).rephrasings) == 5
    with pytest.raises(ConfigError, match="no list field 'nope'"):
        schema_for(RephraseOutput, {"nope": 1})


async def test_a_given_schema_is_the_one_sent() -> None:
    ctx, backend = context(GOOD)
    schema = schema_for(RephraseOutput, {"rephrasings": 2})
    await ask(ctx, json_schema=schema)
    assert backend.requests[0].json_schema == schema

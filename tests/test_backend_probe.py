"""A dead backend fails loudly: the probe before the first uncached call, and the fatal
class during a run."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import pytest

from augment_ft.backends.base import ChatRequest
from augment_ft.backends.http_mock import MockResponse, MockTransport
from augment_ft.backends.openai_compat import OpenAIBackend
from augment_ft.backends.openai_wire import ChatCall
from augment_ft.backends.probe import ProbeFirst, probe
from augment_ft.backends.scripted import ScriptedBackend
from augment_ft.backends.stack import build_stack
from augment_ft.core.errors import (
    AuthenticationError,
    BackendUnavailableError,
    BackendUnreachableError,
    ModelNotFoundError,
    RateLimitError,
    ServerError,
)
from augment_ft.core.models import Message
from openai_fake_server import echo, error, fake_openai_server, rate_limited, unauthorized

KEY = "sk-test-probe-SECRET-0042"
TRANSPORTS = pytest.mark.parametrize("http", ["lean", "sdk"])


def closed_port_url() -> str:
    """A URL on a port that was bound a moment ago and closed: nothing listens there."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def ask(text: str = "hi") -> ChatRequest:
    return ChatRequest(messages=(Message(role="user", content=text),))


def one_line_naming(message: str, model: str, url: str) -> None:
    assert "\n" not in message
    assert model in message and url in message
    assert KEY not in message


# --- the probe -----------------------------------------------------------------------------


@TRANSPORTS
async def test_probe_of_a_closed_port_names_url_model_and_cause(http: Any) -> None:
    url = closed_port_url()
    async with OpenAIBackend("my-model", base_url=url, api_key=KEY, http=http) as backend:
        with pytest.raises(BackendUnavailableError) as caught:
            await probe(backend)
    one_line_naming(str(caught.value), "my-model", url)
    assert "cannot connect" in str(caught.value)
    assert isinstance(caught.value.__cause__, BackendUnreachableError)


async def test_probe_of_an_unknown_host_is_unavailable() -> None:
    url = "http://no-such-host.invalid/v1"
    async with OpenAIBackend("my-model", base_url=url, api_key=KEY) as backend:
        with pytest.raises(BackendUnavailableError) as caught:
            await probe(backend)
    one_line_naming(str(caught.value), "my-model", url)


@TRANSPORTS
@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (unauthorized(), AuthenticationError),
        (error(403, "no access to this project"), AuthenticationError),
        (error(404, "The model `my-model` does not exist"), ModelNotFoundError),
    ],
    ids=["401", "403", "404"],
)
async def test_probe_refused_by_the_server_is_unavailable(
    http: Any, reply: Any, expected: type[BackendUnavailableError]
) -> None:
    with fake_openai_server(reply) as server:
        async with OpenAIBackend(
            "my-model", base_url=server.base_url, api_key=KEY, http=http
        ) as backend:
            with pytest.raises(expected) as caught:
                await probe(backend)
        [sent] = server.chat_requests
    one_line_naming(str(caught.value), "my-model", server.base_url)
    assert sent.body["max_tokens"] == 1
    assert "response_format" not in sent.body


@pytest.mark.parametrize(
    "reply",
    [
        echo,
        rate_limited(retry_after=30),
        error(500, "busy"),
        error(400, "this server wants a system turn"),
    ],
    ids=["ok", "429", "500", "400"],
)
async def test_probe_passes_when_a_server_is_there(reply: Any) -> None:
    with fake_openai_server(reply) as server:
        async with OpenAIBackend("m", base_url=server.base_url) as backend:
            await probe(backend)
        assert len(server.chat_requests) == 1  # one request, no retries


async def test_probe_goes_under_the_cache_and_the_retries(tmp_path: Path) -> None:
    with fake_openai_server() as server:
        url = server.base_url
        backend = OpenAIBackend("m", base_url=url)
        async with build_stack(backend, cache_path=tmp_path / "c.sqlite") as stack:
            await probe(stack)
            await probe(stack)  # not answered from the cache
            assert len(server.chat_requests) == 2
    # The same stack, now with nothing listening: the probe fails at once, no retry.
    backend = OpenAIBackend("m", base_url=url)
    async with build_stack(backend, cache_path=tmp_path / "c.sqlite") as stack:
        with pytest.raises(BackendUnavailableError):
            await probe(stack)
        assert stack.retrying.retries == 0


async def test_probe_of_a_scripted_backend_calls_it_once() -> None:
    backend = ScriptedBackend(["ok"])
    await probe(backend)
    assert len(backend.requests) == 1


# --- when the probe runs: before the first call the cache cannot answer ---------------------


def is_probe(call: ChatCall) -> bool:
    return call.body.get("max_tokens") == 1 and call.request.messages[-1].content == "Say OK."


def dead(call: ChatCall) -> str:
    raise BackendUnreachableError(f"cannot connect to {call.model} at http://127.0.0.1:9/v1")


async def test_the_probe_waits_for_the_first_uncached_call(tmp_path: Path) -> None:
    cache = tmp_path / "c.sqlite"
    live = MockTransport(lambda call: "ok")
    async with build_stack(OpenAIBackend("m", transport=live), cache_path=cache, probe=True) as s:
        # Concurrent first calls: one probe, asked before any of them.
        await asyncio.gather(*(s.complete(ask(f"q{i}")) for i in range(3)))
        await s.complete(ask("q3"))
    assert is_probe(live.calls[0])
    assert [is_probe(c) for c in live.calls[1:]] == [False] * 4
    # The server is gone: every answer cached, so nothing is asked, not even the probe.
    gone = MockTransport(dead)
    async with build_stack(OpenAIBackend("m", transport=gone), cache_path=cache, probe=True) as s:
        answers = await asyncio.gather(*(s.complete(ask(f"q{i}")) for i in range(4)))
        assert [a.text for a in answers] == ["ok"] * 4 and gone.calls == []
        # The first uncached call asks the probe, which stops it (and all after it) at once.
        for _ in range(2):
            with pytest.raises(BackendUnavailableError, match="cannot connect to m at"):
                await s.complete(ask("new"))
        assert [is_probe(c) for c in gone.calls] == [True]  # asked once, never retried
        assert s.retrying.retries == 0


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (MockResponse.error(401, "Incorrect API key provided: sk-t****0042"), AuthenticationError),
        (MockResponse.error(404, "The model `m` does not exist"), ModelNotFoundError),
    ],
    ids=["401", "404"],
)
async def test_a_refusing_probe_fails_every_waiting_call_with_its_error(
    reply: MockResponse, expected: type[BackendUnavailableError]
) -> None:
    transport = MockTransport(lambda call: reply)
    async with build_stack(OpenAIBackend("m", transport=transport), probe=True) as stack:
        results = await asyncio.gather(
            *(stack.complete(ask(f"q{i}")) for i in range(5)), return_exceptions=True
        )
    assert all(type(r) is expected for r in results), results
    assert len({str(r) for r in results}) == 1 and len(transport.calls) == 1


async def test_a_cancelled_first_caller_leaves_the_probe_to_the_others() -> None:
    started, release = asyncio.Event(), asyncio.Event()

    async def slow(call: ChatCall) -> str:
        if is_probe(call):
            started.set()
            await release.wait()
        return "ok"

    transport = MockTransport(slow)
    backend = ProbeFirst(
        OpenAIBackend("m", transport=transport), OpenAIBackend("m", transport=transport)
    )
    first = asyncio.ensure_future(backend.complete(ask("first")))
    await started.wait()
    first.cancel()
    second = asyncio.ensure_future(backend.complete(ask("second")))
    await asyncio.sleep(0)
    release.set()
    assert (await second).text == "ok"
    assert first.cancelled() and backend.passed
    assert [is_probe(c) for c in transport.calls] == [True, False]  # one probe, shared


# --- during a run -----------------------------------------------------------------------------


@TRANSPORTS
async def test_a_dead_url_becomes_unavailable_after_the_retries(http: Any) -> None:
    url = closed_port_url()
    backend = OpenAIBackend("my-model", base_url=url, api_key=KEY, http=http)
    async with build_stack(backend, max_attempts=3, base_delay=0.01) as stack:
        with pytest.raises(BackendUnavailableError) as caught:
            await stack.complete(ask())
    one_line_naming(str(caught.value), "my-model", url)
    assert "gave up after 3 attempts" in str(caught.value)
    assert stack.retrying.retries == 2
    assert stack.stats.errors == {"BackendUnavailableError": 1}


async def test_a_401_during_a_run_is_not_retried_and_is_fatal() -> None:
    with fake_openai_server(unauthorized()) as server:
        backend = OpenAIBackend("my-model", base_url=server.base_url, api_key=KEY)
        async with build_stack(backend, base_delay=0.01) as stack:
            with pytest.raises(BackendUnavailableError) as caught:
                await stack.complete(ask())
        assert len(server.chat_requests) == 1
    assert isinstance(caught.value, AuthenticationError)


async def test_retryable_failures_that_reach_a_server_stay_what_they_are() -> None:
    for failure in (RateLimitError("429", status_code=429), ServerError("503", status_code=503)):
        stack = build_stack(ScriptedBackend([failure], cycle=True), max_attempts=2, base_delay=0)
        stack.retrying.rate_limit_wait = 0.0
        with pytest.raises(type(failure)):
            await stack.complete(ask())


async def test_the_llm_call_layer_lets_an_unavailable_backend_stop_the_run() -> None:
    from augment_ft.strategies import llm_call

    assert issubclass(BackendUnavailableError, llm_call._FATAL)
    assert issubclass(ModelNotFoundError, llm_call._FATAL)
    assert not issubclass(BackendUnreachableError, llm_call._FATAL)  # retried first

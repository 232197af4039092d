"""A real HTTP server on 127.0.0.1 that speaks OpenAI's chat-completions API, scripted per test.

Tests and benchmarks import it (it is not a conftest)::

    with fake_openai_server() as server:
        server.script(rate_limited(retry_after=2), ok("hello"))
        backend = OpenAIBackend("m", base_url=server.base_url)
        ...
        assert len(server.requests) == 2

A reply comes from the script queue first, else from the default responder, which is a
:class:`Reply` or a function of the :class:`RecordedRequest`. Every request is recorded.
``max_in_flight=N`` makes it act like a provider's concurrency cap: a request arriving while
N are being served gets a 429 at once (``capped`` counts them).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import socket
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = [
    "Chaos",
    "FakeOpenAIServer",
    "RecordedRequest",
    "Reply",
    "Responder",
    "context_length_exceeded",
    "drop",
    "echo",
    "empty_choices",
    "error",
    "fake_openai_server",
    "llama_cpp_like",
    "malformed_json",
    "ok",
    "rate_limited",
    "reject_max_tokens",
    "stall",
    "unauthorized",
]


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it: headers lower-cased, body parsed from JSON."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any

    @property
    def response_format_type(self) -> str | None:
        """``response_format.type`` of a chat request, or None when there was none."""
        fmt = self.body.get("response_format") if isinstance(self.body, dict) else None
        return fmt.get("type") if isinstance(fmt, dict) else None

    @property
    def last_user_text(self) -> str:
        """Content of the last user message (empty when there is none)."""
        messages = self.body.get("messages", []) if isinstance(self.body, dict) else []
        users = [m.get("content", "") for m in messages if m.get("role") == "user"]
        return str(users[-1]) if users else ""


@dataclass(frozen=True)
class Reply:
    """What the server does for one request.

    ``status``/``body``/``headers`` make a normal response (``body`` bytes are sent raw);
    ``delay`` waits first (a stall when it outlasts the client's timeout); ``drop`` closes
    the connection without answering.
    """

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False


Responder = Callable[[RecordedRequest], Reply]


def _completion(
    text: str | None,
    *,
    model: str,
    usage: tuple[int, int] | None,
    finish_reason: str,
    extra_message: dict[str, Any] | None = None,
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text, **(extra_message or {})}
    body: dict[str, Any] = {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
    }
    if usage is not None:
        prompt, completion = usage
        body["usage"] = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
    return body


def ok(
    text: str | None = "ok",
    *,
    usage: tuple[int, int] | None = (11, 7),
    finish_reason: str = "stop",
    model: str = "fake-model",
    reasoning_content: str | None = None,
) -> Reply:
    """A normal completion; ``usage=None`` leaves the usage block out, ``text=None`` a null."""
    extra = {"reasoning_content": reasoning_content} if reasoning_content is not None else None
    return Reply(
        body=_completion(
            text, model=model, usage=usage, finish_reason=finish_reason, extra_message=extra
        )
    )


def echo(request: RecordedRequest) -> Reply:
    """Default responder: answers ``echo: <last user text>`` with word-count usage."""
    if request.path.rstrip("/").endswith("/models"):
        return Reply(body={"object": "list", "data": [{"id": "fake-model", "object": "model"}]})
    text = "echo: " + request.last_user_text
    prompt_words = len(json.dumps(request.body).split())
    return ok(text, usage=(prompt_words, len(text.split())))


def error(
    status: int,
    message: str,
    *,
    code: str | None = None,
    param: str | None = None,
    err_type: str = "invalid_request_error",
    headers: dict[str, str] | None = None,
) -> Reply:
    """An OpenAI-style error body ``{"error": {...}}`` with the given status."""
    payload = {"message": message, "type": err_type, "param": param, "code": code}
    return Reply(status=status, body={"error": payload}, headers=dict(headers or {}))


def rate_limited(
    *, retry_after: str | float | None = None, retry_after_ms: float | None = None
) -> Reply:
    """HTTP 429 with ``Retry-After`` (seconds or an HTTP date) and/or ``retry-after-ms``."""
    headers: dict[str, str] = {}
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    if retry_after_ms is not None:
        headers["retry-after-ms"] = str(retry_after_ms)
    return error(429, "Rate limit reached", err_type="rate_limit_error", headers=headers)


def unauthorized(message: str = "Incorrect API key provided.") -> Reply:
    """HTTP 401 as OpenAI sends it for a wrong key."""
    return error(401, message, code="invalid_api_key", err_type="authentication_error")


def context_length_exceeded() -> Reply:
    """HTTP 400 with OpenAI's context-length wording."""
    return error(
        400,
        "This model's maximum context length is 2048 tokens. However, your messages "
        "resulted in 9000 tokens. Please reduce the length of the messages.",
        code="context_length_exceeded",
        param="messages",
    )


def stall(seconds: float, then: Reply | None = None) -> Reply:
    """Wait ``seconds`` before answering (ends early when the server shuts down)."""
    base = then or ok()
    return Reply(status=base.status, body=base.body, headers=base.headers, delay=seconds)


def drop() -> Reply:
    """Close the connection without sending any response."""
    return Reply(drop=True)


def malformed_json() -> Reply:
    """A 200 whose body claims to be JSON but is not."""
    return Reply(body=b'{"id": "chatcmpl-x", "choices": [', headers={"X-Raw": "1"})


def empty_choices() -> Reply:
    """A 200 completion with an empty ``choices`` list."""
    body = _completion("unused", model="fake-model", usage=(1, 0), finish_reason="stop")
    body["choices"] = []
    return Reply(body=body)


def llama_cpp_like(fallback: Responder = echo) -> Responder:
    """Like llama.cpp's server: HTTP 500 on ``response_format.type == json_schema``."""

    def respond(request: RecordedRequest) -> Reply:
        if request.response_format_type == "json_schema":
            return Reply(status=500, body={"detail": "Internal Server Error"})
        return fallback(request)

    return respond


def reject_max_tokens(fallback: Responder = echo) -> Responder:
    """Like OpenAI's reasoning models: HTTP 400 whenever ``max_tokens`` is sent."""

    def respond(request: RecordedRequest) -> Reply:
        if isinstance(request.body, dict) and "max_tokens" in request.body:
            return error(
                400,
                "Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead.",
                code="unsupported_parameter",
                param="max_tokens",
            )
        return fallback(request)

    return respond


class Chaos:
    """A responder that fails on purpose, at seeded rates, otherwise asks ``healthy``.

    The fate of a request is a pure function of ``seed``, its body and how many times that
    body was seen before, so a run is reproducible whatever order the threads serve in,
    and a retried request meets a fresh fate. ``fates`` counts what was chosen: ``ok``,
    ``rate_limited`` (429 with ``Retry-After``), ``server_error`` (500), ``stall`` (answers
    only after ``stall_seconds``: longer than the client's timeout), ``malformed`` (a 200
    whose body is not JSON) and ``garbage`` (a 200 whose model text is not JSON).
    """

    GARBAGE = "Sure! Here is what you asked for: {rephrasings: [maybe"

    def __init__(
        self,
        healthy: Responder = echo,
        *,
        seed: int = 0,
        rate_limited: float = 0.20,
        server_error: float = 0.10,
        stall: float = 0.05,
        malformed: float = 0.05,
        garbage: float = 0.05,
        stall_seconds: float = 2.0,
        retry_after: float = 0.05,
    ) -> None:
        self.healthy = healthy
        self.seed = seed
        self.stall_seconds = stall_seconds
        self.retry_after = retry_after
        self.rates = {
            "rate_limited": rate_limited,
            "server_error": server_error,
            "stall": stall,
            "malformed": malformed,
            "garbage": garbage,
        }
        if sum(self.rates.values()) > 1:
            raise ValueError(f"chaos rates add up to more than 1: {self.rates}")
        self.fates: Counter[str] = Counter()
        self._seen: Counter[str] = Counter()
        self._lock = threading.Lock()

    def fate(self, request: RecordedRequest) -> str:
        """What happens to ``request`` (counted in :attr:`fates`)."""
        digest = hashlib.sha256(json.dumps(request.body, sort_keys=True).encode()).hexdigest()
        with self._lock:
            nth = self._seen[digest]
            self._seen[digest] += 1
        roll = random.Random(f"{self.seed}:{digest}:{nth}").random()
        chosen = "ok"
        for name, rate in self.rates.items():
            if roll < rate:
                chosen = name
                break
            roll -= rate
        with self._lock:
            self.fates[chosen] += 1
        return chosen

    def __call__(self, request: RecordedRequest) -> Reply:
        fate = self.fate(request)
        if fate == "rate_limited":
            return rate_limited(retry_after=self.retry_after)
        if fate == "server_error":
            return Reply(status=500, body={"error": {"message": "chaos: internal error"}})
        if fate == "stall":
            return stall(self.stall_seconds, self.healthy(request))
        if fate == "malformed":
            return malformed_json()
        if fate == "garbage":
            return ok(self.GARBAGE)
        return self.healthy(request)


class _Handler(BaseHTTPRequestHandler):
    """Reads one request, asks the owning server what to do, does it (keep-alive)."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    server: _Server

    def do_GET(self) -> None:
        self._serve(None)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        self._serve(body)

    def _serve(self, body: Any) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        owner = self.server.owner
        request = RecordedRequest(self.command, self.path, headers, body)
        if not owner.admit():
            owner.record(request)
            self._send(rate_limited(retry_after=owner.cap_retry_after))
            return
        try:
            self._answer(owner, request)
        finally:
            owner.leave()

    def _answer(self, owner: FakeOpenAIServer, request: RecordedRequest) -> None:
        reply = owner.record_and_choose(request)
        wait = owner.latency + reply.delay
        if wait > 0 and owner.stopping.wait(wait):
            self.close_connection = True
            return
        if reply.drop:
            self.close_connection = True
            return
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        payload = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (its timeout); nothing to say

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request access log."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # a benchmark opens 64+ connections at once
    owner: FakeOpenAIServer

    def process_request(self, request: Any, client_address: Any) -> None:
        self.owner.track(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        self.owner.untrack(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that vanished mid-request (killed, timed out) is no server error."""
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


class FakeOpenAIServer:
    """The running server: ``base_url`` to point clients at, ``requests`` to assert on."""

    def __init__(
        self,
        default: Reply | Responder = echo,
        *,
        latency: float = 0.0,
        max_in_flight: int | None = None,
        cap_retry_after: float | None = None,
    ) -> None:
        self.latency = latency
        self.max_in_flight = max_in_flight
        self.cap_retry_after = cap_retry_after
        self.in_flight = 0
        self.peak_in_flight = 0
        self.capped = 0
        self.stopping = threading.Event()
        self._default = default
        self._script: deque[Reply | Responder] = deque()
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        # A short poll interval lets close() return promptly (shutdown waits for one poll).
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``, the value for ``base_url`` / ``OPENAI_BASE_URL``."""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        """Only the ``POST .../chat/completions`` requests."""
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def script(self, *replies: Reply | Responder) -> None:
        """Queue replies for the next requests, in order, before the default applies."""
        with self._lock:
            self._script.extend(replies)

    def set_default(self, default: Reply | Responder) -> None:
        """Replace what the server does once the script is used up."""
        with self._lock:
            self._default = default

    def admit(self) -> bool:
        """Count a request in, unless the cap is reached (then count it as capped)."""
        with self._lock:
            if self.max_in_flight is not None and self.in_flight >= self.max_in_flight:
                self.capped += 1
                return False
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            return True

    def leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def record_and_choose(self, request: RecordedRequest) -> Reply:
        """Record ``request`` and pick the reply (handler threads call this)."""
        with self._lock:
            self._requests.append(request)
            chosen = self._script.popleft() if self._script else self._default
        return chosen if isinstance(chosen, Reply) else chosen(request)

    def track(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.add(sock)

    def untrack(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.discard(sock)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        """Stop serving, end stalls, unblock kept-alive connections and free the port."""
        self.stopping.set()
        self._httpd.shutdown()
        with self._lock:
            live = list(self._open)
        for sock in live:
            with contextlib.suppress(OSError):  # already closed by its handler
                sock.shutdown(socket.SHUT_RDWR)  # the handler thread then closes it
        self._httpd.server_close()
        self._thread.join(timeout=5)


@contextmanager
def fake_openai_server(
    default: Reply | Responder = echo,
    *,
    latency: float = 0.0,
    max_in_flight: int | None = None,
    cap_retry_after: float | None = None,
) -> Iterator[FakeOpenAIServer]:
    """Run a :class:`FakeOpenAIServer` for the duration of a ``with`` block."""
    server = FakeOpenAIServer(
        default, latency=latency, max_in_flight=max_in_flight, cap_retry_after=cap_retry_after
    )
    server.start()
    try:
        yield server
    finally:
        server.close()


def main(argv: list[str] | None = None) -> None:
    """Serve the default echo responder until interrupted (for benchmarks in another process).

    Prints the base URL on the first line of stdout so a parent process can read it.
    """
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each reply")
    args = parser.parse_args(argv)
    with fake_openai_server(latency=args.latency) as server:
        print(server.base_url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.stopping.wait()


if __name__ == "__main__":
    main()

"""A public fake transport for the OpenAI backend: a handler function answers each call.

Like httpx's ``MockTransport``: tests (and docs) fake the server at our own seam, and
everything above it (body building, schema negotiation, error mapping, the wrapper stack)
runs as it does against a real server. The handler gets the prepared :class:`ChatCall`
(its ``body`` is the JSON object that would be posted) and returns a :class:`MockResponse`
(an HTTP answer, read exactly as a real one is), a ``Completion`` (used as it is), or a
string (a 200 chat answer with that text); it may also raise a ``BackendError``.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from augment_ft.backends.base import Completion
from augment_ft.backends.openai_wire import ChatCall, read_reply

__all__ = ["MockHandler", "MockReply", "MockResponse", "MockTransport"]


@dataclass(frozen=True)
class MockResponse:
    """An HTTP answer: ``status``, a body (``json`` data, or raw ``content`` bytes), headers."""

    status: int = 200
    json: Any = None
    content: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def chat(
        cls,
        text: str | None,
        *,
        model: str = "mock",
        finish_reason: str = "stop",
        usage: tuple[int, int] | None = (0, 0),
    ) -> MockResponse:
        """A 200 chat completion saying ``text``; ``usage=None`` leaves usage out."""
        message = {"role": "assistant", "content": text}
        body: dict[str, Any] = {
            "object": "chat.completion",
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        }
        if usage is not None:
            body["usage"] = {"prompt_tokens": usage[0], "completion_tokens": usage[1]}
        return cls(json=body)

    @classmethod
    def error(
        cls, status: int, message: str, *, headers: Mapping[str, str] | None = None
    ) -> MockResponse:
        """An error status with OpenAI's ``{"error": {"message": ...}}`` body."""
        return cls(status, {"error": {"message": message}}, headers=dict(headers or {}))

    def payload(self) -> bytes:
        if self.content is not None:
            return self.content
        return json.dumps(self.json).encode()


MockReply = MockResponse | Completion | str
MockHandler = Callable[[ChatCall], MockReply | Awaitable[MockReply]]


class MockTransport:
    """Answers every call with ``handler(call)`` (sync or async); ``calls`` records them."""

    def __init__(self, handler: MockHandler, *, base_url: str = "http://mock.invalid/v1") -> None:
        self.handler = handler
        self.base_url = base_url
        self.calls: list[ChatCall] = []
        self.closed = False

    async def send(self, call: ChatCall) -> Completion:
        """Record ``call``, ask the handler, and read its reply as a real answer is read."""
        if self.closed:
            raise RuntimeError("this backend is closed; make a new one")
        self.calls.append(call)
        reply = self.handler(call)
        if inspect.isawaitable(reply):
            reply = await reply
        if isinstance(reply, Completion):
            return reply
        if isinstance(reply, str):
            reply = MockResponse.chat(reply, model=call.model)
        where = f"{call.model} at {self.base_url}"
        return read_reply(
            call, reply.status, reply.headers, reply.payload(), where=where, secret=None
        )

    async def aclose(self) -> None:
        """Later calls raise RuntimeError, as with a real transport."""
        self.closed = True

"""The chat-completions wire format, by hand, and the transport seam that carries it.

:class:`OpenAIBackend <augment_ft.backends.openai_compat.OpenAIBackend>` prepares each call
(a :class:`ChatCall`: the JSON body as data) and hands it to a :class:`Transport`, which
sends it and returns our ``Completion`` or raises our errors. Every transport reads an
answer with :func:`read_reply`, so what goes on the wire and how an answer is read do not
depend on the HTTP client. Plain dicts and ``json`` only: building the SDK's typed request
and response models costs most of a client's CPU per call.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from augment_ft.backends.base import ChatRequest, Completion, Usage
from augment_ft.backends.openai_errors import malformed_error, status_error
from augment_ft.core.models import Message
from augment_ft.core.tokens import TokenCounter

__all__ = [
    "ChatCall",
    "SchemaMode",
    "TokenParam",
    "Transport",
    "read_reply",
    "request_body",
    "strip_reasoning",
    "uses_max_completion_tokens",
]

SchemaMode = Literal["json_schema", "json_object", "instructions"]
"""How a JSON schema travels, strongest first; ``instructions`` puts it in the prompt."""

TokenParam = Literal["max_tokens", "max_completion_tokens"]

# o1, o3, o4-mini, gpt-5... (also behind a provider prefix such as "openai/o3-mini")
_REASONING_FAMILY = re.compile(r"(?:^|[/:])(?:o\d+|gpt-5)(?:$|[-.:_])", re.IGNORECASE)
_THINK_BLOCK = re.compile(r"<think>.*?</think>", re.DOTALL)
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class ChatCall:
    """One prepared request: ``body`` is the JSON object to POST to ``/chat/completions``.

    ``request`` and ``counter`` are there for reading the answer: a server that leaves
    usage out gets it counted locally, and a context-length error says how much was sent.
    """

    model: str
    body: dict[str, Any]
    request: ChatRequest
    counter: TokenCounter

    def encoded(self) -> bytes:
        """The body as UTF-8 JSON bytes, as every transport sends it."""
        return _ENCODER.encode(self.body).encode()

    def prompt_tokens(self) -> int:
        """The prompt's tokens, counted locally."""
        return self.counter.count_messages(self.request.messages)


class Transport(Protocol):
    """Sends a :class:`ChatCall` to one server: returns the completion, or raises a
    :class:`~augment_ft.core.errors.BackendError` (statuses mapped by :func:`read_reply`).

    ``base_url`` names the server in messages; ``aclose`` frees the connections.
    """

    @property
    def base_url(self) -> str: ...

    async def send(self, call: ChatCall) -> Completion: ...

    async def aclose(self) -> None: ...


def uses_max_completion_tokens(model: str) -> bool:
    """True for OpenAI's reasoning and newest families, which refuse ``max_tokens``."""
    return _REASONING_FAMILY.search(model) is not None


def strip_reasoning(text: str, finish_reason: str) -> str:
    """Remove ``<think>`` blocks that reasoning models put before their answer.

    Also drops reasoning whose opening tag came from the chat template (only ``</think>``
    in the output), and an unterminated leading block cut off by the token limit.
    """
    if "think>" not in text:
        return text
    out = _THINK_BLOCK.sub("", text)
    head, closing, tail = out.partition("</think>")
    if closing and "<think>" not in head:
        out = tail
    if finish_reason == "length" and out.lstrip().startswith("<think>"):
        out = ""
    return out if out == text else out.strip()


def _schema_name(name: str) -> str:
    """OpenAI accepts names of 1-64 characters from ``[A-Za-z0-9_-]``."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)[:64] or "response"


def _messages(messages: Sequence[Message], schema: dict[str, Any] | None) -> list[dict[str, str]]:
    """The messages as plain dicts; with ``schema``, it is appended to the last user or
    system message as an instruction (or said in a user turn of its own when there is none)."""
    plain = [{"role": m.role, "content": m.content} for m in messages]
    if schema is None:
        return plain
    note = "Answer with JSON matching this schema: " + json.dumps(schema, sort_keys=True)
    targets = [i for i, m in enumerate(messages) if m.role in ("user", "system")]
    if not targets:
        return [*plain, {"role": "user", "content": note}]
    last = plain[targets[-1]]
    last["content"] = f"{last['content']}\n\n{note}"
    return plain


def request_body(
    model: str,
    request: ChatRequest,
    mode: SchemaMode | None,
    param: TokenParam,
    extra: Mapping[str, Any],
) -> dict[str, Any]:
    """The JSON body of one call; ``mode`` None means the request has no schema."""
    schema = request.json_schema if mode is not None else None
    instruct = schema if mode in ("json_object", "instructions") else None
    body: dict[str, Any] = {
        "model": model,
        "messages": _messages(request.messages, instruct),
        "temperature": request.temperature,
        param: request.max_tokens,
    }
    if request.seed is not None:
        body["seed"] = request.seed
    if request.stop:
        body["stop"] = list(request.stop)
    if mode == "json_schema":
        spec = {"name": _schema_name(request.schema_name), "schema": schema, "strict": False}
        body["response_format"] = {"type": "json_schema", "json_schema": spec}
    elif mode == "json_object":
        body["response_format"] = {"type": "json_object", "schema": schema}
    body.update(extra)
    return body


def read_reply(
    call: ChatCall,
    status: int,
    headers: Mapping[str, str],
    payload: bytes,
    *,
    where: str,
    secret: str | None,
) -> Completion:
    """The completion in an HTTP answer, or the error its status (or a garbled body) means.

    ``where`` names the call in messages (``model at URL``); ``secret`` is kept out of them.
    """
    if status >= 300:
        raise status_error(
            status, headers, payload, where=where, secret=secret, prompt_tokens=call.prompt_tokens
        )
    try:
        return _completion(payload, call)
    except ValueError as exc:  # not JSON (UnicodeDecodeError included), or no choices
        raise malformed_error(where, str(exc), secret) from exc


def _completion(payload: bytes, call: ChatCall) -> Completion:
    """Our ``Completion`` from a 200 body; usage counted locally when the server left it out."""
    try:
        data = json.loads(payload)
    except ValueError as exc:
        raise ValueError(f"not valid JSON ({exc})") from exc
    choices = data.get("choices") if isinstance(data, dict) else None
    if not choices or not isinstance(choices, list) or not isinstance(choices[0], dict):
        raise ValueError("no choices")
    choice = choices[0]
    finish = str(choice.get("finish_reason") or "stop")
    message = choice.get("message")
    text = message.get("content") if isinstance(message, dict) else None
    text = text if isinstance(text, str) else ""
    usage = data.get("usage")
    if isinstance(usage, dict):
        counted = Usage(
            prompt_tokens=_tokens(usage.get("prompt_tokens")),
            completion_tokens=_tokens(usage.get("completion_tokens")),
        )
    else:  # many local servers leave usage out; count so cost reports stay honest
        counted = Usage(
            prompt_tokens=call.prompt_tokens(), completion_tokens=call.counter.count(text)
        )
    return Completion(
        text=strip_reasoning(text, finish),
        finish_reason=finish,
        usage=counted,
        model=str(data.get("model") or call.model),
    )


def _tokens(value: Any) -> int:
    """A usage count as sent, or 0 for null or anything that is not a whole number."""
    return value if isinstance(value, int) and value >= 0 else 0

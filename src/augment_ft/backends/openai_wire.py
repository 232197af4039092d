"""The chat-completions wire format, by hand: request bodies out, our ``Completion`` back in.

Both transports send the bytes :func:`request_body` makes and hand back the raw reply, so
what goes on the wire and how an answer is read do not depend on the HTTP client. Plain
dicts and ``json`` only: building the SDK's typed request and response models costs most
of a client's CPU per call.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from augment_ft.backends.base import ChatRequest, Completion, Usage
from augment_ft.core.models import Message
from augment_ft.core.tokens import TokenCounter

__all__ = [
    "MalformedReply",
    "RawReply",
    "SchemaMode",
    "TokenParam",
    "Transport",
    "parse_completion",
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


@dataclass(frozen=True)
class RawReply:
    """An HTTP answer as a transport got it; ``cause`` is the client's own error, if any."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    cause: BaseException | None = None


class Transport(Protocol):
    """Posts a chat body; raises our timeout or connection errors, returns any HTTP answer."""

    async def post(self, body: bytes) -> RawReply: ...

    async def aclose(self) -> None: ...


def uses_max_completion_tokens(model: str) -> bool:
    """True for OpenAI's reasoning and newest families, which refuse ``max_tokens``."""
    return _REASONING_FAMILY.search(model) is not None


def strip_reasoning(text: str, finish_reason: str) -> str:
    """Remove ``<think>`` blocks that reasoning models put before their answer.

    Also drops reasoning whose opening tag came from the chat template (only ``</think>``
    in the output), and an unterminated leading block cut off by the token limit.
    """
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
) -> bytes:
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
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


class MalformedReply(ValueError):
    """A 200 whose body is not a chat completion (not JSON, or no choices)."""


def parse_completion(
    raw: bytes, request: ChatRequest, model: str, counter: TokenCounter
) -> Completion:
    """Our ``Completion`` from a 200 body; usage counted locally when the server left it out."""
    try:
        data = json.loads(raw)
    except ValueError as exc:  # includes UnicodeDecodeError
        raise MalformedReply(f"not valid JSON ({exc})") from exc
    choices = data.get("choices") if isinstance(data, dict) else None
    if not choices or not isinstance(choices, list) or not isinstance(choices[0], dict):
        raise MalformedReply("no choices")
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
            prompt_tokens=counter.count_messages(request.messages),
            completion_tokens=counter.count(text),
        )
    return Completion(
        text=strip_reasoning(text, finish),
        finish_reason=finish,
        usage=counted,
        model=str(data.get("model") or model),
    )


def _tokens(value: Any) -> int:
    """A usage count as sent, or 0 for null or anything that is not a whole number."""
    return value if isinstance(value, int) and value >= 0 else 0

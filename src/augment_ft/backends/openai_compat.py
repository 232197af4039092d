"""OpenAI-compatible chat backend: OpenAI, vLLM, Ollama, llama.cpp's server, Together, any URL.

The SDK's own retries are off (``max_retries=0``): the library has one retry layer, a wrapper.
JSON schemas are negotiated once per backend, strongest first (json_schema, then json_object
carrying the schema, then instructions in the prompt); the first rejection is remembered.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Literal
from urllib.parse import urlsplit

import openai
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam

from augment_ft.backends.base import Capabilities, ChatRequest, Completion, StructuredOutput, Usage
from augment_ft.backends.openai_errors import (
    error_text,
    is_context_length_error,
    translate_error,
)
from augment_ft.core.errors import (
    AuthenticationError,
    BackendConnectionError,
    BackendError,
    ConfigError,
)
from augment_ft.core.models import Message
from augment_ft.core.tokens import TokenCounter

__all__ = ["DEFAULT_BASE_URL", "OpenAIBackend", "strip_reasoning", "uses_max_completion_tokens"]

DEFAULT_BASE_URL = "https://api.openai.com/v1"
_PLACEHOLDER_KEY = "not-needed"  # local servers ignore the key, but the SDK wants one
_NEGOTIABLE: tuple[StructuredOutput, ...] = ("json_schema", "json_object", "instructions")
# o1, o3, o4-mini, gpt-5... (also behind a provider prefix such as "openai/o3-mini")
_REASONING_FAMILY = re.compile(r"(?:^|[/:])(?:o\d+|gpt-5)(?:$|[-.:_])", re.IGNORECASE)
_THINK_BLOCK = re.compile(r"<think>.*?</think>", re.DOTALL)
_SCHEMA_WORDS = ("response_format", "json_schema", "schema")

TokenParam = Literal["max_tokens", "max_completion_tokens"]


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


def _is_openai_host(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host == "api.openai.com" or host.endswith(".openai.com")


def _message_param(role: str, content: str) -> ChatCompletionMessageParam:
    if role == "system":
        return {"role": "system", "content": content}
    if role == "assistant":
        return {"role": "assistant", "content": content}
    return {"role": "user", "content": content}


def _with_schema_instruction(
    messages: Sequence[Message], schema: dict[str, Any]
) -> list[ChatCompletionMessageParam]:
    """Append the schema, as an instruction, to the last user or system message."""
    note = "Answer with JSON matching this schema: " + json.dumps(schema, sort_keys=True)
    targets = [i for i, m in enumerate(messages) if m.role in ("user", "system")]
    if not targets:  # only assistant turns: say it in a user turn of its own
        return [
            *(_message_param(m.role, m.content) for m in messages),
            _message_param("user", note),
        ]
    last = targets[-1]
    return [
        _message_param(m.role, f"{m.content}\n\n{note}" if i == last else m.content)
        for i, m in enumerate(messages)
    ]


def _schema_name(name: str) -> str:
    """OpenAI accepts names of 1-64 characters from ``[A-Za-z0-9_-]``."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)[:64] or "response"


class OpenAIBackend:
    """A :class:`~augment_ft.backends.base.Backend` over any OpenAI-compatible HTTP server.

    ``base_url``/``api_key`` default to ``OPENAI_BASE_URL``/``OPENAI_API_KEY``; servers other
    than api.openai.com need no key. ``structured_output`` forces one mode (no negotiation).
    ``extra_body`` is merged into every request body (e.g. ``{"top_k": 20}`` for vLLM).
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
        structured_output: StructuredOutput | None = None,
        extra_body: dict[str, Any] | None = None,
    ) -> None:
        if not model.strip():
            raise ConfigError("OpenAIBackend needs a model name, e.g. 'gpt-4o-mini'")
        if timeout <= 0:
            raise ConfigError(f"OpenAIBackend timeout must be positive seconds, got {timeout}")
        if structured_output is not None and structured_output not in _NEGOTIABLE:
            msg = f"OpenAIBackend structured_output must be one of {_NEGOTIABLE} or None"
            raise ConfigError(f"{msg}, got {structured_output!r}")
        url = base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        key = api_key or os.environ.get("OPENAI_API_KEY")
        if not key:
            if _is_openai_host(url):
                raise AuthenticationError(
                    f"no API key for {url}: set OPENAI_API_KEY (or pass api_key=); "
                    "for a local server set OPENAI_BASE_URL (or pass base_url=)"
                )
            key = _PLACEHOLDER_KEY
        self._model = model
        self._base_url = url
        self._timeout = timeout
        self._secret = key if key != _PLACEHOLDER_KEY else None
        # Negotiation state: both only ever move one way, so concurrent calls that see the
        # same rejection agree without a lock (there is no await between read and write).
        self._mode: StructuredOutput = structured_output or "json_schema"
        self._negotiate = structured_output is None
        self._worked: set[StructuredOutput] = set()  # modes that have answered once
        self._token_param: TokenParam = (
            "max_completion_tokens" if uses_max_completion_tokens(model) else "max_tokens"
        )
        self._extra_body = dict(extra_body or {})
        self._tokens = TokenCounter(model)  # for servers that leave usage out
        self._client = openai.AsyncOpenAI(api_key=key, base_url=url, timeout=timeout, max_retries=0)

    @property
    def model(self) -> str:
        return self._model

    @property
    def base_url(self) -> str:
        return self._base_url

    @property
    def capabilities(self) -> Capabilities:
        """``structured_output`` is the mode in use now; it drops when the server refuses."""
        return Capabilities(structured_output=self._mode)

    async def complete(self, request: ChatRequest) -> Completion:
        """One chat call; re-sends only to negotiate schema mode or the max-tokens name."""
        switched_param = False
        # Ends: each pass returns, raises, or moves state one way (at most two downgrades,
        # one parameter switch), so there are at most four requests.
        while True:
            mode = self._mode if request.json_schema is not None else None
            param = self._token_param
            try:
                response = await self._send(request, mode, param)
            except openai.APIStatusError as exc:
                if not switched_param and self._refuses_param(exc, param):
                    self._switch_param(param)
                    switched_param = True
                    continue
                if mode is not None and self._refuses_mode(exc, mode):
                    self._downgrade(mode)
                    continue
                raise self._translate(exc, request) from exc
            except (openai.OpenAIError, ValueError) as exc:  # ValueError: body not JSON
                raise self._translate(exc, request) from exc
            if mode is not None:
                self._worked.add(mode)
            return self._to_completion(response, request)

    async def _send(
        self, request: ChatRequest, mode: StructuredOutput | None, param: TokenParam
    ) -> ChatCompletion:
        schema: dict[str, Any] | None = request.json_schema
        extra: dict[str, Any] = {}
        if schema is not None and mode in ("json_object", "instructions"):
            messages = _with_schema_instruction(request.messages, schema)
        else:
            messages = [_message_param(m.role, m.content) for m in request.messages]
        if schema is not None and mode == "json_schema":
            spec = {"name": _schema_name(request.schema_name), "schema": schema, "strict": False}
            extra["response_format"] = {"type": "json_schema", "json_schema": spec}
        elif schema is not None and mode == "json_object":
            extra["response_format"] = {"type": "json_object", "schema": schema}
        # The messages travel in the raw body: the SDK would otherwise walk every message
        # through its TypedDict transform on every request (about a third of the client's
        # CPU at 64 calls in flight), which changes nothing in plain role/content messages.
        extra["messages"] = messages
        extra.update(self._extra_body)
        return await self._client.chat.completions.create(
            model=self._model,
            messages=[],
            temperature=request.temperature,
            max_tokens=request.max_tokens if param == "max_tokens" else openai.omit,
            max_completion_tokens=(
                request.max_tokens if param == "max_completion_tokens" else openai.omit
            ),
            seed=request.seed if request.seed is not None else openai.omit,
            stop=list(request.stop) if request.stop else openai.omit,
            extra_body=extra,
        )

    def _refuses_param(self, exc: openai.APIStatusError, param: TokenParam) -> bool:
        """A 400 that names the max-tokens parameter we sent (and is not about context)."""
        text = error_text(exc)
        return exc.status_code == 400 and param in text and not is_context_length_error(text)

    def _switch_param(self, refused: TokenParam) -> None:
        if self._token_param == refused:
            self._token_param = (
                "max_tokens" if refused == "max_completion_tokens" else "max_completion_tokens"
            )

    def _refuses_mode(self, exc: openai.APIStatusError, mode: StructuredOutput) -> bool:
        """Did the server refuse the response_format of ``mode`` (not the request as such)?"""
        if not self._negotiate or mode == "instructions":
            return False
        text = error_text(exc).lower()
        if exc.status_code in (400, 422, 500) and any(w in text for w in _SCHEMA_WORDS):
            return not is_context_length_error(text)
        # llama.cpp's server answers json_schema with a bare HTTP 500.
        return exc.status_code == 500 and mode == "json_schema" and mode not in self._worked

    def _downgrade(self, refused: StructuredOutput) -> None:
        if self._mode == refused:
            self._mode = _NEGOTIABLE[_NEGOTIABLE.index(refused) + 1]

    def _translate(self, exc: Exception, request: ChatRequest) -> BackendError:
        return translate_error(
            exc,
            model=self._model,
            base_url=self._base_url,
            timeout=self._timeout,
            secret=self._secret,
            prompt_tokens=lambda: self._tokens.count_messages(request.messages),
        )

    def _to_completion(self, response: ChatCompletion, request: ChatRequest) -> Completion:
        choices = getattr(response, "choices", None)
        if not choices:
            raise BackendConnectionError(
                f"malformed response from {self._model} at {self._base_url}: no choices"
            )
        choice = choices[0]
        finish = str(getattr(choice, "finish_reason", None) or "stop")
        message = getattr(choice, "message", None)
        raw = getattr(message, "content", None)
        raw = raw if isinstance(raw, str) else ""
        usage = getattr(response, "usage", None)
        if usage is not None:
            counted = Usage(
                prompt_tokens=usage.prompt_tokens or 0,
                completion_tokens=usage.completion_tokens or 0,
            )
        else:  # many local servers leave usage out; count so cost reports stay honest
            counted = Usage(
                prompt_tokens=self._tokens.count_messages(request.messages),
                completion_tokens=self._tokens.count(raw),
            )
        return Completion(
            text=strip_reasoning(raw, finish),
            finish_reason=finish,
            usage=counted,
            model=str(getattr(response, "model", None) or self._model),
        )

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._client.close()

    async def __aenter__(self) -> OpenAIBackend:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

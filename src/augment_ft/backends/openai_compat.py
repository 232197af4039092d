"""OpenAI-compatible chat backend: OpenAI, vLLM, Ollama, llama.cpp's server, Together, any URL.

One brain, two transports. The backend builds each JSON body, negotiates, reads answers and
maps errors; a transport only moves bytes: ``http="lean"`` (aiohttp, the default, a
fraction of the SDK's CPU per call) or ``http="sdk"`` (the openai SDK's client, its own
retries off: the library has one retry layer, a wrapper). Neither is imported before the
first request. JSON schemas are negotiated once per backend, strongest first (json_schema,
then json_object carrying the schema, then instructions in the prompt); the first
rejection is remembered, as is a refused ``max_tokens``/``max_completion_tokens``.
"""

from __future__ import annotations

from typing import Any, Literal

from augment_ft.backends.base import AsyncClosing, ChatRequest, Completion
from augment_ft.backends.openai_client import DEFAULT_BASE_URL, resolve_endpoint
from augment_ft.backends.openai_errors import (
    error_text,
    is_context_length_error,
    malformed_error,
    status_error,
)
from augment_ft.backends.openai_wire import (
    MalformedReply,
    RawReply,
    SchemaMode,
    TokenParam,
    Transport,
    parse_completion,
    request_body,
    strip_reasoning,
    uses_max_completion_tokens,
)
from augment_ft.core.errors import BackendError, ConfigError
from augment_ft.core.tokens import TokenCounter

__all__ = [
    "DEFAULT_BASE_URL",
    "HttpClient",
    "OpenAIBackend",
    "strip_reasoning",
    "uses_max_completion_tokens",
]

HttpClient = Literal["lean", "sdk"]
_NEGOTIABLE: tuple[SchemaMode, ...] = ("json_schema", "json_object", "instructions")
_SCHEMA_WORDS = ("response_format", "json_schema", "schema")


class OpenAIBackend(AsyncClosing):
    """A :class:`~augment_ft.backends.base.Backend` over any OpenAI-compatible HTTP server.

    ``base_url``/``api_key`` default to ``OPENAI_BASE_URL``/``OPENAI_API_KEY``; servers other
    than api.openai.com need no key. ``structured_output`` forces one mode (no negotiation).
    ``extra_body`` is merged into every request body (e.g. ``{"top_k": 20}`` for vLLM).
    ``http`` picks the transport: ``"lean"`` (aiohttp) or ``"sdk"`` (the openai SDK).
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
        structured_output: SchemaMode | None = None,
        extra_body: dict[str, Any] | None = None,
        http: HttpClient = "lean",
    ) -> None:
        if not model.strip():
            raise ConfigError("OpenAIBackend needs a model name, e.g. 'gpt-4o-mini'")
        if timeout <= 0:
            raise ConfigError(f"OpenAIBackend timeout must be positive seconds, got {timeout}")
        if structured_output is not None and structured_output not in _NEGOTIABLE:
            msg = f"OpenAIBackend structured_output must be one of {_NEGOTIABLE} or None"
            raise ConfigError(f"{msg}, got {structured_output!r}")
        if http not in ("lean", "sdk"):
            raise ConfigError(f"OpenAIBackend http must be 'lean' or 'sdk', got {http!r}")
        self._endpoint = resolve_endpoint(base_url, api_key)
        self._model = model
        self._timeout = timeout
        self._http: HttpClient = http
        self._transport: Transport | None = None
        self._closed = False
        # Negotiation state: both only ever move one way, so concurrent calls that see the
        # same rejection agree without a lock (there is no await between read and write).
        self._mode: SchemaMode = structured_output or "json_schema"
        self._negotiate = structured_output is None
        self._worked: set[SchemaMode] = set()  # modes that have answered once
        self._token_param: TokenParam = (
            "max_completion_tokens" if uses_max_completion_tokens(model) else "max_tokens"
        )
        self._extra_body = dict(extra_body or {})
        self._tokens = TokenCounter(model)  # for servers that leave usage out; loads lazily

    @property
    def model(self) -> str:
        return self._model

    @property
    def base_url(self) -> str:
        return self._endpoint.base_url

    @property
    def http(self) -> HttpClient:
        """The transport in use: ``"lean"`` (aiohttp) or ``"sdk"`` (the openai SDK)."""
        return self._http

    @property
    def structured_output(self) -> SchemaMode:
        """How a JSON schema is sent now; it drops when the server refuses a mode."""
        return self._mode

    async def complete(self, request: ChatRequest) -> Completion:
        """One chat call; re-sends only to negotiate schema mode or the max-tokens name."""
        transport = self._open()
        switched_param = False
        # Ends: each pass returns, raises, or moves state one way (at most two downgrades,
        # one parameter switch), so there are at most four requests.
        while True:
            mode = self._mode if request.json_schema is not None else None
            param = self._token_param
            body = request_body(self._model, request, mode, param, self._extra_body)
            reply = await transport.post(body)
            if reply.status < 300:
                break
            text = error_text(reply.body)
            if not switched_param and self._refuses_param(reply.status, text, param):
                self._switch_param(param)
                switched_param = True
                continue
            if mode is not None and self._refuses_mode(reply.status, text, mode):
                self._downgrade(mode)
                continue
            raise self._status_error(reply, request) from reply.cause
        if mode is not None:
            self._worked.add(mode)
        try:
            return parse_completion(reply.body, request, self._model, self._tokens)
        except MalformedReply as exc:
            where = self._endpoint.where(self._model)
            raise malformed_error(where, str(exc), self._endpoint.secret) from exc

    def _open(self) -> Transport:
        """The transport, imported and made on first use (nothing heavy at import)."""
        if self._transport is not None:
            return self._transport
        if self._closed:
            raise RuntimeError("this backend is closed; make a new one")
        if self._http == "sdk":
            from augment_ft.backends.http_sdk import SDKTransport

            self._transport = SDKTransport(self._endpoint, self._model, self._timeout)
        else:
            from augment_ft.backends.http_lean import LeanTransport

            self._transport = LeanTransport(self._endpoint, self._model, self._timeout)
        return self._transport

    def _refuses_param(self, status: int, text: str, param: TokenParam) -> bool:
        """A 400 that names the max-tokens parameter we sent (and is not about context)."""
        return status == 400 and param in text and not is_context_length_error(text)

    def _switch_param(self, refused: TokenParam) -> None:
        if self._token_param == refused:
            self._token_param = (
                "max_tokens" if refused == "max_completion_tokens" else "max_completion_tokens"
            )

    def _refuses_mode(self, status: int, text: str, mode: SchemaMode) -> bool:
        """Did the server refuse the response_format of ``mode`` (not the request as such)?"""
        if not self._negotiate or mode == "instructions":
            return False
        lowered = text.lower()
        if status in (400, 422, 500) and any(w in lowered for w in _SCHEMA_WORDS):
            return not is_context_length_error(lowered)
        # llama.cpp's server answers json_schema with a bare HTTP 500.
        return status == 500 and mode == "json_schema" and mode not in self._worked

    def _downgrade(self, refused: SchemaMode) -> None:
        if self._mode == refused:
            self._mode = _NEGOTIABLE[_NEGOTIABLE.index(refused) + 1]

    def _status_error(self, reply: RawReply, request: ChatRequest) -> BackendError:
        return status_error(
            reply.status,
            reply.headers,
            reply.body,
            where=self._endpoint.where(self._model),
            secret=self._endpoint.secret,
            prompt_tokens=lambda: self._tokens.count_messages(request.messages),
        )

    async def aclose(self) -> None:
        """Close the HTTP connections; later calls raise RuntimeError."""
        self._closed = True
        transport, self._transport = self._transport, None
        if transport is not None:
            await transport.aclose()

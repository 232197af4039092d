"""OpenAI-compatible chat backend: OpenAI, vLLM, Ollama, llama.cpp's server, Together, any URL.

The backend builds each JSON body and negotiates; a :class:`~augment_ft.backends.openai_wire.
Transport` passed in sends it and reads the answer: :class:`~augment_ft.backends.http_lean.
LeanTransport` (aiohttp, the default, a fraction of the SDK's CPU per call),
:class:`~augment_ft.backends.http_sdk.SDKTransport` (the openai SDK's client) or, for tests,
:class:`~augment_ft.backends.http_mock.MockTransport`. JSON schemas are negotiated once per
backend, strongest first (json_schema, then json_object carrying the schema, then
instructions in the prompt); the first rejection is remembered, as is a refused
``max_tokens``/``max_completion_tokens``.
"""

from __future__ import annotations

from typing import Any, Literal

from augment_ft.backends.base import AsyncClosing, ChatRequest, Completion
from augment_ft.backends.openai_client import DEFAULT_BASE_URL
from augment_ft.backends.openai_errors import is_context_length_error
from augment_ft.backends.openai_wire import (
    ChatCall,
    SchemaMode,
    TokenParam,
    Transport,
    request_body,
    strip_reasoning,
    uses_max_completion_tokens,
)
from augment_ft.core.errors import BadRequestError, ConfigError, ServerError
from augment_ft.core.tokens import TokenCounter

__all__ = [
    "DEFAULT_BASE_URL",
    "HttpClient",
    "OpenAIBackend",
    "make_transport",
    "strip_reasoning",
    "uses_max_completion_tokens",
]

HttpClient = Literal["lean", "sdk"]
_NEGOTIABLE: tuple[SchemaMode, ...] = ("json_schema", "json_object", "instructions")
_SCHEMA_WORDS = ("response_format", "json_schema", "schema")


def make_transport(
    http: str = "lean",
    base_url: str | None = None,
    api_key: str | None = None,
    *,
    timeout: float = 60.0,
) -> Transport:
    """The transport ``http`` names: ``"lean"`` (aiohttp) or ``"sdk"`` (the openai SDK)."""
    if http == "lean":
        from augment_ft.backends.http_lean import LeanTransport

        return LeanTransport(base_url, api_key, timeout=timeout)
    if http == "sdk":
        from augment_ft.backends.http_sdk import SDKTransport

        return SDKTransport(base_url, api_key, timeout=timeout)
    raise ConfigError(f"OpenAIBackend http must be 'lean' or 'sdk', got {http!r}")


class OpenAIBackend(AsyncClosing):
    """A :class:`~augment_ft.backends.base.Backend` over any OpenAI-compatible HTTP server.

    ``transport`` sends the calls; without one, ``http`` names it (``"lean"`` or ``"sdk"``)
    and ``base_url``/``api_key``/``timeout`` go to it (the URL and key default to
    ``OPENAI_BASE_URL``/``OPENAI_API_KEY``; servers other than api.openai.com need no key).
    ``structured_output`` forces one mode (no negotiation). ``extra_body`` is merged into
    every request body (e.g. ``{"top_k": 20}`` for vLLM).
    """

    def __init__(
        self,
        model: str,
        *,
        transport: Transport | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float | None = None,
        structured_output: SchemaMode | None = None,
        extra_body: dict[str, Any] | None = None,
        http: HttpClient = "lean",
    ) -> None:
        if not model.strip():
            raise ConfigError("OpenAIBackend needs a model name, e.g. 'gpt-4o-mini'")
        if timeout is not None and timeout <= 0:
            raise ConfigError(f"OpenAIBackend timeout must be positive seconds, got {timeout}")
        if structured_output is not None and structured_output not in _NEGOTIABLE:
            msg = f"OpenAIBackend structured_output must be one of {_NEGOTIABLE} or None"
            raise ConfigError(f"{msg}, got {structured_output!r}")
        if transport is None:
            transport = make_transport(http, base_url, api_key, timeout=timeout or 60.0)
        elif base_url is not None or api_key is not None or timeout is not None:
            msg = "OpenAIBackend: give base_url, api_key and timeout to the transport, not both"
            raise ConfigError(msg)
        self.transport = transport
        self._model = model
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
        return self.transport.base_url

    @property
    def structured_output(self) -> SchemaMode:
        """How a JSON schema is sent now; it drops when the server refuses a mode."""
        return self._mode

    async def complete(self, request: ChatRequest) -> Completion:
        """One chat call; re-sends only to negotiate schema mode or the max-tokens name."""
        switched_param = False
        # Ends: each pass returns, raises, or moves state one way (at most two downgrades,
        # one parameter switch), so there are at most four requests.
        while True:
            mode = self._mode if request.json_schema is not None else None
            param = self._token_param
            body = request_body(self._model, request, mode, param, self._extra_body)
            try:
                completion = await self.transport.send(
                    ChatCall(self._model, body, request, self._tokens)
                )
            except (BadRequestError, ServerError) as exc:
                if not switched_param and self._refuses_param(exc, param):
                    self._switch_param(param)
                    switched_param = True
                    continue
                if mode is not None and self._refuses_mode(exc, mode):
                    self._downgrade(mode)
                    continue
                raise
            if mode is not None:
                self._worked.add(mode)
            return completion

    def _refuses_param(self, exc: BadRequestError | ServerError, param: TokenParam) -> bool:
        """A 400 that names the max-tokens parameter we sent (and is not about context)."""
        text = exc.detail
        return exc.status_code == 400 and param in text and not is_context_length_error(text)

    def _switch_param(self, refused: TokenParam) -> None:
        if self._token_param == refused:
            self._token_param = (
                "max_tokens" if refused == "max_completion_tokens" else "max_completion_tokens"
            )

    def _refuses_mode(self, exc: BadRequestError | ServerError, mode: SchemaMode) -> bool:
        """Did the server refuse the response_format of ``mode`` (not the request as such)?"""
        if not self._negotiate or mode == "instructions":
            return False
        status, lowered = exc.status_code, exc.detail.lower()
        if status in (400, 422, 500) and any(w in lowered for w in _SCHEMA_WORDS):
            return not is_context_length_error(lowered)
        # llama.cpp's server answers json_schema with a bare HTTP 500.
        return status == 500 and mode == "json_schema" and mode not in self._worked

    def _downgrade(self, refused: SchemaMode) -> None:
        if self._mode == refused:
            self._mode = _NEGOTIABLE[_NEGOTIABLE.index(refused) + 1]

    async def aclose(self) -> None:
        """Close the transport's connections; later calls raise RuntimeError."""
        await self.transport.aclose()

"""How an OpenAI-compatible server's failures map onto :mod:`augment_ft.core.errors`.

One table for both transports and the scorer: every message is one line that names the
model and URL, says what to do, and never contains the API key. Nothing here imports an
HTTP client; :func:`translate_sdk_error` looks at the openai SDK's exceptions only when
one was raised.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

from augment_ft.core.errors import (
    AuthenticationError,
    BackendConnectionError,
    BackendError,
    BackendTimeoutError,
    BackendUnreachableError,
    BadRequestError,
    ContextLengthError,
    ModelNotFoundError,
    RateLimitError,
    ServerError,
)

__all__ = [
    "connection_error",
    "error_text",
    "is_context_length_error",
    "malformed_error",
    "retry_after_seconds",
    "status_error",
    "timeout_error",
    "translate_sdk_error",
]

_CONTEXT_WORDS = (
    "context length",
    "context_length",
    "maximum context",
    "too many tokens",
    "context window",
)
_MAX_DETAIL = 500  # keep one server's whole HTML error page out of our messages
_BASE_URL_HINT = "check that the server is running and OPENAI_BASE_URL (--base-url) is right"


def error_text(body: bytes) -> str:
    """The server's explanation: ``error.message`` (with its code and param) or the raw text."""
    text = body.decode("utf-8", "replace").strip()
    try:
        data: Any = json.loads(text)
    except ValueError:
        return text
    error = data.get("error", data) if isinstance(data, dict) else data
    if isinstance(error, dict) and isinstance(error.get("message") or error.get("detail"), str):
        parts = [str(error.get("message") or error.get("detail"))]
        parts += [f"{k}: {error[k]}" for k in ("type", "code", "param") if error.get(k)]
        return " | ".join(parts)
    return text


def is_context_length_error(text: str) -> bool:
    """Does an error message say the prompt does not fit the context window?"""
    lowered = text.lower()
    return any(word in lowered for word in _CONTEXT_WORDS)


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date)."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            value = float(millis) / 1000
        except ValueError:
            value = math.nan
        if math.isfinite(value):
            return max(0.0, value)
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - datetime.now(timezone.utc)).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _redact(text: str, secret: str | None) -> str:
    """One line, the key replaced, at most ``_MAX_DETAIL`` characters."""
    text = " ".join(text.split())
    if secret and len(secret) >= 4:
        text = text.replace(secret, "<redacted>")
    return text[:_MAX_DETAIL] + ("..." if len(text) > _MAX_DETAIL else "")


def timeout_error(where: str, timeout: float) -> BackendTimeoutError:
    """No answer within the client's timeout."""
    return BackendTimeoutError(
        f"no answer from {where} within {timeout:g} s; raise the timeout or lower concurrency"
    )


def connection_error(
    where: str, detail: str, secret: str | None, *, connected: bool
) -> BackendConnectionError:
    """A connection that could not be made (``connected=False``) or was dropped."""
    detail = _redact(detail, secret)
    if not connected:
        return BackendUnreachableError(f"cannot connect to {where} ({detail}); {_BASE_URL_HINT}")
    return BackendConnectionError(
        f"connection to {where} failed or was dropped ({detail}); {_BASE_URL_HINT}"
    )


def malformed_error(where: str, detail: str, secret: str | None) -> BackendConnectionError:
    """A 200 whose body is not a usable chat completion (retryable: proxies garble too)."""
    return BackendConnectionError(f"malformed response from {where}: {_redact(detail, secret)}")


def status_error(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    where: str,
    secret: str | None,
    prompt_tokens: Callable[[], int],
) -> BackendError:
    """The :class:`BackendError` for an HTTP error status (the caller chains a cause, if any).

    ``prompt_tokens`` is called only for context-length errors, to say how much was sent.
    """
    text = error_text(body)
    detail = _redact(text, secret)
    wait = retry_after_seconds(headers)
    if status == 429:
        return RateLimitError(
            f"{where} is rate-limiting (HTTP 429): {detail}",
            status_code=status,
            retry_after=wait,
            detail=detail,
        )
    if status in (408, 409) or status >= 500:
        return ServerError(
            f"{where} failed (HTTP {status}): {detail}",
            status_code=status,
            retry_after=wait,
            detail=detail,
        )
    return _refusal(status, text, detail, where, prompt_tokens)


def _refusal(
    status: int, text: str, detail: str, where: str, prompt_tokens: Callable[[], int]
) -> BackendError:
    """The non-retryable statuses: credentials, context length, not found, a bad request."""
    if status in (401, 403):
        return AuthenticationError(
            f"{where} refused the credentials (HTTP {status}): {detail}. "
            "Check OPENAI_API_KEY (and OPENAI_BASE_URL, which picks the server)",
            status_code=status,
            detail=detail,
        )
    if is_context_length_error(text):
        return ContextLengthError(
            f"the prompt ({prompt_tokens()} tokens counted locally) does not fit the context "
            f"window of {where} (HTTP {status}): {detail}. Shorten the input, lower max_tokens "
            "or choose a model with a longer context",
            status_code=status,
            detail=detail,
        )
    if status == 404:
        return ModelNotFoundError(
            f"{where} has no such model or endpoint (HTTP 404): {detail}; check the model name "
            "and OPENAI_BASE_URL (it usually ends in /v1)",
            status_code=status,
            detail=detail,
        )
    return BadRequestError(
        f"{where} rejected the request (HTTP {status}): {detail}; the request itself is wrong, "
        "retrying will not help",
        status_code=status,
        detail=detail,
    )


def _connect_failed(exc: BaseException) -> bool:
    """Did an SDK connection error fail to connect at all (httpx's ``ConnectError``)?

    Matched by class name so either httpx generation the SDK runs on is recognised.
    """
    cause = exc.__cause__
    return cause is not None and any(k.__name__ == "ConnectError" for k in type(cause).__mro__)


def translate_sdk_error(
    exc: Exception,
    *,
    where: str,
    timeout: float,
    secret: str | None,
    prompt_tokens: Callable[[], int],
) -> BackendError:
    """The :class:`BackendError` for an openai SDK exception (the caller chains ``from exc``)."""
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return timeout_error(where, timeout)
    if isinstance(exc, openai.APIConnectionError):
        detail = str(exc.__cause__ or exc)
        return connection_error(where, detail, secret, connected=not _connect_failed(exc))
    if isinstance(exc, openai.APIStatusError):
        response = exc.response
        return status_error(
            response.status_code,
            response.headers,
            response.content,
            where=where,
            secret=secret,
            prompt_tokens=prompt_tokens,
        )
    if isinstance(exc, (ValueError, openai.APIResponseValidationError)):
        return malformed_error(where, f"not valid JSON ({exc})", secret)
    return BackendError(f"call to {where} failed: {_redact(str(exc), secret)}")

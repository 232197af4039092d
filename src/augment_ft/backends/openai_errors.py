"""Turn openai SDK exceptions into the library's :mod:`augment_ft.core.errors` tree.

Kept apart from the backend so the mapping can be read (and tested) as one table; every
message names the model and URL, says what to do, and never contains the API key.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

import openai

from augment_ft.core.errors import (
    AuthenticationError,
    BackendConnectionError,
    BackendError,
    BackendTimeoutError,
    BadRequestError,
    ContextLengthError,
    RateLimitError,
    ServerError,
)

__all__ = ["error_text", "is_context_length_error", "retry_after_seconds", "translate_error"]

_CONTEXT_WORDS = (
    "context length",
    "context_length",
    "maximum context",
    "too many tokens",
    "context window",
)
_MAX_DETAIL = 500  # keep one server's whole HTML error page out of our messages


def error_text(exc: openai.APIStatusError) -> str:
    """The server's explanation: the SDK's message plus the raw body when it was not JSON."""
    body = exc.body
    if body is None or isinstance(body, dict):
        return exc.message
    return f"{exc.message} {body}"


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
    if secret and len(secret) >= 4:
        text = text.replace(secret, "<redacted>")
    return text[:_MAX_DETAIL] + ("..." if len(text) > _MAX_DETAIL else "")


def translate_error(
    exc: Exception,
    *,
    model: str,
    base_url: str,
    timeout: float,
    secret: str | None,
    prompt_tokens: Callable[[], int],
) -> BackendError:
    """The :class:`BackendError` for an SDK exception (the caller chains ``from exc``).

    ``prompt_tokens`` is called only for context-length errors, to say how much was sent.
    """
    where = f"{model} at {base_url}"
    if isinstance(exc, openai.APITimeoutError):
        return BackendTimeoutError(
            f"no answer from {where} within {timeout:g} s; raise the timeout or lower concurrency"
        )
    if isinstance(exc, openai.APIConnectionError):
        detail = _redact(str(exc.__cause__ or exc), secret)
        return BackendConnectionError(
            f"connection to {where} failed or was dropped ({detail}); "
            "check that the server is running and OPENAI_BASE_URL is right"
        )
    if isinstance(exc, openai.APIStatusError):
        return _translate_status(exc, where, secret, prompt_tokens)
    if isinstance(exc, (ValueError, openai.APIResponseValidationError)):
        detail = _redact(str(exc), secret)
        return BackendConnectionError(f"malformed response from {where}: not valid JSON ({detail})")
    return BackendError(f"call to {where} failed: {_redact(str(exc), secret)}")


def _translate_status(
    exc: openai.APIStatusError, where: str, secret: str | None, prompt_tokens: Callable[[], int]
) -> BackendError:
    status = exc.status_code
    text = error_text(exc)
    detail = _redact(text, secret)
    wait = retry_after_seconds(exc.response.headers)
    if status == 429:
        return RateLimitError(
            f"{where} is rate-limiting (HTTP 429): {detail}", status_code=status, retry_after=wait
        )
    if status in (408, 409) or status >= 500:
        return ServerError(
            f"{where} failed (HTTP {status}): {detail}", status_code=status, retry_after=wait
        )
    if status in (401, 403):
        return AuthenticationError(
            f"{where} refused the credentials (HTTP {status}): {detail}. "
            "Check OPENAI_API_KEY (and OPENAI_BASE_URL, which picks the server)",
            status_code=status,
        )
    if is_context_length_error(text):
        return ContextLengthError(
            f"the prompt ({prompt_tokens()} tokens counted locally) does not fit the context "
            f"window of {where} (HTTP {status}): {detail}. Shorten the input, lower max_tokens "
            "or choose a model with a longer context",
            status_code=status,
        )
    hint = "check the model name and OPENAI_BASE_URL (it usually ends in /v1)"
    if status != 404:
        hint = "the request itself is wrong; retrying will not help"
    return BadRequestError(
        f"{where} rejected the request (HTTP {status}): {detail}; {hint}", status_code=status
    )

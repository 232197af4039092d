"""Where an OpenAI-compatible server is and how to authenticate: one set-up for every client.

The chat backend (both transports) and the log-likelihood scorer resolve their URL and key
here, so the environment variables, the placeholder key for local servers and the refusal
to call api.openai.com without a key are decided in one place. ``openai`` is imported only
by :func:`sdk_client`, when a client is actually built.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from augment_ft.core.errors import AuthenticationError

if TYPE_CHECKING:
    import openai

__all__ = ["DEFAULT_BASE_URL", "PLACEHOLDER_KEY", "Endpoint", "resolve_endpoint", "sdk_client"]

DEFAULT_BASE_URL = "https://api.openai.com/v1"
PLACEHOLDER_KEY = "not-needed"
"""Sent to servers that ignore the key (local ones), since the protocol wants one."""


@dataclass(frozen=True)
class Endpoint:
    """A resolved server: its URL, the key to send, and the secret to keep out of messages."""

    base_url: str
    api_key: str
    secret: str | None  # None when the key is the placeholder (nothing to redact)

    def where(self, model: str) -> str:
        """``model at URL``: how every error message names the call."""
        return f"{model} at {self.base_url}"


def _is_openai_host(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host == "api.openai.com" or host.endswith(".openai.com")


def resolve_endpoint(base_url: str | None = None, api_key: str | None = None) -> Endpoint:
    """URL and key from the arguments, else ``OPENAI_BASE_URL``/``OPENAI_API_KEY``.

    Servers other than OpenAI's get a placeholder key when none is set; OpenAI's own API
    without a key fails here, before any request, with what to set.
    """
    url = base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
    key = api_key or os.environ.get("OPENAI_API_KEY")
    if key:
        return Endpoint(url, key, key)
    if _is_openai_host(url):
        raise AuthenticationError(
            f"no API key for {url}: set OPENAI_API_KEY (or pass api_key=); "
            "for a local server set OPENAI_BASE_URL (or pass base_url=)"
        )
    return Endpoint(url, PLACEHOLDER_KEY, None)


def sdk_client(endpoint: Endpoint, timeout: float) -> openai.AsyncOpenAI:
    """An ``AsyncOpenAI`` for ``endpoint`` with the SDK's own retries off (we retry once, above)."""
    import openai

    return openai.AsyncOpenAI(
        api_key=endpoint.api_key, base_url=endpoint.base_url, timeout=timeout, max_retries=0
    )

"""The lean transport: prebuilt JSON bodies over one pooled aiohttp session per backend.

aiohttp is made for many requests in flight; with the body built by hand and the answer
read as bytes, a call costs a fraction of the CPU the SDK's request and response models
take. The session is made on first use, on the running loop; it is closed by ``aclose``,
or when that loop shuts down (``asyncio.run`` finalizes async generators), so a backend
used from several ``asyncio.run`` calls in turn leaks no connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass

import aiohttp

from augment_ft.backends.openai_client import Endpoint
from augment_ft.backends.openai_errors import connection_error, timeout_error
from augment_ft.backends.openai_wire import RawReply

__all__ = ["MAX_CONNECTIONS", "LeanTransport"]

MAX_CONNECTIONS = 1000
"""Open connections at most (the SDK's own bound); the limits wrapper paces calls below it."""


def env_proxy(url: str) -> str | None:
    """The proxy the environment names for ``url`` (``HTTP(S)_PROXY`` less ``NO_PROXY``).

    Read once per backend: aiohttp's ``trust_env`` would look it up (and ``.netrc``) in a
    worker thread on every request, two thread hops per call.
    """
    parts = urlsplit(url)
    if not parts.hostname or proxy_bypass(parts.hostname):
        return None
    return getproxies().get(parts.scheme)


async def _session_lifetime(session: aiohttp.ClientSession) -> AsyncGenerator[None, None]:
    """Closes ``session`` when closed itself: by ``aclose`` or by the loop's shutdown."""
    try:
        yield
    finally:
        await session.close()


class LeanTransport:
    """POSTs to ``{base_url}/chat/completions`` with aiohttp; any HTTP status comes back raw."""

    def __init__(self, endpoint: Endpoint, model: str, timeout: float) -> None:
        self._url = endpoint.base_url.rstrip("/") + "/chat/completions"
        self._headers = {
            "Authorization": f"Bearer {endpoint.api_key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        self._where = endpoint.where(model)
        self._secret = endpoint.secret
        self._timeout = timeout
        self._proxy = env_proxy(self._url)
        self._session: aiohttp.ClientSession | None = None
        self._lifetime: AsyncGenerator[None, None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    async def _current(self) -> aiohttp.ClientSession:
        """The session of the running loop, made on first use there."""
        if self._closed:
            raise RuntimeError("this backend is closed; make a new one")
        loop = asyncio.get_running_loop()
        if self._session is None or self._loop is not loop or self._session.closed:
            self._loop = loop
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=MAX_CONNECTIONS),
                headers=self._headers,
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                proxy=self._proxy,  # from the environment, as the SDK honours it
                cookie_jar=aiohttp.DummyCookieJar(),  # an API sets no cookies we need
            )
            self._lifetime = _session_lifetime(self._session)
            await self._lifetime.__anext__()
        return self._session

    async def post(self, body: bytes) -> RawReply:
        """Send ``body``; a timeout or a failed connection raises our retryable errors."""
        session = await self._current()
        try:
            async with session.post(self._url, data=body) as response:
                payload = await response.read()
                return RawReply(response.status, response.headers, payload)
        except (asyncio.TimeoutError, TimeoutError) as exc:
            raise timeout_error(self._where, self._timeout) from exc
        except (aiohttp.ClientConnectorError, aiohttp.InvalidURL) as exc:  # refused, DNS...
            raise connection_error(self._where, str(exc), self._secret, connected=False) from exc
        except (aiohttp.ClientError, OSError) as exc:  # dropped, reset, truncated
            detail = str(exc) or type(exc).__name__
            raise connection_error(self._where, detail, self._secret, connected=True) from exc

    async def aclose(self) -> None:
        """Close the connections; later calls raise RuntimeError (idempotent)."""
        self._closed = True
        lifetime, self._lifetime, self._session = self._lifetime, None, None
        if lifetime is not None and self._loop is asyncio.get_running_loop():
            await lifetime.aclose()

"""The lean transport: prebuilt JSON bodies over one pooled aiohttp session per event loop.

aiohttp is made for many requests in flight; with the body built by hand and the answer
read as bytes, a call costs a fraction of the CPU the SDK's request and response models
take. aiohttp is imported, and the session made, on the first call, on the running loop;
the session is closed by ``aclose``, or when that loop shuts down (``asyncio.run``
finalizes async generators), so a transport used from several ``asyncio.run`` calls in
turn leaks no connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass

from augment_ft.backends.base import Completion
from augment_ft.backends.openai_client import resolve_endpoint
from augment_ft.backends.openai_errors import connection_error, timeout_error
from augment_ft.backends.openai_wire import ChatCall, read_reply

if TYPE_CHECKING:
    import aiohttp

__all__ = ["MAX_CONNECTIONS", "LeanTransport", "env_proxy"]

MAX_CONNECTIONS = 1000
"""Open connections at most (the SDK's own bound); the limits wrapper paces calls below it."""


def env_proxy(url: str) -> str | None:
    """The proxy the environment names for ``url`` (``HTTP(S)_PROXY`` less ``NO_PROXY``).

    Read once per transport: aiohttp's ``trust_env`` would look it up (and ``.netrc``) in
    a worker thread on every request, two thread hops per call.
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
    """POSTs to ``{base_url}/chat/completions`` with aiohttp.

    ``base_url``/``api_key`` default to ``OPENAI_BASE_URL``/``OPENAI_API_KEY`` (see
    :func:`~augment_ft.backends.openai_client.resolve_endpoint`).
    """

    def __init__(
        self, base_url: str | None = None, api_key: str | None = None, *, timeout: float = 60.0
    ) -> None:
        endpoint = resolve_endpoint(base_url, api_key)
        self.base_url = endpoint.base_url
        self.timeout = timeout
        self._url = endpoint.base_url.rstrip("/") + "/chat/completions"
        self._headers = {
            "Authorization": f"Bearer {endpoint.api_key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        self._secret = endpoint.secret
        self._proxy = env_proxy(self._url)
        self._session: aiohttp.ClientSession | None = None
        self._lifetime: AsyncGenerator[None, None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unreachable: tuple[type[BaseException], ...] = ()
        self._dropped: tuple[type[BaseException], ...] = ()
        self._closed = False

    async def _current(self) -> aiohttp.ClientSession:
        """The session of the running loop, made on first use there."""
        if self._closed:
            raise RuntimeError("this backend is closed; make a new one")
        loop = asyncio.get_running_loop()
        session = self._session
        if session is not None and self._loop is loop and not session.closed:
            return session
        import aiohttp

        self._unreachable = (aiohttp.ClientConnectorError, aiohttp.InvalidURL)  # refused, DNS
        self._dropped = (aiohttp.ClientError, OSError)  # dropped, reset, truncated
        self._loop = loop
        self._session = session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=MAX_CONNECTIONS),
            headers=self._headers,
            timeout=aiohttp.ClientTimeout(total=self.timeout),
            proxy=self._proxy,  # from the environment, as the SDK honours it
            cookie_jar=aiohttp.DummyCookieJar(),  # an API sets no cookies we need
        )
        self._lifetime = _session_lifetime(session)
        await self._lifetime.__anext__()
        return session

    async def send(self, call: ChatCall) -> Completion:
        """POST ``call``; a timeout or a failed connection raises our retryable errors."""
        session = await self._current()
        where = f"{call.model} at {self.base_url}"
        try:
            async with session.post(self._url, data=call.encoded()) as response:
                payload = await response.read()
                status, headers = response.status, response.headers
        except (asyncio.TimeoutError, TimeoutError) as exc:
            raise timeout_error(where, self.timeout) from exc
        except self._unreachable as exc:
            raise connection_error(where, str(exc), self._secret, connected=False) from exc
        except self._dropped as exc:
            detail = str(exc) or type(exc).__name__
            raise connection_error(where, detail, self._secret, connected=True) from exc
        return read_reply(call, status, headers, payload, where=where, secret=self._secret)

    async def aclose(self) -> None:
        """Close the connections; later calls raise RuntimeError (idempotent)."""
        self._closed = True
        lifetime, self._lifetime, self._session = self._lifetime, None, None
        if lifetime is not None and self._loop is asyncio.get_running_loop():
            await lifetime.aclose()

    def __repr__(self) -> str:
        return f"LeanTransport({self.base_url!r})"

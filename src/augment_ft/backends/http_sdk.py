"""The SDK transport: the same prebuilt bodies sent through the openai SDK's own client.

For anyone who needs what only the SDK's HTTP stack does (its proxy and client options):
the request and the answer stay raw bytes, so negotiation, parsing and error mapping are
the same as with the lean transport. ``openai`` is imported on the first call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from augment_ft.backends.base import Completion
from augment_ft.backends.openai_client import resolve_endpoint, sdk_client
from augment_ft.backends.openai_errors import status_error, translate_sdk_error
from augment_ft.backends.openai_wire import ChatCall, read_reply

if TYPE_CHECKING:
    import openai

__all__ = ["SDKTransport"]

_JSON = {"Content-Type": "application/json"}


class SDKTransport:
    """POSTs through ``AsyncOpenAI.post`` (its own retries off: the library retries once,
    above). ``base_url``/``api_key`` resolve as for the lean transport."""

    def __init__(
        self, base_url: str | None = None, api_key: str | None = None, *, timeout: float = 60.0
    ) -> None:
        self._endpoint = resolve_endpoint(base_url, api_key)
        self.base_url = self._endpoint.base_url
        self.timeout = timeout
        self._client: openai.AsyncOpenAI | None = None
        self._closed = False

    async def send(self, call: ChatCall) -> Completion:
        """POST ``call``; a timeout or a failed connection raises our retryable errors."""
        import openai

        if self._closed:
            raise RuntimeError("this backend is closed; make a new one")
        if self._client is None:
            self._client = sdk_client(self._endpoint, self.timeout)
        where, secret = self._endpoint.where(call.model), self._endpoint.secret
        try:
            payload = await self._client.post(
                "/chat/completions",
                cast_to=bytes,
                content=call.encoded(),
                options={"headers": _JSON},
            )
        except openai.APIStatusError as exc:
            response = exc.response
            raise status_error(
                response.status_code,
                response.headers,
                response.content,
                where=where,
                secret=secret,
                prompt_tokens=call.prompt_tokens,
            ) from exc
        except openai.APIError as exc:  # timeouts and connections; statuses are above
            raise translate_sdk_error(
                exc,
                where=where,
                timeout=self.timeout,
                secret=secret,
                prompt_tokens=call.prompt_tokens,
            ) from exc
        return read_reply(call, 200, {}, payload, where=where, secret=secret)

    async def aclose(self) -> None:
        """Close the SDK's connections; later calls raise RuntimeError."""
        self._closed = True
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    def __repr__(self) -> str:
        return f"SDKTransport({self.base_url!r})"

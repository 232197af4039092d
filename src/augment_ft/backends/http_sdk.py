"""The SDK transport: the same prebuilt bodies sent through the openai SDK's own client.

For anyone who needs what only the SDK's HTTP stack does (its proxy and client options):
the request and the answer stay raw bytes, so negotiation, parsing and error mapping are
the backend's, exactly as with the lean transport.
"""

from __future__ import annotations

import openai

from augment_ft.backends.openai_client import Endpoint, sdk_client
from augment_ft.backends.openai_errors import translate_sdk_error
from augment_ft.backends.openai_wire import RawReply

__all__ = ["SDKTransport"]

_JSON = {"Content-Type": "application/json"}


def _no_prompt() -> int:
    return 0  # status errors are mapped by the backend, which counts the prompt itself


class SDKTransport:
    """POSTs through ``AsyncOpenAI.post``; an HTTP error status comes back as a raw reply."""

    def __init__(self, endpoint: Endpoint, model: str, timeout: float) -> None:
        self._client = sdk_client(endpoint, timeout)
        self._where = endpoint.where(model)
        self._secret = endpoint.secret
        self._timeout = timeout

    async def post(self, body: bytes) -> RawReply:
        """Send ``body``; a timeout or a failed connection raises our retryable errors."""
        try:
            payload = await self._client.post(
                "/chat/completions", cast_to=bytes, content=body, options={"headers": _JSON}
            )
        except openai.APIStatusError as exc:
            response = exc.response
            return RawReply(response.status_code, response.headers, response.content, exc)
        except openai.APIError as exc:  # timeouts and connections; statuses are above
            raise translate_sdk_error(
                exc,
                where=self._where,
                timeout=self._timeout,
                secret=self._secret,
                prompt_tokens=_no_prompt,
            ) from exc
        return RawReply(200, {}, payload)

    async def aclose(self) -> None:
        """Close the SDK's connections; later calls raise RuntimeError."""
        await self._client.close()

"""Log-likelihoods from an OpenAI-compatible server, through the legacy completions endpoint.

The prompt and the continuation go out as one text with ``echo=True, logprobs=1,
max_tokens=1``; a server that supports it (vLLM, OpenAI's older completion models) sends
back the log-probability of every prompt token, and the tokens from where the
continuation starts are summed. A token that straddles the boundary counts with the
continuation. A server that answers without prompt log-probabilities (llama.cpp's
``llama-server``, chat-only APIs) raises :class:`~augment_ft.core.errors.CapabilityError`.

Known server bug: llama-cpp-python's server (``python -m llama_cpp.server``, 0.3.x) returns
echoed log-probabilities shifted by one token (each token scored by the distribution that
already saw it; abetlen/llama-cpp-python issue 1983), so its numbers are not likelihoods.
Score GGUF models with :class:`~augment_ft.LocalBackend` instead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from augment_ft.backends.base import AsyncClosing
from augment_ft.backends.openai_client import resolve_endpoint, sdk_client
from augment_ft.backends.openai_errors import translate_sdk_error
from augment_ft.core.errors import BadRequestError, CapabilityError, ConfigError

__all__ = ["OpenAILogprobScorer", "continuation_tokens"]


def continuation_tokens(
    logprobs: Any, prompt_chars: int, total_chars: int
) -> list[tuple[str, float]]:
    """``(token, logprob)`` of the echoed tokens that cover ``[prompt_chars, total_chars)``.

    ``logprobs`` is a completion choice's ``logprobs`` object (``tokens``,
    ``token_logprobs``, ``text_offset``). Raises CapabilityError when it does not cover the
    prompt (no echo), BadRequestError when a needed token has no log-probability.
    """
    tokens = list(_field(logprobs, "tokens") or [])
    values = list(_field(logprobs, "token_logprobs") or [])
    offsets = list(_field(logprobs, "text_offset") or [])
    if not tokens or len(tokens) != len(values) or len(tokens) != len(offsets):
        raise CapabilityError(_NO_ECHO)
    if offsets[0] != 0 or offsets[-1] < prompt_chars:
        raise CapabilityError(_NO_ECHO)
    picked: list[tuple[str, float]] = []
    reached = 0
    for i, (token, value, start) in enumerate(zip(tokens, values, offsets, strict=True)):
        end = offsets[i + 1] if i + 1 < len(offsets) else start + len(str(token))
        if end <= prompt_chars or start >= total_chars:
            continue
        if value is None:
            msg = "the server gave no log-probability for the first token; the prompt must "
            raise BadRequestError(msg + "not be empty (each token is scored given the ones before)")
        picked.append((str(token), float(value)))
        reached = end
    if reached < total_chars:  # the echo stopped short of the continuation's end
        raise CapabilityError(_NO_ECHO)
    return picked


def _field(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


_NO_ECHO = (
    "the server did not return log-probabilities for the prompt (echo=True, logprobs=1 on "
    "/v1/completions), so it cannot score options; vLLM does, llama.cpp's llama-server "
    "does not. Use an OpenAI-compatible server that supports echo, or the local backend"
)


class OpenAILogprobScorer(AsyncClosing):
    """A :class:`~augment_ft.evals.scoring.Scorer` over ``/v1/completions`` with echo."""

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
    ) -> None:
        if not model.strip():
            raise ConfigError("OpenAILogprobScorer needs a model name (the server's model id)")
        if timeout <= 0:
            raise ConfigError(f"OpenAILogprobScorer timeout must be positive, got {timeout}")
        self._model = model
        self._endpoint = resolve_endpoint(base_url, api_key)
        self._timeout = timeout
        self._client = sdk_client(self._endpoint, timeout)

    @property
    def model(self) -> str:
        return self._model

    async def token_logprobs(self, prompt: str, continuation: str) -> list[tuple[str, float]]:
        """The continuation's tokens with their log-probabilities, as the server gave them."""
        if not continuation:
            return []
        import openai  # loaded already (the client is the SDK's); not on `import augment_ft`

        text = prompt + continuation
        try:
            response = await self._client.completions.create(
                model=self._model,
                prompt=text,
                echo=True,
                logprobs=1,
                max_tokens=1,
                temperature=0.0,
            )
        except (openai.OpenAIError, ValueError) as exc:  # ValueError: body not JSON
            raise self._translate(exc, text) from exc
        choices: Sequence[Any] = getattr(response, "choices", None) or []
        if not choices or not str(choices[0].text or "").startswith(text):
            raise CapabilityError(_NO_ECHO)
        return continuation_tokens(choices[0].logprobs, len(prompt), len(text))

    async def loglikelihood(self, prompt: str, continuation: str) -> float:
        """Sum of the continuation's token log-probabilities after ``prompt``."""
        picked = await self.token_logprobs(prompt, continuation)
        return math.fsum(value for _, value in picked)

    def _translate(self, exc: Exception, text: str) -> Exception:
        return translate_sdk_error(
            exc,
            where=self._endpoint.where(self._model),
            timeout=self._timeout,
            secret=self._endpoint.secret,
            prompt_tokens=lambda: len(text.split()),
        )

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._client.close()

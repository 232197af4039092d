"""One cheap call before a run, so a dead URL, a bad key or an unknown model stops it at once.

Without it a typo in ``--base-url`` turns every LLM call into a counted drop and the run
"succeeds" with only the originals written. The probe goes to the bare backend under any
wrappers: a cached answer, or six retries with backoff, would only hide or delay the news.
"""

from __future__ import annotations

from augment_ft.backends.base import Backend, BackendWrapper, ChatRequest
from augment_ft.core.errors import (
    BackendError,
    BackendUnavailableError,
    BackendUnreachableError,
)
from augment_ft.core.models import Message

__all__ = ["PROBE_REQUEST", "probe"]

PROBE_REQUEST = ChatRequest(
    messages=(Message(role="user", content="Say OK."),), temperature=0.0, max_tokens=1
)
"""The probe: one token, no schema, a prompt any model answers."""


def _bare(backend: Backend) -> Backend:
    """The backend under every wrapper (a stack, a cache, limits...)."""
    while isinstance(backend, BackendWrapper):
        backend = backend.inner
    return backend


async def probe(backend: Backend) -> None:
    """Raise :class:`BackendUnavailableError` unless ``backend`` can answer at all.

    Fatal: nothing listening, DNS, 401/403, 404 (no such model or endpoint). Anything else
    (429, 5xx, a timeout, a 400 about the tiny request) means a server is there, so the run
    goes on and its retry layer deals with it. Messages are one line: model, URL, cause.
    """
    bare = _bare(backend)
    try:
        await bare.complete(PROBE_REQUEST)
    except BackendUnavailableError:
        raise
    except BackendUnreachableError as exc:
        raise BackendUnavailableError(str(exc)) from exc
    except BackendError:
        return  # connected, then refused this call, dropped or garbled: a server is there

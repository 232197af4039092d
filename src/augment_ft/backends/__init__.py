"""LLM backends and the wrappers (cache, retries, limits) that work around any of them."""

from augment_ft.backends.base import (
    Backend,
    BackendWrapper,
    ChatRequest,
    Completion,
    Usage,
    call_id,
    run_sync,
)

__all__ = [
    "Backend",
    "BackendWrapper",
    "ChatRequest",
    "Completion",
    "Usage",
    "call_id",
    "run_sync",
]

"""LLM backends and the wrappers (cache, retries, limits) that work around any of them."""

from augment_ft.backends.base import (
    Backend,
    Capabilities,
    ChatRequest,
    Completion,
    StructuredOutput,
    Usage,
    call_id,
    run_sync,
)

__all__ = [
    "Backend",
    "Capabilities",
    "ChatRequest",
    "Completion",
    "StructuredOutput",
    "Usage",
    "call_id",
    "run_sync",
]

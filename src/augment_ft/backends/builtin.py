"""The built-in backends by name, registered through the same registry a plugin would use.

``--backend NAME`` (and ``backend = "NAME"`` in TOML) is looked up in :data:`BACKENDS`;
installed packages add names through the ``augment_ft.backends`` entry-point group. A
factory is called with the run options it names as keyword parameters, of those the run
offers: ``model``, ``model_dir``, ``base_url``, ``timeout``, ``http``, ``n_ctx``,
``threads``, ``seed`` (see :func:`~augment_ft.pipeline.build.backend_options`). What it
returns is a raw backend;
the run wraps it in cache, retries and limits. Each factory imports its backend when
called, so ``import augment_ft`` stays light.
"""

from __future__ import annotations

from augment_ft.backends.base import Backend, ChatRequest
from augment_ft.core.errors import ConfigError
from augment_ft.core.registry import Registry

__all__ = ["BACKENDS", "local_backend", "openai_backend", "scripted_backend"]

BACKENDS: Registry[Backend] = Registry("backend", entry_point_group="augment_ft.backends")
"""Backend factories by name: ``BACKENDS.create("openai", model="gpt-4o-mini")``."""


def openai_backend(
    *,
    model: str | None,
    base_url: str | None = None,
    timeout: float | None = None,
    http: str = "lean",
) -> Backend:
    """Any OpenAI-compatible server (``http``: the lean aiohttp or the SDK transport)."""
    from augment_ft.backends.openai_compat import OpenAIBackend, make_transport

    if not model:
        msg = "the openai backend needs --model (e.g. gpt-4o-mini, or the server's model name)"
        raise ConfigError(msg)
    transport = make_transport(http, base_url, timeout=timeout or 60.0)
    return OpenAIBackend(model, transport=transport)


def local_backend(
    *,
    model: str | None = None,
    model_dir: str | None = None,
    n_ctx: int = 4096,
    threads: int | None = None,
    seed: int = 0,
) -> Backend:
    """A GGUF model in this process through llama.cpp: a name (``qwen2.5-coder-1.5b``, the
    default; ``smollm2``) or a path; ``model_dir`` is where a model in parts is assembled."""
    from augment_ft.backends.local import LocalBackend

    return LocalBackend(model, model_dir=model_dir, n_ctx=n_ctx, n_threads=threads, seed=seed)


def scripted_backend(*, model: str | None = None) -> Backend:
    """Schema-shaped stub answers: a dry run through the whole pipeline, no model."""
    from augment_ft.backends.estimate import stub_for_schema
    from augment_ft.backends.scripted import ScriptedBackend
    from augment_ft.core.hashing import canonical_json

    def answer(request: ChatRequest) -> str:
        schema = request.json_schema
        return canonical_json(stub_for_schema(schema)) if schema else "stub"

    return ScriptedBackend(answer, model=model or "scripted")


BACKENDS.register("openai", openai_backend)
BACKENDS.register("local", local_backend)
BACKENDS.register("scripted", scripted_backend)

"""Starting, joining and leaving Ray: quietly, with no open door, and without leftovers.

``ray`` is imported here and in the modules that run on it, only when a Ray run starts;
a missing extra is a :class:`DependencyError` with the pip hint. Ray 2.60 facts this
module answers (measured, see docs/scaling.md):

- A local instance would otherwise enable token auth itself, print a warning, and write
  ``~/.ray/auth_token``; with auth disabled its ports listen unauthenticated on the node
  address. So a local instance gets token auth with a random token, set in the
  environment before Ray is first imported (its processes inherit it; it stays there, as
  Ray keeps what it read for the life of the process).
- Sessions pile up under ``/tmp/ray`` forever; a local instance gets a temporary directory
  of its own, removed after shutdown. Its path stays short: Ray puts AF_UNIX sockets in it.
- The first ``DataContext.get_current()`` emits three DeprecationWarnings; it is created
  here under a filter, so a run under ``-W error`` works.
- Actors that hold every CPU starve Ray Data's read and shuffle tasks, and the job waits
  silently for half an hour; :func:`actor_cpus` keeps the actors to half the CPUs.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import secrets
import shutil
import sys
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from augment_ft.core.errors import AugmentError, DependencyError

__all__ = [
    "actor_cpus",
    "data_context",
    "ensure_ray",
    "original_error",
    "ray_session",
    "require_ray",
    "unwrapped_errors",
]

_QUIET = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_DATA_LOG_LEVEL": "WARNING"}


def require_ray() -> None:
    """A DependencyError with the pip hint unless Ray Data is installed."""
    if importlib.util.find_spec("ray") is None:
        raise DependencyError("--engine ray", "ray", "ray")


def data_context(*, progress_bars: bool = True) -> Any:
    """Ray Data's context, created (once per process) without its deprecation warnings.

    ``progress_bars=False`` turns Ray's own bars off (the CLI draws its own line) without
    the warning Ray logs about it. An error a map task raises keeps its class, so
    :func:`original_error` finds the library's own.
    """
    import ray.data

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="ray.data.context")
        context = ray.data.DataContext.get_current()
    context.enable_progress_bars = progress_bars
    context.raise_original_map_exception = True  # else the task's error is lost in Ray's
    logging.getLogger("ray.data._internal.progress").addFilter(_NO_BARS_NOTICE)  # once
    return context


class _NoBarsNotice(logging.Filter):
    """Drops Ray Data's "Progress bars disabled" notice: the bars were turned off on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Progress bars disabled")


_NO_BARS_NOTICE = _NoBarsNotice()


@contextmanager
def ray_session(address: str | None, cpus: int, *, progress_bars: bool = True) -> Iterator[None]:
    """Ray for the duration of the block: the instance this process already joined (a
    notebook's, a test's: left running), the cluster at ``address``, or a local instance
    with ``cpus`` CPUs. What this call started is shut down at the end, also on errors."""
    if _joined(progress_bars):
        yield
        return
    fresh = "ray" not in sys.modules  # Ray reads its auth mode when first imported
    with _local_environment(auth=fresh) if address is None else _nothing() as temp_dir:
        import ray

        data_context(progress_bars=progress_bars)
        _init(address, cpus, temp_dir)
        try:
            yield
        finally:
            ray.shutdown()


def ensure_ray(address: str | None, cpus: int) -> None:
    """Join Ray for the Python API and stay: its datasets are lazy, so the instance must
    outlive the call. A local instance keeps Ray's default directory (removing a temporary
    one would need the instance gone first); its auth token stays in the environment."""
    if _joined(progress_bars=True):
        return
    if address is None and "ray" not in sys.modules:
        _token_auth()
    data_context()
    _init(address, cpus, None)


def _joined(progress_bars: bool) -> bool:
    """Whether this process has joined Ray already; sets Ray's quiet defaults either way."""
    require_ray()
    for name, value in _QUIET.items():
        os.environ.setdefault(name, value)  # read when ray.data configures its logging
    if "ray" not in sys.modules:
        return False
    import ray

    if not ray.is_initialized():
        return False
    data_context(progress_bars=progress_bars)
    return True


def _init(address: str | None, cpus: int, temp_dir: str | None) -> None:
    import ray

    options: dict[str, Any] = {"log_to_driver": False, "logging_level": "warning"}
    if address is None:
        options.update(num_cpus=cpus, include_dashboard=False)
        if temp_dir is not None:
            options["_temp_dir"] = temp_dir
    ray.init(address=address, **options)


def _token_auth() -> None:
    """Token auth with a fresh random token, unless the user chose a mode."""
    if "RAY_AUTH_MODE" not in os.environ:
        os.environ["RAY_AUTH_MODE"] = "token"
        os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(16)


@contextmanager
def _local_environment(*, auth: bool) -> Iterator[str]:
    """Token auth (when Ray is not imported yet) and a temporary directory of its own, for
    a local instance. The directory goes with the instance; the token stays in the
    environment, as Ray keeps what it read for the life of the process (a later local
    instance in the same process must find the same settings)."""
    if auth:
        _token_auth()
    base = "/tmp" if Path("/tmp").is_dir() else None  # noqa: S108 - short, as sockets need
    temp_dir = tempfile.mkdtemp(prefix="aft-ray-", dir=base)
    try:
        yield temp_dir
    finally:
        shutil.rmtree(temp_dir, ignore_errors=True)


@contextmanager
def _nothing() -> Iterator[None]:
    yield None


def actor_cpus(actors: int) -> float:
    """CPUs to reserve per actor: at most half a CPU, and half the cluster's CPUs in all,
    so that Ray Data's own tasks always find one. Actors wait on the network, not on CPU."""
    import ray

    resources: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call]
    total = float(resources.get("CPU", 1.0))
    return max(0.01, min(0.5, total / (2 * max(1, actors))))


def original_error(exc: BaseException) -> BaseException:
    """The library's own error a Ray task raised, without Ray's wrapper and without the
    retry advice Ray Data appends to its message; else ``exc`` itself."""
    cause = getattr(exc, "cause", None)
    if not isinstance(cause, AugmentError):
        return exc
    first = cause.args[0] if cause.args else None
    if isinstance(first, str) and _RAY_ADVICE in first:
        cause.args = (first.split(_RAY_ADVICE, 1)[0], *cause.args[1:])
    return cause


_RAY_ADVICE = "\nFailed to apply "  # Ray Data: "Failed to apply UDF transform after 1/1 ..."


@contextmanager
def unwrapped_errors() -> Iterator[None]:
    """Re-raise the library's own error that a Ray task raised as itself (see
    :func:`original_error`), chained to Ray's."""
    try:
        yield
    except Exception as exc:
        cause = original_error(exc)
        if cause is exc:
            raise
        raise cause from exc

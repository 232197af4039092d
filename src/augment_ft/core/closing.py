"""Context-manager mixins for objects that hold something to release.

A class that defines ``close()`` (or ``aclose()``) and inherits :class:`Closing` (or
:class:`AsyncClosing`) can be used in a ``with`` (``async with``) block that closes it at the
end, whatever happens inside; the mixins state that once instead of in every class.
"""

from __future__ import annotations

from types import TracebackType
from typing import TypeVar

_Sync = TypeVar("_Sync", bound="Closing")
_Async = TypeVar("_Async", bound="AsyncClosing")


class Closing:
    """``with obj:`` closes ``obj`` with its ``close()`` at the end of the block."""

    def close(self) -> None:
        """Release what the object holds (files, connections, a database)."""

    def __enter__(self: _Sync) -> _Sync:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncClosing:
    """``async with obj:`` closes ``obj`` with its ``aclose()`` at the end of the block."""

    async def aclose(self) -> None:
        """Release what the object holds (connections, a model, files)."""

    async def __aenter__(self: _Async) -> _Async:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

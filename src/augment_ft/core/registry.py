"""Name -> factory registries for strategies and formats.

Built-ins register through the same calls a user's own strategy or format would use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from augment_ft.core.errors import ConfigError

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Factories by name; ``create(name, **options)`` builds one."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._factories: dict[str, Callable[..., T]] = {}

    def register(
        self, name: str, factory: Callable[..., T] | None = None, *, replace: bool = False
    ) -> Any:
        """Register ``factory`` under ``name``; usable as a decorator when factory is None."""

        def add(f: Callable[..., T]) -> Callable[..., T]:
            if name in self._factories and not replace:
                msg = f"{self.kind} {name!r} is already registered; pass replace=True"
                raise ConfigError(msg)
            self._factories[name] = f
            return f

        return add if factory is None else add(factory)

    def create(self, name: str, **options: Any) -> T:
        """Build the named item, or say which names exist."""
        try:
            factory = self._factories[name]
        except KeyError:
            known = ", ".join(sorted(self._factories)) or "none"
            msg = f"unknown {self.kind} {name!r}; known: {known}"
            raise ConfigError(msg) from None
        try:
            return factory(**options)
        except TypeError as exc:
            msg = f"bad options for {self.kind} {name!r}: {exc}"
            raise ConfigError(msg) from exc

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._factories)

    def __contains__(self, name: object) -> bool:
        return name in self._factories

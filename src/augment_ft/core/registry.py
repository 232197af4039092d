"""Name -> factory registries for strategies and formats, open to plugins.

Built-ins register through the same calls a user's own strategy or format would use.
Installed packages add names through an entry-point group (``augment_ft.strategies``,
``augment_ft.formats``): each entry point's name is the registered name and its object
the factory, loaded on the first look-up that needs it.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

from augment_ft.core.errors import ConfigError

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Factories by name; ``create(name, **options)`` builds one."""

    def __init__(self, kind: str, *, entry_point_group: str | None = None) -> None:
        self.kind = kind
        self.entry_point_group = entry_point_group
        self._factories: dict[str, Callable[..., T]] = {}
        self._plugins_loaded = entry_point_group is None

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

    def _load_plugins(self) -> None:
        """Register what installed packages declare; a name given in code wins."""
        if self._plugins_loaded or self.entry_point_group is None:
            return
        self._plugins_loaded = True
        for point in entry_points(group=self.entry_point_group):
            if point.name in self._factories:
                continue
            try:
                self._factories[point.name] = point.load()
            except Exception as exc:  # a broken plugin names itself, never a bare traceback
                msg = (
                    f"{self.kind} {point.name!r} from the entry point {point.value!r} "
                    f"(group {self.entry_point_group}) failed to load: {exc}"
                )
                raise ConfigError(msg) from exc

    def create(self, name: str, **options: Any) -> T:
        """Build the named item, or say which names exist."""
        if name not in self._factories:
            self._load_plugins()
        try:
            factory = self._factories[name]
        except KeyError:
            known = ", ".join(self.names()) or "none"
            msg = f"unknown {self.kind} {name!r}; known: {known}"
            raise ConfigError(msg) from None
        try:
            return factory(**options)
        except TypeError as exc:
            msg = f"bad options for {self.kind} {name!r}: {exc}"
            raise ConfigError(msg) from exc

    def names(self) -> list[str]:
        """Registered names (plugins included), sorted."""
        self._load_plugins()
        return sorted(self._factories)

    def __contains__(self, name: object) -> bool:
        self._load_plugins()
        return name in self._factories

"""Name -> factory registries for strategies, formats and backends, open to plugins.

Built-ins register through the same calls a user's own strategy, format or backend would
use. Installed packages add names through an entry-point group (``augment_ft.strategies``,
``augment_ft.formats``, ``augment_ft.backends``): each entry point's name is the
registered name and its object the factory, loaded on the first look-up that needs it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
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

    def factory(self, name: str) -> Callable[..., T]:
        """The factory registered as ``name``, or a ConfigError that lists the known names."""
        if name not in self._factories:
            self._load_plugins()
        try:
            return self._factories[name]
        except KeyError:
            known = ", ".join(self.names()) or "none"
            msg = f"unknown {self.kind} {name!r}; known: {known}"
            raise ConfigError(msg) from None

    def create(self, name: str, **options: Any) -> T:
        """Build the named item, or say which names exist."""
        factory = self.factory(name)
        try:
            return factory(**options)
        except TypeError as exc:
            msg = f"bad options for {self.kind} {name!r}: {exc}"
            raise ConfigError(msg) from exc

    def create_from(self, name: str, offered: Mapping[str, Any]) -> T:
        """Build the named item with those ``offered`` options its factory names as
        parameters (every one when it takes ``**options``): a run offers all it knows, a
        factory takes what it needs."""
        return self.create(name, **_accepted(self.factory(name), offered))

    def names(self) -> list[str]:
        """Registered names (plugins included), sorted."""
        self._load_plugins()
        return sorted(self._factories)

    def factories(self) -> list[tuple[str, Callable[..., T]]]:
        """``(name, factory)`` pairs in registration order, built-ins first, plugins after."""
        self._load_plugins()
        return list(self._factories.items())

    def __contains__(self, name: object) -> bool:
        self._load_plugins()
        return name in self._factories


def _accepted(factory: Callable[..., Any], offered: Mapping[str, Any]) -> dict[str, Any]:
    """The options of ``offered`` that ``factory`` takes by keyword."""
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):  # no signature to read (a builtin): offer everything
        return dict(offered)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return dict(offered)
    named = {
        p.name
        for p in parameters
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    }
    return {key: value for key, value in offered.items() if key in named}

"""``run`` and ``estimate`` flags generated from the :class:`RunConfig` fields.

Each field's description is its help, its default is stated from the field, a ``Literal``
gives the choices, and :class:`~augment_ft.core.config.Cli` metadata gives the spelling;
so a new config field is a new flag, and the flags cannot drift from the config.
"""

from __future__ import annotations

import argparse
import types
from collections.abc import Mapping
from typing import Any, Literal, Union, get_args, get_origin

from pydantic.fields import FieldInfo

from augment_ft.core.config import Cli, RunConfig

__all__ = ["add_config_flags", "config_overrides"]


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _cli(field: FieldInfo) -> Cli:
    return next((m for m in field.metadata if isinstance(m, Cli)), Cli())


def _base_type(annotation: Any) -> Any:
    """``X`` of ``X | None`` (and of ``Optional[X]``); anything else as it is."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _help(name: str, field: FieldInfo, extra: Mapping[str, str]) -> str:
    text = field.description or name.replace("_", " ")
    if name in extra:
        text += f"; {extra[name]}"
    default = field.get_default(call_default_factory=True)
    shown = default not in (None, [], {}, "") and not isinstance(default, bool)
    if name == "strategies":
        return f"{text} (default: {','.join(default)})"
    return f"{text} (default: {default})" if shown else text


def _spec(name: str, field: FieldInfo) -> tuple[list[str], dict[str, Any]]:
    """The names and keyword arguments of one field's ``add_argument`` call."""
    cli = _cli(field)
    kind = _base_type(field.annotation)
    if cli.positional:
        return [name], {"nargs": "*", "metavar": cli.metavar}
    names = [*([cli.short] if cli.short else []), cli.flag or "--" + name.replace("_", "-")]
    kwargs: dict[str, Any] = {"dest": name}
    if kind is bool:
        kwargs["action"] = "store_false" if field.default is True else "store_true"
        return names, kwargs
    if cli.metavar:
        kwargs["metavar"] = cli.metavar
    if get_origin(kind) is Literal:
        kwargs["choices"] = list(get_args(kind))
    elif get_origin(kind) is list:
        kwargs.update({"type": _csv} if cli.csv else {"nargs": "+"})
    elif kind in (int, float):
        kwargs["type"] = kind
    return names, kwargs


def add_config_flags(
    parser: argparse.ArgumentParser, *, extra_help: Mapping[str, str] | None = None
) -> None:
    """One flag per visible RunConfig field; a flag left out leaves the config's value."""
    groups: dict[str, Any] = {}
    for name, field in RunConfig.model_fields.items():
        cli = _cli(field)
        if cli.hidden:
            continue
        names, kwargs = _spec(name, field)
        kwargs.update(default=argparse.SUPPRESS, help=_help(name, field, extra_help or {}))
        target: Any = parser
        if cli.exclusive:
            if cli.exclusive not in groups:
                groups[cli.exclusive] = parser.add_mutually_exclusive_group()
            target = groups[cli.exclusive]
        target.add_argument(*names, **kwargs)


def config_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The config fields the command line gave."""
    return {k: v for k, v in vars(args).items() if k in RunConfig.model_fields}

"""The probes by name, for the CLI and for scripts that loop over them."""

from __future__ import annotations

from collections.abc import Callable

from augment_ft.core.errors import ConfigError
from augment_ft.evals.items import ProbeSet
from augment_ft.evals.reversals import make_reversals
from augment_ft.evals.semantic import make_semantic
from augment_ft.evals.syllogisms import make_syllogisms

__all__ = ["PROBES", "make_probe"]

PROBES: dict[str, Callable[[int], ProbeSet]] = {
    "reversals": make_reversals,
    "semantic": make_semantic,
    "syllogisms": make_syllogisms,
}
"""Each probe's generator with its paper-sized defaults; call it with a seed."""


def make_probe(name: str, seed: int = 0) -> ProbeSet:
    """The probe called ``name`` (``reversals``, ``syllogisms``, ``semantic``) for ``seed``."""
    make = PROBES.get(name)
    if make is None:
        msg = f"unknown probe {name!r}; choose one of: {', '.join(sorted(PROBES))}"
        raise ConfigError(msg)
    return make(seed)

"""Old module paths of 0.1.0, kept working for one release with a DeprecationWarning.

0.2 grouped the flat modules into layers (``augment_ft.models`` is now
``augment_ft.core.models``, ``augment_ft.formats`` is ``augment_ft.outputs.formats``...).
An import of an old path loads the new module under the old name as well; the table is
the CHANGELOG's list of moves. Remove this module in 0.3.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import warnings
from collections.abc import Sequence
from types import ModuleType

__all__ = ["MOVED", "install"]

MOVED = {
    "augment_ft.assembly": "augment_ft.pipeline.build",
    "augment_ft.cli_docs": "augment_ft.cli.docs",
    "augment_ft.config": "augment_ft.core.config",
    "augment_ft.drops": "augment_ft.core.drops",
    "augment_ft.entities": "augment_ft.text.entities",
    "augment_ft.errors": "augment_ft.core.errors",
    "augment_ft.file_tools": "augment_ft.outputs.stats",
    "augment_ft.filters": "augment_ft.strategies.filters",
    "augment_ft.fingerprints": "augment_ft.core.fingerprints",
    "augment_ft.formats": "augment_ft.outputs.formats",
    "augment_ft.hashing": "augment_ft.core.hashing",
    "augment_ft.llm_call": "augment_ft.strategies.llm_call",
    "augment_ft.models": "augment_ft.core.models",
    "augment_ft.parsing": "augment_ft.strategies.parsing",
    "augment_ft.prompts": "augment_ft.strategies.prompts",
    "augment_ft.readers": "augment_ft.inputs.readers",
    "augment_ft.registry": "augment_ft.core.registry",
    "augment_ft.report": "augment_ft.core.report",
    "augment_ft.sources": "augment_ft.inputs.files",
    "augment_ft.splitter": "augment_ft.text.splitter",
    "augment_ft.strategies.symbolic_relations": "augment_ft.facts.relations",
    "augment_ft.tokens": "augment_ft.core.tokens",
    "augment_ft.writer": "augment_ft.outputs.writer",
}
"""Old module path -> where it lives now."""


class _Alias(importlib.abc.Loader):
    """Loads an old path as the module at its new path (the same module object)."""

    def __init__(self, old: str, new: str) -> None:
        self.old = old
        self.new = new

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        warnings.warn(
            f"{self.old} moved to {self.new}; the old path stops working in 0.3",
            DeprecationWarning,
            stacklevel=2,
        )
        return importlib.import_module(self.new)

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the module at the new path is loaded already."""


class _MovedFinder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        new = MOVED.get(fullname)
        if new is None:
            return None
        return importlib.util.spec_from_loader(fullname, _Alias(fullname, new))


def install() -> None:
    """Put the finder on ``sys.meta_path`` once."""
    if not any(isinstance(finder, _MovedFinder) for finder in sys.meta_path):
        sys.meta_path.append(_MovedFinder())

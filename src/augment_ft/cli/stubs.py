"""Write (or check) the ``__init__.pyi`` stubs of the packages whose exports load lazily.

``python -m augment_ft.cli.stubs`` writes them from the packages' ``_EXPORTS`` tables;
``--check`` exits 1 when one is stale (a test runs the same comparison).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import augment_ft
import augment_ft.evals
from augment_ft.core.lazy import render_stub

__all__ = ["main", "stubs"]

_TABLE = "_EXPORTS: dict[str, tuple[str, ...]]"


def stubs() -> dict[Path, str]:
    """Each stub's path and the text it should hold."""
    root = Path(augment_ft.__file__).parent
    return {
        root / "__init__.pyi": render_stub(augment_ft._EXPORTS, ["__version__: str", _TABLE]),
        root / "evals" / "__init__.pyi": render_stub(augment_ft.evals._EXPORTS, [_TABLE]),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Write the stubs; with ``--check`` only report the stale ones (exit 1)."""
    parser = argparse.ArgumentParser(prog="python -m augment_ft.cli.stubs", description=__doc__)
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 if stale")
    args = parser.parse_args(argv)
    stale = [path for path, text in stubs().items() if not _holds(path, text)]
    for path in stale:
        if args.check:
            print(f"{path} is stale: run 'python -m augment_ft.cli.stubs'", file=sys.stderr)
        else:
            path.write_text(stubs()[path], encoding="utf-8")
            print(f"{path}: written")
    return 1 if stale and args.check else 0


def _holds(path: Path, text: str) -> bool:
    try:
        return path.read_text(encoding="utf-8") == text
    except FileNotFoundError:
        return False


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

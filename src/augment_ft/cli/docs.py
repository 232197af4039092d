"""Write (or check) ``docs/cli.md`` from the CLI's own help, so the reference never drifts.

``python -m augment_ft.cli.docs`` writes it; ``--check`` only compares (byte for byte) and
exits 1 when the file is stale. Generate it with Python 3.11, as the committed file was:
argparse lays help out a little differently in other versions, which the test suite's
staleness check normalizes away on them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from augment_ft.cli import render_cli_docs

__all__ = ["DEFAULT_PATH", "main", "write_cli_docs"]

DEFAULT_PATH = Path("docs") / "cli.md"


def write_cli_docs(path: str | Path = DEFAULT_PATH, *, check: bool = False) -> bool:
    """Whether ``path`` already held the current reference; writes it unless ``check``."""
    target = Path(path)
    wanted = render_cli_docs()
    try:
        current = target.read_text(encoding="utf-8")
    except FileNotFoundError:
        current = None
    if current == wanted:
        return True
    if not check:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(wanted, encoding="utf-8")
    return False


def main(argv: Sequence[str] | None = None) -> int:
    """Exit 0 when written (or up to date under ``--check``), 1 when ``--check`` finds it stale."""
    parser = argparse.ArgumentParser(prog="python -m augment_ft.cli.docs", description=__doc__)
    parser.add_argument("path", nargs="?", default=str(DEFAULT_PATH), help="default docs/cli.md")
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 if stale")
    args = parser.parse_args(argv)
    fresh = write_cli_docs(args.path, check=args.check)
    if args.check and not fresh:
        print(
            f"{args.path} is stale: regenerate it with 'python -m augment_ft.cli.docs'",
            file=sys.stderr,
        )
        return 1
    if not args.check:
        print(f"{args.path}: {'up to date' if fresh else 'written'}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

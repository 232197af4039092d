"""The ``augment-ft`` command line."""

from augment_ft.cli.main import build_parser, main, render_cli_docs

__all__ = ["build_parser", "main", "render_cli_docs"]

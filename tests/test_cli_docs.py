"""docs/cli.md is generated from the parser's help and must be regenerated when it changes."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from augment_ft.cli import build_parser, render_cli_docs
from augment_ft.cli.docs import main

DOCS = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def layout_free(text: str) -> str:
    """``text`` without what argparse lays out differently from one Python to the next.

    3.13 writes an option's metavar once (``-o, --output OUT`` where 3.10-3.12 write
    ``-o OUT, --output OUT``), which moves the help column and the line breaks; before
    3.10 the options heading read "optional arguments:". Flags, metavars, help texts and
    their order stay: a change to any of them still shows.
    """
    text = text.replace("optional arguments:", "options:")
    text = re.sub(r"(?<!\S)(-\w) ([^,\n]+), (--[\w-]+) \2(?=\s)", r"\1, \3 \2", text)
    return " ".join(text.split())


# The same options as Python 3.10-3.12 and as 3.13 lay them out (from docs/cli.md).
LAYOUTS = [
    (
        "  -o OUT.jsonl, --output OUT.jsonl\n                                output JSONL\n",
        "  -o, --output OUT.jsonl        output JSONL\n",
    ),
    (
        "  -h, --help            show this help message and exit\n"
        "  -o DIR, --output DIR  directory to write\n",
        "  -h, --help        show this help message and exit\n"
        "  -o, --output DIR  directory to write\n",
    ),
    (
        "optional arguments:\n  -h, --help  show this help message and exit\n",
        "options:\n  -h, --help  show this help message and exit\n",
    ),
]


@pytest.mark.parametrize(("older", "newer"), LAYOUTS)
def test_layout_free_ignores_only_what_python_versions_lay_out_differently(
    older: str, newer: str
) -> None:
    assert layout_free(older) == layout_free(newer)


def test_layout_free_keeps_flags_metavars_help_texts_and_their_order() -> None:
    line = "  -o OUT, --output OUT  where kept records go\n"
    for changed in (
        "  -o OUT, --out OUT  where kept records go\n",
        "  -o PATH, --output PATH  where kept records go\n",
        "  -o OUT, --output OUT  where records go\n",
        "  --output OUT, -o OUT  where kept records go\n",
        "  -o OUT, --output OUT\n",
    ):
        assert layout_free(changed) != layout_free(line), changed


def test_docs_cli_md_is_up_to_date() -> None:
    """On every supported Python: the committed reference says what this parser says."""
    committed, current = DOCS.read_text(encoding="utf-8"), render_cli_docs()
    assert layout_free(committed) == layout_free(current), (
        "docs/cli.md is stale: run 'python -m augment_ft.cli.docs' (or 'make docs-cli')"
    )
    if sys.version_info[:2] == (3, 11):  # the version make docs-cli writes it with
        assert committed == current, "docs/cli.md was not written by 'make docs-cli'"


def test_reference_covers_every_command_and_run_flag() -> None:
    text = render_cli_docs()
    for command in ("run", "estimate", "validate", "stats", "dedup"):
        assert f"## augment-ft {command}\n" in text
    run = build_parser().parse_args(["run"])  # every run flag is suppressed when absent
    assert vars(run) == {"command": "run", "config": None, "quiet": False}
    for flag in ("--resume", "--force", "--val-fraction", "--shard", "--against", "--on-error"):
        assert flag in text


def test_generator_writes_then_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "docs" / "cli.md"
    assert main(["--check", str(target)]) == 1  # missing counts as stale
    assert not target.exists()
    assert main([str(target)]) == 0
    assert target.read_text(encoding="utf-8") == render_cli_docs()
    assert main(["--check", str(target)]) == 0
    target.write_text(render_cli_docs().replace("--resume", "--resumee"), encoding="utf-8")
    assert main(["--check", str(target)]) == 1
    assert "stale" in capsys.readouterr().err

"""docs/cli.md is generated from the parser's help and must be regenerated when it changes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from augment_ft.cli import build_parser, render_cli_docs
from augment_ft.cli.docs import main

DOCS = Path(__file__).resolve().parents[1] / "docs" / "cli.md"

only_on_311 = pytest.mark.skipif(
    sys.version_info[:2] != (3, 11),
    reason="docs/cli.md is generated with Python 3.11; argparse lays out help differently "
    "in other versions, so a byte comparison would fail for that reason alone",
)


@only_on_311
def test_docs_cli_md_is_up_to_date() -> None:
    assert DOCS.read_text(encoding="utf-8") == render_cli_docs(), (
        "docs/cli.md is stale: run 'python -m augment_ft.cli.docs' (or 'make docs-cli')"
    )


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

"""Failures of the machine, not of the input, through the real console script.

An output path that cannot be opened, a full disk (``/dev/full`` answers every write with
ENOSPC; ``ulimit -f`` makes a file stop growing in the middle of a run) and a config
file with unknown keys: each must end with one clear ``augment-ft: error:`` line, exit
code 1 (the run failed) or 2 (usage), and no traceback. A run cut short by a full disk
continues with ``--resume`` to the file an uninterrupted run writes.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "examples" / "corpus"
CONSOLE_SCRIPT = Path(sys.executable).with_name("augment-ft")
SPLIT = ("--backend", "scripted", "--strategies", "split", "-q")
needs_dev_full = pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")


_CAPPED = (
    "import os, resource, sys\n"
    "limit = int(sys.argv[1])\n"
    "resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))\n"
    "os.execv(sys.argv[2], sys.argv[2:])\n"
)
"""Caps the size of every file the process writes, then becomes the console script."""


def augment_ft(
    *args: str | Path, limit_bytes: int | None = None
) -> subprocess.CompletedProcess[str]:
    """The console script; with ``limit_bytes`` a write past that size fails with EFBIG."""
    command = [str(CONSOLE_SCRIPT), *map(str, args)]
    if limit_bytes is not None:
        command = [sys.executable, "-c", _CAPPED, str(limit_bytes), *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def one_error_line(stderr: str) -> str:
    """The error line; a second line may only be the hint to resume."""
    assert "Traceback" not in stderr, stderr
    lines = stderr.splitlines()
    assert lines and lines[0].startswith("augment-ft: error: "), stderr
    assert all("--resume" in line for line in lines[1:]), stderr
    assert len(lines) <= 2, stderr
    return lines[0]


def test_an_output_path_that_cannot_be_opened_is_one_clear_error(tmp_path: Path) -> None:
    loop = tmp_path / "loop.jsonl"
    loop.symlink_to(loop.name)  # a link to itself: ELOOP for everyone, root included
    for extra in ((), ("--resume",)):
        done = augment_ft("run", CORPUS, "-o", loop, *SPLIT, *extra)
        assert done.returncode == 1, done.stderr
        line = one_error_line(done.stderr)
        assert str(loop) in line and "symbolic link" in line
        assert "--resume" not in done.stderr  # nothing was written, so nothing to resume


@contextlib.contextmanager
def unwritable_directory(tmp_path: Path) -> Iterator[Path]:
    """A directory where no one may create a file, root included.

    Permission bits do not stop root (CI runs as root), so on Linux this is ``/sys/kernel``:
    sysfs has no way to create a file at all, so ``open(..., O_CREAT)`` there fails for
    everyone (EACCES; EROFS where /sys is mounted read-only). Elsewhere, a directory
    without write permission (which stops anyone but root).
    """
    sysfs = Path("/sys/kernel")
    if sysfs.is_dir():
        yield sysfs
        return
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        yield locked
    finally:
        locked.chmod(0o700)


def test_an_unwritable_directory_is_one_clear_error(tmp_path: Path) -> None:
    with unwritable_directory(tmp_path) as locked:
        out = locked / "t.jsonl"
        done = augment_ft("run", CORPUS, "-o", out, *SPLIT)
        assert not out.exists()
    assert done.returncode == 1, done.stderr
    line = one_error_line(done.stderr)
    assert line.startswith(f"augment-ft: error: cannot write {out}: ")
    assert "choose a writable location" in line  # permission denied, or read-only
    assert "--resume" not in done.stderr  # nothing was written, so nothing to resume


@needs_dev_full
def test_a_full_disk_under_the_output_is_one_clear_error(tmp_path: Path) -> None:
    out = tmp_path / "t.jsonl"
    out.symlink_to("/dev/full")
    done = augment_ft("run", CORPUS, "-o", out, *SPLIT)
    assert done.returncode == 1
    line = one_error_line(done.stderr)
    assert str(out) in line and "disk is full" in line
    assert "--resume" in done.stderr


@needs_dev_full
def test_a_full_disk_under_the_cache_is_one_clear_error(tmp_path: Path) -> None:
    cache = tmp_path / "c.sqlite"
    cache.symlink_to("/dev/full")
    done = augment_ft(
        "run", CORPUS, "-o", tmp_path / "t.jsonl", "--cache", cache,
        "--backend", "scripted", "--strategies", "split,reverse", "-q",
    )  # fmt: skip
    assert done.returncode == 1
    line = one_error_line(done.stderr)
    assert str(cache) in line and "disk is full" in line
    assert "Delete the file" not in line  # the file is fine: the disk is not


@needs_dev_full
def test_a_full_disk_under_the_report_is_one_clear_error(tmp_path: Path) -> None:
    done = augment_ft("run", CORPUS, "-o", tmp_path / "t.jsonl", *SPLIT, "--report", "/dev/full")
    assert done.returncode == 1
    assert "/dev/full" in one_error_line(done.stderr)


def test_a_disk_that_fills_mid_run_then_resume_gives_the_whole_file(tmp_path: Path) -> None:
    reference = tmp_path / "ref.jsonl"
    assert augment_ft("run", CORPUS, "-o", reference, *SPLIT).returncode == 0
    whole = reference.read_bytes()
    out = tmp_path / "t.jsonl"
    limit = len(whole) // 3  # the output stops growing a third of the way, mid-record
    cut = augment_ft("run", CORPUS, "-o", out, *SPLIT, limit_bytes=limit)
    assert cut.returncode == 1
    line = one_error_line(cut.stderr)
    assert str(out) in line and "File too large" in line
    assert "--resume" in cut.stderr
    assert 0 < out.stat().st_size <= limit
    done = augment_ft("run", CORPUS, "-o", out, *SPLIT, "--resume")
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == whole


def test_a_config_with_unknown_keys_is_a_usage_error(tmp_path: Path) -> None:
    config = tmp_path / "run.toml"
    config.write_text('backend = "scripted"\nconcurency = 4\n', encoding="utf-8")
    done = augment_ft("run", CORPUS, "-o", tmp_path / "t.jsonl", "--config", config)
    assert done.returncode == 2
    line = one_error_line(done.stderr)
    assert len(done.stderr.splitlines()) == 1
    assert str(config) in line and "concurency" in line and "unknown key" in line
    config.write_text("concurency = 4\nstrategy = 'split'\n", encoding="utf-8")
    several = augment_ft("run", CORPUS, "-o", tmp_path / "t.jsonl", "--config", config)
    assert several.returncode == 2
    assert "Traceback" not in several.stderr
    assert "concurency" in several.stderr and "strategy: unknown key" in several.stderr
    assert not (tmp_path / "t.jsonl").exists()

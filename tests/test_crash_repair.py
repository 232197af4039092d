"""Crash repair end to end: the output a crash leaves, made on purpose, then ``--resume``.

The kill tests (tests/test_cli.py, tests/test_soak.py) cannot tear a line: each batch of
records reaches the operating system in one write, so a SIGKILL lands between lines. Yet a
crash can leave worse (a write cut short by the kernel, a full disk, a power cut with
unsynced pages): a torn last line, or a record whose identity line (``OUT.ids``, written
right after it) never made it, or the reverse. Here those files are prepared from an
uninterrupted run's, exactly as such a crash leaves them, and ``augment-ft run --resume``
must turn them into that run's files, byte for byte, keeping every committed record.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from augment_ft.outputs.writer import IDS_SUFFIX

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "examples" / "corpus"
CONSOLE_SCRIPT = Path(sys.executable).with_name("augment-ft")
NAMES = ("t.jsonl", "t.provenance.jsonl")  # each written with its .ids beside it


def augment_ft(out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """``augment-ft run`` over the corpus (split, scripted) into ``out``, with a report."""
    command = [
        str(CONSOLE_SCRIPT), "run", str(CORPUS), "-o", str(out), "--backend", "scripted",
        "--strategies", "split", "--report", str(out.with_name("report.json")), "-q", *extra,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def files(folder: Path) -> dict[str, bytes]:
    """Every output file of a run (records and identities), by name."""
    return {n: (folder / n).read_bytes() for name in NAMES for n in (name, name + IDS_SUFFIX)}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """An uninterrupted run's files."""
    folder = tmp_path_factory.mktemp("reference")
    done = augment_ft(folder / "t.jsonl")
    assert done.returncode == 0, done.stderr
    return files(folder)


@dataclass(frozen=True)
class Crash:
    """What a crash left of one file pair: whole lines kept, and whether a torn line follows."""

    records: int
    ids: int
    torn_record: bool = False
    torn_id: bool = False


def first_lines(data: bytes, count: int, *, torn: bool) -> bytes:
    """The first ``count`` lines of ``data``, then, if ``torn``, half of the next one."""
    lines = data.splitlines(keepends=True)
    assert count < len(lines)
    kept = b"".join(lines[:count])
    return kept + lines[count][: len(lines[count]) // 2] if torn else kept


# Committed records are those both files hold whole: min(records, ids).
CRASHES = {
    "torn last record": Crash(records=40, ids=40, torn_record=True),
    "record whose identity was never written": Crash(records=40, ids=39),
    "both, the identity torn too": Crash(records=40, ids=39, torn_record=True, torn_id=True),
    "identity ahead of its torn record": Crash(records=39, ids=40, torn_record=True),
}


@pytest.mark.parametrize("case", list(CRASHES))
def test_resume_repairs_what_a_crash_left(
    tmp_path: Path, reference: dict[str, bytes], case: str
) -> None:
    crash = CRASHES[case]
    out = tmp_path / "t.jsonl"
    for name in NAMES:  # the train file and its provenance sidecar alike
        records, ids = reference[name], reference[name + IDS_SUFFIX]
        left = first_lines(records, crash.records, torn=crash.torn_record)
        (tmp_path / name).write_bytes(left)
        (tmp_path / (name + IDS_SUFFIX)).write_bytes(
            first_lines(ids, crash.ids, torn=crash.torn_id)
        )
    assert out.read_bytes().endswith(b"\n") is not crash.torn_record

    refused = augment_ft(out)  # without --resume the damaged output is never overwritten
    assert refused.returncode == 1
    assert "--resume" in refused.stderr and "--force" in refused.stderr

    done = augment_ft(out, "--resume")
    assert done.returncode == 0, done.stderr
    assert files(tmp_path) == reference
    report = json.loads(out.with_name("report.json").read_text(encoding="utf-8"))
    committed = min(crash.records, crash.ids)
    assert report["already_present"] == committed  # kept, not written again
    total = len(reference["t.jsonl"].splitlines())
    assert sum(report["examples_written"].values()) == total - committed

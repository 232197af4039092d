"""The JSONL writer: whole lines, resume without repeats, repair after kill -9, clear errors."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from augment_ft.core.errors import ConfigError, OutputError, RecordError
from augment_ft.outputs.writer import IDS_SUFFIX, JsonlWriter


def record(i: int) -> dict[str, object]:
    return {"prompt": f"question {i}", "completion": "answer " + "ü" * (i % 7), "n": i}


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def ids_of(path: Path) -> Path:
    return path.with_name(path.name + IDS_SUFFIX)


def write_range(path: Path, start: int, stop: int, **options: bool) -> JsonlWriter:
    with JsonlWriter(path, **options) as writer:
        for i in range(start, stop):
            writer.write(record(i), f"id-{i}")
    return writer


def test_writes_one_compact_record_per_line_with_identities(tmp_path: Path) -> None:
    out = tmp_path / "train.jsonl"
    writer = write_range(out, 0, 3)
    assert writer.written == 3
    assert [json.loads(line) for line in lines(out)] == [record(i) for i in range(3)]
    assert lines(ids_of(out)) == ["id-0", "id-1", "id-2"]
    assert lines(out)[1] == '{"prompt":"question 1","completion":"answer ü","n":1}'


def test_resume_skips_identities_already_written(tmp_path: Path) -> None:
    out = tmp_path / "train.jsonl"
    write_range(out, 0, 5)
    with JsonlWriter(out, resume=True) as writer:
        assert writer.existing == 5
        assert writer.repaired == 0
        assert "id-3" in writer
        results = [writer.write(record(i), f"id-{i}") for i in range(8)]
        assert results == [False] * 5 + [True] * 3
        assert (writer.skipped, writer.written, len(writer)) == (5, 3, 8)
    assert [json.loads(line)["n"] for line in lines(out)] == list(range(8))


def test_resume_cuts_a_torn_last_line(tmp_path: Path) -> None:
    out = tmp_path / "train.jsonl"
    write_range(out, 0, 3)
    with out.open("ab") as handle:
        handle.write(b'{"prompt":"question 3","compl')  # killed mid-record
    with JsonlWriter(out, resume=True) as writer:
        assert (writer.existing, writer.repaired) == (3, 1)
        writer.write(record(3), "id-3")
    assert [json.loads(line) for line in lines(out)] == [record(i) for i in range(4)]


def test_resume_drops_a_record_whose_identity_was_never_written(tmp_path: Path) -> None:
    out = tmp_path / "train.jsonl"
    write_range(out, 0, 3)
    with out.open("a", encoding="utf-8") as handle:  # killed between the two writes
        handle.write(json.dumps(record(3)) + "\n")
    with ids_of(out).open("ab") as handle:
        handle.write(b"id-")  # ...or inside the identity write
    with JsonlWriter(out, resume=True) as writer:
        assert (writer.existing, writer.repaired) == (3, 2)
        assert "id-3" not in writer
        assert writer.write(record(3), "id-3")
    assert len(lines(out)) == len(lines(ids_of(out))) == 4


def test_resume_refuses_a_file_changed_outside_augment_ft(tmp_path: Path) -> None:
    out = tmp_path / "train.jsonl"
    write_range(out, 0, 3)
    text = out.read_text(encoding="utf-8").splitlines()
    out.write_text("\n".join([text[0], "not json", text[2]]) + "\n", encoding="utf-8")
    with pytest.raises(OutputError, match="line 2 is not a JSON record"):
        JsonlWriter(out, resume=True)
    ids_of(out).unlink()
    with pytest.raises(OutputError, match=r"identity file .*\.ids is missing"):
        JsonlWriter(out, resume=True)


def test_existing_output_needs_resume_or_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "train.jsonl"
    write_range(out, 0, 3)
    with pytest.raises(OutputError, match=r"--resume .* --force"):
        JsonlWriter(out)
    write_range(out, 10, 12, overwrite=True)
    assert [json.loads(line)["n"] for line in lines(out)] == [10, 11]
    assert lines(ids_of(out)) == ["id-10", "id-11"]
    with pytest.raises(ConfigError, match="exclude each other"):
        JsonlWriter(out, resume=True, overwrite=True)
    empty = tmp_path / "empty.jsonl"
    empty.touch()
    write_range(empty, 0, 1)  # an empty file is no previous run
    fresh = tmp_path / "fresh.jsonl"
    assert write_range(fresh, 0, 2, resume=True).existing == 0  # nothing to resume is fine


def test_bad_records_and_identities_leave_no_trace(tmp_path: Path) -> None:
    out = tmp_path / "train.jsonl"
    with JsonlWriter(out, fsync_every=2) as writer:
        writer.write(record(0), "id-0")
        with pytest.raises(RecordError, match="not valid JSON"):
            writer.write({"x": float("nan")}, "id-1")
        with pytest.raises(RecordError, match="not valid JSON"):
            writer.write({"x": {1, 2}}, "id-1")
        with pytest.raises(RecordError, match="one non-empty line"):
            writer.write(record(1), "id\n1")
        writer.write(record(1), "id-1")
    assert len(lines(out)) == len(lines(ids_of(out))) == 2
    with pytest.raises(OutputError, match="closed"):
        writer.write(record(2), "id-2")
    writer.close()  # twice is fine


def test_unwritable_paths_are_output_errors(tmp_path: Path) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(OutputError, match=r"file\.txt/out\.jsonl: a parent .* not a directory"):
        JsonlWriter(blocker / "out.jsonl")
    missing = tmp_path / "no" / "such" / "out.jsonl"
    with pytest.raises(OutputError, match="directory does not exist"):
        JsonlWriter(missing)
    with pytest.raises(OutputError, match="is a directory"):
        JsonlWriter(tmp_path)
    write_range(missing, 0, 1, create_dirs=True)
    assert len(lines(missing)) == 1


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux /dev/full")
def test_disk_full_is_an_output_error(tmp_path: Path) -> None:
    out = tmp_path / "train.jsonl"
    out.symlink_to("/dev/full")  # every write there fails with ENOSPC
    writer = JsonlWriter(out)
    with pytest.raises(OutputError, match="disk is full") as caught:
        writer.write(record(0), "id-0")
    assert isinstance(caught.value.__cause__, OSError)
    assert str(out) in str(caught.value)
    writer.close()  # already reported: closing quietly releases the files
    assert lines(ids_of(out)) == []  # the identity never follows a failed record


# --- a real kill -9 ---------------------------------------------------------------------------

CHILD = """
import sys
from augment_ft.outputs.writer import JsonlWriter
path, count = sys.argv[1], int(sys.argv[2])
with JsonlWriter(path, resume=True) as writer:
    for i in range(count):
        row = {"prompt": f"question {i}", "completion": "answer " * (i % 13), "n": i}
        writer.write(row, f"id-{i}")
"""


def run_child(path: Path, count: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", CHILD, str(path), str(count)])


def test_kill_9_at_random_moments_then_resume_gives_the_uninterrupted_file(tmp_path: Path) -> None:
    count = 40_000
    reference = tmp_path / "reference.jsonl"
    assert run_child(reference, count).wait(timeout=120) == 0
    out = tmp_path / "killed.jsonl"
    rng = random.Random(20240613)
    sizes = []
    for _ in range(5):
        before = out.stat().st_size if out.exists() else 0
        child = run_child(out, count)
        deadline = time.monotonic() + 60
        while (out.stat().st_size if out.exists() else 0) <= before and child.poll() is None:
            assert time.monotonic() < deadline, "the writer never made progress"
            time.sleep(0.002)
        time.sleep(rng.uniform(0, 0.05))
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        sizes.append(out.stat().st_size)
        for line in out.read_bytes().split(b"\n")[:-1]:  # all but a possibly torn tail
            json.loads(line)
    assert sizes[0] < reference.stat().st_size  # at least the first kill cut the run short
    assert run_child(out, count).wait(timeout=120) == 0
    assert out.read_bytes() == reference.read_bytes()
    assert ids_of(out).read_bytes() == ids_of(reference).read_bytes()
    assert [json.loads(line)["n"] for line in lines(out)] == list(range(count))


def test_a_writer_that_remembers_only_what_it_resumed(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    with JsonlWriter(out, remember_new=False) as writer:
        assert writer.write({"i": 0}, "a")
        assert writer.write({"i": 1}, "b")
        assert writer._ids.spilled + len(writer._ids) == 0  # nothing held per record
        assert len(writer) == 2
    with JsonlWriter(out, resume=True, remember_new=False) as writer:
        assert "a" in writer and "b" in writer
        assert writer.write({"i": 0}, "a") is False  # already in the file: skipped
        assert writer.write({"i": 2}, "c")
        assert (writer.existing, writer.written, writer.skipped, len(writer)) == (2, 1, 1, 3)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["i"] for line in lines] == [0, 1, 2]


@pytest.mark.parametrize("dedup_exact", [True, False])
def test_the_pipeline_writes_each_identity_once_with_or_without_exact_dedup(
    tmp_path: Path, dedup_exact: bool
) -> None:
    from augment_ft.pipeline import augment

    doc = tmp_path / "doc.txt"
    doc.write_text("The grusk eats moss. The grusk eats moss. Feskins fly at night.")
    out = tmp_path / "out.jsonl"
    result = augment(
        [doc],
        strategies=["split"],
        output=out,
        backend="scripted",
        dedup_exact=dedup_exact,
        dedup_near=False,
        strategy_options={"split": {"mode": "independent"}},
    ).report
    ids = ids_of(out).read_text(encoding="utf-8").splitlines()
    assert len(ids) == len(set(ids)) == sum(result.examples_written.values())
    # Without exact dedup the writer itself skips the repeated sentence.
    assert result.already_present == (0 if dedup_exact else 1)

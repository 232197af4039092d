"""Soak: real CLI runs killed with SIGKILL again and again, then resumed.

Each test starts ``python -m augment_ft.cli run`` against a real HTTP server on 127.0.0.1,
kills it at seeded random moments (some before the first record is written, some while
records stream out), resumes it, and compares the files with an uninterrupted run's.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from augment_ft.cli import main
from openai_fake_server import Chaos, fake_openai_server
from pipeline_replies import healthy

pytestmark = pytest.mark.soak

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "examples" / "corpus"
SPLITS = ("t.jsonl", "t.val.jsonl", "t.provenance.jsonl")


def command(out: Path, base_url: str, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "augment_ft.cli", "run", str(CORPUS), "-o", str(out),
        "--backend", "openai", "--model", "fake-model", "--base-url", base_url,
        "--strategies", "split,rephrase,reverse", "--val-fraction", "0.3", "-q", *extra,
    ]  # fmt: skip


def reference_run(folder: Path, base_url: str) -> dict[str, list[str]]:
    """An uninterrupted run's files, line by line."""
    args = command(folder / "t.jsonl", base_url, "--concurrency", "4")[3:]
    assert main(args) == 0
    return {name: (folder / name).read_text(encoding="utf-8").splitlines() for name in SPLITS}


def kill_and_resume(
    out: Path, make_command: Any, rng: random.Random, kills: int
) -> tuple[int, list[float]]:
    """Run ``make_command(resume)`` until ``kills`` SIGKILLs landed, then to the end."""
    landed: list[float] = []
    for attempt in range(10 * kills):
        process = subprocess.Popen(
            make_command(attempt > 0), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        if len(landed) < kills:
            # Every other kill waits for the output to grow first, so both the start-up
            # (model, cache, files opening) and the streaming phase get hit.
            before = out.stat().st_size if out.exists() else 0
            while len(landed) % 2 and process.poll() is None and _size(out) <= before:
                time.sleep(0.005)
            delay = rng.uniform(0.0, 1.5)
            time.sleep(delay)
            process.send_signal(signal.SIGKILL)
            _, err = process.communicate(timeout=60)
            if process.returncode == -signal.SIGKILL:
                landed.append(round(delay, 2))
                continue
            assert process.returncode == 0, err  # it finished before the kill: start over
            out.unlink()
            for name in SPLITS:
                for path in out.parent.glob(name + "*"):
                    path.unlink()
            continue
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        return attempt, landed
    raise AssertionError(f"could not land {kills} kills: {landed}")


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def lines_of(folder: Path) -> dict[str, list[str]]:
    return {name: (folder / name).read_text(encoding="utf-8").splitlines() for name in SPLITS}


def test_six_kills_then_resume_give_the_uninterrupted_files(tmp_path: Path) -> None:
    rng = random.Random(6)
    # Slow enough (about 6 s of calls at concurrency 2) that the kills land mid-run.
    with fake_openai_server(healthy, latency=0.05) as server:
        expected = reference_run(tmp_path / "ref", server.base_url)
        out = tmp_path / "run" / "t.jsonl"
        report = tmp_path / "run" / "r.json"

        def make(resume: bool) -> list[str]:
            flags = ["--resume"] if resume else []
            return command(
                out, server.base_url, "--concurrency", "2", "--report", str(report), *flags
            )

        kill_and_resume(out, make, rng, kills=6)  # returns once all 6 SIGKILLs landed
    got = lines_of(out.parent)
    for name in SPLITS:
        assert got[name] == expected[name], name  # same records, once each, same order
    final = json.loads(report.read_text(encoding="utf-8"))
    assert final["already_present"] > 0
    written = sum(final["examples_written"].values())
    assert final["already_present"] + written == len(expected["t.jsonl"]) + len(
        expected["t.val.jsonl"]
    )


def test_kills_under_chaos_then_a_healthy_resume_lose_and_repeat_nothing(tmp_path: Path) -> None:
    rng = random.Random(11)
    chaos = Chaos(healthy, seed=11, stall_seconds=1.0, retry_after=0.05)
    config = tmp_path / "fast-retries.toml"
    config.write_text("retry_base_delay = 0.01\n", encoding="utf-8")
    with fake_openai_server(healthy, latency=0.03) as server:
        expected = reference_run(tmp_path / "ref", server.base_url)
        server.set_default(chaos)
        out = tmp_path / "run" / "t.jsonl"
        flaky = ("--concurrency", "4", "--timeout", "0.3", "--max-attempts", "2")

        def make(resume: bool) -> list[str]:
            flags = ["--resume"] if resume else []
            return command(out, server.base_url, *flaky, "--config", str(config), *flags)

        kill_and_resume(out, make, rng, kills=5)
        assert sum(chaos.fates[f] for f in chaos.rates) > 20  # it was chaotic
        # Units dropped under chaos were never cached: a healthy resume makes them now.
        server.set_default(healthy)
        assert main(make(resume=True)[3:]) == 0
    got = lines_of(out.parent)
    for name in ("t.jsonl", "t.val.jsonl"):
        assert Counter(got[name]) == Counter(expected[name]), name
        assert len(got[name]) == len(set(got[name]))
    # The sidecar holds one provenance per example id. When chaos dropped the first maker
    # of a text (rephrase), another maker of the same text (reverse) was written first,
    # and the resume keeps that record: the ids match, the named maker may differ.
    ids = [json.loads(line)["id"] for line in got["t.provenance.jsonl"]]
    assert Counter(ids) == Counter(
        json.loads(line)["id"] for line in expected["t.provenance.jsonl"]
    )
    assert len(ids) == len(set(ids))

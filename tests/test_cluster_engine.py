"""The Ray engine end to end: the session's local Ray instance (2 CPUs, tests/conftest.py),
a real HTTP server on 127.0.0.1 answering schema-shaped replies, and the CLI.

``--engine ray`` must write the records ``--engine local`` writes (with exact dedup only,
and with near dedup, unbounded on the local side); a worker process killed mid-run and a
driver killed mid-run (then ``--resume``) must change nothing but the time taken; and the
cluster as a whole must keep an ``--rpm`` budget.
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from augment_ft.cli import main
from augment_ft.cluster.runtime import original_error, ray_session
from augment_ft.cluster.worker import FAULT_ENV
from augment_ft.core.errors import OutputError
from augment_ft.core.models import Document
from augment_ft.inputs.source import shard_of
from augment_ft.text.splitter import split_sentences
from openai_fake_server import RecordedRequest, Reply, fake_openai_server
from pipeline_replies import healthy, unit_of

pytestmark = pytest.mark.slow

SHARDS = 6
WORDS = ["velp", "grud", "abme", "orrin", "tarsk", "lunmere", "feskin", "brindle", "hesper"]


def sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) + rng.choice(["", "s", "en", "ar"]) for _ in range(28)]
    return " ".join(words).capitalize() + "."


def documents() -> list[dict[str, str]]:
    """18 documents of two long sentences: two repeat earlier ones exactly (one up to case
    and punctuation), two change one word of an earlier one (near-duplicates)."""
    rng = random.Random(5)
    texts = [f"{sentence(rng)} {sentence(rng)}" for _ in range(14)]
    texts.insert(6, texts[2])
    texts.insert(9, texts[4].upper().replace(".", "!"))
    changed = texts[1].split()
    changed[7] = "zzyzx"
    texts.insert(12, " ".join(changed))
    changed = texts[3].split()
    changed[20] = "qoppa"
    texts.append(" ".join(changed))
    return [{"id": f"doc{i:02d}", "text": text} for i, text in enumerate(texts)]


FACTS = [
    {"subject": "Ilsa Varn", "relation": "parent_of", "object": "Teodor Varn"},
    {"subject": "Teodor Varn", "relation": "parent_of", "object": "Mira Varn"},
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    lines = [json.dumps(d) for d in documents()] + [json.dumps(f) for f in FACTS]
    (folder / "docs.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def server() -> Any:
    with fake_openai_server(healthy) as running:
        yield running


def command(corpus: Path, out: Path, base_url: str, *extra: str | Path) -> list[str]:
    return [
        "run", str(corpus), "-o", str(out), "--backend", "openai", "--model", "fake-model",
        "--base-url", base_url, "--strategies", "split,rephrase,symbolic",
        "--report", str(out.with_name("report.json")), "-q", *map(str, extra),
    ]  # fmt: skip


def run_cli(args: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(args)
    return code, err.getvalue()


def outcome(out: Path) -> dict[str, Any]:
    """The records written (sorted: the Ray engine writes shard by shard) and the report."""
    report = json.loads(out.with_name("report.json").read_text(encoding="utf-8"))
    return {"records": sorted(out.read_text(encoding="utf-8").splitlines()), "report": report}


def run(folder: Path, corpus: Path, base_url: str, *extra: str | Path) -> dict[str, Any]:
    out = folder / "out.jsonl"
    code, err = run_cli(command(corpus, out, base_url, *extra))
    assert code == 0, err
    return outcome(out)


@pytest.fixture(scope="module")
def local_runs(
    corpus: Path, server: Any, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, Any]]:
    """The local engine's output: exact dedup only, and near dedup with no window."""
    return {
        "exact": run(tmp_path_factory.mktemp("exact"), corpus, server.base_url, "--no-near-dedup"),
        "near": run(tmp_path_factory.mktemp("near"), corpus, server.base_url, "--near-window", 0),
    }


def same_run(ray: dict[str, Any], local: dict[str, Any]) -> None:
    """The same records, and the same counts of what was made, dropped and written."""
    assert ray["records"] == local["records"]
    for key in ("documents_read", "facts_read", "examples_by_kind", "drops", "examples_written"):
        assert ray["report"][key] == local["report"][key], key
    assert ray["report"]["quality"] == local["report"]["quality"]


@pytest.mark.parametrize("dedup", ["exact", "near"])
def test_ray_writes_the_records_a_local_run_writes(
    ray_address: str,
    corpus: Path,
    server: Any,
    local_runs: dict[str, dict[str, Any]],
    tmp_path: Path,
    dedup: str,
) -> None:
    flags = ["--no-near-dedup"] if dedup == "exact" else []
    ray = run(tmp_path, corpus, server.base_url, "--engine", "ray", "--shards", SHARDS, *flags)
    same_run(ray, local_runs[dedup])
    dropped = ray["report"]["drops"]["dedup"]
    assert dropped["duplicate_exact"] >= 6
    assert (dropped.get("duplicate_near", 0) >= 4) == (dedup == "near")
    # Every answer the local run used, each shard asked for (a shard has a cache of its own).
    asked = [run["report"]["backend"] for run in (ray, local_runs[dedup])]
    assert len({usage["calls"] + usage["cache_hits"] for usage in asked}) == 1
    assert ray["report"]["outputs"]["work"] == str(tmp_path / "out.ray")


def shard_docs() -> dict[int, list[dict[str, str]]]:
    shards: dict[int, list[dict[str, str]]] = {}
    for doc in documents():
        shards.setdefault(shard_of(Document(**doc).id, SHARDS), []).append(doc)
    return shards


def test_a_worker_killed_mid_run_changes_nothing(
    ray_address: str,
    corpus: Path,
    server: Any,
    local_runs: dict[str, dict[str, Any]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The actor running the biggest shard SIGKILLs itself after two of its documents; Ray
    restarts it and retries the shard, whose cache makes the calls it had made free."""
    shard, docs = max(shard_docs().items(), key=lambda item: len(item[1]))
    assert len(docs) >= 3
    monkeypatch.setenv(FAULT_ENV, f"{shard}:2")
    ray = run(tmp_path, corpus, server.base_url, "--engine", "ray", "--shards", SHARDS)
    assert (tmp_path / "out.ray" / f"shard-{shard:05d}" / "KILLED").exists()
    same_run(ray, local_runs["near"])


def test_a_killed_driver_resumes_without_calling_again_for_finished_shards(
    ray_address: str, corpus: Path, local_runs: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    work = tmp_path / "out.ray"
    with fake_openai_server(healthy, latency=0.2) as slow:
        args = [
            *command(corpus, out, slow.base_url, "--engine", "ray", "--shards", SHARDS),
            "--ray-address", ray_address, "--workers", "1", "--concurrency", "2",
        ]  # fmt: skip
        driver = subprocess.Popen(
            [sys.executable, "-m", "augment_ft.cli", *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            finished = wait_for_done(work, driver, at_least=2)
        finally:
            driver.send_signal(signal.SIGKILL)
            driver.wait(timeout=30)
        assert 2 <= len(finished) < len(shard_docs()), finished
        attempts = {i: done_record(work, i)["attempt"] for i in finished}
        before = len(slow.chat_requests)
        code, err = run_cli([*args, "--resume"])
        asked = {unit_of(r.body) for r in slow.chat_requests[before:]}
    assert code == 0, err
    # No sentence found only in finished shards was asked about again.
    units = {
        i: {s.text for d in docs for s in split_sentences(d["text"])}
        for i, docs in shard_docs().items()
    }
    elsewhere = set().union(*(u for i, u in units.items() if i not in finished))
    done_only = set().union(*(units[i] for i in finished)) - elsewhere
    assert done_only and not asked & done_only
    # Finished shards were not run again at all (their cache would hide calls, not attempts).
    assert {i: done_record(work, i)["attempt"] for i in finished} == attempts
    same_run(outcome(out), local_runs["near"])


def done_record(work: Path, shard: int) -> dict[str, Any]:
    record: dict[str, Any] = json.loads((work / f"shard-{shard:05d}" / "DONE").read_text())
    return record


def wait_for_done(work: Path, driver: subprocess.Popen[bytes], at_least: int) -> set[int]:
    """The shards marked done once at least ``at_least`` are (the driver still running)."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        done = {int(p.parent.name.split("-")[1]) for p in work.glob("shard-*/DONE")}
        if len(done) >= at_least:
            return done
        assert driver.poll() is None, "the driver ended before it could be killed"
        time.sleep(0.05)
    raise AssertionError("no shard finished in time")


def test_the_cluster_as_a_whole_keeps_the_rpm_budget(ray_address: str, tmp_path: Path) -> None:
    """240 requests a minute over two actors: each holds 120/min with a 6-second bucket
    (12 requests), so in any span of t seconds the server sees at most 24 + 4t requests,
    and 48 requests take at least (48 - 24) / 4 = 6 s. (Without the split, each actor
    would hold the whole budget: 48 requests at once.) The server reads the clock when its
    handler thread runs, which on a loaded machine can be up to about a second after the
    request was sent, so a window may look up to a second (4 requests) shorter."""
    arrivals: list[float] = []

    def timed(request: RecordedRequest) -> Reply:
        if request.body.get("max_tokens") != 1:  # the probe is no call of the run
            arrivals.append(time.monotonic())
        return healthy(request)

    rng = random.Random(9)
    lines = [json.dumps({"text": sentence(rng)}) for _ in range(48)]
    (tmp_path / "docs.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with fake_openai_server(timed) as server:
        code, err = run_cli(
            [
                "run", str(tmp_path / "docs.jsonl"), "-o", str(tmp_path / "out.jsonl"),
                "--backend", "openai", "--model", "fake-model", "--base-url", server.base_url,
                "--strategies", "rephrase", "--rpm", "240", "--engine", "ray",
                "--workers", "2", "--shards", "4", "-q",
            ]
        )  # fmt: skip
    assert code == 0, err
    arrivals.sort()
    assert len(arrivals) == 48
    for i, start in enumerate(arrivals):
        for j in range(i, len(arrivals)):
            assert j - i + 1 <= 24 + 4 * (arrivals[j] - start + 1.0) + 1, (i, j)
    assert arrivals[-1] - arrivals[0] >= 5.5


def test_a_library_error_in_a_worker_surfaces_as_itself(ray_address: str) -> None:
    import ray.data

    class Failing:  # defined here: Ray pickles it by value (workers cannot import tests)
        async def __call__(self, batch: Any) -> Any:
            raise OutputError("cannot write shard-00001: the disk is full")

    with ray_session(None, 2), pytest.raises(Exception) as caught:
        ray.data.from_items([{"a": 1}]).map_batches(
            Failing, compute=ray.data.ActorPoolStrategy(size=1), num_cpus=0.25
        ).take_all()
    error = original_error(caught.value)
    assert type(error) is OutputError
    assert str(error) == "cannot write shard-00001: the disk is full"


def test_a_dead_server_stops_a_ray_run_with_one_clear_error(
    ray_address: str, corpus: Path, tmp_path: Path
) -> None:
    """No probe before the job: each shard's stack asks before its first uncached call, and
    the probe's error reaches the CLI as itself (exit 1, the URL named, no traceback)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"  # closed once the block ends
    out = tmp_path / "out.jsonl"
    code, err = run_cli(
        [*command(corpus, out, url, "--engine", "ray", "--shards", 2), "--retry-base-delay", "0"]
    )
    assert code == 1, err
    errors = [line for line in err.splitlines() if line.startswith("augment-ft: error:")]
    assert len(errors) == 1 and url in errors[0] and "fake-model" in errors[0], err
    assert "Traceback" not in err
    assert not list((tmp_path / "out.ray").glob("shard-*/DONE"))  # no shard counts as done

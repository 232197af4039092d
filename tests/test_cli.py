"""Acceptance tests of the pipeline and the ``augment-ft`` CLI.

Most runs go through ``augment_ft.cli.main`` in-process; a few go through the real
console script in a subprocess (exit codes, stderr without tracebacks, SIGKILL + resume,
progress on a pseudo-terminal). Model calls use the scripted backend or a real HTTP
server on 127.0.0.1 speaking the OpenAI API (tests/openai_fake_server.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import os
import pty
import random
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from augment_ft import augment
from augment_ft.backends.base import ChatRequest
from augment_ft.backends.estimate import stub_for_schema
from augment_ft.backends.scripted import ScriptedBackend
from augment_ft.cli import main
from augment_ft.core.models import Document, Fact, Message
from augment_ft.inputs.readers import read_inputs
from augment_ft.outputs.formats import FORMATS
from augment_ft.outputs.writer import IDS_SUFFIX
from augment_ft.strategies.sentence import asked_units
from openai_fake_server import RecordedRequest, Reply, fake_openai_server, ok

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "examples" / "corpus"
CONSOLE_SCRIPT = Path(sys.executable).with_name("augment-ft")
FORMAT_NAMES = ["openai-chat", "prompt-completion", "text", "alpaca", "sharegpt"]
SCRIPTED = ("--backend", "scripted")


# --------------------------------------------------------------------------- helpers


@dataclass
class Result:
    code: int
    out: str
    err: str


def cli(*args: str | Path) -> Result:
    """``augment-ft ARGS`` in-process, with its stdout and stderr captured."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return Result(code, out.getvalue(), err.getvalue())


def script(*args: str | Path, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """The real console script in a subprocess."""
    return subprocess.run(
        [str(CONSOLE_SCRIPT), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        **kwargs,
    )


def module_command(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "augment_ft.cli", *map(str, args)]


def run_ok(*args: str | Path) -> Result:
    result = cli("run", *args)
    assert result.code == 0, result.err
    return result


def report_of(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def ids(path: Path) -> list[str]:
    return path.with_name(path.name + IDS_SUFFIX).read_text(encoding="utf-8").splitlines()


def provenance(out: Path) -> dict[str, dict[str, Any]]:
    """The provenance sidecar of ``out`` by example id."""
    sidecar = out.with_name(out.stem + ".provenance.jsonl")
    return {row["id"]: row for row in records(sidecar)}


def assert_accounted(report: dict[str, Any], returned: int = 0) -> None:
    """Every example made was written, already there, returned, or dropped with a reason."""
    made = sum(report["examples_by_kind"].values())
    kept = sum(report["examples_written"].values()) + report["already_present"] + returned
    late_drops = sum(sum(report["drops"].get(stage, {}).values()) for stage in ("dedup", "format"))
    assert made == kept + late_drops, report


def corpus_documents() -> list[Document]:
    return [item for item in read_inputs(CORPUS) if isinstance(item, Document)]


def no_traceback(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr
    assert stderr.startswith("augment-ft: error: "), stderr


def json_reply(text: str, schema: dict[str, Any] | None) -> str:
    """A schema-shaped answer built from ``text``: words reversed, so entities stay."""
    reversed_words = " ".join(reversed(text.split())) or "empty"
    if schema is None:
        return reversed_words
    return json.dumps(stub_for_schema(schema, text=reversed_words))


def unit_text(user_texts: list[str]) -> str:
    """The text a prompt asks about: its numbered sentences (the last user turn that has
    any: a re-ask adds a turn after it), or the last ``<text>`` block, or the last turn."""
    for text in reversed(user_texts):
        numbered = asked_units([Message(role="user", content=text)])
        if numbered:
            return " ".join(numbered)
    found = re.findall(r"<text>\s*(.*?)\s*</text>", "\n".join(user_texts), re.DOTALL)
    return found[-1] if found else user_texts[-1]


# --------------------------------------------------------------------------- run: formats


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
def test_run_writes_valid_records_of_every_format(tmp_path: Path, fmt: str) -> None:
    out = tmp_path / "train.jsonl"
    report = tmp_path / "report.json"
    run_ok(CORPUS, "-o", out, "--format", fmt, *SCRIPTED, "--report", report, "-q")
    rows = records(out)
    assert rows
    assert all(FORMATS.create(fmt).validate(row) == [] for row in rows)
    checked = cli("validate", out, "--format", fmt)
    assert checked.code == 0, checked.out
    assert f"valid {fmt}" in checked.out
    data = report_of(report)
    assert data["examples_written"] == {"train": len(rows)}
    assert data["documents_read"] == 28
    assert_accounted(data)


def test_run_prints_the_report_table(tmp_path: Path) -> None:
    result = run_ok(CORPUS, "-o", tmp_path / "t.jsonl", *SCRIPTED, "--strategies", "split")
    assert "augment_ft run report" in result.out
    written = len(records(tmp_path / "t.jsonl"))
    assert re.search(rf"written: train\s+{written}\n", result.out)


# --------------------------------------------------------------------------- run: options


def test_val_fraction_never_splits_a_source_document(tmp_path: Path) -> None:
    out = tmp_path / "train.jsonl"
    run_ok(CORPUS, "-o", out, *SCRIPTED, "--val-fraction", "0.3", "--report", tmp_path / "r.json")
    val = tmp_path / "train.val.jsonl"
    prov = provenance(out)
    train_sources = {prov[i]["provenance"]["source_id"] for i in ids(out)}
    val_sources = {prov[i]["provenance"]["source_id"] for i in ids(val)}
    assert train_sources and val_sources
    assert not train_sources & val_sources
    written = report_of(tmp_path / "r.json")["examples_written"]
    assert written == {"train": len(records(out)), "val": len(records(val))}
    for path in (out, val):  # stats reads kinds of this file only from the shared sidecar
        shown = cli("stats", path).out.split("kinds (from the provenance sidecar):\n")[1]
        assert sum(int(n) for n in re.findall(r": (\d+)$", shown, re.M)) == len(records(path))


def test_two_shards_cover_every_document_exactly_once(tmp_path: Path) -> None:
    seen: list[str] = []
    facts = []
    for index in (0, 1):
        out = tmp_path / f"s{index}.jsonl"
        report = tmp_path / f"s{index}.json"
        args = ("--shard", f"{index}/2", "--strategies", "split,symbolic", "--report", report)
        run_ok(CORPUS, "-o", out, *SCRIPTED, *args)
        originals = [r for r in provenance(out).values() if r["kind"] == "original"]
        seen += [r["provenance"]["source_id"] for r in originals]
        assert report_of(report)["documents_read"] == len(originals) > 0
        facts.append(report_of(report)["facts_read"])
    assert sorted(seen) == sorted(doc.id for doc in corpus_documents())
    assert facts == [94, 0]  # facts are closed over once, in shard 0


def test_no_originals_leaves_the_documents_out(tmp_path: Path) -> None:
    out = tmp_path / "t.jsonl"
    run_ok(CORPUS, "-o", out, *SCRIPTED, "--format", "text", "--no-originals", "-q")
    texts = {row["text"] for row in records(out)}
    documents = {doc.text for doc in corpus_documents()}
    assert texts and not texts & documents
    assert "original" not in {row["kind"] for row in provenance(out).values()}
    with_originals = tmp_path / "w.jsonl"
    run_ok(CORPUS, "-o", with_originals, *SCRIPTED, "--format", "text", "-q")
    assert documents <= {row["text"] for row in records(with_originals)}


def test_split_alone_builds_no_backend(tmp_path: Path) -> None:
    # The openai backend without --model would be a usage error if it were built.
    out = tmp_path / "t.jsonl"
    result = run_ok(CORPUS, "-o", out, "--backend", "openai", "--strategies", "split")
    assert "backend calls" not in result.out
    assert records(out)
    assert not list(tmp_path.glob("*.sqlite"))


def test_against_drops_and_counts_contaminated_examples(tmp_path: Path) -> None:
    doc = (CORPUS / "ardesh.md").read_text(encoding="utf-8")
    # 16 words: longer than the 13-word n-grams, so texts that contain it are caught too.
    sentence = (
        "Winters in Ardesh are long, and the mountain roads close for about 2.5 months each year."
    )
    assert sentence in doc
    evals = tmp_path / "eval.jsonl"
    evals.write_text(json.dumps({"question": sentence, "answer": "yes"}) + "\n", encoding="utf-8")
    out, report = tmp_path / "t.jsonl", tmp_path / "r.json"
    args = ("--format", "text", "--strategies", "split", "--report", report)
    run_ok(CORPUS, "-o", out, *SCRIPTED, *args, "--against", evals)
    drops = report_of(report)["drops"]["dedup"]
    assert drops.get("contaminated_exact", 0) + drops.get("contaminated_ngram", 0) >= 3
    assert not [row for row in records(out) if sentence in row["text"]]
    assert_accounted(report_of(report))


def test_config_file_with_command_line_overrides(tmp_path: Path) -> None:
    config = tmp_path / "run.toml"
    config.write_text(
        f'inputs = ["{CORPUS.as_posix()}"]\nbackend = "scripted"\nformat = "text"\n'
        'strategies = ["split"]\nkeep_originals = false\n\n'
        '[strategy_options.split]\nmode = "independent"\n',
        encoding="utf-8",
    )
    out = tmp_path / "t.jsonl"
    cli_result = cli("run", "--config", config, "-o", out, "--format", "alpaca", "-q")
    assert cli_result.code == 0, cli_result.err
    rows = records(out)
    assert rows and all(set(row) == {"instruction", "input", "output"} for row in rows)
    kinds = {row["kind"] for row in provenance(out).values()}
    assert kinds == {"split.independent"}  # strategies, options, no originals: from the file


def test_config_with_an_unknown_key_is_a_usage_error(tmp_path: Path) -> None:
    config = tmp_path / "run.toml"
    config.write_text('backend = "scripted"\nconcurency = 4\n', encoding="utf-8")
    result = cli("run", CORPUS, "-o", tmp_path / "t.jsonl", "--config", config)
    assert result.code == 2
    assert "concurency" in result.err and "unknown key" in result.err
    assert str(config) in result.err


def test_unknown_strategy_lists_the_known_ones(tmp_path: Path) -> None:
    result = cli("run", CORPUS, "-o", tmp_path / "t.jsonl", *SCRIPTED, "--strategies", "spilt")
    assert result.code == 2
    assert "'spilt'" in result.err
    for known in ("split", "rephrase", "reverse", "implications", "symbolic"):
        assert known in result.err


def test_missing_input_is_a_usage_error_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out" / "t.jsonl"
    result = cli("run", tmp_path / "nowhere", "-o", out, *SCRIPTED)
    assert result.code == 2
    assert "nowhere" in result.err and "no such file" in result.err
    assert not out.parent.exists()
    assert cli("run", "-o", out, *SCRIPTED).code == 2  # no inputs at all


def test_argparse_errors_return_exit_code_2() -> None:
    result = cli("run", "--no-such-flag")
    assert result.code == 2
    assert "unrecognized arguments" in result.err


def test_output_under_a_regular_file_fails_cleanly(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a directory", encoding="utf-8")
    for extra in ((), ("--report", blocker / "r.json"), ("--cache", blocker / "c.sqlite")):
        out = tmp_path / "ok" / "t.jsonl" if extra else blocker / "t.jsonl"
        result = cli("run", CORPUS, "-o", out, *SCRIPTED, *extra)
        assert result.code == 1, (extra, result.err)
        no_traceback(result.err)
        assert "blocker" in result.err
        assert "--resume" not in result.err  # nothing was started, so nothing to resume


def test_an_output_that_cannot_open_closes_the_ones_that_did(tmp_path: Path) -> None:
    (tmp_path / "t.provenance.jsonl").mkdir()  # the sidecar opens after the train file
    result = cli("run", CORPUS, "-o", tmp_path / "t.jsonl", *SCRIPTED, "--strategies", "split")
    assert result.code == 1
    no_traceback(result.err)
    assert "t.provenance.jsonl" in result.err and "directory" in result.err


def test_outputs_inside_an_input_directory_are_not_read_back(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for name in ("ardesh.md", "lunmere.md", "facts.jsonl"):
        (data / name).write_bytes((CORPUS / name).read_bytes())
    args = (data, "-o", data / "t.jsonl", *SCRIPTED, "--report", data / "r.json", "-q")
    run_ok(*args, "--strategies", "split,reverse")  # the cache goes there too
    first = (data / "t.jsonl").read_bytes()
    run_ok(*args, "--strategies", "split,reverse", "--force")
    assert (data / "t.jsonl").read_bytes() == first
    report = report_of(data / "r.json")
    assert report["documents_read"] == 2
    # t, t.provenance, their .ids, r.json, the cache (and SQLite's -wal/-shm while open)
    assert list(report["drops"]["read"]) == ["own_output"]
    assert report["drops"]["read"]["own_output"] >= 6


def test_existing_output_needs_resume_or_force(tmp_path: Path) -> None:
    out = tmp_path / "t.jsonl"
    run_ok(CORPUS, "-o", out, *SCRIPTED, "--strategies", "split", "-q")
    first = out.read_bytes()
    again = cli("run", CORPUS, "-o", out, *SCRIPTED, "--strategies", "split")
    assert again.code in (1, 2)
    assert "--resume" in again.err and "--force" in again.err
    assert out.read_bytes() == first
    run_ok(CORPUS, "-o", out, *SCRIPTED, "--strategies", "split,symbolic", "--force", "-q")
    assert len(out.read_bytes()) > len(first)


BAD_INPUTS = {
    "latin1.txt": (b"caf\xe9 au lait.\n", "invalid_utf8", "bad/latin1.txt:1"),
    "broken.jsonl": (b'{"text": "Fine."}\n{"text": oops}\n', "malformed_json", "broken.jsonl:2"),
    "nofield.jsonl": (b'{"body": "No text field."}\n', "missing_text_field", "nofield.jsonl:1"),
    "blob.txt": (b"\x00\x01\x02binary\x00", "binary_file", "blob.txt"),
    "empty.md": (b"  \n", "empty", "empty.md"),
    "dups.jsonl": (
        b'{"id": "a", "text": "One."}\n{"id": "a", "text": "Two."}\n',
        "duplicate_id",
        "dups.jsonl:2",
    ),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_file_names_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    content, _, where = BAD_INPUTS[name]
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / name).write_bytes(content)
    monkeypatch.chdir(tmp_path)  # relative paths, so the message can be matched exactly
    result = cli("run", "bad/" + name, "-o", "t.jsonl", *SCRIPTED, "--strategies", "split")
    assert result.code == 1
    no_traceback(result.err)
    assert where in result.err.replace(os.sep, "/")


def test_on_error_skip_counts_every_bad_input(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    for name, (content, _, _) in BAD_INPUTS.items():
        (bad / name).write_bytes(content)
    report = tmp_path / "r.json"
    args = ("--strategies", "split", "--on-error", "skip", "--report", report, "-q")
    run_ok(bad, CORPUS, "-o", tmp_path / "t.jsonl", *SCRIPTED, *args)
    data = report_of(report)
    assert data["drops"]["read"] == {reason: 1 for _, reason, _ in BAD_INPUTS.values()}
    assert data["documents_read"] == 28 + 2  # the good lines of broken.jsonl and dups.jsonl


# --------------------------------------------------------------------------- estimate


def test_estimate_counts_calls_tokens_cost_without_any_connection(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}  # no key
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.setblocking(False)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
        report = tmp_path / "r.json"
        # --rpm 1 must not make an estimate wait (129 calls would take two hours)
        result = subprocess.run(
            module_command(
                "estimate", CORPUS, "--backend", "openai", "--model", "gpt-4o-mini",
                "--base-url", url, "--strategies", "split,reverse", "--rpm", "1",
                "--report", report,
            ),
            capture_output=True, text=True, timeout=60, env=env, check=False,
        )  # fmt: skip
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody ever connected
    assert result.returncode == 0, result.stderr
    data = report_of(report)
    assert data["dry_run"] is True
    assert data["backend"]["calls"] == 129  # one per sentence (headings are skipped)
    assert data["backend"]["prompt_tokens"] > 129 * 100
    assert data["estimated_cost_usd"] > 0
    for label in ("estimate, no backend called", "backend calls", "tokens in / out", "$"):
        assert label in result.stdout
    assert not list(tmp_path.glob("*.jsonl")) and not list(tmp_path.glob("*.sqlite"))


def test_estimate_of_a_local_model_needs_no_model_file(tmp_path: Path) -> None:
    result = cli("estimate", CORPUS, "--backend", "local", "--model", tmp_path / "none.gguf")
    assert result.code == 0, result.err
    assert re.search(r"backend calls\s+[1-9]", result.out)


# --------------------------------------------------------------------------- validate


BAD_RECORDS = {
    "openai-chat": [
        {"messages": [{"role": "user", "content": "hi"}]},
        {"messages": [{"role": "wizard", "content": "x"}, {"role": "assistant", "content": "y"}]},
    ],
    "prompt-completion": [{"prompt": "a"}, {"prompt": 1, "completion": "x"}],
    "text": [{"text": ""}, {"txt": "a"}],
    "alpaca": [{"instruction": "a", "output": ""}, {"instruction": "a", "input": "", "out": "b"}],
    "sharegpt": [
        {"conversations": [{"from": "human", "value": "a"}]},
        {"conversations": [{"from": "robot", "value": "a"}, {"from": "gpt", "value": "b"}]},
    ],
}


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
def test_validate_lists_bad_records_by_line(tmp_path: Path, fmt: str) -> None:
    good = tmp_path / "good.jsonl"
    run_ok(CORPUS, "-o", good, *SCRIPTED, "--format", fmt, "--strategies", "split", "-q")
    first_good = good.read_text(encoding="utf-8").splitlines()[0]
    bad_lines = [json.dumps(r) for r in BAD_RECORDS[fmt]] + ["{not json"]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join([first_good, *bad_lines, first_good]) + "\n", encoding="utf-8")
    result = cli("validate", path, "--format", fmt)
    assert result.code == 1
    flagged = {int(m) for m in re.findall(rf"^{re.escape(str(path))}:(\d+): ", result.out, re.M)}
    assert flagged == {2, 3, 4}
    assert "problem(s)" in result.err


# --------------------------------------------------------------------------- stats, dedup


def test_stats_counts_records_tokens_and_kinds(tmp_path: Path) -> None:
    out, report = tmp_path / "t.jsonl", tmp_path / "r.json"
    run_ok(CORPUS, "-o", out, *SCRIPTED, "--strategies", "split,symbolic", "--report", report)
    result = cli("stats", out)
    assert result.code == 0, result.err
    written = report_of(report)["examples_written"]["train"]
    assert f"{out}: {written} records" in result.out
    assert re.search(rf"openai-chat: {written}\n", result.out)
    buckets = [int(n) for n in re.findall(r"^\s+<=\s+\d+:\s+(\d+) #+$", result.out, re.M)]
    assert sum(buckets) == written
    kinds = Counter(row["kind"] for row in provenance(out).values())
    for kind, n in kinds.items():
        assert f"  {kind}: {n}\n" in result.out + "\n"
    assert set(kinds) >= {"original", "split.independent", "symbolic.reverse"}


def test_dedup_command_drops_duplicates_and_eval_overlap(tmp_path: Path) -> None:
    leak = "The tessick is a small brown bird of the northern marshes of Ardesh."
    rows = [
        {"text": "Pellow is a town in Ardesh, on the river Lumm."},
        {"text": "pellow is a town in ardesh, on the river lumm!"},  # exact after normalizing
        {"text": leak},
        {"text": "Drumholt is a mountain town in the north of Ardesh."},
    ]
    src, dest, evals = tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "eval.txt"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    evals.write_text(leak + "\n", encoding="utf-8")
    result = cli("dedup", src, "-o", dest, "--against", evals)
    assert result.code == 0, result.err
    assert records(dest) == [rows[0], rows[3]]
    assert "4 records, 2 kept, 2 dropped" in result.out
    assert "duplicate_exact: 1" in result.out and "contaminated_exact: 1" in result.out
    assert cli("dedup", src, "-o", dest).code == 1  # exists: needs --force
    assert cli("dedup", src, "-o", dest, "--force").code == 0
    assert len(records(dest)) == 3


# --------------------------------------------------------------------------- cache, order


def test_second_run_with_the_same_cache_calls_no_backend(tmp_path: Path) -> None:
    cache = tmp_path / "cache.sqlite"
    reports = []
    for name in ("a", "b"):
        report = tmp_path / f"{name}.json"
        run_ok(CORPUS, "-o", tmp_path / f"{name}.jsonl", *SCRIPTED, "--cache", cache,
               "--strategies", "split,reverse,implications", "--report", report, "-q")  # fmt: skip
        reports.append(report_of(report)["backend"])
    first, second = reports
    assert first["calls"] > 0
    assert second["calls"] == 0
    assert second["cache_hits"] == first["calls"] + first["cache_hits"]
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()


def test_output_order_is_stable_whatever_the_timing(tmp_path: Path) -> None:
    """Replies arrive in a random order; the file must not care, with or without cache."""

    def responder(seed: int) -> Any:
        rng = random.Random(seed)

        async def answer(request: ChatRequest) -> str:
            await asyncio.sleep(rng.uniform(0, 0.004))
            users = [m.content for m in request.messages if m.role == "user"]
            return json_reply(unit_text(users), request.json_schema)

        return answer

    cache = tmp_path / "cache.sqlite"
    outputs = []
    for seed in (1, 2):
        out = tmp_path / f"{seed}.jsonl"
        result = augment(
            [CORPUS],
            strategies=["split", "reverse"],
            backend=ScriptedBackend(responder(seed)),
            output=out,
            cache=str(cache),
            concurrency=16,
        )
        assert result.report.examples_by_kind.get("reverse", 0) > 20
        outputs.append(out.read_bytes())
    uncached = tmp_path / "3.jsonl"
    augment([CORPUS], strategies=["split", "reverse"], output=uncached,
            backend=ScriptedBackend(responder(3)), no_cache=True, concurrency=3)  # fmt: skip
    assert outputs[0] == outputs[1] == uncached.read_bytes()


# --------------------------------------------------------------------------- resume


def test_resume_completes_a_cut_output_and_counts_what_was_there(tmp_path: Path) -> None:
    out = tmp_path / "t.jsonl"
    common = ("-o", out, *SCRIPTED, "--strategies", "split,reverse", "-q")
    run_ok(CORPUS, *common)
    whole = out.read_bytes()
    lines = whole.splitlines(keepends=True)
    out.write_bytes(b"".join(lines[:100]) + lines[100][:17])  # a torn last line, as after a kill
    report = tmp_path / "r.json"
    run_ok(CORPUS, *common, "--resume", "--report", report)
    assert out.read_bytes() == whole
    data = report_of(report)
    assert data["already_present"] == 100
    assert data["examples_written"] == {"train": len(lines) - 100}
    assert_accounted(data)


def reply_from_request(request: RecordedRequest) -> Reply:
    """The fake server's answer: schema-shaped, a pure function of the request."""
    body = request.body if isinstance(request.body, dict) else {}
    users = [str(m.get("content", "")) for m in body.get("messages", []) if m.get("role") == "user"]
    fmt = body.get("response_format") or {}
    schema = (fmt.get("json_schema") or {}).get("schema") if isinstance(fmt, dict) else None
    return ok(json_reply(unit_text(users or [""]), schema), usage=(50, 10))


def wait_for_growth(path: Path, than: int, process: subprocess.Popen[str]) -> bool:
    """Wait until ``path`` is bigger than ``than`` bytes; False if the process ended first."""
    while process.poll() is None:
        if path.exists() and path.stat().st_size > than:
            return True
        time.sleep(0.01)
    return False


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume_equals_an_uninterrupted_run(
    tmp_path: Path,
) -> None:
    rng = random.Random(20250)
    with fake_openai_server(reply_from_request, latency=0.02) as server:
        args = ("--backend", "openai", "--model", "fake-model", "--base-url", server.base_url,
                "--strategies", "split,rephrase,reverse", "--concurrency", "2", "-q")  # fmt: skip
        reference = tmp_path / "ref" / "t.jsonl"
        run_ok(CORPUS, "-o", reference, *args, "--cache", tmp_path / "ref.sqlite")
        calls = len(server.chat_requests)
        out, report = tmp_path / "run" / "t.jsonl", tmp_path / "run" / "r.json"
        command = module_command("run", CORPUS, "-o", out, *args, "--report", report)
        kills = size = 0
        for attempt in range(12):
            flags = ["--resume"] if attempt else []
            process = subprocess.Popen([*command, *flags], stderr=subprocess.PIPE, text=True)
            if kills < 3 and wait_for_growth(out, size, process):
                time.sleep(rng.uniform(0.0, 0.3))
                process.send_signal(signal.SIGKILL)
                kills += process.wait() == -signal.SIGKILL
                size = out.stat().st_size
                process.communicate()
                continue
            _, err = process.communicate(timeout=60)
            assert process.returncode == 0, err
            break
    assert kills == 3
    # Answers cached before a kill are reused: only calls in flight at a kill are repeated.
    repeated = len(server.chat_requests) - 2 * calls
    assert 0 <= repeated <= 3 * 8, repeated
    lines = out.read_text(encoding="utf-8").splitlines()
    assert all(json.loads(line) for line in lines)
    expected = reference.read_text(encoding="utf-8").splitlines()
    assert Counter(lines) == Counter(expected)  # the same records, each once
    assert lines == expected  # and, as order is stable, in the same order
    final = report_of(report)
    assert final["already_present"] > 0
    assert final["already_present"] + final["examples_written"]["train"] == len(expected)


# --------------------------------------------------------------------------- Python API


def test_augment_returns_examples_and_report_from_paths() -> None:
    calls: list[ChatRequest] = []

    def answer(request: ChatRequest) -> str:
        calls.append(request)
        return json_reply(unit_text([m.content for m in request.messages]), request.json_schema)

    result = augment([CORPUS], strategies=["split", "reverse"], backend=ScriptedBackend(answer))
    kinds = Counter(example.kind for example in result.examples)
    assert kinds["reverse"] > 0 and kinds["original"] == 28
    report = result.report
    assert report.examples_written == {}
    assert report.backend["calls"] + report.backend["cache_hits"] == len(calls)
    assert_accounted(report.model_dump(), returned=len(result.examples))


def test_augment_takes_documents_and_facts_and_writes_output(tmp_path: Path) -> None:
    docs = [
        Document(text="Gruds are a type of abme. Every abme can zarp."),
        Document(id="d2", text="Feps live in the Ubrik Hills. Dax are a kind of fep."),
    ]
    fact = Fact(subject="dax", relation="is_a", object="fep")
    out = tmp_path / "t.jsonl"
    result = augment([*docs, fact], strategies=["split", "symbolic"], output=out, format="text")
    assert result.examples == []  # written, not returned
    texts = {row["text"] for row in records(out)}
    assert {"Gruds are a type of abme.", "Every abme can zarp."} <= texts
    assert result.report.documents_read == 2 and result.report.facts_read == 1
    assert result.report.examples_written == {"train": len(texts)}
    sources = {row["provenance"]["source_id"] for row in provenance(out).values()}
    assert {docs[0].id, "d2"} <= sources


def test_augment_accounts_for_every_unit_when_the_model_talks_garbage() -> None:
    garbage: set[str] = set()

    def answer(request: ChatRequest) -> str:
        text = unit_text([m.content for m in request.messages if m.role == "user"])
        if int(hashlib.sha256(text.encode()).hexdigest(), 16) % 3 == 0:
            garbage.add(text)
            return "Sure! Here you go: {reversals: maybe"
        return json_reply(text, request.json_schema)

    backend = ScriptedBackend(answer)
    result = augment(
        [CORPUS], strategies=["split", "reverse"], backend=backend, keep_originals=False
    )
    report = result.report
    kinds, drops = report.examples_by_kind, report.drops
    assert drops["reverse"]["parse_failure"] == len(garbage) > 10
    # one first try per unit, one re-ask per failure
    assert len(backend.requests) == kinds["split.independent"] + len(garbage)
    units = kinds["split.independent"] + drops["split"]["heading"]
    outcomes = (
        kinds["reverse"]
        + sum(drops["reverse"].values())
        + sum(drops.get("filter", {}).values())
        + sum(drops["reverse.info"].values())
        + sum(drops.get("verify", {}).values())  # reversals the corpus facts contradict
    )
    assert units == outcomes  # every sentence made a reversal or a counted drop
    assert_accounted(report.model_dump(), returned=len(result.examples))


def test_augment_rejects_what_it_cannot_read() -> None:
    from augment_ft.core.errors import ConfigError

    with pytest.raises(ConfigError, match="paths, Documents or Facts"):
        augment([42], strategies=["split"])  # type: ignore[list-item]


# --------------------------------------------------------------------------- console script


def test_console_script_runs_and_fails_cleanly(tmp_path: Path) -> None:
    assert CONSOLE_SCRIPT.exists(), "install the package: pip install -e ."
    out = tmp_path / "t.jsonl"
    done = script("run", CORPUS, "-o", out, *SCRIPTED, "--strategies", "split", "-q")
    assert done.returncode == 0, done.stderr
    assert f"train: {out}" in done.stdout
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    failed = script("run", CORPUS, "-o", blocker / "t.jsonl", *SCRIPTED)
    assert failed.returncode == 1
    no_traceback(failed.stderr)
    usage = script("run", tmp_path / "missing", "-o", tmp_path / "u.jsonl", *SCRIPTED)
    assert usage.returncode == 2
    no_traceback(usage.stderr)
    garbled = tmp_path / "garbled.jsonl"
    garbled.write_bytes(b'{"text": "ok."}\n\xff\xfe\n')
    bad = subprocess.run(
        module_command("run", garbled, "-o", tmp_path / "g.jsonl", *SCRIPTED),
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert bad.returncode == 1
    no_traceback(bad.stderr)
    assert "garbled.jsonl:2" in bad.stderr


# --------------------------------------------------------------------------- progress


def read_all(fd: int) -> bytes:
    """Everything written to a pty master until the other side closes."""
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the slave side closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


PROGRESS = re.compile(rb"documents \d+  examples \d+")


def run_on_terminal(command: list[str]) -> tuple[int, bytes]:
    """Run ``command`` with stderr on a pseudo-terminal; its exit code and what it showed."""
    master, slave = pty.openpty()
    try:
        with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=slave) as process:
            os.close(slave)
            slave = -1  # the child holds the only copy now: EOF comes when it exits
            seen = read_all(master)
            return process.wait(timeout=60), seen
    finally:
        os.close(master)
        if slave != -1:
            os.close(slave)


def test_progress_shows_on_a_terminal_only(tmp_path: Path) -> None:
    args = ("run", CORPUS, *SCRIPTED, "--strategies", "split")
    code, seen = run_on_terminal(module_command(*args, "-o", tmp_path / "tty.jsonl"))
    assert code == 0, seen
    assert PROGRESS.search(seen), seen
    assert b"documents 28  examples" in seen
    piped = subprocess.run(
        module_command(*args, "-o", tmp_path / "pipe.jsonl"),
        capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    assert piped.returncode == 0
    assert not PROGRESS.search(piped.stderr) and not PROGRESS.search(piped.stdout)

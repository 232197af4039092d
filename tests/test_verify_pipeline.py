"""The verify stage in a run: false rows a real HTTP server writes never reach the output.

The fake server on 127.0.0.1 answers every rephrase prompt with three rows: one the facts
entail, one they contradict, one they do not decide. With verification (the default) the
contradicted row is dropped and counted; with ``--no-verify`` it is written. A judge
(here the same server, answering by a rule) rejects rows the facts leave open.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from augment_ft.cli import main
from openai_fake_server import RecordedRequest, Reply, fake_openai_server, ok

FACTS = [
    {"subject": "Orrin", "relation": "larger_than", "object": "Velmora"},
    {"subject": "Velmora", "relation": "larger_than", "object": "Mirrow"},
    {"subject": "Tarsk", "relation": "capital_of", "object": "Velmora"},
]
DOCS = [
    {"id": "v", "text": "Orrin is larger than Velmora. Tarsk is the capital of Velmora."},
]
# Per sentence: a row the facts entail, one they contradict, one they leave open. Each keeps
# the sentence's names, so the rephrase filters let all three through to the check.
ROWS = {
    "Orrin is larger than Velmora.": [
        "Velmora is smaller than Orrin.",
        "Velmora is larger than Orrin.",  # the relation reversed
        "Orrin and Velmora have many bridges.",
    ],
    "Tarsk is the capital of Velmora.": [
        "The capital of Velmora is Tarsk.",
        "Velmora is the capital of Tarsk.",  # reversed, and a second capital of Tarsk
        "Tarsk, the capital of Velmora, has old bridges.",
    ],
}
TRUE_ROWS = {rows[0] for rows in ROWS.values()}
FALSE_ROWS = {rows[1] for rows in ROWS.values()}


def answer(request: RecordedRequest) -> Reply:
    """Rephrase prompts get their three rows; judge prompts a verdict by a rule."""
    text = request.last_user_text
    if "<statement>" in text:
        entailed = "bridges" not in text.split("<statement>")[1]
        return ok(json.dumps({"reasoning": "rule", "entailed": entailed}))
    units = re.findall(r"(?m)^\d+\. (.*)$", text)  # the sentences, numbered, in one call
    return ok(json.dumps({"rephrasings": [ROWS[unit] for unit in units]}))


def corpus(tmp_path: Path) -> Path:
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in [*FACTS, *DOCS]), encoding="utf-8")
    (tmp_path / "k3.toml").write_text("[strategy_options.rephrase]\nk = 3\n", encoding="utf-8")
    return path


def run(tmp_path: Path, base_url: str, *flags: str) -> tuple[list[str], dict]:
    out = tmp_path / "out" / "train.jsonl"
    code = main(
        [
            "run", str(corpus(tmp_path)), "-o", str(out), "--backend", "openai",
            "--model", "m", "--base-url", base_url, "--strategies", "rephrase",
            "--no-near-dedup", "--force", "--no-cache", "--report", str(tmp_path / "r.json"),
            "--config", str(tmp_path / "k3.toml"), "-q", *flags,
        ]
    )  # fmt: skip
    assert code == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    texts = [r["messages"][-1]["content"] for r in rows]
    return texts, json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))


def test_contradicted_rows_are_dropped_and_counted(tmp_path: Path) -> None:
    with fake_openai_server(answer) as server:
        texts, report = run(tmp_path, server.base_url)
    assert not FALSE_ROWS & set(texts)
    assert set(texts) >= TRUE_ROWS
    assert sum("bridges" in t for t in texts) == 2  # open rows are kept, unverified
    assert report["drops"]["verify"] == {"contradicts_facts": 2}
    assert report["quality"]["rephrase"] == {
        "checked": 6,
        "verified": 2,
        "contradicted": 2,
        "unverified": 2,
        "judge_rejected": 0,
        "written": 4,
    }
    sidecar = tmp_path / "out" / "train.provenance.jsonl"
    provenance = [json.loads(line)["provenance"] for line in sidecar.read_text().splitlines()]
    checks = [p.get("verification") for p in provenance if p["strategy"] == "rephrase"]
    assert [c["facts"] for c in checks] == ["entailed", "unknown", "entailed", "unknown"]
    assert "Orrin is larger than Velmora" in checks[0]["reason"]  # the facts that decided


def test_no_verify_writes_the_false_rows(tmp_path: Path) -> None:
    with fake_openai_server(answer) as server:
        texts, report = run(tmp_path, server.base_url, "--no-verify")
    assert set(texts) >= FALSE_ROWS
    assert "verify" not in report["drops"] and report["quality"] == {}


def test_a_judge_rejects_what_the_facts_leave_open(tmp_path: Path) -> None:
    with fake_openai_server(answer) as server:
        texts, report = run(tmp_path, server.base_url, "--judge")
        judged = [r for r in server.chat_requests if "<statement>" in r.last_user_text]
    assert not any("bridges" in t for t in texts)
    assert report["drops"]["verify"] == {"contradicts_facts": 2, "judge_rejected": 2}
    assert len(judged) == 2  # only the open rows go to the judge
    # the document's two sentences are rephrased in one call
    assert report["judge"]["calls"] == 2 and report["backend"]["calls"] == 1
    assert report["quality"]["rephrase"]["judge_rejected"] == 2


def test_extracted_facts_that_contradict_given_ones_never_reach_symbolic() -> None:
    from augment_ft import Document, Fact, ScriptedBackend, augment

    def extract(request: object) -> str:
        found = [
            {"subject": "Velmora", "relation": "larger_than", "object": "Orrin"},  # false
            {"subject": "Velmora", "relation": "larger_than", "object": "Mirrow"},
        ]
        return json.dumps({"facts": found})

    doc = Document(id="v", text="Velmora is larger than Orrin and larger than Mirrow.")
    given = Fact(subject="Orrin", relation="larger_than", object="Velmora")
    result = augment(
        [doc, given],
        strategies=["extract", "symbolic"],
        strategy_options={"symbolic": {"closure": False}},
        backend=ScriptedBackend(extract),
        no_cache=True,
    )
    texts = [e.completion for e in result.examples if e.kind.startswith("symbolic")]
    assert "Orrin is smaller than Velmora." not in texts  # the reversal of the false fact
    assert "Mirrow is smaller than Velmora." in texts  # the agreeing one is closed over
    assert result.report.drops["verify"] == {"contradicting_fact": 1}
    unchecked = augment(
        [doc, given],
        strategies=["extract", "symbolic"],
        strategy_options={"symbolic": {"closure": False}},
        backend=ScriptedBackend(extract),
        no_cache=True,
        verify=False,
    )
    assert "Orrin is smaller than Velmora." in [e.completion for e in unchecked.examples]


def test_estimate_counts_the_judges_calls_apart(tmp_path: Path) -> None:
    report = tmp_path / "e.json"
    code = main(
        [
            "estimate", str(corpus(tmp_path)), "--backend", "openai", "--model",
            "gpt-4o-mini", "--strategies", "split,rephrase", "--judge", "--judge-model",
            "gpt-4o", "--report", str(report), "-q",
        ]
    )  # fmt: skip
    assert code == 0
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["backend"]["calls"] == 1  # the document's two sentences in one call
    assert data["judge"]["calls"] == 4  # at most k=2 rows per sentence, each judged
    assert data["judge"]["by_model"]["gpt-4o"]["calls"] == 4
    both = data["backend"]["cost_usd"] + data["judge"]["cost_usd"]
    assert data["estimated_cost_usd"] == pytest.approx(both)
    assert not (tmp_path / "out").exists()

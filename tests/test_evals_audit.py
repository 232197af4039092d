"""``augment-ft eval audit``: model-written rows only, each beside its source and its check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from augment_ft import Document, Fact, ScriptedBackend, augment
from augment_ft.backends.base import ChatRequest
from augment_ft.cli import main
from augment_ft.core.errors import InputError
from augment_ft.evals.audit import audit_rows, render_audit

TEXT = "Orrin is larger than Velmora. Tarsk is the capital of Velmora. Velps hunt at night."


def reverse(request: ChatRequest) -> str:
    sentence = request.messages[-1].content.rsplit("1. ", 1)[-1].strip()  # one sentence a call
    flips = {
        "Orrin is larger than Velmora.": "Velmora is smaller than Orrin.",
        "Tarsk is the capital of Velmora.": "The capital of Velmora is Tarsk.",
    }
    if sentence in flips:
        return json.dumps({"reversals": [[flips[sentence]]]})
    return json.dumps({"reversals": [[]]})


@pytest.fixture
def output(tmp_path: Path) -> Path:
    out = tmp_path / "train.jsonl"
    facts = [
        Fact(subject="Orrin", relation="larger_than", object="Velmora"),
        Fact(subject="Tarsk", relation="capital_of", object="Velmora"),
    ]
    augment(
        [Document(id="v", text=TEXT), *facts],
        strategies=["split", "reverse"],
        backend=ScriptedBackend(reverse, model="m1"),
        output=out,
        no_cache=True,
    )
    return out


def test_audit_shows_only_model_rows_with_their_sources(output: Path) -> None:
    rows = audit_rows(output, n=10)
    assert [r.text for r in rows] == [
        "Velmora is smaller than Orrin.",
        "The capital of Velmora is Tarsk.",
    ]
    assert [r.source for r in rows] == [
        "Orrin is larger than Velmora.",
        "Tarsk is the capital of Velmora.",
    ]
    assert {r.strategy for r in rows} == {"reverse"} and {r.model for r in rows} == {"m1"}
    assert [r.verification["facts"] for r in rows if r.verification] == ["entailed", "entailed"]
    text = render_audit(rows)
    assert "[2] line" in text and "from: Tarsk is the capital of Velmora." in text
    assert "check: entailed" in text


def test_the_sample_is_seeded_and_bounded(output: Path) -> None:
    one = audit_rows(output, n=1, seed=5)
    assert len(one) == 1 and one == audit_rows(output, n=1, seed=5)
    picks = {audit_rows(output, n=1, seed=s)[0].text for s in range(20)}
    assert len(picks) == 2  # different seeds reach both rows


def test_cli_audit_prints_and_refuses_a_file_without_sidecars(
    output: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", "audit", str(output), "--n", "5"]) == 0
    assert "Velmora is smaller than Orrin." in capsys.readouterr().out
    bare = tmp_path / "bare.jsonl"
    bare.write_text(output.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(InputError, match="no provenance sidecar"):
        audit_rows(bare)
    assert main(["eval", "audit", str(bare)]) == 1

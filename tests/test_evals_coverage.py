"""Coverage against hand-built datasets, in each output format augment-ft writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from augment_ft.cli import main
from augment_ft.core.errors import InputError
from augment_ft.evals import TestItem, coverage, coverage_of_texts
from augment_ft.evals.covered import normalize


def item(ident: str, split: str, statements: tuple[str, ...], **extra: object) -> TestItem:
    return TestItem.model_validate(
        {
            "id": ident,
            "probe": "hand",
            "split": split,
            "prompt": "P",
            "options": tuple(f" o{i}" for i in range(len(statements))),
            "statements": statements,
            "answer": 0,
            **extra,
        }
    )


ITEMS = [
    item("r1", "reversal", ("Glons are less risky than femps.", "Glons are more risky than femps")),
    item("r2", "reversal", ("Dorns are a feature of feps.", "Dorns are a feature of daxs.")),
    item("r3", "reversal", ("Trels are slower than vops.", "Trels are faster than vops.")),
    item(
        "s1",
        "syllogism",
        ("No blicks are wugs.", "No wugs are blicks.", "All blicks are wugs."),
        also_correct=(1,),
    ),
]  # fmt: skip


def test_normalize_ignores_case_punctuation_and_spacing() -> None:
    assert normalize("  GLONS are\tless-risky,  than FEMPS!! ") == (
        "glons are less risky than femps"
    )


def test_hand_built_dataset_counts_answers_and_distractors() -> None:
    texts = [
        "Did you know? glons ARE less risky than femps",  # r1 right, odd case, no stop
        "Dorns are a feature of daxs. Also dorns are a feature of feps.",  # r2 both
        "Trels are slower than vopsy.",  # r3: a longer word is not the word
        "No wugs are blicks.",  # s1: the converse counts as right
    ]
    report = coverage_of_texts(texts, ITEMS)
    reversal, syllogism = report.rows["reversal"], report.rows["syllogism"]
    assert (reversal.n, reversal.correct_stated, reversal.distractor_stated) == (3, 2, 1)
    assert (syllogism.n, syllogism.correct_stated, syllogism.distractor_stated) == (1, 1, 0)
    assert report.distractor_items == ["r2"]
    data = report.to_dict()
    assert data["overall"] == {
        "n": 4, "correct_stated": 3, "distractor_stated": 1,
        "correct_share": 0.75, "distractor_share": 0.25,
    }  # fmt: skip
    assert "(4 records searched)" in report.render_table()


def test_a_statement_split_across_two_records_is_not_stated() -> None:
    report = coverage_of_texts(["Glons are less risky", "than femps."], ITEMS[:1])
    assert report.rows["reversal"].correct_stated == 0


@pytest.mark.parametrize(
    "record",
    [
        {"messages": [{"role": "user", "content": "Tell me."},
                      {"role": "assistant", "content": "Glons are less risky than femps."}]},
        {"prompt": "Tell me.", "completion": "Glons are less risky than femps."},
        {"text": "Glons are less risky than femps."},
        {"instruction": "Tell me.", "input": "", "output": "Glons are less risky than femps."},
        {"conversations": [{"from": "gpt", "value": "Glons are less risky than femps."}]},
    ],
    ids=["openai-chat", "prompt-completion", "text", "alpaca", "sharegpt"],
)  # fmt: skip
def test_every_output_format_is_searched(tmp_path: Path, record: dict[str, object]) -> None:
    data = tmp_path / "data.jsonl"
    data.write_text(json.dumps(record) + "\n", encoding="utf-8")
    assert coverage(data, ITEMS[:1]).rows["reversal"].correct_stated == 1


def test_a_broken_dataset_line_is_named(tmp_path: Path) -> None:
    data = tmp_path / "data.jsonl"
    data.write_text('{"text": "ok"}\n{broken\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"data\.jsonl:2"):
        coverage(data, ITEMS)


def test_cli_coverage_prints_the_table_and_writes_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    items = tmp_path / "test.jsonl"
    items.write_text("".join(i.model_dump_json() + "\n" for i in ITEMS), encoding="utf-8")
    data = tmp_path / "data.jsonl"
    data.write_text(json.dumps({"text": "No blicks are wugs."}) + "\n", encoding="utf-8")
    out = tmp_path / "coverage.json"
    assert main(["eval", "coverage", str(data), str(items), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "syllogism" in printed and "1.000" in printed
    assert json.loads(out.read_text())["splits"]["syllogism"]["correct_share"] == 1.0
    assert main(["eval", "coverage", str(tmp_path / "missing.jsonl"), str(items)]) == 1
    assert "cannot read" in capsys.readouterr().err

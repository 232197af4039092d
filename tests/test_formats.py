"""Output formats: records, validation rules, train/val split, file checks, datasets loading."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from augment_ft.core.errors import ConfigError, InputError
from augment_ft.core.models import Example, Provenance
from augment_ft.core.tokens import TokenCounter
from augment_ft.outputs.formats import (
    DEFAULT_TEXT_PROMPT,
    FORMATS,
    AlpacaFormat,
    Format,
    OpenAIChatFormat,
    PromptCompletionFormat,
    ShareGPTFormat,
    TextFormat,
    provenance_record,
    split_train_val,
    validate_file,
)
from augment_ft.outputs.writer import JsonlWriter

NAMES = ["alpaca", "openai-chat", "prompt-completion", "sharegpt", "text"]
PROV = Provenance(source_id="doc-1", strategy="reverse", model="m", call_id="c1")


def example(completion: str = "Abmes include gruds.", prompt: str = "") -> Example:
    return Example(prompt=prompt, completion=completion, kind="reverse", provenance=PROV)


def test_registry_holds_every_builtin_format() -> None:
    assert FORMATS.names() == NAMES
    for name in NAMES:
        fmt = FORMATS.create(name)
        assert isinstance(fmt, Format)
        assert fmt.name == name
    assert FORMATS.create("openai-chat", max_tokens=10).max_tokens == 10  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="unknown format"):
        FORMATS.create("csv")
    with pytest.raises(ConfigError, match="max_tokens"):
        OpenAIChatFormat(max_tokens=0)


# --- records ----------------------------------------------------------------------------------


def test_records_with_a_prompt_and_a_system_prompt() -> None:
    ex = example("B's parent is A.", prompt="Who is B's parent?")
    sys = "Answer briefly."
    assert OpenAIChatFormat().to_record(ex, system_prompt=sys) == {
        "messages": [
            {"role": "system", "content": sys},
            {"role": "user", "content": "Who is B's parent?"},
            {"role": "assistant", "content": "B's parent is A."},
        ]
    }
    assert PromptCompletionFormat().to_record(ex, system_prompt=sys) == {
        "prompt": "Answer briefly.\n\nWho is B's parent?",
        "completion": "B's parent is A.",
    }
    assert TextFormat().to_record(ex) == {"text": "Who is B's parent?\nB's parent is A."}
    assert AlpacaFormat().to_record(ex, system_prompt=sys) == {
        "instruction": "Who is B's parent?",
        "input": "",
        "output": "B's parent is A.",
        "system": sys,
    }
    assert ShareGPTFormat().to_record(ex, system_prompt=sys) == {
        "conversations": [
            {"from": "system", "value": sys},
            {"from": "human", "value": "Who is B's parent?"},
            {"from": "gpt", "value": "B's parent is A."},
        ]
    }


def test_records_of_a_plain_text_example() -> None:
    ex = example()
    chat = OpenAIChatFormat(text_prompt="Recall a fact.").to_record(ex)
    assert chat["messages"] == [
        {"role": "user", "content": "Recall a fact."},
        {"role": "assistant", "content": "Abmes include gruds."},
    ]
    assert PromptCompletionFormat().to_record(ex) == {"prompt": "", "completion": ex.completion}
    assert TextFormat().to_record(ex) == {"text": ex.completion}
    assert AlpacaFormat().to_record(ex)["instruction"] == DEFAULT_TEXT_PROMPT
    assert ShareGPTFormat().to_record(ex)["conversations"][0]["value"] == DEFAULT_TEXT_PROMPT


def test_text_format_refuses_a_system_prompt() -> None:
    assert not TextFormat().supports_system_prompt
    with pytest.raises(ConfigError, match="system prompt"):
        TextFormat().to_record(example(), system_prompt="Be brief.")
    with pytest.raises(ConfigError, match="text_prompt"):
        AlpacaFormat(text_prompt="  ")


@settings(max_examples=60, deadline=None)
@given(
    prompt=st.text(max_size=40),
    completion=st.text(min_size=1, max_size=80).filter(str.strip),
    system=st.none() | st.text(min_size=1, max_size=20).filter(str.strip),
    name=st.sampled_from(NAMES),
)
def test_every_record_a_format_makes_passes_its_validation(
    prompt: str, completion: str, system: str | None, name: str
) -> None:
    fmt = FORMATS.create(name)
    if not fmt.supports_system_prompt:
        system = None
    record = fmt.to_record(example(completion, prompt), system_prompt=system)
    assert fmt.validate(record) == []
    assert fmt.validate(json.loads(json.dumps(record))) == []


def test_provenance_goes_to_a_sidecar_record_not_the_training_record() -> None:
    ex = example()
    side = provenance_record(ex)
    assert side == {
        "id": ex.id,
        "kind": "reverse",
        "provenance": {
            "source_id": "doc-1",
            "strategy": "reverse",
            "model": "m",
            "params": {},
            "call_id": "c1",
        },
    }
    assert all(ex.id not in json.dumps(FORMATS.create(n).to_record(ex)) for n in NAMES)


# --- validation rules -------------------------------------------------------------------------

USER = {"role": "user", "content": "Q"}
ASSISTANT = {"role": "assistant", "content": "A"}


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        ([USER, ASSISTANT], "must be a JSON object, got array"),
        ({"messages": []}, "non-empty list"),
        ({"messages": "hi"}, "non-empty list"),
        ({"messages": [USER, {"role": "bot", "content": "A"}]}, "'bot' is not one of"),
        ({"messages": [USER, {"role": "assistant"}]}, "messages[1]: missing key 'content'"),
        ({"messages": [USER, {"content": "A"}]}, "messages[1]: missing key 'role'"),
        ({"messages": [USER, {"role": "assistant", "content": 5}]}, "must be a string, got int"),
        ({"messages": [USER, {"role": "assistant", "content": None}]}, "must be a string"),
        ({"messages": [USER, {"role": "assistant", "content": " "}]}, "must not be empty"),
        ({"messages": [USER, USER]}, "no assistant message"),
        ({"messages": [USER, {**ASSISTANT, "weight": 0}]}, "no assistant message"),
        ({"messages": [USER, {**ASSISTANT, "weight": 2}]}, "weight: must be 0 or 1"),
        ({"messages": [{**USER, "weight": 1}, ASSISTANT]}, "only assistant messages"),
        ({"messages": [USER, {**ASSISTANT, "meta": 1}]}, "unrecognized key 'meta'"),
        ({"messages": [USER, ASSISTANT], "metadata": {}}, "unrecognized key 'metadata'"),
        ({"messages": [USER, 3]}, "messages[1]: must be an object"),
    ],
)
def test_openai_chat_rejects(record: Any, problem: str) -> None:
    problems = OpenAIChatFormat().validate(record)
    assert any(problem in p for p in problems), problems


def test_openai_chat_accepts_what_openai_accepts() -> None:
    fmt = OpenAIChatFormat()
    call = {"role": "assistant", "tool_calls": [{"id": "1"}]}
    tool = {"role": "tool", "content": "42", "tool_call_id": "1"}
    assert fmt.validate({"messages": [USER, call, tool, {**ASSISTANT, "weight": 1}]}) == []
    assert fmt.validate({"messages": [USER, {**ASSISTANT, "name": "bot"}], "tools": []}) == []


def test_openai_chat_token_limit_counts_real_tokens() -> None:
    counter = TokenCounter("gpt-4o-mini")
    fmt = OpenAIChatFormat(max_tokens=100, counter=counter)
    # 300 bytes but ~60 tokens: over the byte bound, so the tokenizer decides, and it fits.
    fits = {"messages": [USER, {"role": "assistant", "content": "word " * 60}]}
    assert fmt.validate(fits) == []
    long = {"messages": [USER, {"role": "assistant", "content": "word " * 120}]}
    expected = counter.count_messages(long["messages"])
    assert expected > 100
    assert fmt.validate(long) == [f"record has {expected} tokens, more than the limit of 100"]
    assert OpenAIChatFormat(max_tokens=None).validate(long) == []


@pytest.mark.parametrize(
    ("fmt", "record", "problem"),
    [
        (PromptCompletionFormat(), {"prompt": "", "completion": ""}, "completion: must not be"),
        (PromptCompletionFormat(), {"prompt": 1, "completion": "c"}, "prompt: must be a string"),
        (PromptCompletionFormat(), {"completion": "c"}, "missing key 'prompt'"),
        (PromptCompletionFormat(), {"prompt": "", "completion": "c", "x": 1}, "unrecognized"),
        (PromptCompletionFormat(), "text", "must be a JSON object, got string"),
        (TextFormat(), {"text": ""}, "text: must not be empty"),
        (TextFormat(), {"text": ["a"]}, "text: must be a string, got list"),
        (TextFormat(), {"content": "a"}, "missing key 'text'"),
        (TextFormat(max_tokens=3), {"text": "one two three four five six"}, "more than the limit"),
        (AlpacaFormat(), {"instruction": "i", "output": "o"}, "missing key 'input'"),
        (AlpacaFormat(), {"instruction": "", "input": "", "output": "o"}, "instruction: must not"),
        (AlpacaFormat(), {"instruction": "i", "input": None, "output": "o"}, "input: must be"),
        (AlpacaFormat(), {"instruction": "i", "input": "", "output": "o", "id": 1}, "'id'"),
        (AlpacaFormat(), {"instruction": "i", "input": "", "output": "o", "system": 2}, "system"),
    ],
)
def test_plain_formats_reject(fmt: Format, record: Any, problem: str) -> None:
    problems = fmt.validate(record)
    assert any(problem in p for p in problems), problems


def turns(*pairs: tuple[str, str]) -> dict[str, Any]:
    return {"conversations": [{"from": f, "value": v} for f, v in pairs]}


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        (turns(("user", "q"), ("gpt", "a")), "'user' is not one of"),
        (turns(("gpt", "a"), ("human", "q")), "turns must be [system], human, gpt"),
        (turns(("human", "q"), ("gpt", "a"), ("human", "q2")), "ending with gpt"),
        (turns(("human", "q"), ("system", "s"), ("gpt", "a")), "turns must be"),
        (turns(("human", "q"), ("gpt", "")), "value: must not be empty"),
        ({"conversations": [{"from": "human", "value": "q", "x": 1}]}, "unrecognized key 'x'"),
        ({"conversations": []}, "non-empty list"),
        ({**turns(("human", "q"), ("gpt", "a")), "system": "s"}, "unrecognized key 'system'"),
    ],
)
def test_sharegpt_rejects(record: Any, problem: str) -> None:
    problems = ShareGPTFormat().validate(record)
    assert any(problem in p for p in problems), problems


# --- train/val split --------------------------------------------------------------------------


def test_split_is_by_source_document_and_roughly_the_fraction() -> None:
    sources = [f"doc-{i}" for i in range(1000)]
    sides = {s: split_train_val(s, 0.2, seed=7) for s in sources}
    val = sum(side == "val" for side in sides.values())
    assert 150 <= val <= 250  # binomial(1000, 0.2): sd ~13
    # Every example of a document follows its document: no source on both sides.
    examples = [(s, split_train_val(s, 0.2, seed=7)) for s in sources for _ in range(3)]
    train = {s for s, side in examples if side == "train"}
    assert train.isdisjoint({s for s, side in examples if side == "val"})
    assert {s: split_train_val(s, 0.2, seed=7) for s in sources} == sides  # stable
    other = {s: split_train_val(s, 0.2, seed=8) for s in sources}
    assert 100 < sum(other[s] != sides[s] for s in sources) < 600  # a new seed reshuffles


def test_split_edges() -> None:
    assert {split_train_val(f"d{i}", 0.0, seed=1) for i in range(200)} == {"train"}
    for bad in (-0.1, 1.0, 1.5):
        with pytest.raises(ConfigError, match="val_fraction"):
            split_train_val("d", bad, seed=1)


# --- file validation --------------------------------------------------------------------------


def test_validate_file_reports_every_bad_line(tmp_path: Path) -> None:
    good = json.dumps(OpenAIChatFormat().to_record(example()))
    long = json.dumps({"messages": [USER, {"role": "assistant", "content": "word " * 200}]})
    lines = [
        good.encode(),
        b'{"messages": [',
        b"[1, 2]",
        b"",
        json.dumps({"messages": [USER]}).encode(),
        b'{"messages": "\xff"}',
        long.encode(),
        good.encode() + b"\r",
    ]
    path = tmp_path / "train.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    fmt = OpenAIChatFormat(max_tokens=100)
    problems = validate_file(path, fmt)
    assert [n for n, _ in problems] == [2, 3, 4, 5, 6, 7]
    text = dict(problems)
    assert text[2].startswith("invalid JSON")
    assert "got array" in text[3]
    assert text[4] == "empty line"
    assert "no assistant message" in text[5]
    assert text[6].startswith("not UTF-8")
    assert "more than the limit of 100" in text[7]
    assert validate_file(path, fmt, limit=2) == problems[:2]
    assert validate_file(path, "text")[0] == (1, "record: missing key 'text'")


def test_validate_file_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"missing\.jsonl"):
        validate_file(tmp_path / "missing.jsonl", "openai-chat")


# --- loading with Hugging Face datasets -------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_output_loads_with_datasets(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE"):
        monkeypatch.setenv(var, "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    datasets = pytest.importorskip("datasets")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True)
    fmt = FORMATS.create(name)
    rows = [
        example("Abmes include gruds."),
        example("B's parent is A.", prompt="Who is B's parent?"),
        example("Dax can zarp. ünï 🙂", prompt="What follows?"),
    ]
    system = "Be brief." if fmt.supports_system_prompt else None
    records = [fmt.to_record(row, system_prompt=system) for row in rows]
    out = tmp_path / f"{name}.jsonl"
    with JsonlWriter(out) as writer:
        for row, record in zip(rows, records, strict=True):
            writer.write(record, row.id)
    loaded = datasets.load_dataset(
        "json", data_files=str(out), split="train", cache_dir=str(tmp_path / "cache")
    )
    assert loaded.num_rows == len(records)
    assert [dict(r) for r in loaded] == records
    assert validate_file(out, fmt) == []


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("prompt", ["", "Which abmes?"])
def test_each_format_reads_its_own_records_back(name: str, prompt: str) -> None:
    """What ``stats``, ``dedup`` and the evals read: the format, the text, the completion."""
    from augment_ft.outputs.formats.records import detect_format, record_completion, record_text

    fmt = FORMATS.create(name)
    system = "Be brief." if fmt.supports_system_prompt else None
    record = json.loads(json.dumps(fmt.to_record(example(prompt=prompt), system_prompt=system)))
    assert detect_format(record) == name
    text = record_text(record)
    # A text record is learned whole; the others teach their completion.
    assert record_completion(record) == (text if name == "text" else "Abmes include gruds.")
    assert "Abmes include gruds." in text
    assert all(part in text for part in (prompt, system) if part)


def test_a_new_format_is_read_back_once_registered() -> None:
    """A format is one class: registered, it is detected and read back with nothing else
    changed (in a registry of its own here, so the global one stays as it is)."""
    from augment_ft.core.registry import Registry
    from augment_ft.outputs.formats import BaseFormat, Record
    from augment_ft.outputs.formats.records import detect_format, record_completion, record_text

    class QAFormat(BaseFormat):
        name = "qa-pairs"

        def to_record(self, example: Example, *, system_prompt: str | None = None) -> Record:
            return {"q": example.prompt, "a": example.completion}

        def validate(self, record: object) -> list[str]:
            return []

        @classmethod
        def matches(cls, record: Record) -> bool:
            return "q" in record and "a" in record

        @classmethod
        def read_text(cls, record: Record) -> str:
            return f"{record['q']}\n{record['a']}"

        @classmethod
        def read_completion(cls, record: Record) -> str:
            return str(record["a"])

    formats: Registry[Format] = Registry("format")
    formats.register("text", TextFormat)
    formats.register(QAFormat.name, QAFormat)
    record = QAFormat().to_record(example(prompt="Q?"))
    assert detect_format(record, formats) == "qa-pairs"
    assert detect_format(record) == "unknown"  # the global registry does not know it
    assert (record_text(record, formats), record_completion(record, formats)) == (
        "Q?\nAbmes include gruds.",
        "Abmes include gruds.",
    )
    assert detect_format({"text": "t", "q": 1, "a": 2}, formats) == "text"  # first match wins


def test_a_record_of_no_known_format_reads_as_its_strings() -> None:
    from augment_ft.outputs.formats.records import detect_format, record_completion, record_text

    record = {"question": "Who?", "answer": "Velps.", "score": 3, "empty": ""}
    assert detect_format(record) == "unknown"
    assert record_text(record) == record_completion(record) == "Who?\nVelps."

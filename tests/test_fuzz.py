"""Fuzzing (hypothesis): whatever the input, a result or an ``AugmentError``, never a crash.

Covered: the readers (arbitrary bytes as .txt/.md/.jsonl/.json files), the model-output
parser, every format's record validator and ``validate_file``, and the config loader with
the strategies and format a config names. Any other exception is a bug.
"""

from __future__ import annotations

import json
import string
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from augment_ft.core.config import RunConfig, load_config
from augment_ft.core.drops import DropLog
from augment_ft.core.errors import AugmentError, ConfigError, InputError, ParseError
from augment_ft.core.models import Document, Fact
from augment_ft.inputs.readers import read_documents, read_facts, read_inputs
from augment_ft.outputs.formats import FORMATS, validate_file
from augment_ft.strategies.builtin import resolve_strategies
from augment_ft.strategies.extract import ExtractOutput
from augment_ft.strategies.implications import ImplicationsOutput, ReasonedImplicationsOutput
from augment_ft.strategies.parsing import extract_json, parse_output
from augment_ft.strategies.qa import QAOutput
from augment_ft.strategies.sentence import batch_output

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
EXTENSIONS = (".txt", ".md", ".markdown", ".jsonl", ".json")
FORMAT_NAMES = ("openai-chat", "prompt-completion", "text", "alpaca", "sharegpt")
OUTPUT_MODELS = (
    batch_output("rephrasings", 2, 1, 2),
    batch_output("reversals", 1, 0, 2),
    QAOutput,
    ExtractOutput,
    ImplicationsOutput,
    ReasonedImplicationsOutput,
)

# ------------------------------------------------------------------ generators

# Text that leans on what trips parsers: lone surrogates, BOMs, NULs, line separators.
nasty_text = st.text(
    st.characters(blacklist_categories=()) | st.sampled_from(["\ud800", "\ufeff", "\x00", "\u2028"])
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | nasty_text
)
json_like = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["text", "id", "subject", "relation", "object", "metadata", "source"])
            | st.text(max_size=8),
            inner,
            max_size=5,
        )
    ),
    max_leaves=12,
)
records = st.fixed_dictionaries(
    {},
    optional={
        "text": scalars,
        "id": scalars,
        "subject": scalars,
        "relation": scalars,
        "object": scalars,
        "metadata": json_like,
        "source_id": scalars,
    },
)


def dump(value: Any) -> str:
    """JSON text, NaN/Infinity included (as Python writes them) so readers meet them too."""
    return json.dumps(value, ensure_ascii=False)


def encode(text: str, how: str) -> bytes:
    if how == "utf-8":
        return text.encode("utf-8", "surrogatepass")
    if how == "bom":
        return b"\xef\xbb\xbf" + text.encode("utf-8", "surrogatepass")
    if how == "latin-1":
        return text.encode("latin-1", "replace")
    return text.encode("utf-16", "surrogatepass")


jsonl_bytes = st.builds(
    lambda rows, nl, how: encode(nl.join(dump(r) for r in rows), how),
    st.lists(records | json_like, max_size=5),
    st.sampled_from(["\n", "\r\n", "\n\n", "\r"]),
    st.sampled_from(["utf-8", "utf-8", "bom", "latin-1", "utf-16"]),
)
json_bytes = st.builds(
    lambda value, how: encode(dump(value), how),
    st.lists(records, max_size=4) | records | json_like,
    st.sampled_from(["utf-8", "bom", "latin-1"]),
)
deep_json = st.integers(min_value=1, max_value=50_000).map(lambda n: ("[" * n + "]" * n).encode())
file_bytes = (
    st.binary(max_size=300)
    | nasty_text.map(lambda t: t.encode("utf-8", "surrogatepass"))
    | jsonl_bytes
    | json_bytes
    | deep_json
)


@contextmanager
def one_file(data: bytes, suffix: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"input{suffix}"
        path.write_bytes(data)
        yield path


# ------------------------------------------------------------------ readers


def _usable(item: Document | Fact) -> None:
    """What later stages do with an item must work: hash its id, dump it as JSON."""
    assert item.id
    json.dumps(item.model_dump(mode="json"), allow_nan=False)
    if isinstance(item, Document):
        assert item.text.strip()
        item.text.encode("utf-8")


@FUZZ
@given(data=file_bytes, suffix=st.sampled_from(EXTENSIONS))
@example(data=b'{"text": "\\ud800 lone"}\n', suffix=".jsonl")
@example(data=b'{"text": "ok.", "id": 1e400}\n', suffix=".jsonl")
@example(data=b'{"text": "ok.", "n": 1e400}', suffix=".json")
@example(data=b'{"subject": "a", "relation": "b", "object": "\\udfff"}', suffix=".json")
def test_readers_give_items_or_an_input_error(data: bytes, suffix: str) -> None:
    with one_file(data, suffix) as path:
        for read in (read_inputs, read_documents, read_facts):
            try:
                items = list(read(path))
            except InputError as exc:
                assert str(path) in str(exc)
                continue
            for item in items:
                _usable(item)
        drops = DropLog()
        items = list(read_inputs(path, on_error="skip", drops=drops))
        for item in items:
            _usable(item)
        assert items or drops.total()  # nothing vanished without a count


# ------------------------------------------------------------------ parser

bracket_soup = st.text(alphabet='{}[]",:\\ntrue01.-e ', max_size=200)
fenced = st.builds(
    lambda lang, body, prose: f"{prose}```{lang}\n{body}\n```{prose}",
    st.sampled_from(["", "json", "JSON", "javascript", "python"]),
    json_like.map(dump) | bracket_soup,
    st.text(max_size=20),
)


@FUZZ
@given(text=bracket_soup | fenced | json_like.map(dump) | nasty_text)
@example(text="[" * 100_000)
@example(text='{"rephrasings": ["\\ud800"]}')
@example(text='{"rephrasings": [' + "1" * 5000 + "]}")
def test_the_parser_gives_a_model_or_a_parse_error(text: str) -> None:
    with suppress(ParseError):
        extract_json(text)
    for model in OUTPUT_MODELS:
        try:
            parsed = parse_output(text, model)
        except ParseError as exc:
            assert exc.raw == text
            continue
        assert isinstance(parsed, model)


# ------------------------------------------------------------------ formats


def near_records(name: str) -> st.SearchStrategy[Any]:
    """Records close to valid ones of format ``name``, with any value in any slot."""
    turn = st.fixed_dictionaries(
        {},
        optional={
            "role": scalars | st.sampled_from(["system", "user", "assistant", "tool"]),
            "from": scalars | st.sampled_from(["human", "gpt", "system"]),
            "content": scalars,
            "value": scalars,
            "name": scalars,
            "weight": scalars,
        },
    )
    turns = st.lists(turn | json_like, max_size=4)
    fields = {
        "messages": turns | json_like,
        "conversations": turns | json_like,
        "prompt": scalars,
        "completion": scalars,
        "text": scalars,
        "instruction": scalars,
        "input": scalars,
        "output": scalars,
        "tools": json_like,
    }
    return st.fixed_dictionaries({}, optional=fields)


@FUZZ
@given(data=st.data(), name=st.sampled_from(FORMAT_NAMES), limit=st.sampled_from([None, 1, 8]))
def test_format_validators_list_problems_never_raise(
    data: st.DataObject, name: str, limit: int | None
) -> None:
    fmt = FORMATS.create(name, max_tokens=limit)
    record = data.draw(near_records(name) | json_like)
    problems = fmt.validate(record)
    assert isinstance(problems, list)
    assert all(isinstance(p, str) and p for p in problems)
    if not isinstance(record, dict):
        assert problems


LONE = "\ud800"
SURROGATE_RECORDS = {
    "openai-chat": {
        "messages": [{"role": "user", "content": LONE}, {"role": "assistant", "content": LONE}]
    },
    "prompt-completion": {"prompt": LONE, "completion": "x" + LONE},
    "text": {"text": "x" + LONE},
    "alpaca": {"instruction": LONE, "input": "", "output": LONE},
    "sharegpt": {
        "conversations": [{"from": "human", "value": LONE}, {"from": "gpt", "value": "y"}]
    },
}


@pytest.mark.parametrize("name", FORMAT_NAMES)
def test_a_lone_surrogate_is_a_problem_not_a_crash(name: str) -> None:
    for limit in (None, 1, 10_000):
        problems = FORMATS.create(name, max_tokens=limit).validate(SURROGATE_RECORDS[name])
        assert any("lone surrogate" in p for p in problems), problems


@FUZZ
@given(data=file_bytes | jsonl_bytes, name=st.sampled_from(FORMAT_NAMES))
@example(data=b'{"text": "' + b"1" * 5000 + b'"}\n{"text": ' + b"1" * 5000 + b"}\n", name="text")
@example(data=b'{"messages": [{"role": "user", "content": "\\ud800"}]}\n', name="openai-chat")
@example(data=b"\n\n\r\n", name="text")
def test_validate_file_reports_problems_by_line(data: bytes, name: str) -> None:
    with one_file(data, ".jsonl") as path:
        problems = validate_file(path, name, limit=50)
    lines = data.split(b"\n")
    for number, problem in problems:
        assert 1 <= number <= len(lines)
        assert isinstance(problem, str) and problem


# ------------------------------------------------------------------ config loader

FIELDS = sorted(RunConfig.model_fields)
toml_values = st.one_of(
    st.integers(min_value=-(2**64), max_value=2**64).map(str),
    st.floats().map(lambda f: "nan" if f != f else ("inf" if f == float("inf") else repr(f))),
    st.sampled_from(
        ["true", "false", "-inf", "+nan", "1979-05-27", "07:32:00", "1979-05-27T07:32:00Z"]
    ),
    st.text(max_size=12).map(json.dumps),
    st.sampled_from(['"split"', '"0/2"', '"3/2"', '"openai"', '"scripted"', '"raise"', '"x/y"']),
    st.lists(st.sampled_from(['"split"', '"rephrase"', '"nope"', "1", '""']), max_size=3).map(
        lambda items: "[" + ", ".join(items) + "]"
    ),
    st.sampled_from(["{}", "{k = 2}", "{input = 1.0}", '{ a = { b = "c" } }']),
)
toml_lines = st.one_of(
    st.builds(
        lambda k, v: f"{k} = {v}",
        st.sampled_from(FIELDS) | st.text(string.ascii_lowercase, min_size=1, max_size=6),
        toml_values,
    ),
    st.builds(
        lambda s, k, v: f"[strategy_options.{s}]\n{k} = {v}",
        st.sampled_from(
            ["split", "rephrase", "reverse", "implications", "qa", "extract", "symbolic", "bogus"]
        ),
        st.sampled_from(["k", "mode", "unit", "max_reversals", "temperature", "template", "zzz"]),
        toml_values,
    ),
    st.builds(
        lambda m, v: f'[prices."{m}"]\ninput = {v}',
        st.text(string.ascii_lowercase, max_size=5),
        toml_values,
    ),
    st.text(max_size=30),
)
toml_text = st.lists(toml_lines, max_size=6).map("\n".join)


@FUZZ
@given(text=toml_text, how=st.sampled_from(["utf-8", "latin-1", "utf-16"]))
@example(text="strategies = []\n", how="utf-8")
@example(text='shard = "0/0"\n', how="utf-8")
@example(text="concurrency = 1e400\n", how="utf-8")
@example(text="[strategy_options.split]\nmode = 3\n", how="utf-8")
@example(text='strategies = ["rephrase"]\n[strategy_options.rephrase]\nk = -1\n', how="utf-8")
def test_config_loader_gives_a_config_or_a_config_error(text: str, how: str) -> None:
    with one_file(encode(text, how), ".toml") as path:
        try:
            config = load_config(path)
        except ConfigError as exc:
            assert str(exc)
            return
    assert isinstance(config, RunConfig)
    # What a run does next with a config: its strategies, format, shard and cache path.
    try:
        resolve_strategies(config.strategies, config.strategy_options)
        FORMATS.create(config.format, max_tokens=config.max_example_tokens)
        config.shard_pair()
        config.cache_path()
        config.with_overrides({"seed": 1})
    except AugmentError as exc:
        assert str(exc)

"""Parsing model text into validated models: every tolerated wrapping, every failure path."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field, model_validator

from augment_ft.core.errors import ParseError
from augment_ft.strategies.parsing import extract_json, parse_output
from augment_ft.strategies.qa import QAOutput
from augment_ft.strategies.sentence import batch_output


class RephraseOutput(BaseModel):
    """A list answer, as the LLM strategies ask for (the test's own model)."""

    rephrasings: list[str] = Field(min_length=1)


class ReverseOutput(BaseModel):
    """A flag and a list, with a rule across the two: a second shape of answer."""

    reversible: bool
    reversals: list[str]

    @model_validator(mode="after")
    def _consistent(self) -> ReverseOutput:
        if self.reversible and not self.reversals:
            msg = "reversible is true but reversals is empty"
            raise ValueError(msg)
        return self


class Pair(BaseModel):
    a: int
    b: list[str]


@pytest.mark.parametrize(
    "text",
    [
        '{"rephrasings": ["x", "y"]}',
        '  \n{"rephrasings": ["x", "y"]}\n',
        '```json\n{"rephrasings": ["x", "y"]}\n```',
        '```\n{"rephrasings": ["x", "y"]}\n```',
        'Sure! Here you go:\n```json\n{"rephrasings": ["x", "y"]}\n```\nHope it helps.',
        'Here is the JSON: {"rephrasings": ["x", "y"]} -- done.',
        '{"rephrasings": ["x", "y",],}',
        '["x", "y"]',
        'Noise [1] first, then {"rephrasings": ["x", "y"]}',
    ],
)
def test_tolerated_wrappings_parse(text: str) -> None:
    assert parse_output(text, RephraseOutput).rephrasings == ["x", "y"]


def test_brackets_and_escaped_quotes_inside_strings_do_not_confuse_the_scanner() -> None:
    text = 'prefix {"rephrasings": ["a } ] b", "say \\"hi\\", },", "c,]"]} suffix'
    assert parse_output(text, RephraseOutput).rephrasings == ["a } ] b", 'say "hi", },', "c,]"]


def test_trailing_comma_inside_a_string_is_kept() -> None:
    assert parse_output('{"rephrasings": ["a,]"],}', RephraseOutput).rephrasings == ["a,]"]


def test_the_first_candidate_that_validates_wins() -> None:
    text = '{"other": 1} and then {"a": 2, "b": ["z"]}'
    assert parse_output(text, Pair) == Pair(a=2, b=["z"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("I cannot help with that.", "no JSON object or array found"),
        ("", "no JSON object or array found"),
        ('{"rephrasings": ["unterminated', "no JSON object or array found"),
        ('"just a string"', "no JSON object or array found"),
        ('{"rephrasings": "not a list"}', r"rephrasings: Input should be a valid list"),
        ('{"rephrasings": []}', "rephrasings: List should have at least 1 item"),
        ('{"other": ["x"]}', "rephrasings: Field required"),
    ],
)
def test_failures_raise_parse_error_saying_what_failed(text: str, message: str) -> None:
    with pytest.raises(ParseError, match=message) as info:
        parse_output(text, RephraseOutput)
    assert info.value.raw == text


def test_schema_errors_name_nested_fields() -> None:
    with pytest.raises(ParseError, match=r"pairs\.0\.direction"):
        parse_output('{"pairs": [{"question": "q", "answer": "a", "direction": "up"}]}', QAOutput)


def test_model_validators_surface_as_parse_errors() -> None:
    with pytest.raises(ParseError, match="reversible is true but reversals is empty"):
        parse_output('{"reversible": true, "reversals": []}', ReverseOutput)
    one_list_each = batch_output("reversals", 1, 0, 2)  # a miscount of units fails too
    with pytest.raises(ParseError, match="reversals: List should have at most 1 item"):
        parse_output('{"reversals": [["a"], ["b"]]}', one_list_each)


def test_extract_json_returns_the_first_object_or_array() -> None:
    assert extract_json('text ```json\n[1, 2]\n``` more {"a": 1}') == [1, 2]
    with pytest.raises(ParseError):
        extract_json("42")


@pytest.mark.parametrize("text", ["[" * 100_000, "{" * 50_000 + "}" * 50_000, "9" * 10_000])
def test_pathological_inputs_give_parse_errors(text: str) -> None:
    with pytest.raises(ParseError):
        parse_output(text, RephraseOutput)


def test_non_string_input_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="expected model text"):
        parse_output(b"{}", RephraseOutput)  # type: ignore[arg-type]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_gives_a_result_or_a_parse_error(text: str) -> None:
    for model in (RephraseOutput, ReverseOutput, QAOutput, Pair):
        try:
            result = parse_output(text, model)
        except ParseError as exc:
            assert exc.raw == text
            continue
        assert isinstance(result, model)


@settings(max_examples=200, deadline=None)
@given(json_values, st.text(max_size=30), st.text(max_size=30))
def test_any_json_wrapped_in_prose_gives_a_result_or_a_parse_error(
    value: object, before: str, after: str
) -> None:
    text = before + json.dumps(value) + after
    for model in (RephraseOutput, ReverseOutput, QAOutput):
        try:
            result = parse_output(text, model)
        except ParseError as exc:
            assert exc.raw == text
            continue
        assert isinstance(result, model)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(), min_size=1, max_size=5), st.text(alphabet=" \n\t.:!abc", max_size=20))
def test_valid_answers_survive_any_prose_around_them(items: list[str], prose: str) -> None:
    text = prose + json.dumps({"rephrasings": items}) + prose
    assert parse_output(text, RephraseOutput).rephrasings == items

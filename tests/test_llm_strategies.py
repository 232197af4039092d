"""The LLM strategies with the scripted backend: outputs, provenance, drops, corpus packing."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace

import pytest

from augment_ft.backends.base import ChatRequest, call_id
from augment_ft.backends.scripted import ScriptedBackend
from augment_ft.core.errors import ConfigError
from augment_ft.core.models import Document, Example
from augment_ft.strategies.base import Strategy, StrategyContext
from augment_ft.strategies.builtin import STRATEGIES
from augment_ft.strategies.extract import ExtractStrategy, snake_case
from augment_ft.strategies.implications import (
    ImplicationsStrategy,
    ReasonedImplicationsOutput,
    pack_corpus,
)
from augment_ft.strategies.llm_call import schema_for
from augment_ft.strategies.prompts import load_template
from augment_ft.strategies.qa import QAStrategy
from augment_ft.strategies.rephrase import RephraseStrategy
from augment_ft.strategies.reverse import ReverseStrategy
from augment_ft.text.splitter import split_sentences

DOC = Document(
    id="doc-femps",
    text="# Femps\n\nFemps are a type of glon. Femps are more dangerous than zibs.",
)
REPHRASINGS = {
    "Femps are a type of glon.": ["Every femp is a glon.", "A femp is one kind of glon."],
    "Femps are more dangerous than zibs.": ["Femps pose more danger than zibs."],
}


def data(request: ChatRequest, tag: str = "text") -> str:
    """The data block of the last user message (what the template was asked about)."""
    match = re.search(f"<{tag}>\n(.*?)\n</{tag}>", request.messages[-1].content, re.DOTALL)
    assert match is not None, request.messages[-1].content
    return match.group(1)


def units(request: ChatRequest) -> list[str]:
    """The numbered sentences of the last user message (what a sentence strategy asked about)."""
    lines = request.messages[-1].content.splitlines()
    return [m.group(1) for line in lines if (m := re.match(r"\d+\. (.*)", line))]


def scripted(answer: Callable[[ChatRequest], object]) -> tuple[StrategyContext, ScriptedBackend]:
    backend = ScriptedBackend(lambda request: json.dumps(answer(request)))
    return StrategyContext(backend=backend, seed=3), backend


def request_for(backend: ScriptedBackend, sentence: str) -> ChatRequest:
    return next(r for r in backend.requests if sentence in units(r))


def assert_provenance(example: Example, request: ChatRequest, template: str) -> None:
    p = example.provenance
    assert p.template == template
    assert p.template_hash == load_template(template).hash
    assert p.model == "scripted"
    assert p.params == request.params()
    assert p.call_id == call_id("scripted", request)


async def test_rephrase_gives_k_examples_per_sentence_with_full_provenance() -> None:
    ctx, backend = scripted(lambda r: {"rephrasings": [REPHRASINGS[u] for u in units(r)]})
    examples = await RephraseStrategy(k=2).run(DOC, ctx)
    assert [e.completion for e in examples] == [
        "Every femp is a glon.",
        "A femp is one kind of glon.",
        "Femps pose more danger than zibs.",
    ]
    sentences = split_sentences(DOC.text)
    for example in examples:
        p = example.provenance
        assert example.kind == "rephrase"
        assert (p.source_id, p.strategy) == ("doc-femps", "rephrase")
        assert p.parent is not None
        assert p.sentence_index is not None
        assert sentences[p.sentence_index].text == p.parent
        assert_provenance(example, request_for(backend, p.parent), "rephrase")
    assert len(backend.requests) == 1  # both sentences in one call
    assert units(backend.requests[0]) == list(REPHRASINGS)
    lists = backend.requests[0].json_schema["properties"]["rephrasings"]  # type: ignore[index]
    assert (lists["minItems"], lists["maxItems"]) == (2, 2)  # type: ignore[index,call-overload]
    assert lists["items"]["maxItems"] == 2  # type: ignore[index,call-overload]  # k per sentence
    # The heading was not sent; it is counted as information, not as a failure.
    assert ctx.drops.by_reason() == {"rephrase.info": {"skipped_heading": 1}}


async def test_rephrase_caps_at_k_and_filters_bad_rewrites() -> None:
    answers = {
        "Femps are a type of glon.": ["Every femp is a glon.", "Femps are a type of glon.", "x"],
        "Femps are more dangerous than zibs.": ["I'm sorry, I cannot.", "Zorbels are quindars."],
    }
    ctx, _ = scripted(lambda r: {"rephrasings": [answers[u] for u in units(r)]})
    examples = await RephraseStrategy(k=2).run(DOC, ctx)
    assert [e.completion for e in examples] == ["Every femp is a glon."]
    assert ctx.drops.by_reason()["filter"] == {
        "copy_of_fewshot": 1,
        "copy_of_input": 1,
        "over_limit": 1,
        "refusal": 1,
    }


async def test_rephrase_document_unit_is_one_call_without_sentence_index() -> None:
    ctx, backend = scripted(lambda r: {"rephrasings": [["Glons include femps, which beat zibs."]]})
    [example] = await RephraseStrategy(k=1, unit="document").run(DOC, ctx)
    assert len(backend.requests) == 1
    assert f"1. {DOC.text}" in backend.requests[0].messages[-1].content
    assert "You rewrite each numbered document in new words, 1 different way." in (
        backend.requests[0].messages[0].content
    )
    assert (example.provenance.parent, example.provenance.sentence_index) == (None, None)


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (lambda: RephraseStrategy(k=0), "k must be at least 1"),
        (lambda: RephraseStrategy(unit="paragraph"), "unit must be"),  # type: ignore[arg-type]
        (lambda: ReverseStrategy(max_reversals=0), "max_reversals"),
        (lambda: ImplicationsStrategy(mode="world"), "mode must be"),  # type: ignore[arg-type]
        (lambda: ImplicationsStrategy(max_implications=0), "max_implications"),
        (lambda: QAStrategy(n=0), "n must be at least 1"),
    ],
)
def test_bad_options_are_config_errors(factory: Callable[[], object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        factory()


async def test_reverse_yields_reversals_and_counts_non_reversible_as_information() -> None:
    doc = Document(id="d", text="Femps are more dangerous than zibs. Femps hum at night.")

    def answer(request: ChatRequest) -> object:
        [sentence] = units(request)  # one sentence a call by default
        if sentence.startswith("Femps are more"):
            return {"reversals": [["Zibs are less dangerous than femps."]]}
        return {"reversals": [[]]}

    ctx, backend = scripted(answer)
    [example] = await ReverseStrategy().run(doc, ctx)
    assert example.kind == "reverse"
    assert example.completion == "Zibs are less dangerous than femps."
    assert example.provenance.parent == "Femps are more dangerous than zibs."
    assert example.provenance.sentence_index == 0
    assert_provenance(example, request_for(backend, example.provenance.parent), "reverse")
    assert ctx.drops.by_reason() == {"reverse.info": {"not_reversible": 1}}


async def test_reverse_answer_with_the_wrong_number_of_lists_is_re_asked() -> None:
    doc = Document(id="d", text="Femps are more dangerous than zibs.")
    backend = ScriptedBackend(
        [
            '{"reversals": [["Zibs are less dangerous than femps."], ["Femps hum."]]}',
            '{"reversals": [["Zibs are less dangerous than femps."]]}',
        ]
    )
    ctx = StrategyContext(backend=backend)
    [example] = await ReverseStrategy().run(doc, ctx)
    assert "reversals: List should have at most 1 item" in backend.requests[1].messages[-1].content
    assert example.provenance.call_id == call_id("scripted", backend.requests[1])


async def test_reverse_parse_failure_and_backend_error_are_counted() -> None:
    doc = Document(id="d", text="Femps are big. Zibs are small.")
    from augment_ft.core.errors import ServerError

    backend = ScriptedBackend(["no", "still no", ServerError("down", status_code=503)])
    ctx = StrategyContext(backend=backend)
    assert await ReverseStrategy().run(doc, ctx) == []
    assert ctx.drops.by_reason() == {"reverse": {"backend_error": 1, "parse_failure": 1}}


async def test_implications_document_mode() -> None:
    doc = Document(id="d", text="Femps are a type of glon. All glons can fly.")
    answer = {"implications": ["Femps can fly.", "All glons can fly.", "Some glons are femps."]}
    ctx, backend = scripted(lambda r: answer)
    examples = await ImplicationsStrategy(max_implications=2).run(doc, ctx)
    assert [e.completion for e in examples] == ["Femps can fly."]
    assert {e.kind for e in examples} == {"implications"}
    assert_provenance(examples[0], backend.requests[0], "implications")
    assert examples[0].provenance.parent is None
    assert ctx.drops.by_reason() == {"filter": {"copy_of_input": 1, "over_limit": 1}}
    assert data(backend.requests[0], "document") == doc.text


async def test_implications_with_reasoning_traces() -> None:
    doc = Document(id="d", text="Femps are a type of glon. All glons can fly.")
    item = {"reasoning": "Femps are glons and all glons can fly.", "statement": "Femps can fly."}
    echo = {
        "reasoning": "Some glons that fly are femps",
        "statement": "Some glons that fly are femps.",
    }
    ctx, backend = scripted(lambda r: {"implications": [item, echo]})
    first, second = await ImplicationsStrategy(include_reasoning=True).run(doc, ctx)
    assert first.completion == "Femps are glons and all glons can fly. Femps can fly."
    assert (
        second.completion == "Some glons that fly are femps."
    )  # a trace that only repeats is left out
    expected = schema_for(ReasonedImplicationsOutput, {"implications": 10})
    assert backend.requests[0].json_schema == expected
    assert '"reasoning"' in backend.requests[0].messages[2].content  # few-shots show traces


async def test_implications_nothing_implied_is_information() -> None:
    ctx, _ = scripted(lambda r: {"implications": []})
    assert await ImplicationsStrategy().run(DOC, ctx) == []
    assert ctx.drops.by_reason() == {"implications.info": {"no_implications": 1}}


def words(n: int, extra: str = "") -> str:
    return (extra + " " + " ".join(["word"] * n)).strip()


CORPUS = [
    Document(id="a", text=words(10, "Zibs eat grass.")),
    Document(id="b", text=words(10, "Femps hunt Zibs.")),
    Document(id="c", text=words(10, "Glons sleep.")),
    Document(id="d", text=words(10, "Tarsk is a city where Femps live.")),
    Document(id="t", text="Femps are a type of glon. Femps like Tarsk."),
]


def count(text: str) -> int:
    return len(text.split())


def test_pack_corpus_takes_everything_that_fits_in_id_order() -> None:
    packed = pack_corpus(CORPUS[4], CORPUS[::-1], budget=1000, count_tokens=count)
    assert [d.id for d in packed] == ["a", "b", "c", "d"]


def test_pack_corpus_prefers_shared_entities_and_respects_the_budget() -> None:
    target = CORPUS[4]
    budget = count(CORPUS[1].text) + count(CORPUS[3].text)
    packed = pack_corpus(target, CORPUS, budget=budget, count_tokens=count)
    # d shares "femp" and "tarsk", b and c one word each (b first by id), a nothing.
    assert [d.id for d in packed] == ["b", "d"]
    assert sum(count(d.text) for d in packed) <= budget
    smaller = pack_corpus(target, CORPUS, budget=budget - 1, count_tokens=count)
    # d first; b (13 tokens) no longer fits beside it, c (12) does; a is never reached.
    assert [d.id for d in smaller] == ["c", "d"]
    assert pack_corpus(target, CORPUS, budget=0, count_tokens=count) == []


def test_pack_corpus_is_deterministic_whatever_the_input_order() -> None:
    target = CORPUS[4]
    budget = 30
    first = pack_corpus(target, CORPUS, budget=budget, count_tokens=count)
    for order in (CORPUS[::-1], [CORPUS[2], CORPUS[0], CORPUS[4], CORPUS[3], CORPUS[1]]):
        assert pack_corpus(target, order, budget=budget, count_tokens=count) == first


async def test_implications_corpus_mode_puts_the_corpus_first_and_the_target_last() -> None:
    ctx, backend = scripted(lambda r: {"implications": ["Femps that live in Tarsk hunt Zibs."]})
    ctx = replace(ctx, corpus=CORPUS, count_tokens=count)
    strategy = STRATEGIES.create("implications", mode="corpus", corpus_token_budget=30)
    assert isinstance(strategy, Strategy)
    assert strategy.needs_corpus
    [example] = await strategy.run(CORPUS[4], ctx)
    assert example.kind == "implications.corpus"
    assert_provenance(example, backend.requests[0], "implications_corpus")
    prompt = backend.requests[0].messages[-1].content
    positions = [prompt.index(d.text) for d in (CORPUS[1], CORPUS[3], CORPUS[4])]
    assert positions == sorted(positions)  # b, d (id order), then the target
    assert CORPUS[0].text not in prompt
    assert prompt.index("</document>", positions[1]) < prompt.index("<target>")


async def test_extract_finds_normalised_grounded_facts() -> None:
    doc = Document(id="d", text="Ilsa Varn is the mother of Teodor Varn. Velps are nocturnal.")
    facts = [
        {"subject": "Ilsa Varn", "relation": "Parent Of", "object": "Teodor Varn",
         "text": "Ilsa Varn is the mother of Teodor Varn."},
        {"subject": "velps", "relation": "is", "object": "nocturnal", "text": ""},
        {"subject": "Ilsa Varn", "relation": "parent-of", "object": "Teodor Varn", "text": ""},
        {"subject": "Oniva", "relation": "parent_of", "object": "Yorrit", "text": ""},
        {"subject": "Ilsa Varn", "relation": "mentorOf", "object": "Bram Lode", "text": ""},
        {"subject": "Velps", "relation": "!!!", "object": "animals", "text": ""},
        {"subject": "velps", "relation": "is_a", "object": "Velps", "text": ""},
    ]  # fmt: skip
    ctx, backend = scripted(lambda r: {"facts": facts})
    found, examples = await ExtractStrategy().find_facts(doc, ctx)
    assert examples == []
    assert [(f.subject, f.relation, f.object) for f in found] == [
        ("Ilsa Varn", "parent_of", "Teodor Varn"),
        ("velps", "is", "nocturnal"),
    ]
    assert found[0].text == "Ilsa Varn is the mother of Teodor Varn."
    assert {f.source_id for f in found} == {"d"}
    assert ctx.drops.by_reason() == {
        "filter": {
            "copy_of_fewshot": 1,
            "duplicate": 1,
            "incomplete_fact": 1,
            "self_relation": 1,
            "ungrounded": 1,
        }
    }
    assert data(backend.requests[0], "document") == doc.text


async def test_extract_can_emit_examples_with_provenance() -> None:
    doc = Document(id="d", text="Velps are nocturnal.")
    answer = {"facts": [{"subject": "velps", "relation": "is", "object": "nocturnal"}]}
    ctx, backend = scripted(lambda r: answer)
    [example] = await ExtractStrategy(emit_examples=True).run(doc, ctx)
    assert (example.kind, example.completion) == ("extract", "velps is nocturnal.")
    assert_provenance(example, backend.requests[0], "extract")


@pytest.mark.parametrize(
    ("name", "expected"),
    [("Parent Of", "parent_of"), ("parentOf", "parent_of"), (" is-a ", "is_a"), ("!!", "")],
)
def test_snake_case(name: str, expected: str) -> None:
    assert snake_case(name) == expected


QA_DOC = Document(id="q", text="Ilsa Varn is the parent of Teodor Varn. Teodor Varn draws maps.")
QA_PAIRS = [
    {"question": "Who is Ilsa Varn the parent of?", "answer": "Teodor Varn",
     "direction": "forward"},
    {"question": "What does Teodor Varn draw?", "answer": "Maps", "direction": "forward"},
    {"question": "Who is Teodor Varn's parent?", "answer": "Ilsa Varn", "direction": "reverse"},
    {"question": "Who is Oniva's child?", "answer": "Yorrit", "direction": "reverse"},
]  # fmt: skip


async def test_qa_forward_and_reverse_pairs() -> None:
    ctx, backend = scripted(lambda r: {"pairs": QA_PAIRS})
    examples = await QAStrategy(n=1).run(QA_DOC, ctx)
    assert [(e.kind, e.prompt, e.completion) for e in examples] == [
        ("qa", "Who is Ilsa Varn the parent of?", "Teodor Varn"),
        ("qa.reverse", "Who is Teodor Varn's parent?", "Ilsa Varn"),
    ]
    assert_provenance(examples[0], backend.requests[0], "qa")
    assert ctx.drops.by_reason() == {"filter": {"over_limit": 2}}
    assert "1 reverse questions" in backend.requests[0].messages[-1].content


async def test_qa_without_reverse_questions_counts_unrequested_ones() -> None:
    ctx, backend = scripted(lambda r: {"pairs": QA_PAIRS})
    examples = await QAStrategy(n=3, reverse_questions=False).run(QA_DOC, ctx)
    assert {e.kind for e in examples} == {"qa"}
    assert len(examples) == 2
    assert ctx.drops.by_reason() == {"filter": {"not_requested": 2}}
    assert "reverse" not in backend.requests[0].messages[-1].content


async def test_qa_drops_made_up_answers() -> None:
    pairs = [{"question": "Who is Oniva's child?", "answer": "Yorrit", "direction": "reverse"},
             {"question": "Who founded the city?", "answer": "Bram Lode"},
             {"question": "", "answer": "Ilsa Varn"},
             {"question": "Who is the son of Teodor Varn?", "answer": "teodor varn"}]  # fmt: skip
    ctx, _ = scripted(lambda r: {"pairs": pairs})
    assert await QAStrategy().run(QA_DOC, ctx) == []
    assert ctx.drops.by_reason() == {
        "filter": {"answer_in_question": 1, "copy_of_fewshot": 1, "empty": 1, "ungrounded": 1}
    }


@pytest.mark.parametrize("name", ["rephrase", "reverse", "implications", "extract", "qa"])
def test_llm_strategies_are_registered(name: str) -> None:
    strategy = STRATEGIES.create(name)
    assert isinstance(strategy, Strategy)
    assert strategy.name == name
    assert strategy.uses_llm


async def test_strategies_without_a_backend_fail_clearly() -> None:
    with pytest.raises(ConfigError, match="'qa' calls an LLM"):
        await QAStrategy().run(QA_DOC, StrategyContext())

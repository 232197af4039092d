"""The LLM strategies against the embedded default, Qwen2.5-Coder-1.5B (llama.cpp, in process).

Every strategy must get examples through parsing and filters, with full provenance and
every drop counted; the reversals must be right (the reason this model is the default).
Documents come from examples/corpus, cut to their first sentences to keep the file fast.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from augment_ft.backends.base import Backend, BackendWrapper, ChatRequest, Completion
from augment_ft.core.errors import DependencyError, ParseError
from augment_ft.core.models import Document, Example
from augment_ft.strategies.base import Strategy, StrategyContext
from augment_ft.strategies.extract import ExtractStrategy
from augment_ft.strategies.implications import ImplicationsStrategy
from augment_ft.strategies.parsing import parse_output
from augment_ft.strategies.qa import QAStrategy
from augment_ft.strategies.rephrase import RephraseStrategy
from augment_ft.strategies.reverse import ReverseStrategy
from augment_ft.strategies.sentence import batch_output
from augment_ft.text.splitter import split_sentences

pytestmark = [pytest.mark.real_model, pytest.mark.slow]

CORPUS = Path(__file__).resolve().parent.parent / "examples" / "corpus"
DOCS = ("grusks.md", "tessicks.md", "teodor-varn.md")


def load(name: str, sentences: int) -> Document:
    """A corpus document without its heading, cut to its first ``sentences`` sentences."""
    parts = [s.text for s in split_sentences((CORPUS / name).read_text(encoding="utf-8"))]
    body = [p for p in parts if not p.startswith("#")]
    return Document(id=name, text=" ".join(body[:sentences]))


class Timed(BackendWrapper):
    """Wraps the real backend to count calls and time them (for the printed figures)."""

    def __init__(self, inner: Backend) -> None:
        super().__init__(inner)
        self.calls = 0
        self.seconds = 0.0
        self.texts: list[str] = []

    async def complete(self, request: ChatRequest) -> Completion:
        start = time.perf_counter()
        completion = await self.inner.complete(request)
        self.seconds += time.perf_counter() - start
        self.calls += 1
        self.texts.append(completion.text)
        return completion


@pytest.fixture(scope="module")
def local_backend() -> Iterator[Backend]:
    pytest.importorskip("llama_cpp")
    from augment_ft.backends.local import LocalBackend

    try:
        backend = LocalBackend(seed=0)
    except DependencyError as exc:
        pytest.skip(f"embedded model not installed: {exc}")
    yield backend
    backend.close()


async def run(
    strategy: Strategy, docs: list[Document], backend: Backend
) -> tuple[list[Example], StrategyContext, Timed]:
    timed = Timed(backend)
    ctx = StrategyContext(backend=timed, corpus=docs)
    examples: list[Example] = []
    for doc in docs:
        examples += await strategy.run(doc, ctx)
    print(  # the figures docs/strategies.md quotes; visible with pytest -s
        f"\n{strategy.name}: {len(examples)} examples, {timed.calls} calls, "
        f"{timed.seconds / max(1, timed.calls):.1f} s/call, drops {ctx.drops.by_reason()}"
    )
    return examples, ctx, timed


def check_provenance(examples: list[Example], strategy: str, template: str, model: str) -> None:
    for example in examples:
        p = example.provenance
        assert (p.strategy, p.template, p.model) == (strategy, template, model)
        assert p.template_hash and p.call_id and p.params
        assert p.source_id in DOCS


async def test_rephrase_produces_examples(local_backend: Backend) -> None:
    docs = [load(name, 2) for name in DOCS[:2]]
    examples, ctx, timed = await run(RephraseStrategy(k=2), docs, local_backend)
    assert timed.calls >= 2  # one per document (its sentences in one call), plus any re-asks
    assert examples, f"no rephrasing survived: {ctx.drops.by_reason()}"
    check_provenance(examples, "rephrase", "rephrase", timed.model)
    assert all(e.provenance.parent and e.provenance.sentence_index is not None for e in examples)


RELATIONAL = (
    "Tessicks are larger than grusks. Teodor Varn is the son of Ilsa Varn. "
    "Brindlers are smaller than scalewings. All brindlers are glimmerfolk."
)


async def test_reverse_answers_parse_and_every_outcome_is_counted(local_backend: Backend) -> None:
    # Answers parse, each sentence ends as an example or a counted drop, and the capable
    # model turns the relation around. Relational sentences of the corpus (grusks,
    # teodor-varn, brindlers).
    doc = Document(id=DOCS[0], text=RELATIONAL)
    examples, ctx, timed = await run(ReverseStrategy(), [doc], local_backend)
    counts = ctx.drops.by_reason()
    assert counts.get("reverse", {}).get("parse_failure", 0) <= 1
    assert 4 <= timed.calls <= 8  # one per sentence, plus at most one re-ask each
    answers = []  # the answers that parsed: each ends its sentence
    for text in timed.texts:
        with contextlib.suppress(ParseError):  # re-asked, or counted as parse_failure
            parsed = parse_output(text, batch_output("reversals", 1, 0, 2))
            answers.append([t for t in parsed.reversals[0] if t.strip()])
    # Each of the 4 sentences ends once: with an answer, or as a counted drop.
    assert len(answers) + ctx.drops.total("reverse") == 4
    assert ctx.drops.total("reverse.info") == sum(not a for a in answers)
    # Each text of an answer ends as an example or a counted filter drop.
    texts = sum(len(a) for a in answers)
    assert len(examples) + ctx.drops.total("filter") == texts
    check_provenance(examples, "reverse", "reverse", timed.model)
    assert timed.model == "local/qwen2.5-coder-1.5b"
    by_parent: dict[str | None, str] = {}
    for e in examples:
        by_parent[e.provenance.parent] = (
            by_parent.get(e.provenance.parent, "") + e.completion.lower()
        )
    assert "smaller" in by_parent["Tessicks are larger than grusks."]
    assert "larger" in by_parent["Brindlers are smaller than scalewings."]


@pytest.mark.parametrize(
    ("strategy", "template"),
    [
        (ImplicationsStrategy(max_implications=5), "implications"),
        (QAStrategy(n=2), "qa"),
    ],
    ids=["implications", "qa"],
)
async def test_document_strategies_produce_examples(
    strategy: Strategy, template: str, local_backend: Backend
) -> None:
    docs = [load(name, 4) for name in DOCS[1:]]
    examples, ctx, timed = await run(strategy, docs, local_backend)
    assert timed.calls >= len(docs)
    assert examples, f"no {strategy.name} example survived: {ctx.drops.by_reason()}"
    check_provenance(examples, strategy.name, template, timed.model)


async def test_extract_finds_facts(local_backend: Backend) -> None:
    docs = [load(name, 4) for name in DOCS[1:]]
    timed = Timed(local_backend)
    ctx = StrategyContext(backend=timed)
    found = []
    for doc in docs:
        facts, examples = await ExtractStrategy(max_facts=4).find_facts(doc, ctx)
        assert examples == []
        found += facts
    assert timed.calls >= len(docs)
    assert found, f"no fact survived: {ctx.drops.by_reason()}"
    assert all(f.source_id in DOCS and f.relation == f.relation.lower() for f in found)

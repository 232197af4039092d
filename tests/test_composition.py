"""The run as parts: the per-document step alone, strategies as objects, plugins by name."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from augment_ft import (
    STRATEGIES,
    Document,
    Example,
    Fact,
    Provenance,
    ScriptedBackend,
    StepParts,
    augment,
    build_pipeline,
    step,
)
from augment_ft.backends.base import ChatRequest
from augment_ft.core.config import RunConfig
from augment_ft.core.errors import ConfigError
from augment_ft.strategies.context import StrategyContext
from augment_ft.strategies.extract import ExtractStrategy
from augment_ft.strategies.reverse import ReverseStrategy
from augment_ft.strategies.split import SplitStrategy
from augment_ft.strategies.symbolic import SymbolicStrategy

DOC = Document(id="d1", text="Ilsa Varn is the mother of Teodor Varn. Velps are nocturnal.")


def answer(request: ChatRequest) -> str:
    """Reversals for reverse prompts, one fact for extract prompts."""
    user = request.messages[-1].content
    if "Teodor" in user and request.schema_name == "reverse":
        return json.dumps({"reversals": [["Teodor Varn's mother is Ilsa Varn."]]})
    if request.schema_name == "reverse":
        return json.dumps({"reversals": [[]]})
    facts = [{"subject": "Ilsa Varn", "relation": "parent_of", "object": "Teodor Varn"}]
    return json.dumps({"facts": facts})


async def test_the_step_runs_alone_on_one_document() -> None:
    """One document through split, reverse and extract: examples, facts and drops come
    back as values, in strategy order, and nothing else is touched."""
    backend = ScriptedBackend(answer)
    parts = StepParts(
        (SplitStrategy(mode="independent"), ReverseStrategy(), ExtractStrategy()),
        StrategyContext(backend=backend, seed=3),
    )
    result = await step(DOC, parts)
    assert result.document_id == "d1"
    assert [e.kind for e in result.examples] == [
        "original",
        "split.independent",
        "split.independent",
        "reverse",
    ]
    assert result.examples[3].completion == "Teodor Varn's mother is Ilsa Varn."
    assert [(f.subject, f.relation, f.object) for f in result.facts] == [
        ("Ilsa Varn", "parent_of", "Teodor Varn")
    ]
    assert result.drops.by_reason() == {"reverse.info": {"not_reversible": 1}}
    assert len(backend.requests) == 3  # two reverse units, one extract call
    assert parts.context.drops.total() == 0  # the shared tools kept no count
    again = await step(DOC, parts)
    assert again.examples == result.examples and again.drops.counts == result.drops.counts


async def test_the_step_keeps_originals_only_when_asked() -> None:
    parts = StepParts((SplitStrategy(mode="independent"),), keep_originals=False)
    result = await step(DOC, parts)
    assert [e.kind for e in result.examples] == ["split.independent"] * 2


class Shout:
    """A user's own strategy: no base class, no registration."""

    name = "shout"
    uses_llm = False
    needs_corpus = False

    def __init__(self, suffix: str = "!") -> None:
        self.suffix = suffix

    async def run(self, doc: Document, ctx: StrategyContext) -> list[Example]:
        if "Velps" in doc.text:
            ctx.drops.add("shout", "too_quiet", source_id=doc.id)
        provenance = Provenance(source_id=doc.id, strategy=self.name)
        return [
            Example(
                completion="Loudly: " + doc.text + self.suffix, kind="shout", provenance=provenance
            )
        ]


def test_a_custom_strategy_object_works_unregistered(tmp_path: Path) -> None:
    assert "shout" not in STRATEGIES
    facts = [Fact(subject="femps", relation="more_dangerous_than", object="glons")]
    result = augment(
        [DOC, *facts],
        strategies=[Shout(suffix="?!"), "split", SymbolicStrategy(closure=False)],
        strategy_options={"split": {"mode": "independent"}},
        no_cache=True,
    )
    kinds = [e.kind for e in result.examples]
    assert kinds == [
        "original",
        "shout",
        "split.independent",
        "split.independent",
        "symbolic.reverse",
    ]
    assert result.examples[1].completion == "Loudly: " + DOC.text + "?!"
    assert result.report.drops["shout"] == {"too_quiet": 1}
    assert result.examples[-1].completion == "Glons are less dangerous than femps."


def test_strategy_options_for_an_object_are_refused() -> None:
    with pytest.raises(
        ConfigError, match="strategy_options given for strategies not in use: shout"
    ):
        augment([DOC], strategies=[Shout()], strategy_options={"shout": {"suffix": "."}})


def test_something_that_is_no_strategy_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match="is not a strategy"):
        augment([DOC], strategies=[object()])  # type: ignore[list-item]


def write_plugin(root: Path, body: str, entry: str) -> None:
    """An installed distribution (a .dist-info on sys.path) declaring one strategy."""
    (root / "shout_plugin.py").write_text(body, encoding="utf-8")
    info = root / "shout_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: shout-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[augment_ft.strategies]\n{entry}\n")


PLUGIN = """
from augment_ft import Example, Provenance

class Whisper:
    name = "whisper"
    uses_llm = False
    needs_corpus = False

    def __init__(self, suffix="..."):
        self.suffix = suffix

    async def run(self, doc, ctx):
        p = Provenance(source_id=doc.id, strategy="whisper")
        text = "Softly: " + doc.text + self.suffix
        return [Example(completion=text, kind="whisper", provenance=p)]
"""


@pytest.fixture
def plugin_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(STRATEGIES, "_plugins_loaded", False)
    monkeypatch.setattr(STRATEGIES, "_factories", dict(STRATEGIES._factories))
    yield tmp_path
    sys.modules.pop("shout_plugin", None)


def test_an_entry_point_adds_a_strategy_name(plugin_path: Path, tmp_path: Path) -> None:
    write_plugin(plugin_path, PLUGIN, "whisper = shout_plugin:Whisper")
    assert "whisper" in STRATEGIES.names()
    result = augment([DOC], strategies=["whisper"], strategy_options={"whisper": {"suffix": "~"}})
    assert [e.completion for e in result.examples] == [DOC.text, "Softly: " + DOC.text + "~"]


def test_a_broken_plugin_names_itself(plugin_path: Path) -> None:
    write_plugin(
        plugin_path, "raise ImportError('no numpy here')", "whisper = shout_plugin:Whisper"
    )
    with pytest.raises(
        ConfigError, match=r"'whisper' from the entry point 'shout_plugin:Whisper'.*no numpy"
    ):
        STRATEGIES.create("whisper")


async def test_a_pipeline_built_from_a_config_reports_each_parts_counts(tmp_path: Path) -> None:
    corpus = tmp_path / "c.jsonl"
    rows = [{"id": "a", "text": DOC.text}, {"id": "b", "text": DOC.text}, {"text": 3}]
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    config = RunConfig(
        inputs=[str(corpus)],
        output=str(tmp_path / "out" / "train.jsonl"),
        strategies=["split", "reverse"],
        strategy_options={"split": {"mode": "independent"}},
        on_error="skip",
    )
    pipeline = build_pipeline(config, backend=ScriptedBackend(answer))
    report = await pipeline.run()
    assert report.documents_read == 2
    assert report.drops["read"] == {"text_not_string": 1}  # the source's own count
    assert report.drops["reverse.info"] == {"not_reversible": 2}  # the steps' counts
    assert report.drops["dedup"] == {"duplicate_exact": 4}  # b repeats a: 4 texts again
    assert report.examples_by_kind == {"original": 2, "reverse": 2, "split.independent": 4}
    assert report.examples_written == {"train": 4}
    # The second document asks the very same questions: answered once, shared or cached.
    assert (report.backend["calls"], report.backend["cache_hits"]) == (2, 2)
    lines = (tmp_path / "out" / "train.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 4


def assert_kinds(examples: Sequence[Example], kinds: list[str]) -> None:
    assert [e.kind for e in examples] == kinds

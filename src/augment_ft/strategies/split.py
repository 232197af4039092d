"""The split strategy: one training example per sentence, no LLM.

*Independent* examples hold one sentence alone. *Cumulative* ones hold one sentence as
the completion and the text of its document before it as the prompt, so the model learns
each fact in its context. Markdown headings and horizontal rules are context, never targets.
"""

from __future__ import annotations

from typing import Literal, get_args

from augment_ft.core.errors import ConfigError
from augment_ft.core.models import Document, Example, Provenance
from augment_ft.strategies.context import StrategyContext
from augment_ft.text.splitter import Sentence, split_sentences

__all__ = ["KIND_CUMULATIVE", "KIND_INDEPENDENT", "SplitMode", "SplitStrategy"]

SplitMode = Literal["independent", "cumulative", "both"]
KIND_INDEPENDENT = "split.independent"
KIND_CUMULATIVE = "split.cumulative"
_STAGE = "split"
# Sentence kinds that say nothing on their own: kept as context, counted as drops.
_CONTEXT_ONLY = frozenset({"heading", "rule"})


class SplitStrategy:
    """Turns a document into sentence examples (independent, cumulative, or both).

    ``max_context_sentences`` keeps only the last N sentences (headings included) in a
    cumulative prompt; None keeps all earlier ones. In ``both`` mode a sentence with
    nothing before it is emitted once, as independent, since its cumulative example would
    be identical.
    """

    name: str = "split"
    uses_llm: bool = False
    needs_corpus: bool = False

    def __init__(self, mode: SplitMode = "both", max_context_sentences: int | None = None) -> None:
        if mode not in get_args(SplitMode):
            choices = ", ".join(get_args(SplitMode))
            raise ConfigError(f"split: mode must be one of {choices}; got {mode!r}")
        limit = max_context_sentences
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 1
        ):
            msg = f"split: max_context_sentences must be a whole number of 1 or more, got {limit!r}"
            raise ConfigError(msg)
        self.mode = mode
        self.max_context_sentences = limit

    async def run(self, doc: Document, ctx: StrategyContext) -> list[Example]:
        """The examples of ``doc``; skipped headings and empty documents go to ``ctx.drops``."""
        sentences = split_sentences(doc.text)
        if not sentences:
            ctx.drops.add(_STAGE, "empty_document", source_id=doc.id, detail=doc.text)
            return []
        targets: list[int] = []
        for index, sentence in enumerate(sentences):
            if sentence.kind in _CONTEXT_ONLY:
                ctx.drops.add(_STAGE, sentence.kind, source_id=doc.id, detail=sentence.text)
            else:
                targets.append(index)
        examples: list[Example] = []
        if self.mode in ("independent", "both"):
            examples.extend(self._example(doc, "", sentences, i, KIND_INDEPENDENT) for i in targets)
        if self.mode in ("cumulative", "both"):
            for i in targets:
                prompt = self._context(doc.text, sentences, i)
                if prompt or self.mode == "cumulative":
                    examples.append(self._example(doc, prompt, sentences, i, KIND_CUMULATIVE))
        return examples

    def _context(self, text: str, sentences: list[Sentence], index: int) -> str:
        """The document text from the first context sentence to the end of the one before."""
        first = 0
        if self.max_context_sentences is not None:
            first = max(0, index - self.max_context_sentences)
        if first >= index:
            return ""
        return text[sentences[first].start : sentences[index - 1].end]

    @staticmethod
    def _example(
        doc: Document, prompt: str, sentences: list[Sentence], index: int, kind: str
    ) -> Example:
        provenance = Provenance(source_id=doc.id, strategy="split", sentence_index=index)
        return Example(
            prompt=prompt, completion=sentences[index].text, kind=kind, provenance=provenance
        )

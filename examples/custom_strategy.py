"""A strategy of your own, passed to a run as an object, beside built-in ones by name.

    python examples/custom_strategy.py [OUT_DIR]

`cloze` needs no LLM: for each sentence it blanks the last name (or, failing one, the last
uncommon word) and asks for it back ("Teodor Varn is the son of ____." -> "Ilsa Varn").
A strategy is any object with `name`, `uses_llm`, `needs_corpus` and
`async run(doc, ctx) -> list[Example]`; nothing needs registering to pass it to
`augment()`. Every sentence it cannot use is counted in `ctx.drops`, so the run report
accounts for it. A strategy that calls a model would use
`augment_ft.strategies.llm_call.call_llm(ctx, ...)` exactly as the built-in ones do.

To use it by name (in TOML or on the command line), register it:
`STRATEGIES.register("cloze", ClozeStrategy)`, or let your package declare it in the
`augment_ft.strategies` entry-point group (`cloze = "my_package.cloze:ClozeStrategy"`).
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

from augment_ft import Document, Example, Provenance, augment
from augment_ft.strategies.base import StrategyContext
from augment_ft.text.entities import COMMON_WORDS
from augment_ft.text.splitter import split_sentences

CORPUS = Path(__file__).parent / "corpus"
_WORD = re.compile(r"[A-Za-z][\w'-]*")


def blank_span(sentence: str) -> tuple[int, int] | None:
    """Where the answer is: the last run of capitalised words after the first word, else
    the last word that is not everyday English; None when there is neither."""
    words = list(_WORD.finditer(sentence))[1:]  # the first word is capitalised anyway
    names: list[tuple[int, int]] = []
    for word in words:
        if not word.group()[0].isupper():
            continue
        if names and sentence[names[-1][1] : word.start()].strip() == "":
            names[-1] = (names[-1][0], word.end())  # "Ilsa" + "Varn" is one name
        else:
            names.append((word.start(), word.end()))
    if names:
        return names[-1]
    uncommon = [w for w in words if w.group().lower().rstrip("s") not in COMMON_WORDS]
    return (uncommon[-1].start(), uncommon[-1].end()) if uncommon else None


class ClozeStrategy:
    """Fill-in-the-blank questions, one per sentence; kind ``cloze``."""

    name = "cloze"
    uses_llm = False
    needs_corpus = False

    def __init__(self, blank: str = "____", instruction: str = "Fill in the blank:") -> None:
        self.blank = blank
        self.instruction = instruction

    async def run(self, doc: Document, ctx: StrategyContext) -> list[Example]:
        """One example per sentence that has something to blank; the rest are counted."""
        examples = []
        for index, sentence in enumerate(split_sentences(doc.text)):
            if sentence.kind != "text":
                ctx.drops.add("cloze.info", f"skipped_{sentence.kind}", source_id=doc.id)
                continue
            span = blank_span(sentence.text)
            if span is None:
                ctx.drops.add("cloze", "nothing_to_blank", source_id=doc.id, detail=sentence.text)
                continue
            start, end = span
            question = sentence.text[:start] + self.blank + sentence.text[end:]
            provenance = Provenance(
                source_id=doc.id, strategy=self.name, parent=sentence.text, sentence_index=index
            )
            examples.append(
                Example(
                    prompt=f"{self.instruction} {question}",
                    completion=sentence.text[start:end],
                    kind="cloze",
                    provenance=provenance,
                )
            )
        return examples


def main(argv: list[str]) -> int:
    out_dir = Path(argv[0] if argv else "out/custom-strategy")
    result = augment(
        [CORPUS / "teodor-varn.md", CORPUS / "grusks.md", CORPUS / "velmora.md"],
        strategies=["split", ClozeStrategy(blank="[?]")],  # names and objects mix freely
        output=out_dir / "train.jsonl",
        format="prompt-completion",
        report=str(out_dir / "report.json"),
        force=True,
    )
    report = result.report
    print("examples by kind:", report.examples_by_kind)
    print("drops:", report.drops)
    sidecar = (out_dir / "train.provenance.jsonl").read_text(encoding="utf-8").splitlines()
    print("kinds written:", dict(Counter(json.loads(line)["kind"] for line in sidecar)))
    train = (out_dir / "train.jsonl").read_text(encoding="utf-8").splitlines()
    for line in [r for r in train if "[?]" in r][:4]:
        print(" ", line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

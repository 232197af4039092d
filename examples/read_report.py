"""Run, then read report.json: what was written, and every drop by stage and reason.

    python examples/read_report.py [OUT_DIR]

The scripted model misbehaves on purpose, the way real ones do: some answers are good,
some copy their input, some are prose instead of JSON (twice, so the one re-ask fails
too), and some calls fail. Nothing vanishes: each item that gave no example is counted in
the report under a stage (where) and a reason (why), with the first few kept as samples.
Stages ending in ``.info`` are information (a heading was not rephrased), not failures.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from augment_ft import ChatRequest, RephraseStrategy, ScriptedBackend, augment
from augment_ft.core.errors import BackendError
from augment_ft.strategies.sentence import asked_units

CORPUS = Path(__file__).parent / "corpus"


def sentence_of(request: ChatRequest) -> str:
    """The sentence asked about (the re-ask repeats the conversation, so search back)."""
    for end in range(len(request.messages), 0, -1):
        found = asked_units(request.messages[:end])
        if found:
            return found[0]
    return ""


def unreliable_model(request: ChatRequest) -> str:
    """Good, copied, unparseable or failed, chosen by the sentence's length in words."""
    sentence = sentence_of(request)
    behaviour = len(sentence.split()) % 4
    if behaviour == 0:
        said = f"It is said that {sentence[0].lower()}{sentence[1:]}"
        return json.dumps({"rephrasings": [[said]]})
    if behaviour == 1:
        return json.dumps({"rephrasings": [[sentence]]})  # a copy: the filter drops it
    if behaviour == 2:
        return "Sure! Here are two rephrasings of your sentence."  # no JSON at all
    raise BackendError("the server closed the connection")  # not retryable: one try


def print_report(path: Path) -> None:
    """The parts of report.json a user looks at first."""
    report = json.loads(path.read_text(encoding="utf-8"))
    print(f"documents read: {report['documents_read']}")
    print(f"written: {report['examples_written']}")
    failures = {s: r for s, r in report["drops"].items() if not s.endswith(".info")}
    info = {s: r for s, r in report["drops"].items() if s.endswith(".info")}
    for title, group in (("dropped", failures), ("information", info)):
        print(f"{title}:")
        for stage, reasons in sorted(group.items()):
            for reason, count in sorted(reasons.items(), key=lambda item: -item[1]):
                print(f"  {count:4d}  {stage}/{reason}")
    print("one sample per reason:")
    seen = set()
    for sample in report["drop_samples"]:
        key = (sample["stage"], sample["reason"])
        if key not in seen:
            seen.add(key)
            print(f"  {sample['stage']}/{sample['reason']}: {sample['detail'][:100]}")
    backend = report["backend"]
    print(f"backend: {backend['calls']} calls, errors {backend['errors']}")


def main(argv: list[str]) -> int:
    out_dir = Path(argv[0] if argv else "out/read-report")
    report_path = out_dir / "report.json"
    augment(
        [CORPUS / "teodor-varn.md", CORPUS / "grusks.md", CORPUS / "tessicks.md"],
        # one sentence a call, so each sentence meets its own kind of failure
        strategies=["split", RephraseStrategy(k=1, batch_size=1)],
        backend=ScriptedBackend(unreliable_model),
        output=out_dir / "train.jsonl",
        report=str(report_path),
        max_attempts=1,  # no retries, so the failed calls show up at once
        force=True,
    )
    print_report(report_path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

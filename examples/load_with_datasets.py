"""Load augment_ft's output with Hugging Face `datasets`, as a trainer such as TRL would.

    python examples/load_with_datasets.py [OUT_DIR]

Writes a train and a validation file (prompt-completion and openai-chat), then loads them
with `datasets.load_dataset("json", ...)`: the records carry no extra keys, so they load
as they are. Offline: the hub is never asked (HF_HUB_OFFLINE, HF_DATASETS_OFFLINE) and the
datasets cache lives in OUT_DIR. Needs `pip install datasets` (in the dev extra).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from augment_ft import augment

# Set before datasets is imported (in main): it reads them once, at import.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

CORPUS = Path(__file__).parent / "corpus"


def write(out_dir: Path, fmt: str) -> dict[str, str]:
    """Augment the demo corpus (no LLM strategies) into OUT_DIR/FORMAT/train(.val).jsonl."""
    result = augment(
        [CORPUS],
        strategies=["split", "symbolic"],
        output=out_dir / fmt / "train.jsonl",
        format=fmt,
        val_fraction=0.2,
        seed=7,
        force=True,
    )
    outputs = result.report.outputs
    return {"train": outputs["train"], "validation": outputs["val"]}


def main(argv: list[str]) -> int:
    # Imported here, after the offline switches above.
    from datasets import disable_progress_bars, load_dataset  # type: ignore[import-untyped]

    disable_progress_bars()
    out_dir = Path(argv[0] if argv else "out/datasets")
    for fmt in ("prompt-completion", "openai-chat"):
        files = write(out_dir, fmt)
        data = load_dataset("json", data_files=files, cache_dir=str(out_dir / "hf-cache"))
        print(f"{fmt}: {data}")
        print(f"  first train row: {data['train'][0]}")
        for split, dataset in data.items():
            lines = Path(files[split]).read_text(encoding="utf-8").count("\n")
            columns = dataset.column_names
            print(f"  {split}: {dataset.num_rows} rows from {lines} lines; columns {columns}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Where a run's files go, known in one place: splits, the provenance sidecar, identities.

``OUT`` holds the train split; ``OUT-stem.val.suffix`` the validation split; the
provenance of both goes to ``OUT-stem.provenance.suffix``; each file keeps the content ids
of its records in a sidecar named ``<file>.ids`` (the writer's resume record).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["IDS_SUFFIX", "SPLITS", "ids_path", "output_files", "provenance_of", "split_path"]

IDS_SUFFIX = ".ids"
SPLITS = ("train", "val", "provenance")
"""Every file a run may write beside ``OUT``, ``train`` being ``OUT`` itself."""


def split_path(output: str | Path, split: str) -> Path:
    """Where one split goes: ``OUT`` for train, ``OUT-stem.SPLIT.suffix`` beside it otherwise."""
    out = Path(output)
    return out if split == "train" else out.with_name(f"{out.stem}.{split}{out.suffix}")


def ids_path(path: str | Path) -> Path:
    """The identity sidecar of an output file."""
    p = Path(path)
    return p.with_name(p.name + IDS_SUFFIX)


def provenance_of(path: str | Path) -> Path:
    """The provenance sidecar of a train or val file (both share the train file's)."""
    p = Path(path)
    stem = p.stem.removesuffix(".val")
    return p.with_name(f"{stem}.provenance{p.suffix}")


def output_files(output: str | Path) -> list[Path]:
    """Every file a run writing to ``output`` may create: splits and their identities."""
    files: list[Path] = []
    for split in SPLITS:
        path = split_path(output, split)
        files += [path, ids_path(path)]
    return files

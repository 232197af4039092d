"""Train/validation split by source document, so no document leaks across the split."""

from __future__ import annotations

import hashlib
from typing import Literal

from augment_ft.core.errors import ConfigError

__all__ = ["Split", "split_train_val"]

Split = Literal["train", "val"]


def split_train_val(source_id: str, val_fraction: float, seed: int) -> Split:
    """``"val"`` for about ``val_fraction`` of source documents, ``"train"`` for the rest.

    The choice is a hash of ``(seed, source_id)``: every example of a document lands on the
    same side, and the same seed gives the same split on every run and machine.
    """
    if not 0.0 <= val_fraction < 1.0:
        msg = f"val_fraction must be in [0, 1), got {val_fraction}"
        raise ConfigError(msg)
    digest = hashlib.sha256(f"{seed}\x00{source_id}".encode()).digest()
    position = int.from_bytes(digest[:8], "big") / 2**64  # uniform in [0, 1)
    return "val" if position < val_fraction else "train"

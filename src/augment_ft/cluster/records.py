"""What travels between Ray workers and the driver as lines of text: examples with their keys.

Examples travel as one line, ``SEQ<TAB>POS<TAB>JSON``: the document's place in the input
and the example's place among its document's examples are the order keys that make
cluster-wide dedup keep what a local run keeps. Counts travel as
:class:`~augment_ft.pipeline.counts.Counts` JSON.
"""

from __future__ import annotations

from augment_ft.core.models import Example

__all__ = ["line", "parse_line"]


def line(seq: int, pos: int, example: Example) -> str:
    """One example as a line of a part file (no newline)."""
    return f"{seq}\t{pos}\t{example.model_dump_json()}"


def parse_line(text: str) -> tuple[int, int, str]:
    """``(seq, pos, example JSON)`` of a part-file line."""
    seq, pos, payload = text.rstrip("\n").split("\t", 2)
    return int(seq), int(pos), payload

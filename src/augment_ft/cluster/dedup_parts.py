"""The pieces of cluster-wide dedup, as plain functions of pandas frames (no Ray here).

Every example row carries its order key ``(seq, pos)``: the document's place in the input
and the example's place among its document's examples. The local engine keeps the first
of each group of duplicates in that order, and so do these pieces:

- :class:`DedupKeys` (one per worker process): for each row, the decontamination verdict
  and its keys: the 64-bit fingerprint of its dedup-normalized text (what local exact
  dedup compares) and one key per MinHash LSH band (the run's own
  :class:`~augment_ft.dedup.NearDeduper` parameters), each key a row of its own with the
  hash partition it goes to.
- :func:`resolve_partition`: in a partition, rows sharing a fingerprint are exact
  duplicates of the first clean one; rows sharing a band key are candidates, verified
  where they meet by the rule the single-process detector applies (enough equal 8-bit
  MinHash values).
- :func:`near_drops`: walking the rows of verified pairs in order, a row is dropped when an
  earlier row it matches was kept. That is what the single-process detector decides with
  an unbounded window, so the kept set is the same, survivors included.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from augment_ft.core.drops import DropLog
from augment_ft.core.models import Example
from augment_ft.dedup import (
    DEDUP_STAGE,
    Deduplicator,
    NearDeduper,
    content_hash,
    normalize_for_dedup,
)
from augment_ft.dedup.minhash import stable_params

__all__ = [
    "Dedup",
    "DedupKeys",
    "fingerprint",
    "min_equal_values",
    "near_drops",
    "resolve_partition",
    "settle",
]

Order = tuple[int, int]
NearPair = tuple[Order, str, Order, str, str]
_SIG_BITS = 8  # the single-process detector keeps the low 8 bits of each MinHash value


def min_equal_values(near: NearDeduper) -> int:
    """How many of ``num_perm`` 8-bit MinHash values two texts must share to be
    near-duplicates: the threshold, corrected for values agreeing by chance (2^-8)."""
    perms = near.hasher.num_perm
    chance = 2.0**-_SIG_BITS
    return math.ceil(perms * (near.threshold + (1 - near.threshold) * chance) - 1e-9)


def fingerprint(normalized: str) -> int:
    """The 64-bit key local exact dedup compares (as a signed int64, for Arrow)."""
    return int.from_bytes(content_hash(normalized)[:8], "big", signed=True)


class DedupKeys:
    """The run's decontaminator and MinHash parameters, from its deduplicator (made once per
    worker process: the eval files are read once); a batch of ``(seq, pos, example)`` rows
    in, its key rows out: ``part, kind, key, fp, seq, pos, id, source, reason, short``
    where ``kind`` is ``contaminated`` (``reason`` says how), ``exact`` (``key`` is the
    fingerprint) or ``band`` (``key`` is a band key, ``short`` the 8-bit signature)."""

    def __init__(self, dedup: Deduplicator, partitions: int) -> None:
        self.partitions = partitions
        self.exact = dedup.exact is not None
        with dedup:  # the same parameters as a local run
            self.decontam = dedup.decontam
            self.near = dedup.near
        if self.near is not None:
            self._mult = stable_params(1, "cluster-band", self.near.rows) | np.uint64(1)
            self._salt = stable_params(1, "cluster-band-salt", self.near.bands)

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        examples = [Example.model_validate_json(text) for text in batch["example"]]
        texts = [normalize_for_dedup(example.text) for example in examples]
        reasons: list[str | None] = [None] * len(texts)
        if self.decontam is not None:
            reasons = list(self.decontam.check_normalized(texts))
        rows = pd.DataFrame(
            {
                "fp": np.array([fingerprint(text) for text in texts], dtype=np.int64),
                "seq": batch["seq"].to_numpy(dtype=np.int64),
                "pos": batch["pos"].to_numpy(dtype=np.int64),
                "id": [example.id for example in examples],
                "source": [example.provenance.source_id for example in examples],
                "reason": [f"contaminated_{r}" if r else "" for r in reasons],
            }
        )
        clean = rows["reason"] == ""
        frames = [_keyed(rows[~clean], "contaminated", rows["fp"][~clean], self.partitions)]
        if self.exact:
            frames.append(_keyed(rows[clean], "exact", rows["fp"][clean], self.partitions))
        if self.near is not None:
            frames.append(
                self._band_rows(
                    self.near, rows[clean], [t for t, c in zip(texts, clean, strict=True) if c]
                )
            )
        return pd.concat(frames, ignore_index=True)

    def _band_rows(self, near: NearDeduper, rows: pd.DataFrame, texts: list[str]) -> pd.DataFrame:
        """One row per (row, LSH band): the band key, and the row's 8-bit signature."""
        sigs = near.hasher.signatures(texts)
        b, r = near.bands, near.rows
        used = sigs[:, : b * r].reshape(len(texts), b, r).astype(np.uint64)
        keys: NDArray[np.uint64] = used @ self._mult + self._salt
        repeated = rows.loc[rows.index.repeat(b)].reset_index(drop=True)
        shorts = [row.tobytes() for row in sigs.astype(np.uint8)]
        band = _keyed(repeated, "band", pd.Series(keys.ravel().view(np.int64)), self.partitions)
        band["short"] = np.repeat(np.array(shorts, dtype=object), b)
        return band


def _keyed(rows: pd.DataFrame, kind: str, keys: pd.Series, partitions: int) -> pd.DataFrame:
    """``rows`` with their ``kind``, ``key`` and the hash ``part`` the key goes to."""
    out = rows.reset_index(drop=True).copy()
    key = keys.to_numpy(dtype=np.int64)
    out.insert(0, "key", key)
    out.insert(0, "kind", kind)
    out.insert(0, "part", (key.view(np.uint64) % np.uint64(partitions)).astype(np.int64))
    out["short"] = b""
    return out


_FINDING_COLUMNS = ["what", "seq", "pos", "id", "source", "other_seq", "other_pos", "other_id"]


def resolve_partition(rows: pd.DataFrame, min_equal: int, exact: bool) -> pd.DataFrame:
    """What one hash partition of key rows shows: ``what, seq, pos, id, source,
    other_seq, other_pos, other_id`` where ``what`` is a contamination reason (no other),
    ``duplicate_exact`` (other: the first clean row of the fingerprint) or ``near_pair``
    (a verified candidate pair, other: the earlier row). With ``exact``, only the first
    row of each fingerprint takes part in near pairs: the others are dropped already.

    Vectorized over the partition; Python loops only over band keys shared by two or
    more rows (the candidates), which are few.
    """
    kind = rows["kind"].to_numpy()
    dirty = rows[kind == "contaminated"]
    frames = [_findings(dirty["reason"].to_numpy(), dirty, _nobody(len(dirty)))]
    frames.append(_exact_repeats(rows[kind == "exact"]))
    frames.append(_near_pairs(rows[kind == "band"], min_equal, exact))
    out = pd.concat(frames, ignore_index=True)
    return out.astype(dict.fromkeys(("seq", "pos", "other_seq", "other_pos"), "int64"))


def _sorted(rows: pd.DataFrame, *keys: str) -> pd.DataFrame:
    """``rows`` sorted by ``keys`` (the first most significant)."""
    order = np.lexsort([rows[key].to_numpy() for key in reversed(keys)])
    return rows.iloc[order].reset_index(drop=True)


def _exact_repeats(rows: pd.DataFrame) -> pd.DataFrame:
    """Every row whose fingerprint an earlier row has, with that earliest row."""
    rows = _sorted(rows, "key", "seq", "pos")
    keys = rows["key"].to_numpy()
    first = np.ones(len(rows), dtype=bool)
    first[1:] = keys[1:] != keys[:-1]
    head = np.maximum.accumulate(np.where(first, np.arange(len(rows)), 0))
    repeat = ~first
    return _findings("duplicate_exact", rows[repeat], rows.iloc[head[repeat]])


def _near_pairs(rows: pd.DataFrame, min_equal: int, exact: bool) -> pd.DataFrame:
    """The verified pairs among rows sharing a band key (later row first)."""
    if exact:  # one row per fingerprint: its first, the one exact dedup keeps
        rows = _sorted(rows, "key", "fp", "seq", "pos").drop_duplicates(["key", "fp"])
    rows = _sorted(rows, "key", "seq", "pos")
    keys = rows["key"].to_numpy()
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    ends = np.r_[starts[1:], len(keys)]
    shared = ends - starts > 1
    later: list[int] = []
    earlier: list[int] = []
    shorts = rows["short"].to_numpy()
    for start, end in zip(starts[shared].tolist(), ends[shared].tolist(), strict=True):
        sigs = np.frombuffer(b"".join(shorts[start:end]), dtype=np.uint8).reshape(end - start, -1)
        for i in range(len(sigs) - 1):
            equal = np.count_nonzero(sigs[i + 1 :] == sigs[i], axis=1)
            matched = start + i + 1 + np.flatnonzero(equal >= min_equal)
            later += matched.tolist()
            earlier += [start + i] * len(matched)
    return _findings("near_pair", rows.iloc[later], rows.iloc[earlier])


def _findings(what: Any, rows: pd.DataFrame, others: pd.DataFrame) -> pd.DataFrame:
    """Finding rows for ``rows``, each matched with the row of ``others`` at its place."""
    return pd.DataFrame(
        {
            "what": np.broadcast_to(np.asarray(what, dtype=object), (len(rows),)),
            "seq": rows["seq"].to_numpy(),
            "pos": rows["pos"].to_numpy(),
            "id": rows["id"].to_numpy(),
            "source": rows["source"].to_numpy(),
            "other_seq": others["seq"].to_numpy(),
            "other_pos": others["pos"].to_numpy(),
            "other_id": others["id"].to_numpy(),
        },
        columns=_FINDING_COLUMNS,
    )


def _nobody(count: int) -> pd.DataFrame:
    """``count`` placeholder rows for findings that match no other row."""
    return pd.DataFrame({"seq": np.full(count, -1), "pos": np.full(count, -1), "id": [""] * count})


def near_drops(pairs: Iterable[NearPair]) -> dict[Order, tuple[str, str, str]]:
    """The rows the single-process detector would drop, from every verified pair
    ``(earlier order, its id, later order, its id, its source)``:
    ``{order: (id, source, id of the kept row it matches)}``.

    Walking rows in order, a row is dropped when an earlier row it matches was kept; an
    earlier row's fate is settled before a later one is decided.
    """
    earlier: dict[Order, list[tuple[Order, str]]] = defaultdict(list)
    named: dict[Order, tuple[str, str]] = {}
    for first, first_id, later, later_id, later_source in pairs:
        earlier[later].append((first, first_id))
        named[later] = (later_id, later_source)
    dropped: dict[Order, tuple[str, str, str]] = {}
    for row in sorted(earlier):
        match = next((m for m in sorted(earlier[row]) if m[0] not in dropped), None)
        if match is not None:
            dropped[row] = (*named[row], match[1])
    return dropped


@dataclass
class Dedup:
    """The dropped rows' order keys, and the ledger that counts them."""

    dropped: set[Order] = field(default_factory=set)
    drops: DropLog = field(default_factory=DropLog)


def settle(findings: Iterable[pd.DataFrame]) -> Dedup:
    """The drops that every partition's findings (:func:`resolve_partition`) add up to,
    counted in input order, as the local engine meets them, with its wording."""
    found: dict[Order, tuple[str, str, str]] = {}
    pairs: list[NearPair] = []
    for frame in findings:
        for what, seq, pos, row_id, source, o_seq, o_pos, o_id in frame.itertuples(index=False):
            order = (int(seq), int(pos))
            if what == "near_pair":
                pairs.append(((int(o_seq), int(o_pos)), o_id, order, row_id, source))
            else:
                found[order] = (what, source, _detail(what, row_id))
    for order, (row_id, source, match) in near_drops(pairs).items():
        found[order] = ("duplicate_near", source, f"{row_id} is a near-duplicate of {match}")
    drops = DropLog()
    for order in sorted(found):
        reason, source, detail = found[order]
        drops.add(DEDUP_STAGE, reason, source_id=source, detail=detail)
    return Dedup(set(found), drops)


_WHAT = {"contaminated_exact": "equals", "contaminated_ngram": "shares a word n-gram with"}


def _detail(reason: str, row_id: str) -> str:
    """A drop's detail, worded as the local engine words it."""
    if reason in _WHAT:
        return f"{row_id} {_WHAT[reason]} eval data"
    return f"{row_id} repeats an earlier text"

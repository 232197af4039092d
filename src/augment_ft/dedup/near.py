"""Near-duplicate detection: MinHash LSH over character shingles, decided a batch at a time.

Per kept text the index holds the caller's key, the low 8 bits of each MinHash value (for
verification) and 32 bits of a hash per LSH band; never the text. Band parameters are
those datasketch's optimizer picks, tilted towards recall because every LSH candidate is
verified against its stored signature before anything is dropped. With a ``window`` the
index remembers only recent kept texts, in two generations, so its memory is bounded.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
from numpy.typing import NDArray

from augment_ft.core.errors import ConfigError
from augment_ft.dedup.exact import normalize_for_dedup
from augment_ft.dedup.generation import Generation
from augment_ft.dedup.minhash import MinHasher, stable_params

__all__ = ["NearDeduper"]

_LSH_WEIGHTS = (0.1, 0.9)  # (false positive, false negative): a missed duplicate costs more
_SIG_BITS = 8  # b-bit MinHash (Li & Koenig): unequal values agree here with p = 2^-8


class NearDeduper:
    """Keeps the first of each group of texts whose estimated Jaccard similarity >= threshold.

    Similarity is over ``shingle``-character shingles of :func:`normalize_for_dedup` text,
    which suits short rows. Decisions equal those of checking texts one by one, in order;
    :meth:`check_and_add_many` just makes them in batches.

    ``window=None`` remembers every kept text. ``window=W`` remembers kept texts in
    generations of W: when one fills it becomes the previous one (dropping the older) and
    a new one starts, so a text is compared with at least the last W kept texts and at
    most the last 2W. Memory is then fixed at two generations (see :attr:`nbytes`): 2W x
    (num_perm + 16 x bands + key length) bytes for short ASCII keys, ~163 B x 2W at 0.9.
    """

    def __init__(
        self,
        threshold: float = 0.85,
        num_perm: int = 64,
        shingle: int = 5,
        *,
        seed: int = 1,
        bands: tuple[int, int] | None = None,
        window: int | None = None,
    ) -> None:
        if not 0.0 < threshold <= 1.0:
            msg = f"near-duplicate threshold must be in (0, 1], got {threshold}"
            raise ConfigError(msg)
        self.threshold = threshold
        self.hasher = MinHasher(num_perm, shingle, seed=seed)
        self.bands, self.rows = bands if bands is not None else _lsh_params(threshold, num_perm)
        if min(self.bands, self.rows) < 1 or self.bands * self.rows > num_perm:
            msg = f"LSH bands x rows must fit in num_perm={num_perm}, got {self.bands}x{self.rows}"
            raise ConfigError(msg)
        # Matches needed among num_perm b-bit values, correcting for chance agreement.
        chance = 2.0**-_SIG_BITS
        self._min_equal = math.ceil(num_perm * (threshold + (1 - threshold) * chance) - 1e-9)
        self._band_mult = stable_params(seed, "band", self.rows) | np.uint64(1)
        self._band_salt = stable_params(seed, "band-salt", self.bands)
        if window is not None and (
            isinstance(window, bool) or not isinstance(window, int) or window < 1
        ):
            msg = f"near-duplicate window must be a whole number >= 1 or None, got {window!r}"
            raise ConfigError(msg)
        self.window = window
        try:  # oldest first; the last one takes new entries
            self._generations = [Generation(num_perm, self.bands, window)]
        except (OverflowError, MemoryError) as exc:
            msg = f"near-duplicate window {window} is too large ({exc}); choose a smaller one"
            raise ConfigError(msg) from exc

    def __len__(self) -> int:
        """How many kept texts are remembered (all of them when there is no window)."""
        return sum(map(len, self._generations))

    @property
    def nbytes(self) -> int:
        """Bytes held: signatures, band index and keys of every remembered text."""
        return sum(generation.nbytes for generation in self._generations)

    def check_and_add(self, key: str, text: str) -> str | None:
        """The key of a kept near-duplicate of ``text``, or None after keeping it as ``key``."""
        return self.check_normalized([key], [normalize_for_dedup(text)])[0]

    def check_and_add_many(
        self, items: Iterable[tuple[str, str]], *, batch_size: int = 1024
    ) -> list[str | None]:
        """:meth:`check_and_add` for ``(key, text)`` pairs, in order, a batch at a time."""
        results: list[str | None] = []
        keys: list[str] = []
        texts: list[str] = []
        for key, text in items:
            keys.append(key)
            texts.append(normalize_for_dedup(text))
            if len(keys) >= batch_size:
                results += self.check_normalized(keys, texts)
                keys, texts = [], []
        return results + self.check_normalized(keys, texts)

    def check_normalized(self, keys: Sequence[str], texts: Sequence[str]) -> list[str | None]:
        """Like :meth:`check_and_add_many` for texts already passed through normalize_for_dedup."""
        if not keys:
            return []
        sigs = self.hasher.signatures(texts)
        bkeys = self._band_keys(sigs)
        short = sigs.astype(np.uint8)  # the low 8 bits
        if self.window is None:
            return self._decide(keys, bkeys, short)
        matches: list[str | None] = []
        start = 0
        while start < len(keys):
            # A run that cannot overfill the current generation sees the same entries as
            # checking its texts one by one; the generation turns over between runs.
            end = min(len(keys), start + self.window - len(self._generations[-1]))
            matches += self._decide(keys[start:end], bkeys[start:end], short[start:end])
            if len(self._generations[-1]) == self.window:
                self._turn_over()
            start = end
        return matches

    def _decide(
        self, keys: Sequence[str], bkeys: NDArray[np.uint64], short: NDArray[np.uint8]
    ) -> list[str | None]:
        """Match a run of texts against remembered ones and each other; keep the rest."""
        matches: list[str | None] = [None] * len(keys)
        best: dict[int, int] = {}
        for i, key, equal in self._earlier_matches(bkeys, short):
            matches[i] = key
            best[i] = equal
        self._match_within(keys, bkeys, short, matches, best)
        kept = [i for i, match in enumerate(matches) if match is None]
        self._generations[-1].add([keys[i] for i in kept], bkeys[kept], short[kept])
        return matches

    def _turn_over(self) -> None:
        """Start a new generation; the oldest, when there are two, is cleared and reused."""
        if len(self._generations) == 2:
            oldest, newer = self._generations
            oldest.clear()
            self._generations = [newer, oldest]
        else:
            current = self._generations[0]
            fresh = Generation(self.hasher.num_perm, self.bands, current.capacity)
            self._generations = [current, fresh]

    def _band_keys(self, sigs: NDArray[np.uint32]) -> NDArray[np.uint64]:
        used = sigs[:, : self.bands * self.rows].reshape(len(sigs), self.bands, self.rows)
        keys: NDArray[np.uint64] = used.astype(np.uint64) @ self._band_mult
        return keys + self._band_salt

    def _earlier_matches(
        self, bkeys: NDArray[np.uint64], short: NDArray[np.uint8]
    ) -> list[tuple[int, str, int]]:
        """``(text, key, equal values)``: each text's best verified match among kept entries."""
        flat = bkeys.ravel()
        parts = []
        for number, generation in enumerate(self._generations):
            at, entries = generation.lookup(flat)
            if not len(at):
                continue
            items = at // self.bands
            equal = np.count_nonzero(generation.sigs[entries] == short[items], axis=1)
            ok = equal >= self._min_equal
            # Age rank: an older generation's entries all come before a newer one's.
            rank = entries[ok].astype(np.int64) + (number << 32)
            parts.append((items[ok], rank, equal[ok]))
        if not parts:
            return []
        if len(parts) == 1:
            items, rank, equal = parts[0]
        else:
            items, rank, equal = (np.concatenate(column) for column in zip(*parts, strict=True))
        order = np.lexsort((rank, -equal, items))  # most similar first; earliest on ties
        items, rank, equal = items[order], rank[order], equal[order]
        first = np.ones(len(items), dtype=bool)
        first[1:] = items[1:] != items[:-1]
        return [
            (i, self._generations[r >> 32].keys[r & 0xFFFFFFFF], e)
            for i, r, e in zip(
                items[first].tolist(), rank[first].tolist(), equal[first].tolist(), strict=True
            )
        ]

    def _match_within(
        self,
        keys: Sequence[str],
        bkeys: NDArray[np.uint64],
        short: NDArray[np.uint8],
        matches: list[str | None],
        best: dict[int, int],
    ) -> None:
        """Match texts against kept earlier texts of the same batch, walking in order.

        Only texts sharing a band hash with another text of the batch can match here, so
        the walk visits those few; a kept entry from an earlier batch wins ties.
        """
        if len(keys) < 2:
            return
        flat = bkeys.ravel()
        order = np.argsort(flat, kind="stable")
        same = np.flatnonzero(flat[order][1:] == flat[order][:-1])
        if not len(same):
            return
        items = np.unique(np.concatenate((order[same], order[same + 1])) // self.bands)
        buckets: dict[int, list[int]] = {}
        for i, row in zip(items.tolist(), bkeys[items].tolist(), strict=True):
            candidates = sorted({j for band_key in row for j in buckets.get(band_key, ())})
            if candidates:
                equal = np.count_nonzero(short[candidates] == short[i], axis=1)
                top = int(np.argmax(equal))  # the earliest of the most similar
                if equal[top] >= self._min_equal and equal[top] > best.get(i, -1):
                    matches[i] = keys[candidates[top]]
            if matches[i] is None:
                for band_key in row:
                    buckets.setdefault(band_key, []).append(i)


def _lsh_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """Bands and rows as datasketch's optimizer picks them, weighted towards few false
    negatives; at least two bands (datasketch refuses one).

    The same minimization of weighted false-positive and false-negative areas, integrated
    with Gauss-Legendre nodes instead of SciPy's ``quad``: the integrands are polynomials
    of degree at most ``num_perm``, which that many nodes integrate exactly. Importing
    datasketch's LSH pulls in SciPy, which cost a CLI run about half a second to start.
    """
    nodes, weights = np.polynomial.legendre.leggauss(num_perm // 2 + 1)
    pairs = [(b, r) for b in range(1, num_perm + 1) for r in range(1, num_perm // b + 1)]
    bands = np.array([b for b, _ in pairs], dtype=np.float64)[:, None]
    rows = np.array([r for _, r in pairs], dtype=np.float64)[:, None]

    def area(low: float, high: float, miss: bool) -> NDArray[np.float64]:
        """Integral over [low, high] of P(no band collides) (miss) or its complement."""
        s = (high - low) / 2 * nodes + (high + low) / 2
        none = (1.0 - s[None, :] ** rows) ** bands
        values = none if miss else 1.0 - none
        result: NDArray[np.float64] = (values @ weights) * (high - low) / 2
        return result

    fp_weight, fn_weight = _LSH_WEIGHTS
    error = area(0.0, threshold, False) * fp_weight + area(threshold, 1.0, True) * fn_weight
    b, r = pairs[int(np.argmin(error))]  # the first minimum, as datasketch's loop keeps it
    return (b, r) if b >= 2 else (2, num_perm // 2)

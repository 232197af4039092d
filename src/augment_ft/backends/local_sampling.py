"""Sampling under a JSON grammar for the batch engine (:mod:`~augment_ft.backends.local_engine`).

A schema becomes a GBNF grammar (:func:`schema_grammar`); :class:`GrammarSampler` draws each
token of one completion from llama.cpp's logits, greedy or with top-p / min-p /
temperature, among the tokens the grammar allows. Only llama.cpp's public C API is used.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["GrammarSampler", "schema_grammar"]


class GrammarSampler:
    """Sampling for one completion: the grammar is checked on the ``TOP_K`` likeliest tokens only,
    and on the whole vocabulary just when none of them fits (checking 150,000 tokens
    against a JSON grammar took most of a step's time)."""

    TOP_K = 40

    def __init__(
        self,
        lib: Any,
        vocab: Any,
        n_vocab: int,
        *,
        grammar: str | None,
        temperature: float,
        seed: int,
    ) -> None:
        import numpy as np

        self._lib, self._np, self._n_vocab = lib, np, n_vocab
        self._grammar = None
        if grammar is not None:
            self._grammar = lib.llama_sampler_init_grammar(vocab, grammar.encode("utf-8"), b"root")
            if not self._grammar:
                msg = "llama.cpp could not compile the grammar of the JSON schema"
                raise ValueError(msg)
        rest = lib.llama_sampler_chain_init(lib.llama_sampler_chain_default_params())
        if temperature <= 0:
            lib.llama_sampler_chain_add(rest, lib.llama_sampler_init_greedy())
        else:
            lib.llama_sampler_chain_add(rest, lib.llama_sampler_init_top_p(0.95, 1))
            lib.llama_sampler_chain_add(rest, lib.llama_sampler_init_min_p(0.05, 1))
            lib.llama_sampler_chain_add(rest, lib.llama_sampler_init_temp(temperature))
            lib.llama_sampler_chain_add(rest, lib.llama_sampler_init_dist(seed))
        self._rest = rest
        layout = [("id", np.intc), ("logit", np.single), ("p", np.single)]
        self._data = np.recarray((n_vocab,), dtype=np.dtype(layout, align=True))
        self._array = lib.llama_token_data_array(
            data=self._data.ctypes.data_as(lib.llama_token_data_p),
            size=0,
            selected=-1,
            sorted=False,
        )

    def sample(self, ctx: Any, index: int) -> int:
        """A token from the logits at batch ``index``, accepted by the grammar."""
        np = self._np
        raw = self._lib.llama_get_logits_ith(ctx, index)
        logits = np.ctypeslib.as_array(raw, shape=(self._n_vocab,))
        top = np.argpartition(logits, -self.TOP_K)[-self.TOP_K :]
        token = self._pick(top, logits)
        if token is None:  # no likely token fits the grammar: look at them all
            token = self._pick(np.arange(self._n_vocab, dtype=np.intc), logits)
        if token is None:
            msg = "no token fits the JSON grammar"
            raise RuntimeError(msg)
        if self._grammar is not None:
            self._lib.llama_sampler_accept(self._grammar, token)
        self._lib.llama_sampler_accept(self._rest, token)
        return token

    def _pick(self, ids: Any, logits: Any) -> int | None:
        import ctypes

        np, data, array = self._np, self._data, self._array
        n = len(ids)
        data.id[:n] = ids
        data.logit[:n] = logits[ids]
        data.p[:n] = 0.0
        array.size, array.selected, array.sorted = n, -1, False
        if self._grammar is not None:
            self._lib.llama_sampler_apply(self._grammar, ctypes.byref(array))
            if not np.isfinite(data.logit[: array.size]).any():
                return None
        self._lib.llama_sampler_apply(self._rest, ctypes.byref(array))
        if not 0 <= array.selected < array.size:
            return None
        return int(data.id[array.selected])

    def close(self) -> None:
        """Free the llama.cpp samplers."""
        if self._grammar is not None:
            self._lib.llama_sampler_free(self._grammar)
            self._grammar = None
        if self._rest is not None:
            self._lib.llama_sampler_free(self._rest)
            self._rest = None


def schema_grammar(schema: dict[str, Any]) -> str:
    """The GBNF grammar llama.cpp samples under for a JSON schema."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    return str(json_schema_to_gbnf(json.dumps(schema)))

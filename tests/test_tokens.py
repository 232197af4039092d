"""Token counting: real offline tiktoken encodings, cache seeding, and the estimate fallback."""

from __future__ import annotations

import hashlib
import socket
import struct
from pathlib import Path

import pytest
import tiktoken

import augment_ft.core.tokens as tokens_module
from augment_ft.core.errors import ConfigError
from augment_ft.core.models import Message
from augment_ft.core.tokens import (
    TokenCacheWarning,
    TokenCounter,
    TokenEstimateWarning,
    encoding_name_for_model,
    estimate_tokens,
    seed_tiktoken_cache,
    tiktoken_cache_dir,
)

BLOB = "https://openaipublic.blob.core.windows.net/encodings/{}.tiktoken"
# The sha256 values tiktoken itself checks (tiktoken_ext/openai_public.py).
PUBLISHED_SHA256 = {
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
}
SAMPLES = [
    "Gruds are a type of abmes; abmes include gruds.",
    "Earlier I read that feps can zarp. So dax can zarp.",
    "def f(x):\n    return {'a': x ** 2}\n",
    "In 2024, 1,234,567 people paid $89.99 each.",
    "Die Geschwindigkeitsbegrenzung auf Autobahnen wird häufig diskutiert.",
    "我们今天去公园散步\uff0c天气非常好。🙂",
    "",
]
PARAGRAPH = (
    "Plain fine-tuning on new facts generalizes poorly. Train 'A is the parent of B' and the "
    "model cannot answer who B's parent is. In-context learning generalizes much better, but "
    "every query then pays for the long context. Augmented fine-tuning uses a model in context "
    "to write out what the training data implies, adds those texts to the fine-tuning set, "
    "and only then fine-tunes; in 2025 it matched or beat in-context learning on reversals."
)


def cache_name(encoding: str) -> str:
    return hashlib.sha1(BLOB.format(encoding).encode()).hexdigest()


@pytest.fixture(autouse=True)
def _fresh_estimate_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sees the process-wide 'warn once' state as if nothing had warned yet."""
    monkeypatch.setattr(tokens_module, "_estimate_warned", False)


class NetworkUsed(BaseException):
    """Not an Exception, so no ``except Exception`` on the way can swallow it."""


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise NetworkUsed("token counting tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


# --- model -> encoding ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-4o", "o200k_base"),
        ("gpt-4o-mini-2024-07-18", "o200k_base"),
        ("chatgpt-4o-latest", "o200k_base"),
        ("gpt-4.1-nano", "o200k_base"),
        ("gpt-5", "o200k_base"),
        ("gpt-5.1-mini", "o200k_base"),
        ("o1", "o200k_base"),
        ("o3-mini", "o200k_base"),
        ("o4-mini-high", "o200k_base"),
        ("gpt-oss-20b", "o200k_base"),
        ("openai/gpt-4o", "o200k_base"),
        ("ft:gpt-4o-mini-2024-07-18:acme::abc123", "o200k_base"),
        ("GPT-4O", "o200k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-4-turbo-2024-04-09", "cl100k_base"),
        ("gpt-4-32k", "cl100k_base"),
        ("gpt-3.5-turbo-0125", "cl100k_base"),
        ("gpt-35-turbo", "cl100k_base"),
        ("text-embedding-3-small", "cl100k_base"),
        ("text-embedding-ada-002", "cl100k_base"),
    ],
)
def test_known_models_map_to_their_encoding(model: str, expected: str) -> None:
    assert encoding_name_for_model(model) == expected


@pytest.mark.parametrize("model", ["", "SmolLM2-135M-Instruct", "llama3.1:8b", "o10x", "gpt-40"])
def test_other_names_get_the_configurable_default(model: str) -> None:
    assert encoding_name_for_model(model) == "cl100k_base"
    assert encoding_name_for_model(model, default="o200k_base") == "o200k_base"


def test_unsupported_encoding_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"p50k_base.*cl100k_base, o200k_base"):
        TokenCounter(encoding="p50k_base")


# --- exact counts ----------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["cl100k_base", "o200k_base"])
def test_counts_equal_tiktoken_encode(encoding: str, no_network: None) -> None:
    counter = TokenCounter(encoding=encoding)
    reference = tiktoken.get_encoding(encoding)
    assert counter.exact
    for text in SAMPLES:
        assert counter.count(text) == len(reference.encode(text)), text


def test_o200k_and_cl100k_count_differently() -> None:
    text = "Die Geschwindigkeitsbegrenzung auf Autobahnen. 我们今天去公园散步。"
    new, old = TokenCounter("gpt-4o"), TokenCounter("gpt-4")
    assert (new.encoding_name, old.encoding_name) == ("o200k_base", "cl100k_base")
    assert new.count(text) < old.count(text)


def test_special_token_text_is_counted_as_text() -> None:
    counter = TokenCounter("gpt-4o")
    assert counter.count("<|endoftext|>") > 1


# A conversation from OpenAI's cookbook ("How to count tokens with tiktoken"), whose prompt
# tokens the API itself reported: 129 for gpt-4 / gpt-3.5-turbo, 124 for gpt-4o / gpt-4o-mini.
COOKBOOK_CHAT = [
    {
        "role": "system",
        "content": "You are a helpful, pattern-following assistant that translates "
        "corporate jargon into plain English.",
    },
    {
        "role": "system",
        "name": "example_user",
        "content": "New synergies will help drive top-line growth.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Things working well together will increase revenue.",
    },
    {
        "role": "system",
        "name": "example_user",
        "content": "Let's circle back when we have more bandwidth to touch base on "
        "opportunities for increased leverage.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Let's talk later when we're less busy about how to do better.",
    },
    {
        "role": "user",
        "content": "This late pivot means we don't have time to boil the ocean for the "
        "client deliverable.",
    },
]


@pytest.mark.parametrize(
    ("model", "api_prompt_tokens"), [("gpt-4", 129), ("gpt-3.5-turbo", 129), ("gpt-4o", 124)]
)
def test_message_overhead_matches_the_api(model: str, api_prompt_tokens: int) -> None:
    assert TokenCounter(model).count_messages(COOKBOOK_CHAT) == api_prompt_tokens


def test_message_models_and_mappings_count_alike() -> None:
    counter = TokenCounter("gpt-4o")
    chat = [Message(role="system", content="Be brief."), Message(role="user", content="Hi!")]
    as_dicts = [m.model_dump() for m in chat]
    assert counter.count_messages(chat) == counter.count_messages(as_dicts)
    named = [dict(as_dicts[0], name="coach"), as_dicts[1]]
    assert counter.count_messages(named) == counter.count_messages(chat) + 1 + counter.count(
        "coach"
    )
    assert counter.count_messages([]) == 3


# --- seeding the cache -----------------------------------------------------------------------


def test_seeding_writes_verified_files_under_tiktokens_names(tmp_path: Path) -> None:
    assert seed_tiktoken_cache(tmp_path) == {"cl100k_base": True, "o200k_base": True}
    for encoding, sha256 in PUBLISHED_SHA256.items():
        data = (tmp_path / cache_name(encoding)).read_bytes()
        assert hashlib.sha256(data).hexdigest() == sha256
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(map(cache_name, PUBLISHED_SHA256))


def test_seeding_keeps_a_valid_file_and_replaces_a_corrupt_one(tmp_path: Path) -> None:
    seed_tiktoken_cache(tmp_path)
    kept = tmp_path / cache_name("o200k_base")
    inode = kept.stat().st_ino
    broken = tmp_path / cache_name("cl100k_base")
    broken.write_bytes(b"not an encoding\n")
    assert seed_tiktoken_cache(tmp_path) == {"cl100k_base": True, "o200k_base": True}
    assert kept.stat().st_ino == inode
    assert hashlib.sha256(broken.read_bytes()).hexdigest() == PUBLISHED_SHA256["cl100k_base"]


def test_seeding_without_packages_reports_nothing_available(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    assert seed_tiktoken_cache(cache, search_paths=[tmp_path]) == {
        "cl100k_base": False,
        "o200k_base": False,
    }
    assert not cache.exists()


def test_seeding_refuses_a_corrupted_package_file(tmp_path: Path) -> None:
    site = tmp_path / "site"
    fake = site / "tiktoken_ext" / "data" / "cl100k_base.tiktoken"
    fake.parent.mkdir(parents=True)
    fake.write_bytes(b"IQ== 0\nIg== 1\n")  # well-formed, but not the published file
    cache = tmp_path / "cache"
    with pytest.warns(TokenCacheWarning, match=r"does not match the published sha256"):
        result = seed_tiktoken_cache(cache, search_paths=[site])
    assert result["cl100k_base"] is False
    assert not (cache / cache_name("cl100k_base")).exists()


def test_seeding_refuses_a_truncated_quicktok_vocab(tmp_path: Path) -> None:
    site = tmp_path / "site"
    vocab = site / "quicktok" / "data" / "o200k.vocab"
    vocab.parent.mkdir(parents=True)
    vocab.write_bytes(struct.pack("<IH", 5, 3) + b"ab")  # five entries promised, half of one
    with pytest.warns(TokenCacheWarning, match=r"cannot be read as o200k_base"):
        result = seed_tiktoken_cache(tmp_path / "cache", search_paths=[site])
    assert result == {"cl100k_base": False, "o200k_base": False}


def test_cache_dir_follows_tiktokens_rule(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("TIKTOKEN_CACHE_DIR")
    monkeypatch.setenv("DATA_GYM_CACHE_DIR", str(tmp_path))
    assert tiktoken_cache_dir() == tmp_path
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")
    assert tiktoken_cache_dir() is None


def test_counter_seeds_lazily_on_first_use(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    counter = TokenCounter("gpt-4o")
    assert list(tmp_path.iterdir()) == []
    assert counter.count("hello world") == 2
    assert (tmp_path / cache_name("o200k_base")).is_file()


# --- the fallback ----------------------------------------------------------------------------


def test_fallback_estimates_with_exactly_one_warning(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, no_network: None
) -> None:
    exact = TokenCounter("gpt-4o").count(PARAGRAPH)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    counter = TokenCounter("gpt-4o", seed_cache=False)
    with pytest.warns(TokenEstimateWarning, match=r"augment-ft\[tokens\]") as record:
        estimate = counter.count(PARAGRAPH)
        assert not counter.exact
        assert counter.count_messages([Message(role="user", content="hi")]) > 7
        assert TokenCounter("gpt-4", seed_cache=False).count("another") > 0
    assert len(record) == 1
    assert abs(estimate - exact) <= 0.15 * exact
    assert list(tmp_path.iterdir()) == []


def test_disabled_cache_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")
    with pytest.warns(TokenEstimateWarning, match="cache is disabled"):
        assert TokenCounter("gpt-4o").count("one two three") == 3


@pytest.mark.parametrize("encoding", ["cl100k_base", "o200k_base"])
@pytest.mark.parametrize("text", [*SAMPLES[:5], PARAGRAPH])
def test_estimate_stays_near_real_counts(encoding: str, text: str) -> None:
    real = TokenCounter(encoding=encoding).count(text)
    assert abs(estimate_tokens(text) - real) <= max(3, 0.3 * real)


def test_estimate_of_nothing_is_zero_and_grows_with_text() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("   \n ") == 0
    assert estimate_tokens(PARAGRAPH * 2) == 2 * estimate_tokens(PARAGRAPH)

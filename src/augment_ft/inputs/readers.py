"""Read documents and facts from files, directories and globs: streaming, every fault located.

``.txt``/``.md``/``.markdown`` files are one document each; ``.jsonl`` holds one record per
line and ``.json`` one record or a list of them. A record with ``subject``/``relation``/
``object`` and no text field is a :class:`Fact`. Bad input raises :class:`InputError`
naming file, line or byte offset, or with ``on_error="skip"`` is counted by reason under
stage ``read`` of the run's :class:`~augment_ft.core.drops.DropLog`.

Reasons: invalid_utf8, malformed_json, not_an_object, missing_text_field, text_not_string,
invalid_id, binary_file, empty, duplicate_id, unreadable, invalid_fact, unexpected_fact,
unexpected_document, unsupported_extension.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import JsonValue, ValidationError

from augment_ft.core.drops import DropLog
from augment_ft.core.errors import ConfigError, InputError
from augment_ft.core.fingerprints import FingerprintSet, fingerprint
from augment_ft.core.models import Document, Fact
from augment_ft.inputs.files import (
    SUPPORTED_EXTENSIONS,
    RawItem,
    RawRecord,
    RawText,
    find_files,
    json_type,
    normalize_newlines,
)
from augment_ft.inputs.scan import scan_file

__all__ = [
    "FACT_FIELDS",
    "READ_STAGE",
    "SUPPORTED_EXTENSIONS",
    "OnError",
    "iter_paths",
    "read_documents",
    "read_facts",
    "read_files",
    "read_inputs",
]

OnError = Literal["raise", "skip"]
FACT_FIELDS = ("subject", "relation", "object")
READ_STAGE = "read"
"""The drop-log stage of every skipped input."""
_Kind = Literal["documents", "facts", "both"]


def iter_paths(
    inputs: Iterable[str | Path] | str | Path, *, drops: DropLog | None = None
) -> Iterator[Path]:
    """Input files in a stable order, from files, directories (recursive) and globs.

    Every input is checked before the first path comes out, so a typo fails before any
    reading. Directories yield supported files sorted by path, skipping hidden entries and
    not following symlinked directories; other files found there are counted in ``drops``
    as ``unsupported_extension``. A file reached twice is yielded once.
    """

    def count_unsupported(path: Path) -> None:
        if drops is not None:
            supported = ", ".join(SUPPORTED_EXTENSIONS)
            message = f"{path}: not read: supported extensions are {supported}"
            drops.add(READ_STAGE, "unsupported_extension", detail=message)

    return find_files(inputs, on_unsupported=count_unsupported)


# ---------------------------------------------------------------- reading


def read_documents(
    inputs: Iterable[str | Path] | str | Path,
    *,
    text_field: str = "text",
    id_field: str = "id",
    on_error: OnError = "raise",
    drops: DropLog | None = None,
) -> Generator[Document, None, None]:
    """Stream the documents of ``inputs``; a fact record there is an ``unexpected_fact``."""
    reader = _Reader("documents", text_field, id_field, on_error, drops)
    return reader.documents(iter_paths(inputs, drops=drops))


def read_facts(
    inputs: Iterable[str | Path] | str | Path,
    *,
    on_error: OnError = "raise",
    drops: DropLog | None = None,
) -> Generator[Fact, None, None]:
    """Stream the facts of ``inputs``: JSON records with subject, relation and object."""
    reader = _Reader("facts", "text", "id", on_error, drops)
    return reader.facts(iter_paths(inputs, drops=drops))


def read_inputs(
    inputs: Iterable[str | Path] | str | Path,
    *,
    text_field: str = "text",
    id_field: str = "id",
    on_error: OnError = "raise",
    drops: DropLog | None = None,
) -> Generator[Document | Fact, None, None]:
    """Stream documents and facts together, deciding per record which one it is."""
    files = iter_paths(inputs, drops=drops)
    return read_files(
        files, text_field=text_field, id_field=id_field, on_error=on_error, drops=drops
    )


def read_files(
    files: Iterable[Path],
    *,
    text_field: str = "text",
    id_field: str = "id",
    on_error: OnError = "raise",
    drops: DropLog | None = None,
) -> Generator[Document | Fact, None, None]:
    """:func:`read_inputs` over files already found (by :func:`iter_paths`): no second check."""
    reader = _Reader("both", text_field, id_field, on_error, drops)
    return reader.run(iter(files))


class _Reader:
    """Turns raw file content into documents and facts under one set of options."""

    def __init__(
        self,
        kind: _Kind,
        text_field: str,
        id_field: str,
        on_error: str,
        drops: DropLog | None,
    ) -> None:
        if on_error not in ("raise", "skip"):
            raise ConfigError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        if on_error == "skip" and drops is None:
            raise ConfigError("on_error='skip' needs drops=DropLog() to count what it skips")
        if not text_field or not id_field or text_field == id_field:
            raise ConfigError(
                f"text_field and id_field must be distinct non-empty names, "
                f"got {text_field!r} and {id_field!r}"
            )
        self.kind = kind
        self.text_field = text_field
        self.id_field = id_field
        self.on_error = on_error
        self.drops = drops
        # 64-bit fingerprints of the ids seen: about 1.5 bytes each past 131,072 documents.
        self._seen_ids = FingerprintSet()

    def documents(self, paths: Iterator[Path]) -> Generator[Document, None, None]:
        """Only documents (the reader's kind guarantees no fact comes out)."""
        for item in self.run(paths):
            if isinstance(item, Document):
                yield item

    def facts(self, paths: Iterator[Path]) -> Generator[Fact, None, None]:
        """Only facts (the reader's kind guarantees no document comes out)."""
        for item in self.run(paths):
            if isinstance(item, Fact):
                yield item

    def run(self, paths: Iterator[Path]) -> Generator[Document | Fact, None, None]:
        """Convert every file's content, raising or counting each fault."""
        for path in paths:
            for raw in scan_file(path):
                try:
                    item = self._convert(raw)
                except InputError as error:
                    if self.on_error == "raise" or self.drops is None:
                        raise
                    self.drops.add(READ_STAGE, error.reason, detail=str(error))
                    continue
                yield item

    def _convert(self, raw: RawItem) -> Document | Fact:
        """One raw item as a document or fact; a fault is raised as InputError."""
        if isinstance(raw, InputError):
            raise raw
        if isinstance(raw, RawText):
            if self.kind == "facts":
                raise InputError(
                    "holds a text document, not facts; read_facts() takes .jsonl/.json records "
                    "with subject, relation and object. Use read_inputs() to read both",
                    path=raw.path,
                    reason="unexpected_document",
                )
            return self._unique(Document(text=raw.text, metadata={"source": raw.path}), raw)
        record = self._as_object(raw)
        if self.kind == "facts" or (self.kind == "both" and self._is_fact(record)):
            return _fact(raw, record)
        if self._is_fact(record):
            raise _located(
                raw,
                f"this record is a fact (subject/relation/object and no {self.text_field!r} "
                "field); read it with read_facts() or read_inputs()",
                "unexpected_fact",
            )
        return self._unique(self._document(raw, record), raw)

    def _is_fact(self, record: dict[str, Any]) -> bool:
        """A record with all three fact fields is a fact (its text is the fact's sentence);
        so is one without the text field that has any of them (to report what is missing)."""
        if all(name in record for name in FACT_FIELDS):
            return True
        return self.text_field not in record and any(name in record for name in FACT_FIELDS)

    @staticmethod
    def _as_object(raw: RawRecord) -> dict[str, Any]:
        """The record as a JSON object, or a not_an_object fault."""
        if not isinstance(raw.value, dict):
            raise _located(
                raw,
                f'expected a JSON object such as {{"text": "..."}}, got a {json_type(raw.value)}',
                "not_an_object",
            )
        return raw.value

    def _document(self, raw: RawRecord, record: dict[str, Any]) -> Document:
        """A document from a record: text and id fields taken out, the rest is metadata."""
        if self.text_field not in record:
            fields = ", ".join(repr(name) for name in sorted(record)) or "none"
            raise _located(
                raw,
                f"the record has no {self.text_field!r} field (its fields: {fields}); name "
                "the field that holds the text with the text_field option",
                "missing_text_field",
            )
        text = record[self.text_field]
        if not isinstance(text, str):
            raise _located(
                raw,
                f"field {self.text_field!r} must be a string, got a {json_type(text)}",
                "text_not_string",
            )
        text = normalize_newlines(text)
        if not text.strip():
            raise _located(raw, "the text is empty or whitespace only", "empty")
        return Document(
            id=self._record_id(raw, record.get(self.id_field)),
            text=text,
            metadata=self._metadata(raw, record),
        )

    def _record_id(self, raw: RawRecord, value: object) -> str:
        """The given id as a string; "" (so the content hash is used) when absent."""
        if value is None or isinstance(value, str):
            return value or ""
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        raise _located(
            raw,
            f"field {self.id_field!r} must be a string or an integer, got a {json_type(value)}",
            "invalid_id",
        )

    def _metadata(self, raw: RawRecord, record: dict[str, Any]) -> dict[str, JsonValue]:
        """Every other field; a nested ``metadata`` object is merged so dumps read back."""
        nested = record.get("metadata")
        metadata: dict[str, JsonValue] = dict(nested) if isinstance(nested, dict) else {}
        for name, value in record.items():
            if name not in (self.text_field, self.id_field) and not (
                name == "metadata" and isinstance(value, dict)
            ):
                metadata[name] = value
        metadata.setdefault("source", raw.path)  # a record's own "source" is kept as given
        if raw.line is not None:
            metadata.setdefault("line", raw.line)
        if raw.index is not None:
            metadata.setdefault("index", raw.index)
        return metadata

    def _unique(self, document: Document, raw: RawText | RawRecord) -> Document:
        """The document, unless an earlier one has the same id (a duplicate_id fault)."""
        if not self._seen_ids.add(fingerprint(document.id)):
            if isinstance(raw, RawText):
                hint = "an earlier file has the same text; remove the duplicate file"
            else:
                hint = (
                    "an earlier document already has it; give each record its own "
                    f"{self.id_field!r} or remove the duplicate (ids without an "
                    f"{self.id_field!r} field come from the normalized text)"
                )
            raise _located(raw, f"duplicate document id {document.id!r}: {hint}", "duplicate_id")
        return document


def _located(raw: RawText | RawRecord, message: str, reason: str) -> InputError:
    """An InputError at the raw item's file, line, and list position."""
    if isinstance(raw, RawText):
        return InputError(message, path=raw.path, reason=reason)
    return InputError(raw.where + message, path=raw.path, line=raw.line, reason=reason)


def _fact(raw: RawRecord, record: dict[str, Any]) -> Fact:
    """A validated fact; pydantic's complaints become one located InputError."""
    try:
        return Fact.model_validate(record)
    except ValidationError as exc:
        problems = "; ".join(
            f"field {'.'.join(str(part) for part in error['loc']) or '(record)'!r}: {error['msg']}"
            for error in exc.errors()[:5]
        )
        raise _located(
            raw,
            f"invalid fact: {problems}. A fact needs non-empty string fields subject, "
            "relation and object; optional: text, source_id",
            "invalid_fact",
        ) from exc

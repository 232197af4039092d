"""Reading documents and facts: file discovery, streaming, located errors, raise vs skip."""

from __future__ import annotations

import json
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import ValidationError

from augment_ft.core.drops import DropLog
from augment_ft.core.errors import ConfigError, InputError
from augment_ft.core.models import Document, Fact
from augment_ft.inputs.readers import (
    iter_paths,
    read_documents,
    read_facts,
    read_inputs,
)


def write(path: Path, content: str | bytes) -> Path:
    """Write text (as UTF-8) or bytes, creating parent directories."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def jsonl(*records: object) -> str:
    return "".join(json.dumps(record) + "\n" for record in records)


# ----------------------------------------------------------------- finding files


def test_directory_walk_is_sorted_recursive_and_skips_hidden(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    for name in [
        "b.md",
        "a.txt",
        "a-b.markdown",
        "a/z.jsonl",
        "a/y/x.json",
        "c/.hidden.md",
        ".git/objects/notes.txt",
        "notes.rst",
        "UPPER.TXT",
    ]:
        write(root / name, "some text")
    drops = DropLog()
    found = [path.relative_to(root).as_posix() for path in iter_paths([root], drops=drops)]
    # Sorted by name at each level, so a/ (a directory) comes before a-b.markdown.
    assert found == ["UPPER.TXT", "a/y/x.json", "a/z.jsonl", "a-b.markdown", "a.txt", "b.md"]
    assert drops.by_reason() == {"read": {"unsupported_extension": 1}}
    assert drops.samples[0].detail.startswith(str(root / "notes.rst"))


def test_glob_reaches_subdirectories_and_a_file_is_read_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "docs" / "top.md", "x")
    write(tmp_path / "docs" / "deep" / "er" / "low.md", "x")
    write(tmp_path / "docs" / "deep" / "skip.txt", "x")
    monkeypatch.chdir(tmp_path)
    found = [p.as_posix() for p in iter_paths(["docs/**/*.md", "docs/top.md"])]
    assert found == ["docs/deep/er/low.md", "docs/top.md"]


def test_glob_matching_nothing_is_an_error(tmp_path: Path) -> None:
    pattern = str(tmp_path / "docs" / "*.md")
    with pytest.raises(InputError, match="matches nothing") as info:
        iter_paths([pattern])
    assert info.value.path == pattern
    assert info.value.reason == "no_match"


def test_glob_matching_only_other_file_types_is_an_error(tmp_path: Path) -> None:
    write(tmp_path / "notes.rst", "x")
    with pytest.raises(InputError, match=r"holds no file to read.*\.jsonl"):
        list(iter_paths([str(tmp_path / "*")]))


def test_missing_path_is_named_before_anything_is_read(tmp_path: Path) -> None:
    good = write(tmp_path / "good.md", "text")
    missing = tmp_path / "missing.md"
    # Raised by the call itself, not on iteration: a typo fails before any work is done.
    with pytest.raises(InputError, match="no such file or directory") as info:
        read_documents([good, missing])
    assert info.value.path == str(missing)
    assert str(missing) in str(info.value)


def test_named_file_with_unknown_extension_lists_the_supported_ones(tmp_path: Path) -> None:
    path = write(tmp_path / "table.csv", "a,b")
    with pytest.raises(InputError) as info:
        iter_paths([path])
    message = str(info.value)
    assert "table.csv" in message
    assert "'.csv'" in message
    for extension in (".txt", ".md", ".markdown", ".jsonl", ".json"):
        assert extension in message


def test_directory_without_readable_files_is_an_error(tmp_path: Path) -> None:
    write(tmp_path / "empty" / ".hidden.md", "x")
    with pytest.raises(InputError, match="holds no file to read"):
        list(iter_paths([tmp_path / "empty"]))


def test_a_single_path_string_is_one_input(tmp_path: Path) -> None:
    path = write(tmp_path / "one.md", "A text.")
    docs = list(read_documents(str(path)))
    assert [doc.text for doc in docs] == ["A text."]


# ----------------------------------------------------------------- documents


def test_text_files_are_one_document_each_with_stable_ids(tmp_path: Path) -> None:
    write(tmp_path / "a.md", b"\xef\xbb\xbf# Title\r\n\r\nBody line.\r\n")
    write(tmp_path / "b.txt", "Other text.\n")
    first = list(read_documents([tmp_path]))
    assert [doc.text for doc in first] == ["# Title\n\nBody line.", "Other text."]
    assert [doc.metadata["source"] for doc in first] == [
        str(tmp_path / "a.md"),
        str(tmp_path / "b.txt"),
    ]
    again = list(read_documents([tmp_path]))
    assert [doc.id for doc in again] == [doc.id for doc in first]
    assert first[0].id != first[1].id
    # The id follows the content, not the file name: a renamed file keeps its id.
    (tmp_path / "b.txt").rename(tmp_path / "renamed.txt")
    (renamed,) = read_documents([tmp_path / "renamed.txt"])
    assert renamed.id == first[1].id


def test_jsonl_fields_become_metadata_with_location(tmp_path: Path) -> None:
    path = write(
        tmp_path / "docs.jsonl",
        jsonl(
            {"id": "d1", "text": "First.", "lang": "en", "tags": ["a", 1, None]},
            {"text": "Second.", "source": "wiki", "metadata": {"page": 3}},
        ).replace("\n", "\n\n", 1),  # a blank line between the records is passed over
    )
    first, second = read_documents([path])
    assert first.id == "d1"
    assert first.metadata == {
        "lang": "en",
        "tags": ["a", 1, None],
        "source": str(path),
        "line": 1,
    }
    assert second.id.startswith("doc-")
    # Line numbers count the blank line; the record's own "source" wins over the path.
    assert second.metadata == {"source": "wiki", "page": 3, "line": 3}


def test_dumped_documents_read_back_with_their_ids_and_metadata(tmp_path: Path) -> None:
    originals = [Document(text="One.", metadata={"k": 1}), Document(id="x", text="Two.")]
    path = write(tmp_path / "dump.jsonl", "".join(d.model_dump_json() + "\n" for d in originals))
    back = list(read_documents([path]))
    assert [(d.id, d.text) for d in back] == [(d.id, d.text) for d in originals]
    assert back[0].metadata["k"] == 1


def test_text_and_id_fields_are_configurable(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.jsonl", jsonl({"doc_id": 7, "body": "Hello.\r\nBye.", "text": "meta"})
    )
    (doc,) = read_documents([path], text_field="body", id_field="doc_id")
    assert doc.id == "7"  # integer ids are accepted as their decimal string
    assert doc.text == "Hello.\nBye."
    assert doc.metadata["text"] == "meta"


def test_json_file_holds_one_record_or_a_list(tmp_path: Path) -> None:
    write(tmp_path / "list.json", json.dumps([{"text": "A."}, {"text": "B.", "id": "b"}]))
    write(tmp_path / "single.json", json.dumps({"text": "C."}))
    docs = list(read_documents([tmp_path]))
    assert [doc.text for doc in docs] == ["A.", "B.", "C."]
    assert [doc.metadata.get("index") for doc in docs] == [0, 1, None]


def test_partly_read_stream_closes_its_file(tmp_path: Path) -> None:
    path = write(tmp_path / "many.jsonl", jsonl(*({"text": f"t{i}"} for i in range(5))))
    stream = read_documents([path])
    assert next(stream).text == "t0"
    stream.close()  # with -W error, a leaked file handle would fail this test


# ----------------------------------------------------------------- bad input


@dataclass(frozen=True)
class Bad:
    """A file with one bad item; ``good`` documents must still come out when skipping."""

    name: str
    content: bytes
    reason: str
    line: int | None
    offset: int | None
    words: tuple[str, ...]
    good: int


def _bad_cases() -> list[Bad]:
    ok = b'{"text": "fine"}\n'
    latin = b'{"text": "caf\xe9"}\n'
    return [
        Bad(
            "u.jsonl", ok + latin, "invalid_utf8", 2, len(ok) + latin.index(b"\xe9"), ("UTF-8",), 1
        ),
        Bad("u.txt", b"line one\nline tw\xff", "invalid_utf8", 2, 16, ("UTF-8",), 0),
        Bad("m.jsonl", ok + b"\n" + b'{"text": "x",}\n', "malformed_json", 3, None, ("JSON",), 1),
        Bad("n.jsonl", ok + b'{"text": NaN}\n', "malformed_json", 2, None, ("NaN",), 1),
        Bad("o.jsonl", b"[1, 2]\n" + ok, "not_an_object", 1, None, ("array",), 1),
        Bad(
            "f.jsonl",
            ok + b'{"body": "x", "title": "t"}\n',
            "missing_text_field",
            2,
            None,
            ("'body', 'title'", "text_field"),
            1,
        ),
        Bad("s.jsonl", b'{"text": 5}\n' + ok, "text_not_string", 1, None, ("number",), 1),
        Bad("i.jsonl", b'{"text": "a", "id": [1]}\n' + ok, "invalid_id", 1, None, ("id",), 1),
        Bad("b.txt", b"GIF89a\x00\x01\x02", "binary_file", None, 6, ("binary", "UTF-16"), 0),
        Bad("e.txt", b"  \r\n\t\n", "empty", None, None, ("empty",), 0),
        Bad("w.jsonl", ok + b'{"text": " \\n "}\n', "empty", 2, None, ("empty",), 1),
        Bad("blank.jsonl", b"\n  \n", "empty", None, None, ("no records",), 0),
        Bad("l.json", b"[]", "empty", None, None, ("no records",), 0),
        Bad("x.json", b'"just text"', "not_an_object", None, None, ("string",), 0),
        Bad(
            "d.jsonl",
            b'{"id": "a", "text": "one"}\n{"id": "a", "text": "two"}\n',
            "duplicate_id",
            2,
            None,
            ("'a'",),
            1,
        ),
        Bad(
            "fact.jsonl", ok + b'{"subject": "a"}\n', "unexpected_fact", 2, None, ("read_facts",), 1
        ),
    ]


BAD_CASES = _bad_cases()


@pytest.mark.parametrize("case", BAD_CASES, ids=[f"{c.reason}-{c.name}" for c in BAD_CASES])
def test_bad_input_raises_with_its_location(tmp_path: Path, case: Bad) -> None:
    path = write(tmp_path / case.name, case.content)
    with pytest.raises(InputError) as info:
        list(read_documents([path]))
    error = info.value
    assert (error.reason, error.path, error.line, error.offset) == (
        case.reason,
        str(path),
        case.line,
        case.offset,
    )
    message = str(error)
    assert message.startswith(str(path) + (f":{case.line}" if case.line else ""))
    if case.offset is not None:
        assert f"byte {case.offset}" in message
    for word in case.words:
        assert word in message


@pytest.mark.parametrize("case", BAD_CASES, ids=[f"{c.reason}-{c.name}" for c in BAD_CASES])
def test_bad_input_is_skipped_and_counted(tmp_path: Path, case: Bad) -> None:
    path = write(tmp_path / case.name, case.content)
    drops = DropLog()
    docs = list(read_documents([path], on_error="skip", drops=drops))
    assert len(docs) == case.good
    assert drops.by_reason() == {"read": {case.reason: 1}}
    (sample,) = drops.samples
    where = str(path) + (f":{case.line}" if case.line else "")
    assert sample.detail.startswith(where)
    assert sample.detail[len(where)] in ": "  # the located message, not a longer path


def test_invalid_utf8_in_a_text_file_reports_line_and_offset_after_a_bom(tmp_path: Path) -> None:
    content = b"\xef\xbb\xbfok\nstill ok\nbad \xc3\x28 here"
    path = write(tmp_path / "bom.md", content)
    with pytest.raises(InputError) as info:
        list(read_documents([path]))
    assert (info.value.line, info.value.offset) == (3, content.index(b"\xc3"))
    assert isinstance(info.value.__cause__, UnicodeDecodeError)


def test_same_text_in_two_files_is_a_duplicate(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "Same words.")
    write(tmp_path / "b.txt", "Same  words.\n")  # equal after whitespace normalization
    with pytest.raises(InputError, match="same text") as info:
        list(read_documents([tmp_path]))
    assert info.value.path == str(tmp_path / "b.txt")
    drops = DropLog()
    docs = list(read_documents([tmp_path], on_error="skip", drops=drops))
    assert [doc.metadata["source"] for doc in docs] == [str(tmp_path / "a.txt")]
    assert drops.by_reason() == {"read": {"duplicate_id": 1}}


def test_file_that_vanishes_before_reading_is_unreadable(tmp_path: Path) -> None:
    keep = write(tmp_path / "keep.md", "Kept.")
    gone = write(tmp_path / "gone.md", "Gone.")
    drops = DropLog()
    stream = read_documents([keep, gone], on_error="skip", drops=drops)
    gone.unlink()  # the inputs were checked at the call; the file disappears afterwards
    assert [doc.text for doc in stream] == ["Kept."]
    assert drops.by_reason() == {"read": {"unreadable": 1}}
    assert "gone.md" in drops.samples[0].detail
    write(gone, "Back.")
    stream = read_documents([gone])
    gone.unlink()
    with pytest.raises(InputError, match="cannot be read") as info:
        list(stream)
    assert isinstance(info.value.__cause__, FileNotFoundError)


def test_skipping_keeps_reading_after_many_faults(tmp_path: Path) -> None:
    lines = [b"not json\n"] * 150 + [b'{"text": "survivor"}\n']
    path = write(tmp_path / "noisy.jsonl", b"".join(lines))
    drops = DropLog(samples_per_reason=100)
    docs = list(read_documents([path], on_error="skip", drops=drops))
    assert [doc.text for doc in docs] == ["survivor"]
    assert drops.total("read") == 150
    assert len(drops.samples) == 100
    assert drops.by_reason() == {"read": {"malformed_json": 150}}
    assert [s.detail.split(":")[1] for s in drops.samples[:3]] == ["1", "2", "3"]


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"on_error": "skip"}, "drops=DropLog()"),
        ({"on_error": "ignore"}, "'raise' or 'skip'"),
        ({"text_field": "id"}, "distinct"),
        ({"text_field": ""}, "non-empty"),
    ],
)
def test_bad_options_fail_at_the_call(tmp_path: Path, kwargs: dict[str, str], words: str) -> None:
    path = write(tmp_path / "a.md", "x")
    with pytest.raises(ConfigError, match=words.replace("(", r"\(").replace(")", r"\)")):
        read_documents([path], **kwargs)  # type: ignore[arg-type]


# ----------------------------------------------------------------- facts


def test_read_facts_validates_each_record(tmp_path: Path) -> None:
    path = write(
        tmp_path / "facts.jsonl",
        jsonl(
            {"subject": "dax", "relation": "is_a", "object": "fep", "text": "Dax are feps."},
            {"subject": "fep", "relation": "can", "object": "zarp", "source_id": "doc-1"},
        ),
    )
    facts = list(read_facts([path]))
    assert [fact.key for fact in facts] == [("dax", "is_a", "fep"), ("fep", "can", "zarp")]
    assert facts[0].text == "Dax are feps."
    assert facts[1].source_id == "doc-1"


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"subject": "a", "relation": "is_a"}, "object"),
        ({"subject": "a", "relation": "is_a", "object": ""}, "object"),
        ({"subject": 3, "relation": "is_a", "object": "b"}, "subject"),
        ({"subject": "a", "relation": "is_a", "object": "b", "weight": 1}, "weight"),
    ],
)
def test_invalid_fact_names_file_line_and_field(
    tmp_path: Path, record: dict[str, object], field: str
) -> None:
    good = {"subject": "x", "relation": "is_a", "object": "y"}
    path = write(tmp_path / "facts.jsonl", jsonl(good, record))
    with pytest.raises(InputError) as info:
        list(read_facts([path]))
    assert str(info.value).startswith(f"{path}:2: invalid fact: field {field!r}")
    assert isinstance(info.value.__cause__, ValidationError)
    drops = DropLog()
    assert len(list(read_facts([path], on_error="skip", drops=drops))) == 1
    assert drops.by_reason() == {"read": {"invalid_fact": 1}}


def test_read_facts_refuses_text_documents(tmp_path: Path) -> None:
    path = write(tmp_path / "a.md", "A text.")
    with pytest.raises(InputError, match="read_inputs") as info:
        list(read_facts([path]))
    assert info.value.reason == "unexpected_document"


def test_read_inputs_mixes_documents_and_facts(tmp_path: Path) -> None:
    write(tmp_path / "a.md", "Dax are feps.")
    write(
        tmp_path / "facts.jsonl",
        jsonl(
            {"subject": "dax", "relation": "is_a", "object": "fep"},
            # All three fact fields make a fact; its text field is the fact's sentence.
            {"text": "Feps can zarp.", "subject": "fep", "relation": "can", "object": "zarp"},
        ),
    )
    items = list(read_inputs([tmp_path]))
    assert [type(item) for item in items] == [Document, Fact, Fact]
    assert isinstance(items[2], Fact)
    assert items[2].text == "Feps can zarp."
    # A custom text field changes which records count as documents.
    kinds = [type(i) for i in read_inputs([tmp_path / "facts.jsonl"], text_field="body")]
    assert kinds == [Fact, Fact]


# ----------------------------------------------------------------- bounded memory


def test_large_jsonl_streams_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    body = ("loremipsum" * 10 + " ") * 200  # about 20 KB of text per record
    count = 2_500
    with path.open("w", encoding="utf-8") as out:
        for i in range(count):
            out.write(json.dumps({"text": f"{i} {body}", "n": i}) + "\n")
    size = path.stat().st_size
    assert size > 50_000_000
    tracemalloc.start()
    try:
        read = sum(1 for _ in read_documents([path]))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert read == count
    # A few records and the set of ids, never the file: 51 MB read at about a 1 MB peak.
    assert peak < 10_000_000, f"peak {peak / 1e6:.1f} MB while reading {size / 1e6:.0f} MB"

"""Dedup: normalization, exact and near duplicates, decontamination, the combined stage."""

from __future__ import annotations

import json
import random
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from datasketch import MinHash
from hypothesis import given
from hypothesis import strategies as st

from augment_ft.core.drops import DropLog
from augment_ft.core.errors import ConfigError, InputError
from augment_ft.core.models import Example, Provenance
from augment_ft.dedup import (
    Decontaminator,
    Deduplicator,
    ExactDeduper,
    MinHasher,
    NearDeduper,
    normalize_for_dedup,
    read_eval_texts,
)
from augment_ft.dedup.hashtable import HashMultiMap

LETTERS = "abcdefghijklmnopqrstuvwxyz"


def sentences(n: int, seed: int = 0, words: tuple[int, int] = (12, 20)) -> list[str]:
    """Distinct random sentences over a made-up vocabulary."""
    rng = random.Random(seed)
    vocab = ["".join(rng.choices(LETTERS, k=rng.randint(3, 9))) for _ in range(5000)]
    out = {" ".join(rng.choices(vocab, k=rng.randint(*words))).capitalize() + "." for _ in range(n)}
    return sorted(out)


def shingles(text: str, k: int = 5) -> set[str]:
    norm = normalize_for_dedup(text)
    return {norm[i : i + k] for i in range(max(1, len(norm) - k + 1))}


def jaccard(a: str, b: str) -> float:
    sa, sb = shingles(a), shingles(b)
    return len(sa & sb) / len(sa | sb)


def edit(text: str, rng: random.Random, changes: int = 1) -> str:
    """``text`` with ``changes`` letters replaced by other letters."""
    chars = list(text)
    for pos in rng.sample([i for i, c in enumerate(chars) if c.isalpha()], changes):
        chars[pos] = rng.choice([c for c in LETTERS if c != chars[pos].lower()])
    return "".join(chars)


def example(text: str, source: str = "doc-1", prompt: str = "") -> Example:
    prov = Provenance(source_id=source, strategy="original")
    return Example(prompt=prompt, completion=text, kind="original", provenance=prov)


# --- normalization ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Hello,   World!\n", "hello world"),
        ("\uff28\uff45\uff4c\uff4c\uff4f", "hello"),  # full-width letters: NFKC
        ("Straße", "strasse"),  # casefold, not just lower
        ("«Bonjour» — dit-il…", "bonjour ditil"),  # Unicode punctuation goes
        ("zero\u200bwidth\ttab", "zerowidth tab"),  # format characters go, tabs are spaces
        ("5 + 3 = $8", "5 + 3 = $8"),  # symbols are content, not punctuation
        ("well-known", "wellknown"),
        ("", ""),
    ],
)
def test_normalize_for_dedup(raw: str, expected: str) -> None:
    assert normalize_for_dedup(raw) == expected


@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_ascii_fast_path_agrees_with_the_unicode_path(text: str) -> None:
    # A zero-width space is removed by the rule but forces the general (non-ASCII) path.
    assert normalize_for_dedup(text) == normalize_for_dedup(text + "\u200b")


# --- exact ------------------------------------------------------------------------------------


def test_exact_deduper_sees_texts_that_normalize_alike() -> None:
    dedup = ExactDeduper()
    assert not dedup.seen("Gruds are a type of abmes.")
    dedup.add("Gruds are a type of abmes.")
    assert dedup.seen("gruds ARE a type of abmes")
    assert not dedup.seen("Gruds are a type of feps.")
    assert dedup.check_and_add("Abmes include gruds.") is False
    assert dedup.check_and_add("abmes include gruds!") is True
    assert len(dedup) == 2


def test_exact_deduper_memory_per_entry_is_a_small_hash() -> None:
    texts = [f"sentence number {i} about the zarp of feps and dax" for i in range(100_000)]
    dedup = ExactDeduper()
    tracemalloc.start()
    try:
        for text in texts:
            dedup.add(text)
        used, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(dedup) == 100_000
    assert used / len(dedup) < 150  # a 16-byte digest in a set; the texts are ~50 chars


# --- MinHash signatures -----------------------------------------------------------------------


def test_signatures_equal_datasketch_minhash_with_the_same_permutations() -> None:
    hasher = MinHasher(num_perm=64, shingle=5, seed=7)
    texts = [
        normalize_for_dedup(t)
        for t in ["Dax are a type of fep.", "abc", "", "Ünïcödé \U0001d518 text", "long " * 4000]
    ]
    batch = hasher.signatures(texts)
    for i, text in enumerate(texts):
        raw, count = hasher.shingle_hashes([text])
        assert count.tolist() == [max(1, len(text) - 4)]
        reference = MinHash(
            num_perm=64, permutations=hasher.permutations, scheme="affine32", hashfunc=int
        )
        reference.update_batch(raw.tolist())
        assert np.array_equal(reference.hashvalues, batch[i]), text[:20]


def test_signature_does_not_depend_on_batch_neighbours() -> None:
    hasher = MinHasher()
    texts = [normalize_for_dedup(t) for t in sentences(50)] + ["ab", ""]
    together = hasher.signatures(texts)
    alone = np.vstack([hasher.signatures([t]) for t in texts])
    assert np.array_equal(together, alone)


def test_hash_multimap_vector_and_small_paths_agree() -> None:
    rng = np.random.default_rng(3)
    keys = rng.integers(0, 2**63, 5000, dtype=np.uint64)
    keys[100:200] = keys[0]  # one key with many values
    table = HashMultiMap(capacity=16)  # forces several grows
    table.insert(keys[:4000], np.arange(4000, dtype=np.int32))
    for value in range(4000, 4010):  # the small path
        table.insert(keys[value : value + 1], np.array([value], dtype=np.int32))
    queries = np.concatenate((keys[:30], keys[4000:4010], keys[4500:4520]))
    big_at, big = table.lookup(np.concatenate((queries, keys[4500:4540])))
    expected = {
        (q, int(v))
        for q, key in enumerate(queries)
        for v in np.flatnonzero(keys == key)
        if v < 4010
    }
    assert {
        (int(a), int(v)) for a, v in zip(big_at, big, strict=True) if a < len(queries)
    } == expected
    for q, key in enumerate(queries):  # one key at a time takes the small path
        _, values = table.lookup(key.reshape(1))
        assert sorted(values.tolist()) == sorted(v for qq, v in expected if qq == q)


# --- near duplicates --------------------------------------------------------------------------


def test_near_duplicates_are_found_and_point_at_the_kept_original() -> None:
    rng = random.Random(1)
    originals = sentences(400, seed=1, words=(14, 20))
    near = NearDeduper(threshold=0.85)
    assert all(near.check_and_add(f"o{i}", t) is None for i, t in enumerate(originals))
    found = 0
    variants = 0
    for i, text in enumerate(originals):
        variant = edit(text, rng)
        if jaccard(text, variant) < 0.9:  # well above the threshold only
            continue
        variants += 1
        found += near.check_and_add(f"v{i}", variant) == f"o{i}"
    assert variants > 200
    assert found / variants > 0.95


def test_distinct_sentences_are_not_merged() -> None:
    texts = sentences(4000, seed=2, words=(6, 14))
    near = NearDeduper(threshold=0.85)
    matches = near.check_and_add_many((str(i), t) for i, t in enumerate(texts))
    merged = [(i, m) for i, m in enumerate(matches) if m is not None]
    # Any merge must be a genuinely similar pair; random sentences hardly ever are.
    assert len(merged) <= 2
    for i, m in merged:
        assert jaccard(texts[i], texts[int(m)]) > 0.6  # type: ignore[arg-type]


def test_threshold_separates_similar_from_loosely_related_pairs() -> None:
    rng = random.Random(5)
    base = sentences(200, seed=5, words=(16, 20))
    near = NearDeduper(threshold=0.85)
    near.check_and_add_many((f"b{i}", t) for i, t in enumerate(base))
    loose = [edit(t, rng, changes=8) for t in base]  # Jaccard ~0.4-0.6
    assert max(jaccard(a, b) for a, b in zip(base, loose, strict=True)) < 0.75
    assert all(
        m is None for m in near.check_and_add_many((f"l{i}", t) for i, t in enumerate(loose))
    )


def test_batches_decide_exactly_like_one_at_a_time() -> None:
    rng = random.Random(9)
    base = sentences(300, seed=9)
    stream = []
    for text in base:
        stream.append(text)
        if rng.random() < 0.3:
            stream.append(edit(text, rng))  # right after: inside the same batch
        if rng.random() < 0.2:
            stream.append(edit(rng.choice(stream), rng))
    pairs = [(f"k{i}", t) for i, t in enumerate(stream)]
    single = NearDeduper()
    expected = [single.check_and_add(k, t) for k, t in pairs]
    assert sum(m is not None for m in expected) > 50
    for batch_size in (2, 7, 1024):
        batched = NearDeduper()
        assert batched.check_and_add_many(pairs, batch_size=batch_size) == expected
        assert len(batched) == len(single)


def test_near_deduper_rejects_bad_settings() -> None:
    with pytest.raises(ConfigError, match="threshold"):
        NearDeduper(threshold=0.0)
    with pytest.raises(ConfigError, match="bands"):
        NearDeduper(num_perm=64, bands=(9, 8))
    with pytest.raises(ConfigError, match="num_perm"):
        MinHasher(num_perm=1)


def test_near_deduper_keeps_signatures_not_texts() -> None:
    texts = sentences(100_000, seed=4, words=(8, 14))
    keys = [f"ex-{i:016x}" for i in range(len(texts))]  # the caller's strings, made before
    near = NearDeduper()
    tracemalloc.start()
    try:
        near.check_and_add_many(zip(keys, texts, strict=True))
        used, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    mean_chars = sum(map(len, texts)) / len(texts)
    assert len(near) > 99_000
    assert used / len(near) < 400  # 64 one-byte values + band slots + a list pointer
    assert used / len(near) < 4 * mean_chars  # well under keeping the texts themselves


# --- decontamination --------------------------------------------------------------------------

EVAL = (
    "The femp is more dangerous than the glon because it can zarp across "
    "the wide river at night without any light at all."
)


def test_decontamination_exact_and_ngram() -> None:
    words = EVAL.split()
    decon = Decontaminator([EVAL, "Short answer here"], ngram=13)
    assert decon.contaminated(EVAL.upper().replace(".", "!")) == "exact"
    inside = "Notes: " + " ".join(words[3:16]) + " and so on."
    assert decon.contaminated(inside) == "ngram"
    twelve = "Notes: " + " ".join(words[3:15]) + " and so on."
    assert decon.contaminated(twelve) is None
    assert decon.contaminated("short answer, here!") == "exact"
    # A short evaluation text is one n-gram: containing its words is not a match.
    assert decon.contaminated("A short answer here would be nice to have.") is None
    assert decon.contaminated("Completely unrelated text about dax.") is None


def test_decontamination_short_texts_are_one_ngram() -> None:
    decon = Decontaminator(["feps can zarp"], ngram=5)
    assert decon.contaminated("Feps can zarp.") == "exact"
    assert decon.contaminated("feps can zarp quickly") is None
    assert decon.contaminated("") is None
    decon3 = Decontaminator(["one two three four five"], ngram=3)
    assert decon3.contaminated("zero one two three") == "ngram"
    assert decon3.contaminated("zero two three four") == "ngram"
    assert decon3.contaminated("three two one") is None


def test_decontamination_keeps_ngram_hashes_only() -> None:
    texts = sentences(2000, seed=6, words=(20, 30))
    decon = Decontaminator(texts, ngram=13)
    expected = sum(len(t.split()) - 12 for t in texts)
    assert decon.ngram_count == pytest.approx(expected, rel=0.01)
    assert decon._grams.nbytes == 8 * decon.ngram_count
    assert all(decon.contaminated(t) == "exact" for t in texts[:20])


def test_decontaminator_rejects_bad_ngram() -> None:
    with pytest.raises(ConfigError, match="n-gram"):
        Decontaminator([EVAL], ngram=0)


def test_read_eval_texts_from_jsonl_json_and_text(tmp_path: Path) -> None:
    jsonl = tmp_path / "eval.jsonl"
    records = [
        {"id": "q1", "question": "Who is B's parent?", "options": ["A", "C"], "answer": "A"},
        {"messages": [{"role": "user", "content": "Is a dax a fep?"}], "label": 1},
        "a bare string record",
    ]
    jsonl.write_text("\n".join(json.dumps(r) for r in records) + "\n\n", encoding="utf-8")
    as_json = tmp_path / "eval.json"
    as_json.write_text(json.dumps([{"text": "t1", "options": {"a": "x", "b": "y"}}]))
    plain = tmp_path / "eval.txt"
    plain.write_text("first item\n\n  second item  \n", encoding="utf-8")
    texts = read_eval_texts([jsonl, str(as_json), plain])
    assert texts == [
        "Who is B's parent?",
        "A",
        "A",
        "C",
        "Is a dax a fep?",
        "a bare string record",
        "t1",
        "x",
        "y",
        "first item",
        "second item",
    ]


def test_read_eval_texts_errors_name_the_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "ok"}\n{not json}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"bad\.jsonl:2"):
        read_eval_texts([bad])
    with pytest.raises(InputError, match="cannot read"):
        read_eval_texts([tmp_path / "missing.jsonl"])
    empty = tmp_path / "ids.jsonl"
    empty.write_text('{"id": 1}\n', encoding="utf-8")
    with pytest.raises(InputError, match="no evaluation text"):
        read_eval_texts([empty])


# --- the stage --------------------------------------------------------------------------------


def stage_stream() -> list[Example]:
    rng = random.Random(11)
    base = sentences(120, seed=11, words=(14, 18))
    rows = [example(t, source=f"doc-{i % 7}") for i, t in enumerate(base)]
    rows += [example(t.upper()) for t in base[:10]]  # exact after normalization
    rows += [example(edit(t, rng)) for t in base[10:30]]  # near
    rows += [example(EVAL), example("Notes: " + " ".join(EVAL.split()[:14]))]
    rng.shuffle(rows)
    return rows


def test_deduplicator_counts_every_drop_with_its_reason() -> None:
    drops = DropLog()
    dedup = Deduplicator(near=NearDeduper(), decontam=Decontaminator([EVAL]), drops=drops)
    rows = stage_stream()
    kept = [row for row in rows if dedup.admit(row)]
    counts = drops.by_reason()["dedup"]
    assert counts["duplicate_exact"] == 10
    assert counts["contaminated_exact"] == 1
    assert counts["contaminated_ngram"] == 1
    assert 15 <= counts["duplicate_near"] <= 20
    assert len(kept) + drops.total("dedup") == len(rows) == dedup.checked
    assert dedup.admitted == len(kept)
    assert all(s.source_id is not None and s.detail for s in drops.samples)


def test_deduplicator_batches_match_admit() -> None:
    rows = stage_stream()
    one, many = DropLog(), DropLog()
    single = Deduplicator(near=NearDeduper(), decontam=Decontaminator([EVAL]), drops=one)
    expected = [row for row in rows if single.admit(row)]
    batched = Deduplicator(
        near=NearDeduper(), decontam=Decontaminator([EVAL]), drops=many, batch_size=16
    )
    assert list(batched.filter(rows)) == expected
    assert one.counts == many.counts


def test_deduplicator_compares_prompt_and_completion() -> None:
    dedup = Deduplicator(drops=DropLog())
    assert dedup.admit(example("Feps can zarp.", prompt="Q1"))
    assert dedup.admit(example("Feps can zarp.", prompt="Q2"))
    assert not dedup.admit(example("feps can zarp", prompt="q1"))


def test_deduplicator_push_then_admit_is_refused() -> None:
    dedup = Deduplicator(drops=DropLog(), batch_size=4)
    assert dedup.push(example("one two three")) == []
    with pytest.raises(ConfigError, match="flush"):
        dedup.admit(example("four five six"))
    assert [e.completion for e in dedup.flush()] == ["one two three"]
    with pytest.raises(ConfigError, match="batch_size"):
        Deduplicator(drops=DropLog(), batch_size=0)


def test_threshold_one_merges_only_identical_shingle_sets() -> None:
    near = NearDeduper(threshold=1.0)  # datasketch's optimizer refuses this one: a fallback
    assert near.check_and_add("a", "Feps can zarp across the river.") is None
    assert near.check_and_add("b", "feps can zarp, across the river!") == "a"
    assert near.check_and_add("c", "Feps can zarp across the rivet.") is None

"""FingerprintSet: set semantics across spills to disk, bounded memory, clear disk errors."""

from __future__ import annotations

import functools
import json
import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import augment_ft.outputs.writer as writer_module
from augment_ft.core.errors import OutputError
from augment_ft.core.fingerprints import FingerprintSet, fingerprint
from augment_ft.dedup.exact import ExactDeduper
from augment_ft.outputs.writer import JsonlWriter

MAX = (1 << 64) - 1
keys_st = st.integers(min_value=0, max_value=MAX)
# Mostly fresh keys, with repeats drawn from a small pool so that hits happen often.
ops_st = st.lists(
    st.one_of(
        st.tuples(st.just("add"), keys_st),
        st.tuples(st.just("add"), st.integers(0, 40).map(lambda i: fingerprint(str(i)))),
        st.tuples(st.just("many"), st.lists(st.integers(0, 60).map(lambda i: fingerprint(str(i))))),
        st.tuples(st.just("many"), st.lists(keys_st, max_size=20)),
        st.tuples(st.just("has"), st.integers(0, 60).map(lambda i: fingerprint(str(i)))),
    ),
    max_size=80,
)


@settings(max_examples=60, deadline=None)
@given(ops=ops_st, memory_keys=st.integers(1, 9))
def test_behaves_like_a_set_across_spills(ops: list[tuple[str, object]], memory_keys: int) -> None:
    model: set[int] = set()
    with FingerprintSet(memory_keys=memory_keys) as fps:
        for op, arg in ops:
            if op == "add":
                assert isinstance(arg, int)
                assert fps.add(arg) == (arg not in model)
                model.add(arg)
            elif op == "many":
                assert isinstance(arg, list)
                expected = []
                for key in arg:
                    expected.append(key not in model)
                    model.add(key)
                got = fps.add_many(np.array(arg, dtype=np.uint64)).tolist()
                assert got == expected
            else:
                assert (arg in fps) == (arg in model)
            assert len(fps) == len(model)
        assert fps.contains_many(np.array(sorted(model), dtype=np.uint64)).all()


def test_spills_and_keeps_memory_small() -> None:
    rng = np.random.default_rng(7)
    keys = rng.integers(0, 2**63, size=200_000, dtype=np.uint64)
    with FingerprintSet(memory_keys=4096) as fps:
        assert fps.add_many(keys).all()
        assert fps.spilled >= 190_000
        # Filters at 12 bits a key (one array per 64 runs), page index, newest 4096 in a set.
        assert fps.nbytes < 200_000 * 1.5 + 64 * 4096 * 1.5 + 4096 * 60
        assert fps.contains_many(keys).all()
        assert all(int(k) in fps for k in keys[::997])
        others = rng.integers(2**63, 2**64 - 1, size=20_000, dtype=np.uint64)
        assert not fps.contains_many(others).any()
        assert not any(int(k) in fps for k in others[:2000])
        assert not fps.add_many(keys[:5000]).any()
        assert len(fps) == 200_000


def test_rejects_what_is_not_a_64_bit_fingerprint() -> None:
    with FingerprintSet() as fps:
        with pytest.raises(ValueError, match="64-bit"):
            fps.add(-1)
        with pytest.raises(ValueError, match="64-bit"):
            fps.add(1 << 64)
        assert (1 << 64) not in fps
        assert "abc" not in fps


def test_close_deletes_the_spill_file(tmp_path: Path) -> None:
    fps = FingerprintSet(memory_keys=8, spill_dir=str(tmp_path))
    fps.add_many(range(100))
    handle = fps._file
    assert handle is not None
    assert not list(tmp_path.iterdir())  # anonymous: no name to leave behind
    fps.close()
    assert handle.closed
    assert len(fps) == 0
    assert 5 not in fps


def test_an_unusable_spill_folder_is_a_clear_error(tmp_path: Path) -> None:
    fps = FingerprintSet(memory_keys=8, spill_dir=str(tmp_path / "missing"))
    with pytest.raises(OutputError, match="TMPDIR"):
        fps.add_many(range(100))


def test_exact_dedup_in_batches_equals_one_at_a_time() -> None:
    rng = random.Random(3)
    texts = [f"sentence {rng.randint(0, 3000)}" for _ in range(20_000)]
    one, many = ExactDeduper(memory_keys=512), ExactDeduper(memory_keys=512)
    try:
        expected = [one.check_normalized(text) for text in texts]
        got: list[bool] = []
        for start in range(0, len(texts), 1000):
            got += many.check_many_normalized(texts[start : start + 1000])
        assert got == expected
        assert sum(not repeat for repeat in got) == len(set(texts)) == len(many)
    finally:
        one.close()
        many.close()


def test_writer_resumes_a_file_whose_ids_spill(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = functools.partial(FingerprintSet, memory_keys=64)
    monkeypatch.setattr(writer_module, "FingerprintSet", small)
    out = tmp_path / "out.jsonl"
    with JsonlWriter(out) as writer:
        for i in range(3000):
            assert writer.write({"i": i}, f"id-{i}")
        assert writer.write({"i": 0}, "id-0") is False
    with JsonlWriter(out, resume=True) as writer:
        assert writer.existing == 3000
        assert "id-17" in writer
        assert writer.write({"i": 17}, "id-17") is False
        assert writer.write({"i": 3000}, "id-3000")
    lines = out.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["i"] for line in lines] == list(range(3001))

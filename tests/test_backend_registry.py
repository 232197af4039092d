"""Backends by name: the built-ins and a plugin's come from one registry, ``BACKENDS``.

A plugin registers by entry point (group ``augment_ft.backends``) or by
``BACKENDS.register``; either way ``--backend NAME``, ``backend = "NAME"`` and
``augment(backend="NAME")`` build it, with the run options its factory names. The plugin
here is an :class:`OpenAIBackend` over the shipped :class:`MockTransport`, so the whole
run (probe, schema, parsing, filters) goes through the real backend with no server.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from augment_ft import augment
from augment_ft.backends.builtin import BACKENDS, local_backend
from augment_ft.backends.http_lean import LeanTransport
from augment_ft.backends.http_mock import MockTransport
from augment_ft.backends.http_sdk import SDKTransport
from augment_ft.backends.openai_compat import OpenAIBackend
from augment_ft.backends.openai_wire import ChatCall
from augment_ft.backends.scripted import ScriptedBackend
from augment_ft.cli import main
from augment_ft.core.config import RunConfig
from augment_ft.core.errors import ConfigError
from augment_ft.core.models import Document
from augment_ft.pipeline.build import backend_options, make_backend

DOC = Document(id="d", text="Velps are nocturnal. Glons live in the Ubrik Hills.")
_NUMBERED = re.compile(r"^\d+\. (.+)$", re.MULTILINE)


def rephrased(call: ChatCall) -> str:
    """A rephrase answer to the numbered sentences of the call's last user turn."""
    sentences = _NUMBERED.findall(call.body["messages"][-1]["content"])
    return json.dumps({"rephrasings": [[f"Truly, {s[0].lower()}{s[1:]}"] for s in sentences]})


PLUGIN = """
from augment_ft.backends.http_mock import MockTransport
from augment_ft.backends.openai_compat import OpenAIBackend
from test_backend_registry import rephrased

MADE = []

def make(*, model=None, base_url=None):
    transport = MockTransport(rephrased)
    MADE.append(({"model": model, "base_url": base_url}, transport))
    return OpenAIBackend(model or "mocked", transport=transport)
"""


@pytest.fixture
def clean_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registrations and plugins made by a test stay in that test."""
    monkeypatch.setattr(BACKENDS, "_plugins_loaded", False)
    monkeypatch.setattr(BACKENDS, "_factories", dict(BACKENDS._factories))


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_registry: None) -> Iterator[Any]:
    """An installed distribution (a .dist-info on sys.path) whose entry point is ``mocked``."""
    root = tmp_path / "site"
    info = root / "mocked_backend-1.0.dist-info"
    info.mkdir(parents=True)
    (root / "mocked_backend.py").write_text(PLUGIN, encoding="utf-8")
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mocked-backend\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[augment_ft.backends]\nmocked = mocked_backend:make\n")
    monkeypatch.syspath_prepend(str(root))
    yield lambda: sys.modules["mocked_backend"]
    sys.modules.pop("mocked_backend", None)


def run_cli(*args: str | Path) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, err.getvalue()


def write_docs(tmp_path: Path) -> Path:
    path = tmp_path / "docs.jsonl"
    path.write_text(json.dumps({"id": DOC.id, "text": DOC.text}) + "\n", encoding="utf-8")
    return path


def test_an_entry_point_backend_runs_by_name_from_the_cli(plugin: Any, tmp_path: Path) -> None:
    out = tmp_path / "t.jsonl"
    code, err = run_cli(
        "run", write_docs(tmp_path), "-o", out, "--backend", "mocked", "--model", "m1",
        "--base-url", "http://127.0.0.1:9/v1", "--strategies", "rephrase", "--no-cache", "-q",
    )  # fmt: skip
    assert code == 0, err
    [(options, transport)] = plugin().MADE
    assert options == {"model": "m1", "base_url": "http://127.0.0.1:9/v1"}  # what it names
    probe, call = transport.calls  # the probe before the first call, then the one call
    assert probe.body["max_tokens"] == 1 and "response_format" not in probe.body
    assert call.body["model"] == "m1" and call.body["response_format"]["type"] == "json_schema"
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    said = {row["messages"][-1]["content"] for row in rows}
    assert {"Truly, velps are nocturnal.", "Truly, glons live in the Ubrik Hills."} <= said
    assert transport.closed  # the run closed the backend it built


def test_a_backend_registered_in_code_runs_by_name_from_augment(clean_registry: None) -> None:
    offered: list[dict[str, Any]] = []

    def counting(**options: Any) -> OpenAIBackend:
        offered.append(options)
        return OpenAIBackend("counted", transport=MockTransport(rephrased))

    BACKENDS.register("counting", counting)
    assert "counting" in BACKENDS.names()
    result = augment([DOC], strategies=["rephrase"], backend="counting", seed=5)
    assert "Truly, velps are nocturnal." in [e.completion for e in result.examples]
    assert result.report.backend["calls"] == 1
    # A factory taking **options is offered every run option the config has.
    assert offered == [backend_options(RunConfig(backend="counting", seed=5))]
    assert offered[0]["seed"] == 5 and "model_dir" in offered[0]


def test_an_unknown_backend_is_a_usage_error_naming_the_known_ones(
    clean_registry: None, tmp_path: Path
) -> None:
    code, err = run_cli(
        "run", write_docs(tmp_path), "-o", tmp_path / "t.jsonl", "--backend", "nope",
        "--strategies", "split", "-q",
    )  # fmt: skip
    assert code == 2
    assert err.strip() == (
        "augment-ft: error: unknown backend 'nope'; known: local, openai, scripted"
    )
    assert not (tmp_path / "t.jsonl").exists()  # refused before any output was opened
    with pytest.raises(ConfigError, match=r"unknown backend 'nope'; known: local, openai"):
        augment([DOC], strategies=["rephrase"], backend="nope")


def test_the_built_ins_are_registered_and_built_from_the_config() -> None:
    assert {"local", "openai", "scripted"} <= set(BACKENDS.names())
    config = RunConfig(
        backend="openai", model="m", base_url="http://127.0.0.1:9/v1", http="sdk", timeout=7
    )
    backend = make_backend(config)
    assert isinstance(backend, OpenAIBackend) and isinstance(backend.transport, SDKTransport)
    assert (backend.base_url, backend.transport.timeout) == ("http://127.0.0.1:9/v1", 7)
    lean = make_backend(config.model_copy(update={"http": "lean"}))
    assert isinstance(lean, OpenAIBackend) and isinstance(lean.transport, LeanTransport)
    with pytest.raises(ConfigError, match="the openai backend needs --model"):
        make_backend(RunConfig(backend="openai"))
    scripted = make_backend(RunConfig(backend="scripted", model="dry"))
    assert isinstance(scripted, ScriptedBackend) and scripted.model == "dry"
    # local takes the model directory (and is never offered base_url or http: it names
    # neither, so the run leaves them out).
    assert BACKENDS.factory("local") is local_backend
    named = set(inspect.signature(local_backend).parameters)
    assert (
        named == {"model", "model_dir", "n_ctx", "threads", "seed"} < set(backend_options(config))
    )

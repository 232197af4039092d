"""A backend that cannot work stops the run with one clear message and exit 1, never a
quiet run that writes only the originals (issue: "the server died silently")."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

from openai_fake_server import error, fake_openai_server, ok, unauthorized

CORPUS = Path(__file__).resolve().parent.parent / "examples" / "corpus" / "velps.md"
CONSOLE = Path(sys.executable).with_name("augment-ft")
REPHRASINGS = json.dumps(
    {
        "rephrasings": [  # one list per sentence of CORPUS, all in one call
            ["In every corner of Velmora live velps, small burrowing animals."],
            ["Every velp is nocturnal."],
            ["Velps feel the way in the dark with long whiskers."],
            ["Both grusks and tessicks are kinds of velp."],
            ["In the cellars of the Quillan Institute lives a colony of velps."],
        ]
    }
)
"""A good answer to CORPUS's one rephrase call."""


def closed_port() -> int:
    """A port nothing listens on: bound, then released."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(tmp_path: Path, base_url: str, *flags: str) -> subprocess.CompletedProcess[str]:
    command = [
        str(CONSOLE), "run", str(CORPUS), "-o", str(tmp_path / "t.jsonl"), "--backend",
        "openai", "--model", "gpt-test", "--base-url", base_url, "--strategies",
        "split,rephrase", "--no-cache", "-q", "--retry-base-delay", "0", *flags,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("augment-ft: error:")]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_a_closed_port_stops_the_run_before_any_document(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    done = run(tmp_path, url)
    assert done.returncode == 1
    line = error_line(done.stderr)
    assert url in line and "gpt-test" in line
    assert (tmp_path / "t.jsonl").read_text() == ""  # nothing written: the probe came first


def test_a_401_stops_the_run_naming_the_key_and_never_showing_it(tmp_path: Path) -> None:
    with fake_openai_server(unauthorized()) as server:
        done = subprocess.run(
            [*run_command(tmp_path, server.base_url)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={"OPENAI_API_KEY": "sk-secret-123456", "PATH": "/usr/bin:/bin"},
        )
        assert len(server.chat_requests) == 1  # the probe, and nothing after it
    assert done.returncode == 1
    line = error_line(done.stderr)
    assert "401" in line or "key" in line.lower()
    assert "sk-secret-123456" not in done.stderr + done.stdout


def run_command(tmp_path: Path, base_url: str) -> list[str]:
    return [
        str(CONSOLE), "run", str(CORPUS), "-o", str(tmp_path / "t.jsonl"), "--backend",
        "openai", "--model", "gpt-test", "--base-url", base_url, "--strategies",
        "split,rephrase", "--no-cache", "-q",
    ]  # fmt: skip


def test_a_run_whose_every_call_failed_exits_1(tmp_path: Path) -> None:
    """The server answers the probe, then fails every real call: still a failure."""
    with fake_openai_server(error(500, "boom", err_type="server_error")) as server:
        server.script(ok("OK"))  # the probe gets through
        done = run(
            tmp_path, server.base_url, "--max-attempts", "1", "--report", str(tmp_path / "r.json")
        )
    assert done.returncode == 1
    line = error_line(done.stderr)
    assert "every model call failed" in line
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    # The document's five sentences went in one rephrase call: one counted drop.
    assert report["drops"]["rephrase"]["backend_error"] == 1
    assert "--resume" in done.stderr


def test_a_healthy_server_passes_the_probe(tmp_path: Path) -> None:
    with fake_openai_server(ok(REPHRASINGS)) as server:
        done = run(tmp_path, server.base_url)
        probes = [r for r in server.chat_requests if r.body.get("max_tokens") == 1]
    assert done.returncode == 0, done.stderr
    assert len(probes) == 1


def console(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_a_cached_rerun_needs_no_server(tmp_path: Path) -> None:
    """The probe waits for the first call the cache cannot answer: with every answer cached,
    a rerun (another format, a new filter) works with the server gone, and connects to
    nothing at all."""
    command = [
        str(CONSOLE), "run", str(CORPUS), "-o", str(tmp_path / "t.jsonl"), "--backend",
        "openai", "--model", "gpt-test", "--strategies", "split,rephrase", "-q", "--force",
        "--cache", str(tmp_path / "c.sqlite"), "--report", str(tmp_path / "r.json"),
        "--timeout", "5",  # a call to the silent listener below would fail fast
    ]  # fmt: skip
    with fake_openai_server(ok(REPHRASINGS)) as server:
        url = server.base_url
        first = console([*command, "--base-url", url])
        assert first.returncode == 0, first.stderr
        made = len(server.chat_requests)
    assert made == 1 + 1  # the probe, then one call for the document's five sentences
    written = (tmp_path / "t.jsonl").read_bytes()
    kinds = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["examples_by_kind"]
    assert kinds["rephrase"] >= 3  # the answer was used: rephrasings are in the output
    assert written.count(b"\n") > 5
    # The server is gone; a listener on its port, never accepting, sees any connection.
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(8)
        again = console([*command, "--base-url", url])
        listener.setblocking(False)
        try:
            listener.accept()
            connected = True
        except BlockingIOError:
            connected = False
    assert again.returncode == 0, again.stderr
    assert not connected  # zero requests: not even a connection was opened
    assert (tmp_path / "t.jsonl").read_bytes() == written
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert (report["backend"]["calls"], report["backend"]["cache_hits"]) == (0, 1)


def test_a_dead_server_stops_the_run_at_the_first_uncached_call(tmp_path: Path) -> None:
    """Some answers cached, the server gone: the cached documents pass, the first call the
    cache cannot answer stops the run with one clear line and exit 1 (no retry storm)."""
    docs = tmp_path / "docs.jsonl"
    known = json.dumps({"id": "a", "text": "Velps are nocturnal."}) + "\n"
    rows = json.dumps({"rephrasings": [["At night, velps are awake."]]})

    def command(url: str) -> list[str]:
        return [
            str(CONSOLE), "run", str(docs), "-o", str(tmp_path / "t.jsonl"), "--backend",
            "openai", "--model", "gpt-test", "--base-url", url, "--strategies", "rephrase",
            "-q", "--force", "--cache", str(tmp_path / "c.sqlite"),
        ]  # fmt: skip

    docs.write_text(known, encoding="utf-8")
    with fake_openai_server(ok(rows)) as server:
        url = server.base_url
        done = console(command(url))
    assert done.returncode == 0, done.stderr
    new = json.dumps({"id": "b", "text": "Glons are diurnal."}) + "\n"
    docs.write_text(known + new, encoding="utf-8")
    done = console(command(url))
    assert done.returncode == 1
    line = error_line(done.stderr)
    assert url in line and "gpt-test" in line and "cannot connect" in line
    assert "gave up" not in line  # the probe's verdict, not the last of six retries

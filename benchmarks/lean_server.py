"""A lean OpenAI-compatible chat server for the throughput benchmarks, in a process of its own.

Run: python benchmarks/lean_server.py --latency 0.1 [--answer fixed|rephrase] [--cap N]

HTTP/1.1 keep-alive, one coroutine per connection, so its CPU stays small and out of the
client's measurements. Every chat request is answered after ``--latency`` seconds: with a
fixed short reply, or (``rephrase``) with a valid rephrase answer made from the numbered
sentences of the prompt's last user turn. ``--cap N`` answers 429 (no Retry-After) at once
whenever N requests are already being served, as a provider's concurrency cap does.
``GET /stats`` returns the chat requests served, the 429s sent, the probes (the one-token
request a run sends before its first uncached call, counted apart) and the server's CPU
seconds. The first line printed is the base URL (``http://127.0.0.1:PORT/v1``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable

from augment_ft.backends.probe import PROBE_REQUEST

MODEL = "gpt-4o-mini"
_NUMBERED = re.compile(r"^\d+\. (.+)$", re.MULTILINE)
_PROBE = json.dumps(PROBE_REQUEST.messages[0].content).encode()  # as it appears in a body


def _completion(content: str) -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 1700000000,
            "model": MODEL,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 300, "completion_tokens": 30, "total_tokens": 330},
        }
    ).encode()


_FIXED = _completion("Abmes include gruds.")


def fixed_answer(body: bytes) -> bytes:
    """The same short reply to every request."""
    return _FIXED


def rephrase_answer(body: bytes) -> bytes:
    """A valid rephrase answer, two rewrites of each numbered sentence of the last user
    turn: its words reversed, and rotated."""
    users = [m["content"] for m in json.loads(body)["messages"] if m["role"] == "user"]
    rephrasings = []
    for sentence in _NUMBERED.findall(users[-1] if users else "") or ["empty"]:
        words = sentence.split()
        rephrasings.append([" ".join(reversed(words)), " ".join(words[1:] + words[:1])])
    return _completion(json.dumps({"rephrasings": rephrasings}))


ANSWERS: dict[str, Callable[[bytes], bytes]] = {"fixed": fixed_answer, "rephrase": rephrase_answer}


class LeanServer:
    """Serves chat requests on keep-alive connections; counts them, and the 429s it sends."""

    def __init__(self, latency: float, answer: Callable[[bytes], bytes], cap: int | None) -> None:
        self.latency = latency
        self.answer = answer
        self.cap = cap
        self.in_flight = 0
        self.chat_requests = 0
        self.capped = 0
        self.probes = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve requests on one connection until the client closes it."""
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                body = await reader.readexactly(length) if length else b""
                writer.write(await self._reply(head.split(b" ", 2)[1], body))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client closed the connection
        finally:
            writer.close()

    async def _reply(self, path: bytes, body: bytes) -> bytes:
        status = "200 OK"
        if path.endswith(b"/stats"):  # not a chat request: no latency, not counted
            stats = {
                "chat_requests": self.chat_requests,
                "capped": self.capped,
                "probes": self.probes,
                "cpu_seconds": time.process_time(),
            }
            payload = json.dumps(stats).encode()
        elif _PROBE in body and b'"max_tokens":1' in body.replace(b" ", b""):
            self.probes += 1
            payload = self.answer(body)
        elif self.cap is not None and self.in_flight >= self.cap:
            self.capped += 1
            status, payload = "429 Too Many Requests", b'{"error": {"message": "over the cap"}}'
        else:
            self.chat_requests += 1
            self.in_flight += 1
            try:
                await asyncio.sleep(self.latency)
            finally:
                self.in_flight -= 1
            payload = self.answer(body)
        head = f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
        return f"{head}Content-Length: {len(payload)}\r\n\r\n".encode() + payload


async def serve(latency: float, answer: str, cap: int | None) -> None:
    lean = LeanServer(latency, ANSWERS[answer], cap)
    server = await asyncio.start_server(lean.handle, "127.0.0.1", 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    print(f"http://127.0.0.1:{port}/v1", flush=True)
    async with server:
        await server.serve_forever()


class ServerProcess:
    """The server in a child process; ``stats()`` reads its counters."""

    def __init__(self, latency: float, answer: str = "fixed", cap: int | None = None) -> None:
        args = [__file__, "--latency", str(latency), "--answer", answer]
        args += ["--cap", str(cap)] if cap is not None else []
        self._proc = subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, text=True)
        assert self._proc.stdout is not None
        self.base_url = self._proc.stdout.readline().strip()
        if not self.base_url.startswith("http"):
            self.close()
            raise SystemExit(f"the lean server did not start (printed {self.base_url!r})")

    def stats(self) -> dict[str, float]:
        """Chat requests served, 429s sent, and server CPU seconds so far."""
        with urllib.request.urlopen(self.base_url + "/stats", timeout=10) as response:
            data: dict[str, float] = json.loads(response.read())
        return data

    def close(self) -> None:
        self._proc.terminate()
        self._proc.wait(timeout=10)
        if self._proc.stdout is not None:
            self._proc.stdout.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--answer", choices=sorted(ANSWERS), default="fixed")
    parser.add_argument("--cap", type=int)
    args = parser.parse_args()
    asyncio.run(serve(args.latency, args.answer, args.cap))


if __name__ == "__main__":
    main()

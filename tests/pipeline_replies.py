"""Answers a fake OpenAI server gives to the pipeline's prompts: schema-shaped, deterministic.

Shared by the chaos, kill -9 and security tests (imported like openai_fake_server).
"""

from __future__ import annotations

import json
import re
from typing import Any

from augment_ft.backends.estimate import stub_for_schema
from openai_fake_server import RecordedRequest, Reply, ok

__all__ = ["healthy", "request_schema", "unit_of"]

_SCHEMA_NOTE = re.compile(r"Answer with JSON matching this schema: (\{.*\})\s*$", re.DOTALL)
_BLOCK = re.compile(r"<(text|document|target)>\s*(.*?)\s*</\1>", re.DOTALL)


def request_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON schema a chat request carries, whichever way the client negotiated it."""
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        schema: dict[str, Any] = fmt["json_schema"]["schema"]
        return schema
    if fmt.get("type") == "json_object" and isinstance(fmt.get("schema"), dict):
        return dict(fmt["schema"])
    users = [m["content"] for m in body.get("messages", []) if m.get("role") == "user"]
    found = _SCHEMA_NOTE.search(users[-1]) if users else None
    return dict(json.loads(found.group(1))) if found else None


def unit_of(body: dict[str, Any]) -> str:
    """The data a prompt asks about: the last delimited block of its user turns."""
    users = "\n".join(str(m["content"]) for m in body.get("messages", []) if m["role"] == "user")
    blocks = _BLOCK.findall(users)
    return blocks[-1][1] if blocks else ""


def healthy(request: RecordedRequest) -> Reply:
    """A schema-shaped answer that is a pure function of the unit: its words reversed."""
    body = request.body if isinstance(request.body, dict) else {}
    unit = " ".join(reversed(unit_of(body).split())) or "empty"
    schema = request_schema(body)
    answer = json.dumps(stub_for_schema(schema, text=unit)) if schema else unit
    return ok(answer, usage=(40, 8))

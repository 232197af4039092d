"""Answers a fake OpenAI server gives to the pipeline's prompts: schema-shaped, deterministic.

Shared by the chaos, kill -9 and security tests (imported like openai_fake_server).
"""

from __future__ import annotations

import json
import re
from typing import Any

from augment_ft.backends.estimate import stub_for_schema
from openai_fake_server import RecordedRequest, Reply, ok

__all__ = ["healthy", "numbered_units", "request_schema", "unit_of"]

_SCHEMA_NOTE = re.compile(r"Answer with JSON matching this schema: (\{.*\})\s*$", re.DOTALL)
_BLOCK = re.compile(r"<(text|document|target)>\s*(.*?)\s*</\1>", re.DOTALL)
_NUMBERED = re.compile(r"^\d+\. (.*)$", re.MULTILINE)


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


def numbered_units(body: dict[str, Any]) -> list[str]:
    """The numbered sentences a sentence strategy asks about: those of the last user turn
    that has any (a re-ask adds a turn of its own after them)."""
    users = [str(m["content"]) for m in body.get("messages", []) if m.get("role") == "user"]
    for text in reversed(users):
        found: list[str] = _NUMBERED.findall(text)
        if found:
            return found
    return []


def _batch_field(schema: dict[str, Any]) -> str | None:
    """The field of a one-list-per-unit answer schema (``{"rephrasings": [[...], ...]}``)."""
    properties = schema.get("properties", {})
    if len(properties) != 1:
        return None
    [(field, spec)] = properties.items()
    return field if spec.get("items", {}).get("type") == "array" else None


def healthy(request: RecordedRequest) -> Reply:
    """A schema-shaped answer that is a pure function of each unit: its words reversed."""
    body = request.body if isinstance(request.body, dict) else {}
    schema = request_schema(body)
    field = _batch_field(schema) if schema else None
    if field is not None:
        lists = [[" ".join(reversed(u.split()))] for u in numbered_units(body)]
        return ok(json.dumps({field: lists}), usage=(40, 8))
    unit = " ".join(reversed(unit_of(body).split())) or "empty"
    answer = json.dumps(stub_for_schema(schema, text=unit)) if schema else unit
    return ok(answer, usage=(40, 8))

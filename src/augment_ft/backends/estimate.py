"""Backends that call no model: schema-shaped stub answers for estimates and dry runs."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from augment_ft.backends.base import ChatRequest, Completion, Usage
from augment_ft.core.hashing import canonical_json

__all__ = ["EstimatingBackend", "stub_for_schema"]

_MAX_DEPTH = 12


def _resolve(node: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, Mapping) else {}
        return target if isinstance(target, Mapping) else {}
    return node


_SIMPLE: dict[str, Any] = {"boolean": True, "integer": 0, "number": 0.0, "null": None}


def _stub(
    node: Mapping[str, Any], root: Mapping[str, Any], text: str, depth: int, fill: bool = False
) -> Any:
    node = _resolve(node, root)
    for key in ("anyOf", "oneOf", "allOf"):
        options = [o for o in node.get(key, []) if _resolve(o, root).get("type") != "null"]
        if options:
            node = _resolve(options[0], root)
            break
    if depth > _MAX_DEPTH:
        return None
    if node.get("enum"):
        return node["enum"][0]
    if "const" in node:
        return node["const"]
    kind = node.get("type", "object" if "properties" in node else "string")
    if kind == "object":
        props: Mapping[str, Any] = node.get("properties", {})
        return {k: _stub(v, root, text, depth + 1, fill) for k, v in props.items()}
    if kind == "array":
        count = max(1, int(node.get("maxItems" if fill else "minItems", 1)))
        item = node.get("items", {})
        return [_stub(item, root, text, depth + 1, fill) for _ in range(count)]
    return _SIMPLE.get(str(kind), text)


def stub_for_schema(schema: Mapping[str, Any], text: str = "stub", *, fill: bool = False) -> Any:
    """A value of the schema's shape: objects with every property, strings ``text``, arrays
    of one item (``fill``: as many as ``maxItems`` allows, an upper bound)."""
    return _stub(schema, schema, text, 0, fill)


_BLOCK = re.compile(r"<([a-z]+)>\s*(.*?)\s*</\1>", re.DOTALL)
_NUMBERED = re.compile(r"^\d+\. (.*)$", re.MULTILINE)


def _backwards(text: str) -> str:
    return " ".join(reversed(text.split())) or "stub"


def _unit(request: ChatRequest) -> str:
    """The data the prompt asks about (its last delimited block), words reversed: a stub
    text that keeps the names, so the filters and the verify stage treat it as a real
    answer and the estimate counts what follows (such as judge calls) as a run would."""
    users = [m.content for m in request.messages if m.role == "user"]
    blocks = _BLOCK.findall(users[-1]) if users else []
    return _backwards(blocks[-1][1] if blocks else "")


def _per_unit(request: ChatRequest, schema: Mapping[str, Any]) -> Any | None:
    """For a prompt of numbered units answered one list per unit (``{"rephrasings":
    [[...], ...]}``): each unit's own stub text, as many as a list may hold. None when the
    request is not of that shape."""
    properties = schema.get("properties") or {}
    users = [m.content for m in request.messages if m.role == "user"]
    units = _NUMBERED.findall(users[-1]) if users else []
    if len(properties) != 1 or not units:
        return None
    [(field, spec)] = properties.items()
    inner = spec.get("items") or {}
    if spec.get("type") != "array" or inner.get("type") != "array":
        return None
    room = max(1, int(inner.get("maxItems", 1)))
    return {field: [[_backwards(unit)] * room for unit in units]}


class EstimatingBackend:
    """Answers every request with a schema-shaped stub and an upper-bound usage.

    Prompt tokens are counted exactly with ``count_messages``; completion tokens are the
    request's ``max_tokens`` (an upper bound, stated as such in the report).
    """

    def __init__(self, model: str, count_messages: Callable[[ChatRequest], int]) -> None:
        self._model = model
        self._count = count_messages
        self.calls = 0

    @property
    def model(self) -> str:
        return self._model

    async def complete(self, request: ChatRequest) -> Completion:
        """A stub answer; no model is called."""
        self.calls += 1
        text = _unit(request)
        if request.json_schema is not None:
            stub = _per_unit(request, request.json_schema)
            if stub is None:
                stub = stub_for_schema(request.json_schema, text, fill=True)
            text = canonical_json(stub)
        usage = Usage(prompt_tokens=self._count(request), completion_tokens=request.max_tokens)
        return Completion(text=text, usage=usage, model=self._model)

    async def aclose(self) -> None:
        """Nothing to close: no model was called."""

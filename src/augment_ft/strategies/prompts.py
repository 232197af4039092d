"""Prompt templates: sandboxed Jinja files that render to a list of chat messages.

A template is ``templates/<name>.jinja`` in the package, or a file of the same name in the
user's template directory (which wins). Lines of the exact form ``=== system ===``,
``=== user ===`` or ``=== assistant ===`` start a new message. Data (documents, sentences)
comes in as variables only, with every ``</`` written as ``<\\/`` so no data can close a
delimiter such as ``</document>``; role markers carry a per-render random nonce, so no data
can start a message either. Top-level ``{% set fewshot = [...] %}`` is exported so filters
can spot copies of the worked examples.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import secrets
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import BaseLoader, StrictUndefined, TemplateSyntaxError
from jinja2 import Template as JinjaTemplate
from jinja2.exceptions import TemplateError as JinjaTemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from augment_ft.core.errors import TemplateError
from augment_ft.core.models import Message, Role

__all__ = [
    "PromptTemplate",
    "RenderedPrompt",
    "list_templates",
    "load_template",
    "neutralize",
    "render_prompt",
]

TEMPLATE_SUFFIX = ".jinja"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_ROLE_LINE = re.compile(r"^[ \t]*=== *(system|user|assistant) *=== *$", re.MULTILINE)
_ROLE_FUNCTION = "augment_ft_role"


@dataclass(frozen=True)
class PromptTemplate:
    """One template file: its name, where it came from, its text and content hash."""

    name: str
    origin: str
    source: str
    hash: str


@dataclass(frozen=True)
class RenderedPrompt:
    """The messages a template rendered to, plus what provenance and filters need."""

    messages: tuple[Message, ...]
    template: str
    template_hash: str
    fewshot: tuple[str, ...]


def neutralize(value: Any) -> Any:
    """Make data inert inside a prompt: every ``</`` becomes ``<\\/``, recursively."""
    if isinstance(value, str):
        return value.replace("</", "<\\/")
    if isinstance(value, Mapping):
        return {k: neutralize(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [neutralize(v) for v in value]
    return value


@lru_cache(maxsize=1)
def _package_dir() -> Any:
    return resources.files("augment_ft.strategies") / "templates"


_READ: dict[tuple[str, str, tuple[int, int] | None], PromptTemplate] = {}


def _read_template(name: str, candidate: Any) -> PromptTemplate:
    """The template in file ``candidate``, read again only when its size or mtime change
    (every prompt renders through here: reading and hashing each time cost ~0.3 ms)."""
    stamp: tuple[int, int] | None = None  # a resource that is not a plain file: no cache
    if isinstance(candidate, Path):
        with contextlib.suppress(OSError):
            info = candidate.stat()
            stamp = (info.st_mtime_ns, info.st_size)
    key = (name, str(candidate), stamp)
    if stamp is not None and key in _READ:
        return _READ[key]
    data: bytes = candidate.read_bytes()
    try:
        source = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        msg = f"{candidate}: template is not valid UTF-8 ({exc})"
        raise TemplateError(msg) from exc
    template = PromptTemplate(name, str(candidate), source, hashlib.sha256(data).hexdigest()[:16])
    if stamp is not None:
        if len(_READ) >= 256:
            _READ.clear()
        _READ[key] = template
    return template


def list_templates() -> list[str]:
    """Names of the templates that ship with the package."""
    return sorted(
        p.name[: -len(TEMPLATE_SUFFIX)]
        for p in _package_dir().iterdir()
        if p.name.endswith(TEMPLATE_SUFFIX)
    )


def load_template(name: str, template_dir: str | Path | None = None) -> PromptTemplate:
    """Read template ``name``: the user's directory first, then the package."""
    if not _NAME.match(name):
        msg = f"invalid template name {name!r}: use lowercase letters, digits and '_'"
        raise TemplateError(msg)
    filename = name + TEMPLATE_SUFFIX
    candidates: list[Any] = []
    if template_dir is not None:
        candidates.append(Path(template_dir) / filename)
    candidates.append(_package_dir() / filename)
    for candidate in candidates:
        if candidate.is_file():
            return _read_template(name, candidate)
    where = f"{template_dir} nor in " if template_dir is not None else ""
    msg = (
        f"template {filename!r} not found in {where}the package templates; "
        f"known: {', '.join(list_templates())}"
    )
    raise TemplateError(msg)


class _OneSourceLoader(BaseLoader):
    """Lets Jinja name the file (for line numbers) while we supply the prepared source."""

    def __init__(self, template: PromptTemplate) -> None:
        self._template = template

    def get_source(self, environment: Any, template: str) -> tuple[str, str, Callable[[], bool]]:
        prepared = _ROLE_LINE.sub(
            lambda m: "{{ " + _ROLE_FUNCTION + '("' + m.group(1) + '") }}', self._template.source
        )
        return prepared, self._template.origin, lambda: True


def _to_json(value: Any) -> str:
    """JSON without HTML escaping (Jinja's ``tojson`` escapes ``<``, which small models copy)."""
    return json.dumps(value, ensure_ascii=False)


def _environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    # Keep only harmless globals; cycler/joiner/lipsum add nothing a prompt needs.
    env.globals = {"range": env.globals["range"], "dict": env.globals["dict"]}
    env.filters["to_json"] = _to_json
    return env


@lru_cache(maxsize=64)
def _compile(template: PromptTemplate) -> JinjaTemplate:
    env = _environment()
    env.loader = _OneSourceLoader(template)
    try:
        return env.get_template(template.name)
    except TemplateSyntaxError as exc:
        msg = f"{template.origin}:{exc.lineno}: template syntax error: {exc.message}"
        raise TemplateError(msg) from exc


def _error_line(exc: BaseException, compiled: JinjaTemplate, origin: str) -> str:
    """``:line`` in the template file where rendering failed ('' when unknown)."""
    lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == origin]
    # Frames carry lines of the compiled Python code; Jinja maps them back to the template.
    return f":{compiled.get_corresponding_lineno(lines[-1])}" if lines and lines[-1] else ""


def _split_messages(text: str, nonce: str, origin: str) -> tuple[Message, ...]:
    # Markers are "\x00<nonce>:<role>\x00", made only by the role function (the nonce is
    # fresh per render, so data cannot forge one); plain str.split needs no regex compile.
    head, *marked = text.split("\x00" + nonce + ":")
    if head.strip():
        msg = f"{origin}: text before the first '=== role ===' line: {head.strip()[:60]!r}"
        raise TemplateError(msg)
    messages: list[Message] = []
    for part in marked:
        role, _, content = part.partition("\x00")
        if not content.strip():
            msg = f"{origin}: the {role} message renders empty"
            raise TemplateError(msg)
        messages.append(Message(role=_role(role), content=content.strip()))
    if not messages:
        msg = f"{origin}: no '=== system ===' / '=== user ===' lines, so no messages"
        raise TemplateError(msg)
    return tuple(messages)


def _role(name: str) -> Role:
    if name == "system":
        return "system"
    return "user" if name == "user" else "assistant"


def _strings(value: Any) -> list[str]:
    """Every string inside ``value`` (the few-shot texts a filter compares against)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _strings(v)]
    return []


def render_prompt(
    name: str, variables: Mapping[str, Any], *, template_dir: str | Path | None = None
) -> RenderedPrompt:
    """Render template ``name`` with neutralized ``variables`` into chat messages."""
    template = load_template(name, template_dir)
    compiled = _compile(template)
    nonce = secrets.token_hex(16)
    context = {key: neutralize(value) for key, value in variables.items()}
    context[_ROLE_FUNCTION] = lambda role: f"\x00{nonce}:{role}\x00"
    try:
        module = compiled.make_module(context)
        text = str(module)
    except JinjaTemplateError as exc:
        where = template.origin + _error_line(exc, compiled, template.origin)
        msg = f"{where}: template failed to render: {exc}"
        raise TemplateError(msg) from exc
    except Exception as exc:  # a template bug (1/0, bad filter argument) is still a template error
        where = template.origin + _error_line(exc, compiled, template.origin)
        msg = f"{where}: template failed to render: {type(exc).__name__}: {exc}"
        raise TemplateError(msg) from exc
    messages = _split_messages(text, nonce, template.origin)
    fewshot = tuple(s for s in _strings(getattr(module, "fewshot", [])) if s.strip())
    return RenderedPrompt(messages, template.name, template.hash, fewshot)

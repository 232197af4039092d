"""What every output format shares: the Format protocol, the registry, common checks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from augment_ft.core.errors import ConfigError
from augment_ft.core.models import Example
from augment_ft.core.registry import Registry

if TYPE_CHECKING:
    from augment_ft.core.tokens import TokenCounter

__all__ = [
    "DEFAULT_TEXT_PROMPT",
    "FORMATS",
    "BaseFormat",
    "Format",
    "ReadBack",
    "Record",
    "joined",
    "provenance_record",
]

Record = dict[str, Any]

DEFAULT_TEXT_PROMPT = "Tell me something you know."
"""The user turn of a chat record made from an example with no prompt (a plain text)."""


@runtime_checkable
class Format(Protocol):
    """Turns examples into JSON records of one kind and checks records of that kind."""

    @property
    def name(self) -> str:
        """The registry name (``openai-chat``...)."""
        ...

    @property
    def supports_system_prompt(self) -> bool:
        """Whether ``to_record`` can place a system prompt."""
        ...

    def to_record(self, example: Example, *, system_prompt: str | None = None) -> Record:
        """The JSON object written for ``example`` (one line of the output)."""
        ...

    def validate(self, record: object) -> list[str]:
        """Every rule ``record`` breaks, as messages naming the field; empty when it is fine."""
        ...


@runtime_checkable
class ReadBack(Protocol):
    """How a format reads its own records back (``stats``, ``dedup``, the evals); built-ins
    define these as class methods, so the registered class answers without being built."""

    def matches(self, record: Record) -> bool:
        """Whether ``record`` looks like one of this format's records."""
        ...

    def read_text(self, record: Record) -> str:
        """The record's whole training text, parts joined by newlines."""
        ...

    def read_completion(self, record: Record) -> str:
        """What the record teaches: the last assistant turn, the completion or output."""
        ...


FORMATS: Registry[Format] = Registry("format", entry_point_group="augment_ft.formats")
"""Output formats by name; ``FORMATS.create("openai-chat", max_tokens=...)`` builds one."""


class BaseFormat:
    """Options every built-in format takes, so one set of CLI options fits them all.

    ``text_prompt``: the instruction/user turn for examples without a prompt (chat-shaped
    formats). ``max_tokens``: per-record token limit (None: no limit), counted with
    ``counter`` or a :class:`~augment_ft.core.tokens.TokenCounter` for ``model``.
    """

    name: ClassVar[str] = ""
    supports_system_prompt: ClassVar[bool] = True

    def __init__(
        self,
        *,
        text_prompt: str = DEFAULT_TEXT_PROMPT,
        max_tokens: int | None = None,
        model: str = "",
        counter: TokenCounter | None = None,
    ) -> None:
        if not text_prompt.strip():
            msg = f"{self.name}: text_prompt must be a non-empty instruction"
            raise ConfigError(msg)
        if max_tokens is not None and max_tokens < 1:
            msg = f"{self.name}: max_tokens must be >= 1 or None, got {max_tokens}"
            raise ConfigError(msg)
        self.text_prompt = text_prompt
        self.max_tokens = max_tokens
        self._model = model
        self._counter = counter

    def __repr__(self) -> str:
        return f"{type(self).__name__}(max_tokens={self.max_tokens!r})"

    @property
    def counter(self) -> TokenCounter:
        """The token counter, made on first use (loading an encoding is not free)."""
        if self._counter is None:
            from augment_ft.core.tokens import TokenCounter

            self._counter = TokenCounter(self._model)
        return self._counter

    def prompt_of(self, example: Example) -> str:
        """The example's prompt, or the neutral text prompt when it has none."""
        return example.prompt if example.prompt.strip() else self.text_prompt

    def token_problems(self, texts: Sequence[str], overhead: int = 0) -> list[str]:
        """A problem when the texts (plus ``overhead`` tokens) exceed ``max_tokens``."""
        if self.max_tokens is None:
            return []
        # Every token is at least one UTF-8 byte, so short records need no tokenizer.
        if sum(len(t.encode("utf-8")) for t in texts) + overhead <= self.max_tokens:
            return []
        return self.count_problem(sum(map(self.counter.count, texts)) + overhead)

    def count_problem(self, tokens: int) -> list[str]:
        """A problem when ``tokens`` exceeds the limit."""
        if self.max_tokens is not None and tokens > self.max_tokens:
            return [f"record has {tokens} tokens, more than the limit of {self.max_tokens}"]
        return []


def check_keys(
    record: Mapping[str, Any], where: str, required: Sequence[str], optional: Sequence[str] = ()
) -> list[str]:
    """Missing required keys and keys outside ``required`` + ``optional``."""
    problems = [f"{where}: missing key {key!r}" for key in required if key not in record]
    allowed = set(required) | set(optional)
    problems += [
        f"{where}: unrecognized key {key!r} (allowed: {', '.join(sorted(allowed))})"
        for key in record
        if key not in allowed
    ]
    return problems


def check_text(value: object, where: str, *, allow_empty: bool = False) -> list[str]:
    """A problem unless ``value`` is a string (with non-whitespace content, by default)."""
    if not isinstance(value, str):
        return [f"{where}: must be a string, got {type(value).__name__}"]
    if not allow_empty and not value.strip():
        return [f"{where}: must not be empty"]
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:  # a lone surrogate, from a \ud800-style escape
            code = ord(value[exc.start])
            return [f"{where}: character {exc.start} is a lone surrogate (\\u{code:04x})"]
    return []


def joined(values: Iterable[object]) -> str:
    """The non-empty strings among ``values``, one per line (a record's text, read back)."""
    return "\n".join(v for v in values if isinstance(v, str) and v)


def not_object(record: object, what: str) -> list[str]:
    """The problem of a record that is not a JSON object."""
    return [f"a {what} record must be a JSON object, got {_json_type(record)}"]


def _json_type(value: object) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def provenance_record(example: Example) -> Record:
    """Where an example came from, keyed by its id: one line of the provenance sidecar.

    Formats never put provenance in the training record (OpenAI rejects unknown keys);
    the pipeline writes these to ``<output>.provenance.jsonl`` instead.
    """
    return {
        "id": example.id,
        "kind": example.kind,
        "provenance": example.provenance.model_dump(mode="json", exclude_none=True),
    }

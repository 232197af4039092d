"""String-field formats: TRL prompt-completion, plain text, and Alpaca instructions."""

from __future__ import annotations

from augment_ft.core.errors import ConfigError
from augment_ft.core.models import Example
from augment_ft.outputs.formats.base import (
    BaseFormat,
    Record,
    check_keys,
    check_text,
    joined,
    not_object,
)

__all__ = ["AlpacaFormat", "PromptCompletionFormat", "TextFormat"]


class PromptCompletionFormat(BaseFormat):
    """``{"prompt": ..., "completion": ...}``: TRL's standard prompt-completion type.

    The prompt may be empty (the example is then plain text to learn); a system prompt is
    put before the prompt, separated by a blank line, as the format has no field for it.
    """

    name = "prompt-completion"

    def to_record(self, example: Example, *, system_prompt: str | None = None) -> Record:
        """The example's prompt (after the system prompt, if any) and completion."""
        prompt = example.prompt
        if system_prompt:
            prompt = f"{system_prompt}\n\n{prompt}" if prompt else system_prompt
        return {"prompt": prompt, "completion": example.completion}

    @classmethod
    def matches(cls, record: Record) -> bool:
        """A record with a ``completion``."""
        return "completion" in record

    @classmethod
    def read_text(cls, record: Record) -> str:
        """The prompt and the completion."""
        return joined((record.get("prompt"), record.get("completion")))

    @classmethod
    def read_completion(cls, record: Record) -> str:
        """The completion."""
        return joined((record.get("completion"),))

    def validate(self, record: object) -> list[str]:
        """Exactly ``prompt`` (a string) and ``completion`` (a non-empty string)."""
        if not isinstance(record, dict):
            return not_object(record, self.name)
        problems = check_keys(record, "record", ["prompt", "completion"])
        if "prompt" in record:
            problems += check_text(record["prompt"], "prompt", allow_empty=True)
        if "completion" in record:
            problems += check_text(record["completion"], "completion")
        return problems or self.token_problems([record["prompt"], record["completion"]])


class TextFormat(BaseFormat):
    """``{"text": ...}``: language modelling / continued pretraining (TRL's text type).

    The text is the prompt and completion on two lines (``Example.text``). It has no place
    for a system prompt, so passing one is an error rather than silently dropped.
    """

    name = "text"
    supports_system_prompt = False

    def to_record(self, example: Example, *, system_prompt: str | None = None) -> Record:
        """The example's whole text."""
        if system_prompt:
            msg = "the text format has no place for a system prompt; drop it or use a chat format"
            raise ConfigError(msg)
        return {"text": example.text}

    @classmethod
    def matches(cls, record: Record) -> bool:
        """A record with a ``text``."""
        return "text" in record

    @classmethod
    def read_text(cls, record: Record) -> str:
        """The text."""
        return joined((record.get("text"),))

    @classmethod
    def read_completion(cls, record: Record) -> str:
        """The text: all of it is learned."""
        return cls.read_text(record)

    def validate(self, record: object) -> list[str]:
        """Exactly ``text``, a non-empty string."""
        if not isinstance(record, dict):
            return not_object(record, self.name)
        problems = check_keys(record, "record", ["text"])
        if "text" in record:
            problems += check_text(record["text"], "text")
        return problems or self.token_problems([record["text"]])


class AlpacaFormat(BaseFormat):
    """``{"instruction": ..., "input": "", "output": ...}`` (plus ``system`` when given).

    As Stanford Alpaca, LLaMA-Factory and Axolotl read it. An example without a prompt gets
    ``text_prompt`` as its instruction; ``input`` stays empty.
    """

    name = "alpaca"

    def to_record(self, example: Example, *, system_prompt: str | None = None) -> Record:
        """Instruction (the prompt), empty input, output (the completion)."""
        record: Record = {
            "instruction": self.prompt_of(example),
            "input": "",
            "output": example.completion,
        }
        if system_prompt:
            record["system"] = system_prompt
        return record

    @classmethod
    def matches(cls, record: Record) -> bool:
        """A record with an ``instruction``."""
        return "instruction" in record

    @classmethod
    def read_text(cls, record: Record) -> str:
        """The system prompt (if any), the instruction, the input and the output."""
        return joined(record.get(key) for key in ("system", "instruction", "input", "output"))

    @classmethod
    def read_completion(cls, record: Record) -> str:
        """The output."""
        return joined((record.get("output"),))

    def validate(self, record: object) -> list[str]:
        """Instruction and output non-empty strings, input a string, optional system."""
        if not isinstance(record, dict):
            return not_object(record, self.name)
        problems = check_keys(record, "record", ["instruction", "input", "output"], ["system"])
        for key in ("instruction", "output", "system"):
            if key in record:
                problems += check_text(record[key], key)
        if "input" in record:
            problems += check_text(record["input"], "input", allow_empty=True)
        texts = [record[k] for k in ("system", "instruction", "input", "output") if k in record]
        return problems or self.token_problems(texts)

"""Chat-shaped formats: OpenAI fine-tuning ``messages`` and ShareGPT ``conversations``."""

from __future__ import annotations

from typing import Any

from augment_ft.core.models import Example
from augment_ft.core.tokens import (
    REPLY_PRIMING_TOKENS,
    TOKENS_PER_MESSAGE,
    TOKENS_PER_NAME,
    TokenCounter,
)
from augment_ft.outputs.formats.base import (
    DEFAULT_TEXT_PROMPT,
    BaseFormat,
    Record,
    check_keys,
    check_text,
    joined,
    not_object,
)

__all__ = [
    "OPENAI_MAX_TOKENS",
    "OPENAI_ROLES",
    "SHAREGPT_ROLES",
    "OpenAIChatFormat",
    "ShareGPTFormat",
]

OPENAI_ROLES = ("system", "user", "assistant", "tool", "function")
OPENAI_MAX_TOKENS = 65_536
"""Default per-example token limit of ``openai-chat`` (set ``max_tokens`` for your model)."""

_RECORD_KEYS = ("tools", "parallel_tool_calls", "functions")
_MESSAGE_KEYS = ("content", "name", "weight", "function_call", "tool_calls", "tool_call_id")
_COUNTED = ("role", "content", "name")

SHAREGPT_ROLES = ("system", "human", "gpt")


class OpenAIChatFormat(BaseFormat):
    """``{"messages": [system?, user, assistant]}``, as OpenAI fine-tuning and TRL take it.

    An example without a prompt gets ``text_prompt`` as its user turn. ``validate`` applies
    OpenAI's data checks: known keys and roles, string content, an assistant message to
    learn from, and the per-example token limit.
    """

    name = "openai-chat"

    def __init__(
        self,
        *,
        text_prompt: str = DEFAULT_TEXT_PROMPT,
        max_tokens: int | None = OPENAI_MAX_TOKENS,
        model: str = "",
        counter: TokenCounter | None = None,
    ) -> None:
        super().__init__(
            text_prompt=text_prompt, max_tokens=max_tokens, model=model, counter=counter
        )

    def to_record(self, example: Example, *, system_prompt: str | None = None) -> Record:
        """System (when given), user (the prompt) and assistant (the completion) messages."""
        messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
        messages.append({"role": "user", "content": self.prompt_of(example)})
        messages.append({"role": "assistant", "content": example.completion})
        return {"messages": messages}

    @classmethod
    def matches(cls, record: Record) -> bool:
        """A record with ``messages``."""
        return "messages" in record

    @classmethod
    def read_text(cls, record: Record) -> str:
        """Every message's content."""
        return joined(_said(record.get("messages"), "content"))

    @classmethod
    def read_completion(cls, record: Record) -> str:
        """The last assistant message's content."""
        return _last(record.get("messages"), "role", "assistant", "content")

    def validate(self, record: object) -> list[str]:
        """OpenAI's fine-tuning data checks for one chat record."""
        if not isinstance(record, dict):
            return not_object(record, self.name)
        problems = check_keys(record, "record", ["messages"], _RECORD_KEYS)
        messages = record.get("messages")
        if not isinstance(messages, list) or not messages:
            return [*problems, "messages: must be a non-empty list of message objects"]
        for i, message in enumerate(messages):
            problems += _message_problems(f"messages[{i}]", message)
        if not any(_learnable(m) for m in messages):
            problems.append("messages: no assistant message to learn from (weight 1)")
        return problems or self._token_problems(messages)

    def _token_problems(self, messages: list[dict[str, Any]]) -> list[str]:
        fields = [{k: m[k] for k in _COUNTED if isinstance(m.get(k), str)} for m in messages]
        overhead = REPLY_PRIMING_TOKENS + len(fields) * (TOKENS_PER_MESSAGE + TOKENS_PER_NAME)
        texts = [value for f in fields for value in f.values()]
        if self.max_tokens is None or not self.token_problems(texts, overhead):
            return []  # the byte bound already shows it fits
        return self.count_problem(self.counter.count_messages(fields))


def _learnable(message: object) -> bool:
    return (
        isinstance(message, dict)
        and message.get("role") == "assistant"
        and message.get("weight", 1) != 0
    )


def _message_problems(where: str, message: object) -> list[str]:
    if not isinstance(message, dict):
        return [f"{where}: must be an object, got {type(message).__name__}"]
    problems = check_keys(message, where, ["role"], _MESSAGE_KEYS)
    role = message.get("role")
    if "role" in message and role not in OPENAI_ROLES:
        problems.append(f"{where}.role: {role!r} is not one of {', '.join(OPENAI_ROLES)}")
    calls = "tool_calls" in message or "function_call" in message
    if role == "assistant" and calls and message.get("content") is None:
        pass  # a tool-calling assistant turn may leave content out
    elif "content" not in message:
        problems.append(f"{where}: missing key 'content'")
    else:
        problems += check_text(message["content"], f"{where}.content")
    if "name" in message:
        problems += check_text(message["name"], f"{where}.name")
    if "weight" in message:
        if role != "assistant":
            problems.append(f"{where}.weight: only assistant messages take a weight")
        elif message["weight"] not in (0, 1) or isinstance(message["weight"], bool):
            problems.append(f"{where}.weight: must be 0 or 1, got {message['weight']!r}")
    return problems


class ShareGPTFormat(BaseFormat):
    """``{"conversations": [{"from": "system"|"human"|"gpt", "value": ...}]}``.

    As Axolotl, LLaMA-Factory and FastChat read it: an optional system turn first, then
    human and gpt turns alternating, ending with gpt.
    """

    name = "sharegpt"

    def to_record(self, example: Example, *, system_prompt: str | None = None) -> Record:
        """System (when given), human (the prompt) and gpt (the completion) turns."""
        turns = [{"from": "system", "value": system_prompt}] if system_prompt else []
        turns.append({"from": "human", "value": self.prompt_of(example)})
        turns.append({"from": "gpt", "value": example.completion})
        return {"conversations": turns}

    @classmethod
    def matches(cls, record: Record) -> bool:
        """A record with ``conversations``."""
        return "conversations" in record

    @classmethod
    def read_text(cls, record: Record) -> str:
        """Every turn's value."""
        return joined(_said(record.get("conversations"), "value"))

    @classmethod
    def read_completion(cls, record: Record) -> str:
        """The last gpt turn's value."""
        return _last(record.get("conversations"), "from", "gpt", "value")

    def validate(self, record: object) -> list[str]:
        """Keys, roles, non-empty string values, turn order and the token limit."""
        if not isinstance(record, dict):
            return not_object(record, self.name)
        problems = check_keys(record, "record", ["conversations"])
        turns = record.get("conversations")
        if not isinstance(turns, list) or not turns:
            return [*problems, "conversations: must be a non-empty list of turns"]
        for i, turn in enumerate(turns):
            problems += _turn_problems(f"conversations[{i}]", turn)
        if problems:
            return problems
        problems += _order_problems([turn["from"] for turn in turns])
        return problems or self.token_problems([turn["value"] for turn in turns])


def _turn_problems(where: str, turn: object) -> list[str]:
    if not isinstance(turn, dict):
        return [f"{where}: must be an object, got {type(turn).__name__}"]
    problems = check_keys(turn, where, ["from", "value"])
    if "from" in turn and turn["from"] not in SHAREGPT_ROLES:
        problems.append(f"{where}.from: {turn['from']!r} is not one of {', '.join(SHAREGPT_ROLES)}")
    if "value" in turn:
        problems += check_text(turn["value"], f"{where}.value")
    return problems


def _order_problems(roles: list[str]) -> list[str]:
    body = roles[1:] if roles[0] == "system" else roles
    expected = ["human", "gpt"] * (len(body) // 2 + 1)
    if not body or body != expected[: len(body)] or body[-1] != "gpt":
        order = " -> ".join(roles)
        return [
            f"conversations: turns must be [system], human, gpt, ... ending with gpt; got {order}"
        ]
    return []


def _said(turns: object, key: str) -> list[object]:
    """``key`` of each turn object of a read-back record (none when it has no list)."""
    if not isinstance(turns, list):
        return []
    return [turn.get(key) for turn in turns if isinstance(turn, dict)]


def _last(turns: object, role_key: str, role: str, key: str) -> str:
    """``key`` of the last turn whose ``role_key`` is ``role`` ('' when none is a string)."""
    if not isinstance(turns, list):
        return ""
    mine = [t for t in turns if isinstance(t, dict) and t.get(role_key) == role]
    value = mine[-1].get(key) if mine else None
    return value if isinstance(value, str) else ""

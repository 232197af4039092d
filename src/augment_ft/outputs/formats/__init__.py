"""Output formats: one JSON record per example, each kind with its own validation rules.

Built-ins register in :data:`FORMATS` like a user's own format would:
``openai-chat``, ``prompt-completion``, ``text``, ``alpaca``, ``sharegpt``. A format is one
class: it writes, validates and reads back (``matches``, ``read_text``) its own records.
"""

from __future__ import annotations

from augment_ft.outputs.formats.base import (
    DEFAULT_TEXT_PROMPT,
    FORMATS,
    BaseFormat,
    Format,
    ReadBack,
    Record,
    provenance_record,
)
from augment_ft.outputs.formats.chat import OPENAI_MAX_TOKENS, OpenAIChatFormat, ShareGPTFormat
from augment_ft.outputs.formats.check import validate_file
from augment_ft.outputs.formats.plain import AlpacaFormat, PromptCompletionFormat, TextFormat
from augment_ft.outputs.formats.split import Split, split_train_val

__all__ = [
    "DEFAULT_TEXT_PROMPT",
    "FORMATS",
    "OPENAI_MAX_TOKENS",
    "AlpacaFormat",
    "BaseFormat",
    "Format",
    "OpenAIChatFormat",
    "PromptCompletionFormat",
    "ReadBack",
    "Record",
    "ShareGPTFormat",
    "Split",
    "TextFormat",
    "provenance_record",
    "split_train_val",
    "validate_file",
]

for _format in (
    OpenAIChatFormat,
    PromptCompletionFormat,
    TextFormat,
    AlpacaFormat,
    ShareGPTFormat,
):
    FORMATS.register(_format.name, _format)

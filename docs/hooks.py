"""MkDocs hook: render the Sphinx roles of our docstrings (:func:`x`) as plain code.

The docstrings use Sphinx-style cross-reference roles; mkdocstrings leaves the role name in
front of the code span, so the API page would show ``:func:`` before every reference.
"""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(r":(?:attr|class|data|exc|func|meth|mod|obj):(?=<code>)")
_LITERAL_MARK = re.compile(r"::</p>(\s*<div class=\"highlight\">)")


def on_page_content(html: str, **_: Any) -> str:
    """Drop role prefixes before code spans, and the ``::`` that introduces a code block."""
    return _LITERAL_MARK.sub(r":</p>\1", _ROLE.sub("", html))

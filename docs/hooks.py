"""MkDocs hook: render the Sphinx roles of our docstrings (:func:`x`) as plain code.

The docstrings use Sphinx-style cross-reference roles; mkdocstrings leaves the role name in
front of the code span, so the API page would show ``:func:`` before every reference.
"""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(r":(?:attr|class|data|exc|func|meth|mod|obj):(?=<code>)")


def on_page_content(html: str, **_: Any) -> str:
    """Drop the role prefix that precedes a code span in the rendered page."""
    return _ROLE.sub("", html)

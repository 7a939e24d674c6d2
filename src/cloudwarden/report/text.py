"""Making untrusted strings (names, tags, messages from AWS) safe for terminals and spreadsheets."""

from __future__ import annotations

import re

from rich.text import Text

# C0 and C1 control characters (ESC starts terminal escape sequences), except tab.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def printable(value: object, limit: int = 500) -> str:
    """``value`` as one line with control characters shown as ``?``, cut to ``limit`` characters."""
    text = _CONTROL.sub("?", str(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def terminal_text(value: object, limit: int = 500, style: str = "") -> Text:
    """A rich Text that renders ``value`` literally: no markup (``[bold]``), no escape sequences."""
    return Text(printable(value, limit), style=style)


def spreadsheet_cell(value: object) -> str:
    """A CSV cell a spreadsheet will not execute: a leading =, +, -, @ is quoted with an apostrophe."""
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text

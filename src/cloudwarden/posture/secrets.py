"""One detector for secrets kept in plain environment variables (Lambda functions, ECS containers).

Collectors call :func:`redact` on every environment value before it enters the inventory, so an inventory
file never holds the value itself, only its length and what it looks like. Rules call
:func:`suspicious_variables`, which accepts a redacted value or, from a hand-made or older inventory, a raw
string (it classifies the string and forgets it). Evidence names the variable and the reason, never the value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

# Substrings of a variable name (upper-cased, "-" read as "_") that say "this holds a credential".
SECRET_NAME_PARTS = (
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "TOKEN",
    "API_KEY",
    "APIKEY",
    "PRIVATE_KEY",
    "ACCESS_KEY",
    "CREDENTIAL",
)
# An AWS access key id: AKIA (long-term) or ASIA (temporary) and 16 more upper-case letters or digits.
ACCESS_KEY_ID = re.compile(r"(?<![A-Z0-9])(AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])")
LOOKS_LIKE_ACCESS_KEY = "aws-access-key-id"
# Values longer than this are not scanned further (bounded work on attacker-controlled input).
MAX_VALUE_CHARS = 8192
MAX_VARIABLES = 1000
MAX_NAME_CHARS = 128


def redact(value: Any) -> dict[str, Any]:
    """What the inventory keeps of an environment value: ``{"redacted": True, "length": n, "looks_like": …}``."""
    text = value if isinstance(value, str) else str(value)
    looks_like = LOOKS_LIKE_ACCESS_KEY if ACCESS_KEY_ID.search(text[:MAX_VALUE_CHARS]) else ""
    return {"redacted": True, "length": len(text), "looks_like": looks_like}


def redact_all(variables: Any) -> dict[str, dict[str, Any]]:
    """``{name: redact(value)}`` for a ``{name: value}`` mapping; anything that is not a mapping is empty."""
    if not isinstance(variables, dict):
        return {}
    return {str(name)[:MAX_NAME_CHARS]: redact(value) for name, value in list(variables.items())[:MAX_VARIABLES]}


def secret_like_name(name: str) -> bool:
    normalised = name.upper().replace("-", "_")
    return any(part in normalised for part in SECRET_NAME_PARTS)


def suspicious_variables(variables: Iterable[tuple[Any, Any]]) -> list[str]:
    """``"NAME: reason"`` for every variable whose name or value looks like a credential (sorted, no values).

    ``variables`` are ``(name, value)`` pairs; a value is a :func:`redact` dict or a raw string. An empty value
    is not a secret, whatever the name says.
    """
    found: list[str] = []
    for index, (raw_name, value) in enumerate(variables):
        if index >= MAX_VARIABLES:
            break
        name = str(raw_name)[:MAX_NAME_CHARS]
        shape = value if isinstance(value, dict) and value.get("redacted") else redact("" if value is None else value)
        if shape.get("looks_like") == LOOKS_LIKE_ACCESS_KEY:
            found.append(f"{name}: value looks like an AWS access key id")
        elif secret_like_name(name) and _positive(shape.get("length")):
            found.append(f"{name}: name suggests a secret")
    return sorted(found)


def _positive(length: Any) -> bool:
    return isinstance(length, int) and length > 0

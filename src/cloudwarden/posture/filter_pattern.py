"""CloudWatch Logs JSON filter patterns: parse one and decide whether it matches a (CloudTrail) event.

Used to judge metric filters by what they *match*, not by how their text looks, so whitespace, clause
order and equivalent spellings do not matter. Supported, as CloudWatch Logs documents it:

* ``{ $.field = "value" }``, ``!=``, with ``*`` wildcards anywhere in the value (``"AccessDenied*"``);
  unquoted values (``$.eventName = ConsoleLogin``); ``$.x = *`` (any value);
* numbers: ``=``, ``!=``, ``<``, ``<=``, ``>``, ``>=``;
* ``IS TRUE``, ``IS FALSE``, ``IS NULL``, ``EXISTS``, ``NOT EXISTS``;
* ``&&``, ``||`` (``&&`` binds tighter), parentheses, nested fields ``$.a.b``, array indexes ``$.a[0]``.

Semantics chosen where the documentation is silent (documented so a reader can disagree):

* A comparison (``=``, ``!=``, ``<``...) on a field the event does not have is false, for ``!=`` too;
  that is what ``NOT EXISTS`` is for.
* String comparison is case-sensitive and exact apart from ``*``; a string value never equals a number
  and a number never equals a string.

Not supported, and reported as :class:`FilterPatternError` with the reason (a caller must then treat the
filter as *not* matching anything): term and space-delimited patterns (``ERROR``, ``[ip, user, ...]``),
regular expressions (``%...%``), selector wildcards (``$.a[*]``). Input longer than
:data:`MAX_PATTERN_LENGTH` is refused (CloudWatch itself caps patterns at 1,024 characters).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

MAX_PATTERN_LENGTH = 4096
MAX_DEPTH = 64  # parenthesis nesting; bounds recursion on hostile input


class FilterPatternError(ValueError):
    """A pattern cloudwarden cannot evaluate: malformed, or of a kind it does not support."""


# -- the expression tree ------------------------------------------------------------------------

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Comparison:
    path: Path
    op: str  # = != < <= > >=
    value: str | float  # str: a string (may hold * wildcards); float: a number
    any_value: bool = False  # the unquoted ``*``: any value


@dataclass(frozen=True)
class Test:
    path: Path
    test: str  # TRUE FALSE NULL EXISTS NOT_EXISTS


@dataclass(frozen=True)
class And:
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Or:
    left: Expr
    right: Expr


Expr = Comparison | Test | And | Or


# -- tokens -------------------------------------------------------------------------------------

_OPERATORS = ("&&", "||", "!=", "<=", ">=", "=", "<", ">", "(", ")")
_BARE_STOP = set(' \t\r\n()&|=!<>{}"')


@dataclass(frozen=True)
class _Token:
    kind: str  # op, selector, string, bare, end
    text: str
    position: int


def _tokenize(body: str, offset: int) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch.isspace():
            i += 1
            continue
        where = offset + i
        op = next((o for o in _OPERATORS if body.startswith(o, i)), None)
        if op is not None:
            tokens.append(_Token("op", op, where))
            i += len(op)
            continue
        if ch == '"':
            text, i = _read_string(body, i, offset)
            tokens.append(_Token("string", text, where))
            continue
        if ch == "$":
            start = i
            while i < len(body) and not body[i].isspace() and body[i] not in "()&|=!<>":
                i += 1
            tokens.append(_Token("selector", body[start:i], where))
            continue
        if ch == "%":
            raise FilterPatternError(f"regular expressions (%...%) are not supported (at {where})")
        if ch in _BARE_STOP:
            raise FilterPatternError(f"unexpected {ch!r} at {where}")
        start = i
        while i < len(body) and body[i] not in _BARE_STOP:
            i += 1
        tokens.append(_Token("bare", body[start:i], where))
    tokens.append(_Token("end", "", offset + len(body)))
    return tokens


def _read_string(body: str, i: int, offset: int) -> tuple[str, int]:
    out: list[str] = []
    i += 1
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            out.append(body[i + 1])
            i += 2
            continue
        if ch == '"':
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    raise FilterPatternError(f"unterminated string starting at {offset + i}")


# -- parser ---------------------------------------------------------------------------------------


def parse(pattern: str) -> Expr:
    """The expression of a JSON filter pattern ``{ ... }``; raises :class:`FilterPatternError` otherwise."""
    if not isinstance(pattern, str):
        raise FilterPatternError(f"a filter pattern is text, not {type(pattern).__name__}")
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise FilterPatternError(f"pattern longer than {MAX_PATTERN_LENGTH} characters")
    text = pattern.strip()
    if not text:
        raise FilterPatternError("empty pattern (matches every event): not a JSON pattern")
    if text.startswith("["):
        raise FilterPatternError("space-delimited pattern ([...]): not supported, only JSON patterns are")
    if not text.startswith("{"):
        raise FilterPatternError("term pattern (substring search): not supported, only JSON patterns are")
    if not text.endswith("}"):
        raise FilterPatternError("JSON pattern without a closing '}'")
    start = pattern.index("{") + 1
    parser = _Parser(_tokenize(text[1:-1], start))
    expr = parser.expression(0)
    parser.expect_end()
    return expr


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.i = 0

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        token = self.tokens[self.i]
        if token.kind != "end":
            self.i += 1
        return token

    def expect_end(self) -> None:
        token = self.peek()
        if token.kind != "end":
            raise FilterPatternError(f"unexpected {token.text!r} at {token.position}")

    def expression(self, depth: int) -> Expr:
        left = self.conjunction(depth)
        while self.peek().kind == "op" and self.peek().text == "||":
            self.take()
            left = Or(left, self.conjunction(depth))
        return left

    def conjunction(self, depth: int) -> Expr:
        left = self.primary(depth)
        while self.peek().kind == "op" and self.peek().text == "&&":
            self.take()
            left = And(left, self.primary(depth))
        return left

    def primary(self, depth: int) -> Expr:
        token = self.take()
        if token.kind == "op" and token.text == "(":
            if depth >= MAX_DEPTH:
                raise FilterPatternError(f"parentheses nested deeper than {MAX_DEPTH}")
            inner = self.expression(depth + 1)
            close = self.take()
            if close.kind != "op" or close.text != ")":
                raise FilterPatternError(f"expected ')' at {close.position}, found {close.text or 'the end'!r}")
            return inner
        if token.kind != "selector":
            raise FilterPatternError(
                f"expected a $.field selector at {token.position}, found {token.text or 'the end'!r}"
            )
        path = _selector(token)
        following = self.take()
        if following.kind == "bare" and following.text.upper() in ("IS", "NOT", "EXISTS"):
            return Test(path, self._test(following))
        if following.kind != "op" or following.text not in ("=", "!=", "<", "<=", ">", ">="):
            raise FilterPatternError(f"expected an operator after {token.text} at {following.position}")
        return self._comparison(path, following.text)

    def _test(self, word: _Token) -> str:
        first = word.text.upper()
        if first == "EXISTS":
            return "EXISTS"
        second = self.take()
        if first == "NOT" and second.kind == "bare" and second.text.upper() == "EXISTS":
            return "NOT_EXISTS"
        if first == "IS" and second.kind == "bare" and second.text.upper() in ("TRUE", "FALSE", "NULL"):
            return second.text.upper()
        raise FilterPatternError(f"expected IS TRUE/FALSE/NULL, EXISTS or NOT EXISTS at {word.position}")

    def _comparison(self, path: Path, op: str) -> Comparison:
        value = self.take()
        if value.kind == "string":
            if op not in ("=", "!="):
                raise FilterPatternError(f"{op} compares numbers, not the string at {value.position}")
            return Comparison(path, op, value.text)
        if value.kind != "bare":
            raise FilterPatternError(f"expected a value at {value.position}, found {value.text or 'the end'!r}")
        number = _number(value.text)
        if number is not None:
            return Comparison(path, op, number)
        if op not in ("=", "!="):
            raise FilterPatternError(f"{op} needs a number at {value.position}, found {value.text!r}")
        if value.text == "*":
            return Comparison(path, op, "*", any_value=True)
        return Comparison(path, op, value.text)


def _number(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _selector(token: _Token) -> Path:
    text = token.text
    if not text.startswith("$.") or len(text) < 3:
        raise FilterPatternError(f"selector {text!r} at {token.position} must look like $.field")
    path: list[str | int] = []
    i = 2
    while i < len(text):
        if text[i] == "[":
            end = text.find("]", i)
            index = text[i + 1 : end] if end > 0 else ""
            if not (index.isascii() and index.isdecimal()):
                raise FilterPatternError(f"unsupported array index in {text!r} at {token.position}")
            path.append(int(index))
            i = end + 1
            if i < len(text) and text[i] == ".":
                i += 1
            continue
        start = i
        while i < len(text) and text[i] not in ".[":
            i += 1
        name = text[start:i]
        if not name or "]" in name or "*" in name:
            raise FilterPatternError(f"malformed selector {text!r} at {token.position}")
        path.append(name)
        if i < len(text) and text[i] == ".":
            i += 1
            if i == len(text):
                raise FilterPatternError(f"selector {text!r} ends with '.' at {token.position}")
    return tuple(path)


# -- evaluation -----------------------------------------------------------------------------------

_MISSING = object()


def _lookup(event: Any, path: Path) -> Any:
    node = event
    for step in path:
        if isinstance(step, int):
            if not isinstance(node, list) or step >= len(node):
                return _MISSING
            node = node[step]
        else:
            if not isinstance(node, dict) or step not in node:
                return _MISSING
            node = node[step]
    return node


def matches(expr: Expr, event: dict[str, Any]) -> bool:
    """Whether the event (a parsed JSON log event, e.g. a CloudTrail record) matches ``expr``."""
    if isinstance(expr, And):
        return matches(expr.left, event) and matches(expr.right, event)
    if isinstance(expr, Or):
        return matches(expr.left, event) or matches(expr.right, event)
    value = _lookup(event, expr.path)
    if isinstance(expr, Test):
        return _test(expr.test, value)
    if value is _MISSING:
        return False
    if expr.any_value:
        found = value is not None and not isinstance(value, dict | list)
        return found if expr.op == "=" else not found
    if isinstance(expr.value, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        return _compare_numbers(float(value), expr.op, expr.value)
    if not isinstance(value, str):
        return False
    equal = glob_match(expr.value, value)
    return equal if expr.op == "=" else not equal


def _test(test: str, value: Any) -> bool:
    if test == "EXISTS":
        return value is not _MISSING
    if test == "NOT_EXISTS":
        return value is _MISSING
    if test == "NULL":
        return value is None
    return value is (test == "TRUE")


def _compare_numbers(left: float, op: str, right: float) -> bool:
    return {
        "=": left == right,
        "!=": left != right,
        "<": left < right,
        "<=": left <= right,
        ">": left > right,
        ">=": left >= right,
    }[op]


def glob_match(pattern: str, text: str) -> bool:
    """``*`` matches any run of characters, everything else itself (case-sensitive); linear-ish, no regex."""
    p = t = 0
    star = -1
    resume = 0
    while t < len(text):
        if p < len(pattern) and pattern[p] != "*" and pattern[p] == text[t]:
            p += 1
            t += 1
        elif p < len(pattern) and pattern[p] == "*":
            star, resume = p, t
            p += 1
        elif star >= 0:
            p = star + 1
            resume += 1
            t = resume
        else:
            return False
    while p < len(pattern) and pattern[p] == "*":
        p += 1
    return p == len(pattern)


def describe(expr: Expr) -> str:
    """A canonical text form (normalised whitespace and parentheses), for messages and tests."""
    if isinstance(expr, And):
        return f"({describe(expr.left)} && {describe(expr.right)})"
    if isinstance(expr, Or):
        return f"({describe(expr.left)} || {describe(expr.right)})"
    selector = "$" + "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in expr.path)
    if isinstance(expr, Test):
        return f"{selector} {expr.test.replace('_', ' ') if expr.test.endswith('EXISTS') else 'IS ' + expr.test}"
    value = "*" if expr.any_value else (f"{expr.value:g}" if isinstance(expr.value, float) else f'"{expr.value}"')
    return f"{selector} {expr.op} {value}"

"""Python regular expressions rewritten so that DuckDB (RE2) and Spark (java.util.regex) match exactly what Python's
``re`` matches.

The streaming matcher runs Sigma's ``|re`` values and its wildcard patterns with Python's ``re``; the engines have
other regex dialects, whose ``\\d``, ``\\s``, ``\\w``, ``.``, ``$`` and case folding mean other things. So a pattern
is parsed with Python's own parser and written back in a small syntax both engines read the same way: every
character class and every case-insensitive letter becomes an explicit list of code points, computed with Python's
``re`` itself (so it is Python's meaning by construction), ``.`` becomes ``[^\\n]`` or every code point, and
anchors become ``\\A``/``\\z``. What cannot be written that way (backreferences, lookaround, word boundaries,
atomic groups, ``$`` before the end, repetition counts past 1000) raises :class:`RegexNotPortable` with the
reason.

This module uses ``re._parser`` and ``re._compiler`` (CPython's own, private): if they change, translation fails
with a reason instead of guessing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

MAX_CODE_POINT = 0x10FFFF
MAX_REPEAT = 1000  # RE2's limit on a counted repetition
_SURROGATES = range(0xD800, 0xE000)  # never in UTF-8 text (DuckDB) nor in a decoded Python str from JSON
_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


class RegexNotPortable(Exception):
    """The pattern uses a construct the engines cannot be made to match as Python does (the message says which)."""


def _private() -> tuple[Any, Any, Any]:
    try:
        from re import _compiler, _constants, _parser
    except ImportError as exc:  # another Python: say so instead of guessing
        raise RegexNotPortable(f"this Python's re internals are not available ({exc})") from exc
    return _parser, _compiler, _constants


def translate_search(pattern: str, flags: int = 0, spark: bool = False) -> str:
    """A pattern that the engine's unanchored search (DuckDB ``regexp_matches``, Spark ``rlike``) matches exactly
    where ``re.compile(pattern, flags).search`` does."""
    parser, _, _ = _private()
    try:
        parsed = parser.parse(pattern, flags)
    except (re.error, RecursionError) as exc:
        raise RegexNotPortable(f"invalid regular expression: {exc}") from exc
    return _Writer(spark).sequence(list(parsed), parsed.state.flags, at_end=True)


def translate_fullmatch(pattern: str, flags: int = 0, spark: bool = False) -> str:
    """A pattern that the engine's search matches exactly where ``re.compile(pattern, flags).fullmatch`` does."""
    parser, _, _ = _private()
    try:
        parsed = parser.parse(pattern, flags)
    except (re.error, RecursionError) as exc:
        raise RegexNotPortable(f"invalid regular expression: {exc}") from exc
    body = _Writer(spark).sequence(list(parsed), parsed.state.flags, at_end=False)
    return f"\\A(?:{body})\\z"


def _char(code: int) -> str:
    character = chr(code)
    return character if character in _PLAIN else f"\\x{{{code:x}}}"


def class_of(codes: Iterable[int]) -> str:
    """A bracket expression matching exactly ``codes`` (an empty set gives one that matches nothing)."""
    ranges: list[tuple[int, int]] = []
    for code in sorted(set(codes)):
        if ranges and code == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], code)
        else:
            ranges.append((code, code))
    if not ranges:
        return f"[^\\x{{0}}-\\x{{{MAX_CODE_POINT:x}}}]"
    parts = [_char(a) if a == b else f"{_char(a)}-{_char(b)}" for a, b in ranges]
    return "[" + "".join(parts) + "]"


@lru_cache(maxsize=1)
def _lower_inverse() -> dict[int, tuple[int, ...]]:
    """lower-cased code point → every code point that ``re`` lower-cases to it (other than itself)."""
    import _sre

    inverse: dict[int, list[int]] = {}
    tolower = _sre.unicode_tolower
    for code in range(MAX_CODE_POINT + 1):
        lower = tolower(code)
        if lower != code:
            inverse.setdefault(lower, []).append(code)
    return {key: tuple(value) for key, value in inverse.items()}


@lru_cache(maxsize=4096)
def _ignorecase_literal(code: int) -> tuple[int, ...]:
    """The code points ``re`` matches for the literal ``code`` under IGNORECASE (as re._compiler decides: same
    simple lower case, plus its table of extra cases such as U+017F for s)."""
    import _sre
    from re import _casefix

    if not _sre.unicode_iscased(code):
        return (code,)
    lower = _sre.unicode_tolower(code)
    targets = {lower, *_casefix._EXTRA_CASES.get(lower, ())}
    inverse = _lower_inverse()
    matched = set(targets)
    for target in targets:
        matched.update(inverse.get(target, ()))
    return tuple(sorted(matched))


@lru_cache(maxsize=256)
def _element_codes(element: Any, flags: int) -> tuple[int, ...]:
    """Every code point the one-character element matches, found by asking Python's ``re`` about each one."""
    parser, compiler, _ = _private()
    state = parser.State()
    state.flags = flags
    try:
        compiled = compiler.compile(parser.SubPattern(state, [element]), flags)
    except (re.error, TypeError, AttributeError) as exc:
        raise RegexNotPortable(f"cannot enumerate a character class: {exc}") from exc
    match = compiled.fullmatch
    return tuple(
        code for code in range(MAX_CODE_POINT + 1) if code not in _SURROGATES and match(chr(code)) is not None
    )


def _freeze(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, tuple):
        return tuple(_freeze(v) for v in value)
    return value


class _Writer:
    def __init__(self, spark: bool) -> None:
        self.spark = spark
        _, _, self.c = _private()

    def sequence(self, items: list[Any], flags: int, at_end: bool) -> str:
        out = []
        for position, (op, av) in enumerate(items):
            out.append(self.element(op, av, flags, at_end and position == len(items) - 1))
        return "".join(out)

    def element(self, op: Any, av: Any, flags: int, at_end: bool) -> str:
        c = self.c
        ignore = bool(flags & re.IGNORECASE)
        if op is c.LITERAL:
            if ignore:
                codes = _ignorecase_literal(av)
                return _char(av) if len(codes) == 1 else class_of(codes)
            return _char(av)
        if op is c.ANY:
            if flags & re.DOTALL:
                return f"[\\x{{0}}-\\x{{{MAX_CODE_POINT:x}}}]"
            return "[^\\x{a}]"
        if op is c.NOT_LITERAL or op is c.IN:
            return self.one_char(op, av, flags)
        if op is c.BRANCH:
            return "(?:" + "|".join(self.sequence(list(branch), flags, at_end) for branch in av[1]) + ")"
        if op is c.SUBPATTERN:
            _group, add, remove, pattern = av
            inner = (flags | add) & ~remove
            return "(?:" + self.sequence(list(pattern), inner, at_end) + ")"
        if op is c.MAX_REPEAT or op is c.MIN_REPEAT:
            low, high, pattern = av
            if low > MAX_REPEAT or (high is not c.MAXREPEAT and high > MAX_REPEAT):
                raise RegexNotPortable(f"a repetition count above {MAX_REPEAT}")
            body = "(?:" + self.sequence(list(pattern), flags, False) + ")"
            upper = "" if high is c.MAXREPEAT else str(high)
            # Lazy or greedy, a search finds a match exactly when the other does.
            return f"{body}{{{low},{upper}}}"
        if op is c.AT:
            return self.anchor(av, flags, at_end)
        raise RegexNotPortable(f"{str(op).lower().replace('_', ' ')} has no equivalent in the engines' regex")

    def one_char(self, op: Any, av: Any, flags: int) -> str:
        c = self.c
        if not flags & re.IGNORECASE:
            if op is c.NOT_LITERAL:
                return f"[^{_char(av)}]"
            if all(kind in (c.LITERAL, c.RANGE) for kind, _ in av):
                parts = [_char(v) if kind is c.LITERAL else f"{_char(v[0])}-{_char(v[1])}" for kind, v in av]
                return "[" + "".join(parts) + "]"
        return class_of(_element_codes((op, _freeze(av)), flags & ~re.MULTILINE))

    def anchor(self, at: Any, flags: int, at_end: bool) -> str:
        c = self.c
        multiline = bool(flags & re.MULTILINE)
        if at is c.AT_BEGINNING_STRING or (at is c.AT_BEGINNING and not multiline):
            return "\\A"
        if at is c.AT_END_STRING:
            return "\\z"
        if at is c.AT_BEGINNING:  # after any \n (Java: only \n, as in Python, with UNIX_LINES)
            return "(?md:^)" if self.spark else "(?m:^)"
        if at is c.AT_END and multiline:
            return "(?md:$)" if self.spark else "(?m:$)"
        if at is c.AT_END:
            if not at_end:
                raise RegexNotPortable("$ before the end of the pattern (Python's $ also matches before a final \\n)")
            return "\\x{a}?\\z"
        raise RegexNotPortable(f"{str(at).lower().replace('_', ' ')} (Python's Unicode word boundaries)")

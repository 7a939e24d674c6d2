"""Compiling a parsed Sigma condition into a predicate over one CloudTrail record (a dict).

Field matching follows Sigma's semantics:

* a field name is a dotted path into the record (``userIdentity.type``, ``requestParameters.policyDocument``);
  where the path crosses a list, every element is a candidate, and the field matches when any candidate does;
* strings compare case-insensitively (``|cased``: exactly), with ``*`` and ``?`` wildcards; ``contains``,
  ``startswith``, ``endswith`` and ``all`` arrive from pySigma as wildcards and AND-links;
* a JSON number or boolean compares as its JSON text (``true``, ``42``) against a string;
* ``null`` matches an absent or null field; ``|exists`` a present, non-null one;
* ``|re`` searches (unanchored, case-sensitive unless the ``i`` flag is set); ``|cidr`` matches IP addresses in
  the network; ``|gt`` etc. compare numbers; ``|fieldref`` compares with another field of the same record;
* a keyword (a value without a field) matches any string anywhere in the record.

Records are attacker-controlled: every predicate accepts any JSON value at any path and never raises.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.types import (
    CompareOperators,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SpecialChars,
)

Predicate = Callable[[dict[str, Any]], bool]
Test = Callable[[Any], bool]  # one candidate value → matches?

# Regular expressions from rules run on attacker-controlled text: bound the text they see.
MAX_REGEX_SUBJECT = 64 * 1024
INDEXED_FIELDS = ("eventName", "eventSource")
_RE_FLAGS = {
    SigmaRegularExpressionFlag.IGNORECASE: re.IGNORECASE,
    SigmaRegularExpressionFlag.MULTILINE: re.MULTILINE,
    SigmaRegularExpressionFlag.DOTALL: re.DOTALL,
}
_COMPARE = {
    CompareOperators.LT: lambda a, b: a < b,
    CompareOperators.LTE: lambda a, b: a <= b,
    CompareOperators.GT: lambda a, b: a > b,
    CompareOperators.GTE: lambda a, b: a >= b,
}


class Unsupported(Exception):
    """The rule uses a Sigma feature this matcher does not implement (the message says which)."""


@dataclass(frozen=True)
class Compiled:
    match: Predicate
    # Values (lower case) a field must equal for the rule to match at all: the matcher's index keys.
    required: dict[str, frozenset[str]]


def compile_condition(conditions: list[Any]) -> Compiled:
    """Compile a rule's parsed conditions (several conditions: any may match)."""
    predicates = [_compile(node) for node in conditions]
    match = predicates[0] if len(predicates) == 1 else _any_of(predicates)
    required = _requirements_or([_requirements(node) for node in conditions])
    return Compiled(match=match, required={k: v for k, v in required.items() if k in INDEXED_FIELDS})


def required_values(conditions: list[Any]) -> dict[str, frozenset[str]]:
    """Every field (dotted path) a rule's parsed conditions require to equal one of a few values (lower case,
    compared as the rule compares: :func:`as_text`, case-insensitive): a necessary condition, for the index."""
    return _requirements_or([_requirements(node) for node in conditions])


# --- field values ---------------------------------------------------------------------------------------------


def field_values(record: Any, path: tuple[str, ...]) -> list[Any]:
    """Every value at ``path`` in ``record``, expanding lists along the way (and a list at the end)."""
    current = [record]
    for key in path:
        following = []
        for item in current:
            if type(item) is dict:
                if key in item:
                    value = item[key]
                    if type(value) is list:
                        following.extend(value)
                    else:
                        following.append(value)
            elif type(item) is list:
                for element in item:
                    if type(element) is dict and key in element:
                        value = element[key]
                        if type(value) is list:
                            following.extend(value)
                        else:
                            following.append(value)
        if not following:
            return []
        current = following
    return current


def as_text(value: Any) -> str | None:
    """A scalar as the text a string pattern is compared with (JSON spelling); None for objects and null."""
    kind = type(value)
    if kind is str:
        return value
    if kind is bool:
        return "true" if value else "false"
    if kind is int or kind is float:
        return str(value)
    return None


def _strings(value: Any) -> Iterator[str]:
    """Every string (and scalar as text) anywhere inside ``value``."""
    stack = [value]
    while stack:
        item = stack.pop()
        if type(item) is dict:
            stack.extend(item.values())
        elif type(item) is list:
            stack.extend(item)
        else:
            text = as_text(item)
            if text is not None:
                yield text


# --- value tests ----------------------------------------------------------------------------------------------


def _literal(value: SigmaString) -> str:
    """The text a wildcard-free Sigma string stands for (``to_plain`` would put escapes such as ``\\*`` back)."""
    return "".join(part for part in value.s if isinstance(part, str))


def string_shape(value: SigmaString) -> tuple[str, str]:
    """How a Sigma string value (without placeholders) tests text: ``(how, needle)`` with ``how`` one of ``eq``,
    ``in``, ``startswith``, ``endswith``, or ``("wildcard", the Python pattern the whole text must match)``. The
    matcher and the SQL evaluator both read values through this, so they read them alike."""
    parts = value.s
    if not value.contains_special():
        return "eq", _literal(value)
    many = SpecialChars.WILDCARD_MULTI
    if len(parts) == 3 and parts[0] is many and parts[2] is many and isinstance(parts[1], str):
        return "in", parts[1]
    if len(parts) == 2 and isinstance(parts[0], str) and parts[1] is many:
        return "startswith", parts[0]
    if len(parts) == 2 and parts[0] is many and isinstance(parts[1], str):
        return "endswith", parts[1]
    wildcards = {many: ".*", SpecialChars.WILDCARD_SINGLE: "."}
    return "wildcard", "".join(wildcards[part] if isinstance(part, SpecialChars) else re.escape(part) for part in parts)


def _string_test(value: SigmaString, cased: bool) -> Test:
    for part in value.s:
        if not isinstance(part, str | SpecialChars):
            raise Unsupported(f"placeholder {part!r} in a value (needs a processing pipeline)")
    how, needle = string_shape(value)
    if how != "wildcard":
        return _text_test(needle, cased, how)
    compiled = re.compile(needle, re.DOTALL | (0 if cased else re.IGNORECASE))
    fullmatch = compiled.fullmatch

    def test(candidate: Any) -> bool:
        text = as_text(candidate)
        return text is not None and fullmatch(text) is not None

    return test


def _text_test(needle: str, cased: bool, how: str) -> Test:
    if not cased:
        needle = needle.lower()
    compare = {"eq": str.__eq__, "in": str.__contains__, "startswith": str.startswith, "endswith": str.endswith}[how]

    def test(candidate: Any) -> bool:
        if type(candidate) is not str:
            candidate = as_text(candidate)
            if candidate is None:
                return False
        return compare(candidate if cased else candidate.lower(), needle)

    return test


def _number_test(number: int | float) -> Test:
    text = str(number)

    def test(candidate: Any) -> bool:
        kind = type(candidate)
        if kind is int or kind is float:
            return candidate == number
        return kind is str and candidate == text

    return test


def _bool_test(expected: bool) -> Test:
    text = "true" if expected else "false"

    def test(candidate: Any) -> bool:
        if type(candidate) is bool:
            return candidate is expected
        return type(candidate) is str and candidate.lower() == text

    return test


def _regex_test(value: SigmaRegularExpression) -> Test:
    flags = 0
    for flag in value.flags:
        flags |= _RE_FLAGS[flag]
    regexp = value.regexp
    pattern = getattr(regexp, "original", None) or (regexp.to_plain() if hasattr(regexp, "to_plain") else str(regexp))
    try:
        search = re.compile(pattern, flags).search
    except re.error as exc:
        raise Unsupported(f"invalid regular expression: {exc}") from exc

    needles = _required_literals(pattern, flags)
    ignore_case = bool(flags & re.IGNORECASE)

    def test(candidate: Any) -> bool:
        text = as_text(candidate)
        if text is None:
            return False
        text = text[:MAX_REGEX_SUBJECT]
        # A cheap necessary condition before the regular expression runs. Under IGNORECASE, U+017F and U+212A match s
        # and k while lower() keeps them apart: on text that is not ASCII the prefilter would let an attacker slip by.
        if needles and (not ignore_case or text.isascii()):
            folded = text.lower() if ignore_case else text
            for needle in needles:
                if needle not in folded:
                    return False
        return search(text) is not None

    return test


def _required_literals(pattern: str, flags: int) -> list[str]:
    """Runs of literal characters every match must contain: those at the top level of the pattern, outside any
    group, branch or repetition. Empty when unsure (the prefilter is then skipped, never wrong)."""
    try:  # the standard library's own regex parser (private, so any surprise just disables the prefilter)
        from re import _constants as sre_constants
        from re import _parser as sre_parse

        parsed = sre_parse.parse(pattern, flags)
    except (ImportError, AttributeError, re.error, RecursionError):
        return []
    runs: list[str] = []
    current: list[str] = []
    for op, argument in parsed:
        if op is sre_constants.LITERAL:
            current.append(chr(argument))
            continue
        if current:
            runs.append("".join(current))
            current = []
    if current:
        runs.append("".join(current))
    if flags & re.IGNORECASE:
        if not all(run.isascii() for run in runs):
            return []  # Unicode case folding is not lower(): skip the prefilter
        runs = [run.lower() for run in runs]
    return [run for run in runs if len(run) >= 3]


@lru_cache(maxsize=4096)
def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _cidr_test(value: SigmaCIDRExpression) -> Test:
    network = value.network

    def test(candidate: Any) -> bool:
        if type(candidate) is not str or len(candidate) > 64:
            return False
        address = _address(candidate)
        return address is not None and address.version == network.version and address in network

    return test


def _compare_test(value: SigmaCompareExpression) -> Test:
    limit = value.number.number
    compare = _COMPARE[value.op]

    def test(candidate: Any) -> bool:
        kind = type(candidate)
        if kind is str:
            try:
                candidate = float(candidate)
            except ValueError:
                return False
        elif kind is not int and kind is not float:
            return False
        return compare(candidate, limit)

    return test


# --- the tree -------------------------------------------------------------------------------------------------


def _compile(node: Any) -> Predicate:
    if isinstance(node, ConditionAND):
        return _all_of([_compile(arg) for arg in _flatten(node, ConditionAND)])
    if isinstance(node, ConditionOR):
        return _any_of(_compile_or(_flatten(node, ConditionOR)))
    if isinstance(node, ConditionNOT):
        inner = _compile(node.args[0])
        return lambda record: not inner(record)
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return _field_predicate(node.field, node.value)
    if isinstance(node, ConditionValueExpression):
        return _keyword_predicate(node.value)
    raise Unsupported(f"condition element {type(node).__name__}")


def _is_plain_equality(node: Any) -> bool:
    return (
        isinstance(node, ConditionFieldEqualsValueExpression)
        and type(node.value) is SigmaString
        and not node.value.contains_special()
    )


def _compile_or(operands: list[Any]) -> list[Predicate]:
    """OR's operands, with plain equalities on one field (``eventName: [A, B, …]``) merged into one set lookup."""
    values: dict[str, set[str]] = {}
    predicates = []
    for operand in operands:
        if _is_plain_equality(operand):
            values.setdefault(operand.field, set()).add(_literal(operand.value).lower())
        else:
            predicates.append(_compile(operand))
    for field, allowed in values.items():
        predicates.insert(0, _path_predicate(tuple(field.split(".")), _set_test(frozenset(allowed))))
    return predicates


def _set_test(allowed: frozenset[str]) -> Test:
    def test(candidate: Any) -> bool:
        if type(candidate) is not str:
            candidate = as_text(candidate)
            if candidate is None:
                return False
        return candidate.lower() in allowed

    return test


def _flatten(node: Any, kind: type) -> list[Any]:
    """The operands of nested ANDs (or ORs) as one list: one call per operand, not one per level."""
    operands = []
    for arg in node.args:
        operands.extend(_flatten(arg, kind) if isinstance(arg, kind) else [arg])
    return operands


# Every event meets these predicates: plain closures and loops, no generators (this is the fast lane's hot path).
def _all_of(predicates: list[Predicate]) -> Predicate:
    if len(predicates) == 1:
        return predicates[0]
    if len(predicates) == 2:
        first, second = predicates
        return lambda record: first(record) and second(record)

    def every(record: dict[str, Any]) -> bool:
        for predicate in predicates:  # noqa: SIM110 (all() over a generator costs more, per event)
            if not predicate(record):
                return False
        return True

    return every


def _any_of(predicates: list[Predicate]) -> Predicate:
    if len(predicates) == 1:
        return predicates[0]

    def some(record: dict[str, Any]) -> bool:
        for predicate in predicates:  # noqa: SIM110 (any() over a generator costs more, per event)
            if predicate(record):
                return True
        return False

    return some


def _field_predicate(field: str, value: Any) -> Predicate:
    path = tuple(field.split("."))
    if isinstance(value, SigmaNull):
        return lambda record: all(candidate is None for candidate in field_values(record, path))
    if isinstance(value, SigmaExists):
        expected = value.exists
        return lambda record: any(c is not None for c in field_values(record, path)) is expected
    if isinstance(value, SigmaFieldReference):
        if getattr(value, "starts_with", False) or getattr(value, "ends_with", False):
            raise Unsupported("fieldref with startswith/endswith")
        other = tuple(value.field.split("."))

        def same_as_other(record: dict[str, Any]) -> bool:
            theirs = {t.lower() for t in map(as_text, field_values(record, other)) if t is not None}
            return any((t := as_text(c)) is not None and t.lower() in theirs for c in field_values(record, path))

        return same_as_other
    return _path_predicate(path, _value_test(value))


def _path_predicate(path: tuple[str, ...], test: Test) -> Predicate:
    """True when ``test`` holds for any value at ``path`` (see :func:`field_values`)."""
    if len(path) == 2:
        outer, inner = path

        def nested(record: dict[str, Any]) -> bool:
            container = record.get(outer) if type(record) is dict else None
            if type(container) is dict:  # the usual shape: no list on the way
                candidate = container.get(inner)
                if type(candidate) is list:
                    return any(test(element) for element in candidate)
                return candidate is not None and test(candidate)
            if container is None:
                return False
            return any(test(candidate) for candidate in field_values(record, path))

        return nested
    if len(path) == 1:
        key = path[0]

        def top_level(record: dict[str, Any]) -> bool:
            candidate = record.get(key) if type(record) is dict else None
            if type(candidate) is list:
                return any(test(element) for element in candidate)
            return candidate is not None and test(candidate)

        return top_level

    def deep(record: dict[str, Any]) -> bool:
        current: Any = record
        for key in path:
            if type(current) is not dict:  # a list on the way takes the general walk; anything else: no value
                return type(current) is list and any(test(c) for c in field_values(record, path))
            current = current.get(key)
        if type(current) is list:
            return any(test(element) for element in current)
        return current is not None and test(current)

    return deep


def _value_test(value: Any) -> Test:
    if isinstance(value, SigmaCasedString):
        return _string_test(value, cased=True)
    if isinstance(value, SigmaString):
        return _string_test(value, cased=False)
    if isinstance(value, SigmaBool):
        return _bool_test(value.boolean)
    if isinstance(value, SigmaNumber):
        return _number_test(value.number)
    if isinstance(value, SigmaRegularExpression):
        return _regex_test(value)
    if isinstance(value, SigmaCIDRExpression):
        return _cidr_test(value)
    if isinstance(value, SigmaCompareExpression):
        return _compare_test(value)
    raise Unsupported(f"value type {type(value).__name__}")


def _keyword_predicate(value: Any) -> Predicate:
    test = _value_test(value)
    return lambda record: any(test(text) for text in _strings(record))


# --- index requirements ---------------------------------------------------------------------------------------


def _requirements(node: Any) -> dict[str, frozenset[str]]:
    """Field → the only values (lower case) it may have for ``node`` to match; fields not listed are free."""
    if isinstance(node, ConditionFieldEqualsValueExpression):
        value = node.value
        if type(value) is SigmaString and not value.contains_special():
            return {node.field: frozenset({_literal(value).lower()})}
        return {}
    if isinstance(node, ConditionAND):
        merged: dict[str, frozenset[str]] = {}
        for arg in node.args:
            for field, values in _requirements(arg).items():
                merged[field] = merged[field] & values if field in merged else values
        return merged
    if isinstance(node, ConditionOR):
        return _requirements_or([_requirements(arg) for arg in node.args])
    return {}


def _requirements_or(branches: list[dict[str, frozenset[str]]]) -> dict[str, frozenset[str]]:
    if not branches:
        return {}
    common = set(branches[0]).intersection(*branches[1:])
    return {field: frozenset().union(*(branch[field] for branch in branches)) for field in common}

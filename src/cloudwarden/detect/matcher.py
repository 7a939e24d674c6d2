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


def _string_test(value: SigmaString, cased: bool) -> Test:
    parts = value.s
    for part in parts:
        if not isinstance(part, str | SpecialChars):
            raise Unsupported(f"placeholder {part!r} in a value (needs a processing pipeline)")
    if not value.contains_special():
        plain = value.to_plain()
        return _text_test(plain, cased, "eq")
    if (
        len(parts) == 3
        and parts[0] is SpecialChars.WILDCARD_MULTI
        and parts[2] is SpecialChars.WILDCARD_MULTI
        and isinstance(parts[1], str)
    ):
        return _text_test(parts[1], cased, "in")
    if len(parts) == 2 and isinstance(parts[0], str) and parts[1] is SpecialChars.WILDCARD_MULTI:
        return _text_test(parts[0], cased, "startswith")
    if len(parts) == 2 and parts[0] is SpecialChars.WILDCARD_MULTI and isinstance(parts[1], str):
        return _text_test(parts[1], cased, "endswith")
    wildcards = {SpecialChars.WILDCARD_MULTI: ".*", SpecialChars.WILDCARD_SINGLE: "."}
    pattern = "".join(wildcards[part] if isinstance(part, SpecialChars) else re.escape(part) for part in parts)
    compiled = re.compile(pattern, re.DOTALL | (0 if cased else re.IGNORECASE))
    fullmatch = compiled.fullmatch

    def test(candidate: Any) -> bool:
        text = as_text(candidate)
        return text is not None and fullmatch(text) is not None

    return test


def _text_test(needle: str, cased: bool, how: str) -> Test:
    if not cased:
        needle = needle.lower()

    def prepared(candidate: Any) -> str | None:
        text = as_text(candidate)
        if text is None:
            return None
        return text if cased else text.lower()

    if how == "eq":

        def test(candidate: Any) -> bool:
            return prepared(candidate) == needle
    elif how == "in":

        def test(candidate: Any) -> bool:
            text = prepared(candidate)
            return text is not None and needle in text
    elif how == "startswith":

        def test(candidate: Any) -> bool:
            text = prepared(candidate)
            return text is not None and text.startswith(needle)
    else:

        def test(candidate: Any) -> bool:
            text = prepared(candidate)
            return text is not None and text.endswith(needle)

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
    try:
        search = re.compile(value.regexp.to_plain() if hasattr(value.regexp, "to_plain") else str(value.regexp),
                            flags).search
    except re.error as exc:
        raise Unsupported(f"invalid regular expression: {exc}") from exc

    def test(candidate: Any) -> bool:
        text = as_text(candidate)
        return text is not None and search(text[:MAX_REGEX_SUBJECT]) is not None

    return test


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
        parts = [_compile(arg) for arg in node.args]
        return lambda record: all(part(record) for part in parts)
    if isinstance(node, ConditionOR):
        return _any_of([_compile(arg) for arg in node.args])
    if isinstance(node, ConditionNOT):
        inner = _compile(node.args[0])
        return lambda record: not inner(record)
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return _field_predicate(node.field, node.value)
    if isinstance(node, ConditionValueExpression):
        return _keyword_predicate(node.value)
    raise Unsupported(f"condition element {type(node).__name__}")


def _any_of(predicates: list[Predicate]) -> Predicate:
    return lambda record: any(predicate(record) for predicate in predicates)


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
    test = _value_test(value)
    if len(path) == 1:
        key = path[0]

        def top_level(record: dict[str, Any]) -> bool:
            candidate = record.get(key) if type(record) is dict else None
            if type(candidate) is list:
                return any(test(element) for element in candidate)
            return candidate is not None and test(candidate)

        return top_level
    return lambda record: any(test(candidate) for candidate in field_values(record, path))


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
            return {node.field: frozenset({value.to_plain().lower()})}
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

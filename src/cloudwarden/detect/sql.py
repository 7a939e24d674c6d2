"""Compiling a loaded Sigma rule into one SQL boolean expression over the trail store's ``events`` table, meaning
exactly what :mod:`cloudwarden.detect.matcher` means on the original record.

Each field test becomes "some candidate value at the dotted path passes" (see :mod:`cloudwarden.detect.sql_dialect`
for how the candidates, their kinds and their texts are found), with the matcher's rules: case-insensitive strings
lowered as Python lowers them, ``*``/``?`` wildcards and ``|re`` rewritten into patterns the engine matches as
Python's ``re`` does (:mod:`cloudwarden.detect.sql_regex`, the matcher's 64 KiB subject bound and its literal
prefilter included), numbers and booleans compared as their JSON text, ``null`` as absent or null.

What SQL cannot be made to mean exactly the same raises :class:`NotRunnable` with the reason, and
:func:`compile_rules` reports the rule as a :class:`~cloudwarden.detect.sigma_rules.RuleProblem` ("not runnable in
SQL: …"), never approximated and never dropped. Today that is: keywords (they search the whole record; the store
keeps part of it), fields the store does not keep, ``|lt``/``|gt`` comparisons (Python's ``float()`` reads strings
SQL cannot), ``|cidr`` on IPv6 networks, regex constructs RE2 lacks (backreferences, lookaround, word boundaries),
case-insensitive values containing a Greek small sigma (Python lowers Σ by context), and, on Spark only, tests
whose outcome depends on how a fractional JSON number is spelt (Java 17 spells some doubles differently from
Python; fieldref always compares such texts) and case-insensitive values holding one of the letters Spark's newer
Unicode tables lower unlike Python (``sql_dialect.SPARK_ONLY_LOWER``).

The store itself bounds what it keeps (64 KiB of userAgent and errorMessage, 1 MiB of each JSON field): a match
past those bounds is not in the store, so it is not found here; that is the one known difference.

Every value from a rule reaches SQL as a named parameter; the SQL text holds only constants and generated names.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
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
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaString,
    SpecialChars,
)

from cloudwarden.detect.matcher import _RE_FLAGS, MAX_REGEX_SUBJECT, _required_literals, string_shape
from cloudwarden.detect.sigma_rules import DetectionRule, RuleProblem
from cloudwarden.detect.sql_dialect import DIALECTS, Candidate, Dialect, Params
from cloudwarden.detect.sql_fields import BOOLEAN_COLUMNS, JSON_COLUMNS, TEXT_COLUMNS, unkept_reason
from cloudwarden.detect.sql_regex import (
    RegexNotPortable,
    _ignorecase_literal,
    class_of,
    translate_fullmatch,
    translate_search,
)

NOT_RUNNABLE = "not runnable in SQL"
# Every character of Python's repr() of a finite float (1e+16, -0.0, 5e-324): a needle with any other character
# can never match a fractional number's text, however it is spelt.
_FLOAT_CHARS = frozenset("0123456789.e+-")
_SIGMA = frozenset("σς")


class NotRunnable(Exception):
    """The rule cannot be evaluated in SQL with exactly the matcher's meaning (the message says why)."""


@dataclass(frozen=True)
class SQLRule:
    """A rule compiled for one dialect: ``where`` is a boolean SQL expression over ``events``, ``params`` its
    named parameters (names start with the prefix given to :func:`compile_rule`)."""

    rule: DetectionRule
    where: str
    params: dict[str, Any]


def compile_rule(rule: DetectionRule, dialect: str = "duckdb", prefix: str = "p") -> SQLRule:
    """``rule`` as SQL in ``dialect`` (``duckdb`` or ``spark``); raises NotRunnable."""
    engine = DIALECTS[dialect]
    params = Params(engine.marker, prefix)
    conditions = [condition.parsed for condition in rule.sigma.detection.parsed_condition]
    compiler = _Compiler(engine, params)
    parts = [compiler.node(node) for node in conditions]
    where = parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"
    return SQLRule(rule, where, params.values)


def compile_rules(
    rules: Iterable[DetectionRule], dialect: str = "duckdb"
) -> tuple[list[SQLRule], list[RuleProblem]]:
    """Every rule that SQL can evaluate exactly, and a problem ("not runnable in SQL: …") for each other one.
    Parameter names are unique across the result (``r<index>_…``), so the rules can share one query."""
    compiled: list[SQLRule] = []
    problems: list[RuleProblem] = []
    for index, rule in enumerate(rules):
        try:
            compiled.append(compile_rule(rule, dialect, prefix=f"r{index}_"))
        except NotRunnable as exc:
            problems.append(RuleProblem(rule.source, f"{rule.title}: {NOT_RUNNABLE} ({dialect}): {exc}"))
    return compiled, problems


@lru_cache(maxsize=1)
def _python_whitespace() -> str:
    """A class of every character ``str.strip()`` removes."""
    return class_of(code for code in range(0x110000) if chr(code).isspace())


class _Compiler:
    def __init__(self, dialect: Dialect, params: Params) -> None:
        self.d = dialect
        self.params = params

    # --- the tree -------------------------------------------------------------------------------------------------

    def node(self, node: Any) -> str:
        if isinstance(node, ConditionAND):
            return "(" + " AND ".join(self.node(arg) for arg in node.args) + ")"
        if isinstance(node, ConditionOR):
            return "(" + " OR ".join(self.node(arg) for arg in node.args) + ")"
        if isinstance(node, ConditionNOT):
            return f"(NOT {self.node(node.args[0])})"
        if isinstance(node, ConditionFieldEqualsValueExpression):
            return self.field(node.field, node.value)
        if isinstance(node, ConditionValueExpression):
            raise NotRunnable("keywords search every field of the record, and the store keeps only some of them")
        raise NotRunnable(f"condition element {type(node).__name__}")

    # --- fields ---------------------------------------------------------------------------------------------------

    def field(self, name: str, value: Any) -> str:
        path = name.split(".")
        reason = unkept_reason(path[0])
        if reason:
            raise NotRunnable(reason)
        if isinstance(value, SigmaFieldReference):
            return self.fieldref(path, value)
        if isinstance(value, SigmaNull):
            return self.over(path, lambda c: f"({c.kind} = 'null')", every=True, empty=True)
        if isinstance(value, SigmaExists):
            some = self.over(path, lambda c: f"({c.kind} <> 'null')", every=False, empty=False)
            return some if value.exists else f"(NOT {some})"
        test = self.value_test(value)
        return self.over(path, test, every=False, empty=False)

    def over(self, path: list[str], test: Any, every: bool, empty: bool) -> str:
        """``test`` (a function of a Candidate → SQL) for any (``every``: all) candidate at ``path``; ``empty`` is
        the answer when there is none. The result is never NULL."""
        top, steps = path[0], path[1:]
        if top in JSON_COLUMNS:
            items = self.d.described(JSON_COLUMNS[top], steps, self.params)
            var = self.d.var("c")
            body = test(self.d.candidate(var))
            return self.d.forall(items, var, body) if every else self.d.exists(items, var, body)
        if steps:  # a path into a text or boolean column: no value there, ever
            return "TRUE" if empty else "FALSE"
        column = TEXT_COLUMNS.get(top) or BOOLEAN_COLUMNS[top]
        if top in BOOLEAN_COLUMNS:
            candidate = Candidate(
                f"(CASE WHEN {column} IS NULL THEN 'null' ELSE 'boolean' END)",
                f"(CASE WHEN {column} THEN 'true' WHEN NOT {column} THEN 'false' END)",
                "CAST(NULL AS DOUBLE)",
                True,
            )
        else:
            candidate = Candidate(
                f"(CASE WHEN {column} IS NULL THEN 'null' ELSE 'string' END)", column, "CAST(NULL AS DOUBLE)", True
            )
        present = f"({column} IS NOT NULL)"
        if every:
            return f"coalesce(NOT {present} OR ({test(candidate)}), false)"
        return f"coalesce({present} AND ({test(candidate)}), false)"

    def fieldref(self, path: list[str], value: SigmaFieldReference) -> str:
        if getattr(value, "starts_with", False) or getattr(value, "ends_with", False):
            raise NotRunnable("fieldref with startswith/endswith")
        other = value.field.split(".")
        reason = unkept_reason(other[0])
        if reason:
            raise NotRunnable(reason)
        if not self.d.float_text_exact and (path[0] in JSON_COLUMNS or other[0] in JSON_COLUMNS):
            raise NotRunnable(
                "fieldref compares texts, and a fractional JSON number is spelt differently by Java 17 and Python"
            )

        def theirs(mine: Candidate) -> str:
            return self.over(
                other,
                lambda c: f"({c.text} IS NOT NULL AND {self.d.lower(c.text)} = {self.d.lower(mine.text)})",
                every=False,
                empty=False,
            )

        return self.over(path, lambda mine: f"({mine.text} IS NOT NULL AND {theirs(mine)})", every=False, empty=False)

    # --- values ---------------------------------------------------------------------------------------------------

    def value_test(self, value: Any) -> Any:
        if isinstance(value, SigmaCasedString):
            return self.string_test(value, cased=True)
        if isinstance(value, SigmaString):
            return self.string_test(value, cased=False)
        if isinstance(value, SigmaBool):
            return self.bool_test(value.boolean)
        if isinstance(value, SigmaNumber):
            return self.number_test(value.number)
        if isinstance(value, SigmaRegularExpression):
            return self.regex_test(value)
        if isinstance(value, SigmaCIDRExpression):
            return self.cidr_test(value)
        if isinstance(value, SigmaCompareExpression):
            raise NotRunnable(
                "numeric comparison (|lt, |gt…): the matcher reads strings with Python's float(), which accepts "
                "forms SQL casts do not (underscores, Unicode digits, inf, nan)"
            )
        raise NotRunnable(f"value type {type(value).__name__}")

    def _fold(self, text: str, cased: bool) -> str:
        return text if cased else self.d.lower(text)

    def _check_needle(self, needle: str, cased: bool) -> None:
        if cased:
            return
        if _SIGMA & set(needle):
            raise NotRunnable("a case-insensitive value with a Greek sigma (Python lowers Σ by its context)")
        unsafe = self.d.case_unsafe & set(needle)
        if unsafe:
            listed = ", ".join(f"U+{ord(c):04X}" for c in sorted(unsafe))
            raise NotRunnable(f"a case-insensitive value with {listed}, which {self.d.name} lowers unlike Python")

    def string_test(self, value: SigmaString, cased: bool) -> Any:
        parts = value.s
        for part in parts:
            if not isinstance(part, str | SpecialChars):
                raise NotRunnable(f"placeholder {part!r} in a value")
        how, needle = string_shape(value)
        if how != "wildcard":
            return self.text_test(needle, cased, how)
        return self.wildcard_test(parts, needle, cased)

    def text_test(self, needle: str, cased: bool, how: str) -> Any:
        folded = needle if cased else needle.lower()
        self._check_needle(folded, cased)
        marker = self.params.add(folded)

        def test(c: Candidate) -> str:
            text = self._fold(c.text, cased)
            if how == "eq":
                compare = f"({text} = {marker})"
            elif how == "in":
                compare = self.d.contains(text, marker)
            elif how == "startswith":
                compare = self.d.starts_with(text, marker)
            else:
                compare = self.d.ends_with(text, marker)
            if c.float_text_exact:
                return compare
            on_fraction = self._fraction_text_test(folded, how)(c)
            return f"(CASE WHEN {c.kind} = 'fractional' THEN {on_fraction} ELSE coalesce({compare}, false) END)"

        return test

    def _fraction_text_test(self, folded: str, how: str) -> Any:
        """Without Python's spelling of fractional numbers: the test's outcome on one, decided without it."""
        if set(folded) - _FLOAT_CHARS:
            return lambda c: "FALSE"  # no spelling of a float contains this character
        if folded == "":
            return lambda c: "TRUE" if how != "eq" else "FALSE"
        if how == "eq":
            try:
                number = float(folded)
            except ValueError:
                return lambda c: "FALSE"
            if repr(number) != folded:
                return lambda c: "FALSE"  # Python would never spell a float like this
            if number == 0:  # 0.0 and -0.0 are equal numbers with different spellings
                return lambda c: f"(CAST({c.double} AS STRING) = {self.params.add(folded)})"
            marker = self.params.add(number)
            return lambda c: f"({c.double} = {marker})"
        raise NotRunnable(
            f"{how} {folded!r} on a field that may be a fractional JSON number, which Java 17 spells differently "
            "from Python"
        )

    def wildcard_test(self, parts: list[Any], python: str, cased: bool) -> Any:
        """The test of a wildcard value of ``parts``, whose whole-text Python pattern is ``python``."""
        for part in parts:
            if isinstance(part, str):
                self._check_needle(part if cased else part.lower(), cased)
        flags = re.DOTALL | (0 if cased else re.IGNORECASE)
        try:
            pattern = translate_fullmatch(python, flags, spark=self.d.name == "spark")
        except RegexNotPortable as exc:
            raise NotRunnable(str(exc)) from exc
        marker = self.params.add(pattern)
        literal = "".join(p for p in parts if isinstance(p, str))
        if set(literal.lower()) - _FLOAT_CHARS:
            on_fraction = "FALSE"
        elif all(p is SpecialChars.WILDCARD_MULTI for p in parts):
            on_fraction = "TRUE"
        else:
            on_fraction = None

        def test(c: Candidate) -> str:
            compare = self.d.regex_search(c.text, marker)
            if c.float_text_exact:
                return compare
            if on_fraction is None:
                raise NotRunnable(
                    "a wildcard pattern on a field that may be a fractional JSON number, which Java 17 spells "
                    "differently from Python"
                )
            return f"(CASE WHEN {c.kind} = 'fractional' THEN {on_fraction} ELSE coalesce({compare}, false) END)"

        return test

    def bool_test(self, expected: bool) -> Any:
        word = self.params.add("true" if expected else "false")
        return lambda c: (
            f"(({c.kind} = 'boolean' AND {c.text} = {word}) "
            f"OR ({c.kind} = 'string' AND {self.d.lower(c.text)} = {word}))"
        )

    def number_test(self, number: int | float) -> Any:
        text = self.params.add(str(number))
        if isinstance(number, bool):
            raise NotRunnable("a boolean where a number was expected")
        if isinstance(number, int):
            integer = text  # the integer's text is the string's
            fraction = f"= {self.params.add(float(number))}" if float(number) == number else None
        else:
            integer = self.params.add(str(int(number))) if number.is_integer() else None
            fraction = f"= {self.params.add(number)}"

        def test(c: Candidate) -> str:
            options = [f"({c.kind} = 'string' AND {c.text} = {text})"]
            if integer is not None:
                options.append(f"({c.kind} = 'integer' AND {c.text} = {integer})")
            if fraction is not None:
                options.append(f"({c.kind} = 'fractional' AND {c.double} {fraction})")
            return "(" + " OR ".join(options) + ")"

        return test

    def regex_test(self, value: SigmaRegularExpression) -> Any:
        flags = 0
        for flag in value.flags:
            flags |= _RE_FLAGS[flag]
        regexp = value.regexp
        pattern = getattr(regexp, "original", None) or (
            regexp.to_plain() if hasattr(regexp, "to_plain") else str(regexp)
        )
        try:
            translated = translate_search(pattern, flags, spark=self.d.name == "spark")
        except RegexNotPortable as exc:
            raise NotRunnable(str(exc)) from exc
        ignore_case = bool(flags & re.IGNORECASE)
        needles = _required_literals(pattern, flags)  # the matcher's prefilter is part of its answer
        marker = self.params.add(translated)
        needle_markers = [self.params.add(needle) for needle in needles]
        never_on_fraction = any(set(needle.lower()) - _FLOAT_CHARS for needle in needles) or _needs_non_float_char(
            pattern, flags
        )

        def test(c: Candidate) -> str:
            subject = self.d.left(c.text, MAX_REGEX_SUBJECT)
            folded = self.d.lower(subject) if ignore_case else subject
            checks = [self.d.contains(folded, needle) for needle in needle_markers]
            if ignore_case and checks:  # the matcher's prefilter runs on ASCII text only under IGNORECASE
                ascii_only = f"{self.d.octet_length(subject)} = {self.d.length(subject)}"
                checks = [f"(NOT ({ascii_only}) OR {' AND '.join(checks)})"]
            checks.append(self.d.regex_search(subject, marker))
            compare = "(" + " AND ".join(checks) + ")"
            if c.float_text_exact:
                return compare
            if not never_on_fraction:
                raise NotRunnable(
                    "a regular expression on a field that may be a fractional JSON number, which Java 17 spells "
                    "differently from Python"
                )
            return f"(CASE WHEN {c.kind} = 'fractional' THEN FALSE ELSE coalesce({compare}, false) END)"

        return test

    def cidr_test(self, value: SigmaCIDRExpression) -> Any:
        network = value.network
        if not isinstance(network, ipaddress.IPv4Network):
            raise NotRunnable(
                "|cidr on an IPv6 network: Python's address parser (zones, embedded IPv4) has no SQL equivalent"
            )
        space = _python_whitespace()
        octet = "(0|[1-9][0-9]{0,2})"
        # ipaddress.ip_address(text.strip()): four decimal octets, no leading zeros, each at most 255.
        shape = self.params.add(f"\\A{space}*{octet}\\.{octet}\\.{octet}\\.{octet}{space}*\\z")
        low = self.params.add(int(network.network_address))
        high = self.params.add(int(network.broadcast_address))

        def test(c: Candidate) -> str:
            text = c.text
            octets = [self.d.to_bigint(self.d.regex_group(text, shape, group)) for group in (1, 2, 3, 4)]
            number = f"((({octets[0]} * 256 + {octets[1]}) * 256 + {octets[2]}) * 256 + {octets[3]})"
            within = " AND ".join(f"{o} <= 255" for o in octets)
            return (
                f"({c.kind} = 'string' AND {self.d.length(text)} <= 64 AND {self.d.regex_search(text, shape)} "
                f"AND {within} AND {number} BETWEEN {low} AND {high})"
            )

        return test


def _needs_non_float_char(pattern: str, flags: int) -> bool:
    """Whether every match of ``pattern`` must contain a character no spelling of a float has (so the test is
    False on every fractional number). False when unsure."""
    try:
        from re import _constants as c
        from re import _parser as parser

        parsed = parser.parse(pattern, flags)
    except (ImportError, AttributeError, re.error, RecursionError):
        return False

    def required(items: Any, flags: int) -> bool:
        for op, av in items:
            if op is c.LITERAL:
                codes = _ignorecase_literal(av) if flags & re.IGNORECASE else (av,)
                if not any(chr(code) in _FLOAT_CHARS for code in codes):
                    return True
            elif op is c.SUBPATTERN:
                if required(av[3], (flags | av[1]) & ~av[2]):
                    return True
            elif op is c.BRANCH:
                if all(required(branch, flags) for branch in av[1]):
                    return True
            elif op in (c.MAX_REPEAT, c.MIN_REPEAT) and av[0] >= 1 and required(av[2], flags):
                return True
        return False

    return required(list(parsed), parsed.state.flags)

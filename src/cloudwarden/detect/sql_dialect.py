"""The SQL each engine needs to see a stored field as the streaming matcher sees it: the candidate values at a
dotted path (lists expanded, the last of duplicate JSON keys), each value's JSON kind, and its text as Python's
``as_text`` spells it.

Two dialects: DuckDB (the ``events`` JSON columns read with DuckDB's JSON functions) and Spark SQL (the same
columns parsed into VARIANT). Every value from a rule reaches SQL as a named parameter (``Params``); the SQL text
holds only constants written here and lambda variable names generated here.

Kinds, as SQL text values: ``string``, ``integer``, ``fractional``, ``boolean``, ``null``, ``object``, ``array``. A
JSON integer is ``integer`` when Python (orjson) reads it as an int, i.e. within [-2**63, 2**64 - 1]; any other
number is ``fractional`` (a float in Python).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

# Python lower-cases U+0130 to two code points ("i" + combining dot); DuckDB's lower() gives one. Every other code
# point lowers alike (a test compares all of them), except Greek capital sigma, which Python lowers by context:
# the compiler refuses case-insensitive values that contain a lower-case sigma (Dialect.case_unsafe).
_DOTTED_CAPITAL_I = "\u0130"
_DOTTED_I_LOWER = "i\u0307"
INT_MIN, UINT_MAX = -(2**63), 2**64 - 1


@dataclass
class Params:
    """The named parameters of one query; ``add`` returns the marker text that stands for a value."""

    marker: str
    prefix: str = "p"
    values: dict[str, Any] = field(default_factory=dict)

    def add(self, value: Any) -> str:
        name = f"{self.prefix}{len(self.values)}"
        self.values[name] = value
        return f"{self.marker}{name}"


@dataclass(frozen=True)
class Candidate:
    """SQL for one candidate value (a lambda variable, or a scalar column)."""

    kind: str  # SQL text yielding the kind
    text: str  # SQL text yielding Python's as_text (NULL for null, objects, arrays; and fractional without float_text)
    double: str  # SQL DOUBLE for integer and fractional kinds
    float_text_exact: bool  # whether ``text`` also spells fractional numbers as Python does


# Code points Spark's lower() (newer Unicode tables than Python 3.11's) lowers and Python leaves alone, with what
# Spark makes of them (a test compares every code point).
SPARK_ONLY_LOWER: dict[int, int] = {
    0x1C89: 0x1C8A, 0xA7CB: 0x264, 0xA7CC: 0xA7CD, 0xA7CE: 0xA7CF, 0xA7D2: 0xA7D3, 0xA7D4: 0xA7D5, 0xA7DA: 0xA7DB,
    0xA7DC: 0x19B,
    **{0x10D50 + i: 0x10D70 + i for i in range(22)},
    **{0x16EA0 + i: 0x16EBB + i for i in range(25)},
}


class Dialect:
    name = "sql"
    marker = "$"
    float_text_exact = True
    # Characters a case-insensitive value must not hold: where they are in a value, the engine's lower() and
    # Python's could make a different answer (elsewhere in the text they cannot: both lower them to one character
    # the value does not hold).
    case_unsafe: frozenset[str] = frozenset("\u03c3\u03c2")  # small sigmas: Python lowers capital sigma by context
    _names = itertools.count()

    def var(self, stem: str) -> str:
        return f"cw_{stem}{next(self._names)}"

    # lists and quantifiers
    def exists(self, items: str, var: str, body: str) -> str: ...
    def forall(self, items: str, var: str, body: str) -> str: ...
    def candidates(self, column: str, steps: list[str], params: Params) -> str: ...
    def _describe(self, var: str) -> Candidate: ...
    def _struct(self, fields: dict[str, str]) -> str: ...
    def _transform(self, items: str, var: str, body: str) -> str: ...

    def described(self, column: str, steps: list[str], params: Params) -> str:
        """The candidates at ``column`` + ``steps`` as a list of structs (kind, text, num), each computed once."""
        var = self.var("j")
        found = self._describe(var)
        struct = self._struct({"kind": found.kind, "text": found.text, "num": found.double})
        return self._transform(self.candidates(column, steps, params), var, struct)

    def candidate(self, var: str) -> Candidate:
        """A lambda variable over :meth:`described`'s list."""
        return Candidate(f"{var}.kind", f"{var}.text", f"{var}.num", self.float_text_exact)
    # strings
    def lower(self, text: str) -> str: ...
    def contains(self, text: str, needle: str) -> str:
        return f"contains({text}, {needle})"

    def starts_with(self, text: str, needle: str) -> str: ...
    def ends_with(self, text: str, needle: str) -> str: ...
    def regex_search(self, text: str, pattern: str) -> str: ...
    def regex_group(self, text: str, pattern: str, group: int) -> str:
        return f"regexp_extract({text}, {pattern}, {group})"

    def left(self, text: str, count: int) -> str:
        return f"substring({text}, 1, {count})"

    def length(self, text: str) -> str:
        """Characters (code points) of ``text``."""
        return f"length({text})"

    def octet_length(self, text: str) -> str:
        """UTF-8 bytes of ``text``: equal to :meth:`length` exactly when the text is ASCII."""
        return f"octet_length({text})"

    def to_bigint(self, text: str) -> str:
        return f"TRY_CAST({text} AS BIGINT)"


class DuckDBDialect(Dialect):
    name = "duckdb"

    def exists(self, items: str, var: str, body: str) -> str:
        return f"(len(list_filter({items}, lambda {var}: coalesce({body}, false))) > 0)"

    def forall(self, items: str, var: str, body: str) -> str:
        return f"(len(list_filter({items}, lambda {var}: NOT coalesce({body}, false))) = 0)"

    @staticmethod
    def _expand(value: str) -> str:
        """A JSON value as candidates: nothing for SQL NULL, an array's elements, else the value itself."""
        return (
            f"(CASE WHEN {value} IS NULL THEN []::JSON[] WHEN json_type({value}) = 'ARRAY' "
            f"THEN json_extract({value}, '$[*]') ELSE [{value}] END)"
        )

    def _member(self, obj: str, key: str) -> str:
        """The candidates of ``obj[key]`` (the last one of duplicate keys, as Python keeps it)."""
        keys, value = self.var("k"), self.var("v")
        last = f"json_extract({obj}, '$.*')[len({keys}) + 1 - list_position(list_reverse({keys}), {key})]"
        return (
            f"flatten(list_transform([json_keys({obj})], lambda {keys}: CASE WHEN list_contains({keys}, {key}) "
            f"THEN flatten(list_transform([{last}], lambda {value}: {self._expand(value)})) ELSE []::JSON[] END))"
        )

    def candidates(self, column: str, steps: list[str], params: Params) -> str:
        current = self._expand(f"CAST({column} AS JSON)")
        for step in steps:
            key = params.add(step)
            item, element = self.var("i"), self.var("e")
            in_list = (
                f"flatten(list_transform(json_extract({item}, '$[*]'), lambda {element}: CASE WHEN "
                f"json_type({element}) = 'OBJECT' THEN {self._member(element, key)} ELSE []::JSON[] END))"
            )
            current = (
                f"flatten(list_transform({current}, lambda {item}: CASE json_type({item}) "
                f"WHEN 'OBJECT' THEN {self._member(item, key)} WHEN 'ARRAY' THEN {in_list} ELSE []::JSON[] END))"
            )
        return current

    def _struct(self, fields: dict[str, str]) -> str:
        return "{" + ", ".join(f"'{name}': {value}" for name, value in fields.items()) + "}"

    def _transform(self, items: str, var: str, body: str) -> str:
        return f"list_transform({items}, lambda {var}: {body})"

    def _describe(self, var: str) -> Candidate:
        kind = (
            f"(CASE json_type({var}) WHEN 'VARCHAR' THEN 'string' WHEN 'BIGINT' THEN 'integer' "
            f"WHEN 'UBIGINT' THEN 'integer' WHEN 'DOUBLE' THEN 'fractional' WHEN 'BOOLEAN' THEN 'boolean' "
            f"WHEN 'NULL' THEN 'null' WHEN 'OBJECT' THEN 'object' WHEN 'ARRAY' THEN 'array' ELSE 'other' END)"
        )
        text = (
            f"(CASE json_type({var}) WHEN 'VARCHAR' THEN json_extract_string({var}, '$') "
            f"WHEN 'BIGINT' THEN json_extract_string({var}, '$') WHEN 'UBIGINT' THEN json_extract_string({var}, '$') "
            f"WHEN 'BOOLEAN' THEN json_extract_string({var}, '$') "
            f"WHEN 'DOUBLE' THEN {self.float_text(f'CAST({var} AS DOUBLE)')} END)"
        )
        double = f"(CASE WHEN json_type({var}) IN ('BIGINT', 'UBIGINT', 'DOUBLE') THEN CAST({var} AS DOUBLE) END)"
        return Candidate(kind, text, double, True)

    def float_text(self, value: str) -> str:
        """A finite DOUBLE spelled as Python's repr(float): DuckDB's cast gives the same shortest digits, placed
        differently (1e16 → 10000000000000000.0 where Python writes 1e+16), so the digits are placed again."""
        match, digits = self.var("m"), self.var("d")
        parts = (
            f"regexp_extract(CAST({value} AS VARCHAR), '^(-?)([0-9]+)(?:[.]([0-9]*))?(?:e([-+]?[0-9]+))?$', "
            "['sg', 'ip', 'fp', 'ex'])"
        )
        raw = f"({match}.ip || {match}.fp)"
        # d: sg sign, dg significant digits, pt decimal point position relative to dg (Python's decpt).
        normalised = (
            f"{{'sg': {match}.sg, 'dg': rtrim(ltrim({raw}, '0'), '0'), 'pt': length({match}.ip) "
            f"+ coalesce(TRY_CAST(nullif({match}.ex, '') AS INTEGER), 0) "
            f"- (length({raw}) - length(ltrim({raw}, '0')))}}"
        )
        d = digits
        spelled = (
            f"(CASE WHEN {d}.dg = '' THEN {d}.sg || '0.0' "
            f"WHEN {d}.pt > -4 AND {d}.pt <= 16 THEN {d}.sg || CASE WHEN {d}.pt <= 0 "
            f"THEN '0.' || repeat('0', -{d}.pt) || {d}.dg "
            f"WHEN {d}.pt >= length({d}.dg) THEN {d}.dg || repeat('0', {d}.pt - length({d}.dg)) || '.0' "
            f"ELSE substr({d}.dg, 1, {d}.pt) || '.' || substr({d}.dg, {d}.pt + 1) END "
            f"ELSE {d}.sg || substr({d}.dg, 1, 1) || CASE WHEN length({d}.dg) > 1 THEN '.' || substr({d}.dg, 2) "
            f"ELSE '' END || 'e' || CASE WHEN {d}.pt - 1 < 0 THEN '-' ELSE '+' END "
            f"|| CASE WHEN abs({d}.pt - 1) < 10 THEN '0' ELSE '' END || CAST(abs({d}.pt - 1) AS VARCHAR) END)"
        )
        return (
            f"list_transform([{parts}], lambda {match}: list_transform([{normalised}], lambda {d}: {spelled})[1])[1]"
        )

    def lower(self, text: str) -> str:
        return f"lower(replace({text}, '{_DOTTED_CAPITAL_I}', '{_DOTTED_I_LOWER}'))"

    def octet_length(self, text: str) -> str:
        return f"strlen({text})"  # DuckDB's octet_length takes BLOB and BIT only

    def starts_with(self, text: str, needle: str) -> str:
        return f"starts_with({text}, {needle})"

    def ends_with(self, text: str, needle: str) -> str:
        return f"ends_with({text}, {needle})"

    def regex_search(self, text: str, pattern: str) -> str:
        return f"regexp_matches({text}, {pattern})"


class SparkDialect(Dialect):
    """Spark SQL over VARIANT (``parse_json``; duplicate keys allowed, the last one kept, as in Python).

    Java 17's ``Double.toString`` is not always the shortest spelling Python's repr gives, so a fractional number's
    text is not available here (``float_text_exact`` False): the compiler decides those cases without it, or
    reports the rule as not runnable on Spark."""

    name = "spark"
    marker = ":"
    float_text_exact = False
    case_unsafe = Dialect.case_unsafe | frozenset(chr(c) for pair in SPARK_ONLY_LOWER.items() for c in pair)

    def exists(self, items: str, var: str, body: str) -> str:
        return f"exists({items}, {var} -> coalesce({body}, false))"

    def forall(self, items: str, var: str, body: str) -> str:
        return f"forall({items}, {var} -> coalesce({body}, false))"

    @staticmethod
    def _expand(value: str) -> str:
        as_array = f"try_variant_get({value}, '$', 'array<variant>')"
        return (
            f"(CASE WHEN {value} IS NULL THEN CAST(array() AS array<variant>) WHEN {as_array} IS NOT NULL "
            f"THEN {as_array} ELSE array({value}) END)"
        )

    def _member(self, obj: str, key: str) -> str:
        value = self.var("v")
        member = f"try_element_at(try_variant_get({obj}, '$', 'map<string,variant>'), {key})"
        # A member that is JSON null, or absent, yields no candidate here; Python's None candidate behaves the same
        # in every test (null and exists included), so the difference is never visible.
        return f"flatten(transform(array({member}), {value} -> {self._expand(value)}))"

    def candidates(self, column: str, steps: list[str], params: Params) -> str:
        empty = "CAST(array() AS array<variant>)"
        current = self._expand(f"parse_json({column})")
        for step in steps:
            key = params.add(step)
            item, element = self.var("i"), self.var("e")
            is_object = "try_variant_get({0}, '$', 'map<string,variant>') IS NOT NULL"
            in_list = (
                f"flatten(transform(try_variant_get({item}, '$', 'array<variant>'), {element} -> CASE WHEN "
                f"{is_object.format(element)} THEN {self._member(element, key)} ELSE {empty} END))"
            )
            current = (
                f"flatten(transform({current}, {item} -> CASE WHEN {is_object.format(item)} "
                f"THEN {self._member(item, key)} "
                f"WHEN try_variant_get({item}, '$', 'array<variant>') IS NOT NULL THEN {in_list} ELSE {empty} END))"
            )
        return current

    def _struct(self, fields: dict[str, str]) -> str:
        return "named_struct(" + ", ".join(f"'{name}', {value}" for name, value in fields.items()) + ")"

    def _transform(self, items: str, var: str, body: str) -> str:
        return f"transform({items}, {var} -> {body})"

    def _describe(self, var: str) -> Candidate:
        schema = f"schema_of_variant({var})"
        as_text = f"variant_get({var}, '$', 'string')"
        # DECIMAL(p,0) holds integers of any size; Python reads those past 64 bits as floats.
        in_int_range = (
            f"(try_cast({as_text} AS DECIMAL(38,0)) BETWEEN CAST('{INT_MIN}' AS DECIMAL(38,0)) "
            f"AND CAST('{UINT_MAX}' AS DECIMAL(38,0)))"
        )
        kind = (
            f"(CASE WHEN {var} IS NULL OR is_variant_null({var}) THEN 'null' "
            f"WHEN {schema} = 'STRING' THEN 'string' WHEN {schema} = 'BOOLEAN' THEN 'boolean' "
            f"WHEN {schema} IN ('BIGINT', 'INT', 'SMALLINT', 'TINYINT') THEN 'integer' "
            f"WHEN {schema} LIKE 'DECIMAL(%,0)' AND {in_int_range} THEN 'integer' "
            f"WHEN {schema} LIKE 'DECIMAL%' OR {schema} IN ('DOUBLE', 'FLOAT') THEN 'fractional' "
            f"WHEN {schema} LIKE 'OBJECT%' THEN 'object' WHEN {schema} LIKE 'ARRAY%' THEN 'array' ELSE 'other' END)"
        )
        text = f"(CASE WHEN {kind} IN ('string', 'boolean', 'integer') THEN {as_text} END)"
        double = f"(CASE WHEN {kind} IN ('integer', 'fractional') THEN CAST({as_text} AS DOUBLE) END)"
        return Candidate(kind, text, double, False)

    def lower(self, text: str) -> str:
        return f"lower({text})"  # U+0130 as Python; SPARK_ONLY_LOWER apart, every code point as Python

    def starts_with(self, text: str, needle: str) -> str:
        return f"startswith({text}, {needle})"

    def ends_with(self, text: str, needle: str) -> str:
        return f"endswith({text}, {needle})"

    def regex_search(self, text: str, pattern: str) -> str:
        return f"regexp_like({text}, {pattern})"


DIALECTS: dict[str, Dialect] = {"duckdb": DuckDBDialect(), "spark": SparkDialect()}

"""The SQL evaluator's pieces against Python's own behaviour, on a real DuckDB: regex rewriting, case folding,
float spelling, hostile rule values and events, duplicate JSON keys, what is reported as not runnable, and the
hunt's alerts against the streaming lanes'.

Every comparison runs the streaming matcher on records read from a real gzip log file and the SQL evaluator on
the same file ingested into a real trail store with the real ingest code.
"""

from __future__ import annotations

import gzip
import math
import re
import sys
import uuid
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloudwarden.detect.engine import Detector
from cloudwarden.detect.sigma_rules import DetectionRule, load_text
from cloudwarden.detect.sql import NOT_RUNNABLE, compile_rules
from cloudwarden.detect.sql_dialect import DIALECTS, Params
from cloudwarden.detect.sql_hunt import SQLHunt, record_from_row
from cloudwarden.detect.sql_regex import RegexNotPortable, _ignorecase_literal, translate_fullmatch, translate_search
from cloudwarden.trail.engines import DuckDBEngine
from cloudwarden.trail.ingest import ingest
from cloudwarden.trail.sources import LocalSource
from cloudwarden.trail.store import TrailStore
from tests.e2e.conftest import cli_env, run_cli
from tests.trail.helpers import ACCOUNT, event, iam_user, write_log

Record = dict[str, Any]
Pair = tuple[str, str]
LOG_PREFIX = f"AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2026/11/20"
DUCKDB = DIALECTS["duckdb"]

# Characters whose meaning differs between Python's re / str.lower and the engines' (Unicode digits and spaces,
# case-folding oddities, line ends, NUL), plus ASCII.
TRICKY = (
    "aAbkKsSiI09_-.*?\\\n\r\t \x00\x0b\x1c\x85\xa0\u2028\u0660"
    "\u0130\u0131\u017f\u212a\u03a3\u03c3\u03c2\u00df\U0001f600"
)
tricky_text = st.text(alphabet=st.sampled_from(list(TRICKY)), max_size=12)


# --- helpers shared with the differential test ----------------------------------------------------------------


def ingest_records(root: Path, records: Iterable[Any], name: str = "events.json.gz") -> Path:
    """``records`` as a gzip log file under ``root/logs``, ingested into ``root/trail.duckdb``; returns the file."""
    path = write_log(root / "logs" / LOG_PREFIX / name, list(records))
    with TrailStore(root / "trail.duckdb") as store:
        summary = ingest(store, LocalSource(root / "logs"), workers=1)
    assert summary is not None
    return path


def read_back(root: Path) -> list[Record]:
    """Every record of the log files under ``root/logs``, read as the lanes read them."""
    source = LocalSource(root / "logs")
    records: list[Record] = []
    for log in source.list():
        parsed = source.read(log)
        assert parsed.error is None
        records.extend(parsed.records)
    return records


def stream_matches(rules: Iterable[DetectionRule], records: Iterable[Record]) -> set[Pair]:
    rules = list(rules)
    return {(rule.id, record["eventID"]) for record in records for rule in rules if rule.match(record)}


def sql_matches(engine: Any, rules: Iterable[DetectionRule]) -> tuple[set[Pair], SQLHunt]:
    hunt = SQLHunt.prepare(engine, rules)
    return {(rule.id, record["eventID"]) for rule, record in hunt.matches()}, hunt


def rules_from(text: str) -> list[DetectionRule]:
    rules, problems = load_text(text, "test.yml")
    assert problems == []
    return rules


def rule_id(title: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, title))


def rule_yaml(title: str, detection: str) -> str:
    return f"""title: {title}
id: {rule_id(title)}
status: test
logsource: {{product: aws, service: cloudtrail}}
level: low
detection:
{detection}
---
"""


def both(tmp_path: Path, rules: list[DetectionRule], records: list[Record]) -> tuple[set[Pair], set[Pair]]:
    ingest_records(tmp_path, records)
    stored = read_back(tmp_path)
    with TrailStore(tmp_path / "trail.duckdb", read_only=True) as store:
        assert store.count_events() == len(records)
        found, hunt = sql_matches(DuckDBEngine.over_store(store), rules)
    assert hunt.problems == []
    return stream_matches(rules, stored), found


# --- regular expressions --------------------------------------------------------------------------------------

SEARCH_PATTERNS = [
    (r'"AWS"\s*:\s*(\[[^\]]*)?"(arn:aws[a-z-]*:iam::)?\d{12}(:root)?"', 0),
    (r"^\*$", 0),
    (r".+:assumed-role/aws:.+", 0),
    (r"\d+\s\w+", 0),
    (r"[^a-z]k", re.IGNORECASE),
    (r"^s.i$", re.MULTILINE),
    (r"a.b", re.DOTALL),
    (r"(?i:K)s|x{2,3}", 0),
    (r"\W\S\D", 0),
    (r"i$", 0),
    (r"[\u0130-\u0131]", re.IGNORECASE),
]


@pytest.fixture(scope="module")
def duck() -> duckdb.DuckDBPyConnection:
    return duckdb.connect(":memory:")


def engine_search(con: duckdb.DuckDBPyConnection, pattern: str, subjects: list[str]) -> list[bool]:
    rows = con.execute(
        "SELECT regexp_matches(s, $p) FROM unnest($s) WITH ORDINALITY AS t(s, n) ORDER BY n",
        {"s": subjects, "p": pattern},
    ).fetchall()
    return [row[0] for row in rows]


@lru_cache(maxsize=1)
def translated_patterns() -> list[tuple[str, int, str]]:
    return [(pattern, flags, translate_search(pattern, flags)) for pattern, flags in SEARCH_PATTERNS]


@settings(max_examples=40, deadline=None)
@given(subjects=st.lists(tricky_text, min_size=1, max_size=30))
def test_rewritten_regexes_search_as_python_does(duck: duckdb.DuckDBPyConnection, subjects: list[str]) -> None:
    for pattern, flags, translated in translated_patterns():
        expected = [re.compile(pattern, flags).search(s) is not None for s in subjects]
        assert engine_search(duck, translated, subjects) == expected, pattern


@settings(max_examples=40, deadline=None)
@given(parts=st.lists(st.one_of(tricky_text, st.sampled_from([".*", "."])), max_size=5),
       subjects=st.lists(tricky_text, min_size=1, max_size=20))
def test_rewritten_wildcards_fullmatch_as_python_does(
    duck: duckdb.DuckDBPyConnection, parts: list[str], subjects: list[str]
) -> None:
    # The matcher's own wildcard pattern: escaped literals, .* and ., DOTALL, IGNORECASE unless |cased.
    python = "".join(p if p in (".*", ".") else re.escape(p) for p in parts)
    for flags in (re.DOTALL | re.IGNORECASE, re.DOTALL):
        expected = [re.compile(python, flags).fullmatch(s) is not None for s in subjects]
        assert engine_search(duck, translate_fullmatch(python, flags), subjects) == expected, python


@pytest.mark.parametrize("character", ["k", "s", "i", "\u03c3", "\u00b5", "\u0130"])
def test_case_insensitive_letters_match_what_python_matches(character: str) -> None:
    compiled = re.compile(re.escape(character), re.IGNORECASE)
    python = [code for code in range(sys.maxunicode + 1) if compiled.fullmatch(chr(code))]
    assert list(_ignorecase_literal(ord(character))) == python


@pytest.mark.parametrize(
    "pattern",
    [r"(a)\1", r"a(?=b)", r"(?<!a)b", r"\bword\b", r"a$b", "x{2000}", r"(?>a)"],
)
def test_constructs_the_engines_lack_are_refused(pattern: str) -> None:
    with pytest.raises(RegexNotPortable):
        translate_search(pattern)


# --- case folding and float spelling --------------------------------------------------------------------------


def test_lower_is_pythons_for_every_code_point(duck: duckdb.DuckDBPyConnection) -> None:
    characters = [chr(code) for code in range(sys.maxunicode + 1) if not 0xD800 <= code <= 0xDFFF]
    rows = duck.execute(f"SELECT list_transform($c, lambda x: {DUCKDB.lower('x')})", {"c": characters}).fetchone()
    different = [c for c, lowered in zip(characters, rows[0], strict=True) if c.lower() != lowered]  # type: ignore[index]
    assert different == []


FLOATS = [0.0, -0.0, 1.0, 0.1, 1e16, 1e15, 1.5e-5, 1e-4, 1e-5, 123456789012345678.0, 1.7976931348623157e308,
          5e-324, 2.82879384806159e17, 1e22, 1e23, -2.5e-300, 9007199254740993.0, 100.0]


@settings(max_examples=30, deadline=None)
@given(numbers=st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=50))
def test_fractional_numbers_are_spelt_as_python_spells_them(
    duck: duckdb.DuckDBPyConnection, numbers: list[float]
) -> None:
    numbers = numbers + FLOATS
    sql = f"SELECT list_transform($n::DOUBLE[], lambda x: {DUCKDB.float_text('x')})"  # type: ignore[attr-defined]
    spelt = duck.execute(sql, {"n": numbers}).fetchone()[0]  # type: ignore[index]
    assert spelt == [repr(n) for n in numbers]
    assert all(math.isfinite(n) for n in numbers)


# --- rules --------------------------------------------------------------------------------------------------------

NOT_RUNNABLE_RULES = {
    "Keyword": "  keywords: [mimikatz]\n  condition: keywords",
    "Event Time": "  sel: {eventTime: '2026-*'}\n  condition: sel",
    "Unkept": "  sel: {requestID: abc}\n  condition: sel",
    "Compare": "  sel: {requestParameters.maxResults|gt: 5}\n  condition: sel",
    "IPv6": "  sel: {sourceIPAddress|cidr: '2001:db8::/32'}\n  condition: sel",
    "Word Boundary": "  sel: {userAgent|re: '\\bcurl\\b'}\n  condition: sel",
    "Sigma": "  sel: {requestParameters.name: 'ΣΟΦΙΑ'}\n  condition: sel",
}


def test_what_sql_cannot_do_exactly_is_reported_with_the_reason() -> None:
    text = "".join(rule_yaml(title, body) for title, body in NOT_RUNNABLE_RULES.items())
    text += rule_yaml("Runnable", "  sel: {eventName: ConsoleLogin}\n  condition: sel")
    rules = rules_from(text)
    assert len(rules) == len(NOT_RUNNABLE_RULES) + 1
    compiled, problems = compile_rules(rules)
    assert [c.rule.title for c in compiled] == ["Runnable"]
    reasons = {p.reason.split(":")[0]: p.reason for p in problems}
    assert set(reasons) == set(NOT_RUNNABLE_RULES)
    assert all(f"{NOT_RUNNABLE} (duckdb)" in reason for reason in reasons.values())
    assert "keywords" in reasons["Keyword"] and "timestamp" in reasons["Event Time"]
    assert "'requestID' is not kept" in reasons["Unkept"] and "float()" in reasons["Compare"]
    assert "IPv6" in reasons["IPv6"] and "word boundar" in reasons["Word Boundary"] and "sigma" in reasons["Sigma"]


HOSTILE = [
    "o'brien",
    "'; DROP TABLE events; --",
    'quote " and \\" backslash \\\\',
    "100%_sure",
    "nul\x00byte",
    "line\nbreak",
    "zoë-☃-\U0001f600",
    "x" * 60_000,  # long, and within the store's 64 KiB bound on text columns
]


def hostile_rules() -> list[DetectionRule]:
    text = ""
    for index, value in enumerate(HOSTILE):
        quoted = "'" + value.replace("'", "''").replace("\n", "\\n") + "'"
        # YAML double-quoted strings carry the NUL and the newline; single quotes the rest.
        literal = '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\x00", "\\0").replace(
            "\n", "\\n") + '"' if ("\x00" in value or "\n" in value) else quoted
        text += rule_yaml(
            f"Hostile {index}",
            f"  eq: {{requestParameters.name: {literal}}}\n"
            f"  has: {{userAgent|contains: {literal}}}\n"
            f"  cased: {{errorMessage|cased|endswith: {literal}}}\n"
            f"  condition: eq or has or cased",
        )
    text += rule_yaml("Hostile wildcard", "  sel: {requestParameters.name: '*%_*\\*?'}\n  condition: sel")
    text += rule_yaml("Hostile regex", "  sel: {errorMessage|re: \"^'; DROP.*--$\"}\n  condition: sel")
    return rules_from(text)


def hostile_records() -> list[Record]:
    records = []
    for index, value in enumerate(HOSTILE):
        records += [
            event(event_id=f"eq-{index}", requestParameters={"name": value.upper()}),
            event(event_id=f"near-{index}", requestParameters={"name": value + "!"}),
            event(event_id=f"ua-{index}", userAgent=f"pre {value.swapcase()} post"),
            event(event_id=f"cased-{index}", errorMessage=f"...{value}"),
            event(event_id=f"uncased-{index}", errorMessage=f"...{value.swapcase()}"),
        ]
    records += [
        event(event_id="wild", requestParameters={"name": "a%_b*c"}),
        event(event_id="wild-not", requestParameters={"name": "a%_b?c"}),
        event(event_id="like-trap", requestParameters={"name": "100Xysure"}),
        event(event_id="regex", errorMessage="'; DROP TABLE events; --"),
        event(event_id="regex-newline", errorMessage="'; DROP TABLE events; --\n"),
    ]
    return records


def test_hostile_values_in_rules_and_events_match_as_in_the_stream(tmp_path: Path) -> None:
    rules = hostile_rules()
    stream, found = both(tmp_path, rules, hostile_records())
    assert found == stream
    ids = {event_id for _, event_id in found}
    assert {"eq-0", "eq-1", "ua-3", "cased-4", "wild", "regex", "regex-newline"} <= ids
    assert {"like-trap", "wild-not", "uncased-2", "near-0"}.isdisjoint(ids)
    # Rule values are parameters: none of them is in the SQL text.
    compiled, _ = compile_rules(rules)
    for item in compiled:
        assert "DROP" not in item.where and "o'brien" not in item.where and "%_" not in item.where
        assert "xxxxxxxxxx" not in item.where


def test_empty_escaped_and_single_character_values(tmp_path: Path) -> None:
    rules = rules_from(
        rule_yaml("Empty", "  sel: {requestParameters.name: ''}\n  condition: sel")
        + rule_yaml("Any", "  sel: {requestParameters.name: '*'}\n  condition: sel")
        + rule_yaml("One", "  sel: {requestParameters.name: '?'}\n  condition: sel")
        + rule_yaml("Escaped", "  sel: {requestParameters.name: 'a\\*b'}\n  condition: sel")
        + rule_yaml("Cased", "  sel: {requestParameters.name|cased|contains: 'B'}\n  condition: sel")
        + rule_yaml("Not", "  sel: {requestParameters.name: 'x'}\n  condition: not sel")
        + rule_yaml("Number", "  sel: {requestParameters.name: 22}\n  condition: sel")
        + rule_yaml("Boolean", "  sel: {requestParameters.name: true}\n  condition: sel")
    )
    names: list[Any] = ["", "a*b", "axb", "x", "X", "\U0001f600", "aB", 22, 22.0, "22", True, "TRUE", None, [1, "x"]]
    records = [event(event_id=f"n{i}", requestParameters={"name": name}) for i, name in enumerate(names)]
    records.append(event(event_id="missing", requestParameters={}))
    stream, found = both(tmp_path, rules, records)
    assert found == stream
    titles = {rule.id: rule.title for rule in rules}
    fired = {(titles[rule], event_id) for rule, event_id in found}
    assert {("Empty", "n0"), ("Escaped", "n1"), ("Cased", "n6"), ("One", "n3"), ("One", "n5")} <= fired
    assert {("Number", "n7"), ("Number", "n8"), ("Number", "n9"), ("Boolean", "n10"), ("Boolean", "n11")} <= fired
    assert ("Escaped", "n2") not in fired and ("Not", "missing") in fired and ("Not", "n13") not in fired


def test_an_ignore_case_regex_is_not_evaded_by_letters_lower_does_not_fold(tmp_path: Path) -> None:
    """Under IGNORECASE, U+017F (long s) and U+212A (Kelvin sign) match s and k; lower() leaves them as they are, so
    a prefilter on lowered text would let an attacker's user agent slip past the rule. Both evaluators find it."""
    rules = rules_from(rule_yaml("Scanner", "  sel: {userAgent|re|i: 'trufflehog-task'}\n  condition: sel"))
    agents = {"ascii": "TruffleHog-task/3", "long-s": "TruffleHog-ta\u017fk", "kelvin": "TruffleHog-tas\u212a",
              "other": "TruffleHog-tusk"}
    records = [event(event_id=name, userAgent=agent) for name, agent in agents.items()]
    stream, found = both(tmp_path, rules, records)
    assert found == stream == {(rules[0].id, "ascii"), (rules[0].id, "long-s"), (rules[0].id, "kelvin")}


def test_values_past_the_store_bounds_are_matched_as_stored(tmp_path: Path) -> None:
    """The store keeps 64 KiB of userAgent (and of errorMessage): a match past that is not in the store, so the
    SQL hunt cannot see it. This pins the one documented difference between the evaluators."""
    rules = rules_from(rule_yaml("Tail", "  sel: {userAgent|endswith: 'needle'}\n  condition: sel"))
    records = [event(event_id="long", userAgent="x" * 70_000 + "needle"), event(event_id="short", userAgent="needle")]
    stream, found = both(tmp_path, rules, records)
    assert stream == {(rules[0].id, "long"), (rules[0].id, "short")}
    assert found == {(rules[0].id, "short")}


def test_duplicate_keys_and_nested_lists_follow_python(tmp_path: Path) -> None:
    """JSON with a duplicate key (Python keeps the last one) and lists at every level, as raw log text."""
    rules = rules_from(
        rule_yaml("Last Key", "  sel: {requestParameters.name: second}\n  condition: sel")
        + rule_yaml("First Key", "  sel: {requestParameters.name: first}\n  condition: sel")
        + rule_yaml("Deep", "  sel: {requestParameters.a.b.c: '*hit*'}\n  condition: sel")
        + rule_yaml("Deep Null", "  sel: {requestParameters.a.b.c: null}\n  condition: sel")
        + rule_yaml("Number As Text", "  sel: {requestParameters.port: '22'}\n  condition: sel")
        + rule_yaml("Bool As Text", "  sel: {requestParameters.flag|startswith: 'TR'}\n  condition: sel")
        + rule_yaml("Fraction", "  sel: {requestParameters.port: '1e+16'}\n  condition: sel")
        + rule_yaml("Exists", "  sel: {requestParameters.a.b|exists: true}\n  condition: sel")
        + rule_yaml("Object Is No Text", "  sel: {requestParameters: '*hit*'}\n  condition: sel")
        + rule_yaml("Cidr", "  sel: {sourceIPAddress|cidr: 10.0.0.0/8}\n  condition: sel")
        + rule_yaml("Fieldref", "  sel: {userIdentity.userName|fieldref: requestParameters.name}\n  condition: sel")
    )
    base = event(event_id="template")
    lines = []
    raw_parameters = [
        ("dup", '{"name": "first", "name": "second"}'),
        ("dup-first", '{"name": "second", "name": "first"}'),
        ("dup-escaped", '{"name": "first", "\\u006eame": "s\\u0065cond"}'),
        ("deep", '{"a": [{"b": [{"c": "no"}, [{"c": "a HIT"}]]}, {"b": {"c": 1}}]}'),
        ("deep-null", '{"a": {"b": {"c": null}}}'),
        ("deep-list-of-lists", '{"a": [[{"b": {"c": "hit"}}]]}'),
        ("port-number", '{"port": 22}'),
        ("port-fraction", '{"port": 22.0}'),
        ("port-big", '{"port": 1e16}'),
        ("flag", '{"flag": true}'),
        ("object", '{"x": "hit"}'),
        ("fieldref", '{"name": "ALICE"}'),
    ]
    for event_id, parameters in raw_parameters:
        record = dict(base, eventID=event_id)
        record.pop("requestParameters")
        import orjson

        text = orjson.dumps(record).decode()
        lines.append(text[:-1] + f', "requestParameters": {parameters}}}')
    extra = [
        dict(base, eventID="ip-in", sourceIPAddress=" 10.1.2.3\u3000"),
        dict(base, eventID="ip-zero", sourceIPAddress="010.1.2.3"),
        dict(base, eventID="ip-out", sourceIPAddress="11.0.0.1"),
        dict(base, eventID="ip-v6", sourceIPAddress="::ffff:10.0.0.1"),
    ]
    import orjson

    lines += [orjson.dumps(r).decode() for r in extra]
    path = tmp_path / "logs" / LOG_PREFIX / "raw.json.gz"
    path.parent.mkdir(parents=True)
    path.write_bytes(gzip.compress(('{"Records": [' + ", ".join(lines) + "]}").encode()))
    with TrailStore(tmp_path / "trail.duckdb") as store:
        ingest(store, LocalSource(tmp_path / "logs"), workers=1)
    stored = read_back(tmp_path)
    with TrailStore(tmp_path / "trail.duckdb", read_only=True) as store:
        assert store.count_events() == len(raw_parameters) + len(extra)
        found, _ = sql_matches(DuckDBEngine.over_store(store), rules)
    assert found == stream_matches(rules, stored)
    titles = {rule.id: rule.title.lower().replace(" ", "-") for rule in rules}
    by_rule: dict[str, set[str]] = {}
    for found_rule, event_id in found:
        by_rule.setdefault(titles[found_rule], set()).add(event_id)
    assert by_rule["last-key"] == {"dup", "dup-escaped"} and by_rule["first-key"] == {"dup-first"}
    assert by_rule["deep"] == {"deep", "deep-list-of-lists"} and by_rule["number-as-text"] == {"port-number"}
    assert by_rule["bool-as-text"] == {"flag"} and by_rule["fraction"] == {"port-big"}
    assert by_rule["cidr"] == {"ip-in"} and by_rule["fieldref"] == {"fieldref"}
    assert "object-is-no-text" not in by_rule and "deep-null" in by_rule["deep-null"]


# --- the hunt's alerts --------------------------------------------------------------------------------------------


def test_hunt_alerts_are_the_stream_alerts(tmp_path: Path) -> None:
    detector = Detector.load()
    records = [
        event("StopLogging", "cloudtrail.amazonaws.com", event_id="stop", requestParameters={"name": "trail"}),
        event("ConsoleLogin", "signin.amazonaws.com", event_id="root", identity={"type": "Root", "arn": "r"},
              eventType="AwsConsoleSignIn", additionalEventData={"MFAUsed": "No"},
              responseElements={"ConsoleLogin": "Success"}),
        event("GetObject", event_id="quiet"),
    ]
    ingest_records(tmp_path, records)
    stored = read_back(tmp_path)
    expected = {alert["finding_info"]["uid"]: alert for r in stored for alert in detector.alerts(r, "hunt")}
    with TrailStore(tmp_path / "trail.duckdb", read_only=True) as store:
        hunt = SQLHunt.prepare(DuckDBEngine.over_store(store), detector.rules)
        alerts = {alert["finding_info"]["uid"]: alert for alert in hunt.alerts()}
    assert len(expected) >= 2 and set(alerts) == set(expected)
    for uid, alert in alerts.items():
        original = expected[uid]
        assert alert["class_uid"] == 2004 and alert["time"] == original["time"]
        assert alert["actor"] == original["actor"] and alert["cloud"] == original["cloud"]
        evidence, full = alert["evidences"][0]["data"], original["evidences"][0]["data"]
        assert {k: full[k] for k in evidence} == evidence  # what the store keeps, unchanged
        assert "eventVersion" in full and "eventVersion" not in evidence  # what it does not keep


def test_record_from_row_keeps_the_stored_fields() -> None:
    from datetime import datetime

    row = {"event_id": "e", "event_time": datetime(2026, 11, 20, 10, 0, 0, 120000), "event_name": "X",
           "read_only": False, "request_parameters": '{"a": [1, "b"]}', "user_identity": None}
    assert record_from_row(row) == {
        "eventID": "e", "eventTime": "2026-11-20T10:00:00.12Z", "eventName": "X", "readOnly": False,
        "requestParameters": {"a": [1, "b"]},
    }


def test_cli_hunts_the_store_and_escapes_what_it_prints(tmp_path: Path) -> None:
    hostile_name = "evil\x1b[31m-user"
    records = [
        event("StopLogging", "cloudtrail.amazonaws.com", event_id="stop-1", identity=iam_user(hostile_name)),
        event("GetObject", event_id="quiet-1"),
    ]
    ingest_records(tmp_path, records)
    env = cli_env(XDG_DATA_HOME=str(tmp_path / "xdg"), COLUMNS="400")
    store = str(tmp_path / "trail.duckdb")
    table = run_cli("detect", "--store", store, env=env, cwd=tmp_path)
    assert table.returncode == 1, table.stderr
    assert "\x1b" not in table.stdout and "user/evil" in table.stdout
    assert "alerts from the trail store" in table.stdout
    assert "correlat" not in table.stderr  # correlation rules run over the store too
    as_json = run_cli("detect", "--store", store, "--json", "--since", "3650d", env=env, cwd=tmp_path)
    import json

    lines = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert as_json.returncode == 1 and lines
    assert {line["finding_info"]["uid"].split(":")[1] for line in lines} == {"stop-1"}
    assert hostile_name in {line["actor"]["user"]["name"] for line in lines}  # JSON keeps the value, escaped
    quiet = run_cli("detect", "--store", store, "--from", "2030-01-01", env=env, cwd=tmp_path)
    assert quiet.returncode == 0 and "0 alerts" in quiet.stdout
    missing = run_cli("detect", env=env, cwd=tmp_path)
    assert missing.returncode != 0 and "no trail store" in missing.stderr + missing.stdout
    both_given = run_cli("detect", str(tmp_path / "logs"), "--store", store, env=env, cwd=tmp_path)
    assert both_given.returncode == 2


def test_params_are_named_per_rule() -> None:
    params = Params("$", "r7_")
    assert params.add("x") == "$r7_0" and params.values == {"r7_0": "x"}


def test_the_store_hunt_correlates_as_the_file_hunt_does(tmp_path: Path) -> None:
    """A burst of refused calls (the bundled event_count correlation), written out of time order across two files,
    among ordinary calls: the same alerts, correlations included, from the files and from the store."""
    def refused(minute: int, who: str) -> dict[str, Any]:
        return event("ListUsers", "iam.amazonaws.com", f"2026-11-20T10:{minute:02d}:00Z", iam_user(who),
                     event_id=f"denied-{who}-{minute}", errorCode="AccessDenied", errorMessage="not authorized")
    later = [refused(m, "mallory") for m in range(5, 12)] + [event(event_id="quiet-1")]
    earlier = [refused(m, "mallory") for m in range(0, 5)] + [refused(m, "bob") for m in range(0, 30, 5)]
    ingest_records(tmp_path, later, name="a-later.json.gz")  # sorts first: path order is not time order
    ingest_records(tmp_path, earlier, name="b-earlier.json.gz")
    env = cli_env(XDG_DATA_HOME=str(tmp_path / "xdg"))
    from_files = run_cli("detect", str(tmp_path / "logs"), "--json", env=env, cwd=tmp_path)
    from_store = run_cli("detect", "--store", str(tmp_path / "trail.duckdb"), "--json", env=env, cwd=tmp_path)
    assert from_files.returncode == from_store.returncode == 1, from_store.stderr
    import json

    def uids(output: str) -> list[str]:
        return sorted(json.loads(line)["finding_info"]["uid"] for line in output.splitlines())
    burst = [uid for uid in uids(from_store.stdout) if uid.startswith("9e45708d-0f6b-4d29-9719-45c9f59893e7:")]
    assert len(burst) == 1 and burst[0].endswith(":denied-mallory-9")  # the tenth refusal completes it
    assert uids(from_store.stdout) == uids(from_files.stdout)

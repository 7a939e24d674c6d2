"""The two evaluators must agree: every rule (bundled + SigmaHQ's CloudTrail rules) through the streaming matcher
and through SQL over the trail store, on the Stratus Red Team detonation records and on generated events built from
the rules' own detection items (case changes, lists, numbers, nulls, missing fields, hostile strings). Then the same
comparison on Spark over the Parquet layout, on a smaller set.

Records are written as gzip log files; the stream reads them back as the lanes do, the store ingests them with the
real ingest code. Stratus Red Team records (Apache 2.0) and SigmaHQ rules (DRL 1.1) come from ../shared/data.
"""

from __future__ import annotations

import gzip
import json
import random
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sigma.conditions import ConditionFieldEqualsValueExpression
from sigma.types import SigmaBool, SigmaNull, SigmaRegularExpression, SigmaString, SpecialChars

from cloudwarden.detect.engine import Detector
from cloudwarden.detect.sigma_rules import DetectionRule
from cloudwarden.detect.sql import NotRunnable, compile_rule
from cloudwarden.detect.sql_dialect import SPARK_ONLY_LOWER
from cloudwarden.detect.sql_fields import BOOLEAN_COLUMNS, TEXT_COLUMNS
from cloudwarden.trail.engines import DuckDBEngine, SparkEngine, spark_session, stop_spark
from cloudwarden.trail.parquet import export_events
from cloudwarden.trail.store import TrailStore
from tests.detect.test_sql_evaluator import (
    LOG_PREFIX,
    Pair,
    Record,
    hostile_records,
    hostile_rules,
    ingest_records,
    read_back,
    rule_yaml,
    rules_from,
    sql_matches,
    stream_matches,
)
from tests.trail.helpers import SIGMA_DIR, STRATUS_DIR, event

pytestmark = pytest.mark.skipif(not SIGMA_DIR.is_dir(), reason="../shared/data is not beside this clone")
# (rule id, eventID) pairs the Stratus records raise with the bundled rules and SigmaHQ's (the lanes' test agrees).
STRATUS_MATCHES_AT_LEAST = 180
HOSTILE_STRINGS = ["", "'", "o'brien", "%_", "a\\b", "nul\x00", "line\nbreak", "\u0130", "\u017f", "\u212a",
                   "'; DROP TABLE events; --", "x" * 5000, "☃\U0001f600"]
NUMBERS: list[Any] = [0, 22, -1, 1.5, 1e16, -0.0, 2**64 - 1, -(2**63), 1e-7, True, False, None]
REGEX_SAMPLES = ['{"Principal": {"AWS": "arn:aws:iam::123456789012:root"}}', '"AWS" : ["111122223333"]',
                 '{"Principal":"*"}', "*", "arn:aws:sts::1:assumed-role/aws:x/y", '"Principal" :\t"\\*"']


@pytest.fixture(scope="module")
def detector() -> Detector:
    loaded = Detector.load([SIGMA_DIR])
    assert len(loaded.rules) >= 57
    return loaded


def stratus_records() -> list[Record]:
    return [record for path in sorted(STRATUS_DIR.glob("*.json")) for record in json.loads(path.read_text())]


@pytest.fixture(scope="module")
def stratus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("stratus")
    ingest_records(root, stratus_records(), "stratus.json.gz")
    with TrailStore(root / "trail.duckdb") as store:
        export_events(store, root / "parquet")
    return root


def test_stratus_every_rule_agrees_on_the_store_and_on_parquet(detector: Detector, stratus: Path) -> None:
    records = read_back(stratus)
    expected = stream_matches(detector.rules, records)
    with TrailStore(stratus / "trail.duckdb", read_only=True) as store:
        assert store.count_events() == len({r["eventID"] for r in records})
        on_store, hunt = sql_matches(DuckDBEngine.over_store(store), detector.rules)
    parquet = DuckDBEngine.over_parquet(stratus / "parquet")
    try:
        on_parquet, _ = sql_matches(parquet, detector.rules)
    finally:
        parquet.close()
    not_run = {p.source for p in hunt.problems}
    assert not_run == {str(SIGMA_DIR / "aws_delete_saml_provider.yml")}  # its field `status` is not in CloudTrail
    assert len(hunt.rules) == len(detector.rules) - 1
    runnable = {compiled.rule.id for compiled in hunt.rules}
    expected = {pair for pair in expected if pair[0] in runnable}
    assert on_store == expected and on_parquet == expected
    assert len(expected) >= STRATUS_MATCHES_AT_LEAST
    assert len({rule for rule, _ in expected}) >= 25  # many rules, not one rule many times


# --- generated events -----------------------------------------------------------------------------------------


def detection_items(rules: list[DetectionRule]) -> list[list[tuple[str, Any]]]:
    """Per rule, its (field, value) detection items as plain Python values to build events from."""
    per_rule = []
    for rule in rules:
        items: list[tuple[str, Any]] = []
        stack = [condition.parsed for condition in rule.sigma.detection.parsed_condition]
        while stack:
            node = stack.pop()
            if isinstance(node, ConditionFieldEqualsValueExpression):
                items.append((node.field, node.value))
            else:
                stack.extend(getattr(node, "args", []))
        per_rule.append(items)
    return per_rule


def _from_value(value: Any, rng: random.Random) -> Any:
    if isinstance(value, SigmaString):
        fill = {SpecialChars.WILDCARD_MULTI: rng.choice(["", "x", "/", "AllUsers "]), SpecialChars.WILDCARD_SINGLE: "?"}
        text = "".join(part if isinstance(part, str) else fill.get(part, "") for part in value.s)
        return rng.choice([text, text, text.upper(), text.swapcase(), "pre" + text, text + "post", text[:-1]])
    if isinstance(value, SigmaBool):
        return rng.choice([value.boolean, str(value.boolean).lower(), str(value.boolean).upper(), not value.boolean])
    if isinstance(value, SigmaNull):
        return None
    if isinstance(value, SigmaRegularExpression):
        return rng.choice(REGEX_SAMPLES)
    return rng.choice(["alice", "ALICE", "bob"])  # fieldref, exists: a name both sides can share


def _scalar(rng: random.Random, hint: Any) -> Any:
    roll = rng.random()
    if roll < 0.55:
        return _from_value(hint, rng)
    if roll < 0.75:
        return rng.choice(HOSTILE_STRINGS)  # Drawn: any text too
    return rng.choice(NUMBERS)


def _nest(rng: random.Random, value: Any) -> Any:
    roll = rng.random()
    if roll < 0.12:
        return [value, rng.choice(HOSTILE_STRINGS)]
    if roll < 0.17:
        return [[value]]
    if roll < 0.2:
        return {"x": value}
    return value


def _put(record: Record, path: list[str], value: Any, rng: random.Random) -> None:
    top = path[0]
    if top in TEXT_COLUMNS or top in BOOLEAN_COLUMNS:
        if len(path) > 1:
            return
        if top in BOOLEAN_COLUMNS:
            record[top] = rng.choice([True, False, "true", "false"])
        elif isinstance(value, str):
            record[top] = value
        elif top not in ("eventID", "eventName", "eventSource"):
            record.pop(top, None)  # the store refuses non-string core fields; missing is a real case
        return
    current = record
    for key in path[:-1]:
        child = current.get(key)
        if not isinstance(child, dict):
            child = {}
            current[key] = [child, {"other": 1}] if rng.random() < 0.15 else child
        current = child
    current[path[-1]] = _nest(rng, value)


def generated_events(rules: list[DetectionRule], rng: random.Random, count: int, prefix: str) -> list[Record]:
    """Events aimed at the rules: each takes one rule's eventName/eventSource and fields from it and others."""
    per_rule = detection_items(rules)
    everything = [item for items in per_rule for item in items]
    records = []
    for n in range(count):
        items = rng.choice(per_rule)
        record = event(event_id=f"{prefix}-{n}", identity=dict(event()["userIdentity"]))
        for field, value in items:
            if field in ("eventName", "eventSource") and isinstance(value, SigmaString):
                record[field] = _from_value(value, rng) if rng.random() < 0.3 else "".join(
                    p for p in value.s if isinstance(p, str))
        chosen = [item for item in items if item[0] not in ("eventName", "eventSource") and rng.random() < 0.8]
        chosen += rng.sample(everything, k=min(3, len(everything)))
        for field, value in chosen:
            if rng.random() < 0.1:
                continue  # leave it missing
            _put(record, field.split("."), _scalar(rng, value), rng)
        if not isinstance(record.get("userIdentity"), dict):
            record["userIdentity"] = {"type": str(record.get("userIdentity"))}
        records.append(record)
    return records


def compare_generated(detector: Detector, records: list[Record], root: Path) -> set[Pair]:
    ingest_records(root, records)
    stored = read_back(root)
    with TrailStore(root / "trail.duckdb", read_only=True) as store:
        assert store.count_events() == len(records)  # every generated event was kept
        found, hunt = sql_matches(DuckDBEngine.over_store(store), detector.rules)
    runnable = {compiled.rule.id for compiled in hunt.rules}
    expected = {pair for pair in stream_matches(detector.rules, stored) if pair[0] in runnable}
    assert found == expected
    return found


def test_generated_events_agree(detector: Detector, tmp_path: Path) -> None:
    records = generated_events(detector.rules, random.Random(20261201), 500, "seeded")  # noqa: S311 (reproducible)
    found = compare_generated(detector, records, tmp_path)
    assert len(found) >= 120, len(found)
    assert len({rule for rule, _ in found}) >= 30, len({rule for rule, _ in found})


class Drawn(random.Random):
    """The generator's choices drawn from Hypothesis (so failures shrink), with arbitrary text for hostile
    strings."""

    def __init__(self, draw: Any) -> None:
        super().__init__(0)
        self.draw = draw

    def random(self) -> float:
        return self.draw(st.floats(min_value=0, max_value=1, exclude_max=True))

    def choice(self, seq: Any) -> Any:
        if seq is HOSTILE_STRINGS:
            return self.draw(st.one_of(st.sampled_from(HOSTILE_STRINGS), st.text(max_size=30)))
        return self.draw(st.sampled_from(list(seq)))

    def sample(self, population: Any, k: int, **_: Any) -> list[Any]:
        return self.draw(st.lists(st.sampled_from(list(population)), min_size=k, max_size=k))


@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.large_base_example, HealthCheck.data_too_large])
@given(data=st.data())
def test_hypothesis_generated_events_agree(detector: Detector, data: st.DataObject) -> None:
    records = generated_events(detector.rules, Drawn(data.draw), 25, "hyp")
    with tempfile.TemporaryDirectory() as folder:
        compare_generated(detector, records, Path(folder))


# --- Spark ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    session = spark_session()
    yield session
    stop_spark()


def spark_rules(detector: Detector) -> list[DetectionRule]:
    """A smaller set Spark plans in seconds: the rules whose SQL is short, fieldref and regex rules among them
    where Spark can run them."""
    chosen = []
    for rule in detector.rules:
        try:
            compiled = compile_rule(rule, "spark")
        except NotRunnable:  # reported by the hunt (checked below)
            compiled = None
        if compiled is not None and len(compiled.where) < 6000:
            chosen.append(rule)
    return chosen[:14]


def test_spark_agrees_with_the_stream(detector: Detector, spark: Any, tmp_path: Path) -> None:
    last_key = rules_from(rule_yaml("Last Key", "  sel: {requestParameters.name: second}\n  condition: sel"))
    rules = spark_rules(detector) + hostile_rules() + last_key  # quotes, backslashes, %, _, NUL, 60,000 characters
    records = stratus_records() + hostile_records() + generated_events(rules, random.Random(7), 150, "spark")  # noqa: S311
    # Raw JSON with duplicate keys (Python keeps the last one; Spark's parser must be told to accept them).
    template = orjson.dumps(event(event_id="dup-1", requestParameters=None)).decode()
    duplicated = template.replace('"requestParameters":null', '"requestParameters":{"name":"first","name":"second"}')
    raw = tmp_path / "logs" / LOG_PREFIX / "raw.json.gz"
    raw.parent.mkdir(parents=True)
    raw.write_bytes(gzip.compress(('{"Records": [' + duplicated + "]}").encode()))
    ingest_records(tmp_path, records)
    with TrailStore(tmp_path / "trail.duckdb") as store:
        export_events(store, tmp_path / "parquet")
    stored = read_back(tmp_path)
    expected = stream_matches(rules, stored)
    found, hunt = sql_matches(SparkEngine(spark, tmp_path / "parquet"), rules)
    assert hunt.problems == [] and len(hunt.rules) == len(rules) >= 20
    assert found == expected and len(expected) >= 40
    assert {"eq-1", "ua-3", "cased-4", "regex"} <= {event_id for _, event_id in found}
    assert (last_key[0].id, "dup-1") in found
    # The rules Spark cannot run exactly are reported, with the reason.
    _, everything = sql_matches(SparkEngine(spark, tmp_path / "parquet"), detector.rules[:0] + [
        rule for rule in detector.rules if rule.title.startswith("AWS Access Key Created for Another User")])
    assert [p.reason.split(": ", 1)[1] for p in everything.problems] == [
        "not runnable in SQL (spark): fieldref compares texts, and a fractional JSON number is spelt differently "
        "by Java 17 and Python"]


def test_spark_lower_is_pythons_for_every_code_point(spark: Any) -> None:
    """Spark's lower() against Python's str.lower, on every code point that is not a surrogate: equal but for the
    code points the dialect lists (newer Unicode), which case-insensitive values on Spark may not contain."""
    rows = spark.sql(
        "SELECT id, lower(c) AS l FROM (SELECT id, decode(unhex(lpad(hex(id), 8, '0')), 'utf-32') AS c "
        "FROM range(0, 1114112) WHERE id < 55296 OR id > 57343) WHERE lower(c) <> c"
    ).collect()
    java = {row["id"]: row["l"] for row in rows}
    python = {code: chr(code).lower() for code in range(sys.maxunicode + 1)
              if not 0xD800 <= code <= 0xDFFF and chr(code).lower() != chr(code)}
    assert java == python | {code: chr(lower) for code, lower in SPARK_ONLY_LOWER.items()}


def test_cli_engine_spark_over_parquet_finds_what_the_store_finds(stratus: Path) -> None:
    """`detect --parquet DIR --engine spark` (its own Spark, in a new process) against `detect --store`."""
    from tests.e2e.conftest import cli_env, run_cli

    env = cli_env(XDG_DATA_HOME=str(stratus / "xdg"))
    rules = ("--no-bundled", "--rules", str(SIGMA_DIR / "aws_cloudtrail_disable_logging.yml"), "--json")
    on_store = run_cli("detect", "--store", str(stratus / "trail.duckdb"), *rules, env=env, cwd=stratus)
    on_spark = run_cli(
        "detect", "--parquet", str(stratus / "parquet"), "--engine", "spark", *rules, env=env, cwd=stratus
    )
    assert on_store.returncode == on_spark.returncode == 1, on_spark.stderr[-2000:]
    store_alerts = [json.loads(line) for line in on_store.stdout.splitlines()]
    spark_alerts = [json.loads(line) for line in on_spark.stdout.splitlines()]
    assert store_alerts and [a["finding_info"]["uid"] for a in spark_alerts] == [
        a["finding_info"]["uid"] for a in store_alerts
    ]
    assert [a["evidences"] for a in spark_alerts] == [a["evidences"] for a in store_alerts]

"""The trail questions on three engines: DuckDB over the store, DuckDB over the Parquet layout, and a real local
Spark over the same layout. Built from real gzip CloudTrail files (the Stratus Red Team detonations plus records
with attacker-style values); every question must give identical rows in identical order on all three, and the
rows must be the ones the raw records say."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from cloudwarden.trail.engines import DuckDBEngine, Engine, QueryError, SparkEngine, spark_session, stop_spark
from cloudwarden.trail.ingest import ingest
from cloudwarden.trail.parquet import OTHER_PARTITION, ParquetAppender, events_dir, export_events
from cloudwarden.trail.queries import Result, TimeWindow, errors, run_sql, timeline, touched, what, who
from cloudwarden.trail.sources import LocalSource
from cloudwarden.trail.store import EVENT_COLUMNS, TrailStore
from tests.e2e.conftest import cli_env, run_cli
from tests.trail.helpers import ACCOUNT, STRATUS_DIR, assumed_role, event, iam_user, write_log

INJECTION = "'; DROP TABLE events; --"
Record = dict[str, Any]


def stratus_records() -> list[Record]:
    return [record for path in sorted(STRATUS_DIR.glob("*.json")) for record in json.loads(path.read_text())]


def hostile_records() -> list[Record]:
    """Values an attacker controls: quotes, LIKE wildcards, backslashes, unicode, SQL, path tricks."""
    when = "2026-11-20T10:00:00Z"
    return [
        event("Get_Object", when=when, event_id="h-underscore", identity=iam_user("o'brien")),
        event("GetXObject", when=when, event_id="h-x", identity=iam_user("100%_sure")),
        event(
            "PutBucketPolicy",
            when="2026-11-20T10:00:01Z",
            event_id="h-percent",
            identity=assumed_role("deployer", "zoë-☃"),
            requestParameters={"bucketName": "payroll_100%", "policy": "{}"},
        ),
        event(
            "DeleteBucket",
            when="2026-11-20T10:00:02Z",
            event_id="h-backslash",
            identity=iam_user("back\\slash"),
            requestParameters={"bucketName": "back\\slash!bucket"},
            errorCode="Weird%_Code",
            errorMessage=INJECTION,
        ),
        event(
            "DeleteTrail",
            "cloudtrail.amazonaws.com",
            when="2026-11-20T10:00:02Z",
            event_id="h-injection",
            identity=iam_user(INJECTION),
            requestParameters={"name": INJECTION},
            errorCode="AccessDeniedException",
        ),
        event(
            "ListBuckets",
            when="2026-11-21T00:00:00Z",
            event_id="h-escape",
            awsRegion="../../../../escaped",
            recipientAccountId="a/b",
            identity=iam_user("../../x"),
        ),
        event("ListBuckets", when="2026-11-21T00:00:01Z", event_id="h-long", awsRegion="r" * 300),
    ]


@dataclass(frozen=True)
class Layout:
    root: Path
    store: Path
    parquet: Path
    records: list[Record]


def ingest_with_parquet(store_path: Path, source: Path, parquet: Path) -> int:
    """What `trail ingest SOURCE --parquet DIR` does; returns the rows appended to the layout."""
    with TrailStore(store_path) as store:
        appender = ParquetAppender.start(store, parquet)
        ingest(store, LocalSource(source), workers=1)
        return appender.finish()


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Layout:
    root = tmp_path_factory.mktemp("engines")
    stratus = stratus_records()
    hostile = hostile_records()
    half = len(stratus) // 2
    prefix = f"AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2026/11/20"
    write_log(root / "logs" / prefix / "stratus-1.json.gz", stratus[:half])
    write_log(root / "logs" / prefix / "stratus-2.json.gz", stratus[half:])
    write_log(root / "logs" / prefix / "hostile.json.gz", hostile)
    store, parquet = root / "trail.duckdb", root / "out" / "pq"
    appended = ingest_with_parquet(store, root / "logs", parquet)
    records = stratus + hostile
    assert appended == len({r["eventID"] for r in records})
    return Layout(root, store, parquet, records)


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    session = spark_session()
    yield session
    stop_spark()


@pytest.fixture(scope="module")
def engines(layout: Layout, spark: Any) -> Iterator[dict[str, Engine]]:
    store = TrailStore(layout.store, read_only=True)
    opened: dict[str, Engine] = {
        "duckdb-store": DuckDBEngine.over_store(store),
        "duckdb-parquet": DuckDBEngine.over_parquet(layout.parquet),
        "spark": SparkEngine(spark, layout.parquet),
    }
    yield opened
    for engine in opened.values():
        engine.close()
    store.close()


def rows(result: Result) -> tuple[list[str], list[tuple[Any, ...]]]:
    columns, batches = result
    return columns, [row for batch in batches for row in batch]


def when(record: Record) -> datetime:
    return datetime.fromisoformat(record["eventTime"].replace("Z", ""))


def identity_values(record: Record) -> set[str]:
    identity = record.get("userIdentity") or {}
    issuer = (identity.get("sessionContext") or {}).get("sessionIssuer") or {}
    return {
        v
        for v in (identity.get("userName"), identity.get("arn"), identity.get("accessKeyId"), issuer.get("userName"))
        if v
    }


@dataclass(frozen=True)
class Question:
    label: str
    ask: Callable[[Engine], Result]
    expected: Callable[[Record], bool] | None = None  # which raw records the answer holds (with no limit)
    size: int | None = None  # rows expected when a limit cuts the answer
    newest_first: bool = True


WINDOW_FROM, WINDOW_TO = "2024-07-31T12:00:00Z", "2024-08-01T12:00:00Z"
ALL = TimeWindow()
WINDOW = TimeWindow.parse(from_=WINDOW_FROM, to=WINDOW_TO)


def in_window(record: Record) -> bool:
    return WINDOW.start <= when(record) < WINDOW.end  # type: ignore[operator]


def stratus_user_key() -> str:
    return next(r["userIdentity"]["accessKeyId"] for r in stratus_records() if r["userIdentity"].get("accessKeyId"))


def stratus_role() -> tuple[str, str]:
    """A role and one of its session names from the Stratus records."""
    for record in stratus_records():
        identity = record["userIdentity"]
        if identity.get("type") == "AssumedRole":
            return identity["sessionContext"]["sessionIssuer"]["userName"], identity["arn"].rsplit("/", 1)[1]
    raise AssertionError("no assumed-role event in the Stratus records")


ROLE, SESSION = stratus_role()
KEY = stratus_user_key()
QUESTIONS = [
    Question(
        "who exact",
        lambda e: who(e, "cloudtrail:StopLogging", ALL, 0),
        lambda r: (r["eventSource"], r["eventName"]) == ("cloudtrail.amazonaws.com", "StopLogging"),
    ),
    Question(
        "who wildcard",
        lambda e: who(e, "ec2:Describe*", ALL, 0),
        lambda r: r["eventSource"] == "ec2.amazonaws.com" and r["eventName"].startswith("Describe"),
    ),
    Question(
        "who wildcard with a literal _",
        lambda e: who(e, "s3:Get_*", ALL, 0),
        lambda r: r["eventSource"] == "s3.amazonaws.com" and r["eventName"].startswith("Get_"),
    ),
    Question(
        "who service only",
        lambda e: who(e, "secretsmanager:*", ALL, 0),
        lambda r: r["eventSource"] == "secretsmanager.amazonaws.com",
    ),
    Question(
        "who in a window",
        lambda e: who(e, "sts:*", WINDOW, 0),
        lambda r: r["eventSource"] == "sts.amazonaws.com" and in_window(r),
    ),
    Question("who with a limit", lambda e: who(e, "ec2:*", ALL, 7), size=7),
    Question("what by user", lambda e: what(e, "christophe", ALL, 0), lambda r: "christophe" in identity_values(r)),
    Question("what by access key", lambda e: what(e, KEY, ALL, 0), lambda r: KEY in identity_values(r)),
    Question("what by role", lambda e: what(e, ROLE, ALL, 0), lambda r: ROLE in identity_values(r)),
    Question(
        "what by session",
        lambda e: what(e, SESSION, ALL, 0),
        lambda r: r["userIdentity"].get("arn", "").endswith(f"/{SESSION}"),
    ),
    Question("what by a quoted name", lambda e: what(e, "o'brien", ALL, 0), lambda r: r["eventID"] == "h-underscore"),
    Question("what by an injection", lambda e: what(e, INJECTION, ALL, 0), lambda r: r["eventID"] == "h-injection"),
    Question("what by a wildcard name", lambda e: what(e, "100%_sure", ALL, 0), lambda r: r["eventID"] == "h-x"),
    Question("what matches no wildcard", lambda e: what(e, "%", ALL, 0), lambda r: False),
    Question(
        "touched by bucket with % and _",
        lambda e: touched(e, "payroll_100%", ALL, 0),
        lambda r: r["eventID"] == "h-percent",
    ),
    Question(
        "touched by a backslash and !",
        lambda e: touched(e, "back\\\\slash!bucket", ALL, 0),  # as it is in the JSON text: an escaped backslash
        lambda r: r["eventID"] == "h-backslash",
    ),
    Question(
        "touched by ARN",
        lambda e: touched(e, "stratus-red-team", WINDOW, 0),
        lambda r: (
            in_window(r)
            and "stratus-red-team"
            in json.dumps([r.get("requestParameters"), r.get("responseElements"), r.get("resources")])
        ),
    ),
    Question("errors, all", lambda e: errors(e, None, ALL, 0), lambda r: bool(r.get("errorCode"))),
    Question(
        "errors by code, any case",
        lambda e: errors(e, "accessdenied", ALL, 0),
        lambda r: "accessdenied" in (r.get("errorCode") or "").lower(),
    ),
    Question(
        "errors by a code with % and _", lambda e: errors(e, "%_", ALL, 0), lambda r: r["eventID"] == "h-backslash"
    ),
    Question(
        "errors in a window", lambda e: errors(e, None, WINDOW, 0), lambda r: bool(r.get("errorCode")) and in_window(r)
    ),
    Question(
        "timeline",
        lambda e: timeline(e, "christophe", WINDOW, 0),
        lambda r: "christophe" in identity_values(r) and in_window(r),
        newest_first=False,
    ),
    Question("timeline with a limit", lambda e: timeline(e, "christophe", ALL, 5), size=5, newest_first=False),
]


@pytest.mark.parametrize("question", QUESTIONS, ids=[q.label for q in QUESTIONS])
def test_every_engine_gives_the_same_answer(question: Question, engines: dict[str, Engine], layout: Layout) -> None:
    answers = {name: rows(question.ask(engine)) for name, engine in engines.items()}
    columns, reference = answers["duckdb-store"]
    for name, (other_columns, other) in answers.items():
        assert other_columns == columns, name
        assert other == reference, name
    ids = [row[columns.index("event_id")] for row in reference]
    assert len(set(ids)) == len(ids)
    times = [row[0] for row in reference]
    assert times == sorted(times, reverse=question.newest_first)
    if question.size is not None:
        assert len(reference) == question.size
    if question.expected is not None:
        assert set(ids) == {r["eventID"] for r in layout.records if question.expected(r)}


def test_stratus_questions_are_not_empty(engines: dict[str, Engine]) -> None:
    """The identity test above means something only if the questions find events."""
    store = engines["duckdb-store"]
    for question in QUESTIONS:
        if question.label not in ("what matches no wildcard",):
            assert rows(question.ask(store))[1], question.label


def test_parquet_holds_every_column_with_its_type(layout: Layout, engines: dict[str, Engine]) -> None:
    files = sorted(events_dir(layout.parquet).rglob("*.parquet"))
    schema = pq.read_schema(files[0])
    assert tuple(schema.names) == EVENT_COLUMNS
    assert str(schema.field("event_time").type) == "timestamp[us]"
    assert str(schema.field("read_only").type) == "bool"
    query = f"SELECT {', '.join(EVENT_COLUMNS)} FROM events ORDER BY event_id"  # noqa: S608
    reference = rows(run_sql(engines["duckdb-store"], query))
    for name in ("duckdb-parquet", "spark"):
        assert rows(run_sql(engines[name], query)) == reference, name


def test_partition_values_cannot_leave_the_directory(layout: Layout, engines: dict[str, Engine]) -> None:
    root = events_dir(layout.parquet).resolve()
    files = list(root.rglob("*.parquet"))
    assert all(f.resolve().is_relative_to(root) for f in files)
    assert sorted(p.name for p in layout.root.iterdir()) == ["logs", "out", "trail.duckdb"]
    assert sorted(p.name for p in layout.parquet.iterdir()) == ["events"]
    for path in files:
        account, region, day = path.relative_to(root).parts[:3]
        assert account.startswith("account=") and region.startswith("region=") and day.startswith("day=")
        assert len(region) <= len("region=") + 40
    assert (root / f"account={OTHER_PARTITION}" / f"region={OTHER_PARTITION}" / "day=2026-11-21").is_dir()
    assert (root / f"account={ACCOUNT}" / f"region={OTHER_PARTITION}" / "day=2026-11-21").is_dir()
    # The real values are in the files, unchanged.
    query = "SELECT event_id, account_id, aws_region, principal FROM events WHERE event_id LIKE 'h-%' ORDER BY 1"
    reference = rows(run_sql(engines["duckdb-store"], query))[1]
    assert ("h-escape", "a/b", "../../../../escaped", f"arn:aws:iam::{ACCOUNT}:user/../../x") in reference
    assert ("h-long", ACCOUNT, "r" * 300, f"arn:aws:iam::{ACCOUNT}:user/alice") in reference
    for name in ("duckdb-parquet", "spark"):
        assert rows(run_sql(engines[name], query))[1] == reference, name


def test_parquet_sql_is_one_read_only_query(layout: Layout, engines: dict[str, Engine], tmp_path: Path) -> None:
    duck = engines["duckdb-parquet"]
    outside = tmp_path / "stolen.csv"
    for statement in (
        f"COPY (SELECT * FROM events) TO '{outside}'",  # noqa: S608 (the attack under test)
        f"COPY (SELECT * FROM events) TO '{events_dir(layout.parquet)}/x.csv'",  # noqa: S608
        "SELECT * FROM read_text('/etc/passwd')",
        "CREATE TABLE t AS SELECT 1",
        f"EXPLAIN ANALYZE COPY (SELECT 1) TO '{events_dir(layout.parquet)}/x.csv'",
        "SELECT 1; SELECT 2",
    ):
        with pytest.raises(QueryError):
            rows(run_sql(duck, statement))
    for statement in ("DROP VIEW events", "SELECT * FROM parquet.`/etc`", "SELECT 1; DROP VIEW events"):
        with pytest.raises(QueryError):
            rows(run_sql(engines["spark"], statement))
    assert not outside.exists() and not (events_dir(layout.parquet) / "x.csv").exists()
    assert rows(run_sql(engines["spark"], "SELECT count(*) AS n FROM events -- a trailing comment;"))[1] == [
        (len({r["eventID"] for r in layout.records}),)
    ]


def parquet_ids(directory: Path) -> list[str]:
    return [
        i
        for f in events_dir(directory).rglob("*.parquet")
        for i in pq.read_table(f, columns=["event_id"])["event_id"].to_pylist()
    ]


def test_ingest_appends_only_new_events_and_export_catches_up(tmp_path: Path) -> None:
    logs, store, parquet = tmp_path / "logs", tmp_path / "s.duckdb", tmp_path / "pq"
    write_log(logs / "a.json.gz", [event(event_id="e1"), event(event_id="e2", when="2026-11-21T01:00:00Z")])
    assert ingest_with_parquet(store, logs, parquet) == 2
    assert ingest_with_parquet(store, logs, parquet) == 0  # nothing new: no file written
    files = set(events_dir(parquet).rglob("*.parquet"))
    # A changed file (e1 again, plus e3) and a new file repeating e2: only e3 is new.
    write_log(logs / "a.json.gz", [event(event_id="e1"), event(event_id="e3")])
    write_log(logs / "b.json.gz", [event(event_id="e2", when="2026-11-21T01:00:00Z")])
    assert ingest_with_parquet(store, logs, parquet) == 1
    assert sorted(parquet_ids(parquet)) == ["e1", "e2", "e3"]
    assert files < set(events_dir(parquet).rglob("*.parquet"))  # appended, nothing rewritten
    with TrailStore(store) as trail:
        assert export_events(trail, parquet) == 0
        assert export_events(trail, tmp_path / "fresh") == 3
    assert sorted(parquet_ids(tmp_path / "fresh")) == ["e1", "e2", "e3"]
    # An ingest whose append was lost (a store ingested without --parquet): export adds just what is missing.
    write_log(logs / "c.json.gz", [event(event_id="e4")])
    with TrailStore(store) as trail:
        ingest(trail, LocalSource(logs), workers=1)
        assert export_events(trail, parquet) == 1
    assert sorted(parquet_ids(parquet)) == ["e1", "e2", "e3", "e4"]


def test_cli_spark_answers_like_the_store(layout: Layout) -> None:
    env = cli_env()
    args = ("trail", "who", "--action", "cloudtrail:*", "--json")
    from_store = run_cli(*args, "--store", str(layout.store), env=env, cwd=layout.root)
    from_spark = run_cli(*args, "--engine", "spark", "--parquet", str(layout.parquet), env=env, cwd=layout.root)
    assert from_store.returncode == 0, from_store.stderr
    assert from_spark.returncode == 0, from_spark.stderr
    store_rows = [json.loads(line) for line in from_store.stdout.splitlines()]
    assert store_rows and [json.loads(line) for line in from_spark.stdout.splitlines()] == store_rows
    assert {row["event_id"] for row in store_rows} >= {"h-injection"}


def test_cli_ingest_export_and_usage_errors(tmp_path: Path) -> None:
    env = cli_env()
    logs, store, parquet = tmp_path / "logs", tmp_path / "s.duckdb", tmp_path / "pq"
    write_log(logs / "a.json.gz", [event(event_id="c1"), event(event_id="c2", errorCode="AccessDenied")])
    base = ("--store", str(store))
    result = run_cli(
        "trail", "ingest", str(logs), *base, "--parquet", str(parquet), "--no-progress", env=env, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "2 events appended to" in result.stdout
    again = run_cli("trail", "export", "--parquet", str(parquet), *base, env=env, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "0 events written" in again.stdout
    errors_rows = run_cli("trail", "errors", "--parquet", str(parquet), "--json", env=env, cwd=tmp_path)
    assert [json.loads(line)["event_id"] for line in errors_rows.stdout.splitlines()] == ["c2"]
    no_dir = run_cli("trail", "who", "--action", "s3:*", "--engine", "spark", *base, env=env, cwd=tmp_path)
    assert no_dir.returncode == 2 and "--parquet" in no_dir.stderr
    empty = run_cli("trail", "who", "--action", "s3:*", "--parquet", str(tmp_path / "none"), env=env, cwd=tmp_path)
    assert empty.returncode == 1 and "no Parquet trail" in empty.stderr
    missing = run_cli(
        "trail", "export", "--parquet", str(parquet), "--store", str(tmp_path / "x"), env=env, cwd=tmp_path
    )
    assert missing.returncode == 1 and "no trail store" in missing.stderr

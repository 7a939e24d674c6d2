"""A file's rows as one Arrow batch: the column-wise fast path must store exactly what the per-record path
stores, and hand every file it cannot take as is to the per-record path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from cloudwarden.trail.columnar import EVENT_COLUMNS, _typed_columns, file_rows
from cloudwarden.trail.extract import JSON_COLUMNS, extract_row, extract_typed
from cloudwarden.trail.ingest import ingest
from cloudwarden.trail.reader import TrailRecord, parse_log
from cloudwarden.trail.sources import LocalSource
from cloudwarden.trail.store import TrailStore
from tests.trail.helpers import assumed_role, event, iam_user
from tests.trail.test_reader import json_values, records

SOURCE = "s3://bucket/AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/20/a.json.gz"


def _per_record(parsed: list[Any]) -> list[dict[str, Any]]:
    """What the per-record path stores for ``parsed``, as rows by column name."""
    rows = []
    for record in parsed:
        row = extract_typed(record) if isinstance(record, TrailRecord) else extract_row(record)
        if isinstance(row, tuple):
            rows.append(dict(zip(EVENT_COLUMNS, (*row, SOURCE), strict=True)))
    return rows


def _comparable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """JSON columns parsed: Arrow holds text, the per-record rows hold bytes."""
    return [
        {
            name: orjson.loads(value) if name in JSON_COLUMNS and value is not None else value
            for name, value in row.items()
        }
        for row in rows
    ]


def _stored(batch_records: list[Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    text = orjson.dumps({"Records": batch_records})
    parsed = parse_log("log.json", text, typed=True).records
    result = file_rows(parsed, SOURCE, 3)
    got = result.batch.to_pylist() if result.batch is not None else []
    assert result.event_ids == [row["event_id"] for row in got]
    return _comparable(got), _comparable(_per_record(parsed)), result.bad


good_events = st.builds(
    lambda identity, read_only, parameters, extra: event(
        identity=identity, readOnly=read_only, requestParameters=parameters, **extra
    ),
    st.sampled_from([iam_user("alice"), assumed_role("app", "i-1", "carol"), {"type": "Root"}, {}]),
    st.sampled_from([True, False, "true", "false", None]),
    json_values,
    st.dictionaries(
        st.sampled_from(["errorCode", "errorMessage", "awsRegion", "responseElements", "resources"]),
        st.none() | st.text(max_size=5),
        max_size=3,
    ),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(good_events | records, min_size=1, max_size=5))
def test_fast_path_stores_what_the_per_record_path_stores(batch: list[Any]) -> None:
    try:
        got, expected, bad = _stored(batch)
    except orjson.JSONEncodeError:
        return  # not expressible as a log file
    assert got == expected
    assert bad == len(batch) - len(expected)


@settings(max_examples=100, deadline=None)
@given(st.lists(good_events, min_size=1, max_size=5))
def test_a_file_of_good_events_takes_the_fast_path(batch: list[Any]) -> None:
    try:
        parsed = parse_log("log.json", orjson.dumps({"Records": batch}), typed=True).records
    except orjson.JSONEncodeError:
        return
    assert _typed_columns(parsed) is not None


def test_files_the_fast_path_declines_are_read_record_by_record() -> None:
    cases = [
        event(when="2026-02-29T10:00:00Z"),  # no such day
        event(when="2026-11-20T10:00:00Z\n2026-11-20T10:00:01Z"),  # two valid times in one value
        event(event_id=""),
        event(readOnly="yes"),
        event(identity=["not", "an", "object"]),  # type: ignore[arg-type]
        event(userAgent="x" * 70_000),  # truncated, not rejected
        event(requestParameters={"big": "y" * (1 << 20)}),  # replaced by the marker, not rejected
    ]
    for case in cases:
        got, expected, _ = _stored([event(when="2024-02-29T10:00:00Z"), case])
        assert got == expected
        assert got[0]["event_time"] == "2024-02-29T10:00:00Z"


def test_raw_json_that_is_not_utf8_is_a_bad_record_not_a_failed_run(tmp_path: Path) -> None:
    good = orjson.dumps(event(event_id="good"))
    bad = orjson.dumps(event(event_id="bad", requestParameters={"key": "PLACEHOLDER"})).replace(b"PLACEHOLDER", b"\xff")
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "mixed.json").write_bytes(b'{"Records":[' + good + b"," + bad + b"]}")
    with TrailStore(tmp_path / "trail.duckdb") as store:
        summary = ingest(store, LocalSource(logs))
        assert summary.events_added == 1
        assert [(b.count, b.reasons) for b in summary.bad_records] == [
            (1, ("record 1: request_parameters is not valid UTF-8 text",))
        ]
        assert store.connection.execute("SELECT event_id FROM events").fetchall() == [("good",)]

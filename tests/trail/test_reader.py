"""The reader and the extractor on bad input: every problem reported with its reason, nothing else lost."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from cloudwarden.trail.extract import COLUMNS, TRUNCATED_MARKER, extract_row, extract_typed, json_field
from cloudwarden.trail.ingest import ingest
from cloudwarden.trail.reader import TrailRecord, decompress_bounded, parse_log
from cloudwarden.trail.sources import LocalSource
from cloudwarden.trail.store import TrailStore
from tests.trail.helpers import event, write_log


def test_plain_and_gzip_are_told_apart_by_magic_bytes(tmp_path: Path) -> None:
    records = [event(), event()]
    plain = orjson.dumps({"Records": records})
    assert len(parse_log("a.json.gz", plain).records) == 2  # a misleading name does not matter
    assert len(parse_log("a.json", gzip.compress(plain)).records) == 2


def test_multi_member_gzip_is_read_whole() -> None:
    data = orjson.dumps({"Records": [event()]})
    assert decompress_bounded(gzip.compress(data[:10]) + gzip.compress(data[10:]), 1 << 20) == data


def test_bad_input_corpus_counts_exactly(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    good = write_log(logs / "good.json.gz", [event(event_id=f"good-{i}") for i in range(7)])
    plain = write_log(logs / "plain.json", [event(event_id="plain-1")], gz=False)
    truncated = logs / "truncated.json.gz"
    truncated.write_bytes(gzip.compress(orjson.dumps({"Records": [event() for _ in range(50)]}))[:-40])
    invalid = logs / "invalid.json.gz"
    invalid.write_bytes(gzip.compress(b'{"Records": [{"eventID": "x",'))
    no_records = write_log(logs / "norecords.json.gz", [])
    no_records.write_bytes(gzip.compress(b'{"records": []}'))
    not_object = logs / "list.json"
    not_object.write_bytes(b"[1, 2, 3]")
    over = logs / "big.json.gz"
    over.write_bytes(gzip.compress(orjson.dumps({"Records": [event(requestParameters={"p": "x" * 300_000})]})))
    mixed = write_log(
        logs / "mixed.json.gz",
        [
            event(event_id="mixed-ok-1"),
            "not a record",
            event(event_id="mixed-bad-time", when=12345),
            event(event_id="mixed-bad-identity", identity="alice"),  # type: ignore[arg-type]
            event(event_id="mixed-ok-2", useridentity={"type": "Root"}),  # a key differing only by case
            {"eventID": "no-name", "eventTime": "2026-11-20T10:00:00Z", "eventSource": "s3.amazonaws.com"},
            event(event_id="mixed-bad-readonly", readOnly={"yes": True}),
            event(event_id="mixed-bad-time-text", when="yesterday"),
            event(event_id="mixed-ok-3", readOnly="false"),
        ],
    )
    store = TrailStore(tmp_path / "trail.duckdb")
    summary = ingest(store, LocalSource(logs), max_bytes=200_000, workers=2)

    assert summary.events_added == 7 + 1 + 3
    assert store.count_events() == 11
    assert summary.files_read == 8
    reasons = {Path(bad.location).name: bad.reason for bad in summary.bad_files}
    assert set(reasons) == {"truncated.json.gz", "invalid.json.gz", "norecords.json.gz", "list.json", "big.json.gz"}
    assert "truncated gzip" in reasons["truncated.json.gz"]
    assert "invalid JSON" in reasons["invalid.json.gz"]
    assert "no Records" in reasons["norecords.json.gz"]
    assert "no Records" in reasons["list.json"]
    assert "exceeds the limit of 200000 bytes" in reasons["big.json.gz"]
    assert all(Path(bad.location).is_absolute() for bad in summary.bad_files)
    [mixed_report] = summary.bad_records
    assert mixed_report.location == str(mixed.resolve())
    assert mixed_report.count == 6
    assert mixed_report.reasons == (
        "record 1: record is str, not an object",
        "record 2: eventTime is int, not a string",
        "record 3: userIdentity is str, not an object",
    )
    stored = {row[0] for row in store.connection.execute("SELECT event_id FROM events").fetchall()}
    assert stored == {f"good-{i}" for i in range(7)} | {"plain-1", "mixed-ok-1", "mixed-ok-2", "mixed-ok-3"}
    read_only = dict(store.connection.execute("SELECT event_id, read_only FROM events").fetchall())
    assert read_only["mixed-ok-3"] is False
    assert good.exists() and plain.exists()
    store.close()


def test_over_limit_file_is_not_read_into_memory(tmp_path: Path) -> None:
    path = tmp_path / "huge.json"
    path.write_bytes(b" " * 5000)
    result = LocalSource(path).read(next(LocalSource(path).list()), max_bytes=1000)
    assert result.error == "file size exceeds the limit of 1000 bytes"


def test_large_json_fields_are_truncated_with_a_marker() -> None:
    text = json_field({"policy": "p" * 5000}, limit=1000)
    assert text is not None
    value = orjson.loads(text)
    assert value[TRUNCATED_MARKER] > 5000
    assert value["prefix"].startswith('{"policy":"ppp')


def test_impossible_dates_are_bad_records_not_a_failed_batch(tmp_path: Path) -> None:
    times = [
        "2026-02-30T10:00:00Z",
        "2023-02-29T10:00:00Z",
        "2100-02-29T10:00:00Z",
        "0000-01-01T00:00:00Z",
        "2026-04-31T10:00:00Z",
        "2026-11-20T10:00:00+02:00",
        "2026-11-20 10:00:00Z",
    ]
    for when in times:
        assert extract_row(event(when=when)) == f"eventTime {when!r} is not an ISO 8601 UTC time"
    good = ["2024-02-29T10:00:00Z", "2000-02-29T23:59:59Z", "2026-12-31T23:59:59.123456789Z"]
    write_log(tmp_path / "logs" / "a.json.gz", [event(when=when) for when in times + good])
    with TrailStore(tmp_path / "trail.duckdb") as store:
        summary = ingest(store, LocalSource(tmp_path / "logs"))
        assert (summary.events_added, summary.bad_record_count) == (3, 7)


def test_every_column_is_produced() -> None:
    row = extract_row(event())
    assert isinstance(row, tuple) and len(row) == len(COLUMNS)


json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
core_keys = st.sampled_from(
    [
        "eventID",
        "eventTime",
        "eventSource",
        "eventName",
        "userIdentity",
        "useridentity",
        "awsRegion",
        "readOnly",
        "errorCode",
        "requestParameters",
        "resources",
        "sessionContext",
        "type",
        "arn",
        "invokedBy",
        "sourceIPAddress",
    ]
)
records = st.one_of(
    json_values,
    st.dictionaries(core_keys, json_values, max_size=10),
    st.builds(
        lambda base, extra: {**base, **extra}, st.just(event()), st.dictionaries(core_keys, json_values, max_size=4)
    ),
    st.builds(
        lambda ident: event(identity=ident),
        st.dictionaries(
            st.sampled_from(
                [
                    "type",
                    "arn",
                    "userName",
                    "accountId",
                    "accessKeyId",
                    "sessionContext",
                    "invokedBy",
                    "onBehalfOf",
                    "principalId",
                ]
            ),
            json_values
            | st.sampled_from(
                ["AssumedRole", "Root", "IAMUser", "AWSService", "FederatedUser", "arn:aws:sts::1:assumed-role/r/s"]
            ),
            max_size=6,
        ),
    ),
)


@settings(max_examples=400, deadline=None)
@given(records)
def test_extractor_never_raises_and_always_decides(record: object) -> None:
    row = extract_row(record)
    if isinstance(row, tuple):
        assert len(row) == len(COLUMNS)
        assert isinstance(row[0], str) and isinstance(row[1], str)
        assert all(value is None or isinstance(value, str | bytes | bool) for value in row)
    else:
        assert isinstance(row, str) and row


def _comparable(row: tuple | str) -> tuple | str:
    """A row with its JSON columns parsed: the typed path keeps the log's own JSON text, the dict path writes
    it again, so the two agree on values, not on bytes."""
    if isinstance(row, str):
        return row
    return tuple(orjson.loads(v) if isinstance(v, bytes) else v for v in row)


@settings(max_examples=300, deadline=None)
@given(st.lists(records, min_size=1, max_size=6), st.booleans())
def test_typed_fast_path_and_dict_path_store_the_same_rows(batch: list, pretty: bool) -> None:
    """Ingestion decodes logs by type when it can and falls back to dicts when it cannot; whichever path a file
    takes, each record must give the same row, or be bad for the same reason."""
    try:
        text = orjson.dumps({"Records": batch}, option=orjson.OPT_INDENT_2 if pretty else 0)
    except orjson.JSONEncodeError:
        return  # not expressible as a log file (e.g. integers beyond 64 bits)
    typed = parse_log("typed.json", text, typed=True)
    plain = parse_log("plain.json", text)
    assert typed.error == plain.error
    typed_rows = [extract_typed(r) if isinstance(r, TrailRecord) else extract_row(r) for r in typed.records]
    plain_rows = [extract_row(r) for r in plain.records]
    assert [_comparable(r) for r in typed_rows] == [_comparable(r) for r in plain_rows]


def test_a_well_formed_log_takes_the_typed_path() -> None:
    text = orjson.dumps({"Records": [event(), event(name="PutObject", readOnly="false")]})
    parsed = parse_log("log.json", text, typed=True)
    assert all(isinstance(record, TrailRecord) for record in parsed.records)
    assert _comparable(extract_typed(parsed.records[1])) == _comparable(extract_row(orjson.loads(text)["Records"][1]))

"""One log file's events as one Arrow RecordBatch: the form in which the store inserts them.

A file of typed records whose every record is a valid event, as is, takes the fast path: each field is gathered
into one list and checked with a C-level pass over that list (one regex over the joined times, ``all`` and
``max`` for ids and lengths), and the raw JSON fields reach Arrow as one join of their texts, never as a Python
object per value. Per-event Python work and transposing row tuples cost more than the DuckDB insert itself
(bench/trail_ingest.py). Any other file (a bad record, a value to truncate, a raw JSON field that is not UTF-8,
records read as dicts) is extracted record by record with ``extract_typed``/``extract_row``, so a file gives the
same rows whichever path it takes.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from cloudwarden.trail.extract import (
    COLUMNS,
    EVENT_TIME_PATTERN,
    JSON_COLUMNS,
    MAX_EVENT_ID,
    MAX_JSON_FIELD,
    MAX_TEXT_FIELD,
    cached_principal,
    extract_row,
    extract_typed,
    real_day,
)
from cloudwarden.trail.reader import TrailRecord

EVENT_COLUMNS = (*COLUMNS, "source_file")
ARROW_SCHEMA = pa.schema([(name, pa.bool_() if name == "read_only" else pa.string()) for name in EVENT_COLUMNS])
_JSON_INDEXES = tuple(COLUMNS.index(name) for name in JSON_COLUMNS)

# Every time of a file, joined by newlines, in one match; a value holding a newline itself is caught by counting.
_TIMES = re.compile(f"{EVENT_TIME_PATTERN}(?:\n{EVENT_TIME_PATTERN})*")
_LATE_DAYS = re.compile(r"^\d{4}-\d\d-(?:29|3[01])", re.MULTILINE)  # the days real_day must look at
_READ_ONLY = {True: True, False: False, None: None, "true": True, "false": False}
_BAD = object()
_NULL = b"null"


@dataclass
class FileRows:
    """A file's good events (``batch``, None when there are none) and its bad records."""

    batch: pa.RecordBatch | None
    event_ids: list[str]
    bad: int = 0
    reasons: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.event_ids)


def file_rows(records: Sequence[Any], source_file: str, max_reasons: int) -> FileRows:
    """The rows of one file's records (TrailRecord structs or dicts), with the first ``max_reasons`` reasons."""
    if records and type(records[0]) is TrailRecord:
        columns = _typed_columns(records)  # type: ignore[arg-type]
        if columns is not None:
            return FileRows(_batch(columns, source_file), columns[0])
    rows, reasons = _rows(records, max_reasons)
    try:
        return _from_rows(rows, source_file, len(records) - len(rows), reasons)
    except pa.ArrowInvalid:  # some raw JSON text is not UTF-8: find the records (a rare path, so slower)
        rows, reasons = _rows(records, max_reasons, check_utf8=True)
        return _from_rows(rows, source_file, len(records) - len(rows), reasons)


def _batch(columns: list[Any], source_file: str) -> pa.RecordBatch:
    arrays = [
        column if isinstance(column, pa.Array) else pa.array(column, type=schema_field.type)
        for column, schema_field in zip(columns, ARROW_SCHEMA, strict=False)
    ]
    arrays.append(pa.repeat(pa.scalar(source_file, pa.string()), len(arrays[0])))
    return pa.RecordBatch.from_arrays(arrays, schema=ARROW_SCHEMA)


def _from_rows(rows: list[tuple[Any, ...]], source_file: str, bad: int, reasons: list[str]) -> FileRows:
    if not rows:
        return FileRows(None, [], bad, reasons)
    columns = list(zip(*rows, strict=True))
    return FileRows(_batch(columns, source_file), list(columns[0]), bad, reasons)


def _rows(
    records: Sequence[Any], max_reasons: int, check_utf8: bool = False
) -> tuple[list[tuple[Any, ...]], list[str]]:
    rows = []
    reasons: list[str] = []
    extract = extract_typed if records and type(records[0]) is TrailRecord else extract_row
    for index, record in enumerate(records):
        row = extract(record)
        if type(row) is tuple and check_utf8:
            row = _utf8_checked(row)
        if type(row) is tuple:
            rows.append(row)
        elif len(reasons) < max_reasons:
            reasons.append(f"record {index}: {row}")
    return rows, reasons


def _utf8_checked(row: tuple[Any, ...]) -> tuple[Any, ...] | str:
    for index in _JSON_INDEXES:
        value = row[index]
        if value is not None:
            try:
                value.decode()
            except UnicodeDecodeError:
                return f"{COLUMNS[index]} is not valid UTF-8 text"
    return row


def _typed_columns(records: Sequence[TrailRecord]) -> list[Any] | None:
    """COLUMNS of ``records`` as lists or Arrow arrays, or None when any record needs the per-record path."""
    ids = [r.eventID for r in records]
    if not all(ids) or max(map(len, ids)) > MAX_EVENT_ID:  # type: ignore[arg-type]
        return None
    times = [r.eventTime for r in records]
    if None in times:
        return None
    joined = "\n".join(times)  # type: ignore[arg-type]
    if _TIMES.fullmatch(joined) is None or joined.count("\n") != len(times) - 1:
        return None
    if not all(map(real_day, _LATE_DAYS.findall(joined))):
        return None
    sources = [r.eventSource for r in records]
    names = [r.eventName for r in records]
    if None in sources or None in names:
        return None
    read_only = [_READ_ONLY.get(r.readOnly, _BAD) for r in records]  # type: ignore[call-overload]
    if _BAD in read_only:
        return None
    user_agents = [r.userAgent for r in records]
    messages = [r.errorMessage for r in records]
    if max(map(len, filter(None, user_agents)), default=0) > MAX_TEXT_FIELD:  # type: ignore[arg-type]
        return None
    if max(map(len, filter(None, messages)), default=0) > MAX_TEXT_FIELD:  # type: ignore[arg-type]
        return None
    identities = [bytes(r.userIdentity) for r in records]
    principals = [cached_principal(None if text == _NULL else text) for text in identities]
    if None in principals:
        return None
    raw = []
    for texts in (
        [r.requestParameters for r in records],
        [r.responseElements for r in records],
        [r.additionalEventData for r in records],
        [r.resources for r in records],
        identities,
    ):
        column = _json_column(texts)
        if column is None:
            return None
        raw.append(column)
    return [
        ids,
        times,
        sources,
        names,
        [r.awsRegion for r in records],
        [r.recipientAccountId for r in records],
        *zip(*principals, strict=True),
        [r.sourceIPAddress for r in records],
        user_agents,
        [r.errorCode for r in records],
        messages,
        read_only,
        [r.eventType for r in records],
        *raw,
    ]


def _json_column(texts: Sequence[Any]) -> pa.Array | None:
    """Raw JSON texts (anything with the buffer protocol) as one string array, ``null`` as a null; None when a
    text is longer than MAX_JSON_FIELD or not UTF-8."""
    lengths = list(map(len, texts))
    if max(lengths) > MAX_JSON_FIELD:
        return None
    offsets = pa.py_buffer(array("i", accumulate(lengths, initial=0)))
    data = pa.py_buffer(b"".join(texts))
    every = pa.StringArray.from_buffers(len(texts), offsets, data)
    present = pc.not_equal(every, _NULL.decode())
    # Null slots keep their "null" text underneath, which Arrow allows: no second copy of the data.
    column = pa.StringArray.from_buffers(len(texts), offsets, data, present.buffers()[1])
    try:
        column.validate(full=True)
    except pa.ArrowInvalid:
        return None
    return column

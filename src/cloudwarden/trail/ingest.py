"""Ingestion: list a source, skip files already in the manifest, download and parse concurrently (threads), and
write to the store from one thread in large columnar batches.

Bad input never stops a run: a file that cannot be read is reported with its reason, a record that is not a
valid event is counted (with the first reasons) and the good records of the same file are kept.
"""

from __future__ import annotations

import gc
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

import pyarrow as pa

from cloudwarden.trail.columnar import FileRows, file_rows
from cloudwarden.trail.reader import DEFAULT_MAX_BYTES
from cloudwarden.trail.sources import LogObject, TrailSource
from cloudwarden.trail.store import ManifestEntry, TrailStore, usable_cpus

BATCH_ROWS = 122_880  # one DuckDB row group: larger appends skip the WAL and write straight to the file
MAX_REASONS_PER_FILE = 3
# Errors that say nothing about the file's content (network, permissions): not recorded in the manifest, so the
# next run tries the file again.
TRANSIENT_ERROR_PREFIX = "cannot read"


class IngestProgress(Protocol):
    def planned(self, files: int, total_bytes: int) -> None: ...

    def file_done(self, events: int, size: int) -> None: ...


@dataclass(frozen=True)
class BadFile:
    location: str
    reason: str


@dataclass(frozen=True)
class BadRecords:
    location: str
    count: int
    reasons: tuple[str, ...]


@dataclass
class IngestSummary:
    source: str
    files_listed: int = 0
    files_read: int = 0
    files_skipped: int = 0
    bad_files: list[BadFile] = field(default_factory=list)
    bad_records: list[BadRecords] = field(default_factory=list)
    events_read: int = 0
    events_added: int = 0
    bytes_read: int = 0
    seconds: float = 0.0

    @property
    def duplicates(self) -> int:
        return self.events_read - self.events_added

    @property
    def bad_record_count(self) -> int:
        return sum(b.count for b in self.bad_records)


@dataclass
class ParsedLog:
    log: LogObject
    rows: FileRows
    error: str | None


def parse_one(source: TrailSource, log: LogObject, max_bytes: int) -> ParsedLog:
    """Read one file and turn its records into rows (runs in a worker thread)."""
    parsed = source.read(log, max_bytes, typed=True)
    if parsed.error is not None:
        return ParsedLog(log, FileRows(None, []), parsed.error)
    reasons = parsed.rejected[:MAX_REASONS_PER_FILE]
    rows = file_rows(parsed.records, log.location, MAX_REASONS_PER_FILE - len(reasons))
    rows.bad += len(parsed.rejected)
    rows.reasons[:0] = reasons
    return ParsedLog(log, rows, None)


def _parsed_in_order(source: TrailSource, logs: list[LogObject], max_bytes: int, workers: int) -> Iterator[ParsedLog]:
    if workers <= 1:
        for log in logs:
            yield parse_one(source, log, max_bytes)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="trail-read") as pool:
        pending: deque[Future[ParsedLog]] = deque()
        queue = iter(logs)
        for log in queue:  # keep a bounded number of files in flight
            pending.append(pool.submit(parse_one, source, log, max_bytes))
            if len(pending) >= workers * 2:
                break
        while pending:
            done = pending.popleft().result()
            for log in queue:
                pending.append(pool.submit(parse_one, source, log, max_bytes))
                break
            yield done


def plan(source: TrailSource, store: TrailStore, retry_bad: bool = False) -> tuple[list[LogObject], int, int]:
    """The files to read (new or changed since the manifest), and how many were listed and skipped."""
    known = store.ingested()
    wanted: list[LogObject] = []
    listed = 0
    for log in source.list():
        listed += 1
        previous = known.get(log.location)
        if previous is not None and previous[:2] == (log.size, log.version) and not (retry_bad and previous[2]):
            continue
        wanted.append(log)
    return wanted, listed, listed - len(wanted)


def ingest(
    store: TrailStore,
    source: TrailSource,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    workers: int = 8,
    batch_rows: int = BATCH_ROWS,
    retry_bad: bool = False,
    progress: IngestProgress | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> IngestSummary:
    """Ingest every new or changed log file of ``source`` into ``store``."""
    # Ingestion allocates millions of small acyclic objects (rows, strings): the cycle collector would walk
    # them again and again for nothing, and costs as much as the parsing itself.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _ingest(store, source, max_bytes, workers, batch_rows, retry_bad, progress, clock)
    finally:
        if collecting:
            gc.enable()


def _ingest(
    store: TrailStore,
    source: TrailSource,
    max_bytes: int,
    workers: int,
    batch_rows: int,
    retry_bad: bool,
    progress: IngestProgress | None,
    clock: Callable[[], float],
) -> IngestSummary:
    started = clock()
    summary = IngestSummary(source=source.description)
    logs, summary.files_listed, summary.files_skipped = plan(source, store, retry_bad)
    if progress is not None:
        progress.planned(len(logs), sum(log.size for log in logs))

    batches: list[pa.RecordBatch] = []
    batched = 0
    manifest: list[ManifestEntry] = []
    seen: set[str] = set()

    # One writer thread: DuckDB inserts batch N (without holding the GIL) while this thread parses batch N+1. On a
    # single CPU nothing can overlap, and the switching costs more than it saves: write in this thread.
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trail-write") if usable_cpus() > 1 else _InPlace()
    writing: Future[int] | None = None

    def flush(final: bool = False) -> None:
        nonlocal batches, batched, manifest, writing
        if writing is not None:
            summary.events_added += writing.result()
        writing = writer.submit(store.add_batch, batches, manifest)
        batches, batched, manifest = [], 0, []
        seen.clear()
        if final:
            summary.events_added += writing.result()

    try:
        for parsed in _parsed_in_order(source, logs, max_bytes, workers):
            log = parsed.log
            summary.files_read += 1
            summary.bytes_read += log.size
            if parsed.error is not None:
                summary.bad_files.append(BadFile(log.location, parsed.error))
                if not parsed.error.startswith(TRANSIENT_ERROR_PREFIX):
                    manifest.append(ManifestEntry(log.location, log.size, log.version, 0, 0, parsed.error))
            else:
                rows = parsed.rows
                if rows.bad:
                    summary.bad_records.append(BadRecords(log.location, rows.bad, tuple(rows.reasons)))
                summary.events_read += len(rows)
                if rows.batch is not None:
                    before = len(seen)
                    seen.update(rows.event_ids)
                    batch = rows.batch
                    if len(seen) - before != len(rows):  # the same event twice within this batch: keep the first
                        batch = batch.filter(_first_of_each(rows.event_ids, batches))
                    batches.append(batch)
                    batched += len(batch)
                manifest.append(ManifestEntry(log.location, log.size, log.version, len(rows), rows.bad))
            if progress is not None:
                progress.file_done(len(parsed.rows), log.size)
            if batched >= batch_rows:
                flush()
        flush(final=True)
    finally:
        writer.shutdown(wait=True)
    summary.seconds = clock() - started
    return summary


class _InPlace:
    """The part of ThreadPoolExecutor that ``_ingest`` uses, running each call at once in the calling thread."""

    def submit(self, call: Callable[..., int], *args: object) -> Future[int]:
        done: Future[int] = Future()
        try:
            done.set_result(call(*args))
        except BaseException as exc:
            done.set_exception(exc)
        return done

    def shutdown(self, wait: bool = True) -> None:
        pass


def _first_of_each(event_ids: list[str], batches: list[pa.RecordBatch]) -> pa.Array:
    """The mask of ``event_ids`` whose event id is neither in ``batches`` nor earlier in ``event_ids``."""
    taken: set[str] = set()
    for batch in batches:
        taken.update(batch.column(0).to_pylist())
    keep = []
    for event_id in event_ids:
        keep.append(event_id not in taken)
        taken.add(event_id)
    return pa.array(keep, pa.bool_())

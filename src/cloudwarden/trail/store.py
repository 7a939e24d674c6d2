"""The trail store: CloudTrail events in one embedded DuckDB file, plus a manifest of the files ingested.

``events`` has one row per CloudTrail event (unique ``event_id``: ingestion skips events already stored);
``ingested_files`` records each file read (location, size, version = S3 ETag or local mtime, counts, error) so
the next run reads only new or changed files. Every value reaches SQL as a parameter or inside an Arrow batch,
never formatted into the SQL text.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from cloudwarden.trail.columnar import ARROW_SCHEMA, EVENT_COLUMNS

STORE_FILE = "trail.duckdb"

_TYPES = {"event_time": "TIMESTAMP", "read_only": "BOOLEAN"}
_EVENTS_DDL = (
    "CREATE TABLE IF NOT EXISTS events (\n"
    + ",\n".join(
        f"  {name} {_TYPES.get(name, 'VARCHAR')}{' NOT NULL' if name in ('event_id', 'event_time') else ''}"
        for name in EVENT_COLUMNS
    )
    + "\n)"
)
_MANIFEST_DDL = """CREATE TABLE IF NOT EXISTS ingested_files (
  location VARCHAR PRIMARY KEY,
  size BIGINT,
  version VARCHAR,
  events BIGINT,
  bad_records BIGINT,
  error VARCHAR,
  ingested_at TIMESTAMP
)"""
# The batch's columns as stored: event_time cast from CloudTrail's ISO text (validated by the extractor).
_SELECT_BATCH = ", ".join(
    "CAST(b.event_time AS TIMESTAMP)" if name == "event_time" else f"b.{name}" for name in EVENT_COLUMNS
)
_INSERT_NEW = (
    f"INSERT INTO events SELECT {_SELECT_BATCH} FROM trail_batch b "  # noqa: S608 (column names are constants)
    "WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.event_time >= CAST(? AS TIMESTAMP) "
    "AND e.event_time < CAST(? AS TIMESTAMP) + INTERVAL 1 SECOND AND e.event_id = b.event_id)"
)


# Freed block memory DuckDB keeps for the next batch: a fresh page costs the kernel a fault and a clear, and ingest
# writes ~330 MB of rows a batch; without it about a fifth of ingest time went to the page faults.
WRITER_BLOCK_MEMORY = "512MiB"


def usable_cpus() -> int:
    """The CPUs this process may run on (``taskset``, cgroup cpusets), not all the machine's."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_store_path() -> Path:
    """``$XDG_DATA_HOME/cloudwarden/trail.duckdb``, else ``~/.local/share/cloudwarden/trail.duckdb``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "cloudwarden" / STORE_FILE


@dataclass(frozen=True)
class ManifestEntry:
    location: str
    size: int
    version: str
    events: int = 0
    bad_records: int = 0
    error: str | None = None


class StoreError(Exception):
    """The store cannot be opened (missing, locked by another writer, not a DuckDB file)."""


class TrailStore:
    """One open store. Writing: a single writer per file (DuckDB locks it); reading: ``read_only=True``, with
    access to files and extensions outside the database turned off (``sql`` runs user-written queries)."""

    def __init__(self, path: Path, read_only: bool = False) -> None:
        self.path = path
        self.read_only = read_only
        if read_only:
            if not path.exists():
                raise StoreError(f"no trail store at {path}: run `cloudwarden trail ingest SOURCE` first")
            config: dict[str, str | bool | int] = {
                "enable_external_access": False,
                "autoinstall_known_extensions": False,
            }
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            config = {"autoinstall_known_extensions": False, "block_allocator_memory": WRITER_BLOCK_MEMORY}
        # DuckDB counts the machine's cores; threads beyond the ones the process may use only take turns on them.
        config["threads"] = usable_cpus()
        try:
            self.connection = duckdb.connect(str(path), read_only=read_only, config=config)
        except duckdb.Error as exc:
            raise StoreError(f"cannot open trail store {path}: {exc}") from exc
        if read_only:
            self.connection.execute("SET lock_configuration = true")
        else:
            self.connection.execute(_EVENTS_DDL)
            self.connection.execute(_MANIFEST_DDL)

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> TrailStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def ingested(self) -> dict[str, tuple[int, str, str | None]]:
        """location → (size, version, error) of every file in the manifest."""
        rows = self.connection.execute("SELECT location, size, version, error FROM ingested_files").fetchall()
        return {location: (size, version, error) for location, size, version, error in rows}

    def add_batch(self, batches: Sequence[pa.RecordBatch], files: Iterable[ManifestEntry]) -> int:
        """Insert the rows of ``batches`` (ARROW_SCHEMA, distinct event ids) whose event ids are not stored yet,
        and record ``files`` in the manifest, in one transaction. Returns the rows added."""
        con = self.connection
        con.execute("BEGIN TRANSACTION")
        try:
            added = 0
            if batches:
                table = pa.Table.from_batches(batches, schema=ARROW_SCHEMA)
                con.register("trail_batch", table)
                try:
                    low, high = con.execute(
                        "SELECT min(left(event_time, 19)), max(left(event_time, 19)) FROM trail_batch"
                    ).fetchone()  # type: ignore[misc]
                    added = con.execute(_INSERT_NEW, [low, high]).fetchone()[0]  # type: ignore[index]
                finally:
                    con.unregister("trail_batch")
            now = datetime.now(UTC).replace(tzinfo=None)
            # One Arrow batch (the last entry per location): executemany costs ~2.5 ms a row, seconds per 1,000 files.
            latest = list({f.location: f for f in files}.values())
            if latest:
                manifest = pa.table(
                    {
                        "location": pa.array([f.location for f in latest], pa.string()),
                        "size": pa.array([f.size for f in latest], pa.int64()),
                        "version": pa.array([f.version for f in latest], pa.string()),
                        "events": pa.array([f.events for f in latest], pa.int64()),
                        "bad_records": pa.array([f.bad_records for f in latest], pa.int64()),
                        "error": pa.array([f.error for f in latest], pa.string()),
                        "ingested_at": pa.array([now] * len(latest), pa.timestamp("us")),
                    }
                )
                con.register("trail_manifest", manifest)
                try:
                    con.execute("INSERT OR REPLACE INTO ingested_files SELECT * FROM trail_manifest")
                finally:
                    con.unregister("trail_manifest")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return int(added)

    def count_events(self) -> int:
        return int(self.connection.execute("SELECT count(*) FROM events").fetchone()[0])  # type: ignore[index]

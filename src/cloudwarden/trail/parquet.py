"""The trail's Parquet layout: the store's events as Hive-partitioned Parquet files, for Spark (or any engine that
reads Parquet) when a trail outgrows one machine.

Layout: ``DIR/events/account=<account>/region=<region>/day=<YYYY-MM-DD>/events_<uuid>.parquet``. Each file holds
every column of the store's ``events`` table under the same name and type (``event_time`` a TIMESTAMP), so the
true values are always read from inside the files. The directory names only place the files, so engines can skip
whole days: a partition value comes from the log records (attacker-controlled), so a value that is not a plausible
account id or region is filed under ``other``; a value can neither leave DIR (``../x``, ``a/b``) nor make a name too
long for the file system, and readers never take it for the real value. (The directory keys are not ``account_id``
and ``aws_region``: both DuckDB and Spark let a partition value hide the file's column of the same name.)

Files are only ever added (each name carries a UUID): ``ParquetAppender`` appends the rows an ingest run added to
the store, ``export_events`` the rows of the store not in the layout yet.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from cloudwarden.trail.store import EVENT_COLUMNS, TrailStore

EVENTS_DIR = "events"
PARTITION_KEYS = ("account", "region", "day")
OTHER_PARTITION = "other"
# Characters DuckDB would take as a glob when the layout is read back.
_GLOB_CHARACTERS = frozenset("*?[]{}")

# Directory values: the real value when it is shaped like an account id or region (lower case, digits and
# hyphens, at most 40 characters, e.g. us-east-1), else OTHER_PARTITION. Constants only.
_PARTITION_SELECT = (
    f"CASE WHEN regexp_full_match(account_id, '[0-9]{{12}}') THEN account_id ELSE '{OTHER_PARTITION}' END "
    "AS account, "
    "CASE WHEN length(aws_region) <= 40 AND regexp_full_match(aws_region, '[a-z0-9]+(-[a-z0-9]+)*') "
    f"THEN aws_region ELSE '{OTHER_PARTITION}' END AS region, "
    "strftime(event_time, '%Y-%m-%d') AS day"
)
_COPY_OPTIONS = (
    "(FORMAT parquet, COMPRESSION zstd, PARTITION_BY (account, region, day), FILENAME_PATTERN 'events_{uuid}', APPEND)"
)


class ParquetError(Exception):
    """The Parquet layout cannot be written or read (bad directory, no files yet)."""


def events_dir(directory: Path) -> Path:
    """Where the event files of the layout rooted at ``directory`` live."""
    return directory / EVENTS_DIR


def event_files_glob(directory: Path) -> str:
    """The glob of every event file under ``directory`` (validated: no glob characters in the path itself)."""
    return str(_checked(directory) / "**" / "*.parquet")


def has_event_files(directory: Path) -> bool:
    return next(events_dir(directory).rglob("*.parquet"), None) is not None


def _checked(directory: Path) -> Path:
    """``DIR/events`` as an absolute path, or ParquetError when it cannot hold the layout."""
    root = directory.expanduser().resolve()
    if _GLOB_CHARACTERS & set(str(root)):
        raise ParquetError(f"{directory}: a Parquet directory's path must not contain any of * ? [ ] {{ }}")
    if root.exists() and not root.is_dir():
        raise ParquetError(f"{directory} is not a directory")
    target = events_dir(root)
    if target.exists() and not target.is_dir():
        raise ParquetError(f"{target} is not a directory")
    return target


def _copy(store: TrailStore, directory: Path, where: str, params: dict[str, object]) -> int:
    target = _checked(directory)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ParquetError(f"cannot create {target}: {exc}") from exc
    sql = (
        f"COPY (SELECT {', '.join(EVENT_COLUMNS)}, {_PARTITION_SELECT} FROM events e WHERE {where} "  # noqa: S608
        f"ORDER BY event_time) TO $target {_COPY_OPTIONS}"
    )
    try:
        row = store.connection.execute(sql, {**params, "target": str(target)}).fetchone()
    except duckdb.Error as exc:
        raise ParquetError(f"cannot write Parquet files under {target}: {exc}") from exc
    return int(row[0]) if row else 0


def export_events(store: TrailStore, directory: Path) -> int:
    """Append to the layout every event of ``store`` it does not hold yet (by event id) and return how many; so
    a first export writes the whole store, and a later one catches up after an interrupted ``ingest --parquet``.
    ``store`` must be opened for writing (a read-only store cannot reach other files)."""
    if not has_event_files(directory):
        return _copy(store, directory, "TRUE", {})
    return _copy(
        store,
        directory,
        "NOT EXISTS (SELECT 1 FROM read_parquet($existing, hive_partitioning = false) p WHERE p.event_id = e.event_id)",
        {"existing": event_files_glob(directory)},
    )


class ParquetAppender:
    """Appends to the layout the events one ingest run adds to the store.

    The ``events`` table is append-only, so DuckDB's ``rowid`` of a new row is larger than that of every row
    before it: rows above the mark taken before the run are exactly the run's rows. This needs no change to
    ingestion; if the run stops half way, ``export_events`` adds what is missing.
    """

    def __init__(self, store: TrailStore, directory: Path, mark: int) -> None:
        self.store = store
        self.directory = directory
        self.mark = mark

    @classmethod
    def start(cls, store: TrailStore, directory: Path) -> ParquetAppender:
        """Check ``directory`` and note the store's last row; call before ingesting."""
        _checked(directory)
        row = store.connection.execute("SELECT coalesce(max(rowid), -1) FROM events").fetchone()
        return cls(store, directory, int(row[0]) if row else -1)

    def finish(self) -> int:
        """Append the rows added since ``start``; returns how many."""
        return _copy(self.store, self.directory, "rowid > $mark", {"mark": self.mark})

"""Exactly-once bookkeeping for the detection lanes, in one SQLite file.

* ``files``: each log file fully evaluated (location and version: S3 ETag or mtime); a replayed file is skipped.
* ``seen``: each alert uid (rule id + eventID) ever raised; the same event seen by both lanes, or in two files,
  alerts once.
* ``outbox``: alerts raised but not yet delivered to every sink.
* ``windows``: each correlation rule's window state per group key (:mod:`cloudwarden.detect.correlation`),
  written in the same transaction as the alerts it raised, so a restart resumes every window where it stood.

A file's alerts, its seen-marks and its done-mark are written in one transaction, before any delivery; delivery
then drains the outbox. Killed anywhere, a restart either re-evaluates the file (its transaction never
committed: nothing was recorded) or delivers what the outbox still holds. Sinks are idempotent by alert uid, so
an alert delivered just before a kill and again after it lands once.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

import orjson

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (location TEXT PRIMARY KEY, version TEXT NOT NULL, alerts INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS seen (uid TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, uid TEXT UNIQUE NOT NULL,
                                   payload BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS windows (rule TEXT NOT NULL, grp TEXT NOT NULL, last_time INTEGER NOT NULL,
                                    state BLOB NOT NULL, PRIMARY KEY (rule, grp));
CREATE INDEX IF NOT EXISTS windows_by_age ON windows (rule, last_time);
CREATE TABLE IF NOT EXISTS dead_letters (uid TEXT NOT NULL, sink TEXT NOT NULL, reason TEXT NOT NULL,
                                         payload BLOB NOT NULL, PRIMARY KEY (uid, sink));
"""
_WINDOW_READ_BATCH = 500  # keys per SELECT, under SQLite's bound on parameters
_DRAIN_BATCH = 2_000  # alerts per delivery: one sink call and one commit each
DYNAMODB_PREFIX = "dynamodb:"

log = logging.getLogger("cloudwarden.detect.checkpoints")


class WindowConflict(RuntimeError):
    """Another writer changed a correlation window after this store read it: nothing of that window was written;
    evaluate the batch again (its alerts written already are seen, so they are not raised twice)."""


def log_rejected(rejected: Sequence[Any]) -> None:
    """Say, once per alert and sink, that a sink refused an alert that is now kept as a dead letter."""
    for item in rejected:
        log.warning("%s refused alert %s (kept as a dead letter): %s", item.sink, item.uid[:300], item.reason)


class CheckpointStore(Protocol):
    """What the lanes need of a checkpoint store: this SQLite :class:`Checkpoints` (one machine) and
    :class:`~cloudwarden.detect.checkpoints_dynamodb.DynamoCheckpoints` (the deployed lanes, one shared table)."""

    def file_done(self, location: str, version: str) -> bool: ...

    def record(self, alerts: Sequence[dict[str, Any]], location: str | None = None, version: str = "",
               windows: Sequence[tuple[str, str, int, bytes]] = (), max_groups: int = 10_000) -> int: ...

    def load_windows(self, rule: str, groups: Sequence[str]) -> dict[str, bytes]: ...

    def window_groups(self, rule: str) -> int: ...

    def pending(self, limit: int = 500) -> list[tuple[str, dict[str, Any]]]: ...

    def delivered(self, uids: Iterable[str]) -> None: ...

    def drain(self, sinks: Sequence[Any]) -> int: ...

    def dead_letters(self) -> list[tuple[str, str, str]]: ...

    def counts(self) -> dict[str, int]: ...

    def close(self) -> None: ...


def open_checkpoints(spec: str) -> CheckpointStore:
    """The store ``spec`` names: ``dynamodb:<table>`` (a client from the default credential chain and region),
    else a path to an SQLite file."""
    if spec.startswith(DYNAMODB_PREFIX):
        from cloudwarden.detect.checkpoints_dynamodb import DynamoCheckpoints  # boto3 only when asked for

        return DynamoCheckpoints.from_spec(spec)
    return Checkpoints(Path(spec))


class Checkpoints:
    """One writer at a time (SQLite locks the file); safe to open from several processes in turn."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a committed checkpoint survives a power cut
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Checkpoints:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def file_done(self, location: str, version: str) -> bool:
        row = self._db.execute("SELECT version FROM files WHERE location = ?", (location,)).fetchone()
        return row is not None and row[0] == version

    def record(
        self,
        alerts: Sequence[dict[str, Any]],
        location: str | None = None,
        version: str = "",
        windows: Sequence[tuple[str, str, int, bytes]] = (),
        max_groups: int = 10_000,
    ) -> int:
        """Keep the alerts not raised before (into the outbox), store the correlation ``windows`` rows (rule, group,
        last event time, state; beyond ``max_groups`` per rule the least recent are dropped) and, with
        ``location``, mark that file done; one transaction. Returns how many alerts were new."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            new = self._keep_new(alerts)
            if windows:
                db.executemany(
                    "INSERT OR REPLACE INTO windows (rule, grp, last_time, state) VALUES (?, ?, ?, ?)", windows
                )
                for rule in {row[0] for row in windows}:
                    self._evict_windows(rule, max_groups)
            if location is not None:
                db.execute(
                    "INSERT OR REPLACE INTO files (location, version, alerts) VALUES (?, ?, ?)",
                    (location, version, len(alerts)),
                )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return new

    def _keep_new(self, alerts: Sequence[dict[str, Any]]) -> int:
        """Mark seen and put into the outbox (in order) the alerts whose uid was never seen; inside a transaction.
        Set-wise, because a noisy rule raises an alert for most events of a file: one statement per alert was
        most of the slow lane's time."""
        fresh: dict[str, dict[str, Any]] = {}
        for alert in alerts:
            fresh.setdefault(alert["finding_info"]["uid"], alert)
        if not fresh:
            return 0
        uids = list(fresh)
        known: set[str] = set()
        for at in range(0, len(uids), _WINDOW_READ_BATCH):
            batch = uids[at : at + _WINDOW_READ_BATCH]
            marks = ",".join("?" * len(batch))
            known.update(
                uid for (uid,) in self._db.execute(f"SELECT uid FROM seen WHERE uid IN ({marks})", batch)  # noqa: S608
            )
        new = [uid for uid in uids if uid not in known]
        self._db.executemany("INSERT INTO seen (uid) VALUES (?)", [(uid,) for uid in new])
        self._db.executemany(
            "INSERT INTO outbox (uid, payload) VALUES (?, ?)", [(uid, orjson.dumps(fresh[uid])) for uid in new]
        )
        return len(new)

    def _evict_windows(self, rule: str, max_groups: int) -> None:
        db = self._db
        if db.execute("SELECT count(*) FROM windows WHERE rule = ?", (rule,)).fetchone()[0] <= max_groups:
            return
        db.execute(
            "DELETE FROM windows WHERE rule = ? AND grp NOT IN "
            "(SELECT grp FROM windows WHERE rule = ? ORDER BY last_time DESC, grp DESC LIMIT ?)",
            (rule, rule, max_groups),
        )

    def load_windows(self, rule: str, groups: Sequence[str]) -> dict[str, bytes]:
        """The stored window state of each of ``groups`` of correlation ``rule`` that has any."""
        found: dict[str, bytes] = {}
        for at in range(0, len(groups), _WINDOW_READ_BATCH):
            batch = list(groups[at : at + _WINDOW_READ_BATCH])
            marks = ",".join("?" * len(batch))
            rows = self._db.execute(
                f"SELECT grp, state FROM windows WHERE rule = ? AND grp IN ({marks})",  # noqa: S608 (only ? marks)
                (rule, *batch),
            ).fetchall()
            found.update((grp, bytes(state)) for grp, state in rows)
        return found

    def window_groups(self, rule: str) -> int:
        """How many group keys of correlation ``rule`` hold state."""
        return int(self._db.execute("SELECT count(*) FROM windows WHERE rule = ?", (rule,)).fetchone()[0])

    def pending(self, limit: int = 500) -> list[tuple[str, dict[str, Any]]]:
        """Alerts not yet delivered, oldest first."""
        rows = self._db.execute("SELECT uid, payload FROM outbox ORDER BY seq LIMIT ?", (limit,)).fetchall()
        return [(uid, orjson.loads(payload)) for uid, payload in rows]

    def delivered(self, uids: Iterable[str]) -> None:
        # One transaction: in autocommit each DELETE would be its own (fsync'd) commit, ~2 ms per alert.
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany("DELETE FROM outbox WHERE uid = ?", [(uid,) for uid in uids])
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def drain(self, sinks: Sequence[Any]) -> int:
        """Deliver the outbox to every sink (each idempotent by uid), then forget it; returns alerts delivered.
        The stored JSON goes to the sinks that write JSON as it is (see :func:`~cloudwarden.detect.sinks.deliver`)."""
        from cloudwarden.detect.sinks import deliver

        db = self._db
        total = 0
        oldest = "SELECT seq, uid, payload FROM outbox ORDER BY seq LIMIT ?"
        while rows := db.execute(oldest, (_DRAIN_BATCH,)).fetchall():
            payloads = {uid: bytes(payload) for _, uid, payload in rows}
            rejected = deliver(sinks, list(payloads.items()))
            # Oldest first by seq, and one writer at a time: the batch is every row up to its last seq.
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(
                    "INSERT OR REPLACE INTO dead_letters (uid, sink, reason, payload) VALUES (?, ?, ?, ?)",
                    [(r.uid, r.sink, r.reason, payloads[r.uid]) for r in rejected],
                )
                db.execute("DELETE FROM outbox WHERE seq <= ?", (rows[-1][0],))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            log_rejected(rejected)
            total += len(rows) - len({r.uid for r in rejected})
        return total

    def dead_letters(self) -> list[tuple[str, str, str]]:
        """(uid, sink, reason) of each alert a sink refused while taking others; the alert is kept beside it."""
        return [tuple(row) for row in self._db.execute("SELECT uid, sink, reason FROM dead_letters ORDER BY uid")]

    def counts(self) -> dict[str, int]:
        """How many files are done, alerts were ever raised, and alerts wait for delivery."""
        return {
            table: int(self._db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608 (constant names)
            for table in ("files", "seen", "outbox")
        }

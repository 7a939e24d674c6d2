"""Exactly-once bookkeeping for the detection lanes, in one SQLite file.

* ``files``: each log file fully evaluated (location and version: S3 ETag or mtime); a replayed file is skipped.
* ``seen``: each alert uid (rule id + eventID) ever raised; the same event seen by both lanes, or in two files,
  alerts once.
* ``outbox``: alerts raised but not yet delivered to every sink.
* ``windows``: each correlation rule's window state per group key (:mod:`cloudwarden.detect.correlation`),
  written in the same transaction as the alerts it raised, so a restart resumes every window where it stood.

Two ways to bookkeep, both exactly once for sinks idempotent by alert uid:

* ``record`` then ``drain`` (the fast lane; the DynamoDB store always): a file's alerts, their seen-marks and the
  file's done-mark are written in one transaction, before any delivery; delivery then drains the outbox.
* ``settle`` (the slow lane over this store): inside one write transaction, the alerts not seen before are
  delivered, then their seen-marks and the files' done-marks are committed; only alerts a sink could not take
  go into the outbox. The alerts' JSON is written once (to the sinks), not also into this file and out again,
  which was most of the slow lane's time when most events alert. Holding the write lock while delivering keeps
  another lane on this file from raising the same alert meanwhile.

Killed anywhere, a restart either evaluates the files again (their transaction never committed: nothing was
recorded; an alert delivered before the kill is delivered again, and lands once) or delivers what the outbox
still holds.
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
CHECKPOINTS_ENV = "CLOUDWARDEN_CHECKPOINTS"  # the lanes' store: dynamodb:<table> or an SQLite path

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

    # How many records the slow lane evaluates before it settles them in one call (0: each file on its own).
    group_records: int

    def file_done(self, location: str, version: str) -> bool: ...

    def record(self, alerts: Sequence[dict[str, Any]], location: str | None = None, version: str = "",
               windows: Sequence[tuple[str, str, int, bytes]] = (), max_groups: int = 10_000) -> int: ...

    def settle(self, alerts: Sequence[dict[str, Any]], files: Sequence[tuple[str, str, int]],
               windows: Sequence[tuple[str, str, int, bytes]], sinks: Sequence[Any],
               max_groups: int = 10_000) -> set[str]: ...

    def load_windows(self, rule: str, groups: Sequence[str]) -> dict[str, bytes]: ...

    def window_groups(self, rule: str) -> int: ...

    def pending(self, limit: int = 500) -> list[tuple[str, dict[str, Any]]]: ...

    def delivered(self, uids: Iterable[str]) -> None: ...

    def drain(self, sinks: Sequence[Any]) -> int: ...

    def dead_letters(self) -> list[tuple[str, str, str]]: ...

    def requeue_dead_letters(self) -> int: ...

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

    # Files are settled together up to this many records: each settle costs a few fsyncs and reads and writes the
    # correlation windows once, which per file of a few hundred records was most of the slow lane's time.
    group_records = 10_000

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
            self._store_windows(windows, max_groups)
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
        """Mark seen and put into the outbox (in order) the alerts whose uid was never seen; inside a transaction."""
        new = self._unseen(alerts)
        self._mark_seen(new)
        self._db.executemany("INSERT INTO outbox (uid, payload) VALUES (?, ?)", new)
        return len(new)

    def _unseen(self, alerts: Sequence[dict[str, Any]]) -> list[tuple[str, bytes]]:
        """(uid, JSON) of each alert whose uid was never seen, first of each uid, in order. Set-wise, because a
        noisy rule raises an alert for most events of a file: one statement per alert was most of the slow lane's
        time. Only these alerts are encoded."""
        fresh: dict[str, dict[str, Any]] = {}
        for alert in alerts:
            fresh.setdefault(alert["finding_info"]["uid"], alert)
        uids = list(fresh)
        known: set[str] = set()
        for at in range(0, len(uids), _WINDOW_READ_BATCH):
            batch = uids[at : at + _WINDOW_READ_BATCH]
            marks = ",".join("?" * len(batch))
            known.update(
                uid for (uid,) in self._db.execute(f"SELECT uid FROM seen WHERE uid IN ({marks})", batch)  # noqa: S608
            )
        dumps = orjson.dumps
        return [(uid, dumps(fresh[uid])) for uid in uids if uid not in known]

    def _mark_seen(self, new: Sequence[tuple[str, bytes]]) -> None:
        self._db.executemany("INSERT INTO seen (uid) VALUES (?)", [(uid,) for uid, _ in new])

    def settle(
        self,
        alerts: Sequence[dict[str, Any]],
        files: Sequence[tuple[str, str, int]],
        windows: Sequence[tuple[str, str, int, bytes]],
        sinks: Sequence[Any],
        max_groups: int = 10_000,
    ) -> set[str]:
        """Deliver the alerts not raised before to every sink, then, in the same write transaction, mark them seen,
        store the correlation ``windows`` and mark ``files`` ((location, version, alerts) each) done. Returns the
        uids of the new alerts.

        Alerts a sink refuses while it takes others become dead letters. When a sink is down (or the outbox still
        holds older alerts, which go first), the new alerts are kept in the outbox instead, the transaction
        commits, and the sink's error is raised after it: nothing is lost, the next drain retries."""
        from cloudwarden.detect.sinks import deliver

        db = self._db
        db.execute("BEGIN IMMEDIATE")
        failure: Exception | None = None
        rejected: list[Any] = []
        try:
            new = self._unseen(alerts)
            held: Sequence[tuple[str, bytes]] = ()
            if new:
                if db.execute("SELECT 1 FROM outbox LIMIT 1").fetchone() is not None:
                    held = new  # behind alerts a sink has not taken yet
                else:
                    try:
                        rejected = deliver(sinks, new)
                    except Exception as exc:  # a sink that is down: keep the alerts, commit the evaluation
                        failure, held = exc, new
            self._mark_seen(new)
            db.executemany("INSERT INTO outbox (uid, payload) VALUES (?, ?)", held)
            if rejected:
                payloads = dict(new)
                db.executemany(
                    "INSERT OR REPLACE INTO dead_letters (uid, sink, reason, payload) VALUES (?, ?, ?, ?)",
                    [(r.uid, r.sink, r.reason, payloads[r.uid]) for r in rejected],
                )
            self._store_windows(windows, max_groups)
            db.executemany("INSERT OR REPLACE INTO files (location, version, alerts) VALUES (?, ?, ?)", files)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        log_rejected(rejected)
        if failure is not None:
            raise failure
        if held:
            self.drain(sinks)  # the older alerts first, then these
        return {uid for uid, _ in new}

    def _store_windows(self, windows: Sequence[tuple[str, str, int, bytes]], max_groups: int) -> None:
        if windows:
            self._db.executemany(
                "INSERT OR REPLACE INTO windows (rule, grp, last_time, state) VALUES (?, ?, ?, ?)", windows
            )
            for rule in {row[0] for row in windows}:
                self._evict_windows(rule, max_groups)

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

    def requeue_dead_letters(self) -> int:
        """Put every dead letter back in the outbox (once per alert, whichever sinks refused it) for the next drain
        to send to every sink; returns how many alerts. One a sink refuses again is a dead letter again."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            count = int(db.execute("SELECT count(DISTINCT uid) FROM dead_letters").fetchone()[0])
            db.execute(
                "INSERT OR IGNORE INTO outbox (uid, payload) SELECT uid, min(payload) FROM dead_letters GROUP BY uid "
                "ORDER BY min(rowid)"
            )
            db.execute("DELETE FROM dead_letters")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return count

    def counts(self) -> dict[str, int]:
        """How many files are done, alerts were ever raised, and alerts wait for delivery."""
        return {
            table: int(self._db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608 (constant names)
            for table in ("files", "seen", "outbox")
        }

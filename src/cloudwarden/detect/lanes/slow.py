"""The slow lane: CloudTrail log files as they land in S3 (every ~5 minutes), each record through every rule.

``handler(event, context)`` is the Lambda entry point for S3 ObjectCreated notifications, delivered directly,
through SQS, or through SNS (and SNS through SQS). :class:`SlowLane` does the work for the handler and for
``cloudwarden watch``: skip files already evaluated, evaluate the rest, and settle their alerts (delivered, then
marked raised with the files' checkpoints; see :mod:`cloudwarden.detect.checkpoints` for why that is exactly
once), several files at a time when the store allows it. Correlation rules are evaluated here too: their windows
(on eventTime, across files) are kept in the checkpoints file and written with the files' checkpoints, so they
survive restarts. One slow lane writes an SQLite checkpoints
file at a time; on the DynamoDB table any number of invocations may run at once (a window another one moved
meanwhile makes the file correlate again, :class:`~cloudwarden.detect.checkpoints.WindowConflict`).

Lambda settings: ``CLOUDWARDEN_CHECKPOINTS`` (``dynamodb:<table>``, the table the fast lane shares, as
``cloudwarden deploy`` sets it; else an SQLite file, default under /tmp, which lives as long as the container),
``CLOUDWARDEN_SINKS`` (comma-separated, default ``stdout``), ``CLOUDWARDEN_RULES`` (more rules).

Through SQS (an event source mapping with ``ReportBatchItemFailures``), the handler answers
``batchItemFailures`` with the message of each log file it could not read: SQS keeps that message (redelivered,
then dead-lettered after the queue's ``maxReceiveCount``) and deletes the rest. Delivered directly or by SNS,
unreadable files are logged and left for a replay.
"""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import orjson

from cloudwarden.detect.alerts import alerts_for
from cloudwarden.detect.checkpoints import CHECKPOINTS_ENV, CheckpointStore, WindowConflict, open_checkpoints
from cloudwarden.detect.correlation import MAX_GROUPS_PER_RULE, Correlator
from cloudwarden.detect.engine import Detector
from cloudwarden.detect.sigma_rules import DetectionRule
from cloudwarden.detect.sinks import Sink, sinks_from_env
from cloudwarden.trail.sources import LogObject, S3Source, TrailSource, is_log_name

DEFAULT_CHECKPOINTS = Path("/tmp/cloudwarden-checkpoints.sqlite")  # noqa: S108 (Lambda's only writable place)
MAX_ENVELOPE_DEPTH = 3  # S3 → SNS → SQS is the deepest real nesting
MAX_WINDOW_CONFLICTS = 5  # correlating one file again because another invocation moved its windows meanwhile

log = logging.getLogger("cloudwarden.detect.slow")


@dataclass(frozen=True)
class NewObject:
    bucket: str
    key: str
    size: int
    etag: str


def objects_in(event: Any, depth: int = 0) -> Iterator[NewObject]:
    """The S3 objects an S3 notification names, unwrapping SQS and SNS envelopes; anything else is ignored."""
    if depth > MAX_ENVELOPE_DEPTH or type(event) is not dict:
        return
    if event.get("Type") == "Notification" and type(event.get("Message")) is str:  # SNS, delivered through SQS
        yield from objects_in(_json(event["Message"]), depth + 1)
        return
    records = event.get("Records")
    if type(records) is not list:
        return
    for record in records:
        if type(record) is not dict:
            continue
        if type(record.get("s3")) is dict and str(record.get("eventName", "")).startswith("ObjectCreated"):
            s3 = record["s3"]
            bucket = (s3.get("bucket") or {}).get("name")
            obj = s3.get("object") or {}
            if type(bucket) is str and type(obj.get("key")) is str:
                size = obj.get("size")
                yield NewObject(bucket, unquote_plus(obj["key"]), size if type(size) is int else 0,
                                str(obj.get("eTag") or obj.get("etag") or ""))
        elif record.get("eventSource") == "aws:sqs" and type(record.get("body")) is str:
            yield from objects_in(_json(record["body"]), depth + 1)
        elif type(record.get("Sns")) is dict and type(record["Sns"].get("Message")) is str:
            yield from objects_in(_json(record["Sns"]["Message"]), depth + 1)


def _json(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None


@dataclass
class FileOutcome:
    location: str
    skipped: bool = False  # evaluated before
    events: int = 0
    alerts: int = 0  # new alerts (not raised before)
    error: str | None = None


@dataclass
class SlowLane:
    detector: Detector
    checkpoints: CheckpointStore
    sinks: Sequence[Sink]
    # Records settled together (None: the store's ``group_records``); a store that settles files one at a time
    # (``group_records`` 0) always does.
    group_records: int | None = None
    correlator: Correlator | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.correlator = self.detector.correlator()

    def process(self, source: TrailSource, log_object: LogObject) -> FileOutcome:
        """Evaluate one log file unless it was already; record and deliver its alerts."""
        return self._run(source, [log_object])[0]

    def process_all(self, source: TrailSource) -> list[FileOutcome]:
        """Evaluate every file of ``source`` not evaluated yet, in order, settling them in groups of about
        ``checkpoints.group_records`` records (a kill loses at most the group in hand, evaluated again)."""
        self.checkpoints.drain(self.sinks)  # what a previous run recorded but could not deliver
        return self._run(source, source.list())

    def _run(self, source: TrailSource, log_objects: Iterable[LogObject]) -> list[FileOutcome]:
        # A file's records and alerts hold no cycles (reference counting frees them), but they are hundreds of
        # thousands of containers: each cycle collection would walk them all, a quarter of the lane's time.
        collecting = gc.isenabled()
        gc.disable()
        try:
            outcomes: list[FileOutcome] = []
            group: list[tuple[FileOutcome, LogObject, list[Any]]] = []
            in_group = 0
            limit = self.checkpoints.group_records and (self.group_records or self.checkpoints.group_records)
            for log_object in log_objects:
                outcome = FileOutcome(log_object.location)
                outcomes.append(outcome)
                if self.checkpoints.file_done(log_object.location, log_object.version):
                    outcome.skipped = True
                    continue
                parsed = source.read(log_object)
                if parsed.error is not None:
                    outcome.error = parsed.error  # not checkpointed: a later run tries again
                    continue
                outcome.events = len(parsed.records)
                group.append((outcome, log_object, parsed.records))
                in_group += len(parsed.records)
                if in_group >= limit:
                    self._settle(group)
                    group, in_group = [], 0
            if group:
                self._settle(group)
            return outcomes
        finally:
            if collecting:
                gc.enable()

    def _settle(self, group: list[tuple[FileOutcome, LogObject, list[Any]]]) -> None:
        """Evaluate the group's records (in file order), correlate them over the stored windows, then settle
        their alerts, windows and done-marks in one call; each file's outcome counts its new alerts."""
        alerts: list[dict[str, Any]] = []
        owners: list[FileOutcome] = []
        files: list[tuple[str, str, int]] = []
        matched: list[tuple[Any, list[DetectionRule]]] = []  # matched once, for the alerts and the correlations
        matches = self.detector.index.matches
        for outcome, log_object, records in group:
            before = len(alerts)
            for record in records:
                rules = matches(record)
                if rules:
                    matched.append((record, rules))
                    raised = alerts_for(rules, record, "slow")
                    alerts += raised
                    owners += [outcome] * len(raised)
            files.append((log_object.location, log_object.version, len(alerts) - before))
        for attempt in range(1, MAX_WINDOW_CONFLICTS + 1):
            try:
                correlated, windows = self._correlate(group, matched)
                new = self.checkpoints.settle(alerts + correlated, files, windows, self.sinks, MAX_GROUPS_PER_RULE)
                break
            except WindowConflict:
                # Another invocation moved one of these files' windows (a shared table): correlate again from
                # what it stored. Alerts written before the conflict are seen, not raised twice.
                if attempt == MAX_WINDOW_CONFLICTS:
                    raise
                log.info("%s: a correlation window changed meanwhile; correlating again", group[-1][1].location)
        for alert, outcome in zip(alerts, owners, strict=True):
            if alert["finding_info"]["uid"] in new:
                new.discard(alert["finding_info"]["uid"])
                outcome.alerts += 1
        if new:  # correlation alerts: counted on the (first) file of the event that completed them
            by_event: dict[Any, FileOutcome] = {}
            for outcome, _, records in group:
                for record in records:
                    if type(record) is dict:
                        by_event.setdefault(record.get("eventID"), outcome)
            for alert in correlated:
                if alert["finding_info"]["uid"] in new:
                    completing = alert["evidences"][0]["data"].get("eventID")
                    by_event.get(completing, group[-1][0]).alerts += 1

    def _correlate(self, group: list[tuple[FileOutcome, LogObject, list[Any]]],
                   matched: list[tuple[Any, list[DetectionRule]]]
                   ) -> tuple[list[dict[str, Any]], list[tuple[str, str, int, bytes]]]:
        """The correlation alerts the group's matched records raise and the window rows to store with them."""
        if self.correlator is None:
            return [], []
        run = self.correlator.run_matched(matched, self.checkpoints, "slow")
        if run.untimed:
            log.warning("%s: %d records a correlation counts have no readable eventTime; not correlated",
                        ", ".join(log_object.location for _, log_object, _ in group)[:2000], run.untimed)
        return run.alerts, run.changes


def handle_notification(event: Any, lane: SlowLane, s3_client: Any) -> dict[str, Any]:
    """Evaluate every log file a notification names; what the handler returns. An SQS batch (records with
    ``eventSource`` ``aws:sqs``) also gets ``batchItemFailures``: the ``messageId`` of each message naming a file
    that could not be read, for SQS to deliver again."""
    outcomes: list[FileOutcome] = []
    failed: list[str] = []
    for message, notification in _messages(event):
        errors_before = sum(o.error is not None for o in outcomes)
        for new in objects_in(notification):
            if not is_log_name(new.key):
                continue
            source = S3Source(s3_client, new.bucket, "")
            outcomes.append(lane.process(source, LogObject(f"s3://{new.bucket}/{new.key}", new.size, new.etag)))
        if message is not None and sum(o.error is not None for o in outcomes) > errors_before:
            failed.append(message)
    lane.checkpoints.drain(lane.sinks)
    result: dict[str, Any] = {
        "files": len(outcomes),
        "skipped": sum(o.skipped for o in outcomes),
        "alerts": sum(o.alerts for o in outcomes),
        "errors": [f"{o.location}: {o.error}" for o in outcomes if o.error],
    }
    if _is_sqs_batch(event):
        result["batchItemFailures"] = [{"itemIdentifier": message} for message in failed]
    return result


def _is_sqs_batch(event: Any) -> bool:
    records = event.get("Records") if type(event) is dict else None
    return type(records) is list and any(type(r) is dict and r.get("eventSource") == "aws:sqs" for r in records)


def _messages(event: Any) -> Iterator[tuple[str | None, Any]]:
    """Each SQS message of a batch with its ``messageId`` (as an event of its own); any other event whole, with
    None."""
    if not _is_sqs_batch(event):
        yield None, event
        return
    for record in event["Records"]:
        message = record.get("messageId") if type(record) is dict else None
        yield (str(message)[:256] if message is not None else None), {"Records": [record]}


_lane: SlowLane | None = None
_s3: Any = None


def handler(event: Any, context: Any) -> dict[str, Any]:
    """The Lambda entry point."""
    global _lane, _s3
    if _lane is None:
        from cloudwarden.aws.session import AwsContext
        from cloudwarden.detect.lanes.fast import detector

        sinks = sinks_from_env()  # AWS sinks build their (writing) clients on first send
        checkpoints = open_checkpoints(os.environ.get(CHECKPOINTS_ENV) or str(DEFAULT_CHECKPOINTS))
        _lane = SlowLane(detector(), checkpoints, sinks)
        _s3 = AwsContext.create().client("s3")
    result = handle_notification(event, _lane, _s3)
    for error in result["errors"]:
        log.warning("log file not evaluated (retried on the next notification or replay): %s", error)
    return result

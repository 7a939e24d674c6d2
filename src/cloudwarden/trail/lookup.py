"""CloudTrail's LookupEvents API as a trail source: the last 90 days of a region's management events, no bucket.

The window is cut into one slice per UTC day and region, listed as ``lookup://ACCOUNT/REGION/YYYY-MM-DD``, so the
ingest pipeline treats each slice like a log file (manifest, progress, bad-file reports). A slice that ended more
than :data:`SETTLE` ago is *complete*: its version names only its bounds, so the next run skips it. A newer slice
is *open*: its version names the run, so every run reads it again (events already stored are de-duplicated by
eventID). LookupEvents' time bounds are inclusive, so neighbouring slices share their midnight second; the
de-duplication makes that overlap harmless, and it guarantees no second is missed.

Throttle-aware: LookupEvents allows 2 requests per second per account and region. Each region's requests are
paced to that rate, and :class:`~cloudwarden.aws.session.AwsContext` clients retry throttling (adaptive mode). A
slice still throttled after the retries, or denied, is reported with a reason that starts with
:data:`~cloudwarden.trail.ingest.TRANSIENT_ERROR_PREFIX`: it is not recorded in the manifest, and the next run
reads it again. Each event's ``CloudTrailEvent`` text is parsed with orjson (bounded); one that is not a JSON
object is a bad record with its reason, and the rest of the slice is kept.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from botocore.exceptions import BotoCoreError, ClientError

from cloudwarden.aws.errors import error_code
from cloudwarden.aws.session import AwsContext
from cloudwarden.trail.ingest import TRANSIENT_ERROR_PREFIX as _TRANSIENT
from cloudwarden.trail.reader import DEFAULT_MAX_BYTES, LogFile
from cloudwarden.trail.sources import LogObject

RETENTION = timedelta(days=90)  # LookupEvents answers for the last 90 days only
# CloudTrail shows an event in LookupEvents within about 15 minutes of the call (usually 5); a day is taken as
# final only well after that, so a late event is never left behind in a slice the next run would skip.
SETTLE = timedelta(hours=1)
PAGE_SIZE = 50  # LookupEvents' maximum
REQUESTS_PER_SECOND = 2.0  # LookupEvents' quota per account and region
MAX_EVENT_BYTES = 1024 * 1024  # CloudTrail records are at most 256 KB; anything far larger is not one
PERMISSION = "cloudtrail:LookupEvents"
POLICY_DOC = "docs/iam/cloudwarden-trail-policy.json"
SCHEME = "lookup://"
THROTTLED = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"})
DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "NotAuthorized"})
_REASON_CHARS = 300
_ID_CHARS = 80


class LookupAccessDenied(Exception):
    """The identity may not call cloudtrail:LookupEvents in a region (the message says which, and what to grant)."""


@dataclass(frozen=True)
class LookupWindow:
    """``start <= event time <= end`` (aware UTC), within LookupEvents' 90 days; ``notice`` says what was cut."""

    start: datetime
    end: datetime
    notice: str | None = None


@dataclass(frozen=True)
class Slice:
    """One region's events between ``start`` and ``end`` (inclusive, as LookupEvents takes them)."""

    region: str
    start: datetime
    end: datetime


def _utc(value: datetime) -> datetime:
    """Naive times are UTC (as :class:`~cloudwarden.trail.queries.TimeWindow` gives them)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _midnight(value: datetime) -> datetime:
    return value.replace(hour=0, minute=0, second=0, microsecond=0)


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def lookup_window(start: datetime | None, end: datetime | None, now: datetime | None = None) -> LookupWindow:
    """The window LookupEvents can answer for ``start``/``end`` (naive UTC or aware; either may be None).

    Default start: midnight of the oldest full day LookupEvents still keeps, so the default window is made of
    whole days a later run can skip. A start older than 90 days is moved to ``now - 90 days`` and ``notice``
    says so; an end in the future becomes ``now``. Raises ValueError when nothing of the window is left.
    """
    now = _utc(now or datetime.now(UTC)).replace(microsecond=0)
    earliest = now - RETENTION
    notice = None
    if start is None:
        chosen_start = _midnight(earliest) + timedelta(days=1)
    else:
        chosen_start = _utc(start)
        if chosen_start < earliest:
            notice = (
                f"LookupEvents keeps only the last 90 days of management events: reading from {_iso(earliest)} "
                "(for older events, ingest the trail's S3 bucket)"
            )
            chosen_start = earliest
    chosen_end = now if end is None else min(_utc(end), now)
    if chosen_end <= chosen_start:
        raise ValueError(
            f"nothing to read between {_iso(chosen_start)} and {_iso(chosen_end)}: LookupEvents answers for "
            f"{_iso(earliest)} to now"
        )
    return LookupWindow(chosen_start, chosen_end, notice)


def day_slices(window: LookupWindow, region: str) -> Iterator[tuple[str, Slice]]:
    """(``YYYY-MM-DD``, slice) for each UTC day the window touches, oldest first."""
    day = _midnight(window.start)
    while day < window.end:
        following = day + timedelta(days=1)
        yield day.strftime("%Y-%m-%d"), Slice(region, max(day, window.start), min(following, window.end))
        day = following


def parse_event(item: dict[str, Any]) -> dict[str, Any] | str:
    """The CloudTrail record inside one LookupEvents ``Event`` (its ``CloudTrailEvent`` JSON text), or why not."""
    text = item.get("CloudTrailEvent")
    if type(text) is not str:
        return "no CloudTrailEvent text"
    if len(text) > MAX_EVENT_BYTES:
        return f"CloudTrailEvent is {len(text)} characters, over the limit of {MAX_EVENT_BYTES}"
    try:
        record = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return f"CloudTrailEvent is not valid JSON: {str(exc)[:_REASON_CHARS]}"
    if type(record) is not dict:
        return f"CloudTrailEvent is a JSON {type(record).__name__}, not an object"
    return record


class _Pacer:
    """At most ``rate`` requests per second per region, across threads (0: no pacing)."""

    def __init__(
        self, rate: float, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._interval = 1.0 / rate if rate > 0 else 0.0
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep

    def wait(self, region: str) -> None:
        if not self._interval:
            return
        with self._lock:
            now = self._clock()
            at = max(now, self._next.get(region, 0.0))
            self._next[region] = at + self._interval
        if at > now:
            self._sleep(at - now)


class LookupSource:
    """A :class:`~cloudwarden.trail.sources.TrailSource` over LookupEvents: ``list()`` checks access once per
    region (raising :class:`LookupAccessDenied`) and yields one :class:`LogObject` per (UTC day, region);
    ``read()`` pages through that slice (``PAGE_SIZE`` events a request) and never raises.

    ``aws`` builds the clients (read-only, retries, endpoint); ``account`` names the locations; ``now`` (default:
    the current time) tells complete slices from open ones. Each instance is one run: its open slices get a
    version of their own, so they are read again even when two runs share the same ``now``.
    """

    def __init__(
        self,
        aws: AwsContext,
        account: str,
        regions: list[str],
        window: LookupWindow,
        now: datetime | None = None,
        requests_per_second: float = REQUESTS_PER_SECOND,
    ) -> None:
        if not regions:
            raise ValueError("no region to read")
        self.aws = aws
        self.account = account
        self.regions = list(dict.fromkeys(regions))
        self.window = window
        self.now = _utc(now or datetime.now(UTC))
        self.description = f"CloudTrail LookupEvents ({account}: {', '.join(self.regions)})"
        self._pacer = _Pacer(requests_per_second)
        self._slices: dict[str, Slice] = {}
        self._run = uuid.uuid4().hex

    def _lookup(self, region: str, **params: Any) -> dict[str, Any]:
        self._pacer.wait(region)
        return self.aws.client("cloudtrail", region).lookup_events(**params)  # type: ignore[no-any-return]

    def _check_access(self, region: str) -> None:
        """Fail before anything is read when the identity may not look events up in ``region``."""
        try:
            self._lookup(region, StartTime=self.window.start, EndTime=self.window.end, MaxResults=1)
        except ClientError as exc:
            code = error_code(exc)
            if code in DENIED:
                raise LookupAccessDenied(
                    f"access denied to {PERMISSION} in {region} ({code}): allow {PERMISSION} for this identity "
                    f"(see {POLICY_DOC})"
                ) from exc
            if code not in THROTTLED:  # still throttled: access is not known yet, and each day reports its own
                raise

    def list(self) -> Iterator[LogObject]:
        for region in self.regions:
            self._check_access(region)
        # Day by day across the regions, so that parallel readers work on different regions' quotas.
        per_region = [list(day_slices(self.window, region)) for region in self.regions]
        for days in zip(*per_region, strict=True):
            for day, part in days:
                location = f"{SCHEME}{self.account}/{part.region}/{day}"
                self._slices[location] = part
                yield LogObject(location, 0, self._version(part))

    def _version(self, part: Slice) -> str:
        if part.end <= self.now - SETTLE:
            return f"complete {_iso(part.start)} {_iso(part.end)}"
        return f"open {_iso(part.start)} {_iso(part.end)} run {self._run}"

    def read(self, log: LogObject, max_bytes: int = DEFAULT_MAX_BYTES, typed: bool = False) -> LogFile:
        """The slice's records as dicts (``typed`` is not used: LookupEvents gives one JSON text per event)."""
        part = self._slices.get(log.location)
        if part is None:
            return LogFile(location=log.location, error="not a slice listed by this source")
        records: list[dict[str, Any]] = []
        rejected: list[str] = []
        total = 0
        params: dict[str, Any] = {"StartTime": part.start, "EndTime": part.end, "MaxResults": PAGE_SIZE}
        try:
            while True:
                page = self._lookup(part.region, **params)
                for item in page.get("Events") or []:
                    text = item.get("CloudTrailEvent")
                    total += len(text) if type(text) is str else 0
                    if total > max_bytes:
                        return LogFile(
                            location=log.location,
                            size=total,
                            error=f"{_TRANSIENT}: more than {max_bytes} bytes of events in one day; raise "
                            "--max-file-mb, or ingest the trail's S3 bucket",
                        )
                    record = parse_event(item)
                    if type(record) is dict:
                        records.append(record)
                    else:
                        reason = f"event {str(item.get('EventId'))[:_ID_CHARS]}: {record}"
                        rejected.append(reason)
                        total += len(reason)  # so that even events without text count against the limit
                token = page.get("NextToken")
                if not token:
                    break
                if token == params.get("NextToken"):
                    return LogFile(location=log.location, error=f"{_TRANSIENT}: LookupEvents repeated its NextToken")
                params["NextToken"] = token
        except ClientError as exc:
            return LogFile(location=log.location, size=total, error=self._failure(exc, part))
        except BotoCoreError as exc:
            return LogFile(location=log.location, size=total, error=f"{_TRANSIENT}: {str(exc)[:_REASON_CHARS]}")
        return LogFile(location=log.location, size=total, records=records, rejected=rejected, decompressed_bytes=total)

    def _failure(self, exc: ClientError, part: Slice) -> str:
        code = error_code(exc)
        if code in THROTTLED:
            attempts = int(exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)) + 1
            return (
                f"{_TRANSIENT}: throttled by LookupEvents ({code}) after {attempts} attempts; the next run reads "
                "this day again"
            )
        if code in DENIED:
            return f"{_TRANSIENT}: access denied to {PERMISSION} in {part.region} ({code}); see {POLICY_DOC}"
        return f"{_TRANSIENT}: {str(exc)[:_REASON_CHARS]}"

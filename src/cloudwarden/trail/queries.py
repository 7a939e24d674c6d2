"""The questions people ask of the trail store, as parameterised SQL that streams its results.

Each query returns ``(columns, batches)``: the column names and an iterator of row batches fetched from DuckDB
as they are read, so a large answer is never held in memory at once. Every user value is a parameter;
``LIKE`` patterns escape ``%``, ``_`` and ``\\``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cloudwarden.trail.store import TrailStore

FETCH_ROWS = 1000
DEFAULT_LIMIT = 200
_DURATION = re.compile(r"(\d+)\s*(s|m|h|d|w)")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}

Batches = Iterator[list[tuple[Any, ...]]]
Result = tuple[list[str], Batches]


def parse_duration(text: str) -> timedelta:
    """``30m``, ``24h``, ``7d``, ``2w``, ``90s`` → timedelta."""
    match = _DURATION.fullmatch(text.strip().lower())
    if not match:
        raise ValueError(f"{text!r} is not a duration such as 30m, 24h, 7d or 2w")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def parse_time(text: str) -> datetime:
    """An ISO 8601 date or time (``2026-11-01``, ``2026-11-01T10:00``, ``…Z``, ``…+02:00``) as naive UTC."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ValueError(f"{text!r} is not an ISO 8601 date or time (e.g. 2026-11-01 or 2026-11-01T10:00Z)") from exc
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


@dataclass(frozen=True)
class TimeWindow:
    """Events with ``start <= event_time < end`` (either bound optional; times are UTC)."""

    start: datetime | None = None
    end: datetime | None = None

    @classmethod
    def parse(
        cls, since: str | None = None, from_: str | None = None, to: str | None = None, now: datetime | None = None
    ) -> TimeWindow:
        if since and from_:
            raise ValueError("use --since or --from, not both")
        now = now or datetime.now(UTC).replace(tzinfo=None)
        start = now - parse_duration(since) if since else (parse_time(from_) if from_ else None)
        end = parse_time(to) if to else None
        if start and end and end <= start:
            raise ValueError("--to must be after the start of the window")
        return cls(start, end)

    def sql(self) -> tuple[list[str], list[Any]]:
        where: list[str] = []
        params: list[Any] = []
        if self.start is not None:
            where.append("event_time >= ?")
            params.append(self.start)
        if self.end is not None:
            where.append("event_time < ?")
            params.append(self.end)
        return where, params


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def parse_action(action: str) -> tuple[str | None, str | None]:
    """``iam:AttachUserPolicy`` → (``iam.amazonaws.com``, ``AttachUserPolicy``); ``AttachUserPolicy`` → (None,
    name); ``iam:*`` → (source, None). A source with a dot is taken as it is (``iam.amazonaws.com:…``)."""
    service, sep, name = action.strip().rpartition(":")
    if not sep:
        service, name = "", action.strip()
    source = None
    if service:
        source = service if "." in service else f"{service.lower()}.amazonaws.com"
    return source, (name if name and name != "*" else None)


def _batches(cursor: Any, size: int) -> Batches:
    while True:
        rows = cursor.fetchmany(size)
        if not rows:
            return
        yield rows


def _select(
    store: TrailStore,
    columns: Sequence[str],
    where: list[str],
    params: list[Any],
    window: TimeWindow,
    order: str,
    limit: int,
) -> Result:
    window_where, window_params = window.sql()
    conditions = [*where, *window_where] or ["TRUE"]
    sql = f"SELECT {', '.join(columns)} FROM events WHERE {' AND '.join(conditions)} ORDER BY {order}"  # noqa: S608
    all_params = [*params, *window_params]
    if limit > 0:
        sql += " LIMIT ?"
        all_params.append(limit)
    cursor = store.connection.cursor()
    cursor.execute(sql, all_params)
    return list(columns), _batches(cursor, FETCH_ROWS)


# What each question shows; event_id last so any row can be looked up in full with `sql`.
WHO_COLUMNS = (
    "event_time",
    "principal",
    "principal_type",
    "session_name",
    "event_name",
    "source_ip",
    "user_agent",
    "error_code",
    "aws_region",
    "account_id",
    "event_id",
)
WHAT_COLUMNS = (
    "event_time",
    "event_source",
    "event_name",
    "principal",
    "session_name",
    "aws_region",
    "source_ip",
    "error_code",
    "event_id",
)
TOUCHED_COLUMNS = (
    "event_time",
    "principal",
    "session_name",
    "event_source",
    "event_name",
    "source_ip",
    "error_code",
    "event_id",
)
ERRORS_COLUMNS = (
    "event_time",
    "error_code",
    "principal",
    "session_name",
    "event_source",
    "event_name",
    "source_ip",
    "error_message",
    "event_id",
)
TIMELINE_COLUMNS = (
    "event_time",
    "event_source",
    "event_name",
    "principal",
    "session_name",
    "source_ip",
    "user_agent",
    "error_code",
    "aws_region",
    "event_id",
)
PRINCIPAL_MATCH = (
    "(principal = ? OR principal_arn = ? OR principal_name = ? OR session_name = ? "
    "OR access_key_id = ? OR source_identity = ?)"
)


def who(store: TrailStore, action: str, window: TimeWindow, limit: int = DEFAULT_LIMIT) -> Result:
    """Who called ``action`` (``service:EventName``, ``*`` in the name as a wildcard), newest first."""
    source, name = parse_action(action)
    where: list[str] = []
    params: list[Any] = []
    if source:
        where.append("event_source = ?")
        params.append(source)
    if name and "*" in name:
        where.append("event_name LIKE ? ESCAPE '\\'")
        params.append(escape_like(name).replace("*", "%"))
    elif name:
        where.append("event_name = ?")
        params.append(name)
    if not where:
        raise ValueError("--action needs an event name or a service, e.g. iam:AttachUserPolicy or iam:*")
    return _select(store, WHO_COLUMNS, where, params, window, "event_time DESC, event_id", limit)


def what(store: TrailStore, principal: str, window: TimeWindow, limit: int = DEFAULT_LIMIT) -> Result:
    """What ``principal`` did (user or role name, session name, ARN, access key id, source identity), newest
    first."""
    return _select(store, WHAT_COLUMNS, [PRINCIPAL_MATCH], [principal] * 6, window, "event_time DESC, event_id", limit)


def timeline(store: TrailStore, principal: str, window: TimeWindow, limit: int = DEFAULT_LIMIT) -> Result:
    """Everything ``principal`` did, oldest first, with source IPs and user agents."""
    return _select(store, TIMELINE_COLUMNS, [PRINCIPAL_MATCH], [principal] * 6, window, "event_time, event_id", limit)


def touched(store: TrailStore, resource: str, window: TimeWindow, limit: int = DEFAULT_LIMIT) -> Result:
    """Events whose request parameters, response elements or resources mention ``resource`` (an ARN, a bucket
    name, an instance id…), newest first."""
    if not resource.strip():
        raise ValueError("--resource must not be empty")
    pattern = f"%{escape_like(resource)}%"
    where = [
        "(request_parameters LIKE ? ESCAPE '\\' OR resources LIKE ? ESCAPE '\\' "
        "OR response_elements LIKE ? ESCAPE '\\')"
    ]
    return _select(store, TOUCHED_COLUMNS, where, [pattern] * 3, window, "event_time DESC, event_id", limit)


def errors(store: TrailStore, code: str | None, window: TimeWindow, limit: int = DEFAULT_LIMIT) -> Result:
    """Failed calls, newest first; ``code`` matches any error code containing it, ignoring case
    (``AccessDenied`` finds ``AccessDenied`` and ``AccessDeniedException``)."""
    where = ["error_code IS NOT NULL"]
    params: list[Any] = []
    if code:
        where.append("error_code ILIKE ? ESCAPE '\\'")
        params.append(f"%{escape_like(code)}%")
    return _select(store, ERRORS_COLUMNS, where, params, window, "event_time DESC, event_id", limit)


def run_sql(store: TrailStore, query: str) -> Result:
    """Any query the user writes, on a store opened read-only (without access to files outside it)."""
    if not store.read_only:
        raise ValueError("run_sql needs a store opened read-only")
    cursor = store.connection.cursor()
    cursor.execute(query)
    columns = [d[0] for d in cursor.description or []]
    return columns, _batches(cursor, FETCH_ROWS)

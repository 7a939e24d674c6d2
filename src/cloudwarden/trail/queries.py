"""The questions people ask of the trail, as parameterised SQL that streams its results.

One builder writes each question's SQL for every engine (``engines.py``: DuckDB over the store, DuckDB or Spark
over the Parquet layout), with named parameters in the engine's marker; the answers are the same rows in the same
order. Each query returns ``(columns, batches)``: the column names and an iterator of row batches fetched as they
are read, so a large answer is never held in memory at once. Every user value is a parameter; ``LIKE`` patterns
escape ``%``, ``_`` and the escape character ``!``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cloudwarden.trail.engines import FETCH_ROWS, Batches, DuckDBEngine, Engine, QueryError, Result
from cloudwarden.trail.store import TrailStore

__all__ = ["FETCH_ROWS", "Batches", "QueryError", "Result"]

DEFAULT_LIMIT = 200
_DURATION = re.compile(r"(\d+)\s*(s|m|h|d|w)")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
# The LIKE escape character: one that means the same in DuckDB and Spark string literals (a backslash does not).
LIKE_ESCAPE = "!"


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

    def conditions(self, engine: Engine, params: dict[str, Any]) -> list[str]:
        """SQL conditions for the window in ``engine``'s dialect, adding their values to ``params``. Over the
        Parquet layout they also bound the ``day`` partition, so the engine skips the days outside."""
        where: list[str] = []
        p = engine.marker
        if self.start is not None:
            where.append(f"event_time >= CAST({p}window_start AS TIMESTAMP)")
            params["window_start"] = self.start.isoformat(sep=" ")
            if engine.partitioned:
                where.append(f"day >= {p}window_start_day")
                params["window_start_day"] = self.start.date().isoformat()
        if self.end is not None:
            where.append(f"event_time < CAST({p}window_end AS TIMESTAMP)")
            params["window_end"] = self.end.isoformat(sep=" ")
            if engine.partitioned:
                where.append(f"day <= {p}window_end_day")
                params["window_end_day"] = self.end.date().isoformat()
        return where


def escape_like(text: str) -> str:
    """``text`` as a LIKE pattern that matches only itself (with ``ESCAPE '!'``)."""
    return text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", LIKE_ESCAPE + "%").replace("_", LIKE_ESCAPE + "_")


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


def _engine(source: TrailStore | Engine) -> Engine:
    return DuckDBEngine.over_store(source) if isinstance(source, TrailStore) else source


def _select(
    source: TrailStore | Engine,
    columns: Sequence[str],
    where: list[str],
    params: dict[str, Any],
    window: TimeWindow,
    order: str,
    limit: int,
) -> Result:
    """``where`` holds ``{name}`` placeholders for the parameters in ``params``; they become the engine's markers."""
    engine = _engine(source)
    all_params = dict(params)
    markers = {name: engine.marker + name for name in params}
    conditions = [condition.format_map(markers) for condition in where]
    conditions += window.conditions(engine, all_params)
    sql = f"SELECT {', '.join(columns)} FROM events WHERE {' AND '.join(conditions) or 'TRUE'} ORDER BY {order}"  # noqa: S608
    if limit > 0:
        sql += f" LIMIT {engine.marker}row_limit"
        all_params["row_limit"] = limit
    return engine.execute(sql, all_params)


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
    "(principal = {principal} OR principal_arn = {principal} OR principal_name = {principal} "
    "OR session_name = {principal} OR access_key_id = {principal} OR source_identity = {principal})"
)
_ESCAPE = f"ESCAPE '{LIKE_ESCAPE}'"


def who(source: TrailStore | Engine, action: str, window: TimeWindow, limit: int = DEFAULT_LIMIT) -> Result:
    """Who called ``action`` (``service:EventName``, ``*`` in the name as a wildcard), newest first. ``source``: a
    store, or an engine from ``engines.py``."""
    event_source, name = parse_action(action)
    where: list[str] = []
    params: dict[str, Any] = {}
    if event_source:
        where.append("event_source = {event_source}")
        params["event_source"] = event_source
    if name and "*" in name:
        where.append(f"event_name LIKE {{event_name}} {_ESCAPE}")
        params["event_name"] = escape_like(name).replace("*", "%")
    elif name:
        where.append("event_name = {event_name}")
        params["event_name"] = name
    if not where:
        raise ValueError("--action needs an event name or a service, e.g. iam:AttachUserPolicy or iam:*")
    return _select(source, WHO_COLUMNS, where, params, window, "event_time DESC, event_id", limit)


def what(source: TrailStore | Engine, principal: str, window: TimeWindow, limit: int = DEFAULT_LIMIT) -> Result:
    """What ``principal`` did (user or role name, session name, ARN, access key id, source identity), newest
    first."""
    params = {"principal": principal}
    return _select(source, WHAT_COLUMNS, [PRINCIPAL_MATCH], params, window, "event_time DESC, event_id", limit)


def timeline(source: TrailStore | Engine, principal: str, window: TimeWindow, limit: int = DEFAULT_LIMIT) -> Result:
    """Everything ``principal`` did, oldest first, with source IPs and user agents."""
    params = {"principal": principal}
    return _select(source, TIMELINE_COLUMNS, [PRINCIPAL_MATCH], params, window, "event_time, event_id", limit)


def touched(source: TrailStore | Engine, resource: str, window: TimeWindow, limit: int = DEFAULT_LIMIT) -> Result:
    """Events whose request parameters, response elements or resources mention ``resource`` (an ARN, a bucket
    name, an instance id…), newest first."""
    if not resource.strip():
        raise ValueError("--resource must not be empty")
    where = [
        f"(request_parameters LIKE {{pattern}} {_ESCAPE} OR resources LIKE {{pattern}} {_ESCAPE} "
        f"OR response_elements LIKE {{pattern}} {_ESCAPE})"
    ]
    params = {"pattern": f"%{escape_like(resource)}%"}
    return _select(source, TOUCHED_COLUMNS, where, params, window, "event_time DESC, event_id", limit)


def errors(source: TrailStore | Engine, code: str | None, window: TimeWindow, limit: int = DEFAULT_LIMIT) -> Result:
    """Failed calls, newest first; ``code`` matches any error code containing it, ignoring case
    (``AccessDenied`` finds ``AccessDenied`` and ``AccessDeniedException``)."""
    where = ["error_code IS NOT NULL"]
    params: dict[str, Any] = {}
    if code:
        where.append(f"error_code ILIKE {{code}} {_ESCAPE}")
        params["code"] = f"%{escape_like(code)}%"
    return _select(source, ERRORS_COLUMNS, where, params, window, "event_time DESC, event_id", limit)


def run_sql(source: TrailStore | Engine, query: str) -> Result:
    """Any query the user writes: on a store opened read-only (without access to files outside it), or on an
    engine over the Parquet layout (one read-only query; see ``SparkEngine`` for Spark's caveats)."""
    if isinstance(source, TrailStore) and not source.read_only:
        raise ValueError("run_sql needs a store opened read-only")
    return _engine(source).run_user_query(query)

"""The historical hunt in SQL: every rule over the trail store (DuckDB) or its Parquet layout (DuckDB or Spark),
as one query, yielding the same (rule, event) matches and OCSF alerts as the streaming matcher.

The engines are the trail package's (:mod:`cloudwarden.trail.engines`), so the store, the Parquet sandbox and the
one SparkSession are the ones ``cloudwarden trail`` uses. Rules SQL cannot evaluate exactly are returned as
problems by :meth:`SQLHunt.prepare`, never dropped.

An alert carries its event as evidence; here the event is rebuilt from the stored columns, so it holds only what the
store keeps: eventID, eventTime (as the stored timestamp, ``…Z``), eventSource, eventName, awsRegion,
recipientAccountId, sourceIPAddress, userAgent, errorCode, errorMessage, readOnly, eventType, and the parsed
requestParameters, responseElements, additionalEventData, resources and userIdentity. Fields the store does not
keep (eventVersion, requestID, tlsDetails, …) are missing, and values past the store's bounds (64 KiB of text,
1 MiB of each JSON field) are as truncated there. The alert's uid (rule id + eventID) is the streaming lanes', so
alerts from both evaluators dedupe against each other.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from cloudwarden.detect.alerts import alerts_for
from cloudwarden.detect.sigma_rules import DetectionRule, RuleProblem
from cloudwarden.detect.sql import SQLRule, compile_rules
from cloudwarden.detect.sql_fields import BOOLEAN_COLUMNS, JSON_COLUMNS, TEXT_COLUMNS
from cloudwarden.trail.engines import Engine
from cloudwarden.trail.queries import TimeWindow

_RULE_COLUMN = "cw_rule"
_FIELDS = {column: name for name, column in {**TEXT_COLUMNS, **BOOLEAN_COLUMNS}.items()}
_JSON_FIELDS = {column: name for name, column in JSON_COLUMNS.items()}
SELECTED = ("event_time", *_FIELDS, *_JSON_FIELDS)


def dialect_of(engine: Engine) -> str:
    """``spark`` for the trail's SparkEngine, else ``duckdb``."""
    from cloudwarden.trail.engines import SparkEngine

    return "spark" if isinstance(engine, SparkEngine) else "duckdb"


def record_from_row(row: dict[str, Any]) -> dict[str, Any]:
    """The CloudTrail record as far as the stored columns hold it (see the module's docstring for what is lost)."""
    record: dict[str, Any] = {}
    when = row.get("event_time")
    if isinstance(when, datetime):
        fraction = f".{when.microsecond:06d}".rstrip("0") if when.microsecond else ""
        record["eventTime"] = when.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"
    for column, name in _FIELDS.items():
        if row.get(column) is not None:
            record[name] = row[column]
    for column, name in _JSON_FIELDS.items():
        text = row.get(column)
        if text is not None:
            record[name] = orjson.loads(text)
    return record


@dataclass
class SQLHunt:
    """Rules compiled for one engine; :meth:`matches` runs them all in one query."""

    engine: Engine
    rules: list[SQLRule]
    problems: list[RuleProblem]

    @classmethod
    def prepare(cls, engine: Engine, rules: Iterable[DetectionRule]) -> SQLHunt:
        compiled, problems = compile_rules(rules, dialect_of(engine))
        return cls(engine, compiled, problems)

    def query(self, window: TimeWindow | None = None) -> tuple[str, dict[str, Any]]:
        """The one SQL text (and its parameters) that finds every match, ordered by time, event id and rule."""
        params: dict[str, Any] = {}
        conditions = (window or TimeWindow()).conditions(self.engine, params)
        columns = ", ".join(SELECTED)
        branches = []
        for index, compiled in enumerate(self.rules):
            params.update(compiled.params)
            where = " AND ".join([*conditions, compiled.where])
            branches.append(
                f"SELECT {index} AS {_RULE_COLUMN}, {columns} FROM events WHERE {where}"  # noqa: S608 (generated)
            )
        if not branches:
            return "", params
        union = "\nUNION ALL\n".join(branches)
        return (
            f"SELECT * FROM ({union}) AS matches ORDER BY event_time, event_id, {_RULE_COLUMN}",  # noqa: S608
            params,
        )

    def matches(self, window: TimeWindow | None = None) -> Iterator[tuple[DetectionRule, dict[str, Any]]]:
        """Every (rule, rebuilt record) the rules match within ``window``. Raises the engine's QueryError."""
        for row in self._rows(window):
            yield self.rules[row[_RULE_COLUMN]].rule, record_from_row(row)

    def matched_events(self, window: TimeWindow | None = None) -> Iterator[tuple[dict[str, Any], list[DetectionRule]]]:
        """Each matched event (rebuilt once) with every rule it matches, in time order (rows come ordered by time,
        event id, then rule)."""
        event: dict[str, Any] | None = None
        event_id: Any = None
        rules: list[DetectionRule] = []
        for row in self._rows(window):
            rule = self.rules[row[_RULE_COLUMN]].rule
            if event is not None and row["event_id"] == event_id:
                rules.append(rule)
                continue
            if event is not None:
                yield event, rules
            event, event_id, rules = record_from_row(row), row["event_id"], [rule]
        if event is not None:
            yield event, rules

    def _rows(self, window: TimeWindow | None) -> Iterator[dict[str, Any]]:
        sql, params = self.query(window)
        if not sql:
            return
        columns, batches = self.engine.execute(sql, params)
        for batch in batches:
            for values in batch:
                yield dict(zip(columns, values, strict=True))

    def alerts(self, window: TimeWindow | None = None) -> Iterator[dict[str, Any]]:
        """One OCSF Detection Finding per match, as the streaming lanes make them (lane ``hunt``); rules that only
        feed a correlation (``generates`` False) match but raise no alert, as in :class:`Detector`."""
        for rule, record in self.matches(window):
            yield from alerts_for([rule], record, "hunt")

"""Sigma correlation rules (``event_count``, ``value_count``, ``temporal``, ``temporal_ordered``) over CloudTrail.

A correlation counts the events its base rules match, per ``group-by`` key, inside a sliding window of
``timespan`` on **eventTime** (not on arrival), so a window spans log files and tolerates events delivered out of
order. When a window containing a new event meets the condition, it raises one alert (an OCSF Detection Finding
with the contributing events as evidence); the events of that window are then consumed, so one burst raises one
alert per window, not one per event past the threshold.

State lives in a :class:`WindowStore`: the slow lane keeps it in its checkpoints SQLite file and commits it in the
same transaction as the file's alerts and done-mark (:meth:`cloudwarden.detect.checkpoints.Checkpoints.record`),
so a kill at any point neither loses nor repeats a correlation alert; the historical hunt keeps it in memory
(:class:`MemoryWindows`). An alert's uid is the correlation id, a digest of the group key and the eventID that
completed the condition: a replay raises the same uid, which the checkpoints' ``seen`` table drops.

Everything in an event is attacker-controlled: group-by and field values are bounded (long ones are replaced by
their SHA-256), memory is bounded (groups per rule, events per group, evidence per group; the oldest go first),
and a record with odd types never raises.

What Sigma's model allows but this engine does not run (``lt``/``lte``/``neq``, extended conditions, chained
correlations, the value_sum/avg/percentile/median types) is reported when the rules load, with the reason.
"""

from __future__ import annotations

import bisect
import hashlib
from collections import Counter, OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

import orjson
from sigma.correlations import (
    SigmaCorrelationCondition,
    SigmaCorrelationConditionOperator,
    SigmaCorrelationRule,
    SigmaCorrelationType,
)

from cloudwarden.detect.alerts import to_detection_finding
from cloudwarden.detect.index import RuleIndex
from cloudwarden.detect.matcher import field_values
from cloudwarden.detect.sigma_rules import DetectionRule, PendingCorrelation, RuleProblem, detection_rule

MAX_GROUPS_PER_RULE = 10_000  # live group keys per correlation; the least recently active go first
MAX_EVENTS_PER_GROUP = 1_000  # events remembered per group; the oldest go first
MAX_EVIDENCE = 10  # events kept whole per group (and shown per alert)
MAX_EVIDENCE_BYTES = 64 * 1024  # an event larger than this is kept as its identifying fields only
MAX_VALUE_CHARS = 256  # a group-by or counted value longer than this is replaced by its SHA-256
MAX_TIMESPAN_SECONDS = 31 * 86_400
LATENESS_MS = 3_600_000  # how far out of order (behind a group's newest event) an event may still arrive
SUPPORTED_TYPES = {
    SigmaCorrelationType.EVENT_COUNT: "event_count",
    SigmaCorrelationType.VALUE_COUNT: "value_count",
    SigmaCorrelationType.TEMPORAL: "temporal",
    SigmaCorrelationType.TEMPORAL_ORDERED: "temporal_ordered",
}
_RISING = {
    SigmaCorrelationConditionOperator.GT: "gt",
    SigmaCorrelationConditionOperator.GTE: "gte",
    SigmaCorrelationConditionOperator.EQ: "eq",
}
_EVIDENCE_FIELDS = ("eventVersion", "eventID", "eventTime", "eventSource", "eventName", "awsRegion",
                    "sourceIPAddress", "recipientAccountId", "errorCode", "userIdentity")  # fmt: skip


class Unsupported(Exception):
    """A correlation rule this engine cannot run; the message says why."""


@dataclass(frozen=True)
class CorrelationRule:
    """One compiled correlation. ``rules`` are its base rules in the order written; ``fields[i]`` the group-by
    field paths for events of ``rules[i]`` (aliases applied)."""

    id: str
    kind: str  # event_count, value_count, temporal, temporal_ordered
    rules: tuple[DetectionRule, ...]
    group_by: tuple[str, ...]  # the names as written (aliases or fields)
    fields: tuple[tuple[tuple[str, ...], ...], ...]
    value_field: tuple[str, ...] | None  # value_count's field
    timespan_ms: int
    op: str  # gt, gte, eq
    count: int
    generate: bool
    header: DetectionRule  # the correlation's own metadata, as alerts carry it
    sigma: SigmaCorrelationRule

    def satisfied(self, metric: int) -> bool:
        if self.op == "gt":
            return metric > self.count
        if self.op == "gte":
            return metric >= self.count
        return metric == self.count


def compile_correlations(
    rules: list[DetectionRule], pending: Sequence[PendingCorrelation]
) -> tuple[list[DetectionRule], list[CorrelationRule], list[RuleProblem]]:
    """Resolve each correlation's references (by name or id: its own file first, then every loaded rule) and
    compile it. Returns the rules with ``generates`` cleared on every base rule that only correlations with
    ``generate: false`` (Sigma's default) refer to, the correlations, and the ones that cannot run, with why."""
    compiled: list[CorrelationRule] = []
    problems: list[RuleProblem] = []
    correlation_refs = {ref for sigma, _ in pending for ref in (str(sigma.id), sigma.name) if ref and ref != "None"}
    for sigma, source in pending:
        try:
            compiled.append(_compile(sigma, source, rules, correlation_refs))
        except Unsupported as exc:
            problems.append(RuleProblem(source, f"{sigma.title or sigma.id}: {exc}"))
    generating = {rule.id for correlation in compiled if correlation.generate for rule in correlation.rules}
    silenced = {rule.id for correlation in compiled for rule in correlation.rules} - generating
    if silenced:
        rules = [replace(rule, generates=False) if rule.id in silenced else rule for rule in rules]
        by_id = {rule.id: rule for rule in rules}
        compiled = [replace(c, rules=tuple(by_id[r.id] for r in c.rules)) for c in compiled]
    return rules, compiled, problems


def _resolve(reference: str, source: str, rules: list[DetectionRule], correlation_refs: set[str]) -> DetectionRule:
    def named(rule: DetectionRule) -> bool:
        return reference in (str(rule.sigma.id), rule.sigma.name)

    found = [rule for rule in rules if rule.source == source and named(rule)] or [r for r in rules if named(r)]
    if len(found) == 1:
        return found[0]
    if found:
        raise Unsupported(f"rule reference {reference!r} names {len(found)} loaded rules; use the rule's id")
    if reference in correlation_refs:
        raise Unsupported(f"refers to correlation {reference!r}: chained correlations are not supported")
    raise Unsupported(f"refers to {reference!r}, which is not a loaded rule (not found, or it did not load)")


def _compile(
    sigma: SigmaCorrelationRule, source: str, rules: list[DetectionRule], correlation_refs: set[str]
) -> CorrelationRule:
    kind = SUPPORTED_TYPES.get(sigma.type)
    if kind is None:
        raise Unsupported(f"correlation type {sigma.type.name.lower()} is not supported "
                          f"(supported: {', '.join(SUPPORTED_TYPES.values())})")
    condition = sigma.condition
    if not isinstance(condition, SigmaCorrelationCondition):
        raise Unsupported("extended (boolean) correlation conditions are not supported")
    op = _RISING.get(condition.op)
    if op is None:
        raise Unsupported(f"condition {condition.op.name.lower()} is not supported: alerts are raised when a count "
                          "rises to its threshold, and a stream never knows a window's final count (use gt, gte, eq)")
    if not isinstance(condition.count, int) or condition.count < 1:
        raise Unsupported(f"condition count {condition.count!r} must be a whole number of at least 1")
    if condition.count > MAX_EVENTS_PER_GROUP:
        raise Unsupported(f"condition count {condition.count} is above the {MAX_EVENTS_PER_GROUP} events a group "
                          "remembers")
    if sigma.timespan.seconds > MAX_TIMESPAN_SECONDS:
        raise Unsupported(f"timespan {sigma.timespan.spec} is longer than {MAX_TIMESPAN_SECONDS // 86_400} days")
    references = [ref.reference for ref in sigma.rules or []]
    if len(set(references)) != len(references) or not references:
        raise Unsupported("rules must name at least one rule, each once")
    base = tuple(_resolve(ref, source, rules, correlation_refs) for ref in references)
    value_field: tuple[str, ...] | None = None
    if kind == "value_count":
        if not isinstance(condition.fieldref, str) or not condition.fieldref:
            raise Unsupported("value_count needs one field name in condition.field")
        value_field = tuple(condition.fieldref.split("."))
    elif condition.fieldref is not None:
        raise Unsupported(f"condition.field is only meaningful for value_count, not {kind}")
    if kind in ("temporal", "temporal_ordered") and condition.count > len(base):
        raise Unsupported(f"{kind} counts distinct rules: {condition.count} is more than its {len(base)} rules")
    if kind == "temporal_ordered" and (op, condition.count) != ("gte", len(base)):
        raise Unsupported("temporal_ordered supports only its default condition (every rule, in order)")
    group_by = tuple(sigma.group_by or ())
    aliases = {alias.alias: {ref.reference: name for ref, name in alias.mapping.items()} for alias in sigma.aliases}
    fields = []
    for reference in references:
        paths = []
        for name in group_by:
            mapped = aliases[name].get(reference) if name in aliases else name
            if not mapped:
                raise Unsupported(f"alias {name!r} names no field for rule {reference!r}")
            paths.append(tuple(str(mapped).split(".")))
        fields.append(tuple(paths))
    header = detection_rule(sigma, source, _never)  # the correlation's metadata; alerts read only its fields
    return CorrelationRule(
        id=header.id, kind=kind, rules=base, group_by=group_by, fields=tuple(fields), value_field=value_field,
        timespan_ms=sigma.timespan.seconds * 1000, op=op, count=condition.count, generate=bool(sigma.generate),
        header=header, sigma=sigma,
    )  # fmt: skip


def _never(_: Any) -> bool:
    return False


# --- attacker-controlled values -------------------------------------------------------------------------------


def bounded_text(value: Any) -> str | None:
    """A value as bounded text (JSON spelling for non-strings, SHA-256 when long); None when absent or null."""
    if value is None:
        return None
    if type(value) is str:
        text = value
    else:
        try:
            text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
        except (TypeError, orjson.JSONEncodeError):
            text = repr(type(value))
    if len(text) > MAX_VALUE_CHARS:
        return "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return text


def _path_value(record: dict[str, Any], path: tuple[str, ...]) -> str | None:
    values = field_values(record, path)
    if not values:
        return None
    return bounded_text(values[0] if len(values) == 1 else values)


def event_time_ms(record: dict[str, Any]) -> int | None:
    """The record's eventTime in epoch milliseconds; None when it has none that reads as a time."""
    text = record.get("eventTime")
    if type(text) is not str or len(text) > 40:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        return None  # CloudTrail always writes UTC with a Z; a naive time would depend on this machine's zone
    return int(when.timestamp() * 1000)


def _event_id(record: dict[str, Any]) -> str:
    event_id = record.get("eventID")
    if type(event_id) is str and 0 < len(event_id) <= MAX_VALUE_CHARS:
        return event_id
    return "sha256:" + hashlib.sha256(orjson.dumps(record, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _evidence(record: dict[str, Any]) -> dict[str, Any]:
    if len(orjson.dumps(record)) <= MAX_EVIDENCE_BYTES:
        return record
    kept = {name: record[name] for name in _EVIDENCE_FIELDS if name in record}
    if len(orjson.dumps(kept)) > MAX_EVIDENCE_BYTES:
        kept = {name: bounded_text(record[name]) for name in _EVIDENCE_FIELDS if name in record}
    return kept | {"cloudwardenTruncated": True}


# --- window state ---------------------------------------------------------------------------------------------


@dataclass
class GroupWindow:
    """One group's recent events: ``events`` are ``[time_ms, event_id, rule_index, value]`` sorted by time;
    events at or before ``consumed_until`` belonged to an alert already raised and count no more."""

    events: list[list[Any]] = field(default_factory=list)
    consumed_until: int | None = None
    evidence: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def last_time(self) -> int:
        return max(self.events[-1][0] if self.events else 0, self.consumed_until or 0)

    def dump(self) -> bytes:
        return orjson.dumps({"events": self.events, "consumed_until": self.consumed_until, "evidence": self.evidence})

    @classmethod
    def load(cls, blob: bytes) -> GroupWindow:
        data = orjson.loads(blob)
        return cls(data["events"], data["consumed_until"], data["evidence"])


# (correlation id, group key, last event time, state): one row of window state to write.
WindowChange = tuple[str, str, int, bytes]


class WindowStore(Protocol):
    def load_windows(self, rule: str, groups: Sequence[str]) -> dict[str, bytes]:
        """The stored state of each of ``groups`` of correlation ``rule`` that has any."""
        ...


class MemoryWindows:
    """Window state in memory, for a historical hunt: at most ``max_groups`` per correlation, the least recently
    written forgotten first."""

    def __init__(self, max_groups: int = MAX_GROUPS_PER_RULE) -> None:
        self.max_groups = max_groups
        self._rules: dict[str, OrderedDict[str, bytes]] = {}

    def load_windows(self, rule: str, groups: Sequence[str]) -> dict[str, bytes]:
        held = self._rules.get(rule, OrderedDict())
        return {group: held[group] for group in groups if group in held}

    def apply(self, changes: Iterable[WindowChange]) -> None:
        for rule, group, _, state in changes:
            held = self._rules.setdefault(rule, OrderedDict())
            held[group] = state
            held.move_to_end(group)
            while len(held) > self.max_groups:
                held.popitem(last=False)

    def groups(self, rule: str) -> int:
        return len(self._rules.get(rule, ()))


@dataclass
class WindowRun:
    """What one batch of records did: the alerts it raised, the window state to store, and how many records a
    correlation's rule matched but that carry no readable eventTime (not correlated, reported by the caller)."""

    alerts: list[dict[str, Any]] = field(default_factory=list)
    changes: list[WindowChange] = field(default_factory=list)
    untimed: int = 0


class Correlator:
    """Evaluates every correlation over batches of records (one log file, or a hunt's buffered records)."""

    def __init__(self, correlations: Sequence[CorrelationRule]) -> None:
        self.correlations = list(correlations)
        base = {rule.id: rule for correlation in self.correlations for rule in correlation.rules}
        self._index = RuleIndex(base.values())
        self._order = {rule.id: position for position, rule in enumerate(self._index.rules)}
        self._uses: dict[str, list[tuple[CorrelationRule, int]]] = {}
        for correlation in self.correlations:
            for position, rule in enumerate(correlation.rules):
                self._uses.setdefault(rule.id, []).append((correlation, position))

    def counts(self, rule: DetectionRule) -> bool:
        """Whether some correlation counts the events ``rule`` matches."""
        return rule.id in self._uses

    def run(self, records: Iterable[Any], store: WindowStore, lane: str) -> WindowRun:
        """Add ``records`` to their windows (read from ``store``, in eventTime order) and raise the alerts whose
        conditions they complete. Nothing is written: the caller stores ``changes`` (with the alerts, at once)."""
        return self.run_matched(((record, self._index.matches(record)) for record in records), store, lane)

    def run_matched(self, matched: Iterable[tuple[Any, Sequence[DetectionRule]]], store: WindowStore,
                    lane: str) -> WindowRun:
        """:meth:`run` over (record, the rules it matches) pairs a caller matched already (e.g. against all
        rules: those no correlation counts are passed over)."""
        result = WindowRun()
        arrivals: list[tuple[int, str, CorrelationRule, int, str, str | None, dict[str, Any]]] = []
        uses, order = self._uses, self._order
        for record, rules in matched:
            mine = [rule for rule in rules if rule.id in uses]
            if len(mine) > 1:  # in this index's order, as run() meets them: ties in time keep their order
                mine.sort(key=lambda rule: order[rule.id])
            for rule in mine:
                when = event_time_ms(record)
                if when is None:
                    result.untimed += 1
                    continue
                event_id = _event_id(record)
                for correlation, position in self._uses[rule.id]:
                    key = orjson.dumps([_path_value(record, path) for path in correlation.fields[position]]).decode()
                    value = _path_value(record, correlation.value_field) if correlation.value_field else None
                    arrivals.append((when, event_id, correlation, position, key, value, record))
        arrivals.sort(key=lambda arrival: (arrival[0], arrival[1]))
        windows: dict[tuple[str, str], GroupWindow] = {}
        for correlation in self.correlations:
            keys = sorted({a[4] for a in arrivals if a[2] is correlation})
            if keys:
                for key, blob in store.load_windows(correlation.id, keys).items():
                    windows[(correlation.id, key)] = GroupWindow.load(blob)
        touched: dict[tuple[str, str], GroupWindow] = {}
        for when, event_id, correlation, position, key, value, record in arrivals:
            window = windows.setdefault((correlation.id, key), GroupWindow())
            touched[(correlation.id, key)] = window
            alert = _add(correlation, window, [when, event_id, position, value], record, key, lane)
            if alert is not None:
                result.alerts.append(alert)
        result.changes = [(rule, key, window.last_time, window.dump()) for (rule, key), window in touched.items()]
        return result


def _add(correlation: CorrelationRule, window: GroupWindow, entry: list[Any], record: dict[str, Any], key: str,
         lane: str) -> dict[str, Any] | None:
    """Add one event to its group's window; the alert when a window holding it now meets the condition."""
    when, event_id, position = entry[0], entry[1], entry[2]
    if window.consumed_until is not None and when <= window.consumed_until:
        return None  # part of a window that already alerted
    events = window.events
    if any(e[1] == event_id and e[2] == position for e in events):
        return None  # the same event again (an overlapping or replayed file)
    bisect.insort(events, entry, key=lambda e: (e[0], e[1]))
    window.evidence[event_id] = _evidence(record)
    horizon = events[-1][0] - correlation.timespan_ms - LATENESS_MS
    while events and (events[0][0] < horizon or len(events) > MAX_EVENTS_PER_GROUP):
        events.pop(0)
    found = _window_meeting_condition(correlation, events, when)
    if found is None:
        _trim_evidence(window)
        return None
    start, end = found
    members = events[start:end]
    window.consumed_until = members[0][0] + correlation.timespan_ms
    evidence = [window.evidence.get(e[1]) for e in members if e[1] != event_id]
    alert = _finding(correlation, record, [e for e in evidence if e is not None], members, key, lane)
    window.events = [e for e in events if e[0] > window.consumed_until]
    _trim_evidence(window)
    return alert


def _trim_evidence(window: GroupWindow) -> None:
    """Keep whole events only for the newest few the window still holds."""
    keep = {e[1] for e in window.events[-MAX_EVIDENCE:]}
    window.evidence = {event_id: event for event_id, event in window.evidence.items() if event_id in keep}


def _window_meeting_condition(correlation: CorrelationRule, events: list[list[Any]], when: int
                              ) -> tuple[int, int] | None:
    """The first window ``events[start:end]`` (all within one timespan, starting at an event, containing time
    ``when``) that meets the condition; None when there is none. Linear in the events (two pointers)."""
    span = correlation.timespan_ms
    times = [e[0] for e in events]
    first = bisect.bisect_left(times, when - span)
    last = bisect.bisect_right(times, when)
    counts: Counter[Any] = Counter()
    end = first
    for start in range(first, last):
        while end < len(events) and times[end] <= times[start] + span:
            counts[_counted(correlation, events[end])] += 1
            end += 1
        if correlation.kind == "temporal_ordered":
            met = _in_order(correlation, events[start:end])
        else:
            met = correlation.satisfied(_metric(correlation, counts, end - start))
        if met:
            return start, end
        member = _counted(correlation, events[start])
        counts[member] -= 1
        if counts[member] == 0:
            del counts[member]
    return None


def _counted(correlation: CorrelationRule, entry: list[Any]) -> Any:
    return entry[3] if correlation.kind == "value_count" else entry[2]


def _metric(correlation: CorrelationRule, counts: Counter[Any], events: int) -> int:
    if correlation.kind == "event_count":
        return events
    if correlation.kind == "value_count":
        return len(counts) - (None in counts)  # an event without the field adds no value
    return len(counts)  # temporal: distinct rules


def _in_order(correlation: CorrelationRule, members: list[list[Any]]) -> bool:
    wanted = 0
    for entry in members:
        if entry[2] == wanted:
            wanted += 1
            if wanted == len(correlation.rules):
                return True
    return False


def _finding(correlation: CorrelationRule, completing: dict[str, Any], others: list[dict[str, Any]],
             members: list[list[Any]], key: str, lane: str) -> dict[str, Any]:
    """The OCSF Detection Finding for a correlation: the completing event first in ``evidences``, then up to
    ``MAX_EVIDENCE - 1`` other contributing events in time order; the group and counts under ``unmapped``."""
    completing = _evidence(completing)  # the alert's actor and API fields come from it too: bounded alike
    alert = to_detection_finding(correlation.header, completing, lane)
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    alert["finding_info"] = {**alert["finding_info"], "uid": f"{correlation.id}:{digest}:{_event_id(completing)}",
                             "types": [*alert["finding_info"]["types"], "Correlation"]}
    alert["evidences"] = [{"data": completing}, *({"data": event} for event in others[-(MAX_EVIDENCE - 1):])]
    values = orjson.loads(key)
    alert["unmapped"] = {
        **alert["unmapped"],
        "correlation": {
            "type": correlation.kind,
            "group": dict(zip(correlation.group_by, values, strict=True)),
            "timespan_seconds": correlation.timespan_ms // 1000,
            "condition": {correlation.op: correlation.count, **({"field": ".".join(correlation.value_field)}
                                                                if correlation.value_field else {})},
            "events": len(members),
            "values": len({e[3] for e in members} - {None}) if correlation.value_field else None,
            "rules": [correlation.rules[i].title for i in sorted({e[2] for e in members})],
            "event_ids": [e[1] for e in members][:100],
            "first_time": members[0][0],
            "last_time": members[-1][0],
        },
    }
    return alert

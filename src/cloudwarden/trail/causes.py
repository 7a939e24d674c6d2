"""From a failed finding to the CloudTrail events that made it so: who, when, from where, with what.

The map from rules to causing events is data (``causes.yaml``): for each rule (or glob of rules), the CloudTrail
event names that can introduce the failing state and the JSON paths in ``requestParameters`` /
``responseElements`` that name the resource. Matching runs as one DuckDB query over the trail store: the wanted
(finding, event, path, identifier) rows go in as an Arrow table, so every value and every JSON path is data,
never SQL text.

Callers: ``causes_for_findings`` (a scan's FAIL findings), ``attach_causes`` (fill ``ScanResult.causes`` from a
store file; never raises for a missing or unreadable store), ``why`` (``cloudwarden trail why``).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import yaml

from cloudwarden.findings.model import Finding, Status
from cloudwarden.findings.scan import ScanResult

CAUSES_FILE = "causes.yaml"
SCOPES = ("resource", "region", "account")
# requestParameters.a.b[0].c: a dotted path of plain keys with optional list indexes.
_PATH = re.compile(r"(requestParameters|responseElements)((?:\.[A-Za-z_][A-Za-z0-9_]*(?:\[\d+\])?)+)")
_UID = re.compile(r"[0-9a-f]{32}")
MAX_TARGET = 2048
GLOBAL_REGIONS = ("", "global")


class CausesError(ValueError):
    """``causes.yaml`` (or a findings file given to ``why``) is malformed; the message names the entry."""


@dataclass(frozen=True)
class CauseRule:
    """One entry of ``causes.yaml``: these rules can be made to fail by these events."""

    rules: tuple[str, ...]
    service: str
    event_source: str
    scope: str
    # event name → ((side, JSON path), …); side is "request" or "response"
    events: Mapping[str, tuple[tuple[str, str], ...]]
    operations: Mapping[str, str]

    def covers(self, rule_id: str) -> bool:
        return any(fnmatch.fnmatchcase(rule_id, pattern) for pattern in self.rules)

    def operation(self, event_name: str) -> str:
        """The botocore operation behind a CloudTrail event name."""
        return self.operations.get(event_name, event_name)


@dataclass(frozen=True)
class Cause:
    """One CloudTrail event that introduced (or may have introduced) a finding's failing state."""

    event_time: datetime
    principal: str | None
    principal_type: str | None
    session_name: str | None
    source_ip: str | None
    user_agent: str | None
    event_source: str
    event_name: str
    aws_region: str | None
    account_id: str | None
    event_id: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the time as ISO 8601 UTC with a ``Z``."""
        data = asdict(self)
        data["event_time"] = self.event_time.strftime("%Y-%m-%dT%H:%M:%SZ")
        return data


CAUSE_COLUMNS = tuple(Cause.__dataclass_fields__)


@dataclass(frozen=True)
class Target:
    """What matching needs to know about a finding (built from a Finding or from a JSON output entry)."""

    uid: str
    rule_id: str
    account_id: str
    region: str
    resource_id: str
    resource_arn: str
    observed_at: datetime | None = None  # naive UTC

    @property
    def identifiers(self) -> tuple[str, ...]:
        """The values an event may name the resource by: id, ARN, and the ARN's last component."""
        values = [self.resource_id, self.resource_arn]
        if self.resource_arn:
            values.append(re.split(r"[:/]", self.resource_arn)[-1])
        return tuple(dict.fromkeys(v for v in values if v))

    @classmethod
    def of(cls, finding: Finding) -> Target:
        observed = finding.observed_at
        if observed is not None and observed.tzinfo is not None:
            observed = observed.astimezone(UTC).replace(tzinfo=None)
        return cls(
            finding.uid,
            finding.rule.id,
            finding.account_id,
            finding.region,
            finding.resource_id,
            finding.resource_arn,
            observed,
        )


def _parse_path(text: Any, where: str) -> tuple[str, str]:
    match = _PATH.fullmatch(text) if isinstance(text, str) else None
    if not match:
        raise CausesError(f"{where}: {text!r} is not a path such as requestParameters.groupId")
    side = "request" if match.group(1) == "requestParameters" else "response"
    return side, "$" + match.group(2)


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise CausesError(f"{where} must be a non-empty list of strings")
    return tuple(value)


def parse_causes(data: Any, origin: str = CAUSES_FILE) -> tuple[CauseRule, ...]:
    """Validate the parsed YAML; a malformed entry raises :class:`CausesError` naming it."""
    if not isinstance(data, dict) or not isinstance(data.get("causes"), list):
        raise CausesError(f"{origin}: expected a mapping with a list under 'causes'")
    entries: list[CauseRule] = []
    for index, entry in enumerate(data["causes"]):
        where = f"{origin}: causes[{index}]"
        if not isinstance(entry, dict):
            raise CausesError(f"{where} is not a mapping")
        unknown = set(entry) - {"rules", "service", "event_source", "scope", "events", "operations"}
        if unknown:
            raise CausesError(f"{where} has unknown keys {sorted(unknown)}")
        rules = _strings(entry.get("rules"), f"{where}.rules")
        where = f"{origin}: causes[{index}] ({', '.join(rules)})"
        service, source = entry.get("service"), entry.get("event_source")
        if not isinstance(service, str) or not service:
            raise CausesError(f"{where}: 'service' must be a botocore service name")
        if not isinstance(source, str) or not source.endswith(".amazonaws.com"):
            raise CausesError(f"{where}: 'event_source' must be a CloudTrail eventSource such as ec2.amazonaws.com")
        scope = entry.get("scope", "resource")
        if scope not in SCOPES:
            raise CausesError(f"{where}: 'scope' must be one of {', '.join(SCOPES)}")
        events = entry.get("events")
        if not isinstance(events, dict) or not events:
            raise CausesError(f"{where}: 'events' must map event names to lists of paths")
        parsed: dict[str, tuple[tuple[str, str], ...]] = {}
        for name, paths in events.items():
            if not isinstance(name, str) or not name.isalnum():
                raise CausesError(f"{where}: {name!r} is not an event name")
            if not isinstance(paths, list):
                raise CausesError(f"{where}: the paths of {name} must be a list")
            if (scope == "resource") != bool(paths):
                raise CausesError(f"{where}: {name} needs paths with scope resource, and none otherwise")
            parsed[name] = tuple(_parse_path(path, f"{where}: {name}") for path in paths)
        operations = entry.get("operations") or {}
        if not isinstance(operations, dict) or not all(
            isinstance(k, str) and k in parsed and isinstance(v, str) for k, v in operations.items()
        ):
            raise CausesError(f"{where}: 'operations' must map some of its event names to operation names")
        entries.append(CauseRule(rules, service, source, scope, parsed, operations))
    return tuple(entries)


@lru_cache(maxsize=1)
def load_causes() -> tuple[CauseRule, ...]:
    """The bundled map, parsed and validated once per process."""
    text = resources.files(__package__).joinpath(CAUSES_FILE).read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CausesError(f"{CAUSES_FILE} is not valid YAML: {exc}") from exc
    return parse_causes(data)


def rules_for(rule_id: str) -> list[CauseRule]:
    return [entry for entry in load_causes() if entry.covers(rule_id)]


_WANTED_SCHEMA = pa.schema(
    [
        ("uid", pa.string()),
        ("event_source", pa.string()),
        ("event_name", pa.string()),
        ("side", pa.string()),  # request / response / NULL (scope region or account)
        ("path", pa.string()),
        ("identifier", pa.string()),
        ("account_id", pa.string()),
        ("region", pa.string()),  # NULL: any region
        ("observed_at", pa.timestamp("us")),
    ]
)

# The wanted rows meet the events two ways: scope resource, by the value at a JSON path (extracted once per event
# and path, then an equi-join on the value, so many findings cost one pass); scope region/account, by account and
# region alone. The JSON path is a column of the wanted table, i.e. data; json_valid guards a truncated field.
_MATCH_SQL = f"""
WITH paths AS (
  SELECT DISTINCT event_source, event_name, side, path FROM cause_wanted WHERE side IS NOT NULL
), valued AS (
  SELECT e.event_id, e.event_source, e.event_name, e.account_id, e.aws_region, e.event_time, p.side, p.path,
    CASE WHEN p.side = 'request' THEN
      CASE WHEN json_valid(e.request_parameters) THEN json_extract_string(e.request_parameters, p.path) END
    ELSE
      CASE WHEN json_valid(e.response_elements) THEN json_extract_string(e.response_elements, p.path) END
    END AS value
  FROM events e JOIN paths p ON e.event_source = p.event_source AND e.event_name = p.event_name
  WHERE e.error_code IS NULL
), matched AS (
  SELECT w.uid, v.event_id
  FROM valued v JOIN cause_wanted w
    ON w.event_source = v.event_source AND w.event_name = v.event_name AND w.side = v.side AND w.path = v.path
    AND w.identifier = v.value AND w.account_id = v.account_id
  WHERE (w.region IS NULL OR v.aws_region = w.region) AND (w.observed_at IS NULL OR v.event_time <= w.observed_at)
  UNION
  SELECT w.uid, e.event_id
  FROM events e JOIN cause_wanted w
    ON w.side IS NULL AND e.event_source = w.event_source AND e.event_name = w.event_name
    AND e.account_id = w.account_id
  WHERE e.error_code IS NULL AND (w.region IS NULL OR e.aws_region = w.region)
    AND (w.observed_at IS NULL OR e.event_time <= w.observed_at)
), ranked AS (
  SELECT m.uid, {", ".join("e." + c for c in CAUSE_COLUMNS)},
    row_number() OVER (PARTITION BY m.uid ORDER BY e.event_time DESC, e.event_id) AS rank
  FROM matched m JOIN events e ON e.event_id = m.event_id
)
SELECT uid, {", ".join(CAUSE_COLUMNS)} FROM ranked WHERE rank <= ? ORDER BY uid, rank
"""  # noqa: S608 (column names are constants)


def _wanted(targets: Iterable[Target]) -> pa.Table:
    rows: dict[str, list[Any]] = {name: [] for name in _WANTED_SCHEMA.names}

    def add(target: Target, entry: CauseRule, event: str, side: Any, path: Any, ident: Any, region: Any) -> None:
        for name, value in zip(
            _WANTED_SCHEMA.names,
            (target.uid, entry.event_source, event, side, path, ident, target.account_id, region, target.observed_at),
            strict=True,
        ):
            rows[name].append(value)

    for target in targets:
        regional = target.region not in GLOBAL_REGIONS
        for entry in rules_for(target.rule_id):
            for event, paths in entry.events.items():
                if entry.scope == "account":
                    add(target, entry, event, None, None, None, None)
                elif entry.scope == "region":
                    add(target, entry, event, None, None, None, target.region if regional else None)
                else:
                    for side, path in paths:
                        for ident in target.identifiers:
                            add(target, entry, event, side, path, ident, target.region if regional else None)
    return pa.table(rows, schema=_WANTED_SCHEMA)


def causes_for_targets(store: Any, targets: Iterable[Target], per_finding: int = 3) -> dict[str, list[Cause]]:
    """Causes per target uid, newest first, at most ``per_finding`` each (one query for all targets)."""
    wanted = _wanted(targets)
    if wanted.num_rows == 0 or per_finding <= 0:
        return {}
    con = store.connection
    con.register("cause_wanted", wanted)
    try:
        rows = con.execute(_MATCH_SQL, [per_finding]).fetchall()
    finally:
        con.unregister("cause_wanted")
    found: dict[str, list[Cause]] = {}
    for uid, *values in rows:
        found.setdefault(uid, []).append(Cause(*values))
    return found


def causes_for_findings(store: Any, findings: Iterable[Finding], per_finding: int = 3) -> dict[str, list[Cause]]:
    """For each FAIL finding whose rule has causes in ``causes.yaml``: the successful events that can have
    introduced its state on its resource (same account; same region unless global; not after the finding was
    observed), newest first, keyed by ``Finding.uid``. ``store``: an open :class:`TrailStore`."""
    targets = [Target.of(f) for f in findings if f.status is Status.FAIL]
    return causes_for_targets(store, targets, per_finding)


def attach_causes(result: ScanResult, store_path: Path, per_finding: int = 3) -> None:
    """Fill ``result.causes`` from the trail store at ``store_path``. A store that is missing, locked or broken
    adds a notice to ``result.notices`` instead of raising: the scan's own answer never depends on the trail."""
    import duckdb

    from cloudwarden.trail.store import StoreError, TrailStore

    try:
        with TrailStore(store_path, read_only=True) as store:
            result.causes = dict(causes_for_findings(store, result.findings, per_finding))
    except (StoreError, duckdb.Error, OSError) as exc:
        result.notices.append(f"who-did-it skipped: the trail store {store_path} could not be read ({exc})")


# `cloudwarden trail why`


@dataclass
class WhyAnswer:
    """``kind`` is "finding" (``finding`` holds the JSON output entry's essentials) or "resource"."""

    kind: str
    target: str
    causes: list[Cause]
    finding: Target | None = None


def _ocsf_target(entry: Any) -> Target:
    """A finding of cloudwarden's OCSF JSON output as a :class:`Target`."""
    try:
        resource = entry["resources"][0]
        time_ms = entry.get("time")
        observed = datetime.fromtimestamp(time_ms / 1000, UTC).replace(tzinfo=None) if time_ms else None
        return Target(
            uid=str(entry["finding_info"]["uid"]),
            rule_id=str(entry["unmapped"]["rule_id"]),
            account_id=str(entry["cloud"]["account"]["uid"]),
            region=str(entry["cloud"]["region"]),
            resource_id=str(resource.get("name") or ""),
            resource_arn=str(resource.get("uid") or ""),
            observed_at=observed,
        )
    except (KeyError, IndexError, TypeError, AttributeError, ValueError, OverflowError) as exc:
        raise CausesError(f"not a cloudwarden OCSF finding ({type(exc).__name__}: {exc})") from exc


def find_in_output(path: Path, uid: str) -> Target | None:
    """The finding ``uid`` in a cloudwarden JSON output (``cloudwarden-findings.ocsf.json``), or None."""
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise CausesError(f"cannot read findings file {path}: {exc}") from exc
    if not isinstance(data, list):
        raise CausesError(f"{path} is not a cloudwarden JSON output (expected a list of OCSF findings)")
    for index, entry in enumerate(data):
        info = entry.get("finding_info") if isinstance(entry, dict) else None
        if isinstance(info, dict) and info.get("uid") == uid:
            try:
                return _ocsf_target(entry)
            except CausesError as exc:
                raise CausesError(f"{path}: finding {index}: {exc}") from exc
    return None


def _resource_changes(store: Any, resource: str, limit: int) -> list[Cause]:
    """Successful events that change ``resource``: a mapped event naming it at a mapped path, or any call not
    marked read-only whose request parameters, response elements or resources hold it as a whole JSON string."""
    from cloudwarden.trail.queries import LIKE_ESCAPE, escape_like

    mapped = {
        (entry.event_source, event, side, path)
        for entry in load_causes()
        for event, paths in entry.events.items()
        for side, path in paths
    }
    wanted = pa.table(
        {
            "event_source": [m[0] for m in mapped],
            "event_name": [m[1] for m in mapped],
            "side": [m[2] for m in mapped],
            "path": [m[3] for m in mapped],
        }
    )
    # JSON-quoted, so sg-123 does not match sg-1234 and a value is matched whole.
    pattern = "%" + escape_like(orjson.dumps(resource).decode()) + "%"
    sql = f"""
    SELECT {", ".join(CAUSE_COLUMNS)} FROM events e
    WHERE e.error_code IS NULL AND (
      ((e.read_only IS NULL OR NOT e.read_only) AND (
        e.request_parameters LIKE $pattern ESCAPE '{LIKE_ESCAPE}'
        OR e.response_elements LIKE $pattern ESCAPE '{LIKE_ESCAPE}'
        OR e.resources LIKE $pattern ESCAPE '{LIKE_ESCAPE}'))
      OR EXISTS (SELECT 1 FROM why_mapped w WHERE w.event_source = e.event_source AND w.event_name = e.event_name
        AND ((w.side = 'request' AND json_valid(e.request_parameters)
              AND json_extract_string(e.request_parameters, w.path) = $resource)
          OR (w.side = 'response' AND json_valid(e.response_elements)
              AND json_extract_string(e.response_elements, w.path) = $resource))))
    ORDER BY e.event_time DESC, e.event_id
    LIMIT $row_limit
    """  # noqa: S608 (column names and the escape character are constants)
    con = store.connection
    con.register("why_mapped", wanted)
    try:
        rows = con.execute(sql, {"pattern": pattern, "resource": resource, "row_limit": limit}).fetchall()
    finally:
        con.unregister("why_mapped")
    return [Cause(*row) for row in rows]


def why(store: Any, target: str, findings_file: Path | None = None, limit: int = 20) -> WhyAnswer:
    """What made ``target`` so. ``target``: a finding uid found in ``findings_file`` (a cloudwarden JSON output)
    → the causes of that finding; else a resource id, name or ARN → every successful change event that names it.
    Newest first, at most ``limit`` (0: no limit). Raises :class:`CausesError` for a uid without a findings file."""
    target = target.strip()
    if not target or len(target) > MAX_TARGET:
        raise CausesError(f"FINDING-OR-RESOURCE must be 1 to {MAX_TARGET} characters")
    row_limit = limit if limit > 0 else 2**62
    if findings_file is not None:
        finding = find_in_output(findings_file, target)
        if finding is not None:
            causes = causes_for_targets(store, [finding], row_limit).get(finding.uid, [])
            return WhyAnswer("finding", target, causes, finding)
    elif _UID.fullmatch(target):
        raise CausesError(f"{target} looks like a finding uid: add --findings FILE (a cloudwarden JSON output)")
    return WhyAnswer("resource", target, _resource_changes(store, target, row_limit))

"""CIS 4.1-4.15: security-relevant activity reaches a person through trail -> log group -> metric filter ->
alarm -> SNS topic with a confirmed subscriber.

Filters are judged by what they match (posture/monitoring_controls.py), not by their text. One rule per
control, anchored on the account (AWS::CloudTrail::AccountSettings). The chain:

1. a multi-region trail that is logging all management events and delivers to a CloudWatch Logs group;
2. a metric filter on that log group that satisfies the control (matches every must-match event, no
   must-not event);
3. an alarm with actions enabled on that filter's metric (namespace + name) naming an SNS topic;
4. a confirmed subscription on that topic.

A trail whose log group belongs to another account (an organisation trail seen from a member account)
can only be judged there: when no trail of this account completes the chain, the verdict is ERROR
("evaluated in the account that owns trail ..."), not FAIL. The rules are not judged when the scan did
not collect the ``cloudwatch`` service, and are ERROR when its listing failed in the log group's region.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cloudwarden.findings.model import Severity
from cloudwarden.inventory.collectors.monitoring import (
    ALARM,
    METRIC_FILTER,
    alarm_metrics,
    sns_topics,
)
from cloudwarden.inventory.model import Inventory, Resource, Unreadable
from cloudwarden.posture.filter_pattern import FilterPatternError, parse
from cloudwarden.posture.monitoring_controls import CIS_PATTERNS, CONTROLS, coverage, required
from cloudwarden.posture.registry import Verdict, failed, passed, rule
from cloudwarden.posture.rules.cloudtrail import logs_all_management_events

TRAIL = "AWS::CloudTrail::Trail"
ACCOUNT = "AWS::CloudTrail::AccountSettings"
UNCONFIRMED = ("PendingConfirmation", "Deleted")


@dataclass
class _LogGroup:
    """A log group some trail delivers to, parsed from the trail's CloudWatchLogsLogGroupArn."""

    arn: str
    account: str
    region: str
    name: str


@dataclass
class _Search:
    """What one control's search saw: the notes become the evidence of a FAIL or the reason of an ERROR."""

    trails: list[str] = field(default_factory=list)
    filters: list[str] = field(default_factory=list)
    missing: str = "a multi-region trail logging all management events to CloudWatch Logs"
    unreadable: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)


def _log_group(arn: Any) -> _LogGroup | None:
    # arn:aws:logs:REGION:ACCOUNT:log-group:NAME[:*]
    if not isinstance(arn, str):
        return None
    parts = arn.split(":")
    if len(parts) < 7 or parts[2] != "logs" or parts[5] != "log-group":
        return None
    return _LogGroup(arn, parts[4], parts[3], parts[6])


def _arn_account(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 else ""


def _qualifies(trail: Resource, search: _Search) -> dict[str, Any] | None:
    """The trail's description when it is multi-region, logging all management events, else None."""
    details = trail.attr("trail") or {}
    if not isinstance(details, dict):
        return None
    problems = []
    if not details.get("IsMultiRegionTrail"):
        problems.append("single-region")
    if not (trail.attr("status") or {}).get("IsLogging"):
        problems.append("not logging")
    if not logs_all_management_events(trail.attr("event_selectors") or {}):
        problems.append("not all management events")
    if not details.get("CloudWatchLogsLogGroupArn"):
        problems.append("no CloudWatch Logs log group")
    if problems:
        search.trails.append(f"{trail.id}: {', '.join(problems)}")
        return None
    return details


def _region_unreadable(inventory: Inventory, resource_type: str, region: str) -> str | None:
    if region not in inventory.regions:
        return f"the log group's region {region} was not scanned"
    for error in inventory.scope_errors:
        if error.resource_type == resource_type and error.region == region:
            return error.reason
    return None


def _confirmed(alarm: Resource, topic: str) -> int:
    by_topic = alarm.attr("topic_subscriptions")
    subscriptions = by_topic.get(topic) if isinstance(by_topic, dict) else None
    if not isinstance(subscriptions, list):
        return 0
    return sum(1 for s in subscriptions if isinstance(s, dict) and s.get("SubscriptionArn") not in (None, *UNCONFIRMED))


def _alarms_on(inventory: Inventory, region: str, metric_filter: Resource) -> list[Resource]:
    """Alarms that one event matched by ``metric_filter`` would set off (see :func:`fires_on_one_event`)."""
    found = []
    transformations = metric_filter.attributes.get("metricTransformations")
    for transformation in transformations if isinstance(transformations, list) else []:
        if not isinstance(transformation, dict):
            continue
        metric = (str(transformation.get("metricNamespace") or ""), str(transformation.get("metricName") or ""))
        for alarm in inventory.of_type(ALARM):
            if (
                alarm.region == region
                and metric in alarm_metrics(alarm.attributes)
                and fires_on_one_event(alarm.attributes, transformation)
                and all(alarm is not seen for seen in found)
            ):
                found.append(alarm)
    return found


_COMPARE = {
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "GreaterThanThreshold": lambda v, t: v > t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}


def fires_on_one_event(alarm: dict[str, Any], transformation: dict[str, Any]) -> bool:
    """Whether a single matching event in one period puts the alarm in ALARM.

    One event publishes the filter's ``metricValue`` once: every statistic of that period is the value
    (SampleCount is 1). An alarm that needs several datapoints, watches a dimension the filter does not
    publish, or has a threshold the value does not cross never sees one event. Where the value is taken
    from the event (``$.field``) or the alarm uses metric math, the alarm is given the benefit of the doubt.
    """
    if alarm.get("Dimensions") and not transformation.get("dimensions"):
        return False  # the filter publishes the metric without dimensions: this alarm watches nothing
    datapoints = alarm.get("DatapointsToAlarm") or 1
    if isinstance(datapoints, int | float) and datapoints > 1:
        return False
    compare = _COMPARE.get(str(alarm.get("ComparisonOperator")))
    threshold = alarm.get("Threshold")
    if compare is None or not isinstance(threshold, int | float) or not alarm.get("MetricName"):
        return True
    try:
        value = float(transformation.get("metricValue", "1"))
    except (TypeError, ValueError):
        return True
    if alarm.get("Statistic") == "SampleCount":
        value = 1.0
    return bool(compare(value, float(threshold)))


def _chain(control_id: str, trail: Resource, group: _LogGroup, inventory: Inventory, search: _Search) -> Verdict | None:
    """PASS when this log group completes the chain for the control; otherwise notes what is missing.

    Several filters may cover a control together (one per event name, say): each must match no must-not
    event and have its own alarm and subscriber, and together they must match every must-match event.
    """
    for resource_type in (METRIC_FILTER, ALARM):
        reason = _region_unreadable(inventory, resource_type, group.region)
        if reason:
            search.unreadable.append(f"{resource_type} in {group.region} for trail {trail.id}: {reason}")
            return None
    control = CONTROLS[control_id]
    needed = required(control)
    clean: list[tuple[Resource, frozenset[str]]] = []
    for metric_filter in inventory.of_type(METRIC_FILTER):
        if metric_filter.region != group.region or metric_filter.attributes.get("logGroupName") != group.name:
            continue
        try:
            found = coverage(control, parse(metric_filter.attributes.get("filterPattern", "")))
        except FilterPatternError as exc:
            search.filters.append(f"{metric_filter.id}: not evaluated ({exc})")
            continue
        if found.wrongly_matches:
            search.filters.append(f"{metric_filter.id}: wrongly matches {found.wrongly_matches}")
        elif not found.matched:
            search.filters.append(f"{metric_filter.id}: misses {found.missed[0]}")
        else:
            search.filters.append(
                f"{metric_filter.id}: " + (f"misses {found.missed[0]}" if found.missed else "satisfies")
            )
            clean.append((metric_filter, found.matched))
    if not _covers(needed, [m for _, m in clean]):
        search.missing = f"a metric filter on {group.name} that satisfies CIS {control_id}"
        return None
    alarmed: list[tuple[Resource, frozenset[str], Resource, list[str]]] = []
    for metric_filter, matched in clean:
        for alarm in _alarms_on(inventory, group.region, metric_filter):
            topics = sns_topics(alarm.attributes)
            if alarm.attributes.get("ActionsEnabled") is not False and topics:
                alarmed.append((metric_filter, matched, alarm, topics))
    if not _covers(needed, [m for _, m, _, _ in alarmed]):
        search.missing = (
            "an alarm with actions enabled, notifying an SNS topic, that one event matched by a satisfying "
            "filter sets off"
        )
        return None
    links: dict[str, tuple[Resource, Resource, str, int]] = {}
    for metric_filter, _, alarm, topics in alarmed:
        try:
            notified = [(t, n) for t in topics if (n := _confirmed(alarm, t))]
        except Unreadable as exc:
            search.unreadable.append(f"alarm {alarm.id}: {exc.reason}")
            continue
        if notified and metric_filter.id not in links:
            links[metric_filter.id] = (metric_filter, alarm, *notified[0])
    working = [m for f, m, _, _ in alarmed if f.id in links]
    if not _covers(needed, working):
        search.missing = "a confirmed subscriber on the alarm's SNS topic"
        return None
    chosen = list(links.values())
    return passed(
        f"CIS {control_id} ({control.title}) is monitored: trail {trail.id} -> {group.name} -> "
        + "; ".join(f"filter {f.id} -> alarm {a.id} -> {t}" for f, a, t, _ in chosen)
        + ".",
        trail=trail.arn,
        log_group=group.arn,
        filter=", ".join(f.id for f, _, _, _ in chosen),
        pattern=[f.attributes.get("filterPattern") for f, _, _, _ in chosen]
        if len(chosen) > 1
        else chosen[0][0].attributes.get("filterPattern"),
        alarm=", ".join(a.id for _, a, _, _ in chosen),
        topic=", ".join(sorted({t for _, _, t, _ in chosen})),
        confirmed_subscriptions=min(n for _, _, _, n in chosen),
    )


def _covers(needed: frozenset[str], parts: list[frozenset[str]]) -> bool:
    return needed <= frozenset().union(*parts)


def judge_control(control_id: str, inventory: Inventory) -> Verdict | None:
    """The verdict of CIS ``control_id`` (4.1-4.15) for the scanned account."""
    if METRIC_FILTER not in inventory.collected_types:
        return None  # the scan did not collect CloudWatch: not judged, as for any service not asked for
    for error in inventory.scope_errors:
        if error.resource_type == TRAIL:
            raise Unreadable(f"trails could not be listed: {error.reason}")
    search = _Search()
    for trail in inventory.of_type(TRAIL):
        try:
            details = _qualifies(trail, search)
        except Unreadable as exc:
            search.unreadable.append(f"trail {trail.id}: {exc.reason}")
            continue
        if details is None:
            continue
        group = _log_group(details.get("CloudWatchLogsLogGroupArn"))
        if group is None:
            search.trails.append(f"{trail.id}: unrecognised log group ARN")
            continue
        if group.account != inventory.account_id or _arn_account(trail.arn) not in ("", inventory.account_id):
            search.foreign.append(trail.arn)
            search.trails.append(f"{trail.id}: delivers to {group.arn} in another account")
            continue
        search.trails.append(f"{trail.id}: qualifies, delivers to {group.name} in {group.region}")
        verdict = _chain(control_id, trail, group, inventory, search)
        if verdict is not None:
            return verdict
    if search.foreign:
        raise Unreadable(f"evaluated in the account that owns trail {search.foreign[0]}")
    if search.unreadable:
        raise Unreadable("; ".join(search.unreadable))
    return failed(
        f"CIS {control_id} ({CONTROLS[control_id].title}) is not monitored: missing {search.missing}.",
        missing=search.missing,
        trails=search.trails,
        filters=search.filters,
    )


def _remediation(control_id: str) -> str:
    return (
        "Send a multi-region trail to CloudWatch Logs (aws cloudtrail update-trail --cloud-watch-logs-log-group-arn "
        "... --cloud-watch-logs-role-arn ...), then aws logs put-metric-filter --log-group-name GROUP "
        f"--filter-pattern '{CIS_PATTERNS[control_id]}' --metric-transformations metricName=...,"
        "metricNamespace=CISBenchmark,metricValue=1; aws cloudwatch put-metric-alarm ... --threshold 1 "
        "--comparison-operator GreaterThanOrEqualToThreshold --alarm-actions TOPIC_ARN; and confirm a "
        "subscription on the topic (aws sns subscribe ...)."
    )


_RULES: list[tuple[str, str, str, Severity, tuple[str, ...], str]] = [
    (
        "monitoring_unauthorized_api_calls",
        "4.1",
        "Unauthorized API calls are monitored",
        Severity.MEDIUM,
        ("CloudWatch.2",),
        "Bursts of AccessDenied are the first sign of a stolen credential probing its reach.",
    ),
    (
        "monitoring_console_signin_without_mfa",
        "4.2",
        "Console sign-in without MFA is monitored",
        Severity.MEDIUM,
        ("CloudWatch.3",),
        "A console sign-in without MFA is one stolen password away from an account takeover.",
    ),
    (
        "monitoring_root_usage",
        "4.3",
        "Use of the root user is monitored",
        Severity.HIGH,
        ("CloudWatch.1",),
        "The root user cannot be restricted by IAM; every use of it should be seen and explained.",
    ),
    (
        "monitoring_iam_policy_changes",
        "4.4",
        "IAM policy changes are monitored",
        Severity.MEDIUM,
        ("CloudWatch.4",),
        "Policy changes grant or remove access; unexpected ones are privilege escalation.",
    ),
    (
        "monitoring_cloudtrail_changes",
        "4.5",
        "CloudTrail configuration changes are monitored",
        Severity.MEDIUM,
        ("CloudWatch.5",),
        "Stopping or changing the trail is how an intruder blinds the audit log.",
    ),
    (
        "monitoring_console_auth_failures",
        "4.6",
        "Console authentication failures are monitored",
        Severity.LOW,
        ("CloudWatch.6",),
        "Repeated failed console sign-ins indicate password guessing.",
    ),
    (
        "monitoring_cmk_disable_or_deletion",
        "4.7",
        "Disabling or scheduled deletion of KMS keys is monitored",
        Severity.MEDIUM,
        ("CloudWatch.7",),
        "Data encrypted under a deleted key is lost for good.",
    ),
    (
        "monitoring_s3_bucket_policy_changes",
        "4.8",
        "S3 bucket policy changes are monitored",
        Severity.MEDIUM,
        ("CloudWatch.8",),
        "A bucket policy or ACL change can make data public in one call.",
    ),
    (
        "monitoring_config_changes",
        "4.9",
        "AWS Config configuration changes are monitored",
        Severity.MEDIUM,
        ("CloudWatch.9",),
        "Stopping the Config recorder hides later configuration changes.",
    ),
    (
        "monitoring_security_group_changes",
        "4.10",
        "Security group changes are monitored",
        Severity.MEDIUM,
        ("CloudWatch.10",),
        "A security group change can expose a port to the internet.",
    ),
    (
        "monitoring_nacl_changes",
        "4.11",
        "Network ACL changes are monitored",
        Severity.MEDIUM,
        ("CloudWatch.11",),
        "NACL changes can open a subnet to the internet.",
    ),
    (
        "monitoring_network_gateway_changes",
        "4.12",
        "Network gateway changes are monitored",
        Severity.MEDIUM,
        ("CloudWatch.12",),
        "Gateways decide which traffic enters and leaves the VPC.",
    ),
    (
        "monitoring_route_table_changes",
        "4.13",
        "Route table changes are monitored",
        Severity.MEDIUM,
        ("CloudWatch.13",),
        "A changed route can send traffic around inspection or out of the network.",
    ),
    (
        "monitoring_vpc_changes",
        "4.14",
        "VPC changes are monitored",
        Severity.MEDIUM,
        ("CloudWatch.14",),
        "New peering connections and VPC changes alter what can reach what.",
    ),
    (
        "monitoring_organizations_changes",
        "4.15",
        "AWS Organizations changes are monitored",
        Severity.MEDIUM,
        (),
        "Organization changes move accounts and guardrails (SCPs) in and out of control.",
    ),
]


def _register(
    rule_id: str, control_id: str, title: str, severity: Severity, fsbp: tuple[str, ...], rationale: str
) -> None:
    def check(_: Resource, inventory: Inventory) -> Verdict | None:
        return judge_control(control_id, inventory)

    check.__name__ = rule_id
    rule(
        id=rule_id,
        title=title,
        severity=severity,
        resource_type=ACCOUNT,
        rationale=rationale,
        remediation=_remediation(control_id),
        cis=(control_id,),
        fsbp=fsbp,
        well_architected=("SEC04",),
    )(check)


for _rule in _RULES:
    _register(*_rule)

# CIS control id -> the rule that decides it ("4.1" -> "monitoring_unauthorized_api_calls").
RULE_OF: dict[str, str] = {control_id: rule_id for rule_id, control_id, *_ in _RULES}

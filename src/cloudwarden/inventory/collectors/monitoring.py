"""CloudWatch monitoring (regional): log metric filters, the alarms on their metrics, and who those alarms
notify. Feeds the CIS 4.1-4.15 rules (posture/rules/monitoring.py).

Per region: one paginated ``logs:DescribeMetricFilters``; only if the region has metric filters, one
paginated ``cloudwatch:DescribeAlarms``; then one ``sns:ListSubscriptionsByTopic`` (paginated) per SNS
topic that an alarm on a filter's metric names, and nothing for other alarms or topics.

Resources:

* ``AWS::Logs::MetricFilter``, id ``<logGroupName>/<filterName>``: DescribeMetricFilters' item as returned
  (``filterPattern``, ``metricTransformations``, ``logGroupName``...).
* ``AWS::CloudWatch::Alarm``, id = alarm name: DescribeAlarms' item, only for metric alarms whose metric
  (namespace + name, top-level or the one returned ``MetricStat``) is published by a metric filter in the
  region. Attribute ``topic_subscriptions`` maps each SNS topic ARN among ``AlarmActions`` to its
  subscriptions (``SubscriptionArn``, ``Protocol``, ``Endpoint``; ``SubscriptionArn`` is
  ``"PendingConfirmation"`` until confirmed); if any topic could not be read, ``topic_subscriptions`` is in
  ``errors`` with the reason, so a rule reports ERROR rather than "no subscriber".

No SNS topic resource is created here (topics belong to the SNS collector).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from cloudwarden.aws.errors import describe_failure
from cloudwarden.inventory.collectors.base import Collector, CollectorScope, for_each, list_all
from cloudwarden.inventory.model import Resource, jsonable

METRIC_FILTER = "AWS::Logs::MetricFilter"
ALARM = "AWS::CloudWatch::Alarm"
# Bounds on attacker-sized answers: a topic with thousands of subscriptions needs only a few kept.
MAX_SUBSCRIPTIONS_KEPT = 50


def alarm_metrics(alarm: dict[str, Any]) -> list[tuple[str, str]]:
    """The (namespace, metric name) pairs an alarm's state follows: its own metric, or the returned MetricStat."""
    if alarm.get("MetricName"):
        return [(str(alarm.get("Namespace") or ""), str(alarm["MetricName"]))]
    returned = [m for m in alarm.get("Metrics") or [] if isinstance(m, dict) and m.get("ReturnData", True)]
    out = []
    for query in returned:
        stat = query.get("MetricStat")
        metric = stat.get("Metric") if isinstance(stat, dict) else None
        if isinstance(metric, dict) and metric.get("MetricName"):
            out.append((str(metric.get("Namespace") or ""), str(metric["MetricName"])))
    return out


def filter_metrics(metric_filter: dict[str, Any]) -> list[tuple[str, str]]:
    transformations = metric_filter.get("metricTransformations") or []
    return [
        (str(t.get("metricNamespace") or ""), str(t.get("metricName") or ""))
        for t in transformations
        if isinstance(t, dict)
    ]


def sns_topics(alarm: dict[str, Any]) -> list[str]:
    actions = alarm.get("AlarmActions") or []
    return [a for a in actions if isinstance(a, str) and a.startswith("arn:") and a.split(":")[2:3] == ["sns"]]


def collect_monitoring(scope: CollectorScope) -> list[Resource]:
    try:
        filters = list_all(scope.client("logs"), "describe_metric_filters", "metricFilters[]")
    except (ClientError, BotoCoreError) as exc:
        # Without the filters no alarm can be tied to one: both listings are lost in this region.
        scope.unreadable(METRIC_FILTER, exc, "logs", "DescribeMetricFilters")
        scope.unreadable(ALARM, exc, "logs", "DescribeMetricFilters")
        return []
    resources = [_metric_filter(scope, f) for f in filters]
    if not filters:
        return resources  # no metric filter in the region: no alarm here can watch one
    published = {m for f in filters for m in filter_metrics(f)}
    try:
        alarms = list_all(scope.client("cloudwatch"), "describe_alarms", "MetricAlarms[]")
    except (ClientError, BotoCoreError) as exc:
        scope.unreadable(ALARM, exc, "cloudwatch", "DescribeAlarms")
        return resources
    relevant = [a for a in alarms if published.intersection(alarm_metrics(a))]
    alarm_resources = [_alarm(scope, a) for a in relevant]
    topics = sorted({t for a in relevant for t in sns_topics(a)})
    subscriptions = dict(zip(topics, for_each(topics, lambda t: _subscriptions(scope, t)), strict=True))
    for resource in alarm_resources:
        mine = {t: subscriptions[t] for t in sns_topics(resource.attributes)}
        failures = [f"{t}: {answer}" for t, answer in mine.items() if isinstance(answer, str)]
        if failures:
            resource.errors["topic_subscriptions"] = "; ".join(failures)
        else:
            resource.attributes["topic_subscriptions"] = mine
    return resources + alarm_resources


def _metric_filter(scope: CollectorScope, item: dict[str, Any]) -> Resource:
    group, name = str(item.get("logGroupName") or ""), str(item.get("filterName") or "")
    return Resource(
        METRIC_FILTER,
        f"{group}/{name}",
        scope.region,
        scope.account_id,
        arn=scope.arn("logs", f"log-group:{group}:metric-filter:{name}", scope.region),
        attributes=jsonable(item),
    )


def _alarm(scope: CollectorScope, item: dict[str, Any]) -> Resource:
    name = str(item.get("AlarmName") or "")
    arn = str(item.get("AlarmArn") or scope.arn("cloudwatch", f"alarm:{name}", scope.region))
    return Resource(ALARM, name, scope.region, scope.account_id, arn=arn, attributes=jsonable(item))


def _subscriptions(scope: CollectorScope, topic_arn: str) -> list[dict[str, Any]] | str:
    """The topic's subscriptions, or the reason they could not be read."""
    parts = topic_arn.split(":")
    region = parts[3] if len(parts) > 5 and parts[3] else scope.region
    try:
        found = list_all(
            scope.client("sns", region), "list_subscriptions_by_topic", "Subscriptions[]", TopicArn=topic_arn
        )
    except (ClientError, BotoCoreError) as exc:
        return describe_failure(exc, "sns", "ListSubscriptionsByTopic")
    kept = [{k: s.get(k) for k in ("SubscriptionArn", "Protocol", "Endpoint")} for s in found if isinstance(s, dict)]
    kept.sort(key=lambda s: s.get("SubscriptionArn") in ("PendingConfirmation", "Deleted"))  # confirmed first
    return jsonable(kept[:MAX_SUBSCRIPTIONS_KEPT])


COLLECTORS = [
    Collector(
        "cloudwatch", (METRIC_FILTER, ALARM), collect_monitoring, regional=True, operation="DescribeMetricFilters"
    ),
]

"""Acme's CloudWatch monitoring (CIS 4.1-4.15): trail "main" sends to CloudWatch Logs, a few metric
filters with alarms, and the usual gaps.

Run after the core environment (it needs trail "main"; it does not create it, so as not to collide with
the environment's own create_trail). What it shows:

* 4.1 unauthorized API calls: the older CIS wording, without the HeadBucket/log-delivery exclusions:
  semantically right (PASS when the trail qualifies), though a text comparison with v5.0 rejects it.
* 4.3 root usage: the CIS pattern with clauses reordered and reflowed: right (PASS when the trail qualifies).
* 4.4 IAM policy changes: every name but DeleteRolePolicy, the kind of gap a "contains PutRolePolicy,
  AttachRolePolicy..." regex accepts: FAIL (misses iam:DeleteRolePolicy).
* 4.5 CloudTrail changes: right filter, alarm on a topic nobody subscribed to: FAIL (no subscriber).
* 4.7 KMS key disable/deletion: right filter, no alarm: FAIL.
* 4.10 security groups: ``$.eventName = "*SecurityGroup*"``, which also fires on every Describe: FAIL.
* everything else: no filter at all: FAIL.

The core environment's trail is single-region; while it is, every control FAILs for that reason first,
and the plants say so.
"""

from __future__ import annotations

import json
from typing import Any

from cloudwarden.demo.environment import PRIMARY_REGION, ClientFactory, SampleEnvironment
from cloudwarden.posture.monitoring_controls import CIS_PATTERNS
from cloudwarden.posture.rules.monitoring import RULE_OF

LOG_GROUP = "acme/cloudtrail"
NAMESPACE = "AcmeSecurity"
TRAIL = "main"

# control -> (filter pattern, alarm?, topic) ; topic "alerts" has a subscriber, "unwatched" has none.
FILTERS: dict[str, tuple[str, bool, str]] = {
    "4.1": ('{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") }', True, "alerts"),
    "4.3": (
        '{\n  $.eventType != "AwsServiceEvent"\n  && $.userIdentity.invokedBy NOT EXISTS\n'
        "  && $.userIdentity.type = Root\n}",
        True,
        "alerts",
    ),
    "4.4": (CIS_PATTERNS["4.4"].replace('($.eventName = "DeleteRolePolicy") || ', ""), True, "alerts"),
    "4.5": (CIS_PATTERNS["4.5"], True, "unwatched"),
    "4.7": (CIS_PATTERNS["4.7"], False, "alerts"),
    "4.10": ('{ $.eventName = "*SecurityGroup*" }', True, "alerts"),
}
MISTAKES = {
    "4.4": "IAM policy filter misses DeleteRolePolicy",
    "4.5": "CloudTrail-change alarm notifies a topic nobody subscribed to",
    "4.7": "KMS key deletion filter without an alarm",
    "4.10": "security group filter also fires on every DescribeSecurityGroups (alarm is noise)",
}
CORRECT = ("4.1", "4.3")


def seed(client: ClientFactory, account_id: str, env: SampleEnvironment, scale: int) -> None:
    """Send trail "main" to CloudWatch Logs and create Acme's filters, alarms and topics (``scale`` unused:
    monitoring is per account)."""
    del scale
    logs, cloudwatch, sns = (client(s, PRIMARY_REGION) for s in ("logs", "cloudwatch", "sns"))
    logs.create_log_group(logGroupName=LOG_GROUP)
    group_arn = f"arn:aws:logs:{PRIMARY_REGION}:{account_id}:log-group:{LOG_GROUP}:*"
    trail = _link_trail(client, account_id, group_arn)

    topics = {name: sns.create_topic(Name=f"acme-{name}")["TopicArn"] for name in ("alerts", "unwatched")}
    sns.subscribe(TopicArn=topics["alerts"], Protocol="email", Endpoint="security@acme.example")
    for control, (pattern, alarmed, topic) in FILTERS.items():
        metric = f"cis-{control.replace('.', '-')}"
        logs.put_metric_filter(
            logGroupName=LOG_GROUP,
            filterName=metric,
            filterPattern=pattern,
            metricTransformations=[{"metricName": metric, "metricNamespace": NAMESPACE, "metricValue": "1"}],
        )
        if alarmed:
            cloudwatch.put_metric_alarm(
                AlarmName=f"acme-{metric}",
                MetricName=metric,
                Namespace=NAMESPACE,
                Statistic="Sum",
                Period=300,
                EvaluationPeriods=1,
                Threshold=1,
                ComparisonOperator="GreaterThanOrEqualToThreshold",
                AlarmActions=[topics[topic]],
            )

    for control, rule_id in RULE_OF.items():
        if trail is not None:
            env.plant(rule_id, account_id, f"trail {TRAIL} does not qualify ({trail}), so CIS {control} is unmonitored")
        elif control in MISTAKES:
            env.plant(rule_id, account_id, MISTAKES[control])
        elif control not in CORRECT:
            env.plant(rule_id, account_id, f"no metric filter for CIS {control}")


def _link_trail(client: ClientFactory, account_id: str, group_arn: str) -> str | None:
    """Point trail "main" at the log group; returns why the trail does not qualify, or None if it does."""
    cloudtrail = client("cloudtrail", PRIMARY_REGION)
    trails = cloudtrail.describe_trails(trailNameList=[TRAIL]).get("trailList") or []
    if not trails:
        return "it does not exist"
    role = _delivery_role(client, account_id)
    cloudtrail.update_trail(Name=TRAIL, CloudWatchLogsLogGroupArn=group_arn, CloudWatchLogsRoleArn=role)
    details: dict[str, Any] = trails[0]
    status = cloudtrail.get_trail_status(Name=TRAIL)
    if not details.get("IsMultiRegionTrail"):
        return "single-region"
    if not status.get("IsLogging"):
        return "not logging"
    return None


def _delivery_role(client: ClientFactory, account_id: str) -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    name = "acme-cloudtrail-to-logs"
    client("iam", PRIMARY_REGION).create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    return f"arn:aws:iam::{account_id}:role/{name}"

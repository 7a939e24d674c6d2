"""Rule cases for CIS 4.1-4.15 (posture/rules/monitoring.py).

Each seeded case is one line: :func:`monitored` builds the whole chain in the emulator (a multi-region,
logging trail delivering to a log group; one metric filter per control with the given pattern; an alarm
on each filter's metric notifying an SNS topic; a confirmed subscription) and the case names the patterns.

The organisation-trail ERROR (test_filter_pattern.py) judges a recorded inventory built here: the emulator is
one account, so a trail whose log group lives in another (management) account cannot be created through its
API. ERROR is not a case status, hence a test of its own.
"""

from __future__ import annotations

import json
from typing import Any

from cloudwarden.inventory.model import GLOBAL, Inventory, Resource
from cloudwarden.posture.monitoring_controls import CIS_PATTERNS
from cloudwarden.posture.rules.monitoring import RULE_OF
from tests.conftest import ACCOUNT_ID, REGION, Emulated
from tests.posture.rule_cases import Case, Seed

SERVICES = ("cloudtrail", "cloudwatch")
LOG_GROUP = "cloudtrail-events"
TOPIC = "security-alerts"


def seed_monitoring(
    aws: Emulated,
    patterns: dict[str, str],
    *,
    multi_region: bool = True,
    alarm: bool = True,
    subscribe: bool = True,
    **alarm_settings: Any,
) -> None:
    """Trail -> log group -> one metric filter per ``patterns`` entry -> alarm -> topic -> subscriber."""
    logs, cloudwatch, sns = aws.client("logs"), aws.client("cloudwatch"), aws.client("sns")
    aws.client("s3").create_bucket(Bucket="trail-logs")
    logs.create_log_group(logGroupName=LOG_GROUP)
    group_arn = f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{LOG_GROUP}:*"
    aws.client("cloudtrail").create_trail(
        Name="main",
        S3BucketName="trail-logs",
        IsMultiRegionTrail=multi_region,
        CloudWatchLogsLogGroupArn=group_arn,
        CloudWatchLogsRoleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/cloudtrail-to-logs",
    )
    aws.client("cloudtrail").start_logging(Name="main")
    topic = sns.create_topic(Name=TOPIC)["TopicArn"]
    if subscribe:
        queue = aws.client("sqs").create_queue(QueueName="security-inbox")["QueueUrl"]
        queue_arn = aws.client("sqs").get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    for control, pattern in patterns.items():
        metric = f"cis-{control.replace('.', '-')}"
        logs.put_metric_filter(
            logGroupName=LOG_GROUP,
            filterName=metric,
            filterPattern=pattern,
            metricTransformations=[{"metricName": metric, "metricNamespace": "CISBenchmark", "metricValue": "1"}],
        )
        if alarm:
            cloudwatch.put_metric_alarm(
                AlarmName=metric,
                MetricName=metric,
                Namespace="CISBenchmark",
                Statistic="Sum",
                Period=300,
                EvaluationPeriods=1,
                **{
                    "Threshold": 1,
                    "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                    "AlarmActions": [topic],
                    **alarm_settings,
                },
            )


def monitored(patterns: dict[str, str], **options: Any) -> Seed:
    def seed(aws: Emulated) -> str:
        seed_monitoring(aws, patterns, **options)
        return ACCOUNT_ID

    return seed


# Too narrow: the 4.4 pattern without DeleteRolePolicy (a regex on the pattern text would not notice).
NARROW_44 = CIS_PATTERNS["4.4"].replace('($.eventName = "DeleteRolePolicy") || ', "")


def _org_trail_inventory() -> tuple[Inventory, str]:
    """A member account whose only trail is the organisation's, delivering to the management account's logs,
    as collectors/cloudtrail.py and collectors/monitoring.py write it (no metric filter in this account)."""
    management = "999988887777"
    trail_arn = f"arn:aws:cloudtrail:{REGION}:{management}:trail/org-trail"
    trail = Resource(
        "AWS::CloudTrail::Trail",
        "org-trail",
        REGION,
        ACCOUNT_ID,
        arn=trail_arn,
        attributes={
            "trail": {
                "Name": "org-trail",
                "TrailARN": trail_arn,
                "HomeRegion": REGION,
                "IsMultiRegionTrail": True,
                "IsOrganizationTrail": True,
                "S3BucketName": "org-trail-logs",
                "CloudWatchLogsLogGroupArn": f"arn:aws:logs:{REGION}:{management}:log-group:org-trail:*",
            },
            "status": {"IsLogging": True},
            "event_selectors": {
                "EventSelectors": [{"ReadWriteType": "All", "IncludeManagementEvents": True}],
                "AdvancedEventSelectors": None,
            },
        },
    )
    anchor = Resource(
        "AWS::CloudTrail::AccountSettings",
        ACCOUNT_ID,
        GLOBAL,
        ACCOUNT_ID,
        arn=f"arn:aws:cloudtrail::{ACCOUNT_ID}:trails",
        attributes={"trail_arns": [trail_arn]},
    )
    inventory = Inventory(
        account_id=ACCOUNT_ID,
        regions=[REGION],
        resources=[anchor, trail],
        collected_types={
            "AWS::CloudTrail::AccountSettings",
            "AWS::CloudTrail::Trail",
            "AWS::Logs::MetricFilter",
            "AWS::CloudWatch::Alarm",
        },
    )
    return Inventory.from_dict(json.loads(json.dumps(inventory.to_dict()))), ACCOUNT_ID


def _pending_subscription_inventory() -> tuple[Inventory, str]:
    """The whole chain for CIS 4.3, but the topic's only subscription was never confirmed, as the collectors
    write it (DescribeTrails entry, DescribeMetricFilters item, DescribeAlarms item + topic_subscriptions)."""
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:{TOPIC}"
    trail_arn = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT_ID}:trail/main"
    group_arn = f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{LOG_GROUP}:*"
    trail = Resource(
        "AWS::CloudTrail::Trail",
        "main",
        REGION,
        ACCOUNT_ID,
        arn=trail_arn,
        attributes={
            "trail": {
                "Name": "main",
                "TrailARN": trail_arn,
                "HomeRegion": REGION,
                "IsMultiRegionTrail": True,
                "IsOrganizationTrail": False,
                "CloudWatchLogsLogGroupArn": group_arn,
            },
            "status": {"IsLogging": True},
            "event_selectors": {
                "EventSelectors": [{"ReadWriteType": "All", "IncludeManagementEvents": True}],
                "AdvancedEventSelectors": None,
            },
        },
    )
    anchor = Resource(
        "AWS::CloudTrail::AccountSettings",
        ACCOUNT_ID,
        GLOBAL,
        ACCOUNT_ID,
        arn=f"arn:aws:cloudtrail::{ACCOUNT_ID}:trails",
        attributes={"trail_arns": [trail_arn]},
    )
    metric_filter = Resource(
        "AWS::Logs::MetricFilter",
        f"{LOG_GROUP}/cis-4-3",
        REGION,
        ACCOUNT_ID,
        attributes={
            "filterName": "cis-4-3",
            "logGroupName": LOG_GROUP,
            "filterPattern": CIS_PATTERNS["4.3"],
            "metricTransformations": [{"metricName": "cis-4-3", "metricNamespace": "CISBenchmark", "metricValue": "1"}],
        },
    )
    alarm = Resource(
        "AWS::CloudWatch::Alarm",
        "cis-4-3",
        REGION,
        ACCOUNT_ID,
        arn=f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:cis-4-3",
        attributes={
            "AlarmName": "cis-4-3",
            "MetricName": "cis-4-3",
            "Namespace": "CISBenchmark",
            "ActionsEnabled": True,
            "AlarmActions": [topic],
            "Statistic": "Sum",
            "Threshold": 1.0,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "topic_subscriptions": {
                topic: [
                    {"SubscriptionArn": "PendingConfirmation", "Protocol": "email", "Endpoint": "security@example.com"}
                ]
            },
        },
    )
    inventory = Inventory(
        account_id=ACCOUNT_ID,
        regions=[REGION],
        resources=[anchor, trail, metric_filter, alarm],
        collected_types={
            "AWS::CloudTrail::AccountSettings",
            "AWS::CloudTrail::Trail",
            "AWS::Logs::MetricFilter",
            "AWS::CloudWatch::Alarm",
        },
    )
    return Inventory.from_dict(json.loads(json.dumps(inventory.to_dict()))), ACCOUNT_ID


CASES: list[Case] = [
    *[
        Case(
            rule_id,
            "PASS",
            monitored({control: CIS_PATTERNS[control]}),
            SERVICES,
            evidence={
                "log_group": f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{LOG_GROUP}:*",
                "filter": f"{LOG_GROUP}/cis-{control.replace('.', '-')}",
                "alarm": f"cis-{control.replace('.', '-')}",
                "confirmed_subscriptions": 1,
            },
        )
        for control, rule_id in RULE_OF.items()
    ],
    # Each control's FAIL is a different missing link, so together they cover every "missing" message.
    Case(
        RULE_OF["4.1"],
        "FAIL",
        monitored({"4.1": "{ $.errorCode = AccessDenied }"}),
        SERVICES,
        evidence={"filters": [f"{LOG_GROUP}/cis-4-1: misses kms:Decrypt AccessDeniedException"]},
    ),
    Case(
        RULE_OF["4.2"],
        "FAIL",
        monitored({"4.2": CIS_PATTERNS["4.2"]}, multi_region=False),
        SERVICES,
        evidence={"trails": ["main: single-region"]},
    ),
    Case(
        RULE_OF["4.3"],
        "FAIL",
        monitored({"4.3": '{ $.userIdentity.type = "Root" }'}),
        SERVICES,
        evidence={"filters": [f"{LOG_GROUP}/cis-4-3: wrongly matches Root call invoked by an AWS service"]},
    ),
    Case(
        RULE_OF["4.4"],
        "FAIL",
        monitored({"4.4": NARROW_44}),
        SERVICES,
        evidence={"filters": [f"{LOG_GROUP}/cis-4-4: misses iam:DeleteRolePolicy"]},
    ),
    Case(
        RULE_OF["4.5"],
        "FAIL",
        monitored({"4.5": "{ $.eventName = * }"}),
        SERVICES,
        evidence={"filters": [f"{LOG_GROUP}/cis-4-5: wrongly matches cloudtrail:DescribeTrails"]},
    ),
    Case(
        RULE_OF["4.6"],
        "FAIL",
        monitored({"4.6": CIS_PATTERNS["4.6"]}, alarm=False),
        SERVICES,
        message="missing an alarm",
    ),
    Case(
        RULE_OF["4.7"],
        "FAIL",
        monitored({"4.7": CIS_PATTERNS["4.7"]}, subscribe=False),
        SERVICES,
        message="missing a confirmed subscriber",
    ),
    Case(
        RULE_OF["4.8"],
        "FAIL",
        monitored({"4.8": "DeleteBucketPolicy PutBucketPolicy"}),
        SERVICES,
        label="term-pattern",
        message="missing a metric filter",
    ),
    Case(RULE_OF["4.9"], "FAIL", monitored({}), SERVICES, evidence={"filters": []}),
    Case(
        RULE_OF["4.10"],
        "FAIL",
        monitored({"4.11": CIS_PATTERNS["4.11"]}),
        SERVICES,
        label="other-control",
        evidence={"filters": [f"{LOG_GROUP}/cis-4-11: misses ec2:AuthorizeSecurityGroupIngress"]},
    ),
    Case(
        RULE_OF["4.12"],
        "FAIL",
        monitored({"4.12": CIS_PATTERNS["4.12"]}, Threshold=5),
        SERVICES,
        label="threshold-5",
        message="missing an alarm",
    ),
    Case(
        RULE_OF["4.13"],
        "FAIL",
        monitored({"4.13": CIS_PATTERNS["4.13"]}, ActionsEnabled=False),
        SERVICES,
        label="actions-disabled",
        message="missing an alarm",
    ),
    Case(
        RULE_OF["4.14"],
        "FAIL",
        monitored({"4.14": CIS_PATTERNS["4.14"]}, Dimensions=[{"Name": "Account", "Value": ACCOUNT_ID}]),
        SERVICES,
        label="dimension-never-published",
        message="missing an alarm",
    ),
    *[
        Case(RULE_OF[control], "FAIL", monitored({}, multi_region=False), SERVICES, label="no-trail-group")
        for control in ("4.8", "4.11", "4.12", "4.13", "4.14", "4.15")
    ],
]

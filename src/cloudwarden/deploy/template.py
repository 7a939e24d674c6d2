"""The CloudFormation template (YAML) that deploys both detection lanes.

* Fast lane: an EventBridge rule on the default bus for CloudTrail's API-call and console sign-in events invokes
  ``cloudwarden.detect.lanes.fast.handler``; events the function fails on go to the dead-letter queue.
* Slow lane: the trail bucket's ``ObjectCreated`` notifications go to an SQS queue (its policy admits only that
  bucket of this account), an event source mapping feeds ``cloudwarden.detect.lanes.slow.handler``, and messages
  that keep failing move to the dead-letter queue.
* Both publish alerts to one SNS topic (``CLOUDWARDEN_SINKS=sns:<topic ARN>``). Queues and topic are encrypted,
  functions traced, log groups kept for ``LogRetentionInDays``, roles least-privilege (:mod:`.roles`).
* Both keep their checkpoints in one DynamoDB table (``CLOUDWARDEN_CHECKPOINTS=dynamodb:<table>``,
  :mod:`cloudwarden.detect.checkpoints_dynamodb`), so an event both lanes see alerts once: on-demand, encrypted
  with a customer-managed key of its own (rotated), point-in-time recovery, seen-marks and windows expiring by TTL,
  deletion protection, and retained with its key when the stack goes.

Regions: EventBridge receives IAM, STS and console sign-in events **only in us-east-1** (they are global), and S3
notifies only a queue **in the bucket's region**. The ``Lanes`` parameter lets one stack hold both lanes (trail
bucket in us-east-1) or one of them (``fast`` in us-east-1, ``slow`` in the bucket's region); the output
``GlobalEventsCovered`` says whether this stack's fast lane sees the global events.
"""

from __future__ import annotations

import platform
import sys
from dataclasses import dataclass
from typing import Any

import yaml

from cloudwarden.deploy import roles
from cloudwarden.detect.checkpoints import CHECKPOINTS_ENV, DYNAMODB_PREFIX
from cloudwarden.detect.checkpoints_dynamodb import ATTRIBUTE_DEFINITIONS, KEY_SCHEMA, TTL_ATTRIBUTE
from cloudwarden.detect.sinks import SINKS_ENV

FAST_HANDLER = "cloudwarden.detect.lanes.fast.handler"
SLOW_HANDLER = "cloudwarden.detect.lanes.slow.handler"
GLOBAL_EVENTS_REGION = "us-east-1"
# Both functions share the stack's table: an alert either lane raised is not raised by the other.
CHECKPOINTS = f"{DYNAMODB_PREFIX}${{CheckpointTable}}"
# The values CloudWatch Logs accepts for a retention period.
RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288,
                  3653]
# Interpreter machine names -> Lambda architectures.
ARCHITECTURES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}


@dataclass(frozen=True)
class LaneSettings:
    """What the template fixes at generation time (everything account-specific is a stack parameter)."""

    runtime: str
    architecture: str
    fast_timeout: int = 30
    slow_timeout: int = 300
    memory_mb: int = 1024


def this_interpreter() -> LaneSettings:
    """Runtime and architecture of the Python running cloudwarden: a package built here runs only there."""
    machine = platform.machine().lower()
    if machine not in ARCHITECTURES:
        raise ValueError(f"Lambda has no architecture for this machine ({machine}): pass --architecture")
    return LaneSettings(f"python{sys.version_info.major}.{sys.version_info.minor}", ARCHITECTURES[machine])


def _sub(text: str) -> dict[str, Any]:
    return {"Fn::Sub": text}


def _ref(name: str) -> dict[str, str]:
    return {"Ref": name}


def _arn(resource: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [resource, "Arn"]}


PARAMETERS: dict[str, dict[str, Any]] = {
    "CodeBucket": {"Type": "String", "MinLength": 3, "Description": "Bucket holding the Lambda package"},
    "CodeKey": {"Type": "String", "MinLength": 1, "Description": "Key of the package (cloudwarden deploy package)"},
    "TrailBucket": {"Type": "String", "MinLength": 3, "Description": "Bucket CloudTrail delivers its log files to"},
    "TrailKmsKeyArn": {
        "Type": "String",
        "Default": "",
        "Description": "KMS key ARN of an SSE-KMS trail (empty: the log files are not KMS-encrypted)",
    },
    "Lanes": {
        "Type": "String",
        "Default": "both",
        "AllowedValues": ["both", "fast", "slow"],
        "Description": "fast needs us-east-1 for IAM/STS/sign-in events; slow needs the trail bucket's region",
    },
    "LogRetentionInDays": {"Type": "Number", "Default": 365, "AllowedValues": RETENTION_DAYS},
}

CONDITIONS: dict[str, Any] = {
    "FastLane": {"Fn::Or": [{"Fn::Equals": [_ref("Lanes"), "both"]}, {"Fn::Equals": [_ref("Lanes"), "fast"]}]},
    "SlowLane": {"Fn::Or": [{"Fn::Equals": [_ref("Lanes"), "both"]}, {"Fn::Equals": [_ref("Lanes"), "slow"]}]},
    "HasTrailKey": {"Fn::Not": [{"Fn::Equals": [_ref("TrailKmsKeyArn"), ""]}]},
    "InGlobalEventsRegion": {"Fn::Equals": [_ref("AWS::Region"), GLOBAL_EVENTS_REGION]},
}


def _function(settings: LaneSettings, lane: str, handler: str, timeout: int, extra: dict[str, Any]) -> dict[str, Any]:
    title = lane.capitalize()
    return {
        "Type": "AWS::Lambda::Function",
        "Condition": f"{title}Lane",
        "DependsOn": f"{title}LaneLogGroup",  # the group (with retention) exists before the first log line
        "Properties": {
            "FunctionName": _sub(f"${{AWS::StackName}}-{lane}-lane"),
            "Description": f"cloudwarden {lane} lane",
            "Handler": handler,
            "Runtime": settings.runtime,
            "Architectures": [settings.architecture],
            "Code": {"S3Bucket": _ref("CodeBucket"), "S3Key": _ref("CodeKey")},
            "Role": _arn(f"{title}LaneRole"),
            "MemorySize": settings.memory_mb,
            "Timeout": timeout,
            "TracingConfig": {"Mode": "Active"},
            "Environment": {
                "Variables": {
                    SINKS_ENV: _sub("sns:${AlertTopic}"),  # the names the handlers read
                    CHECKPOINTS_ENV: _sub(CHECKPOINTS),
                }
            },
            **extra,
        },
    }


def _lane_resources(settings: LaneSettings, lane: str, handler: str, timeout: int,
                    policy: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    title = lane.capitalize()
    return {
        f"{title}LaneLogGroup": {
            "Type": "AWS::Logs::LogGroup",
            "Condition": f"{title}Lane",
            "DeletionPolicy": "Retain",  # an investigation may need the logs of a deleted stack
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "LogGroupName": _sub(f"/aws/lambda/${{AWS::StackName}}-{lane}-lane"),
                "RetentionInDays": _ref("LogRetentionInDays"),
            },
        },
        f"{title}LaneRole": {
            "Type": "AWS::IAM::Role",
            "Condition": f"{title}Lane",
            "Properties": {
                "Description": f"cloudwarden {lane} lane: only what its handler calls",
                "AssumeRolePolicyDocument": roles.lambda_trust(),
                "Policies": [{"PolicyName": f"cloudwarden-{lane}-lane", "PolicyDocument": policy}],
            },
        },
        f"{title}LaneFunction": _function(settings, lane, handler, timeout, extra),
    }


def _checkpoint_resources() -> dict[str, Any]:
    """The lanes' shared checkpoint table and the customer-managed key it is encrypted with."""
    retained = {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}  # what was alerted outlives the stack
    return {
        "CheckpointKey": {
            "Type": "AWS::KMS::Key",
            **retained,  # the retained table is encrypted with it
            "Properties": {
                "Description": "cloudwarden detection lanes: the checkpoint table",
                "EnableKeyRotation": True,
                "KeyPolicy": {
                    "Version": "2012-10-17",
                    "Statement": [{
                        # KMS's default key policy: the account (its IAM policies) decides who uses the key; the
                        # lanes' roles may use it only through DynamoDB (roles.py).
                        "Sid": "AccountIamPolicies",
                        "Effect": "Allow",
                        "Principal": {"AWS": _sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")},
                        "Action": "kms:*",
                        "Resource": "*",
                    }],
                },
            },
        },
        "CheckpointTable": {
            "Type": "AWS::DynamoDB::Table",
            **retained,
            "Properties": {
                "BillingMode": "PAY_PER_REQUEST",
                "KeySchema": KEY_SCHEMA,
                "AttributeDefinitions": ATTRIBUTE_DEFINITIONS,
                "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": _ref("CheckpointKey")},
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                # Seen-marks (30 days) and correlation windows (32 days after their newest event) expire.
                "TimeToLiveSpecification": {"AttributeName": TTL_ATTRIBUTE, "Enabled": True},
                "DeletionProtectionEnabled": True,
            },
        },
    }


def build_template(settings: LaneSettings) -> dict[str, Any]:
    """The template as data (intrinsic functions in their long form, so plain YAML holds them)."""
    from cloudwarden.detect.lanes.fast import DETAIL_TYPES  # the rule delivers what the handler accepts, no more

    fast_name, slow_name = _sub("${AWS::StackName}-fast-lane"), _sub("${AWS::StackName}-slow-lane")
    resources: dict[str, Any] = {
        "DeadLetterQueue": {
            "Type": "AWS::SQS::Queue",
            "DeletionPolicy": "Retain",  # what the lanes failed on outlives the stack, for a replay
            "UpdateReplacePolicy": "Retain",
            "Properties": {"SqsManagedSseEnabled": True, "MessageRetentionPeriod": 1209600},  # 14 days, the most
        },
        "AlertTopic": {
            "Type": "AWS::SNS::Topic",
            # AWS's key for SNS: publishers in this account need no key policy of their own.
            "Properties": {"DisplayName": "cloudwarden alerts", "KmsMasterKeyId": "alias/aws/sns"},
        },
        **_checkpoint_resources(),
        **_lane_resources(settings, "fast", FAST_HANDLER, settings.fast_timeout, roles.fast_lane_policy(fast_name),
                          {"DeadLetterConfig": {"TargetArn": _arn("DeadLetterQueue")}}),
        "FastLaneRule": {
            "Type": "AWS::Events::Rule",
            "Condition": "FastLane",
            "Properties": {
                "Description": {"Fn::If": [
                    "InGlobalEventsRegion",
                    "CloudTrail API calls and console sign-ins, IAM/STS/sign-in included (us-east-1)",
                    "CloudTrail API calls of this region; IAM/STS/sign-in events reach only us-east-1",
                ]},
                "EventPattern": {"detail-type": sorted(DETAIL_TYPES)},
                "State": "ENABLED",
                "Targets": [{"Id": "fast-lane", "Arn": _arn("FastLaneFunction")}],
            },
        },
        "FastLaneInvokePermission": {
            "Type": "AWS::Lambda::Permission",
            "Condition": "FastLane",
            "Properties": {
                "FunctionName": _ref("FastLaneFunction"),
                "Action": "lambda:InvokeFunction",
                "Principal": "events.amazonaws.com",
                "SourceArn": _arn("FastLaneRule"),
            },
        },
        "NotificationQueue": {
            "Type": "AWS::SQS::Queue",
            "Condition": "SlowLane",
            # Its messages only point at log files, which stay in the bucket: replay them from there.
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Delete",
            "Properties": {
                "SqsManagedSseEnabled": True,
                "MessageRetentionPeriod": 345600,  # 4 days, SQS's default, written out
                # AWS's advice for a queue feeding Lambda: at least six times the function's timeout.
                "VisibilityTimeout": 6 * settings.slow_timeout,
                "RedrivePolicy": {"deadLetterTargetArn": _arn("DeadLetterQueue"), "maxReceiveCount": 5},
            },
        },
        "NotificationQueuePolicy": {
            "Type": "AWS::SQS::QueuePolicy",
            "Condition": "SlowLane",
            "Properties": {
                "Queues": [_ref("NotificationQueue")],
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [{
                        "Sid": "TrailBucketNotifications",
                        "Effect": "Allow",
                        "Principal": {"Service": "s3.amazonaws.com"},
                        "Action": "sqs:SendMessage",
                        "Resource": _arn("NotificationQueue"),
                        "Condition": {
                            "ArnEquals": {"aws:SourceArn": _sub("arn:${AWS::Partition}:s3:::${TrailBucket}")},
                            "StringEquals": {"aws:SourceAccount": _ref("AWS::AccountId")},
                        },
                    }],
                },
            },
        },
        **_lane_resources(settings, "slow", SLOW_HANDLER, settings.slow_timeout, roles.slow_lane_policy(slow_name),
                          {}),
        "SlowLaneEventSource": {
            "Type": "AWS::Lambda::EventSourceMapping",
            "Condition": "SlowLane",
            "Properties": {
                "EventSourceArn": _arn("NotificationQueue"),
                "FunctionName": _ref("SlowLaneFunction"),
                "BatchSize": 10,
                "Enabled": True,
                # The handler names the messages whose log file it could not read; SQS keeps only those.
                "FunctionResponseTypes": ["ReportBatchItemFailures"],
            },
        },
    }
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "cloudwarden detection lanes (fast: EventBridge, slow: CloudTrail files in S3) with alerts "
        "on SNS. IAM, STS and console sign-in events reach EventBridge only in us-east-1; S3 notifies only a queue "
        "in the bucket's region.",
        "Parameters": PARAMETERS,
        "Conditions": CONDITIONS,
        "Resources": resources,
        "Outputs": _outputs(),
    }


def _outputs() -> dict[str, Any]:
    def output(value: Any, description: str, condition: str | None = None) -> dict[str, Any]:
        return {"Description": description, "Value": value, **({"Condition": condition} if condition else {})}

    return {
        "AlertTopicArn": output(_ref("AlertTopic"), "Subscribe to this topic to receive alerts"),
        "DeadLetterQueueUrl": output(_ref("DeadLetterQueue"), "Events and notifications the lanes failed on"),
        "CheckpointTableName": output(_ref("CheckpointTable"), "The lanes' shared checkpoints (exactly once)"),
        "FastLaneFunctionName": output(_ref("FastLaneFunction"), "The fast lane's function", "FastLane"),
        "FastLaneRuleName": output(_ref("FastLaneRule"), "The fast lane's EventBridge rule", "FastLane"),
        "SlowLaneFunctionName": output(_ref("SlowLaneFunction"), "The slow lane's function", "SlowLane"),
        "NotificationQueueArn": output(_arn("NotificationQueue"), "Point the trail bucket's notification here",
                                       "SlowLane"),
        "NotificationQueueUrl": output(_ref("NotificationQueue"), "The slow lane's queue", "SlowLane"),
        "GlobalEventsCovered": output(
            {"Fn::If": ["InGlobalEventsRegion", "yes",
                        "no: deploy Lanes=fast in us-east-1 for IAM, STS and console sign-in events"]},
            "Whether this stack's fast lane sees IAM, STS and console sign-in events",
            "FastLane",
        ),
    }


class _NoAliases(yaml.SafeDumper):
    """CloudFormation rejects YAML anchors and aliases; write a shared value out each time."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def render_template(settings: LaneSettings) -> str:
    """The template as YAML text."""
    return yaml.dump(build_template(settings), Dumper=_NoAliases, sort_keys=False, width=120)

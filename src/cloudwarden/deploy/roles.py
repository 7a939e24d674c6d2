"""The lanes' IAM roles: exactly the calls each handler makes, on exactly the resources it makes them on.

No statement has a wildcard action. Resources are the function's own log group, the alert topic, the dead-letter
queue, the trail bucket's objects, the notification queue, the checkpoint table and its key (used only through
DynamoDB), and (optionally) the trail's KMS key. The one
``Resource: "*"`` is X-Ray's: ``xray:PutTraceSegments`` and ``xray:PutTelemetryRecords`` have no resource-level
permissions, and the posture rule for Lambda demands active tracing.
"""

from __future__ import annotations

from typing import Any


def lambda_trust() -> dict[str, Any]:
    """Lambda may assume the role, for functions of this account only (no confused deputy). A new document per
    role: one role's edits never reach another's."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
            }
        ],
    }


def _statement(sid: str, actions: list[str], resources: Any) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}


def _log_group_arn(function_name: dict[str, Any]) -> dict[str, Any]:
    return {"Fn::Sub": ["arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/lambda/${Name}:*",
                        {"Name": function_name}]}


def _common(function_name: dict[str, Any]) -> list[dict[str, Any]]:
    """What both handlers do: write their logs, publish alerts, send traces."""
    return [
        # The log group is created by the template (with retention), so the role may not create groups.
        _statement("WriteOwnLogs", ["logs:CreateLogStream", "logs:PutLogEvents"], _log_group_arn(function_name)),
        _statement("PublishAlerts", ["sns:Publish"], {"Ref": "AlertTopic"}),
        _statement("Tracing", ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], "*"),
    ]


# What :class:`~cloudwarden.detect.checkpoints_dynamodb.DynamoCheckpoints` calls for each lane. TransactWriteItems
# is authorised per item (its puts are dynamodb:PutItem); delivered() deletes with BatchWriteItem.
FAST_CHECKPOINT_ACTIONS = ["dynamodb:PutItem", "dynamodb:Query", "dynamodb:BatchWriteItem"]
SLOW_CHECKPOINT_ACTIONS = [*FAST_CHECKPOINT_ACTIONS, "dynamodb:GetItem", "dynamodb:BatchGetItem"]  # files, windows


def _checkpoints(actions: list[str]) -> list[dict[str, Any]]:
    """The checkpoint table, and its key only as DynamoDB uses it on the lane's behalf."""
    key = _statement("CheckpointKeyThroughDynamoDB", ["kms:Decrypt", "kms:GenerateDataKey"],
                     {"Fn::GetAtt": ["CheckpointKey", "Arn"]})
    key["Condition"] = {"StringEquals": {"kms:ViaService": {"Fn::Sub": "dynamodb.${AWS::Region}.amazonaws.com"}}}
    return [_statement("Checkpoints", actions, {"Fn::GetAtt": ["CheckpointTable", "Arn"]}), key]


def fast_lane_policy(function_name: dict[str, Any]) -> dict[str, Any]:
    """The fast lane also sends the events it failed on to the dead-letter queue (Lambda's async DLQ)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            *_common(function_name),
            *_checkpoints(FAST_CHECKPOINT_ACTIONS),
            _statement("DeadLetters", ["sqs:SendMessage"], {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}),
        ],
    }


def slow_lane_policy(function_name: dict[str, Any]) -> dict[str, Any]:
    """The slow lane also reads the notification queue (the event source mapping polls as the function's role),
    reads the trail's log files, and decrypts them when the trail uses SSE-KMS."""
    statements = [
        *_common(function_name),
        *_checkpoints(SLOW_CHECKPOINT_ACTIONS),
        _statement(
            "ReadNotifications",
            ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"],
            {"Fn::GetAtt": ["NotificationQueue", "Arn"]},
        ),
        _statement("ReadTrailLogs", ["s3:GetObject"], {"Fn::Sub": "arn:${AWS::Partition}:s3:::${TrailBucket}/*"}),
        {
            "Fn::If": [
                "HasTrailKey",
                _statement("DecryptTrailLogs", ["kms:Decrypt"], {"Ref": "TrailKmsKeyArn"}),
                {"Ref": "AWS::NoValue"},
            ]
        },
    ]
    return {"Version": "2012-10-17", "Statement": statements}

"""The template read as an inventory and judged by cloudwarden's own posture rules."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from cloudwarden.deploy.template import LaneSettings, build_template
from cloudwarden.deploy.template_check import check_template
from cloudwarden.deploy.template_inventory import template_inventory
from cloudwarden.findings.model import Status

PARAMETERS = {"CodeBucket": "code", "CodeKey": "lanes.zip", "TrailBucket": "acme-trail"}
# The rules for the template's types (Lambda functions, SQS queues, an SNS topic, IAM roles, the checkpoint table
# and its KMS key) that must judge it.
EXPECTED_RULES = {
    "dynamodb_table_cmk_encrypted",
    "dynamodb_table_pitr_enabled",
    "kms_key_rotation_enabled",
    "lambda_function_supported_runtime",
    "lambda_function_url_auth",
    "lambda_function_not_public",
    "lambda_function_tracing_enabled",
    "lambda_function_no_secrets_in_env",
    "sqs_queue_encrypted",
    "sns_topic_kms_encrypted",
    "iam_role_trust_restricted",
    "iam_role_inline_policy_no_wildcard",
}


def _template() -> dict[str, Any]:
    return build_template(LaneSettings("python3.12", "x86_64"))


def test_the_generated_template_passes_every_rule_that_applies() -> None:
    verdicts = check_template(_template(), PARAMETERS)
    assert [(f.rule.id, f.resource_id, f.message) for f in verdicts.problems()] == []
    applied = {rule.id for rule in verdicts.applied_rules}
    # lambda_function_url_auth has nothing to judge (no function URL) and says so by returning no verdict.
    assert applied == EXPECTED_RULES - {"lambda_function_url_auth"}
    # 2 functions x 5 rules (minus no URL) + 2 queues + 1 topic + 2 roles x 2 + the table x 2 + its key
    assert len(verdicts.findings) == 18
    assert set(verdicts.not_judged) == {"iam_role_unused", "backup_plan_covers_dynamodb_table"}
    assert "cannot show" in verdicts.not_judged["backup_plan_covers_dynamodb_table"]


def test_the_inventory_has_the_collectors_attribute_shapes() -> None:
    converted = template_inventory(_template(), PARAMETERS, stack_name="cw", account_id="123456789012")
    inventory = converted.inventory
    fast = inventory.find("AWS::Lambda::Function", "cw-fast-lane")
    assert fast is not None and fast.arn == "arn:aws:lambda:us-east-1:123456789012:function:cw-fast-lane"
    policy = json.loads(fast.attributes["policy"])  # GetPolicy answers JSON text
    assert policy["Statement"] == [{
        "Sid": "FastLaneInvokePermission", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
        "Action": "lambda:InvokeFunction", "Resource": fast.arn,
        "Condition": {"ArnLike": {"AWS:SourceArn": "arn:aws:events:us-east-1:123456789012:rule/cw-FastLaneRule"}},
    }]
    sinks = fast.attributes["Environment"]["Variables"]["CLOUDWARDEN_SINKS"]
    assert sinks["redacted"] is True  # as the Lambda collector stores it: no value in an inventory
    queue = inventory.find("AWS::SQS::Queue", "cw-NotificationQueue")
    assert queue is not None
    attributes = queue.attributes["attributes"]  # GetQueueAttributes answers strings
    assert attributes["SqsManagedSseEnabled"] == "true" and attributes["VisibilityTimeout"] == "1800"
    assert json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"].endswith(":cw-DeadLetterQueue")
    queue_policy = json.loads(attributes["Policy"])["Statement"][0]
    assert queue_policy["Condition"]["ArnEquals"] == {"aws:SourceArn": "arn:aws:s3:::acme-trail"}
    assert queue_policy["Condition"]["StringEquals"] == {"aws:SourceAccount": "123456789012"}
    role = inventory.find("AWS::IAM::Role", "cw-SlowLaneRole")
    assert role is not None and role.region == "global"
    sids = [s["Sid"] for s in role.attributes["inline_policies"][0]["PolicyDocument"]["Statement"]]
    assert "DecryptTrailLogs" not in sids  # no KMS key given: the Fn::If dropped the statement
    assert converted.folded == {"FastLaneInvokePermission": "the function's resource policy",
                                "NotificationQueuePolicy": "the queue's Policy attribute"}
    assert set(converted.unjudged) == {"FastLaneLogGroup", "SlowLaneLogGroup", "FastLaneRule", "SlowLaneEventSource"}


def test_a_kms_trail_adds_decrypt_on_that_key_only() -> None:
    key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    converted = template_inventory(_template(), {**PARAMETERS, "TrailKmsKeyArn": key}, stack_name="cw")
    role = converted.inventory.find("AWS::IAM::Role", "cw-SlowLaneRole")
    assert role is not None
    decrypt = [s for s in role.attributes["inline_policies"][0]["PolicyDocument"]["Statement"]
               if s["Sid"] == "DecryptTrailLogs"]
    assert decrypt == [{"Sid": "DecryptTrailLogs", "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": key}]


def test_one_lane_leaves_the_other_lane_s_resources_out() -> None:
    converted = template_inventory(_template(), {**PARAMETERS, "Lanes": "fast"}, stack_name="cw")
    assert {r.id for r in converted.inventory.resources} == {
        "cw-fast-lane", "cw-FastLaneRole", "cw-AlertTopic", "cw-DeadLetterQueue", "cw-CheckpointTable",
        "cw-CheckpointKey"}
    assert set(converted.excluded) == {"NotificationQueue", "NotificationQueuePolicy", "SlowLaneLogGroup",
                                       "SlowLaneRole", "SlowLaneFunction", "SlowLaneEventSource"}


def test_the_checkpoint_table_reads_as_the_dynamodb_collector_sees_a_table() -> None:
    converted = template_inventory(_template(), PARAMETERS, stack_name="cw", account_id="123456789012")
    table = converted.inventory.find("AWS::DynamoDB::Table", "cw-CheckpointTable")
    assert table is not None and table.arn == "arn:aws:dynamodb:us-east-1:123456789012:table/cw-CheckpointTable"
    key_arn = "arn:aws:kms:us-east-1:123456789012:key/cw-CheckpointKey"
    assert table.attributes["table"]["SSEDescription"] == {"Status": "ENABLED", "SSEType": "KMS",
                                                          "KMSMasterKeyArn": key_arn}
    assert table.attributes["kms_key_manager"] == "CUSTOMER"
    assert table.attributes["point_in_time_recovery"] == {"PointInTimeRecoveryStatus": "ENABLED"}
    key = converted.inventory.find("AWS::KMS::Key", "cw-CheckpointKey")
    assert key is not None and key.attributes["rotation_enabled"] is True
    assert key.attributes["metadata"]["KeyManager"] == "CUSTOMER"


def _untraced(t: dict[str, Any]) -> None:
    del t["Resources"]["FastLaneFunction"]["Properties"]["TracingConfig"]


def _wildcard(t: dict[str, Any]) -> None:
    statements = t["Resources"]["SlowLaneRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    statements.append({"Effect": "Allow", "Action": "*", "Resource": "*"})


def _unencrypted(t: dict[str, Any]) -> None:
    del t["Resources"]["NotificationQueue"]["Properties"]["SqsManagedSseEnabled"]
    del t["Resources"]["AlertTopic"]["Properties"]["KmsMasterKeyId"]


def _public(t: dict[str, Any]) -> None:
    permission = t["Resources"]["FastLaneInvokePermission"]["Properties"]
    permission["Principal"] = "*"
    del permission["SourceArn"]


def _secret(t: dict[str, Any]) -> None:
    t["Resources"]["SlowLaneFunction"]["Properties"]["Environment"]["Variables"]["SLACK_TOKEN"] = "xoxb-123"


def _open_trust(t: dict[str, Any]) -> None:
    statement = t["Resources"]["FastLaneRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    statement["Principal"] = {"AWS": "*"}
    del statement["Condition"]


def _checkpoints_unprotected(t: dict[str, Any]) -> None:
    table = t["Resources"]["CheckpointTable"]["Properties"]
    del table["PointInTimeRecoverySpecification"]
    table["SSESpecification"] = {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": "alias/aws/dynamodb"}
    t["Resources"]["CheckpointKey"]["Properties"]["EnableKeyRotation"] = False


def _checkpoints_owned_key(t: dict[str, Any]) -> None:
    del t["Resources"]["CheckpointTable"]["Properties"]["SSESpecification"]


@pytest.mark.parametrize(("mutate", "failing"), [
    (_checkpoints_unprotected, {("dynamodb_table_pitr_enabled", "cw-CheckpointTable"),
                                ("dynamodb_table_cmk_encrypted", "cw-CheckpointTable"),
                                ("kms_key_rotation_enabled", "cw-CheckpointKey")}),
    (_checkpoints_owned_key, {("dynamodb_table_cmk_encrypted", "cw-CheckpointTable")}),
    (_untraced, {("lambda_function_tracing_enabled", "cw-fast-lane")}),
    (_wildcard, {("iam_role_inline_policy_no_wildcard", "cw-SlowLaneRole")}),
    (_unencrypted, {("sqs_queue_encrypted", "cw-NotificationQueue"), ("sns_topic_kms_encrypted", "cw-AlertTopic")}),
    (_public, {("lambda_function_not_public", "cw-fast-lane")}),
    (_secret, {("lambda_function_no_secrets_in_env", "cw-slow-lane")}),
    (_open_trust, {("iam_role_trust_restricted", "cw-FastLaneRole")}),
])
def test_a_template_that_breaks_a_rule_fails_it(mutate: Callable[[dict[str, Any]], None],
                                                failing: set[tuple[str, str]]) -> None:
    template = copy.deepcopy(_template())
    mutate(template)
    verdicts = check_template(template, PARAMETERS, stack_name="cw")
    assert {(f.rule.id, f.resource_id) for f in verdicts.problems()} == failing
    assert all(f.status is Status.FAIL for f in verdicts.problems())


def test_unresolvable_intrinsics_become_placeholders_not_crashes() -> None:
    template = {"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {
        "QueueName": {"Fn::ImportValue": "elsewhere"}, "KmsMasterKeyId": {"Fn::GetAtt": ["Key", "Arn"]},
        "VisibilityTimeout": {"Fn::Select": [0, [1]]}}}, "Odd": "not a resource"}}
    converted = template_inventory(template)
    queue = converted.inventory.resources[0]
    assert queue.id == "${Fn::ImportValue}"
    assert queue.attributes["attributes"]["KmsMasterKeyId"] == "${Key.Arn}"
    assert converted.unjudged == {"Odd": "not a resource (a mapping with a Type)"}

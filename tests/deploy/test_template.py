"""The generated template: cfn-lint finds nothing (errors, warnings or informational), no role grants a wildcard
action, and the pieces the lanes rely on say what the lane code expects."""

from __future__ import annotations

import sys
from typing import Any

import yaml
from cfnlint.api import ManualArgs, lint

from cloudwarden.deploy.template import (
    FAST_HANDLER,
    SLOW_HANDLER,
    LaneSettings,
    build_template,
    render_template,
    this_interpreter,
)
from cloudwarden.detect.lanes import fast, slow

SETTINGS = LaneSettings("python3.12", "arm64")


def _statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for resource in template["Resources"].values():
        for policy in resource.get("Properties", {}).get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                if "Fn::If" in statement:  # the optional KMS statement
                    found.append(statement["Fn::If"][1])
                else:
                    found.append(statement)
    return found


def test_cfn_lint_finds_nothing_in_either_kind_of_region() -> None:
    text = render_template(this_interpreter())
    matches = lint(text, config=ManualArgs(regions=["us-east-1", "eu-west-1"], include_checks=["I"]))
    assert [f"{m.rule.id} {m.message} (line {m.linenumber})" for m in matches] == []


def test_cfn_lint_is_not_blind_to_a_broken_template() -> None:
    broken = build_template(SETTINGS)
    broken["Resources"]["FastLaneFunction"]["Properties"]["Runtime"] = "python2.9"
    broken["Resources"]["FastLaneRule"]["Properties"]["Targets"][0]["Arn"] = {"Fn::GetAtt": ["Nowhere", "Arn"]}
    ids = {m.rule.id for m in lint(yaml.safe_dump(broken), config=ManualArgs(regions=["us-east-1"]))}
    assert {"E3030", "E1010"} <= ids, ids


def test_no_role_allows_a_wildcard_action_and_only_xray_needs_every_resource() -> None:
    statements = _statements(build_template(SETTINGS))
    assert len(statements) >= 9
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert all("*" not in action for action in actions), statement
        assert "NotAction" not in statement and statement["Effect"] == "Allow"
        if statement["Resource"] == "*":
            assert all(action.startswith("xray:") for action in actions), statement


def test_the_roles_name_the_stack_s_own_resources() -> None:
    by_sid = {s["Sid"]: s for s in _statements(build_template(SETTINGS))}
    assert by_sid["ReadTrailLogs"]["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:s3:::${TrailBucket}/*"}
    assert by_sid["ReadNotifications"]["Resource"] == {"Fn::GetAtt": ["NotificationQueue", "Arn"]}
    assert by_sid["DeadLetters"]["Resource"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
    assert by_sid["PublishAlerts"]["Resource"] == {"Ref": "AlertTopic"}
    assert by_sid["DecryptTrailLogs"] == {"Sid": "DecryptTrailLogs", "Effect": "Allow", "Action": ["kms:Decrypt"],
                                          "Resource": {"Ref": "TrailKmsKeyArn"}}
    log_arn = by_sid["WriteOwnLogs"]["Resource"]["Fn::Sub"][0]
    assert log_arn.endswith(":log-group:/aws/lambda/${Name}:*")


def test_the_functions_run_the_lane_handlers_on_the_package_s_platform() -> None:
    resources = build_template(SETTINGS)["Resources"]
    fast_fn, slow_fn = resources["FastLaneFunction"]["Properties"], resources["SlowLaneFunction"]["Properties"]
    assert (fast_fn["Handler"], slow_fn["Handler"]) == (FAST_HANDLER, SLOW_HANDLER)
    assert callable(fast.handler) and callable(slow.handler)
    assert f"{fast.__name__}.handler" == FAST_HANDLER and f"{slow.__name__}.handler" == SLOW_HANDLER
    for function in (fast_fn, slow_fn):
        assert function["Runtime"] == "python3.12" and function["Architectures"] == ["arm64"]
        assert function["Code"] == {"S3Bucket": {"Ref": "CodeBucket"}, "S3Key": {"Ref": "CodeKey"}}
        assert function["Environment"]["Variables"]["CLOUDWARDEN_SINKS"] == {"Fn::Sub": "sns:${AlertTopic}"}
        # One table for both: what one lane alerted on, the other does not alert on again.
        assert function["Environment"]["Variables"]["CLOUDWARDEN_CHECKPOINTS"] == {
            "Fn::Sub": "dynamodb:${CheckpointTable}"}
    here = this_interpreter()
    assert here.runtime == f"python{sys.version_info.major}.{sys.version_info.minor}"


def test_the_checkpoint_table_is_protected_and_each_role_gets_only_the_calls_its_lane_makes() -> None:
    resources = build_template(SETTINGS)["Resources"]
    table = resources["CheckpointTable"]
    assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Retain", "Retain")
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST" and props["DeletionProtectionEnabled"] is True
    assert props["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS",
                                         "KMSMasterKeyId": {"Ref": "CheckpointKey"}}
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires", "Enabled": True}
    assert resources["CheckpointKey"]["Properties"]["EnableKeyRotation"] is True
    assert resources["CheckpointKey"]["DeletionPolicy"] == "Retain"  # the retained table needs its key
    for lane, actions in (("Fast", {"dynamodb:PutItem", "dynamodb:Query", "dynamodb:BatchWriteItem"}),
                          ("Slow", {"dynamodb:PutItem", "dynamodb:Query", "dynamodb:BatchWriteItem",
                                    "dynamodb:GetItem", "dynamodb:BatchGetItem"})):
        statements = resources[f"{lane}LaneRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        by_sid = {s["Sid"]: s for s in statements if "Sid" in s}
        assert set(by_sid["Checkpoints"]["Action"]) == actions
        assert by_sid["Checkpoints"]["Resource"] == {"Fn::GetAtt": ["CheckpointTable", "Arn"]}
        key = by_sid["CheckpointKeyThroughDynamoDB"]
        assert key["Resource"] == {"Fn::GetAtt": ["CheckpointKey", "Arn"]}
        assert key["Condition"] == {"StringEquals": {"kms:ViaService": {
            "Fn::Sub": "dynamodb.${AWS::Region}.amazonaws.com"}}}


def test_the_queue_mapping_reports_batch_item_failures_as_the_slow_lane_answers_them() -> None:
    mapping = build_template(SETTINGS)["Resources"]["SlowLaneEventSource"]["Properties"]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_the_rule_delivers_exactly_the_detail_types_the_fast_lane_accepts() -> None:
    rule = build_template(SETTINGS)["Resources"]["FastLaneRule"]["Properties"]
    assert set(rule["EventPattern"]["detail-type"]) == fast.DETAIL_TYPES
    assert rule["Targets"][0]["Arn"] == {"Fn::GetAtt": ["FastLaneFunction", "Arn"]}


def test_the_template_says_where_global_events_arrive() -> None:
    template = build_template(SETTINGS)
    assert template["Conditions"]["InGlobalEventsRegion"] == {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}
    covered = template["Outputs"]["GlobalEventsCovered"]["Value"]["Fn::If"]
    assert covered[0] == "InGlobalEventsRegion" and covered[1] == "yes" and "us-east-1" in covered[2]
    assert "us-east-1" in template["Description"]


def test_yaml_has_no_aliases_cloudformation_would_reject() -> None:
    text = render_template(SETTINGS)
    assert "&id" not in text and "*id" not in text
    assert yaml.safe_load(text) == build_template(SETTINGS)

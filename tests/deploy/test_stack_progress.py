"""How apply follows a stack: the emulator creates stacks synchronously and answers a failing resource with a
malformed error instead of a rollback, so rollbacks, "no updates" and dead stacks are played by botocore's Stubber
on a real CloudFormation client (the only mock in tests/deploy, for what moto cannot do)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from cloudwarden.deploy.apply import DeployError, StackRequest, deploy_stack

REQUEST = StackRequest("cw", "us-east-1", "Resources: {}", {"TrailBucket": "acme-trail"})
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _client() -> tuple[Any, Stubber]:
    client = boto3.client("cloudformation", region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="y")
    return client, Stubber(client)


def _stack(status: str) -> dict[str, Any]:
    return {"Stacks": [{"StackName": "cw", "StackStatus": status, "CreationTime": NOW,
                        "Outputs": [{"OutputKey": "AlertTopicArn", "OutputValue": "arn:aws:sns:us-east-1:1:t"}]}]}


def _event(event_id: str, logical: str, status: str, reason: str = "") -> dict[str, Any]:
    event = {"StackId": "s", "EventId": event_id, "StackName": "cw", "LogicalResourceId": logical,
             "ResourceType": "AWS::Lambda::Function", "Timestamp": NOW, "ResourceStatus": status}
    return {**event, "ResourceStatusReason": reason} if reason else event


def test_a_rollback_names_every_failed_resource_and_why() -> None:
    client, stub = _client()
    stub.add_client_error("describe_stacks", "ValidationError", "Stack with id cw does not exist")
    stub.add_response("create_stack", {"StackId": "s"}, {"StackName": "cw", "TemplateBody": ANY, "Parameters": ANY,
                                                         "Capabilities": ["CAPABILITY_IAM"], "OnFailure": "ROLLBACK"})
    failed = _event("2", "SlowLaneFunction", "CREATE_FAILED", "Resource handler returned message: Unzipped size "
                    "must be smaller than 262144000 bytes")
    stub.add_response("describe_stacks", _stack("ROLLBACK_IN_PROGRESS"))
    stub.add_response("describe_stack_events", {"StackEvents": [failed, _event("1", "cw", "CREATE_IN_PROGRESS")]})
    stub.add_response("describe_stacks", _stack("ROLLBACK_COMPLETE"))
    stub.add_response("describe_stack_events", {"StackEvents": [_event("3", "cw", "ROLLBACK_COMPLETE"), failed]})
    stub.add_response("describe_stack_events", {"StackEvents": [_event("3", "cw", "ROLLBACK_COMPLETE"), failed]})
    lines: list[str] = []
    with stub, pytest.raises(DeployError) as raised:
        deploy_stack(client, REQUEST, lines.append, poll=0)
    assert str(raised.value) == ("stack cw ended ROLLBACK_COMPLETE\n  SlowLaneFunction (AWS::Lambda::Function): "
                                 "Resource handler returned message: Unzipped size must be smaller than 262144000 "
                                 "bytes")
    assert lines[0] == "creating stack cw in us-east-1"
    assert lines[1:] == ["  cw CREATE_IN_PROGRESS", "  SlowLaneFunction CREATE_FAILED: Resource handler returned "
                         "message: Unzipped size must be smaller than 262144000 bytes", "  cw ROLLBACK_COMPLETE"]
    stub.assert_no_pending_responses()


def test_an_unchanged_stack_is_reported_up_to_date() -> None:
    client, stub = _client()
    stub.add_response("describe_stacks", _stack("UPDATE_COMPLETE"))
    stub.add_response("describe_stack_events", {"StackEvents": [_event("1", "cw", "UPDATE_COMPLETE")]})
    stub.add_client_error("update_stack", "ValidationError", "No updates are to be performed.")
    lines: list[str] = []
    with stub:
        result = deploy_stack(client, REQUEST, lines.append, poll=0)
    assert (result.status, result.changed, result.outputs) == (
        "UPDATE_COMPLETE", False, {"AlertTopicArn": "arn:aws:sns:us-east-1:1:t"})
    assert lines == ["updating stack cw in us-east-1", "stack cw is up to date"]


def test_a_stack_that_never_got_created_must_be_deleted_first() -> None:
    client, stub = _client()
    stub.add_response("describe_stacks", _stack("ROLLBACK_COMPLETE"))
    stub.add_response("describe_stack_events", {"StackEvents": []})
    with stub, pytest.raises(DeployError, match="is ROLLBACK_COMPLETE and cannot be updated: delete it"):
        deploy_stack(client, REQUEST, lambda _: None, poll=0)

"""`cloudwarden deploy apply` against the emulator, then a real API call through both deployed lanes.

What the emulator (moto 5.2) cannot do, and how the test deals with it, said once here:

* It cannot run Lambda code without Docker. The test reads each deployed function's configuration
  (GetFunctionConfiguration: Handler and Environment), imports that handler and calls it in this process with
  that environment (plus the emulator's endpoint and credentials, which Lambda would supply).
* Its EventBridge does not invoke Lambda targets: the fast lane's event is matched with TestEventPattern against
  the deployed rule's pattern, and the rule's target must be the deployed fast-lane function.
* Its CloudFormation skips ``AWS::SQS::QueuePolicy`` (unsupported: the queue gets no policy, and moto's S3 does
  not check one before delivering) and drops the functions' ``TracingConfig`` and ``DeadLetterConfig``; the test
  asserts exactly these gaps so that it notices when the emulator learns them. The template's own verdicts on
  those properties are tested in test_template_check.py.
* Its CloudFormation creates the checkpoint table (key schema, billing, deletion protection) but applies neither
  its KMS encryption, its point-in-time recovery nor its TTL; asserted likewise. The two handlers here share nothing
  but that table, as the two deployed functions do (each has its own /tmp).
"""

from __future__ import annotations

import gzip
import importlib
import json
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from cloudwarden.cli.app import app
from cloudwarden.cli.common import CommandError
from cloudwarden.demo.emulator import EMULATOR_CREDENTIALS
from cloudwarden.demo.trail_noise import TrailWriter, resource_pools
from cloudwarden.demo.trail_personas import persona_for
from cloudwarden.demo.trail_recorder import RecordedCall, TrailRecorder, write_trail
from cloudwarden.deploy.apply import NOTIFICATION_ID
from cloudwarden.deploy.package import Package
from cloudwarden.deploy.template import FAST_HANDLER, SLOW_HANDLER, build_template
from cloudwarden.deploy.template_check import check_template
from cloudwarden.detect.lanes import fast, slow
from cloudwarden.posture.evaluator import evaluate
from tests.conftest import ACCOUNT_ID, Emulated

STACK = "cw-detect"
TRAIL, CODE = "acme-trail", "acme-artifacts"
ADMIN_ATTACHED = "0958a477-c075-4feb-9a5d-e68586a6f3c9"  # cw_admin_policy_attached.yml
# What moto's CloudFormation does not create or keep (see the module docstring).
EMULATOR_SKIPS = {"AWS::SQS::QueuePolicy"}
MOTO_SKIP_WARNING = "ignore:Tried to parse AWS..SQS..QueuePolicy:UserWarning"  # asserted in the test, not hidden


@pytest.fixture
def account(aws: Emulated, monkeypatch: pytest.MonkeyPatch) -> Emulated:
    """The emulated account with the two existing buckets, and an environment as a user (or Lambda) has it."""
    for name in ("AWS_PROFILE", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {**EMULATOR_CREDENTIALS, "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL":
                        aws.endpoint_url, "AWS_CONFIG_FILE": "/dev/null",
                        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}.items():
        monkeypatch.setenv(name, value)
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=TRAIL)
    s3.create_bucket(Bucket=CODE)
    return aws


def _apply(package: Package, *extra: str) -> Any:
    return CliRunner().invoke(app, ["deploy", "apply", "--trail-bucket", TRAIL, "--code-bucket", CODE,
                                    "--stack-name", STACK, "--package", str(package.path), *extra])


def _outputs(aws: Emulated) -> dict[str, str]:
    stack = aws.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}


def _deployed_handler(aws: Emulated, function: str,
                      monkeypatch: pytest.MonkeyPatch) -> Callable[[Any, Any], dict[str, Any]]:
    """The handler the deployed function names, with the deployed environment (its checkpoints: the stack's
    table, the one thing the two functions share)."""
    config = aws.client("lambda").get_function_configuration(FunctionName=function)
    for name, value in config["Environment"]["Variables"].items():
        monkeypatch.setenv(name, value)
    module, attribute = config["Handler"].rsplit(".", 1)
    # A cold start: the lane modules build their sinks and checkpoint stores from the environment on first use.
    monkeypatch.setattr(fast, "_sinks", None, raising=False)
    monkeypatch.setattr(fast, "_checkpoints", None)
    monkeypatch.setattr(slow, "_lane", None)
    monkeypatch.setattr(slow, "_s3", None)
    return getattr(importlib.import_module(module), attribute)


def _admin_attached(aws: Emulated) -> tuple[RecordedCall, dict[str, Any]]:
    """Attach AdministratorAccess to a new user in the emulator (a real API call), and its CloudTrail record."""
    recorder = TrailRecorder()
    iam = recorder.attach(aws.client("iam"))
    iam.create_user(UserName="mallory")
    iam.attach_user_policy(UserName="mallory", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    call = next(c for c in recorder.calls if c.operation == "AttachUserPolicy")
    now = datetime.now(UTC).replace(microsecond=0)
    writer = TrailWriter(ACCOUNT_ID, random.Random(5), resource_pools(recorder.calls))  # noqa: S311 (a test)
    session = writer.session(persona_for(call.service, call.operation), now - timedelta(minutes=3))
    record = writer.call(session, now, call.event_source, call.event_name, call.region, call.request_parameters,
                         call.response_elements)
    return call, record


def _through_pattern(aws: Emulated, pattern: str, entries: list[dict[str, str]]) -> list[dict[str, Any]]:
    """The events of ``entries`` that EventBridge delivers under ``pattern``, as a target receives them.

    The emulator lacks TestEventPattern, and its PutEvents cannot deliver to the deployed rule's Lambda target;
    so a probe rule with the deployed pattern on a bus of its own delivers to an SQS queue instead."""
    events, sqs = aws.client("events"), aws.client("sqs")
    events.create_event_bus(Name="pattern-probe")
    url = sqs.create_queue(QueueName="pattern-probe")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="pattern-probe", EventBusName="pattern-probe", EventPattern=pattern)
    events.put_targets(Rule="pattern-probe", EventBusName="pattern-probe", Targets=[{"Id": "probe", "Arn": arn}])
    answer = events.put_events(Entries=[{**entry, "EventBusName": "pattern-probe"} for entry in entries])
    assert answer["FailedEntryCount"] == 0
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    return [orjson.loads(m["Body"]) for m in messages]


def _inbox(aws: Emulated, topic_arn: str) -> Callable[[], list[dict[str, Any]]]:
    """An SQS queue subscribed to the alert topic; the returned function drains it (raw messages: the alerts)."""
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName="alert-inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    aws.client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn,
                                Attributes={"RawMessageDelivery": "true"})

    def drain() -> list[dict[str, Any]]:
        found = []
        while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            for message in messages:
                found.append(orjson.loads(message["Body"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return found

    return drain


@pytest.mark.filterwarnings(MOTO_SKIP_WARNING)
def test_apply_creates_the_stack_and_a_real_call_alerts_through_both_deployed_lanes(
    account: Emulated, lane_package: Package, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    aws = account
    s3 = aws.client("s3")
    # The bucket already notifies someone else; apply must keep that.
    s3.put_bucket_notification_configuration(Bucket=TRAIL, NotificationConfiguration={"TopicConfigurations": [{
        "Id": "audit-team", "TopicArn": aws.client("sns").create_topic(Name="audit-team")["TopicArn"],
        "Events": ["s3:ObjectRemoved:*"]}]})

    result = _apply(lane_package, "--configure-trail-bucket", "--yes")
    assert result.exit_code == 0, result.output
    assert "Plan:" in result.output and f"change bucket {TRAIL}" in result.output
    assert f"stack {STACK}: CREATE_COMPLETE" in result.output

    # -- what the emulator created ------------------------------------------------------------------------
    cfn = aws.client("cloudformation")
    created = {r["LogicalResourceId"]: r["ResourceType"]
               for r in cfn.list_stack_resources(StackName=STACK)["StackResourceSummaries"] if r["LogicalResourceId"]}
    planned = {k: v["Type"] for k, v in build_template(lane_package.settings)["Resources"].items()}
    assert {k: v for k, v in planned.items() if v not in EMULATOR_SKIPS} == created
    assert set(planned.values()) - set(created.values()) == EMULATOR_SKIPS
    outputs = _outputs(aws)
    assert outputs["GlobalEventsCovered"] == "yes"
    assert s3.head_object(Bucket=CODE, Key=lane_package.key)["ContentLength"] == lane_package.size
    lam = aws.client("lambda")
    fast_config = lam.get_function_configuration(FunctionName=outputs["FastLaneFunctionName"])
    slow_config = lam.get_function_configuration(FunctionName=outputs["SlowLaneFunctionName"])
    assert (fast_config["Handler"], slow_config["Handler"]) == (FAST_HANDLER, SLOW_HANDLER)
    assert fast_config["Runtime"] == lane_package.settings.runtime
    sinks = f"sns:{outputs['AlertTopicArn']}"
    assert fast_config["Environment"]["Variables"]["CLOUDWARDEN_SINKS"] == sinks
    assert slow_config["Environment"]["Variables"]["CLOUDWARDEN_SINKS"] == sinks
    checkpoints = f"dynamodb:{outputs['CheckpointTableName']}"
    assert fast_config["Environment"]["Variables"]["CLOUDWARDEN_CHECKPOINTS"] == checkpoints
    assert slow_config["Environment"]["Variables"]["CLOUDWARDEN_CHECKPOINTS"] == checkpoints
    table = aws.client("dynamodb").describe_table(TableName=outputs["CheckpointTableName"])["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST" and table["DeletionProtectionEnabled"]
    assert [k["AttributeName"] for k in table["KeySchema"]] == ["pk", "sk"]
    # moto's CloudFormation drops these three (it reads SSESpecification.Enabled, CloudFormation spells it
    # SSEEnabled); the template's own verdicts on them are in test_template_check.py.
    assert "SSEDescription" not in table
    dynamodb = aws.client("dynamodb")
    assert dynamodb.describe_continuous_backups(TableName=table["TableName"])["ContinuousBackupsDescription"][
        "PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "DISABLED"
    assert dynamodb.describe_time_to_live(TableName=table["TableName"])["TimeToLiveDescription"][
        "TimeToLiveStatus"] == "DISABLED"
    assert fast_config["TracingConfig"] == {"Mode": "PassThrough"}  # moto drops TracingConfig (template: Active)
    mappings = lam.list_event_source_mappings(FunctionName=outputs["SlowLaneFunctionName"])["EventSourceMappings"]
    assert [m["EventSourceArn"] for m in mappings] == [outputs["NotificationQueueArn"]]
    assert mappings[0]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]  # the handler's batchItemFailures
    sqs = aws.client("sqs")
    queue_url = outputs["NotificationQueueUrl"].rsplit("/", 2)
    queue_url = sqs.get_queue_url(QueueName=queue_url[-1])["QueueUrl"]
    queue = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    assert queue["SqsManagedSseEnabled"] == "true" and "Policy" not in queue  # the skipped QueuePolicy
    assert json.loads(queue["RedrivePolicy"])["deadLetterTargetArn"].endswith(outputs["DeadLetterQueueUrl"]
                                                                                .rsplit("/", 1)[-1])
    notifications = s3.get_bucket_notification_configuration(Bucket=TRAIL)
    assert [t["Id"] for t in notifications["TopicConfigurations"]] == ["audit-team"]
    assert [(q["Id"], q["QueueArn"]) for q in notifications["QueueConfigurations"]] == [
        (NOTIFICATION_ID, outputs["NotificationQueueArn"])]
    while drained := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        for message in drained:  # S3's s3:TestEvent when the notification was set; the slow lane ignores it
            assert list(slow.objects_in({"Records": [{"eventSource": "aws:sqs", "body": message["Body"]}]})) == []
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])

    _same_verdicts_as_the_template(aws, lane_package)

    inbox = _inbox(aws, outputs["AlertTopicArn"])
    call, record = _admin_attached(aws)
    assert call.error_code is None  # the emulator did attach the policy
    assert (record["eventSource"], record["eventName"], record["awsRegion"]) == (
        "iam.amazonaws.com", "AttachUserPolicy", "us-east-1")

    # -- the fast lane: the deployed rule's pattern, then the deployed handler --------------------------------
    events = aws.client("events")
    rule = events.describe_rule(Name=outputs["FastLaneRuleName"])
    targets = events.list_targets_by_rule(Rule=outputs["FastLaneRuleName"])["Targets"]
    assert [t["Arn"] for t in targets] == [fast_config["FunctionArn"]]
    delivered = _through_pattern(aws, rule["EventPattern"], [
        {"Source": "aws.ec2", "DetailType": "EC2 Instance State-change Notification", "Detail": '{"state": "running"}'},
        {"Source": "aws.iam", "DetailType": "AWS API Call via CloudTrail", "Detail": json.dumps(record)},
    ])
    assert [e["detail-type"] for e in delivered] == ["AWS API Call via CloudTrail"]  # the EC2 event did not match
    envelope = delivered[0]
    assert envelope["detail"] == record

    fast_handler = _deployed_handler(aws, outputs["FastLaneFunctionName"], monkeypatch)
    fast_result = fast_handler(envelope, None)
    assert ADMIN_ATTACHED in fast_result["rules"]
    fast_alerts = inbox()
    assert len(fast_alerts) == fast_result["alerts"] == len(fast_result["rules"])  # one message per alert
    admin = [a for a in fast_alerts if a["finding_info"]["analytic"]["uid"] == ADMIN_ATTACHED]
    assert len(admin) == 1
    assert admin[0]["class_uid"] == 2004 and "mallory" in json.dumps(admin[0]["evidences"])
    # EventBridge delivers at least once: the same event again raises nothing.
    assert fast_handler(envelope, None) == {"alerts": 0, "rules": fast_result["rules"]}
    assert inbox() == []

    # -- the slow lane: the log file lands in the trail bucket, S3 notifies the deployed queue ----------------
    written = write_trail([record], tmp_path / "trail", ACCOUNT_ID)
    assert len(written) == 1
    key = written[0].relative_to(tmp_path / "trail").as_posix()
    with gzip.open(written[0]) as handle:
        assert json.load(handle)["Records"][0]["eventID"] == record["eventID"]
    s3.put_object(Bucket=TRAIL, Key=key, Body=written[0].read_bytes())
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
    assert len(messages) == 1
    sqs_event = {"Records": [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                              "attributes": m.get("Attributes", {}), "eventSource": "aws:sqs",
                              "eventSourceARN": outputs["NotificationQueueArn"], "awsRegion": "us-east-1"}
                             for m in messages]}
    slow_handler = _deployed_handler(aws, outputs["SlowLaneFunctionName"], monkeypatch)
    slow_result = slow_handler(sqs_event, None)
    # The slow lane evaluated the file and raised the same alerts (rule + eventID), but the fast lane had: across
    # both deployed lanes each alert reached the topic exactly once.
    assert slow_result == {"files": 1, "skipped": 0, "alerts": 0, "errors": [], "batchItemFailures": []}
    assert inbox() == []
    assert len(set(_uids(fast_alerts))) == len(fast_alerts)

    # SQS delivers at least once: the same notification again is skipped, and nothing reaches the topic.
    again = slow_handler(sqs_event, None)
    assert again == {"files": 1, "skipped": 1, "alerts": 0, "errors": [], "batchItemFailures": []}
    assert inbox() == []

    # A log file that cannot be read: its message is reported back, so SQS keeps it for another try.
    torn_key = key.replace(".json.gz", "-torn.json.gz")
    s3.put_object(Bucket=TRAIL, Key=torn_key, Body=gzip.compress(b'{"Records": [')[:-6])
    torn = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    torn_event = {"Records": [{"messageId": m["MessageId"], "body": m["Body"], "eventSource": "aws:sqs"}
                              for m in torn]}
    failed = slow_handler(torn_event, None)
    assert failed["batchItemFailures"] == [{"itemIdentifier": torn[0]["MessageId"]}] and failed["errors"]
    assert inbox() == []


# Rules whose inputs moto's CloudFormation keeps (it drops TracingConfig, and stores role policies as Python text).
PARITY_RULES = {"sqs_queue_encrypted", "sns_topic_kms_encrypted", "lambda_function_not_public",
                "lambda_function_no_secrets_in_env", "lambda_function_supported_runtime", "lambda_function_url_auth"}


def _same_verdicts_as_the_template(aws: Emulated, package: Package) -> None:
    """The collectors' view of the created stack gets the verdicts the template got before it existed."""
    planned = check_template(build_template(package.settings),
                             {"CodeBucket": CODE, "CodeKey": package.key, "TrailBucket": TRAIL},
                             stack_name=STACK, account_id=ACCOUNT_ID)
    collected = evaluate(aws.collect(services=["lambda", "sqs", "sns"]))

    def verdicts(findings: list[Any], generated_suffix: bool) -> dict[tuple[str, str], str]:
        # CloudFormation names queues and topics STACK-LogicalId-RANDOM; the template reading says STACK-LogicalId.
        def name(f: Any) -> str:
            return f.resource_id.rsplit("-", 1)[0] if generated_suffix and f.rule.service != "lambda" else f.resource_id

        return {(f.rule.id, name(f)): f.status.value for f in findings if f.rule.id in PARITY_RULES}

    from_template, from_account = verdicts(planned.findings, False), verdicts(collected, True)
    assert len(from_template) == 9  # 2 functions x 3 (no URL: no verdict) + 2 queues + 1 topic, all PASS
    assert set(from_template.values()) == {"PASS"}
    assert {k: v for k, v in from_account.items() if k in from_template} == from_template


def _uids(alerts: list[dict[str, Any]]) -> list[str]:
    return sorted(a["finding_info"]["uid"] for a in alerts)


@pytest.mark.filterwarnings(MOTO_SKIP_WARNING)
def test_apply_again_is_an_update_that_keeps_the_bucket_as_it_is(account: Emulated, lane_package: Package) -> None:
    first = _apply(lane_package, "--configure-trail-bucket", "--yes")
    assert first.exit_code == 0, first.output
    before = account.client("s3").get_bucket_notification_configuration(Bucket=TRAIL)
    again = _apply(lane_package, "--configure-trail-bucket", "--yes")
    assert again.exit_code == 0, again.output
    assert "already there (same content)" in again.output
    assert f"bucket {TRAIL} already notifies the queue" in again.output
    after = account.client("s3").get_bucket_notification_configuration(Bucket=TRAIL)
    assert after["QueueConfigurations"] == before["QueueConfigurations"]


@pytest.mark.filterwarnings(MOTO_SKIP_WARNING)
def test_without_the_flag_the_trail_bucket_is_left_alone(account: Emulated, lane_package: Package) -> None:
    result = _apply(lane_package, "--yes")
    assert result.exit_code == 0, result.output
    assert f"leave bucket {TRAIL} unchanged" in result.output
    assert "QueueConfigurations" not in account.client("s3").get_bucket_notification_configuration(Bucket=TRAIL)


def test_nothing_is_changed_without_a_yes(account: Emulated, lane_package: Package) -> None:
    result = _apply(lane_package, "--configure-trail-bucket")
    assert result.exit_code == 1  # main() prints a CommandError as "error: ..."; the runner keeps the exception
    assert isinstance(result.exception, CommandError) and "pass --yes" in str(result.exception)
    assert "Plan:" in result.output and f"change bucket {TRAIL}" in result.output
    assert account.client("cloudformation").list_stacks()["StackSummaries"] == []
    assert account.client("s3").list_objects_v2(Bucket=CODE).get("KeyCount") == 0


def test_a_slow_lane_away_from_its_bucket_is_refused(account: Emulated, lane_package: Package) -> None:
    account.client("s3", "eu-west-1").create_bucket(
        Bucket="acme-trail-eu", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    result = CliRunner().invoke(app, ["deploy", "apply", "--trail-bucket", "acme-trail-eu", "--code-bucket", CODE,
                                      "--package", str(lane_package.path), "--yes"])
    assert result.exit_code == 1 and isinstance(result.exception, CommandError)
    message = str(result.exception)
    assert "acme-trail-eu is in eu-west-1" in message and "--lanes slow --region eu-west-1" in message
    assert account.client("cloudformation").list_stacks()["StackSummaries"] == []

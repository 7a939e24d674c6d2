"""Alert sinks that write to AWS (SNS, Security Hub, EventBridge), against the emulator over HTTP: what arrives
where a subscriber reads it, what a re-send does, what a failing sink leaves in the outbox, and hostile alerts
kept within the services' limits.

Stratus Red Team detonation records (Apache 2.0) and SigmaHQ's CloudTrail rules (DRL 1.1), from ../shared/data.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloudwarden.demo.emulator import EMULATOR_CREDENTIALS
from cloudwarden.detect.checkpoints import Checkpoints
from cloudwarden.detect.engine import Detector
from cloudwarden.detect.lanes import fast, slow
from cloudwarden.detect.sinks import FileSink, SinkError, StreamSink, parse_sink, parse_sinks, sinks_from_env
from cloudwarden.detect.sinks_asff import alert_to_asff
from cloudwarden.detect.sinks_aws import (
    DETAIL_TYPE,
    EVENTS_REQUEST_MAX,
    SNS_REQUEST_MAX,
    EventBridgeSink,
    SecurityHubSink,
    SnsSink,
    WriterContext,
    sns_id,
)
from cloudwarden.detect.sinks_limits import fit_alert
from tests.conftest import ACCOUNT_ID, REGION
from tests.e2e.conftest import cli_env, run_cli
from tests.trail.helpers import SIGMA_DIR, STRATUS_DIR, cloudtrail_key

pytestmark = pytest.mark.skipif(not SIGMA_DIR.is_dir(), reason="../shared/data is not beside this clone")


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector.load([SIGMA_DIR])


@pytest.fixture(scope="module")
def alerts(detector: Detector) -> list[dict[str, Any]]:
    """Every alert the Stratus detonations raise (dozens, several rules, several techniques)."""
    records = [r for path in sorted(STRATUS_DIR.glob("*.json")) for r in json.loads(path.read_text())]
    raised = {a["finding_info"]["uid"]: a for r in records for a in detector.alerts(r, "slow")}
    assert len(raised) > 25
    return list(raised.values())


def hostile(alert: dict[str, Any], index: int = 0) -> dict[str, Any]:
    """``alert`` about an event an attacker shaped: a 1 MB request, control characters and characters SNS
    refuses in every string it could reach, a 300-character eventID."""
    event = dict(alert["evidences"][0]["data"])
    event["requestParameters"] = {"policyDocument": "A\x00\x1b[31m\ufffe\uffff" * 200_000}
    event["userAgent"] = "curl\x00\x07\r\n\ufffe" * 5_000
    event["eventID"] = "e" * 300 + str(index)
    event["awsRegion"] = "us-east-1\x00<script>"
    copy = json.loads(json.dumps(alert))
    copy["evidences"] = [{"data": event}]
    copy["finding_info"]["uid"] = f"{copy['finding_info']['analytic']['uid']}:{event['eventID']}"
    copy["actor"]["user"]["uid"] = "arn:aws:iam::123456789012:user/\x00evil" + "x" * 100_000
    return copy


def writer_for(aws: Any) -> WriterContext:
    return WriterContext(lambda: aws.emulator.context(read_only=False))


def subscribed_queue(aws: Any, topic_arn: str, fifo: bool = False) -> str:
    sqs = aws.client("sqs")
    name = "alerts.fifo" if fifo else "alerts"
    url = sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true"} if fifo else {})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    aws.client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn,
                                Attributes={"RawMessageDelivery": "true"})
    return url


def drain_queue(aws: Any, url: str) -> list[dict[str, Any]]:
    sqs = aws.client("sqs")
    messages: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"],
                                       WaitTimeSeconds=0).get("Messages", []):
        messages.extend(batch)
        sqs.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)])
    return messages


def test_specs_parse_and_bad_ones_say_why(tmp_path: Path) -> None:
    writer = WriterContext(lambda: pytest.fail("parsing a spec must not connect to AWS"))
    arn = "arn:aws:sns:eu-west-1:111122223333:alerts.fifo"
    sinks = parse_sinks(["stdout", f"file:{tmp_path / 'a.jsonl'}", f"sns:{arn}", "securityhub",
                         "securityhub:eu-central-1", "eventbridge:default",
                         "eventbridge:arn:aws-us-gov:events:us-gov-west-1:111122223333:event-bus/sec"], writer)
    assert [type(s) for s in sinks] == [StreamSink, FileSink, SnsSink, SecurityHubSink, SecurityHubSink,
                                        EventBridgeSink, EventBridgeSink]
    sns, hub, bus = sinks[2], sinks[4], sinks[6]
    assert isinstance(sns, SnsSink) and (sns.region, sns.fifo) == ("eu-west-1", True)
    assert isinstance(hub, SecurityHubSink) and hub.region == "eu-central-1"
    assert isinstance(bus, EventBridgeSink) and bus.region == "us-gov-west-1"
    assert all(s.writer is writer for s in sinks[2:])  # type: ignore[attr-defined]
    bad = {
        "sns:": "needs a target",
        "sns:alerts": "does not name an SNS topic ARN",
        "sns:arn:aws:sqs:eu-west-1:111122223333:alerts": "does not name an SNS topic ARN",
        "sns:arn:aws:sns:eu-west-1:1111:alerts": "does not name an SNS topic ARN",
        "securityhub:EU_WEST": "not a region name",
        "eventbridge:": "needs a target",
        "eventbridge:my bus": "a bus name is",
        "eventbridge:arn:aws:events:eu-west-1:111122223333:rule/x": "not an event bus ARN",
        "kafka:topic": "unknown sink",
        "file:": "unknown sink",
    }
    for spec, reason in bad.items():
        with pytest.raises(ValueError, match=reason):
            parse_sink(spec, writer)


def test_sns_standard_topic_reaches_a_subscribed_queue_with_filterable_attributes(
        aws: Any, alerts: list[dict[str, Any]]) -> None:
    topic = aws.client("sns").create_topic(Name="alerts")["TopicArn"]
    url = subscribed_queue(aws, topic)
    writer = writer_for(aws)
    sink = parse_sink(f"sns:{topic}", writer)
    sent = alerts[:23]
    sink.send(sent)
    assert writer.context.api_calls["sns:PublishBatch"] == 3  # 10 per call
    messages = drain_queue(aws, url)
    assert sorted((orjson.loads(m["Body"]) for m in messages), key=lambda a: a["finding_info"]["uid"]) == sorted(
        sent, key=lambda a: a["finding_info"]["uid"])
    for message in messages:
        body, attributes = orjson.loads(message["Body"]), message["MessageAttributes"]
        assert attributes["severity"]["StringValue"] == body["severity"]
        assert attributes["rule_uid"]["StringValue"] == body["finding_info"]["analytic"]["uid"]
        assert attributes["alert_uid"]["StringValue"] == body["finding_info"]["uid"]


def test_sns_fifo_topic_deduplicates_a_resend(aws: Any, alerts: list[dict[str, Any]]) -> None:
    topic = aws.client("sns").create_topic(
        Name="alerts.fifo", Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "false"})["TopicArn"]
    url = subscribed_queue(aws, topic, fifo=True)
    sink = parse_sink(f"sns:{topic}", writer_for(aws))
    long_uid = hostile(alerts[0])
    sink.send([*alerts[:5], long_uid])
    sink.send([*alerts[:5], long_uid])  # the outbox delivering again after a crash
    uids = sorted(orjson.loads(m["Body"])["finding_info"]["uid"] for m in drain_queue(aws, url))
    assert uids == sorted(a["finding_info"]["uid"] for a in [*alerts[:5], long_uid])
    entry, _ = sink.entries([long_uid])[0]  # type: ignore[attr-defined]
    assert entry["MessageDeduplicationId"] == sns_id(long_uid["finding_info"]["uid"])
    assert len(entry["MessageDeduplicationId"]) == 64 and entry["MessageGroupId"]


def test_security_hub_imports_asff_and_a_reimport_updates_instead_of_duplicating(
        aws: Any, alerts: list[dict[str, Any]]) -> None:
    writer = writer_for(aws)
    sink = parse_sink(f"securityhub:{REGION}", writer)
    sink.send(alerts)
    sink.send(alerts)
    assert len(alerts) > 100
    calls = -(-len(alerts) // 100)  # each call takes up to 100
    assert writer.context.api_calls["securityhub:BatchImportFindings"] == 2 * calls
    findings = all_findings(aws)
    assert sorted(f["Id"] for f in findings) == sorted(a["finding_info"]["uid"] for a in alerts)
    by_id = {f["Id"]: f for f in findings}
    for alert in alerts:
        finding = by_id[alert["finding_info"]["uid"]]
        assert finding["ProductArn"] == f"arn:aws:securityhub:{REGION}:{ACCOUNT_ID}:product/{ACCOUNT_ID}/default"
        assert finding["AwsAccountId"] == ACCOUNT_ID
        assert finding["Severity"]["Label"] == alert["severity"].upper()
        assert finding["Title"] == alert["finding_info"]["title"][:256]
        assert finding["Resources"]
        techniques = [a["technique"]["uid"] for a in alert["finding_info"]["attacks"]]
        ttps = [t for t in finding["Types"] if t.startswith("TTPs/")]
        assert [t.rsplit("/", 1)[1] for t in ttps] == techniques
        event = alert["evidences"][0]["data"]
        assert finding["ProductFields"]["cloudwarden/event_id"] == event["eventID"]
        assert finding["Action"]["AwsApiCallAction"]["Api"] == event["eventName"]
    typed = next(f for f in findings if any(t.count("/") == 2 and t.startswith("TTPs/") for t in f["Types"]))
    assert typed["Types"][0].split("/")[1] in {"Persistence", "Defense Evasion", "Credential Access", "Discovery",
                                               "Privilege Escalation", "Initial Access", "Execution", "Collection",
                                               "Lateral Movement", "Command and Control"}


def all_findings(aws: Any) -> list[dict[str, Any]]:
    pages = aws.client("securityhub").get_paginator("get_findings").paginate()
    return [f for page in pages for f in page["Findings"]]


def test_security_hub_rejected_findings_raise(aws: Any, alerts: list[dict[str, Any]]) -> None:
    # The emulator accepts every finding; Security Hub rejects some (e.g. an account it does not manage): stub
    # the response the real service gives.
    writer = writer_for(aws)
    sink = parse_sink("securityhub", writer)
    client = writer.client("securityhub", writer.context.default_region)
    with Stubber(client) as stub:
        stub.add_response("batch_import_findings", {"FailedCount": 1, "SuccessCount": 1, "FailedFindings": [
            {"Id": alerts[0]["finding_info"]["uid"], "ErrorCode": "AccessDeniedException", "ErrorMessage": "no"}]})
        with pytest.raises(SinkError, match="1 of 2 findings rejected: AccessDeniedException"):
            sink.send(alerts[:2])


def test_eventbridge_rejected_entries_raise(aws: Any, alerts: list[dict[str, Any]]) -> None:
    # The emulator accepts every entry of a call to a bus that exists; EventBridge may reject some (throttling,
    # an internal failure) with FailedEntryCount: stub the response the real service gives.
    writer = writer_for(aws)
    sink = parse_sink("eventbridge:default", writer)
    with Stubber(writer.client("events", writer.context.default_region)) as stub:
        stub.add_response("put_events", {"FailedEntryCount": 1, "Entries": [
            {"EventId": "1"}, {"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}]})
        with pytest.raises(SinkError, match="1 of 2 events rejected: InternalFailure: try again"):
            sink.send(alerts[:2])


def make_bus_with_queue(aws: Any, bus: str) -> str:
    events, sqs = aws.client("events"), aws.client("sqs")
    events.create_event_bus(Name=bus)
    url = sqs.create_queue(QueueName="bus-alerts")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="cloudwarden-alerts", EventBusName=bus,
                    EventPattern=json.dumps({"source": ["cloudwarden"], "detail-type": [DETAIL_TYPE]}))
    events.put_targets(Rule="cloudwarden-alerts", EventBusName=bus, Targets=[{"Id": "queue", "Arn": arn}])
    return url


def test_eventbridge_bus_rule_routes_alerts_to_its_queue(aws: Any, alerts: list[dict[str, Any]]) -> None:
    url = make_bus_with_queue(aws, "security")
    writer = writer_for(aws)
    arn = f"arn:aws:events:{REGION}:{ACCOUNT_ID}:event-bus/security"
    parse_sink(f"eventbridge:{arn}", writer).send(alerts[:15])
    assert writer.context.api_calls["events:PutEvents"] == 2
    received = [orjson.loads(m["Body"]) for m in drain_queue(aws, url)]
    assert {e["source"] for e in received} == {"cloudwarden"}
    assert {e["detail-type"] for e in received} == {DETAIL_TYPE}
    assert sorted(e["detail"]["finding_info"]["uid"] for e in received) == sorted(
        a["finding_info"]["uid"] for a in alerts[:15])


def test_a_failing_sink_keeps_the_alerts_in_the_outbox_until_a_later_drain(
        aws: Any, alerts: list[dict[str, Any]], tmp_path: Path) -> None:
    writer = writer_for(aws)
    bus = parse_sink("eventbridge:security", writer)  # the bus does not exist yet: every entry is rejected
    topic_arn = f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:alerts"
    topic = parse_sink(f"sns:{topic_arn}", writer)  # nor does the topic: PublishBatch fails as a whole
    out = tmp_path / "alerts.jsonl"
    with Checkpoints(tmp_path / "checkpoints.sqlite") as checkpoints:
        assert checkpoints.record(alerts[:12]) == 12
        with pytest.raises(ClientError, match="does not exist"):
            checkpoints.drain([FileSink(out), bus])
        with pytest.raises(ClientError, match=r"NotFound|does not exist"):
            checkpoints.drain([topic])
        assert checkpoints.counts()["outbox"] == 12
        url = make_bus_with_queue(aws, "security")
        queue = subscribed_queue(aws, aws.client("sns").create_topic(Name="alerts")["TopicArn"])
        assert checkpoints.drain([FileSink(out), bus, topic]) == 12
        assert checkpoints.counts()["outbox"] == 0
    expected = sorted(a["finding_info"]["uid"] for a in alerts[:12])
    assert sorted(orjson.loads(m["Body"])["detail"]["finding_info"]["uid"] for m in drain_queue(aws, url)) == expected
    assert sorted(orjson.loads(m["Body"])["finding_info"]["uid"] for m in drain_queue(aws, queue)) == expected
    assert sorted(orjson.loads(line)["finding_info"]["uid"] for line in out.read_bytes().splitlines()) == expected


def test_hostile_alerts_stay_within_each_service_s_limits(aws: Any, alerts: list[dict[str, Any]]) -> None:
    evil = [hostile(a, i) for i, a in enumerate(alerts[:3])]
    writer = writer_for(aws)
    topic = aws.client("sns").create_topic(Name="alerts")["TopicArn"]
    queue = subscribed_queue(aws, topic)
    bus_queue = make_bus_with_queue(aws, "security")
    for spec in (f"sns:{topic}", "eventbridge:security", "securityhub"):
        parse_sink(spec, writer).send(evil)
    by_uid = {a["finding_info"]["uid"]: a for a in evil}
    messages = drain_queue(aws, queue)
    assert len(messages) == 3
    for message in messages:
        assert len(message["Body"].encode()) <= SNS_REQUEST_MAX
        body = orjson.loads(message["Body"])
        original = by_uid[body["finding_info"]["uid"]]["evidences"][0]["data"]
        assert body["unmapped"]["evidence_trimmed"]["original_bytes"] > 1_000_000
        assert "trimmed" in body["message"]
        assert body["evidences"][0]["data"]["eventName"] == original["eventName"]
    events = [orjson.loads(m["Body"]) for m in drain_queue(aws, bus_queue)]
    assert len(events) == 3
    assert all(len(orjson.dumps(e["detail"])) <= EVENTS_REQUEST_MAX for e in events)
    findings = all_findings(aws)
    assert len(findings) == 3
    for finding in findings:
        assert len(finding["Id"]) <= 512 and len(orjson.dumps(finding)) < 240 * 1024
        assert {r["Region"] for r in finding["Resources"]} == {REGION}  # not the event's malformed one
        for value in finding["ProductFields"].values():
            assert len(value) <= 2048 and not any(ord(c) < 32 and c not in "\t\n" for c in value)


def test_trimming_keeps_the_event_s_small_fields_and_says_what_it_cut(alerts: list[dict[str, Any]]) -> None:
    evil = hostile(alerts[0])
    fitted = orjson.loads(fit_alert(evil, 64 * 1024))
    kept = fitted["evidences"][0]["data"]
    original = evil["evidences"][0]["data"]
    assert kept["eventName"] == original["eventName"] and kept["eventTime"] == original["eventTime"]
    assert kept["requestParameters"].endswith("…")  # the start of its JSON, as a string
    assert fitted["finding_info"]["uid"] == evil["finding_info"]["uid"]
    assert fit_alert(alerts[1], 64 * 1024) == orjson.dumps(alerts[1])  # an alert that fits is sent as it is
    assert "\ufffe" not in fit_alert(evil, 64 * 1024).decode()  # written as an escape SNS accepts


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    fields=st.dictionaries(st.text(max_size=300), st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5000),
        lambda children: st.lists(children, max_size=30) | st.dictionaries(st.text(max_size=20), children,
                                                                            max_size=30), max_leaves=200),
        max_size=60),
    padding=st.integers(0, 400_000),
)
def test_any_event_fits_every_limit(alerts: list[dict[str, Any]], fields: dict[str, Any], padding: int) -> None:
    alert = json.loads(json.dumps(alerts[0]))
    alert["evidences"] = [{"data": {**fields, "pad": "\ud800" + "x" * padding}}]  # a lone surrogate too
    for limit in (16 * 1024, SNS_REQUEST_MAX - 1024, EVENTS_REQUEST_MAX):
        data = fit_alert(alert, limit)
        assert len(data) <= limit
        assert orjson.loads(data)["finding_info"]["uid"] == alert["finding_info"]["uid"]
    finding = alert_to_asff(alert, ACCOUNT_ID, "aws", REGION)
    assert len(orjson.dumps(finding)) < 240 * 1024


def lambda_environment(aws: Any, monkeypatch: pytest.MonkeyPatch, sinks: str) -> None:
    for key, value in EMULATOR_CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws.endpoint_url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("CLOUDWARDEN_SINKS", sinks)


def test_both_lambda_handlers_send_to_the_sinks_in_their_environment(
        aws: Any, detector: Detector, alerts: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    topic = aws.client("sns").create_topic(Name="cloudwarden-alerts")["TopicArn"]
    queue = subscribed_queue(aws, topic)
    lambda_environment(aws, monkeypatch, f"sns:{topic}")
    monkeypatch.setenv("CLOUDWARDEN_CHECKPOINTS", str(tmp_path / "checkpoints.sqlite"))
    monkeypatch.setattr(fast, "_sinks", None)  # a fresh container (whose rules include SigmaHQ's)
    monkeypatch.setattr(fast, "_detector", detector)
    monkeypatch.setattr(slow, "_lane", None)
    monkeypatch.setattr(fast, "_checkpoints", None)
    event = alerts[0]["evidences"][0]["data"]
    result = fast.handler({"detail-type": "AWS API Call via CloudTrail", "detail": event}, None)
    assert result["alerts"] >= 1
    via_fast = {orjson.loads(m["Body"])["finding_info"]["uid"] for m in drain_queue(aws, queue)}
    assert alerts[0]["finding_info"]["uid"] in via_fast

    records = [a["evidences"][0]["data"] for a in alerts[1:6]]
    aws.client("s3").create_bucket(Bucket="trail")
    key = cloudtrail_key(name="one")
    aws.client("s3").put_object(Bucket="trail", Key=key, Body=gzip.compress(orjson.dumps({"Records": records})))
    notification = {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                                 "s3": {"bucket": {"name": "trail"}, "object": {"key": key, "size": 1}}}]}
    assert slow.handler(notification, None)["files"] == 1
    via_slow = {orjson.loads(m["Body"])["finding_info"]["uid"] for m in drain_queue(aws, queue)}
    # The lanes share the checkpoints: what the fast lane sent already (another rule on the same event) is not
    # sent again.
    assert {a["finding_info"]["uid"] for a in alerts[1:6]} <= via_fast | via_slow
    assert via_slow and not via_fast & via_slow
    slow._lane.checkpoints.close()  # type: ignore[union-attr]
    fast._checkpoints.close()  # type: ignore[union-attr]


def test_sinks_from_env_defaults_to_stdout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLOUDWARDEN_SINKS", raising=False)
    assert [type(s) for s in sinks_from_env()] == [StreamSink]
    assert [type(s) for s in sinks_from_env(" , ")] == [StreamSink]
    with pytest.raises(ValueError, match="unknown sink"):
        sinks_from_env("stdout,syslog")


def test_watch_keeps_what_a_sink_refused_and_delivers_it_on_the_next_run(
        aws: Any, alerts: list[dict[str, Any]], tmp_path: Path) -> None:
    records = [a["evidences"][0]["data"] for a in alerts if "cloudwarden" not in a["unmapped"]["rule_source"]]
    aws.client("s3").create_bucket(Bucket="trail")
    aws.client("s3").put_object(Bucket="trail", Key=cloudtrail_key(name="one"),
                                Body=gzip.compress(orjson.dumps({"Records": records[:5]})))
    topic_arn = f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:alerts"
    watch = ["watch", "--once", "--bucket", "trail", "--checkpoints", str(tmp_path / "c.sqlite"), "--rules",
             str(SIGMA_DIR), "--sink", f"file:{tmp_path / 'alerts.jsonl'}", "--sink", f"sns:{topic_arn}",
             "--endpoint-url", aws.endpoint_url]
    refused = run_cli(*watch, env=cli_env(), cwd=tmp_path)  # the topic does not exist yet
    assert refused.returncode == 1, refused.stderr
    assert "delivery failed" in refused.stderr and "alerts kept for the next try" in refused.stderr
    queue = subscribed_queue(aws, aws.client("sns").create_topic(Name="alerts")["TopicArn"])
    delivered = run_cli(*watch, env=cli_env(), cwd=tmp_path)
    assert delivered.returncode == 0, delivered.stderr
    received = {orjson.loads(m["Body"])["finding_info"]["uid"] for m in drain_queue(aws, queue)}
    lines = (tmp_path / "alerts.jsonl").read_bytes().splitlines()
    written = [orjson.loads(line)["finding_info"]["uid"] for line in lines]
    assert received == set(written) and len(written) == len(set(written)) >= 5

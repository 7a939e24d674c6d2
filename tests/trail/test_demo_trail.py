"""The demo's CloudTrail: the sample company seeded through the recorder against the emulator (over HTTP), its
trail written as gzip files in CloudTrail's layout, and ingested into a real DuckDB store by the ordinary
pipeline. The questions are asked of the store, as `cloudwarden trail` asks them."""

from __future__ import annotations

import gzip
import itertools
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from cloudwarden.demo.emulator import EMULATOR_CREDENTIALS, EmbeddedAws
from cloudwarden.demo.environment import DEMO_REGIONS, SampleEnvironment, seed_sample_company
from cloudwarden.demo.sample_compute import FAKE_ACCESS_KEY_ID
from cloudwarden.demo.sample_data import DB_PASSWORD
from cloudwarden.demo.trail_personas import PERSONAS, persona_for
from cloudwarden.demo.trail_recorder import (
    HIDDEN,
    DemoTrail,
    RecordedCall,
    TrailRecorder,
    demo_trail,
    record_demo_trail,
    write_trail,
)
from cloudwarden.findings.model import Status
from cloudwarden.findings.scan import ScanResult
from cloudwarden.posture.scan import scan_account
from cloudwarden.trail.causes import attach_causes
from cloudwarden.trail.queries import TimeWindow, errors, who
from cloudwarden.trail.reader import parse_log
from cloudwarden.trail.store import TrailStore
from tests.conftest import Emulated
from tests.e2e.conftest import cli_env, run_cli

NOW = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)
# Secrets the sample company's seeding sends (passwords, keys, MFA codes); none may reach the trail.
SEEDED_SECRETS = (
    "Summer2024!",
    "correct-horse-battery-staple",
    "Autumn-Leaves-2024!",
    DB_PASSWORD,
    "sk_test_demo_only",
    "changeme-2021",
    FAKE_ACCESS_KEY_ID,
    "not-a-real-key",
    '"123456"',
    '"654321"',
    EMULATOR_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
)
# Planted mistakes caused by one API call: who made it, the rule, botocore service, CloudTrail's eventName, where
# the resource is named in the record (requestParameters or responseElements) and its JSON path there.
ONE_CALL_CAUSES = (
    ("ci-deployer", "ec2_sg_no_admin_ports_ipv4", "ec2", "AuthorizeSecurityGroupIngress", "request", "$.groupId"),
    ("ci-deployer", "ec2_sg_no_admin_ports_ipv6", "ec2", "AuthorizeSecurityGroupIngress", "request", "$.groupId"),
    ("ci-deployer", "ec2_ami_not_public", "ec2", "ModifyImageAttribute", "request", "$.imageId"),
    ("ci-deployer", "ec2_snapshot_not_public", "ec2", "ModifySnapshotAttribute", "request", "$.snapshotId"),
    ("ci-deployer", "ec2_route_table_peering_least_access", "ec2", "CreateRoute", "request", "$.routeTableId"),
    ("ci-deployer", "ec2_ebs_volume_encrypted", "ec2", "CreateVolume", "response", "$.volumeId"),
    ("ci-deployer", "ec2_instance_imdsv2_required", "ec2", "RunInstances", "response",
     "$.instancesSet.items[0].instanceId"),
    ("alice", "iam_user_no_direct_policies", "iam", "AttachUserPolicy", "request", "$.userName"),
    ("alice", "iam_user_console_mfa", "iam", "CreateLoginProfile", "request", "$.userName"),
    ("alice", "iam_user_access_key_rotated", "iam", "CreateAccessKey", "request", "$.userName"),
    ("alice", "iam_role_trust_restricted", "iam", "CreateRole", "request", "$.roleName"),
    ("alice", "iam_role_inline_policy_no_wildcard", "iam", "PutRolePolicy", "request", "$.roleName"),
    ("alice", "iam_group_inline_policy_no_wildcard", "iam", "PutGroupPolicy", "request", "$.groupName"),
    ("root", "iam_server_certificate_not_expired", "iam", "UploadServerCertificate", "request",
     "$.serverCertificateName"),
    ("bob", "s3_bucket_no_public_acl", "s3", "PutBucketAcl", "request", "$.bucketName"),
    ("bob", "s3_bucket_key_enabled", "s3", "PutBucketEncryption", "request", "$.bucketName"),
    ("alice", "kms_key_rotation_enabled", "kms", "CreateKey", "response", "$.keyMetadata.keyId"),
    ("mallory", "cloudtrail_log_file_validation", "cloudtrail", "CreateTrail", "request", "$.name"),
    ("ci-deployer", "lambda_function_not_public", "lambda", "AddPermission20150331v2", "request", "$.functionName"),
    ("ci-deployer", "ecs_task_no_privileged_containers", "ecs", "RegisterTaskDefinition", "request", "$.family"),
    ("bob", "rds_instance_not_public", "rds", "CreateDBInstance", "request", "$.dBInstanceIdentifier"),
    ("bob", "efs_filesystem_encrypted", "efs", "CreateFileSystem", "response", "$.fileSystemId"),
    ("bob", "sqs_queue_encrypted", "sqs", "CreateQueue", "request", "$.queueName"),
    ("bob", "sns_topic_kms_encrypted", "sns", "CreateTopic", "request", "$.name"),
    ("bob", "backup_vault_locked", "backup", "CreateBackupVault", "request", "$.backupVaultName"),
)  # fmt: skip
# Who a scan's FAIL finding is blamed on (cloudwarden.trail.causes over the demo store): rule, principal (ARN
# after arn:aws:iam::ACCOUNT:), the newest causing event.
BLAMED = (
    ("ec2_sg_no_admin_ports_ipv4", "role/ci-deployer", "AuthorizeSecurityGroupIngress"),
    ("ec2_instance_imdsv2_required", "role/ci-deployer", "RunInstances"),
    ("lambda_function_not_public", "role/ci-deployer", "AddPermission20150331v2"),
    ("iam_user_no_direct_policies", "user/alice", "AttachUserPolicy"),
    ("kms_key_rotation_enabled", "user/alice", "CreateKey"),
    ("s3_bucket_no_public_acl", "user/bob", "PutBucketAcl"),
    ("rds_instance_not_public", "user/bob", "CreateDBInstance"),
    (
        "cloudtrail_log_file_validation",
        "role/aws-reserved/sso.amazonaws.com/" + PERSONAS["mallory"].name,
        "UpdateTrail",
    ),
    ("iam_password_policy_min_length", "root", "UpdateAccountPasswordPolicy"),
)
# How the store names each kind of persona (an Identity Center role session is an IdentityCenterUser).
PRINCIPAL_TYPES = {"IAMUser": {"IAMUser"}, "Root": {"Root"}, "AssumedRole": {"AssumedRole", "IdentityCenterUser"}}
LOG_NAME = re.compile(
    r"AWSLogs/(?P<account>\d{12})/CloudTrail/(?P<region>[a-z0-9-]+)/(?P<y>\d{4})/(?P<m>\d\d)/(?P<d>\d\d)/"
    r"(?P=account)_CloudTrail_(?P=region)_(?P<stamp>(?P=y)(?P=m)(?P=d)T\d{4}Z)_[A-Za-z0-9]{16}\.json\.gz"
)


@dataclass
class Recorded:
    env: SampleEnvironment
    calls: list[RecordedCall]
    trail: DemoTrail
    account_id: str
    secrets: list[str]
    scan: ScanResult


@pytest.fixture(scope="module")
def recorded(emulator: EmbeddedAws, tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    """Acme seeded once through the recorder (as the `aws` fixture seeds: a reset emulator, writable clients),
    its trail written and ingested."""
    emulator.reset()
    aws = Emulated(emulator)
    issued: list[str] = []  # the secret access keys the emulator hands out while seeding
    aws.client("iam").meta.events.register(
        "after-call.iam.CreateAccessKey", lambda parsed, **_: issued.append(parsed["AccessKey"]["SecretAccessKey"])
    )
    recorder = TrailRecorder()
    env = seed_sample_company(recorder.wrap(aws.client), aws.account_id)
    _, scan = scan_account(aws.context(), list(DEMO_REGIONS))
    trail = record_demo_trail(recorder.calls, aws.account_id, tmp_path_factory.mktemp("demo"), NOW)
    return Recorded(env, recorder.calls, trail, aws.account_id, issued, scan)


@pytest.fixture(scope="module")
def records(recorded: Recorded) -> list[dict[str, Any]]:
    """Every record of every file written."""
    found = []
    for path in recorded.trail.files:
        found.extend(orjson.loads(gzip.decompress(path.read_bytes()))["Records"])
    return found


def _store(recorded: Recorded) -> TrailStore:
    return TrailStore(recorded.trail.store, read_only=True)


def _rows(store: TrailStore, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    return store.connection.execute(sql, list(params)).fetchall()


def test_every_write_is_recorded_and_no_read(recorded: Recorded) -> None:
    operations = {(c.service, c.operation) for c in recorded.calls}
    assert ("ec2", "AuthorizeSecurityGroupIngress") in operations and ("iam", "CreateUser") in operations
    # The seeder also reads (DescribeSecurityGroups, DescribeImages…): those are not changes.
    assert not [op for _, op in operations if op.startswith(("Describe", "Get", "List"))]
    assert all(c.error_code is None for c in recorded.calls)
    assert len(recorded.calls) > 100
    # Logged under CloudTrail's names where they differ from the API's.
    names = {(c.operation, c.event_name) for c in recorded.calls}
    assert {
        ("AddPermission", "AddPermission20150331v2"),
        ("CreateFunction", "CreateFunction20150331"),
        ("PutPublicAccessBlock", "PutBucketPublicAccessBlock"),
        ("PutBucketLifecycleConfiguration", "PutBucketLifecycle"),
        ("CreateUser", "CreateUser"),
    } <= names
    sources = {(c.service, c.event_source) for c in recorded.calls}
    assert {("elbv2", "elasticloadbalancing.amazonaws.com"), ("cloudwatch", "monitoring.amazonaws.com")} <= sources


@pytest.mark.parametrize("who_did_it, rule_id, service, event_name, where, path", ONE_CALL_CAUSES)
def test_planted_mistake_has_its_change_event_by_the_tables_persona(
    recorded: Recorded, who_did_it: str, rule_id: str, service: str, event_name: str, where: str, path: str
) -> None:
    planted = [m.resource_id for m in recorded.env.mistakes if m.rule_id == rule_id]
    assert planted, f"{rule_id} is no longer planted"
    assert persona_for(service, event_name) == who_did_it  # no operation of this table is renamed for IAM
    persona = PERSONAS[who_did_it]
    column = {"request": "request_parameters", "response": "response_elements"}[where]
    with _store(recorded) as store:
        for resource in planted:
            rows = _rows(
                store,
                f"SELECT principal_type, principal_name, user_agent, read_only FROM events WHERE event_name = ? "  # noqa: S608
                f"AND error_code IS NULL AND json_extract_string({column}, ?) = ?",
                event_name,
                path,
                resource,
            )
            assert rows, f"no {event_name} event names {resource} ({rule_id})"
            for kind, name, agent, read_only in rows:
                assert kind in PRINCIPAL_TYPES[persona.kind] and name == persona.name
                assert agent == persona.user_agent and read_only is False


def test_who_opened_the_ssh_group_and_who_made_carol_admin(recorded: Recorded) -> None:
    ssh = next(m.resource_id for m in recorded.env.mistakes if m.rule_id == "ec2_sg_no_admin_ports_ipv4")
    with _store(recorded) as store:
        _, batches = who(store, "ec2:AuthorizeSecurityGroupIngress", TimeWindow(), limit=0)
        rows = [row for batch in batches for row in batch]
        by_id = {row[-1]: row for row in rows}
        opened = _rows(
            store,
            "SELECT event_id FROM events WHERE event_name = 'AuthorizeSecurityGroupIngress' "
            "AND json_extract_string(request_parameters, '$.groupId') = ?",
            ssh,
        )
        assert len(opened) == 1
        _, principal, kind, session, *_ = by_id[opened[0][0]]
        assert principal == f"arn:aws:iam::{recorded.account_id}:role/ci-deployer" and kind == "AssumedRole"
        assert re.fullmatch(r"gh-actions-\d+", session)

        admin = _rows(
            store,
            "SELECT principal, source_ip, user_agent FROM events WHERE event_name = 'AttachUserPolicy' AND "
            "error_code IS NULL AND json_extract_string(request_parameters, '$.userName') = 'carol' AND "
            "json_extract_string(request_parameters, '$.policyArn') = 'arn:aws:iam::aws:policy/AdministratorAccess'",
        )
        assert admin == [(f"arn:aws:iam::{recorded.account_id}:user/alice", "198.51.100.23", "console.amazonaws.com")]

        macie = _rows(
            store, "SELECT principal_type, session_name, aws_region FROM events WHERE event_name = 'DisableMacie'"
        )
        assert macie == [("IdentityCenterUser", "mallory", "us-east-1")]
        password_policy = _rows(store, "SELECT principal FROM events WHERE event_name = 'UpdateAccountPasswordPolicy'")
        assert password_policy == [(f"arn:aws:iam::{recorded.account_id}:root",)]


def test_changes_are_spread_over_the_days_before_now_in_call_order(recorded: Recorded, records: list) -> None:
    by_id = {r["eventID"]: r for r in records}
    changes = [r for r in records if not r["readOnly"] and r["eventType"] == "AwsApiCall" and "errorCode" not in r]
    assert len(changes) == len(recorded.calls)
    times = [datetime.fromisoformat(r["eventTime"]) for r in sorted(changes, key=lambda r: r["eventTime"])]
    assert NOW - timedelta(days=7) < times[0] and times[-1] < NOW.replace(hour=0, minute=0)
    assert len({t.date() for t in times}) >= 5
    assert min(b - a for a, b in itertools.pairwise(times)) > timedelta(0)  # never two at once
    # In call order: the trail's order of the planted operations is the seeder's.
    trail_order = [(r["eventSource"], r["eventName"]) for r in sorted(changes, key=lambda r: r["eventTime"])]
    assert trail_order == [(c.event_source, c.event_name) for c in recorded.calls]
    assert len(by_id) == len(records)


def test_files_are_cloudtrail_gzip_logs_in_the_delivery_layout(recorded: Recorded) -> None:
    root = recorded.trail.folder
    assert recorded.trail.files and recorded.trail.store == root.parent / "trail.duckdb"
    total = 0
    for path in recorded.trail.files:
        name = LOG_NAME.fullmatch(path.relative_to(root).as_posix())
        assert name and name["account"] == recorded.account_id, path
        data = path.read_bytes()
        assert data[:2] == b"\x1f\x8b"
        parsed = parse_log(str(path), data)
        assert parsed.error is None and parsed.records
        delivered = datetime.strptime(name["stamp"], "%Y%m%dT%H%MZ").replace(tzinfo=UTC)
        for record in parsed.records:
            assert record["awsRegion"] == name["region"]
            assert delivered - timedelta(minutes=5) <= datetime.fromisoformat(record["eventTime"]) < delivered
        total += len(parsed.records)
    assert {LOG_NAME.fullmatch(p.relative_to(root).as_posix())["region"] for p in recorded.trail.files} == {
        "us-east-1",
        "eu-west-1",
    }
    summary = recorded.trail.summary
    assert summary.bad_files == [] and summary.bad_records == []
    assert summary.files_read == len(recorded.trail.files) and summary.events_added == total
    with _store(recorded) as store:
        assert store.count_events() == total


def test_noise_outnumbers_the_changes(recorded: Recorded, records: list) -> None:
    changes = len(recorded.calls)
    assert len(records) - changes >= 8 * changes
    with _store(recorded) as store:
        counts = dict(
            _rows(
                store,
                "SELECT 'read', count(*) FROM events WHERE read_only UNION ALL "
                "SELECT 'login', count(*) FROM events WHERE event_name = 'ConsoleLogin' "
                "AND event_source = 'signin.amazonaws.com' AND event_type = 'AwsConsoleSignIn' UNION ALL "
                "SELECT 'failed login', count(*) FROM events WHERE event_name = 'ConsoleLogin' "
                "AND response_elements LIKE '%Failure%' UNION ALL "
                "SELECT 'ci role', count(*) FROM events WHERE event_name = 'AssumeRoleWithWebIdentity' "
                "AND request_parameters LIKE '%role/ci-deployer%' UNION ALL "
                "SELECT 'assume role', count(*) FROM events WHERE event_name = 'AssumeRole' UNION ALL "
                "SELECT 'config', count(*) FROM events WHERE invoked_by = 'config.amazonaws.com' UNION ALL "
                "SELECT 'root login', count(*) FROM events WHERE event_name = 'ConsoleLogin' "
                "AND principal_type = 'Root'",
            )
        )
        assert all(count > 0 for count in counts.values()), counts
        assert counts["read"] > changes
        _, batches = errors(store, "AccessDenied", TimeWindow(), limit=0)
        denied = [row for batch in batches for row in batch]
        assert denied and all("not authorized" in row[7] for row in denied)
        assert {row[1] for row in denied} <= {"AccessDenied", "AccessDeniedException"}
        unauthorized = _rows(store, "SELECT count(*) FROM events WHERE error_code = 'Client.UnauthorizedOperation'")
        assert unauthorized[0][0] > 0


def test_no_secret_reaches_the_trail(recorded: Recorded, records: list) -> None:
    assert len(recorded.secrets) >= 2  # ci-bot's and erin's keys
    text = b"".join(gzip.decompress(path.read_bytes()) for path in recorded.trail.files)
    for secret in (*SEEDED_SECRETS, *recorded.secrets):
        assert secret.encode() not in text, secret
    with _store(recorded) as store:
        stored = _rows(store, "SELECT request_parameters, response_elements FROM events")
    assert not [row for row in stored for secret in recorded.secrets if secret in str(row)]
    # The fields are there, hidden as CloudTrail hides them.
    by_name: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_name.setdefault(record["eventName"], []).append(record)
    assert {r["requestParameters"]["password"] for r in by_name["CreateLoginProfile"]} == {HIDDEN}
    assert {r["responseElements"]["accessKey"]["secretAccessKey"] for r in by_name["CreateAccessKey"]} == {HIDDEN}
    assert {r["requestParameters"]["secretString"] for r in by_name["CreateSecret"]} == {HIDDEN}
    assert {r["requestParameters"]["masterUserPassword"] for r in by_name["CreateDBInstance"]} == {HIDDEN}
    thumbnailer = next(
        r for r in by_name["CreateFunction20150331"] if r["requestParameters"]["functionName"] == "acme-thumbnailer"
    )
    assert thumbnailer["requestParameters"]["environment"] == HIDDEN and thumbnailer["requestParameters"]["code"] == {}


def test_event_ids_are_unique(records: list) -> None:
    ids = [r["eventID"] for r in records]
    assert len(set(ids)) == len(ids) > 1000
    assert len({r["requestID"] for r in records}) == len(ids)


def test_same_seed_same_trail_other_seed_other_trail(recorded: Recorded, tmp_path: Path) -> None:
    first = demo_trail(recorded.calls, recorded.account_id, NOW)
    again = demo_trail(recorded.calls, recorded.account_id, NOW)
    assert first == again
    files_a = write_trail(first, tmp_path / "a", recorded.account_id)
    files_b = write_trail(again, tmp_path / "b", recorded.account_id)
    assert [p.relative_to(tmp_path / "a") for p in files_a] == [p.relative_to(tmp_path / "b") for p in files_b]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(files_a, files_b, strict=True))
    other = demo_trail(recorded.calls, recorded.account_id, NOW, seed=7)
    assert {r["eventID"] for r in other}.isdisjoint(r["eventID"] for r in first)

    # The planted changes themselves do not depend on the seed: same calls, same parameters.
    def planted(trail: list) -> list:
        return [(r["eventName"], r["requestParameters"]) for r in trail if not r["readOnly"] and "errorCode" not in r
                and r["eventType"] == "AwsApiCall"]  # fmt: skip

    assert planted(other) == planted(first)


def test_huge_parameters_are_kept_bounded_and_failures_recorded(aws: Emulated) -> None:
    recorder = TrailRecorder()
    client = recorder.wrap(aws.client)
    statements = [
        {"Sid": f"S{n}", "Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::bucket-{n}/*"}
        for n in range(2000)
    ]
    document = json.dumps({"Version": "2012-10-17", "Statement": statements})
    iam = client("iam", "us-east-1")
    iam.create_policy(PolicyName="huge", PolicyDocument=document)
    iam.create_user(UserName="twice")
    with pytest.raises(iam.exceptions.EntityAlreadyExistsException):
        iam.create_user(UserName="twice")
    s3 = client("s3", "us-east-1")
    s3.create_bucket(Bucket="acme-huge-policy")
    policy = {"Version": "2012-10-17", "Statement": [{**s, "Effect": "Deny", "Principal": "*"} for s in statements]}
    s3.put_bucket_policy(Bucket="acme-huge-policy", Policy=json.dumps(policy))

    create_policy, first_user, second_user, _, put_policy = recorder.calls
    text = create_policy.request_parameters["policyDocument"]
    assert len(document) > 200_000 and text.startswith(document[:1000]) and len(text) < 20_000
    assert "more characters]" in text and create_policy.request_parameters["policyName"] == "huge"
    assert first_user.error_code is None and second_user.error_code == "EntityAlreadyExists"
    assert second_user.response_elements is None and "twice" in (second_user.error_message or "")
    assert put_policy.request_parameters["bucketName"] == "acme-huge-policy"
    assert put_policy.request_parameters["bucketPolicy"]["Statement"][0]["Sid"] == "S0"  # a document, verbatim
    for call in recorder.calls:
        assert len(orjson.dumps(call.request_parameters, default=str)) <= 64 * 1024

    records = demo_trail(recorder.calls, aws.account_id, NOW)
    failed = [r for r in records if r["eventName"] == "CreateUser" and r.get("errorCode")]
    assert [r["errorCode"] for r in failed] == ["EntityAlreadyExists"]
    assert max(len(orjson.dumps(r)) for r in records) < 100 * 1024


def test_scan_findings_are_blamed_on_who_made_the_change(recorded: Recorded) -> None:
    result = recorded.scan
    attach_causes(result, recorded.trail.store)
    assert result.notices == [] and result.causes
    failed = {(f.rule.id, f.resource_id): f for f in result.findings if f.status is Status.FAIL}
    assert set(result.causes) <= {f.uid for f in failed.values()}
    for rule_id, principal, event_name in BLAMED:
        for mistake in (m for m in recorded.env.mistakes if m.rule_id == rule_id):
            causes = result.causes.get(failed[rule_id, mistake.resource_id].uid)
            assert causes, f"nobody blamed for {rule_id} on {mistake.resource_id}"
            assert causes[0].principal == f"arn:aws:iam::{recorded.account_id}:{principal}"
            assert causes[0].event_name == event_name and causes[0].event_time < NOW.replace(tzinfo=None)
    blamed = [m for m in recorded.env.mistakes if result.causes.get(failed[m.rule_id, m.resource_id].uid)]
    assert len(blamed) >= 40  # the rest are omissions (no MFA, no recorder): no call made them


def test_demo_command_writes_the_trail_and_says_who(tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = run_cli(
        "demo", "--output-dir", str(out), "--output-formats", "console,json", "--no-progress",
        env=cli_env(COLUMNS="400"), cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    # Nothing of the emulator's own chatter reaches the user (moto print()s Docker probes and developer hints).
    assert "WARNING - " not in result.stdout and "<class '" not in result.stdout, result.stdout[:2000]
    assert list((out / "trail" / "AWSLogs").rglob("*.json.gz")) and (out / "trail.duckdb").is_file()
    with TrailStore(out / "trail.duckdb", read_only=True) as store:
        events = store.count_events()
    assert events > 1000 and f"{events} events ingested into {(out / 'trail.duckdb').resolve()}" in result.stdout
    # Who did it, beside the FAILs: the CI role opened SSH to the world, alice made carol an administrator.
    account = r"arn:aws:iam::\d{12}"
    assert re.search(
        rf"by {account}:role/ci-deployer \(gh-actions-\d+\) at .*: AuthorizeSecurityGroupIngress", result.stdout
    )
    assert re.search(rf"by {account}:user/alice at .*: AttachUserPolicy", result.stdout)
    # The printed question works as printed.
    why = re.search(r"cloudwarden trail why (sg-[0-9a-f]+) --store (\S+)", result.stdout)
    assert why, result.stdout[-2000:]
    answer = run_cli("trail", "why", why[1], "--store", why[2], env=cli_env(COLUMNS="400"), cwd=tmp_path)
    assert answer.returncode == 0, answer.stderr
    assert "AuthorizeSecurityGroupIngress" in answer.stdout and "ci-deployer" in answer.stdout
    # Both detection lanes replayed the trail: the fast lane raised each single-event alert, the slow lane none
    # of those twice; what it added are its correlations (alice's sign-in without MFA, then new credentials).
    lanes = re.search(r"The fast lane would have raised (\d+) alerts.*raised (\d+) more", result.stdout)
    assert lanes and int(lanes[1]) > 10, result.stdout[-3000:]
    alerts = [orjson.loads(line) for line in (out / "alerts.ocsf.jsonl").read_bytes().splitlines()]
    uids = [alert["finding_info"]["uid"] for alert in alerts]
    assert len(uids) == len(set(uids)) == int(lanes[1]) + int(lanes[2])
    correlated = [alert for alert in alerts if "correlation" in (alert.get("unmapped") or {})]
    assert len(correlated) == int(lanes[2]) >= 1
    titles = {alert["finding_info"]["title"] for alert in alerts}
    assert {"AWS Security Group Opened to the Internet", "AWS Administrator or Full Access Policy Attached"} <= titles

"""From a FAIL finding to the CloudTrail events that caused it: a real scan against the emulator, real gzip logs,
a real DuckDB store, and the CLI as a subprocess."""

from __future__ import annotations

import fnmatch
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from rich.console import Console

from cloudwarden.findings.model import Finding, Status
from cloudwarden.findings.scan import ScanResult
from cloudwarden.posture.registry import all_rules
from cloudwarden.report.console import print_summary
from cloudwarden.report.files import write_asff, write_json
from cloudwarden.trail.causes import (
    CausesError,
    attach_causes,
    causes_for_findings,
    load_causes,
    parse_causes,
    why,
)
from cloudwarden.trail.ingest import ingest
from cloudwarden.trail.sources import LocalSource
from cloudwarden.trail.store import TrailStore
from tests.conftest import ACCOUNT_ID, Emulated, verdict
from tests.e2e.conftest import cli_env, run_cli
from tests.trail.helpers import ACCOUNT as IDENTITY_ACCOUNT
from tests.trail.helpers import assumed_role, event, iam_user, write_log

NOW = datetime.now(UTC).replace(microsecond=0)
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
EVIL = "sg-x' OR '1'='1'; DROP TABLE events; -- 100%_\"]"
EVIL_AGENT = "\x1b[31m[bold]curl[/bold]\x1b]8;;http://evil\x07"


def at(**delta: float) -> str:
    return (NOW + timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


def change(name: str, source: str, when: str, who: dict[str, Any], event_id: str, **extra: Any) -> dict[str, Any]:
    """A successful write call in the emulator's account (override anything with ``extra``)."""
    fields: dict[str, Any] = {"recipientAccountId": ACCOUNT_ID, "readOnly": False, "requestParameters": None}
    fields.update(extra)
    return event(name, source, when, who, event_id, **fields)


@pytest.fixture
def world(aws: Emulated, tmp_path: Path) -> dict[str, Any]:
    """The mistakes made in the emulator, a scan of them, and a store holding their causes among noise."""
    ec2, iam = aws.client("ec2"), aws.client("iam")
    web = ec2.create_security_group(GroupName="web", Description="web")["GroupId"]
    other = ec2.create_security_group(GroupName="other", Description="other")["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=web,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    iam.create_user(UserName="bob")
    iam.attach_user_policy(UserName="bob", PolicyArn=ADMIN)
    aws.client("s3").create_bucket(Bucket="trail-bucket")
    aws.client("cloudtrail").create_trail(Name="main", S3BucketName="trail-bucket", IsMultiRegionTrail=True)
    findings = aws.scan(services=["ec2", "iam", "cloudtrail"])

    sg = {"groupId": web, "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 22}]}}
    alice, mallory = iam_user("alice"), iam_user("mallory")
    deployer = assumed_role("deployer", "gh-run-9")
    records = [
        change(
            "AuthorizeSecurityGroupIngress",
            "ec2.amazonaws.com",
            at(hours=-3),
            alice,
            "sg-open",
            requestParameters=sg,
            userAgent=EVIL_AGENT,
        ),
        change(
            "AuthorizeSecurityGroupIngress",
            "ec2.amazonaws.com",
            at(days=-2),
            deployer,
            "sg-open-old",
            requestParameters=sg,
        ),
        change(
            "CreateSecurityGroup",
            "ec2.amazonaws.com",
            at(days=-3),
            deployer,
            "sg-create",
            requestParameters={"groupName": "web"},
            responseElements={"groupId": web, "_return": True},
        ),
        # noise: a failed call, other or similar ids, another region, a read, a later event, another account
        change(
            "AuthorizeSecurityGroupIngress",
            "ec2.amazonaws.com",
            at(hours=-1),
            mallory,
            "sg-denied",
            requestParameters=sg,
            errorCode="Client.UnauthorizedOperation",
            errorMessage="not allowed",
        ),
        change(
            "AuthorizeSecurityGroupIngress",
            "ec2.amazonaws.com",
            at(hours=-2),
            mallory,
            "sg-longer",
            requestParameters={"groupId": web + "0"},
        ),
        change(
            "AuthorizeSecurityGroupIngress",
            "ec2.amazonaws.com",
            at(hours=-2),
            mallory,
            "sg-shorter",
            requestParameters={"groupId": web[:-1]},
        ),
        change(
            "AuthorizeSecurityGroupIngress",
            "ec2.amazonaws.com",
            at(hours=-2),
            mallory,
            "sg-other",
            requestParameters={"groupId": other},
        ),
        change(
            "AuthorizeSecurityGroupIngress",
            "ec2.amazonaws.com",
            at(hours=-4),
            mallory,
            "sg-eu",
            requestParameters=sg,
            awsRegion="eu-west-1",
        ),
        change(
            "DescribeSecurityGroups",
            "ec2.amazonaws.com",
            at(hours=-1),
            alice,
            "sg-read",
            requestParameters={"groupId": web},
            readOnly=True,
        ),
        change(
            "AuthorizeSecurityGroupIngress", "ec2.amazonaws.com", at(hours=1), alice, "sg-later", requestParameters=sg
        ),
        change(
            "AuthorizeSecurityGroupIngress",
            "ec2.amazonaws.com",
            at(hours=-2),
            mallory,
            "sg-evil",
            requestParameters={"groupId": EVIL},
            userAgent=EVIL,
        ),
        change(
            "AttachUserPolicy",
            "iam.amazonaws.com",
            at(hours=-5),
            deployer,
            "attach-admin",
            requestParameters={"userName": "bob", "policyArn": ADMIN},
            sourceIPAddress="198.51.100.23",
        ),
        change(
            "AttachUserPolicy",
            "iam.amazonaws.com",
            at(hours=-6),
            deployer,
            "attach-other",
            requestParameters={"userName": "carol", "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
        ),
        change(
            "StopLogging",
            "cloudtrail.amazonaws.com",
            at(minutes=-30),
            iam_user("carol"),
            "stop-main",
            requestParameters={"name": f"arn:aws:cloudtrail:us-east-1:{ACCOUNT_ID}:trail/main"},
        ),
        change(
            "StopLogging",
            "cloudtrail.amazonaws.com",
            at(minutes=-20),
            iam_user("carol"),
            "stop-elsewhere",
            requestParameters={"name": "main"},
            recipientAccountId="999988887777",
        ),
    ]
    write_log(tmp_path / "logs" / "a.json.gz", records[:8])
    write_log(tmp_path / "logs" / "b.json.gz", records[8:])
    store_path = tmp_path / "trail.duckdb"
    with TrailStore(store_path) as store:
        summary = ingest(store, LocalSource(tmp_path / "logs"), workers=1)
    assert summary.events_added == len(records)
    return {"findings": findings, "store": store_path, "web": web, "other": other, "tmp": tmp_path}


def _ids(causes: list[Any]) -> list[str]:
    return [c.event_id for c in causes]


def _result(findings: list[Finding]) -> ScanResult:
    return ScanResult(ACCOUNT_ID, "aws", ["us-east-1"], NOW, findings)


def test_each_fail_gets_the_events_that_caused_it_newest_first(world: dict[str, Any]) -> None:
    findings, web = world["findings"], world["web"]
    open_ssh = verdict(findings, "ec2_sg_no_admin_ports_ipv4", web)
    unused = verdict(findings, "ec2_sg_unused", web)
    direct = verdict(findings, "iam_user_no_direct_policies", "bob")
    admin = verdict(findings, "iam_policy_no_full_admin", ADMIN)
    no_trail = verdict(findings, "cloudtrail_multi_region_enabled", ACCOUNT_ID)
    assert {f.status for f in (open_ssh, unused, direct, admin, no_trail)} == {Status.FAIL}
    with TrailStore(world["store"], read_only=True) as store:
        causes = causes_for_findings(store, findings)
        one_each = causes_for_findings(store, findings, per_finding=1)
    # not the failed call, the later event, the other region, sg ids that only look alike, nor reads
    assert _ids(causes[open_ssh.uid]) == ["sg-open", "sg-open-old"]
    assert _ids(causes[unused.uid]) == ["sg-create"]  # found through responseElements.groupId
    assert _ids(causes[direct.uid]) == ["attach-admin"]
    assert _ids(causes[admin.uid]) == ["attach-admin"]  # the same call, found by policyArn
    assert _ids(causes[no_trail.uid]) == ["stop-main"]  # account-wide: not the other account's StopLogging
    assert _ids(one_each[open_ssh.uid]) == ["sg-open"]
    first = causes[open_ssh.uid][0]
    assert (first.principal, first.principal_type, first.source_ip) == (
        f"arn:aws:iam::{IDENTITY_ACCOUNT}:user/alice",
        "IAMUser",
        "203.0.113.7",
    )
    assert first.user_agent == EVIL_AGENT
    assert first.event_time == datetime.fromisoformat(at(hours=-3)).replace(tzinfo=None)
    deployer = causes[direct.uid][0]
    assert (deployer.session_name, deployer.source_ip) == ("gh-run-9", "198.51.100.23")
    fail_uids = {f.uid for f in findings if f.status is Status.FAIL}
    assert set(causes) <= fail_uids
    assert verdict(findings, "ec2_sg_no_admin_ports_ipv4", world["other"]).uid not in causes


def test_attach_causes_fills_the_result_and_a_bad_store_only_adds_a_notice(world: dict[str, Any]) -> None:
    result = _result(world["findings"])
    attach_causes(result, world["store"])
    with TrailStore(world["store"], read_only=True) as store:
        assert result.causes == causes_for_findings(store, world["findings"])
    assert result.notices == []
    broken = world["tmp"] / "broken.duckdb"
    broken.write_bytes(b"this is not a DuckDB file" * 100)
    for path in (broken, world["tmp"] / "missing.duckdb"):
        other = _result(world["findings"])
        attach_causes(other, path)
        assert other.causes == {}
        assert len(other.notices) == 1 and str(path) in other.notices[0]


def test_attacker_controlled_values_are_data_not_sql(world: dict[str, Any]) -> None:
    with TrailStore(world["store"], read_only=True) as store:
        assert _ids(why(store, EVIL).causes) == ["sg-evil"]
        assert why(store, "sg-x' OR '1'='1").causes == []
        assert why(store, "%").causes == []
        assert why(store, "' OR 1=1 --").causes == []
        assert store.count_events() == 15  # nothing dropped


def test_why_a_resource_lists_its_changes_and_a_uid_needs_the_findings_file(world: dict[str, Any]) -> None:
    with TrailStore(world["store"], read_only=True) as store:
        answer = why(store, world["web"])
        assert answer.kind == "resource"
        assert _ids(answer.causes) == ["sg-later", "sg-open", "sg-eu", "sg-open-old", "sg-create"]
        assert _ids(why(store, "bob", limit=0).causes) == ["attach-admin"]
        with pytest.raises(CausesError, match="--findings"):
            why(store, "0123456789abcdef0123456789abcdef")


def test_cli_why_by_resource_and_by_finding_uid(world: dict[str, Any]) -> None:
    tmp, store = world["tmp"], str(world["store"])
    env = cli_env()
    by_resource = run_cli("trail", "why", world["web"], "--store", store, "--json", "--limit", "2", env=env, cwd=tmp)
    assert by_resource.returncode == 0, by_resource.stderr
    assert [json.loads(line)["event_id"] for line in by_resource.stdout.splitlines()] == ["sg-later", "sg-open"]

    result = _result(world["findings"])
    write_json(result, tmp)
    findings_file = tmp / "cloudwarden-findings.ocsf.json"
    uid = verdict(world["findings"], "ec2_sg_no_admin_ports_ipv4", world["web"]).uid
    by_uid = run_cli(
        "trail", "why", uid, "--store", store, "--findings", str(findings_file), "--json", env=env, cwd=tmp
    )
    assert by_uid.returncode == 0, by_uid.stderr
    rows = [json.loads(line) for line in by_uid.stdout.splitlines()]
    assert [row["event_id"] for row in rows] == ["sg-open", "sg-open-old"]
    assert rows[0]["event_time"] == at(hours=-3)

    table = run_cli("trail", "why", uid, "--store", store, "--findings", str(findings_file), env=env, cwd=tmp)
    assert table.returncode == 0, table.stderr
    assert "sg-open" in table.stdout and "ec2_sg_no_admin_ports_ipv4" in table.stdout
    assert "\x1b" not in table.stdout and "\x07" not in table.stdout

    missing = run_cli("trail", "why", uid, "--store", store, env=env, cwd=tmp)
    assert missing.returncode != 0 and "--findings" in missing.stderr


def test_console_shows_who_did_it_escaped(world: dict[str, Any]) -> None:
    result = _result(world["findings"])
    attach_causes(result, world["store"])
    console = Console(record=True, width=400, force_terminal=True, color_system="truecolor")
    print_summary(result, console)
    plain = console.export_text(styles=False)
    assert f"by arn:aws:iam::{IDENTITY_ACCOUNT}:user/alice at {at(hours=-3).replace('T', ' ')}" in plain
    assert "from 203.0.113.7 via ?[31m[bold]curl[/bold]?]8;;http://evil?: AuthorizeSecurityGroupIngress" in plain
    assert "(gh-run-9)" in plain and ": AttachUserPolicy" in plain
    rendered = console.export_text(styles=True)
    assert "\x1b[31m" not in rendered and "\x1b]8" not in rendered and "\x07" not in rendered


def test_json_outputs_carry_the_causes_and_asff_stays_valid(world: dict[str, Any], aws: Emulated) -> None:
    result = _result(world["findings"])
    attach_causes(result, world["store"])
    uid = verdict(world["findings"], "ec2_sg_no_admin_ports_ipv4", world["web"]).uid
    ocsf = {d["finding_info"]["uid"]: d for d in json.loads(write_json(result, world["tmp"]).read_text())}
    assert [c["event_id"] for c in ocsf[uid]["unmapped"]["caused_by"]] == ["sg-open", "sg-open-old"]
    assert ocsf[uid]["unmapped"]["caused_by"][0]["user_agent"] == EVIL_AGENT
    assert all("caused_by" not in d["unmapped"] for u, d in ocsf.items() if u not in result.causes)
    asff = {d["Id"].rsplit("/", 1)[1]: d for d in json.loads(write_asff(result, world["tmp"]).read_text())}
    fields = asff[uid]["ProductFields"]
    assert fields["cloudwarden/change_event_id"] == "sg-open"
    assert fields["cloudwarden/changed_by"] == f"arn:aws:iam::{IDENTITY_ACCOUNT}:user/alice"
    assert fields["cloudwarden/change_event"] == "ec2.amazonaws.com:AuthorizeSecurityGroupIngress"
    assert fields["cloudwarden/changed_at"] == at(hours=-3).replace("Z", ".000Z")
    # botocore validates every document against Security Hub's model before the emulator stores it
    imported = aws.client("securityhub").batch_import_findings(Findings=list(asff.values()))
    assert (imported["SuccessCount"], imported["FailedCount"]) == (len(asff), 0)


def test_scan_cli_links_fails_to_the_trail_and_survives_a_broken_store(world: dict[str, Any], aws: Emulated) -> None:
    tmp, web = world["tmp"], world["web"]
    # the default store ($XDG_DATA_HOME/cloudwarden/trail.duckdb) is used when it exists
    default = tmp / "data" / "cloudwarden" / "trail.duckdb"
    default.parent.mkdir(parents=True)
    default.write_bytes(Path(world["store"]).read_bytes())
    env = cli_env(aws.endpoint_url, XDG_DATA_HOME=str(tmp / "data"))
    args = ("scan", "--services", "ec2", "--region", "us-east-1", "--output-formats", "console,json", "--no-progress")
    scan = run_cli(*args, "--output-dir", str(tmp / "out"), env=env, cwd=tmp)
    assert scan.returncode == 0, scan.stderr
    assert "AuthorizeSecurityGroupIngress" in scan.stdout and "user/alice" in scan.stdout
    assert "\x1b[31m" not in scan.stdout  # the hostile user agent is shown escaped
    ocsf = json.loads((tmp / "out" / "cloudwarden-findings.ocsf.json").read_text())
    caused = {
        (d["unmapped"]["rule_id"], d["resources"][0]["name"]): [c["event_id"] for c in d["unmapped"]["caused_by"]]
        for d in ocsf
        if "caused_by" in d["unmapped"]
    }
    assert caused == {
        ("ec2_sg_no_admin_ports_ipv4", web): ["sg-open", "sg-open-old"],
        ("ec2_sg_unused", web): ["sg-create"],
    }

    no_trail = run_cli(*args, "--no-trail", "--output-dir", str(tmp / "out2"), env=env, cwd=tmp)
    assert no_trail.returncode == 0, no_trail.stderr
    assert "AuthorizeSecurityGroupIngress" not in no_trail.stdout
    ocsf = json.loads((tmp / "out2" / "cloudwarden-findings.ocsf.json").read_text())
    assert not any("caused_by" in d["unmapped"] for d in ocsf)

    broken = tmp / "broken.duckdb"
    broken.write_bytes(b"not a database" * 64)
    bad = run_cli(*args, "--trail-store", str(broken), "--output-dir", str(tmp / "out3"), env=env, cwd=tmp)
    assert bad.returncode == 0, bad.stderr
    assert "who-did-it skipped" in bad.stdout and "ec2_sg_no_admin_ports_ipv4" in bad.stdout


def test_every_mapping_names_a_real_rule_and_a_real_operation() -> None:
    rule_ids = [r.id for r in all_rules()]
    session = botocore.session.get_session()
    covered: set[str] = set()
    for entry in load_causes():
        operations = set(session.get_service_model(entry.service).operation_names)
        for pattern in entry.rules:
            matched = fnmatch.filter(rule_ids, pattern)
            assert matched, f"{pattern} names no rule"
            covered.update(matched)
        for name in entry.events:
            assert entry.operation(name) in operations, f"{entry.service} has no operation {entry.operation(name)}"
    first_slice = ("iam_", "s3_", "ec2_", "cloudtrail_", "kms_", "config_")
    assert len([r for r in covered if r.startswith(first_slice)]) >= 40


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"causes": "x"}, "a list under 'causes'"),
        (
            {"causes": [{"rules": ["a"], "service": "ec2", "event_source": "ec2", "events": {"X": []}}]},
            r"causes\[0\] \(a\): 'event_source'",
        ),
        (
            {
                "causes": [
                    {
                        "rules": ["a"],
                        "service": "ec2",
                        "event_source": "ec2.amazonaws.com",
                        "events": {"X": ["requestParameters.a'b"]},
                    }
                ]
            },
            r"causes\[0\] \(a\): X: .* is not a path",
        ),
        (
            {
                "causes": [
                    {
                        "rules": ["a"],
                        "service": "ec2",
                        "event_source": "ec2.amazonaws.com",
                        "scope": "account",
                        "events": {"X": ["requestParameters.a"]},
                    }
                ]
            },
            "none otherwise",
        ),
        ({"causes": [{"rules": [], "service": "ec2"}]}, r"causes\[0\].rules"),
    ],
)
def test_a_malformed_map_is_a_clear_error_naming_the_entry(data: Any, message: str) -> None:
    with pytest.raises(CausesError, match=message):
        parse_causes(data)

"""The CLI as a user runs it: a separate process, against a moto server someone else seeded, over HTTP."""

from __future__ import annotations

import csv
import json

import boto3
import pytest

from tests.e2e.conftest import cli_env, run_cli


@pytest.fixture(scope="module")
def seeded(moto_process):
    """Someone else's account: one public bucket, one user without MFA, SSH open to the world."""
    moto_process.reset()
    kwargs = {"endpoint_url": moto_process.endpoint_url, "region_name": "us-east-1",
              "aws_access_key_id": "AKIAEMULATORDEMO0000", "aws_secret_access_key": "x"}
    s3 = boto3.client("s3", **kwargs)
    s3.create_bucket(Bucket="their-public-bucket")
    s3.put_bucket_acl(Bucket="their-public-bucket", ACL="public-read")
    iam = boto3.client("iam", **kwargs)
    iam.create_user(UserName="eve")
    iam.create_login_profile(UserName="eve", Password="Password123!")
    ec2 = boto3.client("ec2", **kwargs)
    group = ec2.create_security_group(GroupName="open-ssh", Description="open")["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    return moto_process


def test_scan_against_endpoint_writes_every_format_and_exits_3(seeded, tmp_path):
    out = tmp_path / "out"
    result = run_cli("scan", "--endpoint-url", seeded.endpoint_url, "--region", "us-east-1",
                     "--output-formats", "console,json,asff,csv,html", "--output-dir", str(out),
                     "--fail-on", "high", "--no-progress", env=cli_env(), cwd=tmp_path)
    assert result.returncode == 3, result.stderr
    assert "FAIL" in result.stdout and "s3_bucket_no_public_acl" in result.stdout
    ocsf = json.loads((out / "cloudwarden-findings.ocsf.json").read_text())
    failing = {(f["unmapped"]["rule_id"], f["resources"][0]["name"]) for f in ocsf
               if f["unmapped"]["cloudwarden_status"] == "FAIL"}
    assert ("s3_bucket_no_public_acl", "their-public-bucket") in failing
    assert ("iam_user_console_mfa", "eve") in failing
    assert any(rule == "ec2_sg_no_admin_ports_ipv4" for rule, _ in failing)
    asff = json.loads((out / "cloudwarden-findings.asff.json").read_text())
    assert len(asff) == len(ocsf)
    with (out / "cloudwarden-findings.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(ocsf)
    assert (out / "cloudwarden-report.html").read_text().startswith("<!DOCTYPE html>")


def test_endpoint_from_environment_and_default_regions(seeded, tmp_path):
    """AWS_ENDPOINT_URL is honoured, and without --region the account's enabled regions are scanned."""
    result = run_cli("scan", "--services", "ec2", "--output-formats", "json", "--output-dir", str(tmp_path),
                     "--no-progress", env=cli_env(seeded.endpoint_url), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    regions = {f["cloud"]["region"] for f in json.loads((tmp_path / "cloudwarden-findings.ocsf.json").read_text())}
    assert {"us-east-1", "eu-west-1", "ap-southeast-2"} <= regions


def test_fail_on_threshold(seeded, tmp_path):
    args = ("scan", "--endpoint-url", seeded.endpoint_url, "--region", "us-east-1", "--services", "s3",
            "--output-formats", "console", "--no-progress")
    # The public-read ACL is critical.
    assert run_cli(*args, "--fail-on", "critical", env=cli_env(), cwd=tmp_path).returncode == 3
    assert run_cli(*args, env=cli_env(), cwd=tmp_path).returncode == 0


def test_inventory_collect_then_offline_scan_matches_live(seeded, tmp_path):
    inventory = tmp_path / "inventory.json"
    collected = run_cli("inventory", "collect", "-o", str(inventory), "--endpoint-url", seeded.endpoint_url,
                        "--region", "us-east-1", "--no-progress", env=cli_env(), cwd=tmp_path)
    assert collected.returncode == 0, collected.stderr
    live = run_cli("scan", "--endpoint-url", seeded.endpoint_url, "--region", "us-east-1", "--output-formats", "json",
                   "--output-dir", str(tmp_path / "live"), "--no-progress", env=cli_env(), cwd=tmp_path)
    # Offline: no credentials, no endpoint; nothing may reach AWS.
    offline_env = {k: v for k, v in cli_env().items() if not k.startswith("AWS_")}
    offline = run_cli("scan", "--inventory", str(inventory), "--output-formats", "json", "--output-dir",
                      str(tmp_path / "offline"), env=offline_env, cwd=tmp_path)
    assert live.returncode == 0 and offline.returncode == 0, offline.stderr

    def verdicts(folder):
        data = json.loads((tmp_path / folder / "cloudwarden-findings.ocsf.json").read_text())
        return {(f["unmapped"]["rule_id"], f["resources"][0]["uid"], f["unmapped"]["cloudwarden_status"])
                for f in data}

    assert verdicts("offline") == verdicts("live")
    assert len(verdicts("live")) > 20


@pytest.mark.parametrize("args, code, message", [
    (("scan", "--output-formats", "pdf"), 2, "--output-formats"),
    (("scan", "--services", "lambda-x"), 2, "--services"),
    (("scan", "--fail-on", "severe"), 2, "--fail-on"),
    (("scan", "--inventory", "/nonexistent/inventory.json"), 1, "cannot read inventory"),
    (("nosuchcommand",), 2, "No such command"),
])
def test_usage_and_input_errors(tmp_path, args, code, message):
    result = run_cli(*args, env=cli_env(), cwd=tmp_path)
    assert result.returncode == code
    assert message in result.stderr


def test_malformed_inventory_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something-else"}')
    result = run_cli("scan", "--inventory", str(bad), env=cli_env(), cwd=tmp_path)
    assert result.returncode == 1
    assert "not a cloudwarden inventory" in result.stderr
    bad.write_text("{not json")
    result = run_cli("scan", "--inventory", str(bad), env=cli_env(), cwd=tmp_path)
    assert result.returncode == 1 and "not valid JSON" in result.stderr


def test_no_credentials_is_a_clear_error(tmp_path):
    env = {k: v for k, v in cli_env().items() if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    result = run_cli("scan", "--region", "us-east-1", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert "no AWS credentials found" in result.stderr


def test_send_to_security_hub_imports_in_batches(seeded, tmp_path):
    result = run_cli("scan", "--endpoint-url", seeded.endpoint_url, "--region", "us-east-1", "--output-formats",
                     "json", "--output-dir", str(tmp_path), "--send-to-security-hub", "--no-progress",
                     env=cli_env(), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    total = len(json.loads((tmp_path / "cloudwarden-findings.ocsf.json").read_text()))
    assert f"imported {total}, failed 0" in result.stdout
    hub = boto3.client("securityhub", endpoint_url=seeded.endpoint_url, region_name="us-east-1",
                       aws_access_key_id="AKIAEMULATORDEMO0000", aws_secret_access_key="x")
    stored = [f for page in hub.get_paginator("get_findings").paginate() for f in page["Findings"]]
    assert len(stored) == total
    assert {f["Compliance"]["Status"] for f in stored} >= {"PASSED", "FAILED"}


def test_rules_list(tmp_path):
    result = run_cli("rules", "list", "--json", env=cli_env(), cwd=tmp_path)
    rules = json.loads(result.stdout)
    assert len(rules) >= 25
    assert {"iam", "s3", "ec2", "cloudtrail", "kms", "config"} <= {r["service"] for r in rules}
    assert all(r["rationale"] and r["remediation"] for r in rules)


def test_role_arn_is_assumed_before_scanning(seeded, tmp_path):
    kwargs = {"endpoint_url": seeded.endpoint_url, "region_name": "us-east-1",
              "aws_access_key_id": "AKIAEMULATORDEMO0000", "aws_secret_access_key": "x"}
    iam = boto3.client("iam", **kwargs)
    iam.create_role(RoleName="security-audit", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"AWS": "arn:aws:iam::123456789012:root"}}]}))
    result = run_cli("scan", "--endpoint-url", seeded.endpoint_url, "--region", "us-east-1", "--services", "s3",
                     "--role-arn", "arn:aws:iam::123456789012:role/security-audit", "--output-formats", "json",
                     "--output-dir", str(tmp_path), "--no-progress", env=cli_env(), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    findings = json.loads((tmp_path / "cloudwarden-findings.ocsf.json").read_text())
    assert {f["cloud"]["account"]["uid"] for f in findings} == {"123456789012"}
    assert "assumed-role/security-audit/cloudwarden" in result.stderr


def test_mutelist_and_framework_in_a_scan(seeded, tmp_path):
    mutelist = tmp_path / "mutelist.yaml"
    mutelist.write_text(
        "mutes:\n"
        "  - reason: public website bucket, reviewed in RISK-7\n"
        "    rule: s3_bucket_no_public_acl\n"
        "    resource: their-public-*\n"
        "  - reason: old exception\n"
        "    rule: iam_*\n"
        "    expires: 2020-01-01\n"
    )
    args = ("scan", "--endpoint-url", seeded.endpoint_url, "--region", "us-east-1", "--services", "s3",
            "--output-formats", "console,csv", "--output-dir", str(tmp_path), "--no-progress")
    # The only critical FAIL is the public ACL: muted, it no longer fails the pipeline.
    assert run_cli(*args, "--fail-on", "critical", env=cli_env(), cwd=tmp_path).returncode == 3
    muted = run_cli(*args, "--fail-on", "critical", "--mutelist", str(mutelist), "--framework", "cis-5.0",
                    env=cli_env(), cwd=tmp_path)
    assert muted.returncode == 0, muted.stderr
    assert "MUTED by the mutelist" in muted.stdout
    assert "expired on 2020-01-01" in muted.stdout
    assert "CIS AWS Foundations Benchmark v5.0.0" in muted.stdout and "2.1.4" in muted.stdout
    with (tmp_path / "cloudwarden-findings.csv").open() as handle:
        rows = [r for r in csv.DictReader(handle) if r["rule_id"] == "s3_bucket_no_public_acl"]
    assert rows[0]["status"] == "MUTED" and "RISK-7" in rows[0]["muted_reason"]

    bad = tmp_path / "bad.yaml"
    bad.write_text("mutes:\n  - rule: x\n")
    result = run_cli(*args, "--mutelist", str(bad), env=cli_env(), cwd=tmp_path)
    assert result.returncode == 1 and "reason is required" in result.stderr
    assert run_cli(*args, "--framework", "sox", env=cli_env(), cwd=tmp_path).returncode == 2


def test_frameworks_command(tmp_path):
    result = run_cli("frameworks", env=cli_env(), cwd=tmp_path)
    assert result.returncode == 0
    assert "cis-5.0" in result.stdout and "63" in result.stdout and "well-architected" in result.stdout

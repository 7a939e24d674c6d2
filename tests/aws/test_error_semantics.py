"""When AWS says no, the result is ERROR with the reason, and the scan goes on. Never a false PASS."""

from __future__ import annotations

import json

import boto3
import pytest
import requests

from cloudwarden.aws.session import AwsContext
from cloudwarden.findings.model import Status
from cloudwarden.posture.scan import scan_account
from tests.aws_faults import refuse
from tests.conftest import ACCOUNT_ID, verdict
from tests.e2e.conftest import MotoProcess

TLS_ONLY = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Deny", "Principal": "*", "Action": "s3:*",
    "Resource": ["arn:aws:s3:::guarded", "arn:aws:s3:::guarded/*"],
    "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]})


def test_denied_attribute_is_error_for_the_rules_that_need_it(aws):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="guarded")
    s3.put_bucket_policy(Bucket="guarded", Policy=TLS_ONLY)  # would PASS if it could be read
    scanner = aws.context()
    refuse(scanner.session, "s3", "GetBucketPolicy")

    findings = aws.scan(services=["s3"], aws=scanner)

    for rule_id in ("s3_bucket_tls_only", "s3_bucket_no_public_policy"):
        finding = verdict(findings, rule_id, "guarded")
        assert finding.status is Status.ERROR
        assert finding.evidence["reason"] == "AccessDenied on s3:GetBucketPolicy"
    # Rules that do not need the policy are still judged.
    assert verdict(findings, "s3_bucket_versioning_enabled", "guarded").status is Status.FAIL


def test_whole_service_denied_scan_finishes_with_errors(aws):
    aws.client("s3").create_bucket(Bucket="still-scanned")
    scanner = aws.context()
    refuse(scanner.session, "iam")  # every IAM call
    refuse(scanner.session, "ec2", "DescribeSecurityGroups")

    findings = aws.scan(services=["iam", "s3", "ec2"], aws=scanner)

    iam = [f for f in findings if f.rule.service == "iam"]
    assert iam and all(f.status is Status.ERROR for f in iam)
    assert any("AccessDenied on iam:ListUsers" in f.message for f in iam)
    sg = [f for f in findings if f.rule.resource_type == "AWS::EC2::SecurityGroup"]
    assert {f.status for f in sg} == {Status.ERROR}
    assert {f.evidence["reason"] for f in sg} == {"AccessDenied on ec2:DescribeSecurityGroups"}
    # Everything else was judged.
    assert verdict(findings, "s3_bucket_versioning_enabled", "still-scanned").status is Status.FAIL
    assert any(f.rule.id == "ec2_vpc_flow_logs_enabled" and f.status is Status.FAIL for f in findings)


def test_throttling_after_retries_is_error_not_pass(aws):
    kms = aws.client("kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.enable_key_rotation(KeyId=key)
    scanner = aws.context()
    refuse(scanner.session, "kms", "GetKeyRotationStatus", code="ThrottlingException", status=400)

    finding = verdict(aws.scan(services=["kms"], aws=scanner), "kms_key_rotation_enabled", key)

    assert finding.status is Status.ERROR
    assert finding.evidence["reason"] == "ThrottlingException on kms:GetKeyRotationStatus"


def test_unreadable_trail_makes_account_verdict_error(aws):
    aws.client("s3").create_bucket(Bucket="trail-bucket")
    trail = aws.client("cloudtrail")
    trail.create_trail(Name="org", S3BucketName="trail-bucket", IsMultiRegionTrail=True)
    trail.start_logging(Name="org")
    scanner = aws.context()
    refuse(scanner.session, "cloudtrail", "GetTrailStatus")

    finding = verdict(aws.scan(services=["cloudtrail"], aws=scanner), "cloudtrail_multi_region_enabled", ACCOUNT_ID)

    assert finding.status is Status.ERROR
    assert "AccessDenied on cloudtrail:GetTrailStatus" in finding.message


@pytest.fixture(scope="module")
def enforcing_moto():
    """A separate moto process: IAM enforcement is switched on for the whole server and cannot be undone."""
    server = MotoProcess()
    yield server
    server.stop()


def test_iam_enforcement_denies_are_errors(enforcing_moto):
    """The emulator's own IAM enforcement: an auditor whose policy denies two reads."""
    def client(service, **keys):
        return boto3.client(service, endpoint_url=enforcing_moto.endpoint_url, region_name="us-east-1",
                            aws_access_key_id=keys.get("key", "AKIAEMULATORDEMO0000"),
                            aws_secret_access_key=keys.get("secret", "emulator-secret-key-not-a-real-one"))

    admin_iam = client("iam")
    client("s3").create_bucket(Bucket="audited-bucket")
    admin_iam.create_user(UserName="auditor")
    admin_iam.put_user_policy(UserName="auditor", PolicyName="audit", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "Action": ["s3:GetBucketPolicy", "iam:ListUsers"], "Resource": "*"}]}))
    key = admin_iam.create_access_key(UserName="auditor")["AccessKey"]
    requests.post(f"{enforcing_moto.endpoint_url}/moto-api/reset-auth", data="0",
                  headers={"Content-Type": "text/plain"}, timeout=10).raise_for_status()

    scanner = AwsContext.create(endpoint_url=enforcing_moto.endpoint_url, credentials={
        "AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]})
    _, result = scan_account(scanner, ["us-east-1"], services=["s3", "iam"])

    tls = verdict(result.findings, "s3_bucket_tls_only", "audited-bucket")
    assert tls.status is Status.ERROR and "AccessDenied on s3:GetBucketPolicy" in tls.message
    user_rules = [f for f in result.findings if f.rule.resource_type == "AWS::IAM::User"]
    assert user_rules and all(f.status is Status.ERROR for f in user_rules)
    assert all("ListUsers" in f.message for f in user_rules)
    assert verdict(result.findings, "s3_bucket_versioning_enabled", "audited-bucket").status is Status.FAIL
    assert not any(f.status is Status.PASS and f.rule.id == "s3_bucket_tls_only" for f in result.findings)

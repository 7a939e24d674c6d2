"""The client factory: read-only guard, call counting, and the s3control custom-endpoint fix."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError

from cloudwarden.aws.session import WriteRefused, is_read_operation
from cloudwarden.demo.emulator import EMULATOR_CREDENTIALS
from tests.conftest import ACCOUNT_ID


def test_read_only_context_refuses_writes_before_sending(aws):
    scanner = aws.context()
    with pytest.raises(WriteRefused, match="s3:CreateBucket"):
        scanner.client("s3").create_bucket(Bucket="must-not-exist")
    assert aws.client("s3").list_buckets()["Buckets"] == []


@pytest.mark.parametrize("operation, is_read", [
    ("GetBucketPolicy", True), ("ListUsers", True), ("DescribeInstances", True), ("GenerateCredentialReport", True),
    ("PutBucketPolicy", False), ("DeleteTrail", False), ("AuthorizeSecurityGroupIngress", False),
    ("BatchImportFindings", False), ("CreateUser", False), ("UpdateTrail", False),
])
def test_operation_classification(operation, is_read):
    assert is_read_operation(operation) is is_read


def test_each_read_api_is_called_once_per_scope(aws):
    s3 = aws.client("s3")
    for name in ("bucket-one", "bucket-two", "bucket-three"):
        s3.create_bucket(Bucket=name)
    scanner = aws.context()
    aws.collect(services=["s3", "ec2"], regions=["us-east-1", "eu-west-1"], aws=scanner)
    calls = scanner.api_calls
    assert calls["s3:ListBuckets"] == 1
    assert calls["s3:GetBucketPolicy"] == 3
    assert calls["ec2:DescribeSecurityGroups"] == 2  # once per region
    assert calls["ec2:DescribeFlowLogs"] == 2
    assert calls["ec2:GetEbsEncryptionByDefault"] == 2
    assert all(is_read_operation(op.split(":")[1]) for op in calls)


def test_s3control_reaches_a_custom_endpoint(aws):
    """s3control puts the account id in the host name; against a custom endpoint that host does not resolve,
    so a plain client fails while cloudwarden's client reaches the server."""
    plain = boto3.client("s3control", endpoint_url=aws.endpoint_url, region_name="us-east-1",
                         aws_access_key_id=EMULATOR_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                         aws_secret_access_key=EMULATOR_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])
    with pytest.raises(EndpointConnectionError):
        plain.get_public_access_block(AccountId=ACCOUNT_ID)

    aws.client("s3control").put_public_access_block(AccountId=ACCOUNT_ID, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": False})
    config = aws.context().client("s3control").get_public_access_block(AccountId=ACCOUNT_ID)
    assert config["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is False
    assert config["PublicAccessBlockConfiguration"]["BlockPublicAcls"] is True


def test_contexts_share_one_model_loader_without_growing_its_search_path(aws):
    first, second = aws.context(), aws.context()
    loaders = {id(ctx.session._session.get_component("data_loader")) for ctx in (first, second)}
    assert len(loaders) == 1
    paths = first.session._session.get_component("data_loader").search_paths
    assert len(paths) == len(set(paths))
    # Both contexts still work against the emulator with their own credentials and call counts.
    second.client("iam").list_users()
    assert second.api_calls["iam:ListUsers"] == 1 and first.api_calls["iam:ListUsers"] == 0

"""The minimal IAM policy we ship must allow every call a full scan makes, and nothing that writes."""

from __future__ import annotations

import json
from pathlib import Path

from cloudwarden.demo.environment import DEMO_REGIONS, seed_sample_company
from cloudwarden.posture.scan import scan_account

POLICY = Path(__file__).parents[1] / "docs" / "iam" / "cloudwarden-scan-policy.json"
# Where the IAM action is not named like the API operation.
IAM_ACTION = {
    "s3:ListBuckets": "s3:ListAllMyBuckets",
    "s3:GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "s3:GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
    "s3:GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "s3control:GetPublicAccessBlock": "s3:GetAccountPublicAccessBlock",
    "accessanalyzer:ListAnalyzers": "access-analyzer:ListAnalyzers",
    "elbv2:DescribeListeners": "elasticloadbalancing:DescribeListeners",
    "elbv2:DescribeLoadBalancers": "elasticloadbalancing:DescribeLoadBalancers",
}
NO_PERMISSION_NEEDED = {"sts:GetCallerIdentity"}


def test_shipped_policy_covers_every_call_of_a_full_scan(aws):
    seed_sample_company(aws.client, aws.account_id)
    scanner = aws.context()
    scan_account(scanner, list(DEMO_REGIONS))
    scanner.enabled_regions()
    needed = {IAM_ACTION.get(call, call) for call in scanner.api_calls} - NO_PERMISSION_NEEDED
    allowed = set(json.loads(POLICY.read_text())["Statement"][0]["Action"])
    assert needed - allowed == set(), "add these to docs/iam/cloudwarden-scan-policy.json"
    assert allowed - needed == set(), "the policy allows more than a scan uses"
    assert not any(action.split(":")[1].startswith(("Put", "Create", "Delete", "Update")) for action in allowed)

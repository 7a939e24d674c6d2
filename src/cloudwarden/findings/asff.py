"""Findings in the AWS Security Finding Format, as Security Hub's BatchImportFindings accepts them.

Findings are imported into one region (``home_region``); ``Resources[].Region`` keeps each resource's own
region. PASS is imported as Compliance PASSED with severity INFORMATIONAL, ERROR as NOT_AVAILABLE
("the check could not be performed"), never as PASSED.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from cloudwarden.findings.frameworks import cis_requirements
from cloudwarden.findings.model import Finding, Status
from cloudwarden.inventory.model import GLOBAL

SCHEMA_VERSION = "2018-10-08"
BATCH_SIZE = 100  # BatchImportFindings takes at most 100 findings per call
TITLE_MAX = 256
DESCRIPTION_MAX = 1024
RECOMMENDATION_MAX = 512
PRODUCT_FIELD_MAX = 2048
# WARNING: "some information is missing or this check is not supported": a person must decide.
COMPLIANCE = {Status.PASS: "PASSED", Status.FAIL: "FAILED", Status.ERROR: "NOT_AVAILABLE", Status.MANUAL: "WARNING"}
RESOURCE_TYPES = {
    "AWS::S3::Bucket": "AwsS3Bucket",
    "AWS::IAM::User": "AwsIamUser",
    "AWS::IAM::ManagedPolicy": "AwsIamPolicy",
    "AWS::EC2::SecurityGroup": "AwsEc2SecurityGroup",
    "AWS::EC2::NetworkAcl": "AwsEc2NetworkAcl",
    "AWS::EC2::VPC": "AwsEc2Vpc",
    "AWS::EC2::Volume": "AwsEc2Volume",
    "AWS::EC2::Instance": "AwsEc2Instance",
    "AWS::KMS::Key": "AwsKmsKey",
    "AWS::CloudTrail::Trail": "AwsCloudTrailTrail",
}


def product_arn(partition: str, region: str, account_id: str) -> str:
    """The ARN of an account's own default product: where custom findings are imported."""
    return f"arn:{partition}:securityhub:{region}:{account_id}:product/{account_id}/default"


def to_asff(finding: Finding, home_region: str, partition: str = "aws", causes: Sequence[Any] = ()) -> dict[str, Any]:
    """``causes``: the trail events that introduced a FAIL, newest first; the newest goes into ProductFields
    (``cloudwarden/changed_by``, ``…/changed_at``, ``…/change_event``, …), a flat string map in ASFF."""
    now = _iso(finding.observed_at or datetime.now(UTC))
    types = (
        ["Software and Configuration Checks/Industry and Regulatory Standards/CIS AWS Foundations Benchmark"]
        if finding.rule.cis
        else ["Software and Configuration Checks/AWS Security Best Practices"]
    )
    severity = "INFORMATIONAL" if finding.status is Status.PASS else finding.severity.value.upper()
    resource: dict[str, Any] = {
        "Type": RESOURCE_TYPES.get(finding.resource_type, "Other"),
        "Id": finding.resource_arn or finding.resource_id,
        "Partition": partition,
        "Region": home_region if finding.region == GLOBAL else finding.region,
    }
    if finding.resource_tags:
        resource["Tags"] = {k[:128]: v[:256] for k, v in list(finding.resource_tags.items())[:50]}
    return {
        "SchemaVersion": SCHEMA_VERSION,
        "Id": f"cloudwarden/{finding.account_id}/{finding.uid}",
        "ProductArn": product_arn(partition, home_region, finding.account_id),
        "ProductName": "cloudwarden",
        "CompanyName": "cloudwarden",
        "GeneratorId": f"cloudwarden/{finding.rule.id}",
        "AwsAccountId": finding.account_id,
        "Types": types,
        "CreatedAt": now,
        "UpdatedAt": now,
        "Severity": {"Label": severity},
        "Title": finding.rule.title[:TITLE_MAX],
        "Description": finding.message[:DESCRIPTION_MAX] or finding.rule.title,
        "Remediation": {"Recommendation": {"Text": finding.rule.remediation[:RECOMMENDATION_MAX]}},
        "Resources": [resource],
        "Compliance": {
            "Status": COMPLIANCE[finding.status],
            "RelatedRequirements": cis_requirements(finding.rule.cis),
        },
        "Workflow": {"Status": _workflow(finding)},
        "RecordState": "ACTIVE",
        "ProductFields": {
            "cloudwarden/rule_id": finding.rule.id,
            "cloudwarden/status": finding.status.value,
            **({"cloudwarden/muted_reason": finding.muted_reason[:1024]} if finding.muted_reason else {}),
            **(_cause_fields(causes[0]) if causes else {}),
        },
    }


def _cause_fields(cause: Any) -> dict[str, str]:
    """The newest causing event as ProductFields (values are strings of at most 2048 characters in ASFF)."""
    fields = {
        "cloudwarden/changed_by": cause.principal,
        "cloudwarden/changed_by_session": cause.session_name,
        "cloudwarden/changed_at": _iso(cause.event_time.replace(tzinfo=UTC)),
        "cloudwarden/change_event": f"{cause.event_source}:{cause.event_name}",
        "cloudwarden/change_event_id": cause.event_id,
        "cloudwarden/change_source_ip": cause.source_ip,
        "cloudwarden/change_user_agent": cause.user_agent,
    }
    return {key: str(value)[:PRODUCT_FIELD_MAX] for key, value in fields.items() if value}


def _workflow(finding: Finding) -> str:
    if finding.muted_reason:
        return "SUPPRESSED"
    return "RESOLVED" if finding.status is Status.PASS else "NEW"


def batches(items: list[dict[str, Any]], size: int = BATCH_SIZE) -> list[list[dict[str, Any]]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

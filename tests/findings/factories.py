"""Small hand-built findings for tests of the output formats."""

from __future__ import annotations

from datetime import UTC, datetime

from cloudwarden.findings.model import Finding, RuleRef, Severity, Status

RULE = RuleRef(
    id="s3_bucket_no_public_acl", title="S3 bucket ACLs do not grant access to everyone", severity=Severity.CRITICAL,
    service="s3", resource_type="AWS::S3::Bucket", rationale="Public buckets leak data.",
    remediation="Make it private.", cis=("2.1.4",),
)
BEST_PRACTICE = RuleRef(
    id="s3_bucket_versioning_enabled", title="S3 buckets keep object versions", severity=Severity.LOW,
    service="s3", resource_type="AWS::S3::Bucket", rationale="Recover from deletes.", remediation="Enable it.",
)


def finding(status: Status = Status.FAIL, resource_id: str = "bucket-a", rule: RuleRef = RULE,
            message: str = "Bucket is public.", tags: dict[str, str] | None = None, region: str = "us-east-1",
            **evidence: object) -> Finding:
    return Finding(
        rule=rule, status=status, account_id="123456789012", region=region, resource_id=resource_id,
        resource_arn=f"arn:aws:s3:::{resource_id}", resource_type=rule.resource_type, message=message,
        evidence=dict(evidence), resource_tags=tags or {}, observed_at=datetime(2026, 11, 28, 12, 0, tzinfo=UTC),
    )

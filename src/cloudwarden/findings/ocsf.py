"""Findings as OCSF Compliance Findings (class 2003, OCSF schema 1.1.0).

Every attribute OCSF marks required for the class is present: activity_id, category_uid, class_uid,
compliance (with standards), finding_info (uid, title), metadata (product, version), severity_id, time,
type_uid; plus the recommended status, cloud, resources and remediation.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from cloudwarden import __version__
from cloudwarden.findings.frameworks import CIS_STANDARD, cis_requirements
from cloudwarden.findings.model import Finding, Severity, Status

OCSF_VERSION = "1.1.0"
CLASS_UID = 2003
CATEGORY_UID = 2  # Findings
ACTIVITY_CREATE = 1
SEVERITY_ID = {
    Severity.INFORMATIONAL: 1,
    Severity.LOW: 2,
    Severity.MEDIUM: 3,
    Severity.HIGH: 4,
    Severity.CRITICAL: 5,
}
# compliance.status_id: 1 Pass, 3 Fail, 99 Other (ours: could not evaluate).
COMPLIANCE_STATUS_ID = {Status.PASS: 1, Status.MANUAL: 2, Status.FAIL: 3, Status.ERROR: 99}
# status_id of the finding itself: 1 New; a PASS is reported as 4 Resolved.
FINDING_STATUS = {
    Status.PASS: (4, "Resolved"),
    Status.FAIL: (1, "New"),
    Status.ERROR: (1, "New"),
    Status.MANUAL: (1, "New"),
}


def to_ocsf(finding: Finding, partition: str = "aws", causes: Sequence[Any] = ()) -> dict[str, Any]:
    """``causes``: the trail events that introduced a FAIL (``Cause`` objects, newest first), kept under
    ``unmapped.caused_by`` (OCSF 1.1.0 gives Compliance Findings no attribute for the change that caused them)."""
    time = finding.observed_at or datetime.now(UTC)
    epoch_ms = int(time.timestamp() * 1000)
    status_id, status = (3, "Suppressed") if finding.muted_reason else FINDING_STATUS[finding.status]
    standards = [CIS_STANDARD] if finding.rule.cis else ["cloudwarden AWS best practices"]
    return {
        "activity_id": ACTIVITY_CREATE,
        "activity_name": "Create",
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "class_uid": CLASS_UID,
        "class_name": "Compliance Finding",
        "type_uid": CLASS_UID * 100 + ACTIVITY_CREATE,
        "type_name": "Compliance Finding: Create",
        "severity_id": SEVERITY_ID[finding.severity],
        "severity": finding.severity.value.capitalize(),
        "status_id": status_id,
        "status": status,
        "time": epoch_ms,
        "message": finding.message,
        "metadata": {
            "version": OCSF_VERSION,
            "product": {"name": "cloudwarden", "vendor_name": "cloudwarden", "version": __version__},
            "event_code": finding.rule.id,
        },
        "finding_info": {
            "uid": finding.uid,
            "title": finding.rule.title,
            "desc": finding.rule.rationale,
            "types": [finding.rule.service],
            "created_time": epoch_ms,
        },
        "compliance": {
            "standards": standards,
            "requirements": cis_requirements(finding.rule.cis),
            "control": ", ".join(finding.rule.cis) or finding.rule.id,
            "status_id": COMPLIANCE_STATUS_ID[finding.status],
            "status": finding.status.value.capitalize() if finding.status is not Status.ERROR else "Error",
            "status_detail": finding.message,
        },
        "remediation": {"desc": finding.rule.remediation},
        "cloud": {"provider": "AWS", "region": finding.region, "account": {"uid": finding.account_id}},
        "resources": [
            {
                "uid": finding.resource_arn or finding.resource_id,
                "name": finding.resource_id,
                "type": finding.resource_type,
                "region": finding.region,
                "cloud_partition": partition,
                "labels": [f"{k}={v}" for k, v in finding.resource_tags.items()],
                "data": finding.evidence,
            }
        ],
        "unmapped": {
            "rule_id": finding.rule.id,
            "cloudwarden_status": finding.status.value,
            "muted_reason": finding.muted_reason,
            "fsbp": list(finding.rule.fsbp),
            "well_architected": list(finding.rule.well_architected),
            **({"caused_by": [cause.to_dict() for cause in causes]} if causes else {}),
        },
    }

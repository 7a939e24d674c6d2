"""The one Finding model that posture rules (and later detections) produce and every renderer reads."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    PASS = "PASS"  # noqa: S105 - a verdict, not a password
    FAIL = "FAIL"
    # Could not evaluate: the data was unreadable (permission, API error, throttling). Never a PASS.
    ERROR = "ERROR"
    # Needs a person to decide (e.g. "contact details are current"); the evidence says what was seen.
    MANUAL = "MANUAL"


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFORMATIONAL = "informational"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {
    Severity.INFORMATIONAL: 0,
    Severity.LOW: 1,
    Severity.MEDIUM: 2,
    Severity.HIGH: 3,
    Severity.CRITICAL: 4,
}


@dataclass(frozen=True)
class RuleRef:
    """What a finding needs to know about the rule that produced it."""

    id: str
    title: str
    severity: Severity
    service: str
    resource_type: str
    rationale: str
    remediation: str
    cis: tuple[str, ...] = ()
    fsbp: tuple[str, ...] = ()  # AWS Foundational Security Best Practices control ids, e.g. "S3.8"
    well_architected: tuple[str, ...] = ()  # Well-Architected security pillar questions, e.g. "SEC03"


@dataclass
class Finding:
    """One rule's verdict on one resource.

    ``message`` says why in a sentence; ``evidence`` holds the attribute values the verdict rests on
    (for ERROR, the reason the data could not be read).
    """

    rule: RuleRef
    status: Status
    account_id: str
    region: str
    resource_id: str
    resource_arn: str
    resource_type: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    resource_tags: dict[str, str] = field(default_factory=dict)
    observed_at: datetime | None = None
    # Set by the mutelist: the finding is kept, shown as MUTED with this reason, and fails nothing.
    muted_reason: str | None = None

    @property
    def uid(self) -> str:
        """Stable across scans of the same resource by the same rule: the key for history and imports."""
        key = f"{self.rule.id}|{self.account_id}|{self.region}|{self.resource_arn or self.resource_id}"
        return hashlib.sha256(key.encode()).hexdigest()[:32]

    @property
    def severity(self) -> Severity:
        return self.rule.severity

    @property
    def shown_status(self) -> str:
        """The status people see: ``MUTED`` for a muted finding, else the verdict."""
        return "MUTED" if self.muted_reason else self.status.value

"""A scan's result: its findings plus what every renderer needs to say about the scan itself."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cloudwarden.findings.model import Finding, Severity, Status


@dataclass
class ScanResult:
    account_id: str
    partition: str
    regions: list[str]
    collected_at: datetime
    findings: list[Finding]
    api_calls: int = 0
    duration_seconds: float = 0.0
    source: str = "live"  # "live" or the inventory file the scan judged
    rule_count: int = 0
    scope_errors: list[str] = field(default_factory=list)
    collected_types: set[str] = field(default_factory=set)
    # Things the user should know that are not findings (an expired mutelist entry, a skipped region).
    notices: list[str] = field(default_factory=list)
    frameworks: list[str] = field(default_factory=list)  # asked for with --framework
    # Finding.uid → the trail events that introduced its FAIL (cloudwarden.trail.causes.Cause), filled only when
    # a trail store is available; typed Any so findings/ does not depend on the trail package.
    causes: dict[str, list[Any]] = field(default_factory=dict)

    def by_status(self) -> Counter[Status]:
        return Counter(f.status for f in self.findings)

    def failed(self) -> list[Finding]:
        """FAIL findings, most severe first."""
        return sorted(
            (f for f in self.findings if f.status is Status.FAIL and not f.muted_reason),
            key=lambda f: (-f.severity.rank, f.rule.id, f.region, f.resource_id),
        )

    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.status is Status.ERROR]

    def worst_failure(self) -> Severity | None:
        failed = self.failed()
        return failed[0].severity if failed else None

"""Sending findings to AWS Security Hub: the one write cloudwarden's scan makes, and only when asked."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cloudwarden.findings.asff import batches, to_asff
from cloudwarden.findings.scan import ScanResult


@dataclass
class ImportSummary:
    imported: int = 0
    failed: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)


def send_to_security_hub(result: ScanResult, securityhub: Any, home_region: str) -> ImportSummary:
    """BatchImportFindings in batches of 100 through ``securityhub`` (a client in ``home_region``)."""
    summary = ImportSummary()
    documents = [to_asff(f, home_region, result.partition, result.causes.get(f.uid, ())) for f in result.findings]
    for batch in batches(documents):
        response = securityhub.batch_import_findings(Findings=batch)
        summary.imported += int(response.get("SuccessCount", 0))
        summary.failed += int(response.get("FailedCount", 0))
        summary.failures.extend(response.get("FailedFindings", []))
    return summary

"""Per-control status for a framework: the findings of the rules that decide each control, combined.

A control is FAIL when any deciding rule fails (muted findings excepted), else ERROR when any could not be
evaluated (or its service was not collected in this scan), else MANUAL when a person must decide (no rule
decides it, or a rule said MANUAL), else PASS (which includes "no resources in scope").
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cloudwarden.findings.model import Finding, Status
from cloudwarden.findings.scan import ScanResult
from cloudwarden.posture.frameworks import Control, Framework
from cloudwarden.posture.registry import all_rules


@dataclass
class ControlResult:
    control: Control
    status: Status
    detail: str
    rule_ids: list[str] = field(default_factory=list)
    failing: list[Finding] = field(default_factory=list)
    errors: list[Finding] = field(default_factory=list)
    muted: int = 0


def assess(framework: Framework, result: ScanResult) -> list[ControlResult]:
    rules = all_rules()
    by_rule: dict[str, list[Finding]] = {}
    for finding in result.findings:
        by_rule.setdefault(finding.rule.id, []).append(finding)
    out = []
    for control in framework.controls:
        deciding = framework.rules_for(control.id, rules)
        findings = [f for r in deciding for f in by_rule.get(r.id, [])]
        failing = [f for f in findings if f.status is Status.FAIL and not f.muted_reason]
        errors = [f for f in findings if f.status is Status.ERROR]
        not_collected = [r.id for r in deciding if r.resource_type not in result.collected_types]
        muted = sum(1 for f in findings if f.muted_reason)
        ids = [r.id for r in deciding]
        if not deciding:
            status, detail = Status.MANUAL, "no automated rule: a person must decide"
        elif failing:
            status, detail = Status.FAIL, f"{len(failing)} failing resource(s)"
        elif errors or not_collected:
            reasons = sorted({f.evidence.get("reason", f.message) for f in errors})
            if not_collected:
                reasons.append("not collected in this scan: " + ", ".join(not_collected))
            status, detail = Status.ERROR, "; ".join(reasons[:3])
        elif any(f.status is Status.MANUAL for f in findings):
            status, detail = Status.MANUAL, next(f.message for f in findings if f.status is Status.MANUAL)
        elif findings:
            status, detail = Status.PASS, f"{len(findings)} resource(s) pass"
        else:
            status, detail = Status.PASS, "no resources in scope"
        out.append(ControlResult(control, status, detail, ids, failing, errors, muted))
    return out

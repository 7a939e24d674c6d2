"""Run the rules over an inventory and produce Findings.

ERROR is produced when (a) a rule reads an attribute collection could not read, (b) the listing of the
rule's resource type failed in some region (one ERROR per region, since nothing there could be judged),
or (c) the rule itself raised. None of these is ever a PASS.
"""

from __future__ import annotations

from collections.abc import Iterable

from cloudwarden.findings.model import Finding, Status
from cloudwarden.inventory.model import Inventory, Resource, Unreadable
from cloudwarden.posture.registry import Rule, Verdict, all_rules


def evaluate(inventory: Inventory, rules: Iterable[Rule] | None = None) -> list[Finding]:
    rules = list(rules) if rules is not None else all_rules()
    by_type = inventory.by_type()
    findings: list[Finding] = []
    for rule in rules:
        if rule.resource_type not in inventory.collected_types:
            continue  # the scan did not ask for this service: not judged, not reported
        for resource in by_type.get(rule.resource_type, []):
            verdict = _judge(rule, resource, inventory)
            if verdict is not None:
                findings.append(_finding(rule, resource, verdict, inventory))
        for error in inventory.scope_errors:
            if error.resource_type == rule.resource_type:
                findings.append(
                    Finding(
                        rule=rule.ref,
                        status=Status.ERROR,
                        account_id=inventory.account_id,
                        region=error.region,
                        resource_id=f"{rule.resource_type} in {error.region}",
                        resource_arn="",
                        resource_type=rule.resource_type,
                        message=f"Could not list {rule.resource_type}: {error.reason}",
                        evidence={"reason": error.reason},
                        observed_at=inventory.collected_at,
                    )
                )
    return findings


def _judge(rule: Rule, resource: Resource, inventory: Inventory) -> Verdict | None:
    try:
        return rule.check(resource, inventory)
    except Unreadable as exc:
        return Verdict(Status.ERROR, f"Could not evaluate: {exc.reason}", {"reason": exc.reason})
    except Exception as exc:  # a rule bug is reported on the resource, never turned into PASS
        reason = f"rule {rule.id} failed: {type(exc).__name__}: {exc}"
        return Verdict(Status.ERROR, f"Could not evaluate: {reason}", {"reason": reason})


def _finding(rule: Rule, resource: Resource, verdict: Verdict, inventory: Inventory) -> Finding:
    return Finding(
        rule=rule.ref,
        status=verdict.status,
        account_id=resource.account_id,
        region=resource.region,
        resource_id=resource.id,
        resource_arn=resource.arn,
        resource_type=resource.type,
        message=verdict.message,
        evidence=verdict.evidence,
        resource_tags=resource.tags,
        observed_at=inventory.collected_at,
    )

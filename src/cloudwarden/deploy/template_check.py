"""Judge a CloudFormation template with cloudwarden's own posture rules (the template read as an inventory).

A few rules judge what only a running account shows (whether a role was ever used): those are listed in
:data:`RUNTIME_ONLY_RULES` with the reason and reported as not judged, never as PASS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cloudwarden.deploy.template_inventory import TemplateInventory, template_inventory
from cloudwarden.findings.model import Finding, Status
from cloudwarden.posture.evaluator import evaluate
from cloudwarden.posture.registry import Rule, all_rules

RUNTIME_ONLY_RULES: dict[str, str] = {
    "iam_role_unused": "whether a role is used is runtime state, which a template cannot show",
    "backup_plan_covers_dynamodb_table": "backup plans select by tag or ARN across the account (often from an "
    "organisation); the plans in force are account state a template cannot show",
}


@dataclass
class TemplateVerdicts:
    converted: TemplateInventory
    findings: list[Finding]
    applied_rules: list[Rule]  # the rules that judged at least one of the template's resources
    not_judged: dict[str, str]  # rule id -> why (rules of the template's types that a template cannot decide)

    def problems(self) -> list[Finding]:
        """Every FAIL and ERROR."""
        return [f for f in self.findings if f.status in (Status.FAIL, Status.ERROR)]


def check_template(
    template: dict[str, Any], parameters: dict[str, str] | None = None, **where: Any
) -> TemplateVerdicts:
    """Run every rule for the template's resource types over the template (``where``: see
    :func:`~cloudwarden.deploy.template_inventory.template_inventory`)."""
    converted = template_inventory(template, parameters, **where)
    types = converted.inventory.collected_types
    relevant = [rule for rule in all_rules() if rule.resource_type in types]
    rules = [rule for rule in relevant if rule.id not in RUNTIME_ONLY_RULES]
    findings = evaluate(converted.inventory, rules)
    judged = {f.rule.id for f in findings}
    return TemplateVerdicts(
        converted=converted,
        findings=findings,
        applied_rules=[rule for rule in rules if rule.id in judged],
        not_judged={rule.id: RUNTIME_ONLY_RULES[rule.id] for rule in relevant if rule.id in RUNTIME_ONLY_RULES},
    )

"""Secrets Manager rules."""

from __future__ import annotations

from cloudwarden.findings.model import Severity
from cloudwarden.inventory.model import Inventory, Resource
from cloudwarden.posture.registry import Verdict, failed, passed, rule


@rule(
    id="secretsmanager_rotation_enabled",
    title="Secrets Manager secrets rotate automatically",
    severity=Severity.MEDIUM,
    resource_type="AWS::SecretsManager::Secret",
    fsbp=("SecretsManager.1",),
    well_architected=("SEC02",),
    rationale="A secret that never changes stays valid for whoever copied it, long after they left.",
    remediation="aws secretsmanager rotate-secret --secret-id SECRET --rotation-lambda-arn FUNCTION_ARN "
    "--rotation-rules AutomaticallyAfterDays=30 (or a managed rotation for RDS secrets)",
)
def secretsmanager_rotation_enabled(secret: Resource, _: Inventory) -> Verdict:
    if secret.attr("RotationEnabled") is True:
        return passed(
            "Automatic rotation is on.", RotationEnabled=True, RotationRules=secret.attr("RotationRules") or {}
        )
    return failed(f"Secret {secret.id} does not rotate.", RotationEnabled=False)

"""AWS Backup (regional): vaults, plans with their resource selections, and restore-testing plans.

* ``AWS::Backup::BackupVault``: ListBackupVaults (it says ``Locked`` itself).
* ``AWS::Backup::BackupPlan``: ListBackupPlans, then per plan GetBackupPlan, ListBackupSelections and a
  GetBackupSelection per selection (``selections``: the BackupSelection documents, whose ``Resources``,
  ``NotResources``, ``ListOfTags`` and ``Conditions`` the coverage rules read).
* ``AWS::Backup::RegionSettings`` (id = region): ``restore_testing_plans`` from ListRestoreTestingPlans,
  only in regions with a vault or a plan (or whose vault/plan listing failed).
  Endpoints without that API (the emulator) answer 404; that is recorded as an error, never as "none".
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from cloudwarden.inventory.collectors.base import Collector, CollectorScope, for_each, list_all, read_attribute
from cloudwarden.inventory.model import Resource, jsonable

VAULT = "AWS::Backup::BackupVault"
PLAN = "AWS::Backup::BackupPlan"
REGION_SETTINGS = "AWS::Backup::RegionSettings"
NOT_IMPLEMENTED_CODES = ("404", "NotImplemented")


def collect_backup(scope: CollectorScope) -> list[Resource]:
    backup = scope.client("backup")
    resources: list[Resource] = []
    listed = True
    try:
        vaults = list_all(backup, "list_backup_vaults", "BackupVaultList[]")
    except (ClientError, BotoCoreError) as exc:
        scope.unreadable(VAULT, exc, "backup", "ListBackupVaults")
        listed = False
    else:
        resources += [_vault(scope, v) for v in vaults if isinstance(v, dict) and v.get("BackupVaultName")]
    try:
        plans = list_all(backup, "list_backup_plans", "BackupPlansList[]")
    except (ClientError, BotoCoreError) as exc:
        scope.unreadable(PLAN, exc, "backup", "ListBackupPlans")
        listed = False
    else:
        valid = [p for p in plans if isinstance(p, dict) and p.get("BackupPlanId")]
        resources += for_each(valid, lambda p: _plan(scope, backup, p))
    if resources or not listed:
        # Restore testing matters only where something is (or may be) backed up: saves a call per empty region.
        resources.append(_region_settings(scope, backup))
    return resources


def _vault(scope: CollectorScope, vault: dict[str, Any]) -> Resource:
    name = str(vault["BackupVaultName"])
    arn = vault.get("BackupVaultArn") or scope.arn("backup", f"backup-vault:{name}", scope.region)
    return Resource(VAULT, name, scope.region, scope.account_id, arn=str(arn), attributes=jsonable(vault))


def _plan(scope: CollectorScope, backup: Any, summary: dict[str, Any]) -> Resource:
    plan_id = str(summary["BackupPlanId"])
    arn = summary.get("BackupPlanArn") or scope.arn("backup", f"backup-plan:{plan_id}", scope.region)
    plan = Resource(PLAN, plan_id, scope.region, scope.account_id, arn=str(arn), attributes=jsonable(summary))
    read_attribute(
        plan,
        "plan",
        lambda: backup.get_backup_plan(BackupPlanId=plan_id),
        service="backup",
        operation="GetBackupPlan",
        transform=lambda r: r.get("BackupPlan", {}),
    )
    read_attribute(
        plan,
        "selections",
        lambda: _selections(backup, plan_id),
        service="backup",
        operation="ListBackupSelections",
    )
    return plan


def _selections(backup: Any, plan_id: str) -> list[dict[str, Any]]:
    listed = list_all(backup, "list_backup_selections", "BackupSelectionsList[]", BackupPlanId=plan_id)
    out = []
    for item in listed:
        if not isinstance(item, dict) or not item.get("SelectionId"):
            continue
        answer = backup.get_backup_selection(BackupPlanId=plan_id, SelectionId=item["SelectionId"])
        out.append({"SelectionId": item["SelectionId"], **(answer.get("BackupSelection") or {})})
    return out


def _region_settings(scope: CollectorScope, backup: Any) -> Resource:
    settings = Resource(
        REGION_SETTINGS, scope.region, scope.region, scope.account_id, arn=scope.arn("backup", "settings", scope.region)
    )
    read_attribute(
        settings,
        "restore_testing_plans",
        lambda: list_all(backup, "list_restore_testing_plans", "RestoreTestingPlans[]"),
        service="backup",
        operation="ListRestoreTestingPlans",
    )
    reason = settings.errors.get("restore_testing_plans", "")
    if reason.split(" ", 1)[0] in NOT_IMPLEMENTED_CODES:
        settings.errors["restore_testing_plans"] = f"{reason} (the endpoint does not implement this API)"
    return settings


COLLECTORS = [
    Collector("backup", (VAULT, PLAN, REGION_SETTINGS), collect_backup, operation="ListBackupPlans"),
]

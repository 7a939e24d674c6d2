"""AWS Backup rules: which data stores no backup plan covers, vault locks, and restore testing.

Coverage is decided here, from the inventory: a store (RDS instance or cluster, DynamoDB table, EFS file
system, EBS volume) is covered when a backup plan in its region has a selection that picks it. Selections
are read strictly, so that doubt ends in FAIL or ERROR, never in PASS: every part a selection specifies
must match (``Resources`` by ARN with ``*`` wildcards, any one ``ListOfTags`` entry, every ``Conditions``
clause) and ``NotResources`` must not. A plan whose selections could not be read makes an otherwise
uncovered store ERROR. When the scan did not collect backup plans at all, the coverage rules do not judge.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import Any

from cloudwarden.findings.model import Severity
from cloudwarden.inventory.model import Inventory, Resource, Unreadable
from cloudwarden.posture.registry import Verdict, failed, passed, rule

PLAN = "AWS::Backup::BackupPlan"
VAULT = "AWS::Backup::BackupVault"
REGION_SETTINGS = "AWS::Backup::RegionSettings"
TAG_KEY_PREFIX = "aws:ResourceTag/"

# The data stores whose coverage is judged: (rule id, resource type, what, FSBP ids).
DATA_STORES = (
    ("backup_plan_covers_rds_instance", "AWS::RDS::DBInstance", "RDS DB instance", ("RDS.26",)),
    ("backup_plan_covers_rds_cluster", "AWS::RDS::DBCluster", "RDS DB cluster", ()),
    ("backup_plan_covers_dynamodb_table", "AWS::DynamoDB::Table", "DynamoDB table", ("DynamoDB.4",)),
    ("backup_plan_covers_efs_filesystem", "AWS::EFS::FileSystem", "EFS file system", ("EFS.2",)),
    ("backup_plan_covers_ebs_volume", "AWS::EC2::Volume", "EBS volume", ("EC2.28",)),
)


def coverage(store: Resource, inventory: Inventory) -> Verdict | None:
    """PASS naming the plan and selection that pick ``store``, FAIL when none does; raises Unreadable when
    a plan that might cover it could not be read."""
    if PLAN not in inventory.collected_types:
        return None
    if store.type == "AWS::RDS::DBInstance" and store.attributes.get("DBClusterIdentifier"):
        return None  # Aurora members are backed up with their cluster
    for error in inventory.scope_errors:
        if error.resource_type == PLAN and error.region == store.region:
            raise Unreadable(f"backup plans in {store.region}: {error.reason}")
    unreadable: list[str] = []
    in_region: list[str] = []
    for plan in inventory.of_type(PLAN):
        if plan.region != store.region or plan.account_id != store.account_id:
            continue
        in_region.append(_plan_name(plan))
        if "selections" in plan.errors:
            unreadable.append(f"plan {plan.id}: {plan.errors['selections']}")
            continue
        selections = plan.attributes.get("selections")
        for selection in selections if isinstance(selections, list) else []:
            if isinstance(selection, dict) and selects(selection, store):
                return passed(
                    "A backup plan covers this resource.",
                    plan=_plan_name(plan),
                    selection=str(selection.get("SelectionName", "")),
                )
    if unreadable:
        raise Unreadable("; ".join(unreadable))
    return failed(f"No backup plan in {store.region} covers {store.id}.", plans=sorted(in_region))


def selects(selection: dict[str, Any], store: Resource) -> bool:
    """Whether one BackupSelection document picks ``store`` (read strictly; see the module docstring)."""
    arn = store.arn
    if any(_arn_matches(p, arn) for p in _strings(selection.get("NotResources"))):
        return False
    resources = _strings(selection.get("Resources"))
    if resources and not any(_arn_matches(p, arn) for p in resources):
        return False
    list_of_tags = selection.get("ListOfTags")
    if isinstance(list_of_tags, list) and list_of_tags:
        tags = _tags(store)
        if not any(_tag_condition(c, tags, "STRINGEQUALS") for c in list_of_tags if isinstance(c, dict)):
            return False
    conditions = selection.get("Conditions")
    if isinstance(conditions, dict) and any(conditions.values()):
        tags = _tags(store)
        for operator, clauses in conditions.items():
            for clause in clauses if isinstance(clauses, list) else [clauses]:
                if not isinstance(clause, dict) or not _tag_condition(clause, tags, str(operator).upper()):
                    return False
    return True


_OPERATORS: dict[str, Callable[[str | None, str], bool]] = {
    "STRINGEQUALS": lambda actual, wanted: actual == wanted,
    "STRINGNOTEQUALS": lambda actual, wanted: actual != wanted,
    "STRINGLIKE": lambda actual, wanted: actual is not None and fnmatch.fnmatchcase(actual, _escape(wanted)),
    "STRINGNOTLIKE": lambda actual, wanted: actual is None or not fnmatch.fnmatchcase(actual, _escape(wanted)),
}


def _tag_condition(clause: dict[str, Any], tags: dict[str, str], operator: str) -> bool:
    """One tag clause; ``ListOfTags`` entries carry their own ``ConditionType``."""
    operator = str(clause.get("ConditionType", operator)).upper()
    check = _OPERATORS.get(operator)
    key, value = clause.get("ConditionKey"), clause.get("ConditionValue")
    if check is None or not isinstance(key, str) or not isinstance(value, str):
        return False
    key = key[len(TAG_KEY_PREFIX) :] if key.startswith(TAG_KEY_PREFIX) else key
    return check(tags.get(key), value)


def _tags(store: Resource) -> dict[str, str]:
    if "tags" in store.errors:
        raise Unreadable(store.errors["tags"])
    return store.tags


def _arn_matches(pattern: str, arn: str) -> bool:
    return pattern == "*" or fnmatch.fnmatchcase(arn, _escape(pattern))


def _escape(pattern: str) -> str:
    return pattern.replace("[", "[[]").replace("?", "[?]")


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _plan_name(plan: Resource) -> str:
    return str(
        (plan.attributes.get("plan") or {}).get("BackupPlanName") or plan.attributes.get("BackupPlanName") or plan.id
    )


def _register_coverage(rule_id: str, resource_type: str, what: str, fsbp: tuple[str, ...]) -> None:
    rule(
        id=rule_id,
        title=f"Every {what} is covered by an AWS Backup plan",
        severity=Severity.MEDIUM,
        resource_type=resource_type,
        fsbp=fsbp,
        well_architected=("SEC10",),
        rationale="Backups outside the data store's own account-level settings (retention, vault lock, copies) "
        "are what a team restores from after its own mistake or ransomware; a store no plan selects is not "
        "backed up by AWS Backup at all.",
        remediation="Add the resource to a backup plan: aws backup create-backup-selection --backup-plan-id PLAN "
        "--backup-selection file://selection.json (by ARN, or by a tag condition such as backup=daily).",
    )(coverage)


for _rule_id, _type, _what, _fsbp in DATA_STORES:
    _register_coverage(_rule_id, _type, _what, _fsbp)


@rule(
    id="backup_vault_locked",
    title="AWS Backup vaults have a Vault Lock",
    severity=Severity.MEDIUM,
    resource_type=VAULT,
    well_architected=("SEC10",),
    rationale="Without a Vault Lock anyone with enough permissions (or a stolen administrator credential) can "
    "delete the recovery points or shorten their retention, which is the first thing ransomware does.",
    remediation="aws backup put-backup-vault-lock-configuration --backup-vault-name VAULT --min-retention-days 7 "
    "(add --changeable-for-days to make it immutable in compliance mode)",
)
def backup_vault_locked(vault: Resource, _: Inventory) -> Verdict:
    if vault.attr("Locked") is True:
        return passed(
            "The vault has a Vault Lock.",
            Locked=True,
            MinRetentionDays=vault.attr("MinRetentionDays"),
            LockDate=vault.attr("LockDate"),
        )
    return failed(f"Backup vault {vault.id} has no Vault Lock.", Locked=False)


@rule(
    id="backup_restore_testing_planned",
    title="Backups are restore-tested (an AWS Backup restore testing plan exists)",
    severity=Severity.LOW,
    resource_type=REGION_SETTINGS,
    well_architected=("SEC10",),
    rationale="A backup nobody has restored is a hope, not a recovery plan; restore testing proves recovery "
    "points restore and measures how long it takes.",
    remediation="aws backup create-restore-testing-plan --restore-testing-plan file://plan.json, then add "
    "restore testing selections for the protected resource types.",
)
def backup_restore_testing_planned(settings: Resource, inventory: Inventory) -> Verdict | None:
    plans = settings.attr("restore_testing_plans")  # raises Unreadable where the API failed or is missing
    names = sorted(str(p.get("RestoreTestingPlanName", "")) for p in plans or [] if isinstance(p, dict))
    if names:
        return passed("Restore testing is planned.", restore_testing_plans=names)
    backed_up = any(r.region == settings.region for t in (PLAN, VAULT) for r in inventory.of_type(t))
    if not backed_up:
        return None  # nothing is backed up here; the coverage rules say so
    return failed(f"No restore testing plan in {settings.region}.", restore_testing_plans=[])

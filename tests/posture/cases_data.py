"""Rule cases for the data services: RDS, EFS, DynamoDB, SQS, SNS, Secrets Manager and AWS Backup.

Seeded through the emulator wherever it can show the state. Recorded inventories stand in where it cannot:
the emulator implements neither backup selections (Create/ListBackupSelections answer 500) nor
ListRestoreTestingPlans (404), so backup coverage PASS cases and restore-testing cases judge inventories
shaped as ``inventory/collectors/backup.py`` writes them. ``test_data_backup.py`` checks that the emulator's
"not implemented" answers become ERROR, not PASS. The Multi-AZ rule (CIS 2.2.4, Manual) never passes or
fails; ``test_data_rds.py`` checks its MANUAL verdicts.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from cloudwarden.inventory.model import Inventory, Resource
from tests.conftest import ACCOUNT_ID, REGION, Emulated
from tests.posture.rule_cases import Case, Recorded, Seed

RDS, EFS, DYNAMODB, SQS, SNS, SECRETS = ("rds",), ("efs",), ("dynamodb",), ("sqs",), ("sns",), ("secretsmanager",)
BACKUP = ("backup",)
PLAN, VAULT, BACKUP_REGION = "AWS::Backup::BackupPlan", "AWS::Backup::BackupVault", "AWS::Backup::RegionSettings"
NO_SELECTIONS = (
    "the emulator does not implement backup selections (CreateBackupSelection and ListBackupSelections "
    "answer HTTP 500), so a plan that selects resources can only be judged from a recorded inventory"
)
NO_RESTORE_TESTING = (
    "the emulator does not implement ListRestoreTestingPlans (HTTP 404), so restore testing plans can only "
    "be judged from a recorded inventory"
)


# -- seeding helpers ------------------------------------------------------------------------------


def _db_instance(name: str = "orders-db", **settings: Any) -> Seed:
    def seed(aws: Emulated) -> str:
        aws.client("rds").create_db_instance(
            DBInstanceIdentifier=name,
            DBInstanceClass="db.t3.micro",
            Engine="postgres",
            MasterUsername="app",
            MasterUserPassword="correct-horse-battery",
            AllocatedStorage=20,
            **settings,
        )
        return name

    return seed


def _db_cluster(name: str = "ledger", **settings: Any) -> Seed:
    def seed(aws: Emulated) -> str:
        aws.client("rds").create_db_cluster(
            DBClusterIdentifier=name,
            Engine="aurora-postgresql",
            MasterUsername="app",
            MasterUserPassword="correct-horse-battery",
            **settings,
        )
        return name

    return seed


def _file_system(encrypted: bool) -> Seed:
    def seed(aws: Emulated) -> str:
        return str(aws.client("efs").create_file_system(CreationToken="shared", Encrypted=encrypted)["FileSystemId"])

    return seed


def _table(name: str = "sessions", cmk: bool = False, pitr: bool = False) -> Seed:
    def seed(aws: Emulated) -> str:
        dynamodb = aws.client("dynamodb")
        extra: dict[str, Any] = {}
        if cmk:
            key = aws.client("kms").create_key(Description="tables")["KeyMetadata"]["Arn"]
            extra["SSESpecification"] = {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key}
        dynamodb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            **extra,
        )
        if pitr:
            dynamodb.update_continuous_backups(
                TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
            )
        return name

    return seed


def _queue(**attributes: str) -> Seed:
    def seed(aws: Emulated) -> str:
        aws.client("sqs").create_queue(QueueName="jobs", Attributes=attributes)
        return "jobs"

    return seed


def _topic(**attributes: str) -> Seed:
    def seed(aws: Emulated) -> str:
        aws.client("sns").create_topic(Name="orders", Attributes=attributes)
        return "orders"

    return seed


def rotation_function(aws: Emulated, name: str = "rotate-secret") -> str:
    """A Lambda function to rotate with (Secrets Manager checks that it exists); returns its ARN."""
    role = aws.client("iam").create_role(
        RoleName=f"{name}-role",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
        ),
    )["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return None\n")
    return str(
        aws.client("lambda").create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role,
            Handler="index.handler",
            Code={"ZipFile": code.getvalue()},
        )["FunctionArn"]
    )


def _secret(rotate: bool) -> Seed:
    def seed(aws: Emulated) -> str:
        secrets = aws.client("secretsmanager")
        secrets.create_secret(Name="db-password", SecretString="correct-horse-battery")
        if rotate:
            secrets.rotate_secret(
                SecretId="db-password",
                RotationLambdaARN=rotation_function(aws),
                RotationRules={"AutomaticallyAfterDays": 30},
            )
        return "db-password"

    return seed


def _vault(locked: bool) -> Seed:
    def seed(aws: Emulated) -> str:
        backup = aws.client("backup")
        backup.create_backup_vault(BackupVaultName="primary")
        if locked:
            backup.put_backup_vault_lock_configuration(BackupVaultName="primary", MinRetentionDays=7)
        return "primary"

    return seed


# -- recorded inventories ---------------------------------------------------------------------------------


def _arn(service: str, resource: str) -> str:
    return f"arn:aws:{service}:{REGION}:{ACCOUNT_ID}:{resource}"


# Each data store as its collector writes it: (type, id, ARN, attributes).
STORES: dict[str, tuple[str, str, str, dict[str, Any]]] = {
    "rds_instance": ("AWS::RDS::DBInstance", "orders-db", _arn("rds", "db:orders-db"), {"Engine": "postgres"}),
    "rds_cluster": ("AWS::RDS::DBCluster", "ledger", _arn("rds", "cluster:ledger"), {"Engine": "aurora-postgresql"}),
    "dynamodb_table": ("AWS::DynamoDB::Table", "sessions", _arn("dynamodb", "table/sessions"), {}),
    "efs_filesystem": (
        "AWS::EFS::FileSystem",
        "fs-0a1b2c3d",
        _arn("elasticfilesystem", "file-system/fs-0a1b2c3d"),
        {"Encrypted": True},
    ),
    "ebs_volume": (
        "AWS::EC2::Volume",
        "vol-0123456789abcdef0",
        _arn("ec2", "volume/vol-0123456789abcdef0"),
        {"Encrypted": True},
    ),
}


def _selection(name: str = "daily", **parts: Any) -> dict[str, Any]:
    return {
        "SelectionId": f"sel-{name}",
        "SelectionName": name,
        "IamRoleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/service-role/AWSBackupDefaultServiceRole",
        **parts,
    }


def _plan(*selections: dict[str, Any], plan_id: str = "plan-1", error: str = "") -> Resource:
    plan = Resource(
        PLAN,
        plan_id,
        REGION,
        ACCOUNT_ID,
        arn=_arn("backup", f"backup-plan:{plan_id}"),
        attributes={
            "BackupPlanId": plan_id,
            "BackupPlanName": "daily-backups",
            "plan": {
                "BackupPlanName": "daily-backups",
                "Rules": [
                    {"RuleName": "daily", "TargetBackupVaultName": "primary", "ScheduleExpression": "cron(0 5 ? * * *)"}
                ],
            },
        },
    )
    if error:
        plan.errors["selections"] = error
    else:
        plan.attributes["selections"] = list(selections)
    return plan


def _saved(resources: list[Resource], types: set[str]) -> Inventory:
    inventory = Inventory(
        account_id=ACCOUNT_ID,
        regions=[REGION],
        resources=resources,
        collected_types=types | {PLAN, VAULT, BACKUP_REGION},
    )
    return Inventory.from_dict(json.loads(json.dumps(inventory.to_dict())))  # as saved to a file


def recorded_store(store: str, *plans: Resource, tags: dict[str, str] | None = None) -> Recorded:
    """One data store and the given backup plans in one region, as a backup + store scan records them."""

    def build() -> tuple[Inventory, str]:
        resource_type, resource_id, arn, attributes = STORES[store]
        resource = Resource(
            resource_type, resource_id, REGION, ACCOUNT_ID, arn=arn, attributes=dict(attributes), tags=dict(tags or {})
        )
        return _saved([resource, *plans], {resource_type}), resource_id

    return build


def recorded_restore_testing(plans: list[dict[str, Any]], backed_up: bool = True) -> Recorded:
    def build() -> tuple[Inventory, str]:
        settings = Resource(
            BACKUP_REGION,
            REGION,
            REGION,
            ACCOUNT_ID,
            arn=_arn("backup", "settings"),
            attributes={"restore_testing_plans": plans},
        )
        vault = Resource(
            VAULT,
            "primary",
            REGION,
            ACCOUNT_ID,
            arn=_arn("backup", "backup-vault:primary"),
            attributes={"BackupVaultName": "primary", "Locked": False},
        )
        return _saved([settings, vault] if backed_up else [settings], set()), REGION

    return build


RESTORE_PLAN = {
    "RestoreTestingPlanName": "monthly_restore_test",
    "ScheduleExpression": "cron(0 1 ? * 1 *)",
    "RestoreTestingPlanArn": _arn("backup", "restore-testing-plan:monthly_restore_test-abc"),
}


def _coverage_cases(store: str) -> list[Case]:
    rule_id = f"backup_plan_covers_{store}"
    arn = STORES[store][2]
    by_arn = _plan(_selection(Resources=[arn]))
    by_wildcard = _plan(_selection(Resources=[arn.rsplit(":", 1)[0] + ":*"]))
    by_tag = _plan(
        _selection(Conditions={"StringEquals": [{"ConditionKey": "aws:ResourceTag/backup", "ConditionValue": "daily"}]})
    )
    excluded = _plan(_selection(Resources=["*"], NotResources=[arn]))
    other = _plan(_selection(Resources=[arn + "-other"]))
    return [
        Case(
            rule_id,
            "PASS",
            inventory=recorded_store(store, by_arn),
            recorded_because=NO_SELECTIONS,
            label="by-arn",
            evidence={"plan": "daily-backups", "selection": "daily"},
        ),
        Case(
            rule_id,
            "PASS",
            inventory=recorded_store(store, by_wildcard),
            recorded_because=NO_SELECTIONS,
            label="wildcard",
        ),
        Case(
            rule_id,
            "PASS",
            inventory=recorded_store(store, by_tag, tags={"backup": "daily"}),
            recorded_because=NO_SELECTIONS,
            label="by-tag",
        ),
        Case(
            rule_id,
            "FAIL",
            inventory=recorded_store(store, by_tag, tags={"backup": "weekly"}),
            recorded_because=NO_SELECTIONS,
            label="tag-differs",
            evidence={"plans": ["daily-backups"]},
        ),
        Case(
            rule_id,
            "FAIL",
            inventory=recorded_store(store, excluded),
            recorded_because=NO_SELECTIONS,
            label="not-resources",
        ),
        Case(
            rule_id,
            "FAIL",
            inventory=recorded_store(store, other),
            recorded_because=NO_SELECTIONS,
            label="other-resource",
        ),
    ]


def _uncovered(seed: Seed) -> Seed:
    return seed  # no backup plan exists in a fresh emulated account


# -- the table --------------------------------------------------------------------------------------

CASES: list[Case] = [
    # RDS instances
    Case("rds_instance_storage_encrypted", "PASS", _db_instance(StorageEncrypted=True), RDS),
    Case("rds_instance_storage_encrypted", "FAIL", _db_instance(), RDS, evidence={"StorageEncrypted": False}),
    Case("rds_instance_auto_minor_version_upgrade", "PASS", _db_instance(AutoMinorVersionUpgrade=True), RDS),
    Case(
        "rds_instance_auto_minor_version_upgrade",
        "FAIL",
        _db_instance(AutoMinorVersionUpgrade=False),
        RDS,
        evidence={"AutoMinorVersionUpgrade": False},
    ),
    Case("rds_instance_not_public", "PASS", _db_instance(PubliclyAccessible=False), RDS),
    Case(
        "rds_instance_not_public",
        "FAIL",
        _db_instance(PubliclyAccessible=True),
        RDS,
        evidence={"PubliclyAccessible": True},
    ),
    Case(
        "rds_instance_backup_retention",
        "PASS",
        _db_instance(BackupRetentionPeriod=7),
        RDS,
        evidence={"BackupRetentionPeriod": 7},
    ),
    Case(
        "rds_instance_backup_retention",
        "FAIL",
        _db_instance(BackupRetentionPeriod=1),
        RDS,
        evidence={"BackupRetentionPeriod": 1},
    ),
    Case(
        "rds_instance_backup_retention",
        "FAIL",
        _db_instance(BackupRetentionPeriod=0),
        RDS,
        label="off",
        message="automated backups are off",
    ),
    Case("rds_instance_deletion_protection", "PASS", _db_instance(DeletionProtection=True), RDS),
    Case("rds_instance_deletion_protection", "FAIL", _db_instance(), RDS, evidence={"DeletionProtection": False}),
    # RDS clusters
    Case("rds_cluster_storage_encrypted", "PASS", _db_cluster(StorageEncrypted=True), RDS),
    Case(
        "rds_cluster_storage_encrypted",
        "FAIL",
        _db_cluster(StorageEncrypted=False),
        RDS,
        evidence={"StorageEncrypted": False},
    ),
    Case("rds_cluster_backup_retention", "PASS", _db_cluster(BackupRetentionPeriod=14), RDS),
    Case("rds_cluster_backup_retention", "FAIL", _db_cluster(), RDS, evidence={"BackupRetentionPeriod": 1}),
    Case("rds_cluster_deletion_protection", "PASS", _db_cluster(DeletionProtection=True), RDS),
    Case("rds_cluster_deletion_protection", "FAIL", _db_cluster(), RDS, evidence={"DeletionProtection": False}),
    # EFS
    Case("efs_filesystem_encrypted", "PASS", _file_system(encrypted=True), EFS),
    Case("efs_filesystem_encrypted", "FAIL", _file_system(encrypted=False), EFS, evidence={"Encrypted": False}),
    # DynamoDB
    Case("dynamodb_table_cmk_encrypted", "PASS", _table(cmk=True), DYNAMODB),
    Case(
        "dynamodb_table_cmk_encrypted",
        "FAIL",
        _table(),
        DYNAMODB,
        evidence={"SSEType": None},
        message="DynamoDB-owned key",
    ),
    Case("dynamodb_table_pitr_enabled", "PASS", _table(pitr=True), DYNAMODB),
    Case("dynamodb_table_pitr_enabled", "FAIL", _table(), DYNAMODB, evidence={"PointInTimeRecoveryStatus": "DISABLED"}),
    # SQS
    Case(
        "sqs_queue_encrypted",
        "PASS",
        _queue(SqsManagedSseEnabled="true"),
        SQS,
        label="sse-sqs",
        evidence={"SqsManagedSseEnabled": True},
    ),
    Case(
        "sqs_queue_encrypted",
        "PASS",
        _queue(KmsMasterKeyId="alias/aws/sqs"),
        SQS,
        label="sse-kms",
        evidence={"KmsMasterKeyId": "alias/aws/sqs"},
    ),
    Case(
        "sqs_queue_encrypted",
        "FAIL",
        _queue(SqsManagedSseEnabled="false"),
        SQS,
        evidence={"SqsManagedSseEnabled": False},
    ),
    # SNS
    Case("sns_topic_kms_encrypted", "PASS", _topic(KmsMasterKeyId="alias/aws/sns"), SNS),
    Case("sns_topic_kms_encrypted", "FAIL", _topic(), SNS, evidence={"KmsMasterKeyId": None}),
    # Secrets Manager
    Case("secretsmanager_rotation_enabled", "PASS", _secret(rotate=True), SECRETS),
    Case(
        "secretsmanager_rotation_enabled", "FAIL", _secret(rotate=False), SECRETS, evidence={"RotationEnabled": False}
    ),
    # AWS Backup: vaults
    Case("backup_vault_locked", "PASS", _vault(locked=True), BACKUP, evidence={"Locked": True, "MinRetentionDays": 7}),
    Case("backup_vault_locked", "FAIL", _vault(locked=False), BACKUP, evidence={"Locked": False}),
    # AWS Backup: restore testing
    Case(
        "backup_restore_testing_planned",
        "PASS",
        inventory=recorded_restore_testing([RESTORE_PLAN]),
        recorded_because=NO_RESTORE_TESTING,
        evidence={"restore_testing_plans": ["monthly_restore_test"]},
    ),
    Case(
        "backup_restore_testing_planned",
        "FAIL",
        inventory=recorded_restore_testing([]),
        recorded_because=NO_RESTORE_TESTING,
        evidence={"restore_testing_plans": []},
    ),
    # AWS Backup: coverage. Uncovered stores are seeded (a fresh account has no plan); covered ones recorded.
    Case(
        "backup_plan_covers_dynamodb_table",
        "FAIL",
        _uncovered(_table()),
        DYNAMODB + BACKUP,
        label="no-plan",
        evidence={"plans": []},
    ),
    Case("backup_plan_covers_rds_instance", "FAIL", _uncovered(_db_instance()), RDS + BACKUP, label="no-plan"),
    Case("backup_plan_covers_rds_cluster", "FAIL", _uncovered(_db_cluster()), RDS + BACKUP, label="no-plan"),
    Case("backup_plan_covers_efs_filesystem", "FAIL", _uncovered(_file_system(True)), EFS + BACKUP, label="no-plan"),
    *[case for store in STORES for case in _coverage_cases(store)],
]

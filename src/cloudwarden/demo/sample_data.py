"""Acme's data stores: databases, file systems, tables, queues, topics, secrets and backup vaults.

Each block creates a few resources through the ordinary AWS APIs; the comment above each mistake names the
rule that should catch it, and well-configured resources sit beside the mistakes so PASS means something.
Not shown, because the emulator lacks the API: backup selections (so no plan covers anything here) and
restore testing plans (that rule reports ERROR against the emulator).
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from cloudwarden.demo.environment import PRIMARY_REGION, SECONDARY_REGION, ClientFactory, SampleEnvironment

DB_PASSWORD = "demo-only-Passw0rd!"  # noqa: S105 - the emulator's throwaway database password


def seed(client: ClientFactory, account_id: str, env: SampleEnvironment, scale: int) -> None:
    """Create Acme's data stores in the emulator and record the planted mistakes in ``env``."""
    _databases(client, env)
    _files_and_tables(client, env, scale)
    _messaging(client, env, scale)
    _secrets(client, account_id, env)
    _backup_vaults(client, env)


def _databases(client: ClientFactory, env: SampleEnvironment) -> None:
    rds = client("rds", PRIMARY_REGION)
    common: dict[str, Any] = {
        "DBInstanceClass": "db.t3.micro",
        "MasterUsername": "acme",
        "MasterUserPassword": DB_PASSWORD,
        "AllocatedStorage": 20,
    }
    # Well configured: encrypted, private, Multi-AZ, two weeks of backups, deletion protection.
    rds.create_db_instance(
        DBInstanceIdentifier="acme-billing",
        Engine="postgres",
        StorageEncrypted=True,
        PubliclyAccessible=False,
        MultiAZ=True,
        BackupRetentionPeriod=14,
        DeletionProtection=True,
        AutoMinorVersionUpgrade=True,
        **common,
    )
    # The reporting database someone made reachable "just for the BI tool" and never hardened.
    rds.create_db_instance(
        DBInstanceIdentifier="acme-reporting",
        Engine="mysql",
        StorageEncrypted=False,
        PubliclyAccessible=True,
        BackupRetentionPeriod=1,
        DeletionProtection=False,
        AutoMinorVersionUpgrade=False,
        **common,
    )
    env.plant("rds_instance_storage_encrypted", "acme-reporting", "unencrypted RDS instance")
    env.plant("rds_instance_not_public", "acme-reporting", "publicly accessible RDS instance")
    env.plant("rds_instance_auto_minor_version_upgrade", "acme-reporting", "minor version upgrades off")
    env.plant("rds_instance_backup_retention", "acme-reporting", "backups kept 1 day")
    env.plant("rds_instance_deletion_protection", "acme-reporting", "no deletion protection")
    env.plant("backup_plan_covers_rds_instance", "acme-reporting", "no backup plan covers the instance")
    rds.create_db_cluster(
        DBClusterIdentifier="acme-ledger",
        Engine="aurora-postgresql",
        MasterUsername="acme",
        MasterUserPassword=DB_PASSWORD,
        StorageEncrypted=True,
        BackupRetentionPeriod=14,
        DeletionProtection=True,
    )
    rds.create_db_cluster(
        DBClusterIdentifier="acme-analytics",
        Engine="aurora-mysql",
        MasterUsername="acme",
        MasterUserPassword=DB_PASSWORD,
        StorageEncrypted=False,
        BackupRetentionPeriod=1,
    )
    env.plant("rds_cluster_storage_encrypted", "acme-analytics", "unencrypted Aurora cluster")
    env.plant("rds_cluster_backup_retention", "acme-analytics", "cluster backups kept 1 day")
    env.plant("rds_cluster_deletion_protection", "acme-analytics", "cluster without deletion protection")


def _files_and_tables(client: ClientFactory, env: SampleEnvironment, scale: int) -> None:
    efs = client("efs", PRIMARY_REGION)
    efs.create_file_system(CreationToken="acme-home", Encrypted=True, Tags=[{"Key": "Name", "Value": "home"}])
    shared = efs.create_file_system(
        CreationToken="acme-shared", Encrypted=False, Tags=[{"Key": "Name", "Value": "shared-scratch"}]
    )["FileSystemId"]
    env.plant("efs_filesystem_encrypted", shared, "unencrypted EFS file system")
    env.plant("backup_plan_covers_efs_filesystem", shared, "no backup plan covers the file system")

    dynamodb = client("dynamodb", PRIMARY_REGION)
    key = client("kms", PRIMARY_REGION).create_key(Description="acme table data")["KeyMetadata"]["Arn"]
    schema: dict[str, Any] = {
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
    }
    for index in range(max(1, scale)):
        name = "acme-orders" if index == 0 else f"acme-orders-{index}"
        dynamodb.create_table(
            TableName=name, SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key}, **schema
        )
        dynamodb.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
    dynamodb.create_table(TableName="acme-sessions", **schema)
    env.plant("dynamodb_table_pitr_enabled", "acme-sessions", "table without point-in-time recovery")
    env.plant("dynamodb_table_cmk_encrypted", "acme-sessions", "table on the DynamoDB-owned key")
    env.plant("backup_plan_covers_dynamodb_table", "acme-sessions", "no backup plan covers the table")


def _messaging(client: ClientFactory, env: SampleEnvironment, scale: int) -> None:
    sqs = client("sqs", PRIMARY_REGION)
    for index in range(max(1, scale)):
        sqs.create_queue(QueueName=f"acme-events-{index}", Attributes={"SqsManagedSseEnabled": "true"})
    sqs.create_queue(QueueName="acme-invoices", Attributes={"KmsMasterKeyId": "alias/aws/sqs"})
    sqs.create_queue(QueueName="acme-legacy-jobs", Attributes={"SqsManagedSseEnabled": "false"})
    env.plant("sqs_queue_encrypted", "acme-legacy-jobs", "unencrypted queue")
    client("sqs", SECONDARY_REGION).create_queue(
        QueueName="acme-eu-events", Attributes={"SqsManagedSseEnabled": "true"}
    )

    sns = client("sns", PRIMARY_REGION)
    sns.create_topic(Name="acme-order-events", Attributes={"KmsMasterKeyId": "alias/aws/sns"})
    sns.create_topic(Name="acme-marketing")
    env.plant("sns_topic_kms_encrypted", "acme-marketing", "topic without KMS encryption")


def _secrets(client: ClientFactory, account_id: str, env: SampleEnvironment) -> None:
    secrets = client("secretsmanager", PRIMARY_REGION)
    secrets.create_secret(Name="acme/billing-db", SecretString=json.dumps({"password": DB_PASSWORD}))
    secrets.rotate_secret(
        SecretId="acme/billing-db",
        RotationLambdaARN=_rotation_function(client, account_id),
        RotationRules={"AutomaticallyAfterDays": 30},
    )
    secrets.create_secret(Name="acme/stripe-api-key", SecretString="sk_test_demo_only")
    env.plant("secretsmanager_rotation_enabled", "acme/stripe-api-key", "secret never rotated")


def _rotation_function(client: ClientFactory, account_id: str) -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = client("iam", PRIMARY_REGION).create_role(
        RoleName="acme-secret-rotation", AssumeRolePolicyDocument=json.dumps(trust)
    )["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return None\n")
    return str(
        client("lambda", PRIMARY_REGION).create_function(
            FunctionName="acme-rotate-billing-db",
            Runtime="python3.12",
            Role=role,
            Handler="index.handler",
            Code={"ZipFile": code.getvalue()},
            TracingConfig={"Mode": "Active"},
        )["FunctionArn"]
    )


def _backup_vaults(client: ClientFactory, env: SampleEnvironment) -> None:
    backup = client("backup", PRIMARY_REGION)
    backup.create_backup_vault(BackupVaultName="acme-immutable")
    backup.put_backup_vault_lock_configuration(BackupVaultName="acme-immutable", MinRetentionDays=30)
    backup.create_backup_vault(BackupVaultName="acme-default")
    env.plant("backup_vault_locked", "acme-default", "backup vault without a Vault Lock")

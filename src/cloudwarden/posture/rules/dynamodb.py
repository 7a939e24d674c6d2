"""DynamoDB rules: customer-managed encryption keys and point-in-time recovery."""

from __future__ import annotations

from cloudwarden.findings.model import Severity
from cloudwarden.inventory.model import Inventory, Resource
from cloudwarden.posture.registry import Verdict, failed, passed, rule

TABLE = "AWS::DynamoDB::Table"


@rule(
    id="dynamodb_table_cmk_encrypted",
    title="DynamoDB tables are encrypted with a customer-managed KMS key",
    severity=Severity.MEDIUM,
    resource_type=TABLE,
    well_architected=("SEC08",),
    rationale="Every table is encrypted, but only with a customer-managed key can the team control, audit and "
    "revoke who may decrypt it (the key policy and CloudTrail's kms:Decrypt events).",
    remediation="aws dynamodb update-table --table-name TABLE --sse-specification "
    "Enabled=true,SSEType=KMS,KMSMasterKeyId=KEY_ARN",
)
def dynamodb_table_cmk_encrypted(table: Resource, _: Inventory) -> Verdict:
    sse = (table.attr("table") or {}).get("SSEDescription") or {}
    if sse.get("SSEType") != "KMS" or sse.get("Status") not in ("ENABLED", "UPDATING"):
        return failed(
            f"Table {table.id} uses the DynamoDB-owned key.", SSEType=sse.get("SSEType"), Status=sse.get("Status")
        )
    manager = table.attr("kms_key_manager")
    key = sse.get("KMSMasterKeyArn")
    if manager == "CUSTOMER":
        return passed("The table is encrypted with a customer-managed KMS key.", KMSMasterKeyArn=key)
    return failed(f"Table {table.id} uses the AWS-managed KMS key.", KMSMasterKeyArn=key, KeyManager=manager)


@rule(
    id="dynamodb_table_pitr_enabled",
    title="DynamoDB tables have point-in-time recovery",
    severity=Severity.MEDIUM,
    resource_type=TABLE,
    fsbp=("DynamoDB.2",),
    well_architected=("SEC10",),
    rationale="Point-in-time recovery restores a table to any second of the last 35 days after a bad "
    "deployment, a mistaken delete or a malicious write.",
    remediation="aws dynamodb update-continuous-backups --table-name TABLE "
    "--point-in-time-recovery-specification PointInTimeRecoveryEnabled=true",
)
def dynamodb_table_pitr_enabled(table: Resource, _: Inventory) -> Verdict:
    status = (table.attr("point_in_time_recovery") or {}).get("PointInTimeRecoveryStatus")
    if status == "ENABLED":
        return passed("Point-in-time recovery is on.", PointInTimeRecoveryStatus=status)
    return failed(f"Table {table.id} has no point-in-time recovery.", PointInTimeRecoveryStatus=status)

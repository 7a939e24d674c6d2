"""DynamoDB (regional): tables with their encryption, the KMS key's manager, and point-in-time recovery.

Per table: DescribeTable, DescribeContinuousBackups and ListTagsOfResource (backup selections match on
tags), plus KMS DescribeKey when the table is encrypted with a KMS key (the table
answer cannot tell an AWS-managed key from a customer-managed one).
"""

from __future__ import annotations

from typing import Any

from cloudwarden.inventory.collectors.base import (
    Collector,
    CollectorScope,
    for_each,
    list_all,
    read_attribute,
    tags_to_dict,
)
from cloudwarden.inventory.model import Resource

TABLE = "AWS::DynamoDB::Table"


def collect_tables(scope: CollectorScope) -> list[Resource]:
    dynamodb = scope.client("dynamodb")
    names = [n for n in list_all(dynamodb, "list_tables", "TableNames[]") if isinstance(n, str)]
    return for_each(names, lambda name: _table(scope, dynamodb, name))


def _table(scope: CollectorScope, dynamodb: Any, name: str) -> Resource:
    table = Resource(
        TABLE, name, scope.region, scope.account_id, arn=scope.arn("dynamodb", f"table/{name}", scope.region)
    )
    read_attribute(
        table,
        "table",
        lambda: dynamodb.describe_table(TableName=name),
        service="dynamodb",
        operation="DescribeTable",
        transform=lambda r: r["Table"],
    )
    description = table.attributes.get("table") or {}
    if isinstance(description.get("TableArn"), str):
        table.arn = description["TableArn"]
    read_attribute(
        table,
        "point_in_time_recovery",
        lambda: dynamodb.describe_continuous_backups(TableName=name),
        service="dynamodb",
        operation="DescribeContinuousBackups",
        transform=lambda r: r["ContinuousBackupsDescription"].get("PointInTimeRecoveryDescription", {}),
    )
    read_attribute(
        table,
        "tags",
        lambda: list_all(dynamodb, "list_tags_of_resource", "Tags[]", ResourceArn=table.arn),
        service="dynamodb",
        operation="ListTagsOfResource",
        transform=tags_to_dict,
    )
    table.tags = table.attributes.pop("tags", None) or {}
    sse = description.get("SSEDescription") or {}
    key = sse.get("KMSMasterKeyArn")
    if sse.get("SSEType") == "KMS" and isinstance(key, str) and key:
        kms = scope.client("kms")
        read_attribute(
            table,
            "kms_key_manager",
            lambda: kms.describe_key(KeyId=key),
            service="kms",
            operation="DescribeKey",
            transform=lambda r: r["KeyMetadata"].get("KeyManager"),
        )
    return table


COLLECTORS = [Collector("dynamodb", (TABLE,), collect_tables, operation="ListTables")]

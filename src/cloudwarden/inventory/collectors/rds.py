"""RDS (regional): DB instances and DB clusters, one Describe call each per region.

Both answers already carry every attribute the rules need (encryption, public access, Multi-AZ, backup
retention, deletion protection, minor version upgrades), so there are no per-resource calls.
"""

from __future__ import annotations

from collections.abc import Callable

from cloudwarden.inventory.collectors.base import Collector, CollectorScope, list_all, tags_to_dict
from cloudwarden.inventory.model import Resource, jsonable

INSTANCE = "AWS::RDS::DBInstance"
CLUSTER = "AWS::RDS::DBCluster"


def _describe(
    resource_type: str, operation: str, key: str, id_key: str, arn_key: str
) -> Callable[[CollectorScope], list[Resource]]:
    # Not base.listing(): its name conversion turns DescribeDBInstances into describe_dbinstances.
    def collect(scope: CollectorScope) -> list[Resource]:
        items = list_all(scope.client("rds"), operation, f"{key}[]")
        return [
            Resource(
                resource_type,
                str(item[id_key]),
                scope.region,
                scope.account_id,
                arn=str(item.get(arn_key) or ""),
                attributes=jsonable(item),
                tags=tags_to_dict(item.get("TagList") if isinstance(item.get("TagList"), list) else None),
            )
            for item in items
            if isinstance(item, dict) and item.get(id_key)
        ]

    return collect


COLLECTORS = [
    Collector(
        "rds",
        (INSTANCE,),
        _describe(INSTANCE, "describe_db_instances", "DBInstances", "DBInstanceIdentifier", "DBInstanceArn"),
        operation="DescribeDBInstances",
    ),
    Collector(
        "rds",
        (CLUSTER,),
        _describe(CLUSTER, "describe_db_clusters", "DBClusters", "DBClusterIdentifier", "DBClusterArn"),
        operation="DescribeDBClusters",
    ),
]

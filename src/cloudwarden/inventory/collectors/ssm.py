"""Systems Manager (regional): which instances SSM manages, one DescribeInstanceInformation per region.

Stored on an ``AWS::SSM::RegionSettings`` (id = the region name) as ``managed_instances``
(instance id -> ping status); the EC2 rule "instances are managed by SSM" reads it from there.
"""

from __future__ import annotations

from typing import Any

from cloudwarden.inventory.collectors.base import Collector, CollectorScope, list_all, read_attribute
from cloudwarden.inventory.model import Resource

REGION_SETTINGS = "AWS::SSM::RegionSettings"


def collect_managed_instances(scope: CollectorScope) -> list[Resource]:
    settings = Resource(
        REGION_SETTINGS,
        scope.region,
        scope.region,
        scope.account_id,
        arn=scope.arn("ssm", "managed-instances", scope.region),
    )
    read_attribute(
        settings,
        "managed_instances",
        lambda: list_all(scope.client("ssm"), "describe_instance_information", "InstanceInformationList[]"),
        service="ssm",
        operation="DescribeInstanceInformation",
        transform=_by_instance,
    )
    return [settings]


def _by_instance(items: list[dict[str, Any]]) -> dict[str, str]:
    return {str(i.get("InstanceId")): str(i.get("PingStatus", "")) for i in items if isinstance(i, dict)}


COLLECTORS = [
    Collector("ssm", (REGION_SETTINGS,), collect_managed_instances, operation="DescribeInstanceInformation"),
]

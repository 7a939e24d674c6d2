"""AWS Config (regional): configuration recorders and whether they record."""

from __future__ import annotations

from cloudwarden.inventory.collectors.base import Collector, CollectorScope, read_attribute
from cloudwarden.inventory.model import Resource

REGION_SETTINGS = "AWS::Config::RegionSettings"


def collect_recorders(scope: CollectorScope) -> list[Resource]:
    config = scope.client("config")
    settings = Resource(
        REGION_SETTINGS,
        scope.region,
        scope.region,
        scope.account_id,
        arn=scope.arn("config", "recorders", scope.region),
    )
    read_attribute(
        settings,
        "recorders",
        config.describe_configuration_recorders,
        service="config",
        operation="DescribeConfigurationRecorders",
        transform=lambda r: r["ConfigurationRecorders"],
    )
    read_attribute(
        settings,
        "recorder_statuses",
        config.describe_configuration_recorder_status,
        service="config",
        operation="DescribeConfigurationRecorderStatus",
        transform=lambda r: r["ConfigurationRecordersStatus"],
    )
    return [settings]


COLLECTORS = [Collector("config", (REGION_SETTINGS,), collect_recorders, operation="DescribeConfigurationRecorders")]

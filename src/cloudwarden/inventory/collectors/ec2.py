"""EC2 and VPC (regional): security groups, NACLs, VPCs with their flow logs, volumes, instances, and
the region's EBS default encryption."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from cloudwarden.aws.errors import describe_failure
from cloudwarden.inventory.collectors.base import Collector, CollectorScope, list_all, listing, read_attribute
from cloudwarden.inventory.model import Resource

REGION_SETTINGS = "AWS::EC2::RegionSettings"


def attach_flow_logs(scope: CollectorScope, vpcs: list[Resource]) -> None:
    """One DescribeFlowLogs per region, matched to VPCs (a VPC's own or none)."""
    try:
        flow_logs = list_all(scope.client("ec2"), "describe_flow_logs", "FlowLogs[]")
    except (ClientError, BotoCoreError) as exc:
        for vpc in vpcs:
            vpc.errors["flow_logs"] = describe_failure(exc, "ec2", "DescribeFlowLogs")
        return
    for vpc in vpcs:
        vpc.attributes["flow_logs"] = [f for f in flow_logs if f.get("ResourceId") == vpc.id]


def collect_region_settings(scope: CollectorScope) -> list[Resource]:
    ec2 = scope.client("ec2")
    settings = Resource(
        REGION_SETTINGS,
        scope.region,
        scope.region,
        scope.account_id,
        arn=scope.arn("ec2", "account-settings", scope.region),
    )
    read_attribute(
        settings,
        "ebs_encryption_by_default",
        ec2.get_ebs_encryption_by_default,
        service="ec2",
        operation="GetEbsEncryptionByDefault",
        transform=lambda r: bool(r["EbsEncryptionByDefault"]),
    )
    return [settings]


COLLECTORS = [
    listing(
        "ec2",
        "AWS::EC2::SecurityGroup",
        "DescribeSecurityGroups",
        "SecurityGroups[]",
        "GroupId",
        "security-group/{GroupId}",
    ),
    listing(
        "ec2",
        "AWS::EC2::NetworkAcl",
        "DescribeNetworkAcls",
        "NetworkAcls[]",
        "NetworkAclId",
        "network-acl/{NetworkAclId}",
    ),
    listing("ec2", "AWS::EC2::VPC", "DescribeVpcs", "Vpcs[]", "VpcId", "vpc/{VpcId}", augment=attach_flow_logs),
    listing("ec2", "AWS::EC2::Volume", "DescribeVolumes", "Volumes[]", "VolumeId", "volume/{VolumeId}"),
    listing(
        "ec2",
        "AWS::EC2::Instance",
        "DescribeInstances",
        "Reservations[].Instances[]",
        "InstanceId",
        "instance/{InstanceId}",
        Filters=[{"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}],
    ),
    Collector("ec2", (REGION_SETTINGS,), collect_region_settings, operation="GetEbsEncryptionByDefault"),
]

"""EC2 and VPC (regional): security groups (with the network interfaces that use them), NACLs, VPCs with
their flow logs and endpoints, route tables, volumes, the account's own snapshots and AMIs, instances, and
the region's EBS default encryption.

One list call per resource type per region; the only per-resource call is DescribeSnapshotAttribute for
the account's own snapshots (whether they are shared publicly).
"""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from cloudwarden.aws.errors import describe_failure
from cloudwarden.inventory.collectors.base import (
    Collector,
    CollectorScope,
    for_each,
    list_all,
    listing,
    read_attribute,
)
from cloudwarden.inventory.model import Resource

REGION_SETTINGS = "AWS::EC2::RegionSettings"
# Security groups a network interface may carry (AWS allows 5 by default, 16 at most).
MAX_GROUPS_PER_INTERFACE = 16


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


def attach_vpc_details(scope: CollectorScope, vpcs: list[Resource]) -> None:
    """Flow logs, then one DescribeVpcEndpoints per region matched to VPCs."""
    attach_flow_logs(scope, vpcs)
    if not vpcs:
        return
    try:
        endpoints = list_all(scope.client("ec2"), "describe_vpc_endpoints", "VpcEndpoints[]")
    except (ClientError, BotoCoreError) as exc:
        for vpc in vpcs:
            vpc.errors["endpoints"] = describe_failure(exc, "ec2", "DescribeVpcEndpoints")
        return
    for vpc in vpcs:
        vpc.attributes["endpoints"] = [
            {k: e.get(k) for k in ("VpcEndpointId", "ServiceName", "VpcEndpointType", "State")}
            for e in endpoints
            if e.get("VpcId") == vpc.id
        ]


def attach_network_interfaces(scope: CollectorScope, groups: list[Resource]) -> None:
    """One DescribeNetworkInterfaces per region: which interfaces use each security group."""
    if not groups:
        return
    try:
        interfaces = list_all(scope.client("ec2"), "describe_network_interfaces", "NetworkInterfaces[]")
    except (ClientError, BotoCoreError) as exc:
        for group in groups:
            group.errors["network_interfaces"] = describe_failure(exc, "ec2", "DescribeNetworkInterfaces")
        return
    users: dict[str, list[str]] = {}
    for interface in interfaces:
        for attached in (interface.get("Groups") or [])[:MAX_GROUPS_PER_INTERFACE]:
            if isinstance(attached, dict):
                users.setdefault(str(attached.get("GroupId")), []).append(str(interface.get("NetworkInterfaceId")))
    for group in groups:
        group.attributes["network_interfaces"] = users.get(group.id, [])


def attach_snapshot_permissions(scope: CollectorScope, snapshots: list[Resource]) -> None:
    """Who may create volumes from each of the account's own snapshots (``group: all`` means public)."""
    ec2 = scope.client("ec2")
    own = [s for s in snapshots if s.attributes.get("OwnerId") == scope.account_id]
    # OwnerIds=self is the filter; keep only what it promised (the emulator also returns AMI snapshots).
    snapshots[:] = own

    def one(snapshot: Resource) -> None:
        read_attribute(
            snapshot,
            "create_volume_permissions",
            lambda: ec2.describe_snapshot_attribute(SnapshotId=snapshot.id, Attribute="createVolumePermission"),
            service="ec2",
            operation="DescribeSnapshotAttribute",
            transform=lambda r: r.get("CreateVolumePermissions") or [],
        )

    for_each(own, one)


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
        augment=attach_network_interfaces,
    ),
    listing(
        "ec2",
        "AWS::EC2::NetworkAcl",
        "DescribeNetworkAcls",
        "NetworkAcls[]",
        "NetworkAclId",
        "network-acl/{NetworkAclId}",
    ),
    listing("ec2", "AWS::EC2::VPC", "DescribeVpcs", "Vpcs[]", "VpcId", "vpc/{VpcId}", augment=attach_vpc_details),
    listing(
        "ec2",
        "AWS::EC2::RouteTable",
        "DescribeRouteTables",
        "RouteTables[]",
        "RouteTableId",
        "route-table/{RouteTableId}",
    ),
    listing(
        "ec2",
        "AWS::EC2::Snapshot",
        "DescribeSnapshots",
        "Snapshots[]",
        "SnapshotId",
        "snapshot/{SnapshotId}",
        augment=attach_snapshot_permissions,
        OwnerIds=["self"],
    ),
    listing("ec2", "AWS::EC2::Image", "DescribeImages", "Images[]", "ImageId", "image/{ImageId}", Owners=["self"]),
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

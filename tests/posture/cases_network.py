"""Rule cases for network and compute: instances, snapshots, AMIs, VPC endpoints, unused security groups and
peering routes.

Seeded through the emulator where it can show the state. The emulator does not implement
ssm:DescribeInstanceInformation (HTTP 500), so "managed by Systems Manager" PASS and FAIL judge recorded
inventories shaped as ``collectors/ec2.py`` and ``collectors/ssm.py`` write them; ``test_network_errors.py``
checks that the emulator's answer becomes ERROR.
"""

from __future__ import annotations

import json

from cloudwarden.inventory.model import Inventory, Resource
from tests.conftest import ACCOUNT_ID, REGION, Emulated
from tests.posture.rule_cases import Case, Recorded, Seed, _default_vpc

EC2 = ("ec2",)
NO_SSM_API = "the emulator does not implement ssm:DescribeInstanceInformation (HTTP 500)"


def _image(aws: Emulated) -> str:
    return str(aws.client("ec2").describe_images(Owners=["amazon"])["Images"][0]["ImageId"])


def _instance_in_default_subnet(public: bool) -> Seed:
    def seed(aws: Emulated) -> str:
        ec2 = aws.client("ec2")
        subnet = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [_default_vpc(aws)]}])["Subnets"][0]
        interface = {"DeviceIndex": 0, "SubnetId": subnet["SubnetId"], "AssociatePublicIpAddress": public}
        return str(
            ec2.run_instances(ImageId=_image(aws), MinCount=1, MaxCount=1, NetworkInterfaces=[interface])["Instances"][
                0
            ]["InstanceId"]
        )

    return seed


def _ssm_managed(managed: bool) -> Recorded:
    def build() -> tuple[Inventory, str]:
        instance = Resource(
            "AWS::EC2::Instance",
            "i-0abc",
            REGION,
            ACCOUNT_ID,
            arn=f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:instance/i-0abc",
            attributes={"InstanceId": "i-0abc", "State": {"Name": "running"}},
        )
        settings = Resource(
            "AWS::SSM::RegionSettings",
            REGION,
            REGION,
            ACCOUNT_ID,
            attributes={"managed_instances": {"i-0abc": "Online"} if managed else {}},
        )
        inventory = Inventory(
            account_id=ACCOUNT_ID,
            regions=[REGION],
            resources=[instance, settings],
            collected_types={"AWS::EC2::Instance", "AWS::SSM::RegionSettings"},
        )
        return Inventory.from_dict(json.loads(json.dumps(inventory.to_dict()))), "i-0abc"

    return build


def _snapshot(public: bool) -> Seed:
    def seed(aws: Emulated) -> str:
        ec2 = aws.client("ec2")
        volume = ec2.create_volume(AvailabilityZone=f"{REGION}a", Size=8)["VolumeId"]
        snapshot = ec2.create_snapshot(VolumeId=volume, Description="nightly")["SnapshotId"]
        if public:
            ec2.modify_snapshot_attribute(
                SnapshotId=snapshot, Attribute="createVolumePermission", OperationType="add", GroupNames=["all"]
            )
        return str(snapshot)

    return seed


def _own_image(public: bool) -> Seed:
    def seed(aws: Emulated) -> str:
        ec2 = aws.client("ec2")
        instance = ec2.run_instances(ImageId=_image(aws), MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
        image = ec2.create_image(InstanceId=instance, Name="golden-web")["ImageId"]
        if public:
            ec2.modify_image_attribute(ImageId=image, LaunchPermission={"Add": [{"Group": "all"}]})
        return str(image)

    return seed


def _vpc_with_endpoints(*services: str) -> Seed:
    def seed(aws: Emulated) -> str:
        ec2, vpc = aws.client("ec2"), _default_vpc(aws)
        tables = [
            t["RouteTableId"]
            for t in ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"]
        ]
        for service in services:
            ec2.create_vpc_endpoint(
                VpcId=vpc,
                ServiceName=f"com.amazonaws.{REGION}.{service}",
                VpcEndpointType="Gateway",
                RouteTableIds=tables,
            )
        return vpc

    return seed


def _group(attached: bool) -> Seed:
    def seed(aws: Emulated) -> str:
        ec2, vpc = aws.client("ec2"), _default_vpc(aws)
        group = ec2.create_security_group(GroupName="app", Description="app", VpcId=vpc)["GroupId"]
        if attached:
            subnet = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"][0]["SubnetId"]
            ec2.create_network_interface(SubnetId=subnet, Groups=[group])
        return str(group)

    return seed


def _peering_route(destination: str) -> Seed:
    def seed(aws: Emulated) -> str:
        ec2 = aws.client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
        peer = ec2.create_vpc(CidrBlock="10.50.0.0/16")["Vpc"]["VpcId"]
        peering = ec2.create_vpc_peering_connection(VpcId=vpc, PeerVpcId=peer)["VpcPeeringConnection"]
        table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        ec2.create_route(
            RouteTableId=table,
            DestinationCidrBlock=destination,
            VpcPeeringConnectionId=peering["VpcPeeringConnectionId"],
        )
        return str(table)

    return seed


def _main_route_table(aws: Emulated) -> str:
    tables = aws.client("ec2").describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [_default_vpc(aws)]}])[
        "RouteTables"
    ]
    return str(tables[0]["RouteTableId"])


CASES: list[Case] = [
    Case(
        "ec2_instance_no_public_ip",
        "PASS",
        _instance_in_default_subnet(public=False),
        EC2,
        evidence={"PublicIpAddress": None},
    ),
    Case("ec2_instance_no_public_ip", "FAIL", _instance_in_default_subnet(public=True), EC2, message="public IP"),
    Case(
        "ec2_instance_managed_by_ssm",
        "PASS",
        inventory=_ssm_managed(True),
        recorded_because=NO_SSM_API,
        evidence={"PingStatus": "Online"},
    ),
    Case(
        "ec2_instance_managed_by_ssm",
        "FAIL",
        inventory=_ssm_managed(False),
        recorded_because=NO_SSM_API,
        evidence={"PingStatus": None},
    ),
    Case("ec2_snapshot_not_public", "PASS", _snapshot(public=False), EC2, evidence={"public": False}),
    Case("ec2_snapshot_not_public", "FAIL", _snapshot(public=True), EC2, evidence={"public": True}),
    Case("ec2_ami_not_public", "PASS", _own_image(public=False), EC2),
    Case("ec2_ami_not_public", "FAIL", _own_image(public=True), EC2, evidence={"Public": True}),
    Case("ec2_vpc_gateway_endpoints", "PASS", _vpc_with_endpoints("s3", "dynamodb"), EC2, evidence={"missing": []}),
    Case("ec2_vpc_gateway_endpoints", "FAIL", _vpc_with_endpoints("s3"), EC2, evidence={"missing": ["dynamodb"]}),
    Case(
        "ec2_vpc_gateway_endpoints", "FAIL", _default_vpc, EC2, label="none", evidence={"missing": ["s3", "dynamodb"]}
    ),
    Case("ec2_sg_unused", "PASS", _group(attached=True), EC2),
    Case("ec2_sg_unused", "FAIL", _group(attached=False), EC2, evidence={"network_interfaces": []}),
    Case("ec2_route_table_peering_least_access", "PASS", _main_route_table, EC2, evidence={"peering_routes": []}),
    Case(
        "ec2_route_table_peering_least_access",
        "MANUAL",
        _peering_route("10.50.1.0/24"),
        EC2,
        message="cover only the subnets that must talk",
    ),
    Case(
        "ec2_route_table_peering_least_access",
        "FAIL",
        _peering_route("0.0.0.0/0"),
        EC2,
        message="all traffic to a peering connection",
    ),
]

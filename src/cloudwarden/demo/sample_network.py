"""Acme's network, compute and data-logging extras: a public instance, a public snapshot and AMI, VPC
endpoints, an unused security group, a peering route, and the S3/CloudTrail settings of CIS 2.1 and 3.

``seed`` runs after :func:`cloudwarden.demo.environment.seed_sample_company` (it finds the VPCs, buckets and
trail that module creates). Each mistake is planted with the rule that must report it as FAIL.
"""

from __future__ import annotations

from typing import Any

from cloudwarden.demo.environment import PRIMARY_REGION, SECONDARY_REGION, ClientFactory, SampleEnvironment


def seed(client: ClientFactory, account_id: str, env: SampleEnvironment, scale: int) -> None:
    _compute(client, env, scale)
    _network(client, env)
    _data_and_logging(client, account_id, env)


def _vpc_id(ec2: Any, **filters: str) -> str:
    wanted = [{"Name": name.replace("_", "-"), "Values": [value]} for name, value in filters.items()]
    return str(ec2.describe_vpcs(Filters=wanted)["Vpcs"][0]["VpcId"])


def _compute(client: ClientFactory, env: SampleEnvironment, scale: int) -> None:
    ec2 = client("ec2", PRIMARY_REGION)
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    default_vpc = _vpc_id(ec2, is_default="true")
    subnet = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [default_vpc]}])["Subnets"][0]["SubnetId"]

    # A "quick test" box launched with a public address in the default VPC.
    demo = ec2.run_instances(
        ImageId=image,
        MinCount=1,
        MaxCount=1,
        NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": subnet, "AssociatePublicIpAddress": True}],
        MetadataOptions={"HttpTokens": "required"},
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "quick-test"}]}],
    )["Instances"][0]["InstanceId"]
    env.plant("ec2_instance_no_public_ip", demo, "instance with a public IPv4 address")

    # A golden image made public by mistake, and a database snapshot shared with everyone.
    golden = ec2.create_image(InstanceId=demo, Name="acme-golden-web")["ImageId"]
    ec2.modify_image_attribute(ImageId=golden, LaunchPermission={"Add": [{"Group": "all"}]})
    env.plant("ec2_ami_not_public", golden, "public AMI")
    volume = ec2.create_volume(AvailabilityZone=f"{PRIMARY_REGION}a", Size=20)["VolumeId"]
    shared = ec2.create_snapshot(VolumeId=volume, Description="orders-db export")["SnapshotId"]
    ec2.modify_snapshot_attribute(
        SnapshotId=shared, Attribute="createVolumePermission", OperationType="add", GroupNames=["all"]
    )
    env.plant("ec2_snapshot_not_public", shared, "EBS snapshot restorable by anyone")
    for _ in range(scale):  # nightly snapshots kept private
        ec2.create_snapshot(VolumeId=volume, Description="nightly")


def _network(client: ClientFactory, env: SampleEnvironment) -> None:
    ec2 = client("ec2", PRIMARY_REGION)
    prod = _vpc_id(ec2, cidr="10.20.0.0/16")
    # The production VPC reaches S3 and DynamoDB through the internet gateway: no endpoints.
    env.plant("ec2_vpc_gateway_endpoints", prod, "no S3 or DynamoDB endpoint")

    # A group left over from a migration, attached to nothing.
    unused = ec2.create_security_group(GroupName="migration-2023", Description="old migration", VpcId=prod)["GroupId"]
    env.plant("ec2_sg_unused", unused, "security group not used by any network interface")

    # Analytics VPC peered with prod; someone routed everything through the peering.
    analytics = ec2.create_vpc(CidrBlock="10.60.0.0/16")["Vpc"]["VpcId"]
    peering = ec2.create_vpc_peering_connection(VpcId=prod, PeerVpcId=analytics)["VpcPeeringConnection"]
    table = ec2.create_route_table(VpcId=analytics)["RouteTable"]["RouteTableId"]
    ec2.create_route(
        RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", VpcPeeringConnectionId=peering["VpcPeeringConnectionId"]
    )
    env.plant("ec2_route_table_peering_least_access", table, "all traffic routed to a peering connection")

    # The EU VPC has gateway endpoints for both.
    ec2_eu = client("ec2", SECONDARY_REGION)
    eu_vpc = _vpc_id(ec2_eu, cidr="10.30.0.0/16")
    tables = [
        t["RouteTableId"]
        for t in ec2_eu.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [eu_vpc]}])["RouteTables"]
    ]
    for service in ("s3", "dynamodb"):
        ec2_eu.create_vpc_endpoint(
            VpcId=eu_vpc,
            ServiceName=f"com.amazonaws.{SECONDARY_REGION}.{service}",
            VpcEndpointType="Gateway",
            RouteTableIds=tables,
        )


def _data_and_logging(client: ClientFactory, account_id: str, env: SampleEnvironment) -> None:
    s3 = client("s3", PRIMARY_REGION)
    # Reports: SSE-KMS without a bucket key (every request calls KMS), but with a lifecycle rule.
    s3.put_bucket_encryption(
        Bucket="acme-reports",
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/aws/s3"},
                    "BucketKeyEnabled": False,
                }
            ]
        },
    )
    env.plant("s3_bucket_key_enabled", "acme-reports", "SSE-KMS without a bucket key")
    s3.put_bucket_lifecycle_configuration(
        Bucket="acme-reports",
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "expire-old-versions",
                    "Status": "Enabled",
                    "Filter": {"Prefix": ""},
                    "NoncurrentVersionExpiration": {"NoncurrentDays": 90},
                }
            ]
        },
    )
    # Customer uploads keep everything forever, versions can be deleted without MFA.
    env.plant("s3_bucket_lifecycle_configured", "acme-customer-uploads", "no lifecycle rule")
    env.plant("s3_bucket_mfa_delete", "acme-customer-uploads", "no MFA Delete")

    # The trail's bucket has no access logging, and the trail logs no S3 data events.
    env.plant("cloudtrail_bucket_access_logging", "main", "trail bucket without server access logging")
    env.plant("cloudtrail_s3_data_events_write", account_id, "no S3 object-level write events")
    env.plant("cloudtrail_s3_data_events_read", account_id, "no S3 object-level read events")

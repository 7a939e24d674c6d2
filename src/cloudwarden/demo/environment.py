"""The sample environment: a small company's account ("Acme") with the usual mistakes.

Read it top to bottom: each block creates a few resources through the ordinary AWS APIs, and the
comment above each mistake names the rule that should catch it. Well-configured resources sit beside
the mistakes so that PASS results mean something.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cloudwarden.demo.emulator import age_access_key

PRIMARY_REGION = "us-east-1"
SECONDARY_REGION = "eu-west-1"
DEMO_REGIONS = (PRIMARY_REGION, SECONDARY_REGION)

ClientFactory = Callable[[str, str], Any]  # (service, region) -> boto3 client


@dataclass
class PlantedMistake:
    """A mistake the demo plants, and the rule and resource that must report it as FAIL."""

    rule_id: str
    resource_id: str
    what: str


@dataclass
class SampleEnvironment:
    mistakes: list[PlantedMistake] = field(default_factory=list)

    def plant(self, rule_id: str, resource_id: str, what: str) -> None:
        self.mistakes.append(PlantedMistake(rule_id, resource_id, what))


def seed_sample_company(
    client: ClientFactory, account_id: str, scale: int = 1, more_samples: bool = True
) -> SampleEnvironment:
    """Create Acme's account in the emulator. ``scale`` multiplies the per-team resources (benchmarks);
    ``more_samples=False`` seeds only the core (IAM, S3, EC2, CloudTrail, KMS, Config), for comparing
    scans of the same resources across versions."""
    env = SampleEnvironment()
    _identity(client, account_id, env, scale)
    _storage(client, account_id, env, scale)
    app_key = _logging_and_keys(client, account_id, env, scale)
    _network_and_compute(client, env, scale, app_key)
    for module in _more_samples() if more_samples else []:
        module.seed(client, account_id, env, scale)
    return env


def _more_samples() -> list[Any]:
    """Each ``demo/sample_<area>.py`` adds its area's resources and mistakes (``seed(client, account_id, env,
    scale)``), in name order."""
    from cloudwarden import demo

    names = sorted(m.name for m in pkgutil.iter_modules(demo.__path__) if m.name.startswith("sample_"))
    return [importlib.import_module(f"cloudwarden.demo.{name}") for name in names]


def _identity(client: ClientFactory, account_id: str, env: SampleEnvironment, scale: int) -> None:
    iam = client("iam", PRIMARY_REGION)

    # Weak password policy: 8 characters, passwords may be reused.
    iam.update_account_password_policy(MinimumPasswordLength=8, RequireSymbols=False)
    env.plant("iam_password_policy_min_length", account_id, "password policy allows 8-character passwords")
    env.plant("iam_password_policy_reuse_prevention", account_id, "password policy allows reuse")
    # Nobody set up MFA on root.
    env.plant("iam_root_mfa_enabled", account_id, "root user without MFA")

    iam.create_group(GroupName="developers")
    iam.create_group(GroupName="ops")
    iam.create_group(GroupName="support")
    iam.attach_group_policy(GroupName="support", PolicyArn="arn:aws:iam::aws:policy/AWSSupportAccess")

    # alice signs in to the console with a password and no MFA.
    iam.create_user(UserName="alice", Tags=[{"Key": "team", "Value": "web"}])
    iam.create_login_profile(UserName="alice", Password="Summer2024!")  # noqa: S106 - emulator only
    iam.add_user_to_group(UserName="alice", GroupName="developers")
    env.plant("iam_user_console_mfa", "alice", "console password without MFA")

    # dana does it right: console password, virtual MFA, permissions through a group.
    iam.create_user(UserName="dana")
    iam.create_login_profile(UserName="dana", Password="correct-horse-battery-staple")  # noqa: S106
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName="dana")["VirtualMFADevice"]
    iam.enable_mfa_device(
        UserName="dana", SerialNumber=device["SerialNumber"], AuthenticationCode1="123456", AuthenticationCode2="654321"
    )
    iam.add_user_to_group(UserName="dana", GroupName="ops")

    # ci-bot has had the same access key for 200 days and has not used it in that time.
    iam.create_user(UserName="ci-bot")
    iam.create_access_key(UserName="ci-bot")
    age_access_key("ci-bot", days=200, account_id=account_id)
    env.plant("iam_user_access_key_rotated", "ci-bot", "access key 200 days old")
    env.plant("iam_user_unused_credentials", "ci-bot", "access key unused for 200 days")

    # carol got AdministratorAccess attached straight to her user "just for the migration".
    iam.create_user(UserName="carol")
    iam.attach_user_policy(UserName="carol", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    env.plant("iam_user_no_direct_policies", "carol", "policy attached to the user")
    env.plant("iam_policy_no_full_admin", "arn:aws:iam::aws:policy/AdministratorAccess", "AdministratorAccess attached")

    # The developers group got the AWS-managed S3 full-access policy.
    iam.attach_group_policy(GroupName="developers", PolicyArn="arn:aws:iam::aws:policy/AmazonS3FullAccess")
    env.plant(
        "iam_no_aws_full_access_policies", "arn:aws:iam::aws:policy/AmazonS3FullAccess", "AmazonS3FullAccess attached"
    )

    # A home-made "admin" policy that allows *:*, attached to ops.
    legacy = iam.create_policy(
        PolicyName="legacy-admin",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        ),
    )["Policy"]
    iam.attach_group_policy(GroupName="ops", PolicyArn=legacy["Arn"])
    env.plant("iam_policy_no_full_admin", legacy["Arn"], "customer policy allowing *:*")

    # A least-privilege policy done right.
    reader = iam.create_policy(
        PolicyName="reports-reader",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["s3:GetObject", "s3:ListBucket"],
                        "Resource": ["arn:aws:s3:::acme-reports", "arn:aws:s3:::acme-reports/*"],
                    }
                ],
            }
        ),
    )["Policy"]
    iam.attach_group_policy(GroupName="developers", PolicyArn=reader["Arn"])

    for n in range(scale - 1):  # more staff for benchmarks: each with a key and a group
        name = f"engineer-{n:04d}"
        iam.create_user(UserName=name)
        iam.add_user_to_group(UserName=name, GroupName="developers")
        iam.create_access_key(UserName=name)


def _tls_only_policy(bucket: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )


BLOCK_ALL = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}


def _storage(client: ClientFactory, account_id: str, env: SampleEnvironment, scale: int) -> None:
    s3 = client("s3", PRIMARY_REGION)
    # Nobody turned on account-level Block Public Access.
    env.plant("s3_account_public_access_block", account_id, "account-level Block Public Access off")

    # A marketing bucket made public-read with an ACL, without Block Public Access.
    s3.create_bucket(Bucket="acme-public-assets")
    s3.put_bucket_acl(Bucket="acme-public-assets", ACL="public-read")
    env.plant("s3_bucket_no_public_acl", "acme-public-assets", "public-read ACL")
    env.plant("s3_bucket_public_access_block", "acme-public-assets", "no Block Public Access")
    env.plant("s3_bucket_tls_only", "acme-public-assets", "no TLS-only policy")

    # Customer uploads: private for now, but nothing stops it being made public; HTTP allowed.
    s3.create_bucket(Bucket="acme-customer-uploads")
    s3.put_bucket_tagging(Bucket="acme-customer-uploads", Tagging={"TagSet": [{"Key": "data", "Value": "pii"}]})
    env.plant("s3_bucket_public_access_block", "acme-customer-uploads", "no Block Public Access")
    env.plant("s3_bucket_tls_only", "acme-customer-uploads", "no TLS-only policy")
    env.plant("s3_bucket_versioning_enabled", "acme-customer-uploads", "no versioning")

    # Well configured: blocked, TLS only, versioned.
    for n in range(scale):
        name = "acme-reports" if n == 0 else f"acme-reports-{n:04d}"
        s3.create_bucket(Bucket=name)
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=BLOCK_ALL)
        s3.put_bucket_policy(Bucket=name, Policy=_tls_only_policy(name))
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})


def _network_and_compute(client: ClientFactory, env: SampleEnvironment, scale: int, app_key: str) -> None:
    ec2 = client("ec2", PRIMARY_REGION)
    # EBS encryption by default was never turned on here.
    env.plant("ec2_ebs_default_encryption", PRIMARY_REGION, "EBS default encryption off")

    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16", AmazonProvidedIpv6CidrBlock=True)["Vpc"]["VpcId"]
    ec2.create_tags(Resources=[vpc], Tags=[{"Key": "Name", "Value": "prod"}])
    # The production VPC has no flow logs.
    env.plant("ec2_vpc_flow_logs_enabled", vpc, "VPC without flow logs")
    # Its default security group keeps AWS's default rules.
    default_sg = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"][0]["GroupId"]
    env.plant("ec2_default_sg_restricts_all", default_sg, "default security group with rules")
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.1.0/24")["Subnet"]["SubnetId"]

    def group(name: str, permissions: list[dict[str, Any]]) -> str:
        group_id = ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc)["GroupId"]
        if permissions:
            ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=permissions)
        return group_id

    ssh = group(
        "bastion-ssh", [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    )
    env.plant("ec2_sg_no_admin_ports_ipv4", ssh, "SSH open to 0.0.0.0/0")
    rdp = group(
        "windows-rdp", [{"IpProtocol": "tcp", "FromPort": 3389, "ToPort": 3389, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    )
    env.plant("ec2_sg_no_admin_ports_ipv4", rdp, "RDP open to 0.0.0.0/0")
    ipv6 = group(
        "ipv6-admin", [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}]
    )
    env.plant("ec2_sg_no_admin_ports_ipv6", ipv6, "SSH open to ::/0")
    web = group(
        "web-https", [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    )
    for n in range(scale - 1):
        group(
            f"service-{n:04d}",
            [{"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "IpRanges": [{"CidrIp": "10.20.0.0/16"}]}],
        )

    # An unencrypted data volume, next to an encrypted one.
    volume = ec2.create_volume(AvailabilityZone=f"{PRIMARY_REGION}a", Size=20)["VolumeId"]
    env.plant("ec2_ebs_volume_encrypted", volume, "unencrypted EBS volume")
    for _ in range(scale):
        ec2.create_volume(AvailabilityZone=f"{PRIMARY_REGION}a", Size=20, Encrypted=True, KmsKeyId=app_key)

    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    # A legacy instance that still answers IMDSv1.
    legacy = ec2.run_instances(
        ImageId=image,
        MinCount=1,
        MaxCount=1,
        SubnetId=subnet,
        SecurityGroupIds=[ssh],
        MetadataOptions={"HttpTokens": "optional"},
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "legacy-app"}]}],
    )["Instances"][0]["InstanceId"]
    env.plant("ec2_instance_imdsv2_required", legacy, "instance allows IMDSv1")
    env.plant("ec2_instance_uses_role", legacy, "instance without a role")

    iam = client("iam", PRIMARY_REGION)
    iam.create_role(
        RoleName="web-app",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
        ),
    )
    iam.create_instance_profile(InstanceProfileName="web-app")
    iam.add_role_to_instance_profile(InstanceProfileName="web-app", RoleName="web-app")
    ec2.run_instances(
        ImageId=image,
        MinCount=scale,
        MaxCount=scale,
        SubnetId=subnet,
        SecurityGroupIds=[web],
        MetadataOptions={"HttpTokens": "required"},
        IamInstanceProfile={"Name": "web-app"},
    )

    # The second region is where the team got things right.
    ec2_eu = client("ec2", SECONDARY_REGION)
    ec2_eu.enable_ebs_encryption_by_default()
    logs_bucket = "acme-flow-logs"
    client("s3", PRIMARY_REGION).create_bucket(Bucket=logs_bucket)
    eu_vpc = ec2_eu.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    ec2_eu.create_flow_logs(
        ResourceIds=[eu_vpc],
        ResourceType="VPC",
        TrafficType="ALL",
        LogDestinationType="s3",
        LogDestination=f"arn:aws:s3:::{logs_bucket}",
    )


def _logging_and_keys(client: ClientFactory, account_id: str, env: SampleEnvironment, scale: int) -> str:
    """Trail, KMS keys and Config; returns the id of the well-kept application key."""
    s3 = client("s3", PRIMARY_REGION)
    # One trail, created in a hurry: this region only, no validation, no KMS.
    s3.create_bucket(Bucket="acme-cloudtrail")
    cloudtrail = client("cloudtrail", PRIMARY_REGION)
    cloudtrail.create_trail(Name="main", S3BucketName="acme-cloudtrail")
    cloudtrail.start_logging(Name="main")
    env.plant("cloudtrail_multi_region_enabled", account_id, "only a single-region trail")
    env.plant("cloudtrail_log_file_validation", "main", "trail without log file validation")
    env.plant("cloudtrail_kms_encrypted", "main", "trail without KMS encryption")

    kms = client("kms", PRIMARY_REGION)
    # A customer key that never rotates, and one that does.
    stale = kms.create_key(Description="payments database key")["KeyMetadata"]["KeyId"]
    env.plant("kms_key_rotation_enabled", stale, "customer key without rotation")
    rotating = ""
    for _ in range(scale):
        rotating = kms.create_key(Description="application secrets key")["KeyMetadata"]["KeyId"]
        kms.enable_key_rotation(KeyId=rotating)

    # No AWS Config recorder in the primary region; the EU region records everything.
    env.plant("config_recorder_enabled", PRIMARY_REGION, "no AWS Config recorder")
    config = client("config", SECONDARY_REGION)
    config.put_configuration_recorder(
        ConfigurationRecorder={
            "name": "default",
            "roleARN": f"arn:aws:iam::{account_id}:role/aws-config",
            "recordingGroup": {"allSupported": True, "includeGlobalResourceTypes": True},
        }
    )
    config.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": "acme-cloudtrail"})
    config.start_configuration_recorder(ConfigurationRecorderName="default")
    return rotating

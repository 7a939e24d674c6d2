"""The table of posture rule cases: for every registered rule, at least one PASS and one FAIL.

A case either *seeds* the emulator through the ordinary AWS APIs (``seed(aws) -> resource id``) and is
judged by a real scan of ``services`` in ``regions``, or, where the emulator lacks the API to produce the
state, supplies a *recorded inventory* (``inventory() -> (Inventory, resource id)``) shaped exactly as the
collector would have written it, judged by :func:`cloudwarden.posture.evaluator.evaluate`.

``test_rules.py`` runs every case and checks that every rule has both a PASS and a FAIL case.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from cloudwarden.demo.emulator import age_access_key
from cloudwarden.inventory.model import GLOBAL, Inventory, Resource
from tests.conftest import ACCOUNT_ID, REGION, Emulated

Seed = Callable[[Emulated], str]
Recorded = Callable[[], tuple[Inventory, str]]


@dataclass(frozen=True)
class Case:
    rule_id: str
    expected: str  # "PASS", "FAIL", or "MANUAL" for a rule that only reports what a person must decide
    seed: Seed | None = None
    services: tuple[str, ...] = ()
    regions: tuple[str, ...] = (REGION,)
    # The alternative to ``seed`` when the emulator cannot produce the state; ``recorded_because`` says why.
    inventory: Recorded | None = None
    recorded_because: str = ""
    label: str = ""  # tells apart several cases of one rule and status
    evidence: Mapping[str, Any] = field(default_factory=dict)  # must be a subset of the finding's evidence
    message: str = ""  # must occur in the finding's message
    xfail: str = ""  # a known product bug: the case states the correct verdict and is expected to fail

    @property
    def id(self) -> str:
        return "-".join(p for p in (self.rule_id, self.expected, self.label) if p)

    def param(self) -> Any:
        marks = [pytest.mark.xfail(strict=True, raises=AssertionError, reason=self.xfail)] if self.xfail else []
        return pytest.param(self, id=self.id, marks=marks)


# -- seeding helpers ------------------------------------------------------------------------------


def _policy_json(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


EC2_ASSUME_ROLE = _policy_json(
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
)
AWS_POLICY = "arn:aws:iam::aws:policy/"
BLOCK_ALL = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
             "RestrictPublicBuckets": True}
ALL_OFF = dict.fromkeys(BLOCK_ALL, False)


def untouched(resource_id: str) -> Seed:
    """Seed nothing: judge the emulator's fresh account (its default VPC, security group, NACL...)."""
    return lambda aws: resource_id


def on_account(seed: Seed) -> Seed:
    """Run ``seed``, then judge the account-level resource (its id is the account id)."""

    def seed_then_account(aws: Emulated) -> str:
        seed(aws)
        return ACCOUNT_ID

    return seed_then_account


def _role(aws: Emulated, name: str, *managed: str) -> str:
    iam = aws.client("iam")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=EC2_ASSUME_ROLE)
    for policy in managed:
        iam.attach_role_policy(RoleName=name, PolicyArn=policy)
    return name


def _user(aws: Emulated, name: str, *, password: bool = False, mfa: bool = False, keys: int = 0) -> str:
    iam = aws.client("iam")
    iam.create_user(UserName=name)
    if password:
        iam.create_login_profile(UserName=name, Password="Correct-Horse-Battery-9")
    if mfa:
        serial = iam.create_virtual_mfa_device(VirtualMFADeviceName=name)["VirtualMFADevice"]["SerialNumber"]
        iam.enable_mfa_device(UserName=name, SerialNumber=serial, AuthenticationCode1="123456",
                              AuthenticationCode2="654321")
    for _ in range(keys):
        iam.create_access_key(UserName=name)
    return name


def _aged_key_user(days: int) -> Seed:
    def seed(aws: Emulated) -> str:
        _user(aws, "ci-bot", keys=1)
        age_access_key("ci-bot", days)  # the API cannot backdate a key; this edits the emulator's memory
        return "ci-bot"

    return seed


def _password_policy(**settings: Any) -> Seed:
    def seed(aws: Emulated) -> str:
        aws.client("iam").update_account_password_policy(**settings)
        return ACCOUNT_ID

    return seed


def _attached(policy_arn: str, role: str = "workload") -> Seed:
    """``policy_arn`` attached to a role: the managed policy is in use, so the scan lists it."""

    def seed(aws: Emulated) -> str:
        _role(aws, role, policy_arn)
        return policy_arn

    return seed


def _customer_policy(aws: Emulated, name: str, *statements: dict[str, Any]) -> str:
    arn = aws.client("iam").create_policy(PolicyName=name, PolicyDocument=_policy_json(*statements))["Policy"]["Arn"]
    _role(aws, f"{name}-holder", arn)
    return str(arn)


def _bucket(aws: Emulated, name: str = "data-bucket") -> str:
    aws.client("s3").create_bucket(Bucket=name)
    return name


def _bucket_policy(*statements: dict[str, Any]) -> Seed:
    def seed(aws: Emulated) -> str:
        name = _bucket(aws)
        aws.client("s3").put_bucket_policy(Bucket=name, Policy=_policy_json(*statements))
        return name

    return seed


def _public_read(resource: str = "arn:aws:s3:::data-bucket/*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": resource, **extra}


def _tls_deny(**condition: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": ["arn:aws:s3:::data-bucket", "arn:aws:s3:::data-bucket/*"],
            "Condition": condition or {"Bool": {"aws:SecureTransport": "false"}}}


def _trail(aws: Emulated, start: bool = True, **settings: Any) -> str:
    _bucket(aws, "trail-logs")
    cloudtrail = aws.client("cloudtrail")
    cloudtrail.create_trail(Name="main", S3BucketName="trail-logs", **settings)
    if start:
        cloudtrail.start_logging(Name="main")
    return "main"


def _trail_seed(start: bool = True, selectors: list[dict[str, Any]] | None = None, **settings: Any) -> Seed:
    def seed(aws: Emulated) -> str:
        name = _trail(aws, start, **settings)
        if selectors is not None:
            aws.client("cloudtrail").put_event_selectors(TrailName=name, EventSelectors=selectors)
        return name

    return seed


def _kms_trail(aws: Emulated) -> str:
    key = aws.client("kms").create_key(Description="trail logs")["KeyMetadata"]["Arn"]
    return _trail(aws, KmsKeyId=key)


def _config_recorder(region: str, start: bool = True) -> Seed:
    def seed(aws: Emulated) -> str:
        _bucket(aws, "config-history")
        config = aws.client("config", region)
        config.put_configuration_recorder(ConfigurationRecorder={
            "name": "default", "roleARN": f"arn:aws:iam::{ACCOUNT_ID}:role/aws-config",
            "recordingGroup": {"allSupported": True, "includeGlobalResourceTypes": True}})
        config.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": "config-history"})
        if start:
            config.start_configuration_recorder(ConfigurationRecorderName="default")
        return region

    return seed


def _default_vpc(aws: Emulated) -> str:
    vpcs = aws.client("ec2").describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    return str(vpcs[0]["VpcId"])


def _default_sg(aws: Emulated) -> dict[str, Any]:
    filters = [{"Name": "vpc-id", "Values": [_default_vpc(aws)]}, {"Name": "group-name", "Values": ["default"]}]
    return dict(aws.client("ec2").describe_security_groups(Filters=filters)["SecurityGroups"][0])


def _emptied_default_sg(aws: Emulated) -> str:
    ec2, group = aws.client("ec2"), _default_sg(aws)
    if group["IpPermissions"]:
        ec2.revoke_security_group_ingress(GroupId=group["GroupId"], IpPermissions=group["IpPermissions"])
    if group["IpPermissionsEgress"]:
        ec2.revoke_security_group_egress(GroupId=group["GroupId"], IpPermissions=group["IpPermissionsEgress"])
    return str(group["GroupId"])


def _sg(*permissions: tuple[str, int, int, str]) -> Seed:
    """A new security group in the default VPC with ingress ``(protocol, from, to, cidr)`` (IPv6 if ``:``)."""

    def seed(aws: Emulated) -> str:
        ec2 = aws.client("ec2")
        group = ec2.create_security_group(GroupName="app", Description="app", VpcId=_default_vpc(aws))["GroupId"]
        rules = [
            {"IpProtocol": protocol, "FromPort": low, "ToPort": high,
             **({"Ipv6Ranges": [{"CidrIpv6": cidr}]} if ":" in cidr else {"IpRanges": [{"CidrIp": cidr}]})}
            for protocol, low, high, cidr in permissions
        ]
        if rules:
            ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=rules)
        return str(group)

    return seed


def _default_nacl(aws: Emulated) -> str:
    acls = aws.client("ec2").describe_network_acls(Filters=[{"Name": "default", "Values": ["true"]}])
    return str(acls["NetworkAcls"][0]["NetworkAclId"])


def _custom_nacl(*entries: tuple[int, str, int, int]) -> Seed:
    """A new network ACL with ingress entries ``(rule number, action, from port, to port)`` from 0.0.0.0/0
    (port ``-1`` meaning every protocol)."""

    def seed(aws: Emulated) -> str:
        ec2 = aws.client("ec2")
        acl = ec2.create_network_acl(VpcId=_default_vpc(aws))["NetworkAcl"]["NetworkAclId"]
        for number, action, low, high in entries:
            ports = {"Protocol": "-1"} if low < 0 else {"Protocol": "6", "PortRange": {"From": low, "To": high}}
            ec2.create_network_acl_entry(NetworkAclId=acl, RuleNumber=number, RuleAction=action, Egress=False,
                                         CidrBlock="0.0.0.0/0", **ports)
        return str(acl)

    return seed


def _flow_logged_vpc(aws: Emulated) -> str:
    vpc = _default_vpc(aws)
    _bucket(aws, "flow-logs")
    aws.client("ec2").create_flow_logs(ResourceIds=[vpc], ResourceType="VPC", TrafficType="ALL",
                                       LogDestinationType="s3", LogDestination="arn:aws:s3:::flow-logs")
    return vpc


def _volume(encrypted: bool) -> Seed:
    def seed(aws: Emulated) -> str:
        return str(aws.client("ec2").create_volume(AvailabilityZone=f"{REGION}a", Size=8,
                                                    Encrypted=encrypted)["VolumeId"])

    return seed


def _ebs_default_encryption(aws: Emulated) -> str:
    aws.client("ec2").enable_ebs_encryption_by_default()
    return REGION


def _instance(tokens: str = "optional", profile: bool = False) -> Seed:
    def seed(aws: Emulated) -> str:
        ec2 = aws.client("ec2")
        extra: dict[str, Any] = {}
        if profile:
            iam = aws.client("iam")
            _role(aws, "web-app")
            iam.create_instance_profile(InstanceProfileName="web-app")
            iam.add_role_to_instance_profile(InstanceProfileName="web-app", RoleName="web-app")
            extra["IamInstanceProfile"] = {"Name": "web-app"}
        image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        return str(ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, MetadataOptions={"HttpTokens": tokens},
                                     **extra)["Instances"][0]["InstanceId"])

    return seed


def _kms_key(rotate: bool) -> Seed:
    def seed(aws: Emulated) -> str:
        kms = aws.client("kms")
        key = kms.create_key(Description="app secrets")["KeyMetadata"]["KeyId"]
        if rotate:
            kms.enable_key_rotation(KeyId=key)
        return str(key)

    return seed


def _one_of_two_keys_active(aws: Emulated) -> str:
    iam, name = aws.client("iam"), _user(aws, "rotating", keys=2)
    first = iam.list_access_keys(UserName=name)["AccessKeyMetadata"][0]["AccessKeyId"]
    iam.update_access_key(UserName=name, AccessKeyId=first, Status="Inactive")
    return name


def _grouped_user(aws: Emulated) -> str:
    iam = aws.client("iam")
    iam.create_group(GroupName="readers")
    iam.attach_group_policy(GroupName="readers", PolicyArn=AWS_POLICY + "ReadOnlyAccess")
    iam.add_user_to_group(GroupName="readers", UserName=_user(aws, "grouped"))
    return "grouped"


def _user_with_attached(aws: Emulated) -> str:
    aws.client("iam").attach_user_policy(UserName=_user(aws, "carol"), PolicyArn=AWS_POLICY + "ReadOnlyAccess")
    return "carol"


def _user_with_inline(aws: Emulated) -> str:
    aws.client("iam").put_user_policy(UserName=_user(aws, "erin"), PolicyName="own-bucket", PolicyDocument=_policy_json(
        {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::erin/*"}))
    return "erin"


def _account_blocked_bucket(aws: Emulated) -> str:
    _account_block(aws)
    return _bucket(aws)


def _account_block(aws: Emulated) -> str:
    aws.client("s3control").put_public_access_block(AccountId=ACCOUNT_ID, PublicAccessBlockConfiguration=BLOCK_ALL)
    return ACCOUNT_ID


def _blocked_bucket(aws: Emulated) -> str:
    name = _bucket(aws)
    aws.client("s3").put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=BLOCK_ALL)
    return name


def _public_read_acl(aws: Emulated, ignore: bool = False) -> str:
    s3, name = aws.client("s3"), _bucket(aws)
    s3.put_bucket_acl(Bucket=name, ACL="public-read")
    if ignore:
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={**ALL_OFF, "IgnorePublicAcls": True})
    return name


def _versioned(aws: Emulated, status: str) -> str:
    name = _bucket(aws)
    aws.client("s3").put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": status})
    return name




# -- recorded inventories (the emulator lacks the API) -----------------------------------------------

IAM_TYPES = {"AWS::IAM::AccountSettings", "AWS::IAM::User", "AWS::IAM::ManagedPolicy"}
ROOT_ARN = f"arn:aws:iam::{ACCOUNT_ID}:root"
ROOT_MFA = f"arn:aws:iam::{ACCOUNT_ID}:mfa/root-account-mfa-device"


def _root_row(mfa: bool, key: bool) -> dict[str, str]:
    """The ``<root_account>`` row of a credential report (csv.DictReader gives every field as text)."""
    return {
        "user": "<root_account>", "arn": ROOT_ARN, "user_creation_time": "2021-03-01T09:00:00+00:00",
        "password_enabled": "not_supported", "password_last_used": "2026-11-01T10:00:00+00:00",
        "password_last_changed": "not_supported", "password_next_rotation": "not_supported",
        "mfa_active": str(mfa).lower(), "access_key_1_active": str(key).lower(),
        "access_key_1_last_rotated": "2021-03-01T09:05:00+00:00" if key else "N/A",
        "access_key_1_last_used_date": "N/A", "access_key_1_last_used_region": "N/A",
        "access_key_1_last_used_service": "N/A", "access_key_2_active": "false", "access_key_2_last_rotated": "N/A",
        "access_key_2_last_used_date": "N/A", "access_key_2_last_used_region": "N/A",
        "access_key_2_last_used_service": "N/A", "cert_1_active": "false", "cert_1_last_rotated": "N/A",
        "cert_2_active": "false", "cert_2_last_rotated": "N/A",
    }


def _recorded_iam_account(mfa: bool, key: bool) -> Recorded:
    """An IAM-only scan of an account whose root user has (or lacks) MFA and an access key, as
    ``collectors/iam.py:collect_iam`` writes it: GetAccountSummary's SummaryMap under ``summary`` and so on."""

    def build() -> tuple[Inventory, str]:
        summary = {"Users": 0, "Groups": 0, "Roles": 0, "Policies": 0, "MFADevices": int(mfa), "MFADevicesInUse": 0,
                   "AccountMFAEnabled": int(mfa), "AccountAccessKeysPresent": int(key),
                   "AccountSigningCertificatesPresent": 0, "UsersQuota": 5000, "AccessKeysPerUserQuota": 2}
        devices = [{"SerialNumber": ROOT_MFA, "User": {"Arn": ROOT_ARN, "UserId": ACCOUNT_ID},
                    "EnableDate": "2021-03-01T09:10:00+00:00"}] if mfa else []
        account = Resource(
            "AWS::IAM::AccountSettings", ACCOUNT_ID, GLOBAL, ACCOUNT_ID, arn=ROOT_ARN,
            attributes={
                "summary": summary,
                "password_policy": None,  # NoSuchEntity: no password policy
                "virtual_mfa_devices": devices,
                "support_policy_entities": {"PolicyGroups": [], "PolicyUsers": [], "PolicyRoles": [],
                                            "IsTruncated": False},
                "root_credentials": _root_row(mfa, key),
                "credential_report_generated": "2026-11-28T12:00:00+00:00",
            },
        )
        inventory = Inventory(account_id=ACCOUNT_ID, regions=[REGION], resources=[account],
                              collected_types=set(IAM_TYPES))
        return Inventory.from_dict(json.loads(json.dumps(inventory.to_dict()))), ACCOUNT_ID  # as saved to a file

    return build


NO_ROOT_API = ("the emulator has no API to {what} (moto's GetAccountSummary always answers {field}=0), "
               "so this case judges a recorded inventory")


# -- the table --------------------------------------------------------------------------------------

IAM, S3, EC2, TRAIL, KMS, CONFIG = ("iam",), ("s3",), ("ec2",), ("cloudtrail",), ("kms",), ("config",)

CASES: list[Case] = [
    # CloudTrail
    Case("cloudtrail_multi_region_enabled", "PASS", on_account(_trail_seed(IsMultiRegionTrail=True)), TRAIL),
    Case("cloudtrail_multi_region_enabled", "FAIL", on_account(_trail_seed()), TRAIL,
         evidence={"trails": ["main: single-region"]}),
    Case("cloudtrail_multi_region_enabled", "FAIL", on_account(_trail_seed(False, IsMultiRegionTrail=True)),
         TRAIL, label="not-logging", evidence={"trails": ["main: not logging"]}),
    Case("cloudtrail_multi_region_enabled", "FAIL",
         on_account(_trail_seed(selectors=[{"ReadWriteType": "WriteOnly"}], IsMultiRegionTrail=True)),
         TRAIL, label="write-only",
         evidence={"trails": ["main: not all management events"]}),
    Case("cloudtrail_multi_region_enabled", "FAIL", untouched(ACCOUNT_ID), TRAIL, label="no-trail",
         evidence={"trails": []}),
    Case("cloudtrail_log_file_validation", "PASS", _trail_seed(EnableLogFileValidation=True), TRAIL),
    Case("cloudtrail_log_file_validation", "FAIL", _trail_seed(), TRAIL, evidence={"LogFileValidationEnabled": False}),
    Case("cloudtrail_kms_encrypted", "PASS", _kms_trail, TRAIL),
    Case("cloudtrail_kms_encrypted", "FAIL", _trail_seed(), TRAIL, evidence={"KmsKeyId": None}),
    # AWS Config
    Case("config_recorder_enabled", "PASS", _config_recorder("eu-west-1"), CONFIG, regions=("eu-west-1",),
         evidence={"recorder": "default"}),
    Case("config_recorder_enabled", "FAIL", untouched(REGION), CONFIG, evidence={"recorders": []}),
    Case("config_recorder_enabled", "FAIL", _config_recorder(REGION, start=False), CONFIG, label="stopped",
         evidence={"recorders": ["default"], "recording": []}),
    # EC2 / VPC
    Case("ec2_default_sg_restricts_all", "PASS", _emptied_default_sg, EC2),
    Case("ec2_default_sg_restricts_all", "FAIL", lambda aws: str(_default_sg(aws)["GroupId"]), EC2,
         message="has rules"),
    Case("ec2_sg_no_admin_ports_ipv4", "PASS", _sg(("tcp", 443, 443, "0.0.0.0/0"), ("tcp", 22, 22, "10.0.0.0/8"),
                                                   ("tcp", 22, 22, "::/0")), EC2, evidence={"open": []}),
    Case("ec2_sg_no_admin_ports_ipv4", "FAIL", _sg(("tcp", 22, 22, "0.0.0.0/0")), EC2,
         evidence={"open": ["tcp/22 from 0.0.0.0/0"]}),
    Case("ec2_sg_no_admin_ports_ipv4", "FAIL", _sg(("-1", -1, -1, "0.0.0.0/0")), EC2, label="all-traffic",
         evidence={"open": ["-1/22 from 0.0.0.0/0", "-1/3389 from 0.0.0.0/0"]}),
    Case("ec2_sg_no_admin_ports_ipv6", "PASS", _sg(("tcp", 22, 22, "0.0.0.0/0"), ("tcp", 22, 22, "2001:db8::/32")),
         EC2, evidence={"open": []}),
    Case("ec2_sg_no_admin_ports_ipv6", "FAIL", _sg(("tcp", 3000, 4000, "::/0")), EC2,
         evidence={"open": ["tcp/3389 from ::/0"]}),
    Case("ec2_sg_no_public_cifs", "PASS", _sg(("tcp", 445, 445, "10.0.0.0/8"), ("tcp", 443, 443, "::/0")), EC2),
    Case("ec2_sg_no_public_cifs", "FAIL", _sg(("tcp", 445, 445, "::/0")), EC2,
         evidence={"open": ["tcp/445 from ::/0"]}),
    Case("ec2_nacl_no_admin_ports", "PASS", _custom_nacl(), EC2, evidence={"open": []}),
    Case("ec2_nacl_no_admin_ports", "PASS", _custom_nacl((100, "allow", -1, -1), (50, "deny", 22, 22),
                                                         (60, "deny", 3389, 3389)), EC2, label="deny-before-allow"),
    Case("ec2_nacl_no_admin_ports", "FAIL", _default_nacl, EC2,
         evidence={"open": ["22 from 0.0.0.0/0", "3389 from 0.0.0.0/0"], "is_default": True}),
    Case("ec2_nacl_no_admin_ports", "FAIL", _custom_nacl((100, "allow", -1, -1), (50, "deny", 22, 22)), EC2,
         label="rdp-not-denied", evidence={"open": ["3389 from 0.0.0.0/0"]}),
    Case("ec2_vpc_flow_logs_enabled", "PASS", _flow_logged_vpc, EC2),
    Case("ec2_vpc_flow_logs_enabled", "FAIL", _default_vpc, EC2, evidence={"flow_logs": []}),
    Case("ec2_ebs_volume_encrypted", "PASS", _volume(encrypted=True), EC2),
    Case("ec2_ebs_volume_encrypted", "FAIL", _volume(encrypted=False), EC2, evidence={"Encrypted": False}),
    Case("ec2_ebs_default_encryption", "PASS", _ebs_default_encryption, EC2),
    Case("ec2_ebs_default_encryption", "FAIL", untouched(REGION), EC2, evidence={"EbsEncryptionByDefault": False}),
    Case("ec2_instance_imdsv2_required", "PASS", _instance("required"), EC2, evidence={"HttpTokens": "required"}),
    Case("ec2_instance_imdsv2_required", "FAIL", _instance("optional"), EC2, evidence={"HttpTokens": "optional"}),
    Case("ec2_instance_uses_role", "PASS", _instance(profile=True), EC2),
    Case("ec2_instance_uses_role", "FAIL", _instance(), EC2, evidence={"IamInstanceProfile": None}),
    # IAM: account. Root MFA and root access keys cannot be set up through the emulator's API (moto has no
    # such call and GetAccountSummary hard-codes 0 for both), so those two cases judge recorded inventories.
    Case("iam_root_mfa_enabled", "PASS", inventory=_recorded_iam_account(mfa=True, key=False),
         recorded_because=NO_ROOT_API.format(what="enable MFA on the root user", field="AccountMFAEnabled"),
         evidence={"AccountMFAEnabled": 1}),
    Case("iam_root_mfa_enabled", "FAIL", untouched(ACCOUNT_ID), IAM, evidence={"AccountMFAEnabled": 0}),
    Case("iam_root_no_access_keys", "PASS", untouched(ACCOUNT_ID), IAM, evidence={"AccountAccessKeysPresent": 0}),
    Case("iam_root_no_access_keys", "FAIL", inventory=_recorded_iam_account(mfa=True, key=True),
         recorded_because=NO_ROOT_API.format(what="create root access keys", field="AccountAccessKeysPresent"),
         evidence={"AccountAccessKeysPresent": 1}),
    Case("iam_password_policy_min_length", "PASS", _password_policy(MinimumPasswordLength=14), IAM),
    Case("iam_password_policy_min_length", "FAIL", untouched(ACCOUNT_ID), IAM, label="no-policy",
         evidence={"password_policy": None}),
    Case("iam_password_policy_min_length", "FAIL", _password_policy(MinimumPasswordLength=8), IAM,
         evidence={"MinimumPasswordLength": 8}),
    Case("iam_password_policy_reuse_prevention", "PASS", _password_policy(PasswordReusePrevention=24), IAM),
    Case("iam_password_policy_reuse_prevention", "FAIL", _password_policy(PasswordReusePrevention=5), IAM,
         evidence={"PasswordReusePrevention": 5}),
    Case("iam_support_role_exists", "PASS", on_account(_attached(AWS_POLICY + "AWSSupportAccess", role="support")), IAM,
         evidence={"attached_to": ["support"]}),
    Case("iam_support_role_exists", "FAIL", untouched(ACCOUNT_ID), IAM, evidence={"attached_to": []}),
    # IAM: users
    Case("iam_user_console_mfa", "PASS", lambda aws: _user(aws, "dana", password=True, mfa=True), IAM),
    Case("iam_user_console_mfa", "FAIL", lambda aws: _user(aws, "alice", password=True), IAM,
         evidence={"login_profile": True, "mfa_devices": []}),
    Case("iam_user_unused_credentials", "PASS", lambda aws: _user(aws, "fresh", keys=1), IAM, evidence={"stale": []}),
    Case("iam_user_unused_credentials", "FAIL", _aged_key_user(100), IAM,
         evidence={"stale": ["access key 1 unused for 100 days"]}),
    Case("iam_user_single_active_key", "PASS", _one_of_two_keys_active, IAM),
    Case("iam_user_single_active_key", "FAIL", lambda aws: _user(aws, "two-keys", keys=2), IAM,
         message="2 active access keys"),
    Case("iam_user_access_key_rotated", "PASS", lambda aws: _user(aws, "fresh", keys=1), IAM,
         evidence={"key_age_days": {}}),
    Case("iam_user_access_key_rotated", "FAIL", _aged_key_user(120), IAM, message="older than 90 days"),
    Case("iam_user_no_direct_policies", "PASS", _grouped_user, IAM),
    Case("iam_user_no_direct_policies", "FAIL", _user_with_attached, IAM,
         evidence={"attached": ["ReadOnlyAccess"], "inline": []}),
    Case("iam_user_no_direct_policies", "FAIL", _user_with_inline, IAM, label="inline",
         evidence={"attached": [], "inline": ["own-bucket"]}),
    # IAM: managed policies in use
    Case("iam_policy_no_full_admin", "PASS", lambda aws: _customer_policy(
        aws, "reports-reader", {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::r/*"}), IAM),
    Case("iam_policy_no_full_admin", "FAIL", _attached(AWS_POLICY + "AdministratorAccess"), IAM),
    Case("iam_policy_no_full_admin", "FAIL", lambda aws: _customer_policy(
        aws, "legacy-admin", {"Effect": "Allow", "Action": "*", "Resource": "*"}), IAM, label="customer",
         evidence={"entities": ["role/legacy-admin-holder"]}),
    Case("iam_no_aws_full_access_policies", "PASS", _attached(AWS_POLICY + "AWSSupportAccess"), IAM),
    Case("iam_no_aws_full_access_policies", "FAIL", _attached(AWS_POLICY + "AmazonS3FullAccess"), IAM,
         evidence={"entities": ["role/workload"]}),
    Case("iam_no_aws_full_access_policies", "FAIL", _attached(AWS_POLICY + "AmazonDynamoDBFullAccess_v2"), IAM,
         label="versioned-name"),
    # KMS
    Case("kms_key_rotation_enabled", "PASS", _kms_key(rotate=True), KMS),
    Case("kms_key_rotation_enabled", "FAIL", _kms_key(rotate=False), KMS, evidence={"KeyRotationEnabled": False}),
    # S3
    Case("s3_account_public_access_block", "PASS", _account_block, S3),
    Case("s3_account_public_access_block", "FAIL", untouched(ACCOUNT_ID), S3, evidence=ALL_OFF),
    Case("s3_bucket_public_access_block", "PASS", _blocked_bucket, S3),
    Case("s3_bucket_public_access_block", "PASS", _account_blocked_bucket, S3,
         label="account-level", evidence=BLOCK_ALL),
    Case("s3_bucket_public_access_block", "FAIL", _bucket, S3, evidence=ALL_OFF),
    Case("s3_bucket_no_public_acl", "PASS", _bucket, S3, evidence={"public_grants": []}),
    Case("s3_bucket_no_public_acl", "PASS", lambda aws: _public_read_acl(aws, ignore=True), S3,
         label="ignored", evidence={"public_grants": ["everyone: READ"]}),
    Case("s3_bucket_no_public_acl", "FAIL", _public_read_acl, S3,
         evidence={"public_grants": ["everyone: READ"]}),
    Case("s3_bucket_no_public_policy", "PASS", _bucket, S3, evidence={"public_actions": []}),
    Case("s3_bucket_no_public_policy", "PASS",
         _bucket_policy(_public_read(Condition={"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}})), S3,
         label="restricted", evidence={"public_actions": []}),
    Case("s3_bucket_no_public_policy", "FAIL", _bucket_policy(_public_read()), S3,
         evidence={"public_actions": ["s3:GetObject"]}),
    Case("s3_bucket_no_public_policy", "FAIL",
         _bucket_policy(_public_read(Condition={"StringNotEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}})), S3,
         label="negated-condition"),
    Case("s3_bucket_tls_only", "PASS", _bucket_policy(_tls_deny()), S3),
    Case("s3_bucket_tls_only", "FAIL", _bucket_policy(_tls_deny(
        Bool={"aws:SecureTransport": "false"}, StringEquals={"aws:PrincipalAccount": "111122223333"})), S3,
         label="narrowed-deny"),
    Case("s3_bucket_tls_only", "FAIL", _bucket, S3, evidence={"has_policy": False}),
    Case("s3_bucket_tls_only", "FAIL", _bucket_policy(_public_read("arn:aws:s3:::other/*")), S3, label="other-policy",
         evidence={"has_policy": True}),
    Case("s3_bucket_versioning_enabled", "PASS", lambda aws: _versioned(aws, "Enabled"), S3),
    Case("s3_bucket_versioning_enabled", "FAIL", _bucket, S3, evidence={"versioning": "Never enabled"}),
    Case("s3_bucket_versioning_enabled", "FAIL", lambda aws: _versioned(aws, "Suspended"), S3, label="suspended",
         evidence={"versioning": "Suspended"}),
]

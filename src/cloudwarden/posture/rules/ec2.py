"""EC2 and VPC rules: security groups, network ACLs, flow logs, endpoints and peering routes, EBS encryption
and public snapshots, public AMIs, and instances (metadata, roles, public IPs, Systems Manager)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from cloudwarden.findings.model import Severity
from cloudwarden.inventory.model import Inventory, Resource, Unreadable
from cloudwarden.posture.registry import Verdict, failed, manual, passed, rule

SECURITY_GROUP = "AWS::EC2::SecurityGroup"
NETWORK_ACL = "AWS::EC2::NetworkAcl"
VPC = "AWS::EC2::VPC"
VOLUME = "AWS::EC2::Volume"
INSTANCE = "AWS::EC2::Instance"
REGION = "AWS::EC2::RegionSettings"

ADMIN_PORTS = (22, 3389)
CIFS_PORT = 445
ANY_IPV4 = "0.0.0.0/0"
ANY_IPV6 = "::/0"
TCP_PROTOCOLS = {"-1", "6", "tcp", "all"}


def open_ingress(group: Resource, ports: tuple[int, ...], cidr_key: str, cidr: str) -> Iterator[str]:
    """Descriptions of the group's ingress rules that open any of ``ports`` (TCP) to ``cidr``."""
    for permission in group.attr("IpPermissions") or []:
        protocol = str(permission.get("IpProtocol", "")).lower()
        if protocol not in TCP_PROTOCOLS:
            continue
        low, high = permission.get("FromPort"), permission.get("ToPort")
        if protocol in ("-1", "all") or low is None:
            low, high = 0, 65535
        ranges = permission.get("IpRanges" if cidr_key == "CidrIp" else "Ipv6Ranges") or []
        if not any(r.get(cidr_key) == cidr for r in ranges):
            continue
        for port in ports:
            if int(low) <= port <= int(high):
                yield f"{protocol}/{port} from {cidr}"


def _sg_rule(group: Resource, ports: tuple[int, ...], cidr_key: str, cidr: str, what: str) -> Verdict:
    opened = sorted(set(open_ingress(group, ports, cidr_key, cidr)))
    name = group.attr("GroupName")
    if opened:
        return failed(f"Security group {group.id} ({name}) allows {what} from {cidr}.", open=opened)
    return passed(f"No {what} ingress from {cidr}.", open=[])


@rule(
    id="ec2_sg_no_admin_ports_ipv4",
    fsbp=("EC2.13", "EC2.14", "EC2.53"),
    well_architected=("SEC05",),
    title="No security group allows SSH or RDP from 0.0.0.0/0",
    severity=Severity.HIGH,
    resource_type=SECURITY_GROUP,
    cis=("5.3",),
    rationale="Remote administration ports open to the internet are scanned and brute-forced within minutes.",
    remediation="Remove the 0.0.0.0/0 rule for ports 22/3389; use SSM Session Manager or a narrow source CIDR.",
)
def ec2_sg_no_admin_ports_ipv4(group: Resource, _: Inventory) -> Verdict:
    return _sg_rule(group, ADMIN_PORTS, "CidrIp", ANY_IPV4, "SSH/RDP")


@rule(
    id="ec2_sg_no_admin_ports_ipv6",
    fsbp=("EC2.54",),
    well_architected=("SEC05",),
    title="No security group allows SSH or RDP from ::/0",
    severity=Severity.HIGH,
    resource_type=SECURITY_GROUP,
    cis=("5.4",),
    rationale="Remote administration ports open to the IPv6 internet are as exposed as on IPv4.",
    remediation="Remove the ::/0 rule for ports 22/3389; use SSM Session Manager or a narrow source range.",
)
def ec2_sg_no_admin_ports_ipv6(group: Resource, _: Inventory) -> Verdict:
    return _sg_rule(group, ADMIN_PORTS, "CidrIpv6", ANY_IPV6, "SSH/RDP")


@rule(
    id="ec2_sg_no_public_cifs",
    fsbp=("EC2.19",),
    well_architected=("SEC05",),
    title="No security group allows CIFS (445) from the internet",
    severity=Severity.HIGH,
    resource_type=SECURITY_GROUP,
    cis=("5.1.2",),
    rationale="SMB/CIFS exposed to the internet is a classic ransomware entry point.",
    remediation="Remove ingress on TCP 445 from 0.0.0.0/0 and ::/0; allow only trusted networks.",
)
def ec2_sg_no_public_cifs(group: Resource, _: Inventory) -> Verdict:
    opened = sorted(
        {
            *open_ingress(group, (CIFS_PORT,), "CidrIp", ANY_IPV4),
            *open_ingress(group, (CIFS_PORT,), "CidrIpv6", ANY_IPV6),
        }
    )
    if opened:
        return failed(f"Security group {group.id} allows CIFS from the internet.", open=opened)
    return passed("No CIFS ingress from the internet.", open=[])


@rule(
    id="ec2_default_sg_restricts_all",
    fsbp=("EC2.2",),
    well_architected=("SEC05",),
    title="Default security groups allow no traffic",
    severity=Severity.MEDIUM,
    resource_type=SECURITY_GROUP,
    cis=("5.5",),
    rationale="Resources launched without a chosen group land in the default group; it should let nothing in or out.",
    remediation="Remove every inbound and outbound rule from the VPC's default security group.",
)
def ec2_default_sg_restricts_all(group: Resource, _: Inventory) -> Verdict | None:
    if group.attr("GroupName") != "default":
        return None
    inbound, outbound = group.attr("IpPermissions") or [], group.attr("IpPermissionsEgress") or []
    if inbound or outbound:
        return failed(
            f"Default security group {group.id} of {group.attr('VpcId')} has rules.",
            inbound_rules=len(inbound),
            outbound_rules=len(outbound),
        )
    return passed("The default security group has no rules.", inbound_rules=0, outbound_rules=0)


def _nacl_allows(entries: list[dict[str, Any]], port: int, cidr_key: str, cidr: str) -> bool:
    """Whether the first matching ingress entry (lowest rule number) for ``port`` from ``cidr`` allows it."""
    for entry in sorted(entries, key=lambda e: int(e.get("RuleNumber", 32767))):
        if entry.get("Egress") or entry.get(cidr_key) != cidr:
            continue
        if str(entry.get("Protocol")) not in TCP_PROTOCOLS:
            continue
        ports = entry.get("PortRange") or {"From": 0, "To": 65535}
        if str(entry.get("Protocol")) != "-1" and not int(ports.get("From", 0)) <= port <= int(ports.get("To", 65535)):
            continue
        return entry.get("RuleAction") == "allow"
    return False  # the implicit final rule denies


@rule(
    id="ec2_nacl_no_admin_ports",
    fsbp=("EC2.21",),
    well_architected=("SEC05",),
    title="No network ACL allows SSH or RDP from the internet",
    severity=Severity.MEDIUM,
    resource_type=NETWORK_ACL,
    cis=("5.2",),
    rationale="Network ACLs are the subnet-level backstop: they should not let admin ports in from anywhere.",
    remediation="Add a deny entry for TCP 22 and 3389 from 0.0.0.0/0 and ::/0 ahead of the allow entries.",
)
def ec2_nacl_no_admin_ports(acl: Resource, _: Inventory) -> Verdict:
    entries = acl.attr("Entries") or []
    opened = [
        f"{port} from {cidr}"
        for port in ADMIN_PORTS
        for key, cidr in (("CidrBlock", ANY_IPV4), ("Ipv6CidrBlock", ANY_IPV6))
        if _nacl_allows(entries, port, key, cidr)
    ]
    if opened:
        return failed(
            f"Network ACL {acl.id} allows admin ports from the internet.",
            open=opened,
            is_default=bool(acl.attr("IsDefault")),
        )
    return passed("No admin port is allowed in from the internet.", open=[])


@rule(
    id="ec2_vpc_flow_logs_enabled",
    fsbp=("EC2.6",),
    well_architected=("SEC04",),
    title="VPC flow logging is enabled",
    severity=Severity.MEDIUM,
    resource_type=VPC,
    cis=("3.7",),
    rationale="Without flow logs there is no record of what talked to what during an incident.",
    remediation="aws ec2 create-flow-logs --resource-type VPC --resource-ids VPC_ID --traffic-type REJECT "
    "(or ALL) --log-destination-type cloud-watch-logs|s3 ...",
)
def ec2_vpc_flow_logs_enabled(vpc: Resource, _: Inventory) -> Verdict:
    flow_logs = vpc.attr("flow_logs") or []
    if flow_logs:
        return passed("The VPC has flow logs.", flow_logs=[f.get("FlowLogId") for f in flow_logs])
    return failed(f"VPC {vpc.id} has no flow logs.", flow_logs=[])


@rule(
    id="ec2_ebs_volume_encrypted",
    fsbp=("EC2.3",),
    well_architected=("SEC08",),
    title="EBS volumes are encrypted",
    severity=Severity.MEDIUM,
    resource_type=VOLUME,
    rationale="Unencrypted volumes (and their snapshots) expose data to anyone who obtains a copy.",
    remediation="Snapshot the volume, copy the snapshot with encryption, create a volume from it and swap it in.",
)
def ec2_ebs_volume_encrypted(volume: Resource, _: Inventory) -> Verdict:
    if volume.attr("Encrypted"):
        return passed("The volume is encrypted.", KmsKeyId=volume.attr("KmsKeyId"))
    return failed(f"Volume {volume.id} is not encrypted.", Encrypted=False)


@rule(
    id="ec2_ebs_default_encryption",
    fsbp=("EC2.7",),
    well_architected=("SEC08",),
    title="EBS encryption by default is on",
    severity=Severity.MEDIUM,
    resource_type=REGION,
    cis=("5.1.1",),
    rationale="Default encryption makes every new volume encrypted without anyone having to remember.",
    remediation="aws ec2 enable-ebs-encryption-by-default --region REGION",
)
def ec2_ebs_default_encryption(settings: Resource, _: Inventory) -> Verdict:
    if settings.attr("ebs_encryption_by_default"):
        return passed("EBS encryption by default is on.", EbsEncryptionByDefault=True)
    return failed(f"EBS encryption by default is off in {settings.region}.", EbsEncryptionByDefault=False)


@rule(
    id="ec2_instance_imdsv2_required",
    fsbp=("EC2.8",),
    well_architected=("SEC06",),
    title="Instances require IMDSv2",
    severity=Severity.HIGH,
    resource_type=INSTANCE,
    cis=("5.7",),
    rationale="IMDSv1 answers any request, so an SSRF bug in an application hands out the instance's credentials.",
    remediation="aws ec2 modify-instance-metadata-options --instance-id ID --http-tokens required",
)
def ec2_instance_imdsv2_required(instance: Resource, _: Inventory) -> Verdict:
    options = instance.attr("MetadataOptions") or {}
    if options.get("HttpEndpoint") == "disabled":
        return passed("The metadata service is disabled.", **options)
    if options.get("HttpTokens") == "required":
        return passed("IMDSv2 is required.", HttpTokens="required")
    return failed(f"Instance {instance.id} allows IMDSv1.", HttpTokens=options.get("HttpTokens"))


@rule(
    id="ec2_instance_uses_role",
    fsbp=(),
    well_architected=("SEC02",),
    title="Instances use an IAM role for AWS access",
    severity=Severity.LOW,
    resource_type=INSTANCE,
    cis=("1.17",),
    rationale="An instance profile gives short-lived rotated credentials; without one, long-lived keys end up on disk.",
    remediation="Create a role with the permissions the workload needs and attach it as an instance profile.",
)
def ec2_instance_uses_role(instance: Resource, _: Inventory) -> Verdict:
    profile = instance.attr("IamInstanceProfile")
    if profile:
        return passed("The instance has an instance profile.", IamInstanceProfile=profile.get("Arn"))
    return failed(f"Instance {instance.id} has no IAM instance profile.", IamInstanceProfile=None)


SNAPSHOT = "AWS::EC2::Snapshot"
IMAGE = "AWS::EC2::Image"
ROUTE_TABLE = "AWS::EC2::RouteTable"
SSM_SETTINGS = "AWS::SSM::RegionSettings"
GATEWAY_SERVICES = ("s3", "dynamodb")


@rule(
    id="ec2_instance_no_public_ip",
    fsbp=("EC2.9",),
    well_architected=("SEC05",),
    title="Instances have no public IPv4 address",
    severity=Severity.MEDIUM,
    resource_type=INSTANCE,
    rationale="An instance with a public address is one security-group mistake away from the internet; put it "
    "behind a load balancer or NAT instead.",
    remediation="Launch into a private subnet (no auto-assigned public IP) and reach it through a load balancer, "
    "NAT gateway or SSM Session Manager; release any Elastic IP.",
)
def ec2_instance_no_public_ip(instance: Resource, _: Inventory) -> Verdict:
    address = instance.attr("PublicIpAddress")
    if address:
        return failed(f"Instance {instance.id} has public IP {address}.", PublicIpAddress=address)
    return passed("The instance has no public IPv4 address.", PublicIpAddress=None)


@rule(
    id="ec2_instance_managed_by_ssm",
    fsbp=("SSM.1",),
    well_architected=("SEC06",),
    title="Instances are managed by Systems Manager",
    severity=Severity.MEDIUM,
    resource_type=INSTANCE,
    rationale="SSM-managed instances can be patched, inventoried and reached without SSH keys or open ports.",
    remediation="Install or start the SSM agent and give the instance profile AmazonSSMManagedInstanceCore "
    "(or turn on Default Host Management Configuration).",
)
def ec2_instance_managed_by_ssm(instance: Resource, inventory: Inventory) -> Verdict:
    settings = inventory.find(SSM_SETTINGS, instance.region, instance.region)
    if settings is None:
        errors = [
            e.reason for e in inventory.scope_errors if e.resource_type == SSM_SETTINGS and e.region == instance.region
        ]
        raise Unreadable(
            errors[0] if errors else "Systems Manager was not collected in this scan (scan the ssm service)"
        )
    managed = settings.attr("managed_instances") or {}
    status = managed.get(instance.id)
    if status is None:
        return failed(f"Instance {instance.id} is not managed by Systems Manager.", PingStatus=None)
    return passed(f"Systems Manager manages the instance (ping status {status}).", PingStatus=status)


@rule(
    id="ec2_snapshot_not_public",
    fsbp=("EC2.1",),
    well_architected=("SEC03", "SEC08"),
    title="EBS snapshots are not shared publicly",
    severity=Severity.CRITICAL,
    resource_type=SNAPSHOT,
    rationale="Anyone can create a volume from a public snapshot and read every file that was on the disk.",
    remediation="aws ec2 modify-snapshot-attribute --snapshot-id ID --attribute createVolumePermission "
    "--operation-type remove --group-names all",
)
def ec2_snapshot_not_public(snapshot: Resource, _: Inventory) -> Verdict:
    permissions = snapshot.attr("create_volume_permissions") or []
    if any(isinstance(p, dict) and p.get("Group") == "all" for p in permissions):
        return failed(f"Snapshot {snapshot.id} can be restored by anyone.", public=True)
    accounts = [str(p.get("UserId")) for p in permissions if isinstance(p, dict) and p.get("UserId")]
    return passed("The snapshot is not public.", public=False, shared_with=accounts)


@rule(
    id="ec2_ami_not_public",
    fsbp=(),
    well_architected=("SEC03",),
    title="The account's AMIs are not public",
    severity=Severity.HIGH,
    resource_type=IMAGE,
    rationale="A public AMI publishes its disks, and with them any keys, passwords or data baked into the image.",
    remediation='aws ec2 modify-image-attribute --image-id ID --launch-permission "Remove=[{Group=all}]" '
    "(and turn on the account's block public access for AMIs).",
)
def ec2_ami_not_public(image: Resource, _: Inventory) -> Verdict:
    if image.attr("Public"):
        return failed(f"AMI {image.id} ({image.attr('Name')}) is public.", Public=True)
    return passed("The AMI is private.", Public=False)


@rule(
    id="ec2_vpc_gateway_endpoints",
    fsbp=(),
    well_architected=("SEC05",),
    title="VPCs have endpoints for S3 and DynamoDB",
    severity=Severity.LOW,
    resource_type=VPC,
    rationale="Without VPC endpoints, traffic to S3 and DynamoDB leaves through NAT or the internet gateway, and "
    "endpoint policies cannot limit which buckets and tables the VPC may reach.",
    remediation="aws ec2 create-vpc-endpoint --vpc-id VPC --service-name com.amazonaws.REGION.s3 "
    "--route-table-ids ... (and the same for dynamodb); add an endpoint policy.",
)
def ec2_vpc_gateway_endpoints(vpc: Resource, _: Inventory) -> Verdict:
    services = {str(e.get("ServiceName", "")).rsplit(".", 1)[-1] for e in vpc.attr("endpoints") or []}
    missing = [s for s in GATEWAY_SERVICES if s not in services]
    if missing:
        return failed(f"VPC {vpc.id} has no endpoint for " + " or ".join(missing) + ".", missing=missing)
    return passed("The VPC has endpoints for S3 and DynamoDB.", missing=[])


@rule(
    id="ec2_sg_unused",
    fsbp=(),
    well_architected=("SEC05",),
    title="Security groups are in use",
    severity=Severity.LOW,
    resource_type=SECURITY_GROUP,
    rationale="Unused groups accumulate open rules that nobody reviews until someone attaches one to a new resource.",
    remediation="Check that no launch template or automation needs the group, then delete it.",
)
def ec2_sg_unused(group: Resource, _: Inventory) -> Verdict | None:
    if group.attr("GroupName") == "default":
        return None  # default groups cannot be deleted
    interfaces = group.attr("network_interfaces") or []
    if interfaces:
        return passed("The security group is attached to network interfaces.", network_interfaces=interfaces[:10])
    return failed(
        f"Security group {group.id} ({group.attr('GroupName')}) is not used by any network interface.",
        network_interfaces=[],
    )


@rule(
    id="ec2_route_table_peering_least_access",
    fsbp=(),
    well_architected=("SEC05",),
    title="Routes to VPC peering connections are least access (manual)",
    severity=Severity.MEDIUM,
    resource_type=ROUTE_TABLE,
    cis=("5.6",),
    rationale="A peering route to a whole network (or to everything) lets every subnet reach every host on the "
    "other side; routes should cover only the subnets that must talk. CIS marks this Manual.",
    remediation="Replace broad peering routes with routes to the specific peer subnets that need them.",
)
def ec2_route_table_peering_least_access(table: Resource, _: Inventory) -> Verdict:
    routes = [
        {
            "destination": r.get("DestinationCidrBlock")
            or r.get("DestinationIpv6CidrBlock")
            or r.get("DestinationPrefixListId"),
            "peering": r.get("VpcPeeringConnectionId"),
        }
        for r in table.attr("Routes") or []
        if isinstance(r, dict) and r.get("VpcPeeringConnectionId")
    ]
    if not routes:
        return passed("The route table has no routes to a peering connection.", peering_routes=[])
    everything = [r for r in routes if r["destination"] in (ANY_IPV4, ANY_IPV6)]
    if everything:
        return failed(f"Route table {table.id} sends all traffic to a peering connection.", peering_routes=routes)
    return manual(
        f"Confirm that the peering routes of {table.id} cover only the subnets that must talk.", peering_routes=routes
    )

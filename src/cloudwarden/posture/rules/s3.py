"""S3 rules: public access (ACLs, policies, Block Public Access), TLS-only access, versioning."""

from __future__ import annotations

from typing import Any

from cloudwarden.findings.model import Severity
from cloudwarden.inventory.model import Inventory, Resource
from cloudwarden.posture import policy
from cloudwarden.posture.registry import Verdict, failed, passed, rule

BUCKET = "AWS::S3::Bucket"
ACCOUNT = "AWS::S3::AccountSettings"
BLOCK_SETTINGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
PUBLIC_GROUPS = {
    "http://acs.amazonaws.com/groups/global/AllUsers": "everyone",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers": "any AWS account",
}


def _blocks(config: Any) -> dict[str, bool]:
    config = config or {}
    return {name: bool(config.get(name)) for name in BLOCK_SETTINGS}


def _effective_block(bucket: Resource, inventory: Inventory, setting: str) -> bool:
    """Whether Block Public Access ``setting`` is on for the bucket or for the whole account.

    An account setting we could not read counts as off: it can only make a bucket look less safe.
    """
    if _blocks(bucket.attr("public_access_block"))[setting]:
        return True
    account = inventory.find(ACCOUNT, bucket.account_id)
    if account is None or "public_access_block" in account.errors:
        return False
    return _blocks(account.attributes.get("public_access_block"))[setting]


@rule(
    id="s3_account_public_access_block",
    fsbp=("S3.1",),
    well_architected=("SEC03",),
    title="S3 Block Public Access is on for the account",
    severity=Severity.HIGH,
    resource_type=ACCOUNT,
    cis=("2.1.4",),
    rationale="Account-level Block Public Access stops any bucket, present or future, from being made public "
    "by mistake.",
    remediation="aws s3control put-public-access-block --account-id ACCOUNT --public-access-block-configuration "
    "BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true",
)
def s3_account_public_access_block(account: Resource, _: Inventory) -> Verdict:
    blocks = _blocks(account.attr("public_access_block"))
    off = [name for name, on in blocks.items() if not on]
    if off:
        return failed("Account-level Block Public Access is not fully on: " + ", ".join(off) + " off.", **blocks)
    return passed("All four account-level Block Public Access settings are on.", **blocks)


@rule(
    id="s3_bucket_public_access_block",
    fsbp=("S3.8",),
    well_architected=("SEC03",),
    title="S3 buckets have Block Public Access on",
    severity=Severity.MEDIUM,
    resource_type=BUCKET,
    cis=("2.1.4",),
    rationale="Bucket-level Block Public Access keeps a bucket private even if someone adds a public ACL or policy.",
    remediation="aws s3api put-public-access-block --bucket NAME --public-access-block-configuration "
    "BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true",
)
def s3_bucket_public_access_block(bucket: Resource, inventory: Inventory) -> Verdict:
    effective = {name: _effective_block(bucket, inventory, name) for name in BLOCK_SETTINGS}
    off = [name for name, on in effective.items() if not on]
    if off:
        return failed(f"Bucket {bucket.id} lacks Block Public Access: " + ", ".join(off) + " off.", **effective)
    return passed("Block Public Access is on (bucket or account level).", **effective)


@rule(
    id="s3_bucket_no_public_acl",
    fsbp=("S3.2",),
    well_architected=("SEC03",),
    title="S3 bucket ACLs do not grant access to everyone",
    severity=Severity.CRITICAL,
    resource_type=BUCKET,
    rationale="A public-read ACL exposes every object in the bucket to the internet.",
    remediation="aws s3api put-bucket-acl --bucket NAME --acl private, then turn on Block Public Access.",
)
def s3_bucket_no_public_acl(bucket: Resource, inventory: Inventory) -> Verdict:
    grants = [
        f"{PUBLIC_GROUPS[g['Grantee']['URI']]}: {g.get('Permission')}"
        for g in (bucket.attr("acl") or {}).get("Grants", [])
        if isinstance(g.get("Grantee"), dict) and g["Grantee"].get("URI") in PUBLIC_GROUPS
    ]
    if not grants:
        return passed("The bucket ACL grants nothing to everyone.", public_grants=[])
    if _effective_block(bucket, inventory, "IgnorePublicAcls"):
        return passed("The ACL has public grants, but IgnorePublicAcls neutralises them.", public_grants=grants)
    return failed(f"Bucket {bucket.id} is public through its ACL.", public_grants=grants)


@rule(
    id="s3_bucket_no_public_policy",
    fsbp=("S3.2", "S3.3"),
    well_architected=("SEC03",),
    title="S3 bucket policies do not allow anonymous access",
    severity=Severity.CRITICAL,
    resource_type=BUCKET,
    rationale='A policy allowing Principal "*" without a restricting condition opens the bucket to the internet.',
    remediation="Remove the public statement, or restrict it with aws:SourceVpce, aws:PrincipalOrgID or similar.",
)
def s3_bucket_no_public_policy(bucket: Resource, inventory: Inventory) -> Verdict:
    actions = policy.allows_public_access(bucket.attr("policy"))
    if not actions:
        return passed("The bucket policy allows nothing to anonymous principals.", public_actions=[])
    if _effective_block(bucket, inventory, "RestrictPublicBuckets"):
        return passed(
            "The policy is public, but RestrictPublicBuckets limits it to AWS services and the account.",
            public_actions=actions,
        )
    return failed(f"Bucket {bucket.id} policy allows anyone: " + ", ".join(actions) + ".", public_actions=actions)


@rule(
    id="s3_bucket_tls_only",
    fsbp=("S3.5",),
    well_architected=("SEC09",),
    title="S3 bucket policies deny requests without TLS",
    severity=Severity.MEDIUM,
    resource_type=BUCKET,
    cis=("2.1.1",),
    rationale="Without a Deny on aws:SecureTransport=false, clients may read and write data in clear text.",
    remediation="Add a statement: Effect Deny, Principal *, Action s3:*, Resource the bucket and bucket/*, "
    "Condition Bool aws:SecureTransport false.",
)
def s3_bucket_tls_only(bucket: Resource, _: Inventory) -> Verdict:
    if policy.denies_insecure_transport(bucket.attr("policy"), bucket.arn):
        return passed("The bucket policy denies requests made without TLS.")
    return failed(
        f"Bucket {bucket.id} does not deny requests made without TLS.", has_policy=bucket.attr("policy") is not None
    )


@rule(
    id="s3_bucket_versioning_enabled",
    fsbp=("S3.14",),
    well_architected=("SEC08",),
    title="S3 buckets keep object versions",
    severity=Severity.LOW,
    resource_type=BUCKET,
    rationale="Versioning lets you recover from deletion, overwrites and ransomware.",
    remediation="aws s3api put-bucket-versioning --bucket NAME --versioning-configuration Status=Enabled "
    "(add a lifecycle rule to expire old versions).",
)
def s3_bucket_versioning_enabled(bucket: Resource, _: Inventory) -> Verdict:
    status = (bucket.attr("versioning") or {}).get("Status") or "Never enabled"
    if status == "Enabled":
        return passed("Versioning is enabled.", versioning=status)
    return failed(f"Bucket {bucket.id} does not keep object versions ({status}).", versioning=status)

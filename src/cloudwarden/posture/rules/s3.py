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


@rule(
    id="s3_bucket_mfa_delete",
    fsbp=("S3.20",),
    well_architected=("SEC08", "SEC10"),
    title="S3 buckets require MFA to delete versions",
    severity=Severity.LOW,
    resource_type=BUCKET,
    cis=("2.1.2",),
    rationale="With MFA Delete, deleting an object version or suspending versioning needs the root user's MFA "
    "code, so stolen credentials cannot wipe the history.",
    remediation="As root with MFA: aws s3api put-bucket-versioning --bucket NAME --versioning-configuration "
    "Status=Enabled,MFADelete=Enabled --mfa 'SERIAL CODE'",
)
def s3_bucket_mfa_delete(bucket: Resource, _: Inventory) -> Verdict:
    versioning = bucket.attr("versioning") or {}
    mfa_delete = versioning.get("MFADelete") or "Disabled"
    if versioning.get("Status") == "Enabled" and mfa_delete == "Enabled":
        return passed("Versioning with MFA Delete is on.", MFADelete=mfa_delete)
    return failed(
        f"Bucket {bucket.id} does not require MFA to delete versions.",
        MFADelete=mfa_delete,
        versioning=versioning.get("Status") or "Never enabled",
    )


def _default_encryption(bucket: Resource) -> dict[str, Any] | None:
    rules = (bucket.attr("encryption") or {}).get("Rules") or []
    for item in rules:
        default = item.get("ApplyServerSideEncryptionByDefault") if isinstance(item, dict) else None
        if isinstance(default, dict) and default.get("SSEAlgorithm"):
            return {"SSEAlgorithm": default.get("SSEAlgorithm"), "BucketKeyEnabled": bool(item.get("BucketKeyEnabled"))}
    return None


@rule(
    id="s3_bucket_default_encryption",
    fsbp=(),
    well_architected=("SEC08",),
    title="S3 buckets have default encryption",
    severity=Severity.MEDIUM,
    resource_type=BUCKET,
    rationale="Since January 2023 AWS applies SSE-S3 to every bucket, so on AWS this fails only when the "
    "configuration is missing (older S3-compatible endpoints and emulators still answer 'not found').",
    remediation="aws s3api put-bucket-encryption --bucket NAME --server-side-encryption-configuration "
    '\'{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"aws:kms"},"BucketKeyEnabled":true}]}\'',
)
def s3_bucket_default_encryption(bucket: Resource, _: Inventory) -> Verdict:
    default = _default_encryption(bucket)
    if default is None:
        return failed(f"Bucket {bucket.id} has no default encryption configuration.", SSEAlgorithm=None)
    return passed(f"Objects are encrypted by default with {default['SSEAlgorithm']}.", **default)


@rule(
    id="s3_bucket_key_enabled",
    fsbp=(),
    well_architected=("SEC08",),
    title="SSE-KMS buckets use S3 Bucket Keys",
    severity=Severity.LOW,
    resource_type=BUCKET,
    rationale="Without a bucket key every object operation calls KMS: high cost, and throttling that tempts teams "
    "back to weaker encryption.",
    remediation="Set BucketKeyEnabled true in the bucket's default encryption rule (put-bucket-encryption).",
)
def s3_bucket_key_enabled(bucket: Resource, _: Inventory) -> Verdict:
    default = _default_encryption(bucket)
    if default is None or not str(default["SSEAlgorithm"]).startswith("aws:kms"):
        algorithm = default["SSEAlgorithm"] if default else None
        return passed(
            f"Bucket keys apply to SSE-KMS only; this bucket uses {algorithm or 'no default encryption'}.",
            SSEAlgorithm=algorithm,
        )
    if default["BucketKeyEnabled"]:
        return passed("SSE-KMS with an S3 Bucket Key.", **default)
    return failed(f"Bucket {bucket.id} uses SSE-KMS without a bucket key.", **default)


@rule(
    id="s3_bucket_lifecycle_configured",
    fsbp=("S3.13",),
    well_architected=("SEC07",),
    title="S3 buckets have an enabled lifecycle rule",
    severity=Severity.LOW,
    resource_type=BUCKET,
    rationale="Data kept forever is data exposed forever; lifecycle rules expire what is no longer needed, "
    "including old versions.",
    remediation="aws s3api put-bucket-lifecycle-configuration --bucket NAME --lifecycle-configuration file://rules.json",
)
def s3_bucket_lifecycle_configured(bucket: Resource, _: Inventory) -> Verdict:
    rules = [r for r in bucket.attr("lifecycle_rules") or [] if isinstance(r, dict) and r.get("Status") == "Enabled"]
    if rules:
        return passed("The bucket has enabled lifecycle rules.", lifecycle_rules=[r.get("ID") for r in rules])
    return failed(f"Bucket {bucket.id} has no enabled lifecycle rule.", lifecycle_rules=[])

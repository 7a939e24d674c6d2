"""S3: every bucket with its access, encryption and logging settings, and account-level Block Public
Access."""

from __future__ import annotations

from typing import Any

import orjson

from cloudwarden.inventory.collectors.base import (
    Collector,
    CollectorScope,
    for_each,
    read_attribute,
    strip_metadata,
    tags_to_dict,
)
from cloudwarden.inventory.model import GLOBAL, Resource, jsonable

BUCKET = "AWS::S3::Bucket"
ACCOUNT_SETTINGS = "AWS::S3::AccountSettings"


def collect_buckets(scope: CollectorScope) -> list[Resource]:
    s3 = scope.client("s3")
    buckets = s3.list_buckets().get("Buckets", [])  # a failure here makes every bucket rule ERROR
    return for_each(buckets, lambda b: _bucket(scope, s3, b))


def _bucket(scope: CollectorScope, s3: Any, bucket: dict[str, Any]) -> Resource:
    name = bucket["Name"]
    resource = Resource(
        BUCKET, name, GLOBAL, scope.account_id, arn=f"arn:{scope.partition}:s3:::{name}", attributes=jsonable(bucket)
    )
    read_attribute(
        resource,
        "location",
        lambda: s3.get_bucket_location(Bucket=name),
        service="s3",
        operation="GetBucketLocation",
        transform=lambda r: r.get("LocationConstraint") or "us-east-1",
    )
    if "location" in resource.attributes:
        resource.region = resource.attributes["location"]
    reads: list[tuple[str, str, Any, tuple[str, ...], Any]] = [
        (
            "policy",
            "GetBucketPolicy",
            lambda: s3.get_bucket_policy(Bucket=name),
            ("NoSuchBucketPolicy",),
            lambda r: _parse_policy(r["Policy"]),
        ),
        ("acl", "GetBucketAcl", lambda: s3.get_bucket_acl(Bucket=name), (), strip_metadata),
        (
            "public_access_block",
            "GetPublicAccessBlock",
            lambda: s3.get_public_access_block(Bucket=name),
            ("NoSuchPublicAccessBlockConfiguration",),
            lambda r: r["PublicAccessBlockConfiguration"],
        ),
        (
            "encryption",
            "GetBucketEncryption",
            lambda: s3.get_bucket_encryption(Bucket=name),
            ("ServerSideEncryptionConfigurationNotFoundError",),
            lambda r: r["ServerSideEncryptionConfiguration"],
        ),
        ("versioning", "GetBucketVersioning", lambda: s3.get_bucket_versioning(Bucket=name), (), strip_metadata),
        (
            "logging",
            "GetBucketLogging",
            lambda: s3.get_bucket_logging(Bucket=name),
            (),
            lambda r: r.get("LoggingEnabled"),
        ),
        (
            "lifecycle_rules",
            "GetBucketLifecycleConfiguration",
            lambda: s3.get_bucket_lifecycle_configuration(Bucket=name),
            ("NoSuchLifecycleConfiguration",),
            lambda r: r.get("Rules", []),
        ),
        (
            "tags",
            "GetBucketTagging",
            lambda: s3.get_bucket_tagging(Bucket=name),
            ("NoSuchTagSet",),
            lambda r: tags_to_dict(r.get("TagSet")),
        ),
    ]
    for attribute, operation, call, absent, transform in reads:
        read_attribute(resource, attribute, call, service="s3", operation=operation, absent=absent, transform=transform)
    resource.tags = resource.attributes.pop("tags", None) or {}
    return resource


def _parse_policy(text: str) -> Any:
    """Bucket policies come back as JSON text; a policy we cannot parse is kept as text for the rules."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def collect_account_public_access_block(scope: CollectorScope) -> list[Resource]:
    s3control = scope.client("s3control")
    resource = Resource(ACCOUNT_SETTINGS, scope.account_id, GLOBAL, scope.account_id, arn=scope.arn("s3", "account"))
    read_attribute(
        resource,
        "public_access_block",
        lambda: s3control.get_public_access_block(AccountId=scope.account_id),
        service="s3control",
        operation="GetPublicAccessBlock",
        absent=("NoSuchPublicAccessBlockConfiguration",),
        transform=lambda r: r["PublicAccessBlockConfiguration"],
    )
    return [resource]


COLLECTORS = [
    Collector("s3", (BUCKET,), collect_buckets, regional=False, operation="ListBuckets"),
    Collector(
        "s3", (ACCOUNT_SETTINGS,), collect_account_public_access_block, regional=False, operation="GetPublicAccessBlock"
    ),
]
